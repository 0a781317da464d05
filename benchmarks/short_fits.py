"""Settings compared by whole fits of fixed lengths: what a user who shortens training gets.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/short_fits.py --table medexp --lengths 100 \\
        --seeds 0,1,2,3 --config default --config lr_cosine=0.1 --config n_critic=3 [--json out.json]

Per seed: the seeded 80/20 split of a bundled table (as fit_speed.py and levers.py split it). Per
length and per `--config`: one fit of exactly that many epochs, in this process with `--threads`
torch threads, then as many rows as the train set holds (sample seed: the seed + 1000), scored as
fit_speed.py scores them: sdmetrics quality and, per target, the TSTR ROC AUC of a gradient-boosting
model tested on the held-out 20%. Fit time is the process's CPU time.

Where levers.py scores checkpoints of one long fit against a CPU budget, this fits each length on
its own: the only honest comparison for a setting that reads the fit's length, such as a learning
rate schedule that decays to the last epoch.

`--config` takes Synthesizer settings (`key=value;key=value`, `default` for the recipe as shipped)
and trials defined here or in levers.py: `lr_cosine=f` (both networks' learning rates fall from
`lr` along half a cosine to `lr` x f at the last epoch, set between epochs through the fit's epoch
callback), `binary=gumbel` (binary units as relaxed Bernoulli draws in training: `relaxed_binary`),
`gp_every=k` (levers.py's lazy penalty).

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

from _peers_common import fmt, json_path, save_json, split
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


def fit_and_score(options: dict[str, Any], length: int, raw_train: Any, schema: Any, scorer: Scorer,
                  threads: int, seed: int) -> dict[str, Any]:
    import torch

    from synthguard.synthesizer import Synthesizer

    torch.set_num_threads(threads)
    options = dict(options)
    final, gp_every = options.pop("lr_cosine", None), options.pop("gp_every", None)
    binary = options.pop("binary", None)
    if binary not in (None, "gumbel"):
        raise SystemExit(f"--config binary={binary}: only `gumbel` is a trial")
    synth = Synthesizer(schema, **{"seed": seed, "threads": threads, **options, "epochs": length})
    load = [os.getloadavg()[0]]
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    with (warnings.catch_warnings(), lazy_penalty(gp_every), relaxed_binary(binary == "gumbel"),
          cosine_lr(final, length) as on_epoch):
        warnings.simplefilter("ignore")
        synth.fit(raw_train, on_epoch=on_epoch)
    cpu, wall = time.process_time() - cpu_start, time.perf_counter() - wall_start
    load.append(os.getloadavg()[0])
    scores = scorer(synth.sample(len(raw_train), seed=seed + 1000, typed=True))
    return {"cpu_seconds": cpu, "wall_seconds": wall, "load": [min(load), max(load)],
            **{k: v for k, v in scores.items() if k == "quality" or k.startswith("auc_")}}


def summarize(runs: list[dict[str, Any]], names: list[str], lengths: list[int], keys: list[str]
              ) -> list[dict[str, Any]]:
    """Per (length, setting): means over seeds, and per figure the difference from the first
    setting paired by seed, with a 95% t-interval."""
    out = []
    for length in lengths:
        base = {r["seed"]: r for r in runs if r["length"] == length and r["config"] == names[0]}
        for name in names:
            mine = [r for r in runs if r["length"] == length and r["config"] == name]
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


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--table", choices=sorted(TARGETS), default="medexp")
    parser.add_argument("--targets", default=None, help="TSTR targets, comma-separated (default: condition and one other)")
    parser.add_argument("--lengths", default="100", help="epochs of each fit, comma-separated (default 100)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated (default 0,1,2)")
    parser.add_argument("--config", action="append", default=None, help="settings key=value;... (repeat)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=json_path, default=None)
    args = parser.parse_args(argv)
    try:
        lengths = [int(v) for v in args.lengths.split(",")]
        seeds = [int(v) for v in args.seeds.split(",")]
    except ValueError:
        raise SystemExit("--lengths and --seeds: comma-separated whole numbers") from None
    if min(lengths) < 1 or len(set(seeds)) != len(seeds):
        raise SystemExit("--lengths: each at least 1; --seeds: no seed twice")

    from synthguard.io import read_table
    from synthguard.schema import Schema

    targets = tuple(args.targets.split(",")) if args.targets else TARGETS[args.table]
    keys = ["quality", *(f"auc_{t}" for t in targets)]
    names = args.config or ["default"]
    configs = {name: parse_config(name) for name in names}
    raw = read_table(ROOT / "synthguard" / "data" / f"{args.table}.csv")
    schema = Schema.load(ROOT / "schemas" / f"{args.table}.yaml")
    resolved = schema.resolve(list(raw.columns))
    print(f"{args.table}: lengths {lengths}, seeds {seeds}, {args.threads} thread(s); load {os.getloadavg()[0]:.2f}",
          flush=True)
    runs = []
    for seed in seeds:
        raw_train, raw_holdout = split(raw, seed)
        scorer = Scorer(schema.parse(raw_train), schema.parse(raw_holdout), resolved, targets, seed)
        for length in lengths:
            for name in names:
                run = {"seed": seed, "length": length, "config": name,
                       **fit_and_score(configs[name], length, raw_train, schema, scorer, args.threads, seed)}
                runs.append(run)
                print(f"  seed {seed} {length:>4} epochs {name:<28} cpu {run['cpu_seconds']:6.1f} s  "
                      + "  ".join(f"{k.replace('auc_', 'AUC ')} {fmt(run[k])}" for k in keys)
                      + f"  load {run['load'][0]:.2f}-{run['load'][1]:.2f}", flush=True)
    summary = summarize(runs, names, lengths, keys)
    print_summary(summary, keys, names[0])
    report = {"table": args.table, "targets": list(targets), "lengths": lengths, "seeds": seeds,
              "threads": args.threads, "configs": names, "runs": runs, "summary": summary}
    save_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
