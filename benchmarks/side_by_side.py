"""Training epochs the way a release runs them: one fit per core, side by side, one thread each,
against a lone fit on every core and a lone fit on one, timed in the same run.

    .venv/bin/python benchmarks/side_by_side.py [--table medexp] [--processes 2] [--rounds 3] \\
        [--epochs 8] [--json out/side_by_side.json]

A release trains its model beside the audit's shadow models, one torch thread per process
(`release._beside_audit`, `parallel.run_tasks`), so the cores spend most of a verdict in
one-thread epochs running next to each other. `train_epoch.py` times a lone fit; this times that
regime. Per round, in one process: a lone fit on `--processes` threads, then a lone fit on one;
then `--processes` fits at once, each in a child process of its own on one thread (children of
this script, started with `--child`, which write their epochs' start and end times to a JSON file;
no pickling). Each fit runs `--epochs` epochs after its first, of the table's default recipe on
its seeded 80% split, seed 0. Of the side-by-side fits only the epochs that lie wholly inside
the window where every child is past its first epoch and none has finished are kept, so a
figure is never that of a fit running alone.

Printed per regime: the median epoch in ms, and how many times the epoch takes the time its
matrix products need at this machine's rate for that regime: the lone fit on P threads against
a 500x256x256 product on P threads, the lone fit on one thread against the same product on one,
and P side-by-side epochs (one per process, finishing together) against P epochs' products on P
threads, that is the cores' bound for the work they did together (#15 item 3 asks for 2x of it
for one epoch on two cores: the lone figure on all threads).
The products' FLOPs per epoch are counted as fit_speed.py counts them. The 1-minute load average
is printed at start and end: run it alone. Never part of `make test`.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from _peers_common import json_path, machine, save_json

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("ofp", "medexp", "doctorcontacts")


@functools.cache
def table_split(table: str) -> tuple[Any, Any]:
    """The bundled table's seeded 80% split and its schema, read once per process."""
    from synthguard.io import read_table
    from synthguard.schema import Schema

    train = read_table(ROOT / "synthguard" / "data" / f"{table}.csv").sample(frac=0.8, random_state=0)
    return train, Schema.load(ROOT / "schemas" / f"{table}.yaml")


def fit_epochs(table: str, epochs: int, threads: int) -> list[tuple[float, float]]:
    """(start, end) on the machine's monotonic clock of each epoch after the first, of one fit."""
    from synthguard.synthesizer import Synthesizer

    train, schema = table_split(table)
    spans: list[tuple[float, float]] = []

    def on_epoch(epoch: int, stats: dict[str, Any]) -> None:
        end = time.perf_counter()  # CLOCK_MONOTONIC on Linux: one clock for every process
        if epoch > 1:
            spans.append((end - stats["seconds"], end))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Synthesizer(schema, epochs=epochs + 1, seed=0, threads=threads).fit(train, on_epoch=on_epoch)
    return spans


def epoch_flops(table: str) -> float:
    """Floating-point operations in matrix products of one epoch (a 1-epoch fit under torch's
    counter, as fit_speed.py counts them)."""
    from fit_speed import _GlobalOnly
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()  # type: ignore[assignment]
    with counter:
        fit_epochs(table, 0, 1)
    return float(counter.get_total_flops())


def gemm_rate(threads: int) -> float:
    import torch
    from fit_speed import _gemm_flops_per_second

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _gemm_flops_per_second()
    finally:
        torch.set_num_threads(before)


def side_by_side(table: str, epochs: int, processes: int) -> list[float]:
    """Durations of the side-by-side epochs that ran while every child was in its timed part."""
    with tempfile.TemporaryDirectory(prefix="side_by_side_") as folder:
        outs = [Path(folder) / f"child{k}.json" for k in range(processes)]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        children = [subprocess.Popen([sys.executable, __file__, "--child", str(out), "--table", table,
                                      "--epochs", str(epochs)], env=env) for out in outs]
        try:
            for child in children:
                if child.wait() != 0:
                    raise SystemExit(f"a side-by-side fit failed (exit {child.returncode})")
        finally:  # none left running (or writing into the folder) when one failed or this was stopped
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.wait()
        spans = [json.loads(out.read_text())["epochs"] for out in outs]
    start = max(s[0][0] for s in spans)  # every child past its first epoch
    end = min(s[-1][1] for s in spans)  # before the first child finished
    kept = [b - a for child in spans for a, b in child if a >= start and b <= end]
    if not kept:
        raise SystemExit("the side-by-side fits did not overlap: is the machine busy?")
    return kept


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--table", choices=TABLES, default="medexp")
    parser.add_argument("--processes", type=int, default=2, help="fits side by side (default 2: this machine's cores)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=8, help="epochs timed per fit, after its first")
    parser.add_argument("--json", type=json_path, default=None)
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.epochs < 1 or args.processes < 1:
        raise SystemExit("--rounds, --epochs and --processes: each at least 1")
    if args.child is not None:  # one side-by-side fit, on one thread
        args.child.write_text(json.dumps({"epochs": fit_epochs(args.table, args.epochs, 1)}))
        return {}

    load = [os.getloadavg()[0]]
    flops = epoch_flops(args.table)
    per: dict[str, list[float]] = {"lone, all threads": [], "lone, one thread": [], "side by side": []}
    for _ in range(args.rounds):
        per["lone, all threads"] += [b - a for a, b in fit_epochs(args.table, args.epochs, args.processes)]
        per["lone, one thread"] += [b - a for a, b in fit_epochs(args.table, args.epochs, 1)]
        per["side by side"] += side_by_side(args.table, args.epochs, args.processes)
    rate_all, rate_one = gemm_rate(args.processes), gemm_rate(1)
    load.append(os.getloadavg()[0])
    # the matrix products' time at the machine's rate: per epoch for the lone fits; for the
    # side-by-side ones, `processes` epochs (one per fit, together) on every core
    bounds = {"lone, all threads": flops / rate_all, "lone, one thread": flops / rate_one,
              "side by side": args.processes * flops / rate_all}
    print(f"{args.table}: {args.processes} process(es) side by side, {args.rounds} rounds of {args.epochs} epochs; "
          f"{flops / 1e9:.2f} GFLOP an epoch; 500x256x256 matmul {rate_all / 1e9:.1f} GFLOP/s on "
          f"{args.processes} threads, {rate_one / 1e9:.1f} on one; load {load[0]:.2f}-{load[1]:.2f}")
    report: dict[str, Any] = {"table": args.table, "processes": args.processes, "rounds": args.rounds,
                              "epochs": args.epochs, "load": load, "epoch_flops": flops,
                              "gemm_flops_per_second": {"all": rate_all, "one": rate_one}, "machine": machine(),
                              "regimes": {}}
    for name, times in per.items():
        median = statistics.median(times)
        report["regimes"][name] = {"ms_per_epoch": median * 1e3, "epochs_timed": len(times),
                                   "times_matmul_bound": median / bounds[name]}
        done = args.processes if name == "side by side" else 1
        print(f"  {name:<18} {median * 1e3:8.1f} ms an epoch ({len(times)} epochs timed), "
              f"{done * flops / median / 1e9:6.1f} GFLOP/s achieved, {median / bounds[name]:.2f} x matmul bound")
    save_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
