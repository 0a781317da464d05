"""The table schema: columns, their types and domains, YAML load/dump, inference, and parsing a
raw frame into typed columns while collecting every problem.

A schema file looks like::

    format_version: 1
    name: ofp
    modality: table            # or `image` (then `image: {height, width, channels}` too)
    condition: hlth            # optional: the GAN's label y
    entity: person_id          # optional: an `id` column naming the person each row belongs to
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

When one person can have several rows (visits, admissions, years of a panel), `entity` names the
`id` column that says whose row each is. The person is then the unit of privacy and of evaluation:
the held-out rows are whole persons, and the audit draws its shadow models' training sets, its
audited records (one row per person) and its reference rows by person, so that a person's other
rows never sit on the other side of a membership test.

Domains (bounds, categories) that `infer` learned from the data are listed under `learned`:
they come from the private data, and a person should replace them with public knowledge.

`review_schema` (also `Schema.review`) lists what a steward must decide before a release: probable
identifiers, numeric codes, constant columns, rare categories, nested values, and columns that
(nearly) determine the condition. `Schema.infer` warns with it; a schema check should too.
"""

from __future__ import annotations

import fnmatch
import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .errors import DataValidationError, InputError, SchemaError, SynthguardWarning
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
#: |value| above this in a continuous or integer column is refused: beyond 2**53 floats no longer
#: hold whole numbers exactly, and far beyond it standardising (squares of values) overflows
MAX_ABS_VALUE = 1e15
#: fewest rows on which "every value is unique" is taken as the sign of an identifier
MIN_ID_ROWS = 20
#: categories held by fewer rows are merged by the encoder and never sampled (its default)
RARE_CATEGORY_COUNT = 5
#: formats `infer` tries for a date/time column; one of them must parse every value
DATETIME_FORMATS = (
    "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z",
    "%Y/%m/%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%m-%d-%Y", "%Y%m%d",
    "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S",
)
_CODE_NAME = re.compile(r"(code|_cd$|^cd_|state|zip|postcode|postal|region|county|district|fips|icd|category|"
                        r"class|status|group|type|kind)", re.IGNORECASE)
_ID_NAME = re.compile(r"(^id$|_id$|^id_|uuid|guid|identifier|^mrn$|^ssn$|record_?(no|num|number)$|^key$)",
                      re.IGNORECASE)
