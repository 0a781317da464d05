"""Defences: how a batch of real records reaches the critic, and the critic's loss.

The training loop always draws two independently shuffled batches (x1, c1) and (x2, c2) of the
same data; a defence decides what the critic sees. Adding a defence means subclassing `Defense`
and registering it in `DEFENSES`, without touching the loop.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch


class Defense:
    """Plain conditional WGAN-GP training: the critic sees the first batch as it is."""

    name: ClassVar[str] = "none"
    #: whether the critic sees soft (interpolated) one-hot blocks, so the generator should emit
    #: plain softmax rather than near-one-hot Gumbel samples (methods.md 1.4, option a)
    soft_reals: ClassVar[bool] = False

    def bind(self, seed: int) -> None:
        """Give the defence its own random stream (so it never shifts the generator's noise)."""
        self.rng = np.random.default_rng(seed)

    def real_batch(self, x1: torch.Tensor, c1: torch.Tensor, x2: torch.Tensor, c2: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        return x1, c1

    def critic_loss(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
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
        lam = torch.as_tensor(self.sample_lambda(len(x1)), dtype=x1.dtype).reshape(-1, 1)
        return lam * x1 + (1 - lam) * x2, lam * c1 + (1 - lam) * c2

    def params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "lambda_mode": self.lambda_mode}


DEFENSES: dict[str, type[Defense]] = {"none": Defense, "mixup": Mixup}


def make_defense(name: str, **params: Any) -> Defense:
    if name not in DEFENSES:
        raise ValueError(f"unknown defence {name!r} (one of {', '.join(DEFENSES)})")
    cls = DEFENSES[name]
    accepted = {k: v for k, v in params.items() if v is not None}
    if cls is Defense:
        accepted = {}
    return cls(**accepted)
