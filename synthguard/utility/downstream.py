"""Downstream utility (Ji et al., INFOCOM 2023, the downstream-accuracy table; official code
ji-zhe/MixupTraining, utility/train_downstream.py): train on synthetic, test on real (TSTR), against train on
real, test on real (TRTR).

A gradient-boosted model predicts the target column (by default the schema's condition column)
from all other columns. It is trained once on the real training rows and once on the synthetic
rows; both are tested on the real holdout. The ratio TSTR/TRTR says how much of the real data's
predictive value the synthetic rows carry: near 1 is good, and a TSTR AUC near 0.5 means the
synthetic rows lost the relation between the features and the target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import accuracy_score, f1_score, r2_score, roc_auc_score

from ..checks import QUALITY_ADVICE, GateCheck, register_check
from ..schema import Column, Schema
from .features import (
    NULL_LEVEL,
    category_labels,
    column_kind,
    fit_features,
    label_key,
    metric_columns,
    numeric_values,
    resolve_target,
    subsample,
)


@dataclass(frozen=True)
class DownstreamScores:
    """One model's scores on the real holdout (classification or regression fields are None)."""

    n_train: int
    accuracy: float | None = None
    f1_macro: float | None = None
    auc: float | None = None
    r2: float | None = None
    single_class: bool = False  # its training rows held one class: it predicts that class, AUC 0.5


@dataclass(frozen=True)
class DownstreamResult:
    target: str
    task: Literal["classification", "regression"]
    model: str
    n_test: int
    classes: tuple[str, ...]     # real classes (train and holdout), sorted; () for regression
    positive_class: str | None   # binary only: the last sorted class, whose AUC is reported
    trtr: DownstreamScores       # trained on real train
    tstr: DownstreamScores       # trained on synthetic
    accuracy_ratio: float | None  # tstr / trtr
    auc_ratio: float | None
    r2_ratio: float | None
    notes: tuple[str, ...]
    #: (AUC_tstr - 0.5) / (AUC_trtr - 0.5): the share of the real rows' lift over chance that the
    #: synthetic rows keep. A majority-class guess scores 0 (its accuracy can still look fine).
    auc_lift: float | None = None


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den <= 0:
        return None
    return float(num / den)


def _lift(tstr: float | None, trtr: float | None) -> float | None:
    if tstr is None or trtr is None or trtr <= 0.5:
        return None
    return float((tstr - 0.5) / (trtr - 0.5))


def _auc(y_test: np.ndarray, proba: np.ndarray, classes: list[str]) -> float | None:
    """Binary: AUC of the last class. Multiclass: one-vs-rest macro AUC over classes in the holdout."""
    if len(classes) == 2:
        positive = y_test == classes[1]
        if positive.all() or not positive.any():
            return None
        return float(roc_auc_score(positive, proba[:, 1]))
    aucs = []
    for j, c in enumerate(classes):
        positive = y_test == c
        if positive.any() and not positive.all():
            aucs.append(roc_auc_score(positive, proba[:, j]))
    return float(np.mean(aucs)) if aucs else None


def _classify(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
              classes: list[str], seed: int) -> DownstreamScores:
    present, counts = np.unique(y, return_counts=True)
    if present.size == 1:
        # One class cannot train a classifier: predict it, and rank every row alike (AUC 0.5).
        pred = np.full(len(y_test), present[0], dtype=object)
        auc = 0.5 if len(np.unique(y_test)) > 1 else None
        return DownstreamScores(len(y), float(accuracy_score(y_test, pred)),
                                float(f1_score(y_test, pred.astype(str), average="macro", zero_division=0)),
                                auc, single_class=True)
    # above 10,000 rows the model stops early on a stratified tenth it holds out, which cannot be
    # drawn where a class has a single row (a rare class a generator made once): that fit trains
    # without stopping early; every other fit is as it was
    stopping: bool | str = "auto" if counts.min() >= 2 else False
    model = HistGradientBoostingClassifier(random_state=seed, early_stopping=stopping).fit(x, y)
    pred = model.predict(x_test)
    raw = model.predict_proba(x_test)
    # Align the model's columns with the real classes; a class it never saw gets probability 0.
    proba = np.zeros((len(x_test), len(classes)))
    index = {c: j for j, c in enumerate(classes)}
    for k, c in enumerate(model.classes_):
        if c in index:
            proba[:, index[c]] = raw[:, k]
    return DownstreamScores(len(y), float(accuracy_score(y_test, pred)),
                            float(f1_score(y_test, pred, average="macro", zero_division=0)),
                            _auc(y_test, proba, classes))


