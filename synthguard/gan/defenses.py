"""Defences: which rows each critic trains on, what a real batch looks like, and the critic's loss.

The training loop draws two independently shuffled batches (x1, c1) and (x2, c2) of a critic's
rows; a defence decides what the critic sees and how its loss is formed. Adding a defence means
subclassing `Defense` (its `name` and its constructor's keyword arguments are its settings) and
decorating the class with `@register_defense`, without touching the loop:

    @register_defense
    class Noisy(Defense):
        name = "noisy"
        def __init__(self, sigma: float = 0.1) -> None: ...

The registry parses a defence's settings from text (`parse_defense_settings("noisy",
["sigma=0.2"])`) against that signature, so a new defence gets its settings checked and its
numbers converted with no further code.

* `none`: plain conditional WGAN-GP.
* `mixup`: Ji et al. (INFOCOM 2023), the critic sees interpolations of two records and labels.
* `relaxloss`: RelaxLoss (Chen et al., ICLR 2022) adapted to the critic as in Ji et al.'s baseline
  (INFOCOM 2023; ji-zhe/MixupTraining, trainTargetModel/train_relaxloss.py).
* `pargan`: PAR-GAN (Chen et al., KDD 2021): disjoint partitions, one critic each.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch

from ..errors import SettingError

#: per-sample critic loss of training rows, -D(x_i, c_i) + D(G(z_i, c_i), c_i), for row indices
CriticProbe = Callable[[np.ndarray], np.ndarray]


class Defense:
    """Plain conditional WGAN-GP training: one critic sees the first batch as it is."""

    name: ClassVar[str] = "none"
    #: whether the critic sees soft (interpolated) one-hot blocks, so the generator should emit
    #: plain softmax rather than near-one-hot Gumbel samples (synthguard's tabular adaptation of Ji et
    #: al.'s mixup: mixed one-hot blocks are soft, so Gumbel outputs would give the fakes away)
    soft_reals: ClassVar[bool] = False
    #: whether the defence needs per-record critic losses of reference models (RelaxLoss per example)
    needs_references: ClassVar[bool] = False
    #: whether the critic trains on mixes of records (interpolations of two rows and their labels):
    #: a privacy audit then also queries it with mixed record pairs (Ji et al.'s adaptive attack)
    mixes_records: ClassVar[bool] = False
    #: with `needs_references`: how many reference models the trainer fits first, and the
    #: per-record thresholds (their critic losses, one per training row) it hands back
    reference_models: int = 0
    thresholds: np.ndarray | None = None

    def bind(self, seed: int) -> None:
        """Give the defence its own random stream (so it never shifts the generator's noise)."""
        self.rng = np.random.default_rng(seed)

    @property
    def n_critics(self) -> int:
        return 1

    @property
    def soft_fakes(self) -> bool:
        """Whether the generator's own rows are soft (plain softmax) in training: by default when
        the critic's real rows are."""
        return self.soft_reals

    def partitions(self, n: int) -> list[np.ndarray]:
        """The training rows of each critic (row indices; rows in none of them are not trained on)."""
        return [np.arange(n)]

    def before_step(self, probe: CriticProbe, batch: int) -> None:
        """Called before each critic step with a way to measure the current critic's per-sample
        loss on rows of the training data (the trainer passes `batch`, the critic's batch size)."""

    def real_batch(self, x1: torch.Tensor, c1: torch.Tensor, x2: torch.Tensor, c2: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        return x1, c1

    def critic_loss(self, d_real: torch.Tensor, d_fake: torch.Tensor, rows: torch.Tensor, epoch: int) -> torch.Tensor:
        """The critic's loss for a batch (before the gradient penalty); `rows` index the real rows."""
        return d_fake.mean() - d_real.mean()

    def fake_noise(self, batch: int, z_dim: int, device: torch.device) -> torch.Tensor:
        """The generator's noise for one critic step's fakes (the generator's step reuses it)."""
        return torch.randn(batch, z_dim, device=device)

    def fake_batch(self, generate: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], z: torch.Tensor,
                   c: torch.Tensor) -> torch.Tensor:
        """The fake rows the critic compares with the last real batch, whose condition is `c`:
        `generate(z, c)` (the generator's rows after its output heads)."""
        return generate(z, c)

    def generator_batch(self, generate: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], z: torch.Tensor,
                        c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The generator step's fake rows and the conditions the critics judge them under, from
        the round's noise `z` and conditions `c`: by default the critic step's own fakes,
        `fake_batch(generate, z, c)` under `c`."""
        return self.fake_batch(generate, z, c), c

    def params(self) -> dict[str, Any]:
        return {}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **self.params()}


#: the registered defences by name; add one with `register_defense`
DEFENSES: dict[str, type[Defense]] = {}
D = TypeVar("D", bound=type[Defense])


def register_defense(cls: D, *, force: bool = False) -> D:
    """Register a `Defense` subclass under its `name` (usable as a class decorator); returns it.

    A name already taken by another class is refused unless `force` replaces it. The class's
    settings are its constructor's keyword arguments, read from its signature."""
    if not (isinstance(cls, type) and issubclass(cls, Defense)):
        raise TypeError(f"a defence must be a subclass of Defense, got {cls!r}")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name or name != name.strip() or "=" in name or "." in name:
        raise ValueError(f"a defence needs a `name` without spaces, '=' or '.', got {name!r}")
    held = DEFENSES.get(name)
    if held is not None and held is not cls and not force:
        raise ValueError(f"defence name {name!r} is taken by {held.__qualname__}; pass force=True to replace it")
    DEFENSES[name] = cls
    return cls


register_defense(Defense)


@register_defense
class Mixup(Defense):
    """Ji et al. (INFOCOM 2023): the critic sees interpolations of two real records and their
    labels, x = lam x1 + (1 - lam) x2 with lam ~ Beta(alpha, alpha), one lam per batch by default
    (`lambda_mode="sample"` draws one per record, a variant that is not the paper's).

    The paper's generator makes one fake per mixed label, G(z, c_mix), so it learns to emit mixed
    rows, and a release draws hard values from them (`fakes="generated"`). The default,
    `fakes="mixed"`, is a variant that is not the paper's: the fakes are mixed as the reals are,
    one fake for each record's own label, G(z1, c1) and G(z2, c2), interpolated with the same
    lam. The critic still sees no real record unmixed, and the generator learns the unmixed rows:
    in benchmarks/levers.py, at equal CPU time, sdmetrics quality +0.024 on MedExp (3 seeds) and
    +0.027 on DoctorContacts, TSTR AUC within the seeds' spread (on OFP quality +0.008 and the
    condition column's TSTR AUC -0.036, one seed); in benchmarks/power_curve.py
    (200 OFP rows trained long) no attack measurably stronger. It costs a second generator pass
    per step (about 1.3x the epoch)."""

    name = "mixup"
    soft_reals = True
    mixes_records = True

    def __init__(self, alpha: float = 1.0, lambda_mode: str = "batch", fakes: str = "mixed") -> None:
        if not alpha > 0:
            raise ValueError(f"mixup alpha must be positive, got {alpha}")
        if lambda_mode not in ("batch", "sample"):
            raise ValueError(f"lambda_mode must be batch or sample, got {lambda_mode!r}")
        if fakes not in ("generated", "mixed"):
            raise ValueError(f"mixup fakes must be generated or mixed, got {fakes!r}")
        self.alpha = float(alpha)
        self.lambda_mode = lambda_mode
        self.fakes = fakes
        # the last real batch's mixing (lam, c1, c2), which mixed fakes follow
        self._pair: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    @property
    def soft_fakes(self) -> bool:
        """Whether the generator itself emits soft (mixed) rows: not when its fakes are mixed after."""
        return self.fakes == "generated"

    def sample_lambda(self, n: int) -> np.ndarray:
        size = 1 if self.lambda_mode == "batch" else n
        return self.rng.beta(self.alpha, self.alpha, size=size)

    def real_batch(self, x1: torch.Tensor, c1: torch.Tensor, x2: torch.Tensor, c2: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        lam = torch.as_tensor(self.sample_lambda(len(x1)), dtype=x1.dtype, device=x1.device).reshape(-1, 1)
        self._pair = (lam, c1, c2)
        return lam * x1 + (1 - lam) * x2, lam * c1 + (1 - lam) * c2

    def fake_noise(self, batch: int, z_dim: int, device: torch.device) -> torch.Tensor:
        return torch.randn(batch * (2 if self.fakes == "mixed" else 1), z_dim, device=device)

    def fake_batch(self, generate: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], z: torch.Tensor,
                   c: torch.Tensor) -> torch.Tensor:
        if self.fakes == "generated":
            return generate(z, c)
        assert self._pair is not None, "real_batch sets the mixing first"
        lam, c1, c2 = self._pair
        made = generate(z, torch.cat([c1, c2]))
        return lam * made[:len(c1)] + (1 - lam) * made[len(c1):]

    def params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "lambda_mode": self.lambda_mode, "fakes": self.fakes}


