"""The table schema: columns, their types and domains, YAML load/dump, inference, and parsing a
raw frame into typed columns while collecting every problem.

A schema file looks like::

    format_version: 1
    name: ofp
    modality: table            # or `image` (then `image: {height, width, channels}` too)
    condition: hlth            # optional: the GAN's label y
    extra_columns: error       # or `ignore`: data columns the schema does not name
    columns:
      - {name: ofp, type: integer, min: 0}
      - {name: hlth, type: categorical, categories: [poor, other, excellent]}
      - {name: privins, type: boolean, true_value: "yes", false_value: "no"}
      - {pattern: "icd9_*", type: boolean}     # a glob: one entry for many code columns

An image collection is a table too: one continuous column per pixel value, `px_00000`, ... (row-major
over height, width, then channels; values in [0, 1]) plus the label, which must be the condition::

    modality: image
    image: {height: 8, width: 8, channels: 1}
    condition: label
    columns:
      - {name: label, type: categorical, categories: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}
      - {pattern: "px_*", type: continuous, min: 0, max: 1}

Domains (bounds, categories) that `infer` learned from the data are listed under `learned`:
they come from the private data, and a person should replace them with public knowledge.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .errors import DataValidationError, InputError, SchemaError
from .io import read_yaml

FORMAT_VERSION = 1
COLUMN_TYPES = ("continuous", "integer", "categorical", "boolean", "datetime", "id")
NUMERIC_TYPES = ("continuous", "integer", "datetime")
NULL_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none"})
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})
_MAX_ROWS_SHOWN = 3
MODALITIES = ("table", "image")
IMAGE_SIZE_RANGE = (8, 64)
IMAGE_CHANNELS = (1, 3)


@dataclass(frozen=True)
class Column:
    """One column (or, with `pattern`, every data column whose name matches a glob)."""

    type: str
    name: str | None = None
    pattern: str | None = None
    nullable: bool = False
    sensitive: bool = False
    min: float | None = None
    max: float | None = None
    categories: tuple[Any, ...] | None = None
    true_value: str | None = None
    false_value: str | None = None
    datetime_format: str | None = None
    learned: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"pattern {self.pattern!r}"

    @property
    def modelled(self) -> bool:
        """Whether the GAN models this column (ids and sensitive columns are dropped)."""
        return self.type != "id" and not self.sensitive


@dataclass(frozen=True)
class ImageShape:
    """The pixel grid of an image collection: every image has this height, width and channels."""

    height: int
    width: int
    channels: int

    @property
    def n_pixels(self) -> int:
        """Pixel values per image (columns of the frame, width of the encoded row)."""
        return self.height * self.width * self.channels


@dataclass(frozen=True)
class Schema:
    """Ordered columns, an optional condition column, and what to do with unnamed data columns."""

    columns: tuple[Column, ...]
    condition: str | None = None
    name: str = "table"
    extra_columns: str = "error"
    format_version: int = FORMAT_VERSION
    modality: str = "table"
    image: ImageShape | None = None

    # ---- construction and YAML -------------------------------------------------------------
    def __post_init__(self) -> None:
        _check_schema(self)

    @classmethod
    def from_dict(cls, raw: Any, source: str = "schema") -> Schema:
        if not isinstance(raw, dict):
            raise SchemaError(f"{source}: expected a mapping with `columns`, got {type(raw).__name__}")
        known = {"format_version", "name", "modality", "image", "condition", "extra_columns", "columns"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise SchemaError(f"{source}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(known))})")
        version = raw.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise SchemaError(f"{source}: format_version {version!r} is not supported (this synthguard reads {FORMAT_VERSION})")
        cols = raw.get("columns")
        if not isinstance(cols, list) or not cols:
            raise SchemaError(f"{source}: `columns` must be a non-empty list")
        columns = tuple(_column_from_dict(c, i, source) for i, c in enumerate(cols))
        try:
            return cls(
                columns=columns,
                condition=raw.get("condition"),
                name=str(raw.get("name", "table")),
                extra_columns=raw.get("extra_columns", "error"),
                modality=raw.get("modality", "table"),
                image=_image_from_dict(raw.get("image")),
            )
        except SchemaError as err:
            raise SchemaError(f"{source}: {err}") from None

    @classmethod
    def load(cls, path: str | Path) -> Schema:
        return cls.from_dict(read_yaml(path, "schema"), source=str(path))

    @classmethod
    def from_yaml(cls, text: str) -> Schema:
        return cls.from_dict(yaml.safe_load(text))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format_version": self.format_version, "name": self.name}
        if self.modality != "table":  # table schemas read as they always did
            out["modality"] = self.modality
        if self.image is not None:
            out["image"] = {"height": self.image.height, "width": self.image.width, "channels": self.image.channels}
        if self.condition is not None:
            out["condition"] = self.condition
        out["extra_columns"] = self.extra_columns
        out["columns"] = [_column_to_dict(c) for c in self.columns]
        return out

    def to_yaml(self) -> str:
        text = yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None, allow_unicode=True, width=100)
        if any(c.learned for c in self.columns):
            text = (
                "# Domains listed under `learned` were read from the private data. Replace them with\n"
                "# public knowledge where you can: a minimum, maximum or rare category can identify a person.\n"
                + text
            )
        return text

    # ---- use ---------------------------------------------------------------------------------
    def resolve(self, data_columns: list[str], source: str = "data") -> Schema:
        """Bind patterns to the data's columns: a schema with one named entry per data column,
        in the data's column order. Raises DataValidationError listing every mismatch."""
        problems: list[str] = []
        by_name = {c.name: c for c in self.columns if c.name is not None}
        patterns = [c for c in self.columns if c.pattern is not None]
        bound: list[Column] = []
        used_patterns: set[str] = set()
        for col in data_columns:
            if col in by_name:
                bound.append(by_name[col])
                continue
            match = next((p for p in patterns if fnmatch.fnmatchcase(col, p.pattern or "")), None)
            if match is not None:
                used_patterns.add(match.pattern or "")
                bound.append(replace(match, name=col, pattern=None))
            elif self.extra_columns == "error":
                problems.append(f"column {col!r} is in the data but not in the schema (or set `extra_columns: ignore`)")
        missing = [name for name in by_name if name not in data_columns]
        problems += [f"column {name!r} is in the schema but not in the data" for name in missing]
        problems += [f"pattern {p.pattern!r} matches no column in the data" for p in patterns if p.pattern not in used_patterns]
        if problems:
            raise DataValidationError(problems, source)
        return replace(self, columns=tuple(bound))

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def modelled_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.modelled)

    def parse(self, frame: pd.DataFrame, source: str = "data", first_row: int = 1) -> pd.DataFrame:
        """Resolve against the frame's columns and convert every modelled column to its type.

        Returns a typed frame with the modelled columns only (ids and sensitive columns dropped).
        Raises DataValidationError listing every problem (column, rows, what was expected).
        `first_row`: the data row number of the frame's first row (a batch of a larger file).
        """
        bound = self.resolve(list(frame.columns), source)
        frame = frame.reset_index(drop=True)  # row numbers in messages and the output's index are positions
        problems: list[str] = []
        typed: dict[str, pd.Series] = {}
        for col in bound.modelled_columns:
            series, col_problems = _parse_column(frame[col.name], col, first_row)
            typed[col.name] = series
            problems += col_problems
        if problems:
            raise DataValidationError(problems, source)
        return pd.DataFrame(typed, index=pd.RangeIndex(len(frame)))

    def format(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The inverse of `parse` for output: booleans in each column's own spelling (yes/no, 0/1),
        so that synthetic rows look like the rows they imitate."""
        out = frame.copy()
        for col in self.columns:
            if col.name in out.columns and col.type == "boolean" and col.true_value is not None:
                values = out[col.name]
                nulls = values.isna().to_numpy()
                spelled = bool_series_from_column(np.where(nulls, False, values.to_numpy(dtype=object)).astype(bool), col)
                if nulls.any():
                    spelled = spelled.astype(object)
                    spelled[nulls] = None
                out[col.name] = spelled.to_numpy()
        return out

    # ---- inference ---------------------------------------------------------------------------
    @classmethod
    def infer(cls, frame: pd.DataFrame, name: str = "table", condition: str | None = None) -> Schema:
        """Propose a schema for a frame; domains learned from the data are marked `learned`."""
        if condition is not None and condition not in frame.columns:
            raise InputError(f"condition column {condition!r} is not in the data")
        columns = tuple(_infer_column(str(c), frame[c], i) for i, c in enumerate(frame.columns))
        if condition is not None:
            cond = next(c for c in columns if c.name == condition)
            if cond.type not in ("categorical", "boolean"):
                columns = tuple(_as_categorical(c, frame[c.name]) if c.name == condition else c for c in columns)
        return cls(columns=columns, condition=condition, name=name)


# ---- checks and (de)serialisation of columns -------------------------------------------------
_COLUMN_KEYS = {f.name for f in fields(Column)}


def _column_from_dict(raw: Any, index: int, source: str) -> Column:
    where = f"{source}: columns[{index}]"
    if not isinstance(raw, dict):
        raise SchemaError(f"{where}: expected a mapping, got {raw!r}")
    label = raw.get("name", raw.get("pattern", index))
    unknown = sorted(set(raw) - _COLUMN_KEYS)
    if unknown:
        raise SchemaError(f"{where} ({label}): unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_COLUMN_KEYS))})")
    if "type" not in raw:
        raise SchemaError(f"{where} ({label}): missing `type` (one of {', '.join(COLUMN_TYPES)})")
    values = dict(raw)
    for key in ("categories", "learned"):
        if values.get(key) is not None:
            if not isinstance(values[key], list):
                raise SchemaError(f"{where} ({label}): `{key}` must be a list")
            values[key] = tuple(values[key])
    for key in ("min", "max"):
        if values.get(key) is not None and not isinstance(values[key], (int, float)):
            raise SchemaError(f"{where} ({label}): `{key}` must be a number, got {values[key]!r}")
    for key in ("nullable", "sensitive"):
        if key in values and not isinstance(values[key], bool):
            raise SchemaError(f"{where} ({label}): `{key}` must be true or false")
    if values.get("learned") is None:
        values["learned"] = ()
    try:
        return Column(**values)
    except SchemaError as err:
        raise SchemaError(f"{where}: {err}") from None


def _image_from_dict(raw: Any) -> ImageShape | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise SchemaError(f"`image` must be a mapping {{height, width, channels}}, got {raw!r}")
    keys = {"height", "width", "channels"}
    unknown, missing = sorted(set(raw) - keys), sorted(keys - set(raw))
    if unknown:
        raise SchemaError(f"image: unknown key {unknown[0]!r} (allowed: channels, height, width)")
    if missing:
        raise SchemaError(f"image: missing `{missing[0]}`")
    for key in sorted(keys):
        if not isinstance(raw[key], int) or isinstance(raw[key], bool):
            raise SchemaError(f"image: `{key}` must be a whole number, got {raw[key]!r}")
    return ImageShape(height=raw["height"], width=raw["width"], channels=raw["channels"])


def _check_image(schema: Schema) -> None:
    if schema.modality not in MODALITIES:
        raise SchemaError(f"modality must be `table` or `image`, not {schema.modality!r}")
    if schema.modality == "table":
        if schema.image is not None:
            raise SchemaError("`image` applies to `modality: image` schemas only")
        return
    shape = schema.image
    if shape is None:
        raise SchemaError("an image schema needs `image: {height, width, channels}`")
    lo, hi = IMAGE_SIZE_RANGE
    for key in ("height", "width"):
        size = getattr(shape, key)
        if not isinstance(size, int) or not lo <= size <= hi:
            raise SchemaError(f"image {key} must be a whole number from {lo} to {hi}, got {size!r}")
    if shape.channels not in IMAGE_CHANNELS:
        raise SchemaError(f"image channels must be 1 (grayscale) or 3 (RGB), got {shape.channels!r}")
    if schema.condition is None:
        raise SchemaError("an image schema needs a `condition`: the label column")


def _column_to_dict(col: Column) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["name" if col.name is not None else "pattern"] = col.name if col.name is not None else col.pattern
    out["type"] = col.type
    for f in fields(Column):
        if f.name in ("name", "pattern", "type"):
            continue
        value = getattr(col, f.name)
        if value == f.default or (f.name == "learned" and not value):
            continue
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def _check_column(col: Column) -> None:
    if (col.name is None) == (col.pattern is None):
        raise SchemaError("each column needs exactly one of `name` or `pattern`")
    if col.type not in COLUMN_TYPES:
        raise SchemaError(f"column {col.label}: unknown type {col.type!r} (one of {', '.join(COLUMN_TYPES)})")
    if col.min is not None and col.max is not None and col.min > col.max:
        raise SchemaError(f"column {col.label}: min {col.min} is above max {col.max}")
    if (col.min is not None or col.max is not None) and col.type not in ("continuous", "integer"):
        raise SchemaError(f"column {col.label}: min/max apply to continuous and integer columns, not {col.type}")
    if col.categories is not None:
        if col.type != "categorical":
            raise SchemaError(f"column {col.label}: categories apply to categorical columns, not {col.type}")
        keys = [str(c) for c in col.categories]
        if len(set(keys)) != len(keys) or not keys:
            raise SchemaError(f"column {col.label}: categories must be a non-empty list without duplicates")
    if (col.true_value is None) != (col.false_value is None):
        raise SchemaError(f"column {col.label}: set both true_value and false_value, or neither")
    if col.true_value is not None and col.type != "boolean":
        raise SchemaError(f"column {col.label}: true_value/false_value apply to boolean columns")
    bad = set(col.learned) - {"bounds", "categories"}
    if bad:
        raise SchemaError(f"column {col.label}: `learned` may list bounds and categories, not {sorted(bad)}")


def _check_schema(schema: Schema) -> None:
    for col in schema.columns:
        _check_column(col)
    names = [c.name for c in schema.columns if c.name is not None]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SchemaError(f"column {dupes[0]!r} appears twice in the schema")
    if schema.extra_columns not in ("error", "ignore"):
        raise SchemaError(f"extra_columns must be `error` or `ignore`, not {schema.extra_columns!r}")
    if schema.condition is not None:
        if schema.condition not in names:
            raise SchemaError(f"condition column {schema.condition!r} is not a named column of the schema")
        cond = next(c for c in schema.columns if c.name == schema.condition)
        if cond.type not in ("categorical", "boolean") or not cond.modelled:
            raise SchemaError(f"condition column {schema.condition!r} must be a modelled categorical or boolean column")
    _check_image(schema)


# ---- parsing raw values ------------------------------------------------------------------------
def _by_value(series: pd.Series, *tests: Callable[[pd.Series], Any]) -> list[np.ndarray]:
    """Per-cell boolean tests run on the distinct values only and spread back to the rows: a 0/1
    code column costs one hashing pass instead of string operations on every cell (10,000 rows x
    1,000 codes took 7-17 s to parse before). Missing cells (NaN/None) test False."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    values = pd.Series(uniques, dtype=object).astype(str).str.strip()
    present = codes >= 0
    found = []
    for test in tests:
        out = np.zeros(len(series), dtype=bool)
        out[present] = np.asarray(test(values), dtype=bool)[codes[present]]
        found.append(out)
    return found


def _null_mask(series: pd.Series) -> np.ndarray:
    mask = series.isna().to_numpy()
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        (tokens,) = _by_value(series, lambda text: text.str.lower().isin(NULL_TOKENS))
        mask |= tokens
    return mask


def _rows(mask: np.ndarray, first_row: int = 1) -> str:
    """'row 3' / 'rows 3, 8, 9 and 12 more' with 1-based data row numbers (header not counted)."""
    idx = np.flatnonzero(mask) + first_row
    shown = ", ".join(str(i) for i in idx[:_MAX_ROWS_SHOWN])
    more = f" and {len(idx) - _MAX_ROWS_SHOWN} more" if len(idx) > _MAX_ROWS_SHOWN else ""
    return f"row{'s' if len(idx) > 1 else ''} {shown}{more}"


def _first_value(series: pd.Series, mask: np.ndarray) -> str:
    return repr(series.to_numpy()[np.flatnonzero(mask)[0]])


def _parse_column(raw: pd.Series, col: Column, first_row: int = 1) -> tuple[pd.Series, list[str]]:
    problems: list[str] = []
    nulls = _null_mask(raw)
    if nulls.any() and not col.nullable and not nulls.all():
        problems.append(f"column {col.name!r}: missing value in {_rows(nulls, first_row)} (the schema says it is not nullable)")
    if col.type in ("continuous", "integer"):
        values = pd.to_numeric(raw.where(~nulls), errors="coerce").astype(float)
        bad = values.isna().to_numpy() & ~nulls
        if bad.any():
            problems.append(f"column {col.name!r}: non-numeric value {_first_value(raw, bad)} in {_rows(bad, first_row)}")
        v = values.to_numpy()
        if col.type == "integer":
            frac = ~np.isnan(v) & (np.abs(v - np.round(v)) > 1e-9)
            if frac.any():
                problems.append(f"column {col.name!r}: non-integer value {_first_value(raw, frac)} in {_rows(frac, first_row)}")
        for bound, op, word in ((col.min, np.less, "below min"), (col.max, np.greater, "above max")):
            if bound is not None:
                out = ~np.isnan(v) & op(v, bound)
                if out.any():
                    problems.append(f"column {col.name!r}: value {_first_value(raw, out)} {word} {bound} in {_rows(out, first_row)}")
        return values, problems
    if col.type == "datetime":
        values = pd.to_datetime(raw.where(~nulls), format=col.datetime_format, errors="coerce")
        bad = values.isna().to_numpy() & ~nulls
        if bad.any():
            problems.append(f"column {col.name!r}: not a date/time {_first_value(raw, bad)} in {_rows(bad, first_row)}")
        return values, problems
    if col.type == "boolean":
        return _parse_boolean(raw, col, nulls, problems, first_row)
    # categorical: map each value onto a declared category (by its text), or keep it as is
    text = raw.astype(str).str.strip()
    if col.categories is not None:
        lookup = {str(c): c for c in col.categories}
        bad = ~text.isin(list(lookup)).to_numpy() & ~nulls
        if bad.any():
            shown = ", ".join(repr(c) for c in col.categories[:8])
            problems.append(f"column {col.name!r}: value {_first_value(raw, bad)} is not a declared category ({shown}) in {_rows(bad, first_row)}")
        values = text.map(lookup).where(~nulls, None).astype(object)
        return values, problems
    return raw.where(~nulls, None).astype(object), problems


def _parse_boolean(raw: pd.Series, col: Column, nulls: np.ndarray, problems: list[str],
                   first_row: int = 1) -> tuple[pd.Series, list[str]]:
    if raw.dtype == bool:
        return raw.astype(object), problems
    if col.true_value is not None:
        is_true, is_false = _by_value(raw, lambda text: text == col.true_value, lambda text: text == col.false_value)
        expected = f"{col.true_value!r} or {col.false_value!r}"
    else:
        is_true, is_false = _by_value(raw, lambda text: text.str.lower().isin(_TRUE),
                                      lambda text: text.str.lower().isin(_FALSE))
        expected = "true/false, yes/no or 1/0"
    bad = ~(is_true | is_false | nulls)
    if bad.any():
        problems.append(f"column {col.name!r}: value {_first_value(raw, bad)} is not boolean ({expected}) in {_rows(bad, first_row)}")
    values = pd.Series(np.where(is_true, True, False), index=raw.index, dtype=object)
    values[nulls] = None
    return values, problems


# ---- inference -----------------------------------------------------------------------------------
def _infer_column(name: str, raw: pd.Series, position: int) -> Column:
    nulls = _null_mask(raw)
    nullable = bool(nulls.any())
    present = raw[~nulls]
    if name == "" or name.startswith("Unnamed:"):
        return Column(name=name, type="id")
    if len(present) == 0:
        return Column(name=name, type="continuous", nullable=True)
    if present.dtype == bool:
        return Column(name=name, type="boolean", nullable=nullable)
    text = present.astype(str).str.strip()
    distinct = set(text.unique())
    low = {t.lower() for t in distinct}
    if len(distinct) <= 2 and low <= _TRUE | _FALSE:
        true_value, false_value = _boolean_spelling(distinct)
        return Column(name=name, type="boolean", nullable=nullable, true_value=true_value, false_value=false_value)
    numbers = pd.to_numeric(text, errors="coerce")
    if not numbers.isna().any():
        v = numbers.to_numpy(dtype=float)
        integral = bool(np.all(np.abs(v - np.round(v)) < 1e-9))
        lo, hi = float(v.min()), float(v.max())
        if integral:
            lo, hi = int(lo), int(hi)
        return Column(name=name, type="integer" if integral else "continuous", nullable=nullable,
                      min=lo, max=hi, learned=("bounds",))
    if _looks_like_dates(text):
        return Column(name=name, type="datetime", nullable=nullable)
    if len(distinct) > max(50, 0.5 * len(text)):
        # free text or identifiers: modelling them would copy them; drop by default
        return Column(name=name, type="id")
    return _as_categorical(Column(name=name, type="categorical", nullable=nullable), present)


def _as_categorical(col: Column, raw: pd.Series) -> Column:
    nulls = _null_mask(raw)
    present = raw[~nulls].astype(str).str.strip()
    cats = sorted(present.unique(), key=_natural_key)
    typed: list[Any] = [_yaml_scalar(c) for c in cats]
    return Column(name=col.name, type="categorical", nullable=col.nullable or bool(nulls.any()),
                  categories=tuple(typed), learned=("categories",))


def _natural_key(text: str) -> tuple[int, float, str]:
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, math.inf, text)


