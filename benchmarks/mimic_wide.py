"""Fit, audit and utility on a MIMIC-shaped wide binary table (10,000 patients x 1,000 codes).

    .venv/bin/python benchmarks/mimic_wide.py [--patients 10000] [--codes 1000] [--epochs 15]
        [--batch-size 128] [--shadows 8] [--targets 300] [--workers 2] [--dwpre-codes 45] [--seed 0]
        [--defenses none,mixup] [--json PATH]

MIMIC-III itself needs credentialed access, so the table is generated, with the columns that
`examples/mimic_extract.py` writes and `schemas/mimic.yaml` describes (the frame is parsed by
that schema unchanged): gender, age, admission_type, ethnicity, mortality (the condition) and
one 0/1 column icd9_<code> per 3-digit ICD-9-like code. medGAN's MIMIC-III extract has about
46.5k patients x 1,071 codes with about 11 codes per patient; the generator aims at that shape.

The distribution (every parameter is a constant below and is printed and written to the JSON):

* code names: a seeded draw of --codes names from 001-999, V01-V91 and E800-E999, sorted.
* base prevalence of code j: log-normal quantiles, p_(j) = exp(ln 0.0035 + 1.5 * Phi^-1((j - 0.5) / m))
  (capped at 0.4), assigned to the codes in a seeded random order. Median 0.35%; with m = 1,000
  the top four are 36%, 29%, 24% and 20% (hypertension-like), and they add up to about 11 codes
  per patient.
* dependence, a liability-threshold (one-factor Gaussian copula) model: patient i has a latent
  severity s_i ~ N(mu_type, 1), where mu_type is -1 for NEWBORN, +0.2 for EMERGENCY and URGENT,
  0 for ELECTIVE; code j is present when
      sqrt(r_j) s_i + sqrt(k_j) u_(pair(j), i) + sqrt(1 - r_j - k_j) e_ij > Phi^-1(1 - p_j),
  with loading r_j ~ U(0.05, 0.35), e and u independent N(0, 1), and k_j = 0.4 for the codes of
  25 disjoint pairs drawn among the codes with p_j >= 1% (comorbid pairs sharing a factor u),
  0 for every other code. At s_i ~ N(0, 1) the prevalence of code j is exactly p_j; the severity
  shifts move it a little (the realised figures are printed).
* admission_type ELECTIVE / EMERGENCY / NEWBORN / URGENT with probabilities 0.11 / 0.70 / 0.17 /
  0.02; gender M with 0.56; ethnicity WHITE / BLACK / HISPANIC / ASIAN / OTHER / UNKNOWN with
  0.70 / 0.08 / 0.035 / 0.035 / 0.06 / 0.09.
* age: 0.0 for NEWBORN; otherwise 64 + 17 (0.3 s_i + sqrt(0.91) e_i), at least 18, one decimal,
  and 90 or more reported as 91.4 (MIMIC's >89 group, as the extractor's --age-cap does).
* mortality (in hospital): 1 when sqrt(0.4) s_i + sqrt(0.6) e_i > Phi^-1(1 - 0.11) for adults;
  a 1% coin for newborns.

Same seed, same table. 20% of the rows (seeded) are held out for DWpre; the rest are the
training rows. For each defence (`--defenses`, default none then mixup), one spawned process
(a fresh interpreter, one torch thread; results come back as JSON and a parquet file) fits the
synthesizer on the training rows (wall time, median seconds per epoch, peak resident memory:
Linux VmHWM, as fit_speed.py), samples as many synthetic rows, then audits the recipe on the
training rows (--shadows shadow models on random halves, --targets audited records, critic
threat model: every attack; --workers local worker processes of one torch thread each). The
parent, on one thread, then scores the synthetic rows: DWP MAE over the code columns (against the
training rows) and the DWpre mean absolute gap on the held-out rows, predicting the 5 demographic
columns and the --dwpre-codes most prevalent codes in the training rows (default 45: a random
subset of a table this sparse is mostly codes too rare to predict; every column is a feature).

Fits use batch 128 (as `make demo`): at synthguard's default 500, a 1,000-code generator still
emits over 200 codes per row after 10 epochs (the data: 11), having taken few generator steps.

Never part of `make test`; benchmarks/README.md gives what a run with the defaults takes. The
output warns when the load average shows other work sharing the CPU (every time is then longer).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _measure import high_water_mb
from _peers_common import json_path, machine, save_json, versions
from scipy.stats import norm

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "schemas" / "mimic.yaml"
DEMOGRAPHICS = ("gender", "age", "admission_type", "ethnicity", "mortality")

# ---- the distribution (see the module docstring) ---------------------------------------------------
MEDIAN_PREVALENCE = 0.0035
LOG_SIGMA = 1.5
MAX_PREVALENCE = 0.4
LOADING_RANGE = (0.05, 0.35)
N_PAIRS = 25
PAIR_SHARE = 0.4
PAIR_MIN_PREVALENCE = 0.01
ADMISSION_TYPES = {"ELECTIVE": 0.11, "EMERGENCY": 0.70, "NEWBORN": 0.17, "URGENT": 0.02}
SEVERITY_SHIFT = {"ELECTIVE": 0.0, "EMERGENCY": 0.2, "NEWBORN": -1.0, "URGENT": 0.2}
MALE_SHARE = 0.56
ETHNICITIES = {"WHITE": 0.70, "BLACK": 0.08, "HISPANIC": 0.035, "ASIAN": 0.035, "OTHER": 0.06, "UNKNOWN": 0.09}
AGE_MEAN, AGE_SD, AGE_SEVERITY, AGE_MIN, AGE_CAP = 64.0, 17.0, 0.3, 18.0, 91.4
MORTALITY_ADULT, MORTALITY_NEWBORN, MORTALITY_SEVERITY = 0.11, 0.01, 0.4
HOLDOUT_SHARE = 0.2


def distribution() -> dict[str, Any]:
    """The generator's parameters, for the output."""
    return {
        "prevalence": f"log-normal quantiles: exp(ln {MEDIAN_PREVALENCE} + {LOG_SIGMA} * Phi^-1((j-0.5)/m)), "
                      f"capped at {MAX_PREVALENCE}",
        "median_prevalence": MEDIAN_PREVALENCE, "log_sigma": LOG_SIGMA, "max_prevalence": MAX_PREVALENCE,
        "severity_loading_range": list(LOADING_RANGE), "pairs": N_PAIRS, "pair_share": PAIR_SHARE,
        "pair_min_prevalence": PAIR_MIN_PREVALENCE, "admission_types": ADMISSION_TYPES,
        "severity_shift": SEVERITY_SHIFT, "male_share": MALE_SHARE, "ethnicities": ETHNICITIES,
        "age": {"mean": AGE_MEAN, "sd": AGE_SD, "severity_weight": AGE_SEVERITY, "min": AGE_MIN, "cap": AGE_CAP},
        "mortality": {"adult": MORTALITY_ADULT, "newborn": MORTALITY_NEWBORN, "severity_share": MORTALITY_SEVERITY},
    }


