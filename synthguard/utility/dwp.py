"""DWP, dimension-wise probability (medGAN, Choi et al., MLHC 2017; for mixed types as in DP-auto-GAN,
Tantipongpipat et al. 2021): do the synthetic rows
have the real training rows' marginals?

For every binary dimension (the true level of each boolean column; each category of each
categorical column; a null level wherever nulls occur) the share of rows holding it is compared
between real-train and synthetic rows: a scatter of (p_real, p_syn) on the diagonal means the
marginals match. MAE, RMSE and Pearson correlation summarise the scatter. Numeric columns are
reported separately, by the Kolmogorov-Smirnov statistic and the standardised mean difference.

DWP says nothing about relations between columns: shuffling each column independently keeps it
perfect. Read it beside DWpre and the downstream scores, which do see relations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..checks import QUALITY_ADVICE, GateCheck, register_check
from ..schema import Schema
from .features import (
    NULL_LEVEL,
    boolean_levels,
    category_labels,
    column_kind,
    metric_columns,
    numeric_values,
    ordered_levels,
)


@dataclass(frozen=True)
class DwpPoint:
    """One binary dimension: the share of real-train and of synthetic rows that hold it."""

    name: str  # "column=level"
    column: str
    level: str
    p_real: float
    p_synthetic: float


@dataclass(frozen=True)
class NumericShift:
    """How one numeric column's marginal moved; ks in [0, 1], smd in real standard deviations."""

    column: str
    ks: float | None
    smd: float | None
    mean_real: float | None
    mean_synthetic: float | None


@dataclass(frozen=True)
class DwpResult:
    dimensions: tuple[DwpPoint, ...]
    mae: float | None
    rmse: float | None
    correlation: float | None  # None when undefined (fewer than 2 dimensions, or a constant side)
    numeric: tuple[NumericShift, ...]


def _share(labels: np.ndarray, level: str) -> float:
    return float(np.mean(labels == level)) if labels.size else float("nan")


def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    r = float(np.corrcoef(a, b)[0, 1])
    return r if math.isfinite(r) else None


def _numeric_shift(name: str, real: np.ndarray, syn: np.ndarray) -> NumericShift:
    real, syn = real[~np.isnan(real)], syn[~np.isnan(syn)]
    if real.size == 0 or syn.size == 0:
        return NumericShift(name, None, None, float(real.mean()) if real.size else None,
                            float(syn.mean()) if syn.size else None)
    ks = float(stats.ks_2samp(real, syn).statistic)
    sd = float(real.std(ddof=1)) if real.size > 1 else 0.0
    mean_r, mean_s = float(real.mean()), float(syn.mean())
    smd = (mean_s - mean_r) / sd if sd > 0 else None
    return NumericShift(name, ks, smd, mean_r, mean_s)


def dwp(train: pd.DataFrame, synthetic: pd.DataFrame, schema: Schema) -> DwpResult:
    """Dimension-wise probability of `synthetic` against the real training rows `train`."""
    points: list[DwpPoint] = []
    numeric: list[NumericShift] = []
    for col in metric_columns(schema, train, synthetic):
        name = col.data_name
        if column_kind(col) == "numeric":
            real_v, syn_v = numeric_values(train[name]), numeric_values(synthetic[name])
            numeric.append(_numeric_shift(name, real_v, syn_v))
            if np.isnan(real_v).any() or np.isnan(syn_v).any():
                null_r, null_s = float(np.isnan(real_v).mean()), float(np.isnan(syn_v).mean())
                points.append(DwpPoint(f"{name}={NULL_LEVEL}", name, NULL_LEVEL, null_r, null_s))
            continue
        real_l = category_labels(train[name], col)
        syn_l = category_labels(synthetic[name], col)
        real_l = np.where(pd.isna(real_l), NULL_LEVEL, real_l)
        syn_l = np.where(pd.isna(syn_l), NULL_LEVEL, syn_l)
        observed = set(real_l.tolist()) | set(syn_l.tolist())
        # Only levels that occur somewhere: never-seen declared categories would add free (0, 0) points.
        levels = [lv for lv in ordered_levels(col, observed - {NULL_LEVEL}) if lv in observed]
        if col.type == "boolean":
            # One dimension per boolean (its true level); the false level is its complement.
            levels = [lv for lv in levels if lv != boolean_levels(col)[1]]
        if NULL_LEVEL in observed:
            levels.append(NULL_LEVEL)
        for level in levels:
            points.append(DwpPoint(f"{name}={level}", name, level, _share(real_l, level), _share(syn_l, level)))

    mae: float | None
    rmse: float | None
    corr: float | None
    if points:
        p_r = np.array([p.p_real for p in points])
        p_s = np.array([p.p_synthetic for p in points])
        diff = p_r - p_s
        mae, rmse = float(np.mean(np.abs(diff))), float(np.sqrt(np.mean(diff**2)))
        corr = _pearson(p_r, p_s)
    else:
        mae = rmse = corr = None
    return DwpResult(tuple(points), mae, rmse, corr, tuple(numeric))


# the release gate's check on this metric (`synthguard.checks`)
register_check(GateCheck("DWP mean absolute difference", "utility", "dwp", "mae", "utility.max_dwp_mae", "<=",
                         QUALITY_ADVICE, order=20))
