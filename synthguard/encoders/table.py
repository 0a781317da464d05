"""TableEncoder: a reversible map between a typed frame and the GAN's vectors.

Each modelled column becomes one or more *spans* of the encoded row, and each span has a kind
that decides the generator's output head:

* ``scalar``  one unit in [-1, 1] (tanh): a continuous value normalised within its mode
* ``onehot``  a group of units (softmax): a category, or a continuous column's mode
* ``binary``  one unit in [0, 1] (sigmoid): a boolean, or a missing-value indicator

Continuous, integer and datetime columns use mode-specific normalisation: a Bayesian Gaussian
mixture per column, a value -> (its offset within a sampled mode, that mode one-hot); a column of
at most `max_modes` values, each held by `rare_category_count` rows or more, gets one point mode
per value instead, decoded as that value exactly (a plan's rate, an age in bands). Booleans are
one unit each, so a wide 0/1 table (thousands of code columns) stays as wide as it is. Categories
held by fewer than `rare_category_count` rows are merged into one slot, because a category held by
one person identifies them. The slot is never decoded to one of its members: sampling replaces it by
the generator's most likely common category, or, where every category is rare, by the placeholder
`__rare__`. The rare labels are not kept in the fitted state at all.

Bounds still marked `learned` in the schema were read from the private rows, and the extreme values
may be single persons' values. The decoder therefore never clips onto them: it folds (reflects) an
output beyond the `rare_category_count`-th smallest or largest training value back inside, so no
value held by fewer than `rare_category_count` rows at either extreme is emitted, and nothing piles
up on one value. Public bounds (not learned) clip as declared.

The condition column (the GAN's label) is encoded separately as a one-hot vector. All fitted
state is plain JSON: numbers, strings and lists.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from sklearn.mixture import BayesianGaussianMixture

from ..errors import DataValidationError, SynthguardWarning
from ..schema import Column, Schema

SPAN_KINDS = ("scalar", "onehot", "binary")
_STD_MULTIPLIER = 4.0
_MODE_WEIGHT_THRESHOLD = 0.005
#: present values per mixture component: fewer rows than this fit one Gaussian, with no mixture
#: (a 50-row column cannot support ten modes, and the mixture fit was 0.06-0.25 s per column)
_ROWS_PER_MODE = 50
#: what sampling emits for a categorical column whose every category is rare: not a real value
RARE_PLACEHOLDER = "__rare__"
#: per-column progress of `TableEncoder.fit`: (columns done, columns in all, the column just fitted)
FitProgress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Span:
    """A block of the encoded row: `width` units starting at `start`, of one output kind."""

    start: int
    width: int
    kind: str
    column: str


# ---- what a categorical or boolean column's fit needs of every row ---------------------------------
class ColumnCounts:
    """Row, null and per-value counts of one typed column, accumulated over any number of parts.

    Categorical and boolean columns are fitted from these, so that a table read in batches (see
    `synthguard.streaming`) fits exactly as the whole frame would, holding one count per value."""

    def __init__(self) -> None:
        self.n = 0
        self.nulls = 0
        self.truthy = 0                          # present values that are True (booleans)
        self.by_text: dict[str, int] = {}        # count per value, keyed by its text
        self.labels: dict[str, Any] = {}         # the first value seen with each text

    @classmethod
    def of(cls, series: pd.Series) -> ColumnCounts:
        return cls().update(series)

    def update(self, series: pd.Series) -> ColumnCounts:
        nulls = series.isna()
        present = series[~nulls]
        self.n += len(series)
        self.nulls += int(nulls.sum())
        self.truthy += int(present.astype(bool).sum())
        text = present.map(str)
        for key, count in text.value_counts(sort=False).items():
            self.by_text[key] = self.by_text.get(key, 0) + int(count)
        first = ~text.duplicated().to_numpy()
        for key, value in zip(text.to_numpy()[first], present.to_numpy()[first], strict=True):
            self.labels.setdefault(key, value)
        return self


# ---- per-column transforms ---------------------------------------------------------------------
class _Transform:
    """One column's encoder. `blocks` lists (kind, width) in the order `encode` emits them."""

    kind = ""
    blocks: list[tuple[str, int]]

    def __init__(self, column: Column) -> None:
        self.column = column
        self.constant: Any = None
        self.all_null = False
        self.has_nulls = False
        self.null_rate = 0.0

    @property
    def width(self) -> int:
        return sum(w for _, w in self.blocks)

    def state(self) -> dict[str, Any]:
        return {"constant": _jsonable(self.constant), "all_null": self.all_null, "has_nulls": self.has_nulls,
                "null_rate": self.null_rate}

    def load(self, state: dict[str, Any]) -> None:
        self.constant, self.all_null = state["constant"], state["all_null"]
        self.has_nulls, self.null_rate = state["has_nulls"], state["null_rate"]

    #: uniform draws `encode` takes per row from its generator (see TableEncoder.transform_rows)
    draws_per_row = 0

    def _fit_nulls(self, series: pd.Series) -> pd.Series:
        nulls = series.isna()
        self.has_nulls = bool(nulls.any())
        self.null_rate = float(nulls.mean())
        self.all_null = bool(nulls.all())
        return series[~nulls]

    def _fit_null_counts(self, counts: ColumnCounts) -> None:
        # the same numbers as _fit_nulls: a mean of 0/1 values is their exact count over n
        self.has_nulls = counts.nulls > 0
        self.null_rate = counts.nulls / counts.n
        self.all_null = counts.nulls == counts.n


