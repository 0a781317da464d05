"""Simulated audits with a known truth: the check on the audit's intervals and the gate's rules.

A real audit scores T target records under K victim models, each record a member of exactly half
of them. Its scores are not independent: a record has its own level in every model (an outlier
scores high whether or not it was trained on), a vulnerable record gains more from membership in
every model that holds it, and a victim has its own offset. `ScoreModel` draws scores with exactly
that structure,

    score[k, i] = a_i + b_k + member[k, i] * (mu + delta_i) * (1 + c_k) + e[k, i]

    a_i ~ N(0, record_var)          the record's level, shared by every victim
    b_k ~ N(0, model_var)           the victim's offset, shared by every record
    delta_i = vulnerable_shift      for a share `vulnerable_share` of the records, else 0
    c_k ~ N(0, model_leak_sd^2)     how much more (or less) this victim overfits than the average
    e ~ N(0, 1 - record_var - model_var)

so a non-member's score is N(0, 1), and the true AUC and TPR at any FPR (a random member against
a random non-member of the population, other records and other victims) have closed forms.
`coverage` then runs many simulated audits and counts how often an interval covers the truth;
`verdict_error_rates` does the same for the gate's decision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm

from .roc import RocSummary, compare_matrices, summarize_matrix

__all__ = ["Coverage", "ScoreModel", "balanced_design", "coverage", "difference_coverage", "draw_paired",
           "simulate_summaries"]


@dataclass(frozen=True)
class ScoreModel:
    """Scores of a simulated audit; see the module docstring for the model."""

    shift: float = 0.0               # mu, every member's shift, in non-member sd units
    vulnerable_share: float = 0.0    # share of records with an extra shift
    vulnerable_shift: float = 0.0    # that extra shift
    record_var: float = 0.5          # share of a non-member score's variance due to the record
    model_var: float = 0.05          # share due to the victim model
    model_leak_sd: float = 0.0       # spread of the victims' leakage (relative to the mean shift)

    def __post_init__(self) -> None:
        if not (0 <= self.record_var and 0 <= self.model_var and self.record_var + self.model_var < 1):
            raise ValueError("record_var and model_var must be non-negative and sum to less than 1")
        if not 0 <= self.vulnerable_share <= 1:
            raise ValueError("vulnerable_share must lie in [0, 1]")

    def _components(self) -> list[tuple[float, float]]:
        """(weight, member shift) pairs: the records' two kinds times the victims' leakage, the
        latter by Gauss-Hermite quadrature of c ~ N(0, model_leak_sd^2)."""
        nodes, weights = np.polynomial.hermite_e.hermegauss(21)
        weights = weights / weights.sum()
        scale = 1.0 + self.model_leak_sd * nodes if self.model_leak_sd > 0 else np.ones(1)
        weights = weights if self.model_leak_sd > 0 else np.ones(1)
        out = []
        for w_rec, shift in ((1 - self.vulnerable_share, self.shift),
                             (self.vulnerable_share, self.shift + self.vulnerable_shift)):
            out += [(w_rec * float(w), shift * float(c)) for w, c in zip(weights, scale, strict=True)]
        return out

    def true_auc(self) -> float:
        """P(member score > non-member score), for a member and a non-member of different records
        scored by different victims."""
        return float(sum(w * norm.cdf(m / np.sqrt(2.0)) for w, m in self._components()))

    def true_tpr(self, fpr: float) -> float:
        """Share of members above the threshold that a share `fpr` of non-members exceeds."""
        threshold = norm.isf(fpr)
        return float(sum(w * norm.sf(threshold - m) for w, m in self._components()))

    def with_auc(self, auc: float) -> ScoreModel:
        """The same model with `shift` set so that the true AUC is `auc`."""
        if auc == 0.5 and self.vulnerable_share == 0:
            return replace(self, shift=0.0)
        return replace(self, shift=float(brentq(lambda s: replace(self, shift=s).true_auc() - auc, -10, 10)))

    def draw(self, membership: np.ndarray, rng: np.random.Generator,
             records: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Scores (K, T) for a membership matrix (K, T). `records`: the records' own draws (a
        standard normal for their level, a uniform for their vulnerability), given to share them
        with another recipe audited on the same records (`draw_paired`)."""
        k, t = map(int, membership.shape)
        if records is None:
            a = rng.normal(0, np.sqrt(self.record_var), size=t)
            b = rng.normal(0, np.sqrt(self.model_var), size=k)
            vulnerable = rng.random(t)
        else:
            a = np.sqrt(self.record_var) * records[0]
            b = rng.normal(0, np.sqrt(self.model_var), size=k)
            vulnerable = records[1]
        delta = np.where(vulnerable < self.vulnerable_share, self.vulnerable_shift, 0.0)
        leak = 1.0 + rng.normal(0, self.model_leak_sd, size=k) if self.model_leak_sd > 0 else np.ones(k)
        noise = rng.normal(0, np.sqrt(1 - self.record_var - self.model_var), size=(k, t))
        return a[None, :] + b[:, None] + membership * (self.shift + delta[None, :]) * leak[:, None] + noise


