"""Attack statistics computed from one fitted model: GAN-Leaks reconstruction (white-box L-BFGS,
partial black-box Powell, nn initialisation) and Ji et al.'s mixed-query statistic, with the pair
bookkeeping that LiRA-style scoring of pairs needs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthguard.attacks.mixed_query import (
    mixed_query_statistic,
    mixed_query_statistic_encoded,
    pair_membership,
    pair_records,
)
from synthguard.attacks.reconstruction import (
    log_reconstruction_statistic,
    reconstruction_loss,
    reconstruction_loss_encoded,
)
from synthguard.synthesizer import Synthesizer
from tests.conftest import TINY

N_ROWS = 6  # Powell costs ~1 s per record even at z_dim 16


@pytest.fixture(scope="module")
def models(ofp_full, ofp_schema):
    rows = ofp_full.iloc[:300].reset_index(drop=True)
    return {defense: Synthesizer(ofp_schema, defense=defense, seed=0, **TINY).fit(rows)
            for defense in ("none", "mixup")}


@pytest.fixture(scope="module")
def targets(ofp_full, ofp_schema):
    return ofp_schema.parse(ofp_full.iloc[:300]).iloc[:40].reset_index(drop=True)


@pytest.fixture(scope="module")
def losses(models, targets):
    """The three searches on the same rows (one Powell run serves several tests)."""
    rows = targets.iloc[:N_ROWS].reset_index(drop=True)
    return {method: reconstruction_loss(models["none"], rows, method=method, seed=0)
            for method in ("nn", "lbfgs", "powell")}


def _snapshot(model):
    return {f"{net}.{name}": value.clone() for net in ("generator", "critic")
            for name, value in getattr(model.gan_, net).state_dict().items()}


# ---- reconstruction --------------------------------------------------------------------------------
def test_losses_are_finite_non_negative_and_one_per_row(losses):
    for method, loss in losses.items():
        assert loss.shape == (N_ROWS,), method
        assert np.isfinite(loss).all() and (loss >= 0).all(), method
        assert loss.dtype == np.float64


def test_white_box_search_beats_its_start_and_powell(losses):
    # measured on these 6 rows: nn 0.1747, Powell(maxiter 10) 0.1374, L-BFGS(50) 0.1355; per record
    # Powell is sometimes the lower (row 2: 0.1506 vs 0.1514), so only the means are compared
    nn, lbfgs, powell = losses["nn"].mean(), losses["lbfgs"].mean(), losses["powell"].mean()
    assert lbfgs < 0.9 * nn
    assert powell < 0.9 * nn
    assert lbfgs <= powell
    # each record keeps the better of its start and its end (on the full objective)
    assert (losses["lbfgs"] <= losses["nn"] + 1e-3).all()


def test_a_record_the_generator_makes_is_reconstructed_almost_exactly(models, targets):
    model = models["none"]
    slots = np.arange(10) % model.encoder_.cond_dim
    generated = model.generate_encoded(slots, seed=7, mode="softmax")
    cond = np.eye(model.encoder_.cond_dim, dtype=np.float32)[slots]
    made = reconstruction_loss_encoded(model, generated, cond, method="lbfgs", seed=0)
    real = reconstruction_loss(model, targets.iloc[:10], method="lbfgs", seed=0)
    # measured: generated ~5e-4, real rows ~0.14
    assert made.mean() < real.mean() / 20
    assert made.max() < real.min()


def test_same_seed_same_losses(models, targets, losses):
    model, rows = models["none"], targets.iloc[:N_ROWS]
    np.testing.assert_array_equal(reconstruction_loss(model, rows, method="lbfgs", seed=0), losses["lbfgs"])
    # a row's encoding depends on its frame (sampled modes), so repeat Powell on encoded rows
    x, cond = model.encode(rows)
    np.testing.assert_array_equal(reconstruction_loss_encoded(model, x[:2], cond[:2], method="powell", steps=3, seed=0),
                                  reconstruction_loss_encoded(model, x[:2], cond[:2], method="powell", steps=3, seed=0))
    assert not np.array_equal(reconstruction_loss(model, rows, method="nn", seed=1), losses["nn"])


def test_the_attacks_leave_the_model_as_they_found_it(models, targets):
    model = models["none"]
    before = _snapshot(model)
    model.gan_.generator.train()  # in train mode a forward pass would move batch-norm statistics
    try:
        reconstruction_loss(model, targets.iloc[:10], method="lbfgs", steps=5)
        reconstruction_loss(model, targets.iloc[:1], method="powell", steps=1)
        mixed_query_statistic(model, targets.iloc[:5], targets.iloc[5:10], m=8)
        assert model.gan_.generator.training
    finally:
        model.gan_.generator.eval()
    after = _snapshot(model)
    assert before.keys() == after.keys()
    for name, value in before.items():
        assert torch.equal(value, after[name]), name
    assert all(p.requires_grad for p in model.gan_.generator.parameters())


def test_log_statistic_orders_as_membership():
    loss = np.array([0.0, 1e-3, 0.1, 1.0])
    stat = log_reconstruction_statistic(loss)
    assert np.isfinite(stat).all() and (np.diff(stat) < 0).all()  # lower loss = higher statistic


def test_bad_arguments_are_refused(models, targets):
    with pytest.raises(ValueError, match="method"):
        reconstruction_loss(models["none"], targets.iloc[:2], method="adam")
    with pytest.raises(ValueError, match="n_init"):
        reconstruction_loss(models["none"], targets.iloc[:2], n_init=0)
    with pytest.raises(ValueError, match="same number of rows"):
        mixed_query_statistic(models["none"], targets.iloc[:2], targets.iloc[:3])


# ---- mixed query ----------------------------------------------------------------------------------
@pytest.mark.parametrize("defense", ["mixup", "none"])  # softmax fakes, and Gumbel fakes with head noise
def test_mixed_query_is_finite_deterministic_one_per_pair(models, targets, defense):
    model = models[defense]
    idx_a, idx_b = pair_records(None, len(targets), seed=0)
    frame_a, frame_b = targets.iloc[idx_a], targets.iloc[idx_b]
    stat = mixed_query_statistic(model, frame_a, frame_b, m=16, seed=3)
    assert stat.shape == (len(idx_a),) and np.isfinite(stat).all()
    np.testing.assert_array_equal(stat, mixed_query_statistic(model, frame_a, frame_b, m=16, seed=3))
    assert not np.array_equal(stat, mixed_query_statistic(model, frame_a, frame_b, m=16, seed=4))


@pytest.mark.parametrize("defense", ["mixup", "none"])
def test_mixed_query_at_lam_one_is_the_calibrated_critic_of_a(models, targets, defense):
    model = models[defense]
    partner = targets.iloc[np.roll(np.arange(len(targets)), 7)]  # b differs from a, labels included
    stat = mixed_query_statistic(model, targets, partner, lams=(1.0,), m=64, seed=3)
    expected = model.critic_statistics(targets, m=64, seed=3)
    np.testing.assert_allclose(stat, expected["critic_calibrated"], rtol=0, atol=1e-5)
    # and the query itself is record a: its raw critic score is LOGAN's
    x_a, c_a = model.encode(targets)
    x_b, c_b = model.encode(partner)
    via_encoded = mixed_query_statistic_encoded(model, x_a, c_a, x_b, c_b, lams=(1.0,), m=64, seed=3)
    np.testing.assert_array_equal(stat, via_encoded)
    raw_query = model.critic_scores(np.float32(1.0) * x_a + np.float32(0.0) * x_b, c_a)
    np.testing.assert_allclose(raw_query, expected["critic"], rtol=0, atol=1e-5)


def test_pairs_within_membership_groups_and_at_random():
    member = np.array([True, False, True, True, False, False, True, False, True])
    idx_a, idx_b = pair_records(member, len(member), seed=0)
    assert (member[idx_a] == member[idx_b]).all()
    assert len(idx_a) == 2 + 2  # 5 members -> 2 pairs, 4 non-members -> 2 pairs
    used = np.concatenate([idx_a, idx_b])
    assert len(set(used)) == len(used)  # disjoint pairs
    a2, b2 = pair_records(member, len(member), seed=0)
    np.testing.assert_array_equal(idx_a, a2)
    np.testing.assert_array_equal(idx_b, b2)
    idx_a, idx_b = pair_records(None, 11, seed=1)
    assert len(idx_a) == 5 and len(set(np.concatenate([idx_a, idx_b]))) == 10
    with pytest.raises(ValueError, match="one bool per target"):
        pair_records(member, 5, seed=0)


def test_pair_membership_codes():
    membership = np.array([[True, True, False, False],
                           [True, False, True, False],
                           [False, False, False, True]])
    idx_a, idx_b = np.array([0, 0, 2]), np.array([1, 3, 3])
    expected = np.array([[1, -1, 0],
                         [-1, -1, -1],
                         [0, -1, -1]], dtype=np.int8)
    codes = pair_membership(membership, idx_a, idx_b)
    assert codes.dtype == np.int8
    np.testing.assert_array_equal(codes, expected)
