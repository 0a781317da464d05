"""The WGAN-GP training loop, with a defence deciding what the critic sees.

Per critic step: two independently shuffled batches of the critic's rows, the defence turns them
into the critic's real batch (x, c), the generator makes fakes for the same conditions, and the
critic minimises the defence's loss plus the gradient penalty on interpolates of real and fake.
Every `n_critic` critic steps the generator takes one step on -D(G(z, c), c) with the same z and
c. An epoch is one pass of the critic over the rows; the step counter runs on across epochs, so
on a table smaller than `n_critic` batches the generator does not step in every epoch (the
trainer warns, and an epoch without a generator step reports the last generator loss measured,
or None before the first). With `classifier_weight` above 0, two column classifiers train beside
the networks: one takes a step on the round's real rows before each generator step, the other on
the generator's rows after it, and the generator's loss adds the weighted difference of their
losses on its rows (`column_divergence`). A defence may hold rows out (RelaxLoss) or
give each of several critics its own partition (PAR-GAN); then every critic steps in turn and the
generator descends the mean of their losses.

All randomness comes from one seed: torch's global generator is forked and seeded for the run
(weight init, noise, dropout) and restored after, and the defence gets its own stream.
"""

from __future__ import annotations

import contextlib
import copy
import math
import numbers
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from ..encoders.table import Span
from ..errors import SynthguardWarning
from .defenses import Defense
from .networks import ColumnClassifier, Critic, Generator, OutputHeads

#: called after each epoch with (epoch, stats, the networks so far) — e.g. to sample mid-training
#: stats: epoch, loss_d, loss_g (None before the generator's first step), g_steps, seconds
EpochCallback = Callable[[int, dict[str, Any], "TrainedGAN"], None]


@dataclass
class TrainConfig:
    """Hyper-parameters of the conditional WGAN-GP. Defaults: CTGAN's networks and Adam betas
    (Xu et al., NeurIPS 2019) with Ji et al.'s n_critic = 5 and gradient-penalty weight 10 (Ji et al.,
    INFOCOM 2023, Alg. 1; official code ji-zhe/MixupTraining, train_gan_mix.py). Three defaults
    depart from both, for time to quality (benchmarks/levers.py, docs/results.md): a learning
    rate of 1e-3 instead of 2e-4, a batch chosen from the table's size instead of a fixed 500,
    and an exponential moving average of the generator (decay 0.99)."""

    epochs: int = 300
    #: rows per critic step, or `auto`: chosen from the rows trained on (`auto_batch_size`)
    batch_size: int | str = "auto"
    z_dim: int = 128
    generator_dims: tuple[int, ...] = (256, 256)
    critic_dims: tuple[int, ...] = (256, 256)
    critic_dropout: float = 0.0
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.9)
    weight_decay: float = 1e-6
    n_critic: int = 5
    gp_weight: float = 10.0
    #: how one-hot groups leave the generator while training: `gumbel` (near one-hot, matches
    #: hard real rows), `softmax` (matches mixed real rows), or `auto` (by the defence)
    discrete_output: str = "auto"
    gumbel_tau: float = 0.2
    #: decay of an exponential moving average of the generator's weights, updated after every
    #: generator step (0: off). With it on, the averaged generator is the one sampled, saved and
    #: audited; the critic and the training steps are untouched
    ema: float = 0.99
    #: weight of a column term in the generator's loss (0: off). Two classifiers
    #: (`networks.ColumnClassifier`) learn to predict each discrete part of a row from the rest,
    #: one on the critic's real rows and one on the generator's; the generator adds this weight
    #: times `column_divergence`. They are trained with the generator and discarded after: neither
    #: is sampled, saved or audited (what they teach reaches the release through the generator).
    #: Off by default: at a weight of 3 the yes/no `physlim`'s TSTR AUC moved +0.010 [-0.007, +0.027]
    #: on MedExp (16 seeds) and +0.015 [+0.002, +0.029] on DoctorContacts (8), the condition's
    #: -0.005 on both, no attack measurably up (200 OFP rows trained long, MedExp's defaults), at
    #: 1.3x a MedExp epoch (benchmarks/short_fits.py, benchmarks/power_curve.py; docs/results.md)
    classifier_weight: float = 0.0

    def __post_init__(self) -> None:
        """Every setting checked, with a one-line ValueError naming it (the `Synthesizer` turns
        these into SynthguardErrors). `epochs` may be 0 here: that builds untrained networks (the
        `Untrained` calibration recipe); a `Synthesizer` asks for at least 1."""
        # 0 leaves the networks untrained: only the audit's null test (calibration.Untrained) uses it
        self.epochs = whole_setting("epochs", self.epochs, 0)
        if self.batch_size != AUTO:
            if isinstance(self.batch_size, str):
                raise ValueError(f"batch_size must be a whole number or {AUTO!r}, got {self.batch_size!r}")
            self.batch_size = whole_setting("batch_size", self.batch_size, 1)
        for name in ("z_dim", "n_critic"):
            setattr(self, name, whole_setting(name, getattr(self, name), 1))
        for name in ("generator_dims", "critic_dims"):
            dims = getattr(self, name)
            if isinstance(dims, (str, bytes)) or not hasattr(dims, "__iter__"):
                raise ValueError(f"{name} must be a list of layer widths, got {dims!r}")
            setattr(self, name, tuple(whole_setting(f"each of {name}", d, 1) for d in dims))
        betas = self.betas
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        self.betas = (real_setting("betas", betas[0], 0.0, 1.0, high_open=True),
                      real_setting("betas", betas[1], 0.0, 1.0, high_open=True))
        self.lr = real_setting("lr", self.lr, 0.0, low_open=True)
        self.weight_decay = real_setting("weight_decay", self.weight_decay, 0.0)
        self.gp_weight = real_setting("gp_weight", self.gp_weight, 0.0)
        self.gumbel_tau = real_setting("gumbel_tau", self.gumbel_tau, 0.0, low_open=True)
        self.critic_dropout = real_setting("critic_dropout", self.critic_dropout, 0.0, 1.0, high_open=True)
        self.ema = real_setting("ema", self.ema, 0.0, 1.0, high_open=True)
        self.classifier_weight = real_setting("classifier_weight", self.classifier_weight, 0.0)
        if self.discrete_output not in ("auto", "gumbel", "softmax"):
            raise ValueError(f"discrete_output must be auto, gumbel or softmax, got {self.discrete_output!r}")

    def head_mode(self, defense: Defense) -> str:
        if self.discrete_output != "auto":
            return self.discrete_output
        return "softmax" if defense.soft_fakes else "gumbel"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


