"""Options that several commands share, as `Annotated` aliases, and the choices they accept.

A bad option value is a usage error (exit 2) before any work: choices are `Literal`s (Typer turns
them into a choice), numbers carry their bounds, and the defence names are read from the open
defence registry when the option is parsed. Every option's help shows or describes its default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import typer

from ..api import MAX_SAMPLE_IMAGES, MAX_SAMPLE_ROWS
from ..errors import SettingError
from ..images import IMAGE_TRAIN_DEFAULTS
from ..tuning import DEFAULT_CHECKPOINTS, DEFAULT_DEFENSES, UTILITY_METRICS

# Typer turns a Literal into a choice; the lists are the library's (a test checks that they agree)
ThreatModel = Literal["data", "generator", "critic"]  # audit.THREAT_MODELS
Backend = Literal["local", "dask"]  # parallel.BACKENDS
TableFormat = Literal["parquet", "csv"]  # the formats a release writes
#: training defaults of the two modalities, for the help: `TrainConfig`'s (read without importing
#: torch; a test checks them) and `images.IMAGE_TRAIN_DEFAULTS`
TABLE_EPOCHS, TABLE_BATCH = 300, "auto"
IMAGE_EPOCHS, IMAGE_BATCH = IMAGE_TRAIN_DEFAULTS["epochs"], IMAGE_TRAIN_DEFAULTS["batch_size"]
MAX_SEED = 2**32 - 1  # numpy's and scikit-learn's seeds stop there


def _not_one_of(value: str, names: Any) -> typer.BadParameter:
    return typer.BadParameter(f"{value!r} is not one of {', '.join(repr(n) for n in names)}.")


def known_defense(value: str) -> str:
    """A registered defence (the registry is open, so it is read when the option is parsed)."""
    from ..gan.defenses import DEFENSES

    if value not in DEFENSES:
        raise _not_one_of(value, DEFENSES)
    return value


def known_defenses(value: str) -> str:
    """Comma-separated registered defences."""
    from ..gan.defenses import DEFENSES

    for name in (d.strip() for d in value.split(",")):
        if name and name not in DEFENSES:
            raise _not_one_of(name, DEFENSES)
    return value


def known_metric(value: str | None) -> str | None:
    """A registered primary utility metric of a tuned release (the registry is open)."""
    if value is not None and value not in UTILITY_METRICS:
        raise _not_one_of(value, UTILITY_METRICS)
    return value


def split_list(text: str) -> tuple[str, ...]:
    """Comma-separated items, stripped, empty ones left out."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def known_defense_settings(value: str | None) -> str | None:
    """Comma-separated defence settings of a tuned release (`none`, `mixup:ALPHA`, any registered
    defence), checked by `tuning.TuneSettings` (a repeat, an alpha on a defence without one, ...)."""
    if value is None:
        return None
    from ..tuning import TuneSettings

    try:
        TuneSettings(defenses=split_list(value))
    except SettingError as err:
        raise typer.BadParameter(str(err)) from None
    return value


def parse_checkpoints(text: str | None) -> tuple[int, ...] | None:
    """`--checkpoints 10,20,40` as epochs (None stays None). Text that is not whole epochs of at
    least 1 is a SettingError naming the `checkpoints` setting (the CLI adds its option); an
    epoch past the recipe's last is found by the recipe (`Synthesizer(checkpoints=...)`)."""
    if text is None:
        return None
    epochs = []
    for item in split_list(text):
        try:
            epoch = int(item)
        except ValueError:
            epoch = 0
        if epoch < 1:
            raise SettingError(f"checkpoints must be whole epochs of at least 1 separated by commas (such as "
                               f"10,20,40), got {text!r}", setting="checkpoints")
        epochs.append(epoch)
    if not epochs:
        raise SettingError("checkpoints: give at least one epoch (such as 10,20,40)", setting="checkpoints")
    return tuple(epochs)


# ---- inputs and outputs --------------------------------------------------------------------------
DataArg = Annotated[Path, typer.Argument(help="The private data: a .csv or .parquet table, or images (`digits`, a "
                                         "folder with one sub-folder per class, an .npz).", show_default=False)]
SchemaOpt = Annotated[Optional[Path], typer.Option("--schema", "-s", help="Schema YAML (inferred, with a warning, if "
                                                   "omitted; images bring their own).")]
RequiredSchemaOpt = Annotated[Path, typer.Option("--schema", "-s", help="Schema YAML.")]
SizeOpt = Annotated[Optional[int], typer.Option("--size", min=1, help="Images: resize to SIZE x SIZE pixels "
                                                "(default: keep their size, the same for all).")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace existing output files (never an input).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, max=MAX_SEED,
                                      help="Seed for every random choice: same seed, same result.")]