class _Continuous(_Transform):
    """Mode-specific normalisation of a number (continuous, integer or datetime column)."""

    #: the mode a value is encoded in: drawn from its posterior over the modes (`sample`, as
    #: mode-specific normalisation does), or its likeliest (`likeliest`). The draw is taken in both
    #: cases, so the other columns' encodings do not move. `likeliest` is a trial, not a default:
    #: on MedExp at 100 epochs it cost 0.013 of quality and moved no TSTR AUC beyond its noise
    #: (benchmarks/short_fits.py, `modes=likeliest`; docs/results.md). Not saved with a model.
    mode_choice = "sample"

    def __init__(self, column: Column, max_modes: int = 10, rare_count: int = 5) -> None:
        super().__init__(column)
        self.max_modes = max_modes
        self.rare_count = rare_count
        self.means: list[float] = []
        self.stds: list[float] = []
        self.weights: list[float] = []
        self.lo = self.hi = 0.0
        self.log = False  # modes fitted on log1p(x): heavy right tails (expenditures) need it
        self.levels = False  # one point mode per value: see `_level_modes`
        # the range outputs are folded into where the schema's bounds are still `learned` (None:
        # that side is public or open); see `safe_range`
        self.floor: float | None = None
        self.ceil: float | None = None
        self.blocks = []

    def _numbers(self, series: pd.Series) -> np.ndarray:
        if self.column.type == "datetime":
            values = pd.to_datetime(series)
            out = np.full(len(series), np.nan)
            ok = values.notna().to_numpy()
            out[ok] = values[ok].astype("int64").to_numpy() / 1e9  # seconds since the epoch
            return out
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)

    def fit(self, series: pd.Series, seed: int) -> None:
        present = self._numbers(self._fit_nulls(series))
        if self.all_null:
            self.blocks = []
            return
        self.lo, self.hi = float(present.min()), float(present.max())
        self.floor, self.ceil = self.safe_range(present)
        self.levels = False
        if self.lo == self.hi:
            self.constant = self.lo
        elif self._level_modes(present):
            self.levels = True
        else:
            self._fit_modes(present, seed)
            if self.lo >= 0 and self._uncovered(present) > 0.005:
                raw_modes = (self.means, self.stds, self.weights)
                self.log = True
                self._fit_modes(np.log1p(present), seed)
                if self._uncovered(present) >= self._uncovered_with(raw_modes, present, log=False):
                    self.log = False
                    self.means, self.stds, self.weights = raw_modes
        self.blocks = ([("scalar", 1), ("onehot", len(self.means))] if self.constant is None else [])
        if self.has_nulls:
            self.blocks.append(("binary", 1))

    def safe_range(self, present: np.ndarray) -> tuple[float | None, float | None]:
        """Where the schema's bounds are still `learned`, the range decoded values are kept in.

        A learned minimum or maximum is a value read from the private rows, often one person's.
        With k = `rare_category_count`, the floor is the k-th smallest training value and the ceil
        the k-th largest (each also within the declared bound): every value outside [floor, ceil]
        is held by fewer than k rows, and the floor and ceil themselves each have at least k rows
        at or beyond them. With fewer than 2k - 1 rows the two meet at the median. Decoding folds
        (reflects) outputs back into this range instead of clipping, so no value piles up on a
        bound. A side whose bound is public (not learned) or absent gives None: it clips as before.
        """
        col = self.column
        if "bounds" not in col.learned or col.type not in ("continuous", "integer") or not len(present):
            return None, None
        ordered = np.sort(present)
        k = max(int(self.rare_count), 1)
        lo, hi = (ordered[k - 1], ordered[-k]) if len(ordered) >= k else (ordered[0], ordered[-1])
        if lo > hi or len(ordered) < k:
            lo = hi = float(np.median(ordered))
            if col.type == "integer":
                lo = hi = float(np.round(lo))
        floor = max(float(lo), col.min) if col.min is not None else None
        ceil = min(float(hi), col.max) if col.max is not None else None
        return floor, ceil

    def _level_modes(self, values: np.ndarray) -> bool:
        """One point mode per distinct value, when the column takes at most `max_modes` values and
        each is held by `rare_count` rows or more (a plan's coinsurance rate, an age in bands, a
        count of few values); returns whether it applied.

        A mixture fitted to a few point masses may merge two close ones into one mode, and the
        generator then cannot tell them apart: on the RAND HIE table the rates 4.56 and 4.62,
        which separate the plans with and without an individual deductible, shared a mode, and the
        condition that depends on them lost 0.08 of TSTR AUC (benchmarks/README.md, "Tables from
        outside"). As point modes every level is a one-hot slot of its own, decoded exactly; each
        is held by as many rows as a categorical value must be to be sampled, so the rule for
        rare values is the same."""
        levels, counts = np.unique(values, return_counts=True)
        if not 2 <= len(levels) <= self.max_modes or int(counts.min()) < self.rare_count:
            return False
        self.means = levels.tolist()
        self.stds = [self._point_width()] * len(levels)
        self.weights = (counts / counts.sum()).tolist()
        return True

    def _point_width(self) -> float:
        """The standard deviation a mode of one value gets: a ten-thousandth of the column's range."""
        return max((self.hi - self.lo) * 1e-4, 1e-9)

    def _fit_modes(self, values: np.ndarray, seed: int) -> None:
        n_modes = int(min(self.max_modes, len(np.unique(values)), max(1, len(values) // _ROWS_PER_MODE)))
        floor = self._point_width()  # a point mass (exact zeros) has ~0 variance
        if n_modes == 1:
            # one Gaussian has a closed form: no mixture fit (a wide table of few rows fits in seconds)
            self.means, self.stds, self.weights = [float(values.mean())], [max(float(values.std()), floor)], [1.0]
            return
        gm = BayesianGaussianMixture(
            n_components=n_modes, weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=0.001, n_init=1, max_iter=100, random_state=seed,
            covariance_type="diag",  # one dimension: the same model as "full", without the Cholesky work
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter on point masses is expected
            gm.fit(values.reshape(-1, 1))
        keep = gm.weights_ > _MODE_WEIGHT_THRESHOLD
        self.means = gm.means_[keep, 0].tolist()
        self.stds = np.maximum(np.sqrt(gm.covariances_[keep].reshape(-1)), floor).tolist()
        weights = gm.weights_[keep]
        self.weights = (weights / weights.sum()).tolist()

    def _uncovered(self, values: np.ndarray) -> float:
        return self._uncovered_with((self.means, self.stds, self.weights), values, self.log)

    @staticmethod
    def _uncovered_with(modes: tuple[list[float], list[float], list[float]], values: np.ndarray, log: bool) -> float:
        """Share of values that no mode can represent within |alpha| < 0.99 (they would be clipped)."""
        x = np.log1p(values) if log else values
        means, stds = np.asarray(modes[0]), np.asarray(modes[1])
        return float((np.abs(x[:, None] - means) >= 0.99 * _STD_MULTIPLIER * stds).all(axis=1).mean())

    @property
    def draws_per_row(self) -> int:  # type: ignore[override]
        return 1 if self.constant is None and not self.all_null else 0  # one mode draw per row

    def _scaled(self, series: pd.Series) -> np.ndarray:
        values = self._numbers(series)
        return np.log1p(values) if self.log else values

    def null_fill(self, series: pd.Series) -> float:
        """The value `encode` gives missing cells of `series`: the median of its present values."""
        return self._fill_for(self._scaled(series))

    def _fill_for(self, values: np.ndarray) -> float:
        present = ~np.isnan(values)
        return float(np.median(values[present])) if present.any() else float(self.means[0])

    def encode(self, series: pd.Series, rng: np.random.Generator, fill: float | None = None) -> np.ndarray:
        """`fill`: the value for missing cells (default: the median of `series`; a batch of a larger
        table passes the whole column's, so that batches encode as the whole would)."""
        values = self._scaled(series)
        nulls = np.isnan(values)
        parts = []
        if self.constant is None and not self.all_null:
            if fill is None:
                fill = self._fill_for(values)
            filled = np.where(nulls, fill, values)
            means, stds = np.asarray(self.means), np.asarray(self.stds)
            logp = np.log(np.asarray(self.weights)) - np.log(stds) - 0.5 * ((filled[:, None] - means) / stds) ** 2
            # prefer modes that can represent the value within their range (|alpha| < 1), so that
            # tails are not clipped when a wider mode could hold them
            fits = np.abs(filled[:, None] - means) < 0.99 * _STD_MULTIPLIER * stds
            logp = np.where(fits | ~fits.any(axis=1, keepdims=True), logp, -np.inf)
            post = np.exp(logp - logsumexp(logp, axis=1, keepdims=True))
            # sample the mode from the posterior (not argmax), as mode-specific normalisation does
            mode = (post.cumsum(axis=1) > rng.random((len(values), 1))).argmax(axis=1)
            if self.mode_choice == "likeliest":
                mode = logp.argmax(axis=1)
            alpha = np.clip((filled - means[mode]) / (_STD_MULTIPLIER * stds[mode]), -0.99, 0.99)
            onehot = np.zeros((len(values), len(means)))
            onehot[np.arange(len(values)), mode] = 1.0
            parts += [alpha[:, None], onehot]
        if self.has_nulls:
            parts.append(nulls[:, None].astype(float))
        return np.hstack(parts) if parts else np.zeros((len(values), 0))

    def decode(self, block: np.ndarray, rng: np.random.Generator) -> pd.Series:
        n = len(block)
        if self.all_null:
            values = np.full(n, np.nan)
        elif self.constant is not None:
            values = np.full(n, float(self.constant))
        else:
            mode = block[:, 1 : 1 + len(self.means)].argmax(axis=1)
            values = np.asarray(self.means)[mode]  # a level column's value exactly, not one beside it
            if not self.levels:
                alpha = np.clip(block[:, 0], -1, 1)
                values = values + alpha * _STD_MULTIPLIER * np.asarray(self.stds)[mode]
            if self.log:
                values = np.expm1(values)
            values = self.bounded(values)
        if self.has_nulls and not self.all_null:
            values = np.where(block[:, -1] > 0.5, np.nan, values)
        return self._typed(values)

    def bounded(self, values: np.ndarray) -> np.ndarray:
        """Decoded values kept within the schema's bounds.

        Public bounds clip, as declared. A learned bound is never clipped onto (the observed
        extremes are single persons' values, and clipping would copy them into many synthetic
        rows): values beyond the `safe_range` are folded back inside it, like a reflection."""
        if self.floor is None and self.ceil is None:
            lo = self.column.min if self.column.min is not None else -np.inf
            hi = self.column.max if self.column.max is not None else np.inf
            return np.clip(values, lo, hi)
        lo = self.floor if self.floor is not None else (self.column.min if self.column.min is not None else -np.inf)
        hi = self.ceil if self.ceil is not None else (self.column.max if self.column.max is not None else np.inf)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            # one side open: reflect about the learned side only
            if np.isfinite(lo):
                values = np.where(values < lo, 2 * lo - values, values)
            if np.isfinite(hi):
                values = np.where(values > hi, 2 * hi - values, values)
            return values
        return _fold(values, lo, hi)

    def _typed(self, values: np.ndarray) -> pd.Series:
        if self.column.type == "datetime":
            return pd.Series(pd.to_datetime(np.round(values * 1e9), unit="ns"))
        if self.column.type == "integer":
            rounded = np.round(values)
            if np.isnan(rounded).any():
                return pd.Series(pd.array(rounded, dtype="Float64")).astype("Int64")
            return pd.Series(rounded.astype(np.int64))
        return pd.Series(values)

    def state(self) -> dict[str, Any]:
        return {**super().state(), "means": self.means, "stds": self.stds, "weights": self.weights,
                "lo": self.lo, "hi": self.hi, "log": self.log, "floor": self.floor, "ceil": self.ceil,
                "levels": self.levels}

    def load(self, state: dict[str, Any]) -> None:
        super().load(state)
        self.means, self.stds, self.weights = state["means"], state["stds"], state["weights"]
        self.lo, self.hi, self.log = state["lo"], state["hi"], state["log"]
        self.floor, self.ceil = state.get("floor"), state.get("ceil")  # absent in older model files
        self.levels = bool(state.get("levels", False))  # likewise
        modes = [("scalar", 1), ("onehot", len(self.means))] if self.constant is None and not self.all_null else []
        self.blocks = modes + ([("binary", 1)] if self.has_nulls else [])


class _Categorical(_Transform):
    """One-hot over the categories, with rare ones merged into one slot and nulls as a slot.

    The rare slot is trained on (its rows are real rows) but never decoded to a real value: the
    rare labels are not even kept. Decoding takes the most likely other slot instead, or emits
    `RARE_PLACEHOLDER` when no common category exists (every category is rare)."""

    def __init__(self, column: Column, rare_count: int) -> None:
        super().__init__(column)
        self.rare_count = rare_count
        self.slots: list[Any] = []      # category labels, one per one-hot unit, in order
        self.rare = 0                   # how many categories were merged into the rare slot
        self.counts: list[int] = []     # training count per slot (for condition sampling)
        self.blocks = []

    RARE, NULL = RARE_PLACEHOLDER, "__null__"

    def fit(self, series: pd.Series, seed: int) -> None:
        self.fit_counts(ColumnCounts.of(series))

    def fit_counts(self, counts: ColumnCounts) -> None:
        self._fit_null_counts(counts)
        declared = (list(self.column.categories) if self.column.categories is not None
                    else sorted(counts.labels.values(), key=str))
        labels = {str(c): c for c in declared}
        self.slots, self.rare, self.counts = [], 0, []
        rare_total = 0
        for key, label in labels.items():
            n = counts.by_text.get(key, 0)
            if n == 0:
                continue
            if n < self.rare_count:
                self.rare += 1
                rare_total += n
            else:
                self.slots.append(label)
                self.counts.append(n)
        if self.rare:
            self.slots.append(self.RARE)
            self.counts.append(rare_total)
        if self.has_nulls:
            self.slots.append(self.NULL)
            self.counts.append(counts.nulls)
        if len(self.slots) == 1:
            self.constant = self.slots[0]
        self.blocks = [] if len(self.slots) <= 1 else [("onehot", len(self.slots))]

    @property
    def common(self) -> bool:
        """Whether at least one real category is held by `rare_count` rows or more."""
        return any(s not in (self.RARE, self.NULL) for s in self.slots)

    def slot_of(self, values: pd.Series) -> np.ndarray:
        """Slot index per value; -1 for a value that is not a common category (a rare one or one
        the encoder never saw: the rare labels are not kept, so the two cannot be told apart)."""
        index = {str(s): i for i, s in enumerate(self.slots) if s not in (self.RARE, self.NULL)}
        null_slot = self.slots.index(self.NULL) if self.NULL in self.slots else -1
        out = np.full(len(values), -1, dtype=np.int64)
        for i, v in enumerate(values.to_numpy()):
            if v is None or (isinstance(v, float) and np.isnan(v)):
                out[i] = null_slot
            else:
                out[i] = index.get(str(v), -1)
        return out

    def encode(self, series: pd.Series, rng: np.random.Generator) -> np.ndarray:
        if not self.blocks:
            return np.zeros((len(series), 0))
        slots = self.slot_of(series)
        unseen = slots < 0
        if unseen.any():
            # a value outside what was fitted: treat it as rare (it is, in the training data)
            slots[unseen] = self.slots.index(self.RARE) if self.RARE in self.slots else int(np.argmax(self.counts))
        onehot = np.zeros((len(series), len(self.slots)))
        onehot[np.arange(len(series)), slots] = 1.0
        return onehot

    def labels_for(self, slots: np.ndarray, rng: np.random.Generator | None = None) -> pd.Series:
        """Labels of slot indices: the rare slot is the placeholder, never a real value."""
        labels = [None if s == self.NULL else s for s in self.slots]
        return pd.Series([labels[i] for i in slots], dtype=object)

    def decode(self, block: np.ndarray, rng: np.random.Generator | None = None) -> pd.Series:
        if self.all_null:
            return pd.Series([None] * len(block), dtype=object)
        if self.constant is not None:
            return self.labels_for(np.zeros(len(block), dtype=np.int64))
        scores = np.asarray(block, dtype=float)
        if self.RARE in self.slots and self.common:
            # the merged rare slot stands for categories held by a few persons: never emit it
            scores = scores.copy()
            scores[:, self.slots.index(self.RARE)] = -np.inf
        return self.labels_for(scores.argmax(axis=1))

    def state(self) -> dict[str, Any]:
        return {**super().state(), "slots": [_jsonable(s) for s in self.slots], "rare": self.rare,
                "counts": self.counts}

    def load(self, state: dict[str, Any]) -> None:
        super().load(state)
        self.slots, self.counts = state["slots"], state["counts"]
        rare = state["rare"]
        self.rare = len(rare) if isinstance(rare, list) else int(rare)  # older files listed the labels
        self.blocks = [] if len(self.slots) <= 1 else [("onehot", len(self.slots))]


class _Boolean(_Transform):
    """One unit per boolean (so wide 0/1 tables stay narrow), plus a null indicator if needed."""

    def __init__(self, column: Column) -> None:
        super().__init__(column)
        self.blocks = []
        self.rate = 0.0

    def fit(self, series: pd.Series, seed: int) -> None:
        self.fit_counts(ColumnCounts.of(series))

    def fit_counts(self, counts: ColumnCounts) -> None:
        self._fit_null_counts(counts)
        if not self.all_null:
            present = counts.n - counts.nulls
            self.rate = counts.truthy / present
            if counts.truthy in (0, present):
                self.constant = counts.truthy == present
        self.blocks = ([("binary", 1)] if self.constant is None and not self.all_null else [])
        if self.has_nulls and not self.all_null:
            self.blocks.append(("binary", 1))

    def encode(self, series: pd.Series, rng: np.random.Generator) -> np.ndarray:
        nulls = series.isna().to_numpy()
        parts = []
        if self.constant is None and not self.all_null:
            parts.append(_bool_values(series, nulls)[:, None].astype(float))
        if self.has_nulls and not self.all_null:
            parts.append(nulls[:, None].astype(float))
        return np.hstack(parts) if parts else np.zeros((len(series), 0))

    def decode(self, block: np.ndarray, rng: np.random.Generator) -> pd.Series:
        n = len(block)
        if self.all_null:
            return pd.Series([None] * n, dtype=object)
        values = np.full(n, bool(self.constant)) if self.constant is not None else block[:, 0] > 0.5
        series = pd.Series(values, dtype=object)
        if self.has_nulls:
            series[block[:, -1] > 0.5] = None
        return series

    def state(self) -> dict[str, Any]:
        return {**super().state(), "rate": self.rate}

    def load(self, state: dict[str, Any]) -> None:
        super().load(state)
        self.rate = state["rate"]
        self.blocks = ([("binary", 1)] if self.constant is None and not self.all_null else [])
        if self.has_nulls and not self.all_null:
            self.blocks.append(("binary", 1))


def _fold(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect values into [lo, hi] (a triangle wave: inside values are unchanged, a value just
    beyond a bound lands just inside it), so that out-of-range outputs spread instead of piling up."""
    if hi <= lo:
        return np.where(np.isnan(values), np.nan, lo)
    width = hi - lo
    t = np.mod(values - lo, 2 * width)
    folded = lo + np.where(t > width, 2 * width - t, t)
    return np.where((values >= lo) & (values <= hi), values, folded)


def _bool_values(series: pd.Series, nulls: np.ndarray) -> np.ndarray:
    """Booleans as a bool array, nulls read as False (they are carried by an indicator)."""
    return np.where(nulls, False, series.to_numpy(dtype=object)).astype(bool)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


# ---- the encoder ---------------------------------------------------------------------------------
class TableEncoder:
    """Encode a typed frame (see `Schema.parse`) into (X, C) and decode generator output back.

    Args:
        schema: a schema resolved against the data (`Schema.resolve`).
        max_modes: most Gaussian modes per continuous column.
        rare_category_count: categories held by fewer rows than this are merged into one slot that
            sampling never emits; with learned bounds, extremes held by fewer rows are never emitted.
        fit_rows: the mixtures are fitted on at most this many rows (a seeded sample), which keeps
            fitting time bounded on large tables.
    """

    def __init__(self, schema: Schema, *, max_modes: int = 10, rare_category_count: int = 5,
                 fit_rows: int = 5_000) -> None:
        self.schema = schema
        self.max_modes = max_modes
        self.rare_category_count = rare_category_count
        self.fit_rows = fit_rows
        self.transforms: dict[str, _Continuous | _Categorical | _Boolean] = {}
        self.condition: _Categorical | None = None
        for col in schema.modelled_columns:
            if col.name == schema.condition:
                self.condition = _Categorical(col, rare_category_count)
            elif col.type == "categorical":
                self.transforms[col.data_name] = _Categorical(col, rare_category_count)
            elif col.type == "boolean":
                self.transforms[col.data_name] = _Boolean(col)
            else:
                self.transforms[col.data_name] = _Continuous(col, max_modes, rare_category_count)
        self.spans: list[Span] = []

    # ---- fitting and layout ----------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, seed: int = 0, progress: FitProgress | None = None) -> TableEncoder:
        """Fit every column's transform. `progress(done, total, column)` is called after each
        column (a wide table takes a while; nothing else reports while it runs)."""
        rows = self.sample_rows(len(frame), seed)
        sample = frame if rows is None else frame.iloc[rows]
        counts = {name: ColumnCounts.of(frame[name]) for name in self.counted_columns}
        return self.fit_counted(sample, counts, seed, progress=progress)

    def sample_rows(self, n: int, seed: int) -> np.ndarray | None:
        """Positions of the rows the mixtures are fitted on, in order (None: all n rows)."""
        if n <= self.fit_rows:
            return None
        return np.random.default_rng(seed).choice(n, self.fit_rows, replace=False)

    @property
    def counted_columns(self) -> list[str]:
        """Columns fitted from counts over every row (categoricals, booleans, the condition)."""
        names = [name for name, t in self.transforms.items() if not isinstance(t, _Continuous)]
        return names + ([self.condition.column.data_name] if self.condition is not None else [])

    def fit_counted(self, sample: pd.DataFrame, counts: dict[str, ColumnCounts], seed: int = 0,
                    progress: FitProgress | None = None) -> TableEncoder:
        """Fit from the rows `sample_rows` chose (`sample`, in that order) and the counts of every
        row of the other columns: what `fit` does with a whole frame, for a table read in parts.

        Raises DataValidationError when the condition column holds fewer than two classes."""
        if self.condition is not None:
            self._check_condition(counts[self.condition.column.data_name])
        empty, constant, rare = [], [], []
        n_rare = 0  # categories merged into rare slots, over the `rare` columns
        total = len(self.transforms) + (self.condition is not None)
        for done, (name, transform) in enumerate(self.transforms.items(), start=1):
            # the mixture sees a bounded sample; category counts and null rates see every row
            if isinstance(transform, _Continuous):
                transform.fit(sample[name], seed)
            else:
                transform.fit_counts(counts[name])
            if transform.all_null:
                empty.append(name)
            elif isinstance(transform, _Categorical) and transform.rare and not transform.common:
                warnings.warn(f"column {name!r}: every category is held by fewer than {self.rare_category_count} "
                              f"rows; it is sampled as the placeholder {RARE_PLACEHOLDER!r}, never as a real value",
                              SynthguardWarning, stacklevel=2)
            elif transform.constant is not None:
                constant.append(name)
            elif isinstance(transform, _Categorical) and transform.rare:
                rare.append(name)
                n_rare += transform.rare
            if progress is not None:
                progress(done, total, name)
        if rare:
            where = f"column {rare[0]!r}" if len(rare) == 1 else f"{len(rare)} columns ({_some(rare)})"
            what = "1 category held by fewer than {} rows is" if n_rare == 1 else f"{n_rare} categories held by fewer than {{}} rows are"
            warnings.warn(f"{where}: {what.format(self.rare_category_count)} never sampled; their rows are modelled "
                          "as one merged slot that sampling replaces with the most likely common category",
                          SynthguardWarning, stacklevel=2)
        # one warning per kind: a wide code table can have hundreds of codes nobody in it has
        if len(empty) == 1:
            warnings.warn(f"column {empty[0]!r} is entirely empty; it is reproduced as empty", SynthguardWarning,
                          stacklevel=2)
        elif empty:
            warnings.warn(f"{len(empty)} columns are entirely empty and are reproduced as empty: {_some(empty)}",
                          SynthguardWarning, stacklevel=2)
        if len(constant) == 1:
            value = self.transforms[constant[0]].constant
            warnings.warn(f"column {constant[0]!r} is constant; it is reproduced as the constant {value!r}",
                          SynthguardWarning, stacklevel=2)
        elif constant:
            warnings.warn(f"{len(constant)} columns are constant and are reproduced as their constants: "
                          f"{_some(constant)}", SynthguardWarning, stacklevel=2)
        if self.condition is not None:
            self.condition.fit_counts(counts[self.condition.column.data_name])
            self.condition.blocks = [("onehot", len(self.condition.slots))]  # even one class is a label
            if self.condition.rare and self.condition.common:
                n_rare = self.condition.rare
                warnings.warn(f"condition column {self.condition.column.data_name!r}: {n_rare} class"
                              f"{'es' if n_rare > 1 else ''} held by fewer than {self.rare_category_count} rows "
                              f"{'are' if n_rare > 1 else 'is'} never sampled", SynthguardWarning, stacklevel=2)
            if progress is not None:
                progress(total, total, self.condition.column.data_name)
        self._layout()
        return self

    def _check_condition(self, counts: ColumnCounts) -> None:
        """A condition needs two classes. Without declared categories, fewer in the training rows is
        an error. With two or more declared, it is a warning: a shadow model of an audit fits on a
        random half of the rows, which may miss a small class that the whole table holds (the whole
        table is checked by `Schema.parse(..., whole=True)`)."""
        assert self.condition is not None
        name = self.condition.column.data_name
        classes = len(counts.by_text)
        if classes >= 2:
            return
        held = f"one class ({next(iter(counts.by_text))!r})" if classes else "no value"
        declared = self.condition.column.categories
        if declared is not None and len(declared) >= 2:
            warnings.warn(f"condition column {name!r} holds {held} in these training rows", SynthguardWarning,
                          stacklevel=3)
            return
        raise DataValidationError([f"condition column {name!r} holds {held}; a condition needs at least two classes "
                                   "(choose another condition column or none)"], "data")

    def _layout(self) -> None:
        self.spans = []
        start = 0
        for name, transform in self.transforms.items():
            for kind, width in transform.blocks:
                self.spans.append(Span(start, width, kind, name))
                start += width
        self.dim = start

    @property
    def cond_dim(self) -> int:
        return len(self.condition.slots) if self.condition is not None else 0

    @property
    def condition_frequencies(self) -> np.ndarray:
        """Training frequency of each condition slot: how release-time labels are drawn."""
        if self.condition is None:
            return np.zeros(0)
        counts = np.asarray(self.condition.counts, dtype=float)
        if self.condition.common and _Categorical.RARE in self.condition.slots:
            counts[self.condition.slots.index(_Categorical.RARE)] = 0.0  # rare classes are never sampled
        return counts / counts.sum()

    # ---- encode / decode -------------------------------------------------------------------------
    def transform(self, frame: pd.DataFrame, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Encode rows: X (n, dim) and the condition one-hot C (n, cond_dim), float32."""
        return self.transform_rows(frame, seed)

    def transform_rows(self, frame: pd.DataFrame, seed: int = 0, start: int = 0, total: int | None = None,
                       fills: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Encode rows `start` .. `start + len(frame)` of a table of `total` rows exactly as
        `transform` encodes them within the whole table, so that a table read in batches gives
        the same X. `fills`: each continuous column's `null_fill` over the whole table (needed
        only for columns with missing cells).

        `transform` uses one generator for the table, column after column; a column's mode draws
        are one uniform per row, so the generator is advanced to where the whole-table encoding
        would be at this column and row (PCG64 draws one 64-bit word per uniform)."""
        total = len(frame) if total is None else total
        fills = fills or {}
        blocks = []
        drawn = 0  # rows x columns of uniforms drawn before this column in the whole table
        for name, t in self.transforms.items():
            if not t.blocks:
                continue
            bits = np.random.PCG64(seed)
            bits.advance(drawn * total + start)
            rng = np.random.Generator(bits)
            blocks.append(t.encode(frame[name], rng, fills.get(name)) if isinstance(t, _Continuous)
                          else t.encode(frame[name], rng))
            drawn += t.draws_per_row
        x = np.hstack(blocks).astype(np.float32) if blocks else np.zeros((len(frame), 0), np.float32)
        cond = (self.condition.encode(frame[self.condition.column.data_name], np.random.default_rng(seed))
                if self.condition else np.zeros((len(frame), 0)))  # no draws: one-hot of the label
        return x, cond.astype(np.float32)

    @property
    def fill_columns(self) -> list[str]:
        """Columns whose missing cells `transform` fills with the column's median."""
        return [name for name, t in self.transforms.items() if isinstance(t, _Continuous) and t.draws_per_row]

    def null_fill(self, name: str, series: pd.Series) -> float:
        """The fill `transform` gives the missing cells of column `name` (one of `fill_columns`)
        in a table whose column is `series`."""
        transform = self.transforms[name]
        assert isinstance(transform, _Continuous)
        return transform.null_fill(series)

    def inverse_transform(self, x: np.ndarray, cond_slots: np.ndarray | None = None, seed: int = 0) -> pd.DataFrame:
        """Decode hard generator output (one-hot groups and 0/1 units) into a typed frame in the
        schema's column order. `cond_slots` gives each row's condition slot index."""
        rng = np.random.default_rng(seed)
        out: dict[str, pd.Series] = {}
        start = 0
        for name, transform in self.transforms.items():
            out[name] = transform.decode(x[:, start : start + transform.width], rng)
            start += transform.width
        if self.condition is not None:
            slots = cond_slots if cond_slots is not None else np.zeros(len(x), dtype=np.int64)
            out[self.condition.column.data_name] = self.condition.labels_for(np.asarray(slots))
        names = [c.data_name for c in self.schema.modelled_columns]
        return pd.DataFrame({n: out[n].reset_index(drop=True) for n in names})

    def smallest_category_count(self) -> int | None:
        """Training rows behind the rarest real category the model can emit (the merged rare slot
        is never emitted as a real value, so it does not count); None when there is none."""
        counts = [n for t in [*self.transforms.values(), self.condition] if isinstance(t, _Categorical)
                  for slot, n in zip(t.slots, t.counts, strict=True) if slot not in (_Categorical.NULL, _Categorical.RARE)]
        return min(counts) if counts else None

    def condition_slot(self, value: Any) -> int:
        """The condition slot for a user-given label, e.g. from `--condition hlth=poor`."""
        if self.condition is None:
            raise ValueError("this model has no condition column")
        slots = self.condition.slot_of(pd.Series([value], dtype=object))
        if slots[0] < 0:
            raise ValueError(f"{value!r} is not a category of the condition column {self.condition.column.data_name!r} "
                             f"held by at least {self.rare_category_count} training rows")
        return int(slots[0])

    # ---- JSON state ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "max_modes": self.max_modes, "rare_category_count": self.rare_category_count, "fit_rows": self.fit_rows,
            "columns": {name: t.state() for name, t in self.transforms.items()},
            "condition": self.condition.state() if self.condition else None,
        }

    @classmethod
    def from_state_dict(cls, schema: Schema, state: dict[str, Any]) -> TableEncoder:
        enc = cls(schema, max_modes=state["max_modes"], rare_category_count=state["rare_category_count"],
                  fit_rows=state["fit_rows"])
        if set(state["columns"]) != set(enc.transforms):
            raise ValueError("encoder state does not match the schema's columns")
        for name, transform in enc.transforms.items():
            transform.load(state["columns"][name])
        if enc.condition is not None:
            enc.condition.load(state["condition"])
            enc.condition.blocks = [("onehot", len(enc.condition.slots))]
        enc._layout()
        return enc


def _some(names: list[str], shown: int = 5) -> str:
    """'a', 'b', 'c' and 12 more."""
    listed = ", ".join(repr(n) for n in names[:shown])
    return listed + (f" and {len(names) - shown} more" if len(names) > shown else "")
