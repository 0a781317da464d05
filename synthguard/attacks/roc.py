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
from scipy.stats import norm as normal
from scipy.stats import t as student_t

__all__ = [
    "RocDifference",
    "RocSummary",
    "auc",
    "compare_matrices",
    "balanced_accuracy",
    "negatives_needed",
    "precision_at_n",
    "roc_points",
    "summarize",
    "summarize_matrix",
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
    #: how the intervals were resampled: "records" (cluster bootstrap over target records),
    #: "records + models" (records, widened by the victims' spread) or "stratified" (scores one by one)
    resampling: str = "stratified"
    n_records: int = 0     # independent records behind the scores (0: not clustered)
    n_models: int = 0      # victim models resampled (0: not resampled)

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
            "resampling": self.resampling,
            "n_records": int(self.n_records),
            "n_models": int(self.n_models),
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
            resampling=str(data.get("resampling", "stratified")),
            n_records=int(data.get("n_records", 0)),
            n_models=int(data.get("n_models", 0)),
        )


def _cluster_ids(labels: ArrayLike | None, n: int, what: str) -> tuple[NDArray[np.intp], int] | None:
    """Dense 0..c-1 ids for a per-score label array (records or models), or None."""
    if labels is None:
        return None
    raw = np.asarray(labels)
    if raw.shape != (n,):
        raise ValueError(f"{what} must give one label per score ({n}), got shape {raw.shape}")
    _, ids = np.unique(raw, return_inverse=True)
    ids = ids.reshape(-1).astype(np.intp)
    return ids, int(ids.max()) + 1


def _unit_counts(ids: NDArray[np.intp], n_units: int, groups: NDArray[np.intp], n_groups: int) -> Any:
    """Sparse (groups x units) matrix: how many scores of each cluster fall in each score group."""
    from scipy.sparse import csr_matrix

    return csr_matrix((np.ones(ids.size, dtype=np.int64), (groups, ids)), shape=(n_groups, n_units))


def _multiplicities(rng: np.random.Generator, rows: int, n_units: int) -> NDArray[np.int64]:
    """How often each of `n_units` clusters is drawn in each of `rows` resamples of size n_units."""
    return _counts(rng.integers(0, n_units, size=(rows, n_units)), n_units)


def _bootstrap_rows(gm: NDArray[np.intp], gn: NDArray[np.intp], g: int, rows: int, rng: np.random.Generator,
                    clusters: tuple[Any, Any, int] | None) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Member and non-member count rows for `rows` resamples: scores one by one, members and
    non-members drawn separately (stratified), or whole clusters (every score of a drawn cluster
    counts as often as the cluster is drawn)."""
    if clusters is None:
        bm = _counts(gm[rng.integers(0, gm.size, size=(rows, gm.size))], g)
        bn = _counts(gn[rng.integers(0, gn.size, size=(rows, gn.size))], g)
        return bm, bn
    members, nonmembers, n_units = clusters
    weight = _multiplicities(rng, rows, n_units).T
    return np.asarray(members @ weight).T, np.asarray(nonmembers @ weight).T


def _bootstrap(gm: NDArray[np.intp], gn: NDArray[np.intp], g: int, member_mask: NDArray[np.bool_],
               clusters: tuple[NDArray[np.intp], int] | None, n_bootstrap: int, fprs: list[float],
               rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(AUC, TPR per FPR) of `n_bootstrap` resamples; a resample without a member or a non-member
    (possible when whole clusters are drawn) is drawn again."""
    boot_auc = np.empty(n_bootstrap)
    boot_tpr = np.empty((n_bootstrap, len(fprs)))
    width = max(gm.size, gn.size) if clusters is None else max(member_mask.size, g)
    chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // width)
    sparse = None
    if clusters is not None:
        ids, n_units = clusters
        sparse = (_unit_counts(ids[member_mask], n_units, gm, g), _unit_counts(ids[~member_mask], n_units, gn, g),
                  n_units)
    filled = 0
    while filled < n_bootstrap:
        rows = min(chunk, n_bootstrap - filled)
        bm, bn = _bootstrap_rows(gm, gn, g, rows, rng, sparse)
        ok = (bm.sum(axis=1) > 0) & (bn.sum(axis=1) > 0)
        bm, bn = bm[ok], bn[ok]
        boot_auc[filled : filled + bm.shape[0]] = _auc_rows(bm, bn)
        boot_tpr[filled : filled + bm.shape[0]] = _tpr_rows(bm, bn, fprs)
        filled += bm.shape[0]
    return boot_auc, boot_tpr


