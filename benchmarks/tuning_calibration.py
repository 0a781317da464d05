"""Does choosing among many candidates raise the false-release rate? A simulation with a known
truth of the tuned release's rule against a naive one (`verdict_rates.simulate_tuning`).

Each scenario is D defence settings whose checkpoints have known true AUCs (in order of training
length) and an AUC limit of 0.60; every candidate is audited by 4 shadows x 500 records with the
audit's intervals (records and victim models resampled). A false release is a simulated tuned
release in which some candidate at or over the limit passes. The tuned rule (1/D of the error per
setting, a fixed sequence over checkpoints) should stay within 2.5%; the naive rule (every
candidate at 95%) shows what the multiplicity would cost without it.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tuning_calibration.py [--audits 400] \\
        [--scenarios "steep (3 settings)"] [--json docs/results/tuning_calibration.json]

With --json, scenarios already in the file are kept (a run may add the others), and the summary
that tuned releases' passports quote is written to synthguard/data/tuning_rates.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from synthguard.verdict_rates import simulate_tuning

PACKAGE = Path(__file__).resolve().parents[1] / "synthguard" / "data" / "tuning_rates.json"

SCENARIOS = {
    # leakage grows past the limit and stays at it: two candidates per setting exactly at the limit
    "plateau at the limit (3 settings)": [[0.54, 0.58, 0.60, 0.60]] * 3,
    # one setting only: the fixed sequence alone, no split
    "plateau at the limit (1 setting)": [[0.54, 0.58, 0.60, 0.60, 0.60, 0.60]],
    # the first unsafe checkpoint is far over the limit: the sequence stops there
    "steep (3 settings)": [[0.52, 0.56, 0.70, 0.80]] * 3,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audits", type=int, default=400)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--scenarios", help="comma-separated scenario names (default: all)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    wanted = list(SCENARIOS) if not args.scenarios else [x.strip() for x in args.scenarios.split(",")]
    found = json.loads(args.json.read_text()) if args.json and args.json.exists() else {}
    for i, (name, truths) in enumerate(SCENARIOS.items()):
        if name not in wanted:
            continue
        load, started = os.getloadavg()[0], time.perf_counter()
        result = simulate_tuning(0.60, truths, 4, 500, n_audits=args.audits, n_bootstrap=args.bootstrap, seed=i)
        result["seconds"], result["load_at_start"] = round(time.perf_counter() - started, 1), round(load, 2)
        found[name] = result
        rates = result["false_release"]
        print(f"{name}: tuned {rates['tuned']['rate']:.4f} {[round(v, 4) for v in rates['tuned']['ci95']]}, "
              f"naive {rates['naive']['rate']:.4f} {[round(v, 4) for v in rates['naive']['ci95']]} "
              f"({args.audits} releases, {result['seconds']:.0f}s, load {load:.2f})", flush=True)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(found, indent=1))
            PACKAGE.write_text(json.dumps(_package(found), indent=1) + "\n")


def table(found: dict) -> str:
    """The simulation's false-release rates as a markdown table (docs/results.md)."""
    rows = ["| scenario (true AUC per checkpoint) | releases | tuned rule [95% CI] | naive rule [95% CI] |",
            "|---|---|---|---|"]
    for name, r in found.items():
        truths = "; ".join(", ".join(f"{v:g}" for v in setting) for setting in r["truths"][:1])
        tuned, naive = r["false_release"]["tuned"], r["false_release"]["naive"]
        rows.append(f"| {name}: {truths} | {r['n_audits']} | {tuned['rate']:.4f} [{tuned['ci95'][0]:.4f}, "
                    f"{tuned['ci95'][1]:.4f}] | {naive['rate']:.4f} [{naive['ci95'][0]:.4f}, {naive['ci95'][1]:.4f}] |")
    return "\n".join(rows)


def _package(found: dict) -> dict:
    """What a tuned release's passport quotes: each scenario's false-release rates, both rules."""
    return {"source": "benchmarks/tuning_calibration.py: simulated tuned releases with a known truth (one AUC limit "
                      "of 0.60; every candidate audited by 4 shadows x 500 records)",
            "bound": 0.025,
            "scenarios": {name: {"truths": r["truths"], "n_audits": r["n_audits"],
                                 "tuned": r["false_release"]["tuned"], "naive": r["false_release"]["naive"]}
                          for name, r in found.items()}}


if __name__ == "__main__":
    main()