#: the batch size setting that is chosen from the table's size
AUTO = "auto"
#: `auto` aims at about this many critic steps per epoch ...
AUTO_STEPS_PER_EPOCH = 30
#: ... with a batch between these (a power of two)
AUTO_BATCH_RANGE = (64, 512)


def auto_batch_size(rows: int) -> int:
    """The batch `batch_size="auto"` trains `rows` rows with: the power of two nearest to
    rows / 30 (about 30 critic steps, 6 generator steps at n_critic = 5, per epoch), kept between
    64 and 512. A fixed batch gives a small table a handful of generator steps per epoch (OFP's
    3,525 rows at 500: 7 critic steps, 1.4 generator steps) and a large one many; measured in
    benchmarks/levers.py. An audit's shadows, on halves of a table, train with the batch of the
    whole table (`Synthesizer.sized_for`)."""
    wanted = max(rows, 1) / AUTO_STEPS_PER_EPOCH
    low, high = AUTO_BATCH_RANGE
    return int(min(max(2 ** round(math.log2(max(wanted, 1))), low), high))


def batch_for(rows: int, config: TrainConfig) -> int:
    """The batch size a fit on `rows` rows uses under `config`."""
    return auto_batch_size(rows) if config.batch_size == AUTO else int(config.batch_size)


def whole_setting(name: str, value: Any, low: int) -> int:
    """An integer setting of at least `low` (a bool or a float with a fraction is not one)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, float)) or (
            isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if int(value) < low:
        raise ValueError(f"{name} must be at least {low}, got {value!r}")
    return int(value)


def real_setting(name: str, value: Any, low: float, high: float = math.inf, *, low_open: bool = False,
            high_open: bool = False) -> float:
    """A finite real setting in [low, high] (an open end excludes that end)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if value < low or (low_open and value == low) or value > high or (high_open and value == high):
        lower = f"{'above' if low_open else 'at least'} {low:g}"
        upper = "" if math.isinf(high) else f" and {'below' if high_open else 'at most'} {high:g}"
        raise ValueError(f"{name} must be {lower}{upper}, got {value:g}")
    return value


