"""`synthguard fit` and `synthguard sample`: train a model file, draw rows from it (ungated).

    synthguard fit mimic.csv --schema mimic.yaml -o model.sgm --defense mixup --epochs 300
    synthguard fit digits -o digits.sgm                      # images: the image training defaults
    synthguard sample model.sgm -n 10000 -o synthetic.parquet --condition mortality=1
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import SynthguardError
from ._common import check_output, collect_warnings, encoder_progress, epoch_progress, err, handle_errors
from ._options import (
    MAX_SEED,
    AlphaOpt,
    BatchOpt,
    DataArg,
    DefenseOpt,
    DefenseParamOpt,
    DeviceOpt,
    EpochsOpt,
    OverwriteOpt,
    QuietOpt,
    RowsOpt,
    SchemaOpt,
    SeedOpt,
    SizeOpt,
    ThreadsOpt,
)


@handle_errors
def fit(
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Model file to write (.sgm).")],
    schema: SchemaOpt = None,
    defense: DefenseOpt = "mixup",
    alpha: AlphaOpt = None,
    defense_param: DefenseParamOpt = None,
    device: DeviceOpt = "cpu",
    epochs: EpochsOpt = None,
    batch_size: BatchOpt = None,
    seed: SeedOpt = 0,
    threads: ThreadsOpt = None,
    size: SizeOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Fit a conditional WGAN (mixup-trained by default) on DATA and save it as one model file."""
    from .. import api

    check_output(output, [data, schema], overwrite, quiet)
    with collect_warnings(quiet):
        loaded = api.load_input(data, schema, size=size)  # a parquet file with a schema is streamed
        synth = api.make_recipe(loaded.schema, defense=defense, alpha=alpha, defense_settings=defense_param,
                                device=device, seed=seed, threads=threads, epochs=epochs, batch_size=batch_size)
        with encoder_progress(quiet) as on_column, epoch_progress(synth.config.epochs, quiet) as on_epoch:
            api.fit(loaded, recipe=synth, on_epoch=on_epoch, on_column=on_column)
    synth.save(output)
    if not quiet:
        err.print(f"wrote {output} ({synth.n_rows_} rows, defence {defense}, {synth.config.epochs} epochs). "
                  "It holds the critic and encoder state: keep it internal.", highlight=False)


@handle_errors
def sample(
    model: Annotated[Path, typer.Argument(help="Model file from `synthguard fit`.", show_default=False)],
    n: RowsOpt,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output table: .csv or .parquet (images: .npz or a "
                                         "new folder).")],
    seed: Annotated[Optional[int], typer.Option("--seed", min=0, max=MAX_SEED,
                                                help="Sampling seed (default: the model's).")] = None,
    condition: Annotated[Optional[str], typer.Option("--condition", help="Fix the label: COLUMN=VALUE (default: "
                                                     "labels drawn as often as in the training rows).")] = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Draw N synthetic rows from MODEL (no gate: for internal use; `release` is the gated path)."""
    from ..api import sample_to_path

    if n < 1:
        raise SynthguardError(f"-n must be a positive number of rows, got {n}")
    fixed = None
    if condition is not None:
        column, sep, label = condition.partition("=")
        if not sep:
            raise SynthguardError(f"--condition must look like COLUMN=VALUE, got {condition!r}")
        fixed = {column: label}
    with collect_warnings(quiet):
        written = sample_to_path(model, n, output, condition=fixed, seed=seed, overwrite=overwrite)
    if quiet:
        return
    if written[0].suffix.lower() in (".csv", ".parquet", ".pq"):  # a table; else images
        err.print(f"wrote {n} rows to {output}", highlight=False)
    else:
        err.print(f"wrote {n} images: " + ", ".join(str(p) for p in written[:4])
                  + (f" and {len(written) - 4} more" if len(written) > 4 else ""), highlight=False)
