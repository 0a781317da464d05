"""Images, unprotected vs mixup: utility and membership inference on scikit-learn's digits.

    .venv/bin/python benchmarks/digits_defenses.py [--defenses none,mixup] [--epochs N] [--shadows 4]
        [--targets 700] [--synthetic-rows 2000] [--seed 0] [--sequential] [--json out/digits.json]

One 80/20 split of the 1,797 digits (seeded). For each defence, with the image training settings
(`synthguard.images.IMAGE_TRAIN_DEFAULTS`, `--epochs` overriding):

* the synthesizer is fitted on the 80% train split and samples as many images as the split holds;
* utility (`synthguard.utility.images.image_utility`): a small CNN trained on the synthetic images
  and one trained on the real train split, both tested on the 20% holdout; the Frechet distance
  between the features (of the classifier trained on the real data) of holdout and synthetic
  images, and of train and holdout images as the floor;
* the audit (`synthguard.audit.audit`) of the same recipe on the train split: `--shadows` shadow
  models on random halves, every attack's AUC and TPR at 1% and 0.1% FPR.

Each defence runs in its own spawned process with one torch thread (the two run side by side
unless `--sequential`), and every shadow runs in that process, one after another. With 4 shadows
LiRA has only 3 reference models per victim, and about 1,400 non-member scores give TPR@0.1% FPR
from one or two negatives: the numbers are indicative, not a replacement for a 16-shadow audit.
Never part of the unit tests.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

def run_defense(defense: str, args: dict[str, Any]) -> dict[str, Any]:
    """Fit, measure utility and audit one defence (runs in its own process)."""
    import torch

    torch.set_num_threads(1)
    from synthguard.audit import audit
    from synthguard.images import IMAGE_TRAIN_DEFAULTS, load_images
    from synthguard.synthesizer import Synthesizer
    from synthguard.utility.images import image_utility

    frame, schema = load_images("digits")
    order = np.random.default_rng(args["seed"]).permutation(len(frame))
    cut = int(round(0.8 * len(frame)))
    train = frame.iloc[np.sort(order[:cut])].reset_index(drop=True)
    holdout = frame.iloc[np.sort(order[cut:])].reset_index(drop=True)
    options = {**IMAGE_TRAIN_DEFAULTS, **({"epochs": args["epochs"]} if args["epochs"] else {})}
    recipe = Synthesizer(schema, defense=defense, seed=args["seed"], threads=1, **options)

    started = time.perf_counter()
    model = recipe.clone().fit(train)
    fit_seconds = time.perf_counter() - started
    synthetic = model.sample(len(train), seed=args["seed"] + 1)
    utility = image_utility(train, holdout, synthetic, schema, seed=args["seed"])

    started = time.perf_counter()
    result = audit(train, recipe, schema, n_shadows=args["shadows"], n_targets=args["targets"], workers=1,
                   synthetic_rows=args["synthetic_rows"], seed=args["seed"], n_bootstrap=200)
    audit_seconds = time.perf_counter() - started
    attacks = {name: {"auc": a.summary.auc, "auc_ci": list(a.summary.auc_ci),
                      "tpr_at_1pct": a.summary.tpr_at[0.01], "tpr_at_0.1pct": a.summary.tpr_at[0.001],
                      "n_members": a.summary.n_members, "n_nonmembers": a.summary.n_nonmembers}
               for name, a in result.attacks.items()}
    return {"defense": defense, "train_options": {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()},
            "n_train": len(train), "n_holdout": len(holdout), "fit_seconds": round(fit_seconds, 1),
            "audit_seconds": round(audit_seconds, 1), "utility": utility, "attacks": attacks}


def _child(defense: str, args: dict[str, Any], queue: Any) -> None:
    queue.put(run_defense(defense, args))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--defenses", default="none,mixup")
    parser.add_argument("--epochs", type=int, default=0, help="0: the image default")
    parser.add_argument("--shadows", type=int, default=4)
    parser.add_argument("--targets", type=int, default=700)
    parser.add_argument("--synthetic-rows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sequential", action="store_true", help="one defence after the other (one core)")
    parser.add_argument("--json", type=Path, default=None)
    ns = parser.parse_args(argv)
    args = {"epochs": ns.epochs, "shadows": ns.shadows, "targets": ns.targets,
            "synthetic_rows": ns.synthetic_rows, "seed": ns.seed}
    defenses = ns.defenses.split(",")
    started = time.perf_counter()
    if ns.sequential:
        results = [run_defense(d, args) for d in defenses]
    else:
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        procs = [ctx.Process(target=_child, args=(d, args, queue)) for d in defenses]
        for p in procs:
            p.start()
        by_name = {r["defense"]: r for r in (queue.get() for _ in procs)}
        for p in procs:
            p.join()
        results = [by_name[d] for d in defenses]
    total = time.perf_counter() - started

    print(f"digits, 80/20 split (seed {ns.seed}); {ns.shadows} shadows; total {total:.0f} s")
    print(f"{'defence':8} {'acc(syn)':>9} {'acc(real)':>9} {'FD syn-hold':>11} {'FD train-hold':>13} {'fit s':>6} {'audit s':>7}")
    for r in results:
        d, f = r["utility"]["downstream"], r["utility"]["frechet"]
        print(f"{r['defense']:8} {d['accuracy_trained_on_synthetic']:9.4f} {d['accuracy_trained_on_real']:9.4f} "
              f"{f['synthetic_vs_holdout']:11.3f} {f['train_vs_holdout']:13.3f} {r['fit_seconds']:6.0f} {r['audit_seconds']:7.0f}")
    print(f"features: {results[0]['utility']['frechet']['feature_extractor']}")
    print(f"{'attack':13} " + " ".join(f"{r['defense'] + ' AUC':>12} {'TPR@1%':>7} {'TPR@0.1%':>8}" for r in results)
          + "   (95% AUC intervals in the JSON)")
    names = list(dict.fromkeys(name for r in results for name in r["attacks"]))  # every attack the audit ran
    for name in names:
        cells = []
        for r in results:
            a = r["attacks"].get(name)
            cells.append(f"{a['auc']:12.4f} {a['tpr_at_1pct']:7.4f} {a['tpr_at_0.1pct']:8.4f}" if a else " " * 29)
        print(f"{name:13} " + " ".join(cells))
    if ns.json:
        ns.json.parent.mkdir(parents=True, exist_ok=True)
        ns.json.write_text(json.dumps({"seconds": round(total, 1), "args": args, "results": results}, indent=2))


if __name__ == "__main__":
    main()
