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
* medexp, ofp and doctorcontacts (only when named in `--only`): that table at synthguard's defaults
  (300 epochs, mixup), on the rows a default release of it trains on: the leakage of what a steward
  releases;
* ofp-200-generated-fakes (only when named in `--only`): ofp-200 with the paper's generated fakes
  (`fakes="generated"`; synthguard's mixup mixes its fakes by default), to compare their leakage
  where leakage is measurable;
* peers (only when named in `--only`; the `ctgan` package, `make bench-deps`): `medexp-tvae` and
  `medexp-ctgan` (and so for ofp and doctorcontacts), TVAE and CTGAN at their own defaults (300
  epochs, batch 500) on that table's release rows, and `ofp-200-tvae` and `ofp-200-ctgan`, each
  trained as long as ofp-200 (2,000 epochs, batch 50) on its rows. They have no critic and no
  latent space synthguard's attacks read, so they are audited under the `data` threat model (the
  attacker holds their synthetic rows): of the attacks here only those on the distance to the
  synthetic rows (`lira_dcr`, `rmia_dcr`) score them. A mixup recipe's audit puts both records of
  each mixed-query pair in the same shadows, which a peer's does not: audited in one run with
  `--no-mixed-pairs` (every record on its own, no `lira_mixed`), the synthguard recipe of their
  rows and the peers share records and membership, and `--paired-against` pairs them.

A recipe named in `--only` as `RECIPE:KEY=VALUE[,KEY=VALUE...]` is that recipe with those settings
(training parameters or defence settings; `ofp-200:alpha=0.2`: mixup's Beta(0.2, 0.2); a peer's own
settings for a peer, `medexp-tvae:epochs=600`).
`--paired-against LABEL` then prints each recipe's difference from LABEL's, attack by attack at K = 16, with an interval from the paired
crossed bootstrap (`synthguard.attacks.roc.compare_matrices`): the recipes are audited on the same
records with the same membership, so records and victim slots are resampled together in both.
Each run keeps its K = 16 score matrices beside its JSON (`<out>_scores/`, one .npz per recipe), so
`--compare-only` recomputes the differences without auditing again. `--copy-from REPORT#LABEL=NEW`
brings LABEL's entry and score matrices from an earlier report into `--out` as NEW, before anything is
audited, and records where they came from (`copied_from`: the report, the label, and the last commit
that wrote the report): after a change to synthguard, `--only medexp --copy-from
old.json#medexp=medexp-before --paired-against medexp-before` pairs the new defaults with the audit
made before the change, on the same records and membership (checked before pairing).

K = 2 is left out: in an audit that reuses its shadows as victims, the one reference of a pair of
models is IN exactly when the victim is OUT, so a prior from it would encode the label.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/power_curve.py [--workers 2]
        [--only RECIPE[:KEY=VALUE,...] ...] [--paired-against LABEL [--compare-only]] [--no-mixed-pairs]
        [--copy-from REPORT#LABEL=NEW ...] [--out PATH]

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
from _peers_common import CTGANRecipe, PeerRecipe, TVAERecipe, git_output, json_path  # noqa: E402
from verdict_real_audits import SMALL_NET, TrainedElsewhere  # noqa: E402

from synthguard.attacks.registry import ScoreInput, get_attack  # noqa: E402
from synthguard.attacks.roc import compare_matrices, summarize_matrix  # noqa: E402
from synthguard.audit import AuditResult, audit  # noqa: E402
from synthguard.io import read_table  # noqa: E402
from synthguard.policy import Policy  # noqa: E402
from synthguard.release import split_holdout  # noqa: E402
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
        # the peers trained as long as ofp-200, audited on its rows (not run unless named in --only)
        "ofp-200-tvae": (ofp200, TVAERecipe(schema, seed=0, epochs=2000, batch_size=50)),
        "ofp-200-ctgan": (ofp200, CTGANRecipe(schema, seed=0, epochs=2000, batch_size=50)),
    }


#: bundled tables a label names as TABLE, TABLE-tvae or TABLE-ctgan (`release_recipes`)
RELEASE_TABLES = ("medexp", "ofp", "doctorcontacts")
PEER_SUFFIXES = ("-tvae", "-ctgan")


