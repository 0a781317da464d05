"""Fit speed and fidelity of synthguard against CTGAN on the bundled DoctorContacts table.

    .venv/bin/python benchmarks/fit_speed.py [--epochs-ctgan 300] [--epochs N] [--defense mixup|none]
        [--seed 0] [--check-every 10] [--threads 2] [--rows N] [--json out/fit_speed.json] [--quick]

One 80/20 split of the table (seeded). CTGAN (the `ctgan` package, its default settings, on the
CPU) is fitted first, then synthguard (its default settings). For each generator the script
reports the median seconds per epoch, the total fit time, the peak memory of the process that
fitted it, the sdmetrics quality of as many synthetic rows as the train set holds, and TSTR on
the held-out 20%: a gradient-boosting classifier for `physlim` trained on synthetic rows, next
to the same trained on the real train rows. Both generators are judged by synthguard's own
metrics on typed frames (CTGAN's rows are parsed by the schema), so the numbers are comparable.

Every `--check-every` epochs synthguard's rows are scored as well, and the first checkpoint at
which both its quality and its TSTR AUC reach CTGAN's final ones gives its time to match CTGAN
(fit time only: sampling and scoring are excluded). An "independent columns" baseline (each
column resampled on its own) shows why quality alone is not enough: it scores well on column
shapes while its TSTR AUC is near 0.5.

Each fit runs in its own spawned process, so its peak resident memory is its own (CTGAN's
transformer also starts joblib worker processes; their peaks are reported beside it). The
parent scores with one thread while that process waits, so scoring never competes with a fit for
the CPU. Times are wall-clock: run it on an otherwise idle machine (it warns when the load average
says otherwise). Never part of `make test`; benchmarks/README.md gives what a full run takes.
`--quick` is a smoke test of the script, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _measure import high_water_mb, start_child
from _peers_common import Judge, Scores, discrete_columns, fmt, from_peer_frame, split, to_peer_frame, versions

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "synthguard" / "data" / "doctorcontacts.csv"
SCHEMA = ROOT / "schemas" / "doctorcontacts.yaml"
TARGET = "physlim"
CTGAN_DEFAULT_EPOCHS = 300


# ---- measurements taken inside the fitting process -------------------------------------------------


def _own_peak_mb() -> float:
    peak = high_water_mb()
    if peak is not None:
        return peak
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # elsewhere: kilobytes, macOS bytes
    return float(usage) / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _worker_peaks_mb() -> list[float]:
    """Peaks of the joblib worker processes this process started (CTGAN transforms columns in
    them), then shut them down; they outlive the fit otherwise. Empty if there are none."""
    try:
        from joblib.externals.loky import reusable_executor
    except ImportError:
        return []
    executor = getattr(reusable_executor, "_executor", None)  # None: no workers were started
    if executor is None:
        return []
    peaks = [high_water_mb(pid) for pid in list(getattr(executor, "_processes", None) or {})]
    executor.shutdown(wait=True)
    return [peak for peak in peaks if peak is not None]


def _fit_synthguard(conn: Connection, raw_train: pd.DataFrame, schema: Any, options: dict[str, Any],
                    n_sample: int, sample_seed: int, check_every: int) -> None:
    """Child process: fit synthguard, send rows at checkpoints (and wait for the parent), then the final rows."""
    try:
        import torch

        torch.set_num_threads(options["threads"])
        base_mb = _own_peak_mb()  # interpreter, numpy, pandas and torch: alike in both children

        from synthguard.synthesizer import Synthesizer

        synth = Synthesizer(schema, **options)
        epochs = synth.config.epochs
        epoch_seconds: list[float] = []
        paused = 0.0  # seconds spent sampling and waiting for the parent's scoring
        started = time.perf_counter()

        def on_epoch(epoch: int, stats: dict[str, float]) -> None:
            nonlocal paused
            epoch_seconds.append(float(stats["seconds"]))
            # The last epoch is scored as the final result below; no need to score it twice.
            if check_every <= 0 or epoch % check_every or epoch >= epochs:
                return
            entered = time.perf_counter()
            fit_seconds = entered - started - paused
            rows = synth.sample(n_sample, seed=sample_seed, typed=True)
            conn.send(("checkpoint", {"epoch": epoch, "fit_seconds": fit_seconds}, rows))
            conn.recv()  # blocks: the parent scores with the CPU to itself
            paused += time.perf_counter() - entered

        synth.fit(raw_train, on_epoch=on_epoch)
        fit_seconds = time.perf_counter() - started - paused
        sampled = time.perf_counter()
        rows = synth.sample(n_sample, seed=sample_seed, typed=True)
        sample_seconds = time.perf_counter() - sampled
        conn.send(("done", {"epochs": epochs, "fit_seconds": fit_seconds, "epoch_seconds": epoch_seconds,
                            "sample_seconds": sample_seconds, "base_mb": base_mb, "peak_mb": _own_peak_mb(),
                            "worker_peaks_mb": _worker_peaks_mb()}, rows))
    except BaseException:  # noqa: BLE001 - the parent reports it; a silent child would hang the run
        conn.send(("error", traceback.format_exc(), None))
    finally:
        conn.close()


class _EpochClock:
    """Stands in for the tqdm bar CTGAN wraps its epoch loop in, to time each epoch."""

    stamps: list[float] = []

    def __init__(self, iterable: Any, *args: Any, **kwargs: Any) -> None:
        self.iterable = iterable

    def __iter__(self) -> Any:
        _EpochClock.stamps = [time.perf_counter()]
        for item in self.iterable:
            yield item
            _EpochClock.stamps.append(time.perf_counter())

    def set_description(self, *args: Any, **kwargs: Any) -> None:
        pass


def _fit_ctgan(conn: Connection, train: pd.DataFrame, discrete: list[str], epochs: int, seed: int,
               threads: int, n_sample: int) -> None:
    """Child process: fit CTGAN with its defaults (on the CPU), then send its rows."""
    try:
        import torch

        torch.set_num_threads(threads)
        base_mb = _own_peak_mb()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # rdt and sklearn warn about convergence and dtypes
            import ctgan.synthesizers.ctgan as ctgan_module
            from ctgan import CTGAN

            # The epoch loop iterates a tqdm bar; a clock in its place times every epoch, and
            # falls back to fit time / epochs if a future CTGAN stops using it.
            patched = hasattr(ctgan_module, "tqdm")
            if patched:
                ctgan_module.tqdm = _EpochClock
            model = CTGAN(epochs=epochs, enable_gpu=False)
            model.set_random_state(seed)
            started = time.perf_counter()
            model.fit(train, discrete_columns=discrete)
            fit_seconds = time.perf_counter() - started
            stamps = _EpochClock.stamps if patched else []
            epoch_seconds = list(np.diff(stamps)) if len(stamps) == epochs + 1 else [fit_seconds / max(epochs, 1)] * epochs
            sampled = time.perf_counter()
            rows = model.sample(n_sample)
            sample_seconds = time.perf_counter() - sampled
        conn.send(("done", {"epochs": epochs, "fit_seconds": fit_seconds, "epoch_seconds": [float(s) for s in epoch_seconds],
                            "sample_seconds": sample_seconds, "base_mb": base_mb, "peak_mb": _own_peak_mb(),
                            "worker_peaks_mb": _worker_peaks_mb()}, rows))
    except BaseException:  # noqa: BLE001 - the parent reports it
        conn.send(("error", traceback.format_exc(), None))
    finally:
        conn.close()


# ---- the parent: data, scoring, report --------------------------------------------------------------
@dataclass
class Result:
    name: str
    scores: Scores
    epochs: int | None = None
    fit_seconds: float | None = None
    seconds_per_epoch: float | None = None  # median
    peak_mb: float | None = None            # the fitting process's peak resident memory
    base_mb: float | None = None            # ... before fitting (interpreter, numpy, pandas, torch)
    worker_peaks_mb: list[float] = field(default_factory=list)  # its joblib workers' peaks
    sample_seconds: float | None = None
    load: tuple[float, float] | None = None  # 1-minute load average before and after the fit
    checkpoints: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_child(cls, name: str, scores: Scores, info: dict[str, Any], load: tuple[float, float],
                   checkpoints: list[dict[str, Any]] | None = None) -> Result:
        per_epoch = statistics.median(info["epoch_seconds"]) if info["epoch_seconds"] else None
        return cls(name, scores, info["epochs"], info["fit_seconds"], per_epoch, info["peak_mb"], info["base_mb"],
                   info["worker_peaks_mb"], info["sample_seconds"], load, checkpoints or [])


def independent_columns(train: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Each column resampled with replacement on its own: perfect marginals, no relations."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({name: train[name].to_numpy()[rng.integers(0, len(train), n)] for name in train.columns})


def run_child(target: Any, args: tuple[Any, ...],
              on_checkpoint: Any = None) -> tuple[dict[str, Any], pd.DataFrame, tuple[float, float]]:
    """Run one fit in a spawned process, answer its checkpoints, and return its stats, final rows
    and the 1-minute load average before and after (a busy machine makes every time longer)."""
    load_before = os.getloadavg()[0]
    proc, parent_end = start_child(target, *args)
    try:
        while True:
            try:
                kind, info, rows = parent_end.recv()
            except EOFError:
                raise SystemExit(f"{target.__name__}: the fitting process died (exit code {proc.exitcode})") from None
            if kind == "error":
                raise SystemExit(f"{target.__name__} failed in its process:\n{info}")
            if kind == "done":
                return info, rows, (load_before, os.getloadavg()[0])
            if on_checkpoint is not None:
                on_checkpoint(info, rows)
            parent_end.send(True)  # the child may train on
    finally:
        proc.join()


def _matches(ours: Scores | dict[str, Any], theirs: Scores) -> bool:
    """At least CTGAN's final quality and TSTR AUC (both, not either)."""
    q, auc = (ours["quality"], ours["tstr_auc"]) if isinstance(ours, dict) else (ours.quality, ours.tstr_auc)
    if None in (q, auc, theirs.quality, theirs.tstr_auc):
        return False
    return q >= theirs.quality and auc >= theirs.tstr_auc  # type: ignore[operator]


