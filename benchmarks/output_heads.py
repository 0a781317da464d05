"""The generator's output heads as shipped against the per-group heads they replaced, timed in
the same run: the heads alone, and whole training epochs.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/output_heads.py [--table ofp] [--threads 1] \\
        [--rounds 9] [--epochs 6] [--json out/output_heads.json]

The shipped heads (`synthguard.gan.networks.OutputHeads`) gather every one-hot group into one
padded grid and apply one softmax to all of them, with Gumbel noise drawn from uniforms. The
reference (`LoopHeads`, below) is the form before it: per width of one-hot group, a gather, a
softmax (`F.gumbel_softmax` when training) and a scatter into the output. A third variant is the
grid as first shipped, its gathers written `values[:, index]` (a general advanced index) where the
shipped heads call `index_select`. All compute the same function (softmax mode: equal to float
rounding, checked here before timing) and the same law in Gumbel and hard modes.

Timed, on the encoded width of a bundled table's default recipe: the heads' forward pass without
gradient on 2 x batch rows (mixup's mixed fakes, each critic step), and forward plus backward
(each generator step); then fits on the table's 80% split, the trainer using each heads class in
turn, timed per epoch over `--epochs` epochs after the first (the encoder's fit and the
first epoch left out). Variants are interleaved, for `--rounds` rounds; figures are
medians of the process's CPU time, so a busy machine slows every variant alike (the 1-minute load
average is printed too). Never part of `make test`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _peers_common import json_path, machine, save_json

ROOT = Path(__file__).resolve().parents[1]


def loop_heads_class() -> type:
    """The reference: one gather, activation and scatter per kind of span and per one-hot width."""
    import torch
    from torch.nn import functional as F

    class LoopHeads:
        def __init__(self, spans: Sequence[Any]) -> None:
            self.scalar = torch.tensor([s.start for s in spans if s.kind == "scalar"], dtype=torch.long)
            self.binary = torch.tensor([s.start for s in spans if s.kind == "binary"], dtype=torch.long)
            groups: dict[int, list[list[int]]] = defaultdict(list)
            for s in spans:
                if s.kind == "onehot":
                    groups[s.width].append(list(range(s.start, s.start + s.width)))
            self.onehot = [torch.tensor(idx, dtype=torch.long) for idx in groups.values()]

        def __call__(self, raw: torch.Tensor, mode: str = "softmax", tau: float = 0.2,
                     generator: torch.Generator | None = None) -> torch.Tensor:
            out = torch.empty_like(raw)
            if len(self.scalar):
                out[:, self.scalar] = torch.tanh(raw[:, self.scalar])
            if len(self.binary):
                prob = torch.sigmoid(raw[:, self.binary])
                if mode == "hard":
                    prob = (torch.rand(prob.shape, generator=generator) < prob).to(raw.dtype)
                out[:, self.binary] = prob
            for idx in self.onehot:
                logits = raw[:, idx]
                if mode == "gumbel":
                    out[:, idx] = F.gumbel_softmax(logits, tau=tau, hard=False, dim=-1)
                elif mode == "hard":
                    probs = torch.softmax(logits, dim=-1).reshape(-1, idx.shape[-1])
                    pick = torch.multinomial(probs, 1, generator=generator).reshape(logits.shape[:-1])
                    out[:, idx] = F.one_hot(pick, idx.shape[-1]).to(raw.dtype)
                else:
                    out[:, idx] = torch.softmax(logits, dim=-1)
            return out

    return LoopHeads


def advanced_index_heads_class() -> type:
    """The grid heads as first shipped: every gather written `values[:, index]`, which torch runs
    as a general advanced index; the shipped heads use `index_select` (the same values)."""
    from synthguard.gan.networks import OutputHeads

    class AdvancedIndexHeads(OutputHeads):
        def _take(self, values: Any, name: str) -> Any:
            return values[:, getattr(self, name)]

    return AdvancedIndexHeads


def cpu_seconds(fn: Callable[[], Any], repeat: int) -> float:
    started = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - started) / repeat


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--table", choices=("ofp", "medexp", "doctorcontacts"), default="ofp")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--epochs", type=int, default=6, help="epochs timed per fit, after its first (0: heads only)")
    parser.add_argument("--json", type=json_path, default=None)
    args = parser.parse_args(argv)

    import torch

    from synthguard.gan import trainer
    from synthguard.gan.networks import OutputHeads
    from synthguard.gan.trainer import batch_for
    from synthguard.io import read_table
    from synthguard.schema import Schema
    from synthguard.synthesizer import Synthesizer

    torch.set_num_threads(args.threads)
    raw = read_table(ROOT / "synthguard" / "data" / f"{args.table}.csv")
    train = raw.sample(frac=0.8, random_state=0)
    schema = Schema.load(ROOT / "schemas" / f"{args.table}.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Synthesizer(schema, epochs=1, threads=args.threads).fit(train)
    spans, batch = model.encoder_.spans, batch_for(len(train), model.config)
    heads = {"before: a loop over groups": loop_heads_class()(spans),
             "one grid, [:, index] gathers": advanced_index_heads_class()(spans),
             "shipped: one grid": OutputHeads(spans)}
    torch.manual_seed(0)
    x = torch.randn(2 * batch, model.encoder_.dim) * 3
    first, *others = (h(x) for h in heads.values())
    assert all(torch.allclose(first, other, atol=1e-6) for other in others), "the heads disagree in softmax mode"

    def forward(h: Any) -> Callable[[], Any]:
        def run() -> None:
            with torch.no_grad():
                h(x, "gumbel", model.config.gumbel_tau)
        return run

    def forward_backward(h: Any) -> Callable[[], Any]:
        def run() -> None:
            leaf = x.clone().requires_grad_(True)
            h(leaf, "gumbel", model.config.gumbel_tau).square().sum().backward()
        return run

    def epoch_seconds(cls: type) -> float:
        """CPU seconds per epoch of a fit whose trainer uses heads `cls`, from the end of its first
        epoch to the end of its last (the encoder's fit and the first epoch left out)."""
        ends: list[float] = []
        shipped = trainer.OutputHeads
        trainer.OutputHeads = cls  # type: ignore[misc]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                Synthesizer(schema, epochs=args.epochs + 1, threads=args.threads).fit(
                    train, on_epoch=lambda epoch, stats: ends.append(time.process_time()))
        finally:
            trainer.OutputHeads = shipped  # type: ignore[misc]
        return (ends[-1] - ends[0]) / args.epochs

    timings: dict[str, dict[str, Callable[[], Any]]] = {
        "heads forward, no gradient (ms)": {k: forward(h) for k, h in heads.items()},
        "heads forward and backward (ms)": {k: forward_backward(h) for k, h in heads.items()},
    }
    epochs = "training epoch (ms)"
    per: dict[str, dict[str, list[float]]] = {what: {k: [] for k in heads} for what in [*timings, epochs]}
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for what, variants in timings.items():
            for name, fn in variants.items():
                cpu_seconds(fn, 5)
                per[what][name].append(cpu_seconds(fn, 100))
        if args.epochs:
            for name, h in heads.items():
                per[epochs][name].append(epoch_seconds(type(h)))
    load.append(os.getloadavg()[0])
    print(f"{args.table}: {model.encoder_.dim} encoded units in {len(spans)} spans, batch {batch} "
          f"(heads timed on {2 * batch} rows), {args.threads} thread(s); load {load[0]:.2f}-{load[1]:.2f}")
    report: dict[str, Any] = {"table": args.table, "batch": batch, "threads": args.threads, "epochs": args.epochs,
                              "rounds": args.rounds, "load": load, "machine": machine(), "timings": {}}
    for what, by_name in per.items():
        if not by_name["shipped: one grid"]:
            continue
        reference = statistics.median(by_name["before: a loop over groups"])
        report["timings"][what] = {}
        print(f"  {what}")
        for name, times in by_name.items():
            median = statistics.median(times)
            report["timings"][what][name] = {"median": median * 1e3, "min": min(times) * 1e3,
                                             "ratio_to_before": median / reference}
            print(f"    {name:<28} {median * 1e3:8.3f} (min {min(times) * 1e3:.3f})  {median / reference:5.2f} x before")
        shipped = report["timings"][what]["shipped: one grid"]
        previous = report["timings"][what]["one grid, [:, index] gathers"]["median"]
        shipped["ratio_to_advanced_index"] = shipped["median"] / previous
        print(f"    shipped / [:, index] gathers: {shipped['ratio_to_advanced_index']:.2f}")
    save_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