def release_recipes(table: str) -> dict[str, tuple[Any, Any]]:
    """A bundled table at synthguard's defaults (300 epochs, mixup, the batch `auto` picks), audited on
    the rows a default release of it trains on (seed 0): the leakage of what a steward releases; and
    TVAE and CTGAN at their own defaults on the same rows (TABLE-tvae, TABLE-ctgan)."""
    raw = read_table(ROOT / "synthguard" / "data" / f"{table}.csv")
    schema = Schema.load(ROOT / "schemas" / f"{table}.yaml")
    train, _ = split_holdout(len(raw), Policy().holdout_share, 0, schema.resolve(list(raw.columns)).entities(raw))
    rows = raw.iloc[train].reset_index(drop=True)
    return {table: (rows, Synthesizer(schema, defense="mixup", seed=0)),
            f"{table}-tvae": (rows, TVAERecipe(schema, seed=0)), f"{table}-ctgan": (rows, CTGANRecipe(schema, seed=0))}


def variant(label: str, known: dict[str, tuple[Any, Any]]) -> tuple[Any, Any]:
    """The population and recipe `label` names: a known recipe, or `RECIPE:KEY=VALUE,...`, that recipe
    with those training or defence settings (a `release_recipes` table is read only when a label names it)."""
    base, _, settings = label.partition(":")
    table = next((base.removesuffix(s) for s in PEER_SUFFIXES if base.endswith(s)), base)
    if base not in known and table in RELEASE_TABLES:
        known.update(release_recipes(table))
    if base not in known:
        released = [f"{t}{s}" for t in RELEASE_TABLES for s in ("", *PEER_SUFFIXES)]
        raise SystemExit(f"unknown recipe {base!r} (known: {', '.join([*known, *released])})")
    population, recipe = known[base]
    if not settings:
        return population, recipe
    peer = isinstance(recipe, PeerRecipe)
    top, defense_params = recipe.get_params(), ({} if peer else dict(recipe.defense_params))
    overrides: dict[str, Any] = {}
    for pair in settings.split(","):
        key, sep, value = (part.strip() for part in pair.partition("="))
        if not sep:
            raise SystemExit(f"{label}: a setting is KEY=VALUE, got {pair!r}")
        parsed: Any = value
        for kind in (int, float):
            try:
                parsed = kind(value)
                break
            except ValueError:
                continue
        if peer or (key in top and key != "defense_params"):
            overrides[key] = parsed
        else:
            defense_params[key] = parsed
    return population, recipe.clone(**overrides) if peer else recipe.clone(defense_params=defense_params, **overrides)


def scores_dir(out: Path) -> Path:
    """Where a run keeps its K = 16 score matrices (one .npz per recipe), beside its JSON."""
    return out.with_name(out.stem + "_scores")


