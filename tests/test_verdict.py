"""The verdict as a calibrated decision: interval coverage and error rates by simulation with a
known truth (no training), the audit sized to the policy, and a policy that cannot be weakened."""

from __future__ import annotations

import numpy as np
import pytest

from synthguard.attacks.roc import summarize_matrix
from synthguard.attacks.simulate import ScoreModel, balanced_design, coverage
from synthguard.errors import PolicyError
from synthguard.policy import Policy
from synthguard.sizing import expected_nonmembers, nonmembers_needed, plan_audit, privacy_limits
from synthguard.verdict_rates import ErrorRate, at_limit, simulate_error_rates

# scores clustered by record (a shared level and a few vulnerable records) and by victim (unequal
# overfitting): pooled one-by-one resampling is too narrow here
CLUSTERED = ScoreModel(vulnerable_share=0.05, vulnerable_shift=2.5, record_var=0.6, model_var=0.2,
                       model_leak_sd=0.6).with_auc(0.6)


def test_the_simulated_truth_is_what_a_huge_audit_measures():
    rng = np.random.default_rng(0)
    member = balanced_design(400, 4000, rng)
    scores = CLUSTERED.draw(member, rng)
    s = summarize_matrix(scores, member, resampling="stratified", n_bootstrap=2)
    assert abs(s.auc - CLUSTERED.true_auc()) < 0.01
    assert abs(s.tpr_at[0.01] - CLUSTERED.true_tpr(0.01)) < 0.01


def test_clustered_intervals_cover_the_truth_where_pooled_ones_do_not():
    pooled = coverage(CLUSTERED, 8, 150, n_audits=150, resampling="stratified", fprs=(0.05,), n_bootstrap=150)
    clustered = coverage(CLUSTERED, 8, 150, n_audits=150, resampling="records + models", fprs=(0.05,),
                         n_bootstrap=150)
    assert pooled.auc < 0.85, pooled          # nominal 95%: far too narrow for clustered scores
    assert clustered.auc >= 0.89, clustered   # 150 audits: a binomial sd of about 0.018
    assert clustered.auc_below <= 0.06        # wholly under the truth: a leak would pass (8 victims)


def test_at_chance_the_clustered_intervals_hold_one_half():
    found = coverage(ScoreModel(), 8, 150, n_audits=150, resampling="records + models", fprs=(0.05,),
                     n_bootstrap=150)
    assert 0.89 <= found.auc <= 1.0 and found.tpr[0.05] >= 0.89


def test_records_alone_or_both_are_resampled_as_asked():
    rng = np.random.default_rng(1)
    member = balanced_design(8, 100, rng)
    scores = CLUSTERED.draw(member, rng)
    by = {r: summarize_matrix(scores, member, resampling=r, n_bootstrap=300) for r in
          ("stratified", "records", "records + models")}
    assert by["records + models"].resampling == "records + models" and by["records + models"].n_models == 8
    assert by["records"].n_records == 100 and by["stratified"].n_records == 0

    def width(s):
        return s.auc_ci[1] - s.auc_ci[0]

    # victims that overfit unequally add spread the record bootstrap alone does not see
    assert width(by["records + models"]) > width(by["records"])
    with pytest.raises(ValueError, match="unknown resampling"):
        summarize_matrix(scores, member, resampling="pairs")


SMALL_POLICY = Policy.from_dict({"audit": {"shadows": 8, "targets": 250},
                                 "privacy": {"max_auc": 0.6, "max_tpr_at_1pct_fpr": 0.08,
                                             "max_tpr_at_01pct_fpr": 0.02}})


def test_this_small_policy_is_resolved_by_its_own_audit():
    p = SMALL_POLICY.privacy
    plan = plan_audit(privacy_limits(p.max_auc, p.max_tpr_at_1pct_fpr, p.max_tpr_at_01pct_fpr), 8, 250, 10_000,
                      with_pairs=False)
    assert not plan.problems and plan.n_targets == 250


def test_false_refusals_at_chance_and_false_releases_at_the_limit_are_rare():
    rates = simulate_error_rates(SMALL_POLICY, 8, 250, n_record_attacks=10, n_pair_attacks=0, n_audits=120,
                                 n_bootstrap=150, seed=3)
    refusal = rates["false_refusal"]["per_attack"]["records"]
    assert refusal["rate"] <= 0.02, refusal   # per attack: 10 of them refuse a null recipe rarely
    for label, found in rates["false_release_at_limit"].items():
        assert found["rate"] <= 0.06, (label, found)   # 2.5% by construction; 120 audits of slack


def test_a_limit_model_sits_exactly_at_its_limit():
    assert at_limit(0.6, None, ScoreModel()).true_auc() == pytest.approx(0.6, abs=1e-9)
    assert at_limit(0.05, 0.01, ScoreModel()).true_tpr(0.01) == pytest.approx(0.05, abs=1e-9)


def test_error_rate_intervals_are_clopper_pearson():
    none = ErrorRate(0, 100)
    assert none.interval[0] == 0.0 and none.interval[1] == pytest.approx(0.0362, abs=1e-3)
    half = ErrorRate(50, 100)
    assert half.interval[0] < 0.5 < half.interval[1]


# ---- sizing ------------------------------------------------------------------------------------
def test_the_needed_scores_grow_as_a_limit_nears_chance():
    assert nonmembers_needed(0.6) < nonmembers_needed(0.55) < nonmembers_needed(0.52)
    assert nonmembers_needed(0.01, 0.001) < nonmembers_needed(0.005, 0.001)
    assert nonmembers_needed(0.001, 0.001) >= 10**12   # a limit at chance can never be resolved


