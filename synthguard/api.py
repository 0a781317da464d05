"""The Python entry points that the command line calls: inputs, recipes, fits, samples, evaluations.

    from synthguard import api
    from synthguard.release import release

    data = api.load_input("digits")                    # a table, a frame, `digits`, an image folder or .npz
    recipe = api.make_recipe(data.schema, defense="pargan", defense_settings=["partitions=2"], epochs=5)
    model = api.fit(data, recipe=recipe)               # images train with the image defaults
    api.sample_to_path(model, 1000, "synthetic.parquet", seed=1)
    report = api.evaluate_files("train.csv", "synthetic.csv", "schema.yaml", holdout="holdout.csv")
    outcome = release("digits", None, "out/digits")    # the gated path; same inputs and defaults

The API owns what depends on the input rather than on how it was asked for: which reader a
source needs, the schema (given, or inferred with a warning), the training defaults of each
modality (`training_defaults`), when a parquet file is streamed rather than read whole
(`should_stream`), and the limits of one draw. Messages name the API's own parameters; errors
carry the parameter in `.setting` for front ends to point at their own option.
"""

from __future__ import annotations

import numbers
import shutil
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import InputError, SettingError, SynthguardError, SynthguardWarning, mapped_errors
from .images import BUNDLED, IMAGE_TRAIN_DEFAULTS, is_image_source
from .io import check_new_dir, check_output_file, read_table
from .schema import Schema

if TYPE_CHECKING:
    from .synthesizer import Synthesizer
    from .utility.evaluate import UtilityReport

SchemaLike = Schema | str | Path | None
ImageSize = int | tuple[int, int] | None
EpochCallback = Callable[[int, dict[str, float]], None]
ColumnCallback = Callable[[int, int, str], None]

MAX_SAMPLE_ROWS = 10_000_000  # a draw holds one label per row up front and takes about an hour on a CPU
MAX_SAMPLE_IMAGES = 100_000  # images are held in memory until written
BYTES_PER_CELL = 24  # a generous CSV cell (digits, separator); parquet is smaller


@dataclass(frozen=True)
class InputData:
    """Rows to train on and their schema.

    `frame` is None when the rows are streamed from `path` in record batches (`should_stream`);
    `path` is the file or folder they came from (None for a frame or a bundled collection such as
    `digits`); `source` is how messages name the data."""

    schema: Schema
    frame: pd.DataFrame | None
    path: Path | None
    source: str

    @property
    def streamed(self) -> bool:
        return self.frame is None

    @property
    def modality(self) -> str:
        return self.schema.modality


# ---- inputs ------------------------------------------------------------------------------------
def should_stream(data: Any, schema: SchemaLike) -> bool:
    """Whether a fit reads `data` in record batches instead of as one frame: a parquet file with
    a schema given. A streamed fit gives the model a whole-table fit gives, with memory bounded
    however large the file is; without a schema the schema is inferred from the whole table,
    which is then read anyway."""
    if schema is None or isinstance(data, (pd.DataFrame, InputData)):
        return False
    path = Path(str(data))
    return path.suffix.lower() in (".parquet", ".pq") and not path.is_dir()


def load_schema(schema: SchemaLike, frame: pd.DataFrame | None = None) -> Schema:
    """A schema: as given, read from a YAML file, or (None) inferred from `frame` with a warning."""
    if isinstance(schema, Schema):
        return schema
    if schema is not None:
        return Schema.load(schema)
    if frame is None:
        raise SettingError("a schema is needed here (none was given, and there are no rows to infer one from)",
                           setting="schema")
    warnings.warn("no schema given: inferring one from the data; review it (`synthguard schema infer` writes "
                  "one to review)", SynthguardWarning, stacklevel=3)
    return Schema.infer(frame)


