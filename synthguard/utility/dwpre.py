"""DWpre, dimension-wise prediction (medGAN, Choi et al., MLHC 2017; for mixed types as in
DP-auto-GAN, Tantipongpipat et al. 2021): do the synthetic rows keep the
relations between columns?

For each column k a model predicts k from all other columns (the shared one-hot, standardised
design matrix). It is trained once on real-train rows and once on synthetic rows, and both are
tested on the real holdout. Categorical and boolean targets use logistic regression scored by
macro-F1 (a constant training label predicts that constant); numeric targets use ridge
regression scored by R². If the synthetic rows kept the relations, both scores agree.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import f1_score, r2_score

from ..checks import QUALITY_ADVICE, GateCheck, register_check
from ..schema import Column, Schema
from .features import (
    NULL_LEVEL,
    FeatureSpace,
    category_labels,
    column_kind,
    fit_features,
    metric_columns,
    numeric_values,
    subsample,
)


@dataclass(frozen=True)
class DwprePoint:
    """One predicted column: its real-trained and synthetic-trained score on the holdout."""

    column: str
    kind: Literal["f1", "r2"]
    real_score: float | None  # None when undefined (e.g. a constant holdout target for R²)
    synthetic_score: float | None


@dataclass(frozen=True)
class DwpreResult:
    columns: tuple[DwprePoint, ...]
    mean_abs_gap: float | None
    sum_sq_gap: float | None
    mean_synthetic_score: float | None
    n_columns_total: int  # modelled columns; more than len(columns) when a subset was drawn
    subset: bool          # True when the targets are a seeded random subset of the columns
    max_rows: int | None


def _target(frame: pd.DataFrame, col: Column) -> np.ndarray:
    if column_kind(col) == "numeric":
        return numeric_values(frame[col.name])
    labels = category_labels(frame[col.name], col)
    return np.where(pd.isna(labels), NULL_LEVEL, labels).astype(str)  # a null is a class of its own


def _fit_predict(kind: str, x: np.ndarray, y: np.ndarray, x_test: np.ndarray) -> np.ndarray | None:
    """Train on (x, y) and predict x_test; None when there is nothing to learn from."""
    if kind == "r2":
        keep = ~np.isnan(y)
        if keep.sum() < 2:
            return None
        return Ridge(alpha=1.0).fit(x[keep], y[keep]).predict(x_test)
    classes = np.unique(y)
    if classes.size == 0:
        return None
    if classes.size == 1:
        return np.full(len(x_test), classes[0], dtype=object)  # constant labels: predict the constant
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(max_iter=1000).fit(x, y).predict(x_test)


def _score(kind: str, y_test: np.ndarray, pred: np.ndarray | None) -> float | None:
    if pred is None or len(y_test) == 0:
        return None
    if kind == "f1":
        return float(f1_score(y_test.astype(str), pred.astype(str), average="macro", zero_division=0))
    keep = ~np.isnan(y_test)
    if keep.sum() < 2 or np.ptp(y_test[keep]) == 0:
        return None  # R² is undefined on a constant holdout target
    return float(r2_score(y_test[keep], pred[keep]))


def _summary_score(score: float) -> float:
    # R² below 0 is no better than predicting the mean, like an F1 of 0: clip it so that one
    # badly predicted numeric column cannot swamp the summaries. Per-column scores stay raw.
    return max(score, 0.0)


def dwpre(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    *,
    max_columns: int = 50,
    max_rows: int | None = 5000,
    seed: int = 0,
    targets: Sequence[str] | None = None,
) -> DwpreResult:
    """Dimension-wise prediction: per column, real-trained vs synthetic-trained score on holdout.

    With more than `max_columns` modelled columns, a seeded random subset of them is predicted
    (every column still serves as a feature) and `subset` is True. `targets` names the columns to
    predict instead (schema order is kept; `max_columns` is then ignored): on a wide, sparse code
    table a random subset is mostly codes too rare to predict. Training rows are subsampled
    to `max_rows` (seeded); the holdout is used whole. The summaries (mean absolute gap, sum of
    squared gaps, mean synthetic score) count a negative R² as 0 and skip undefined scores.
    """
    columns = metric_columns(schema, train, holdout, synthetic)
    rng = np.random.default_rng(seed)
    if targets is not None:
        wanted = set(targets)
        unknown = sorted(wanted - {c.name for c in columns})
        if unknown:
            raise ValueError(f"target column(s) {', '.join(repr(u) for u in unknown[:5])} are not modelled columns")
        chosen = [c for c in columns if c.name in wanted]
    else:
        chosen = columns
        if len(columns) > max_columns:
            picked = set(rng.choice(len(columns), size=max_columns, replace=False).tolist())
            chosen = [c for i, c in enumerate(columns) if i in picked]  # keep schema order
    train = train.iloc[subsample(len(train), max_rows, rng)]
    synthetic = synthetic.iloc[subsample(len(synthetic), max_rows, rng)]

    space: FeatureSpace = fit_features(train, schema, columns)
    x_real, x_syn, x_test = space.transform(train), space.transform(synthetic), space.transform(holdout)

    points: list[DwprePoint] = []
    for col in chosen:
        assert col.name is not None
        kind: Literal["f1", "r2"] = "r2" if column_kind(col) == "numeric" else "f1"
        keep = space.mask_without(col.name)
        y_test = _target(holdout, col)
        scores = []
        for x, frame in ((x_real, train), (x_syn, synthetic)):
            pred = _fit_predict(kind, x[:, keep], _target(frame, col), x_test[:, keep])
            scores.append(_score(kind, y_test, pred))
        points.append(DwprePoint(col.name, kind, scores[0], scores[1]))

    pairs = [(p.real_score, p.synthetic_score) for p in points if p.real_score is not None and p.synthetic_score is not None]
    mean_abs: float | None
    sum_sq: float | None
    mean_syn: float | None
    if pairs:
        real = np.array([_summary_score(r) for r, _ in pairs])
        syn = np.array([_summary_score(s) for _, s in pairs])
        gaps = real - syn
        mean_abs, sum_sq, mean_syn = float(np.mean(np.abs(gaps))), float(np.sum(gaps**2)), float(np.mean(syn))
    else:
        mean_abs = sum_sq = mean_syn = None
    return DwpreResult(tuple(points), mean_abs, sum_sq, mean_syn, len(columns), len(chosen) < len(columns), max_rows)


# the release gate's check on this metric (`synthguard.checks`)
register_check(GateCheck("DWpre mean gap", "utility", "dwpre", "mean_abs_gap", "utility.max_dwpre_gap", "<=",
                         QUALITY_ADVICE, order=30))