@register_defense
class RelaxLoss(Defense):
    """RelaxLoss for the critic: keep the critic's loss on training rows from falling below the
    loss it has on rows it never trained on, instead of driving it ever lower (RelaxLoss, Chen, Yu
    and Fritz, ICLR 2022; official code DingfanChen/RelaxLoss).

    `mode="global"` (shadow-free, after the RelaxLoss paper): a seeded `holdout` fraction of the
    rows is kept out of training. Before every critic step the current critic scores a batch of
    held-out rows against fresh fakes; the target alpha is their mean per-sample loss minus two
    standard errors of a batch mean, so only a training batch that the critic separates
    significantly better than unseen rows counts as memorised. On even epochs the critic
    minimises |L - alpha| (gradient ascent once L < alpha); on odd epochs it descends while
    L > alpha and takes no step on the loss otherwise (the classifier's posterior flattening has
    no critic analogue; stopping is the nearest thing). Why per step, not per epoch: alpha
    recomputed once per EPOCH pins the critic at its start-of-epoch level (any progress within
    the epoch counts as memorising), so the critic never learns; measured on OFP (60 epochs):
    sdmetrics quality 0.48 against 0.93 without the defence.

    `mode="per_example"` (Ji et al.'s baseline, "changeAllSign"): each training row i has a
    threshold tau_i, its mean critic loss under reference models that did not train on it; a row
    whose loss falls below tau_i looks memorised and its terms change sign (gradient ascent), the
    others keep the ordinary WGAN loss. The trainer fits the `reference_models` first.
    """

    name = "relaxloss"

    def __init__(self, mode: str = "global", holdout: float = 0.1, reference_models: int = 4) -> None:
        if mode not in ("global", "per_example"):
            raise ValueError(f"relaxloss mode must be global or per_example, got {mode!r}")
        if not 0 < holdout < 0.5:
            raise ValueError(f"relaxloss holdout must be between 0 and 0.5, got {holdout}")
        if reference_models < 2 or reference_models % 2:
            raise ValueError(f"relaxloss reference_models must be an even number of at least 2, got {reference_models}")
        self.mode = mode
        self.holdout = float(holdout)
        self.reference_models = int(reference_models)
        self.alpha: float | None = None
        self.thresholds: np.ndarray | None = None

    @property
    def needs_references(self) -> bool:  # type: ignore[override]
        return self.mode == "per_example"

    def partitions(self, n: int) -> list[np.ndarray]:
        if self.mode != "global":
            return [np.arange(n)]
        if n < 4:
            raise ValueError(f"relaxloss needs at least 4 rows to hold some out, got {n}")
        order = self.rng.permutation(n)
        held = max(2, int(round(self.holdout * n)))
        self.held_out = np.sort(order[:held])
        return [np.sort(order[held:])]

    def before_step(self, probe: CriticProbe, batch: int) -> None:
        if self.mode != "global":
            return
        rows = self.rng.choice(self.held_out, size=min(batch, len(self.held_out)), replace=False)
        losses = probe(rows)
        self.alpha = float(losses.mean() - 2 * losses.std(ddof=1) / np.sqrt(batch))

    def critic_loss(self, d_real: torch.Tensor, d_fake: torch.Tensor, rows: torch.Tensor, epoch: int) -> torch.Tensor:
        if self.mode == "per_example":
            if self.thresholds is None:
                raise RuntimeError("relaxloss per_example needs the reference models' thresholds")
            per_sample = (d_fake - d_real).detach()
            tau = torch.as_tensor(self.thresholds, dtype=d_real.dtype, device=d_real.device)[rows.to(d_real.device)]
            sign = torch.where(per_sample < tau, 1.0, -1.0)  # +1: looks memorised, ascend
            return (sign * d_real).mean() - (sign * d_fake).mean()
        loss = d_fake.mean() - d_real.mean()
        assert self.alpha is not None, "before_step sets alpha"
        if epoch % 2 == 0:
            return (loss - self.alpha).abs()
        return loss if loss.item() > self.alpha else loss * 0.0

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode}
        if self.mode == "global":
            out["holdout"] = self.holdout
        else:
            out["reference_models"] = self.reference_models
        return out


