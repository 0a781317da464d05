"""What a release's audit costs next to the fit it audits: today's fixed audit against the
sequential default, measured in the same run on a bundled table.

Three timings, one after the other, on the release's training split (80% of the rows):

1. one fit of the release model (the reference; `--threads` torch threads);
2. the previous default audit: 16 shadows at once, LiRA, LOGAN, GAN-Leaks and DOMIAS, the targets
   the default policy's limits need with 16 shadows (`release.plan_release_audit` with rounds off;
   mixed-query pairs are sized as they are now, two records in the same shadows);
3. the new default: the policy's sequential audit (rounds of 4 shadows up to 16, RMIA added, the
   targets its first look needs), stopped by the gate's rule (`gate.privacy_decided`).

It prints each audit's cost as a multiple of the fit, the whole release's (fit + audit, one
after the other), the shadows each audit trained, and each one's strongest attack, so that a
cheaper audit that simply sees less shows as such; and the checks each look left open.

4. with `--release`: a whole `release()` of the table under the default policy (it splits off the
   same training rows), timed from start to written folder. There the release model trains
   beside the audit's shadow workers (`release._beside_audit`), so this is the release's real
   cost as a multiple of the fit of step 1. `--skip-audits` leaves out steps 2 and 3.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/audit_cost.py [--table ofp|doctorcontacts]
        [--epochs 300] [--workers 2] [--skip-fixed] [--release [--skip-audits]]
        [--previous-training] [--compare-defense-param KEY=VALUE] [--seed 0] [--json out.json]

`--compare-defense-param KEY=VALUE` (repeatable) repeats them with those defence settings (for
example `fakes=mixed`, mixup's mixed-fakes variant), on the same split and targets.

`--previous-training` repeats the fit and the new default audit with the training defaults
synthguard had before the time-to-quality work (batch 500, learning rate 2e-4, no moving
average of the generator), so that the leakage of the two training defaults is compared on the
same split, targets and audit: every attack's AUC and TPR at 1% FPR, with intervals, is printed
and written for each.

Run it alone on the machine: it prints the load average beside every timing.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from synthguard.audit import AuditResult, audit
from synthguard.gan.defenses import parse_defense_settings
from synthguard.gate import open_checks, privacy_checks, privacy_decided
from synthguard.io import read_table
from synthguard.policy import Policy
from synthguard.release import audit_settings, plan_release_audit, release, split_holdout
from synthguard.schema import Schema
from synthguard.synthesizer import Synthesizer

ROOT = Path(__file__).resolve().parents[1]
TABLES = {"ofp": "ofp", "doctorcontacts": "doctorcontacts", "medexp": "medexp"}
PREVIOUS_FAMILIES = ("lira", "logan", "ganleaks", "domias")
#: the training defaults before benchmarks/levers.py chose the current ones
PREVIOUS_TRAINING = {"batch_size": 500, "lr": 2e-4, "ema": 0.0}


def summary(result: AuditResult, policy: Policy, seconds: float, fit_seconds: float, load: float) -> dict[str, Any]:
    checks = privacy_checks(policy, result)
    worst = result.worst
    return {"seconds": round(seconds, 1), "ratio_to_fit": round(seconds / fit_seconds, 2),
            "release_ratio": round(1 + seconds / fit_seconds, 2), "shadows_trained": result.n_shadows,
            "targets": len(result.targets), "looks": result.looks, "load_at_start": round(load, 2),
            "privacy_passed": all(c.passed for c in checks), "failed": [c.name for c in checks if not c.passed],
            "strongest": {"attack": worst.spec.name, "auc": round(worst.summary.auc, 4),
                          "auc_ci": [round(v, 4) for v in worst.summary.auc_ci]},
            "attacks": {name: {"auc": round(a.summary.auc, 4), "auc_ci": [round(v, 4) for v in a.summary.auc_ci],
                               "tpr_1pct": round(a.summary.tpr_at[0.01], 4),
                               "tpr_1pct_ci": [round(v, 4) for v in a.summary.tpr_ci[0.01]]}
                        for name, a in result.attacks.items()}}


def looking(policy: Policy, record: list[dict[str, Any]]) -> Any:
    """The gate's stopping rule, recording at each look which checks were still open."""

    def stop(look: AuditResult) -> bool:
        record.append({"shadows": look.n_shadows, "open": open_checks(policy, look)})
        print(f"    look at {look.n_shadows} shadows: {len(record[-1]['open'])} checks open "
              f"{record[-1]['open'][:6]}", flush=True)
        return privacy_decided(policy, look)

    return stop


