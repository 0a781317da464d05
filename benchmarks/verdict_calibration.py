"""How often the audit's intervals cover the truth, and how often the verdict errs: by simulation.

Simulated audits have the default audit's design (K victims, T targets, every target a member of
exactly half of them) and scores with a record effect shared across victims, vulnerable records
and a victim effect (`synthguard.attacks.simulate.ScoreModel`), so the true AUC and TPRs are known.

Part 1, coverage: the share of nominal 95% intervals that hold the truth, for a stratified
bootstrap over pooled scores and for the clustered intervals the audit uses (records resampled,
widened by the victims' spread).

Part 2, error rates of the default policy's privacy verdict (`synthguard.verdict_rates`): false
refusal at chance and false release at each limit. It writes the figures that every passport
quotes to synthguard/data/verdict_rates.json.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/verdict_calibration.py [--audits 1000] [--jobs 2]

Run it alone on the machine: it prints the load average beside its timings.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from synthguard.attacks.simulate import ScoreModel, simulate_summaries
from synthguard.policy import Policy
from synthguard.sizing import plan_audit, privacy_limits
from synthguard.verdict_rates import simulate_error_rates

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = {
    "chance": ScoreModel(),
    "AUC 0.56, 5% vulnerable records": ScoreModel(vulnerable_share=0.05, vulnerable_shift=2.0).with_auc(0.56),
    "AUC 0.60, victims overfit unequally (sd 0.5)": ScoreModel(model_var=0.2, model_leak_sd=0.5).with_auc(0.60),
}
FPRS = (0.01, 0.001)


def _chunk(model: ScoreModel, k: int, t: int, n: int, scheme: str, n_bootstrap: int, seed: int) -> list[list[float]]:
    found = simulate_summaries(model, k, t, n, scheme, FPRS, n_bootstrap, seed=seed)
    return [[s.auc_ci[0], s.auc_ci[1]] + [x for f in FPRS for x in s.tpr_ci[f]] for s in found]


def coverage_rows(k: int, t: int, n_audits: int, n_bootstrap: int, jobs: int) -> list[dict]:
    rows = []
    for name, model in SCENARIOS.items():
        truth = [model.true_auc()] + [model.true_tpr(f) for f in FPRS]
        for scheme in ("stratified", "records + models"):
            started = time.perf_counter()
            per = max(1, n_audits // (jobs * 4))
            seeds = list(range(0, n_audits, per))
            parts = Parallel(n_jobs=jobs)(delayed(_chunk)(model, k, t, min(per, n_audits - s), scheme, n_bootstrap,
                                                          1000 + s) for s in seeds)
            ci = np.array([row for part in parts for row in part])
            cover = {}
            for j, label in enumerate(["AUC"] + [f"TPR@{f:g}" for f in FPRS]):
                lo, hi = ci[:, 2 * j], ci[:, 2 * j + 1]
                cover[label] = {"coverage": float(np.mean((lo <= truth[j]) & (truth[j] <= hi))),
                                "upper_below_truth": float(np.mean(hi < truth[j])),
                                "lower_above_truth": float(np.mean(lo > truth[j]))}
            rows.append({"scenario": name, "resampling": scheme, "truth": truth, "n_audits": len(ci),
                         "coverage": cover, "seconds": round(time.perf_counter() - started, 1),
                         "load": os.getloadavg()[0]})
            c = cover
            print(f"{name:46s} {scheme:17s} AUC {c['AUC']['coverage']:.3f}  TPR@1% {c['TPR@0.01']['coverage']:.3f}  "
                  f"TPR@0.1% {c['TPR@0.001']['coverage']:.3f}  ({rows[-1]['seconds']:.0f} s, load "
                  f"{rows[-1]['load']:.2f})", flush=True)
    return rows


def _rates(policy: Policy, k: int, t: int, n_record: int, n_pair: int, n_audits: int, n_bootstrap: int,
           seed: int) -> dict:
    return simulate_error_rates(policy, k, t, n_record, n_pair, n_audits=n_audits, n_bootstrap=n_bootstrap, seed=seed)


def merged_rates(parts: list[dict]) -> dict:
    """Add up the event counts of several simulation chunks."""
    first = parts[0]
    out = json.loads(json.dumps(first))
    n = sum(p["n_audits"] for p in parts)
    out["n_audits"] = n
    for kind in first["false_refusal"]["per_attack"]:
        events = sum(p["false_refusal"]["per_attack"][kind]["events"] for p in parts)
        out["false_refusal"]["per_attack"][kind] = {"events": events, "trials": n, "rate": events / n}
        for label in first["false_refusal"]["per_check"][kind]:
            out["false_refusal"]["per_check"][kind][label] = sum(
                p["false_refusal"]["per_check"][kind][label] * p["n_audits"] for p in parts) / n
    for label in first["false_release_at_limit"]:
        events = sum(p["false_release_at_limit"][label]["events"] for p in parts)
        out["false_release_at_limit"][label] = {"events": events, "trials": n, "rate": events / n}
    from synthguard.verdict_rates import ErrorRate

    for kind, value in out["false_refusal"]["per_attack"].items():
        out["false_refusal"]["per_attack"][kind] = ErrorRate(value["events"], value["trials"]).to_dict()
    for label, value in out["false_release_at_limit"].items():
        out["false_release_at_limit"][label] = ErrorRate(value["events"], value["trials"]).to_dict()
    rec = ErrorRate(out["false_refusal"]["per_attack"]["records"]["events"], n)
    pair = ErrorRate(out["false_refusal"]["per_attack"]["pairs"]["events"], n) if "pairs" in out["false_refusal"][
        "per_attack"] else None
    nr, np_ = out["n_record_attacks"], out["n_pair_attacks"]
    out["false_refusal"]["verdict_if_independent"] = 1 - (1 - rec.rate) ** nr * ((1 - pair.rate) ** np_ if pair else 1)
    out["false_refusal"]["verdict_upper_95"] = 1 - (1 - rec.interval[1]) ** nr * (
        (1 - pair.interval[1]) ** np_ if pair else 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audits", type=int, default=1000)
    parser.add_argument("--rate-audits", type=int, default=500)
    parser.add_argument("--bootstrap", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--skip-coverage", action="store_true")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "results" / "verdict_calibration.json")
    args = parser.parse_args()
    policy = Policy()
    k, t = policy.audit.shadows, policy.audit.targets
    print(f"default audit: {k} shadow models x {t} targets; {args.audits} simulated audits per row, "
          f"{args.bootstrap} bootstrap resamples; load average at start {os.getloadavg()[0]:.2f}", flush=True)
    result: dict = {"n_shadows": k, "n_targets": t}
    if not args.skip_coverage:
        result["coverage"] = coverage_rows(k, t, args.audits, args.bootstrap, args.jobs)

    # the default policy's audit of a mixup recipe on a large table: targets raised for the pairs
    p = policy.privacy
    limits = privacy_limits(p.max_auc, p.max_tpr_at_1pct_fpr, p.max_tpr_at_01pct_fpr)
    targets = plan_audit(limits, k, t, 10**6, with_pairs=True).n_targets
    n_record, n_pair = 10, 1   # the critic threat model's attacks on single records, and the pair query
    started = time.perf_counter()
    per = max(1, args.rate_audits // (args.jobs * 2))
    parts = Parallel(n_jobs=args.jobs)(delayed(_rates)(policy, k, targets, n_record, n_pair, min(per, args.rate_audits - s),
                                                       args.bootstrap, 5000 + s)
                                       for s in range(0, args.rate_audits, per))
    rates = merged_rates(parts)
    rates["seconds"] = round(time.perf_counter() - started, 1)
    rates["load"] = os.getloadavg()[0]
    rates["policy"] = policy.to_dict()
    result["error_rates"] = rates
    fr = rates["false_refusal"]
    print(f"\nerror rates, default policy, {k} shadows x {targets} targets ({rates['n_audits']} simulated audits "
          f"per figure, {rates['seconds']:.0f} s, load {rates['load']:.2f}):")
    for kind, value in fr["per_attack"].items():
        print(f"  false refusal at chance, one attack on {kind}: {value['rate']:.4f} "
              f"[{value['ci95'][0]:.4f}, {value['ci95'][1]:.4f}]")
    print(f"  false refusal at chance, verdict of {n_record} + {n_pair} attacks failing independently: "
          f"{fr['verdict_if_independent']:.4f} (95% upper {fr['verdict_upper_95']:.4f})")
    for label, value in rates["false_release_at_limit"].items():
        print(f"  false release, one attack exactly at the {label} limit: {value['rate']:.4f} "
              f"[{value['ci95'][0]:.4f}, {value['ci95'][1]:.4f}]")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1))
    stored = ROOT / "synthguard" / "data" / "verdict_rates.json"
    stored.write_text(json.dumps(rates, indent=1))
    print(f"wrote {args.json} and {stored}")


if __name__ == "__main__":
    main()
