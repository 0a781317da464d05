"""Shared plumbing for the utility metrics: reading typed columns as numbers or category labels,
and one numeric design matrix for every frame.

Every metric compares frames column by column or row by row, so they all need the same view of
a typed frame:

* numeric columns (continuous, integer, datetime) as float64 with NaN for nulls; datetimes as
  seconds since the epoch;
* categorical and boolean columns as text labels (``None`` for nulls). A boolean column is a
  categorical with two levels spelled as the column spells them (``true_value``/``false_value``,
  or ``"True"``/``"False"``), whatever form its values arrive in (bool, 0/1, "yes"/"no").

`fit_features` learns a `FeatureSpace` on the real training rows (means and scales, category
levels) and `FeatureSpace.transform` applies it to any frame, so that the columns of the design
matrices of train, holdout and synthetic rows line up.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..schema import Column, Schema

NULL_LEVEL = "<null>"
_TRUE_TEXT = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE_TEXT = frozenset({"false", "f", "no", "n", "0", "0.0"})

Kind = Literal["numeric", "categorical"]


def column_kind(col: Column) -> Kind:
    """How the metrics treat a column: numbers, or labels (categorical and boolean)."""
    return "categorical" if col.type in ("categorical", "boolean") else "numeric"


def metric_columns(schema: Schema, *frames: pd.DataFrame) -> list[Column]:
    """The schema's modelled columns, in schema order; every frame must hold all of them."""
    columns = [c for c in schema.modelled_columns if c.name is not None]
    if not columns:
        raise ValueError("the schema has no modelled columns to compare")
    for i, frame in enumerate(frames):
        missing = [c.name for c in columns if c.name not in frame.columns]
        if missing:
            raise ValueError(f"frame {i} lacks modelled column(s) {', '.join(repr(m) for m in missing[:5])}")
    return columns


def resolve_target(schema: Schema, target: str | None) -> str | None:
    """The column to predict: `target`, else the schema's condition column (None if neither)."""
    name = target if target is not None else schema.condition
    if name is None:
        return None
    try:
        col = schema.column(name)
    except KeyError:
        raise ValueError(f"target column {name!r} is not in the schema") from None
    if not col.modelled:
        raise ValueError(f"target column {name!r} is not modelled (it is an id or sensitive column)")
    return name


def numeric_values(series: pd.Series) -> np.ndarray:
    """A numeric or datetime column as float64, NaN for nulls (datetimes as epoch seconds)."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype) or isinstance(series.dtype, pd.DatetimeTZDtype):
        stamps = series
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            stamps = series.dt.tz_convert(None)
        raw = stamps.to_numpy(dtype="datetime64[ns]")
        out = raw.astype("int64").astype(np.float64) / 1e9
        out[np.isnat(raw)] = np.nan
        return out
    values = pd.to_numeric(series, errors="coerce")
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _text(value: Any) -> str:
    """A category value as text; 3.0 reads as "3" so that int and float codes agree."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def boolean_levels(col: Column) -> tuple[str, str]:
    """The (true, false) labels of a boolean column, in the column's own spelling."""
    if col.true_value is not None and col.false_value is not None:
        return str(col.true_value), str(col.false_value)
    return "True", "False"


def _boolean_label(value: Any, col: Column) -> str:
    true_label, false_label = boolean_levels(col)
    text = _text(value)
    if text == true_label:
        return true_label
    if text == false_label:
        return false_label
    low = text.strip().lower()
    if low in _TRUE_TEXT:
        return true_label
    if low in _FALSE_TEXT:
        return false_label
    return text  # not a recognisable boolean: kept as its own level rather than guessed


def category_labels(series: pd.Series, col: Column) -> np.ndarray:
    """A categorical or boolean column as an object array of text labels, None for nulls."""
    # Map each distinct value once: wide frames have many rows but few levels per column.
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    if col.type == "boolean":
        mapped = [_boolean_label(u, col) for u in uniques]
    else:
        mapped = [_text(u) for u in uniques]
    lookup = np.array(mapped + [None], dtype=object)
    return lookup[codes]  # code -1 (null) picks the trailing None


def label_key(label: str) -> tuple[int, float, str]:
    """Sort labels naturally: numbers by value first, then text."""
    try:
        return (0, float(label), "")
    except ValueError:
        return (1, math.inf, label)