def safe_name(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)


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
    parser.add_argument("--out", type=json_path, default=ROOT / "docs" / "results" / "power_curve.json")
    parser.add_argument("--paired-against", default=None, metavar="LABEL",
                        help="print each recipe's difference from this one's (run before or in this run, same --out)")
    parser.add_argument("--compare-only", action="store_true",
                        help="audit nothing: compare the recipes of --only already in --out with --paired-against")
    parser.add_argument("--no-mixed-pairs", action="store_true",
                        help="place every record on its own, also for a mixup recipe (no lira_mixed): the design "
                             "a peer's audit has, so that the two pair")
    parser.add_argument("--copy-from", nargs="*", default=[], metavar="REPORT#LABEL=NEW",
                        help="bring LABEL's audit from an earlier report into --out as NEW (entry and scores)")
    args = parser.parse_args()
    copies = [copy_request(spec) for spec in args.copy_from]
    if any(path.resolve() == args.out.resolve() for path, _, _ in copies):
        raise SystemExit(f"--copy-from: {args.out} is the report written here; copy from another report")
    if args.compare_only:
        if not (args.paired_against and args.only):
            raise SystemExit("--compare-only needs --paired-against and the recipes in --only")
        if not args.out.is_file():
            raise SystemExit(f"--compare-only: no report {args.out} to compare in")
        found = json.loads(args.out.read_text())
        copy_audits(found, copies, args.out)
        compare(found, args.paired_against, args.only, args.out, args.bootstrap)
        print(difference_table(found))
        return
    raw = read_table(ROOT / "synthguard" / "data" / "ofp.csv")
    schema = Schema.load(ROOT / "schemas" / "ofp.yaml")
    found: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() and args.only else {}
    copy_audits(found, copies, args.out)
    known = recipes(raw, schema)
    chosen = {label: variant(label, known) for label in (args.only or DEFAULT_RECIPES)}
    for label, (population, recipe) in chosen.items():
        load = os.getloadavg()[0]
        started = time.perf_counter()
        # a peer offers its synthetic rows only: the `data` threat model (the distance attacks)
        result = audit(population, recipe, getattr(recipe, "schema", schema), n_shadows=16, shadows_per_round=4,
                       n_targets=len(population) // 2, attacks=("lira", "rmia"), workers=args.workers, seed=0,
                       n_bootstrap=200, threat_model="data" if isinstance(recipe, PeerRecipe) else "critic",
                       mixed_query=False if args.no_mixed_pairs else None)
        seconds = time.perf_counter() - started
        rows: dict[str, Any] = {}
        kept: dict[str, np.ndarray] = {}
        for name in ATTACKS:
            for size in SIZES:
                scored = block_scores(result, name, size)
                if scored is None:
                    continue
                if size == max(SIZES):
                    kept[f"{name}.scores"], kept[f"{name}.members"] = scored
                s = summarize_matrix(*scored, n_bootstrap=args.bootstrap, seed=size)
                rows.setdefault(name, {})[str(size)] = {
                    "auc": s.auc, "auc_ci": list(s.auc_ci), "tpr_1pct": s.tpr_at[0.01], "tpr_1pct_ci": list(s.tpr_ci[0.01]),
                    "tpr_01pct": s.tpr_at[0.001], "tpr_01pct_ci": list(s.tpr_ci[0.001]), "n_nonmembers": s.n_nonmembers}
        found[label] = {"seconds": round(seconds, 1), "load_at_start": round(load, 2),
                        "threat_model": result.config.threat_model, "mixed_pairs": result.pairs is not None,
                        "population": len(population), "targets": len(result.targets),
                        "population_rows": len(result.population), "attacks": rows}
        print(f"{label}: 16 shadows in {seconds:.0f} s (load {load:.2f} at start)", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(found, indent=1) + "\n")
        scores_dir(args.out).mkdir(exist_ok=True)
        np.savez_compressed(scores_dir(args.out) / f"{safe_name(label)}.npz", **kept)
    print(table(found))
    if args.paired_against:
        compare(found, args.paired_against, list(chosen), args.out, args.bootstrap)
        print(difference_table(found))


def copy_request(spec: str) -> tuple[Path, str, str]:
    """`REPORT#LABEL=NEW` parsed, the report and its scores checked to exist and hold LABEL."""
    report, sep, rest = spec.partition("#")
    label, eq, new = rest.partition("=")
    if not (sep and eq and report and label and new):
        raise SystemExit(f"--copy-from {spec}: expected REPORT#LABEL=NEW")
    path = Path(report)
    if not path.is_file():
        raise SystemExit(f"--copy-from {spec}: no report {path}")
    entries = json.loads(path.read_text())
    if label not in entries:
        raise SystemExit(f"--copy-from {spec}: {path} has no audit {label!r} (it has {', '.join(entries)})")
    if not (scores_dir(path) / f"{safe_name(label)}.npz").is_file():
        raise SystemExit(f"--copy-from {spec}: {scores_dir(path)} has no scores of {label!r}")
    return path, label, new


def last_commit(path: Path) -> str | None:
    """The last commit that wrote `path`, or None where git does not know it or it has changed since."""
    if git_output("status", "--porcelain", "--", str(path)) != "":
        return None
    return git_output("log", "-1", "--format=%h", "--", str(path)) or None


