"""RMIA: the relative membership inference attack (Zarifzadeh, Liu and Shokri, "Low-Cost High-Power
Membership Inference Attacks", ICML 2024), on each statistic the threat models allow.

RMIA compares a target x with population records z that no model was trained on. For the victim
model theta and a likelihood proxy p(. | theta),

    LR(x, z) = [p(x | theta) / p(x)] / [p(z | theta) / p(z)],    score(x) = share of z with LR(x, z) > gamma

where p(x) is the proxy averaged over reference models. The comparison with z calibrates every
victim on its own: a victim that scores every record high (one that overfits more, or whose
critic drifted) scores its population rows high too. That is what lets RMIA work with a handful of
reference models, where LiRA must fit a distribution per record.

This implementation, and where it departs from the paper:

* The proxies are the audit's log-scale statistics (the calibrated critic statistic, minus the
  log reconstruction loss, minus the log distance to the nearest synthetic record): a GAN has no
  normalised p(x | theta). So log p(x) is the MEAN of the references' statistic (a geometric mean of
  proxies, where the paper averages probabilities), and the paper's linear correction of the
  offline prior (its parameter a) is not used: offline, p(x) averages the references that did not
  hold x.
* Online, p(x) averages equally many references that held x and that did not (as many as the
  leave-one-out design gives both kinds), so the prior's noise never depends on whether the
  victim held x (see `lira._keep_equal_counts`). Population rows average as many references.
* score(x) is the share of population rows z with log LR(x, z) > log gamma (gamma = 1, the paper's
  default for tabular data), ties counted half. Beyond the population's range every target would
  tie at 0 or 1, which would blunt the TPR at 0.1% FPR; there the score continues with the
  distance past the last population row, in units of the population's spread, divided by the
  number of rows (so it orders the tails and never reorders the body).
* Population rows are real rows of the audit population that no shadow was trained on and that
  are not targets (`AuditConfig.population_rows`); the audit measures every statistic on them
  under every shadow.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .ganleaks import log_distance_statistic
from .lira import _keep_equal_counts
from .reconstruction import log_reconstruction_statistic
from .registry import Attack, ScoreInput, Scores, register_attack


def _relative(victim_values: np.ndarray, reference_values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """log p(. | victim) - log p(.): the victim's statistic minus the mean of the kept references."""
    count = np.maximum(keep.sum(axis=0), 1)
    return victim_values - np.where(keep, reference_values, 0.0).sum(axis=0) / count


def _share_below(x: np.ndarray, z: np.ndarray, log_gamma: float) -> np.ndarray:
    """Share of z with x - z > log_gamma (ties half), continued past z's range (module docstring)."""
    z_sorted = np.sort(z)
    shifted = x - log_gamma
    below = np.searchsorted(z_sorted, shifted, side="left")
    not_above = np.searchsorted(z_sorted, shifted, side="right")
    share = (below + 0.5 * (not_above - below)) / len(z_sorted)
    spread = float(np.std(z_sorted)) or 1.0
    past_top = np.maximum(shifted - z_sorted[-1], 0.0)
    past_bottom = np.maximum(z_sorted[0] - shifted, 0.0)
    return share + (past_top - past_bottom) / (spread * len(z_sorted))


def rmia_scores(stats: np.ndarray, membership: np.ndarray, population: np.ndarray, *, online: bool = True,
                gamma: float = 1.0, seed: int = 0) -> np.ndarray:
    """RMIA score of every (victim model, target): array of the shape of `stats` (K, T).

    Args:
        stats: the log-scale statistic of each target under each model, higher = more member-like.
        membership: bool (K, T), whether model k trained on target t.
        population: the same statistic (K, Z) for population rows no model trained on.
        online: the prior averages references that held the target and that did not (True), or
            only those that did not (offline).
        gamma: the likelihood-ratio threshold of a pairwise comparison.
        seed: which references are dropped to equalise counts.
    """
    stats = np.asarray(stats, dtype=np.float64)
    membership = np.asarray(membership, dtype=bool)
    population = np.asarray(population, dtype=np.float64)
    if stats.ndim != 2 or stats.shape != membership.shape:
        raise ValueError("stats and membership must both be (models, targets)")
    if population.ndim != 2 or population.shape[0] != stats.shape[0] or population.shape[1] < 1:
        raise ValueError("population must be (models, rows) with at least one row, for the same models")
    if len(stats) < 2:
        raise ValueError(f"RMIA needs at least 2 models (a victim and a reference), got {len(stats)}")
    if not (np.isfinite(stats).all() and np.isfinite(population).all()):
        raise ValueError("RMIA statistics must be finite")
    if gamma <= 0:
        raise ValueError(f"gamma must be positive, got {gamma}")
    rng = np.random.default_rng(seed)
    n_models = len(stats)
    scores = np.empty_like(stats)
    for victim in range(n_models):
        refs = np.arange(n_models) != victim
        keep_in, keep_out = _keep_equal_counts(membership[refs], rng)
        keep = keep_in | keep_out if online else keep_out
        per_target = keep.sum(axis=0)
        # population rows: as many references as a target gets (every one of them is OUT)
        n_pop_refs = int(np.median(per_target)) if per_target.size else 0
        if n_pop_refs < 1:  # one reference per side is the least a prior needs
            scores[victim] = np.nan
            continue
        pop_keep = np.argsort(rng.random((n_models - 1, population.shape[1])), axis=0) < n_pop_refs
        relative_x = _relative(stats[victim], stats[refs], keep)
        relative_z = _relative(population[victim], population[refs], pop_keep)
        scores[victim] = _share_below(relative_x, relative_z, float(np.log(gamma)))
        scores[victim, per_target == 0] = np.nan
    return scores


def _rmia(statistic: str, transform: Callable[[np.ndarray], np.ndarray] | None, online: bool
          ) -> Callable[[ScoreInput], Scores]:
    def score(data: ScoreInput) -> Scores:
        def prepared(values: np.ndarray) -> np.ndarray:
            return values if transform is None else transform(values)
        return Scores(rmia_scores(prepared(data.stats[statistic]), data.membership,
                                  prepared(data.population[statistic]), online=online, seed=data.seed),
                      data.membership)
    return score


for _name, _threat, _statistic, _transform, _what in (
        ("rmia", "critic", "critic_calibrated", None, "D(x,y) minus the mean critic of m fakes"),
        ("rmia_gen", "generator", "reconstruction", log_reconstruction_statistic, "-log white-box reconstruction loss"),
        ("rmia_dcr", "data", "nn_distance", log_distance_statistic, "-log distance to the nearest synthetic record")):
    register_attack(Attack(_name, "rmia", _threat, f"RMIA online on {_what}, against population rows",
                           (_statistic,), _rmia(_statistic, _transform, online=True), needs_population=True))
    register_attack(Attack(f"{_name}_offline", "rmia", _threat, f"RMIA offline (OUT references only) on {_what}",
                           (_statistic,), _rmia(_statistic, _transform, online=False), needs_population=True))
