"""ROC statistics for membership-inference audits.

Scores follow one convention everywhere: a higher score means "more likely a member".
``members`` is a boolean (or 0/1) array of the same length as ``scores``.

All statistics are computed from per-score-value counts of members and non-members, so
ties are handled exactly (AUC counts ties as one half, as in the Mann-Whitney U
statistic) and a bootstrap resample is just another row of counts. That lets
:func:`summarize` evaluate a thousand resamples of tens of thousands of records with a
few vectorised numpy operations.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "RocSummary",
    "auc",
    "balanced_accuracy",
    "negatives_needed",
    "precision_at_n",
    "roc_points",
    "summarize",
    "tpr_at_fpr",
]

# Upper bound on the number of drawn indices held in memory at once during the
# bootstrap (per class); keeps peak memory around a few tens of MB.
_BOOTSTRAP_CHUNK_ELEMENTS = 2_000_000


# --------------------------------------------------------------------------- inputs


def _validate(scores: ArrayLike, members: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Return (scores as float64, members as bool) or raise ValueError."""
    try:
        s = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"scores must be numeric: {exc}") from None
    m_raw = np.asarray(members)
    if s.ndim != 1 or m_raw.ndim != 1:
        raise ValueError(
            f"scores and members must be 1-D arrays, got shapes {s.shape} and {m_raw.shape}"
        )
    if s.shape[0] != m_raw.shape[0]:
        raise ValueError(
            f"scores and members must have the same length, got {s.shape[0]} and {m_raw.shape[0]}"
        )
    if m_raw.dtype == np.bool_:
        m = m_raw
    else:
        try:
            m_num = m_raw.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError("members must be boolean or 0/1 values") from None
        if not np.all((m_num == 0) | (m_num == 1)):
            raise ValueError("members must be boolean or 0/1 values")
        m = m_num == 1
    if not np.all(np.isfinite(s)):
        bad = int(np.count_nonzero(~np.isfinite(s)))
        raise ValueError(f"scores must be finite; found {bad} NaN or infinite value(s)")
    n_members = int(np.count_nonzero(m))
    if n_members == 0 or n_members == m.shape[0]:
        raise ValueError(
            "need at least one member and one non-member, got "
            f"{n_members} member(s) and {m.shape[0] - n_members} non-member(s)"
        )
    return s, m


def _check_fpr(fpr: float, *, allow_zero: bool) -> float:
    f = float(fpr)
    low_ok = f >= 0.0 if allow_zero else f > 0.0
    if not (low_ok and f <= 1.0):
        bound = "[0, 1]" if allow_zero else "(0, 1]"
        raise ValueError(f"fpr must lie in {bound}, got {fpr!r}")
    return f


def _max_false_positives(fpr: float, n_neg: int) -> int:
    """Largest k with k / n_neg <= fpr, using the same float comparison as an ROC table."""
    k = min(n_neg, math.floor(fpr * n_neg))
    # floor(fpr * n) can be off by one when fpr * n is not exactly representable.
    while k < n_neg and (k + 1) / n_neg <= fpr:
        k += 1
    while k > 0 and k / n_neg > fpr:
        k -= 1
    return k


def negatives_needed(fpr: float) -> int:
    """Fewest non-members for which a single false positive still has FPR <= ``fpr``.

    Below this many negatives a TPR@``fpr`` figure is really a TPR at zero false positives.
    """
    f = _check_fpr(fpr, allow_zero=False)
    n = math.ceil(1.0 / f)
    # Guard against 1/f rounding just above an integer.
    while n > 1 and 1.0 / (n - 1) <= f:
        n -= 1
    return n


# ------------------------------------------------------------------- count algebra


def _groups(s: NDArray[np.float64], m: NDArray[np.bool_]) -> tuple[NDArray[np.intp], NDArray[np.intp], int]:
    """Index of each record's distinct score value (ascending), split by class."""
    _, inv = np.unique(s, return_inverse=True)
    inv = inv.reshape(-1)
    n_groups = int(inv.max()) + 1
    return inv[m], inv[~m], n_groups


def _counts(groups: NDArray[np.intp], n_groups: int) -> NDArray[np.int64]:
    """Rows of per-group counts for a (rows, draws) array of group indices."""
    rows = groups.shape[0]
    offsets = (np.arange(rows, dtype=np.int64) * n_groups)[:, None]
    flat = np.bincount((groups + offsets).ravel(), minlength=rows * n_groups)
    return flat.reshape(rows, n_groups).astype(np.int64, copy=False)


