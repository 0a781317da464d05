"""The release policy: what an audit must show before synthetic rows may leave.

A policy is YAML with a format version; unknown keys are errors (a typo must not silently turn a
limit off). Every default lives in `Policy` below and is documented, with its reasons, in
`schemas/policy.default.yaml` (a test keeps the two equal). Privacy limits apply to the UPPER
bound of each attack's 95% bootstrap interval, so a small audit cannot pass by luck.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import InputError
from .io import read_yaml

FORMAT_VERSION = 1


@dataclass(frozen=True)
class AuditPolicy:
    threat_model: str = "critic"      # judge the internal worst case: the critic leaks too
    shadows: int = 16
    targets: int = 500
    attacks: tuple[str, ...] = ("lira", "logan", "ganleaks", "domias")


@dataclass(frozen=True)
class PrivacyPolicy:
    max_auc: float = 0.60                   # upper 95% bound, every attack
    max_tpr_at_1pct_fpr: float = 0.05       # 5x the false-positive rate
    max_tpr_at_01pct_fpr: float = 0.01      # 10x the false-positive rate


@dataclass(frozen=True)
class UtilityPolicy:
    min_quality: float | None = 0.70            # sdmetrics QualityReport overall score
    max_dwp_mae: float | None = 0.05            # mean |p_real - p_synthetic| over 0/1 dimensions
    max_dwpre_gap: float | None = 0.15          # mean |score_real - score_synthetic| over columns
    min_tstr_accuracy_ratio: float | None = 0.85  # train-synthetic-test-real over train-real-test-real
    min_tstr_auc_ratio: float | None = None


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
        return cls.from_dict(read_yaml(path, "policy") or {}, source=str(path))

    @classmethod
    def from_dict(cls, raw: Any, source: str = "policy") -> Policy:
        if not isinstance(raw, dict):
            raise InputError(f"{source}: expected a mapping of policy settings")
        version = raw.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise InputError(f"{source}: format_version {version!r} is not supported (this synthguard reads {FORMAT_VERSION})")
        sections = {"audit": AuditPolicy, "privacy": PrivacyPolicy, "utility": UtilityPolicy}
        values = _checked(raw, cls, source, "")
        for key, section in sections.items():
            if key in values:
                if not isinstance(values[key], dict):
                    raise InputError(f"{source}: `{key}` must be a mapping")
                inner = _checked(values[key], section, source, f"{key}.")
                if "attacks" in inner:
                    inner["attacks"] = tuple(inner["attacks"])
                values[key] = section(**inner)
        policy = cls(**values)
        policy.validate(source)
        return policy

    def validate(self, source: str = "policy") -> None:
        if not 0 < self.holdout_share < 0.9:
            raise InputError(f"{source}: holdout_share must be between 0 and 0.9, got {self.holdout_share}")
        if self.audit.threat_model not in ("data", "generator", "critic"):
            raise InputError(f"{source}: audit.threat_model must be data, generator or critic")
        if self.audit.shadows < 4 or self.audit.shadows % 2:
            raise InputError(f"{source}: audit.shadows must be an even number of at least 4")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["audit"]["attacks"] = list(self.audit.attacks)
        return out


def _checked(raw: dict[str, Any], cls: type, source: str, prefix: str) -> dict[str, Any]:
    """Reject unknown keys and values of the wrong type, naming them."""
    allowed = {f.name: f for f in fields(cls)}
    out = {}
    for key, value in raw.items():
        if key not in allowed:
            raise InputError(f"{source}: unknown key {prefix}{key!r} (allowed: {', '.join(sorted(allowed))})")
        default = allowed[key].default
        numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
        if value is not None and numeric and not isinstance(value, (int, float)):
            raise InputError(f"{source}: {prefix}{key} must be a number, got {value!r}")
        out[key] = value
    return out
