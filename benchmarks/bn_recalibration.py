"""The averaged generator's batch-norm statistics recomputed before sampling: does the release change?

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bn_recalibration.py --table medexp --epochs 300 \\
        --seeds 0,1,2,3 [--json out/bn.json]

The generator that is sampled is the moving average of the trained one (`trainer.GeneratorAverage`),
whose batch-norm running statistics are copied from the trained generator: they were measured on
the trained weights' activations, not on the average's. The usual remedy for an averaged network
(as for stochastic weight averaging) is one more pass that measures them on the average itself.
For a generator that pass needs no data: noise and condition vectors drawn at the model's class
frequencies, as a release draws them.

Per seed, on the seeded 80/20 split (as short_fits.py splits and scores): one fit of the default
recipe, scored as shipped (quality and the TSTR AUCs, sample seed: the seed + 1000); then each
batch-norm layer's statistics are measured again over `--batches` batches of 500 rows (a plain
average: momentum None) and the same draw is scored again. Both figures come from one fit, so
their difference is the recalibration's alone, paired within the fit. Also per layer: how far the
running means moved (mean absolute shift over the mean standard deviation) and the variance ratio.
The first figures are short_fits.py's default runs of the same seeds, to the digit. Never part of
`make test`.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from _peers_common import code_version, json_path, machine, save_json, split
from fit_speed import Scorer, mean_interval
from levers import TARGETS


def recalibrate(synth: Any, batches: int, batch: int = 500, seed: int = 12345) -> list[tuple[float, float]]:
    """Measure the sampled generator's batch-norm statistics on itself; per layer (mean shift in
    standard deviations, variance ratio) against the statistics it had."""
    import torch

    generator = synth.gan_.generator
    layers = [m for m in generator.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    before = [(m.running_mean.clone(), m.running_var.clone(), m.momentum) for m in layers]
    rng = np.random.default_rng(seed)
    eye = torch.eye(synth.encoder_.cond_dim)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for m in layers:
            m.reset_running_stats()
            m.momentum = None  # a plain average over the batches
        generator.train()
        for _ in range(batches):
            slots = rng.choice(synth.encoder_.cond_dim, size=batch, p=synth.encoder_.condition_frequencies)
            generator(torch.randn(batch, synth.config.z_dim), eye[torch.as_tensor(slots)])
        generator.eval()
    for m, (_, _, momentum) in zip(layers, before, strict=True):
        m.momentum = momentum
    return [(float((m.running_mean - mean).abs().mean() / var.sqrt().mean()), float((m.running_var / var).mean()))
            for m, (mean, var, _) in zip(layers, before, strict=True)]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--table", choices=sorted(TARGETS), default="medexp")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--json", type=json_path, default=None)
    args = parser.parse_args(argv)

    import torch

    from synthguard.io import read_table
    from synthguard.schema import Schema
    from synthguard.synthesizer import Synthesizer

    torch.set_num_threads(1)
    root = Path(__file__).resolve().parents[1]
    raw = read_table(root / "synthguard" / "data" / f"{args.table}.csv")
    schema = Schema.load(root / "schemas" / f"{args.table}.yaml")
    resolved = schema.resolve(list(raw.columns))
    targets = TARGETS[args.table]
    keys = ["quality", *(f"auc_{t}" for t in targets)]
    runs = []
    for seed in (int(s) for s in args.seeds.split(",")):
        raw_train, raw_holdout = split(raw, seed)
        scorer = Scorer(schema.parse(raw_train), schema.parse(raw_holdout), resolved, targets, seed)
        synth = Synthesizer(schema, seed=seed, threads=1, epochs=args.epochs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            synth.fit(raw_train)
            shipped = scorer(synth.sample(len(raw_train), seed=seed + 1000, typed=True))
            layers = recalibrate(synth, args.batches)
            measured = scorer(synth.sample(len(raw_train), seed=seed + 1000, typed=True))
        run = {"seed": seed, "shipped": {k: shipped[k] for k in keys}, "recalibrated": {k: measured[k] for k in keys},
               "layers": [{"mean_shift_sd": a, "variance_ratio": b} for a, b in layers]}
        runs.append(run)
        print(f"seed {seed}: " + "  ".join(f"{k} {shipped[k]:.3f} -> {measured[k]:.3f}" for k in keys)
              + "  layers " + ", ".join(f"shift {a:.3f} var x{b:.3f}" for a, b in layers), flush=True)
    summary = {k: mean_interval([r["recalibrated"][k] - r["shipped"][k] for r in runs]) for k in keys}
    for k, d in summary.items():
        interval = "" if d["low"] is None else f" [{d['low']:+.4f}, {d['high']:+.4f}]"
        print(f"recalibrated minus shipped, {k}: {d['mean']:+.4f}{interval}")
    report = {"table": args.table, "epochs": args.epochs, "batches": args.batches, "machine": machine(),
              "code": code_version(), "runs": runs, "summary": summary}
    save_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
