"""Training levers of synthguard's generator: quality and TSTR over fitting time, per setting.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/levers.py --table ofp --budget 60 --every 6 \\
        --config default --config "n_critic=1" --config "batch_size=128;n_critic=2" ... [--json out.json]

One seeded 80/20 split of a bundled table. Each `--config` is a set of Synthesizer settings
(`key=value;key=value`, values read as Python literals; `default` is the recipe as shipped;
`generator=residual` swaps in a trial generator of pre-activation residual blocks;
`compile=generator|critic|both` wraps those networks in `torch.compile`, with `ema=0`;
`condition=all` conditions on one discrete column at a time, as CTGAN does: `all_discrete_trial`;
`gp_every=k` puts the gradient penalty on every k-th critic step, k times heavier: `lazy_penalty`).
Every
setting is fitted in this process, one after another, with `--threads` torch threads (default 1),
for `--budget` seconds of fitting; every `--every` seconds the model's rows (as many as the train
set) are scored: sdmetrics quality and the TSTR ROC AUC of a gradient-boosting model for each
`--targets` column on the held-out 20%. Scoring is not counted as fitting time.

Time is the process's CPU time (`time.process_time`), not the wall clock: with one thread it is
the fitting time of a quiet machine even when other work shares the CPU, so that settings measured
at different moments compare. The wall clock is recorded beside it, with the load average. Use
`fit_speed.py` for wall-clock comparisons with CTGAN and TVAE.

`--reference Q,AUC1,AUC2,...` prints, per setting, the first time at which its quality and every
target's AUC reach those figures (for example the better of CTGAN-300 and TVAE-300 from
fit_speed.py). Never part of `make test`.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import itertools
import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from _peers_common import fmt, json_path, machine, save_json, split
from fit_speed import Scorer

ROOT = Path(__file__).resolve().parents[1]
#: per bundled table: the schema's condition column first, then one other target
TARGETS = {"ofp": ("hlth", "privins"), "medexp": ("health", "physlim"), "doctorcontacts": ("health", "physlim")}


class _Budget(Exception):
    """Raised from the epoch callback when the fitting budget is spent."""


def parse_config(text: str) -> dict[str, Any]:
    if text.strip() in ("", "default"):
        return {}
    out: dict[str, Any] = {}
    for part in text.split(";"):
        key, _, value = part.partition("=")
        if not _:
            raise SystemExit(f"--config {text!r}: {part!r} is not key=value")
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = value.strip()
    return out


def residual_networks(data_dim: int, cond_dim: int, config: Any) -> tuple[Any, Any]:
    """A trial generator for the `generator=residual` lever: an input layer to the first width,
    then one pre-activation residual block (BatchNorm, ReLU, Linear, added to its input) per entry
    of `generator_dims`, then BatchNorm, ReLU and the output layer; the critic as shipped. The
    shipped generator's blocks are CTGAN's, which concatenate each block's output to its input."""
    import torch
    from torch import nn

    from synthguard.gan.networks import Critic

    class ResidualGenerator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            width = config.generator_dims[0]
            self.z_dim = config.z_dim
            self.first = nn.Linear(config.z_dim + cond_dim, width)
            self.blocks = nn.ModuleList(nn.Sequential(nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, width))
                                        for _ in config.generator_dims)
            self.last = nn.Sequential(nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, data_dim))

        def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
            h = self.first(torch.cat([z, cond], dim=1))
            for block in self.blocks:
                h = h + block(h)
            return self.last(h)

    return ResidualGenerator(), Critic(data_dim, cond_dim, config.critic_dims, config.critic_dropout)


#: `generator=NAME` in a --config: a trial network factory instead of the shipped one
GENERATORS = {"residual": residual_networks}

#: `condition=all`: training rows drawn this many times over, each with its own (column, value)
ALL_DISCRETE_PASSES = 8
#: raw logit that pins a conditioned unit (softmax or sigmoid of +-10 is within 5e-5 of 0 or 1)
PIN = 10.0


