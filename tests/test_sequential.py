"""The sequential audit: looks that share the single look's error, a stopping rule that belongs to the
gate, and a release that stops training shadows once its privacy verdict is decided."""

from __future__ import annotations

import numpy as np
import pytest

from synthguard.attacks.calibration import Memoriser
from synthguard.attacks.registry import get_attack
from synthguard.attacks.roc import summarize_matrix
from synthguard.attacks.simulate import ScoreModel, balanced_design
from synthguard.audit import AttackResult, AuditConfig, AuditResult, audit
from synthguard.errors import SynthguardError
from synthguard.gate import open_checks, privacy_checks, privacy_decided
from synthguard.policy import Policy
from synthguard.release import release
from synthguard.verdict_rates import at_limit, simulate_sequential

FAST = {"synthetic_rows": 1000, "n_bootstrap": 100}


def test_looks_share_the_error_of_one_look():
    looks = AuditConfig(n_shadows=16, shadows_per_round=4).looks()
    assert [k for k, _ in looks] == [4, 8, 12, 16]
    assert sum(1 - c for _, c in looks) == pytest.approx(0.05)
    assert AuditConfig(n_shadows=16).looks() == [(16, pytest.approx(0.95))]
    with pytest.raises(SynthguardError, match="divide"):
        AuditConfig(n_shadows=16, shadows_per_round=6)


def test_a_sequential_audit_stops_when_told_and_records_its_looks(ofp_full, ofp_schema):
    frame = ofp_full.iloc[:240]
    told = audit(frame, Memoriser(ofp_schema), ofp_schema, n_shadows=8, shadows_per_round=4, n_targets=80,
                 attacks=("ganleaks",), threat_model="data", stop=lambda result: True, **FAST)
    assert told.n_shadows == 4 and [look["shadows"] for look in told.looks] == [4]
    assert told.looks[0]["stopped"] and told.attacks["ganleaks"].summary.confidence == pytest.approx(0.975)
    full = audit(frame, Memoriser(ofp_schema), ofp_schema, n_shadows=8, shadows_per_round=4, n_targets=80,
                 attacks=("ganleaks",), threat_model="data", stop=lambda result: False, **FAST)
    assert full.n_shadows == 8 and [look["stopped"] for look in full.looks] == [False, True]
    # the first round is the same shadows either way: stopping changes how many, not which
    assert np.array_equal(full.statistics["nn_distance"][:4], told.statistics["nn_distance"])


def _one_attack(model: ScoreModel, n_models: int, n_targets: int, seed: int) -> AuditResult:
    rng = np.random.default_rng(seed)
    member = balanced_design(n_models, n_targets, rng)
    scores = model.draw(member, rng)
    summary = summarize_matrix(scores, member, n_bootstrap=200, confidence=0.9875, seed=seed)
    attack = AttackResult(get_attack("lira"), scores, summary, member, np.ones_like(member))
    return AuditResult(AuditConfig(n_shadows=16, shadows_per_round=4), {"defense": "mixup"}, np.arange(n_targets),
                       member, {"lira": attack}, 0.0, 2 * n_targets)


def test_the_gate_stops_on_a_sure_failure_or_when_every_check_has_passed():
    policy = Policy()
    # at chance with enough non-member scores (4 x 1,300 / 2 = 2,600) every check passes: decided
    chance = _one_attack(ScoreModel(), 4, 1300, seed=1)
    assert all(c.passed for c in privacy_checks(policy, chance))
    assert privacy_decided(policy, chance)
    # far above the AUC limit: its lower bound is over it, decided at once
    leaky = _one_attack(ScoreModel().with_auc(0.75), 4, 1300, seed=2)
    assert leaky.attacks["lira"].summary.auc_ci[0] > policy.privacy.max_auc
    assert privacy_decided(policy, leaky)
    # at chance but too few non-member scores to resolve the limits: more shadows may tell
    small = _one_attack(ScoreModel(), 4, 200, seed=3)
    assert not privacy_decided(policy, small)
    # right at the AUC limit: neither side is sure
    edge = _one_attack(ScoreModel().with_auc(policy.privacy.max_auc), 4, 1300, seed=4)
    assert not privacy_decided(policy, edge)
    # what a look left open is said: the attack, the check, its upper bound and the scores behind it
    assert open_checks(policy, chance) == []
    assert not any(c.startswith("lira: AUC") for c in open_checks(policy, leaky))  # failed is decided, not open
    assert open_checks(policy, small) and all(c.startswith("lira: ") and "(upper " in c and "400 non-member scores" in c
                                              for c in open_checks(policy, small))
    assert any(c.startswith("lira: AUC (upper 0.6") for c in open_checks(policy, edge))


