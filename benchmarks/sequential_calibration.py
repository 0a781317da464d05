"""The sequential audit's error rates and cost, by simulation with a known truth.

A sequential audit trains shadows in rounds, looks after each round with intervals at that look's
confidence (the single look's 5% spent over the looks, `AuditConfig.looks`), and stops as the gate
says (`gate.privacy_decided`): once a check has failed for sure, or every check has passed. This
simulates one attack on single records under the default policy's limits, with the score model of
`synthguard.attacks.simulate` (record and victim effects, vulnerable records, unequal victims):

* at chance: how often the recipe is refused (false refusal per attack), and how many shadows the
  audit trains on average (its cost);
* exactly at each limit: how often it passes (false release; the bound is 2.5%);
* a fixed audit (one look of 16 shadows at 95%) beside it, as the reference.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sequential_calibration.py [--audits 400] [--jobs 1]

Writes docs/results/sequential_calibration.json, and the sequential design's rates to
synthguard/data/sequential_rates.json, which passports of sequential audits quote. Run it alone: it
prints the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from joblib import Parallel, delayed

from synthguard.attacks.simulate import ScoreModel
from synthguard.audit import AuditConfig
from synthguard.policy import Policy
from synthguard.sizing import nonmembers_needed, privacy_limits, targets_needed
from synthguard.verdict_rates import at_limit, simulate_sequential

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "synthguard" / "data" / "sequential_rates.json"
#: where the designs with more targets were written (`--targets ... --out` this file)
TARGETS_OUT = ROOT / "docs" / "results" / "sequential_calibration_targets.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audits", type=int, default=400)
    parser.add_argument("--bootstrap", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "sequential_calibration.json")
    parser.add_argument("--cells", nargs="*", default=None,
                        help="only these 'design/scenario' cells, replacing them in --out's saved results")
    parser.add_argument("--targets", type=int, nargs="*", default=[],
                        help="also the sequential design with this many targets (a release raises its targets to "
                             "what the table allows: every row but RMIA's population, e.g. 3,275 on OFP)")
    parser.add_argument("--package-only", action="store_true",
                        help="only rewrite synthguard/data/sequential_rates.json from --out's results")
    args = parser.parse_args()
    if args.package_only:
        write_package_rates(json.loads(args.out.read_text()))
        return
    policy = Policy()
    p = policy.privacy
    limits = privacy_limits(p.max_auc, p.max_tpr_at_1pct_fpr, p.max_tpr_at_01pct_fpr)
    need = max(nonmembers_needed(limit, fpr) for _, limit, fpr in limits)
    sequential = AuditConfig(n_shadows=16, shadows_per_round=4)
    designs = {
        "sequential 4+4+4+4": (sequential.looks(), targets_needed(False, 4, need)),
        "fixed 16": (AuditConfig(n_shadows=16).looks(), max(500, targets_needed(False, 16, need))),
    }
    for n in args.targets:
        designs[f"sequential 4+4+4+4, {n} targets"] = (sequential.looks(), n)
    base = ScoreModel()
    unequal = ScoreModel(model_var=0.2, model_leak_sd=0.5)
    scenarios = {"chance": base}
    for label, limit, fpr in limits:
        scenarios[f"at the {label} limit"] = at_limit(limit, fpr, base)
    scenarios["at the AUC limit, victims overfit unequally"] = at_limit(p.max_auc, None, unequal)
    jobs = [(d, s) for d in designs for s in scenarios if not args.cells or f"{d}/{s}" in args.cells]
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {len(jobs)} cells x {args.audits} audits", flush=True)
    started = time.perf_counter()
    found = Parallel(n_jobs=args.jobs)(
        delayed(simulate_sequential)(policy, scenarios[s], designs[d][0], designs[d][1], args.audits, args.bootstrap,
                                     seed=i)
        for i, (d, s) in enumerate(jobs))
    results = {d: {} for d in designs}
    print(f"{'design':<22}{'scenario':<48}{'passed':>8}  {'95% CI':<16}{'mean shadows':>13}")
    for (d, s), cell in zip(jobs, found, strict=True):
        results[d][s] = cell
        low, high = cell["passed"]["ci95"]
        print(f"{d:<22}{s:<48}{cell['passed']['rate']:>8.3f}  [{low:.3f}, {high:.3f}]{cell['mean_shadows']:>10.1f}")
    seconds = time.perf_counter() - started
    print(f"{seconds:.0f} s, load average at end: {os.getloadavg()[0]:.2f}")
    for d in results:
        for cell in results[d].values():
            cell.update({"n_bootstrap": args.bootstrap, "seconds_of_run": round(seconds, 1)})
    found_json = {"policy": policy.to_dict(), "designs": {d: {"looks": v[0], "targets": v[1]} for d, v in designs.items()},
                  "results": results, "seconds": round(seconds, 1), "n_audits": args.audits,
                  "n_bootstrap": args.bootstrap}
    if args.cells and args.out.exists():  # a rerun of some cells replaces just those in the saved results
        saved = json.loads(args.out.read_text())
        saved["designs"].update({d: {"looks": v[0], "targets": v[1]} for d, v in designs.items()})
        for d, cells in results.items():
            saved["results"].setdefault(d, {}).update(cells)
        saved.setdefault("reruns", []).append({"cells": args.cells, "n_audits": args.audits,
                                               "n_bootstrap": args.bootstrap, "seconds": round(seconds, 1)})
        found_json = saved
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(found_json, indent=2) + "\n")
    if args.out == parser.get_default("out"):
        write_package_rates(found_json)


def _design_rates(cells: dict[str, Any]) -> dict[str, Any]:
    return {"false_refusal_at_chance_per_attack": round(1.0 - cells["chance"]["passed"]["rate"], 6),
            "false_release_at_limit": {s: cells[s]["passed"] for s in cells if s != "chance"},
            "mean_shadows_at_chance": cells["chance"]["mean_shadows"],
            "audits_per_cell": {s: cells[s]["n_audits"] for s in cells}}


def write_package_rates(found: dict[str, Any]) -> None:
    """The sequential design's rates, as passports of sequential audits quote them, with those of
    the designs with more targets (`--targets`, from TARGETS_OUT too) under `by_targets`: a passport
    quotes the design nearest its own audit from below."""
    design = found["designs"]["sequential 4+4+4+4"]
    sources = [found] + ([json.loads(TARGETS_OUT.read_text())] if TARGETS_OUT.exists() else [])
    larger = {}
    for source in sources:
        for name, cells in source["results"].items():
            if name.startswith("sequential 4+4+4+4, ") and "chance" in cells:
                larger[source["designs"][name]["targets"]] = {"targets": source["designs"][name]["targets"],
                                                              **_design_rates(cells)}
    PACKAGE.write_text(json.dumps({
        "source": "benchmarks/sequential_calibration.py: simulated sequential audits of one attack on single records",
        "looks": design["looks"], "targets": design["targets"], "reruns": found.get("reruns", []),
        **_design_rates(found["results"]["sequential 4+4+4+4"]),
        "by_targets": [larger[t] for t in sorted(larger)]}, indent=1) + "\n")


if __name__ == "__main__":
    main()