def generator_schedule(rows: int, batch: int, config: TrainConfig) -> tuple[int, int]:
    """(critic steps per epoch, generator steps in the whole run) for `rows` rows per critic in
    batches of `batch`: the generator steps once every `n_critic` critic steps, counted across
    epochs."""
    steps_per_epoch = max(1, rows // batch)
    return steps_per_epoch, steps_per_epoch * config.epochs // config.n_critic


def _warn_sparse_generator(rows: int, batch: int, config: TrainConfig) -> None:
    """Say so when an epoch is shorter than `n_critic` critic steps: the generator then skips
    epochs (the schedule is left as it is, so that a seed keeps giving the same model). The
    message names no row count, so that the shadows of an audit repeat the same line."""
    steps_per_epoch, g_total = generator_schedule(rows, batch, config)
    if config.epochs == 0 or steps_per_epoch >= config.n_critic:
        return
    where = (f"an epoch is only {steps_per_epoch} critic step(s) at a batch of {batch} on this table, "
             f"fewer than n_critic={config.n_critic}, so the generator (one step every {config.n_critic} critic "
             f"steps)")
    if g_total == 0:
        need = math.ceil(config.n_critic / steps_per_epoch)
        warnings.warn(f"{where} takes no training step at all in {config.epochs} epoch(s) and its rows are noise; "
                      f"train for at least {need} epochs or lower batch_size", SynthguardWarning, stacklevel=3)
    else:
        warnings.warn(f"{where} takes {g_total} step(s) in {config.epochs} epochs, and an epoch without one reports "
                      f"the last generator loss; a lower batch_size gives it more", SynthguardWarning, stacklevel=3)


@dataclass
class TrainedGAN:
    generator: torch.nn.Module
    critic: torch.nn.Module
    heads: OutputHeads
    history: list[dict[str, float | None]] = field(default_factory=list)


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


def gradient_penalty(critic: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, cond: torch.Tensor,
                     scale: torch.Tensor | None = None) -> torch.Tensor:
    """(||grad_x D(x_hat, c)|| - 1)^2 on x_hat between real and fake; gradient w.r.t. data only.
    A critic that writes its input gradient out (`Critic.input_gradient`) gives it directly;
    any other (the convolutional critic for images) goes through autograd's double backward.
    With `scale` (one positive factor per unit) the norm is taken where unit i is stretched by
    scale[i], i.e. of grad / scale: the critic may then change scale[i] times as fast along it,
    and the distance the critic estimates weighs a difference in that unit scale[i] times."""
    eps = torch.rand(len(real), 1, device=real.device)
    x_hat = real + eps * (fake - real)
    explicit = getattr(critic, "input_gradient", None)
    grad = explicit(x_hat, cond) if explicit is not None else None
    if grad is None:
        x_hat.requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat, cond).sum(), x_hat, create_graph=True)
    if scale is not None:
        grad = grad / scale
    return ((grad.norm(2, dim=1) - 1) ** 2).mean()


def adam(module: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser of every network: Adam with the recipe's settings, in its fused (one kernel
    per parameter) form, which saves a few per cent of an epoch on the CPU against the
    per-parameter loop of the default form (benchmarks/critic_step.py)."""
    return torch.optim.Adam(module.parameters(), lr=config.lr, betas=config.betas,
                            weight_decay=config.weight_decay, fused=True)


def epoch_order(rows: torch.Tensor) -> torch.Tensor:
    """The order in which an epoch reads `rows`: a random permutation, each row once (one place,
    which benchmarks/short_fits.py's class-balanced `sampling=` trials replace)."""
    return rows[torch.randperm(len(rows))]


def critic_step(critic: torch.nn.Module, optimizer: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor,
                cond: torch.Tensor, defense: Defense, rows: torch.Tensor, epoch: int, gp_weight: float) -> float:
    """One critic step: the defence's loss on the critic's scores of the real and fake rows, plus
    the gradient penalty (not computed at a weight of 0); returns the loss. The critic scores real
    and fake rows in one pass: it scores each row on its own (no batch norm), and one product of 2b
    rows costs less than two of b (benchmarks/critic_step.py)."""
    d_real, d_fake = critic(torch.cat([real, fake]), torch.cat([cond, cond])).split(len(real))
    loss = defense.critic_loss(d_real, d_fake, rows, epoch)
    if gp_weight:
        loss = loss + gp_weight * gradient_penalty(critic, real, fake, cond)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.item())


