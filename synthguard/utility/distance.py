"""Copies and distances to the closest record (DCR): do synthetic rows sit on top of training rows?

* Exact-copy rate: the share of synthetic rows identical to some real training row on every
  modelled column (typed values; nulls equal nulls). The same share for holdout rows is the
  baseline: in a table of few discrete columns, real people share rows too.
* DCR: the Euclidean distance, in the standardised one-hot feature space of `features.py`, from
  each synthetic row to its closest training row, beside the same distance from each holdout row.
  A generator that memorised its training rows puts synthetic rows closer to train than fresh
  real rows are; the share of synthetic rows closer than the holdout's 5th percentile should
  then be well above 5%.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from ..checks import COPY_ADVICE, GateCheck, register_check
from ..schema import Column, Schema
from .features import category_labels, column_kind, fit_features, metric_columns, numeric_values, subsample


@dataclass(frozen=True)
class DistanceResult:
    exact_copy_rate: float            # share of synthetic rows equal to some train row
    holdout_exact_copy_rate: float    # the same share for holdout rows: the natural baseline
    dcr_synthetic_median: float
    dcr_synthetic_p5: float
    dcr_holdout_median: float
    dcr_holdout_p5: float
    share_closer_than_holdout_p5: float  # synthetic rows with DCR < the holdout's 5th percentile
    n_synthetic: int  # rows used for the distances (after subsampling)
    n_holdout: int
    n_train: int
    max_rows: int | None


def _canonical(frame: pd.DataFrame, col: Column) -> list[object]:
    """A column's values in one comparable form: floats, ns integers or labels; None for nulls."""
    series = frame[col.name]
    if col.type == "datetime":
        stamps = pd.to_datetime(series, errors="coerce")
        if isinstance(stamps.dtype, pd.DatetimeTZDtype):
            stamps = stamps.dt.tz_convert(None)
        raw = stamps.to_numpy(dtype="datetime64[ns]")
        # Whole nanoseconds: floats would round away sub-microsecond differences.
        return [None if nat else int(v) for v, nat in zip(raw.astype("int64"), np.isnat(raw), strict=True)]
    if column_kind(col) == "numeric":
        return [None if np.isnan(v) else float(v) for v in numeric_values(series)]
    return category_labels(series, col).tolist()


def _row_keys(frame: pd.DataFrame, columns: list[Column]) -> list[tuple[object, ...]]:
    return list(zip(*(_canonical(frame, c) for c in columns), strict=True))


def _copy_rate(rows: pd.DataFrame, reference: set[tuple[object, ...]], columns: list[Column]) -> float:
    if len(rows) == 0:
        return float("nan")
    return float(np.mean([key in reference for key in _row_keys(rows, columns)]))


def _closest(index: NearestNeighbors, x_ref: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Distance from each row of x to its nearest reference row."""
    nearest = index.kneighbors(x, return_distance=False)[:, 0]
    # Recompute directly: the fast search's distances carry rounding error, and a copy must read 0.
    return np.sqrt(np.sum((x - x_ref[nearest]) ** 2, axis=1))


def distances(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    *,
    max_rows: int | None = 5000,
    seed: int = 0,
) -> DistanceResult:
    """Exact copies (on all rows) and DCR (on at most `max_rows` seeded rows of each frame).

    Train is subsampled too, for the nearest-neighbour search: both DCRs are then measured
    against the same reference rows, so they stay comparable.
    """
    columns = metric_columns(schema, train, holdout, synthetic)
    train_keys = set(_row_keys(train, columns))
    copy_rate = _copy_rate(synthetic, train_keys, columns)
    holdout_copy_rate = _copy_rate(holdout, train_keys, columns)

    rng = np.random.default_rng(seed)
    ref = train.iloc[subsample(len(train), max_rows, rng)]
    hold = holdout.iloc[subsample(len(holdout), max_rows, rng)]
    syn = synthetic.iloc[subsample(len(synthetic), max_rows, rng)]
    space = fit_features(train, schema, columns)
    x_ref = space.transform(ref)
    index = NearestNeighbors(n_neighbors=1).fit(x_ref)
    d_syn = _closest(index, x_ref, space.transform(syn))
    d_hold = _closest(index, x_ref, space.transform(hold))
    hold_p5 = float(np.percentile(d_hold, 5))
    return DistanceResult(
        exact_copy_rate=copy_rate,
        holdout_exact_copy_rate=holdout_copy_rate,
        dcr_synthetic_median=float(np.median(d_syn)),
        dcr_synthetic_p5=float(np.percentile(d_syn, 5)),
        dcr_holdout_median=float(np.median(d_hold)),
        dcr_holdout_p5=hold_p5,
        share_closer_than_holdout_p5=float(np.mean(d_syn < hold_p5)),
        n_synthetic=len(syn),
        n_holdout=len(hold),
        n_train=len(ref),
        max_rows=max_rows,
    )


def _exact_copies(measurements: Mapping[str, Any]) -> int | None:
    """Synthetic rows identical to a training row: the copy rate times the rows released."""
    rate = (measurements.get("distance") or {}).get("exact_copy_rate")
    rows = measurements.get("n_synthetic")
    return None if rate is None or rows is None else round(rate * rows)


# the release gate's check on this metric (`synthguard.checks`); every release measures copies (an
# image release too), so a missing measurement fails closed
register_check(GateCheck("synthetic rows identical to a training row", "disclosure", "distance", _exact_copies,
                         "max_exact_copies", "<=", COPY_ADVICE, required=True, order=70))
