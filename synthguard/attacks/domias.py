"""DOMIAS-style density ratio (van Breugel et al. 2023): a member is where the synthetic data is
denser than the real population. Densities are k-nearest-neighbour estimates in the audit's
feature space, p(x) ~ 1 / d_k(x)^dim, so log p_S(x) - log p_R(x) = dim * (log d_k,R - log d_k,S);
the score drops the constant factor."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from .registry import Attack, Scores, register_attack


def density_ratio(records: np.ndarray, synthetic: np.ndarray, reference: np.ndarray, k: int = 5) -> np.ndarray:
    """log d_k(x, reference) - log d_k(x, synthetic), higher = more member-like.

    `reference` must be real rows the model did not see and must not contain the records. With no
    rows on one side there is no density to compare: every record gets 0."""
    if len(synthetic) == 0 or len(reference) == 0:
        return np.zeros(len(records))
    k_syn = min(k, len(synthetic))
    k_ref = min(k, len(reference))
    d_syn = NearestNeighbors(n_neighbors=k_syn).fit(synthetic).kneighbors(records)[0][:, -1]
    d_ref = NearestNeighbors(n_neighbors=k_ref).fit(reference).kneighbors(records)[0][:, -1]
    return np.log(d_ref + 1e-6) - np.log(d_syn + 1e-6)


register_attack(Attack("domias", "domias", "data", "density ratio of synthetic to real reference rows (kNN, "
                       "DOMIAS-style)", ("density_ratio",), lambda data: Scores(data.stats["density_ratio"],
                                                                                data.membership)))