def _crossed_inflation(by_record: NDArray[np.float64], by_model: NDArray[np.float64],
                       by_score: NDArray[np.float64], n_models: int, confidence: float = 0.95) -> NDArray[np.float64]:
    """How much wider than the record bootstrap's an interval must be to include the spread
    between victim models, per statistic (columns).

    For scores from crossed random factors (records x models), resampling records alone misses the
    models' variance, and resampling both at once counts the score-level noise twice. Owen (2007,
    "The pigeonhole bootstrap") gives the unbiased combination V_records + V_models - V_scores of
    the three one-way bootstrap variances; the ratio of its square root to the record bootstrap's
    spread scales the record bootstrap's percentile interval (never narrower than it).

    The models' own part, V_models - V_scores, rests on only K victims: it is widened by
    (t_{K-1} / z)^2 at the interval's level (a Student-t allowance for a variance estimated from K
    units). Without it, four victims that overfit unequally let a recipe at the AUC limit pass 5.7%
    of sequential audits whose looks each allowed 0.6% (benchmarks/sequential_calibration.py)."""
    v_r, v_m, v_e = by_record.var(axis=0), by_model.var(axis=0), by_score.var(axis=0)
    v_m = v_m * n_models / max(n_models - 1, 1)  # a bootstrap of few units understates their variance
    tail = 0.5 + confidence / 2.0
    allowance = (student_t.ppf(tail, max(n_models - 1, 1)) / normal.ppf(tail)) ** 2
    combined = v_r + allowance * np.maximum(v_m - v_e, 0.0)
    return np.where(v_r > 0, np.sqrt(combined / np.where(v_r > 0, v_r, 1.0)), 1.0)