def _auc_rows(cm: NDArray[np.int64], cn: NDArray[np.int64]) -> NDArray[np.float64]:
    """Mann-Whitney AUC for each row of member / non-member group counts."""
    n1 = cm.sum(axis=1)
    n0 = cn.sum(axis=1)
    below = np.cumsum(cn, axis=1) - cn
    # Integer arithmetic: 2 * (wins + ties / 2) is exact, so the AUC is exact to one rounding.
    twice_u = 2 * np.einsum("ij,ij->i", cm, below) + np.einsum("ij,ij->i", cm, cn)
    return twice_u / (2.0 * n1 * n0)


def _tpr_rows(cm: NDArray[np.int64], cn: NDArray[np.int64], fprs: Iterable[float]) -> NDArray[np.float64]:
    """TPR at each FPR (columns) for each row of counts; largest TPR with FPR <= f."""
    rows = cm.shape[0]
    zero = np.zeros((rows, 1), dtype=np.int64)
    # Column g holds counts of records in groups >= g, i.e. predicted members at the
    # threshold "score >= value of group g"; the extra last column is threshold +inf.
    tp = np.hstack([np.cumsum(cm[:, ::-1], axis=1)[:, ::-1], zero])
    fp = np.hstack([np.cumsum(cn[:, ::-1], axis=1)[:, ::-1], zero])
    n1 = tp[:, 0]
    n0 = fp[:, 0]
    fprs = list(fprs)
    out = np.empty((rows, len(fprs)), dtype=np.float64)
    # Stratified resampling keeps n0 fixed, so there is usually one distinct value.
    n0_values, n0_index = np.unique(n0, return_inverse=True)
    for j, f in enumerate(fprs):
        k = np.array([_max_false_positives(f, int(n)) for n in n0_values])[n0_index]
        # FP is non-increasing in the threshold index, so the allowed thresholds form a
        # suffix; its first entry has the most true positives.
        first = np.count_nonzero(fp > k[:, None], axis=1)
        out[:, j] = tp[np.arange(rows), first] / n1
    return out


# ---------------------------------------------------------------- point statistics