def _higher(ours: Scores, theirs: Scores) -> bool:
    if None in (ours.quality, ours.tstr_auc, theirs.quality, theirs.tstr_auc):
        return False
    return ours.quality > theirs.quality and ours.tstr_auc > theirs.tstr_auc  # type: ignore[operator]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--epochs-ctgan", type=int, default=CTGAN_DEFAULT_EPOCHS,
                        help=f"CTGAN epochs (default {CTGAN_DEFAULT_EPOCHS}, CTGAN's own default)")
    parser.add_argument("--epochs", type=int, default=None, help="synthguard epochs (default: synthguard's own default)")
    parser.add_argument("--defense", choices=("mixup", "none"), default="mixup", help="synthguard's defence (default mixup)")
    parser.add_argument("--seed", type=int, default=0, help="split, fits, sampling and scoring (default 0)")
    parser.add_argument("--check-every", type=int, default=10,
                        help="score synthguard every N epochs for its time to match CTGAN (default 10; 0: only at the end)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of each fit (default 2; scoring uses 1)")
    parser.add_argument("--rows", type=int, default=None, help="fit on a seeded subsample of this many train rows")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 3 epochs each, scored every epoch, on 2,000 train rows (--rows overrides)")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs_ctgan, args.epochs, args.check_every = 3, 3, 1
        args.rows = args.rows or 2000
    for name in ("epochs_ctgan", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    from synthguard.io import read_table, write_text
    from synthguard.schema import Schema

    started = time.perf_counter()
    raw = read_table(DATA)
    schema = Schema.load(SCHEMA)
    resolved = schema.resolve(list(raw.columns))
    raw_train, raw_holdout = split(raw, args.seed)
    if args.rows is not None and args.rows < len(raw_train):
        raw_train = raw_train.sample(n=args.rows, random_state=args.seed).reset_index(drop=True)
    train, holdout = schema.parse(raw_train), schema.parse(raw_holdout)
    n = len(train)
    judge = Judge(train, holdout, resolved, TARGET, args.seed)
    sample_seed = args.seed + 1
    print(f"DoctorContacts: {n} train rows, {len(holdout)} holdout rows, {len(resolved.modelled_columns)} columns; "
          f"TSTR target {TARGET!r}; seed {args.seed}; {args.threads} torch thread(s) per fit", flush=True)

    # CTGAN first: synthguard's checkpoints are compared with CTGAN's final scores.
    print(f"fitting CTGAN ({args.epochs_ctgan} epochs, CPU) ...", flush=True)
    info, rows, load = run_child(_fit_ctgan, (to_peer_frame(train, resolved), discrete_columns(resolved),
                                              args.epochs_ctgan, args.seed, args.threads, n))
    ctgan = Result.from_child("CTGAN", judge(from_peer_frame(rows, resolved, train, "CTGAN rows")), info, load)
    print(f"  fit {ctgan.fit_seconds:.1f} s: quality {fmt(ctgan.scores.quality)}, "
          f"TSTR AUC {fmt(ctgan.scores.tstr_auc)}", flush=True)

    checkpoints: list[dict[str, Any]] = []

    def on_checkpoint(point: dict[str, Any], rows: pd.DataFrame) -> None:
        s = judge(rows)
        checkpoints.append({**point, "quality": s.quality, "tstr_accuracy": s.tstr_accuracy, "tstr_auc": s.tstr_auc,
                            "score_seconds": s.seconds})
        print(f"  epoch {point['epoch']:>4}: fit {point['fit_seconds']:7.1f} s, quality {fmt(s.quality)}, "
              f"TSTR AUC {fmt(s.tstr_auc)}{'  (matches CTGAN)' if _matches(s, ctgan.scores) else ''}", flush=True)

    options: dict[str, Any] = {"defense": args.defense, "seed": args.seed, "threads": args.threads}
    if args.epochs is not None:
        options["epochs"] = args.epochs
    print(f"fitting synthguard (defense {args.defense}, {args.epochs or 'default'} epochs, "
          f"scored every {args.check_every or 'no'} epochs) ...", flush=True)
    info, rows, load = run_child(_fit_synthguard, (raw_train, schema, options, n, sample_seed, args.check_every),
                                 on_checkpoint)
    final = judge(rows)
    # The end of the fit is the last checkpoint.
    checkpoints.append({"epoch": info["epochs"], "fit_seconds": info["fit_seconds"], "quality": final.quality,
                        "tstr_accuracy": final.tstr_accuracy, "tstr_auc": final.tstr_auc, "score_seconds": final.seconds})
    ours = Result.from_child(f"synthguard ({args.defense})", final, info, load, checkpoints)
    match = next((point for point in checkpoints if _matches(point, ctgan.scores)), None)

    baseline = Result("independent columns", judge(independent_columns(train, n, args.seed)))
    report = _report(args, [ctgan, ours, baseline], match, n, len(holdout), time.perf_counter() - started)
    _print_report(report)
    if args.json is not None:
        write_text(args.json, json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return report


def _report(args: argparse.Namespace, results: list[Result], match: dict[str, Any] | None, n_train: int,
            n_holdout: int, seconds: float) -> dict[str, Any]:
    ctgan, ours = results[0], results[1]
    ratio = match["fit_seconds"] / ctgan.fit_seconds if match and ctgan.fit_seconds else None
    return {
        "settings": {"data": "doctorcontacts", "target": TARGET, "n_train": n_train, "n_holdout": n_holdout,
                     "seed": args.seed, "threads": args.threads, "defense": args.defense,
                     "epochs_ctgan": args.epochs_ctgan, "epochs": ours.epochs, "check_every": args.check_every,
                     "rows": args.rows, "quick": args.quick, "cpu_count": os.cpu_count(),
                     "versions": versions(("synthguard", "ctgan", "torch", "sdmetrics", "scikit-learn"))},
        "trtr": {"accuracy": ctgan.scores.trtr_accuracy, "auc": ctgan.scores.trtr_auc},
        "generators": [
            {"name": r.name, "seconds_per_epoch": r.seconds_per_epoch, "epochs": r.epochs, "fit_seconds": r.fit_seconds,
             "peak_mb": r.peak_mb, "base_mb": r.base_mb, "worker_peaks_mb": r.worker_peaks_mb,
             "sample_seconds": r.sample_seconds, "load_before_after": r.load,
             "quality": r.scores.quality, "column_shapes": r.scores.column_shapes,
             "column_pair_trends": r.scores.pair_trends, "tstr_accuracy": r.scores.tstr_accuracy,
             "tstr_auc": r.scores.tstr_auc, **({"checkpoints": r.checkpoints} if r.checkpoints else {})}
            for r in results
        ],
        "time_to_match": {"matched": match is not None, "epoch": match and match["epoch"],
                          "fit_seconds": match and match["fit_seconds"], "ctgan_fit_seconds": ctgan.fit_seconds,
                          "ratio": ratio},
        "target": {"match_within_fifth": ratio is not None and ratio <= 0.2,
                   "ends_higher_on_both": _higher(ours.scores, ctgan.scores)},
        "total_seconds": seconds,
    }


def _print_report(report: dict[str, Any]) -> None:
    head = (f"{'generator':<22} {'s/epoch':>8} {'epochs':>6} {'fit s':>8} {'peak MB':>8} {'quality':>8} "
            f"{'TSTR acc':>9} {'TSTR AUC':>9}")
    print("\n" + head + "\n" + "-" * len(head))
    for g in report["generators"]:
        epochs = "-" if g["epochs"] is None else str(g["epochs"])
        print(f"{g['name']:<22} {fmt(g['seconds_per_epoch'], 2):>8} {epochs:>6} {fmt(g['fit_seconds'], 1):>8} "
              f"{fmt(g['peak_mb'], 0):>8} {fmt(g['quality']):>8} {fmt(g['tstr_accuracy']):>9} {fmt(g['tstr_auc']):>9}")
    trtr = report["trtr"]
    print(f"{'real rows (TRTR)':<22} {'':>8} {'':>6} {'':>8} {'':>8} {'':>8} "
          f"{fmt(trtr['accuracy']):>9} {fmt(trtr['auc']):>9}")

    fitted = [g for g in report["generators"] if g["peak_mb"] is not None]
    print("peak MB: the fitting process's peak resident memory; before fitting "
          + ", ".join(f"{g['name']} {g['base_mb']:.0f}" for g in fitted) + " MB")
    for g in fitted:
        if g["worker_peaks_mb"]:
            peaks = ", ".join(f"{mb:.0f}" for mb in g["worker_peaks_mb"])
            print(f"  {g['name']} also ran {len(g['worker_peaks_mb'])} joblib worker process(es), peaking at {peaks} MB")
    cores = report["settings"]["cpu_count"] or 1
    busy = [g["name"] for g in fitted if max(g["load_before_after"]) > cores]
    if busy:
        print(f"warning: the 1-minute load average exceeded {cores} (the CPU count) around the fit of "
              f"{', '.join(busy)}: other work shared the CPU, so its times are too long")

    m, t = report["time_to_match"], report["target"]
    ours = report["generators"][1]["name"]
    if m["matched"]:
        print(f"\n{ours} first matches CTGAN's final quality and TSTR AUC at epoch {m['epoch']}, after "
              f"{m['fit_seconds']:.1f} s of fitting = {m['ratio']:.2f} x CTGAN's {m['ctgan_fit_seconds']:.1f} s (target <= 0.20)")
    else:
        print(f"\n{ours} never matches CTGAN's final quality and TSTR AUC (checked every "
              f"{report['settings']['check_every']} epochs and at the end)")
    print(f"target: match within a fifth of CTGAN's fit time: {'yes' if t['match_within_fifth'] else 'no'}; "
          f"ends higher on both: {'yes' if t['ends_higher_on_both'] else 'no'}   (whole run {report['total_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
