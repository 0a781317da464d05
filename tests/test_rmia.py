"""RMIA, the attack registry, and the audit design RMIA needs (population rows no shadow trains on,
rounds of shadows each balanced on its own, pairs of the mixed query kept together)."""

from __future__ import annotations

import numpy as np
import pytest

from synthguard.attacks import registry
from synthguard.attacks.calibration import Memoriser, Untrained
from synthguard.attacks.registry import Attack, ScoreInput, Scores, register_attack
from synthguard.attacks.rmia import rmia_scores
from synthguard.attacks.roc import auc
from synthguard.attacks.shadows import balanced_masks
from synthguard.audit import AuditConfig, audit, design_masks
from synthguard.errors import SynthguardError

FAST = {"synthetic_rows": 1000, "n_bootstrap": 100}
SMALL_NET = {"generator_dims": (32,), "critic_dims": (32,), "z_dim": 16, "batch_size": 64}


def _design(n_models: int, n_targets: int, n_population: int, seed: int = 0):
    # the scorers get another seed: reusing the masks' stream would correlate which references they keep
    rng = np.random.default_rng(seed)
    member = balanced_masks(n_models, n_targets, seed=seed)
    record = rng.normal(size=(1, n_targets + n_population)) * 2.0   # a level per record
    victim = rng.normal(size=(n_models, 1)) * 3.0                    # a level per model
    noise = rng.normal(size=(n_models, n_targets + n_population))
    stats = record + victim + noise
    return member, stats[:, :n_targets], stats[:, n_targets:]


@pytest.mark.parametrize("n_models", [4, 8, 16])
def test_rmia_on_pure_noise_is_at_chance(n_models):
    member, targets, population = _design(n_models, 4000, 300)
    for online in (True, False):
        scores = rmia_scores(targets, member, population, online=online, seed=11)
        assert np.isfinite(scores).all()
        assert abs(auc(scores.ravel(), member.ravel()) - 0.5) < 0.012, (n_models, online)


def test_rmia_finds_a_shift_that_victim_offsets_hide_from_the_raw_statistic():
    member, targets, population = _design(8, 2000, 300, seed=3)
    shifted = targets + 0.6 * member
    raw = auc(shifted.ravel(), member.ravel())
    for online in (True, False):
        scored = auc(rmia_scores(shifted, member, population, online=online, seed=11).ravel(), member.ravel())
        # the victims' levels (sd 3) blur the raw statistic; offline has half the references
        assert scored > raw + (0.1 if online else 0.04), (online, scored, raw)
        assert scored > (0.62 if online else 0.57)


def test_rmia_orders_targets_beyond_the_population_range():
    member, targets, population = _design(4, 50, 40, seed=5)
    far = targets.copy()
    far[0, :3] = 100.0 + np.arange(3)  # under victim 0, far above every population row
    scores = rmia_scores(far, member, population, online=False, seed=11)
    assert (scores[0, :3] > 1.0).all()
    assert (np.diff(scores[0, :3]) > 0).all()  # still in the order of the statistic


def test_rmia_refuses_inputs_it_cannot_use():
    member, targets, population = _design(4, 20, 10)
    with pytest.raises(ValueError, match="population"):
        rmia_scores(targets, member, population[:2])
    with pytest.raises(ValueError, match="finite"):
        rmia_scores(np.where(member, np.nan, targets), member, population)
    with pytest.raises(ValueError, match="gamma"):
        rmia_scores(targets, member, population, gamma=0.0)


# ---- the registry ------------------------------------------------------------------------------
def test_an_attack_cannot_read_beyond_its_threat_model():
    with pytest.raises(ValueError, match="cannot read critic"):
        register_attack(Attack("peek", "peek", "data", "reads the critic", ("critic",),
                               lambda data: Scores(data.stats["critic"], data.membership)))
    with pytest.raises(ValueError, match="already registered"):
        register_attack(Attack("lira", "lira", "critic", "again", ("critic",),
                               lambda data: Scores(data.stats["critic"], data.membership)))
    assert "peek" not in registry.attacks()


def test_a_new_attack_is_one_registration_and_the_audit_runs_it(ofp_full, ofp_schema):
    def closeness(data: ScoreInput) -> Scores:
        return Scores(-data.stats["nn_distance"], data.membership)

    register_attack(Attack("nearest_copy", "copies", "data", "minus the distance to the nearest synthetic row",
                           ("nn_distance",), closeness))
    try:
        assert "copies" in registry.families()
        with pytest.raises(SynthguardError, match="unknown attack family 'copies2'"):
            AuditConfig(attacks=("copies2",))
        result = audit(ofp_full.iloc[:200], Memoriser(ofp_schema), ofp_schema, n_shadows=4, n_targets=60,
                       attacks=("copies",), threat_model="data", **FAST)
        assert list(result.attacks) == ["nearest_copy"]
        assert result.attacks["nearest_copy"].summary.auc > 0.9   # a memoriser's copies sit on its members
    finally:
        registry._REGISTRY.pop("nearest_copy")
    assert "copies" not in registry.families()


# ---- the audit's design ------------------------------------------------------------------------
def test_masks_balance_each_round_keep_pairs_together_and_leave_population_out():
    config = AuditConfig(n_shadows=12, shadows_per_round=4, seed=3)
    targets = np.arange(0, 200, 2)
    population = np.arange(1, 41, 2)
    pairs = (np.arange(0, 100, 2), np.arange(1, 100, 2))
    masks = design_masks(config, 200, targets, population, pairs)
    assert not masks[:, population].any()
    for start in (0, 4, 8):
        block = np.delete(masks[start:start + 4], population, axis=1)
        assert (block.sum(axis=0) == 2).all()   # every other row in exactly half of the round
    assert np.array_equal(masks[:, targets[pairs[0]]], masks[:, targets[pairs[1]]])


def test_rmia_catches_the_memoriser_and_is_at_chance_on_untrained_models(ofp_full, ofp_schema):
    caught = audit(ofp_full.iloc[:300], Memoriser(ofp_schema), ofp_schema, n_shadows=4, n_targets=100,
                   attacks=("rmia",), **FAST)
    assert len(caught.population) == 30 and not set(caught.population) & set(caught.targets)
    assert caught.population_statistics["critic_calibrated"].shape == (4, 30)
    assert {"rmia", "rmia_offline", "rmia_gen", "rmia_gen_offline", "rmia_dcr", "rmia_dcr_offline"} <= set(caught.attacks)
    for name in ("rmia", "rmia_offline", "rmia_gen", "rmia_dcr"):
        assert caught.attacks[name].summary.auc > 0.9, name
    null = audit(ofp_full.iloc[:600], Untrained(ofp_schema, **SMALL_NET), ofp_schema, n_shadows=4, n_targets=300,
                 attacks=("rmia",), **FAST)
    # models that never saw a member: a label leak in the scoring (e.g. priors from unequal
    # reference counts, which gave LiRA AUC 0.39) would sit far outside this band
    for name, attack in null.attacks.items():
        assert abs(attack.summary.auc - 0.5) < 0.05, (name, attack.summary.auc_ci)


def test_without_rmia_no_rows_are_held_back(ofp_full, ofp_schema):
    result = audit(ofp_full.iloc[:200], Memoriser(ofp_schema), ofp_schema, n_shadows=4, n_targets=60,
                   attacks=("ganleaks",), threat_model="data", **FAST)
    assert len(result.population) == 0 and result.population_statistics == {}
