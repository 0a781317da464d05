"""LiRA (Carlini et al. 2022) over shadow models, leave-one-out, in log space.

Given a statistic s[k, t] of record t under model k (higher = more member-like) and the
membership matrix, every model in turn is the victim and the others are the attacker's
references. Per record, Gaussians are fitted to the references that held it (IN) and did not
(OUT); the online score is log N(s; IN) - log N(s; OUT), the offline score the one-sided
(s - mu_out) / sd_out.

With balanced masks, leaving the victim out leaves a member one fewer IN reference than OUT and a
non-member the reverse; any estimate whose noise depends on those counts then leaks the label
(measured: AUC 0.39 on untrained models). So both sides are cut to the same count, dropping
references at random with the audit's seed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .registry import Attack, ScoreInput, Scores, register_attack

_EPS = 1e-30


def _keep_equal_counts(member: np.ndarray, rng: np.random.Generator, valid: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Per column, keep the same number of IN and OUT rows (chosen at random); rows that are not
    `valid` are neither."""
    valid = np.ones_like(member) if valid is None else valid
    is_in, is_out = member & valid, ~member & valid
    n_keep = np.minimum(is_in.sum(axis=0), is_out.sum(axis=0))
    priority = rng.random(member.shape)
    rank_in = np.argsort(np.argsort(np.where(is_in, priority, 2.0), axis=0), axis=0)
    rank_out = np.argsort(np.argsort(np.where(is_out, priority, 2.0), axis=0), axis=0)
    return is_in & (rank_in < n_keep), is_out & (rank_out < n_keep)


def _fit(values: np.ndarray, keep: np.ndarray, global_variance: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and sd of the kept values; a pooled within-record sd if `global_variance`."""
    count = np.maximum(keep.sum(axis=0), 1)
    mean = np.where(keep, values, 0.0).sum(axis=0) / count
    resid = np.where(keep, values - mean, 0.0)
    if global_variance:
        dof = max(int(keep.sum()) - int((keep.sum(axis=0) > 0).sum()), 1)
        sd = np.full(values.shape[1], np.sqrt((resid**2).sum() / dof))
    else:
        sd = np.sqrt((resid**2).sum(axis=0) / np.maximum(count - 1, 1))
    # a floor relative to the statistic's overall spread keeps a degenerate side (all equal
    # values, e.g. a memoriser's exact matches) from dividing by zero
    floor = 1e-6 * float(np.std(values)) + _EPS
    return mean, np.maximum(sd, floor)


def _log_normal(x: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    return -np.log(sd) - 0.5 * ((x - mean) / sd) ** 2


def lira_scores(stats: np.ndarray, membership: np.ndarray, *, online: bool = True, global_variance: bool = True,
                seed: int = 0, valid: np.ndarray | None = None, references: np.ndarray | None = None) -> np.ndarray:
    """LiRA score of every (victim model, record): array of the same shape as `stats` (K, T).

    Args:
        stats: the statistic per (model, record), higher = more member-like.
        membership: bool (K, T), whether record t was in model k's training set.
        online: fit IN and OUT Gaussians (True) or OUT only (one-sided offline test).
        global_variance: one pooled sd per side (better with few models) instead of per record.
        valid: bool (K, T), which (model, record) entries count at all (a mixed-query pair counts
            only for models that hold both records or neither); invalid entries score NaN, and so
            do records left without an IN or an OUT reference.
        references: the same statistic (K, T) from reference models trained with ANOTHER recipe on
            the same masks (Ji et al.'s naturally trained references against a mixup target); the
            victim's values still come from `stats`, and its own reference twin is left out.
    """
    stats = np.asarray(stats, dtype=np.float64)
    membership = np.asarray(membership, dtype=bool)
    if stats.shape != membership.shape or stats.ndim != 2:
        raise ValueError("stats and membership must both be (models, records)")
    n_models = len(stats)
    if n_models < 4:
        raise ValueError(f"LiRA needs at least 4 shadow models, got {n_models}")
    reference = stats if references is None else np.asarray(references, dtype=np.float64)
    if reference.shape != stats.shape:
        raise ValueError("references must have the shape of stats")
    if not (np.isfinite(stats).all() and np.isfinite(reference).all()):
        raise ValueError("LiRA statistics must be finite")
    rng = np.random.default_rng(seed)
    scores = np.empty_like(stats)
    for victim in range(n_models):
        refs = np.arange(n_models) != victim
        values, member = reference[refs], membership[refs]
        keep_in, keep_out = _keep_equal_counts(member, rng, None if valid is None else valid[refs])
        mean_out, sd_out = _fit(values, keep_out, global_variance)
        observed = stats[victim]
        unfit = keep_in.sum(axis=0) == 0  # no reference on one side: no estimate for this record
        if online:
            mean_in, sd_in = _fit(values, keep_in, global_variance)
            scores[victim] = _log_normal(observed, mean_in, sd_in) - _log_normal(observed, mean_out, sd_out)
        else:
            scores[victim] = (observed - mean_out) / sd_out
        scores[victim, unfit] = np.nan
    if valid is not None:
        scores[~valid] = np.nan
    return scores


def out_reference_mean(stats: np.ndarray, membership: np.ndarray, seed: int = 0) -> np.ndarray:
    """Per (victim, record): the mean statistic over the reference models that did not hold the
    record (counts equalised as in LiRA). Subtracting it calibrates a score by reference models,
    as GAN-Leaks' calibrated attack does."""
    stats = np.asarray(stats, dtype=np.float64)
    membership = np.asarray(membership, dtype=bool)
    rng = np.random.default_rng(seed)
    out = np.empty_like(stats)
    for victim in range(len(stats)):
        refs = np.arange(len(stats)) != victim
        _, keep_out = _keep_equal_counts(membership[refs], rng)
        out[victim] = _fit(stats[refs], keep_out, global_variance=True)[0]
    return out


# --- registration: LiRA on each statistic the threat models allow ---------------------------------

def _on(statistic: str, transform: Callable[[np.ndarray], np.ndarray] | None = None, online: bool = True
        ) -> Callable[[ScoreInput], Scores]:
    def score(data: ScoreInput) -> Scores:
        values = data.stats[statistic] if transform is None else transform(data.stats[statistic])
        return Scores(lira_scores(values, data.membership, online=online, seed=data.seed), data.membership)
    return score


def _log_reconstruction(loss: np.ndarray) -> np.ndarray:
    from .reconstruction import log_reconstruction_statistic
    return log_reconstruction_statistic(loss)


def _log_distance(distance: np.ndarray) -> np.ndarray:
    from .ganleaks import log_distance_statistic
    return log_distance_statistic(distance)


register_attack(Attack("lira", "lira", "critic", "LiRA online, global variance, on D(x,y) minus the mean critic of "
                       "m fakes", ("critic_calibrated",), _on("critic_calibrated")))
register_attack(Attack("lira_offline", "lira", "critic", "LiRA offline (OUT models only, one-sided), same statistic",
                       ("critic_calibrated",), _on("critic_calibrated", online=False)))
register_attack(Attack("lira_gen", "lira", "generator", "LiRA online on -log GAN-Leaks white-box reconstruction loss",
                       ("reconstruction",), _on("reconstruction", _log_reconstruction)))
register_attack(Attack("lira_dcr", "lira", "data", "LiRA online on -log distance to the nearest synthetic record",
                       ("nn_distance",), _on("nn_distance", _log_distance)))
