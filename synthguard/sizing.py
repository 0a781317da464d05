"""How large an audit the policy's privacy limits need, worked out before any training.

A privacy check passes when the upper end of its 95% interval lies under its limit. At chance the
interval sits around the chance value (AUC 0.5, TPR at FPR f equal to f), and its width shrinks
with the number of non-member scores n0 behind it. A check is *resolved* when its limit lies at
least `RESOLUTION_Z` standard errors above the chance value:

    AUC          limit - 0.5 >= z_auc * sqrt(1 / (6 n0))                (Mann-Whitney, n1 = n0)
    TPR at f     limit - f   >= z_tpr * sqrt(2 g / n0),  g = max(f, 1 / n0)

(the threshold and the count both vary; with fewer than 1/f non-members the threshold is the
highest non-member score, and the TPR at chance is of order 1/n0 rather than f), so the fewest
non-member scores a limit needs are

    AUC          n0 >= z_auc^2 / (6 (limit - 0.5)^2)
    TPR at f     n0 >= 3 z_tpr / (limit - f)                while that is under 1 / f,
                 n0 >= max(1 / f, 2 z_tpr^2 f / (limit - f)^2)   otherwise

(below 1/f non-members the threshold is the single highest non-member score, and one record more
or less moves it: there the simulations needed three times the normal-theory margin)

The multipliers were chosen by simulation (`synthguard.attacks.simulate`, run by
`benchmarks/verdict_calibration.py`): at the sizes these rules give, a check at chance has its upper
bound over its limit in well under 1% of simulated audits, so that thirty-odd checks together
refuse a recipe at chance rarely. TPR at a low FPR needs the larger multiplier: its threshold rests
on the few highest non-member scores, and the scores of one record move together.

An audit's non-member scores per attack: K shadows x T targets / 2 for an attack on single records
(every record is out of half the models); (T / 2) pairs x K / 2 for the mixed-record query (the
audit gives both records of a pair to the same models, so a pair is out of half of them). A
sequential audit counts the shadows of the look at hand. Targets only cost scoring, so the release
raises them to what the limits need; shadows cost training, so a need for more shadows is refused
before any training, with what it would take.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: standard errors between the chance value and a limit for the limit to be resolved
RESOLUTION_Z = {"auc": 6.0, "tpr": 10.0}
#: a sequential audit's first look is planned for this many times the non-member scores each limit
#: needs to be resolved (as far as the table allows). Resolved, a check at chance passes; with the
#: margin a recipe a little above chance, as most trained ones are, is decided at that look too
#: rather than after another round of shadows. Targets cost scoring only (seconds per shadow),
#: a round of shadows costs training (benchmarks/audit_cost.py)
DECISION_MARGIN = 2.0
#: seconds per training row per epoch of the default network on one core of this 2-core machine
#: (benchmarks/scale.py: 1.08 s per epoch for 20,000 DoctorContacts rows); for rough estimates only
SECONDS_PER_ROW_EPOCH = 5.4e-5


def nonmembers_needed(limit: float, fpr: float | None = None) -> int:
    """Fewest non-member scores for which `limit` (on AUC, or on TPR at `fpr`) is resolved; a
    limit at or below the chance value can never be resolved (a very large number)."""
    chance = 0.5 if fpr is None else fpr
    margin = limit - chance
    if margin <= 0:
        return 10**12
    if fpr is None:
        return math.ceil(RESOLUTION_Z["auc"] ** 2 / (6.0 * margin**2))
    z = RESOLUTION_Z["tpr"]
    few = math.ceil(3.0 * z / margin)
    if few < 1.0 / fpr:
        return few
    return max(math.ceil(1.0 / fpr), math.ceil(2.0 * z**2 * fpr / margin**2))


def expected_nonmembers(pairs: bool, n_shadows: int, n_targets: int) -> float:
    """Non-member scores an attack gets from K shadows and T targets (see the module docstring)."""
    if pairs:
        return (n_targets // 2) * n_shadows / 2.0
    return n_shadows * n_targets / 2.0


def targets_needed(pairs: bool, n_shadows: int, nonmembers: int) -> int:
    """Fewest targets that give `nonmembers` non-member scores with K shadows (pairs: two a pair)."""
    single = math.ceil(2.0 * nonmembers / n_shadows)
    return 2 * single if pairs else single


def estimate_seconds(train_rows: int, epochs: int, n_shadows: int, workers: int = 2) -> float:
    """Rough wall time of a release on this kind of machine: the release model on every training
    row, then K shadows on half of them each, `workers` at a time."""
    fit = SECONDS_PER_ROW_EPOCH * train_rows * epochs
    return fit * (1.0 + n_shadows * 0.5 / max(1, workers))


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class Requirement:
    """One privacy limit of the policy, for one kind of attack."""

    check: str           # e.g. "TPR at 0.1% FPR"
    pairs: bool          # the mixed-record query (pair scores) or single records
    nonmembers: int      # non-member scores it needs
    targets: int         # targets that gives with the planned shadows
    available: float     # non-member scores the planned audit gives


@dataclass
class AuditPlan:
    """The audit a policy's limits need for a table: shadows, targets, and why."""

    n_shadows: int
    n_targets: int
    requested_targets: int
    max_targets: int
    requirements: list[Requirement] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def raised(self) -> bool:
        return self.n_targets > self.requested_targets

    def to_dict(self) -> dict[str, Any]:
        return {"n_shadows": self.n_shadows, "n_targets": self.n_targets,
                "requested_targets": self.requested_targets, "max_targets": self.max_targets,
                "resolution_z": dict(RESOLUTION_Z), "problems": list(self.problems),
                "requirements": [r.__dict__ for r in self.requirements]}


