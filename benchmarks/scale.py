"""How fitting and auditing scale: time per epoch and peak memory from 20k to 1M rows (streamed
from parquet), and audit wall time from 4 to 32 shadows.

    nice -n 10 .venv/bin/python benchmarks/scale.py [--sizes 20000,200000,1000000] [--epochs 3,2,1]
        [--shadows 4,8,16,32] [--threads 1] [--workers 2] [--json out/scale.json] [--quick]

Fits: the bundled DoctorContacts table (20,186 rows, schema `schemas/doctorcontacts.yaml`) is
replicated to each size, with small Gaussian noise (1% of each column's standard deviation,
clipped at the schema's minimum) on the continuous columns so that no two rows are the same (the
script counts duplicates to check), written to parquet in row groups of 65,536 rows, and fitted
by `synthguard.streaming.fit_parquet` with synthguard's default network and batch size. Each fit
runs in its own spawned process, which reports the seconds of every epoch, the time spent before
the first epoch (two passes over the file: parse and count, then parse and encode) and its peak
resident memory (Linux VmHWM, as `fit_speed.py` measures it). "s/epoch/row vs first" is the time
per epoch per row relative to the smallest size: 1.0 is linear in the rows.

Audits: the bundled OFP table (4,406 rows), a small fixed recipe (a few epochs, few targets, few
synthetic rows per shadow), for each K in `--shadows`, in its own spawned process with
`--workers` local worker processes. "s/shadow vs first" is the wall time per shadow relative to
the smallest K: 1.0 is linear in K (the fixed costs, parsing and scoring, are included).

Times are wall-clock on a shared machine: the 1-minute load average before and after each
measurement is printed, and a load above the CPU count means other work took CPU time from it.
`--quick` is a smoke test of the script (tiny sizes, one epoch), not a measurement.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _measure import high_water_mb, start_child
from _peers_common import json_path, save_json

ROOT = Path(__file__).resolve().parents[1]
DOCTOR = ROOT / "synthguard" / "data" / "doctorcontacts.csv"
DOCTOR_SCHEMA = ROOT / "schemas" / "doctorcontacts.yaml"
OFP = ROOT / "synthguard" / "data" / "ofp.csv"
OFP_SCHEMA = ROOT / "schemas" / "ofp.yaml"
ROW_GROUP = 65_536
NOISE = 0.01  # of each continuous column's standard deviation


# ---- data ---------------------------------------------------------------------------------------
def write_replicated(path: Path, rows: int, seed: int) -> dict[str, Any]:
    """DoctorContacts cycled to `rows` rows with noise on continuous columns, written in row groups
    (the parent never holds more than one group). Returns the duplicate count and the file size."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from synthguard.io import read_table
    from synthguard.schema import Schema

    schema = Schema.load(DOCTOR_SCHEMA)
    base = schema.parse(read_table(DOCTOR))
    for col in schema.modelled_columns:
        if col.type == "boolean":
            base[col.name] = base[col.name].astype(bool)  # a bool column: parsed as it is
    noisy = [c for c in schema.modelled_columns if c.type == "continuous"]
    scale = {c.name: NOISE * float(base[c.name].std()) for c in noisy}
    rng = np.random.default_rng(seed)
    hashes = []
    writer = None
    try:
        for start in range(0, rows, ROW_GROUP):
            idx = np.arange(start, min(start + ROW_GROUP, rows)) % len(base)
            part = base.iloc[idx].reset_index(drop=True)
            for col in noisy:
                values = part[col.name].to_numpy() + rng.normal(0.0, scale[col.name], len(part))
                part[col.name] = np.maximum(values, col.min) if col.min is not None else values
            hashes.append(pd.util.hash_pandas_object(part, index=False).to_numpy())
            table = pa.Table.from_pandas(part, preserve_index=False)
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    every = np.concatenate(hashes)
    return {"rows": rows, "duplicates": int(len(every) - len(np.unique(every))),
            "file_mb": path.stat().st_size / 1e6}


