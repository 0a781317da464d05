"""The release gate: every policy threshold becomes a check with the measured value, the limit,
pass/fail, and what to try when it fails. The verdict passes only if every check passes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .audit import AuditResult
from .policy import Policy
from .sizing import nonmembers_needed, privacy_limits

QUALITY_ADVICE = ("train more epochs or with a larger batch (then audit again: leakage grows with training); "
                  "check the schema's column types")
COPY_ADVICE = ("train fewer epochs or with the mixup defence; mark identifying columns `sensitive` or `id`; merge "
               "rare categories (rare_category_count)")
RARE_ADVICE = "raise rare_category_count (or declare coarser categories in the schema)"


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
    """Three checks per attack (AUC and TPR at 1% and 0.1% FPR), each on the upper end of its 95%
    interval. A limit the audit's non-member scores cannot resolve (`synthguard.sizing`) fails
    closed and says so: a release is never decided by a check too small to tell."""
    p = policy.privacy
    advice = privacy_advice(audit.recipe.get("defense"), audit.recipe.get("alpha"))
    checks = []
    for name, attack in audit.attacks.items():
        s = attack.summary
        for label, limit, fpr in privacy_limits(p.max_auc, p.max_tpr_at_1pct_fpr, p.max_tpr_at_01pct_fpr):
            upper = s.auc_ci[1] if fpr is None else s.tpr_ci[fpr][1]
            needed = nonmembers_needed(limit, fpr)
            if s.n_nonmembers < needed:
                check = Check(f"{name}: {label}, upper 95% bound", "privacy", upper, float(limit), "<=", False,
                              f"unresolved: {s.n_nonmembers:,} non-member scores, the limit needs at least {needed:,} "
                              "to be told from noise; audit more targets or shadow models", p.enforce)
            else:
                check = Check(f"{name}: {label}, upper 95% bound", "privacy", float(upper), float(limit), "<=",
                              bool(upper <= limit), advice, p.enforce)
            checks.append(check)
    return checks


def judge(policy: Policy, audit: AuditResult, utility: dict[str, Any], min_category_count: int | None) -> Verdict:
    """Every threshold of the policy against the audit and the utility metrics (`to_dict` form)."""
    checks: list[Check | None] = list(privacy_checks(policy, audit))
    u = policy.utility
    down = utility.get("downstream")
    # metrics that do not apply to the data (sdmetrics, DWP and DWpre on pixels) are absent: no check
    if "quality" in utility:
        checks += [
            _check("sdmetrics quality score", "utility", utility["quality"]["score"], u.min_quality, ">=",
                   QUALITY_ADVICE),
            _check("DWP mean absolute difference", "utility", utility["dwp"]["mae"], u.max_dwp_mae, "<=",
                   QUALITY_ADVICE),
            _check("DWpre mean gap", "utility", utility["dwpre"]["mean_abs_gap"], u.max_dwpre_gap, "<=",
                   QUALITY_ADVICE),
        ]
    if down is not None:  # a table without a target column (no condition) has no downstream task
        checks += [
            _check("TSTR accuracy ratio", "utility", down.get("accuracy_ratio"), u.min_tstr_accuracy_ratio, ">=",
                   QUALITY_ADVICE),
            _check("TSTR ROC AUC ratio", "utility", down.get("auc_ratio"), u.min_tstr_auc_ratio, ">=", QUALITY_ADVICE),
            _check("TSTR ROC AUC lift over chance, share of real", "utility", down.get("auc_lift"),
                   u.min_tstr_auc_lift, ">=", QUALITY_ADVICE),
        ]
    distance = utility["distance"]
    copies = round(distance["exact_copy_rate"] * utility["n_synthetic"])
    checks.append(_check("synthetic rows identical to a training row", "disclosure", copies, policy.max_exact_copies,
                         "<=", COPY_ADVICE))
    if min_category_count is not None:
        checks.append(_check("rows behind the rarest released category", "disclosure", min_category_count,
                             policy.min_category_count, ">=", RARE_ADVICE))
    return Verdict(tuple(c for c in checks if c is not None))


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