_TZ_TEXT = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


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
    def data_name(self) -> str:
        """The name of the data column this entry describes. Every column of a resolved schema
        (`Schema.resolve`, and so `parse`) has one; a pattern entry has none until it is bound."""
        if self.name is None:
            raise SchemaError(f"{self.label} is not bound to a data column (resolve the schema against the data first)")
        return self.name

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
    entity: str | None = None

    # ---- construction and YAML -------------------------------------------------------------
    def __post_init__(self) -> None:
        _check_schema(self)

    @classmethod
    def from_dict(cls, raw: Any, source: str = "schema") -> Schema:
        if not isinstance(raw, dict):
            raise SchemaError(f"{source}: expected a mapping with `columns`, got {type(raw).__name__}")
        known = {"format_version", "name", "modality", "image", "condition", "entity", "extra_columns", "columns"}
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
                entity=raw.get("entity"),
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
        if self.entity is not None:
            out["entity"] = self.entity
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

    def parse(self, frame: pd.DataFrame, source: str = "data", first_row: int = 1, *,
              whole: bool = False) -> pd.DataFrame:
        """Resolve against the frame's columns and convert every modelled column to its type.

        Returns a typed frame with the modelled columns only (ids and sensitive columns dropped).
        Raises DataValidationError listing every problem (column, rows, what was expected):
        missing, non-numeric, non-finite or too large numbers, values outside bounds or declared
        categories, nested values (lists, records), dates that do not parse. Time zones are
        converted to UTC with a warning.
        `first_row`: the data row number of the frame's first row (a batch of a larger file).
        `whole`: the frame is a whole training table (not a slice, a batch or a synthetic sample):
        a condition column holding fewer than two classes is a problem too.
        """
        bound = self.resolve(list(frame.columns), source)
        frame = frame.reset_index(drop=True)  # row numbers in messages and the output's index are positions
        problems: list[str] = []
        typed: dict[str, pd.Series] = {}
        for col in bound.modelled_columns:
            nested = _nested_mask(frame[col.name])
            if nested.any():
                problems.append(f"column {col.name!r}: nested value (a list or record) in {_rows(nested, first_row)}; "
                                "it cannot be modelled (declare the column `type: id` to leave it out)")
                typed[col.data_name] = pd.Series([None] * len(frame), dtype=object)
                continue
            series, col_problems = _parse_column(frame[col.name], col, first_row)
            typed[col.data_name] = series
            problems += col_problems
            if whole and col.name == self.condition and not col_problems and len(frame):
                classes = series.dropna().map(str).unique()
                if len(classes) < 2:
                    held = f"one class ({classes[0]!r})" if len(classes) else "no value"
                    problems.append(f"condition column {col.name!r} holds {held}; a condition needs at least two "
                                    "classes (choose another condition column or none)")
        if self.entity is not None and self.entity in frame.columns:
            nulls = frame[self.entity].isna().to_numpy()
            if nulls.any():
                problems.append(self._missing_entity(nulls, first_row))
        if problems:
            raise DataValidationError(problems, source)
        return pd.DataFrame(typed, index=pd.RangeIndex(len(frame)))

    def _missing_entity(self, nulls: np.ndarray, first_row: int = 1) -> str:
        return (f"entity column {self.entity!r}: missing value in {_rows(nulls, first_row)}; every row must name the "
                "person it belongs to")

    def entities(self, frame: pd.DataFrame) -> np.ndarray | None:
        """Integer codes 0..E-1 of the person each row of a raw frame belongs to (the `entity`
        column's values, in order of first appearance), or None when the schema names no entity."""
        if self.entity is None:
            return None
        if self.entity not in frame.columns:
            raise DataValidationError([f"entity column {self.entity!r} is in the schema but not in the data"], "data")
        codes, _ = pd.factorize(frame[self.entity].reset_index(drop=True), use_na_sentinel=True)
        if (codes < 0).any():
            raise DataValidationError([self._missing_entity(codes < 0)], "data")
        return codes.astype(np.int64)

    def format(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The inverse of `parse` for output: booleans in each column's own spelling (yes/no, 0/1)
        and dates in the column's `datetime_format`, so that synthetic rows look like the rows they
        imitate (dates without a declared format stay date/time values)."""
        out = frame.copy()
        for col in self.columns:
            if col.name in out.columns and col.type == "datetime" and col.datetime_format is not None:
                out[col.name] = _format_dates(out[col.name], col.datetime_format)
                continue
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
    def infer(cls, frame: pd.DataFrame, name: str = "table", condition: str | None = None, *,
              rare_category_count: int = RARE_CATEGORY_COUNT, warn: bool = True) -> Schema:
        """Propose a schema for a frame; domains learned from the data are marked `learned`.

        Columns whose every value is unique (integers, strings, or evenly spaced numbers) are
        proposed as `id` (never modelled), numeric codes as `categorical`, nested values (lists,
        records) as `id`, and dates only where one format parses every value (recorded as
        `datetime_format`). With `warn`, every finding of `review_schema` and every such decision
        is a SynthguardWarning of one line naming the column."""
        if condition is not None and condition not in frame.columns:
            raise InputError(f"condition column {condition!r} is not in the data")
        notes: list[str] = []
        columns = []
        for i, c in enumerate(frame.columns):
            col, note = _infer_column(str(c), frame[c], i)
            columns.append(col)
            if note:
                notes.append(note)
        if condition is not None:
            cond = next(c for c in columns if c.name == condition)
            if _nested_mask(frame[condition]).any():
                raise InputError(f"condition column {condition!r} holds nested values (lists or records)")
            if cond.type not in ("categorical", "boolean"):
                columns = [_as_categorical(c, frame[c.name]) if c.name == condition else c for c in columns]
                notes = [n for n in notes if not n.startswith(f"column {condition!r} ")]
            classes = _condition_classes(frame[condition])
            if classes < 2:
                raise DataValidationError([f"condition column {condition!r} holds {'one class' if classes else 'no value'}; "
                                           "a condition needs at least two classes"], "data")
        schema = cls(columns=tuple(columns), condition=condition, name=name)
        if warn:
            for message in notes + review_schema(schema, frame, rare_category_count):
                warnings.warn(message, SynthguardWarning, stacklevel=2)
        return schema

    def review(self, frame: pd.DataFrame, rare_category_count: int = RARE_CATEGORY_COUNT) -> list[str]:
        """What a steward should decide about this schema on this data: see `review_schema`."""
        return review_schema(self, frame, rare_category_count)


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
    for key in ("min", "max"):
        bound = getattr(col, key)
        if bound is not None and (isinstance(bound, bool) or not math.isfinite(bound) or abs(bound) > MAX_ABS_VALUE):
            raise SchemaError(f"column {col.label}: {key} must be a finite number within +/-{MAX_ABS_VALUE:g}, "
                              f"got {bound!r}")
    if col.datetime_format is not None and (col.type != "datetime" or "%" not in str(col.datetime_format)):
        raise SchemaError(f"column {col.label}: datetime_format applies to datetime columns and needs % directives "
                          f"(e.g. '%Y-%m-%d'), got {col.datetime_format!r}")
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
        if cond.categories is not None and len(cond.categories) < 2:
            raise SchemaError(f"condition column {schema.condition!r} declares one category; a condition needs at "
                              "least two classes")
    if schema.entity is not None:
        entity = next((c for c in schema.columns if c.name == schema.entity), None)
        if entity is None:
            raise SchemaError(f"entity column {schema.entity!r} is not a named column of the schema")
        if entity.type != "id":
            raise SchemaError(f"entity column {schema.entity!r} must be declared `type: id`: it names whose row each "
                              "row is and is never modelled")
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


def _text_codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes of each cell's stripped text (-1 for NaN/None) and the distinct texts: hashing the
    values first, then converting only the distinct ones to text (a 0/1 column has two)."""
    values = series.to_numpy()
    if values.dtype.kind in "biuf":  # numbers: numpy alone (a wide table has thousands of columns)
        out = np.full(len(values), -1, dtype=np.int64)
        present = ~np.isnan(values) if values.dtype.kind == "f" else np.ones(len(values), dtype=bool)
        uniques, inverse = np.unique(values[present], return_inverse=True)
        out[present] = inverse.reshape(-1)
        return out, np.asarray([str(u) for u in uniques.tolist()], dtype=object)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    text = pd.Series(uniques, dtype=object).astype(str).str.strip()
    text_codes, texts = pd.factorize(text)
    out = np.full(len(series), -1, dtype=np.int64)
    present = codes >= 0
    out[present] = text_codes[codes[present]]
    return out, np.asarray(texts, dtype=object)


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
    value = series.to_numpy()[np.flatnonzero(mask)[0]]
    return repr(value.item() if isinstance(value, np.generic) else value)  # 'inf', not np.float64(inf)


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
        infinite = np.isinf(v)
        if infinite.any():
            problems.append(f"column {col.name!r}: non-finite value {_first_value(raw, infinite)} in "
                            f"{_rows(infinite, first_row)} (only finite numbers can be modelled)")
        huge = np.isfinite(v) & (np.abs(np.nan_to_num(v)) > MAX_ABS_VALUE)
        if huge.any():
            problems.append(f"column {col.name!r}: value {_first_value(raw, huge)} is too large to model (beyond "
                            f"+/-{MAX_ABS_VALUE:g}) in {_rows(huge, first_row)}")
        if infinite.any() or huge.any():
            v = np.where(infinite | huge, np.nan, v)  # reported once, not again against the bounds
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
        values = _parse_dates(raw.where(~nulls), col)
        bad = values.isna().to_numpy() & ~nulls
        if bad.any():
            if col.datetime_format is None:
                fix = "the values must share one format: set `datetime_format` for this column, e.g. '%Y-%m-%d'"
            else:
                fix = f"it does not match the column's `datetime_format` {col.datetime_format!r}"
            problems.append(f"column {col.name!r}: not a date/time {_first_value(raw, bad)} in {_rows(bad, first_row)} "
                            f"({fix})")
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
        # each value becomes its declared category itself: `text.map(lookup)` would let pandas
        # coerce declared categories 0 and 3.26 both to floats, and 0.0 is not the category 0
        # that the encoder counts by its text (a declared category then vanished from the data)
        declared = np.empty(len(lookup), dtype=object)
        declared[:] = list(lookup.values())
        code = pd.Index(list(lookup)).get_indexer(text)
        values = pd.Series(np.where((code >= 0) & ~nulls, declared[code], None), index=raw.index, dtype=object)
        return values, problems
    return raw.where(~nulls, None).astype(object), problems


def _has_time_zone(raw: pd.Series) -> bool:
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return True
    if raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype):
        present = raw.dropna()
        if any(getattr(v, "tzinfo", None) is not None for v in present.head(1000) if not isinstance(v, str)):
            return True
        (zoned,) = _by_value(present, lambda text: text.str.contains(_TZ_TEXT, regex=True)
                             & text.str.contains(r"\d[T ]?\d{1,2}:\d{2}|\dZ$", regex=True))
        return bool(zoned.any())
    return False