def privacy_limits(max_auc: float, max_tpr_at_1pct_fpr: float, max_tpr_at_01pct_fpr: float
                   ) -> list[tuple[str, float, float | None]]:
    """(check label, limit, FPR or None for AUC) for a policy's privacy section."""
    return [("AUC", max_auc, None), ("TPR at 1% FPR", max_tpr_at_1pct_fpr, 0.01),
            ("TPR at 0.1% FPR", max_tpr_at_01pct_fpr, 0.001)]


def plan_audit(limits: Iterable[tuple[str, float, float | None]], n_shadows: int, n_targets: int,
               n_population: int, with_pairs: bool, epochs: int | None = None, workers: int = 2,
               margin: float = 1.0) -> AuditPlan:
    """Targets raised to what every limit needs (times `margin`, as far as the table allows);
    problems when no number of targets the table allows is enough with these shadows (then: how
    many shadows would do, and roughly how long; the margin never makes a problem)."""
    max_targets = max(1, n_population)   # every row RMIA's population does not hold may be audited
    kinds = [False, True] if with_pairs else [False]
    limits = list(limits)
    needed = n_targets
    requirements = []
    for pairs in kinds:
        for label, limit, fpr in limits:
            n0 = nonmembers_needed(limit, fpr)
            requirements.append(Requirement(label, pairs, n0, targets_needed(pairs, n_shadows, n0), 0.0))
            needed = max(needed, targets_needed(pairs, n_shadows, math.ceil(margin * n0)))
    planned = min(needed, max_targets)
    requirements = [Requirement(r.check, r.pairs, r.nonmembers, r.targets,
                                expected_nonmembers(r.pairs, n_shadows, planned)) for r in requirements]
    plan = AuditPlan(n_shadows, planned, n_targets, max_targets, requirements)
    for r in requirements:
        if r.targets <= max_targets:
            continue
        what = "mixed-record pairs" if r.pairs else "records"
        if r.nonmembers >= 10**12:
            plan.problems.append(f"the limit on {r.check} is at or below chance and can never be met")
            continue
        shadows = n_shadows
        while targets_needed(r.pairs, shadows, r.nonmembers) > max_targets and shadows < 4096:
            shadows += 2
        cost = "" if epochs is None else (
            f", roughly {_duration(estimate_seconds(n_population, epochs, shadows, workers))} on this machine")
        plan.problems.append(
            f"the limit on {r.check} ({what}) needs at least {r.nonmembers:,} non-member scores, but "
            f"{n_shadows} shadow models over at most {max_targets:,} targets give "
            f"{expected_nonmembers(r.pairs, n_shadows, max_targets):,.0f}; it needs at least {shadows} shadow "
            f"models{cost}, or a less demanding limit")
    return plan