@register_defense
class ParGAN(Defense):
    """PAR-GAN: the rows are split at random into `partitions` equal disjoint parts, critic i
    trains on part i only (and on fakes), and the generator descends the AVERAGE of the critics'
    losses (the paper's rule, Chen et al., KDD 2021; Ji et al.'s baseline, ji-zhe/MixupTraining
    trainTargetModel/train_pargan.py, used only the last critic).
    Each critic takes 1/k of the batch and passes over its own part once per epoch, so an epoch
    reads every row once and has as many generator steps as plain training."""

    name = "pargan"

    def __init__(self, partitions: int = 4) -> None:
        if int(partitions) < 2:
            raise ValueError(f"pargan needs at least 2 partitions, got {partitions}")
        self.k = int(partitions)

    @property
    def n_critics(self) -> int:
        return self.k

    def partitions(self, n: int) -> list[np.ndarray]:
        if n < 2 * self.k:
            raise ValueError(f"pargan with {self.k} partitions needs at least {2 * self.k} rows, got {n}")
        return [np.sort(part) for part in np.array_split(self.rng.permutation(n), self.k)]

    def params(self) -> dict[str, Any]:
        return {"partitions": self.k}


def defense_class(name: str) -> type[Defense]:
    """The registered defence called `name` (SettingError naming the registered ones otherwise)."""
    if name not in DEFENSES:
        raise SettingError(f"unknown defence {name!r} (one of {', '.join(DEFENSES)})", setting="defense")
    return DEFENSES[name]


