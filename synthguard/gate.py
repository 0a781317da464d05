"""The release gate: every policy threshold becomes a check with the measured value, the limit,
pass/fail, and what to try when it fails. The verdict passes only if every check passes.

Privacy checks come from the audit's attacks (`privacy_checks`); utility and disclosure checks are
declared beside their metrics and registered in `synthguard.checks`, from which `judge` builds them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .audit import AuditResult
from .checks import COPY_ADVICE, MODEL_METRIC, QUALITY_ADVICE, RARE_ADVICE, GateCheck, gate_checks
from .policy import Policy
from .sizing import nonmembers_needed, privacy_limits

__all__ = ["COPY_ADVICE", "QUALITY_ADVICE", "RARE_ADVICE", "SEQUENCE_CHECK", "Check", "Verdict", "declared_check",
           "judge", "open_checks", "privacy_advice", "privacy_checks", "privacy_decided", "privacy_lines", "sequence_check",
           "sequence_states"]


def privacy_advice(defense: str | None, alpha: float | None) -> str:
    """What to try when an attack beats a limit, given the recipe that was audited."""
    if defense == "mixup":
        first = (f"mixup is already on (alpha {alpha if alpha is not None else 1.0:g}): train fewer epochs, or use a "
                 "larger alpha")
    else:
        first = f"train with the mixup defence (this recipe used {defense or 'no defence'}), or train fewer epochs"
    return (first + "; merge rare categories and review the most exposed records (outliers leak first); more rows "
            "per model also help")


@dataclass(frozen=True)
class Check:
    name: str
    kind: str            # privacy | utility | disclosure
    measured: float | None
    limit: float
    comparison: str      # "<=" or ">="
    passed: bool
    advice: str = ""
    enforced: bool = True  # False: shown, but it does not decide (a policy that switched it off)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.passed:
            out["advice"] = ""
        return out


@dataclass(frozen=True)
class Verdict:
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks if c.enforced)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.enforced and not c.passed]

    @property
    def privacy_enforced(self) -> bool:
        return all(c.enforced for c in self.checks if c.kind == "privacy")

    def summary(self) -> str:
        if self.passed:
            return f"all {len(self.checks)} checks passed"
        shown = self.failed[:3]
        names = "; ".join(f"{c.name} {_value(c.measured)} (limit {c.comparison} {c.limit:g})" for c in shown)
        more = f"; and {len(self.failed) - len(shown)} more" if len(self.failed) > len(shown) else ""
        return f"{len(self.failed)} of {len(self.checks)} checks failed: {names}{more}"

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "failed": [c.name for c in self.failed], "summary": self.summary(),
                "privacy_enforced": self.privacy_enforced, "checks": [c.to_dict() for c in self.checks]}


def _value(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.4g}"


def _check(name: str, kind: str, measured: float | None, limit: float | None, comparison: str, advice: str) -> Check | None:
    if limit is None:
        return None
    if measured is None:  # a metric the policy asks for but the data could not give fails closed
        return Check(name, kind, None, float(limit), comparison, False, "the metric could not be measured: " + advice)
    ok = measured <= limit if comparison == "<=" else measured >= limit
    return Check(name, kind, float(measured), float(limit), comparison, bool(ok), advice)


def privacy_checks(policy: Policy, audit: AuditResult) -> list[Check]:
    """Three checks per attack (AUC and TPR at 1% and 0.1% FPR), each on the upper end of its
    interval (95%, or the last look's level in a sequential audit). A limit the audit's non-member
    scores cannot resolve (`synthguard.sizing`) fails closed and says so: a release is never
    decided by a check too small to tell."""
    p = policy.privacy
    advice = privacy_advice(audit.recipe.get("defense"), audit.recipe.get("alpha"))
    checks = []
    for name, attack in audit.attacks.items():
        s = attack.summary
        level = f"{100 * s.confidence:.4g}%"
        for label, limit, fpr in privacy_limits(p.max_auc, p.max_tpr_at_1pct_fpr, p.max_tpr_at_01pct_fpr):
            upper = s.auc_ci[1] if fpr is None else s.tpr_ci[fpr][1]
            needed = nonmembers_needed(limit, fpr)
            if s.n_nonmembers < needed:
                check = Check(f"{name}: {label}, upper {level} bound", "privacy", upper, float(limit), "<=", False,
                              f"unresolved: {s.n_nonmembers:,} non-member scores, the limit needs at least {needed:,} "
                              "to be told from noise; audit more targets or shadow models", p.enforce)
            else:
                check = Check(f"{name}: {label}, upper {level} bound", "privacy", float(upper), float(limit), "<=",
                              bool(upper <= limit), advice, p.enforce)
            checks.append(check)
    return checks


def check_states(summary: Any, policy: Policy) -> list[str]:
    """Each privacy limit of the policy for one attack's summary, at one look: "failed" (its lower
    bound is over the limit), "passed" (resolved, and its upper bound is under), or "open"."""
    p = policy.privacy
    states = []
    for _label, limit, fpr in privacy_limits(p.max_auc, p.max_tpr_at_1pct_fpr, p.max_tpr_at_01pct_fpr):
        low, high = summary.auc_ci if fpr is None else summary.tpr_ci[fpr]
        if low > limit:
            states.append("failed")
        elif high <= limit and summary.n_nonmembers >= nonmembers_needed(limit, fpr):
            states.append("passed")
        else:
            states.append("open")
    return states


def open_checks(policy: Policy, audit: AuditResult) -> list[str]:
    """The privacy checks a look left undecided, each as "attack: check (upper bound)" (prefixed
    with the checkpoint's epochs when the audit keeps checkpoints): why a sequential audit went on."""
    p = policy.privacy
    limits = privacy_limits(p.max_auc, p.max_tpr_at_1pct_fpr, p.max_tpr_at_01pct_fpr)
    curve = audit.curve()
    out = []
    for epoch, result in curve:
        where = f"epoch {epoch}, " if len(curve) > 1 else ""
        for name, attack in result.attacks.items():
            s = attack.summary
            for (label, _limit, fpr), state in zip(limits, check_states(s, policy), strict=True):
                if state == "open":
                    upper = s.auc_ci[1] if fpr is None else s.tpr_ci[fpr][1]
                    out.append(f"{where}{name}: {label} (upper {upper:.4f}, {s.n_nonmembers:,} non-member scores)")
    return out


def privacy_decided(policy: Policy, audit: AuditResult) -> bool:
    """A sequential audit's stopping rule, at one look: True when more shadows cannot change the
    privacy verdict. A check is decided *passed* when it is resolved and its upper bound is under
    its limit, decided *failed* when its lower bound is over its limit (the leak is established,
    however many shadows follow). An enforced policy's verdict is decided once one check has
    failed or all have passed; an unenforced one runs until every check is decided.

    An audit with checkpoints is decided under the fixed-sequence rule (`sequence_states`): walking
    the checkpoints from the shortest, each must be decided; the walk ends, decided, at the first
    checkpoint with a failed check (no longer training is tested after it).

    Every look's intervals are at the level its share of the error allows (`AuditConfig.looks`),
    so the chance that a recipe at a limit passes at SOME look stays within the single-look 2.5%."""
    for _epoch, result in audit.curve():
        states = [state for attack in result.attacks.values() for state in check_states(attack.summary, policy)]
        if not states:
            return False
        if policy.privacy.enforce and "failed" in states:
            return True
        if "open" in states:
            return False
    return True


def sequence_states(policy: Policy, audit: AuditResult) -> list[tuple[int | None, str]]:
    """The fixed-sequence test over an audit's checkpoints, from the shortest training: (epochs,
    "passed" | "failed" | "not tested") each. A checkpoint passes when every privacy check of its
    audit passes; after the first that fails, no longer checkpoint is tested.

    Why this keeps the error rate of a single verdict however many checkpoints there are: a false
    release of some checkpoint needs the first checkpoint at or over a limit (in this order) to
    pass, since every later one is then untested, and that one check passes falsely in at most
    2.5% of audits (Westfall and Krishen's fixed-sequence procedure; no split of the error is
    needed). It spends nothing on checkpoints past the first failure, which is where leakage,
    growing with training, puts them."""
    out: list[tuple[int | None, str]] = []
    tested = True
    for epoch, result in audit.curve():
        if not tested:
            out.append((epoch, "not tested"))
            continue
        passed = all(c.passed for c in privacy_checks(policy, result))
        out.append((epoch, "passed" if passed else "failed"))
        tested = passed
    return out


#: the check a checkpoint gets in a tuned release when a shorter one failed a privacy check
SEQUENCE_CHECK = "privacy checks of every shorter training (fixed-sequence test)"
SEQUENCE_ADVICE = ("a shorter training of this recipe failed a privacy check; the checkpoints are tested in order of "
                   "training length and none after a failure is tested: train fewer epochs or defend more strongly")


def sequence_check(failed_before: int, enforced: bool) -> Check:
    """The fixed-sequence check of one checkpoint: how many shorter checkpoints failed (limit 0)."""
    return Check(SEQUENCE_CHECK, "privacy", float(failed_before), 0.0, "<=", failed_before == 0, SEQUENCE_ADVICE,
                 enforced)


def judge(policy: Policy, audit: AuditResult, utility: dict[str, Any], min_category_count: int | None) -> Verdict:
    """Every threshold of the policy against the audit and the utility metrics (`to_dict` form):
    the privacy checks, then every declared check (`synthguard.checks.gate_checks`) in its order.
    `min_category_count` is the released model's rarest category count (None: it cannot say)."""
    checks: list[Check | None] = list(privacy_checks(policy, audit))
    measurements = dict(utility)
    if min_category_count is not None:
        measurements[MODEL_METRIC] = {"smallest_category_count": min_category_count}
    checks += [declared_check(spec, policy, measurements) for spec in gate_checks()]
    return Verdict(tuple(c for c in checks if c is not None))


def declared_check(spec: GateCheck, policy: Policy, measurements: dict[str, Any]) -> Check | None:
    """A declared check judged on the measurements: None when the policy switches it off or its
    metric does not apply to the data (absent: sdmetrics, DWP and DWpre on pixels; a table without
    a target has no downstream task); a value that could not be measured fails closed."""
    if not spec.applies(measurements):
        return None
    return _check(spec.name, spec.kind, spec.measured(measurements), spec.limit_of(policy), spec.comparison,
                  spec.advice)


def privacy_lines(audit: AuditResult, verdict: Verdict | None = None) -> list[dict[str, Any]]:
    """The verdict's lead: one line per threat model, its strongest attack with AUC and TPR at 1%
    FPR and their intervals, and whether every check of that attack passed (None without a verdict)."""
    from .audit import headline

    out = []
    for threat, attack in audit.strongest_by_threat().items():
        passed = None
        if verdict is not None:
            own = [c for c in verdict.checks if c.kind == "privacy" and c.name.startswith(attack.spec.name + ":")]
            passed = all(c.passed for c in own)
        out.append({"threat_model": threat, "attack": attack.spec.name, "line": headline(attack), "passed": passed,
                    "auc": attack.summary.auc, "auc_ci": list(attack.summary.auc_ci),
                    "tpr_at_1pct": attack.summary.tpr_at[0.01], "tpr_at_1pct_ci": list(attack.summary.tpr_ci[0.01])})
    return out
