"""The verdict's error rates on real audits: null recipes (models that hold nothing about membership)
and a leaky recipe, each over several seeds, judged by the default policy's privacy checks.

* null: every shadow is trained on OFP rows outside the audit population (it never saw a member),
  so every attack is at chance by construction; a refusal on privacy is a false refusal.
  16 shadows x 500 targets on a seeded 1,000-row population, as the default policy asks.
* leaky: the leaky recipe of the audit tests, scaled so that the AUC limit can be resolved
  (synthguard.sizing): no defence, 80 training rows per shadow, 800 epochs of two critic steps,
  16 shadows over a seeded 160-row population (80 targets, 640 non-member scores). Its true leakage
  is far above the limits, so a pass would be a false release. TPR limits cannot be resolved at this
  size; they fail closed (and `release` would refuse such a table before training).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/verdict_real_audits.py [--seeds 5] [--workers 2]

Run it alone on the machine; it prints the load average with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from synthguard.audit import audit
from synthguard.gate import privacy_checks
from synthguard.io import read_table
from synthguard.policy import Policy
from synthguard.schema import Schema
from synthguard.synthesizer import Synthesizer

ROOT = Path(__file__).resolve().parents[1]
SMALL_NET = {"generator_dims": (64,), "critic_dims": (64,), "z_dim": 32, "batch_size": 64}


class TrainedElsewhere:
    """A recipe whose models train on rows outside the audit population: a null recipe."""

    def __init__(self, inner: Any, rows: Any) -> None:
        self.inner, self.rows = inner, rows

    def clone(self, **overrides: Any) -> TrainedElsewhere:
        return TrainedElsewhere(self.inner.clone(**overrides), self.rows)

    def fit_parsed(self, frame: Any, resolved: Any, **kwargs: Any) -> TrainedElsewhere:
        self.inner.fit_parsed(self.rows, resolved)
        return self

    def get_params(self) -> dict[str, Any]:
        return {"recipe": "trained elsewhere", **self.inner.get_params()}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def judged(result: Any, policy: Policy) -> dict[str, Any]:
    checks = privacy_checks(policy, result)
    failed = [c for c in checks if not c.passed]
    worst = result.worst
    return {"refused": bool(failed), "failed": [c.name + (" (unresolved)" if c.advice.startswith("unresolved") else "")
                                                for c in failed],
            "worst_attack": worst.spec.name, "worst_auc": worst.summary.auc, "worst_auc_ci": list(worst.summary.auc_ci),
            "attacks": {n: {"auc": a.summary.auc, "auc_ci": list(a.summary.auc_ci),
                            "tpr_1pct_ci": list(a.summary.tpr_ci[0.01]), "tpr_01pct_ci": list(a.summary.tpr_ci[0.001]),
                            "n_nonmembers": a.summary.n_nonmembers} for n, a in result.attacks.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "results" / "verdict_real_audits.json")
    args = parser.parse_args()
    policy = Policy()
    raw = read_table(ROOT / "synthguard" / "data" / "ofp.csv")
    schema = Schema.load(ROOT / "schemas" / "ofp.yaml")
    out: dict[str, Any] = {"null": [], "leaky": []}
    for seed in range(args.seeds):
        order = raw.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        population, elsewhere = order.iloc[:1000], schema.parse(order.iloc[1000:1300]).reset_index(drop=True)
        recipe = TrainedElsewhere(Synthesizer(schema, defense="none", epochs=20, seed=seed, **SMALL_NET), elsewhere)
        started = time.perf_counter()
        result = audit(population, recipe, schema, n_shadows=policy.audit.shadows, n_targets=policy.audit.targets,
                       workers=args.workers, seed=seed)
        row = {"seed": seed, "seconds": round(time.perf_counter() - started, 1), "load": os.getloadavg()[0],
               **judged(result, policy)}
        out["null"].append(row)
        print(f"null  seed {seed}: {'REFUSED' if row['refused'] else 'passes '} worst {row['worst_attack']} AUC "
              f"{row['worst_auc']:.3f} [{row['worst_auc_ci'][0]:.3f}, {row['worst_auc_ci'][1]:.3f}] "
              f"failed {row['failed']} ({row['seconds']:.0f} s, load {row['load']:.2f})", flush=True)
    for seed in range(args.seeds):
        population = raw.sample(n=160, random_state=100 + seed).reset_index(drop=True)
        recipe = Synthesizer(schema, defense="none", epochs=800, batch_size=40, seed=seed)
        started = time.perf_counter()
        result = audit(population, recipe, schema, n_shadows=policy.audit.shadows, n_targets=policy.audit.targets,
                       workers=args.workers, seed=seed)
        row = {"seed": seed, "seconds": round(time.perf_counter() - started, 1), "load": os.getloadavg()[0],
               **judged(result, policy)}
        resolved_failures = [f for f in row["failed"] if not f.endswith("(unresolved)")]
        row["refused_on_a_resolved_check"] = bool(resolved_failures)
        out["leaky"].append(row)
        print(f"leaky seed {seed}: {'REFUSED' if row['refused'] else 'PASSES '} worst {row['worst_attack']} AUC "
              f"{row['worst_auc']:.3f} [{row['worst_auc_ci'][0]:.3f}, {row['worst_auc_ci'][1]:.3f}]; resolved checks "
              f"failed: {len(resolved_failures)} ({row['seconds']:.0f} s, load {row['load']:.2f})", flush=True)
    null_refused = sum(r["refused"] for r in out["null"])
    leaky_passed = sum(not r["refused"] for r in out["leaky"])
    leaky_resolved = sum(r["refused_on_a_resolved_check"] for r in out["leaky"])
    print(f"\nfalse refusals: {null_refused} of {len(out['null'])} null audits; false releases: {leaky_passed} of "
          f"{len(out['leaky'])} leaky audits ({leaky_resolved} refused on a resolved check)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=1))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
