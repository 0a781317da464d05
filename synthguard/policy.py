"""The release policy: what an audit must show before synthetic rows may leave.

A policy is YAML with a format version; unknown keys are errors (a typo must not silently turn a
limit off), and every value is range-checked, all problems reported at once. Every default lives in
`Policy` below and is documented, with its reasons, in `schemas/policy.default.yaml` (a test keeps
the two equal). Privacy limits apply to the UPPER bound of each attack's 95% interval (resampled
by record and victim model), so a small audit cannot pass by luck.

The policy's audit settings are a floor: settings given beside it (from the command line or the
API) may make the audit stronger (more shadows or targets, a stronger threat model, more attack
families) but never weaker (`Policy.weaker_audit`). A policy may switch the privacy checks off
only by saying so (`privacy: {enforce: false}`); the passport and the report then say it in red.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .attacks.registry import THREAT_MODELS, families
from .errors import PolicyError
from .io import read_yaml

FORMAT_VERSION = 1


@dataclass(frozen=True)
class AuditPolicy:
    threat_model: str = "critic"      # judge the internal worst case: the critic leaks too
    shadows: int = 16                 # the most shadow models the audit trains
    targets: int = 500
    attacks: tuple[str, ...] = ("lira", "rmia", "logan", "ganleaks", "domias")
    shadows_per_round: int | None = 4   # a sequential audit in rounds of this many; null = all at once


@dataclass(frozen=True)
class PrivacyPolicy:
    max_auc: float = 0.60                   # upper 95% bound, every attack
    max_tpr_at_1pct_fpr: float = 0.05       # 5x the false-positive rate
    max_tpr_at_01pct_fpr: float = 0.01      # 10x the false-positive rate
    enforce: bool = True                    # False: measured and shown, but they do not decide


@dataclass(frozen=True)
class UtilityPolicy:
    min_quality: float | None = 0.70            # sdmetrics QualityReport overall score
    max_dwp_mae: float | None = 0.05            # mean |p_real - p_synthetic| over 0/1 dimensions
    max_dwpre_gap: float | None = 0.15          # mean |score_real - score_synthetic| over columns
    min_tstr_accuracy_ratio: float | None = 0.85  # train-synthetic-test-real over train-real-test-real
    min_tstr_auc_ratio: float | None = None
    #: TSTR ROC AUC's lift over chance as a share of the real-trained lift: (AUC_tstr - 0.5) /
    #: (AUC_trtr - 0.5). A majority-class guess scores 0 here, whatever the accuracy says.
    min_tstr_auc_lift: float | None = 0.25


@dataclass(frozen=True)
class Policy:
    holdout_share: float = 0.2              # real rows kept out of training, for utility
    max_exact_copies: int = 0               # synthetic rows identical to a training row
    min_category_count: int = 5             # categories held by fewer training rows must be merged
    audit: AuditPolicy = field(default_factory=AuditPolicy)
    privacy: PrivacyPolicy = field(default_factory=PrivacyPolicy)
    utility: UtilityPolicy = field(default_factory=UtilityPolicy)
    format_version: int = FORMAT_VERSION

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        raw = read_yaml(path, "policy")
        if raw is None:
            raise PolicyError(f"{path}: the policy file is empty (to use the default policy, give no policy file)")
        return cls.from_dict(raw, source=str(path))

    @classmethod
    def from_dict(cls, raw: Any, source: str = "policy") -> Policy:
        """Build and check a policy; every problem is listed at once in one `PolicyError`."""
        if not isinstance(raw, dict):
            raise PolicyError(f"{source}: expected a mapping of policy settings")
        version = raw.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise PolicyError(f"{source}: format_version {version!r} is not supported (this synthguard reads {FORMAT_VERSION})")
        problems: list[str] = []
        sections = {"audit": AuditPolicy, "privacy": PrivacyPolicy, "utility": UtilityPolicy}
        values = _checked(raw, cls, "", problems)
        for key, section in sections.items():
            if key in values:
                if not isinstance(values[key], dict):
                    problems.append(f"`{key}` must be a mapping")
                    del values[key]
                    continue
                inner = _checked(values[key], section, f"{key}.", problems)
                if "attacks" in inner:
                    attacks = inner["attacks"]
                    if not isinstance(attacks, list) or not all(isinstance(a, str) for a in attacks):
                        problems.append(f"audit.attacks must be a list of attack families, got {attacks!r}")
                        del inner["attacks"]
                    else:
                        inner["attacks"] = tuple(attacks)
                values[key] = section(**inner)
        policy = cls(**values)
        problems += policy.problems()
        if problems:
            raise PolicyError(_joined(source, problems), problems)
        return policy

    def problems(self) -> list[str]:
        """Every out-of-range value, one sentence each (empty when the policy is usable)."""
        found: list[str] = []

        def within(name: str, value: Any, low: float, high: float, *, optional: bool = False,
                   open_low: bool = False, integer: bool = False) -> None:
            if value is None and optional:
                return
            ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                  and (value > low if open_low else value >= low) and value <= high
                  and (not integer or float(value).is_integer()))
            if not ok:
                kind = "a whole number" if integer else "a number"
                side = "above" if open_low else "at least"
                found.append(f"{name} must be {kind} {side} {low:g} and at most {high:g}, got {value!r}")

        within("holdout_share", self.holdout_share, 0.0, 0.9, open_low=True)
        within("max_exact_copies", self.max_exact_copies, 0, 1e12, integer=True)
        within("min_category_count", self.min_category_count, 1, 1e12, integer=True)
        a = self.audit
        if a.threat_model not in THREAT_MODELS:
            found.append(f"audit.threat_model must be one of {', '.join(THREAT_MODELS)}, got {a.threat_model!r}")
        if isinstance(a.shadows, bool) or not isinstance(a.shadows, int) or a.shadows < 4 or a.shadows % 2:
            found.append(f"audit.shadows must be an even number of at least 4, got {a.shadows!r}")
        within("audit.targets", a.targets, 10, 1e9, integer=True)
        if a.shadows_per_round is not None and (
                isinstance(a.shadows_per_round, bool) or not isinstance(a.shadows_per_round, int)
                or a.shadows_per_round < 4 or a.shadows_per_round % 2
                or (isinstance(a.shadows, int) and a.shadows >= 4 and a.shadows % a.shadows_per_round)):
            found.append(f"audit.shadows_per_round must be null or an even number of at least 4 that divides "
                         f"audit.shadows, got {a.shadows_per_round!r}")
        if not a.attacks:
            found.append("audit.attacks must name at least one attack family "
                         f"({', '.join(families())}); to switch the privacy checks off say privacy.enforce: false")
        unknown = [x for x in a.attacks if x not in families()]
        if unknown:
            found.append(f"audit.attacks: unknown attack family {unknown[0]!r} (choose from {', '.join(families())})")
        p = self.privacy
        # a limit at or below chance can never pass: the upper bound of an attack at chance exceeds it
        within("privacy.max_auc", p.max_auc, 0.5, 1.0, open_low=True)
        within("privacy.max_tpr_at_1pct_fpr", p.max_tpr_at_1pct_fpr, 0.01, 1.0, open_low=True)
        within("privacy.max_tpr_at_01pct_fpr", p.max_tpr_at_01pct_fpr, 0.001, 1.0, open_low=True)
        if not isinstance(p.enforce, bool):
            found.append(f"privacy.enforce must be true or false, got {p.enforce!r}")
        u = self.utility
        for name in ("min_quality", "max_dwp_mae", "max_dwpre_gap"):
            within(f"utility.{name}", getattr(u, name), 0.0, 1.0, optional=True)
        for name in ("min_tstr_accuracy_ratio", "min_tstr_auc_ratio", "min_tstr_auc_lift"):
            within(f"utility.{name}", getattr(u, name), 0.0, 2.0, optional=True)
        return found

    def validate(self, source: str = "policy") -> None:
        problems = self.problems()
        if problems:
            raise PolicyError(_joined(source, problems), problems)

    def weaker_audit(self, n_shadows: int, n_targets: int, threat_model: str, attacks: tuple[str, ...]) -> list[str]:
        """How an audit with these settings would fall short of this policy's (empty if it does
        not): fewer shadows or targets, a weaker threat model, or a required family left out."""
        a = self.audit
        found = []
        if n_shadows < a.shadows:
            found.append(f"{n_shadows} shadow models, the policy requires at least {a.shadows}")
        if n_targets < a.targets:
            found.append(f"{n_targets} audited records, the policy requires at least {a.targets}")
        if threat_model in THREAT_MODELS and THREAT_MODELS.index(threat_model) < THREAT_MODELS.index(a.threat_model):
            found.append(f"threat model {threat_model!r} is weaker than the policy's {a.threat_model!r}")
        missing = [f for f in a.attacks if f not in attacks]
        if missing:
            found.append(f"attack famil{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)} left out, "
                         "the policy requires them")
        return found

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["audit"]["attacks"] = list(self.audit.attacks)
        return out


def _joined(source: str, problems: list[str]) -> str:
    more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" if len(problems) > 1 else ""
    return f"{source}: {problems[0]}{more}"


def _checked(raw: dict[str, Any], cls: type, prefix: str, problems: list[str]) -> dict[str, Any]:
    """The known keys of `raw`; unknown keys and values of the wrong type go to `problems`."""
    allowed = {f.name: f for f in fields(cls)}
    out = {}
    for key, value in raw.items():
        if key not in allowed:
            problems.append(f"unknown key {prefix}{key!r} (allowed: {', '.join(sorted(allowed))})")
            continue
        default = allowed[key].default
        if isinstance(default, bool):
            if not isinstance(value, bool):
                problems.append(f"{prefix}{key} must be true or false, got {value!r}")
                continue
        elif isinstance(default, (int, float)) or default is None:
            optional = "None" in str(allowed[key].type)
            if not (value is None and optional) and (isinstance(value, bool) or not isinstance(value, (int, float))):
                problems.append(f"{prefix}{key} must be a number, got {value!r}")
                continue
        out[key] = value
    return out
