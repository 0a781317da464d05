"""Time to quality: synthguard against CTGAN and TVAE, over fit time, on the bundled tables.

    .venv/bin/python benchmarks/fit_speed.py [--tables ofp,medexp,doctorcontacts] [--targets A,B]
        [--csv X.csv --schema X.yaml --targets A,B] [--epochs-peers 300] [--epochs N]
        [--synthguard-options "ema=0.99;n_critic=2"] [--defense mixup|none] [--seed 0 | --seeds 0,1,2]
        [--check-every 10]
        [--threads 2] [--rows N] [--json out/fit_speed.json] [--plot-dir DIR] [--quick]

The goal measured: within a fifth of CTGAN's 300-epoch fit time (measured in the same run),
synthguard reaches at least the better of CTGAN-300 and TVAE-300 on sdmetrics quality and on the
TSTR ROC AUC of every target, on each table; and at its default length it is behind no peer.

Per table: one seeded 80/20 split. CTGAN and TVAE (the `ctgan` package, their defaults, on the
CPU, `--epochs-peers` epochs) and synthguard (its defaults; `--epochs` and `--synthguard-options`
change them) are fitted one after another, each in its own spawned process, so a peak memory is
that fit's own. Each is scored on as many synthetic rows as the train set holds: quality once, and
per target (default: the schema's condition column and one other) a gradient-boosting classifier
trained on the synthetic rows and tested on the held-out 20% (TSTR accuracy and AUC; TRTR, the same
trained on the real rows, is shown once). Peers' rows are clipped, rounded and parsed by the schema
(`from_peer_frame`), so every generator is judged by the same code on typed rows.

The peers are scored at the end of their fit. synthguard is scored every `--check-every` epochs:
its process samples, sends the rows and waits while the parent scores them (on one thread), and
that pause is not fit time. The first checkpoint reaching the reference (the peers' best final
quality and, per target, their best final AUC) gives the time to quality and its ratio to CTGAN's
fit time (target <= 0.20). The margins are synthguard's final scores minus the best peer's.
Fit time is wall time, preprocessing included; s/epoch is a median (synthguard: its per-epoch
stats; the peers: a clock put in place of the tqdm bar around their epoch loop).

Seeds: `--seeds 0,1,2` repeats all of it per seed (split, fits, sampling, scoring) and adds, per
table, means over seeds, each figure's margin against the peer with the better mean (paired by
seed, with a 95% t-interval over seeds and a verdict: ahead, behind, or not separated when the
interval holds 0) and the time to quality on the mean curve (`summarize_seeds`).

Speed: after its timed fit (and after its peak memory is read) synthguard's process counts the
floating-point operations of one epoch with `torch.utils.flop_counter.FlopCounterMode`, around a
separate 1-epoch fit with the same settings on the same rows (the encoder's fit does no matrix
products; the counter counts matrix products and convolutions only, not element-wise work), and
times this machine's own float32 matrix product (500x256 by 256x256, the batch and width of the
networks) with the same thread count for 2 s. It prints GFLOP per epoch, the achieved GFLOP/s, and
how many times the epoch takes the time those FLOPs need at the machine's matmul rate (target 2x).
The counter's per-module attribution is switched off: its hooks fail inside the gradient penalty.
The count is epoch 1's: where an epoch's critic steps are no multiple of n_critic, epochs differ by
a generator step, a few per cent of the FLOPs.

Contention: times are wall-clock, so run it on an otherwise idle machine. The 1-minute load average
is sampled before, during (every 10 s) and after each fit and at each checkpoint. Before the first
fit a load above 0.5 means something else runs; before a later fit the threshold is 0.5 plus the
previous fit's threads and joblib workers (what this run's own work can still account for). A fit
with any sample above the CPU count is marked contended. Never part of `make test`;
benchmarks/README.md gives what a full run takes. `--quick` (3 epochs each, scored every epoch,
2,000 train rows, OFP; options given explicitly override) is a smoke test, not a measurement.
"""

from __future__ import annotations

import argparse
import ast
import math
import os
import resource
import statistics
import sys
import time
import traceback
import warnings
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _measure import high_water_mb, start_child
from _peers_common import (
    discrete_columns,
    fmt,
    from_peer_frame,
    json_path,
    machine,
    save_json,
    split,
    to_peer_frame,
    versions,
)

ROOT = Path(__file__).resolve().parents[1]
#: per bundled table: the schema's condition column first, then one other target
TARGETS = {"ofp": ("hlth", "privins"), "medexp": ("health", "physlim"), "doctorcontacts": ("health", "physlim")}
PEERS = ("CTGAN", "TVAE")
PEER_DEFAULT_EPOCHS = 300
TARGET_RATIO = 0.2
LOAD_EVERY = 10.0  # seconds between load samples while a fit runs
GEMM = (500, 256, 256)  # m, k, n of the reference matrix product


# ---- measurements taken inside the fitting processes ------------------------------------------------
def _own_peak_mb() -> float:
    peak = high_water_mb()
    if peak is not None:
        return peak
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # elsewhere: kilobytes, macOS bytes
    return float(usage) / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _worker_peaks_mb() -> list[float]:
    """Peaks of the joblib worker processes this process started (the ctgan transformer may use
    them), then shut them down; they outlive the fit otherwise."""
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