def _yaml_scalar(text: str) -> Any:
    """Categories that are integers in the data are written as integers in the schema."""
    try:
        as_int = int(text)
        return as_int if str(as_int) == text else text
    except ValueError:
        return text


def _looks_like_dates(text: pd.Series) -> bool:
    sample = text.head(200)
    if not sample.str.contains(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}", regex=True).all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().all())


_PAIRS = {"yes": "no", "true": "false", "y": "n", "t": "f", "1": "0"}


def _boolean_spelling(distinct: set[str]) -> tuple[str | None, str | None]:
    """The data's own spelling of true and false, so that synthetic output looks like the input."""
    trues = [t for t in distinct if t.lower() in _TRUE]
    falses = [t for t in distinct if t.lower() in _FALSE]
    if len(trues) > 1 or len(falses) > 1:
        return None, None
    if trues and falses:
        return trues[0], falses[0]
    for true, false in _PAIRS.items():
        for spell in (str.lower, str.upper, str.capitalize):
            if trues == [spell(true)]:
                return trues[0], spell(false)
            if falses == [spell(false)]:
                return spell(true), falses[0]
    return None, None


def bool_series_from_column(values: np.ndarray, col: Column) -> pd.Series:
    """Booleans in the column's own spelling (true_value/false_value), 0/1 integers where the
    data spelled them so, or a bool column."""
    if col.true_value is None:
        return pd.Series(values.astype(bool))
    labels = (col.true_value, col.false_value)
    if all(str(v).lstrip("-").isdigit() for v in labels):
        return pd.Series(np.where(values, int(col.true_value), int(col.false_value)).astype(np.int64))
    return pd.Series(np.where(values, col.true_value, col.false_value), dtype=object)


__all__ = ["Column", "Schema", "ImageShape", "COLUMN_TYPES", "FORMAT_VERSION", "MODALITIES", "bool_series_from_column"]