def _parse_dates(raw: pd.Series, col: Column) -> pd.Series:
    """Dates as naive datetime64. Time zones (aware values, or text with an offset) are converted to
    UTC and dropped, with a warning: the model works on one time line."""
    zoned = _has_time_zone(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' "could not infer format" chatter: bad cells are reported
        values = pd.to_datetime(raw, format=col.datetime_format, errors="coerce", utc=zoned)
    if zoned:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        warnings.warn(f"column {col.name!r}: date/times with a time zone are converted to UTC (and written without one)",
                      SynthguardWarning, stacklevel=4)
    return pd.Series(values, index=raw.index)


def _format_dates(values: pd.Series, fmt: str) -> pd.Series:
    """Dates written with `fmt`; a `%z` gets +0000 (parse converted every zone to UTC)."""
    stamps = pd.to_datetime(values, errors="coerce")
    if "%z" in fmt or "%Z" in fmt:
        stamps = stamps.dt.tz_localize("UTC")
    text = stamps.dt.strftime(fmt)
    return text.where(stamps.notna(), None).astype(object)


_FLAT_KINDS = frozenset({"string", "bytes", "floating", "integer", "mixed-integer-float", "decimal", "complex",
                         "categorical", "boolean", "datetime64", "datetime", "date", "timedelta64", "timedelta",
                         "time", "period", "interval", "empty"})


def _nested_mask(series: pd.Series) -> np.ndarray:
    """Cells holding a list, tuple, set, mapping or array (parquet list/struct columns)."""
    if series.dtype != object or pd.api.types.infer_dtype(series, skipna=True) in _FLAT_KINDS:
        return np.zeros(len(series), dtype=bool)  # pandas' C pass: no Python loop over flat columns
    return np.fromiter((isinstance(v, (list, tuple, set, dict, np.ndarray)) for v in series.to_numpy()),
                       dtype=bool, count=len(series))


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
def _infer_column(name: str, raw: pd.Series, position: int) -> tuple[Column, str | None]:
    """One column's proposed type, and a one-line note when the proposal is a decision the
    steward should know about (an identifier left out, a code, dates that share no format)."""
    if name == "" or name.startswith("Unnamed:"):
        return Column(name=name, type="id"), None
    if _nested_mask(raw).any():
        return Column(name=name, type="id"), (f"column {name!r} holds nested values (lists or records); it is "
                                              "marked `id` and never modelled")
    nulls = _null_mask(raw)
    nullable = bool(nulls.any())
    present = raw[~nulls]
    if len(present) == 0:
        return Column(name=name, type="continuous", nullable=True), None
    if present.dtype == bool:
        return Column(name=name, type="boolean", nullable=nullable), None
    if pd.api.types.is_datetime64_any_dtype(present.dtype):
        return Column(name=name, type="datetime", nullable=nullable), None
    text = present.astype(str).str.strip()
    distinct = set(text.unique())
    low = {t.lower() for t in distinct}
    if len(distinct) <= 2 and low <= _TRUE | _FALSE:
        true_value, false_value = _boolean_spelling(distinct)
        return Column(name=name, type="boolean", nullable=nullable, true_value=true_value, false_value=false_value), None
    numbers = (pd.to_numeric(present, errors="coerce") if pd.api.types.is_numeric_dtype(present.dtype)
               else pd.to_numeric(text, errors="coerce"))
    if not numbers.isna().any():
        v = numbers.to_numpy(dtype=float)
        sane = np.isfinite(v) & (np.abs(np.nan_to_num(v)) <= MAX_ABS_VALUE)
        finite = v[sane]
        bad_note = None
        if not sane.all():
            where = np.zeros(len(raw), dtype=bool)
            where[np.flatnonzero(~nulls)[~sane]] = True  # row numbers of the whole column, not of its present cells
            bad_note = f"column {name!r} holds non-finite or too large numbers in {_rows(where)}; they must be fixed before a fit"
        if not len(finite):
            return Column(name=name, type="continuous", nullable=nullable), bad_note
        integral = bool(np.all(np.abs(finite - np.round(finite)) < 1e-9))
        why = _id_reason(name, finite, integral)
        if why:
            return Column(name=name, type="id"), f"column {name!r} looks like an identifier ({why}); it is marked `id` and never modelled"
        if integral and _looks_like_code(name, finite, pd.Series(sorted(distinct), dtype=object)):
            col = _as_categorical(Column(name=name, type="categorical", nullable=nullable), present)
            return col, (f"column {name!r} looks like a numeric code ({len(np.unique(finite))} distinct values from "
                         f"{int(finite.min())} to {int(finite.max())}); it is proposed as `categorical`")
        lo, hi = float(finite.min()), float(finite.max())
        if integral:
            lo, hi = int(lo), int(hi)
        return Column(name=name, type="integer" if integral else "continuous", nullable=nullable,
                      min=lo, max=hi, learned=("bounds",)), bad_note
    if _looks_like_dates(text):
        fmt = _date_format(pd.Series(sorted(distinct)))
        if fmt is not None:
            return Column(name=name, type="datetime", nullable=nullable, datetime_format=fmt), None
        note = (f"column {name!r} holds dates in more than one format; it is not proposed as `datetime` (make the "
                "values share one format and declare it as `datetime_format`)")
    else:
        note = None
    if len(distinct) == len(text) >= MIN_ID_ROWS or len(distinct) > max(50, 0.5 * len(text)):
        # free text or identifiers: modelling them would copy them; drop by default
        why = "every value is unique" if len(distinct) == len(text) else f"{len(distinct)} distinct values in {len(text)} rows"
        return Column(name=name, type="id"), note or (f"column {name!r} looks like an identifier or free text ({why}); "
                                                      "it is marked `id` and never modelled")
    return _as_categorical(Column(name=name, type="categorical", nullable=nullable), present), note


def _id_reason(name: str, v: np.ndarray, integral: bool) -> str | None:
    """Why a numeric column looks like an identifier, or None: every value unique (integers), or
    unique and evenly spaced (a row number or a counter, whatever its type), or a name like `*_id`
    with nearly every value unique."""
    v = v[np.isfinite(v)]
    n = len(v)
    if n < MIN_ID_ROWS:
        return None
    distinct = len(np.unique(v))
    if distinct == n:
        if integral:
            return "every value is a unique whole number"
        steps = np.diff(np.sort(v))
        if steps.mean() > 0 and steps.std() <= 0.1 * steps.mean():
            return "every value is unique and evenly spaced"
    if _ID_NAME.search(name) and distinct >= 0.9 * n:
        return f"its name, and {distinct} distinct values in {n} rows"
    return None


def _looks_like_code(name: str, v: np.ndarray, text: pd.Series) -> bool:
    """Whether whole numbers look like labels (a state or diagnosis code) rather than quantities:
    a few distinct values, each held by several rows, and a name like `*code`/`state`, leading
    zeros, or values that leave most of their range unused without being a count that starts at
    0 or 1."""
    values = np.unique(v)
    nd, n = len(values), len(v)
    if not 3 <= nd <= 100 or n < 5 * nd:
        return False
    if _CODE_NAME.search(name):
        return True
    if text.str.match(r"^0\d").any():
        return True
    lo, hi = values[0], values[-1]
    density = nd / (hi - lo + 1)
    count_like = lo in (0, 1) and set(range(int(lo), int(lo) + min(nd, 5))) <= set(values.astype(int).tolist())
    return density <= 0.5 and not count_like and lo >= 1


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
    return bool(sample.str.contains(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}", regex=True).all())


def _date_format(distinct: pd.Series) -> str | None:
    """The first of DATETIME_FORMATS that parses every one of the distinct values, or None."""
    for fmt in DATETIME_FORMATS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                parsed = pd.to_datetime(distinct, format=fmt, errors="coerce", utc="%z" in fmt)
            except (ValueError, TypeError):
                continue
        if parsed.notna().all():
            return fmt
    return None


# ---- review: what a steward must decide ---------------------------------------------------------
#: a column "nearly determines" the condition when it predicts it for this share of rows or more ...
_DETERMINES = 0.98
#: ... and leaves at most this share of the majority-class guess's errors
_DETERMINES_ERRORS = 0.2
#: one line per column up to this many columns of one kind; beyond it one line lists them
_MAX_LINES_PER_KIND = 5


def _repeats(raw: pd.Series) -> bool:
    """Whether an id column's values repeat as a person's would over their rows: some value on
    more than one row, and more than one value (a constant column, marked `id` to drop it, as the
    review advises, names nobody)."""
    present = raw.dropna()
    return 1 < present.nunique() < len(present) and not _nested_mask(raw).any()


def review_schema(schema: Schema, frame: pd.DataFrame, rare_category_count: int = RARE_CATEGORY_COUNT) -> list[str]:
    """One-line warnings, each naming its column, about what a steward should decide before a
    release (the schema stays valid; `Schema.parse` reports what is wrong):

    * probable identifier: a modelled column whose every value is unique (whole numbers, text,
      evenly spaced numbers) or named like an id: modelling it copies persons' values;
    * probable code: whole numbers that look like labels (a state code 11..95): `categorical`;
    * constant column: one value only (a yes/no column holding `yes`), it carries nothing;
    * rare categories: categories held by fewer than `rare_category_count` rows, never sampled;
    * nested values (lists, records): they cannot be modelled;
    * a condition with fewer than two classes;
    * an `id` column whose values repeat while the schema names no `entity`: persons with
      several rows, whose rows should be held out and audited together;
    * a column that (nearly) determines the condition, or that is empty exactly when the
      condition takes one value: a consequence of the label leaks it.

    Where more than five columns share a finding, one line lists them."""
    findings: dict[str, list[tuple[str, str]]] = {}

    def note(kind: str, column: str, line: str) -> None:
        findings.setdefault(kind, []).append((column, line))

    bound = _bind_leniently(schema, [str(c) for c in frame.columns])
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    cond_name = schema.condition if schema.condition in bound else None
    modelled: dict[str, np.ndarray] = {}  # flat modelled columns and their null masks
    for name, col in bound.items():
        raw = frame[name]
        if _nested_mask(raw).any():
            if col.modelled:
                note("nested", name, f"column {name!r} holds nested values (lists or records); they cannot be "
                     "modelled: declare it `type: id`")
            continue
        if not col.modelled:
            if col.type == "id" and schema.entity is None and _repeats(raw):
                note("entity", name, f"column {name!r} is an identifier that repeats ({raw.nunique()} values over "
                     f"{len(raw)} rows): if it names the person a row belongs to, set `entity: {name}` so that the "
                     "holdout and the audit take whole persons")
            continue
        nulls = _null_mask(raw)
        modelled[name] = nulls
        present = raw[~nulls]
        if len(present) == 0:
            continue
        codes, uniques = _text_codes(present)
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        if len(uniques) == 1:
            note("constant", name, f"column {name!r} holds one value only ({uniques[0]!r}); it carries no "
                 "information (drop it, or mark it `id`)")
            continue
        why = None
        if col.type in ("continuous", "integer"):
            numbers = pd.to_numeric(present, errors="coerce").to_numpy(dtype=float)
            numbers = numbers[np.isfinite(numbers) & (np.abs(np.nan_to_num(numbers)) <= MAX_ABS_VALUE)]
            integral = bool(len(numbers)) and bool(np.all(np.abs(numbers - np.round(numbers)) < 1e-9))
            why = _id_reason(name, numbers, integral)
            if why is None and col.type == "integer" and len(numbers) and _looks_like_code(
                    name, numbers, pd.Series(uniques, dtype=object)):
                note("code", name, f"column {name!r} is `integer` but looks like a numeric code ({len(np.unique(numbers))} "
                     f"distinct values from {int(numbers.min())} to {int(numbers.max())}): consider `type: categorical`")
        elif col.type == "categorical" and name != cond_name and len(uniques) == len(present) >= MIN_ID_ROWS:
            why = "every value is unique"
        if why is not None:
            note("id", name, f"column {name!r} looks like an identifier ({why}); modelling it copies persons' values: "
                 "declare it `type: id`")
            continue
        if col.type == "categorical" or name == cond_name:
            rare = int((counts < rare_category_count).sum())
            if rare:
                what = "classes" if name == cond_name else "categories"
                note("rare", name, f"column {name!r}: {rare} {what} held by fewer than {rare_category_count} rows each "
                     "are never sampled (merge them into coarser, public categories)")
    if cond_name is not None and cond_name in modelled:
        _review_condition(frame, bound, modelled, cond_name, note)
    lines: list[str] = []
    for kind, found in findings.items():
        if len(found) <= _MAX_LINES_PER_KIND:
            lines += [line for _, line in found]
        else:
            lines.append(f"{len(found)} columns: {_KIND_SUMMARY[kind]}: " + _listed([c for c, _ in found]))
    return lines


_KIND_SUMMARY = {
    "nested": "nested values (lists or records) cannot be modelled; declare them `type: id`",
    "constant": "one value only each; they carry no information",
    "code": "whole numbers that look like numeric codes; consider `type: categorical`",
    "id": "probable identifiers (unique values); declare them `type: id`",
    "entity": "identifiers that repeat; if one names the person of each row, set it as the schema's `entity`",
    "rare": "categories held by too few rows, never sampled",
    "determines": "(nearly) determine the condition",
    "empty_when": "empty exactly when the condition takes one value",
}


def _listed(names: list[str], shown: int = 5) -> str:
    listed = ", ".join(repr(n) for n in names[:shown])
    return listed + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _bind_leniently(schema: Schema, data_columns: list[str]) -> dict[str, Column]:
    """Each data column's schema entry (by name, else the first matching pattern); columns the
    schema does not cover are left out (`resolve` reports them)."""
    by_name = {c.name: c for c in schema.columns if c.name is not None}
    patterns = [c for c in schema.columns if c.pattern is not None]
    bound: dict[str, Column] = {}
    for name in data_columns:
        if name in by_name:
            bound[name] = by_name[name]
            continue
        match = next((p for p in patterns if fnmatch.fnmatchcase(name, p.pattern or "")), None)
        if match is not None:
            bound[name] = replace(match, name=name, pattern=None)
    return bound


def _condition_classes(raw: pd.Series) -> int:
    nulls = _null_mask(raw)
    return int(raw[~nulls].astype(str).str.strip().nunique())


def _review_condition(frame: pd.DataFrame, bound: dict[str, Column], modelled: dict[str, np.ndarray], cond_name: str,
                      note: Callable[[str, str, str], None]) -> None:
    """Findings about the condition: fewer than two classes, and `modelled` columns (name: null
    mask) that are empty exactly for one class or (nearly) determine it."""
    cond_nulls = modelled[cond_name]
    labels, classes = _text_codes(frame[cond_name])
    labels = np.where(cond_nulls, -1, labels)
    if len(set(labels[labels >= 0].tolist())) < 2:
        note("condition", cond_name, f"condition column {cond_name!r} holds fewer than two classes; a condition "
             "needs at least two")
        return
    known = labels >= 0
    if known.sum() < MIN_ID_ROWS:
        return
    n_classes = int(labels.max()) + 1
    for name, nulls in modelled.items():
        if name == cond_name:
            continue
        col, raw = bound[name], frame[name]
        empty = nulls & known
        if 0 < empty.sum() < known.sum():
            for k in range(n_classes):
                in_class = known & (labels == k)
                if (labels[empty] == k).mean() >= _DETERMINES and empty[in_class].mean() >= _DETERMINES:
                    note("empty_when", name, f"column {name!r} is empty exactly when the condition {cond_name!r} is "
                         f"{classes[k]!r}; it gives the label away (drop it, or give it `sensitive: true`)")
                    break
        rows = known & ~nulls
        if rows.sum() < MIN_ID_ROWS:
            continue
        y = labels[rows]
        held = np.bincount(y, minlength=n_classes)
        if (held > 0).sum() < 2:
            continue  # one class where the column has values: the emptiness finding covers it
        base = held.max() / len(y)
        accuracy = _group_accuracy(raw[rows], y, n_classes, col)
        if accuracy >= _DETERMINES and (1 - accuracy) <= _DETERMINES_ERRORS * (1 - base):
            note("determines", name, f"column {name!r} (nearly) determines the condition {cond_name!r} (it predicts it "
                 f"for {accuracy:.1%} of rows); it gives the label away (drop it, or give it `sensitive: true`)")


def _group_accuracy(values: pd.Series, y: np.ndarray, n_classes: int, col: Column) -> float:
    """How well one column predicts the label: per value (few distinct values, each held by
    several rows), or by the best single threshold (numbers with many values, two classes)."""
    codes, uniques = _text_codes(values)
    if len(uniques) * 5 <= len(values):
        table = np.zeros((len(uniques), n_classes))
        np.add.at(table, (codes, y), 1)
        return float(table.max(axis=1).sum() / len(values))
    if col.type not in ("continuous", "integer", "datetime") or n_classes != 2:
        return 0.0
    if col.type == "datetime":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a time-zone note belongs to parse, not to a review
            stamps = _parse_dates(values.reset_index(drop=True), col)
        x = np.where(stamps.notna(), stamps.to_numpy(dtype="datetime64[ns]").astype("int64"), np.nan).astype(float)
    else:
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(x)
    x, y = x[ok], y[ok]
    if len(x) < MIN_ID_ROWS:
        return 0.0
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    ones = np.cumsum(y == 1)
    zeros = np.arange(1, len(y) + 1) - ones
    cut = np.flatnonzero(np.diff(x) > 0)  # split after these positions
    if not len(cut):
        return 0.0
    total1, total0 = ones[-1], zeros[-1]
    below_zero = zeros[cut] + (total1 - ones[cut])
    below_one = ones[cut] + (total0 - zeros[cut])
    return float(max(below_zero.max(), below_one.max()) / len(y))


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
    if col.true_value is None or col.false_value is None:  # a schema sets both or neither
        return pd.Series(values.astype(bool))
    labels = (col.true_value, col.false_value)
    if all(str(v).lstrip("-").isdigit() for v in labels):
        return pd.Series(np.where(values, int(col.true_value), int(col.false_value)).astype(np.int64))
    return pd.Series(np.where(values, col.true_value, col.false_value), dtype=object)


__all__ = ["Column", "Schema", "ImageShape", "COLUMN_TYPES", "FORMAT_VERSION", "MODALITIES", "bool_series_from_column",
           "review_schema", "MAX_ABS_VALUE", "DATETIME_FORMATS"]