def all_discrete_trial(base: type) -> type:
    """The `condition=all` lever: a subclass of `base` (the Synthesizer) conditioned, as CTGAN
    is, on one discrete column at a time instead of the schema's one condition column.

    Fitted with a schema without a condition, so every column (the schema's condition column too)
    is part of the generator's output. The condition vector holds one slot per value of every
    boolean and categorical column. Training-by-sampling: each training draw picks a discrete
    column uniformly, then a value with probability proportional to log(1 + its count), then a row
    holding that value, which is conditioned on that (column, value); `ALL_DISCRETE_PASSES` times
    the training rows are drawn once, before the fit (so an epoch is that many passes). Where
    CTGAN adds a cross-entropy term so that the generator emits the conditioned value, here the
    generator's raw output for the conditioned column is pinned to it (a logit of +-`PIN`, mixed
    in proportion to the condition vector, so mixup's mixed conditions pin in proportion): the
    critic sees consistent rows and the generator learns the other columns given it. Sampling
    picks the column uniformly and its value with the training frequencies (CTGAN's release-time
    rule)."""
    import numpy as np
    import torch

    class AllDiscrete(base):  # type: ignore[misc, valid-type]
        def _slots(self) -> list[Any]:
            """(span, values) per discrete column: a categorical's one-hot span, or a boolean's unit."""
            kinds = {c.data_name: c.type for c in self.schema_.columns}
            seen, out = set(), []
            for span in self.encoder_.spans:
                if kinds.get(span.column) in ("categorical", "boolean") and span.column not in seen:
                    seen.add(span.column)
                    out.append((span, span.width if span.kind == "onehot" else 2))
            if not out:
                raise SystemExit("--config condition=all: the table has no boolean or categorical column")
            return out

        def _values(self, x: np.ndarray) -> list[np.ndarray]:
            return [x[:, s.start:s.start + s.width].argmax(axis=1) if s.kind == "onehot"
                    else (x[:, s.start] > 0.5).astype(np.int64) for s, _ in self._slots()]

        def _fit_encoded(self, x: np.ndarray, cond: np.ndarray, train_seed: int, on_epoch: Any = None) -> Any:
            slots = self._slots()
            values = self._values(x)
            offsets = np.cumsum([0] + [w for _, w in slots])
            self.trial_counts_ = [np.bincount(v, minlength=w) for v, (_, w) in zip(values, slots, strict=True)]
            rng = np.random.default_rng(train_seed)
            m = len(x) * ALL_DISCRETE_PASSES
            column = rng.integers(0, len(slots), size=m)
            rows = np.empty(m, dtype=np.int64)
            slot = np.empty(m, dtype=np.int64)
            for j, ((_, width), v, counts) in enumerate(zip(slots, values, self.trial_counts_, strict=True)):
                at = np.flatnonzero(column == j)
                weight = np.log1p(counts.astype(float))
                chosen = rng.choice(width, size=len(at), p=weight / weight.sum())
                for value in range(width):
                    holders = np.flatnonzero(v == value)
                    picks = at[chosen == value]
                    if len(picks):
                        rows[picks] = holders[rng.integers(0, len(holders), size=len(picks))]
                slot[at] = offsets[j] + chosen
            drawn = np.zeros((m, offsets[-1]), dtype=np.float32)
            drawn[np.arange(m), slot] = 1.0
            self._pins(slots, offsets, x.shape[1])
            return super()._fit_encoded(x[rows], drawn, train_seed, on_epoch)

        def _pins(self, slots: list[Any], offsets: np.ndarray, dim: int) -> None:
            """mask (cond slots x data units): the units a slot pins; logit: the value it pins them to."""
            mask = torch.zeros(offsets[-1], dim)
            logit = torch.zeros(offsets[-1], dim)
            for j, (span, width) in enumerate(slots):
                for value in range(width):
                    row = offsets[j] + value
                    mask[row, span.start:span.start + span.width] = 1.0
                    if span.kind == "onehot":
                        logit[row, span.start:span.start + span.width] = -PIN
                        logit[row, span.start + value] = PIN
                    else:
                        logit[row, span.start] = PIN if value == 1 else -PIN
            self.trial_pins_ = (mask, logit)

        def _network_factory(self) -> Any:
            base_factory = super()._network_factory()
            owner = self

            class Pinned(torch.nn.Module):
                def __init__(self, inner: torch.nn.Module) -> None:
                    super().__init__()
                    self.inner, self.z_dim = inner, inner.z_dim

                def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
                    mask, logit = owner.trial_pins_
                    pinned = cond @ mask
                    return self.inner(z, cond) * (1.0 - pinned) + cond @ logit

            def networks(data_dim: int, cond_dim: int, config: Any) -> tuple[Any, Any]:
                generator, critic = base_factory(data_dim, cond_dim, config)
                return Pinned(generator), critic
            return networks

        def _encoded_chunks(self, slot_chunks: Any, seed: Any, mode: str) -> Any:
            slots = self._slots()
            offsets = np.cumsum([0] + [w for _, w in slots])
            rng = np.random.default_rng(self._seed_for(seed, 1))
            state, start = None, 0
            for chunk in slot_chunks:
                n = len(chunk)
                column = rng.integers(0, len(slots), size=n)
                slot = np.empty(n, dtype=np.int64)
                for j, counts in enumerate(self.trial_counts_):
                    at = np.flatnonzero(column == j)
                    slot[at] = offsets[j] + rng.choice(len(counts), size=len(at), p=counts / counts.sum())
                cond = torch.zeros(n, int(offsets[-1]))
                cond[torch.arange(n), torch.as_tensor(slot)] = 1.0
                block, state = self._generator_block(cond, seed, mode, state)
                yield start, chunk, block
                start += n

    return AllDiscrete


