"""Reference models for checking that an audit measures something.

`Memoriser` is the worst possible generator: it emits its training rows, and its "critic" scores a
record by closeness to them. Every audit must catch it (the release gate must refuse it); if an
audit does not, its attacks or their score directions are broken.

`Untrained` is the opposite end: the Synthesizer recipe with no training step at all (a
`Synthesizer` refuses fewer than 1 epoch). Its models never saw their members, so every attack
on it must be at chance; if one is not, the audit's protocol leaks the labels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..schema import Schema
from ..synthesizer import Synthesizer
from ..utility.features import fit_features
from .ganleaks import nearest_distance
from .mixed_query import LAMBDAS


class Untrained(Synthesizer):
    """A `Synthesizer` recipe whose networks are built from the seed and never trained (0 epochs);
    for calibrating audits only, never for a release."""

    min_epochs = 0

    def __init__(self, schema: Schema | None = None, **params: Any) -> None:
        super().__init__(schema, **{**params, "epochs": 0})

    def describe_defense(self) -> dict[str, Any]:
        return {"name": "untrained (no training step)"}


class Memoriser:
    """A recipe whose model returns copies of its training rows. It implements the `critic` threat
    model's protocol itself (`synthguard.attacks.access.CriticAccess`): its statistics are
    closeness to the training rows, with no networks behind them."""

    def __init__(self, schema: Schema | None = None, seed: int = 0, threads: int | None = None) -> None:
        self.schema = schema
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        return {"recipe": "memoriser", "seed": self.seed}

    def clone(self, **overrides: Any) -> Memoriser:
        return Memoriser(self.schema, seed=overrides.get("seed", self.seed))

    def fit_parsed(self, frame: pd.DataFrame, resolved: Schema, on_epoch: Any = None) -> Memoriser:
        self.schema_ = resolved
        self.rows_ = frame.reset_index(drop=True)
        self.features_ = fit_features(self.rows_, resolved)
        self.train_features_ = self.features_.transform(self.rows_)
        return self

    def describe_defense(self) -> dict[str, Any]:
        return {"name": "memoriser (copies its training rows)"}

    def smallest_category_count(self) -> int | None:
        return None

    def sample(self, n: int, condition: Any = None, seed: int | None = None, typed: bool = False) -> pd.DataFrame:
        rng = np.random.default_rng(self.seed if seed is None else seed)
        rows = self.rows_.iloc[rng.integers(0, len(self.rows_), n)].reset_index(drop=True)
        return rows if typed else self.schema_.format(rows)

    def critic_statistics(self, frame: pd.DataFrame, m: int = 64, seed: int | None = None) -> dict[str, np.ndarray]:
        closeness = -nearest_distance(self.features_.transform(frame), self.train_features_)
        return {"critic": closeness, "critic_calibrated": closeness}

    def reconstruction_loss(self, frame: pd.DataFrame, seed: int = 0) -> np.ndarray:
        distance = nearest_distance(self.features_.transform(frame), self.train_features_)
        return distance**2 / self.train_features_.shape[1]

    def mixed_query_statistic(self, frame_a: pd.DataFrame, frame_b: pd.DataFrame, m: int = 64,
                              seed: int | None = None) -> np.ndarray:
        a, b = self.features_.transform(frame_a), self.features_.transform(frame_b)
        mixes = [lam * a + (1 - lam) * b for lam in LAMBDAS]
        return np.mean([-nearest_distance(q, self.train_features_) for q in mixes], axis=0)
