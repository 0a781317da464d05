"""What an audit costs next to the fit it audits, on the bundled OFP table.

Prints the wall time of one fit on the full table and of a K-shadow audit (each shadow on half of
the rows, same recipe), and their ratio. The arithmetic floor is K/2 (K trainings on half the
data); local worker processes (one torch thread each) are how the audit gets near it.

    .venv/bin/python benchmarks/audit_cost.py [--shadows 16] [--epochs 300] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

from synthguard.audit import attack_table_rows, audit
from synthguard.io import read_table
from synthguard.schema import Schema
from synthguard.synthesizer import Synthesizer

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shadows", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=None, help="default: synthguard's default")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the single fit")
    parser.add_argument("--targets", type=int, default=500)
    parser.add_argument("--defense", default="mixup")
    parser.add_argument("--skip-fit", action="store_true", help="audit only (no single-fit reference)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    raw = read_table(ROOT / "synthguard" / "data" / "ofp.csv")
    schema = Schema.load(ROOT / "schemas" / "ofp.yaml")
    options = {k: v for k, v in {"epochs": args.epochs, "batch_size": args.batch_size}.items() if v is not None}
    recipe = Synthesizer(schema, defense=args.defense, seed=0, **options)

    started = time.perf_counter()
    if not args.skip_fit:
        recipe.clone(threads=args.threads).fit(raw)
    fit_seconds = time.perf_counter() - started

    result = audit(raw, recipe, schema, n_shadows=args.shadows, n_targets=args.targets, workers=args.workers,
                   on_shadow=lambda done, total: print(f"  shadow {done}/{total} at {time.perf_counter() - started:.0f} s",
                                                       flush=True))
    print(f"attacks (defence {args.defense}, {recipe.config.epochs} epochs, {args.shadows} shadows x "
          f"{len(result.targets)} records):")
    print(f"  {'attack':<13}{'threat':<10}{'AUC [95% CI]':<24}{'TPR@1%':>9}{'TPR@0.1%':>10}{'negatives':>11}")
    for row in attack_table_rows(result):
        print(f"  {row[0]:<13}{row[1]:<10}{row[2]:<24}{row[3]:>9}{row[4]:>10}{row[5]:>11}")
    print("  every attack at chance" if result.at_chance else f"  strongest: {result.worst.spec.name}")
    if args.skip_fit:
        return
    ratio = result.seconds / fit_seconds
    report = {"rows": len(raw), "epochs": recipe.config.epochs, "batch_size": recipe.config.batch_size,
              "fit_seconds": round(fit_seconds, 1), "fit_threads": args.threads, "shadows": args.shadows,
              "workers": args.workers, "audit_seconds": round(result.seconds, 1), "ratio": round(ratio, 2),
              "floor": args.shadows / 2, "target": 10.0}
    print(f"one fit on {len(raw)} rows ({recipe.config.epochs} epochs, {args.threads} threads): {fit_seconds:.1f} s")
    print(f"audit with {args.shadows} shadows on half the rows ({args.workers} workers): {result.seconds:.1f} s")
    print(f"ratio audit / fit: {ratio:.2f} (arithmetic floor {args.shadows / 2:.0f}, target <= 10)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