@contextlib.contextmanager
def lazy_penalty(every: int | None) -> Iterator[None]:
    """The `gp_every=k` lever: the gradient penalty on every k-th critic step only, weighted k
    times (lazy regularisation, as StyleGAN2 applies its R1 penalty); the trainer's `critic_step`
    is wrapped for the block."""
    from synthguard.gan import trainer

    if every is None:
        yield
        return
    if not isinstance(every, int) or every < 1:
        raise SystemExit(f"--config gp_every={every}: a whole number of at least 1")
    shipped, steps = trainer.critic_step, itertools.count()

    def step(*args: Any) -> float:
        *rest, weight = args
        return shipped(*rest, weight * every if next(steps) % every == 0 else 0.0)

    trainer.critic_step = step
    try:
        yield
    finally:
        trainer.critic_step = shipped


def run_setting(name: str, options: dict[str, Any], raw_train: pd.DataFrame, schema: Any,
                judge: Scorer, budget: float, every: float, threads: int, seed: int) -> dict[str, Any]:
    import torch

    from synthguard.synthesizer import Synthesizer

    torch.set_num_threads(threads)
    options = dict(options)
    trial = options.pop("generator", None)
    if trial is not None and trial not in GENERATORS:
        raise SystemExit(f"--config generator={trial}: unknown (choose from {', '.join(GENERATORS)})")
    compiled = options.pop("compile", None)
    if compiled not in (None, "generator", "critic", "both"):
        raise SystemExit(f"--config compile={compiled}: choose generator, critic or both")
    if compiled and options.get("ema", 0.99) != 0:
        raise SystemExit("--config compile=...: set ema=0 too (the moving average deep-copies the generator, "
                         "which a compiled module does not survive)")
    gp_every = options.pop("gp_every", None)
    every_discrete = options.pop("condition", None)
    if every_discrete not in (None, "all"):
        raise SystemExit(f"--config condition={every_discrete}: only `all` is a trial")
    settings = {"seed": seed, "threads": threads, "epochs": 100_000, **options}
    if every_discrete:  # the batch of the table's own size, not of the resampled rows'
        from synthguard.gan.trainer import batch_for

        settings["batch_size"] = batch_for(len(raw_train), Synthesizer(schema, **settings).config)
        schema = dataclasses.replace(schema, condition=None)

    class Trial(Synthesizer):  # the shipped recipe with a trial network (never saved)
        def _network_factory(self) -> Any:
            base = GENERATORS[str(trial)] if trial is not None else super()._network_factory()

            def networks(data_dim: int, cond_dim: int, config: Any) -> tuple[Any, Any]:
                generator, critic = base(data_dim, cond_dim, config)
                if compiled in ("generator", "both"):
                    generator = torch.compile(generator)
                if compiled in ("critic", "both"):
                    critic = torch.compile(critic)
                return generator, critic
            return networks

    synth = (Synthesizer if trial is None and compiled is None else Trial)
    synth = (all_discrete_trial(synth) if every_discrete else synth)(schema, **settings)
    n = len(raw_train)
    points: list[dict[str, Any]] = []
    paused_cpu = paused_wall = 0.0
    start_cpu, start_wall = time.process_time(), time.perf_counter()
    next_eval = every
    load = [os.getloadavg()[0]]

    def score(epoch: int, cpu: float, wall: float) -> None:
        rows = synth.sample(n, seed=seed + 1, typed=True)
        point: dict[str, Any] = {"epoch": epoch, "cpu_seconds": round(cpu, 2), "wall_seconds": round(wall, 2)}
        point.update({k: v for k, v in judge(rows).items() if k == "quality" or k.startswith("auc_")})
        points.append(point)
        aucs = " ".join(f"{t} {fmt(point[f'auc_{t}'])}" for t in judge.targets)
        print(f"  {name:<28} epoch {epoch:>5} cpu {cpu:6.1f} s  Q {fmt(point['quality'])}  AUC {aucs}", flush=True)

    def on_epoch(epoch: int, stats: dict[str, Any]) -> None:
        nonlocal paused_cpu, paused_wall, next_eval
        cpu = time.process_time() - start_cpu - paused_cpu
        wall = time.perf_counter() - start_wall - paused_wall
        if cpu < next_eval and cpu < budget:
            return
        entered_cpu, entered_wall = time.process_time(), time.perf_counter()
        score(epoch, cpu, wall)
        load.append(os.getloadavg()[0])
        next_eval = cpu + every
        paused_cpu += time.process_time() - entered_cpu
        paused_wall += time.perf_counter() - entered_wall
        if cpu >= budget:
            raise _Budget

    with warnings.catch_warnings(), lazy_penalty(gp_every):
        warnings.simplefilter("ignore")
        try:
            synth.fit(raw_train, on_epoch=on_epoch)
        except _Budget:
            pass
        except Exception as error:  # a lever that cannot train (torch.compile and the penalty's double backward)
            if compiled is None:
                raise
            message = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
            print(f"  {name:<28} failed: {message}", flush=True)
            return {"name": name, "options": options, "failed": message, "load": load}
    epochs = len(synth.gan_.history)
    g_steps = sum(h["g_steps"] for h in synth.gan_.history)
    return {"name": name, "options": options, "epochs": epochs, "generator_steps": g_steps,
            "seconds_per_epoch": sorted(h["seconds"] for h in synth.gan_.history)[epochs // 2],
            "load": [min(load), max(load)], "points": points}


def first_reaching(points: list[dict[str, Any]], reference: list[float], targets: tuple[str, ...]) -> dict[str, Any] | None:
    for p in points:
        if p["quality"] >= reference[0] and all(p[f"auc_{t}"] >= r for t, r in zip(targets, reference[1:], strict=True)):
            return p
    return None


def second_half(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per setting, the mean quality and AUCs of its checkpoints in the budget's second half: one
    checkpoint's TSTR AUC moves by a few hundredths from one to the next."""
    keys = ["quality", *(f"auc_{t}" for t in report["targets"])]
    out = {}
    for r in report["results"]:
        late = [p for p in r.get("points", []) if p["cpu_seconds"] >= report["budget"] / 2]
        if late:
            out[r["name"]] = {k: sum(p[k] for p in late) / len(late) for k in keys} | {"checkpoints": len(late)}
    return out


def markdown(report: dict[str, Any], at: float = 30.0) -> str:
    """One row per setting: the scores at the first point past `at` CPU seconds and at the end."""
    targets = report["targets"]
    head = ["setting", "s/epoch", f"epoch at {at:g} s", f"Q at {at:g} s",
            *(f"AUC {t} at {at:g} s" for t in targets), "epochs in budget", "Q at end", *(f"AUC {t} at end" for t in targets)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in report["results"]:
        if "failed" in r:
            lines.append(f"| `{r['name']}` | failed: {r['failed']} |")
            continue
        mid = next((p for p in r["points"] if p["cpu_seconds"] >= at), r["points"][-1])
        end = r["points"][-1]
        cells = [f"`{r['name']}`", f"{r['seconds_per_epoch']:.3f}", str(mid["epoch"]), fmt(mid["quality"]),
                 *(fmt(mid[f"auc_{t}"]) for t in targets), str(r["epochs"]), fmt(end["quality"]),
                 *(fmt(end[f"auc_{t}"]) for t in targets)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--table", choices=sorted(TARGETS), default="ofp")
    parser.add_argument("--targets", default=None, help="TSTR targets, comma-separated (default: condition and one other)")
    parser.add_argument("--budget", type=float, default=60.0, help="CPU seconds of fitting per setting (default 60)")
    parser.add_argument("--every", type=float, default=6.0, help="score every so many CPU seconds (default 6)")
    parser.add_argument("--config", action="append", default=None, help="Synthesizer settings key=value;... (repeat)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference", default=None, help="Q,AUC per target: print when each setting first reaches them")
    parser.add_argument("--json", type=json_path, default=None)
    args = parser.parse_args(argv)

    from synthguard.io import read_table
    from synthguard.schema import Schema

    targets = tuple(args.targets.split(",")) if args.targets else TARGETS[args.table]
    raw = read_table(ROOT / "synthguard" / "data" / f"{args.table}.csv")
    schema = Schema.load(ROOT / "schemas" / f"{args.table}.yaml")
    resolved = schema.resolve(list(raw.columns))
    raw_train, raw_holdout = split(raw, args.seed)
    train, holdout = schema.parse(raw_train), schema.parse(raw_holdout)
    judge = Scorer(train, holdout, resolved, targets, args.seed)
    reference = [float(v) for v in args.reference.split(",")] if args.reference else None
    if reference is not None and len(reference) != 1 + len(targets):
        raise SystemExit(f"--reference needs {1 + len(targets)} numbers: quality, then one AUC per target")
    print(f"{args.table}: {len(train)} train rows, targets {', '.join(targets)}; budget {args.budget:g} CPU s, "
          f"{args.threads} thread(s); load {os.getloadavg()[0]:.2f}", flush=True)
    results = []
    for text in args.config or ["default"]:
        results.append(run_setting(text, parse_config(text), raw_train, schema, judge, args.budget, args.every,
                                   args.threads, args.seed))
    print(f"\n{'setting':<34} {'s/epoch':>7} {'epochs':>6} {'G steps':>7} {'Q end':>6} "
          + " ".join(f"{'AUC ' + t:>12}" for t in targets) + ("  reaches reference at" if reference else ""))
    for r in results:
        if "failed" in r:
            print(f"{r['name']:<34} failed: {r['failed']}")
            continue
        end = r["points"][-1]
        line = (f"{r['name']:<34} {r['seconds_per_epoch']:7.3f} {r['epochs']:>6} {r['generator_steps']:>7} "
                f"{fmt(end['quality']):>6} " + " ".join(f"{fmt(end[f'auc_{t}']):>12}" for t in targets))
        if reference:
            hit = first_reaching(r["points"], reference, targets)
            r["reaches_reference"] = hit
            line += "  never" if hit is None else f"  {hit['cpu_seconds']:.1f} s (epoch {hit['epoch']})"
        print(line + f"   load {r['load'][0]:.2f}-{r['load'][1]:.2f}")
    for name, means in second_half({"targets": targets, "budget": args.budget, "results": results}).items():
        print(f"{name:<34} mean of the second half's {means['checkpoints']} checkpoints: Q {fmt(means['quality'])} "
              + " ".join(f"AUC {t} {fmt(means[f'auc_{t}'])}" for t in targets))
    report = {"table": args.table, "targets": list(targets), "budget": args.budget, "threads": args.threads,
              "seed": args.seed, "machine": machine(), "reference": reference, "results": results}
    save_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
