"""The `synthguard` command line: parses options, calls the Python API, prints, sets exit codes.

Exit codes: 0 done, 1 error (one line on stderr; SYNTHGUARD_DEBUG=1 shows the traceback),
2 usage (Typer's own), 3 release refused by the gate.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from . import __version__
from .errors import DataValidationError, OutputExistsError, ReleaseRefused, SynthguardError, SynthguardWarning
from .io import check_new_dir, check_output_file, read_table, write_text
from .schema import Schema

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Synthetic data that is attacked before it is released.")
schema_app = typer.Typer(no_args_is_help=True, help="Propose a schema for a table, or check a table against one.")
app.add_typer(schema_app, name="schema")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"synthguard {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_print_version, is_eager=True,
                                                    help="Print the version and exit.")] = None,
) -> None:
    """Synthetic data that is attacked before it is released."""


# ---- option values: a bad one is a usage error (exit 2) before any work ----------------------------
# Typer turns a Literal into a choice; the lists are the library's (a test checks that they agree)
ThreatModel = Literal["data", "generator", "critic"]  # audit.THREAT_MODELS
Backend = Literal["local", "dask"]  # parallel.BACKENDS
TableFormat = Literal["parquet", "csv"]  # the formats a release writes
#: training defaults of the two modalities (`TrainConfig` and `images.IMAGE_TRAIN_DEFAULTS`), for the help
TABLE_EPOCHS, TABLE_BATCH, IMAGE_EPOCHS, IMAGE_BATCH = 300, 500, 100, 64


def _not_one_of(value: str, names: Any) -> typer.BadParameter:
    return typer.BadParameter(f"{value!r} is not one of {', '.join(repr(n) for n in names)}.")


def _known_defense(value: str) -> str:
    """A registered defence (the registry is open, so it is read when the option is parsed)."""
    from .gan.defenses import DEFENSES

    if value not in DEFENSES:
        raise _not_one_of(value, DEFENSES)
    return value


def _known_defenses(value: str) -> str:
    """Comma-separated registered defences."""
    from .gan.defenses import DEFENSES

    for name in (d.strip() for d in value.split(",")):
        if name and name not in DEFENSES:
            raise _not_one_of(name, DEFENSES)
    return value


# ---- shared options ------------------------------------------------------------------------------
DataArg = Annotated[Path, typer.Argument(help="The private table: .csv or .parquet.", show_default=False)]
SchemaOpt = Annotated[Optional[Path], typer.Option("--schema", "-s", help="Schema YAML (inferred, with a warning, if omitted).")]
MAX_SEED = 2**32 - 1  # numpy's and scikit-learn's seeds stop there
MAX_SAMPLE_ROWS = 10_000_000  # a draw holds one label per row up front and takes about an hour on a CPU
MAX_SAMPLE_IMAGES = 100_000  # images are held in memory until written
SeedOpt = Annotated[int, typer.Option("--seed", min=0, max=MAX_SEED,
                                      help="Seed for every random choice: same seed, same result.")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace existing output files (never an input).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
DefenseOpt = Annotated[str, typer.Option("--defense", callback=_known_defense, help="Training defence: mixup (the "
                                          "paper's), none, or the baselines relaxloss and pargan.")]
AlphaOpt = Annotated[float, typer.Option("--alpha", help="Mixup's Beta(alpha, alpha) parameter.")]
DefenseParamOpt = Annotated[Optional[list[str]], typer.Option(
    "--defense-param", help="A defence setting as KEY=VALUE, repeatable: relaxloss mode=global|per_example, "
    "holdout=0.1, reference_models=4; pargan partitions=4 (default: the defence's own settings).")]
DeviceOpt = Annotated[str, typer.Option("--device", help="Train on cpu (default) or cuda.")]
EpochsOpt = Annotated[Optional[int], typer.Option("--epochs", min=1, help="Training epochs (passes of the critic over "
                                                  f"the rows; default: {TABLE_EPOCHS} for tables, {IMAGE_EPOCHS} for "
                                                  "images).")]
BatchOpt = Annotated[Optional[int], typer.Option("--batch-size", min=1, help=f"Rows per critic step (default: "
                                                 f"{TABLE_BATCH} for tables, {IMAGE_BATCH} for images).")]
ThreadsOpt = Annotated[Optional[int], typer.Option("--threads", min=1, help="Torch threads (default: torch's choice).")]


def handle_errors(func: F) -> F:
    """Turn our errors into one line on stderr and exit code 1 (3 for a refused release)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                return func(*args, **kwargs)
        except ReleaseRefused as exc:
            if os.environ.get("SYNTHGUARD_DEBUG"):
                raise
            err.print(f"[bold red]refused:[/] {exc}", highlight=False)
            raise typer.Exit(3) from None
        except SynthguardError as exc:
            if os.environ.get("SYNTHGUARD_DEBUG"):
                raise
            hint = " (add --overwrite to replace it)" if isinstance(exc, OutputExistsError) else ""
            err.print(f"[bold red]error:[/] {exc}{hint}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("interrupted; nothing was written")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _show_warnings(caught: list[warnings.WarningMessage], quiet: bool) -> None:
    if not quiet:
        for w in caught:
            err.print(f"[yellow]warning:[/] {w.message}", highlight=False)


@contextmanager
def collect_warnings(quiet: bool) -> Iterator[None]:
    """Show our warnings as one line each (not Python's two-line format)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield
    _show_warnings([w for w in caught if w.category.__module__.startswith("synthguard")], quiet)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _losses(stats: dict[str, float]) -> str:
    """The losses an epoch reports; a loss the epoch did not measure (None) is left out."""
    shown = [(label, stats.get(key)) for label, key in (("D", "loss_d"), ("G", "loss_g"))]
    return "  ".join(f"{label} {value:+.3f}" for label, value in shown if isinstance(value, (int, float)))


def run_estimate(seconds_per_epoch: float, epochs: int, shadows: int = 0, workers: int = 1) -> str:
    """The whole run's duration, from one epoch of the model fit. Each shadow trains the same
    recipe for the same epochs on half the rows, and `workers` of them run at once, so

        total = seconds_per_epoch * epochs * (1 + shadows * 0.5 / workers)

    (attacks, utility and writing are minutes at most beside this)."""
    total = seconds_per_epoch * epochs * (1 + shadows * 0.5 / max(1, workers))
    what = "the model fit" if not shadows else f"the model fit and {shadows} shadow models on {workers} worker(s)"
    return f"estimated time: about {_duration(total)} for {what} ({seconds_per_epoch:.1f}s per epoch)"


@contextmanager
def epoch_progress(total: int, quiet: bool, label: str = "training", shadows: int = 0,
                   workers: int = 1) -> Iterator[Callable[[int, dict[str, float]], None] | None]:
    """Progress of an epoch loop: yields the `on_epoch` callback (None when quiet). On a terminal,
    a bar that appears at the first epoch, so that input errors found before training print alone;
    otherwise (a log file) a plain line every tenth of the epochs, with the time elapsed. After the
    second epoch, one line estimates the whole run, `shadows` shadow fits included."""
    if quiet:
        yield None
        return
    clock: dict[str, float] = {}

    def estimate(epoch: int) -> str | None:
        now = time.monotonic()
        clock.setdefault("start", now)
        if epoch == 1:
            clock["first"] = now
        elif epoch == 2 and "first" in clock:
            return run_estimate(now - clock["first"], total, shadows, workers)
        return None

    if not err.is_terminal:
        every = max(1, total // 10)

        def on_plain(epoch: int, stats: dict[str, float]) -> None:
            line = estimate(epoch)
            if line:
                err.print(line, highlight=False)
            if epoch % every == 0 or epoch == total:
                err.print(f"{label}: epoch {epoch}/{total}  {_losses(stats)}  "
                          f"({_duration(time.monotonic() - clock['start'])} elapsed)", highlight=False)

        yield on_plain
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[losses]}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    bar = Progress(*columns, console=err, transient=False)
    task = bar.add_task(label, total=total, losses="")

    def on_epoch(epoch: int, stats: dict[str, float]) -> None:
        if not bar.live.is_started:
            bar.start()
        line = estimate(epoch)
        if line:
            bar.console.print(line, highlight=False)
        bar.update(task, completed=epoch, losses=_losses(stats))

    try:
        yield on_epoch
    finally:
        bar.stop()


def check_output(path: Path, inputs: list[Path | None], overwrite: bool, quiet: bool = False) -> None:
    """Fail before hours of work, not after, when the output cannot or must not be written: its
    folder is missing, it is an input of the command (never replaced), or it exists (replaced only
    with --overwrite). Debris that killed runs left for the same output is removed."""
    for removed in check_output_file(path, inputs, overwrite=overwrite):
        if not quiet:
            err.print(f"[yellow]note:[/] removed {removed.name}, left by an interrupted run", highlight=False)


def check_output_folder(path: Path, inputs: list[Path | None]) -> None:
    """A release or experiment folder: new or empty, and no input, inside one or holding one."""
    check_new_dir(path, inputs)


def check_nothing_to_model(frame: Any, schema: Schema, source: Path) -> None:
    """Refuse a table whose schema leaves no column to model (all ids or sensitive)."""
    if schema.modality != "table":
        return
    resolved = schema.resolve(list(frame.columns), str(source))
    if not resolved.modelled_columns:
        raise SynthguardError(f"{source}: no column to model ({len(resolved.columns)} column(s), every one an id "
                              "or sensitive)")


SizeOpt = Annotated[Optional[int], typer.Option("--size", min=1, help="Images: resize to SIZE x SIZE pixels "
                                                "(default: keep their size, the same for all).")]
BYTES_PER_CELL = 24  # a generous CSV cell (digits, separator); parquet is smaller


def check_disk_space(output: Path, rows: int, columns: int) -> None:
    """Refuse a draw that cannot fit on the output's disk (estimated at BYTES_PER_CELL a cell)."""
    needed = rows * max(1, columns) * BYTES_PER_CELL
    free = shutil.disk_usage(output.parent).free
    if needed > free:
        raise SynthguardError(f"{output}: {rows:,} rows of {columns} columns need about {needed / 2**30:.1f} GiB; "
                              f"{free / 2**30:.1f} GiB are free on that disk")


def load_input(data: Path, schema_path: Path | None, size: int | None = None) -> tuple[Any, Schema]:
    """The rows and the schema: a table (CSV/parquet) or an image collection (a folder with one
    sub-folder per class, an .npz with `images` and `labels`, or `digits`)."""
    from .images import is_image_source, load_images

    if is_image_source(data):
        frame, inferred = load_images(data, size=size)
        return frame, Schema.load(schema_path) if schema_path is not None else inferred
    frame = read_table(data)
    schema = load_schema(schema_path, frame)
    check_nothing_to_model(frame, schema, data)
    return frame, schema


def recipe_options(schema: Schema, epochs: int | None, batch_size: int | None) -> dict[str, Any]:
    """Training options: the user's, over the modality's defaults (images train differently)."""
    from .images import IMAGE_TRAIN_DEFAULTS

    base = dict(IMAGE_TRAIN_DEFAULTS) if schema.modality == "image" else {}
    return {**base, **train_options(epochs, batch_size)}


def parse_defense_params(items: list[str] | None) -> dict[str, Any]:
    """KEY=VALUE strings to settings; numbers become numbers."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SynthguardError(f"--defense-param expects KEY=VALUE, got {item!r}")
        for kind in (int, float):
            try:
                params[key.strip()] = kind(value)
                break
            except ValueError:
                continue
        else:
            params[key.strip()] = value.strip()
    return params


def build_recipe(schema: Schema, defense: str, alpha: float, defense_param: list[str] | None, device: str,
                 seed: int, epochs: int | None, batch_size: int | None, threads: int | None = None) -> Any:
    """The training recipe the fit, audit and release commands share."""
    from .synthesizer import Synthesizer

    return Synthesizer(schema, defense=defense, alpha=alpha, defense_params=parse_defense_params(defense_param),
                       device=device, seed=seed, threads=threads, **recipe_options(schema, epochs, batch_size))


def streams(data: Path, schema_path: Path | None) -> bool:
    """Fit by streaming record batches: a parquet table with a schema given (without one, the
    schema is inferred from the whole table, which is read anyway)."""
    return schema_path is not None and data.suffix.lower() in (".parquet", ".pq") and not data.is_dir()


def load_schema(path: Path | None, data: Any) -> Schema:
    if path is not None:
        return Schema.load(path)
    warnings.warn("no --schema given: inferring one from the data; review it with `synthguard schema infer`",
                  SynthguardWarning, stacklevel=2)
    return Schema.infer(data)


def train_options(epochs: int | None, batch_size: int | None) -> dict[str, int]:
    options = {"epochs": epochs, "batch_size": batch_size}
    return {k: v for k, v in options.items() if v is not None}


# ---- schema --------------------------------------------------------------------------------------
@schema_app.command("infer")
@handle_errors
def schema_infer(
    data: DataArg,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the YAML here (default: print it).")] = None,
    condition: Annotated[Optional[str], typer.Option("--condition", help="Column to use as the GAN's label "
                                                     "(default: none, an unconditional model).")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Schema name (default: the file's stem).")] = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Propose a schema for DATA; domains learned from the data are marked `learned`."""
    from .images import infer_image_schema, is_image_source

    if output is not None:
        check_output(output, [data], overwrite)
    with collect_warnings(False):  # what a steward must decide, one line each
        if is_image_source(data):
            schema = infer_image_schema(data)
        else:
            schema = Schema.infer(read_table(data), name=name or data.stem, condition=condition)
    text = schema.to_yaml()
    if output is None:
        out.print(text, end="", markup=False, highlight=False)
        return
    write_text(output, text)
    learned = sum(1 for c in schema.columns if c.learned)
    err.print(f"wrote {output} ({len(schema.columns)} columns; review the {learned} with domains learned from the data)")


@schema_app.command("check")
@handle_errors
def schema_check(data: DataArg, schema: Annotated[Path, typer.Option("--schema", "-s", help="Schema YAML.")]) -> None:
    """Check DATA against a schema and list every problem (exit 1 if there is any)."""
    sch = Schema.load(schema)
    frame = read_table(data)
    try:
        with collect_warnings(quiet=False):  # e.g. time zones converted to UTC: one line each
            parsed = sch.parse(frame, source=str(data), whole=True)  # the whole table: a 1-class condition fails
    except DataValidationError as exc:
        for problem in exc.problems:
            err.print(f"[red]-[/] {problem}", highlight=False)
        err.print(f"[bold red]error:[/] {data}: {len(exc.problems)} problem(s) against {schema}", highlight=False)
        raise typer.Exit(1) from None
    # valid, but worth a steward's decision: probable ids and codes, constant columns, rare
    # categories, columns that (nearly) determine the condition
    for finding in sch.review(frame):
        err.print(f"[yellow]warning:[/] {finding}", highlight=False)
    out.print(f"ok: {data} matches {schema} ({len(parsed)} rows, {len(parsed.columns)} modelled columns)", highlight=False)


# ---- fit and sample --------------------------------------------------------------------------------
@contextmanager
def encoder_progress(quiet: bool) -> Iterator[Callable[[int, int, str], None] | None]:
    """Progress of the encoder's fit, column by column (a wide table takes minutes, before the
    first epoch): yields the `on_column(done, total, column)` callback (None when quiet). On a
    terminal, a bar that appears at the first column and goes when the last is done; otherwise (a
    log file) a plain line `fitting the encoder: N/M columns` every tenth of the columns."""
    if quiet:
        yield None
        return
    start = time.monotonic()
    if not err.is_terminal:
        last = {"step": -1, "done": -1}

        def on_plain(done: int, total: int, column: str) -> None:
            step = done * 10 // max(1, total)  # tenths of the columns done
            if (step > last["step"] or done >= total) and done != last["done"]:
                last.update(step=step, done=done)
                err.print(f"fitting the encoder: {done}/{total} columns "
                          f"({_duration(time.monotonic() - start)} elapsed)", highlight=False)

        yield on_plain
        return
    bar = Progress(TextColumn("fitting the encoder"), BarColumn(), MofNCompleteColumn(), TextColumn("columns"),
                   TimeElapsedColumn(), TextColumn("{task.fields[column]}"), console=err, transient=False)
    task = bar.add_task("encoder", total=None, column="")
    finished = {"yes": False}

    def on_column(done: int, total: int, column: str) -> None:
        if finished["yes"]:
            return
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total, column=column)
        if done >= total:
            finished["yes"] = True
            bar.stop()  # before the epochs' bar starts

    try:
        yield on_column
    finally:
        bar.stop()


