"""Quality: sdmetrics' single-table QualityReport of the synthetic rows against real-train rows.

Two property scores, each in [0, 1]: "Column Shapes" (marginals: KS complement for numbers,
total-variation complement for categories) and "Column Pair Trends" (correlation and contingency
similarity of column pairs). sdmetrics scores a pair only when the real data shows a relation
between its columns (correlation above 0.5, or association above 0.3), so pair trends is None
when no real pair is related that strongly. The overall score is the mean of the defined
property scores.

Pair trends is quadratic in the number of columns: tables wider than `max_columns` are scored on
a seeded random subset of columns that always includes the target, and the result says so.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..checks import QUALITY_ADVICE, GateCheck, register_check
from ..schema import Column, Schema
from .features import category_labels, column_kind, metric_columns, numeric_values, resolve_target


@dataclass(frozen=True)
class QualityResult:
    score: float | None
    column_shapes: float | None
    column_pair_trends: float | None
    columns: tuple[str, ...]  # the columns scored
    n_columns_total: int
    subset: bool              # True when `columns` is a seeded subset of the modelled columns
    pairs_scored: int         # pairs whose real relation met sdmetrics' threshold
    pairs_total: int
    notes: tuple[str, ...]


def _sdtype(col: Column) -> str:
    if col.type == "datetime":
        return "datetime"
    return "categorical" if column_kind(col) == "categorical" else "numerical"


def _for_sdmetrics(frame: pd.DataFrame, columns: list[Column]) -> pd.DataFrame:
    """Numbers as float64, datetimes as datetime64, labels as str with NaN for nulls."""
    out: dict[str, object] = {}
    for col in columns:
        series = frame[col.data_name]
        sdtype = _sdtype(col)
        if sdtype == "datetime":
            stamps = pd.to_datetime(series, errors="coerce")
            if isinstance(stamps.dtype, pd.DatetimeTZDtype):
                stamps = stamps.dt.tz_convert(None)
            out[col.data_name] = stamps.to_numpy()
        elif sdtype == "numerical":
            out[col.data_name] = numeric_values(series)
        else:
            labels = category_labels(series, col)
            out[col.data_name] = pd.Series(labels, dtype=object).where(~pd.isna(labels), np.nan).to_numpy()
    return pd.DataFrame(out)


def _finite(value: object) -> float | None:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def quality(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    target: str | None = None,
    *,
    max_columns: int = 60,
    seed: int = 0,
) -> QualityResult:
    """sdmetrics quality of `synthetic` against `train` (overall, column shapes, pair trends)."""
    # Imported here: importing the module warns that the single-table report is deprecated.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from sdmetrics.reports.single_table import QualityReport

    columns = metric_columns(schema, train, synthetic)
    chosen = columns
    if len(columns) > max_columns:
        rng = np.random.default_rng(seed)
        name = resolve_target(schema, target)
        forced = [i for i, c in enumerate(columns) if c.name == name]
        rest = [i for i in range(len(columns)) if i not in forced]
        picked = set(forced) | set(rng.choice(rest, size=max_columns - len(forced), replace=False).tolist())
        chosen = [c for i, c in enumerate(columns) if i in picked]

    metadata = {"columns": {c.name: {"sdtype": _sdtype(c)} for c in chosen}}
    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sdmetrics warns about dtypes and small samples
        report.generate(_for_sdmetrics(train, chosen), _for_sdmetrics(synthetic, chosen), metadata, verbose=False)
        properties = report.get_properties().set_index("Property")["Score"]
        pairs = report.get_details("Column Pair Trends") if len(chosen) > 1 else pd.DataFrame()

    notes: list[str] = []
    if len(chosen) < len(columns):
        notes.append(f"scored on a seeded subset of {len(chosen)} of {len(columns)} columns")
    scored = int(pairs["Meets Threshold?"].fillna(False).astype(bool).sum()) if "Meets Threshold?" in pairs else 0
    pair_score = _finite(properties.get("Column Pair Trends"))
    if pair_score is None:
        notes.append("no column pair is related strongly enough in the real rows for sdmetrics to score pair trends")
    if "Error" in pairs and pairs["Error"].notna().any():
        notes.append(f"sdmetrics could not score {int(pairs['Error'].notna().sum())} column pair(s)")
    return QualityResult(
        score=_finite(report.get_score()),
        column_shapes=_finite(properties.get("Column Shapes")),
        column_pair_trends=pair_score,
        columns=tuple(c.name for c in chosen if c.name is not None),
        n_columns_total=len(columns),
        subset=len(chosen) < len(columns),
        pairs_scored=scored,
        pairs_total=len(pairs),
        notes=tuple(notes),
    )


# the release gate's check on this metric (`synthguard.checks`)
register_check(GateCheck("sdmetrics quality score", "utility", "quality", "score", "utility.min_quality", ">=",
                         QUALITY_ADVICE, order=10))