def print_attacks(label: str, attacks: dict[str, Any]) -> None:
    print(f"  {label}: every attack (AUC [95% CI], TPR at 1% FPR [CI])")
    for name, a in sorted(attacks.items(), key=lambda kv: -kv[1]["auc"]):
        print(f"    {name:<22} {a['auc']:.3f} [{a['auc_ci'][0]:.3f}, {a['auc_ci'][1]:.3f}]   "
              f"{a['tpr_1pct']:.4f} [{a['tpr_1pct_ci'][0]:.4f}, {a['tpr_1pct_ci'][1]:.4f}]", flush=True)


def measure(prefix: str, recipe: Synthesizer, raw: Any, train: Any, schema: Schema, policy: Policy,
            args: argparse.Namespace) -> dict[str, Any]:
    """One fit of `recipe` on `train` (the reference), then its audits and, with `--release`, a
    whole release of `raw` (which splits off the same `train`); keys start with `prefix`."""

    def progress(label: str) -> Any:
        return lambda done, total: print(f"  {label}: shadow {done}/{total} at {time.perf_counter() - clock:.0f} s",
                                         flush=True)

    params = recipe.get_params()
    settings = {k: v for k, v in params.items() if k in ("batch_size", "lr", "ema", "epochs")}
    settings.update(params["defense_params"])  # e.g. mixup's fakes
    print(f"{prefix}{args.table}: {len(train)} training rows, defence {args.defense}, {settings}; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    load = os.getloadavg()[0]
    clock = time.perf_counter()
    recipe.clone(threads=args.threads).fit(train)
    fit_seconds = time.perf_counter() - clock
    report: dict[str, Any] = {f"{prefix}fit": {"seconds": round(fit_seconds, 1), "threads": args.threads,
                                               "load_at_start": round(load, 2), "training": settings}}
    print(f"one fit: {fit_seconds:.1f} s (load {load:.2f} at start)", flush=True)

    new = audit_settings(policy, {"workers": args.workers}, 0)
    codes = schema.resolve(list(train.columns)).entities(train)
    persons = None if codes is None else int(codes.max()) + 1  # None: a row is the unit
    new.n_targets = plan_release_audit(policy, new, recipe, len(train), persons).n_targets
    open_at_looks: list[dict[str, Any]] = []
    runs = {} if args.skip_audits else {"new default (sequential, rmia)": (new, looking(policy, open_at_looks))}
    if not (args.skip_fixed or args.skip_audits):
        old = replace(new, shadows_per_round=None, attacks=PREVIOUS_FAMILIES, n_targets=policy.audit.targets)
        old.n_targets = plan_release_audit(policy, old, recipe, len(train), persons).n_targets
        runs = {"previous default (16 at once)": (old, None), **runs}
    for label, (config, stop) in runs.items():
        load = os.getloadavg()[0]
        clock = time.perf_counter()
        result = audit(train, recipe, schema, config, on_shadow=progress(label), stop=stop)
        seconds = time.perf_counter() - clock
        r = report[prefix + label] = summary(result, policy, seconds, fit_seconds, load)
        if stop is not None:
            r["open_at_looks"] = open_at_looks
        print(f"{label}: {seconds:.0f} s = {r['ratio_to_fit']:.2f} x the fit (release {r['release_ratio']:.2f} x); "
              f"{r['shadows_trained']} shadows x {r['targets']} targets; privacy {'passes' if r['privacy_passed'] else 'fails'}; "
              f"strongest {r['strongest']['attack']} AUC {r['strongest']['auc']:.3f} {r['strongest']['auc_ci']} "
              f"(load {load:.2f} at start, {os.getloadavg()[0]:.2f} at end)", flush=True)
        print_attacks(prefix + label, r["attacks"])
    if args.release:
        label = "whole release (the fit beside the audit)"
        load = os.getloadavg()[0]
        clock = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            outcome = release(raw, schema, Path(folder) / "release", policy=policy, recipe=recipe, seed=args.seed,
                              audit_options={"workers": args.workers},
                              on_shadow=progress(label), on_stage=lambda text: print(f"  {text}", flush=True))
        seconds = time.perf_counter() - clock
        r = report[prefix + label] = summary(outcome.audit, policy, seconds, fit_seconds, load)
        r.update(whole_release=True, release_ratio=round(seconds / fit_seconds, 2), passed=outcome.passed,
                 failed=[c.name for c in outcome.verdict.failed])
        print(f"{label}: {seconds:.0f} s = {r['release_ratio']:.2f} x the fit; {r['shadows_trained']} shadows; "
              f"{'released' if outcome.passed else 'refused: ' + outcome.verdict.summary()} "
              f"(load {load:.2f} at start, {os.getloadavg()[0]:.2f} at end)", flush=True)
        for look in outcome.audit.looks:  # the release notes what each look left open
            if look.get("open"):
                print(f"    look at {look['shadows']} shadows: {len(look['open'])} checks open {look['open'][:6]}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", choices=sorted(TABLES), default="ofp")
    parser.add_argument("--epochs", type=int, default=None, help="default: synthguard's default")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the single fit")
    parser.add_argument("--defense", default="mixup")
    parser.add_argument("--skip-fixed", action="store_true", help="time only the fit and the new default audit")
    parser.add_argument("--release", action="store_true",
                        help="also time a whole release (the default policy; the fit runs beside the audit)")
    parser.add_argument("--skip-audits", action="store_true", help="no audit on its own (with --release)")
    parser.add_argument("--previous-training", action="store_true",
                        help="also fit and audit the previous training defaults (batch 500, lr 2e-4, no EMA)")
    parser.add_argument("--compare-defense-param", action="append", default=None, metavar="KEY=VALUE",
                        help="also measure the recipe with these defence settings (repeat), on the same split")
    parser.add_argument("--seed", type=int, default=0, help="the split, the recipe and the release (default 0)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    name = TABLES[args.table]
    raw = read_table(ROOT / "synthguard" / "data" / f"{name}.csv")
    schema = Schema.load(ROOT / "schemas" / f"{name}.yaml")
    policy = Policy()
    # the release's own split: by person where the schema names an entity (DoctorContacts)
    train_idx, _ = split_holdout(len(raw), policy.holdout_share, args.seed,
                                 schema.resolve(list(raw.columns)).entities(raw))
    train = raw.iloc[train_idx].reset_index(drop=True)
    options = {"epochs": args.epochs} if args.epochs else {}
    report: dict[str, Any] = {"table": args.table, "rows": len(train), "defense": args.defense, "workers": args.workers,
                              "seed": args.seed}
    trainings: dict[str, dict[str, Any]] = {"": {}}
    if args.previous_training:
        trainings["previous training defaults: "] = PREVIOUS_TRAINING
    if args.compare_defense_param:
        variant = parse_defense_settings(args.defense, args.compare_defense_param)
        trainings["defence settings " + ", ".join(f"{k}={v}" for k, v in variant.items()) + ": "] = {
            "defense_params": variant}
    for prefix, training in trainings.items():
        recipe = Synthesizer(schema, defense=args.defense, seed=args.seed, **options, **training)
        report.update(measure(prefix, recipe, raw, train, schema, policy, args))
    report["epochs"] = recipe.config.epochs
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
