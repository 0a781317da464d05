"""What a privacy audit may hold of a model: one typed protocol per threat model.

The shadow worker (`synthguard.attacks.shadows.run_shadow`) trains each shadow with the recipe's
`clone` and `fit_parsed`, then measures per-record statistics through the protocol of the audit's
threat model; each level includes the ones before it:

    threat model  protocol          what the worker calls
    data          SamplesAccess     clone, fit_parsed, sample
    generator     GeneratorAccess   + reconstruction_loss          (GAN-Leaks white-box)
    critic        CriticAccess      + critic_statistics, mixed_query_statistic

So any generator with `clone`, `fit_parsed` and `sample` can be audited under `data` (the peers'
adapters in `benchmarks/_peers_common.py` are such recipes). A model meets the two stronger
protocols either by implementing the statistics itself (`synthguard.attacks.calibration.Memoriser`)
or by exposing the measurement primitives that synthguard's attack code computes them from:

    reconstruction_loss     from a `LatentGenerator`: encode, latent_dim, decode_latent
    mixed_query_statistic   from a `ScoringCritic`:   encode, critic_scores, fake_critic_means

A `Synthesizer` exposes the primitives (and its own `critic_statistics`); `model_access` wraps such
a model in `PrimitiveAccess`, which computes the statistics it lacks. Training code never imports
attack code: the dependency runs one way, from here to the model's public methods.

Optional members, read when present:

    mixes_records: bool   the critic trains on mixes of records (the mixup defence declares it):
                          the audit then also scores mixed record pairs (`AuditConfig.scores_pairs`)
    to_bytes() -> bytes   the fitted model's file (`Serialisable`), kept by an audit's run directory
    get_params() -> dict  the recipe's settings, recorded in the audit's result and run directory

The protocols are `runtime_checkable` (`isinstance(model, SamplesAccess)`); the worker itself asks
`missing_for` (attribute look-ups, so a proxy that forwards with `__getattr__` passes too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from ..errors import SynthguardError
from .mixed_query import mixed_query_statistic
from .reconstruction import reconstruction_loss
from .registry import THREAT_MODELS

if TYPE_CHECKING:
    import torch

    from ..schema import Schema


# ---- the threat models' protocols ------------------------------------------------------------------
@runtime_checkable
class SamplesAccess(Protocol):
    """The `data` threat model: the attacker holds synthetic rows only."""

    def clone(self, **overrides: Any) -> SamplesAccess:
        """An unfitted copy of the recipe; the audit overrides `seed` and `threads` (one each)."""

    def fit_parsed(self, frame: pd.DataFrame, resolved: Schema) -> Any:
        """Fit on rows already parsed by `resolved` (typed values)."""

    def sample(self, n: int, condition: Any = None, seed: int | None = None, typed: bool = False) -> pd.DataFrame:
        """`n` synthetic rows; `typed=True` returns them as `Schema.parse` would. Same seed, same rows."""


@runtime_checkable
class CheckpointAccess(Protocol):
    """A model that kept its weights at several training lengths (any threat model may add it): the
    audit then measures every statistic at each, for the leakage curve over training."""

    @property
    def checkpoint_epochs(self) -> tuple[int, ...]:
        """The epochs kept, in order, the last epoch last."""

    def at_epoch(self, epoch: int) -> Any:
        """The fitted model as it was after `epoch` epochs (one of `checkpoint_epochs`)."""


@runtime_checkable
class TableSized(Protocol):
    """A recipe with settings it chooses from the size of the table it is fitted on (a batch
    chosen from the row count). The audit pins them at the release table's size before training
    shadows on halves of it, so that every shadow trains with the release model's settings."""

    def sized_for(self, rows: int) -> Any:
        """The recipe with every size-dependent setting fixed at its value for a fit on `rows` rows,
        or None when no setting depends on the size (the audit then keeps the recipe it was given)."""


@runtime_checkable
class GeneratorAccess(SamplesAccess, Protocol):
    """The `generator` threat model: the generator too (its latent space can be searched)."""

    def reconstruction_loss(self, frame: pd.DataFrame, seed: int = 0) -> np.ndarray:
        """GAN-Leaks' membership loss per parsed row, lower = more member-like; `seed` fixes the
        search's starting codes (the audit gives every shadow the same)."""


@runtime_checkable
class CriticAccess(GeneratorAccess, Protocol):
    """The `critic` threat model (the internal worst case): the critic too."""

    def critic_statistics(self, frame: pd.DataFrame, m: int = 64, seed: int | None = None) -> dict[str, np.ndarray]:
        """Per parsed row: `critic` (raw D(x, y), LOGAN white-box) and `critic_calibrated` (minus the
        mean critic score of `m` fakes of the row's label; Ji et al.'s statistic); higher = member."""

    def mixed_query_statistic(self, frame_a: pd.DataFrame, frame_b: pd.DataFrame, m: int = 64,
                              seed: int | None = None) -> np.ndarray:
        """Ji et al.'s adaptive query against mixup, per pair of rows (row i of each frame): the
        calibrated critic statistic of their mixes, averaged; higher = member."""


#: the protocol each threat model needs
PROTOCOLS: dict[str, type] = {"data": SamplesAccess, "generator": GeneratorAccess, "critic": CriticAccess}


