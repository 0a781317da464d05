"""Utility metrics of a synthetic table: the utility half of the release gate.

`evaluate(train, holdout, synthetic, schema)` runs them all and returns a `UtilityReport`; the
single metrics (`dwp`, `dwpre`, `downstream`, `quality`, `distances`) can be run alone. On files
(CSV/parquet), `synthguard.api.evaluate_files` reads, parses and splits them first.
"""

from .distance import DistanceResult, distances
from .downstream import DownstreamResult, DownstreamScores, downstream
from .dwp import DwpPoint, DwpResult, NumericShift, dwp
from .dwpre import DwprePoint, DwpreResult, dwpre
from .evaluate import UtilityReport, check_target, evaluate
from .features import FeatureSpace, fit_features
from .quality import QualityResult, quality

__all__ = [
    "evaluate",
    "check_target",
    "UtilityReport",
    "dwp",
    "DwpResult",
    "DwpPoint",
    "NumericShift",
    "dwpre",
    "DwpreResult",
    "DwprePoint",
    "downstream",
    "DownstreamResult",
    "DownstreamScores",
    "quality",
    "QualityResult",
    "distances",
    "DistanceResult",
    "FeatureSpace",
    "fit_features",
]