# ---- children -----------------------------------------------------------------------------------
def _fit_child(conn: Connection, path: str, options: dict[str, Any]) -> None:
    try:
        import torch

        torch.set_num_threads(options["threads"])
        base_mb = high_water_mb()
        from synthguard.schema import Schema
        from synthguard.streaming import fit_parquet
        from synthguard.synthesizer import Synthesizer

        warnings.simplefilter("ignore")
        synth = Synthesizer(Schema.load(DOCTOR_SCHEMA), **options)
        epoch_seconds: list[float] = []
        first_epoch: list[float] = []
        started = time.perf_counter()

        def on_epoch(epoch: int, stats: dict[str, float]) -> None:
            if not first_epoch:
                first_epoch.append(time.perf_counter() - stats["seconds"] - started)
            epoch_seconds.append(float(stats["seconds"]))

        fit_parquet(synth, path, on_epoch=on_epoch)
        conn.send(("done", {"fit_seconds": time.perf_counter() - started, "prepare_seconds": first_epoch[0],
                            "epoch_seconds": epoch_seconds, "peak_mb": high_water_mb(), "base_mb": base_mb,
                            "encoded_mb": synth.n_rows_ * (synth.encoder_.dim + synth.encoder_.cond_dim) * 4 / 1e6,
                            "dim": synth.encoder_.dim}))
    except BaseException:  # noqa: BLE001 - the parent reports it; a silent child would hang the run
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _audit_child(conn: Connection, shadows: int, setting: dict[str, Any]) -> None:
    try:
        import torch

        torch.set_num_threads(1)
        from synthguard.audit import audit
        from synthguard.io import read_table
        from synthguard.schema import Schema
        from synthguard.synthesizer import Synthesizer

        warnings.simplefilter("ignore")
        schema = Schema.load(OFP_SCHEMA)
        raw = read_table(OFP)
        recipe = Synthesizer(schema, epochs=setting["epochs"], seed=0)
        started = time.perf_counter()
        result = audit(raw, recipe, schema, n_shadows=shadows, n_targets=setting["targets"],
                       synthetic_rows=setting["synthetic_rows"], workers=setting["workers"],
                       n_bootstrap=setting["bootstrap"], seed=0)
        seconds = time.perf_counter() - started
        # loky's idle workers would keep this spawned process from exiting for 300 s (their idle
        # timeout): multiprocessing joins its children at exit
        from joblib.externals.loky import reusable_executor

        executor = getattr(reusable_executor, "_executor", None)
        if executor is not None:
            executor.shutdown(wait=True)
        conn.send(("done", {"seconds": seconds, "peak_mb": high_water_mb(), "worst_auc": result.worst.summary.auc}))
    except BaseException:  # noqa: BLE001
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def run_child(target: Any, *args: Any) -> tuple[dict[str, Any], tuple[float, float]]:
    """Run one measurement in a spawned process; its result and the load average around it."""
    load_before = os.getloadavg()[0]
    proc, parent_end = start_child(target, *args)
    try:
        try:
            kind, info = parent_end.recv()
        except EOFError:
            raise SystemExit(f"{target.__name__}: the process died (exit code {proc.exitcode})") from None
        if kind == "error":
            raise SystemExit(f"{target.__name__} failed in its process:\n{info}")
        return info, (load_before, os.getloadavg()[0])
    finally:
        proc.join()


