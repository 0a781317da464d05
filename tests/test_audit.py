"""The privacy audit: LiRA's maths, and the sanity cases that show the attacks measure leakage.

A memoriser must be caught; models that never saw the members must look like chance; a leaky
recipe (tiny training sets, long training, no defence) must be flagged, and mixup must lower it.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from synthguard.attacks.calibration import Memoriser, Untrained
from synthguard.attacks.domias import density_ratio
from synthguard.attacks.lira import lira_scores
from synthguard.attacks.logan import blackbox_scores
from synthguard.attacks.roc import auc
from synthguard.attacks.shadows import ShadowTask, balanced_masks, choose_targets, reference_folds
from synthguard.audit import ATTACKS, AuditConfig, audit
from synthguard.errors import SynthguardError
from synthguard.synthesizer import Synthesizer

from .conftest import TINY

FAST = {"synthetic_rows": 2000, "n_bootstrap": 200}


def aucs(result):
    return {name: a.summary.auc for name, a in result.attacks.items()}


# ---- LiRA and masks, on made-up statistics -----------------------------------------------------
def test_balanced_masks_put_every_record_in_half_the_models():
    masks = balanced_masks(8, 1000, seed=0)
    assert (masks.sum(axis=0) == 4).all()
    assert abs(masks.sum(axis=1).mean() - 500) < 1e-9 and masks.sum(axis=1).std() < 40
    with pytest.raises(ValueError, match="even"):
        balanced_masks(5, 10, seed=0)


@pytest.mark.parametrize("n_models", [4, 8, 16])
def test_lira_on_pure_noise_is_at_chance(n_models):
    # With balanced masks and leave-one-out, unequal IN/OUT reference counts alone gave AUC 0.39
    # at 4 models; with the counts equalised the null is 0.5.
    rng = np.random.default_rng(1)
    masks = balanced_masks(n_models, 5000, seed=0)
    stats = rng.normal(size=masks.shape) + rng.normal(size=(1, 5000)) * 3  # per-record offsets
    for online in (True, False):
        scores = lira_scores(stats, masks, online=online, seed=0)
        assert abs(auc(scores.ravel(), masks.ravel()) - 0.5) < 0.012


def test_lira_finds_a_shift_and_keeps_its_direction():
    rng = np.random.default_rng(2)
    masks = balanced_masks(16, 2000, seed=1)
    stats = rng.normal(size=masks.shape) + rng.normal(size=(1, 2000)) * 3 + 0.5 * masks
    online = lira_scores(stats, masks, online=True, seed=0)
    offline = lira_scores(stats, masks, online=False, seed=0)
    per_record = lira_scores(stats, masks, online=True, global_variance=False, seed=0)
    assert np.isfinite(online).all() and np.isfinite(offline).all()
    assert auc(online.ravel(), masks.ravel()) > 0.58  # optimum for this shift: 0.638
    assert auc(offline.ravel(), masks.ravel()) > 0.6
    assert auc(per_record.ravel(), masks.ravel()) > 0.56
    # the raw statistic without shadows is swamped by the per-record offsets
    assert auc(stats.ravel(), masks.ravel()) < auc(online.ravel(), masks.ravel()) - 0.03
    with pytest.raises(ValueError, match="at least 4"):
        lira_scores(stats[:2], masks[:2])


def test_targets_include_the_most_outlying_records():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(500, 3))
    features[17] = 50.0
    targets = choose_targets(features, 100, seed=0)
    assert len(targets) == 100 and len(set(targets)) == 100 and 17 in targets


# ---- the audit on real rows ----------------------------------------------------------------------
def test_a_memoriser_is_caught(ofp_full, ofp_schema):
    result = audit(ofp_full.iloc[:300], Memoriser(ofp_schema), ofp_schema, n_shadows=8, n_targets=150,
                   workers=1, **FAST)
    found = aucs(result)
    assert found["ganleaks"] >= 0.95 and found["ganleaks_cal"] >= 0.95
    assert found["lira"] >= 0.95 and found["lira_dcr"] >= 0.95 and found["logan"] >= 0.95
    assert not result.at_chance
    assert result.worst.summary.tpr_at[0.001] > 0.5


class TrainedElsewhere:
    """A recipe whose models are trained on rows outside the audit population: they never saw
    the members, so no attack should separate members from non-members."""

    def __init__(self, inner, rows):
        self.inner, self.rows = inner, rows

    def clone(self, **overrides):
        return TrainedElsewhere(self.inner.clone(**overrides), self.rows)

    def fit_parsed(self, frame, resolved):
        self.inner.fit_parsed(self.rows, resolved)
        return self

    def __getattr__(self, name):  # sample, critic_statistics, reconstruction_loss, ...: the inner model's
        if name.startswith("__") or name == "inner":  # unpickling in a worker looks these up first
            raise AttributeError(name)
        return getattr(self.inner, name)


SMALL_NET = {"generator_dims": (64,), "critic_dims": (64,), "z_dim": 32, "batch_size": 64}


def test_models_that_never_saw_the_members_are_at_chance(ofp_full, ofp_schema):
    elsewhere = ofp_schema.parse(ofp_full.iloc[3000:3300]).reset_index(drop=True)
    recipe = TrainedElsewhere(Synthesizer(ofp_schema, defense="none", epochs=20, **SMALL_NET), elsewhere)
    result = audit(ofp_full.iloc[:400], recipe, ofp_schema, n_shadows=8, n_targets=200, workers=2, **FAST)
    for name, value in aucs(result).items():
        assert abs(value - 0.5) <= 0.05, (name, value)


def test_untrained_models_are_at_chance(ofp_full, ofp_schema):
    recipe = Untrained(ofp_schema, **SMALL_NET)
    result = audit(ofp_full.iloc[:600], recipe, ofp_schema, n_shadows=8, n_targets=200, workers=2, **FAST)
    for name, value in aucs(result).items():
        assert abs(value - 0.5) <= 0.05, (name, value)


def test_every_row_may_be_audited_and_none_is_its_own_reference(ofp_full, ofp_schema):
    # 600 rows, 60 of them RMIA's population: the other 540 are all audited. The data-only attacks
    # measure each record against real rows the shadow did not see; a non-member inside its own
    # reference rows looks like a non-member, which with every row audited made DOMIAS 0.531-0.535
    # (lower bounds 0.526-0.529, three seeds) on models that learn nothing. The folds keep it out
    recipe = Untrained(ofp_schema, **{k: v for k, v in TINY.items() if k != "epochs"})
    result = audit(ofp_full.iloc[:600], recipe, ofp_schema, n_shadows=8, n_targets=1000, workers=1,
                   synthetic_rows=2000, n_bootstrap=200, seed=0)
    assert len(result.targets) == 540 and len(result.population) == 60
    assert not set(result.targets) & set(result.population)
    for name in ("domias", "logan_bb"):
        lo, hi = result.attacks[name].summary.auc_ci
        assert lo <= 0.5 <= hi, (name, lo, hi)


def test_an_audit_of_a_tiny_table_scores_every_record(ofp_full, ofp_schema):
    # 24 rows (the floor is 20): a fold's reference holds a handful of rows, too few for LOGAN
    # black-box's early stopping (a tenth held out), which raised scikit-learn's "test_size = 1"
    # error for this seed; an empty reference gives the non-informative score
    recipe = Untrained(ofp_schema, z_dim=8, generator_dims=(16,), critic_dims=(16,), batch_size=8)
    result = audit(ofp_full.iloc[:24], recipe, ofp_schema, n_shadows=4, n_targets=500, workers=1,
                   synthetic_rows=200, n_bootstrap=20, seed=2)
    assert len(result.targets) == 22
    for name in ("domias", "logan_bb"):
        assert np.isfinite(result.attacks[name].scores).all(), name
    empty = np.zeros((0, 3))
    assert (blackbox_scores(np.ones((4, 3)), np.ones((5, 3)), empty) == 0.5).all()
    assert (density_ratio(np.ones((4, 3)), np.ones((5, 3)), empty) == 0).all()


def test_reference_folds_never_hold_their_own_records_or_persons():
    rng = np.random.default_rng(0)
    units = np.repeat(np.arange(50), 3)                    # 50 persons, three rows each
    member = np.isin(units, rng.choice(50, 25, replace=False))
    targets = np.concatenate([np.arange(0, 120, 3), np.arange(120, 150)])  # a row of 40 persons, then 10 whole
    task = ShadowTask(0, 0, None, None, None, None, np.arange(150, dtype=float)[:, None], member, targets,
                      8, 100, units=units)
    folds = reference_folds(task)
    assert np.array_equal(np.sort(np.concatenate([f for f, _ in folds])), np.arange(len(targets)))
    for fold, reference in folds:
        rows = reference[:, 0].astype(int)
        assert not member[rows].any()                      # real rows the shadow did not train on
        assert not set(units[rows]) & set(units[targets[fold]])
        assert len(rows)                                   # the other fold's non-members are there
    # without persons, a row is its own unit: the other rows of a person may be reference rows
    by_row = reference_folds(replace(task, units=None))
    assert sum(len(r) for _, r in by_row) > sum(len(r) for _, r in folds)


CRITIC_ATTACKS = ("lira", "lira_offline", "logan")  # white-box: the critic's statistic and its score


def strongest_gap(none, mixup, n_bootstrap=400, seed=0):
    """The strongest critic attack's AUC on `none` minus that on `mixup`, and its standard error.

    The two audits share their targets and membership masks (same seed), so a bootstrap draw takes
    the same records and the same victim models from both: the difference stays paired. The design
    is crossed (every victim scores every record); its variance is estimated as the part from
    resampling records plus the part from resampling victims."""
    assert np.array_equal(none.membership, mixup.membership)
    n_models, n_records = none.membership.shape

    def gap(models, records):
        def strongest(result):
            found = []
            for name in CRITIC_ATTACKS:
                attack = result.attacks[name]
                keep = attack.valid[np.ix_(models, records)] & np.isfinite(attack.scores[np.ix_(models, records)])
                found.append(auc(attack.scores[np.ix_(models, records)][keep],
                                 result.membership[np.ix_(models, records)][keep]))
            return max(found)
        return strongest(none) - strongest(mixup)

    rng = np.random.default_rng(seed)
    every_model, every_record = np.arange(n_models), np.arange(n_records)
    by_record = [gap(every_model, rng.integers(0, n_records, n_records)) for _ in range(n_bootstrap)]
    by_model = [gap(rng.integers(0, n_models, n_models), every_record) for _ in range(n_bootstrap)]
    return gap(every_model, every_record), float(np.sqrt(np.var(by_record) + np.var(by_model)))


@pytest.mark.slow  # evidence, not a contract: two 8-shadow audits of 600 epochs each (minutes on 2 cores)
def test_a_leaky_recipe_is_flagged_and_mixup_lowers_it(ofp_full, ofp_schema):
    # 200 training rows per shadow, 600 epochs of one critic step on all of them: the critic memorises.
    # 400 rows give 200 audited records, so the intervals are narrow enough to tell the two recipes
    # apart; the attacks are those on the critic (both recipes face the same ones: the mixup-only
    # mixed-record query is left out, and with it the paired masks it would change).
    rows = ofp_full.iloc[:400]
    found = {}
    for defense in ("none", "mixup"):
        recipe = Synthesizer(ofp_schema, defense=defense, epochs=600, batch_size=200, seed=0)
        found[defense] = audit(rows, recipe, ofp_schema, n_shadows=8, n_targets=200, workers=2,
                               attacks=("lira", "logan"), mixed_query=False, **FAST)
    summary = {d: {n: (round(r.attacks[n].summary.auc, 3), r.attacks[n].summary.auc_ci) for n in CRITIC_ATTACKS}
               for d, r in found.items()}
    # flagged: the unprotected recipe's strongest critic attack is well above chance, interval and all
    leak_none = max((found["none"].attacks[n].summary for n in CRITIC_ATTACKS), key=lambda s: s.auc)
    assert leak_none.auc_ci[0] >= 0.6 and not found["none"].at_chance, summary
    # mixup lowers it: the paired difference of the strongest attacks is above 0 at 95% (one-sided)
    gap, se = strongest_gap(found["none"], found["mixup"])
    assert gap - 1.645 * se > 0, (gap, se, summary)


def test_same_seed_same_audit_and_backends_agree(ofp_full, ofp_schema):
    recipe = Synthesizer(ofp_schema, epochs=2, **SMALL_NET)
    rows = ofp_full.iloc[:120]
    one = audit(rows, recipe, ofp_schema, n_shadows=4, n_targets=40, workers=1, seed=5, **FAST)
    two = audit(rows, recipe, ofp_schema, n_shadows=4, n_targets=40, workers=2, seed=5, **FAST)
    other = audit(rows, recipe, ofp_schema, n_shadows=4, n_targets=40, workers=1, seed=6, **FAST)
    for name, attack in one.attacks.items():
        np.testing.assert_array_equal(attack.scores, two.attacks[name].scores)
        assert np.isfinite(attack.scores[attack.valid]).all() and attack.valid.mean() > 0.9
    assert not np.array_equal(one.attacks["lira"].scores, other.attacks["lira"].scores)
    data = json.loads(json.dumps(one.to_dict()))
    assert set(data["attacks"]) >= set(ATTACKS) - {"lira_mixed"}
    assert len(data["membership"]) == 4 and len(data["targets_rows"]) == 40
    assert data["exposed_records"][0]["row"] >= 1


def test_threat_model_limits_the_attacks():
    data_only = AuditConfig(threat_model="data").selected()
    assert {a.name for a in data_only} == {"lira_dcr", "rmia_dcr", "rmia_dcr_offline", "ganleaks", "ganleaks_cal",
                                           "domias", "logan_bb"}
    assert {a.name for a in AuditConfig(attacks=("logan",)).selected()} == {"logan", "logan_bb"}
    with pytest.raises(SynthguardError, match="must be even and at least 4"):
        AuditConfig(n_shadows=5)
    with pytest.raises(SynthguardError, match="unknown attack family 'mia'"):
        AuditConfig(attacks=("mia",))