def classifier_step(classifier: ColumnClassifier, optimizer: torch.optim.Optimizer, rows: torch.Tensor,
                    cond: torch.Tensor) -> None:
    """One step of a column classifier on rows and their conditions, each row's part to predict
    drawn uniformly from the classifier's parts."""
    pick = torch.randint(classifier.parts, (len(rows),), device=rows.device)
    loss = classifier(rows, cond, pick).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def column_divergence(real_rows: ColumnClassifier, fake_rows: ColumnClassifier, fake: torch.Tensor,
                      cond: torch.Tensor) -> torch.Tensor:
    """The generator's column term: per row, the real rows' classifier's loss on one drawn part
    minus the generator's rows' classifier's loss on it. Its gradient is that of the divergence
    of the generator's conditional of the part from the real rows' (KL(q(y | rest) || p(y | rest))),
    as far as the classifiers estimate both. The first loss alone also rewards rows whose part
    is easy to predict, and a generator that follows it far enough stops emitting the rare
    values: MedExp's `physlim` came out all `no` (TSTR AUC 0.500) at a weight of 3."""
    pick = torch.randint(real_rows.parts, (len(fake),), device=fake.device)
    return (real_rows(fake, cond, pick) - fake_rows(fake, cond, pick)).mean()


@contextlib.contextmanager
def frozen(modules: Sequence[torch.nn.Module]) -> Iterator[None]:
    """The modules' trainable parameters out of autograd for a block, and back after. The
    generator's step needs each critic's gradient with respect to its input only: without this,
    its backward pass also computes the critics' weight gradients, which the critics' next step
    discards unread (it zeroes them before its own backward). The generator's gradients are the
    same to the bit either way."""
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