def test_the_plan_raises_targets_and_refuses_what_the_table_cannot_give():
    limits = privacy_limits(0.6, 0.05, 0.01)
    plan = plan_audit(limits, 16, 100, 100_000, with_pairs=True)
    assert plan.raised and plan.n_targets > 100 and not plan.problems
    for r in plan.requirements:
        assert expected_nonmembers(r.pairs, 16, plan.n_targets) >= r.nonmembers
    small = plan_audit(limits, 16, 500, 300, with_pairs=False, epochs=300)
    assert small.problems and "shadow models" in small.problems[0] and "on this machine" in small.problems[0]


# ---- the policy: ranges, and a floor -------------------------------------------------------------
def test_every_out_of_range_policy_value_is_listed_at_once():
    with pytest.raises(PolicyError) as caught:
        Policy.from_dict({"privacy": {"max_auc": 1.5, "max_tpr_at_1pct_fpr": 2, "max_tpr_at_01pct_fpr": -1},
                          "utility": {"min_quality": -1, "max_dwp_mae": float("nan")},
                          "audit": {"attacks": []}, "holdout_share": True})
    problems = caught.value.problems
    assert len(problems) == 7, problems
    joined = " ".join(problems)
    for key in ("max_auc", "max_tpr_at_1pct_fpr", "max_tpr_at_01pct_fpr", "min_quality", "max_dwp_mae",
                "audit.attacks", "holdout_share"):
        assert key in joined


@pytest.mark.parametrize("raw", [{"privacy": {"max_auc": 0.5}}, {"audit": {"attacks": "lira"}},
                                 {"privacy": {"enforce": "no"}}, {"audit": {"shadows": 5}},
                                 {"utility": {"min_tstr_auc_lift": 3}}])
def test_hostile_policies_are_refused(raw):
    with pytest.raises(PolicyError):
        Policy.from_dict(raw)


def test_an_empty_policy_file_is_refused(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    with pytest.raises(PolicyError, match="empty"):
        Policy.load(path)


def test_switching_privacy_off_is_explicit():
    policy = Policy.from_dict({"privacy": {"enforce": False}})
    assert policy.privacy.enforce is False and Policy().privacy.enforce is True


def test_the_policy_is_a_floor():
    policy = Policy()
    every = ("lira", "rmia", "logan", "ganleaks", "domias")
    assert policy.weaker_audit(16, 500, "critic", every) == []
    assert policy.weaker_audit(32, 900, "critic", every) == []
    weaker = policy.weaker_audit(8, 100, "data", ("lira",))
    assert len(weaker) == 4 and "8 shadow models" in weaker[0] and "rmia, logan" in weaker[3]


def test_a_check_the_audit_cannot_resolve_fails_closed_and_says_so():
    from synthguard.audit import ATTACKS, AttackResult, AuditConfig, AuditResult
    from synthguard.gate import privacy_checks

    rng = np.random.default_rng(4)
    member = balanced_design(4, 40, rng)          # 80 non-member scores: far too few for the default limits
    scores = ScoreModel().draw(member, rng)
    summary = summarize_matrix(scores, member, n_bootstrap=100)
    attack = AttackResult(ATTACKS["lira"], scores, summary, member, np.ones_like(member))
    result = AuditResult(AuditConfig(n_shadows=4, n_targets=40), {"defense": "mixup"}, np.arange(40), member,
                         {"lira": attack}, 0.0, 80)
    checks = privacy_checks(Policy(), result)
    assert len(checks) == 3 and not any(c.passed for c in checks)
    assert all(c.advice.startswith("unresolved: 80 non-member scores") for c in checks)
    lenient = Policy.from_dict({"audit": {"shadows": 4, "targets": 40},
                                "privacy": {"max_auc": 0.9, "max_tpr_at_1pct_fpr": 0.9, "max_tpr_at_01pct_fpr": 0.9}})
    assert all(c.passed for c in privacy_checks(lenient, result))   # at chance, resolved: passes
    off = Policy.from_dict({"privacy": {"enforce": False}})
    assert not any(c.enforced for c in privacy_checks(off, result))


def test_a_sequential_release_plans_its_first_look_with_a_margin(ofp_schema):
    from synthguard.audit import AuditConfig
    from synthguard.release import plan_release_audit
    from synthguard.sizing import DECISION_MARGIN
    from synthguard.synthesizer import Synthesizer

    policy = Policy()
    recipe = Synthesizer(ofp_schema)  # mixup: the mixed-record pairs need the most targets
    config = AuditConfig(n_shadows=16, n_targets=policy.audit.targets, shadows_per_round=4)
    large = plan_release_audit(policy, config, recipe, 20_000)
    first = config.looks()[0][0]
    assert DECISION_MARGIN > 1 and not large.problems
    for r in large.requirements:  # every limit gets the margin's multiple of what resolves it
        assert expected_nonmembers(r.pairs, first, large.n_targets) >= DECISION_MARGIN * r.nonmembers
    bare = plan_audit(privacy_limits(0.6, 0.05, 0.01), first, config.n_targets, 20_000 - 250, with_pairs=True)
    assert large.n_targets >= DECISION_MARGIN * bare.n_targets - 4
    # a table of OFP's size gives what it can (every row but RMIA's population) and is not refused for the margin
    small = plan_release_audit(policy, config, recipe, 3_525)
    assert small.n_targets == small.max_targets and not small.problems