def code_pool() -> list[str]:
    return ([f"{i:03d}" for i in range(1, 1000)] + [f"V{i:02d}" for i in range(1, 92)]
            + [f"E{i}" for i in range(800, 1000)])


def base_prevalences(m: int) -> np.ndarray:
    """Log-normal quantiles (no sampling noise in the tail), largest first."""
    q = norm.ppf((np.arange(m, 0, -1) - 0.5) / m)
    return np.minimum(np.exp(np.log(MEDIAN_PREVALENCE) + LOG_SIGMA * q), MAX_PREVALENCE)


def _choice(rng: np.random.Generator, table: dict[str, float], n: int) -> np.ndarray:
    labels, p = list(table), np.asarray(list(table.values()))
    return np.asarray(labels, dtype=object)[rng.choice(len(labels), size=n, p=p / p.sum())]


def make_table(n: int, m: int, seed: int) -> pd.DataFrame:
    """The MIMIC-shaped table: raw cells as a parquet file would give them (text, floats, 0/1)."""
    pool = code_pool()
    if m > len(pool):
        raise SystemExit(f"--codes must be at most {len(pool)} (the ICD-9-like names available)")
    rng = np.random.default_rng(seed)
    codes = sorted(rng.choice(pool, size=m, replace=False).tolist())
    p = base_prevalences(m)[rng.permutation(m)]  # prevalence unrelated to the code's name
    loading = rng.uniform(*LOADING_RANGE, size=m)
    share = np.zeros(m)
    pair_of = np.full(m, -1)
    eligible = np.flatnonzero(p >= PAIR_MIN_PREVALENCE)
    n_pairs = min(N_PAIRS, len(eligible) // 2)
    paired = rng.choice(eligible, size=2 * n_pairs, replace=False)
    pair_of[paired] = np.repeat(np.arange(n_pairs), 2)
    share[paired] = PAIR_SHARE

    admission = _choice(rng, ADMISSION_TYPES, n)
    newborn = admission == "NEWBORN"
    severity = rng.standard_normal(n) + np.array([SEVERITY_SHIFT[a] for a in admission])
    gender = np.where(rng.random(n) < MALE_SHARE, "M", "F").astype(object)
    ethnicity = _choice(rng, ETHNICITIES, n)
    age = AGE_MEAN + AGE_SD * (AGE_SEVERITY * severity + np.sqrt(1 - AGE_SEVERITY**2) * rng.standard_normal(n))
    age = np.round(np.maximum(age, AGE_MIN), 1)
    age = np.where(age >= 90.0, AGE_CAP, age)
    age = np.where(newborn, 0.0, age)
    liability = np.sqrt(MORTALITY_SEVERITY) * severity + np.sqrt(1 - MORTALITY_SEVERITY) * rng.standard_normal(n)
    died = np.where(newborn, rng.random(n) < MORTALITY_NEWBORN, liability > norm.isf(MORTALITY_ADULT))

    # codes, in blocks of rows so that the (rows, codes) float noise stays small
    pair_noise = rng.standard_normal((n, max(n_pairs, 1)))
    threshold = norm.isf(p)
    x = np.zeros((n, m), dtype=np.int8)
    for start in range(0, n, 2000):
        rows = slice(start, min(start + 2000, n))
        shared = np.where(pair_of >= 0, pair_noise[rows][:, np.maximum(pair_of, 0)], 0.0)
        noise = rng.standard_normal((shared.shape[0], m))
        z = np.sqrt(loading) * severity[rows, None] + np.sqrt(share) * shared + np.sqrt(1 - loading - share) * noise
        x[rows] = z > threshold
    frame = pd.DataFrame({"gender": gender, "age": age, "admission_type": admission, "ethnicity": ethnicity,
                          "mortality": died.astype(np.int8)})
    codes_frame = pd.DataFrame(x, columns=[f"icd9_{c}" for c in codes])
    return pd.concat([frame, codes_frame], axis=1)


def split(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    holdout = frame.sample(frac=HOLDOUT_SHARE, random_state=seed)
    return frame.drop(holdout.index).reset_index(drop=True), holdout.reset_index(drop=True)


def describe(frame: pd.DataFrame) -> dict[str, Any]:
    """Realised sparsity and demographics of the generated table."""
    codes = frame[[c for c in frame.columns if c.startswith("icd9_")]].to_numpy()
    prevalence = codes.mean(axis=0)
    per_patient = codes.sum(axis=1)
    return {
        "rows": len(frame), "codes": codes.shape[1],
        "median_code_prevalence": float(np.median(prevalence)), "max_code_prevalence": float(prevalence.max()),
        "codes_at_least_20pct": int((prevalence >= 0.2).sum()), "codes_under_1pct": int((prevalence < 0.01).sum()),
        "codes_never_present": int((prevalence == 0).sum()),
        "codes_per_patient_mean": float(per_patient.mean()), "codes_per_patient_median": float(np.median(per_patient)),
        "patients_without_codes": float((per_patient == 0).mean()), "density": float(codes.mean()),
        "mortality_rate": float(frame["mortality"].mean()), "age_capped_share": float((frame["age"] == AGE_CAP).mean()),
        "newborn_share": float((frame["admission_type"] == "NEWBORN").mean()),
    }


# ---- the child process: one defence's fit and audit ----------------------------------------------


def child(spec: dict[str, Any]) -> None:
    """Fit one defence, sample, audit; write the synthetic rows (parquet) and the figures (JSON)."""
    import warnings

    import torch

    torch.set_num_threads(1)  # the project's convention: one torch thread per worker process
    from synthguard.audit import audit
    from synthguard.io import write_table, write_text
    from synthguard.schema import Schema
    from synthguard.synthesizer import Synthesizer

    warnings.simplefilter("ignore")  # constant (never-present) code columns warn once each
    train, _ = split(make_table(spec["patients"], spec["codes"], spec["seed"]), spec["seed"])
    schema = Schema.load(SCHEMA)
    base_mb = high_water_mb()  # interpreter, torch, pandas and the table: before any fitting

    recipe = Synthesizer(schema, defense=spec["defense"], seed=spec["seed"], threads=1, epochs=spec["epochs"],
                         batch_size=spec["batch_size"])
    synth = recipe.clone()
    epoch_seconds: list[float] = []
    started = time.perf_counter()
    synth.fit(train, on_epoch=lambda epoch, stats: epoch_seconds.append(float(stats["seconds"])))
    fit_seconds = time.perf_counter() - started
    peak_mb = high_water_mb()
    print(f"  [{spec['defense']}] fit {fit_seconds:.1f} s ({synth.config.epochs} epochs), peak {peak_mb or 0:.0f} MB",
          file=sys.stderr, flush=True)

    rows = synth.sample(len(train), seed=spec["seed"] + 1, typed=True)
    write_table(rows, spec["synthetic"])

    load_before = os.getloadavg()[0]
    audited = time.perf_counter()
    result = audit(train, recipe, schema, n_shadows=spec["shadows"], n_targets=spec["targets"],
                   threat_model="critic", workers=spec["workers"], seed=spec["seed"],
                   on_shadow=lambda done, total: print(f"  [{spec['defense']}] shadow {done}/{total} at "
                                                       f"{time.perf_counter() - audited:.0f} s", file=sys.stderr, flush=True))
    audit_seconds = time.perf_counter() - audited
    attacks = {name: {"auc": a.summary.auc, "auc_ci": list(a.summary.auc_ci), "tpr_at_1pct": a.summary.tpr_at[0.01],
                      "tpr_at_0.1pct": a.summary.tpr_at[0.001], "threat": a.spec.threat}
               for name, a in result.attacks.items()}
    out = {"defense": spec["defense"], "epochs": synth.config.epochs, "batch_size": synth.config.batch_size,
           "encoded_dim": synth.encoder_.dim, "fit_seconds": fit_seconds,
           "seconds_per_epoch": float(np.median(epoch_seconds)) if epoch_seconds else None,
           "base_mb": base_mb, "peak_mb": peak_mb, "audit_seconds": audit_seconds,
           "audit_targets": len(result.targets), "audit_population": result.n_population,
           "load_before_after_audit": [load_before, os.getloadavg()[0]],
           "attacks": attacks, "worst_attack": result.worst.spec.name, "at_chance": result.at_chance}
    write_text(spec["result"], json.dumps(out))


def run_defense(spec: dict[str, Any]) -> dict[str, Any]:
    """One defence in a fresh interpreter (its own peak memory; no state shared with the parent)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           # the encoder warns once per never-present code column, in every audit worker too
           "PYTHONWARNINGS": "ignore:column 'icd9_"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    load_before = os.getloadavg()[0]
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)], env=env)
    if done.returncode != 0:
        raise SystemExit(f"the {spec['defense']} process failed (exit code {done.returncode})")
    out = json.loads(Path(spec["result"]).read_text())
    out["load_before_after"] = [load_before, os.getloadavg()[0]]
    return out


# ---- the parent: utility and report --------------------------------------------------------------
def utility(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, schema: Any,
            n_codes: int, seed: int) -> dict[str, Any]:
    """DWP MAE over the code columns and DWpre on the demographics and the most prevalent codes."""
    from threadpoolctl import threadpool_limits

    from synthguard.utility import dwp, dwpre

    started = time.perf_counter()
    with threadpool_limits(limits=1):
        marginals = dwp(train, synthetic, schema)
        codes = [pt for pt in marginals.dimensions if pt.column.startswith("icd9_")]
        code_mae = float(np.mean([abs(pt.p_real - pt.p_synthetic) for pt in codes])) if codes else None
        targets = list(DEMOGRAPHICS) + top_codes(train, n_codes)
        relations = dwpre(train, holdout, synthetic, schema, seed=seed, targets=targets)
    return {"dwp_mae_codes": code_mae, "dwp_mae_all": marginals.mae, "dwp_correlation": marginals.correlation,
            "dwpre_mean_abs_gap": relations.mean_abs_gap, "dwpre_mean_synthetic_score": relations.mean_synthetic_score,
            "dwpre_targets": [pt.column for pt in relations.columns],
            "dwpre_columns": [{"column": pt.column, "kind": pt.kind, "real": pt.real_score, "synthetic": pt.synthetic_score}
                              for pt in relations.columns],
            "utility_seconds": time.perf_counter() - started}


def top_codes(train: pd.DataFrame, k: int) -> list[str]:
    """The k most prevalent code columns of the (typed) training rows."""
    names = [c for c in train.columns if c.startswith("icd9_")]
    prevalence = train[names].astype(bool).mean(axis=0)
    return prevalence.sort_values(ascending=False, kind="stable").index[:k].tolist()


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=10_000, help="rows of the generated table (default 10,000)")
    parser.add_argument("--codes", type=int, default=1_000, help="code columns (default 1,000; at most 1,290)")
    parser.add_argument("--epochs", type=int, default=15, help="epochs of every fit, shadows included (default 15)")
    parser.add_argument("--batch-size", type=int, default=128,
                        help="batch size of every fit (default 128, as `make demo`; 500 trains far slower per second here)")
    parser.add_argument("--shadows", type=int, default=8, help="shadow models per audit (even, >= 4; default 8)")
    parser.add_argument("--targets", type=int, default=300, help="audited records (default 300)")
    parser.add_argument("--workers", type=int, default=2, help="audit worker processes, one torch thread each (default 2)")
    parser.add_argument("--dwpre-codes", type=int, default=45, help="most prevalent codes DWpre predicts (default 45)")
    parser.add_argument("--seed", type=int, default=0, help="table, split, fits, sampling and audit (default 0)")
    parser.add_argument("--defenses", default="none,mixup", help="comma-separated, of none and mixup (default none,mixup)")
    parser.add_argument("--json", type=json_path, default=None, help="also write the results to this file")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)  # internal: one defence's process
    args = parser.parse_args(argv)
    if args.child is not None:
        return args
    args.defenses = [d.strip() for d in args.defenses.split(",") if d.strip()]
    if not args.defenses or set(args.defenses) - {"none", "mixup"}:
        parser.error("--defenses must list none and/or mixup")
    for name in ("patients", "codes", "epochs", "batch_size", "targets", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.shadows < 4 or args.shadows % 2:
        parser.error("--shadows must be an even number of at least 4")
    if args.dwpre_codes < 0:
        parser.error("--dwpre-codes must be at least 0")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    args = parse_args(argv)
    if args.child is not None:
        child(json.loads(args.child))
        return None
    import warnings

    from synthguard.io import read_table
    from synthguard.schema import Schema

    warnings.simplefilter("ignore")
    started = time.perf_counter()
    table = make_table(args.patients, args.codes, args.seed)
    generated = time.perf_counter() - started
    raw_train, raw_holdout = split(table, args.seed)
    schema = Schema.load(SCHEMA)
    resolved = schema.resolve(list(table.columns))
    parsed = time.perf_counter()
    train, holdout = schema.parse(raw_train), schema.parse(raw_holdout)  # checks the table against the schema
    parse_seconds = time.perf_counter() - parsed
    shape = describe(table)
    del table
    print(f"MIMIC-shaped table: {shape['rows']} patients x {shape['codes']} codes (generated in {generated:.1f} s, "
          f"parsed by schemas/mimic.yaml in {parse_seconds:.1f} s); seed {args.seed}\n"
          f"  code prevalence: median {shape['median_code_prevalence']:.2%}, max {shape['max_code_prevalence']:.1%}, "
          f"{shape['codes_at_least_20pct']} codes >= 20%, {shape['codes_under_1pct']} < 1%, "
          f"{shape['codes_never_present']} never present\n"
          f"  codes per patient: mean {shape['codes_per_patient_mean']:.1f}, median {shape['codes_per_patient_median']:.0f}; "
          f"mortality {shape['mortality_rate']:.1%}; age capped at {AGE_CAP}: {shape['age_capped_share']:.1%}; "
          f"newborns {shape['newborn_share']:.1%}\n"
          f"  law: base prevalence exp(ln {MEDIAN_PREVALENCE} + {LOG_SIGMA} Phi^-1((j-0.5)/m)) capped at {MAX_PREVALENCE}; "
          f"liability-threshold dependence on a latent severity (loadings U{LOADING_RANGE}) and {N_PAIRS} "
          f"comorbid pairs (shared factor {PAIR_SHARE})\n"
          f"  {len(train)} training rows, {len(holdout)} held out; {args.epochs} epochs at batch {args.batch_size} per fit "
          f"(one torch thread); audit {args.shadows} "
          f"shadows x {args.targets} targets, critic threat model, {args.workers} workers", flush=True)

    results = []
    with tempfile.TemporaryDirectory(prefix="mimic_wide_") as tmp:
        for defense in args.defenses:
            spec = {"defense": defense, "patients": args.patients, "codes": args.codes, "seed": args.seed,
                    "epochs": args.epochs, "batch_size": args.batch_size, "shadows": args.shadows,
                    "targets": args.targets, "workers": args.workers,
                    "synthetic": str(Path(tmp) / f"{defense}.parquet"), "result": str(Path(tmp) / f"{defense}.json")}
            print(f"defence {defense}: fitting, then auditing ...", flush=True)
            out = run_defense(spec)
            synthetic = read_table(spec["synthetic"])
            out.update(utility(train, holdout, synthetic, resolved, args.dwpre_codes, args.seed))
            print(f"  [{defense}] audit {out['audit_seconds']:.1f} s; utility {out['utility_seconds']:.1f} s", flush=True)
            results.append(out)

    report = {"settings": {"patients": args.patients, "codes": args.codes, "epochs": args.epochs,
                           "batch_size": args.batch_size, "shadows": args.shadows,
                           "targets": args.targets, "workers": args.workers, "threat_model": "critic",
                           "dwpre_codes": args.dwpre_codes, "seed": args.seed, "defenses": args.defenses,
                           "n_train": len(train), "n_holdout": len(holdout), "torch_threads_per_process": 1,
                           "cpu_count": os.cpu_count(),
                           "versions": versions(("synthguard", "torch", "scikit-learn", "numpy", "pandas")),
                           "machine": machine()},
              "distribution": distribution(), "table": shape, "results": results,
              "total_seconds": time.perf_counter() - started}
    print_report(report)
    save_json(args.json, report)
    return report


def print_report(report: dict[str, Any]) -> None:
    head = (f"{'defence':<8} {'epochs':>6} {'s/epoch':>8} {'fit s':>7} {'peak MB':>8} {'audit s':>8} {'DWP MAE':>8} "
            f"{'DWpre gap':>9}  {'worst-attack AUC [95% CI]':<34} {'LiRA AUC':>8}")
    print("\n" + head + "\n" + "-" * len(head))
    for r in report["results"]:
        worst = r["attacks"][r["worst_attack"]]
        lira = r["attacks"].get("lira")
        worst_text = f"{worst['auc']:.3f} [{worst['auc_ci'][0]:.3f}, {worst['auc_ci'][1]:.3f}] {r['worst_attack']}"
        print(f"{r['defense']:<8} {r['epochs']:>6} {_fmt(r['seconds_per_epoch'], 2):>8} {_fmt(r['fit_seconds'], 1):>7} "
              f"{_fmt(r['peak_mb'], 0):>8} {_fmt(r['audit_seconds'], 1):>8} {_fmt(r['dwp_mae_codes'], 4):>8} "
              f"{_fmt(r['dwpre_mean_abs_gap']):>9}  {worst_text:<34} {_fmt(lira and lira['auc']):>8}")
    s = report["settings"]
    print(f"DWP MAE: mean |p_real - p_synthetic| over the {report['table']['codes']} code columns (synthetic vs training "
          f"rows); DWpre gap: mean |F1 or R2 real-trained - synthetic-trained| on the {s['n_holdout']} held-out rows, "
          f"predicting {', '.join(DEMOGRAPHICS)} and the {s['dwpre_codes']} most prevalent codes")
    print("peak MB: the fitting process's VmHWM after the fit; before fitting (interpreter, torch, table) "
          + ", ".join(f"{r['defense']} {_fmt(r['base_mb'], 0)}" for r in report["results"]) + " MB")
    cores = s["cpu_count"] or 1
    busy = [r["defense"] for r in report["results"]
            if max(r["load_before_after"] + r["load_before_after_audit"]) > cores]
    if busy:
        print(f"warning: the 1-minute load average exceeded {cores} (the CPU count) around {', '.join(busy)}: "
              f"other work shared the CPU, so those times are too long")
    print(f"whole run {report['total_seconds']:.0f} s")


if __name__ == "__main__":
    main()
