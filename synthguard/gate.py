"""The release gate: every policy threshold becomes a check with the measured value, the limit,
pass/fail, and what to try when it fails. The verdict passes only if every check passes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .audit import AuditResult
from .policy import Policy

PRIVACY_ADVICE = ("train with --defense mixup or a larger --alpha; train fewer epochs; merge rare categories and "
                  "review the most exposed records (outliers leak first); more rows per model also help")
QUALITY_ADVICE = "train more epochs or a larger batch (then re-check privacy); check the schema's column types"
COPY_ADVICE = ("train fewer epochs or with mixup; mark identifying columns `sensitive` or `id`; merge rare "
               "categories (rare_category_count)")
RARE_ADVICE = "raise rare_category_count (or declare coarser categories in the schema)"


@dataclass(frozen=True)
class Check:
    name: str
    kind: str            # privacy | utility | disclosure
    measured: float | None
    limit: float
    comparison: str      # "<=" or ">="
    passed: bool
    advice: str = ""

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
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def summary(self) -> str:
        if self.passed:
            return f"all {len(self.checks)} checks passed"
        shown = self.failed[:3]
        names = "; ".join(f"{c.name} {_value(c.measured)} (limit {c.comparison} {c.limit:g})" for c in shown)
        more = f"; and {len(self.failed) - len(shown)} more" if len(self.failed) > len(shown) else ""
        return f"{len(self.failed)} of {len(self.checks)} checks failed: {names}{more}"

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "failed": [c.name for c in self.failed], "summary": self.summary(),
                "checks": [c.to_dict() for c in self.checks]}


def _value(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.4g}"


def _check(name: str, kind: str, measured: float | None, limit: float | None, comparison: str, advice: str) -> Check | None:
    if limit is None:
        return None
    if measured is None:  # a metric the policy asks for but the data could not give fails closed
        return Check(name, kind, None, float(limit), comparison, False, "the metric could not be measured: " + advice)
    ok = measured <= limit if comparison == "<=" else measured >= limit
    return Check(name, kind, float(measured), float(limit), comparison, bool(ok), advice)


def judge(policy: Policy, audit: AuditResult, utility: dict[str, Any], min_category_count: int | None) -> Verdict:
    """Every threshold of the policy against the audit and the utility metrics (`to_dict` form)."""
    checks: list[Check | None] = []
    p = policy.privacy
    for name, attack in audit.attacks.items():
        s = attack.summary
        checks.append(_check(f"{name}: AUC, upper 95% bound", "privacy", s.auc_ci[1], p.max_auc, "<=", PRIVACY_ADVICE))
        for fpr, limit, label in ((0.01, p.max_tpr_at_1pct_fpr, "1%"), (0.001, p.max_tpr_at_01pct_fpr, "0.1%")):
            advice = PRIVACY_ADVICE
            if s.n_nonmembers < s.negatives_needed[fpr]:
                advice = (f"only {s.n_nonmembers} non-member scores: TPR at {label} FPR needs at least "
                          f"{s.negatives_needed[fpr]} to be resolved; raise --shadows or --targets. " + advice)
            checks.append(_check(f"{name}: TPR at {label} FPR, upper 95% bound", "privacy", s.tpr_ci[fpr][1],
                                 limit, "<=", advice))
    u = policy.utility
    down = utility.get("downstream") or {}
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
    checks += [
        _check("TSTR accuracy ratio", "utility", down.get("accuracy_ratio"), u.min_tstr_accuracy_ratio, ">=",
               QUALITY_ADVICE),
        _check("TSTR ROC AUC ratio", "utility", down.get("auc_ratio"), u.min_tstr_auc_ratio, ">=", QUALITY_ADVICE),
    ]
    distance = utility["distance"]
    copies = round(distance["exact_copy_rate"] * utility["n_synthetic"])
    checks.append(_check("synthetic rows identical to a training row", "disclosure", copies, policy.max_exact_copies,
                         "<=", COPY_ADVICE))
    if min_category_count is not None:
        checks.append(_check("rows behind the rarest released category", "disclosure", min_category_count,
                             policy.min_category_count, ">=", RARE_ADVICE))
    return Verdict(tuple(c for c in checks if c is not None))