def ordered_levels(col: Column, observed: Iterable[Any]) -> list[str]:
    """Declared categories first (schema order), then other observed labels sorted naturally."""
    declared = [_text(c) for c in col.categories] if col.categories is not None else []
    if col.type == "boolean":
        declared = list(boolean_levels(col))
    seen = {str(x) for x in observed if x is not None}
    extra = sorted(seen - set(declared), key=label_key)
    return declared + extra


def subsample(n: int, max_rows: int | None, rng: np.random.Generator) -> np.ndarray:
    """Row positions: all of them, or a sorted random `max_rows` of them."""
    if max_rows is None or n <= max_rows:
        return np.arange(n)
    return np.sort(rng.choice(n, size=max_rows, replace=False))


# ---- the design matrix -----------------------------------------------------------------------
@dataclass(frozen=True)
class ColumnEncoding:
    """How one column becomes features: a standardised number (+ null indicator), or one-hots."""

    column: Column
    kind: Kind
    mean: float = 0.0
    scale: float = 1.0
    null_indicator: bool = False
    levels: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeatureSpace:
    """A fitted map from typed frames to aligned numeric design matrices."""

    encodings: tuple[ColumnEncoding, ...]
    names: tuple[str, ...]    # one per feature, e.g. "age", "age=<null>", "sex=male"
    sources: tuple[str, ...]  # the column each feature comes from

    @property
    def n_features(self) -> int:
        return len(self.names)

    def mask_without(self, column: str) -> np.ndarray:
        """Boolean mask over features that keeps every column's features except `column`'s."""
        return np.array([s != column for s in self.sources], dtype=bool)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        blocks: list[np.ndarray] = []
        n = len(frame)
        for enc in self.encodings:
            series = frame[enc.column.name]
            if enc.kind == "numeric":
                v = (numeric_values(series) - enc.mean) / enc.scale
                nulls = np.isnan(v)
                # Nulls sit at the (standardised) mean; the indicator says they were null.
                blocks.append(np.where(nulls, 0.0, v)[:, None])
                if enc.null_indicator:
                    blocks.append(nulls.astype(np.float64)[:, None])
            else:
                labels = category_labels(series, enc.column)
                labels = np.where(pd.isna(labels), NULL_LEVEL, labels).astype(object)
                onehot = np.zeros((n, len(enc.levels)), dtype=np.float64)
                for j, level in enumerate(enc.levels):
                    onehot[:, j] = labels == level  # unseen levels stay all-zero
                blocks.append(onehot)
        if not blocks:
            return np.zeros((n, 0))
        return np.hstack(blocks)


def fit_features(frame: pd.DataFrame, schema: Schema, columns: Sequence[Column] | None = None) -> FeatureSpace:
    """Learn the design matrix on `frame` (the real training rows).

    Numeric columns are standardised with the frame's mean and standard deviation and get a null
    indicator when the column is nullable or has nulls here. Categorical columns get one unit per
    declared category and per level seen here, plus a null level when nullable or null here.
    Boolean columns get one unit for the true level (the false level is implied), plus a null
    unit and units for any unrecognised spellings seen here.
    """
    cols = list(columns) if columns is not None else metric_columns(schema, frame)
    encodings: list[ColumnEncoding] = []
    names: list[str] = []
    sources: list[str] = []
    for col in cols:
        assert col.name is not None
        series = frame[col.name]
        if column_kind(col) == "numeric":
            v = numeric_values(series)
            present = v[~np.isnan(v)]
            mean = float(present.mean()) if present.size else 0.0
            sd = float(present.std()) if present.size > 1 else 0.0
            scale = sd if sd > 0 and math.isfinite(sd) else 1.0
            indicator = col.nullable or bool(np.isnan(v).any())
            enc = ColumnEncoding(col, "numeric", mean, scale, indicator)
            feature_names = [col.name] + ([f"{col.name}={NULL_LEVEL}"] if indicator else [])
        else:
            labels = category_labels(series, col)
            has_null = bool(pd.isna(labels).any())
            levels = ordered_levels(col, labels)
            if col.type == "boolean":
                levels = [lv for lv in levels if lv != boolean_levels(col)[1]]
            if col.nullable or has_null:
                levels.append(NULL_LEVEL)
            enc = ColumnEncoding(col, "categorical", levels=tuple(levels))
            feature_names = [f"{col.name}={lv}" for lv in levels]
        encodings.append(enc)
        names += feature_names
        sources += [col.name] * len(feature_names)
    return FeatureSpace(tuple(encodings), tuple(names), tuple(sources))
