"""Gate checks are data: declared beside their metrics, registered in `synthguard.checks`, built
into the verdict by `judge` in their order; a check that cannot be measured fails closed."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest

from synthguard.checks import GateCheck, gate_checks, register_check, unregister_check
from synthguard.gate import judge
from synthguard.policy import Policy

NO_ATTACKS = SimpleNamespace(attacks={}, recipe={})  # judge's privacy half reads only these
TABLE = {"quality": {"score": 0.8}, "dwp": {"mae": 0.01}, "dwpre": {"mean_abs_gap": 0.1},
         "downstream": {"accuracy_ratio": 0.9, "auc_ratio": 0.9, "auc_lift": 0.5},
         "distance": {"exact_copy_rate": 0.0, "share_closer_than_holdout_p5": 0.04}, "n_synthetic": 1000}
BUILT_IN = ["sdmetrics quality score", "DWP mean absolute difference", "DWpre mean gap", "TSTR accuracy ratio",
            "TSTR ROC AUC ratio", "TSTR ROC AUC lift over chance, share of real",
            "synthetic rows identical to a training row", "rows behind the rarest released category"]


@pytest.fixture()
def declared():
    """Checks a test registers, removed again after it."""
    names = []

    def declare(check: GateCheck) -> GateCheck:
        names.append(check.name)
        return register_check(check)

    yield declare
    for name in names:
        unregister_check(name)


def test_the_built_in_checks_are_declared_beside_their_metrics_in_the_verdicts_order():
    found = gate_checks()
    assert [c.name for c in found] == BUILT_IN
    assert [c.metric for c in found[:7]] == ["quality", "dwp", "dwpre", "downstream", "downstream", "downstream",
                                              "distance"]
    verdict = judge(Policy(), NO_ATTACKS, TABLE, 10)
    assert [c.name for c in verdict.checks] == [n for n in BUILT_IN if n != "TSTR ROC AUC ratio"]  # no limit
    assert verdict.passed, verdict.summary()


def test_a_check_declared_here_appears_in_the_verdict(declared):
    declared(GateCheck("synthetic rows closer than the holdout's 5th percentile", "disclosure", "distance",
                       "share_closer_than_holdout_p5", lambda policy: 0.03, "<=", "train fewer epochs"))
    declared(GateCheck("DWP again, between DWP and DWpre", "utility", "dwp", "mae", "utility.max_dwp_mae", "<=",
                       "as DWP", order=25))
    verdict = judge(Policy(), NO_ATTACKS, TABLE, 10)
    names = [c.name for c in verdict.checks]
    assert names[-1] == "synthetic rows closer than the holdout's 5th percentile"
    assert names.index("DWP again, between DWP and DWpre") == names.index("DWpre mean gap") - 1
    mine = verdict.checks[-1]
    assert (mine.kind, mine.measured, mine.limit, mine.comparison, mine.passed) == ("disclosure", 0.04, 0.03, "<=",
                                                                                      False)
    assert verdict.failed == [mine] and mine.to_dict()["advice"] == "train fewer epochs"
    assert "synthetic rows closer than the holdout's 5th percentile" in verdict.to_dict()["failed"]


def test_a_check_that_cannot_be_measured_fails_closed(declared):
    unmeasured = {**TABLE, "downstream": {**TABLE["downstream"], "auc_lift": None}, "quality": {}}
    verdict = judge(Policy(), NO_ATTACKS, unmeasured, None)
    failed = {c.name: c for c in verdict.failed}
    assert set(failed) == {"sdmetrics quality score", "TSTR ROC AUC lift over chance, share of real"}
    for check in failed.values():
        assert check.measured is None and check.advice.startswith("the metric could not be measured: ")
    # a declared check whose metric is missing: left out when the metric may not apply, failed
    # closed when it is required; the copies check is required (a release always measures copies)
    declared(GateCheck("optional", "utility", "not measured", "x", "utility.min_quality", ">=", "-"))
    declared(GateCheck("required", "disclosure", "not measured", "x", "max_exact_copies", "<=", "-", required=True))
    without_copies = {k: v for k, v in TABLE.items() if k != "distance"}
    verdict = judge(Policy(), NO_ATTACKS, without_copies, 10)
    names = [c.name for c in verdict.checks]
    assert "optional" not in names
    assert {c.name for c in verdict.failed} == {"required", "synthetic rows identical to a training row"}
    assert all(c.measured is None for c in verdict.failed)


def test_metrics_that_do_not_apply_and_limits_switched_off_give_no_check():
    image = {"downstream": {"accuracy_ratio": 0.95}, "frechet": {}, "n_synthetic": 50,
             "distance": {"exact_copy_rate": 0.0}}
    policy = Policy.from_dict({"utility": {"min_tstr_auc_lift": None}})
    assert [c.name for c in judge(policy, NO_ATTACKS, image, None).checks] == [
        "TSTR accuracy ratio", "synthetic rows identical to a training row"]
    assert "TSTR accuracy ratio" not in [c.name for c in judge(Policy(), NO_ATTACKS, {**TABLE, "downstream": None},
                                                                 None).checks]


def test_a_declaration_is_checked_and_a_name_is_registered_once(declared):
    with pytest.raises(ValueError, match="comparison must be one of"):
        GateCheck("x", "utility", "dwp", "mae", "utility.max_dwp_mae", "<", "-")
    with pytest.raises(ValueError, match="kind must be one of"):
        GateCheck("x", "privacy", "dwp", "mae", "utility.max_dwp_mae", "<=", "-")
    with pytest.raises(ValueError, match="already registered"):
        register_check(GateCheck("DWpre mean gap", "utility", "dwpre", "mean_abs_gap", "utility.max_dwpre_gap",
                                 "<=", "-"))


def test_the_registry_imports_nothing_heavy():
    code = ("import sys, synthguard.checks; heavy = {'torch', 'sklearn', 'pandas', 'sdmetrics', 'scipy'} & "
            "set(sys.modules); assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
