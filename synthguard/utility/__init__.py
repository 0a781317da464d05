"""Utility metrics of a synthetic table: the utility half of the release gate.

`evaluate(train, holdout, synthetic, schema)` runs them all and returns a `UtilityReport`; the
single metrics (`dwp`, `dwpre`, `downstream`, `quality`, `distances`) can be run alone.
"""

from .distance import DistanceResult, distances
from .downstream import DownstreamResult, DownstreamScores, downstream
from .dwp import DwpPoint, DwpResult, NumericShift, dwp
from .dwpre import DwprePoint, DwpreResult, dwpre
from .evaluate import UtilityReport, evaluate
from .features import FeatureSpace, fit_features
from .quality import QualityResult, quality

__all__ = [
    "evaluate",
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