def _gemm_flops_per_second(seconds: float = 2.0) -> float:
    """This machine's achieved float32 matrix-product rate at torch's current thread count."""
    import torch

    m, k, n = GEMM
    gen = torch.Generator().manual_seed(0)
    a, b, c = torch.randn(m, k, generator=gen), torch.randn(k, n, generator=gen), torch.empty(m, n)
    for _ in range(20):  # warm-up: thread pool start and caches are not the rate
        torch.mm(a, b, out=c)
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            torch.mm(a, b, out=c)
        count += 50
    return 2.0 * m * k * n * count / elapsed


class _GlobalOnly:
    """A stand-in for FlopCounterMode's module tracker: its backward hooks fail inside the gradient
    penalty's `autograd.grad` ("A leaf node was passed to _will_engine_execute_node"), and only the
    total is wanted, which the counter books under "Global" alone."""

    parents = frozenset({"Global"})

    def __enter__(self) -> _GlobalOnly:
        return self

    def __exit__(self, *args: Any) -> None:
        return None


def _epoch_flops(synth: Any, raw_train: pd.DataFrame) -> tuple[float | None, str | None]:
    """FLOPs of one training epoch: a 1-epoch fit of the same recipe under the counter."""
    from torch.utils.flop_counter import FlopCounterMode

    try:
        probe = synth.clone(epochs=1, checkpoints=None)
        counter = FlopCounterMode(display=False)
        counter.mod_tracker = _GlobalOnly()  # type: ignore[assignment]
        with counter, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probe.fit(raw_train)
        return float(counter.get_total_flops()), None
    except Exception as err:  # noqa: BLE001 - a speed figure is missing, the run is not lost
        return None, f"{type(err).__name__}: {err}"


def _fit_synthguard(conn: Connection, raw_train: pd.DataFrame, schema: Any, options: dict[str, Any],
                    n_sample: int, sample_seed: int, check_every: int) -> None:
    """Child: fit synthguard, send rows at checkpoints (and wait for the parent), then the final
    rows with the fit's figures and the speed probes."""
    try:
        import torch

        torch.set_num_threads(options["threads"])
        base_mb = _own_peak_mb()  # interpreter, numpy, pandas and torch: alike in every child
        from synthguard.synthesizer import Synthesizer

        synth = Synthesizer(schema, **options)
        epochs = synth.config.epochs
        epoch_seconds: list[float] = []
        paused = 0.0  # seconds spent sampling and waiting for the parent's scoring
        started = time.perf_counter()

        def on_epoch(epoch: int, stats: dict[str, float]) -> None:
            nonlocal paused
            epoch_seconds.append(float(stats["seconds"]))  # the epoch alone, never this callback
            if check_every <= 0 or epoch % check_every or epoch >= epochs:  # the last: scored below
                return
            entered = time.perf_counter()
            rows = synth.sample(n_sample, seed=sample_seed, typed=True)
            conn.send(("checkpoint", {"epoch": epoch, "fit_seconds": entered - started - paused}, rows))
            conn.recv()  # blocks: the parent scores with the CPU to itself
            paused += time.perf_counter() - entered

        synth.fit(raw_train, on_epoch=on_epoch)
        fit_seconds = time.perf_counter() - started - paused
        sampled = time.perf_counter()
        rows = synth.sample(n_sample, seed=sample_seed, typed=True)
        info: dict[str, Any] = {"epochs": epochs, "fit_seconds": fit_seconds, "epoch_seconds": epoch_seconds,
                                "sample_seconds": time.perf_counter() - sampled, "base_mb": base_mb,
                                "peak_mb": _own_peak_mb(), "worker_peaks_mb": _worker_peaks_mb()}
        # the probes run after the peak is read, so they cannot raise it
        flops, error = _epoch_flops(synth, raw_train)
        info["speed"] = {"epoch_flops": flops, "flop_count_error": error,
                         "gemm_flops_per_second": _gemm_flops_per_second(), "gemm_shape": list(GEMM)}
        conn.send(("done", info, rows))
    except BaseException:  # noqa: BLE001 - the parent reports it; a silent child would hang the run
        conn.send(("error", traceback.format_exc(), None))
    finally:
        conn.close()


class _EpochClock:
    """Stands in for the tqdm bar ctgan's CTGAN and TVAE wrap their epoch loops in, to time each epoch."""

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


