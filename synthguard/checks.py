"""The registry of the release gate's utility and disclosure checks: each check is data, declared
beside the metric it reads, and `synthguard.gate.judge` builds the verdict's checks from here.

A declaration (`GateCheck`) says what to compare with what: the check's name and kind, the metric
it reads (a key of the measurements: the utility report's `to_dict` form), how to read the value
from it, the policy field that holds the limit, the comparison, and the advice shown when it
fails. A new check is one declaration and one call, in the module that computes its metric:

    from synthguard.checks import GateCheck, register_check

    register_check(GateCheck("synthetic rows closer than the holdout's 5th percentile", "disclosure",
                             metric="distance", value="share_closer_than_holdout_p5",
                             limit=lambda policy: 0.10, comparison="<=", advice="train fewer epochs"))

(`limit` is usually a policy field, dotted: "utility.min_quality", "max_exact_copies".)

How a check is decided (`GateCheck.judge`): a policy limit of None switches it off; a metric that
does not apply to the data (absent, or None: sdmetrics on pixels, downstream without a target) has
no check, unless the check is `required`, when it fails closed; a value the metric could not give
(None) fails closed with "the metric could not be measured". Privacy checks are not declared here:
they come from the audit's attacks (`synthguard.gate.privacy_checks`).

This module imports nothing heavy: the built-in declarations are loaded on first use of the
registry (`gate_checks()`), from the modules that measure their metrics.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: what to try when a utility check fails
QUALITY_ADVICE = ("train more epochs or with a larger batch (then audit again: leakage grows with training); "
                  "check the schema's column types")
#: ... when synthetic rows copy training rows
COPY_ADVICE = ("train fewer epochs or with the mixup defence; mark identifying columns `sensitive` or `id`; merge "
               "rare categories (rare_category_count)")
#: ... when a released category is held by too few rows
RARE_ADVICE = "raise rare_category_count (or declare coarser categories in the schema)"
#: the measurement `judge` adds beside the utility metrics: the fitted release model's own facts
MODEL_METRIC = "released_model"

KINDS = ("utility", "disclosure")
COMPARISONS = ("<=", ">=")
#: modules whose import declares the built-in checks (their metrics' modules)
_BUILTIN = ("synthguard.utility.quality", "synthguard.utility.dwp", "synthguard.utility.dwpre",
            "synthguard.utility.downstream", "synthguard.utility.distance")


@dataclass(frozen=True)
class GateCheck:
    """One declared check of the release gate.

    name: the check's name in the verdict (unique).
    kind: `utility` or `disclosure`.
    metric: the key of the measurements it reads (`utility`, `dwp`, ..., or `MODEL_METRIC`).
    value: the key of the measured value inside that metric's dict, or a function of all the
        measurements that returns the value (None: not measured).
    limit: the policy field holding the limit, dotted (`utility.min_quality`, `max_exact_copies`),
        or a function of the policy; a limit of None switches the check off.
    comparison: `<=` (the value must not exceed the limit) or `>=`.
    advice: what to try when it fails.
    required: when the metric is absent, fail closed instead of leaving the check out.
    order: the verdict lists checks by order, then by registration (built-ins: 10, 20, ...).
    """

    name: str
    kind: str
    metric: str
    value: str | Callable[[Mapping[str, Any]], Any]
    limit: str | Callable[[Any], Any]
    comparison: str
    advice: str
    required: bool = False
    order: float = 1000.0

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.name, str) or not self.name.strip():
            problems.append("a check needs a name")
        if self.kind not in KINDS:
            problems.append(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.comparison not in COMPARISONS:
            problems.append(f"comparison must be one of {', '.join(COMPARISONS)}, got {self.comparison!r}")
        if problems:
            raise ValueError(f"check {self.name!r}: " + "; ".join(problems))

    def applies(self, measurements: Mapping[str, Any]) -> bool:
        """Whether the data gave the check's metric (a required check always applies)."""
        return self.required or measurements.get(self.metric) is not None

    def measured(self, measurements: Mapping[str, Any]) -> float | None:
        """The measured value, None when the metric or the value is missing."""
        if callable(self.value):
            return self.value(measurements)
        found = measurements.get(self.metric)
        return found.get(self.value) if isinstance(found, Mapping) else None

    def limit_of(self, policy: Any) -> Any:
        """The policy's limit for this check (None: switched off)."""
        if callable(self.limit):
            return self.limit(policy)
        found = policy
        for part in self.limit.split("."):
            found = getattr(found, part)
        return found


_REGISTRY: dict[str, GateCheck] = {}
_loaded = False


def register_check(check: GateCheck, *, replace: bool = False) -> GateCheck:
    """Add a check to the release gate (every verdict then judges it); returns it."""
    if not isinstance(check, GateCheck):
        raise TypeError(f"a gate check must be a GateCheck, got {check!r}")
    if check.name in _REGISTRY and not replace:
        raise ValueError(f"check {check.name!r}: a check of that name is already registered")
    _REGISTRY[check.name] = check
    return check


def unregister_check(name: str) -> GateCheck | None:
    """Remove a check (a test's, say) from the gate; returns it, or None if none had that name."""
    return _REGISTRY.pop(name, None)


def gate_checks() -> tuple[GateCheck, ...]:
    """Every registered check, in verdict order (by `order`, then registration)."""
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _BUILTIN:
            importlib.import_module(module)
    position = {name: i for i, name in enumerate(_REGISTRY)}
    return tuple(sorted(_REGISTRY.values(), key=lambda c: (c.order, position[c.name])))


def _smallest_category_count(measurements: Mapping[str, Any]) -> Any:
    found = measurements.get(MODEL_METRIC)
    return found.get("smallest_category_count") if isinstance(found, Mapping) else None


# the one check on the fitted model rather than on its rows: `judge` passes the count the model
# reports (`Synthesizer.smallest_category_count`; a model that cannot say has no check)
register_check(GateCheck("rows behind the rarest released category", "disclosure", MODEL_METRIC,
                         _smallest_category_count, "min_category_count", ">=", RARE_ADVICE, order=80))


__all__ = ["COPY_ADVICE", "MODEL_METRIC", "QUALITY_ADVICE", "RARE_ADVICE", "GateCheck", "gate_checks",
           "register_check", "unregister_check"]
