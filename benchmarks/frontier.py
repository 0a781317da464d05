"""The privacy-utility frontier over training length, no defence against mixup, by tuned releases.

For each case (a bundled table, whole or a seeded subset), one tuned release
(`release(..., tune=TuneSettings(...))`): per defence setting one fit and one sequential audit
with checkpoints, every checkpoint's utility measured on the held-out rows and judged by the
case's policy. Printed and written (JSON):

* the curve: per setting and checkpoint, the strongest attack's AUC and TPR at 1% FPR with their
  intervals, the primary utility (TSTR ROC AUC) and the privacy state under the fixed-sequence test;
* per setting, the longest training whose privacy checks pass and its utility, and the longest
  that passes every check;
* the wall time of the tuned release and, with `--single`, of one untuned default release
  (mixup, alpha 1, the case's epochs) measured in the same run, and their ratio.

Cases (`--cases`, comma-separated):

    ofp          OFP, all rows, the default recipe (300 epochs), the default policy
    medexp       MedExp, likewise
    doctors      DoctorContacts, likewise (about an hour per defence setting on 2 cores)
    ofp-500      a seeded 500-row OFP subset, 2,000 epochs at batch 50, checkpoints 100-2,000
    ofp-200      a seeded 200-row OFP subset, likewise

The subsets cannot resolve every limit of the default policy (its TPR at 0.1% FPR limit needs
2,470 non-member scores; a 500-row table gives at most a few hundred targets), so their policy is
the default one with that limit lifted (ofp-500) and also the TPR at 1% limit at 0.10 (ofp-200),
and at most as many shadows as mixup's mixed-record pairs need to resolve the rest (28 and 36; the
sequential audit stops as soon as the verdict is decided). The case's policy is printed and
written with its results.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/frontier.py --cases ofp-200,ofp,ofp-500 --single ofp \\
        --json docs/results/frontier.json

Run it alone: it prints the load average beside every timing.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from synthguard import api
from synthguard.io import read_table
from synthguard.policy import Policy
from synthguard.release import release
from synthguard.schema import Schema
from synthguard.tuning import TuneSettings

ROOT = Path(__file__).resolve().parents[1]
SUBSET_RECIPE = {"epochs": 2000, "batch_size": 50}
SUBSET_CHECKPOINTS = (100, 200, 400, 800, 1200)


def _policy(**privacy: Any) -> Policy:
    base = Policy().to_dict()
    base["privacy"].update({k: v for k, v in privacy.items() if k != "shadows"})
    if "shadows" in privacy:
        base["audit"]["shadows"] = privacy["shadows"]
    return Policy.from_dict(base)


CASES: dict[str, dict[str, Any]] = {
    "ofp": {"table": "ofp", "rows": None, "recipe": {}, "checkpoints": None, "policy": {}},
    "medexp": {"table": "medexp", "rows": None, "recipe": {}, "checkpoints": None, "policy": {}},
    "doctors": {"table": "doctorcontacts", "rows": None, "recipe": {}, "checkpoints": None, "policy": {}},
    "ofp-500": {"table": "ofp", "rows": 500, "recipe": SUBSET_RECIPE, "checkpoints": SUBSET_CHECKPOINTS,
                "policy": {"max_tpr_at_01pct_fpr": 1.0, "shadows": 28}},
    "ofp-200": {"table": "ofp", "rows": 200, "recipe": SUBSET_RECIPE, "checkpoints": SUBSET_CHECKPOINTS,
                "policy": {"max_tpr_at_01pct_fpr": 1.0, "max_tpr_at_1pct_fpr": 0.10, "shadows": 36}},
}


def _load() -> float:
    return os.getloadavg()[0]


def _candidate_rows(tuning: Any) -> list[dict[str, Any]]:
    rows = []
    for i, c in enumerate(tuning.candidates):
        s = c.strongest
        rows.append({"setting": c.defense if c.alpha is None else f"{c.defense} (alpha {c.alpha:g})",
                     "epochs": c.epochs, "privacy": c.privacy, "passed": c.passed,
                     "utility": None if c.utility is None else round(c.utility, 4), "attack": s.attack,
                     "auc": round(s.auc, 4), "auc_ci": [round(v, 4) for v in s.auc_ci],
                     "tpr_1pct": round(s.tpr_at_1pct, 4), "tpr_1pct_ci": [round(v, 4) for v in s.tpr_at_1pct_ci],
                     "failed": [x.name for x in c.failed][:4], "n_failed": len(c.failed),
                     "chosen": i == tuning.chosen, "closest": i == tuning.closest})
    return rows


def _per_setting(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for setting in dict.fromkeys(r["setting"] for r in rows):
        own = [r for r in rows if r["setting"] == setting]
        private = [r for r in own if r["privacy"] == "passed"]
        passing = [r for r in own if r["passed"]]
        out[setting] = {
            "longest_private": None if not private else {"epochs": private[-1]["epochs"],
                                                         "utility": private[-1]["utility"]},
            "longest_passing": None if not passing else {"epochs": passing[-1]["epochs"],
                                                         "utility": passing[-1]["utility"]},
            "best_passing_utility": max((r["utility"] for r in passing if r["utility"] is not None), default=None)}
    return out


def run_case(name: str, defenses: tuple[str, ...], single: bool, seed: int) -> dict[str, Any]:
    case = CASES[name]
    frame = read_table(ROOT / "synthguard" / "data" / f"{case['table']}.csv")
    if case["rows"]:
        keep = np.sort(np.random.default_rng(seed).choice(len(frame), case["rows"], replace=False))
        frame = frame.iloc[keep].reset_index(drop=True)
    schema = Schema.load(ROOT / "schemas" / f"{case['table']}.yaml")
    policy = _policy(**case["policy"])
    recipe = api.make_recipe(schema, threads=1, **case["recipe"])
    settings = TuneSettings(defenses, case["checkpoints"])
    print(f"== {name}: {len(frame)} rows, recipe {case['recipe'] or 'default'}, settings {', '.join(defenses)}, "
          f"policy privacy {policy.to_dict()['privacy']}, shadows {policy.audit.shadows}",
          flush=True)
    result: dict[str, Any] = {"case": name, "rows": len(frame), "recipe": case["recipe"], "defenses": list(defenses),
                              "policy": policy.to_dict()}
    with tempfile.TemporaryDirectory(prefix="frontier-") as folder:
        load = _load()
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outcome = release(frame, schema, Path(folder) / "tuned", policy=policy, recipe=recipe, seed=seed,
                              tune=settings, audit_options={"workers": 2},
                              on_stage=lambda line: print(f"  [{time.perf_counter() - started:7.0f}s] {line}",
                                                          flush=True))
        tuned_seconds = time.perf_counter() - started
        tuning = outcome.passport.tuning
        assert tuning is not None
        rows = _candidate_rows(tuning)
        result.update({"tuned_seconds": round(tuned_seconds, 1), "tuned_load_at_start": round(load, 2),
                       "released": outcome.passed, "candidates": rows, "per_setting": _per_setting(rows),
                       "settings": [{k: s[k] for k in ("label", "error_share", "shadows", "targets", "audit_seconds")}
                                    for s in tuning.settings]})
        if single:
            load = _load()
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                plain = release(frame, schema, Path(folder) / "single", policy=policy, recipe=recipe, seed=seed,
                                audit_options={"workers": 2})
            single_seconds = time.perf_counter() - started
            result.update({"single_seconds": round(single_seconds, 1), "single_load_at_start": round(load, 2),
                           "single_released": plain.passed, "single_shadows": plain.audit.n_shadows,
                           "tuned_over_single": round(tuned_seconds / single_seconds, 2)})
    _print(result)
    return result


def _print(result: dict[str, Any]) -> None:
    print(f"-- {result['case']}: tuned release {result['tuned_seconds']:.0f}s (load {result['tuned_load_at_start']}), "
          f"{'released' if result['released'] else 'refused'}", flush=True)
    if "single_seconds" in result:
        print(f"   single default release {result['single_seconds']:.0f}s (load {result['single_load_at_start']}), "
              f"{result['single_shadows']} shadows: tuned / single = {result['tuned_over_single']}x")
    print(f"   {'setting':<18} {'epochs':>6} {'privacy':<10} {'pass':<4} {'TSTR':>6}  strongest attack: AUC [CI], "
          "TPR@1% [CI]")
    for r in result["candidates"]:
        mark = " <- chosen" if r["chosen"] else " <- closest" if r["closest"] else ""
        utility = "-" if r["utility"] is None else f"{r['utility']:.3f}"
        print(f"   {r['setting']:<18} {r['epochs']:>6} {r['privacy']:<10} {'yes' if r['passed'] else 'no':<4} "
              f"{utility:>6}  {r['attack']} {r['auc']:.3f} [{r['auc_ci'][0]:.3f},{r['auc_ci'][1]:.3f}], "
              f"{r['tpr_1pct']:.3f} [{r['tpr_1pct_ci'][0]:.3f},{r['tpr_1pct_ci'][1]:.3f}]{mark}")
    for setting, found in result["per_setting"].items():
        print(f"   {setting}: longest private {found['longest_private']}, longest passing {found['longest_passing']}")


def _at(found: dict[str, Any] | None) -> str:
    if found is None:
        return "none"
    utility = "not measured" if found["utility"] is None else f"{found['utility']:.3f}"
    return f"{found['epochs']} epochs (TSTR AUC {utility})"


def markdown(found: dict[str, Any]) -> str:
    """The frontier's results as markdown (docs/results.md): per case a line on its run and a table
    of every candidate, then the longest passing training per setting."""
    parts = []
    for r in found["cases"]:
        privacy = r["policy"]["privacy"]
        timing = f"tuned release {r['tuned_seconds']:.0f} s (load {r['tuned_load_at_start']:.1f})"
        if "single_seconds" in r:
            timing += (f"; one untuned release of the same recipe {r['single_seconds']:.0f} s (load "
                       f"{r['single_load_at_start']:.1f}, {r['single_shadows']} shadows): {r['tuned_over_single']} x")
        audits = "; ".join(f"{s['label']}: {s['shadows']} shadows, {s['audit_seconds']:.0f} s" for s in r["settings"])
        parts += [f"### {r['case']} ({r['rows']} rows; recipe {r['recipe'] or 'default, 300 epochs'})", "",
                  f"Policy limits: AUC {privacy['max_auc']}, TPR at 1% FPR {privacy['max_tpr_at_1pct_fpr']}, TPR at "
                  f"0.1% FPR {privacy['max_tpr_at_01pct_fpr']}; at most {r['policy']['audit']['shadows']} shadows. "
                  f"{timing}. Audits: {audits}. {'Released' if r['released'] else 'Refused'}.", "",
                  "| setting | epochs | privacy | passes | TSTR AUC | strongest attack | AUC [CI] | TPR@1% [CI] |",
                  "|---|---|---|---|---|---|---|---|"]
        for c in r["candidates"]:
            mark = " (chosen)" if c["chosen"] else " (closest)" if c["closest"] else ""
            utility = "-" if c["utility"] is None else f"{c['utility']:.3f}"
            passes = "yes" if c["passed"] else f"no ({c['n_failed']} failed)"
            parts.append(f"| {c['setting']}{mark} | {c['epochs']} | {c['privacy']} | {passes} | {utility} | "
                         f"{c['attack']} | {c['auc']:.3f} [{c['auc_ci'][0]:.3f}, {c['auc_ci'][1]:.3f}] | "
                         f"{c['tpr_1pct']:.3f} [{c['tpr_1pct_ci'][0]:.3f}, {c['tpr_1pct_ci'][1]:.3f}] |")
        parts.append("")
        for setting, best in r["per_setting"].items():
            parts.append(f"- {setting}: the longest training whose privacy checks pass: {_at(best['longest_private'])}; "
                         f"the longest that passes every check: {_at(best['longest_passing'])}")
        parts.append("")
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="ofp-200,ofp-500,ofp")
    parser.add_argument("--defenses", default="none,mixup:1", help="the tuned settings (default: none,mixup:1)")
    parser.add_argument("--single", default="", help="cases (comma-separated) for which one untuned release of the "
                        "same recipe is timed too")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    defenses = tuple(d.strip() for d in args.defenses.split(",") if d.strip())
    found = []
    for name in args.cases.split(","):
        single = name.strip() in {x.strip() for x in args.single.split(",")}
        found.append(run_case(name.strip(), defenses, single, args.seed))
        if args.json:  # after every case: a long run keeps what it has measured
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"cases": found}, indent=1))


if __name__ == "__main__":
    main()
