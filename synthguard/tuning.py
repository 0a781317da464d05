"""A tuned release: the best candidate that passes the policy, among checkpoints x defence settings.

    settings = TuneSettings(defenses=("none", "mixup:1", "mixup:4"), checkpoints=(20, 40, 80, 160, 300))
    outcome = release("ofp.csv", schema, "out/ofp", tune=settings)

For each defence setting the release model and every shadow keep their weights at the checkpoint
epochs (`Synthesizer(checkpoints=...)`): one fit and one audit give the leakage and the utility of
every training length up to the last. A candidate is (defence setting, checkpoint); it passes when
every check of the policy passes at that checkpoint, its privacy checks under the fixed-sequence
rule (`synthguard.gate.sequence_states`). The release writes the passing candidate with the best
primary utility metric (`UTILITY_METRICS`, default `tstr`), or refuses and shows the closest one.

Choosing among many candidates does not raise the false-release rate of a single verdict:

* within a defence setting the checkpoints are tested in order of training length, each at the
  full error rate, and none after the first failure (a fixed-sequence test: no split is needed);
* across the D defence settings the error is split evenly (Bonferroni): each setting's audit
  spends 1/D of the 5% (`AuditConfig.error_share`), over its looks as a sequential audit does.

So the chance that any released candidate sits at or over a limit is at most 2.5%, as for one
untuned release. Utility checks are point measurements, as in an untuned release.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import SettingError

__all__ = ["DEFAULT_CHECKPOINTS", "DEFAULT_DEFENSES", "UTILITY_METRICS", "TuneSettings", "UtilityMetric",
           "checkpoint_schedule", "parse_defense_setting", "register_utility_metric"]

#: the checkpoints a tuned release keeps by default (those past the recipe's epochs are dropped;
#: its last epoch is always one)
DEFAULT_CHECKPOINTS = (10, 20, 40, 80, 160, 300)
#: the defence settings a tuned release compares by default: no defence, and mixup at a small grid
#: of Beta(alpha, alpha) (larger alpha mixes records more evenly)
DEFAULT_DEFENSES = ("none", "mixup:1", "mixup:4")


@dataclass(frozen=True)
class UtilityMetric:
    """A primary utility metric a tuned release maximises: `read` takes the utility measurements
    (the release's `utility` JSON) and returns the value, or None when the data has none."""

    name: str
    description: str
    read: Callable[[Mapping[str, Any]], float | None]
    higher_is_better: bool = True

    def better(self, a: float, b: float) -> bool:
        return a > b if self.higher_is_better else a < b


UTILITY_METRICS: dict[str, UtilityMetric] = {}


def register_utility_metric(metric: UtilityMetric) -> UtilityMetric:
    """Add a primary metric that `TuneSettings.metric` may name (a name already taken is an error)."""
    if metric.name in UTILITY_METRICS:
        raise ValueError(f"a utility metric named {metric.name!r} is already registered")
    UTILITY_METRICS[metric.name] = metric
    return metric


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _dig(measurements: Mapping[str, Any], *path: str) -> float | None:
    value: Any = measurements
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return _number(value)


def _tstr(measurements: Mapping[str, Any]) -> float | None:
    """ROC AUC of a classifier trained on synthetic rows and tested on real held-out rows (R2 for a
    numeric target; for images, the small CNN's accuracy)."""
    down = measurements.get("downstream")
    if not isinstance(down, Mapping):
        return None
    if "accuracy_trained_on_synthetic" in down:  # images
        return _number(down["accuracy_trained_on_synthetic"])
    key = "r2" if down.get("task") == "regression" else "auc"
    return _dig(down, "tstr", key)


register_utility_metric(UtilityMetric("tstr", "TSTR: ROC AUC on real held-out rows of a model trained on synthetic "
                                              "rows (R2 for a numeric target, accuracy for images)", _tstr))
register_utility_metric(UtilityMetric("tstr_accuracy", "TSTR accuracy ratio (synthetic-trained over real-trained)",
                                      lambda m: _dig(m, "downstream", "accuracy_ratio")))
register_utility_metric(UtilityMetric("quality", "sdmetrics quality score",
                                      lambda m: _dig(m, "quality", "score")))
register_utility_metric(UtilityMetric("dwp", "DWP mean absolute difference", lambda m: _dig(m, "dwp", "mae"),
                                      higher_is_better=False))
register_utility_metric(UtilityMetric("dwpre", "DWpre mean gap", lambda m: _dig(m, "dwpre", "mean_abs_gap"),
                                      higher_is_better=False))
register_utility_metric(UtilityMetric("frechet", "Frechet distance of synthetic to held-out images",
                                      lambda m: _dig(m, "frechet", "synthetic_vs_holdout"), higher_is_better=False))


def parse_defense_setting(text: str) -> tuple[str, float | None]:
    """`none`, `mixup` or `mixup:ALPHA` (any registered defence by name) as (defence, alpha)."""
    from .gan.defenses import defense_arguments

    name, _, alpha_text = str(text).strip().partition(":")
    try:
        accepted = defense_arguments(name)
    except (ValueError, KeyError) as err:
        raise SettingError(f"defence setting {text!r}: {err}", setting="defenses") from None
    if not alpha_text:
        return name, None
    if "alpha" not in accepted:
        raise SettingError(f"defence setting {text!r}: only mixup takes an alpha (as mixup:ALPHA)",
                           setting="defenses")
    try:
        alpha = float(alpha_text)
    except ValueError:
        raise SettingError(f"defence setting {text!r}: alpha must be a number, got {alpha_text!r}",
                           setting="defenses") from None
    if not math.isfinite(alpha) or alpha <= 0:
        raise SettingError(f"defence setting {text!r}: alpha must be a positive number", setting="defenses")
    return name, alpha


@dataclass
class TuneSettings:
    """What a tuned release compares. `defenses`: settings as text (`none`, `mixup:1`, ...);
    `checkpoints`: epochs (None: `DEFAULT_CHECKPOINTS` up to the recipe's epochs); `metric`: the
    primary utility metric, a name in `UTILITY_METRICS` (None: `tstr`, or `quality` for a table
    without a target column). Checked in `__post_init__`: every problem in one SettingError."""

    defenses: Sequence[str] = DEFAULT_DEFENSES
    checkpoints: Sequence[int] | None = None
    metric: str | None = None
    parsed_: list[tuple[str, float | None]] = field(init=False, repr=False, default_factory=list)

    def __post_init__(self) -> None:
        problems = []
        self.defenses = tuple(self.defenses)
        if not self.defenses:
            problems.append("a tuned release needs at least one defence setting")
        for text in self.defenses:
            try:
                self.parsed_.append(parse_defense_setting(text))
            except SettingError as err:
                problems.append(str(err))
        if len(set(self.parsed_)) < len(self.parsed_):
            problems.append(f"the defence settings repeat one: {', '.join(self.defenses)}")
        if self.checkpoints is not None:
            try:
                from .gan.trainer import whole_setting

                self.checkpoints = tuple(sorted({whole_setting("each checkpoint", e, 1) for e in self.checkpoints}))
            except (TypeError, ValueError) as err:
                problems.append(str(err))
        if self.metric is not None and self.metric not in UTILITY_METRICS:
            problems.append(f"unknown utility metric {self.metric!r} (one of {', '.join(UTILITY_METRICS)})")
        if problems:
            raise SettingError("; ".join(problems), setting="tune")

    def schedule(self, epochs: int) -> tuple[int, ...]:
        return checkpoint_schedule(epochs, self.checkpoints)

    def primary(self, has_target: bool) -> UtilityMetric:
        return UTILITY_METRICS[self.metric or ("tstr" if has_target else "quality")]


def checkpoint_schedule(epochs: int, checkpoints: Sequence[int] | None = None) -> tuple[int, ...]:
    """The epochs a tuned recipe keeps, its last epoch among them: the given checkpoints, or those
    of `DEFAULT_CHECKPOINTS` short of the last epoch."""
    if checkpoints is not None:  # the user's own: one past the last epoch is refused by the recipe
        return tuple(sorted({*checkpoints, epochs}))
    return tuple(sorted({*(e for e in DEFAULT_CHECKPOINTS if e < epochs), epochs}))


def setting_label(defense: str, alpha: float | None) -> str:
    return defense if alpha is None else f"{defense} (alpha {alpha:g})"