# ---- measurement primitives the attack code computes statistics from ----------------------------------
@runtime_checkable
class LatentGenerator(Protocol):
    """What GAN-Leaks' reconstruction needs (`synthguard.attacks.reconstruction`)."""

    @property
    def latent_dim(self) -> int:
        """Size of the latent code z."""

    def encode(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Parsed rows to (x (n, dim), condition vectors (n, cond_dim)), float32."""

    def decode_latent(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Soft generator output in encoded space for codes z (n, latent_dim), differentiable in z,
        with the generator's weights frozen and in eval mode."""


@runtime_checkable
class ScoringCritic(Protocol):
    """What Ji et al.'s mixed query needs (`synthguard.attacks.mixed_query`)."""

    def encode(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Parsed rows to (x (n, dim), condition vectors (n, cond_dim)), float32."""

    def critic_scores(self, x: np.ndarray, cond: np.ndarray) -> np.ndarray:
        """D(x, c) of encoded rows under (possibly mixed) condition vectors, float64."""

    def fake_critic_means(self, label: np.ndarray, m: int = 64, seed: int | None = None) -> np.ndarray:
        """Mean critic score of `m` fakes at one condition vector, per noise block of
        `critic_statistics(frame, m, seed)` (block s: the noise class s's fakes get there)."""


@runtime_checkable
class Serialisable(Protocol):
    """A fitted model that can travel back from a worker as bytes (its model file)."""

    def to_bytes(self) -> bytes: ...


#: statistics the attack code can compute from a model's primitives, when the model lacks them
COMPUTED_FROM: dict[str, type] = {"reconstruction_loss": LatentGenerator, "mixed_query_statistic": ScoringCritic}


def protocol_members(protocol: type) -> tuple[str, ...]:
    """The public members a protocol declares, its bases' first."""
    names: list[str] = []
    for base in reversed(protocol.__mro__):
        if base in (object, Protocol) or not getattr(base, "_is_protocol", False):
            continue
        for name in [*vars(base).get("__annotations__", {}), *vars(base)]:
            if not name.startswith("_") and name not in names:
                names.append(name)
    return tuple(names)


def _lacks(model: Any, names: tuple[str, ...]) -> list[str]:
    return [name for name in names if not hasattr(model, name)]


def missing_for(model: Any, threat_model: str) -> list[str]:
    """What `model` lacks for the threat model's protocol, one entry per missing method (a
    statistic that primitives could give names the primitives it lacks too); empty when it can
    be audited."""
    if threat_model not in PROTOCOLS:
        raise SynthguardError(f"the threat model must be one of {', '.join(THREAT_MODELS)}, got {threat_model!r}")
    out = []
    for name in _lacks(model, protocol_members(PROTOCOLS[threat_model])):
        primitives = COMPUTED_FROM.get(name)
        if primitives is None:
            out.append(name)
            continue
        lacking = _lacks(model, protocol_members(primitives))
        if lacking:
            out.append(f"{name} (or {', '.join(lacking)} to compute it from)")
    return out


def check_access(model: Any, threat_model: str) -> None:
    """A one-line SynthguardError naming what `model` lacks for the threat model, if anything."""
    missing = missing_for(model, threat_model)
    if missing:
        raise SynthguardError(f"the recipe's model ({type(model).__name__}) cannot be audited under the "
                              f"{threat_model!r} threat model: it lacks {'; '.join(missing)}")


class PrimitiveAccess:
    """A fitted model seen through `CriticAccess`: each statistic is the model's own method where
    it has one, else computed by synthguard's attack code from the model's primitives
    (`LatentGenerator`, `ScoringCritic`). Everything else is the model's."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def clone(self, **overrides: Any) -> Any:
        return self.model.clone(**overrides)

    def fit_parsed(self, frame: pd.DataFrame, resolved: Schema) -> Any:
        self.model.fit_parsed(frame, resolved)
        return self

    def sample(self, n: int, condition: Any = None, seed: int | None = None, typed: bool = False) -> pd.DataFrame:
        return self.model.sample(n, condition=condition, seed=seed, typed=typed)

    def critic_statistics(self, frame: pd.DataFrame, m: int = 64, seed: int | None = None) -> dict[str, np.ndarray]:
        return self.model.critic_statistics(frame, m=m, seed=seed)

    def reconstruction_loss(self, frame: pd.DataFrame, seed: int = 0) -> np.ndarray:
        if hasattr(self.model, "reconstruction_loss"):
            return self.model.reconstruction_loss(frame, seed=seed)
        return reconstruction_loss(self.model, frame, method="lbfgs", seed=seed)

    def mixed_query_statistic(self, frame_a: pd.DataFrame, frame_b: pd.DataFrame, m: int = 64,
                              seed: int | None = None) -> np.ndarray:
        if hasattr(self.model, "mixed_query_statistic"):
            return self.model.mixed_query_statistic(frame_a, frame_b, m=m, seed=seed)
        return mixed_query_statistic(self.model, frame_a, frame_b, m=m, seed=seed if seed is not None else 0)

    @property
    def mixes_records(self) -> bool:
        return mixes_records(self.model)


def model_access(model: Any, threat_model: str = "critic") -> Any:
    """`model` as the threat model's protocol: itself when it implements the protocol, else a
    `PrimitiveAccess` that computes what it lacks from its primitives; a one-line SynthguardError
    naming the missing methods when neither works."""
    check_access(model, threat_model)
    if not _lacks(model, protocol_members(PROTOCOLS[threat_model])):
        return model
    return PrimitiveAccess(model)


def mixes_records(model: Any) -> bool:
    """Whether the model's critic trains on mixes of records (False when it does not say)."""
    return bool(getattr(model, "mixes_records", False))


def model_bytes(model: Any) -> bytes | None:
    """A fitted model's file as bytes (`Serialisable.to_bytes`), None for a model without one."""
    return model.to_bytes() if hasattr(model, "to_bytes") else None


__all__ = ["COMPUTED_FROM", "PROTOCOLS", "CheckpointAccess", "CriticAccess", "GeneratorAccess", "LatentGenerator", "PrimitiveAccess",
           "SamplesAccess", "ScoringCritic", "Serialisable", "check_access", "missing_for", "mixes_records",
           "model_access", "model_bytes", "protocol_members"]