def copy_audits(found: dict[str, Any], copies: list[tuple[Path, str, str]], out: Path) -> None:
    """Each requested audit's entry and K = 16 scores copied into `found` and beside `out`. A label
    `out` already holds is refused unless it is an earlier copy of the same audit: a copy never
    replaces an audit."""
    for path, label, new in copies:
        source = {"report": os.path.relpath(path.resolve(), ROOT), "recipe": label}
        held = found.get(new, {}).get("copied_from")
        if new in found and not (isinstance(held, dict) and {k: held.get(k) for k in source} == source):
            raise SystemExit(f"--copy-from: {out} already holds an audit {new!r}; choose another name")
        entry = dict(json.loads(path.read_text())[label])
        entry.pop("paired_against", None)  # its pairing belonged to the other report
        entry["copied_from"] = {**source, "commit": last_commit(path.resolve())}
        with np.load(scores_dir(path) / f"{safe_name(label)}.npz") as f:
            kept = {k: f[k] for k in f.files}
        found[new] = entry
        out.parent.mkdir(parents=True, exist_ok=True)
        scores_dir(out).mkdir(exist_ok=True)
        np.savez_compressed(scores_dir(out) / f"{safe_name(new)}.npz", **kept)
        out.write_text(json.dumps(found, indent=1) + "\n")
        print(f"{new}: copied from {path}#{label}", flush=True)


def compare(found: dict[str, Any], base: str, labels: list[str], out: Path, n_bootstrap: int) -> None:
    """Each recipe's K = 16 scores minus `base`'s, attack by attack, paired (same records, same
    membership: the audits share their seed and population), written into `found` and `out`."""
    with np.load(scores_dir(out) / f"{safe_name(base)}.npz") as f:
        reference = {k: f[k] for k in f.files}
    for label in labels:
        if label == base:
            continue
        if found[label]["population"] != found[base]["population"]:
            raise SystemExit(f"{label} and {base} audit different populations: nothing to pair")
        if found[label].get("mixed_pairs", False) != found[base].get("mixed_pairs", False):
            raise SystemExit(f"{label} and {base}: one audit placed mixed-query pairs together and the other did not, "
                             "so their memberships differ; audit the mixup recipe with --no-mixed-pairs")
        with np.load(scores_dir(out) / f"{safe_name(label)}.npz") as f:
            mine = {k: f[k] for k in f.files}
        diffs: dict[str, Any] = {}
        for name in ATTACKS:
            key = f"{name}.scores"
            if key not in mine or key not in reference:
                continue
            members = mine[f"{name}.members"]
            if not np.array_equal(members, reference[f"{name}.members"]):
                raise SystemExit(f"{label} and {base}: {name}'s membership differs, nothing to pair")
            diffs[name] = compare_matrices(mine[key], reference[key], members, fprs=(0.01, 0.001),
                                           n_bootstrap=n_bootstrap, seed=max(SIZES)).to_dict()
        found[label]["paired_against"] = {"recipe": base, "shadows": max(SIZES), "attacks": diffs}
    out.write_text(json.dumps(found, indent=1) + "\n")


def difference_table(found: dict[str, Any]) -> str:
    """Markdown: each compared recipe's AUC and TPR at 1% FPR minus its reference's, 95% intervals."""
    lines = ["| recipe | minus | attack | AUC | AUC difference [95% CI] | TPR@1% | TPR@1% difference [95% CI] |",
             "|---|---|---|---|---|---|---|"]
    for label, run in found.items():
        paired = run.get("paired_against")
        if not paired:
            continue
        for name, d in paired["attacks"].items():
            lo, hi = d["auc_ci"]
            tlo, thi = d["tpr_ci"]["0.01"]
            lines.append(f"| {label} | {paired['recipe']} | {name} | {d['auc_a']:.3f} against {d['auc_b']:.3f} | "
                         f"{d['auc']:+.3f} [{lo:+.3f}, {hi:+.3f}] | {d['tpr_a']['0.01']:.3f} against "
                         f"{d['tpr_b']['0.01']:.3f} | {d['tpr_at']['0.01']:+.3f} [{tlo:+.3f}, {thi:+.3f}] |")
    return "\n".join(lines)


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
