"""The one registry of membership-inference attacks.

An attack is a pure function from what an audit measured (`ScoreInput`: per-record statistics of
every shadow model, the membership matrix, and the same statistics of population rows that no
model was trained on) to a score matrix (`Scores`: higher = more likely a member). Its entry
(`Attack`) carries everything else the audit, the gate and the report need: the family a policy
selects it by, the weakest threat model under which it runs, the statistics it reads, and a
one-line description.

A new attack is one module that defines its scorer and calls `register_attack` once:

    from synthguard.attacks.registry import Attack, Scores, register_attack

    def _score(data):
        return Scores(data.stats["nn_distance"] * -1.0, data.membership)

    register_attack(Attack("my_attack", family="mine", threat="data", needs=("nn_distance",),
                           description="minus the distance to the nearest synthetic record",
                           score=_score))

Built-in attacks live in this package's modules and register on first use of the registry
(`attacks()`); a module outside the package registers when imported, before the audit runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

#: what an attacker may hold, weakest first; each level includes the ones before it
THREAT_MODELS = ("data", "generator", "critic")
#: the per-record statistics a shadow can measure, by the threat model that first allows them
STATISTICS_BY_THREAT = {
    "data": ("nn_distance", "density_ratio", "blackbox"),
    "generator": ("reconstruction",),
    "critic": ("critic", "critic_calibrated", "mixed_query"),
}
_FAMILY_ORDER = ("lira", "rmia", "logan", "ganleaks", "domias")
_BUILTIN = ("lira", "mixed_query", "reconstruction", "logan", "ganleaks", "domias", "rmia")


@dataclass(frozen=True)
class ScoreInput:
    """What every attack gets: the audit's measurements, nothing about the model itself.

    stats: statistic name -> (models, targets) array (`mixed_query`: (models, pairs)).
    membership: (models, targets) bool, whether each shadow trained on each target.
    pair_membership: (models, pairs) bool for the mixed query's pairs (None without pairs); the
        audit assigns both records of a pair to the same shadows, so every pair is IN or OUT.
    population: statistic name -> (models, rows) array for real rows no shadow was trained on
        (empty when the audit reserved none).
    seed: for attacks that draw at random (reference subsampling).
    """

    stats: Mapping[str, np.ndarray]
    membership: np.ndarray
    seed: int = 0
    pair_membership: np.ndarray | None = None
    population: Mapping[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Scores:
    """An attack's output: values (models, units), the truth they are judged against, and which
    entries count (default: all finite ones)."""

    values: np.ndarray
    members: np.ndarray
    valid: np.ndarray | None = None


@dataclass(frozen=True)
class Attack:
    name: str
    family: str
    threat: str                          # the weakest threat model under which it can run
    description: str
    needs: tuple[str, ...]               # statistics it reads (`STATISTICS_BY_THREAT`)
    score: Callable[[ScoreInput], Scores]
    unit: str = "records"                # "records" or "pairs" (the mixed query)
    needs_population: bool = False       # reads `ScoreInput.population`

    def applies(self, data: ScoreInput) -> bool:
        """Whether the audit measured what this attack reads."""
        if self.unit == "pairs" and data.pair_membership is None:
            return False
        if self.needs_population and not all(name in data.population for name in self.needs):
            return False
        return all(name in data.stats for name in self.needs)


_REGISTRY: dict[str, Attack] = {}
_loaded = False


def register_attack(attack: Attack, *, replace: bool = False) -> Attack:
    """Add an attack to the registry (every audit can then select it by its family)."""
    problems = []
    if attack.threat not in THREAT_MODELS:
        problems.append(f"threat must be one of {', '.join(THREAT_MODELS)}, got {attack.threat!r}")
    allowed = {s for level in THREAT_MODELS[: THREAT_MODELS.index(attack.threat) + 1]
               for s in STATISTICS_BY_THREAT[level]} if attack.threat in THREAT_MODELS else set()
    beyond = [s for s in attack.needs if s not in allowed]
    if beyond:
        problems.append(f"under the {attack.threat!r} threat model it cannot read {', '.join(beyond)}")
    if attack.unit not in ("records", "pairs"):
        problems.append(f"unit must be 'records' or 'pairs', got {attack.unit!r}")
    if attack.name in _REGISTRY and not replace:
        problems.append("an attack of that name is already registered")
    if problems:
        raise ValueError(f"attack {attack.name!r}: " + "; ".join(problems))
    _REGISTRY[attack.name] = attack
    return attack


def attacks() -> dict[str, Attack]:
    """Every registered attack by name: strongest threat model first, then by family (built-in
    families first, in `_FAMILY_ORDER`), then in registration order."""
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _BUILTIN:
            importlib.import_module(f"{__package__}.{module}")
    level = {name: i for i, name in enumerate(reversed(THREAT_MODELS))}
    family = {name: i for i, name in enumerate(_FAMILY_ORDER)}
    return dict(sorted(_REGISTRY.items(),
                       key=lambda item: (level[item[1].threat], family.get(item[1].family, len(family)))))


def families() -> tuple[str, ...]:
    """The attack families a policy or an audit can select."""
    return tuple(dict.fromkeys(a.family for a in attacks().values()))


def get_attack(name: str) -> Attack:
    found = attacks()
    if name not in found:
        raise KeyError(f"unknown attack {name!r} (registered: {', '.join(found)})")
    return found[name]