def defense_signature(name: str) -> dict[str, inspect.Parameter]:
    """The settings a defence takes: its constructor's keyword parameters, by name."""
    init = defense_class(name).__init__
    if init is object.__init__:
        return {}
    params = list(inspect.signature(init).parameters.values())[1:]
    return {p.name: p for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def defense_arguments(name: str) -> list[str]:
    """The names of the settings a defence accepts (its constructor's keyword arguments)."""
    return list(defense_signature(name))


# ---- settings from text ("name=value") ----------------------------------------------------------------
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _setting_type(name: str, param: inspect.Parameter) -> Any:
    """The type a setting's value takes: the constructor's annotation, else its default's type."""
    try:
        hints = typing.get_type_hints(defense_class(name).__init__)
    except Exception:  # noqa: BLE001 - an annotation that does not resolve: fall back to the default
        hints = {}
    hint = hints.get(param.name)
    if hint in (bool, int, float, str):
        return hint
    default = param.default
    if default is not inspect.Parameter.empty and default is not None and type(default) in (bool, int, float, str):
        return type(default)
    return None


def _convert(defense: str, key: str, text: str, kind: Any) -> Any:
    value = text.strip()
    where = f"defence {defense!r}: setting {key!r}"
    if kind is bool:
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise SettingError(f"{where} must be true or false, got {value!r}", setting="defense_settings")
    if kind is int:
        try:
            return int(value)
        except ValueError:
            raise SettingError(f"{where} must be a whole number, got {value!r}", setting="defense_settings") from None
    if kind is float:
        try:
            return float(value)
        except ValueError:
            raise SettingError(f"{where} must be a number, got {value!r}", setting="defense_settings") from None
    if kind is str:
        return value
    for guess in (int, float):  # no declared type: numbers become numbers
        try:
            return guess(value)
        except ValueError:
            continue
    return value


def parse_defense_settings(name: str, settings: Iterable[str] | Mapping[str, Any] | None) -> dict[str, Any]:
    """A defence's settings, checked against its constructor's signature.

    `settings` is text, `"key=value"` each (values converted to the type the signature declares
    or its default has), or a mapping of values (only the names are checked here; the defence
    checks the values when it is built). Raises SettingError, one line naming the defence and the
    setting, for a malformed item or a setting the defence does not take."""
    accepted = defense_signature(name)
    if settings is None:
        return {}
    if isinstance(settings, Mapping):
        items: list[tuple[str, Any, bool]] = [(str(k), v, False) for k, v in settings.items()]
    elif isinstance(settings, str):
        raise SettingError(f"defence {name!r}: give settings as a list of KEY=VALUE items, got the text "
                           f"{settings!r}", setting="defense_settings")
    else:
        items = []
        for item in settings:
            key, sep, value = str(item).partition("=")
            if not sep or not key.strip():
                raise SettingError(f"defence {name!r}: a setting must be KEY=VALUE, got {item!r}",
                                   setting="defense_settings")
            items.append((key.strip(), value, True))
    parsed: dict[str, Any] = {}
    for key, value, from_text in items:
        if key not in accepted:
            raise SettingError(f"defence {name!r} has no setting {key!r} (it takes: {', '.join(accepted) or 'none'})",
                               setting="defense_settings")
        parsed[key] = _convert(name, key, value, _setting_type(name, accepted[key])) if from_text else value
    return parsed


def parse_settings_by_defense(items: Iterable[str] | None) -> dict[str, dict[str, Any]]:
    """Settings of several defences as `"defence.key=value"` text: {defence: {key: value}}, each
    checked against its defence's signature (`parse_defense_settings`)."""
    grouped: dict[str, list[str]] = {}
    for item in items or []:
        name, dot, rest = str(item).partition(".")
        if not dot or "=" in name or not name.strip():
            raise SettingError(f"a defence setting must be DEFENCE.KEY=VALUE, got {item!r}",
                               setting="defense_settings")
        grouped.setdefault(name.strip(), []).append(rest)
    return {name: parse_defense_settings(name, texts) for name, texts in grouped.items()}


def make_defense(name: str, **params: Any) -> Defense:
    """Build a defence from its name and settings; settings it does not take, or None, are ignored."""
    accepted = defense_arguments(name)
    return DEFENSES[name](**{k: v for k, v in params.items() if k in accepted and v is not None})