def summarize(
    scores: ArrayLike,
    members: ArrayLike,
    fprs: Iterable[float] = (0.01, 0.001),
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    *,
    records: ArrayLike | None = None,
    models: ArrayLike | None = None,
) -> RocSummary:
    """AUC, TPR at each FPR and the rest, with percentile-bootstrap CIs.

    The resampling follows how the scores were sampled:

    * ``records`` given (one label per score: the target record it belongs to): a cluster
      bootstrap. Each resample draws records with replacement and keeps all of a drawn record's
      scores, as a member and as a non-member, across every victim model. An audit scores every
      target under every victim, so a record that is easy to single out is easy in each model
      that holds it; resampling scores one by one would treat those as independent.
    * ``models`` given too (the victim model of each score): records and models are crossed
      factors. The record bootstrap's interval is widened by the victims' own spread, estimated
      from a model bootstrap and a score bootstrap (`_crossed_inflation`).
    * neither: members and non-members are drawn separately, one score at a time (for scores
      that really are independent).

    The threshold of a TPR at FPR f is re-derived from each resample's non-member scores, so its
    own uncertainty is part of the interval. A resample that draws no member or no non-member is
    redrawn. Deterministic for a given ``seed``.
    """
    s, m = _validate(scores, members)
    fpr_list = [_check_fpr(f, allow_zero=False) for f in fprs]
    if int(n_bootstrap) != n_bootstrap or n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be a positive integer, got {n_bootstrap!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    n_bootstrap = int(n_bootstrap)
    record_ids = _cluster_ids(records, s.size, "records")
    model_ids = _cluster_ids(models, s.size, "models")
    if model_ids is not None and record_ids is None:
        raise ValueError("models are resampled only together with records")

    gm, gn, g = _groups(s, m)
    n1, n0 = gm.size, gn.size
    cm, cn = _counts(gm[None, :], g), _counts(gn[None, :], g)
    point_auc = float(_auc_rows(cm, cn)[0])
    point_tpr = _tpr_rows(cm, cn, fpr_list)[0]

    rng = np.random.default_rng(seed)
    boot_auc, boot_tpr = _bootstrap(gm, gn, g, m, record_ids, n_bootstrap, fpr_list, rng)
    alpha = (1.0 - confidence) / 2.0
    q = [alpha, 1.0 - alpha]
    auc_q = np.quantile(boot_auc, q)
    tpr_q = np.quantile(boot_tpr, q, axis=0)  # shape (2, n_fprs)
    if model_ids is not None:
        # crossed design: widen the record bootstrap's interval by the victims' own spread
        point = np.concatenate([[point_auc], point_tpr])
        by_record = np.column_stack([boot_auc, boot_tpr])
        by_model = np.column_stack(_bootstrap(gm, gn, g, m, model_ids, n_bootstrap, fpr_list, rng))
        by_score = np.column_stack(_bootstrap(gm, gn, g, m, None, n_bootstrap, fpr_list, rng))
        scale = _crossed_inflation(by_record, by_model, by_score, model_ids[1], confidence)
        low = np.column_stack([auc_q, tpr_q])[0]
        high = np.column_stack([auc_q, tpr_q])[1]
        low = np.clip(point - scale * np.maximum(point - low, 0.0), 0.0, 1.0)
        high = np.clip(point + scale * np.maximum(high - point, 0.0), 0.0, 1.0)
        auc_q = np.array([low[0], high[0]])
        tpr_q = np.vstack([low[1:], high[1:]])
    auc_lo, auc_hi = auc_q

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
        resampling="stratified" if record_ids is None else ("records + models" if model_ids is not None else "records"),
        n_records=0 if record_ids is None else record_ids[1],
        n_models=0 if model_ids is None else model_ids[1],
    )


#: how an audit's (models, records) scores are resampled by default: records, widened by the
#: victims' spread (the design of `synthguard.attacks.simulate` measured its coverage)
AUDIT_RESAMPLING = "records + models"


def summarize_matrix(scores: ArrayLike, membership: ArrayLike, *, valid: ArrayLike | None = None,
                     resampling: str = AUDIT_RESAMPLING, fprs: Iterable[float] = (0.01, 0.001),
                     n_bootstrap: int = 1000, confidence: float = 0.95, seed: int = 0) -> RocSummary:
    """`summarize` over an audit's (models, records) score matrix: the valid, finite entries,
    resampled as `resampling` says: "records + models", "records" or "stratified"."""
    s = np.asarray(scores, dtype=np.float64)
    member = np.asarray(membership, dtype=bool)
    if s.ndim != 2 or s.shape != member.shape:
        raise ValueError(f"scores and membership must be (models, records) of one shape, got {s.shape} and {member.shape}")
    keep = np.isfinite(s) if valid is None else np.asarray(valid, dtype=bool) & np.isfinite(s)
    grid = np.indices(s.shape)
    model_ids, record_ids = grid[0], grid[1]
    options: dict[str, Any] = {}
    if resampling not in ("records + models", "records", "stratified"):
        raise ValueError(f"unknown resampling {resampling!r} (records + models, records or stratified)")
    if resampling != "stratified":
        options["records"] = record_ids[keep]
    if resampling == "records + models":
        options["models"] = model_ids[keep]
    return summarize(s[keep], member[keep], fprs=fprs, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed,
                     **options)


# ----------------------------------------------------------- two recipes, same audit design


