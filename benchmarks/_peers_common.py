"""Helpers the benchmarks share: the seeded split, the frames peers are given and what is made of
their output, scoring by synthguard's own metrics, and peer generators (CTGAN, TVAE, SDV's
GaussianCopula) behind the recipe interface synthguard's audit trains shadows with.

Not part of the synthguard package: ctgan and sdv are benchmark-only extras (`make bench-deps`).
Import it from a script in this folder (`python benchmarks/x.py` puts the folder on sys.path).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


# ---- results ---------------------------------------------------------------------------------------
def json_path(text: str) -> Path:
    """The `--json` argument type: a path ending in .json, so that a report never lands on a table
    or a schema the run reads (checked when the arguments are parsed, before any work)."""
    if Path(text).suffix.lower() != ".json":
        raise argparse.ArgumentTypeError(f"{text!r}: name a .json file")
    return Path(text)


def save_json(path: Any, report: dict[str, Any]) -> None:
    """Write a benchmark's report as indented JSON to `path` (atomically; nothing when None) and say so."""
    if path is None:
        return
    import json

    from synthguard.io import write_text

    write_text(path, json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")


# ---- data ------------------------------------------------------------------------------------------
def split(raw: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """80/20 row split, drawn as `make demo` draws it."""
    holdout = raw.sample(frac=0.2, random_state=seed)
    return raw.drop(holdout.index).reset_index(drop=True), holdout.reset_index(drop=True)


def discrete_columns(schema: Any) -> list[str]:
    return [c.name for c in schema.modelled_columns if c.type in ("categorical", "boolean")]


def to_peer_frame(typed: pd.DataFrame, schema: Any) -> pd.DataFrame:
    """Typed rows with discrete columns as text in the data's own spelling (what CTGAN and SDV
    are given: both then treat them as categories)."""
    out = schema.format(typed)
    for name in discrete_columns(schema):
        if out[name].isna().any():
            raise SystemExit(f"column {name!r} has nulls; the benchmarks do not map them for the peers")
        out[name] = out[name].astype(str)
    return out


def from_peer_frame(rows: pd.DataFrame, schema: Any, train: pd.DataFrame, source: str = "peer rows") -> pd.DataFrame:
    """A peer's rows as typed rows: numbers clipped to the schema's bounds (else the range of the
    rows it was fitted on) and integers rounded, which is what synthguard's decoder does to its
    own output, then parsed by the schema."""
    out = rows.copy()
    for col in schema.modelled_columns:
        if col.type not in ("continuous", "integer"):
            continue
        values = pd.to_numeric(out[col.name], errors="coerce").to_numpy(dtype=np.float64)
        seen = pd.to_numeric(train[col.name], errors="coerce")
        lo = col.min if col.min is not None else float(seen.min())
        hi = col.max if col.max is not None else float(seen.max())
        values = np.clip(values, lo, hi)
        out[col.name] = np.round(values) if col.type == "integer" else values
    # a peer, like synthguard, emits the modelled columns only: no id column (DoctorContacts' person)
    modelled = dataclasses.replace(schema, columns=tuple(schema.modelled_columns), entity=None)
    return modelled.parse(out, source)


# ---- scoring ---------------------------------------------------------------------------------------
@dataclass
class Scores:
    quality: float | None
    column_shapes: float | None
    pair_trends: float | None
    tstr_accuracy: float | None
    tstr_auc: float | None
    trtr_accuracy: float | None
    trtr_auc: float | None
    seconds: float  # time the scoring took
    exact_copy_rate: float | None = None          # share of synthetic rows equal to a train row
    holdout_exact_copy_rate: float | None = None  # the same share for real holdout rows (baseline)
    dcr_median: float | None = None               # median distance of a synthetic row to its closest train row
    dcr_holdout_median: float | None = None       # the same for holdout rows


class Judge:
    """Scores typed synthetic rows against the split with synthguard's own metrics, on one thread."""

    def __init__(self, train: pd.DataFrame, holdout: pd.DataFrame, schema: Any, target: str | None, seed: int) -> None:
        self.train, self.holdout, self.schema, self.target, self.seed = train, holdout, schema, target, seed

    def __call__(self, synthetic: pd.DataFrame, copies: bool = False) -> Scores:
        from threadpoolctl import threadpool_limits

        from synthguard.utility.distance import distances
        from synthguard.utility.downstream import downstream
        from synthguard.utility.quality import quality

        started = time.perf_counter()
        with threadpool_limits(limits=1), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            q = quality(self.train, synthetic, self.schema, target=self.target, seed=self.seed)
            d = downstream(self.train, self.holdout, synthetic, self.schema, target=self.target, seed=self.seed)
            dist = distances(self.train, self.holdout, synthetic, self.schema, seed=self.seed) if copies else None
        scores = Scores(q.score, q.column_shapes, q.column_pair_trends, d.tstr.accuracy, d.tstr.auc,
                        d.trtr.accuracy, d.trtr.auc, 0.0)
        if dist is not None:
            scores.exact_copy_rate, scores.holdout_exact_copy_rate = dist.exact_copy_rate, dist.holdout_exact_copy_rate
            scores.dcr_median, scores.dcr_holdout_median = dist.dcr_synthetic_median, dist.dcr_holdout_median
        scores.seconds = time.perf_counter() - started
        return scores


PEER_KINDS = ("CTGAN", "TVAE")


def fit_ctgan_package(kind: str, train: pd.DataFrame, resolved: Any, epochs: int, seed: int, n: int) -> pd.DataFrame:
    """CTGAN or TVAE (`kind`; the `ctgan` package, its defaults but `epochs`, on the CPU, seeded
    with `seed`) fitted on typed rows `train`; `n` of its rows back as typed rows, as fit_speed.py
    fits and reads them."""
    return fit_ctgan_package_draws(kind, train, resolved, epochs, seed, n, 1)[0]


def fit_ctgan_package_draws(kind: str, train: pd.DataFrame, resolved: Any, epochs: int, seed: int, n: int,
                            samples: int) -> list[pd.DataFrame]:
    """`fit_ctgan_package`'s fit, read `samples` times: each draw `n` typed rows, the model's random
    stream carried on from one draw to the next, so the first is the one `fit_ctgan_package` gives."""
    import ctgan

    if kind not in PEER_KINDS:
        raise ValueError(f"kind must be one of {PEER_KINDS}, got {kind!r}")
    frame = to_peer_frame(train, resolved)
    # the ctgan package fails on a number column with empty cells; SDV, which wraps it, fills them
    # with the column's mean and empties cells of its output at random, at the share the column
    # had (RDT's FloatFormatter defaults): the peers get the same here
    empty = {c.name: float(frame[c.name].isna().mean()) for c in resolved.modelled_columns
             if c.type in ("continuous", "integer") and frame[c.name].isna().any()}
    for name in empty:
        frame[name] = frame[name].fillna(pd.to_numeric(frame[name]).mean())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rdt and sklearn warn about convergence and dtypes
        model = getattr(ctgan, kind)(epochs=epochs, enable_gpu=False)
        model.set_random_state(seed)
        model.fit(frame, discrete_columns=discrete_columns(resolved))
        draws = [model.sample(n) for _ in range(samples)]
    out = []
    for j, rows in enumerate(draws):
        blank = np.random.default_rng(derive_seed(seed, 1) if j == 0 else derive_seed(seed, 1000 + j))
        for name, share in empty.items():
            rows[name] = rows[name].where(blank.random(len(rows)) >= share)
        out.append(from_peer_frame(rows, resolved, train, f"{kind} rows"))
    return out


def fit_tvae(train: pd.DataFrame, resolved: Any, epochs: int, seed: int, n: int) -> pd.DataFrame:
    """TVAE by `fit_ctgan_package`."""
    return fit_ctgan_package("TVAE", train, resolved, epochs, seed, n)


def versions(names: tuple[str, ...] = ("synthguard", "ctgan", "sdv", "torch", "sdmetrics", "scikit-learn")) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "-"
    return out


def machine() -> dict[str, str]:
    """What a fit depends on besides the code, its settings and its seed: the CPU (its model, and
    the instruction set torch's kernels dispatch to; MKL and oneDNN pick theirs by it too) and the
    numerical libraries' versions. A seed gives the same fit again on the same machine, and another
    fit on another CPU: the order of floating-point sums differs."""
    from synthguard.versions import machine as cpu

    return {**cpu(), "cores": str(os.cpu_count()),
            **{f"{name} version": v for name, v in versions(("torch", "numpy", "scikit-learn")).items()}}


def git_output(*args: str) -> str | None:
    """What `git ARGS` prints in this checkout, stripped; None where git is absent or fails."""
    try:
        return subprocess.run(["git", *args], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def code_version() -> dict[str, Any] | None:
    """The commit a benchmark ran at, and whether synthguard/ or benchmarks/ had changes not yet
    committed (then the commit alone does not name the code); None outside a git checkout."""
    commit = git_output("rev-parse", "--short", "HEAD")
    if not commit:
        return None
    return {"commit": commit, "uncommitted_changes": bool(git_output("status", "--porcelain", "--", "synthguard",
                                                                     "benchmarks"))}


def describe_machine(made: dict[str, str] | None, libraries: bool = True) -> str:
    """A report's `machine` record in words: the CPU and its instruction set, and with `libraries`
    the core count and versions too; reports made before it was recorded say so."""
    if not made:
        return "not recorded"
    if not libraries:
        return f"{made['cpu']}, {made['cpu_capability']}"
    return (f"{made['cpu']} ({made['cpu_capability']}, {made['cores']} cores), torch {made['torch version']}, "
            f"numpy {made['numpy version']}, scikit-learn {made['scikit-learn version']}")


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


# ---- peers as audit recipes --------------------------------------------------------------------------
def derive_seed(seed: int, stream: int) -> int:
    """A 32-bit seed per use (fit, sample): CTGAN and copulas take ints below 2**32."""
    return int(np.random.SeedSequence([seed, stream]).generate_state(1)[0])


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Torch's thread count for a block (None leaves it), restored after, as synthguard's fits do."""
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class PeerRecipe:
    """A peer generator behind the interface synthguard's audit needs under the `data` threat model:
    `clone(seed=, threads=)` (an unfitted copy of the recipe), `fit_parsed(frame, resolved)` (typed
    rows) and `sample(n, seed=, typed=True)`; `get_params` names the recipe in the audit's result.

    The peer is given `to_peer_frame` rows and its output goes through `from_peer_frame`, so the
    audit and the metrics see the same typed rows as they do from synthguard. Everything random is
    seeded from `seed` (fit) and the sample's seed: same seeds, same rows (on the same thread count).
    Unfitted recipes hold only settings, so they travel to worker processes too."""

    name = "peer"
    defense = None  # not mixup: the audit's mixed-record query does not apply

    def __init__(self, schema: Any = None, *, seed: int = 0, threads: int | None = None, **options: Any) -> None:
        self.schema, self.seed, self.threads, self.options = schema, int(seed), threads, dict(options)

    def get_params(self) -> dict[str, Any]:
        return {"recipe": self.name, "seed": self.seed, **self.options}

    def clone(self, **overrides: Any) -> PeerRecipe:
        params = {"seed": self.seed, "threads": self.threads, **self.options, **overrides}
        return type(self)(self.schema, **params)

    def fit_parsed(self, frame: pd.DataFrame, resolved: Any, on_epoch: Any = None) -> PeerRecipe:
        self.schema_, self.train_ = resolved, frame.reset_index(drop=True)
        with torch_threads(self.threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # rdt, sklearn and sdv warn about convergence and dtypes
            self._fit(to_peer_frame(self.train_, resolved), derive_seed(self.seed, 0))
        return self

    def sample(self, n: int, condition: Any = None, seed: int | None = None, typed: bool = False) -> pd.DataFrame:
        if condition is not None:
            raise NotImplementedError("the peers are sampled unconditionally here")
        with torch_threads(self.threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = self._sample(int(n), derive_seed(self.seed if seed is None else seed, 1))
        parsed = from_peer_frame(rows.reset_index(drop=True), self.schema_, self.train_, f"{self.name} rows")
        return parsed if typed else self.schema_.format(parsed)

    def _fit(self, frame: pd.DataFrame, seed: int) -> None:
        raise NotImplementedError

    def _sample(self, n: int, seed: int) -> pd.DataFrame:
        raise NotImplementedError


class CTGANRecipe(PeerRecipe):
    """CTGAN (the `ctgan` package) on the CPU; options are CTGAN's own (epochs, batch_size, ...)."""

    name = "ctgan"
    kind = "CTGAN"  # the `ctgan` package's class

    def _fit(self, frame: pd.DataFrame, seed: int) -> None:
        import ctgan

        self.model_ = getattr(ctgan, self.kind)(enable_gpu=False, **self.options)
        # CTGAN draws from numpy's and torch's global generators; with a random state set it
        # swaps in its own for fit and sample and restores the global ones after
        self.model_.set_random_state(seed)
        self.model_.fit(frame, discrete_columns=discrete_columns(self.schema_))

    def _sample(self, n: int, seed: int) -> pd.DataFrame:
        self.model_.set_random_state(seed)
        return self.model_.sample(n)


class TVAERecipe(CTGANRecipe):
    """TVAE (the `ctgan` package) on the CPU, seeded and read as CTGAN is; options are TVAE's own."""

    name = "tvae"
    kind = "TVAE"


class GaussianCopulaRecipe(PeerRecipe):
    """SDV's GaussianCopulaSynthesizer at its defaults (beta marginals, min/max and rounding
    enforced); numeric columns numerical, the rest categorical, as the schema says."""

    name = "gaussiancopula"

    def _metadata(self) -> Any:
        from sdv.metadata import Metadata

        columns: dict[str, dict[str, str]] = {}
        for col in self.schema_.modelled_columns:
            if col.type in ("categorical", "boolean"):
                columns[col.name] = {"sdtype": "categorical"}
            elif col.type in ("continuous", "integer"):
                columns[col.name] = {"sdtype": "numerical",
                                     "computer_representation": "Int64" if col.type == "integer" else "Float"}
            else:
                raise SystemExit(f"column {col.name!r} is {col.type}; this benchmark maps only numbers and categories")
        return Metadata.load_from_dict({"METADATA_SPEC_VERSION": "V1", "tables": {"data": {"columns": columns}}})

    def _fit(self, frame: pd.DataFrame, seed: int) -> None:
        import sdv
        from sdv.single_table import GaussianCopulaSynthesizer

        # fitting is deterministic (closed-form marginals and correlations; rdt seeds its own noise)
        self.model_ = GaussianCopulaSynthesizer(self._metadata(), **self.options)
        # SDV 2 takes (and returns) a one-table dict even for a single-table synthesizer
        self._as_dict = int(sdv.__version__.split(".")[0]) >= 2
        self.model_.fit({"data": frame} if self._as_dict else frame)

    def _sample(self, n: int, seed: int) -> pd.DataFrame:
        # SDV samples from a fixed seed of its own unless told otherwise; `_set_random_state` is
        # what it calls for that (no public seed argument in sample), after a reset of its state
        self.model_.reset_sampling()
        self.model_._set_random_state(seed)
        rows = self.model_.sample(n)
        return next(iter(rows.values())) if isinstance(rows, dict) else rows