def _regress(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, seed: int) -> DownstreamScores:
    keep, keep_test = ~np.isnan(y), ~np.isnan(y_test)
    if keep.sum() < 2 or keep_test.sum() < 2 or np.ptp(y_test[keep_test]) == 0:
        return DownstreamScores(int(keep.sum()))
    model = HistGradientBoostingRegressor(random_state=seed).fit(x[keep], y[keep])
    return DownstreamScores(int(keep.sum()), r2=float(r2_score(y_test[keep_test], model.predict(x_test[keep_test]))))


def _labels(frame: pd.DataFrame, col: Column) -> np.ndarray:
    labels = category_labels(frame[col.name], col)
    return np.where(pd.isna(labels), NULL_LEVEL, labels).astype(str)


def downstream(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    target: str | None = None,
    *,
    seed: int = 0,
    max_rows: int | None = 20000,
) -> DownstreamResult:
    """TSTR vs TRTR for `target` (default: the schema's condition column), tested on `holdout`.

    A categorical or boolean target is classified (accuracy, macro-F1, ROC AUC); a numeric target
    is regressed (R²). Training rows are subsampled to `max_rows` (seeded) to bound the time.
    """
    name = resolve_target(schema, target)
    if name is None:
        raise ValueError("downstream needs a target column: pass `target` or set the schema's condition")
    columns = metric_columns(schema, train, holdout, synthetic)
    col = schema.column(name)
    rng = np.random.default_rng(seed)
    train = train.iloc[subsample(len(train), max_rows, rng)]
    synthetic = synthetic.iloc[subsample(len(synthetic), max_rows, rng)]

    space = fit_features(train, schema, columns)
    keep = space.mask_without(name)
    x_real, x_syn, x_test = (space.transform(f)[:, keep] for f in (train, synthetic, holdout))
    notes: list[str] = []

    if column_kind(col) == "numeric":
        y_real, y_syn, y_test = (numeric_values(f[name]) for f in (train, synthetic, holdout))
        trtr, tstr = _regress(x_real, y_real, x_test, y_test, seed), _regress(x_syn, y_syn, x_test, y_test, seed)
        if trtr.r2 is None:
            notes.append("R² is undefined: too few rows with a target, or a constant holdout target")
        return DownstreamResult(name, "regression", "HistGradientBoostingRegressor", len(holdout), (), None,
                                trtr, tstr, None, None, _ratio(tstr.r2, trtr.r2), tuple(notes))

    y_real, y_syn, y_test = (_labels(f, col) for f in (train, synthetic, holdout))
    classes = sorted(set(y_real.tolist()) | set(y_test.tolist()), key=label_key)
    positive = classes[-1] if len(classes) == 2 else None
    trtr = _classify(x_real, y_real, x_test, y_test, classes, seed)
    tstr = _classify(x_syn, y_syn, x_test, y_test, classes, seed)
    if tstr.single_class:
        notes.append(f"the synthetic rows hold a single class of {name!r}: TSTR AUC is set to 0.5")
    if trtr.single_class:
        notes.append(f"the real training rows hold a single class of {name!r}")
    if len(set(y_test.tolist())) < 2:
        notes.append(f"the holdout holds a single class of {name!r}: AUC is undefined")
    unseen = sorted(set(y_syn.tolist()) - set(classes), key=label_key)
    if unseen:
        notes.append(f"synthetic classes absent from the real rows are ignored for AUC: {', '.join(unseen[:5])}")
    return DownstreamResult(name, "classification", "HistGradientBoostingClassifier", len(holdout), tuple(classes),
                            positive, trtr, tstr, _ratio(tstr.accuracy, trtr.accuracy), _ratio(tstr.auc, trtr.auc),
                            None, tuple(notes), _lift(tstr.auc, trtr.auc))


# the release gate's checks on this metric (`synthguard.checks`); a table without a target column
# has no downstream task (the metric is None) and so no such check
register_check(GateCheck("TSTR accuracy ratio", "utility", "downstream", "accuracy_ratio",
                         "utility.min_tstr_accuracy_ratio", ">=", QUALITY_ADVICE, order=40))
register_check(GateCheck("TSTR ROC AUC ratio", "utility", "downstream", "auc_ratio", "utility.min_tstr_auc_ratio",
                         ">=", QUALITY_ADVICE, order=50))
register_check(GateCheck("TSTR ROC AUC lift over chance, share of real", "utility", "downstream", "auc_lift",
                         "utility.min_tstr_auc_lift", ">=", QUALITY_ADVICE, order=60))