def balanced_design(n_models: int, n_targets: int, rng: np.random.Generator) -> np.ndarray:
    """(K, T) membership with every record in exactly half of the models, as the audit's masks."""
    order = np.argsort(rng.random((n_models, n_targets)), axis=0)
    return order < n_models // 2


@dataclass(frozen=True)
class Coverage:
    """How often nominal intervals covered the truth over simulated audits."""

    n_audits: int
    auc: float                        # share of AUC intervals that held the true AUC
    tpr: dict[float, float]           # the same per FPR
    auc_above: float                  # share whose lower end lay above the truth (missed low)
    auc_below: float                  # share whose upper end lay below the truth (missed high)
    tpr_below: dict[float, float]     # upper end below the truth: a leak the gate would pass

    def to_dict(self) -> dict[str, Any]:
        return {"n_audits": self.n_audits, "auc": self.auc, "auc_above": self.auc_above,
                "auc_below": self.auc_below, "tpr": {repr(f): v for f, v in self.tpr.items()},
                "tpr_below": {repr(f): v for f, v in self.tpr_below.items()}}


def simulate_summaries(model: ScoreModel, n_models: int, n_targets: int, n_audits: int, resampling: str,
                       fprs: Sequence[float] = (0.01, 0.001), n_bootstrap: int = 1000, seed: int = 0,
                       score: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> list[RocSummary]:
    """One summary per simulated audit. `score` turns (statistics, membership) into attack scores
    (default: the statistics themselves), e.g. LiRA over the simulated shadow models."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_audits):
        membership = balanced_design(n_models, n_targets, rng)
        stats = model.draw(membership, rng)
        scores = stats if score is None else score(stats, membership)
        out.append(summarize_matrix(scores, membership, resampling=resampling, fprs=fprs, n_bootstrap=n_bootstrap,
                                    seed=i))
    return out


def coverage(model: ScoreModel, n_models: int, n_targets: int, n_audits: int = 1000, resampling: str = "records",
             fprs: Sequence[float] = (0.01, 0.001), n_bootstrap: int = 1000, seed: int = 0) -> Coverage:
    """Share of simulated audits whose nominal interval holds the true AUC and TPRs."""
    found = simulate_summaries(model, n_models, n_targets, n_audits, resampling, fprs, n_bootstrap, seed)
    return _tally(found, model.true_auc(), {f: model.true_tpr(f) for f in fprs})


def _tally(found: Sequence[Any], true_auc: float, true_tpr: dict[float, float]) -> Coverage:
    """How often the intervals of `found` (each with `auc_ci` and `tpr_ci`) hold the truths."""
    lo = np.array([s.auc_ci[0] for s in found])
    hi = np.array([s.auc_ci[1] for s in found])
    tpr_cover, tpr_below = {}, {}
    for f, truth in true_tpr.items():
        t_lo = np.array([s.tpr_ci[f][0] for s in found])
        t_hi = np.array([s.tpr_ci[f][1] for s in found])
        tpr_cover[f] = float(np.mean((t_lo <= truth) & (truth <= t_hi)))
        tpr_below[f] = float(np.mean(t_hi < truth))
    return Coverage(len(found), float(np.mean((lo <= true_auc) & (true_auc <= hi))), tpr_cover,
                    float(np.mean(lo > true_auc)), float(np.mean(hi < true_auc)), tpr_below)


def draw_paired(model_a: ScoreModel, model_b: ScoreModel, membership: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Scores of two recipes audited on the same records with the same membership: each record's
    level and vulnerability are the same draw in both (a record easy to single out under one recipe
    is easy under the other), the victims, their leakage and the noise are each recipe's own."""
    n_records = (int(membership.shape[1]),)
    shared = (rng.standard_normal(size=n_records), rng.random(size=n_records))
    return model_a.draw(membership, rng, shared), model_b.draw(membership, rng, shared)


def difference_coverage(model_a: ScoreModel, model_b: ScoreModel, n_models: int, n_targets: int,
                        n_audits: int = 1000, resampling: str = "records + models", fprs: Sequence[float] = (0.01,),
                        n_bootstrap: int = 1000, seed: int = 0) -> Coverage:
    """Share of simulated pairs of audits whose `compare_matrices` interval holds the true
    difference (A's true AUC and TPRs minus B's); `auc_below`: the interval lay wholly under it
    (recipe A's extra leakage missed)."""
    rng = np.random.default_rng(seed)
    found = []
    for i in range(n_audits):
        membership = balanced_design(n_models, n_targets, rng)
        a, b = draw_paired(model_a, model_b, membership, rng)
        found.append(compare_matrices(a, b, membership, resampling=resampling, fprs=fprs,
                                      n_bootstrap=n_bootstrap, seed=i))
    return _tally(found, model_a.true_auc() - model_b.true_auc(),
                  {f: model_a.true_tpr(f) - model_b.true_tpr(f) for f in fprs})
