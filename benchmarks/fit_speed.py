"""Fit speed and fidelity of synthguard against CTGAN on the bundled DoctorContacts table.

    .venv/bin/python benchmarks/fit_speed.py [--epochs-ctgan 300] [--epochs N] [--defense mixup|none]
        [--seed 0] [--check-every 10] [--threads 2] [--json out/fit_speed.json] [--quick]

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

Each fit runs in its own spawned process, so its peak resident memory is its own; the parent
does the scoring with one thread while that process waits, so scoring never competes with a fit
for the CPU. Never part of `make test`: the full run takes about a quarter of an hour on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
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

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "synthguard" / "data" / "doctorcontacts.csv"
SCHEMA = ROOT / "schemas" / "doctorcontacts.yaml"
TARGET = "physlim"
CTGAN_DEFAULT_EPOCHS = 300


# ---- measurements taken inside the fitting process -------------------------------------------------
def _rss_mb(usage: Any) -> float:
    """ru_maxrss in MB (Linux reports kilobytes, macOS bytes)."""
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return float(usage.ru_maxrss) / scale


def _own_peak_mb() -> float:
    return _rss_mb(resource.getrusage(resource.RUSAGE_SELF))


def _fit_synthguard(conn: Connection, raw_train: pd.DataFrame, schema: Any, options: dict[str, Any],
                    n_sample: int, sample_seed: int, check_every: int) -> None:
    """Child process: fit synthguard, send rows at checkpoints (and wait for the parent), then the final rows."""
    try:
        import torch

        from synthguard.synthesizer import Synthesizer

        torch.set_num_threads(options["threads"])
        base_mb = _own_peak_mb()
        synth = Synthesizer(schema, **options)
        epochs = synth.config.epochs
        epoch_seconds: list[float] = []
        paused = 0.0          # seconds spent sampling and waiting for the parent's scoring
        keep_checking = check_every > 0
        started = time.perf_counter()

        def on_epoch(epoch: int, stats: dict[str, float]) -> None:
            nonlocal paused, keep_checking
            epoch_seconds.append(float(stats["seconds"]))
            # The last epoch is scored as the final result below; no need to score it twice.
            if not keep_checking or epoch % check_every or epoch >= epochs:
                return
            entered = time.perf_counter()
            fit_seconds = entered - started - paused
            rows = synth.sample(n_sample, seed=sample_seed, typed=True)
            conn.send(("checkpoint", {"epoch": epoch, "fit_seconds": fit_seconds}, rows))
            keep_checking = bool(conn.recv())  # blocks: the parent scores with the CPU to itself
            paused += time.perf_counter() - entered

        synth.fit(raw_train, on_epoch=on_epoch)
        fit_seconds = time.perf_counter() - started - paused
        sampled = time.perf_counter()
        rows = synth.sample(n_sample, seed=sample_seed, typed=True)
        sample_seconds = time.perf_counter() - sampled
        conn.send(("done", {"epochs": epochs, "fit_seconds": fit_seconds, "epoch_seconds": epoch_seconds,
                            "sample_seconds": sample_seconds, "base_mb": base_mb, "peak_mb": _own_peak_mb()}, rows))
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
                            "sample_seconds": sample_seconds, "base_mb": base_mb, "peak_mb": _own_peak_mb()}, rows))
    except BaseException:  # noqa: BLE001 - the parent reports it
        conn.send(("error", traceback.format_exc(), None))
    finally:
        conn.close()


# ---- the parent: data, scoring, report --------------------------------------------------------------
@dataclass
class Scores:
    quality: float | None
    column_shapes: float | None
    pair_trends: float | None
    tstr_accuracy: float | None
    tstr_auc: float | None
    trtr_accuracy: float | None
    trtr_auc: float | None
    seconds: float


@dataclass
class Result:
    name: str
    scores: Scores
    epochs: int | None = None
    fit_seconds: float | None = None
    seconds_per_epoch: float | None = None
    peak_mb: float | None = None
    base_mb: float | None = None
    sample_seconds: float | None = None
    checkpoints: list[dict[str, Any]] = field(default_factory=list)


class Judge:
    """Scores typed synthetic rows against the split, one thread, with synthguard's own metrics."""

    def __init__(self, train: pd.DataFrame, holdout: pd.DataFrame, schema: Any, seed: int) -> None:
        self.train, self.holdout, self.schema, self.seed = train, holdout, schema, seed

    def __call__(self, synthetic: pd.DataFrame) -> Scores:
        from threadpoolctl import threadpool_limits

        from synthguard.utility.downstream import downstream
        from synthguard.utility.quality import quality

        started = time.perf_counter()
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            q = quality(self.train, synthetic, self.schema, target=TARGET, seed=self.seed)
            d = downstream(self.train, self.holdout, synthetic, self.schema, target=TARGET, seed=self.seed)
        return Scores(q.score, q.column_shapes, q.column_pair_trends, d.tstr.accuracy, d.tstr.auc,
                      d.trtr.accuracy, d.trtr.auc, time.perf_counter() - started)


