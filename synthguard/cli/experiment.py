"""`synthguard experiment`: compare defences as Ji et al. do (utility and attacks per defence).

    synthguard experiment mimic.csv --schema mimic.yaml -o results/ --defenses none,mixup,pargan \
        --defense-param pargan.partitions=4
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ._common import check_output_folder, collect_warnings, handle_errors, out, shadow_progress, stage_printer, wrote
from ._options import (
    BackendOpt,
    BatchOpt,
    DataArg,
    DeviceOpt,
    EpochsOpt,
    QuietOpt,
    SchedulerOpt,
    SchemaOpt,
    SeedOpt,
    ShadowsOpt,
    SizeOpt,
    TargetsOpt,
    WorkersOpt,
    known_defenses,
)


@handle_errors
def experiment(
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to create for results.md, results.json "
                      "and the ROC plots (must be new or empty).")],
    schema: SchemaOpt = None,
    defenses: Annotated[str, typer.Option("--defenses", callback=known_defenses,
                                          help="Comma-separated defences to compare.")] =
        "none,mixup,relaxloss,pargan",
    defense_param: Annotated[Optional[list[str]], typer.Option(
        "--defense-param", help="DEFENCE.KEY=VALUE, repeatable (e.g. pargan.partitions=4; default: each defence's "
        "own settings).")] = None,
    epochs: EpochsOpt = None,
    batch_size: BatchOpt = None,
    device: DeviceOpt = "cpu",
    shadows: ShadowsOpt = 8,
    targets: TargetsOpt = 250,
    seed: SeedOpt = 0,
    workers: WorkersOpt = None,
    backend: BackendOpt = "local",
    scheduler: SchedulerOpt = None,
    size: SizeOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Compare defences as Ji et al. do: for each, fit, measure utility and attack (LOGAN, LiRA,
    GAN-Leaks); with none and mixup, also the adaptive mixed-query attack. Writes markdown + JSON."""
    from .. import api
    from ..experiment import ExperimentConfig, run_experiment, write_experiment
    from ..gan.defenses import parse_settings_by_defense

    check_output_folder(output, [data, schema])
    config = ExperimentConfig(defenses=tuple(d.strip() for d in defenses.split(",") if d.strip()),
                              n_shadows=shadows, n_targets=targets, seed=seed, workers=workers, backend=backend,
                              scheduler=scheduler, defense_params=parse_settings_by_defense(defense_param))
    with collect_warnings(quiet):
        loaded = api.load_input(data, schema, size=size, stream=False)
        with shadow_progress(quiet) as on_shadow:
            result = run_experiment(loaded.frame, loaded.schema, config, dataset=data.name,
                                    on_stage=stage_printer(quiet), on_shadow=on_shadow, device=device,
                                    **api.training_options(loaded.schema, epochs=epochs, batch_size=batch_size))
    command = "synthguard " + " ".join(sys.argv[1:]) if sys.argv and "synthguard" in sys.argv[0] else None
    write_experiment(result, output, command=command)
    out.print((output / "results.md").read_text(), highlight=False)
    wrote(f"wrote {output}/results.md, results.json and the ROC plots")