@app.command()
@handle_errors
def fit(
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Model file to write (.sgm).")],
    schema: SchemaOpt = None,
    defense: DefenseOpt = "mixup",
    alpha: AlphaOpt = 1.0,
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

    check_output(output, [data, schema], overwrite, quiet)
    with collect_warnings(quiet):
        if streams(data, schema):
            # a parquet file with a schema is read in record batches, never as one frame
            from .streaming import fit_parquet

            sch = Schema.load(schema)  # type: ignore[arg-type]
            synth = build_recipe(sch, defense, alpha, defense_param, device, seed, epochs, batch_size, threads)
            with encoder_progress(quiet) as on_column, epoch_progress(synth.config.epochs, quiet) as on_epoch:
                fit_parquet(synth, data, on_epoch=on_epoch, on_column=on_column)
        else:
            frame, sch = load_input(data, schema, size)
            synth = build_recipe(sch, defense, alpha, defense_param, device, seed, epochs, batch_size, threads)
            with encoder_progress(quiet) as on_column, epoch_progress(synth.config.epochs, quiet) as on_epoch:
                synth.fit(frame, on_epoch=on_epoch, source=str(data), on_column=on_column)
    synth.save(output)
    if not quiet:
        err.print(f"wrote {output} ({synth.n_rows_} rows, defence {defense}, {synth.config.epochs} epochs). "
                  "It holds the critic and encoder state: keep it internal.", highlight=False)


@app.command()
@handle_errors
def sample(
    model: Annotated[Path, typer.Argument(help="Model file from `synthguard fit`.", show_default=False)],
    n: Annotated[int, typer.Option("-n", "--rows", help=f"Number of rows to draw (at most {MAX_SAMPLE_ROWS:,}; "
                                   f"{MAX_SAMPLE_IMAGES:,} images).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output table: .csv or .parquet.")],
    seed: Annotated[Optional[int], typer.Option("--seed", min=0, max=MAX_SEED,
                                                help="Sampling seed (default: the model's).")] = None,
    condition: Annotated[Optional[str], typer.Option("--condition", help="Fix the label: COLUMN=VALUE (default: "
                                                     "labels drawn as often as in the training rows).")] = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Draw N synthetic rows from MODEL (no gate: for internal use; `release` is the gated path)."""
    from .io import table_format
    from .synthesizer import Synthesizer

    if n < 1:
        raise SynthguardError(f"-n must be a positive number of rows, got {n}")
    if n > MAX_SAMPLE_ROWS:
        raise SynthguardError(f"-n {n:,} is more than {MAX_SAMPLE_ROWS:,} rows per call (a draw holds every row's "
                              "label in memory and writes for hours); draw in parts with different --seed values")
    synth = Synthesizer.load(model)
    images = synth.schema_.modality == "image"
    if images and output.suffix not in (".npz", ""):
        raise SynthguardError(f"{output}: image samples go to an .npz file or a folder")
    if images and n > MAX_SAMPLE_IMAGES:
        raise SynthguardError(f"-n {n:,} is more than {MAX_SAMPLE_IMAGES:,} images per call (images are held in "
                              "memory until written); draw in parts with different --seed values")
    if not images:
        table_format(output)
    if images and not output.suffix:
        check_output_folder(output, [model])
    else:
        check_output(output, [model], overwrite, quiet)
    if not images:
        check_disk_space(output, n, len(synth.schema_.modelled_columns))
    label = None
    if condition is not None:
        column, sep, label = condition.partition("=")
        expected = synth.schema_.condition
        if not sep:
            raise SynthguardError(f"--condition must look like COLUMN=VALUE, got {condition!r}")
        if column != expected:
            raise SynthguardError(f"--condition: {column!r} is not the model's condition column ({expected!r})")
    if images:
        from .images import write_image_samples

        rows = synth.sample(n, condition=label, seed=seed)
        written = write_image_samples(rows, synth.schema_, output)
        if not quiet:
            err.print(f"wrote {n} images: " + ", ".join(str(p) for p in written[:4])
                      + (f" and {len(written) - 4} more" if len(written) > 4 else ""), highlight=False)
        return
    from .streaming import sample_to_file

    sample_to_file(synth, n, output, condition=label, seed=seed)  # chunk by chunk: memory bounded for any n
    if not quiet:
        err.print(f"wrote {n} rows to {output}", highlight=False)


@app.command()
@handle_errors
def evaluate(
    real: Annotated[Path, typer.Argument(help="The real rows the generator was fitted on.", show_default=False)],
    synthetic: Annotated[Path, typer.Argument(help="The synthetic table.", show_default=False)],
    schema: Annotated[Path, typer.Option("--schema", "-s", help="Schema YAML.")],
    holdout: Annotated[Optional[Path], typer.Option("--holdout", help="Real rows the generator never saw "
                       "(default: 20% of REAL, which the generator did see: optimistic).")] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="Column for TSTR (default: the condition).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the metrics as JSON here "
                                                   "(default: print only).")] = None,
    plots: Annotated[Optional[Path], typer.Option("--plots", help="Write DWP and DWpre scatter plots into this folder "
                                                  "(default: no plots).")] = None,
    seed: SeedOpt = 0,
    overwrite: OverwriteOpt = False,
) -> None:
    """Utility of SYNTHETIC against REAL: quality, DWP, DWpre, TSTR, copies and distances."""
    import json

    from .plots import plot_dwp, plot_dwpre
    from .utility import evaluate as evaluate_utility

    inputs = [real, synthetic, schema, holdout]
    if output is not None:
        check_output(output, inputs, overwrite)
    check_plots_dir(plots, ("dwp.png", "dwpre.png"), inputs, overwrite, output)
    sch = Schema.load(schema)
    real_raw = read_table(real)
    resolved = sch.resolve(list(real_raw.columns), str(real))
    check_target(target, resolved, real)
    train = sch.parse(real_raw, str(real))
    synth = sch.parse(read_table(synthetic), str(synthetic))
    if holdout is not None:
        test = sch.parse(read_table(holdout), str(holdout))
    else:
        err.print("[yellow]note:[/] no --holdout: 20% of REAL is the test set, and the generator saw it", highlight=False)
        test = train.sample(frac=0.2, random_state=seed)
    report = evaluate_utility(train, test.reset_index(drop=True), synth, resolved, target=target, seed=seed)
    print_utility(report.to_dict())
    if output is not None:
        write_text(output, json.dumps(report.to_dict(), indent=2))
        err.print(f"wrote {output}", highlight=False)
    if plots is not None:
        plots.mkdir(exist_ok=True)
        plot_dwp(report, plots / "dwp.png")
        plot_dwpre(report, plots / "dwpre.png")
        err.print(f"wrote {plots / 'dwp.png'} and {plots / 'dwpre.png'}", highlight=False)


ShadowsOpt = Annotated[int, typer.Option("--shadows", min=4, help="Shadow models (even, at least 4; every record is in "
                                          "half of them).")]
TargetsOpt = Annotated[int, typer.Option("--targets", min=10, help="Records scored: the most outlying plus a random sample.")]
AttacksOpt = Annotated[str, typer.Option("--attacks", help="Comma-separated: lira, logan, ganleaks, domias.")]
ThreatOpt = Annotated[ThreatModel, typer.Option("--threat-model", help="What an attacker holds: data, generator or critic.")]
WorkersOpt = Annotated[Optional[int], typer.Option("--workers", min=1,
                                                   help="Local worker processes (default: one per core).")]
BackendOpt = Annotated[Backend, typer.Option("--backend", help="Where shadows train: local or dask.")]
SchedulerOpt = Annotated[Optional[str], typer.Option("--scheduler", help="Dask scheduler address or scheduler file "
                                                     "(default: none; needed with --backend dask).")]
RunDirOpt = Annotated[Optional[Path], typer.Option("--run-dir", help="Keep each finished shadow (model and statistics) "
                      "here (default: none, nothing kept); a rerun with the same folder resumes from them. Refused if "
                      "it holds another audit's.")]


def audit_config(shadows: int, targets: int, attacks: str, threat_model: str, seed: int, workers: int | None,
                 backend: str, scheduler: str | None, run_dir: Path | None = None) -> Any:
    from .audit import AuditConfig

    families = tuple(a.strip() for a in attacks.split(",") if a.strip())
    return AuditConfig(n_shadows=shadows, n_targets=targets, attacks=families, threat_model=threat_model, seed=seed,
                       workers=workers, backend=backend, scheduler=scheduler,
                       run_dir=None if run_dir is None else str(run_dir))


def print_resumed(result: Any) -> None:
    if result.config.run_dir is not None:
        err.print(f"run directory {result.config.run_dir}: {result.reused_shadows} of {result.config.n_shadows} "
                  f"shadows reused, {result.config.n_shadows - result.reused_shadows} trained", highlight=False)


def print_audit(result: Any, verdict: Any = None) -> None:
    """The privacy lead (one line per threat model), then every attack in a table that fits 80
    columns, then the most exposed records."""
    from rich.table import Table

    from .audit import attack_table_rows
    from .gate import privacy_lines

    for line in privacy_lines(result, verdict):
        mark = "" if line["passed"] is None else (" [green]pass[/]" if line["passed"] else " [bold red]FAIL[/]")
        out.print(f"privacy, {line['threat_model']} threat model:{mark} {line['line']}", highlight=False)
    worst = result.worst
    table = Table(title=f"{result.config.n_shadows} shadow models x {len(result.targets)} records; "
                        f"{worst.summary.n_nonmembers:,} non-member scores per attack; intervals 95%, "
                        f"resampled by {worst.summary.resampling}", header_style="bold", title_justify="left")
    for name, justify in (("attack", "left"), ("AUC [95% CI]", "right"), ("TPR@1%FPR [95% CI]", "right"),
                          ("TPR@0.1%FPR", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in attack_table_rows(result):
        table.add_row(*row)
    out.print(table, width=min(out.width, 80) if out.is_terminal else 80)
    if result.at_chance:
        out.print("No attack measurably beats chance: every AUC's 95% interval reaches 0.5.")
    else:
        out.print(f"Strongest attack: {worst.spec.name} (AUC {worst.summary.auc:.3f}).")
    exposed = result.exposed_records(top=10)
    if exposed:
        rows = ", ".join(f"{r['row']}" for r in exposed)
        out.print(f"Most exposed records (rows of the input, by {exposed[0]['attack']}): {rows}", highlight=False)


@app.command()
@handle_errors
def audit(
    data: DataArg,
    schema: SchemaOpt = None,
    defense: DefenseOpt = "mixup",
    alpha: AlphaOpt = 1.0,
    defense_param: DefenseParamOpt = None,
    device: DeviceOpt = "cpu",
    epochs: EpochsOpt = None,
    batch_size: BatchOpt = None,
    shadows: ShadowsOpt = 16,
    targets: TargetsOpt = 500,
    attacks: AttacksOpt = "lira,logan,ganleaks,domias",
    threat_model: ThreatOpt = "critic",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the audit as JSON here "
                                                   "(default: print only).")] = None,
    plots: Annotated[Optional[Path], typer.Option("--plots", help="Write log-log ROC plots into this folder "
                                                  "(default: no plots).")] = None,
    seed: SeedOpt = 0,
    workers: WorkersOpt = None,
    backend: BackendOpt = "local",
    scheduler: SchedulerOpt = None,
    run_dir: RunDirOpt = None,
    size: SizeOpt = None,
    overwrite: OverwriteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Attack the training procedure on DATA with shadow models; print AUC and TPR at low FPR."""
    import json

    from .audit import audit as run_audit

    inputs = [data, schema, run_dir]
    if output is not None:
        check_output(output, inputs, overwrite, quiet)
    check_plots_dir(plots, ("roc.png",), inputs, overwrite, output)
    config = audit_config(shadows, targets, attacks, threat_model, seed, workers, backend, scheduler, run_dir)
    with collect_warnings(quiet):
        frame, sch = load_input(data, schema, size)
        recipe = build_recipe(sch, defense, alpha, defense_param, device, seed, epochs, batch_size)
        with shadow_progress(quiet) as on_shadow:
            result = run_audit(frame, recipe, sch, config, on_shadow=on_shadow)
    print_audit(result)
    if not quiet:
        print_resumed(result)
    if output is not None:
        write_text(output, json.dumps(result.to_dict(), indent=1))
        err.print(f"wrote {output}", highlight=False)
    if plots is not None:
        plots.mkdir(exist_ok=True)
        path = result.write_roc_plot(plots / "roc.png")
        err.print(f"wrote {path}", highlight=False)


@app.command()
@handle_errors
def release(
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Release folder to create (must be new or empty).")],
    schema: SchemaOpt = None,
    policy: Annotated[Optional[Path], typer.Option("--policy", "-p", help="Policy YAML (default: the documented "
                      "defaults in schemas/policy.default.yaml).")] = None,
    defense: DefenseOpt = "mixup",
    alpha: AlphaOpt = 1.0,
    defense_param: DefenseParamOpt = None,
    device: DeviceOpt = "cpu",
    epochs: EpochsOpt = None,
    batch_size: BatchOpt = None,
    shadows: Annotated[Optional[int], typer.Option("--shadows", min=4, help="Shadow models, overriding the policy "
                                                   "(default: the policy's; 16 in the default policy).")] = None,
    targets: Annotated[Optional[int], typer.Option("--targets", min=10, help="Audited records, overriding the policy "
                                                   "(default: the policy's; 500 in the default policy).")] = None,
    threat_model: Annotated[Optional[ThreatModel], typer.Option("--threat-model",
                            help="What an attacker holds: data, generator or critic, overriding the policy "
                            "(default: the policy's; critic in the default policy).")] = None,
    fmt: Annotated[TableFormat, typer.Option("--format", help="parquet or csv.")] = "parquet",
    seed: SeedOpt = 0,
    workers: WorkersOpt = None,
    backend: BackendOpt = "local",
    scheduler: SchedulerOpt = None,
    run_dir: RunDirOpt = None,
    size: SizeOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Fit, audit, evaluate and gate: write the synthetic data only if the policy passes (else exit 3)."""
    from .parallel import default_workers
    from .policy import Policy
    from .release import release as run_release

    check_output_folder(output, [data, schema, policy, run_dir])
    pol = Policy.load(policy) if policy is not None else Policy()
    with collect_warnings(quiet):
        frame, sch = load_input(data, schema, size)
        recipe = build_recipe(sch, defense, alpha, defense_param, device, seed, epochs, batch_size)
        overrides = {"n_shadows": shadows, "n_targets": targets, "threat_model": threat_model, "workers": workers,
                     "backend": backend, "scheduler": scheduler, "run_dir": None if run_dir is None else str(run_dir)}
        stage = None if quiet else (lambda message: err.print(f"[bold]>[/] {message}", highlight=False))
        n_shadows = shadows if shadows is not None else pol.audit.shadows
        local = backend == "local"  # a cluster's pace is unknown here: the estimate covers the model fit
        estimate = {"shadows": n_shadows if local else 0, "workers": workers or default_workers(n_shadows)}
        with epoch_progress(recipe.config.epochs, quiet, **estimate) as on_epoch, shadow_progress(quiet) as on_shadow:
            outcome = run_release(frame, sch, output, policy=pol, recipe=recipe, fmt=fmt, schema_path=schema,
                                  policy_path=policy, data_path=data, audit_options=overrides, seed=seed, on_stage=stage,
                                  on_epoch=on_epoch, on_shadow=on_shadow)
    verdict = outcome.verdict
    print_audit(outcome.audit, verdict)
    if not quiet:
        print_resumed(outcome.audit)
    if not verdict.privacy_enforced:
        out.print("[bold red]the policy switched the privacy checks off: they were measured but did not decide[/]")
    privacy_failed = [c for c in verdict.failed if c.kind == "privacy"]
    if privacy_failed and outcome.audit.at_chance:
        out.print("Every AUC interval reaches 0.5, yet a privacy check failed: "
                  f"{privacy_failed[0].name} ({privacy_failed[0].advice.split(';')[0]}). An upper bound over its limit "
                  "means the audit cannot rule out leakage at that level.", highlight=False)
    out.print(f"verdict: {'RELEASED' if verdict.passed else 'REFUSED'} ({verdict.summary()})", highlight=False)
    written = outcome.passport["output"]["path"] if verdict.passed else None
    out.print(f"files: {output / 'release.json'}, {output / 'report.html'}"
              + (f", {output / written}" if written else " (no synthetic rows written)"), highlight=False)
    if not verdict.passed:
        raise ReleaseRefused(verdict, f"the policy refused the release: {verdict.summary()}")


@app.command()
@handle_errors
def experiment(
    data: DataArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to create for results.md, results.json "
                      "and the ROC plots (must be new or empty).")],
    schema: SchemaOpt = None,
    defenses: Annotated[str, typer.Option("--defenses", callback=_known_defenses,
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
    from .experiment import ExperimentConfig, run_experiment, write_experiment

    check_output_folder(output, [data, schema])
    per_defense: dict[str, dict[str, Any]] = {}
    for item in defense_param or []:
        name, dot, rest = item.partition(".")
        if not dot:
            raise SynthguardError(f"--defense-param expects DEFENCE.KEY=VALUE, got {item!r}")
        per_defense.setdefault(name.strip(), {}).update(parse_defense_params([rest]))
    config = ExperimentConfig(defenses=tuple(d.strip() for d in defenses.split(",") if d.strip()),
                              n_shadows=shadows, n_targets=targets, seed=seed, workers=workers, backend=backend,
                              scheduler=scheduler, defense_params=per_defense)
    with collect_warnings(quiet):
        frame, sch = load_input(data, schema, size)
        stage = None if quiet else (lambda message: err.print(f"[bold]>[/] {message}", highlight=False))
        with shadow_progress(quiet) as on_shadow:
            result = run_experiment(frame, sch, config, dataset=data.name, on_stage=stage, on_shadow=on_shadow,
                                    device=device, **recipe_options(sch, epochs, batch_size))
    command = "synthguard " + " ".join(sys.argv[1:]) if sys.argv and "synthguard" in sys.argv[0] else None
    write_experiment(result, output, command=command)
    out.print((output / "results.md").read_text(), highlight=False)
    err.print(f"wrote {output}/results.md, results.json and the ROC plots", highlight=False)


@contextmanager
def shadow_progress(quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """Shadow progress whose bar appears only when the first shadow finishes (after training)."""
    if quiet:
        yield None
        return
    if not err.is_terminal:  # a log file: one plain line per finished shadow
        start = time.monotonic()

        def on_plain(done: int, total: int) -> None:
            err.print(f"shadow models: {done}/{total} done ({_duration(time.monotonic() - start)} elapsed)",
                      highlight=False)

        yield on_plain
        return
    bar = Progress(TextColumn("shadow models"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn(), console=err)
    task = bar.add_task("shadows", total=None)

    def on_shadow(done: int, total: int) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        yield on_shadow
    finally:
        bar.stop()


def check_plots_dir(plots: Path | None, names: tuple[str, ...], inputs: list[Path | None], overwrite: bool,
                    output: Path | None = None) -> None:
    """A plots folder (created when the plots are written): not a file, not an input nor inside
    one, and none of the plot files in it may exist unless --overwrite, nor be the -o output."""
    if plots is None:
        return
    if not plots.parent.exists():
        raise SynthguardError(f"output directory does not exist: {plots.parent}")
    if plots.exists() and not plots.is_dir():
        raise SynthguardError(f"{plots}: exists and is not a folder; choose a folder for the plots")
    from .io import input_clash

    clash = input_clash(plots, inputs)
    if clash is not None:
        raise SynthguardError(f"{plots}: {clash[1]} the input {clash[0]}; choose another folder for the plots")
    for name in names:
        if output is not None and (plots / name).resolve() == output.resolve():
            raise SynthguardError(f"{output}: is both the -o output and a plot; choose another path")
        if plots.is_dir():
            check_output(plots / name, inputs, overwrite)


def check_target(target: str | None, resolved: Schema, source: Path) -> None:
    """The TSTR target must be a modelled column of the data."""
    if target is None:
        return
    names = [c.name for c in resolved.modelled_columns]
    if target not in names:
        shown = ", ".join(repr(n) for n in names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        raise SynthguardError(f"--target {target!r} is not a modelled column of {source} (modelled: {shown})")


def _fmt(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def print_utility(metrics: dict[str, Any]) -> None:
    """A short table of the utility metrics a steward reads first."""
    from rich.table import Table

    table = Table(title="utility", show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    q, dwp_, dwpre_, dist = metrics["quality"], metrics["dwp"], metrics["dwpre"], metrics["distance"]
    table.add_row("sdmetrics quality (shapes / pair trends)",
                  f"{_fmt(q['score'])} ({_fmt(q['column_shapes'])} / {_fmt(q['column_pair_trends'])})")
    table.add_row("DWP mean abs. difference (correlation)", f"{_fmt(dwp_['mae'])} ({_fmt(dwp_['correlation'])})")
    table.add_row("DWpre mean gap, real- vs synthetic-trained", _fmt(dwpre_["mean_abs_gap"]))
    down = metrics.get("downstream")
    if down is not None and down["task"] == "classification":
        table.add_row(f"TSTR {down['target']}: accuracy (real-trained)",
                      f"{_fmt(down['tstr']['accuracy'])} ({_fmt(down['trtr']['accuracy'])})")
        table.add_row(f"TSTR {down['target']}: ROC AUC (real-trained)",
                      f"{_fmt(down['tstr']['auc'])} ({_fmt(down['trtr']['auc'])})")
    elif down is not None:
        table.add_row(f"TSTR {down['target']}: R^2 (real-trained)", f"{_fmt(down['tstr']['r2'])} ({_fmt(down['trtr']['r2'])})")
    table.add_row("exact copies of training rows", f"{dist['exact_copy_rate']:.2%}")
    table.add_row("closest-record distance, synthetic vs holdout (median)",
                  f"{_fmt(dist['dcr_synthetic_median'])} vs {_fmt(dist['dcr_holdout_median'])}")
    out.print(table, width=max(out.width, 110))


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C: staging folders and temp files go


def main() -> None:
    """Console-script entry point."""
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    app()


if __name__ == "__main__":
    sys.exit(main())
