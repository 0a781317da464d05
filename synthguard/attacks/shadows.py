"""Shadow models: balanced membership masks, target records, and one shadow's training and
per-record statistics (the unit of work that the execution backends run).

A shadow is trained with exactly the release's recipe (`recipe.clone(seed=...)`) on its half of
the audit population, then every target record gets each statistic the attacks need: the
critic's raw and calibrated scores, the distance to the nearest synthetic record, a density ratio
of synthetic to real reference rows, and a black-box classifier's probability.

What the worker may ask of the model is the threat model's protocol (`synthguard.attacks.access`):
under `data` only the statistics of synthetic rows are computed, so a recipe needs only `clone`,
`fit_parsed` and `sample` (a generator without a critic can be audited); `generator` adds the
reconstruction loss and `critic` the critic statistics and the mixed query. A recipe that lacks
what its threat model needs is refused before any training, in one line naming what it lacks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits

from ..schema import Schema
from ..utility.features import FeatureSpace
from .access import CheckpointAccess, SamplesAccess, check_access, model_access, model_bytes
from .domias import density_ratio
from .ganleaks import nearest_distance
from .logan import blackbox_scores

#: statistics every shadow returns, one value per target record (plus `mixed_query`, one value
#: per pair of targets, when the task names pairs)
STATISTICS = ("critic", "critic_calibrated", "nn_distance", "density_ratio", "blackbox", "reconstruction")
#: every shadow starts the reconstruction from the same codes: only the generator may differ
RECONSTRUCTION_SEED = 20230517
#: the result key of a shadow's model file (uint8 bytes), when its task asks to keep the model
MODEL_FILE = "model_file"


#: what the audit needs of a training recipe at the least (the `data` threat model's protocol; the
#: stronger threat models' protocols are in `synthguard.attacks.access`)
Recipe = SamplesAccess


def balanced_masks(n_models: int, n_records: int, seed: int) -> np.ndarray:
    """(models, records) bool: every record is IN exactly half of the models (LiRA's protocol:
    rank a uniform matrix down each column), and each model holds about half of the records."""
    if n_models % 2:
        raise ValueError(f"the number of shadow models must be even, got {n_models}")
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((n_models, n_records)), axis=0)
    return order < n_models // 2


def choose_targets(features: np.ndarray, n_targets: int, seed: int, outlier_share: float = 0.1) -> np.ndarray:
    """Row indices of the audited records: the most outlying (largest distance to the 5th
    nearest neighbour: the records membership inference finds first) plus a random sample."""
    n = len(features)
    if n_targets >= n:
        return np.arange(n)
    from sklearn.neighbors import NearestNeighbors

    k = min(6, n)
    d = NearestNeighbors(n_neighbors=k).fit(features).kneighbors(features)[0][:, -1]
    n_outliers = int(round(n_targets * outlier_share))
    outliers = np.argsort(-d, kind="stable")[:n_outliers]
    rest = np.setdiff1d(np.arange(n), outliers)
    rng = np.random.default_rng(seed)
    sample = rng.choice(rest, n_targets - n_outliers, replace=False)
    return np.sort(np.concatenate([outliers, sample]))


@dataclass(frozen=True)
class ShadowTask:
    """Everything one worker needs to train shadow `index` and score the targets."""

    index: int
    seed: int
    recipe: Recipe
    frame: pd.DataFrame          # the parsed audit population
    schema: Schema               # resolved against it
    features: FeatureSpace       # standardised one-hot space for distances
    population: np.ndarray       # features of every population row
    member: np.ndarray           # bool per population row: in this shadow's training half
    targets: np.ndarray          # population row indices of the audited records
    critic_fakes: int
    synthetic_rows: int
    pairs: tuple[np.ndarray, np.ndarray] | None = None   # target index pairs for the mixed query
    threat_model: str = "critic"  # what the attacks may use: data < generator < critic
    keep_model: bool = False     # send the model file back too (an audit's --run-dir keeps it)
    units: np.ndarray | None = None  # per population row, the person it belongs to (None: each row its own)


def run_shadow(task: ShadowTask) -> dict[str, np.ndarray]:
    """Train one shadow and return each statistic for every target (arrays of length T). A recipe
    that keeps checkpoints (`checkpoint_epochs`) is measured at each: the statistics of epoch e
    are returned under `statistic@e` (`at_checkpoint`), the last epoch's under the plain names."""
    torch.set_num_threads(1)  # workers share the cores; two threads each measured 16-40x slower
    # numpy's BLAS gets one thread too, wherever the task runs: a loky worker is limited to it
    # already, this process is not, and a float64 product summed by two threads can differ from
    # one thread's in the last bit, so a shadow's scores would depend on where it ran
    with threadpool_limits(limits=1):
        return _run_shadow(task)


