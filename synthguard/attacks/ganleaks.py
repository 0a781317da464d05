"""GAN-Leaks full black-box (Chen et al. 2020): a record near some synthetic record was likely a
member. The score is minus the distance to the nearest of k synthetic records, in the audit's
standardised one-hot feature space; the calibrated variant subtracts the same under reference
models that did not see the record (see `lira.out_reference_mean`)."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors


def nearest_distance(records: np.ndarray, synthetic: np.ndarray) -> np.ndarray:
    """Euclidean distance from each record to its nearest synthetic record."""
    nn = NearestNeighbors(n_neighbors=1).fit(synthetic)
    distance, _ = nn.kneighbors(records)
    return distance[:, 0]


def log_distance_statistic(distance: np.ndarray) -> np.ndarray:
    """-log(d + eps): higher = closer = more member-like; the log makes it closer to Gaussian
    across models, which LiRA assumes."""
    return -np.log(distance + 1e-6)
