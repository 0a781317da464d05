"""Defences: which rows each critic trains on, what a real batch looks like, and the critic's loss.

The training loop draws two independently shuffled batches (x1, c1) and (x2, c2) of a critic's
rows; a defence decides what the critic sees and how its loss is formed. Adding a defence means
subclassing `Defense` and registering it in `DEFENSES`, without touching the loop.

* `none`: plain conditional WGAN-GP.
* `mixup`: Ji et al. (INFOCOM 2023), the critic sees interpolations of two records and labels.
* `relaxloss`: RelaxLoss (Chen et al., ICLR 2022) adapted to the critic as in Ji et al.'s baseline
  (INFOCOM 2023; ji-zhe/MixupTraining, trainTargetModel/train_relaxloss.py).
* `pargan`: PAR-GAN (Chen et al., KDD 2021): disjoint partitions, one critic each.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch

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

    def bind(self, seed: int) -> None:
        """Give the defence its own random stream (so it never shifts the generator's noise)."""
        self.rng = np.random.default_rng(seed)

    @property
    def n_critics(self) -> int:
        return 1

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

    def params(self) -> dict[str, Any]:
        return {}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **self.params()}


class Mixup(Defense):
    """Ji et al. (INFOCOM 2023): the critic sees interpolations of two real records and their
    labels, x = lam x1 + (1 - lam) x2 with lam ~ Beta(alpha, alpha), one lam per batch by default
    (`lambda_mode="sample"` draws one per record, a variant that is not the paper's)."""

    name = "mixup"
    soft_reals = True

    def __init__(self, alpha: float = 1.0, lambda_mode: str = "batch") -> None:
        if not alpha > 0:
            raise ValueError(f"mixup alpha must be positive, got {alpha}")
        if lambda_mode not in ("batch", "sample"):
            raise ValueError(f"lambda_mode must be batch or sample, got {lambda_mode!r}")
        self.alpha = float(alpha)
        self.lambda_mode = lambda_mode

    def sample_lambda(self, n: int) -> np.ndarray:
        size = 1 if self.lambda_mode == "batch" else n
        return self.rng.beta(self.alpha, self.alpha, size=size)

    def real_batch(self, x1: torch.Tensor, c1: torch.Tensor, x2: torch.Tensor, c2: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        lam = torch.as_tensor(self.sample_lambda(len(x1)), dtype=x1.dtype, device=x1.device).reshape(-1, 1)
        return lam * x1 + (1 - lam) * x2, lam * c1 + (1 - lam) * c2

    def params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "lambda_mode": self.lambda_mode}


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


DEFENSES: dict[str, type[Defense]] = {cls.name: cls for cls in (Defense, Mixup, RelaxLoss, ParGAN)}


def defense_arguments(name: str) -> list[str]:
    """The settings a defence accepts (its constructor's keyword arguments)."""
    if name not in DEFENSES:
        raise ValueError(f"unknown defence {name!r} (one of {', '.join(DEFENSES)})")
    cls = DEFENSES[name]
    return [] if cls.__init__ is object.__init__ else list(inspect.signature(cls.__init__).parameters)[1:]


def make_defense(name: str, **params: Any) -> Defense:
    """Build a defence from its name and settings; settings it does not take, or None, are ignored."""
    accepted = defense_arguments(name)
    return DEFENSES[name](**{k: v for k, v in params.items() if k in accepted and v is not None})