# ---- the training recipe ---------------------------------------------------------------------------
DefenseOpt = Annotated[str, typer.Option("--defense", callback=known_defense, help="Training defence: mixup (the "
                                          "paper's), none, or the baselines relaxloss and pargan.")]
AlphaOpt = Annotated[Optional[float], typer.Option("--alpha", help="Mixup's Beta(alpha, alpha) parameter "
                                                   "(default 1.0).")]
DefenseParamOpt = Annotated[Optional[list[str]], typer.Option(
    "--defense-param", help="A defence setting as KEY=VALUE, repeatable: mixup lambda_mode=batch|sample (one "
    "lambda per batch, the paper's, or per mixed pair), fakes=mixed|generated (generated: the paper's); relaxloss "
    "mode=global|per_example, holdout=0.1, reference_models=4; pargan partitions=4 (default: the defence's own "
    "settings).")]
DeviceOpt = Annotated[str, typer.Option("--device", help="Train on cpu (default) or cuda.")]
EpochsOpt = Annotated[Optional[int], typer.Option("--epochs", min=1, help="Training epochs (passes of the critic over "
                                                  f"the rows; default: {TABLE_EPOCHS} for tables, {IMAGE_EPOCHS} for "
                                                  "images).")]
BatchOpt = Annotated[Optional[int], typer.Option("--batch-size", min=1, help=f"Rows per critic step (default: "
                                                 "for tables, chosen from the rows: about a thirtieth of them, a "
                                                 f"power of two from 64 to 512; {IMAGE_BATCH} for images).")]
ThreadsOpt = Annotated[Optional[int], typer.Option("--threads", min=1, help="Torch threads (default: torch's choice).")]

# ---- the audit -------------------------------------------------------------------------------------
ShadowsOpt = Annotated[int, typer.Option("--shadows", min=4, help="Shadow models (even, at least 4; every record is in "
                                          "half of them).")]
TargetsOpt = Annotated[int, typer.Option("--targets", min=10, help="Records scored: the most outlying plus a random sample.")]
AttacksOpt = Annotated[str, typer.Option("--attacks", help="Comma-separated attack families: lira, rmia, logan, ganleaks, domias (and any registered).")]
ThreatOpt = Annotated[ThreatModel, typer.Option("--threat-model", help="What an attacker holds: data, generator or critic.")]
WorkersOpt = Annotated[Optional[int], typer.Option("--workers", min=1,
                                                   help="Local worker processes (default: one per core).")]
BackendOpt = Annotated[Backend, typer.Option("--backend", help="Where shadows train: local or dask.")]
SchedulerOpt = Annotated[Optional[str], typer.Option("--scheduler", help="Dask scheduler address or scheduler file "
                                                     "(default: none; needed with --backend dask).")]
RunDirOpt = Annotated[Optional[Path], typer.Option("--run-dir", help="Keep each finished shadow (model and statistics) "
                      "here (default: none, nothing kept); a rerun with the same folder resumes from them. Refused if "
                      "it holds another audit's.")]

AuditCheckpointsOpt = Annotated[Optional[str], typer.Option(
    "--checkpoints", help="Also attack the models as they were at these epochs (comma-separated, such as 10,20,40; "
    "the last epoch always): the same shadow models keep their weights there, so no extra training; prints the "
    "leakage curve (default: the last epoch only).")]

# ---- a tuned release -------------------------------------------------------------------------------
TuneOpt = Annotated[bool, typer.Option("--tune", help="Compare defence settings x checkpoints and release the "
                                       "passing candidate with the best utility; each defence setting costs one "
                                       "fit and one audit. Replaces --defense and --alpha.")]
TuneDefensesOpt = Annotated[Optional[str], typer.Option(
    "--tune-defenses", callback=known_defense_settings, help="With --tune: comma-separated defence settings, a "
    f"defence or mixup:ALPHA (default: {','.join(DEFAULT_DEFENSES)}).")]
TuneCheckpointsOpt = Annotated[Optional[str], typer.Option(
    "--checkpoints", help="With --tune: comma-separated epochs to compare, the last epoch always one (default: "
    f"those of {','.join(map(str, DEFAULT_CHECKPOINTS))} short of --epochs).")]
TuneMetricOpt = Annotated[Optional[str], typer.Option(
    "--tune-metric", callback=known_metric, help="With --tune: the utility the choice optimises, one of "
    f"{', '.join(UTILITY_METRICS)} (default: tstr for images or a table with a condition column, else quality).")]

# ---- sampling --------------------------------------------------------------------------------------
RowsOpt = Annotated[int, typer.Option("-n", "--rows", help=f"Number of rows to draw (at most {MAX_SAMPLE_ROWS:,}; "
                                      f"{MAX_SAMPLE_IMAGES:,} images).")]
