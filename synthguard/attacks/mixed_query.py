"""Ji et al.'s adaptive mixed-query attack on mixup-trained conditional GANs (INFOCOM 2023, the
adaptive attacks; official code ji-zhe/MixupTraining, attack/mix_comem_attack*.py).

A mixup-trained critic never sees a real record on its own, only interpolations of two records
and their labels. The adaptive attacker therefore queries the critic where it was trained: for a
pair of candidates (a, b) and lam in {0.2, 0.5, 0.8},

    x_q = lam x_a + (1 - lam) x_b,    c_q = lam c_a + (1 - lam) c_b      (encoded space)
    s(a, b) = mean over lam of [ D(x_q, c_q) - (1/m) sum_j D(G(z_j, c_q), c_q) ]

The second term is the calibration of Ji et al.'s LiRA statistic ("Ratio", their adaptation of
Carlini et al. 2022 (LiRA) to the WGAN critic; ji-zhe/MixupTraining, attack/firstPrinciple) at the mixed
label. The sign is flipped from the paper so that HIGHER = member, like every synthguard statistic.
The fakes use the head mode the model was trained with, so they look like what its critic saw.
The statistic is computed from the model's public primitives (the
`synthguard.attacks.access.ScoringCritic` protocol: `encode`, `critic_scores`, `fake_critic_means`),
which run both networks in eval mode and change no weight.

Pairs and membership. The paper pairs each candidate with another of the same membership group
(member with member, non-member with non-member) under the one target model. In a shadow audit
membership changes from model to model, so a fixed list of pairs (`pair_records(None, ...)`) is
scored under every model, and for LiRA-style scoring a pair is IN for a model that holds both
records, OUT for one that holds neither, and ignored under models that hold exactly one
(`pair_membership` codes these 1 / 0 / -1). Restricting to codes 1 and 0 is the paper's same-group
pairing, seen from each victim in turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .registry import Attack, ScoreInput, Scores, register_attack

LAMBDAS = (0.2, 0.5, 0.8)


def mixed_query_statistic(model: Any, frame_a: pd.DataFrame, frame_b: pd.DataFrame,
                          lams: Sequence[float] = LAMBDAS, m: int = 64, seed: int | None = 0) -> np.ndarray:
    """Mixed-query statistic of every pair (row i of `frame_a`, row i of `frame_b`); higher = member.

    Args:
        model: a fitted `Synthesizer`, or anything with `encode`, `critic_scores` and
            `fake_critic_means` (`synthguard.attacks.access.ScoringCritic`).
        frame_a, frame_b: parsed rows, the same length (one pair per row).
        lams: mixing weights of record a; the statistic is averaged over them.
        m: fakes per query label, as `critic_statistics`' `m`.
        seed: the fake-noise seed, with `critic_statistics`' convention (None: the model's own).

    The fakes of a query are drawn with exactly the noise that `critic_statistics(frame, m, seed)`
    uses for record a's label, so with `lams=(1.0,)` and `frame_a` the frame given there, this is
    its `critic_calibrated` of record a. (`model.encode` samples continuous modes with a fixed
    seed over the frame, so a row is encoded identically only within the same frame.)
    """
    if len(frame_a) != len(frame_b):
        raise ValueError(f"frame_a and frame_b must have the same number of rows, "
                         f"got {len(frame_a)} and {len(frame_b)}")
    x_a, c_a = model.encode(frame_a)
    x_b, c_b = model.encode(frame_b)
    return mixed_query_statistic_encoded(model, x_a, c_a, x_b, c_b, lams=lams, m=m, seed=seed)


def mixed_query_statistic_encoded(model: Any, x_a: np.ndarray, c_a: np.ndarray, x_b: np.ndarray, c_b: np.ndarray,
                                  *, lams: Sequence[float] = LAMBDAS, m: int = 64, seed: int | None = 0) -> np.ndarray:
    """`mixed_query_statistic` on pairs already in encoded space (x (P, dim), c (P, cond_dim))."""
    if not len(lams):
        raise ValueError("lams must hold at least one mixing weight")
    if m < 1:
        raise ValueError(f"m must be at least 1, got {m}")
    x_a, x_b = np.asarray(x_a, dtype=np.float32), np.asarray(x_b, dtype=np.float32)
    c_a, c_b = np.asarray(c_a, dtype=np.float32), np.asarray(c_b, dtype=np.float32)
    if x_a.shape != x_b.shape or c_a.shape != c_b.shape or len(x_a) != len(c_a):
        raise ValueError("the two sides of the pairs must have the same shapes")
    n_pairs = len(x_a)
    if n_pairs == 0:
        return np.zeros(0, dtype=np.float64)
    cond_dim = c_a.shape[1]
    slot_a = c_a.argmax(axis=1) if cond_dim else np.zeros(n_pairs, dtype=np.int64)
    total = np.zeros(n_pairs, dtype=np.float64)
    for lam in lams:
        total += _one_mixing_weight(model, x_a, c_a, x_b, c_b, slot_a, float(lam), m, seed)
    return total / len(lams)


def _one_mixing_weight(model: Any, x_a: np.ndarray, c_a: np.ndarray, x_b: np.ndarray, c_b: np.ndarray,
                       slot_a: np.ndarray, lam: float, m: int, seed: int | None) -> np.ndarray:
    """D(x_q, c_q) minus the mean critic score of the query label's fakes, per pair.

    The calibration of a pair whose record a has class s is block s of `fake_critic_means` at the
    query label: the noise `critic_statistics` gives class s's fakes, so that at lam = 1 this is
    record a's `critic_calibrated` (a test pins it)."""
    n_pairs = len(x_a)
    lam32, rest32 = np.float32(lam), np.float32(1.0 - lam)
    x_q, c_q = lam32 * x_a + rest32 * x_b, lam32 * c_a + rest32 * c_b
    # the fake term depends only on the query label, of which there are at most classes^2
    if c_q.shape[1]:
        labels, inverse = np.unique(c_q, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
    else:  # no condition column: one (empty) label for every query
        labels, inverse = np.zeros((1, 0), dtype=np.float32), np.zeros(n_pairs, dtype=np.int64)
    block_means = np.stack([model.fake_critic_means(label, m, seed) for label in labels])
    return model.critic_scores(x_q, c_q) - block_means[inverse, slot_a]


def pair_records(membership: np.ndarray | None, n_targets: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint pairs of target indices (idx_a[i], idx_b[i]), at random.

    With a membership row (bool per target, one target model), pairs are drawn within each group,
    members with members and non-members with non-members, as in the paper. With None (a shadow
    audit, where membership differs per model), any two targets may pair; `pair_membership` then
    says, per model, which pairs count. A group's odd record out is left unpaired."""
    if n_targets < 0:
        raise ValueError(f"n_targets must be non-negative, got {n_targets}")
    rng = np.random.default_rng(seed)
    if membership is None:
        groups = [np.arange(n_targets)]
    else:
        member = np.asarray(membership, dtype=bool)
        if member.shape != (n_targets,):
            raise ValueError(f"membership must be one bool per target ({n_targets}), got shape {member.shape}")
        groups = [np.flatnonzero(member), np.flatnonzero(~member)]
    idx_a, idx_b = [], []
    for group in groups:
        order = rng.permutation(group)
        even = len(order) // 2 * 2
        idx_a.append(order[0:even:2])
        idx_b.append(order[1:even:2])
    return np.concatenate(idx_a).astype(np.int64), np.concatenate(idx_b).astype(np.int64)


def pair_membership(membership: np.ndarray, idx_a: np.ndarray, idx_b: np.ndarray) -> np.ndarray:
    """(models, pairs) int8: 1 = the model holds both records, 0 = neither, -1 = exactly one
    (ignored by the attack: the pair is neither a member nor a non-member pair)."""
    member = np.asarray(membership, dtype=bool)
    if member.ndim != 2:
        raise ValueError("membership must be (models, targets)")
    in_a, in_b = member[:, np.asarray(idx_a)], member[:, np.asarray(idx_b)]
    codes = np.full(in_a.shape, -1, dtype=np.int8)
    codes[in_a & in_b] = 1
    codes[~in_a & ~in_b] = 0
    return codes


__all__ = ["LAMBDAS", "mixed_query_statistic", "mixed_query_statistic_encoded", "pair_membership", "pair_records"]


def _score_mixed(data: ScoreInput) -> Scores:
    from .lira import lira_scores

    both = np.asarray(data.pair_membership, dtype=bool)
    return Scores(lira_scores(data.stats["mixed_query"], both, seed=data.seed), both)


register_attack(Attack("lira_mixed", "lira", "critic", "Ji et al.'s adaptive LiRA against mixup: critic statistic of "
                       "mixed record pairs (the audit puts both records of a pair in the same shadows)",
                       ("mixed_query",), _score_mixed, unit="pairs"))