def load_input(data: Any, schema: SchemaLike = None, *, size: ImageSize = None,
               stream: bool | None = None) -> InputData:
    """The rows and their schema, from any source the library reads.

    Args:
        data: a CSV or parquet path, a raw frame (text cells are parsed by the schema), an image
            collection (`digits`, a folder with one sub-folder of PNG/JPEG files per class, an
            `.npz` with `images` and `labels`), or an `InputData` (returned as it is).
        schema: a `Schema`, a schema YAML path, or None: a table's schema is then inferred (with a
            SynthguardWarning: review it), an image collection's comes with it.
        size: image collections only: resize every image to size x size (or (height, width)).
        stream: read a parquet file in record batches (the frame is then None); None chooses by
            `should_stream`.

    Raises InputError for an unreadable source, SettingError for a bad setting, and InputError
    for a table whose schema leaves no column to model."""
    if isinstance(data, InputData):
        return data
    if isinstance(data, pd.DataFrame):
        source = "data"
        with mapped_errors(InputError, source):
            frame = data
            sch = load_schema(schema, frame)
            _check_something_to_model(frame, sch, source)
        return InputData(sch, frame, None, source)
    if not isinstance(data, (str, Path)):
        raise SettingError(f"data must be a path, a frame or the name of a bundled collection, got "
                           f"{type(data).__name__}", setting="data")
    source = str(data)
    with mapped_errors(InputError, source):
        if is_image_source(data):
            from .images import load_images

            frame, inferred = load_images(data, size=size)
            path = None if source in BUNDLED else Path(source)
            return InputData(load_schema(schema) if schema is not None else inferred, frame, path, source)
        path = Path(source)
        if stream if stream is not None else should_stream(path, schema):
            if path.suffix.lower() not in (".parquet", ".pq"):
                raise SettingError(f"{path}: only parquet files are streamed", setting="stream")
            sch = load_schema(schema)
            if sch.modality != "table":
                raise SettingError(f"{path}: streaming reads tables, not {sch.modality} collections", setting="stream")
            return InputData(sch, None, path, source)
        frame = read_table(path)
        sch = load_schema(schema, frame)
        _check_something_to_model(frame, sch, source)
        return InputData(sch, frame, path, source)


def _check_something_to_model(frame: pd.DataFrame, schema: Schema, source: str) -> None:
    """Refuse a table whose schema leaves no column to model (all ids or sensitive)."""
    if schema.modality != "table":
        return
    resolved = schema.resolve(list(frame.columns), source)
    if not resolved.modelled_columns:
        raise InputError(f"{source}: no column to model ({len(resolved.columns)} column(s), every one an id "
                         "or sensitive)")


def infer_schema(data: Any, *, name: str | None = None, condition: str | None = None,
                 size: ImageSize = None) -> Schema:
    """Propose a schema for a table or an image collection (domains read from the data are
    marked `learned`, for a person to review)."""
    source = str(data) if not isinstance(data, pd.DataFrame) else "data"
    with mapped_errors(InputError, source):
        if not isinstance(data, pd.DataFrame) and is_image_source(data):
            from .images import infer_image_schema

            return infer_image_schema(data, size=size)
        frame = data if isinstance(data, pd.DataFrame) else read_table(data)
        default_name = Path(source).stem if not isinstance(data, pd.DataFrame) else "table"  # Schema.infer's default
        return Schema.infer(frame, name=name or default_name, condition=condition)


# ---- recipes and fits ---------------------------------------------------------------------------
def training_defaults(schema: Schema) -> dict[str, Any]:
    """The training settings a modality starts from: `images.IMAGE_TRAIN_DEFAULTS` for images
    (small batches, Ji et al.'s image learning rate), `TrainConfig`'s own for tables ({})."""
    return dict(IMAGE_TRAIN_DEFAULTS) if schema.modality == "image" else {}


def training_options(schema: Schema, **options: Any) -> dict[str, Any]:
    """Training settings for `schema`: its modality's defaults (`training_defaults`) under the
    given ones (a None value keeps the default)."""
    return {**training_defaults(schema), **{k: v for k, v in options.items() if v is not None}}