def _run_shadow(task: ShadowTask) -> dict[str, np.ndarray]:
    check_access(task.recipe, task.threat_model)  # before any training: one line naming what it lacks
    model = task.recipe.clone(seed=task.seed, threads=1)
    model.fit_parsed(task.frame[task.member].reset_index(drop=True), task.schema)
    out = _statistics(model, task)
    if isinstance(model, CheckpointAccess):
        for epoch in model.checkpoint_epochs[:-1]:
            out.update({at_checkpoint(name, epoch): value
                        for name, value in _statistics(model.at_epoch(epoch), task).items()})
    if task.keep_model:
        model_file = model_bytes(model)  # the model's own `to_bytes`
        if model_file is not None:  # bytes, not a path: a Dask worker may not see the run directory
            out[MODEL_FILE] = np.frombuffer(model_file, dtype=np.uint8)
    return out


#: the scored rows are split into this many folds, each measured against reference rows that hold
#: none of its own rows: with every unit of the table audited, the other folds' non-members are
#: the reference (two folds: half of the non-members, as when half the units were targets)
REFERENCE_FOLDS = 2


def reference_folds(task: ShadowTask) -> list[tuple[np.ndarray, np.ndarray]]:
    """(positions in `task.targets`, reference rows' features) per fold. A fold's reference rows are
    real rows this shadow did not train on, and never a row of the fold's own records or of their
    persons: a non-member record inside its own reference looks like a non-member (its nearest real
    row is itself), and so does one whose person's other rows are there."""
    units = np.arange(len(task.member)) if task.units is None else np.asarray(task.units)
    positions = np.arange(len(task.targets))
    folds = []
    for f in range(REFERENCE_FOLDS):
        fold = positions[positions % REFERENCE_FOLDS == f]
        own = np.isin(units, units[task.targets[fold]])
        folds.append((fold, task.population[~task.member & ~own]))
    return folds


def at_checkpoint(name: str, epoch: int) -> str:
    """The result key of statistic `name` measured on a shadow's checkpoint of `epoch` epochs."""
    return f"{name}@{epoch}"


def _statistics(model: Recipe, task: ShadowTask) -> dict[str, np.ndarray]:
    """Every statistic the task's threat model allows, measured on one fitted model."""
    access = model_access(model, task.threat_model)  # statistics it lacks, computed from its primitives
    targets = task.frame.iloc[task.targets].reset_index(drop=True)
    # statistics beyond the threat model are skipped: no attack selected may use them
    uses_critic = task.threat_model == "critic"
    uses_generator = task.threat_model in ("generator", "critic")
    stats = dict(access.critic_statistics(targets, m=task.critic_fakes, seed=task.seed)) if uses_critic else {}
    synthetic = task.features.transform(access.sample(task.synthetic_rows, seed=task.seed, typed=True))
    records = task.population[task.targets]
    stats["nn_distance"] = nearest_distance(records, synthetic)
    density = np.empty(len(records))
    blackbox = np.empty(len(records))
    for fold, reference in reference_folds(task):
        density[fold] = density_ratio(records[fold], synthetic, reference)
        blackbox[fold] = blackbox_scores(records[fold], synthetic, reference, seed=task.seed)
    stats["density_ratio"], stats["blackbox"] = density, blackbox
    if uses_generator:
        stats["reconstruction"] = access.reconstruction_loss(targets, seed=RECONSTRUCTION_SEED)
    out = {name: np.asarray(stats[name], dtype=np.float64) for name in STATISTICS if name in stats}
    if task.pairs is not None and uses_critic:
        idx_a, idx_b = task.pairs
        out["mixed_query"] = access.mixed_query_statistic(targets.iloc[idx_a].reset_index(drop=True),
                                                         targets.iloc[idx_b].reset_index(drop=True),
                                                         m=task.critic_fakes, seed=task.seed).astype(np.float64)
    return out
