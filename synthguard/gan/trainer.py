"""The WGAN-GP training loop, with a defence deciding what the critic sees.

Per critic step: two independently shuffled batches of the training rows, the defence turns them
into the critic's real batch (x, c), the generator makes fakes for the same conditions, and the
critic minimises the defence's loss plus the gradient penalty on interpolates of real and fake.
Every `n_critic` critic steps the generator takes one step on -D(G(z, c), c) with the same z and
c. An epoch is one pass of the critic over the rows.

All randomness comes from one seed: torch's global generator is forked and seeded for the run
(weight init, noise, dropout) and restored after, and the defence gets its own stream.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from ..encoders.table import Span
from .defenses import Defense
from .networks import Critic, Generator, OutputHeads

#: called after each epoch with (epoch, stats, the networks so far) — e.g. to sample mid-training
EpochCallback = Callable[[int, dict[str, float], "TrainedGAN"], None]


@dataclass
class TrainConfig:
    """Hyper-parameters of the conditional WGAN-GP (defaults: methods.md 1.4 and 1.1)."""

    epochs: int = 300
    batch_size: int = 500
    z_dim: int = 128
    generator_dims: tuple[int, ...] = (256, 256)
    critic_dims: tuple[int, ...] = (256, 256)
    critic_dropout: float = 0.0
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.9)
    weight_decay: float = 1e-6
    n_critic: int = 5
    gp_weight: float = 10.0
    #: how one-hot groups leave the generator while training: `gumbel` (near one-hot, matches
    #: hard real rows), `softmax` (matches mixed real rows), or `auto` (by the defence)
    discrete_output: str = "auto"
    gumbel_tau: float = 0.2

    def __post_init__(self) -> None:
        self.generator_dims = tuple(self.generator_dims)
        self.critic_dims = tuple(self.critic_dims)
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        if int(self.epochs) < 0:  # 0 leaves the networks untrained: the audit's null test uses it
            raise ValueError(f"epochs must be at least 0, got {self.epochs}")
        for name in ("batch_size", "z_dim", "n_critic"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.discrete_output not in ("auto", "gumbel", "softmax"):
            raise ValueError(f"discrete_output must be auto, gumbel or softmax, got {self.discrete_output!r}")

    def head_mode(self, defense: Defense) -> str:
        if self.discrete_output != "auto":
            return self.discrete_output
        return "softmax" if defense.soft_reals else "gumbel"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


@dataclass
class TrainedGAN:
    generator: torch.nn.Module
    critic: torch.nn.Module
    heads: OutputHeads
    history: list[dict[str, float]] = field(default_factory=list)


@contextlib.contextmanager
def seeded_torch(seed: int, threads: int | None = None) -> Iterator[None]:
    """Seed torch's global generator for a block and restore it (and the thread count) after."""
    before = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if threads:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """(||grad_x D(x_hat, c)|| - 1)^2 on x_hat between real and fake; gradient w.r.t. data only."""
    eps = torch.rand(len(real), 1)
    x_hat = (real + eps * (fake - real)).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat, cond).sum(), x_hat, create_graph=True)
    return ((grad.norm(2, dim=1) - 1) ** 2).mean()


def build_networks(data_dim: int, cond_dim: int, config: TrainConfig) -> tuple[Generator, Critic]:
    generator = Generator(config.z_dim, cond_dim, data_dim, config.generator_dims)
    critic = Critic(data_dim, cond_dim, config.critic_dims, config.critic_dropout)
    return generator, critic


NetworkFactory = Callable[[int, int, TrainConfig], tuple[torch.nn.Module, torch.nn.Module]]


def train_gan(x: np.ndarray, cond: np.ndarray, spans: Sequence[Span], config: TrainConfig, defense: Defense,
              seed: int, on_epoch: EpochCallback | None = None, threads: int | None = None,
              networks: NetworkFactory = build_networks) -> TrainedGAN:
    """Train G and D on encoded rows `x` (n, d) with condition one-hots `cond` (n, c).

    `networks(data_dim, cond_dim, config)` builds (generator, critic); it runs inside the seeded
    block, so weight initialisation follows the seed. G(z, c) and D(x, c) take flat rows."""
    n = len(x)
    batch = min(config.batch_size, n)
    steps_per_epoch = max(1, n // batch)
    torch_seed, defense_seed = np.random.SeedSequence(seed).generate_state(2)
    defense.bind(int(defense_seed))
    x_all = torch.as_tensor(x, dtype=torch.float32)
    c_all = torch.as_tensor(cond, dtype=torch.float32)
    heads = OutputHeads(spans)
    mode = config.head_mode(defense)
    with seeded_torch(int(torch_seed), threads):
        generator, critic = networks(x.shape[1], cond.shape[1], config)
        trained = TrainedGAN(generator, critic, heads)
        opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
        opt_d = torch.optim.Adam(critic.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
        generator.train()
        critic.train()
        step = 0
        for epoch in range(config.epochs):
            started = time.perf_counter()
            perm1, perm2 = torch.randperm(n), torch.randperm(n)
            loss_d_sum = loss_g_sum = 0.0
            g_steps = 0
            for i in range(steps_per_epoch):
                i1, i2 = perm1[i * batch:(i + 1) * batch], perm2[i * batch:(i + 1) * batch]
                real, c = defense.real_batch(x_all[i1], c_all[i1], x_all[i2], c_all[i2])
                z = torch.randn(batch, config.z_dim)
                with torch.no_grad():  # the critic step needs fakes, not the generator's graph
                    fake = heads(generator(z, c), mode, config.gumbel_tau)
                loss_d = defense.critic_loss(critic(real, c), critic(fake, c))
                loss_d = loss_d + config.gp_weight * gradient_penalty(critic, real, fake, c)
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                loss_d_sum += loss_d.item()
                step += 1
                if step % config.n_critic == 0:
                    loss_g = -critic(heads(generator(z, c), mode, config.gumbel_tau), c).mean()
                    opt_g.zero_grad(set_to_none=True)
                    loss_g.backward()
                    opt_g.step()
                    loss_g_sum += loss_g.item()
                    g_steps += 1
            stats = {"epoch": epoch + 1, "loss_d": loss_d_sum / steps_per_epoch,
                     "loss_g": loss_g_sum / g_steps if g_steps else float("nan"),
                     "seconds": time.perf_counter() - started}
            trained.history.append(stats)
            if on_epoch is not None:
                generator.eval()
                critic.eval()
                on_epoch(epoch + 1, stats, trained)
                generator.train()
                critic.train()
        generator.eval()
        critic.eval()
    return trained