def roc_points(scores: ArrayLike, members: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """ROC curve as (fpr, tpr, thresholds), one point per distinct score plus (0, 0).

    Point ``i`` predicts "member" for ``score >= thresholds[i]``; ``thresholds[0]`` is
    ``+inf``. Thresholds decrease, so fpr and tpr are non-decreasing. No points are
    dropped, so low-FPR readings stay exact.
    """
    s, m = _validate(scores, members)
    values, inv = np.unique(s, return_inverse=True)
    inv = inv.reshape(-1)
    cm = np.bincount(inv[m], minlength=values.size)[::-1]
    cn = np.bincount(inv[~m], minlength=values.size)[::-1]
    tpr = np.concatenate([[0.0], np.cumsum(cm) / cm.sum()])
    fpr = np.concatenate([[0.0], np.cumsum(cn) / cn.sum()])
    thresholds = np.concatenate([[np.inf], values[::-1]])
    return fpr, tpr, thresholds


def auc(scores: ArrayLike, members: ArrayLike) -> float:
    """Area under the ROC curve; ties count one half (the Mann-Whitney U statistic)."""
    s, m = _validate(scores, members)
    gm, gn, g = _groups(s, m)
    return float(_auc_rows(_counts(gm[None, :], g), _counts(gn[None, :], g))[0])


def tpr_at_fpr(scores: ArrayLike, members: ArrayLike, fpr: float) -> float:
    """Largest TPR among ROC points whose FPR is at most ``fpr`` (0 if only the origin)."""
    f = _check_fpr(fpr, allow_zero=True)
    s, m = _validate(scores, members)
    gm, gn, g = _groups(s, m)
    return float(_tpr_rows(_counts(gm[None, :], g), _counts(gn[None, :], g), [f])[0, 0])


def balanced_accuracy(scores: ArrayLike, members: ArrayLike) -> float:
    """Best balanced accuracy over thresholds: max of 1 - (FPR + (1 - TPR)) / 2."""
    fpr, tpr, _ = roc_points(scores, members)
    return float(np.max(1.0 - (fpr + (1.0 - tpr)) / 2.0))


def precision_at_n(scores: ArrayLike, members: ArrayLike) -> float:
    """Precision of the n highest scores, n = number of members (LOGAN's accuracy).

    Scores tied at the cut-off share the remaining slots in proportion to their
    membership, i.e. the expected precision under random tie-breaking, so the figure
    does not depend on input order.
    """
    s, m = _validate(scores, members)
    n = int(np.count_nonzero(m))
    cut = np.sort(s)[::-1][n - 1]
    above = s > cut
    tied = s == cut
    slots = n - int(np.count_nonzero(above))
    hits = np.count_nonzero(m & above) + slots * np.count_nonzero(m & tied) / np.count_nonzero(tied)
    return float(hits / n)


# ------------------------------------------------------------------------- summary


def _fpr_key(fpr: float) -> str:
    # repr gives the shortest string that reads back as the same float ("0.001").
    return repr(float(fpr))


@dataclass(frozen=True)
class RocSummary:
    """Headline audit figures with percentile-bootstrap confidence intervals."""

    auc: float
    auc_ci: tuple[float, float]
    balanced_accuracy: float
    tpr_at: dict[float, float]
    tpr_ci: dict[float, tuple[float, float]]
    n_members: int
    n_nonmembers: int
    negatives_needed: dict[float, int]
    precision_at_n: float
    confidence: float = 0.95
    n_bootstrap: int = 1000

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form; FPR keys become strings such as ``"0.001"``."""
        return {
            "auc": float(self.auc),
            "auc_ci": [float(self.auc_ci[0]), float(self.auc_ci[1])],
            "balanced_accuracy": float(self.balanced_accuracy),
            "tpr_at": {_fpr_key(f): float(v) for f, v in self.tpr_at.items()},
            "tpr_ci": {_fpr_key(f): [float(lo), float(hi)] for f, (lo, hi) in self.tpr_ci.items()},
            "n_members": int(self.n_members),
            "n_nonmembers": int(self.n_nonmembers),
            "negatives_needed": {_fpr_key(f): int(v) for f, v in self.negatives_needed.items()},
            "precision_at_n": float(self.precision_at_n),
            "confidence": float(self.confidence),
            "n_bootstrap": int(self.n_bootstrap),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RocSummary:
        """Inverse of :meth:`to_dict`."""
        lo, hi = data["auc_ci"]
        return cls(
            auc=float(data["auc"]),
            auc_ci=(float(lo), float(hi)),
            balanced_accuracy=float(data["balanced_accuracy"]),
            tpr_at={float(f): float(v) for f, v in data["tpr_at"].items()},
            tpr_ci={float(f): (float(a), float(b)) for f, (a, b) in data["tpr_ci"].items()},
            n_members=int(data["n_members"]),
            n_nonmembers=int(data["n_nonmembers"]),
            negatives_needed={float(f): int(v) for f, v in data["negatives_needed"].items()},
            precision_at_n=float(data["precision_at_n"]),
            confidence=float(data.get("confidence", 0.95)),
            n_bootstrap=int(data.get("n_bootstrap", 1000)),
        )


def summarize(
    scores: ArrayLike,
    members: ArrayLike,
    fprs: Iterable[float] = (0.01, 0.001),
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> RocSummary:
    """AUC, TPR at each FPR and the rest, with stratified percentile-bootstrap CIs.

    Each resample draws members and non-members separately with replacement, keeping
    the class sizes fixed, so every resample has both classes and the same FPR grid.
    Deterministic for a given ``seed``.
    """
    s, m = _validate(scores, members)
    fpr_list = [_check_fpr(f, allow_zero=False) for f in fprs]
    if int(n_bootstrap) != n_bootstrap or n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be a positive integer, got {n_bootstrap!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    n_bootstrap = int(n_bootstrap)

    gm, gn, g = _groups(s, m)
    n1, n0 = gm.size, gn.size
    cm, cn = _counts(gm[None, :], g), _counts(gn[None, :], g)
    point_auc = float(_auc_rows(cm, cn)[0])
    point_tpr = _tpr_rows(cm, cn, fpr_list)[0]

    rng = np.random.default_rng(seed)
    boot_auc = np.empty(n_bootstrap)
    boot_tpr = np.empty((n_bootstrap, len(fpr_list)))
    chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // max(n1, n0))
    for start in range(0, n_bootstrap, chunk):
        rows = min(chunk, n_bootstrap - start)
        bm = _counts(gm[rng.integers(0, n1, size=(rows, n1))], g)
        bn = _counts(gn[rng.integers(0, n0, size=(rows, n0))], g)
        boot_auc[start : start + rows] = _auc_rows(bm, bn)
        boot_tpr[start : start + rows] = _tpr_rows(bm, bn, fpr_list)

    alpha = (1.0 - confidence) / 2.0
    q = [alpha, 1.0 - alpha]
    auc_lo, auc_hi = np.quantile(boot_auc, q)
    tpr_q = np.quantile(boot_tpr, q, axis=0)  # shape (2, n_fprs)

    return RocSummary(
        auc=point_auc,
        auc_ci=(float(auc_lo), float(auc_hi)),
        balanced_accuracy=balanced_accuracy(s, m),
        tpr_at={f: float(point_tpr[j]) for j, f in enumerate(fpr_list)},
        tpr_ci={f: (float(tpr_q[0, j]), float(tpr_q[1, j])) for j, f in enumerate(fpr_list)},
        n_members=int(n1),
        n_nonmembers=int(n0),
        negatives_needed={f: negatives_needed(f) for f in fpr_list},
        precision_at_n=precision_at_n(s, m),
        confidence=float(confidence),
        n_bootstrap=n_bootstrap,
    )