def _fit_peer(conn: Connection, kind: str, train: pd.DataFrame, discrete: list[str], epochs: int, seed: int,
              threads: int, n_sample: int) -> None:
    """Child: fit CTGAN or TVAE with its defaults on the CPU, then send its rows."""
    try:
        import torch

        torch.set_num_threads(threads)
        base_mb = _own_peak_mb()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # rdt and sklearn warn about convergence and dtypes
            if kind == "CTGAN":
                import ctgan.synthesizers.ctgan as module
            else:
                import ctgan.synthesizers.tvae as module  # type: ignore[no-redef]
            # both iterate a tqdm bar over the epochs; a clock in its place times every epoch, and
            # fit time / epochs stands in if a future version stops using it
            patched = hasattr(module, "tqdm")
            if patched:
                module.tqdm = _EpochClock
            # enable_gpu, not TVAE's deprecated `cuda` (ctgan 0.12 warns about it)
            model = getattr(module, kind)(epochs=epochs, enable_gpu=False)
            model.set_random_state(seed)
            started = time.perf_counter()
            model.fit(train, discrete_columns=discrete)
            fit_seconds = time.perf_counter() - started
            stamps = _EpochClock.stamps if patched else []
            per_epoch = np.diff(stamps).tolist() if len(stamps) == epochs + 1 else [fit_seconds / epochs] * epochs
            sampled = time.perf_counter()
            rows = model.sample(n_sample)
        conn.send(("done", {"epochs": epochs, "fit_seconds": fit_seconds, "epoch_seconds": per_epoch,
                            "sample_seconds": time.perf_counter() - sampled, "base_mb": base_mb,
                            "peak_mb": _own_peak_mb(), "worker_peaks_mb": _worker_peaks_mb()}, rows))
    except BaseException:  # noqa: BLE001 - the parent reports it
        conn.send(("error", traceback.format_exc(), None))
    finally:
        conn.close()


# ---- the parent: scoring, load, fits ----------------------------------------------------------------
class Scorer:
    """Quality once per row set, and TSTR accuracy and ROC AUC per target, on one thread."""

    def __init__(self, train: pd.DataFrame, holdout: pd.DataFrame, schema: Any, targets: tuple[str, ...],
                 seed: int) -> None:
        self.train, self.holdout, self.schema, self.targets, self.seed = train, holdout, schema, targets, seed
        self.trtr: dict[str, dict[str, float | None]] = {}

    def __call__(self, rows: pd.DataFrame) -> dict[str, Any]:
        from threadpoolctl import threadpool_limits

        from synthguard.utility.downstream import downstream
        from synthguard.utility.quality import quality

        started = time.perf_counter()
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            q = quality(self.train, rows, self.schema, target=self.targets[0], seed=self.seed)
            out: dict[str, Any] = {"quality": q.score, "column_shapes": q.column_shapes,
                                   "pair_trends": q.column_pair_trends}
            for t in self.targets:
                d = downstream(self.train, self.holdout, rows, self.schema, target=t, seed=self.seed)
                out[f"auc_{t}"], out[f"accuracy_{t}"] = d.tstr.auc, d.tstr.accuracy
                self.trtr[t] = {"accuracy": d.trtr.accuracy, "auc": d.trtr.auc}  # the same every call
        out["score_seconds"] = time.perf_counter() - started
        return out


def metric_keys(targets: tuple[str, ...]) -> list[str]:
    return ["quality", *(f"auc_{t}" for t in targets)]


def label(key: str) -> str:
    return key.replace("auc_", "AUC ")


class Loads:
    """1-minute load averages of the whole run, and the pre-fit rule (see the module docstring)."""

    def __init__(self, started: float) -> None:
        self.started, self.cpus = started, os.cpu_count() or 1
        self.own_threads = 0  # threads (and worker processes) of the previous fit: 0 before the first
        self.warnings: list[str] = []

    def sample(self, what: str) -> dict[str, Any]:
        return {"at": round(time.perf_counter() - self.started, 1), "what": what, "load": os.getloadavg()[0]}

    def before_fit(self, name: str, threads: int) -> dict[str, Any]:
        point = self.sample("before")
        threshold = 0.5 + self.own_threads
        if point["load"] > threshold:
            note = (f"warning: 1-minute load average {point['load']:.2f} > {threshold:.1f} before fitting {name}: "
                    "something else is running, so its times may be too long")
            print(note, flush=True)
            self.warnings.append(note)
        self.own_threads = threads
        return point


def run_child(target: Any, args: tuple[Any, ...], loads: Loads, name: str, threads: int,
              on_checkpoint: Any = None) -> tuple[dict[str, Any], pd.DataFrame, list[dict[str, Any]]]:
    """Run one fit in a spawned process, answer its checkpoints, sample the load while it runs;
    returns its figures, final rows and load samples."""
    samples = [loads.before_fit(name, threads)]
    proc, conn = start_child(target, *args)
    try:
        while True:
            if not conn.poll(LOAD_EVERY):
                samples.append(loads.sample("fitting"))
                continue
            try:
                kind, info, rows = conn.recv()
            except EOFError:
                raise SystemExit(f"{name}: the fitting process died (exit code {proc.exitcode})") from None
            if kind == "error":
                raise SystemExit(f"{name} failed in its process:\n{info}")
            if kind == "done":
                samples.append(loads.sample("after"))
                # its joblib workers ran beside its threads: the most this fit can leave in the average
                loads.own_threads = threads + len(info["worker_peaks_mb"])
                return info, rows, samples
            samples.append(loads.sample(f"epoch {info['epoch']}"))
            on_checkpoint(info, rows)
            conn.send(True)  # the child may train on
    finally:
        proc.join()