def split(raw: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """80/20 row split, as `make demo` draws it."""
    holdout = raw.sample(frac=0.2, random_state=seed)
    return raw.drop(holdout.index).reset_index(drop=True), holdout.reset_index(drop=True)


def discrete_columns(schema: Any) -> list[str]:
    return [c.name for c in schema.modelled_columns if c.type in ("categorical", "boolean")]


def for_ctgan(typed: pd.DataFrame, schema: Any) -> pd.DataFrame:
    """Typed rows with discrete columns as text in the data's own spelling (what CTGAN expects)."""
    out = schema.format(typed)
    for name in discrete_columns(schema):
        if out[name].isna().any():
            raise SystemExit(f"column {name!r} has nulls; this benchmark does not map them for CTGAN")
        out[name] = out[name].astype(str)
    return out


def from_ctgan(rows: pd.DataFrame, schema: Any, train: pd.DataFrame) -> pd.DataFrame:
    """CTGAN's rows as typed rows: numbers clipped to the schema's bounds (else the train range)
    and integers rounded, which is exactly what synthguard's decoder does, then parsed."""
    out = rows.copy()
    for col in schema.modelled_columns:
        if col.type not in ("continuous", "integer"):
            continue
        values = pd.to_numeric(out[col.name], errors="coerce").to_numpy(dtype=np.float64)
        seen = pd.to_numeric(train[col.name], errors="coerce")
        lo = col.min if col.min is not None else float(seen.min())
        hi = col.max if col.max is not None else float(seen.max())
        values = np.clip(values, lo, hi)
        out[col.name] = np.round(values) if col.type == "integer" else values
    return schema.parse(out, "CTGAN rows")


def independent_columns(train: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Each column resampled with replacement on its own: perfect marginals, no relations."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({name: train[name].to_numpy()[rng.integers(0, len(train), n)] for name in train.columns})


def run_child(target: Any, args: tuple[Any, ...], on_checkpoint: Any = None) -> tuple[dict[str, Any], pd.DataFrame]:
    """Run one fit in a spawned process; answer its checkpoints; return its stats and final rows."""
    ctx = mp.get_context("spawn")
    parent_end, child_end = ctx.Pipe()
    proc = ctx.Process(target=target, args=(child_end, *args))
    proc.start()
    child_end.close()  # so that recv raises EOFError if the child dies
    try:
        while True:
            try:
                kind, info, rows = parent_end.recv()
            except EOFError:
                raise SystemExit(f"{target.__name__}: the fitting process died (exit code {proc.exitcode})") from None
            if kind == "error":
                raise SystemExit(f"{target.__name__} failed in its process:\n{info}")
            if kind == "done":
                return info, rows
            parent_end.send(on_checkpoint(info, rows) if on_checkpoint else False)
    finally:
        proc.join()


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs-ctgan", type=int, default=CTGAN_DEFAULT_EPOCHS, help="CTGAN epochs (default: its default, 300)")
    parser.add_argument("--epochs", type=int, default=None, help="synthguard epochs (default: synthguard's default)")
    parser.add_argument("--defense", choices=("mixup", "none"), default="mixup")
    parser.add_argument("--seed", type=int, default=0, help="split, fits, sampling and scoring")
    parser.add_argument("--check-every", type=int, default=10, help="score synthguard every N epochs (0: never)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of each fit (scoring uses 1)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--quick", action="store_true", help="3 epochs each, checked every epoch: a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs_ctgan, args.epochs, args.check_every = 3, 3, 1

    from synthguard.io import read_table, write_text
    from synthguard.schema import Schema

    started = time.perf_counter()
    raw = read_table(DATA)
    schema = Schema.load(SCHEMA)
    resolved = schema.resolve(list(raw.columns))
    raw_train, raw_holdout = split(raw, args.seed)
    train, holdout = schema.parse(raw_train), schema.parse(raw_holdout)
    n = len(train)
    judge = Judge(train, holdout, resolved, args.seed)
    sample_seed = args.seed + 1
    print(f"DoctorContacts: {n} train rows, {len(holdout)} holdout rows, {len(resolved.modelled_columns)} columns; "
          f"target {TARGET!r}; seed {args.seed}; {args.threads} fit thread(s)", flush=True)

    # CTGAN first: synthguard's checkpoints are compared with its final scores.
    print(f"fitting CTGAN ({args.epochs_ctgan} epochs) ...", flush=True)
    info, rows = run_child(_fit_ctgan, (for_ctgan(train, resolved), discrete_columns(resolved), args.epochs_ctgan,
                                        args.seed, args.threads, n))
    ctgan = Result("CTGAN", judge(from_ctgan(rows, resolved, train)), info["epochs"], info["fit_seconds"],
                   statistics.median(info["epoch_seconds"]) if info["epoch_seconds"] else None,
                   info["peak_mb"], info["base_mb"], info["sample_seconds"])
    print(f"  {ctgan.fit_seconds:.1f} s; quality {_fmt(ctgan.scores.quality)}, TSTR AUC {_fmt(ctgan.scores.tstr_auc)}", flush=True)

    checkpoints: list[dict[str, Any]] = []
    match: dict[str, Any] | None = None

    def on_checkpoint(point: dict[str, Any], rows: pd.DataFrame) -> bool:
        nonlocal match
        s = judge(rows)
        point = {**point, "quality": s.quality, "tstr_accuracy": s.tstr_accuracy, "tstr_auc": s.tstr_auc,
                 "score_seconds": s.seconds}
        checkpoints.append(point)
        print(f"  epoch {point['epoch']:>4}: fit {point['fit_seconds']:7.1f} s, quality {_fmt(s.quality)}, "
              f"TSTR AUC {_fmt(s.tstr_auc)}", flush=True)
        if _matches(s, ctgan.scores):
            match = point
        return match is None  # once matched, the rest of the fit runs unscored

    options: dict[str, Any] = {"defense": args.defense, "seed": args.seed, "threads": args.threads}
    if args.epochs is not None:
        options["epochs"] = args.epochs
    print(f"fitting synthguard (defense {args.defense}, {args.epochs or 'default'} epochs, "
          f"scored every {args.check_every}) ...", flush=True)
    info, rows = run_child(_fit_synthguard, (raw_train, schema, options, n, sample_seed, args.check_every), on_checkpoint)
    ours = Result(f"synthguard ({args.defense})", judge(rows), info["epochs"], info["fit_seconds"],
                  statistics.median(info["epoch_seconds"]) if info["epoch_seconds"] else None,
                  info["peak_mb"], info["base_mb"], info["sample_seconds"], checkpoints)
    if match is None and _matches(ours.scores, ctgan.scores):
        match = {"epoch": ours.epochs, "fit_seconds": ours.fit_seconds, "quality": ours.scores.quality,
                 "tstr_auc": ours.scores.tstr_auc, "tstr_accuracy": ours.scores.tstr_accuracy}

    baseline = Result("independent columns", judge(independent_columns(train, n, args.seed)))
    results = [ctgan, ours, baseline]
    report = _report(args, results, match, n, len(holdout), time.perf_counter() - started)
    _print_report(report)
    if args.json is not None:
        write_text(args.json, json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return report


def _matches(ours: Scores, theirs: Scores) -> bool:
    if None in (ours.quality, ours.tstr_auc, theirs.quality, theirs.tstr_auc):
        return False
    return ours.quality >= theirs.quality and ours.tstr_auc >= theirs.tstr_auc  # type: ignore[operator]


def _report(args: argparse.Namespace, results: list[Result], match: dict[str, Any] | None, n_train: int,
            n_holdout: int, seconds: float) -> dict[str, Any]:
    ctgan, ours = results[0], results[1]
    ratio = match["fit_seconds"] / ctgan.fit_seconds if match and ctgan.fit_seconds else None
    higher = _higher(ours.scores, ctgan.scores)
    return {
        "settings": {"data": "doctorcontacts", "target": TARGET, "n_train": n_train, "n_holdout": n_holdout,
                     "seed": args.seed, "threads": args.threads, "defense": args.defense,
                     "epochs_ctgan": args.epochs_ctgan, "epochs": ours.epochs, "check_every": args.check_every,
                     "quick": args.quick, "versions": _versions()},
        "trtr": {"accuracy": ctgan.scores.trtr_accuracy, "auc": ctgan.scores.trtr_auc},
        "generators": [
            {"name": r.name, "seconds_per_epoch": r.seconds_per_epoch, "epochs": r.epochs, "fit_seconds": r.fit_seconds,
             "peak_mb": r.peak_mb, "base_mb": r.base_mb, "sample_seconds": r.sample_seconds,
             "quality": r.scores.quality, "column_shapes": r.scores.column_shapes,
             "column_pair_trends": r.scores.pair_trends, "tstr_accuracy": r.scores.tstr_accuracy,
             "tstr_auc": r.scores.tstr_auc, **({"checkpoints": r.checkpoints} if r.checkpoints else {})}
            for r in results
        ],
        "time_to_match": {"matched": match is not None, **(match or {}), "ctgan_fit_seconds": ctgan.fit_seconds,
                          "ratio": ratio},
        "target": {"match_within_fifth": ratio is not None and ratio <= 0.2, "ends_higher_on_both": higher},
        "total_seconds": seconds,
    }


def _higher(ours: Scores, theirs: Scores) -> bool:
    if None in (ours.quality, ours.tstr_auc, theirs.quality, theirs.tstr_auc):
        return False
    return ours.quality > theirs.quality and ours.tstr_auc > theirs.tstr_auc  # type: ignore[operator]


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("synthguard", "ctgan", "torch", "sdmetrics", "scikit-learn"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "-"
    return out


def _print_report(report: dict[str, Any]) -> None:
    head = f"{'generator':<22} {'s/epoch':>8} {'epochs':>6} {'fit s':>8} {'peak MB':>8} {'quality':>8} {'TSTR acc':>9} {'TSTR AUC':>9}"
    print("\n" + head + "\n" + "-" * len(head))
    for g in report["generators"]:
        epochs = "-" if g["epochs"] is None else str(g["epochs"])
        print(f"{g['name']:<22} {_fmt(g['seconds_per_epoch'], 2):>8} {epochs:>6} {_fmt(g['fit_seconds'], 1):>8} "
              f"{_fmt(g['peak_mb'], 0):>8} {_fmt(g['quality']):>8} {_fmt(g['tstr_accuracy']):>9} {_fmt(g['tstr_auc']):>9}")
    trtr = report["trtr"]
    print(f"{'real rows (TRTR)':<22} {'':>8} {'':>6} {'':>8} {'':>8} {'':>8} {_fmt(trtr['accuracy']):>9} {_fmt(trtr['auc']):>9}")
    base = ", ".join(f"{g['name']} {g['base_mb']:.0f}" for g in report["generators"] if g["base_mb"] is not None)
    print(f"(peak MB is the fitting process's peak resident memory; before fitting: {base} MB)")
    m = report["time_to_match"]
    ours = report["generators"][1]["name"]
    if m["matched"]:
        print(f"\n{ours} matches CTGAN's final quality and TSTR AUC at epoch {m['epoch']}, after {m['fit_seconds']:.1f} s "
              f"of fitting = {m['ratio']:.2f} x CTGAN's {m['ctgan_fit_seconds']:.1f} s (target <= 0.20)")
    else:
        print(f"\n{ours} never matched CTGAN's final quality and TSTR AUC at the checkpoints or at the end")
    t = report["target"]
    print(f"target: match within a fifth of CTGAN's fit time: {'yes' if t['match_within_fifth'] else 'no'}; "
          f"ends higher on both: {'yes' if t['ends_higher_on_both'] else 'no'}   (total run {report['total_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
