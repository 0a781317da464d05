"""Add a `person` column to the RAND Health Insurance Experiment's DoctorContacts table.

The table holds one row per person and year (up to five years each) but names no person. A
person's rows share every fixed attribute: the fractional part of the age (the age moves by one a
year), sex, race, income, education, chronic diseases, self-rated health, physical limitation and
the insurance plan (`lpi`, `idp`, `lc`, `fmde`). Rows with the same values of all of these get the
same `person` number (1, 2, ... in order of first appearance). Where two people share all of them
they become one person: coarser, so a privacy audit by person stays on the safe side.

    python scripts/add_person_ids.py synthguard/data/doctorcontacts.csv out/doctorcontacts.csv

The output is the input's lines, unchanged, each after its person number; the output must not
exist yet (the script never writes over a file).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

#: the columns that stay fixed across one person's yearly rows
FIXED = ("sex", "black", "linc", "educdec", "ndisease", "health", "physlim", "lpi", "idp", "lc", "fmde")


def person_ids(frame: pd.DataFrame) -> np.ndarray:
    """1-based person numbers, one per row, in order of first appearance."""
    birthday = (frame["age"] - np.floor(frame["age"])).round(4)
    key = pd.MultiIndex.from_arrays([birthday.to_numpy(), *(frame[c].to_numpy() for c in FIXED)])
    codes, _ = pd.factorize(key)
    return codes + 1


def main(source: str, target: str) -> int:
    out = Path(target)
    if out.exists():
        print(f"error: {out} exists; choose a new file", file=sys.stderr)
        return 1
    lines = Path(source).read_text().splitlines()
    frame = pd.read_csv(source)
    if "person" in frame.columns:
        print(f"error: {source} already has a `person` column", file=sys.stderr)
        return 1
    if len(lines) != len(frame) + 1:
        print(f"error: {source}: expected one line per row after the header", file=sys.stderr)
        return 1
    ids = person_ids(frame)
    body = [f"{i},{line}" for i, line in zip(ids, lines[1:], strict=True)]
    out.write_text("\n".join([f"person,{lines[0]}", *body]) + "\n")
    sizes = np.bincount(ids)[1:]
    print(f"{len(frame):,} rows, {len(sizes):,} persons; rows per person: "
          + ", ".join(f"{k}: {v}" for k, v in sorted(zip(*np.unique(sizes, return_counts=True), strict=True))))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[0] + "\nusage: add_person_ids.py SOURCE.csv TARGET.csv", file=sys.stderr)
        sys.exit(1)
    sys.exit(main(sys.argv[1], sys.argv[2]))
