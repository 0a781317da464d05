"""Coverage of the paired interval on one recipe's leakage minus another's, by simulation.

`synthguard.attacks.roc.compare_matrices` takes two recipes audited on the same records with the
same membership and gives A's AUC and TPR minus B's with an interval. Here pairs of audits are
drawn from `synthguard.attacks.simulate` with a known truth (`draw_paired`: the records' level
and vulnerability shared by the two recipes, each recipe's victims its own) and the share of
intervals that hold the true difference is counted, for the audit designs this project runs
(4 victims x 800 records, 8 x 150, 16 x 100 as in `power_curve.py`), two kinds of scores (victims
that overfit unequally; records that dominate) and two differences (none, and 0.03 in AUC).
"records" resamples records alone: it shows what leaving out the victims' spread costs.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/difference_calibration.py [--audits 200]
        [--bootstrap 200] [--json docs/results/difference_calibration.json]

Prints a markdown table. Deterministic for its arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from synthguard.attacks.simulate import ScoreModel, difference_coverage

ROOT = Path(__file__).resolve().parents[1]
KINDS = {
    # victims that overfit unequally (the verdict tests' clustered scores)
    "victims vary": ScoreModel(vulnerable_share=0.05, vulnerable_shift=2.5, record_var=0.6, model_var=0.2,
                               model_leak_sd=0.6),
    # a record's level and vulnerability dominate, the victims vary little
    "records dominate": ScoreModel(vulnerable_share=0.1, vulnerable_shift=1.5, record_var=0.7, model_var=0.02,
                                   model_leak_sd=0.1),
}
DESIGNS = ((4, 800), (8, 150), (16, 100))
DIFFERENCES = {"none": (0.6, 0.6), "0.03": (0.65, 0.62)}
FPRS = (0.01, 0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audits", type=int, default=200)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "results" / "difference_calibration.json")
    args = parser.parse_args()
    cells: list[dict[str, Any]] = []
    for kind, model in KINDS.items():
        for (k, t) in DESIGNS:
            for diff, (auc_a, auc_b) in DIFFERENCES.items():
                for resampling in ("records + models", "records"):
                    if resampling == "records" and diff != "0.03":
                        continue
                    load, started = os.getloadavg()[0], time.perf_counter()
                    a, b = model.with_auc(auc_a), model.with_auc(auc_b)
                    c = difference_coverage(a, b, k, t, n_audits=args.audits, resampling=resampling, fprs=FPRS,
                                            n_bootstrap=args.bootstrap, seed=k * 1000 + t)
                    cells.append({"scores": kind, "victims": k, "records": t, "difference": diff,
                                  "true_auc_difference": a.true_auc() - b.true_auc(),
                                  "resampling": resampling, **c.to_dict(),
                                  "seconds": round(time.perf_counter() - started, 1), "load_at_start": round(load, 2)})
                    print(row(cells[-1]), flush=True)
                    args.json.parent.mkdir(parents=True, exist_ok=True)
                    args.json.write_text(json.dumps({"audits": args.audits, "bootstrap": args.bootstrap,
                                                     "cells": cells}, indent=1) + "\n")
    print(table(cells))


HEADER = ("| scores | victims x records | true AUC difference | resampling | AUC covered | AUC interval under "
          "the truth | TPR@1% covered | TPR@5% covered |\n|---|---|---|---|---|---|---|---|")


def row(c: dict[str, Any]) -> str:
    return (f"| {c['scores']} | {c['victims']} x {c['records']} | {c['true_auc_difference']:+.3f} | {c['resampling']} "
            f"| {c['auc']:.3f} | {c['auc_below']:.3f} | {c['tpr']['0.01']:.3f} | {c['tpr']['0.05']:.3f} |")


def table(cells: list[dict[str, Any]]) -> str:
    return "\n".join([HEADER, *map(row, cells)])


if __name__ == "__main__":
    main()
