"""synthguard against peer generators: utility and membership inference, on one split, in one run.

    .venv/bin/python benchmarks/peers.py [--data ofp|doctorcontacts|medexp|PATH.csv] [--schema PATH]
        [--target COL] [--generators synthguard-none,synthguard-mixup,ctgan,tvae,gaussiancopula]
        [--epochs 60] [--batch-size 128] [--epochs-ctgan 100] [--epochs-tvae 300] [--shadows 8] [--targets 200]
        [--synthetic-rows 10000] [--seed 0] [--threads 1] [--workers 1] [--json out/peers.json] [--quick]

One seeded 80/20 split of a bundled table (default OFP). Every generator (synthguard without a
defence and with mixup, CTGAN and TVAE from the `ctgan` package, SDV's GaussianCopula) is fitted on the
80% and scored by synthguard's own code: fit time, sdmetrics quality, TSTR accuracy and AUC on
the held-out 20% for the schema's condition column (or --target), the exact-copy rate. Then
synthguard's audit attacks each one's training recipe under the `data` threat model (the attacker
holds synthetic rows only): shadows of the recipe on random halves of the 80%, and the AUC with
a 95% bootstrap interval of LiRA on the distance to the closest synthetic record (`lira_dcr`),
GAN-Leaks full black-box (`ganleaks`) and the other data-only attacks. The peers enter the audit
through small recipe adapters (`_peers_common.py`); the audit code is the release's.

Never part of `make test`; benchmarks/README.md gives a measured run and what it takes. `--quick`
is a smoke test of the script (tiny settings on 600 rows), not a measurement.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from _peers_common import (
    CTGANRecipe,
    GaussianCopulaRecipe,
    Judge,
    Scores,
    TVAERecipe,
    fmt,
    json_path,
    save_json,
    split,
    versions,
)

ROOT = Path(__file__).resolve().parents[1]
GENERATORS = ("synthguard-none", "synthguard-mixup", "ctgan", "tvae", "gaussiancopula")
HEADLINE = ("lira_dcr", "ganleaks")  # the attacks of the main table; the others follow it


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", default="ofp", help="a bundled table (ofp, doctorcontacts, medexp) or a CSV path")
    parser.add_argument("--schema", type=Path, default=None, help="default: schemas/<bundled name>.yaml")
    parser.add_argument("--target", default=None, help="TSTR target column (default: the schema's condition)")
    parser.add_argument("--generators", default=",".join(GENERATORS), help=f"comma list of {', '.join(GENERATORS)}")
    parser.add_argument("--epochs", type=int, default=60, help="synthguard epochs (default 60, as `make demo`)")
    parser.add_argument("--batch-size", type=int, default=128, help="synthguard batch size (default 128, as `make demo`)")
    # CTGAN's own default is 300; a third of it bounds the run (benchmarks/README.md)
    parser.add_argument("--epochs-ctgan", type=int, default=100,
                        help="CTGAN epochs (default 100, a third of its own default, to bound the run)")
    parser.add_argument("--epochs-tvae", type=int, default=300, help="TVAE epochs (default 300, its own default)")
    parser.add_argument("--shadows", type=int, default=8, help="shadow models per audit (even, >= 4; default 8)")
    parser.add_argument("--targets", type=int, default=200, help="audited records (default 200)")
    parser.add_argument("--synthetic-rows", type=int, default=10_000, help="rows each shadow releases (default 10,000)")
    parser.add_argument("--seed", type=int, default=0, help="split, fits, sampling, audit and scoring (default 0)")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (default 1; shadows always 1)")
    parser.add_argument("--workers", type=int, default=1,
                        help="audit worker processes (default 1: shadows run in this process)")
    parser.add_argument("--rows", type=int, default=None, help="use a seeded subsample of this many train rows")
    parser.add_argument("--json", type=json_path, default=None, help="also write the results to this file")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 2 epochs each, 4 shadows, 40 targets, 1,000 synthetic rows, 600 train rows")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.epochs_ctgan, args.epochs_tvae = 2, 2, 2
        args.shadows, args.targets, args.synthetic_rows = 4, 40, 1000
        args.rows = args.rows or 600
    args.generators = [g.strip() for g in args.generators.split(",") if g.strip()]
    unknown = sorted(set(args.generators) - set(GENERATORS))
    if unknown or not args.generators:
        parser.error(f"--generators: unknown {unknown[0]!r}" if unknown else "--generators: name at least one")
    for name in ("epochs", "epochs_ctgan", "epochs_tvae", "batch_size", "threads", "workers", "synthetic_rows"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def load(args: argparse.Namespace) -> tuple[pd.DataFrame, Any, str]:
    from synthguard.io import read_table
    from synthguard.schema import Schema

    bundled = ROOT / "synthguard" / "data" / f"{args.data}.csv"
    path = bundled if bundled.exists() else Path(args.data)
    schema_path = args.schema or ROOT / "schemas" / f"{path.stem}.yaml"
    if not schema_path.exists():
        raise SystemExit(f"no schema for {path.name}: pass --schema")
    return read_table(path), Schema.load(schema_path), path.stem


def make_recipe(name: str, schema: Any, args: argparse.Namespace) -> Any:
    """The training recipe of one generator, seeded by --seed (the audit clones it per shadow)."""
    if name.startswith("synthguard-"):
        from synthguard.synthesizer import Synthesizer

        return Synthesizer(schema, defense=name.split("-", 1)[1], epochs=args.epochs, batch_size=args.batch_size,
                           seed=args.seed, threads=args.threads)
    if name == "ctgan":
        return CTGANRecipe(schema, seed=args.seed, threads=args.threads, epochs=args.epochs_ctgan)
    if name == "tvae":
        return TVAERecipe(schema, seed=args.seed, threads=args.threads, epochs=args.epochs_tvae)
    return GaussianCopulaRecipe(schema, seed=args.seed, threads=args.threads)


def label(name: str) -> str:
    return {"synthguard-none": "synthguard (none)", "synthguard-mixup": "synthguard (mixup)", "ctgan": "CTGAN", "tvae": "TVAE",
            "gaussiancopula": "GaussianCopula"}[name]


def run_generator(name: str, args: argparse.Namespace, schema: Any, resolved: Any, raw_train: pd.DataFrame,
                  train: pd.DataFrame, judge: Judge) -> dict[str, Any]:
    from synthguard.audit import AuditConfig, audit

    recipe = make_recipe(name, schema, args)
    load_before = os.getloadavg()[0]
    print(f"{label(name)}: fitting on {len(train)} rows ...", flush=True)
    started = time.perf_counter()
    model = recipe.clone().fit_parsed(train, resolved)
    fit_seconds = time.perf_counter() - started
    sampled = time.perf_counter()
    rows = model.sample(len(train), seed=args.seed + 1, typed=True)
    sample_seconds = time.perf_counter() - sampled
    scores = judge(rows, copies=True)
    print(f"  fit {fit_seconds:.1f} s; quality {fmt(scores.quality)}, TSTR AUC {fmt(scores.tstr_auc)}, "
          f"exact copies {fmt(scores.exact_copy_rate, 4)}", flush=True)

    config = AuditConfig(n_shadows=args.shadows, n_targets=args.targets, threat_model="data", seed=args.seed,
                         workers=args.workers, synthetic_rows=args.synthetic_rows)
    audit_started = time.perf_counter()

    def on_shadow(done: int, total: int) -> None:
        print(f"  shadow {done}/{total} at {time.perf_counter() - audit_started:.0f} s", flush=True)

    # the population is the 80% the generator was fitted on, as in a release
    result = audit(raw_train, recipe, schema, config, on_shadow=on_shadow)
    attacks = {a: result.attacks[a].summary for a in result.attacks}
    print("  " + ", ".join(f"{a} AUC {s.auc:.3f} [{s.auc_ci[0]:.3f}, {s.auc_ci[1]:.3f}]"
                           for a, s in attacks.items() if a in HEADLINE), flush=True)
    return {
        "name": label(name), "key": name, "recipe": result.recipe, "fit_seconds": fit_seconds,
        "sample_seconds": sample_seconds, "quality": scores.quality, "column_shapes": scores.column_shapes,
        "column_pair_trends": scores.pair_trends, "tstr_accuracy": scores.tstr_accuracy, "tstr_auc": scores.tstr_auc,
        "exact_copy_rate": scores.exact_copy_rate, "dcr_median": scores.dcr_median,
        "audit_seconds": result.seconds, "n_targets": len(result.targets),
        "attacks": {a: s.to_dict() for a, s in attacks.items()},
        "load_before_after": (load_before, os.getloadavg()[0]),
        "_scores": scores,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits


    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    raw, schema, data_name = load(args)
    resolved = schema.resolve(list(raw.columns))
    target = args.target or resolved.condition
    if target is None:
        raise SystemExit("the schema names no condition column: pass --target")
    raw_train, raw_holdout = split(raw, args.seed)
    if args.rows is not None and args.rows < len(raw_train):
        raw_train = raw_train.sample(n=args.rows, random_state=args.seed).reset_index(drop=True)
    train, holdout = schema.parse(raw_train), schema.parse(raw_holdout)
    judge = Judge(train, holdout, resolved, target, args.seed)
    settings = {
        "data": data_name, "target": target, "n_train": len(train), "n_holdout": len(holdout), "seed": args.seed,
        "generators": args.generators, "synthguard_epochs": args.epochs, "synthguard_batch_size": args.batch_size,
        "ctgan_epochs": args.epochs_ctgan, "ctgan_batch_size": 500, "tvae_epochs": args.epochs_tvae,
        "tvae_batch_size": 500, "shadows": args.shadows, "targets": args.targets,
        "synthetic_rows": args.synthetic_rows, "threat_model": "data", "threads": args.threads,
        "workers": args.workers, "rows": args.rows, "quick": args.quick, "cpu_count": os.cpu_count(),
        "versions": versions(),
    }
    print(f"{data_name}: {len(train)} train rows (the audit population), {len(holdout)} holdout rows, "
          f"{len(resolved.modelled_columns)} columns; TSTR target {target!r}; seed {args.seed}\n"
          f"synthguard {args.epochs} epochs, batch {args.batch_size}; CTGAN {args.epochs_ctgan} epochs, TVAE "
          f"{args.epochs_tvae} epochs, both at batch 500 (their default); GaussianCopula at SDV's defaults\n"
          f"audit: threat model 'data', {args.shadows} shadows (each on a random half), {args.targets} targets, "
          f"{args.synthetic_rows} synthetic rows per shadow; {args.threads} thread(s) per fit, shadows 1 thread, "
          f"{args.workers} audit worker(s)", flush=True)

    results = []
    with threadpool_limits(limits=args.threads), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sdmetrics, rdt and sklearn warn about dtypes and convergence
        for name in args.generators:
            results.append(run_generator(name, args, schema, resolved, raw_train, train, judge))

    first: Scores = results[0].pop("_scores")
    for r in results[1:]:
        r.pop("_scores")
    report = {"settings": settings,
              "trtr": {"accuracy": first.trtr_accuracy, "auc": first.trtr_auc},
              "holdout_exact_copy_rate": first.holdout_exact_copy_rate, "dcr_holdout_median": first.dcr_holdout_median,
              "generators": results, "total_seconds": time.perf_counter() - started}
    print_report(report)
    save_json(args.json, report)
    return report


def _auc_ci(attack: dict[str, Any] | None) -> str:
    if attack is None:
        return "-"
    return f"{attack['auc']:.3f} [{attack['auc_ci'][0]:.3f}, {attack['auc_ci'][1]:.3f}]"


def print_report(report: dict[str, Any]) -> None:
    head = (f"{'generator':<20} {'fit s':>7} {'quality':>8} {'TSTR acc':>9} {'TSTR AUC':>9} {'copies':>7} "
            + " ".join(f"{a + ' AUC [95% CI]':>24}" for a in HEADLINE))
    print("\n" + head + "\n" + "-" * len(head))
    for g in report["generators"]:
        print(f"{g['name']:<20} {fmt(g['fit_seconds'], 1):>7} {fmt(g['quality']):>8} {fmt(g['tstr_accuracy']):>9} "
              f"{fmt(g['tstr_auc']):>9} {fmt(g['exact_copy_rate'], 4):>7} "
              + " ".join(f"{_auc_ci(g['attacks'].get(a)):>24}" for a in HEADLINE))
    trtr = report["trtr"]
    print(f"{'real rows':<20} {'':>7} {'':>8} {fmt(trtr['accuracy']):>9} {fmt(trtr['auc']):>9} "
          f"{fmt(report['holdout_exact_copy_rate'], 4):>7}   (TRTR; copies: holdout rows equal to a train row)")

    others = [a for a in ("ganleaks_cal", "domias", "logan_bb") if any(a in g["attacks"] for g in report["generators"])]
    if others:
        head = f"{'generator':<20} " + " ".join(f"{a + ' AUC [95% CI]':>27}" for a in others)
        print("\nother data-only attacks\n" + head + "\n" + "-" * len(head))
        for g in report["generators"]:
            print(f"{g['name']:<20} " + " ".join(f"{_auc_ci(g['attacks'].get(a)):>27}" for a in others))
    print("\nTPR at 1% FPR: " + "; ".join(
        f"{g['name']} " + ", ".join(f"{a} {g['attacks'][a]['tpr_at']['0.01']:.3f}" for a in HEADLINE if a in g["attacks"])
        for g in report["generators"]))
    audit_times = ", ".join(f"{g['name']} {g['audit_seconds']:.0f} s" for g in report["generators"])
    print(f"audit time: {audit_times}   (whole run {report['total_seconds']:.0f} s)")
    cores = report["settings"]["cpu_count"] or 1
    busy = [g["name"] for g in report["generators"] if max(g["load_before_after"]) > cores]
    if busy:
        print(f"warning: the 1-minute load average exceeded {cores} (the CPU count) around {', '.join(busy)}: "
              "other work shared the CPU, so fit times are too long")


if __name__ == "__main__":
    main()
