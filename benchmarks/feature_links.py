"""Which of a target's links to the other columns a generator keeps: one-feature TSTR, per column.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/feature_links.py --table medexp --target physlim \\
        [--epochs 100,300] [--tvae] [--defense mixup|none] [--config "n_critic=10"] [--seed 0] \\
        [--json out/feature_links.json]

The whole-table TSTR AUC of fit_speed.py says how far a generator is behind the real rows, not
where. Here, on a seeded 80/20 split of a bundled table, synthguard is fitted for each `--epochs`
length (and, with `--tvae`, TVAE from the `ctgan` package for 300 epochs, `make bench-deps`), each
sampled for as many rows as the train set holds, and for each other modelled column a
gradient-boosting model is trained on that column alone, of the synthetic rows (and of the real
train rows: TRTR), to predict `--target`, and tested on the held-out 20% (synthguard's own
`downstream`, on a two-column schema). A column whose one-feature AUC falls far below its TRTR
is a link the generator lost. Also per numeric column: distinct values in the real train rows
and in each generator's rows (a column of a few values the schema declares continuous comes back
with thousands). The whole-table TSTR AUC heads each generator's column, and `labels` follows it:
the real rows' own model (gradient boosting on every other column of the real train rows, as
TRTR trains it) scoring the generator's rows, the ROC AUC with which the real rows' P(target |
other columns) ranks the generator's target labels (for the real rows: the held-out 20%, which
is TRTR). A generator that keeps the target's links scores near the real rows' figure; one that
draws the target loosely from the other columns scores lower, and one that makes the links
sharper than they are scores higher. Never part of
`make test`; one seed is one draw (a single fit's TSTR AUC moves by a few hundredths).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from _peers_common import fit_tvae, fmt, json_path, save_json, split
from levers import TARGETS, parse_config

ROOT = Path(__file__).resolve().parents[1]


def one_feature_aucs(train: pd.DataFrame, holdout: pd.DataFrame, rows: pd.DataFrame, resolved: Any, target: str,
                     seed: int) -> dict[str, float | None]:
    """The target's TSTR AUC from all columns (`all`), the real rows' model on `rows`' labels
    (`labels`), then the TSTR AUC from each other modelled column alone."""
    from threadpoolctl import threadpool_limits

    from synthguard.utility.downstream import downstream

    out: dict[str, float | None] = {}
    target_col = resolved.column(target)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["all"] = downstream(train, holdout, rows, resolved, target=target, seed=seed).tstr.auc
        # trained on the real train rows, tested on `rows` (the real rows themselves: the holdout)
        scored = holdout if rows is train else rows
        out["labels"] = downstream(train, scored, train, resolved, target=target, seed=seed).trtr.auc
        for col in resolved.modelled_columns:
            if col.name == target:
                continue
            pair = dataclasses.replace(resolved, columns=(col, target_col), condition=None, entity=None)
            names = [col.name, target]
            out[col.name] = downstream(train[names], holdout[names], rows[names], pair, target=target, seed=seed).tstr.auc
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--table", choices=sorted(TARGETS), default="medexp")
    parser.add_argument("--target", default=None, help="a boolean or categorical column (default: the table's second target)")
    parser.add_argument("--epochs", default="100,300", help="synthguard's lengths, comma-separated (default 100,300)")
    parser.add_argument("--defense", default="mixup")
    parser.add_argument("--tvae", action="store_true", help="also TVAE, 300 epochs (needs the ctgan package)")
    parser.add_argument("--config", default="default",
                        help="synthguard's training settings, key=value;key=value (default: the recipe as shipped)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=json_path, default=None)
    args = parser.parse_args(argv)
    try:
        lengths = [int(v) for v in args.epochs.split(",")]
    except ValueError:
        raise SystemExit("--epochs: comma-separated whole numbers") from None

    import torch

    from synthguard.io import read_table
    from synthguard.schema import Schema
    from synthguard.synthesizer import Synthesizer

    torch.set_num_threads(args.threads)
    settings = parse_config(args.config)
    target = args.target or TARGETS[args.table][1]
    raw = read_table(ROOT / "synthguard" / "data" / f"{args.table}.csv")
    schema = Schema.load(ROOT / "schemas" / f"{args.table}.yaml")
    resolved = schema.resolve(list(raw.columns))
    if target not in [c.name for c in resolved.modelled_columns] or resolved.column(target).type not in ("categorical", "boolean"):
        raise SystemExit(f"--target {target!r}: a modelled boolean or categorical column of {args.table}")
    raw_train, raw_holdout = split(raw, args.seed)
    train, holdout = schema.parse(raw_train), schema.parse(raw_holdout)
    print(f"{args.table}: {len(train)} train rows, target {target}, seed {args.seed}, {args.threads} thread(s); "
          f"load {os.getloadavg()[0]:.2f}", flush=True)

    generators: dict[str, pd.DataFrame] = {}
    seconds: dict[str, float] = {}
    for length in lengths:
        name = f"synthguard {args.defense} {length}" + ("" if not settings else f" {args.config}")
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = Synthesizer(schema, seed=args.seed, threads=args.threads, defense=args.defense,
                                **{**settings, "epochs": length})
            model.fit(raw_train)
        seconds[name] = time.perf_counter() - started
        generators[name] = model.sample(len(train), seed=args.seed + 1000, typed=True)
        print(f"  fitted {name} in {seconds[name]:.1f} s", flush=True)
    if args.tvae:
        started = time.perf_counter()
        generators["TVAE 300"] = fit_tvae(train, resolved, 300, args.seed, len(train))
        seconds["TVAE 300"] = time.perf_counter() - started
        print(f"  fitted TVAE 300 in {seconds['TVAE 300']:.1f} s", flush=True)

    aucs = {"real (TRTR)": one_feature_aucs(train, holdout, train, resolved, target, args.seed)}  # the real rows
    for name, rows in generators.items():
        aucs[name] = one_feature_aucs(train, holdout, rows, resolved, target, args.seed)
    numeric = [c.name for c in resolved.modelled_columns if c.type in ("continuous", "integer")]
    distinct = {"real (TRTR)": {c: int(train[c].nunique()) for c in numeric}}
    distinct.update({name: {c: int(rows[c].nunique()) for c in numeric} for name, rows in generators.items()})

    names = list(aucs)
    width = max(14, *(len(n) + 1 for n in names))
    print(f"\nTSTR ROC AUC for {target}, from all columns (`all`) and from each column alone; "
          "numeric columns: distinct values in brackets")
    print(f"{'column':<12} " + " ".join(f"{n:>{width}}" for n in names))
    for col in aucs["real (TRTR)"]:
        cells = []
        for n in names:
            extra = f" ({distinct[n][col]})" if col in numeric else ""
            cells.append(f"{fmt(aucs[n][col]) + extra:>{width}}")
        print(f"{col:<12} " + " ".join(cells))
    report = {"table": args.table, "target": target, "seed": args.seed, "threads": args.threads,
              "defense": args.defense, "config": args.config, "lengths": lengths, "fit_seconds": seconds, "aucs": aucs, "distinct": distinct}
    save_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
