"""GAN-Leaks full black-box (Chen et al. 2020): a record near some synthetic record was likely a
member. The score is minus the distance to the nearest of k synthetic records, in the audit's
standardised one-hot feature space; the calibrated variant subtracts the same under reference
models that did not see the record (see `lira.out_reference_mean`)."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from .registry import Attack, ScoreInput, Scores, register_attack


def nearest_distance(records: np.ndarray, synthetic: np.ndarray) -> np.ndarray:
    """Euclidean distance from each record to its nearest synthetic record."""
    nn = NearestNeighbors(n_neighbors=1).fit(synthetic)
    distance, _ = nn.kneighbors(records)
    return distance[:, 0]


def log_distance_statistic(distance: np.ndarray) -> np.ndarray:
    """-log(d + eps): higher = closer = more member-like; the log makes it closer to Gaussian
    across models, which LiRA assumes."""
    return -np.log(distance + 1e-6)


def _calibrated(data: ScoreInput) -> Scores:
    from .lira import out_reference_mean

    log_d = log_distance_statistic(data.stats["nn_distance"])
    return Scores(log_d - out_reference_mean(log_d, data.membership, seed=data.seed), data.membership)


register_attack(Attack("ganleaks", "ganleaks", "data", "GAN-Leaks full black-box: -distance to the nearest synthetic "
                       "record", ("nn_distance",), lambda data: Scores(-data.stats["nn_distance"], data.membership)))
register_attack(Attack("ganleaks_cal", "ganleaks", "data", "GAN-Leaks calibrated by reference models that did not see "
                       "the record", ("nn_distance",), _calibrated))
