"""Settings compared by whole fits of fixed lengths: what a user who shortens training gets.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/short_fits.py --table medexp --lengths 100 \\
        --seeds 0,1,2,3 --config default --config lr_cosine=0.1 --config n_critic=3 [--json out.json]

Per seed: the seeded 80/20 split of a bundled table (as fit_speed.py and levers.py split it), or
of a table of your own (`--csv X.csv --schema X.yaml --targets A,B`: the report then records
both files' SHA-256, and `--merge` pairs only runs of the same files). Per
length and per `--config`: one fit of exactly that many epochs, in this process with `--threads`
torch threads, then as many rows as the train set holds (sample seed: the seed + 1000), scored as
fit_speed.py scores them: sdmetrics quality and, per target, the TSTR ROC AUC of a gradient-boosting
model tested on the held-out 20%. Fit time is the process's CPU time. `--samples K` scores K such
releases of each fit (the first as above; a peer's further releases carry its random stream on)
and keeps their means, each sample's figures beside them: a TSTR AUC moves with the release drawn
as well as with the fit.

Where levers.py scores checkpoints of one long fit against a CPU budget, this fits each length on
its own: the only honest comparison for a setting that reads the fit's length, such as a learning
rate schedule that decays to the last epoch.

`--config` takes Synthesizer settings (`key=value;key=value`, `default` for the recipe as shipped)
and trials defined here or in levers.py: `lr_cosine=f` (both networks' learning rates fall from
`lr` along half a cosine to `lr` x f at the last epoch, set between epochs through the fit's epoch
callback), `binary=gumbel` (binary units as relaxed Bernoulli draws in training: `relaxed_binary`),
`modes=likeliest` (continuous values encoded with their likeliest mode, not a drawn one:
`mode_choice`), `critic=values` (the critic also reads each continuous column's decoded value:
`value_view_synthesizer`), `sampling=log|sqrt` (condition classes drawn by log-frequency or
square-root frequency in training: `class_balanced_rows`), `mix=dominant` (mixup's critic reads
boolean and categorical columns whole from the dominant record of each pair: `dominant_discrete`),
`gen=plain` (the generator's step judged on its fakes unmixed: `plain_generator_fakes`),
`discrete_scale=s` (the penalty's norm with boolean and categorical units stretched by s:
`discrete_scale`; `binary_scale=s` the boolean units alone),
`gp_every=k` (levers.py's lazy penalty);
and `peer=tvae|ctgan`, TVAE or CTGAN fitted for the length (or for `epochs=N` of its own) in
place of synthguard (`fit_peer`; needs the `ctgan` package, `make bench-deps`), so that a setting
pairs with a peer by seed. A peer with `epochs=N` is fitted once per seed and its figures are
recorded at every `--lengths` entry (`reused_from`: the length it was fitted beside), so that
`--lengths 60,300 --config default --config "peer=ctgan;epochs=300"` asks both of #15's questions
(a short fit and the default length, each against the peer's default) for one peer fit a seed.

`--merge A.json B.json ...` fits nothing: it summarises the runs of several reports of the same
table, targets, threads and machine as one report, against the first file's first setting. Fits
are deterministic per seed at a given thread count on a given CPU (not across counts or CPUs: the
order of floating-point sums changes, and a seed then gives another fit), so runs made in
different processes pair by seed as if made in one; a run held by two files must agree to every
figure. Each report records its machine (`_peers_common.machine`: the CPU, the instruction set
torch dispatches to, library versions).

Summary per length and setting: means over seeds, and each figure's difference from the first
`--config`, paired by seed, with a 95% t-interval over seeds (fit_speed.mean_interval). Never part
of `make test`.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _peers_common import code_version, derive_seed, describe_machine, fmt, json_path, machine, save_json, split
from fit_speed import Scorer, mean_interval
from levers import TARGETS, lazy_penalty, parse_config

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def cosine_lr(final: float | None, epochs: int) -> Iterator[Callable[[int, dict[str, Any]], None] | None]:
    """The `lr_cosine=f` trial: yields an epoch callback that sets, after epoch e (1-based), the
    rate of every optimiser the trainer built for the next one, lr x (f + (1 - f)(1 + cos(pi e /
    (epochs - 1))) / 2): the first epoch at lr, the last at lr x f. The trainer's `adam` is wrapped
    for the block to collect its optimisers."""
    from synthguard.gan import trainer

    if final is None:
        yield None
        return
    if not isinstance(final, (int, float)) or not 0 < final <= 1:
        raise SystemExit(f"--config lr_cosine={final}: a fraction in (0, 1]")
    shipped, made = trainer.adam, []

    def adam(module: Any, config: Any) -> Any:
        optimiser = shipped(module, config)
        made.append((optimiser, config.lr))
        return optimiser

    def on_epoch(epoch: int, stats: dict[str, Any]) -> None:
        done = min(epoch, epochs - 1) / max(epochs - 1, 1)
        factor = final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * done))
        for optimiser, lr in made:
            for group in optimiser.param_groups:
                group["lr"] = lr * factor

    trainer.adam = adam
    try:
        yield on_epoch
    finally:
        trainer.adam = shipped


@contextlib.contextmanager
def relaxed_binary(on: bool) -> Iterator[None]:
    """The `binary=gumbel` trial: in training's Gumbel mode each binary unit is a relaxed Bernoulli
    draw, sigmoid((logit + L) / tau) with L standard logistic (the two-way Gumbel-softmax that
    CTGAN's one-hot booleans get), instead of its plain sigmoid; release draws are unchanged
    (Bernoulli(sigmoid(logit)), which is the law of the relaxed draw rounded at 1/2). The
    trainer's heads class is swapped for the block."""
    import torch

    from synthguard.gan import trainer
    from synthguard.gan.networks import OutputHeads

    if not on:
        yield
        return

    class RelaxedBinaryHeads(OutputHeads):
        def _binary(self, logits: Any, mode: str, tau: float, generator: Any) -> Any:
            if mode != "gumbel":
                return super()._binary(logits, mode, tau, generator)
            u = torch.rand_like(logits).clamp_(1e-6, 1 - 1e-6)
            return torch.sigmoid((logits + torch.log(u) - torch.log1p(-u)) / tau)

    shipped = trainer.OutputHeads
    trainer.OutputHeads = RelaxedBinaryHeads  # type: ignore[misc]
    try:
        yield
    finally:
        trainer.OutputHeads = shipped  # type: ignore[misc]


@contextlib.contextmanager
def mode_choice(choice: str | None) -> Iterator[None]:
    """The `modes=likeliest` trial: continuous values are encoded with their most likely mode
    instead of a mode drawn from the posterior (the encoder's class setting, set for the block)."""
    from synthguard.encoders.table import _Continuous

    if choice is None:
        yield
        return
    if choice not in ("sample", "likeliest"):
        raise SystemExit(f"--config modes={choice}: `sample` or `likeliest`")
    shipped = _Continuous.mode_choice
    _Continuous.mode_choice = choice
    try:
        yield
    finally:
        _Continuous.mode_choice = shipped


@contextlib.contextmanager
def class_balanced_rows(law: str | None) -> Iterator[None]:
    """The `sampling=log` and `sampling=sqrt` trials: each epoch draws as many rows as the training
    set holds, with replacement, a condition class c with probability proportional to log(1 + its
    row count) (the training-by-sampling law of CTGAN) or to the square root of its count, and then
    a row of that class uniformly; the shipped order reads every row once, so classes come at their
    frequencies. The trainer's `epoch_order` is swapped for the block, and the fit's condition
    one-hots are read where the synthesizer passes them to `train_gan`."""
    import numpy as np
    import torch

    from synthguard import synthesizer
    from synthguard.gan import trainer

    if law is None:
        yield
        return
    if law not in ("log", "sqrt"):
        raise SystemExit(f"--config sampling={law}: `log` or `sqrt`")
    shipped_train, shipped_order = synthesizer.train_gan, trainer.epoch_order
    weights: list[Any] = []

    def train_gan(x: Any, cond: Any, *args: Any, **kwargs: Any) -> Any:
        if not cond.shape[1]:
            raise SystemExit(f"--config sampling={law}: the schema has no condition")
        cls = cond.argmax(axis=1)
        counts = np.bincount(cls, minlength=cond.shape[1]).astype(float)
        mass = np.log1p(counts) if law == "log" else np.sqrt(counts)
        weights.append(torch.as_tensor((mass / mass.sum())[cls] / counts[cls]))
        try:
            return shipped_train(x, cond, *args, **kwargs)
        finally:
            weights.pop()

    def epoch_order(rows: Any) -> Any:
        return rows[torch.multinomial(weights[-1][rows], len(rows), replacement=True)]

    synthesizer.train_gan, trainer.epoch_order = train_gan, epoch_order
    try:
        yield
    finally:
        synthesizer.train_gan, trainer.epoch_order = shipped_train, shipped_order


@contextlib.contextmanager
def mixup_trial(setting: str, make: Callable[[Any, Any, int], Any]) -> Iterator[None]:
    """Fits under a trial of the mixup defence: where the synthesizer hands its defence to
    `train_gan`, the defence object becomes an instance of `make(Mixup, spans, width)` (a subclass
    built from the fit's spans and encoded row width), keeping its settings and random stream. Any
    other defence, or mixup with the paper's generated fakes, stops the run, naming `setting`."""
    from synthguard import synthesizer
    from synthguard.gan.defenses import Mixup

    shipped = synthesizer.train_gan

    def train_gan(x: Any, cond: Any, spans: Any, config: Any, defense: Any, *args: Any, **kwargs: Any) -> Any:
        if type(defense) is not Mixup:
            raise SystemExit(f"--config {setting}: a trial of the mixup defence")
        if defense.fakes != "mixed":
            raise SystemExit(f"--config {setting}: needs mixup's mixed fakes (the default)")
        defense.__class__ = make(Mixup, spans, x.shape[1])
        return shipped(x, cond, spans, config, defense, *args, **kwargs)

    synthesizer.train_gan = train_gan
    try:
        yield
    finally:
        synthesizer.train_gan = shipped


def dominant_discrete(mix: str | None) -> contextlib.AbstractContextManager[None]:
    """The `mix=dominant` trial (methods.md section 1, mitigation (b) for mixed-type tables, not
    the paper's method): mixup's critic sees every unit of a continuous column mixed as shipped, but
    the units of each boolean and categorical column, and the condition, taken whole from the record
    of the pair with weight lam >= 1/2; mixed fakes (the default) are combined the same way. So the
    critic reads hard yes/no and category values, as an unmixed critic does, while every value it
    reads of a continuous column is still an interpolation. The mask of hard units is read from the
    spans the synthesizer passes to `train_gan`."""
    import torch

    if mix is None:
        return contextlib.nullcontext()
    if mix != "dominant":
        raise SystemExit(f"--config mix={mix}: only `dominant` is a trial")

    def make(mixup: Any, spans: Any, width: int) -> Any:
        continuous = {s.column for s in spans if s.kind == "scalar"}
        hard = torch.zeros(width, dtype=torch.bool)
        for s in spans:
            if s.column not in continuous:
                hard[s.start:s.start + s.width] = True

        class DominantMixup(mixup):
            def _combine(self, lam: Any, a: Any, b: Any) -> Any:
                return torch.where(hard, torch.where(lam >= 0.5, a, b), lam * a + (1 - lam) * b)

            def real_batch(self, x1: Any, c1: Any, x2: Any, c2: Any) -> Any:
                lam = torch.as_tensor(self.sample_lambda(len(x1)), dtype=x1.dtype, device=x1.device).reshape(-1, 1)
                self._pair = (lam, c1, c2)
                return self._combine(lam, x1, x2), torch.where(lam >= 0.5, c1, c2)

            def fake_batch(self, generate: Any, z: Any, c: Any) -> Any:
                lam, c1, c2 = self._pair
                made = generate(z, torch.cat([c1, c2]))
                return self._combine(lam, made[:len(c1)], made[len(c1):])
        return DominantMixup

    return mixup_trial(f"mix={mix}", make)


def plain_generator_fakes(gen: str | None) -> contextlib.AbstractContextManager[None]:
    """The `gen=plain` trial: the critic trains on mixed rows as shipped (reals and fakes mixed with
    one lam), but the generator's step is judged on its fakes unmixed, G(z1, c1) and G(z2, c2)
    under their own conditions c1 and c2, rather than on their mix under the mixed condition. The
    critic, the only part that reads real rows, sees exactly what it sees as shipped; the generator's
    gradient is the critic's at its own rows instead of at their interpolation, scaled by nothing."""
    import torch

    if gen is None:
        return contextlib.nullcontext()
    if gen != "plain":
        raise SystemExit(f"--config gen={gen}: only `plain` is a trial")

    def make(mixup: Any, spans: Any, width: int) -> Any:
        class PlainGeneratorMixup(mixup):
            def generator_batch(self, generate: Any, z: Any, c: Any) -> Any:
                _, c1, c2 = self._pair
                conditions = torch.cat([c1, c2])
                return generate(z, conditions), conditions
        return PlainGeneratorMixup

    return mixup_trial(f"gen={gen}", make)


@contextlib.contextmanager
def discrete_scale(factor: float | None, binary_only: bool = False) -> Iterator[None]:
    """The `discrete_scale=s` trial: the gradient penalty takes its norm where every unit of a
    boolean or categorical column (not a continuous column's mode units) is stretched by s, so that
    the critic may change s times as fast along those units and the distance it estimates weighs a
    wrong yes/no or category s times as much against the continuous values. `binary_scale=s`
    (`binary_only`) stretches the yes/no units alone. What the critic reads, and the random stream,
    are unchanged; the scale vector is read from the spans the synthesizer passes to `train_gan`."""
    import functools

    import torch

    from synthguard import synthesizer
    from synthguard.gan import trainer

    if factor is None:
        yield
        return
    if not float(factor) > 0:
        raise SystemExit(f"--config {'binary' if binary_only else 'discrete'}_scale={factor}: a positive factor")
    shipped_train, shipped_penalty = synthesizer.train_gan, trainer.gradient_penalty

    def train_gan(x: Any, cond: Any, spans: Any, *args: Any, **kwargs: Any) -> Any:
        continuous = {s.column for s in spans if s.kind == "scalar"}
        scale = torch.ones(x.shape[1])
        for s in spans:
            if s.column not in continuous and (s.kind == "binary" or not binary_only):
                scale[s.start:s.start + s.width] = float(factor)
        trainer.gradient_penalty = functools.partial(shipped_penalty, scale=scale)
        return shipped_train(x, cond, spans, *args, **kwargs)

    synthesizer.train_gan = train_gan
    try:
        yield
    finally:
        synthesizer.train_gan, trainer.gradient_penalty = shipped_train, shipped_penalty


def value_view_synthesizer() -> Any:
    """The `critic=values` trial: a Synthesizer whose critic also reads each continuous column's
    value, decoded from its mode and offset (standardised over the column's mixture), beside the
    encoded row. A value is a product of the mode's one-hot and the offset, which the critic's
    first layer cannot form; with it the critic sees a link such as age -> physlim directly. The
    penalty takes autograd's route (the trial critic does not write out its input gradient)."""
    import numpy as np
    import torch

    from synthguard.encoders.table import _STD_MULTIPLIER, _Continuous
    from synthguard.gan.networks import Critic, Generator
    from synthguard.synthesizer import Synthesizer

    class ValueCritic(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module, means: Any, stds: Any, offsets: Any) -> None:
            super().__init__()
            self.inner = inner
            self.register_buffer("means", means)  # (d, columns): a mode's standardised mean
            self.register_buffer("stds", stds)  # (d, columns): its scaled spread
            self.register_buffer("offsets", offsets)  # the units holding each column's offset

        def forward(self, x: Any, cond: Any) -> Any:
            values = x @ self.means + x.index_select(1, self.offsets) * (x @ self.stds)
            return self.inner(torch.cat([x, values], dim=1), cond)

    class Trial(Synthesizer):
        def _network_factory(self) -> Any:
            encoder = self.encoder_
            spans = {(s.column, s.kind): s for s in encoder.spans}
            columns = [name for name, t in encoder.transforms.items()
                       if isinstance(t, _Continuous) and (name, "scalar") in spans]

            def networks(data_dim: int, cond_dim: int, config: Any) -> tuple[Any, Any]:
                generator = Generator(config.z_dim, cond_dim, data_dim, config.generator_dims)
                critic = Critic(data_dim + len(columns), cond_dim, config.critic_dims, config.critic_dropout)
                means = np.zeros((data_dim, len(columns)), dtype=np.float32)
                stds = np.zeros_like(means)
                offsets = []
                for j, name in enumerate(columns):
                    t = encoder.transforms[name]
                    m, sd, w = np.asarray(t.means), np.asarray(t.stds), np.asarray(t.weights)
                    mu = float(w @ m)
                    spread = math.sqrt(max(float(w @ (sd ** 2 + m ** 2)) - mu ** 2, 1e-12))
                    onehot = spans[(name, "onehot")]
                    means[onehot.start:onehot.start + onehot.width, j] = (m - mu) / spread
                    stds[onehot.start:onehot.start + onehot.width, j] = _STD_MULTIPLIER * sd / spread
                    offsets.append(spans[(name, "scalar")].start)
                return generator, ValueCritic(critic, torch.as_tensor(means), torch.as_tensor(stds),
                                              torch.as_tensor(offsets, dtype=torch.long))
            return networks

    return Trial


def own_table(csv: Path, schema: Path) -> dict[str, str]:
    """What a report records of a table of the user's own: both paths as given and each file's
    SHA-256, so that `--merge` pairs runs only where they read the same files."""
    import hashlib

    return {"csv": str(csv), "csv_sha256": hashlib.sha256(csv.read_bytes()).hexdigest(),
            "schema": str(schema), "schema_sha256": hashlib.sha256(schema.read_bytes()).hexdigest()}


def data_digests(report: dict[str, Any]) -> tuple[str, str] | None:
    """The SHA-256 of a report's own table and schema (None for a bundled table)."""
    data = report.get("data")
    return None if data is None else (data["csv_sha256"], data["schema_sha256"])


def timed(fit: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    """`fit()`'s result, and its CPU and wall seconds with the load average before and after."""
    load = [os.getloadavg()[0]]
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    out = fit()
    cpu, wall = time.process_time() - cpu_start, time.perf_counter() - wall_start
    load.append(os.getloadavg()[0])
    return out, {"cpu_seconds": cpu, "wall_seconds": wall, "load": [min(load), max(load)]}


def figures(scores: dict[str, Any]) -> dict[str, Any]:
    """The figures a run keeps: quality and the TSTR AUCs."""
    return {k: v for k, v in scores.items() if k == "quality" or k.startswith("auc_")}


def fit_peer(options: dict[str, Any], length: int, raw_train: Any, schema: Any, scorer: Scorer, seed: int,
             samples: int = 1) -> dict[str, Any]:
    """The `peer=tvae` and `peer=ctgan` settings: that peer in place of synthguard (its other
    settings its own defaults), seeded and read as fit_speed.py fits it, scored alike; so that
    synthguard's settings pair with a peer by seed. It trains for the run's length, or for
    `epochs=N` of its own: `peer=tvae;epochs=300` in a 100-epoch run sets a short synthguard fit
    beside the peer at its default length."""
    from _peers_common import fit_ctgan_package_draws

    kinds = {"tvae": "TVAE", "ctgan": "CTGAN"}
    epochs = options.get("epochs", length)
    if (not set(options) <= {"peer", "epochs"} or options["peer"] not in kinds or isinstance(epochs, bool)
            or not isinstance(epochs, int) or epochs < 1):
        raise SystemExit(f"--config {options}: `peer=` takes tvae or ctgan, and `epochs=` (a whole number) only")
    train = schema.parse(raw_train)
    resolved = schema.resolve(list(raw_train.columns))
    draws, timing = timed(lambda: fit_ctgan_package_draws(kinds[options["peer"]], train, resolved, epochs, seed,
                                                          len(raw_train), samples))
    return {**timing, **scored_draws(lambda at: draws.pop(0), scorer, seed, samples)}


def sample_seed(seed: int, draw: int) -> int:
    """The sample seed of a fit's `draw`-th release: seed + 1000 for the first (as every report
    before `--samples` scored), a seed derived from it for the others."""
    return seed + 1000 if draw == 0 else derive_seed(seed + 1000, draw)


def scored_draws(sample: Callable[[int], Any], scorer: Scorer, seed: int, samples: int) -> dict[str, Any]:
    """A fit's figures: with one sample its scores; with several, each figure's mean over the
    samples (`sample(sample_seed)` gives the rows), and every sample's figures under `draws`."""
    draws = [figures(scorer(sample(sample_seed(seed, j)))) for j in range(samples)]
    if samples == 1:
        return draws[0]
    return {**{k: sum(d[k] for d in draws) / samples for k in draws[0]}, "samples": samples, "draws": draws}


def fit_and_score(options: dict[str, Any], length: int, raw_train: Any, schema: Any, scorer: Scorer,
                  threads: int, seed: int, samples: int = 1) -> dict[str, Any]:
    import torch

    from synthguard.synthesizer import Synthesizer

    torch.set_num_threads(threads)
    options = dict(options)
    if options.get("peer") is not None:
        return fit_peer(options, length, raw_train, schema, scorer, seed, samples)
    final, gp_every = options.pop("lr_cosine", None), options.pop("gp_every", None)
    binary, modes = options.pop("binary", None), options.pop("modes", None)
    critic, sampling = options.pop("critic", None), options.pop("sampling", None)
    mix, gen = options.pop("mix", None), options.pop("gen", None)
    scale, binary_scale = options.pop("discrete_scale", None), options.pop("binary_scale", None)
    if scale is not None and binary_scale is not None:
        raise SystemExit("--config discrete_scale= and binary_scale= do not combine")
    if mix is not None and gen is not None:
        raise SystemExit("--config mix= and gen= are trials of one defence that do not combine")
    if critic not in (None, "values"):
        raise SystemExit(f"--config critic={critic}: only `values` is a trial")
    synth_class = value_view_synthesizer() if critic == "values" else Synthesizer
    if binary not in (None, "gumbel"):
        raise SystemExit(f"--config binary={binary}: only `gumbel` is a trial")
    synth = synth_class(schema, **{"seed": seed, "threads": threads, **options, "epochs": length})
    with (warnings.catch_warnings(), lazy_penalty(gp_every), relaxed_binary(binary == "gumbel"),
          mode_choice(modes), class_balanced_rows(sampling), dominant_discrete(mix),
          plain_generator_fakes(gen),
          discrete_scale(scale if binary_scale is None else binary_scale, binary_scale is not None),
          cosine_lr(final, length) as on_epoch):
        warnings.simplefilter("ignore")
        _, timing = timed(lambda: synth.fit(raw_train, on_epoch=on_epoch))
        scores = scored_draws(lambda at: synth.sample(len(raw_train), seed=at, typed=True), scorer, seed, samples)
    return {**timing, **scores}


def own_length(options: dict[str, Any]) -> bool:
    """Whether a setting is a peer trained for its own number of epochs (`peer=tvae;epochs=300`),
    the same fit whatever the run's length."""
    return options.get("peer") is not None and "epochs" in options


def named_own_length(name: str) -> bool:
    """`own_length` of a setting's name in a report; False for a name given with @NAME."""
    try:
        return own_length(parse_config(name))
    except SystemExit:  # not key=value: a name, not a setting
        return False


def seed_runs(seed: int, lengths: list[int], names: list[str], configs: dict[str, dict[str, Any]],
              fit: Callable[[str, int], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """One seed's runs, per length and setting in order, each `fit(name, length)`'s figures. A
    peer with `epochs=N` of its own is the same fit at every length: it is fitted once, and its
    figures stand beside each later length's fits, marked `reused_from` (the length it was
    fitted beside)."""
    fixed: dict[str, dict[str, Any]] = {}
    for length in lengths:
        for name in names:
            if name not in fixed:
                made = fit(name, length)
                if own_length(configs[name]):
                    fixed[name] = {**made, "reused_from": length}
                yield {"seed": seed, "length": length, "config": name, **made}
            else:
                yield {"seed": seed, "length": length, "config": name, **fixed[name]}


def summarize(runs: list[dict[str, Any]], names: list[str], lengths: list[int], keys: list[str]
              ) -> list[dict[str, Any]]:
    """Per (length, setting): means over seeds, and per figure the difference from the first
    setting paired by seed, with a 95% t-interval."""
    out = []
    for length in lengths:
        base = {r["seed"]: r for r in runs if r["length"] == length and r["config"] == names[0]}
        for name in names:
            mine = [r for r in runs if r["length"] == length and r["config"] == name]
            if not mine:  # a merged setting run at other lengths only
                continue
            row: dict[str, Any] = {"length": length, "config": name, "seeds": [r["seed"] for r in mine]}
            for k in ("cpu_seconds", *keys):
                row[k] = sum(r[k] for r in mine) / len(mine)
                if name != names[0]:
                    row[f"{k}_difference"] = mean_interval([r[k] - base[r["seed"]][k] for r in mine])
            out.append(row)
    return out


def print_summary(summary: list[dict[str, Any]], keys: list[str], first: str) -> None:
    print(f"\nmeans over seeds; [differences from `{first}`, paired by seed, 95% t-interval]")
    for row in summary:
        line = f"{row['length']:>5} epochs  {row['config']:<28} cpu {row['cpu_seconds']:6.1f} s"
        for k in keys:
            line += f"  {k.replace('auc_', 'AUC ')} {fmt(row[k])}"
            d = row.get(f"{k}_difference")
            if d is not None and d["low"] is not None:
                line += f" [{d['mean']:+.3f} ({d['low']:+.3f}, {d['high']:+.3f})]"
        print(line)


def command_of(report: dict[str, Any], path: str) -> str:
    """The command line that writes `report` (one fitting run) to `path`."""
    data = report.get("data")
    source = f"--table {report['table']}" if data is None else f"--csv {data['csv']} --schema {data['schema']}"
    return (f"OMP_NUM_THREADS={report['threads']} .venv/bin/python benchmarks/short_fits.py {source} "
            f"--targets {','.join(report['targets'])} --lengths {','.join(map(str, report['lengths']))} "
            f"--seeds {','.join(map(str, report['seeds']))} --threads {report['threads']} "
            + " ".join(f'--config "{c}"' for c in report["configs"])
            + (f" --samples {report['samples']}" if report.get("samples", 1) > 1 else "") + f" --json {path}")


def merge_command(parts: list[str], path: str) -> str:
    """The command line that merges `parts` (as given to --merge, with any #SETTING) into `path`."""
    return (".venv/bin/python benchmarks/short_fits.py --merge "
            + " ".join(f'"{p}"' if "#" in p or ";" in p else p for p in parts) + f" --json {path}")


def commands_of(parts: list[tuple[str, dict[str, Any], dict[str, str]]]) -> list[str]:
    """The command lines that made the parts, in order and each once: a fitting run's own, and
    for a part that is itself a merge, the commands it records and then the merge that wrote it
    (not a fitting command made up from its merged settings, which no run ever executed)."""
    commands: list[str] = []
    for path, part, _ in parts:
        made = ([*part.get("commands", []), merge_command(part["merged"], path)] if "merged" in part
                else [command_of(part, path)])
        commands += [c for c in made if c not in commands]
    return commands


def merged(paths: list[str]) -> dict[str, Any]:
    """One report from the runs of several (same table, targets, threads and machine), summarised
    against the first file's first setting. Runs are deterministic per seed, so runs from different
    files pair as runs from one; a run that two files both hold must agree to every figure, or
    the merge is refused (a check that the fits are reproducible).

    `REPORT#SETTING#...` takes only those settings' runs of REPORT: peer fits measured before a
    change to synthguard pair with synthguard's runs after it (same machine, data and seeds),
    without the runs of the old code, which the change made another fit. `REPORT#SETTING@NAME`
    takes them under another name: the same setting fitted by two versions of synthguard (each
    run then records the setting it was, `renamed_from`), so that the new code's runs pair by seed
    with the old code's. A peer with `epochs=N` of its own (`peer=tvae;epochs=300`) stands at
    every length of the merged report, as in one run (`seed_runs`): a short synthguard fit made
    later pairs with the peer fits of an earlier report at another length."""
    import json

    parts = []
    for spec in paths:
        path, *names_kept = spec.split("#")
        try:
            part = json.loads(Path(path).read_text())
        except (OSError, ValueError) as err:
            raise SystemExit(f"--merge {path}: {err}") from None
        kept: dict[str, str] = {}  # setting -> the name its runs take here
        for entry in names_kept:
            setting, at_sign, name = entry.partition("@")
            if at_sign and not name:
                raise SystemExit(f"--merge {spec}: SETTING@NAME needs a name after @")
            kept[setting] = name or setting
        missing = [n for n in kept if n not in part.get("configs", [])]
        if missing:
            raise SystemExit(f"--merge {spec}: {path} has no setting {missing[0]!r} (it has "
                             + ", ".join(repr(c) for c in part.get("configs", [])) + ")")
        parts.append((path, part, kept))
    first = parts[0][1]
    runs: dict[tuple[int, int, str], dict[str, Any]] = {}
    names: list[str] = []
    for path, part, kept in parts:
        for key in ("table", "targets", "threads"):
            if part.get(key) != first.get(key):
                raise SystemExit(f"--merge {path}: {key} {part.get(key)!r}, where {paths[0]} has {first.get(key)!r}")
        if data_digests(part) != data_digests(first):
            raise SystemExit(f"--merge {path}: read other data or another schema than {paths[0]} "
                             "(their SHA-256 differ)")
        if part.get("machine") != first.get("machine"):
            raise SystemExit(f"--merge {path}: machine {describe_machine(part.get('machine'))}, {paths[0]}'s "
                             f"{describe_machine(first.get('machine'))}; "
                             "a seed gives another fit on another CPU, so their runs do not pair by seed")
        for run in part["runs"]:
            if kept and run["config"] not in kept:
                continue
            name = kept.get(run["config"], run["config"])
            if name != run["config"]:
                run = {**run, "config": name, "renamed_from": run["config"]}
            at = (run["seed"], run["length"], run["config"])
            numbers = figures(run)
            if at in runs and numbers != {k: runs[at][k] for k in numbers}:
                raise SystemExit(f"--merge {path}: seed {at[0]}, {at[1]} epochs, `{at[2]}` differs from an earlier "
                                 "file's (another fit of that setting: name one apart, REPORT#SETTING@NAME)")
            runs.setdefault(at, run)
            if run["config"] not in names:
                names.append(run["config"])
    base = names[0]
    for name in names[1:]:
        if named_own_length(name):  # a peer of its own length stands beside every length `base` has, as in
            # one run (seed_runs): a short fit made later pairs with an earlier report's peer fits
            fitted: dict[int, dict[str, Any]] = {}  # per seed the fit, at the length it was fitted beside
            for at in [at for at in runs if at[2] == name]:
                run = dict(runs.pop(at))
                run["length"] = run.pop("reused_from", run["length"])
                if at[0] in fitted and figures(fitted[at[0]]) != figures(run):
                    raise SystemExit(f"--merge: seed {at[0]}, `{name}` holds two fits that differ "
                                     "(name one apart, REPORT#SETTING@NAME)")
                fitted[at[0]] = run
            lacking = sorted(set(fitted) - {at[0] for at in runs if at[2] == base})
            if lacking:
                raise SystemExit(f"--merge: `{name}` has seed {lacking[0]}, which `{base}` lacks at every length")
            for seed, length, _ in [at for at in runs if at[2] == base and at[0] in fitted]:
                run = fitted[seed]
                runs[(seed, length, name)] = run if run["length"] == length else {**run, "length": length,
                                                                                   "reused_from": run["length"]}
            continue
        for seed, length, _ in (at for at in runs if at[2] == name):
            if (seed, length, base) not in runs:
                raise SystemExit(f"--merge: `{name}` has seed {seed} at {length} epochs, which `{base}` lacks")
    lengths = sorted({at[1] for at in runs})
    keys = ["quality", *(f"auc_{t}" for t in first["targets"])]
    every = list(runs.values())
    summary = summarize(every, names, lengths, keys)
    print_summary(summary, keys, base)
    return {"table": first["table"], **({"data": first["data"]} if "data" in first else {}),
            "targets": first["targets"], "lengths": lengths,
            "seeds": sorted({at[0] for at in runs}), "threads": first["threads"], "machine": first.get("machine"),
            "configs": names, "commands": commands_of(parts), "merged": list(paths),
            "code": codes_of(parts), "runs": every, "summary": summary}


def codes_of(parts: list[tuple[str, dict[str, Any], dict[str, str]]]) -> dict[str, Any]:
    """Each fitting report's code, by its path (a merged part brings its own parts'); None for a
    report made before the code was recorded."""
    codes: dict[str, Any] = {}
    for path, part, _ in parts:
        if "merged" in part:
            codes.update(part.get("code") or {})
        else:
            codes[path] = part.get("code")
    return codes


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--table", choices=sorted(TARGETS), default=None, help="a bundled table (default medexp)")
    parser.add_argument("--csv", type=Path, default=None, help="a table of your own (then --schema; --targets "
                        "defaults to its condition column)")
    parser.add_argument("--schema", type=Path, default=None, help="the schema of --csv")
    parser.add_argument("--targets", default=None, help="TSTR targets, comma-separated (default: condition and one other)")
    parser.add_argument("--lengths", default="100", help="epochs of each fit, comma-separated (default 100)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated (default 0,1,2)")
    parser.add_argument("--config", action="append", default=None, help="settings key=value;... (repeat)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--samples", type=int, default=1, help="releases scored per fit, their figures "
                        "averaged (default 1)")
    parser.add_argument("--json", type=json_path, default=None)
    parser.add_argument("--merge", nargs="+", default=None, metavar="REPORT",
                        help="fit nothing: summarise the runs of these reports as one, against the first one's first "
                             "setting (then --json writes the merged report); REPORT#SETTING#... takes only those "
                             "settings' runs of REPORT, REPORT#SETTING@NAME takes them named NAME")
    args = parser.parse_args(argv)
    if args.merge:
        if args.json is not None and any(Path(m.split("#")[0]).resolve() == args.json.resolve() for m in args.merge):
            raise SystemExit(f"--json {args.json}: one of the reports --merge reads; name another file")
        report = merged(args.merge)
        save_json(args.json, report)
        return report
    if (args.csv is None) != (args.schema is None):
        raise SystemExit("--csv and --schema go together")
    if args.csv is not None and args.table is not None:
        raise SystemExit("give --table or --csv, not both")
    try:
        lengths = [int(v) for v in args.lengths.split(",")]
        seeds = [int(v) for v in args.seeds.split(",")]
    except ValueError:
        raise SystemExit("--lengths and --seeds: comma-separated whole numbers") from None
    if min(lengths) < 1 or len(set(seeds)) != len(seeds):
        raise SystemExit("--lengths: each at least 1; --seeds: no seed twice")
    if args.samples < 1:
        raise SystemExit("--samples: at least 1")

    from fit_speed import table_specs

    from synthguard.errors import SynthguardError
    from synthguard.io import read_table
    from synthguard.schema import Schema

    try:
        [(table, data_path, schema_path, targets)] = table_specs(argparse.Namespace(
            csv=args.csv, schema=args.schema, targets=args.targets, tables=args.table or "medexp"))
        raw = read_table(data_path)
        schema = Schema.load(schema_path)
        resolved = schema.resolve(list(raw.columns))
        schema.parse(raw)  # every value checked before the first fit, not at the first seed's split
    except SynthguardError as err:  # a missing or malformed file or schema: its message names it
        raise SystemExit(str(err)) from None
    keys = ["quality", *(f"auc_{t}" for t in targets)]
    names = args.config or ["default"]
    configs = {name: parse_config(name) for name in names}
    unknown = [t for t in targets if t not in raw.columns]
    if unknown:
        raise SystemExit(f"--targets: {data_path} has no column {unknown[0]!r}")
    data = None if args.csv is None else own_table(args.csv, args.schema)
    made_on = machine()
    print(f"{table}: lengths {lengths}, seeds {seeds}, {args.threads} thread(s); load {os.getloadavg()[0]:.2f}; "
          f"{made_on['cpu']} ({made_on['cpu_capability']})", flush=True)
    runs = []
    for seed in seeds:
        raw_train, raw_holdout = split(raw, seed)
        scorer = Scorer(schema.parse(raw_train), schema.parse(raw_holdout), resolved, targets, seed)

        def fit(name: str, length: int, raw_train: Any = raw_train, scorer: Scorer = scorer, seed: int = seed
                ) -> dict[str, Any]:
            return fit_and_score(configs[name], length, raw_train, schema, scorer, args.threads, seed, args.samples)

        for run in seed_runs(seed, lengths, names, configs, fit):
            runs.append(run)
            reused = f" (fitted beside {run['reused_from']})" if "reused_from" in run else ""
            print(f"  seed {seed} {run['length']:>4} epochs {run['config']:<28} cpu {run['cpu_seconds']:6.1f} s  "
                  + "  ".join(f"{k.replace('auc_', 'AUC ')} {fmt(run[k])}" for k in keys)
                  + f"  load {run['load'][0]:.2f}-{run['load'][1]:.2f}{reused}", flush=True)
    summary = summarize(runs, names, lengths, keys)
    print_summary(summary, keys, names[0])
    report = {"table": table, **({} if data is None else {"data": data}), "targets": list(targets),
              "lengths": lengths, "seeds": seeds, "threads": args.threads, "machine": made_on, "code": code_version(),
              **({"samples": args.samples} if args.samples > 1 else {}), "configs": names, "runs": runs,
              "summary": summary}
    save_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
