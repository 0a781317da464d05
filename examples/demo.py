"""The demo behind `make demo`: hold out 20% of the bundled OFP table, fit a mixup-trained
conditional WGAN on the rest, sample a synthetic table of the same size, and print its utility
(sdmetrics quality next to train-synthetic-test-real on the held-out rows).

Everything it writes goes to out/demo/. Run from the repository root: `make demo`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from synthguard.cli import app
from synthguard.io import read_table, write_table

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "synthguard" / "data" / "ofp.csv"
SCHEMA = ROOT / "schemas" / "ofp.yaml"
OUT = ROOT / "out" / "demo"


def run(*args: object) -> None:
    """Run one `synthguard` command in-process; stop the demo if it fails."""
    print("$ synthguard " + " ".join(str(a) for a in args), flush=True)
    try:
        app([str(a) for a in args], standalone_mode=False)
    except SystemExit as exc:
        if exc.code:
            sys.exit(exc.code)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows = read_table(DATA)
    holdout = rows.sample(frac=0.2, random_state=0)
    write_table(rows.drop(holdout.index), OUT / "train.csv")
    write_table(holdout, OUT / "holdout.csv")
    n_train = len(rows) - len(holdout)
    run("fit", OUT / "train.csv", "--schema", SCHEMA, "-o", OUT / "ofp.sgm", "--defense", "mixup", "--seed", "0")
    run("sample", OUT / "ofp.sgm", "-n", n_train, "-o", OUT / "synthetic.csv", "--seed", "1")
    run("evaluate", OUT / "train.csv", OUT / "synthetic.csv", "--schema", SCHEMA, "--holdout", OUT / "holdout.csv",
        "--target", "privins", "-o", OUT / "utility.json", "--plots", OUT / "plots")
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s; files in {OUT}")


if __name__ == "__main__":
    main()
