"""The demo behind `make demo`: the full release on the bundled OFP table with the default policy.

It runs `synthguard release`: 20% of the rows are held out, a mixup-trained conditional WGAN is
fitted on the rest, shadow models with the same recipe are attacked (LiRA, LOGAN, GAN-Leaks,
DOMIAS), utility is measured on the held-out rows, and the default policy decides whether the
synthetic table is written. The audit is the default policy's (16 shadow models; the release raises
the audited records to what the policy's limits need); the epochs are shortened to finish in a few
minutes on two cores, and a real release would train longer. Output: out/demo/release/.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from synthguard.cli import app

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "synthguard" / "data" / "ofp.csv"
SCHEMA = ROOT / "schemas" / "ofp.yaml"
OUT = ROOT / "out" / "demo" / "release"
SETTINGS = {"--epochs": 60, "--batch-size": 128, "--seed": 0}


def main() -> int:
    if OUT.exists():
        shutil.rmtree(OUT)  # the demo owns this folder; a release never overwrites one
    OUT.parent.mkdir(parents=True, exist_ok=True)
    args = ["release", str(DATA), "--schema", str(SCHEMA), "-o", str(OUT), "--defense", "mixup"]
    for key, value in SETTINGS.items():
        args += [key, str(value)]
    print("demo settings: " + ", ".join(f"{k.lstrip('-')} {v}" for k, v in SETTINGS.items())
          + " (default policy: schemas/policy.default.yaml)")
    print("$ synthguard " + " ".join(args[:1] + [str(Path(a).relative_to(ROOT)) if a.startswith(str(ROOT)) else a
                                                 for a in args[1:]]), flush=True)
    started = time.perf_counter()
    try:
        # without standalone mode click returns the command's exit code instead of exiting
        code = app(args, standalone_mode=False) or 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    print(f"\ndemo finished in {time.perf_counter() - started:.0f} s (exit code {code}: "
          f"{ {0: 'released', 3: 'refused by the policy'}.get(code, 'error') }); open {OUT / 'report.html'}")
    return 0 if code in (0, 3) else code


if __name__ == "__main__":
    sys.exit(main())