def make_recipe(schema: Schema, *, defense: str = "mixup", alpha: float | None = None,
                defense_settings: Iterable[str] | Mapping[str, Any] | None = None, seed: int = 0,
                device: str = "cpu", threads: int | None = None, **train_options: Any) -> Synthesizer:
    """An unfitted `Synthesizer`: the schema's modality defaults (`training_defaults`) under the
    given training options (`epochs`, `batch_size`, any `TrainConfig` field; None keeps the
    default).

    `defense_settings` are the defence's own settings, `"key=value"` text or a mapping, checked
    against the defence's signature by the defence registry (`gan.defenses.parse_defense_settings`).
    Raises SettingError (one line naming the setting) for an unknown or bad one."""
    from .gan.defenses import parse_defense_settings
    from .synthesizer import Synthesizer

    options = training_options(schema, **train_options)
    with mapped_errors(SettingError):
        params = parse_defense_settings(defense, defense_settings)
        return Synthesizer(schema, defense=defense, alpha=alpha, defense_params=params, device=device, seed=seed,
                           threads=threads, **options)


def fit(data: Any, schema: SchemaLike = None, *, recipe: Synthesizer | None = None, size: ImageSize = None,
        stream: bool | None = None, on_epoch: EpochCallback | None = None,
        on_column: ColumnCallback | None = None, **recipe_settings: Any) -> Synthesizer:
    """Fit a synthesizer on `data` (anything `load_input` reads) and return it.

    `recipe` is fitted in place (its schema, if it has none, is the data's); without one,
    `make_recipe(schema, **recipe_settings)` builds it, with the modality's training defaults. A
    parquet file with a schema is streamed in record batches (`should_stream`)."""
    loaded = load_input(data, schema, size=size, stream=stream)
    if recipe is not None and recipe_settings:
        raise SettingError(f"give either a recipe or recipe settings, not both (got {', '.join(recipe_settings)})",
                           setting="recipe")
    model = recipe if recipe is not None else make_recipe(loaded.schema, **recipe_settings)
    if model.schema is None:
        model.schema = loaded.schema
    with mapped_errors(SettingError, loaded.source):
        if loaded.frame is None:
            from .streaming import fit_parquet

            assert loaded.path is not None
            return fit_parquet(model, loaded.path, on_epoch=on_epoch, on_column=on_column)
        return model.fit(loaded.frame, on_epoch=on_epoch, source=loaded.source, on_column=on_column)


# ---- evaluating ------------------------------------------------------------------------------
def evaluate_files(real: str | Path | pd.DataFrame, synthetic: str | Path | pd.DataFrame, schema: Schema | str | Path,
                   *, holdout: str | Path | pd.DataFrame | None = None, target: str | None = None,
                   seed: int = 0) -> UtilityReport:
    """`utility.evaluate` on tables given as files (CSV/parquet) or raw frames.

    Args:
        real: the real rows the generator was fitted on.
        synthetic: the synthetic rows.
        schema: a `Schema` or a schema YAML path.
        holdout: real rows the generator never saw. Without them 20% of `real` (seeded) is the
            test set, which the generator saw: an optimistic estimate, said in a SynthguardWarning.
        target: the column for train-synthetic-test-real (default: the schema's condition); it must
            be a modelled column of `real` (SettingError listing the modelled ones otherwise).
        seed: every random choice of the metrics."""
    from .utility.evaluate import check_target, evaluate

    sch = load_schema(schema)

    def table(value: str | Path | pd.DataFrame, name: str) -> tuple[pd.DataFrame, str]:
        return (value, name) if isinstance(value, pd.DataFrame) else (read_table(value), str(value))

    real_raw, real_name = table(real, "real")
    resolved = sch.resolve(list(real_raw.columns), real_name)
    check_target(target, resolved, real_name)
    with mapped_errors(InputError):
        train = sch.parse(real_raw, real_name)
        synth_raw, synth_name = table(synthetic, "synthetic")
        synth = sch.parse(synth_raw, synth_name)
        if holdout is not None:
            holdout_raw, holdout_name = table(holdout, "holdout")
            test = sch.parse(holdout_raw, holdout_name)
        else:
            warnings.warn("no holdout given: 20% of the real rows are the test set, and the generator saw them "
                          "(an optimistic estimate)", SynthguardWarning, stacklevel=2)
            test = train.sample(frac=0.2, random_state=seed)
    return evaluate(train, test.reset_index(drop=True), synth, resolved, target=target, seed=seed)


