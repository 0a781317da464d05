"""`evaluate`: every utility metric of one synthetic table, gathered in a `UtilityReport`.

The report is the utility half of the release gate. Marginal checks (DWP, column shapes) and
relational checks (DWpre, downstream TSTR, pair trends) are reported side by side on purpose:
independently shuffled columns pass the first kind and fail the second. Distances to the closest
training record flag copying, which utility scores would otherwise reward.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SettingError, mapped_errors
from ..schema import Schema
from .distance import DistanceResult, distances
from .downstream import DownstreamResult, downstream
from .dwp import DwpResult, dwp
from .dwpre import DwpreResult, dwpre
from .features import metric_columns, resolve_target
from .quality import QualityResult, quality


def to_plain(value: Any) -> Any:
    """Plain JSON types: dataclasses and mappings to dicts, tuples and arrays to lists, numpy
    scalars to Python ones, and non-finite floats to None (JSON has no NaN)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [to_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


@dataclass(frozen=True)
class UtilityReport:
    """Every utility metric of one synthetic table against its real train and holdout rows."""

    target: str | None
    seed: int
    n_train: int
    n_holdout: int
    n_synthetic: int
    dwp: DwpResult
    dwpre: DwpreResult
    downstream: DownstreamResult | None  # None when there is no target column
    quality: QualityResult
    distance: DistanceResult

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


def evaluate(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    schema: Schema,
    target: str | None = None,
    seed: int = 0,
) -> UtilityReport:
    """Score `synthetic` against `train` (the rows the generator saw) and `holdout` (rows it never
    saw). `target` defaults to the schema's condition column; without either, downstream is None.
    The same inputs and seed give the same report. A missing column, an empty frame or an unknown
    target is a SettingError (a ValueError too), one line naming it."""
    with mapped_errors(SettingError):
        metric_columns(schema, train, holdout, synthetic)  # fail early, naming a missing column
        if len(train) == 0 or len(holdout) == 0 or len(synthetic) == 0:
            raise SettingError("train, holdout and synthetic need at least one row each")
        name = resolve_target(schema, target)
    return UtilityReport(
        target=name,
        seed=seed,
        n_train=len(train),
        n_holdout=len(holdout),
        n_synthetic=len(synthetic),
        dwp=dwp(train, synthetic, schema),
        dwpre=dwpre(train, holdout, synthetic, schema, seed=seed),
        downstream=downstream(train, holdout, synthetic, schema, name, seed=seed) if name is not None else None,
        quality=quality(train, synthetic, schema, name, seed=seed),
        distance=distances(train, holdout, synthetic, schema, seed=seed),
    )


def check_target(target: str | None, schema: Schema, source: str = "the data") -> None:
    """A train-synthetic-test-real target must be a modelled column of `schema` (resolved against
    the data); SettingError listing the modelled columns otherwise. None (the condition) passes."""
    if target is None:
        return
    names = [c.name for c in schema.modelled_columns]
    if target not in names:
        shown = ", ".join(repr(n) for n in names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        raise SettingError(f"target {target!r} is not a modelled column of {source} (modelled: {shown})",
                           setting="target")