@dataclass(frozen=True)
class RocDifference:
    """One attack on two recipes audited with the same records and membership: recipe A's AUC and
    TPRs minus recipe B's, each with a paired interval (`compare_matrices`)."""

    auc_a: float
    auc_b: float
    auc: float                               # auc_a - auc_b
    auc_ci: tuple[float, float]
    tpr_a: dict[float, float]
    tpr_b: dict[float, float]
    tpr_at: dict[float, float]               # tpr_a - tpr_b per FPR
    tpr_ci: dict[float, tuple[float, float]]
    n_records: int
    n_models: int
    confidence: float = 0.95
    n_bootstrap: int = 1000
    resampling: str = AUDIT_RESAMPLING

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form; FPR keys become strings such as ``"0.01"``."""
        return {"auc_a": float(self.auc_a), "auc_b": float(self.auc_b), "auc": float(self.auc),
                "auc_ci": [float(v) for v in self.auc_ci],
                "tpr_a": {_fpr_key(f): float(v) for f, v in self.tpr_a.items()},
                "tpr_b": {_fpr_key(f): float(v) for f, v in self.tpr_b.items()},
                "tpr_at": {_fpr_key(f): float(v) for f, v in self.tpr_at.items()},
                "tpr_ci": {_fpr_key(f): [float(lo), float(hi)] for f, (lo, hi) in self.tpr_ci.items()},
                "n_records": int(self.n_records), "n_models": int(self.n_models),
                "confidence": float(self.confidence), "n_bootstrap": int(self.n_bootstrap),
                "resampling": self.resampling}


def _class_maps(s: NDArray[np.float64], m: NDArray[np.bool_]) -> tuple[Any, Any]:
    """Sparse (groups x scores) maps of member and non-member scores to their score values: each
    score its own unit for `_unit_counts`."""
    gm, gn, g = _groups(s, m)
    return _unit_counts(np.arange(gm.size), gm.size, gm, g), _unit_counts(np.arange(gn.size), gn.size, gn, g)


def _weighted_stats(maps: tuple[Any, Any], weights: NDArray[np.int64], m: NDArray[np.bool_],
                    fprs: list[float]) -> NDArray[np.float64]:
    """(AUC, TPR per FPR) per row of score weights (a resample's multiplicity of every score)."""
    cm = np.asarray(maps[0] @ weights[:, m].T).T
    cn = np.asarray(maps[1] @ weights[:, ~m].T).T
    return np.column_stack([_auc_rows(cm, cn), _tpr_rows(cm, cn, fprs)])


def _paired_resamples(how: str, models: NDArray[np.intp], records: NDArray[np.intp], m: NDArray[np.bool_],
                      rows: int, rng: np.random.Generator) -> NDArray[np.int64]:
    """(rows, scores) multiplicities: whole records, whole victim slots, or scores one by one
    (members and non-members drawn separately). A resample weighs the same score cells in both
    recipes, which is what pairs them."""
    if how == "records":
        return _multiplicities(rng, rows, int(records.max()) + 1)[:, records]
    if how == "models":
        return _multiplicities(rng, rows, int(models.max()) + 1)[:, models]
    weights = np.zeros((rows, m.size), dtype=np.int64)
    for cls in (m, ~m):
        where = np.flatnonzero(cls)
        weights[:, where] = _multiplicities(rng, rows, where.size)
    return weights


def compare_matrices(scores_a: ArrayLike, scores_b: ArrayLike, membership: ArrayLike, *,
                     valid: ArrayLike | None = None, resampling: str = AUDIT_RESAMPLING,
                     fprs: Iterable[float] = (0.01, 0.001), n_bootstrap: int = 1000, confidence: float = 0.95,
                     seed: int = 0) -> RocDifference:
    """How much more one attack measures on recipe A than on recipe B, when both were audited with
    the same (models, records) membership: the same target records, each in the same victim slots.

    The two recipes' scores are not independent (the same records are easy or hard to single out
    under both), so the difference is resampled in pairs: every resample weighs the same score
    cells in both matrices and the difference is taken per resample. "records + models" combines a
    record, a victim-slot and a score bootstrap of the difference as `summarize` does for one
    recipe (`_crossed_inflation`: the victims' own spread, widened for their small number); the
    victims of the two recipes are different models, and a slot's two victims are resampled
    together, which is valid whether or not they are alike. "records" resamples records only.

    Entries kept: finite in both matrices (and `valid`). `simulate.difference_coverage` measures the
    intervals' coverage against a known difference."""
    a = np.asarray(scores_a, dtype=np.float64)
    b = np.asarray(scores_b, dtype=np.float64)
    member = np.asarray(membership, dtype=bool)
    if a.ndim != 2 or a.shape != b.shape or a.shape != member.shape:
        raise ValueError(f"scores_a, scores_b and membership must be (models, records) of one shape, "
                         f"got {a.shape}, {b.shape} and {member.shape}")
    if resampling not in ("records + models", "records"):
        raise ValueError(f"unknown resampling {resampling!r} (records + models or records)")
    if int(n_bootstrap) != n_bootstrap or n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be a positive integer, got {n_bootstrap!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    fpr_list = [_check_fpr(f, allow_zero=False) for f in fprs]
    keep = np.isfinite(a) & np.isfinite(b)
    if valid is not None:
        keep &= np.asarray(valid, dtype=bool)
    grid = np.indices(a.shape)
    _, models = np.unique(grid[0][keep], return_inverse=True)
    _, records = np.unique(grid[1][keep], return_inverse=True)
    sa, m = _validate(a[keep], member[keep])
    sb, _ = _validate(b[keep], member[keep])
    maps = (_class_maps(sa, m), _class_maps(sb, m))
    ones = np.ones((1, m.size), dtype=np.int64)
    point_a, point_b = _weighted_stats(maps[0], ones, m, fpr_list)[0], _weighted_stats(maps[1], ones, m, fpr_list)[0]
    point = point_a - point_b

    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // m.size)

    def boot(how: str) -> NDArray[np.float64]:
        out: list[NDArray[np.float64]] = []
        filled = 0
        while filled < n_bootstrap:
            w = _paired_resamples(how, models, records, m, min(chunk, n_bootstrap - filled), rng)
            w = w[((w * m).sum(axis=1) > 0) & ((w * ~m).sum(axis=1) > 0)]  # both classes drawn
            out.append(_weighted_stats(maps[0], w, m, fpr_list) - _weighted_stats(maps[1], w, m, fpr_list))
            filled += w.shape[0]
        return np.vstack(out)[:n_bootstrap]

    by_record = boot("records")
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(by_record, [tail, 1.0 - tail], axis=0)
    if resampling == "records + models":
        n_models = int(models.max()) + 1
        scale = _crossed_inflation(by_record, boot("models"), boot("scores"), n_models, confidence)
        low = point - scale * np.maximum(point - low, 0.0)
        high = point + scale * np.maximum(high - point, 0.0)
    low, high = np.clip(low, -1.0, 1.0), np.clip(high, -1.0, 1.0)
    return RocDifference(
        auc_a=float(point_a[0]), auc_b=float(point_b[0]), auc=float(point[0]),
        auc_ci=(float(low[0]), float(high[0])),
        tpr_a={f: float(point_a[1 + j]) for j, f in enumerate(fpr_list)},
        tpr_b={f: float(point_b[1 + j]) for j, f in enumerate(fpr_list)},
        tpr_at={f: float(point[1 + j]) for j, f in enumerate(fpr_list)},
        tpr_ci={f: (float(low[1 + j]), float(high[1 + j])) for j, f in enumerate(fpr_list)},
        n_records=int(records.max()) + 1, n_models=int(models.max()) + 1,
        confidence=float(confidence), n_bootstrap=int(n_bootstrap), resampling=resampling)