def test_the_passport_explains_a_sequential_audit_and_only_a_sequential_one():
    from synthguard.verdict_rates import error_rates

    policy = Policy()
    first = [{"shadows": 4, "confidence": 0.9875, "stopped": True}]  # decided at its first look of four
    assert "sequential" in error_rates(policy, 4, 3275, first, most_shadows=16)
    # one look of all the shadows is not sequential, even at a tuned release's share of the error
    assert "sequential" not in error_rates(policy, 16, 500, [{"shadows": 16, "confidence": 0.95}], most_shadows=16)
    assert "sequential" not in error_rates(policy, 8, 500, [{"shadows": 8, "confidence": 0.975}], most_shadows=8)
    # the simulated design quoted is the one with the most targets not over the audit's
    quoted = {n: error_rates(policy, 4, n, first, most_shadows=16)["sequential"]["measured"] for n in (3275, 3000, 100)}
    assert quoted[3275]["targets"] == 3275 and quoted[3275]["applies_to_this_audit"]
    assert quoted[3000]["targets"] == 1235 and not quoted[3000]["applies_to_this_audit"]
    assert quoted[100]["targets"] == 1235  # nothing smaller was simulated: the smallest
    assert quoted[3275]["false_refusal_at_chance_per_attack"] <= 0.05 and quoted[3275]["looks"][0][0] == 4


def test_a_release_notes_what_each_look_left_open():
    from synthguard.release import _GateRule

    policy = Policy()
    small, chance = _one_attack(ScoreModel(), 4, 200, seed=3), _one_attack(ScoreModel(), 8, 1300, seed=1)
    rule = _GateRule(policy)
    assert rule(small) is False                    # undecided: the audit trains another round
    chance.looks = [{"shadows": 4, "stopped": False}, {"shadows": 8, "stopped": True}]
    noted = rule.noted(chance).looks
    assert noted[0]["open"] == open_checks(policy, small) and noted[0]["open"]
    assert "open" not in noted[1]                  # the last look is the verdict's, not a stopping decision
    cancelled = _GateRule(policy, cancelled=lambda: True)
    assert cancelled(small) is True


@pytest.mark.slow  # a simulation (about 30 s); benchmarks/sequential_calibration.py measures it at scale
def test_looking_four_times_keeps_the_false_release_rate_near_a_single_look():
    # a recipe exactly at the TPR at 1% FPR limit, audited in four looks: it may pass at most about
    # 2.5% of the time overall. Looking four times at 95% each (no spending) passes it far more.
    policy = Policy()
    model = at_limit(policy.privacy.max_tpr_at_1pct_fpr, 0.01, ScoreModel())
    spent = AuditConfig(n_shadows=16, shadows_per_round=4).looks()
    unspent = [(k, 0.95) for k, _ in spent]
    runs = {name: simulate_sequential(policy, model, looks, 700, n_audits=60, n_bootstrap=150, seed=5)
            for name, looks in (("spent", spent), ("unspent", unspent))}
    assert runs["spent"]["passed"]["events"] <= 4            # 60 audits: at most ~7%
    assert runs["unspent"]["passed"]["events"] >= runs["spent"]["passed"]["events"]


def test_a_release_of_a_memoriser_stops_after_the_first_round(tmp_path, ofp_full, ofp_schema):
    policy = Policy.from_dict({"format_version": 1, "audit": {"shadows": 8, "targets": 60, "shadows_per_round": 4},
                               "privacy": {"max_auc": 0.9, "max_tpr_at_1pct_fpr": 0.5, "max_tpr_at_01pct_fpr": 0.5}})
    outcome = release(ofp_full.iloc[:400], ofp_schema, tmp_path / "rel", policy=policy,
                      recipe=Memoriser(ofp_schema), audit_options={"workers": 1, **FAST})
    assert not outcome.passed
    assert outcome.audit.n_shadows == 4 and len(outcome.audit.looks) == 1
    assert "sequential" in outcome.passport.error_rates  # the passport explains the looks
    assert "It was sequential" in (tmp_path / "rel" / "report.html").read_text(encoding="utf-8")
    assert not (tmp_path / "rel" / "synthetic.parquet").exists()