# ---- sampling --------------------------------------------------------------------------------
def sample_to_path(model: Synthesizer | str | Path, n: int, output: str | Path, *, condition: Any = None,
                   seed: int | None = None, overwrite: bool = False,
                   inputs: Iterable[str | Path | None] = ()) -> list[Path]:
    """Draw `n` rows (or images) from a fitted model into `output`; returns the files written.

    Tables go to a .csv or .parquet file, chunk by chunk (memory bounded for any `n`); images to
    an .npz (with one PNG grid per class beside it) or a new folder of PNGs. `condition` fixes the
    label: a value of the model's condition column, or {column: value}. Every check comes before
    the draw: the limits of one call, the output's format and folder, `inputs` it must not touch,
    an existing file (replaced only with `overwrite`), and the free disk space. The debris of a
    killed run for the same output is removed, with a SynthguardWarning."""
    from .synthesizer import Synthesizer

    output = Path(output)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise SettingError(f"the number of rows must be a positive whole number, got {n!r}", setting="n")
    if n > MAX_SAMPLE_ROWS:
        raise SettingError(f"{n:,} rows is more than {MAX_SAMPLE_ROWS:,} per call (a draw holds every row's label "
                           "in memory and writes for hours); draw in parts with different seeds", setting="n")
    synth = model if isinstance(model, Synthesizer) else Synthesizer.load(model)
    model_inputs = [*inputs, *([] if isinstance(model, Synthesizer) else [Path(model)])]
    schema = synth.schema_
    images = schema.modality == "image"
    label = _condition_label(condition, schema)
    if images:
        if output.suffix not in (".npz", ""):
            raise InputError(f"{output}: image samples go to an .npz file or a folder")
        if n > MAX_SAMPLE_IMAGES:
            raise SettingError(f"{n:,} images is more than {MAX_SAMPLE_IMAGES:,} per call (images are held in "
                               "memory until written); draw in parts with different seeds", setting="n")
        if output.suffix:
            _warn_removed(check_output_file(output, model_inputs, overwrite=overwrite))
        else:
            check_new_dir(output, model_inputs)
        from .images import write_image_samples

        rows = synth.sample(n, condition=label, seed=seed)
        return write_image_samples(rows, schema, output)
    from .io import table_format
    from .streaming import sample_to_file

    table_format(output)
    _warn_removed(check_output_file(output, model_inputs, overwrite=overwrite))
    check_disk_space(output, n, len(schema.modelled_columns))
    return [sample_to_file(synth, n, output, condition=label, seed=seed)]


def _condition_label(condition: Any, schema: Schema) -> Any:
    if not isinstance(condition, Mapping):
        return condition
    if len(condition) != 1:
        raise SettingError(f"condition fixes one column, got {len(condition)}", setting="condition")
    ((column, value),) = condition.items()
    if column != schema.condition:
        raise SettingError(f"{column!r} is not the model's condition column ({schema.condition!r})",
                           setting="condition")
    return value


def _warn_removed(removed: list[Path]) -> None:
    for path in removed:
        warnings.warn(f"removed {path.name}, left by an interrupted run", SynthguardWarning, stacklevel=3)


def check_disk_space(output: str | Path, rows: int, columns: int) -> None:
    """Refuse a draw that cannot fit on the output's disk (estimated at BYTES_PER_CELL a cell)."""
    output = Path(output)
    needed = rows * max(1, columns) * BYTES_PER_CELL
    free = shutil.disk_usage(output.parent).free
    if needed > free:
        raise SynthguardError(f"{output}: {rows:,} rows of {columns} columns need about {needed / 2**30:.1f} GiB; "
                              f"{free / 2**30:.1f} GiB are free on that disk")


__all__ = [
    "InputData", "MAX_SAMPLE_IMAGES", "MAX_SAMPLE_ROWS", "check_disk_space", "evaluate_files", "fit",
    "infer_schema", "load_input", "load_schema", "make_recipe", "sample_to_path", "should_stream",
    "training_defaults", "training_options",
]