def generator_entry(name: str, info: dict[str, Any], scores: dict[str, Any], samples: list[dict[str, Any]],
                    cpus: int) -> dict[str, Any]:
    per_epoch = statistics.median(info["epoch_seconds"]) if info["epoch_seconds"] else None
    return {"name": name, "epochs": info["epochs"], "fit_seconds": info["fit_seconds"], "seconds_per_epoch": per_epoch,
            "peak_mb": info["peak_mb"], "base_mb": info["base_mb"], "worker_peaks_mb": info["worker_peaks_mb"],
            "sample_seconds": info["sample_seconds"], **scores, "load": samples,
            "contended": any(s["load"] > cpus for s in samples)}


def reaches(point: dict[str, Any], reference: dict[str, float | None]) -> bool:
    return all(point.get(k) is not None and r is not None and point[k] >= r for k, r in reference.items())


def independent_columns(train: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Each column resampled with replacement on its own: perfect marginals, no relations."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({name: train[name].to_numpy()[rng.integers(0, len(train), n)] for name in train.columns})


def run_table(name: str, data: Path, schema_path: Path, targets: tuple[str, ...], args: argparse.Namespace,
              options: dict[str, Any], loads: Loads, seed: int) -> dict[str, Any]:
    """One seed of one table: its split, the peers' fits, synthguard's curve, the time to quality
    and the margins."""
    from synthguard.io import read_table
    from synthguard.schema import Schema

    raw = read_table(data)
    schema = Schema.load(schema_path)
    resolved = schema.resolve(list(raw.columns))
    for t in targets:
        if t not in [c.name for c in resolved.modelled_columns] or resolved.column(t).type not in ("categorical", "boolean"):
            raise SystemExit(f"{name}: TSTR target {t!r} must be a modelled categorical or boolean column")
    raw_train, raw_holdout = split(raw, seed)
    if args.rows is not None and args.rows < len(raw_train):
        raw_train = raw_train.sample(n=args.rows, random_state=seed).reset_index(drop=True)
    train, holdout = schema.parse(raw_train), schema.parse(raw_holdout)
    n, keys = len(train), metric_keys(targets)
    scorer = Scorer(train, holdout, resolved, targets, seed)
    print(f"\n== {name}: {n} train rows, {len(holdout)} holdout rows, {len(resolved.modelled_columns)} columns; "
          f"TSTR targets {', '.join(targets)}; seed {seed}; {args.threads} torch thread(s) per fit", flush=True)

    def scores_line(s: dict[str, Any]) -> str:
        return ", ".join(f"{label(k)} {fmt(s[k])}" for k in keys)

    generators: list[dict[str, Any]] = []
    for peer in PEERS:
        print(f"fitting {peer} ({args.epochs_peers} epochs, CPU) ...", flush=True)
        info, rows, samples = run_child(_fit_peer, (peer, to_peer_frame(train, resolved), discrete_columns(resolved),
                                                    args.epochs_peers, seed, args.threads, n),
                                        loads, peer, args.threads)
        scores = scorer(from_peer_frame(rows, resolved, train, f"{peer} rows"))
        generators.append(generator_entry(peer, info, scores, samples, loads.cpus))
        print(f"  fit {info['fit_seconds']:.1f} s: {scores_line(scores)}", flush=True)
    reference = {k: max((g[k] for g in generators if g[k] is not None), default=None) for k in keys}

    curve: list[dict[str, Any]] = []

    def on_checkpoint(point: dict[str, Any], rows: pd.DataFrame) -> None:
        curve.append({**point, "load": os.getloadavg()[0], **scorer(rows)})  # the load of the fit, not the scoring
        hit = "  (reaches the best peer)" if reaches(curve[-1], reference) else ""
        print(f"  epoch {point['epoch']:>4}: fit {point['fit_seconds']:7.1f} s, {scores_line(curve[-1])}{hit}", flush=True)

    ours = f"synthguard ({options.get('defense') or 'default'})"
    print(f"fitting {ours} ({options.get('epochs', 'default')} epochs, scored every "
          f"{args.check_every or 'no'} epoch(s)) ...", flush=True)
    info, rows, samples = run_child(_fit_synthguard, (raw_train, schema, {**options, "seed": seed}, n, seed + 1,
                                                     args.check_every),
                                    loads, ours, args.threads, on_checkpoint)
    final = scorer(rows)
    curve.append({"epoch": info["epochs"], "fit_seconds": info["fit_seconds"], **final, "load": samples[-1]["load"]})
    print(f"  epoch {info['epochs']:>4}: fit {info['fit_seconds']:7.1f} s, {scores_line(final)}  (end)"
          + ("  (reaches the best peer)" if reaches(final, reference) else ""), flush=True)
    mine = generator_entry(ours, info, final, samples, loads.cpus)
    generators.append(mine)
    generators.append({"name": "independent columns", **scorer(independent_columns(train, n, seed))})

    ctgan_seconds = generators[0]["fit_seconds"]
    hit = next((p for p in curve if reaches(p, reference)), None)
    ratio = hit["fit_seconds"] / ctgan_seconds if hit and ctgan_seconds else None
    margins = {}
    for k in keys:
        best = max((g for g in generators[:len(PEERS)] if g[k] is not None), key=lambda g: g[k], default=None)
        margin = None if best is None or final[k] is None else final[k] - best[k]
        margins[k] = {"margin": margin, "best_peer": best and best["name"], "peer_wins": margin is not None and margin < 0}
    speed = dict(info["speed"])
    flops, rate, per_epoch = speed["epoch_flops"], speed["gemm_flops_per_second"], mine["seconds_per_epoch"]
    speed.update({"seconds_per_epoch": per_epoch,
                  "achieved_flops_per_second": flops / per_epoch if flops and per_epoch else None,
                  "times_matmul_bound": per_epoch / (flops / rate) if flops and per_epoch and rate else None})
    return {"table": name, "seed": seed, "data": str(data), "schema": str(schema_path), "targets": list(targets),
            "n_train": n, "n_holdout": len(holdout), "trtr": scorer.trtr, "generators": generators, "curve": curve,
            "reference": reference,
            "time_to_quality": {"reached": hit is not None, "epoch": hit and hit["epoch"],
                                "fit_seconds": hit and hit["fit_seconds"], "ctgan_fit_seconds": ctgan_seconds,
                                "ratio": ratio, "target_met": ratio is not None and ratio <= TARGET_RATIO},
            "margins": margins, "peer_wins": [k for k, m in margins.items() if m["peer_wins"]], "speed": speed}


def mean_interval(values: list[float]) -> dict[str, Any]:
    """Mean of per-seed values with a 95% t-interval over seeds (None for one seed): each seed is
    one independent replicate of the whole comparison (split, fits, sampling, scoring)."""
    from scipy import stats

    mean = statistics.fmean(values)
    if len(values) < 2:
        return {"mean": mean, "low": None, "high": None, "values": values}
    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return {"mean": mean, "low": mean - half, "high": mean + half, "values": values}


def summarize_seeds(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One table over several seeds. Per generator, the mean fit time and figures. Per figure, the
    margin against the peer with the better mean, paired by seed (synthguard's final figure minus
    that peer's, in the same split), with its t-interval: `ahead` or `behind` when the interval
    excludes 0, else `not separated`. Time to quality on the mean curve: per checkpoint epoch the
    mean over seeds of fit seconds and of each figure, first reaching the peers' better mean on
    every figure, over CTGAN's mean fit time; each seed's own ratio beside it."""
    first = results[0]
    keys = metric_keys(tuple(first["targets"]))
    names = [g["name"] for g in first["generators"]]

    def mean_of(values: list[Any]) -> float | None:
        return None if any(v is None for v in values) else statistics.fmean(values)

    generators = []
    for i, name in enumerate(names):
        runs = [r["generators"][i] for r in results]
        generators.append({"name": name, **{k: mean_of([g.get(k) for g in runs]) for k in
                                            ("fit_seconds", "seconds_per_epoch", *keys)},
                           "epochs": runs[0].get("epochs"), "contended": any(g.get("contended") for g in runs)})
    peers = generators[:len(PEERS)]
    reference = {k: max((g[k] for g in peers if g[k] is not None), default=None) for k in keys}
    margins: dict[str, dict[str, Any]] = {}
    for k in keys:
        best = max((i for i, g in enumerate(peers) if g[k] is not None), key=lambda i: peers[i][k], default=None)
        if best is None:
            margins[k] = {"best_peer": None, "verdict": None}
            continue
        pairs = [(r["generators"][len(PEERS)][k], r["generators"][best][k]) for r in results]
        if any(ours is None or theirs is None for ours, theirs in pairs):
            margins[k] = {"best_peer": peers[best]["name"], "verdict": None}
            continue
        m = mean_interval([ours - theirs for ours, theirs in pairs])
        verdict = ("not separated" if m["low"] is None or m["low"] <= 0 <= m["high"]
                   else "ahead" if m["low"] > 0 else "behind")
        margins[k] = {"best_peer": peers[best]["name"], **m, "verdict": verdict}
    by_epoch = [{p["epoch"]: p for p in r["curve"]} for r in results]
    common = sorted(set.intersection(*(set(e) for e in by_epoch)))
    curve = [{"epoch": e, **{k: mean_of([b[e].get(k) for b in by_epoch]) for k in ("fit_seconds", *keys)}}
             for e in common]
    ctgan_seconds = peers[0]["fit_seconds"]
    hit = next((p for p in curve if reaches(p, reference)), None)
    ratio = hit["fit_seconds"] / ctgan_seconds if hit and ctgan_seconds else None
    return {"table": first["table"], "seeds": [r["seed"] for r in results], "targets": first["targets"],
            "n_train": first["n_train"], "generators": generators, "reference": reference, "curve": curve,
            "margins": margins, "behind": [k for k, m in margins.items() if m["verdict"] == "behind"],
            "time_to_quality": {"reached": hit is not None, "epoch": hit and hit["epoch"],
                                "fit_seconds": hit and hit["fit_seconds"], "ctgan_fit_seconds": ctgan_seconds,
                                "ratio": ratio, "target_met": ratio is not None and ratio <= TARGET_RATIO,
                                "per_seed_ratios": [r["time_to_quality"]["ratio"] for r in results]},
            "times_matmul_bound": mean_interval([r["speed"]["times_matmul_bound"] for r in results])
            if all(r["speed"].get("times_matmul_bound") for r in results) else None}


def print_summary(summary: dict[str, Any]) -> None:
    keys = metric_keys(tuple(summary["targets"]))
    seeds = ",".join(map(str, summary["seeds"]))
    print(f"\n{summary['table']}: means over seeds {seeds}")
    print(f"{'generator':<24} {'fit s':>8} " + " ".join(f"{label(k):>12}" for k in keys))
    for g in summary["generators"]:
        print(f"{g['name']:<24} {fmt(g.get('fit_seconds'), 1):>8} " + " ".join(f"{fmt(g.get(k)):>12}" for k in keys)
              + ("  (contended in a seed)" if g.get("contended") else ""))
    for k, m in summary["margins"].items():
        if m.get("verdict") is None:
            continue
        interval = "" if m["low"] is None else f" [{m['low']:+.3f}, {m['high']:+.3f}]"
        print(f"  margin {label(k)} against {m['best_peer']}: {m['mean']:+.3f}{interval} (95% t over seeds; per seed "
              + ", ".join(f"{v:+.3f}" for v in m["values"]) + f"): {m['verdict']}")
    t = summary["time_to_quality"]
    per_seed = ", ".join(fmt(r, 2) for r in t["per_seed_ratios"])
    if t["reached"]:
        print(f"  time to quality on the mean curve: epoch {t['epoch']}, {t['fit_seconds']:.1f} s = {t['ratio']:.2f} x "
              f"CTGAN's mean {t['ctgan_fit_seconds']:.1f} s ({'met' if t['target_met'] else 'NOT met'}); "
              f"per seed {per_seed}")
    else:
        print(f"  time to quality: the mean curve never reaches the peers' better mean; per seed {per_seed}")


# ---- report -------------------------------------------------------------------------------------------
def plot_table(path: Path, result: dict[str, Any]) -> None:
    """Quality and each target's TSTR AUC against fit seconds; built without pyplot, written atomically."""
    from matplotlib.figure import Figure

    from synthguard.io import atomic_path

    keys = metric_keys(tuple(result["targets"]))
    ours = result["generators"][len(PEERS)]
    fig = Figure(figsize=(4.2 * len(keys), 3.8), dpi=110)
    for i, key in enumerate(keys):
        ax = fig.add_subplot(1, len(keys), i + 1)
        ax.plot([p["fit_seconds"] for p in result["curve"]],
                [math.nan if p[key] is None else p[key] for p in result["curve"]], marker=".", label=ours["name"])
        for peer, marker in zip(result["generators"][:len(PEERS)], "s^", strict=True):
            if peer[key] is not None:
                ax.plot([peer["fit_seconds"]], [peer[key]], marker=marker, ls="", ms=8,
                        label=f"{peer['name']} ({peer['epochs']} epochs)")
        ctgan_seconds = result["time_to_quality"]["ctgan_fit_seconds"]
        ax.axvline(ctgan_seconds * TARGET_RATIO, color="grey", ls="--", lw=1, label="CTGAN fit time / 5")
        if result["reference"][key] is not None:
            ax.axhline(result["reference"][key], color="grey", ls=":", lw=1, label="best peer")
        ax.set_xlabel("fit seconds")
        ax.set_title(label(key) if key == "quality" else f"TSTR {label(key)}")
        ax.grid(True, alpha=0.3)
    fig.axes[0].legend(fontsize="small", loc="lower right")
    fig.suptitle(f"{result['table']}: time to quality ({result['n_train']} train rows)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")  # the temporary name ends in .tmp: say the format


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


def print_table(result: dict[str, Any], cpus: int) -> None:
    keys = metric_keys(tuple(result["targets"]))
    widths = [max(9, len(label(k)) + 1) for k in keys]
    head = (f"{'generator':<24} {'s/epoch':>8} {'epochs':>6} {'fit s':>8} {'peak MB':>8} "
            + " ".join(f"{label(k):>{w}}" for k, w in zip(keys, widths, strict=True)) + f" {'load':>11}")
    print(f"\n{result['table']}\n{head}\n" + "-" * len(head))
    for g in result["generators"]:
        loads = [s["load"] for s in g.get("load", [])]
        span = f"{loads[0]:.2f}-{max(loads):.2f}" if loads else ""
        epochs = "" if g.get("epochs") is None else str(g["epochs"])
        print(f"{g['name']:<24} {fmt(g.get('seconds_per_epoch'), 3):>8} {epochs:>6} {fmt(g.get('fit_seconds'), 1):>8} "
              f"{fmt(g.get('peak_mb'), 0):>8} " + " ".join(f"{fmt(g[k]):>{w}}" for k, w in zip(keys, widths, strict=True))
              + f" {span:>11}" + ("  (contended)" if g.get("contended") else ""))
    trtr = [fmt(None)] + [fmt(result["trtr"][t]["auc"]) for t in result["targets"]]
    print(f"{'real rows (TRTR)':<24} {'':>8} {'':>6} {'':>8} {'':>8} "
          + " ".join(f"{v:>{w}}" for v, w in zip(trtr, widths, strict=True)))
    fitted = [g for g in result["generators"] if "peak_mb" in g]
    print("load: 1-minute load average before the fit - highest while it ran; peak MB: the fitting process's peak "
          "resident memory (before fitting " + ", ".join(f"{g['name']} {g['base_mb']:.0f}" for g in fitted) + " MB)")
    for g in fitted:
        if g["worker_peaks_mb"]:
            print(f"  {g['name']} also ran {len(g['worker_peaks_mb'])} joblib worker process(es), peaking at "
                  + ", ".join(f"{mb:.0f}" for mb in g["worker_peaks_mb"]) + " MB")
    busy = [g["name"] for g in fitted if g["contended"]]
    if busy:
        print(f"warning: the 1-minute load average exceeded {cpus} (the CPU count) while fitting "
              f"{', '.join(busy)}: other work shared the CPU, so those times are too long")

    s = result["speed"]
    flops, rate = s["epoch_flops"], s["gemm_flops_per_second"]
    print(f"synthguard speed: {fmt(s['seconds_per_epoch'])} s/epoch; "
          + (f"{flops / 1e9:.2f} GFLOP/epoch (matrix products) = {s['achieved_flops_per_second'] / 1e9:.1f} GFLOP/s; "
             if flops and s["achieved_flops_per_second"] else f"FLOPs not counted ({s['flop_count_error']}); ")
          + f"this machine's {'x'.join(map(str, s['gemm_shape']))} matmul: {rate / 1e9:.1f} GFLOP/s; "
          + (f"an epoch takes {s['times_matmul_bound']:.1f}x the matmul bound (target within 2x)"
             if s["times_matmul_bound"] else "no bound"))

    ref = ", ".join(f"{label(k)} {fmt(v)}" for k, v in result["reference"].items())
    t = result["time_to_quality"]
    if t["reached"]:
        print(f"time to quality: synthguard first reaches the best peer ({ref}) at epoch {t['epoch']}, after "
              f"{t['fit_seconds']:.1f} s of fitting = {t['ratio']:.2f} x CTGAN's {t['ctgan_fit_seconds']:.1f} s: "
              f"target (<= {TARGET_RATIO:.2f}) {'met' if t['target_met'] else 'NOT met'}")
    else:
        print(f"time to quality: synthguard never reaches the best peer ({ref}): target NOT met")
    print("margins at synthguard's final epoch (minus the best peer): " + margins_text(result))


def margins_text(result: dict[str, Any]) -> str:
    parts = [f"{label(k)} {_signed(m['margin'])}" + (f" ({m['best_peer']} wins)" if m["peer_wins"] else "")
             for k, m in result["margins"].items()]
    wins = result["peer_wins"]
    return ", ".join(parts) + ("; a peer wins on " + ", ".join(map(label, wins)) if wins else "; no peer wins anywhere")


def parse_options(text: str | None) -> dict[str, Any]:
    """`key=value;key=value`, values read as Python literals (else kept as text)."""
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(";"))):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise SystemExit(f"--synthguard-options: {part!r} is not key=value")
        try:
            out[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            out[key.strip()] = value.strip()
    taken = sorted(set(out) & {"seed", "threads", "defense", "epochs"})
    if taken:
        raise SystemExit(f"--synthguard-options: set {taken[0]} with --{taken[0]}")
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tables", default=None, help="bundled tables, comma-separated (default all: "
                        + ",".join(TARGETS) + "; --quick: ofp)")
    parser.add_argument("--csv", type=Path, default=None, help="a table of your own (then --schema, --targets)")
    parser.add_argument("--schema", type=Path, default=None, help="the schema of --csv")
    parser.add_argument("--targets", default=None, help="TSTR targets, comma-separated (default per bundled table)")
    parser.add_argument("--epochs-peers", "--epochs-ctgan", dest="epochs_peers", type=int, default=None,
                        help=f"CTGAN and TVAE epochs (default {PEER_DEFAULT_EPOCHS}, their own default)")
    parser.add_argument("--epochs", type=int, default=None, help="synthguard epochs (default: its own)")
    parser.add_argument("--synthguard-options", default=None, help='other Synthesizer settings, "key=value;key=value"')
    parser.add_argument("--defense", choices=("mixup", "none"), default=None, help="synthguard's defence (default: its own)")
    parser.add_argument("--seed", type=int, default=None, help="split, fits, sampling and scoring (default 0)")
    parser.add_argument("--seeds", default=None, help="several seeds, comma-separated: each a whole replicate, "
                        "then means and intervals over them")
    parser.add_argument("--check-every", type=int, default=None,
                        help="score synthguard every N epochs (default 10; 0: at the end)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of each fit (default 2; scoring uses 1)")
    parser.add_argument("--rows", type=int, default=None, help="fit on a seeded subsample of this many train rows")
    parser.add_argument("--json", type=json_path, default=None, help="also write the results to this file")
    parser.add_argument("--plot-dir", type=Path, default=None, help="PNG per table here (default: beside --json)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 3 epochs each, scored every epoch, "
                        "2,000 train rows, OFP (options given explicitly override)")
    args = parser.parse_args(argv)
    # --quick's settings, unless an option says otherwise
    quick = {"epochs_peers": 3, "epochs": 3, "check_every": 1, "rows": 2000, "tables": "ofp"}
    full = {"epochs_peers": PEER_DEFAULT_EPOCHS, "epochs": None, "check_every": 10, "rows": None, "tables": None}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if (args.csv is None) != (args.schema is None):
        parser.error("--csv and --schema go together")
    if args.seed is not None and args.seeds is not None:
        parser.error("give --seed or --seeds, not both")
    try:
        args.seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else [args.seed or 0]
    except ValueError:
        parser.error(f"--seeds: {args.seeds!r} is not a comma-separated list of whole numbers")
    if len(set(args.seeds)) != len(args.seeds):
        parser.error("--seeds: a seed is listed twice")
    for name in ("epochs_peers", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be at least 1")
    return args


def table_specs(args: argparse.Namespace) -> list[tuple[str, Path, Path, tuple[str, ...]]]:
    chosen = tuple(args.targets.split(",")) if args.targets else None
    if args.csv is not None:
        if chosen is None:
            from synthguard.schema import Schema

            condition = Schema.load(args.schema).condition
            if condition is None:
                raise SystemExit("--targets is needed: the schema names no condition column")
            chosen = (condition,)
        return [(args.csv.stem, args.csv, args.schema, chosen)]
    names = (args.tables or ",".join(TARGETS)).split(",")
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        raise SystemExit(f"unknown table {unknown[0]!r} (bundled: {', '.join(TARGETS)}; or --csv and --schema)")
    return [(n, ROOT / "synthguard" / "data" / f"{n}.csv", ROOT / "schemas" / f"{n}.yaml", chosen or TARGETS[n])
            for n in names]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    from synthguard.synthesizer import Synthesizer

    started = time.perf_counter()
    specs = table_specs(args)
    extra = parse_options(args.synthguard_options)
    options: dict[str, Any] = {"seed": args.seeds[0], "threads": args.threads, **extra}
    if args.defense is not None:
        options["defense"] = args.defense
    if args.epochs is not None:
        options["epochs"] = args.epochs
    recipe = Synthesizer(None, **options)  # a bad setting fails here, not after the peers' fits
    options["defense"] = recipe.defense
    plot_dir = args.plot_dir or (args.json.parent if args.json is not None else None)
    stem = args.json.stem if args.json is not None else "fit_speed"
    if plot_dir is not None:
        plot_dir.mkdir(parents=True, exist_ok=True)

    loads = Loads(started)
    results, summaries = [], []
    for name, data, schema, targets in specs:
        runs = []
        for seed in args.seeds:
            result = run_table(name, data, schema, targets, args, options, loads, seed)
            print_table(result, loads.cpus)
            if plot_dir is not None:
                tail = f"_seed{seed}" if len(args.seeds) > 1 else ""
                result["plot"] = str(plot_dir / f"{stem}_{name}{tail}.png")
                plot_table(Path(result["plot"]), result)
                print(f"wrote {result['plot']}")
            runs.append(result)
        results += runs
        if len(runs) > 1:
            summary = summarize_seeds(runs)
            print_summary(summary)
            if plot_dir is not None:
                summary["plot"] = str(plot_dir / f"{stem}_{name}_mean.png")
                plot_table(Path(summary["plot"]), summary)
                print(f"wrote {summary['plot']}")
            summaries.append(summary)

    print("\nsummary (time to quality: synthguard's fit time to reach the best peer, over CTGAN's fit time)")
    for r in results:
        t = r["time_to_quality"]
        contended = [g["name"] for g in r["generators"] if g.get("contended")]
        print(f"  {r['table']:<16} seed {r['seed']} ratio {fmt(t['ratio'], 2):>5} (target <= {TARGET_RATIO:.2f}: "
              f"{'yes' if t['target_met'] else 'no'}); margins {margins_text(r)}"
              + (f"  [contended: {', '.join(contended)}]" if contended else ""))
    for m in summaries:
        t = m["time_to_quality"]
        verdicts = ", ".join(f"{label(k)} {v['verdict']}" for k, v in m["margins"].items() if v.get("verdict"))
        print(f"  {m['table']:<16} mean of {len(m['seeds'])} seeds: ratio {fmt(t['ratio'], 2)} "
              f"({'met' if t['target_met'] else 'not met'}); against the better peer: {verdicts}")
    report = {"settings": {"tables": [s[0] for s in specs], "seeds": args.seeds, "threads": args.threads,
                           "epochs_peers": args.epochs_peers, "epochs": recipe.config.epochs,
                           "synthguard_options": options, "synthguard_defense": recipe.describe_defense(),
                           "check_every": args.check_every, "rows": args.rows,
                           "quick": args.quick, "cpu_count": loads.cpus, "target_ratio": TARGET_RATIO,
                           "versions": versions(("synthguard", "ctgan", "torch", "sdmetrics", "scikit-learn")),
                           "machine": machine()},
              "tables": results, "summaries": summaries, "load_warnings": loads.warnings, "total_seconds": time.perf_counter() - started}
    print(f"whole run {report['total_seconds']:.0f} s")
    save_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