# ---- the run --------------------------------------------------------------------------------------
def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,200000,1000000", help="rows of each replicated table")
    parser.add_argument("--epochs", default="3,2,1", help="epochs per size (one value: the same for all)")
    parser.add_argument("--shadows", default="4,8,16,32", help="K of each audit")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each fit")
    parser.add_argument("--workers", type=int, default=2, help="local worker processes of each audit")
    parser.add_argument("--audit-epochs", type=int, default=3)
    parser.add_argument("--audit-targets", type=int, default=50)
    parser.add_argument("--audit-synthetic-rows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=json_path, default=None)
    parser.add_argument("--quick", action="store_true", help="smoke test: tiny sizes, 1 epoch, K = 4 and 6")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.epochs, args.shadows, args.audit_epochs = "2000,6000", "1", "4,6", 1
    sizes, epochs, shadow_counts = _ints(args.sizes), _ints(args.epochs), _ints(args.shadows)
    epochs = epochs * len(sizes) if len(epochs) == 1 else epochs
    if len(epochs) != len(sizes):
        raise SystemExit("--epochs needs one value, or one per size")
    started = time.perf_counter()
    cores = os.cpu_count() or 1
    print(f"scale benchmark: {cores} CPU(s), load average {os.getloadavg()[0]:.2f} at the start", flush=True)

    fits = []
    with tempfile.TemporaryDirectory(prefix="synthguard-scale-") as folder:
        for rows, n_epochs in zip(sizes, epochs, strict=True):
            path = Path(folder) / f"doctorcontacts_{rows}.parquet"
            made = time.perf_counter()
            data = write_replicated(path, rows, args.seed)
            print(f"fit {rows:>9,} rows: wrote {data['file_mb']:.1f} MB of parquet in {time.perf_counter() - made:.1f} s "
                  f"({data['duplicates']} duplicate rows); fitting {n_epochs} epoch(s) ...", flush=True)
            options = {"epochs": n_epochs, "seed": args.seed, "threads": args.threads}
            info, load = run_child(_fit_child, str(path), options)
            path.unlink()
            fits.append({**data, "epochs": n_epochs, **info, "seconds_per_epoch": statistics.median(info["epoch_seconds"]),
                         "load_before_after": load})
            print(f"    {fits[-1]['seconds_per_epoch']:.2f} s/epoch, {info['prepare_seconds']:.1f} s before the first "
                  f"epoch, peak {info['peak_mb']:.0f} MB", flush=True)
    first = fits[0]
    for fit in fits:
        fit["per_row_ratio"] = (fit["seconds_per_epoch"] / fit["rows"]) / (first["seconds_per_epoch"] / first["rows"])
        fit["prepare_per_row_ratio"] = (fit["prepare_seconds"] / fit["rows"]) / (first["prepare_seconds"] / first["rows"])

    setting = {"epochs": args.audit_epochs, "targets": args.audit_targets, "synthetic_rows": args.audit_synthetic_rows,
               "workers": args.workers, "bootstrap": 200}
    audits = []
    for k in shadow_counts:
        print(f"audit K = {k:>2} ...", flush=True)
        info, load = run_child(_audit_child, k, setting)
        audits.append({"shadows": k, **info, "seconds_per_shadow": info["seconds"] / k, "load_before_after": load})
        print(f"    {info['seconds']:.1f} s ({info['seconds'] / k:.2f} s/shadow)", flush=True)
    for before, entry in zip([None, *audits], audits, strict=False):
        entry["per_shadow_ratio"] = entry["seconds_per_shadow"] / audits[0]["seconds_per_shadow"]
        # what each added shadow cost: the fixed costs cancel out
        entry["marginal_seconds_per_shadow"] = (None if before is None else
                                                (entry["seconds"] - before["seconds"]) / (entry["shadows"] - before["shadows"]))

    report = {"settings": {"sizes": sizes, "epochs": epochs, "threads": args.threads, "workers": args.workers,
                           "noise_share_of_std": NOISE, "row_group": ROW_GROUP, "audit": setting,
                           "seed": args.seed, "quick": args.quick, "cpu_count": cores, "python": sys.version.split()[0]},
              "fits": fits, "audits": audits, "total_seconds": time.perf_counter() - started}
    print_report(report)
    save_json(args.json, report)
    return report


def print_report(report: dict[str, Any]) -> None:
    cores = report["settings"]["cpu_count"]
    head = (f"{'rows':>10} {'epochs':>6} {'s/epoch':>8} {'s/epoch/row':>12} {'vs first':>8} {'prepare s':>10} "
            f"{'vs first':>8} {'peak MB':>8} {'X MB':>7} {'load':>11}")
    print("\nstreamed fits (DoctorContacts replicated, default network, "
          f"{report['settings']['threads']} torch thread(s))\n" + head + "\n" + "-" * len(head))
    for f in report["fits"]:
        load = "{:.1f} -> {:.1f}".format(*f["load_before_after"])
        print(f"{f['rows']:>10,} {f['epochs']:>6} {f['seconds_per_epoch']:>8.2f} {f['seconds_per_epoch'] / f['rows']:>12.2e} "
              f"{f['per_row_ratio']:>8.2f} {f['prepare_seconds']:>10.1f} {f['prepare_per_row_ratio']:>8.2f} "
              f"{f['peak_mb']:>8.0f} {f['encoded_mb']:>7.0f} {load:>11}")
    print("s/epoch/row vs first: 1.0 = time per epoch linear in the rows; prepare = both passes over the file "
          "(parse, count, encode); X MB = the encoded float32 rows the GAN trains on; peak MB includes "
          f"{report['fits'][0]['base_mb']:.0f} MB of interpreter, numpy, pandas and torch")
    a = report["settings"]["audit"]
    head = f"{'K':>4} {'audit s':>9} {'s/shadow':>9} {'vs first':>8} {'marginal':>9} {'peak MB':>8} {'load':>11}"
    print(f"\naudits (OFP, 4,406 rows; {a['epochs']} epochs, {a['targets']} targets, {a['synthetic_rows']} synthetic "
          f"rows per shadow, {a['workers']} workers)\n" + head + "\n" + "-" * len(head))
    for entry in report["audits"]:
        load = "{:.1f} -> {:.1f}".format(*entry["load_before_after"])
        marginal = entry["marginal_seconds_per_shadow"]
        print(f"{entry['shadows']:>4} {entry['seconds']:>9.1f} {entry['seconds_per_shadow']:>9.2f} "
              f"{entry['per_shadow_ratio']:>8.2f} {'-' if marginal is None else f'{marginal:.2f}':>9} "
              f"{entry['peak_mb']:>8.0f} {load:>11}")
    print("s/shadow vs first: 1.0 = audit time linear in K (parsing, scoring and worker start-up included); "
          "marginal = s per shadow added since the previous K (fixed costs cancel); peak MB is the parent's "
          "(shadows train in worker processes)")
    loads = [max(x["load_before_after"]) for x in report["fits"] + report["audits"]]
    if max(loads) > cores:
        print(f"warning: the 1-minute load average reached {max(loads):.1f} on {cores} CPU(s): other work shared the "
              "machine, so times are longer and noisier than on an idle one")
    print(f"whole run {report['total_seconds']:.0f} s")


if __name__ == "__main__":
    main()