class GeneratorAverage:
    """An exponential moving average of a generator's weights (its batch-norm statistics are
    copied, not averaged). The decay after the t-th update is min(decay, (1 + t) / (10 + t)): the
    average follows the fast-moving weights of early training and settles to `decay` later, so
    that a short fit is not an average dominated by the random initialisation. No optimiser holds
    the average's parameters; they keep `requires_grad` as a loaded model's do, for the white-box
    attacks that differentiate through the generator."""

    def __init__(self, generator: torch.nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(generator).eval()
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, generator: torch.nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(list(self.model.parameters()), list(generator.parameters()), 1.0 - decay)
        for mine, theirs in zip(self.model.buffers(), generator.buffers(), strict=True):
            mine.copy_(theirs)


class CriticEnsemble(torch.nn.Module):
    """Several critics read as one (PAR-GAN): D(x, c) is the mean of their scores, which is what
    the generator descends and what white-box attacks see."""

    def __init__(self, critics: Sequence[torch.nn.Module]) -> None:
        super().__init__()
        self.critics = torch.nn.ModuleList(critics)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return torch.stack([critic(x, cond) for critic in self.critics]).mean(dim=0)


def build_networks(data_dim: int, cond_dim: int, config: TrainConfig) -> tuple[Generator, Critic]:
    generator = Generator(config.z_dim, cond_dim, data_dim, config.generator_dims)
    critic = Critic(data_dim, cond_dim, config.critic_dims, config.critic_dropout)
    return generator, critic


NetworkFactory = Callable[[int, int, TrainConfig], tuple[torch.nn.Module, torch.nn.Module]]


def build_gan(networks: NetworkFactory, data_dim: int, cond_dim: int, config: TrainConfig, n_critics: int = 1
              ) -> tuple[torch.nn.Module, list[torch.nn.Module]]:
    """The generator and `n_critics` critics (extra critics come from further factory calls)."""
    generator, critic = networks(data_dim, cond_dim, config)
    return generator, [critic] + [networks(data_dim, cond_dim, config)[1] for _ in range(n_critics - 1)]


def resolve_device(device: str) -> torch.device:
    """`cpu` or `cuda` (`cuda:N`); asking for CUDA where there is none is an error, not a fallback."""
    if not isinstance(device, str) or device.split(":")[0] not in ("cpu", "cuda"):
        raise ValueError(f"device must be cpu or cuda, got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but torch finds no CUDA device on this machine")
    return torch.device(device)


def train_gan(x: np.ndarray, cond: np.ndarray, spans: Sequence[Span], config: TrainConfig, defense: Defense,
              seed: int, on_epoch: EpochCallback | None = None, threads: int | None = None,
              networks: NetworkFactory = build_networks, device: str = "cpu") -> TrainedGAN:
    """Train G and the defence's critics on encoded rows `x` (n, d) with condition one-hots `cond` (n, c).

    `networks(data_dim, cond_dim, config)` builds (generator, critic); it runs inside the seeded
    block, so weight initialisation follows the seed. G(z, c) and D(x, c) take flat rows. Training
    runs on `device`; the returned networks are on the CPU, where sampling and the audit read them."""
    dev = resolve_device(device)
    torch_seed, defense_seed = np.random.SeedSequence(seed).generate_state(2)
    defense.bind(int(defense_seed))
    if defense.needs_references:
        defense.thresholds = reference_critic_losses(x, cond, spans, config, int(defense_seed),
                                                     defense.reference_models,
                                                     threads, networks, device)
    parts = [torch.as_tensor(p, dtype=torch.int64) for p in defense.partitions(len(x))]
    size = min(len(p) for p in parts)
    # with k critics each takes 1/k of the batch: a round of critic steps reads batch_size rows and
    # an epoch has as many generator steps as plain training
    batch = min(max(2, batch_for(len(x), config) // len(parts)), size)
    steps_per_epoch, _ = generator_schedule(size, batch, config)
    _warn_sparse_generator(size, batch, config)
    x_all = torch.as_tensor(x, dtype=torch.float32).to(dev)
    c_all = torch.as_tensor(cond, dtype=torch.float32).to(dev)
    heads = OutputHeads(spans)
    mode = config.head_mode(defense)
    with seeded_torch(int(torch_seed), threads):
        generator, critics = build_gan(networks, x.shape[1], cond.shape[1], config, len(parts))
        generator.to(dev)
        for critic in critics:
            critic.to(dev)
        average = GeneratorAverage(generator, config.ema) if config.ema > 0 else None
        # the generator that is sampled, saved and audited: the average when there is one
        trained = TrainedGAN(generator if average is None else average.model,
                             critics[0] if len(critics) == 1 else CriticEnsemble(critics), heads)

        def probe(rows: np.ndarray) -> np.ndarray:
            """Per-sample critic loss of rows under the current networks (one fake per row); eval
            mode, so that scoring moves no batch-norm statistics."""
            generator.eval()
            trained.critic.eval()
            with torch.no_grad():
                idx = torch.as_tensor(rows, dtype=torch.int64, device=dev)
                xr, cr = x_all.index_select(0, idx), c_all.index_select(0, idx)
                fake = heads(generator(torch.randn(len(idx), config.z_dim, device=dev), cr), mode, config.gumbel_tau)
                losses = (trained.critic(fake, cr) - trained.critic(xr, cr)).cpu().numpy()
            generator.train()
            trained.critic.train()
            return losses

        def generate(z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
            return heads(generator(z, c), mode, config.gumbel_tau)

        opt_g = adam(generator, config)
        opt_ds = [adam(critic, config) for critic in critics]
        # the column classifiers of the real rows and of the generator's rows, and their optimisers
        classifiers: list[tuple[ColumnClassifier, torch.optim.Optimizer]] = []
        if config.classifier_weight > 0 and ColumnClassifier.parts_of(spans, cond.shape[1]):
            for _ in ("real", "fake"):
                made = ColumnClassifier(spans, cond.shape[1], config.critic_dims).to(dev)
                classifiers.append((made, adam(made, config)))
        generator.train()
        trained.critic.train()
        step = 0
        last_loss_g: float | None = None  # None until the generator's first step
        for epoch in range(config.epochs):
            started = time.perf_counter()
            orders = [(epoch_order(p), epoch_order(p)) for p in parts]
            loss_d_sum = loss_g_sum = 0.0
            g_steps = 0
            for i in range(steps_per_epoch):
                zs, cs, reals = [], [], []
                for critic, opt_d, (order1, order2) in zip(critics, opt_ds, orders, strict=True):
                    i1, i2 = order1[i * batch:(i + 1) * batch], order2[i * batch:(i + 1) * batch]
                    defense.before_step(probe, len(i1))
                    i1d, i2d = i1.to(dev), i2.to(dev)
                    # index_select: the rows that indexing with [i1d] gives, at a fraction of its cost on the CPU
                    real, c = defense.real_batch(x_all.index_select(0, i1d), c_all.index_select(0, i1d),
                                                 x_all.index_select(0, i2d), c_all.index_select(0, i2d))
                    z = defense.fake_noise(batch, config.z_dim, dev)
                    with torch.no_grad():  # the critic step needs fakes, not the generator's graph
                        fake = defense.fake_batch(generate, z, c)
                    loss_d = critic_step(critic, opt_d, real, fake, c, defense, i1, epoch, config.gp_weight)
                    loss_d_sum += loss_d / len(critics)
                    zs.append(z)
                    cs.append(c)
                    reals.append(real)
                step += 1
                if step % config.n_critic == 0:  # the round's z and c again; every critic judges
                    z, c = torch.cat(zs), torch.cat(cs)
                    if classifiers:
                        classifier_step(*classifiers[0], torch.cat(reals), c)
                    fake, c = defense.generator_batch(generate, z, c)
                    opt_g.zero_grad(set_to_none=True)
                    with frozen([*critics, *(made for made, _ in classifiers)]):
                        loss_g = -torch.stack([critic(fake, c).mean() for critic in critics]).mean()
                        if not classifiers:
                            loss_g.backward()
                        else:  # the history's loss_g stays the critics' part
                            term = column_divergence(classifiers[0][0], classifiers[1][0], fake, c)
                            (loss_g + config.classifier_weight * term).backward()
                    opt_g.step()
                    if classifiers:  # the generator's classifier follows its rows, one step behind
                        classifier_step(*classifiers[1], fake.detach(), c)
                    if average is not None:
                        average.update(generator)
                    loss_g_sum += loss_g.item()
                    g_steps += 1
            if g_steps:
                last_loss_g = loss_g_sum / g_steps
            # loss_g: this epoch's mean, else the last one measured (g_steps says which), else None
            stats = {"epoch": epoch + 1, "loss_d": loss_d_sum / steps_per_epoch, "loss_g": last_loss_g,
                     "g_steps": g_steps, "seconds": time.perf_counter() - started}
            trained.history.append(stats)
            if on_epoch is not None:
                generator.eval()
                trained.critic.eval()
                on_epoch(epoch + 1, stats, trained)
                generator.train()
                trained.critic.train()
        generator.eval()
        trained.generator.eval()
        trained.critic.eval()
        trained.generator.cpu()
        trained.critic.cpu()
    return trained


def reference_critic_losses(x: np.ndarray, cond: np.ndarray, spans: Sequence[Span], config: TrainConfig, seed: int,
                            k: int, threads: int | None, networks: NetworkFactory, device: str,
                            fakes: int = 16) -> np.ndarray:
    """Per row, the mean critic loss -D(x, c) + mean D(fakes of c, c) under the `k` reference
    models that did NOT train on it (RelaxLoss per example: Ji et al.'s RelaxLoss-for-GAN baseline,
    ji-zhe/MixupTraining, trainTargetModel/train_relaxloss.py). The references are plain
    WGAN-GPs with the same settings, each on a seeded half such that every row is out of half of
    them."""
    n = len(x)
    rng = np.random.default_rng(seed)
    # balanced halves: per row, a random half of the models hold it
    order = np.argsort(rng.random((k, n)), axis=0)
    holds = order < k // 2
    total, count = np.zeros(n), np.zeros(n)
    x_t, c_t = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(cond, dtype=torch.float32)
    for r in range(k):
        rows = np.flatnonzero(holds[r])
        with warnings.catch_warnings():  # the defended model's own fit says it once
            warnings.simplefilter("ignore", SynthguardWarning)
            ref = train_gan(x[rows], cond[rows], spans, config, Defense(), int(rng.integers(2**31)),
                            threads=threads, networks=networks, device=device)
        out = np.flatnonzero(~holds[r])
        with seeded_torch(int(rng.integers(2**31)), threads), torch.no_grad():
            c_out = c_t[out].repeat(fakes, 1)
            raw = ref.generator(torch.randn(len(c_out), config.z_dim), c_out)
            fake = ref.heads(raw, config.head_mode(Defense()), config.gumbel_tau)  # as its critic saw them
            fake_score = ref.critic(fake, c_out).reshape(fakes, len(out)).mean(dim=0)
            total[out] += (fake_score - ref.critic(x_t[out], c_t[out])).numpy()
        count[out] += 1
    return total / count
