"""Power of LiRA and RMIA against the number of shadow models, on three recipes with a known answer.

One audit of 16 shadows per recipe (rounds of 4, each balanced on its own, with RMIA's population
rows reserved) gives every statistic of every shadow. The attacks are then scored on blocks of K
consecutive shadows (K = 4, 8, 16; each block a complete balanced audit in which every shadow is in
turn the victim and the other K - 1 the references), and the blocks' scores are pooled, so each K
uses all 16 victims. Intervals resample records and victim models as the audit's do.

Recipes:
* leaky: the audit tests' leaky recipe (no defence, a 160-row OFP population, 800 epochs, batch 40);
* ofp-200: a seeded 200-row OFP subset, the default mixup recipe trained long (2,000 epochs,
  batch 50), where leakage is measurable;
* null: shadows trained on OFP rows outside the audit population (never on a member);
* ofp-200-generated-fakes (only when named in `--only`): ofp-200 with the paper's generated fakes
  (`fakes="generated"`; synthguard's mixup mixes its fakes by default), to compare their leakage
  where leakage is measurable.

K = 2 is left out: in an audit that reuses its shadows as victims, the one reference of a pair of
models is IN exactly when the victim is OUT, so a prior from it would encode the label.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/power_curve.py [--workers 2]

Writes docs/results/power_curve.json and prints a markdown table. Run it alone: it prints the load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from verdict_real_audits import SMALL_NET, TrainedElsewhere  # noqa: E402

from synthguard.attacks.registry import ScoreInput, get_attack  # noqa: E402
from synthguard.attacks.roc import summarize_matrix  # noqa: E402
from synthguard.audit import AuditResult, audit  # noqa: E402
from synthguard.io import read_table  # noqa: E402
from synthguard.schema import Schema  # noqa: E402
from synthguard.synthesizer import Synthesizer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ATTACKS = ("lira", "lira_offline", "rmia", "rmia_offline", "lira_gen", "rmia_gen", "lira_dcr", "rmia_dcr")
SIZES = (4, 8, 16)
#: the recipes run when `--only` names none
DEFAULT_RECIPES = ("leaky", "ofp-200", "null")


def recipes(raw: Any, schema: Schema) -> dict[str, tuple[Any, Any]]:
    leaky_rows = raw.sample(n=160, random_state=100).reset_index(drop=True)
    ofp200 = raw.sample(n=200, random_state=200).reset_index(drop=True)
    order = raw.sample(frac=1.0, random_state=0).reset_index(drop=True)
    elsewhere = schema.parse(order.iloc[1000:1300]).reset_index(drop=True)
    return {
        "leaky": (leaky_rows, Synthesizer(schema, defense="none", epochs=800, batch_size=40, seed=0)),
        "ofp-200": (ofp200, Synthesizer(schema, defense="mixup", epochs=2000, batch_size=50, seed=0)),
        # the same with the paper's generated fakes (not run unless named in --only)
        "ofp-200-generated-fakes": (ofp200, Synthesizer(schema, defense="mixup", defense_params={"fakes": "generated"},
                                                        epochs=2000, batch_size=50, seed=0)),
        "null": (order.iloc[:1000], TrainedElsewhere(Synthesizer(schema, defense="none", epochs=20, seed=0,
                                                                 **SMALL_NET), elsewhere)),
    }


def block_scores(result: AuditResult, name: str, size: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The attack's scores on consecutive blocks of `size` shadows, stacked (every shadow a victim)."""
    attack = get_attack(name)
    values, members = [], []
    for start in range(0, result.n_shadows, size):
        rows = slice(start, start + size)
        data = ScoreInput({k: v[rows] for k, v in result.statistics.items() if k != "mixed_query"},
                          result.membership[rows], seed=start,
                          population={k: v[rows] for k, v in result.population_statistics.items()})
        if not attack.applies(data):
            return None
        out = attack.score(data)
        values.append(out.values)
        members.append(out.members)
    return np.vstack(values), np.vstack(members)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--only", nargs="*", default=None, help="recipes to run (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "power_curve.json")
    args = parser.parse_args()
    raw = read_table(ROOT / "synthguard" / "data" / "ofp.csv")
    schema = Schema.load(ROOT / "schemas" / "ofp.yaml")
    found: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() and args.only else {}
    for label, (population, recipe) in recipes(raw, schema).items():
        if label not in (args.only or DEFAULT_RECIPES):
            continue
        load = os.getloadavg()[0]
        started = time.perf_counter()
        result = audit(population, recipe, schema, n_shadows=16, shadows_per_round=4, n_targets=len(population) // 2,
                       attacks=("lira", "rmia"), workers=args.workers, seed=0, n_bootstrap=200)
        seconds = time.perf_counter() - started
        rows: dict[str, Any] = {}
        for name in ATTACKS:
            for size in SIZES:
                scored = block_scores(result, name, size)
                if scored is None:
                    continue
                s = summarize_matrix(*scored, n_bootstrap=args.bootstrap, seed=size)
                rows.setdefault(name, {})[str(size)] = {
                    "auc": s.auc, "auc_ci": list(s.auc_ci), "tpr_1pct": s.tpr_at[0.01], "tpr_1pct_ci": list(s.tpr_ci[0.01]),
                    "tpr_01pct": s.tpr_at[0.001], "tpr_01pct_ci": list(s.tpr_ci[0.001]), "n_nonmembers": s.n_nonmembers}
        found[label] = {"seconds": round(seconds, 1), "load_at_start": round(load, 2),
                        "population": len(population), "targets": len(result.targets),
                        "population_rows": len(result.population), "attacks": rows}
        print(f"{label}: 16 shadows in {seconds:.0f} s (load {load:.2f} at start)", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(found, indent=1) + "\n")
    print(table(found))


def table(found: dict[str, Any]) -> str:
    lines = ["| recipe | attack | " + " | ".join(f"K={k}: AUC [95% CI] / TPR@1% [95% CI]" for k in SIZES) + " |",
             "|---|---|" + "---|" * len(SIZES)]
    for label, run in found.items():
        for name, cells in run["attacks"].items():
            row = []
            for k in SIZES:
                c = cells.get(str(k))
                row.append("n/a" if c is None else
                           f"{c['auc']:.3f} [{c['auc_ci'][0]:.3f}, {c['auc_ci'][1]:.3f}] / "
                           f"{c['tpr_1pct']:.3f} [{c['tpr_1pct_ci'][0]:.3f}, {c['tpr_1pct_ci'][1]:.3f}]")
            lines.append(f"| {label} | {name} | " + " | ".join(row) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
