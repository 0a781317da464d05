"""Figures for audit reports, written as PNG files.

Plain functions only. Each builds a ``matplotlib.figure.Figure`` directly (no pyplot, so
no GUI backend or global state is involved) and writes it atomically: the PNG is
rendered to a temporary file beside the target and renamed onto it, so a reader never
sees a half-written figure.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from synthguard.attacks import roc
from synthguard.io import atomic_path

__all__ = ["plot_roc"]

# Lowest FPR/TPR shown: 1e-5 is far below what any realistic audit can resolve.
_ROC_FLOOR = 1e-5


def _looks_like_roc(a: np.ndarray, b: np.ndarray) -> bool:
    """True if (a, b) is plausibly an (fpr, tpr) curve rather than (scores, members)."""
    if a.dtype.kind != "f" or b.dtype.kind != "f" or a.ndim != 1 or a.shape != b.shape or a.size < 2:
        return False
    ends_ok = a[0] == 0 and b[0] == 0 and a[-1] == 1 and b[-1] == 1
    monotone = bool(np.all(np.diff(a) >= 0) and np.all(np.diff(b) >= 0))
    return bool(ends_ok and monotone)


def _curve(
    pair: tuple[ArrayLike, ArrayLike], inputs: Literal["auto", "roc", "scores"]
) -> tuple[np.ndarray, np.ndarray, float, int | None]:
    """Return (fpr, tpr, auc, n_negatives or None) for one legend entry."""
    first, second = pair
    a, b = np.asarray(first), np.asarray(second)
    as_roc = inputs == "roc" or (inputs == "auto" and _looks_like_roc(a, b))
    if as_roc:
        fpr, tpr = a.astype(np.float64), b.astype(np.float64)
        if fpr.shape != tpr.shape or fpr.ndim != 1:
            raise ValueError("an (fpr, tpr) curve needs two 1-D arrays of the same length")
        # Trapezoids over every ROC point equal the Mann-Whitney AUC (ties are diagonals).
        area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
        return fpr, tpr, area, None
    fpr, tpr, _ = roc.roc_points(a, b)
    n_neg = int(np.count_nonzero(~np.asarray(b, dtype=bool)))
    return fpr, tpr, roc.auc(a, b), n_neg


def plot_roc(
    curves: Mapping[str, tuple[ArrayLike, ArrayLike]],
    path: str | os.PathLike[str],
    title: str = "Membership-inference ROC",
    *,
    inputs: Literal["auto", "roc", "scores"] = "auto",
) -> Path:
    """Write a log-log ROC plot of one or more attacks to ``path`` (PNG) and return it.

    ``curves`` maps a legend name to either ``(fpr, tpr)`` arrays (as from
    :func:`synthguard.attacks.roc.roc_points`) or ``(scores, members)``. With
    ``inputs="auto"`` a pair counts as ``(fpr, tpr)`` when both are float arrays that
    rise from (0, 0) to (1, 1); pass ``"roc"`` or ``"scores"`` to say so explicitly.

    Both axes run from the smallest resolvable rate (1 / number of non-members, or the
    smallest non-zero FPR given, but not below 1e-5) to 1, where the low-FPR regime
    that matters for privacy is visible. Points at FPR or TPR 0 are drawn on the axis
    edge. The legend gives each curve's AUC.
    """
    if inputs not in ("auto", "roc", "scores"):
        raise ValueError(f"inputs must be 'auto', 'roc' or 'scores', got {inputs!r}")
    if not curves:
        raise ValueError("plot_roc needs at least one curve")
    prepared = [(name, *_curve(pair, inputs)) for name, pair in curves.items()]

    smallest = []
    for _, fpr, _, _, n_neg in prepared:
        positive = fpr[fpr > 0]
        smallest.append(1.0 / n_neg if n_neg else (float(positive.min()) if positive.size else 1.0))
    # Round down to a power of ten so the axis starts on a labelled tick.
    lo = max(_ROC_FLOOR, 10.0 ** math.floor(math.log10(min(smallest))))
    lo = min(lo, 1e-1)

    fig = Figure(figsize=(5.5, 5.0), dpi=120)
    ax = fig.add_subplot()
    for name, fpr, tpr, area, _ in prepared:
        ax.plot(np.clip(fpr, lo, 1.0), np.clip(tpr, lo, 1.0), lw=1.5, label=f"{name} (AUC={area:.3f})")
    ax.plot([lo, 1.0], [lo, 1.0], ls="--", lw=1.0, color="grey", label="chance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, 1.0)
    ax.set_ylim(lo, 1.0)
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()

    target = Path(path)
    with atomic_path(target) as tmp:
        # The temp name ends in ".tmp", so the format must be given explicitly.
        fig.savefig(tmp, format="png")
    return target


# ---- utility figures -------------------------------------------------------------------------
def _field(point: object, *names: str) -> object:
    """The first of `names` found on a point given as a dataclass/object or a mapping."""
    for name in names:
        if isinstance(point, Mapping) and name in point:
            return point[name]
        if hasattr(point, name):
            return getattr(point, name)
    raise ValueError(f"a point needs one of {', '.join(names)}")


def _pairs(points: Any, container: str, items: str, first: tuple[str, ...], second: tuple[str, ...]) -> list[tuple[float, float, str]]:
    """(x, y, label) from a report, a result holding `items`, or a sequence of points or pairs."""
    if hasattr(points, container):  # a UtilityReport
        points = getattr(points, container)
    if isinstance(points, Mapping) and container in points:  # UtilityReport.to_dict()
        points = points[container]
    if hasattr(points, items):
        points = getattr(points, items)
    elif isinstance(points, Mapping) and items in points:
        points = points[items]
    out: list[tuple[float, float, str]] = []
    for p in points:
        if isinstance(p, (tuple, list)) and len(p) == 2:
            x, y, kind = p[0], p[1], ""
        else:
            x, y = _field(p, *first), _field(p, *second)
            kind = str(p.get("kind", "")) if isinstance(p, Mapping) else str(getattr(p, "kind", ""))
        if x is None or y is None:
            continue  # an undefined score has no place on the plot
        out.append((float(x), float(y), kind))
    return out


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png")  # the temp name ends in ".tmp": give the format
    return target


def plot_dwp(report_or_points: object, path: str | os.PathLike[str], title: str = "Dimension-wise probability") -> Path:
    """Write the medGAN DWP scatter (real-train vs synthetic share of each binary dimension) to
    ``path`` (PNG) and return it.

    Accepts a ``UtilityReport``, a ``DwpResult``, their ``to_dict()`` forms, or a sequence of
    points (objects or mappings with ``p_real`` and ``p_synthetic``, or ``(p_real, p_syn)``
    pairs). Points on the y = x diagonal are dimensions whose share the synthetic data matches.
    """
    pts = _pairs(report_or_points, "dwp", "dimensions", ("p_real",), ("p_synthetic", "p_syn"))
    x = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    mae = float(np.mean(np.abs(x - y))) if pts else float("nan")

    fig = Figure(figsize=(5.0, 5.0), dpi=120)
    ax = fig.add_subplot()
    ax.plot([0.0, 1.0], [0.0, 1.0], ls="--", lw=1.0, color="grey", label="y = x")
    ax.scatter(x, y, s=16, alpha=0.7, label=f"{len(pts)} dimensions")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_aspect("equal")
    ax.set_xlabel("Share in real training data")
    ax.set_ylabel("Share in synthetic data")
    ax.set_title(f"{title} (MAE={mae:.4f})")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    return _save(fig, path)


def plot_dwpre(points: object, path: str | os.PathLike[str], title: str = "Dimension-wise prediction") -> Path:
    """Write the DWpre scatter (score of a model trained on real vs on synthetic rows, both
    tested on real holdout rows; F1 for categorical columns, R² for numeric ones) to ``path``
    (PNG) and return it.

    Accepts a ``UtilityReport``, a ``DwpreResult``, their ``to_dict()`` forms, or a sequence of
    points (with ``real_score`` and ``synthetic_score``, or ``(real, synthetic)`` pairs).
    Undefined scores are left out. R² below -1 is drawn at -1, on the axis edge.
    """
    pts = _pairs(points, "dwpre", "columns", ("real_score",), ("synthetic_score",))
    lo = min([0.0] + [min(p[0], p[1]) for p in pts])
    lo = max(lo, -1.0)
    lo = lo - 0.02 * (1.0 - lo) if lo < 0 else 0.0

    fig = Figure(figsize=(5.0, 5.0), dpi=120)
    ax = fig.add_subplot()
    ax.plot([lo, 1.0], [lo, 1.0], ls="--", lw=1.0, color="grey", label="y = x")
    for kind, marker, name in (("f1", "o", "F1 (categorical)"), ("r2", "s", "R² (numeric)"), ("", "o", "score")):
        sel = [p for p in pts if p[2] == kind]
        if sel:
            ax.scatter(np.clip([p[0] for p in sel], lo, 1.0), np.clip([p[1] for p in sel], lo, 1.0),
                       s=18, alpha=0.7, marker=marker, label=f"{name}, {len(sel)} columns")
    ax.set_xlim(lo, 1.0)
    ax.set_ylim(lo, 1.0)
    ax.set_aspect("equal")
    ax.set_xlabel("Trained on real data")
    ax.set_ylabel("Trained on synthetic data")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    return _save(fig, path)


__all__ += ["plot_dwp", "plot_dwpre"]


# ---- tuned releases ----------------------------------------------------------------------------
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h")
_LIMIT_COLOUR = "firebrick"


def _get(obj: object, name: str, default: Any = None) -> Any:
    """`name` of a dataclass/object or a mapping (a `Tuning` or its `to_dict` form), else `default`."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _ci(value: Any) -> tuple[float, float] | None:
    pair = list(value) if isinstance(value, (list, tuple)) else []
    if len(pair) != 2 or any(_number(v) is None for v in pair):
        return None
    return float(pair[0]), float(pair[1])


class _Candidate:
    """One candidate of a tuned release as the figures draw it (from a `TuningCandidate` or its dict)."""

    def __init__(self, index: int, raw: object) -> None:
        from synthguard.tuning import setting_label

        strongest = _get(raw, "strongest", {})
        self.index = index
        self.key = (str(_get(raw, "defense", "?")), _number(_get(raw, "alpha")))
        self.label = setting_label(*self.key)
        self.epochs = int(_get(raw, "epochs", 0) or 0)
        self.utility = _number(_get(raw, "utility"))
        self.passed = _get(raw, "passed") is True
        self.auc, self.auc_ci = _number(_get(strongest, "auc")), _ci(_get(strongest, "auc_ci"))
        self.tpr, self.tpr_ci = _number(_get(strongest, "tpr_at_1pct")), _ci(_get(strongest, "tpr_at_1pct_ci"))
        self.checks = list(_get(raw, "checks", ()) or ())

    def value(self, which: str) -> tuple[float | None, tuple[float, float] | None]:
        return (self.auc, self.auc_ci) if which == "auc" else (self.tpr, self.tpr_ci)

    def describe(self) -> str:
        return f"{self.label}, {self.epochs} epochs"


def _candidates(tuning: object) -> list[_Candidate]:
    return [_Candidate(i, c) for i, c in enumerate(_get(tuning, "candidates", ()) or ())]


def _groups(candidates: list[_Candidate]) -> list[list[_Candidate]]:
    """Candidates by defence setting, in the order the settings were tried, each by training length."""
    groups: dict[tuple[str, float | None], list[_Candidate]] = {}
    for c in candidates:
        groups.setdefault(c.key, []).append(c)
    return [sorted(g, key=lambda c: c.epochs) for g in groups.values()]


def _marked(tuning: object, candidates: list[_Candidate]) -> tuple[_Candidate | None, str]:
    """The candidate to ring, and its legend name: the chosen one, or for a refusal the closest."""
    for key, name in (("chosen", "chosen"), ("closest", "closest (refused)")):
        index = _get(tuning, key)
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(candidates):
            return candidates[index], name
    return None, ""


def _limits(tuning: object, policy: object) -> tuple[float | None, float | None]:
    """(AUC limit, TPR at 1% FPR limit): the policy's, or without a policy the limits the candidates'
    privacy checks were judged against (None where there is none)."""
    if policy is not None:
        privacy = _get(policy, "privacy", {})
        return _number(_get(privacy, "max_auc")), _number(_get(privacy, "max_tpr_at_1pct_fpr"))
    found: dict[str, float | None] = {"auc": None, "tpr": None}
    for c in _candidates(tuning):
        for check in c.checks:
            name = str(_get(check, "name", ""))
            if _get(check, "kind") != "privacy":
                continue
            which = "auc" if ": AUC," in name else "tpr" if ": TPR at 1% FPR," in name else None
            if which and found[which] is None:
                found[which] = _number(_get(check, "limit"))
    return found["auc"], found["tpr"]


def _ring(ax: Any, x: float, y: float, name: str) -> None:
    refused = name != "chosen"
    ax.scatter([x], [y], s=280, facecolors="none", edgecolors=_LIMIT_COLOUR if refused else "black",
               linewidths=2.0, linestyles="--" if refused else "-", zorder=6)


def _legend_handles(groups: list[list[_Candidate]], marked: _Candidate | None, name: str,
                    limit_shown: bool, extra: str = "") -> list[Any]:
    from matplotlib.lines import Line2D

    handles: list[Any] = [Line2D([], [], color=f"C{i % 10}", marker=_MARKERS[i % len(_MARKERS)], label=g[0].label)
                          for i, g in enumerate(groups)]
    handles += [Line2D([], [], ls="", marker="o", color="dimgrey", label="passes every check"),
                Line2D([], [], ls="", marker="o", color="dimgrey", mfc="none", label="fails, or not tested")]
    if limit_shown:
        handles.append(Line2D([], [], ls="--", color=_LIMIT_COLOUR, label="policy limit"))
    handles.append(Line2D([], [], ls=":", color="grey", label="chance (AUC 0.5)"))
    if marked is not None:
        refused = name != "chosen"
        handles.append(Line2D([], [], ls="", marker="o", ms=14, mfc="none", mew=2.0,
                              mec=_LIMIT_COLOUR if refused else "black",
                              label=f"{name}: {marked.describe()}{extra}"))
    return handles


def _finish(fig: Figure, handles: list[Any], title: str, path: str | os.PathLike[str]) -> Path:
    """Title above, one legend for both panels below, then the atomic save."""
    ncol = min(len(handles), 4)
    rows = math.ceil(len(handles) / ncol)
    fig.suptitle(title, fontsize="medium")
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize="small", frameon=False)
    # tight_layout leaves room for the title itself; the rectangle keeps the legend's rows free
    fig.tight_layout(rect=(0.0, min(0.45, (0.1 + 0.22 * rows) / fig.get_figheight()), 1.0, 1.0))
    return _save(fig, path)


def _draw(ax: Any, xs: list[float], c_list: list[_Candidate], which: str, colour: str, marker: str) -> None:
    """One setting's points (filled if passing, hollow if not) joined in order, with interval error bars."""
    ys = [c.value(which)[0] for c in c_list]
    ax.plot(xs, ys, color=colour, lw=1.2, alpha=0.7, zorder=2)
    for x, c in zip(xs, c_list, strict=True):
        y, ci = c.value(which)
        assert y is not None
        if ci is not None:
            ax.errorbar([x], [y], yerr=[[max(y - ci[0], 0.0)], [max(ci[1] - y, 0.0)]], fmt="none",
                        ecolor=colour, elinewidth=1.0, capsize=2.5, alpha=0.6, zorder=3)
        ax.scatter([x], [y], s=42, marker=marker, zorder=4, linewidths=1.4, edgecolors=colour,
                   facecolors=colour if c.passed else "white")


def plot_frontier(tuning: object, policy: object, path: str | os.PathLike[str],
                  title: str = "Privacy-utility frontier") -> Path:
    """Write the privacy-utility frontier of a tuned release to ``path`` (PNG) and return it.

    ``tuning`` is a `synthguard.passport.Tuning` (or its ``to_dict`` form), ``policy`` the release's
    `Policy` (or its dict; None: no limit lines). Two panels side by side: the strongest attack's AUC
    (left) and its TPR at 1% FPR (right), each with its interval as error bars, against the primary
    utility metric. One colour and marker per defence setting, its checkpoints joined in order of
    training length and labelled with their epochs; passing candidates filled, failed or untested
    ones hollow; the policy's limits dashed. The chosen candidate is ringed, or for a refusal the
    closest one (dashed red ring). Candidates without a utility value cannot be placed: the title
    says how many were left out.
    """
    candidates = _candidates(tuning)
    metric = str(_get(tuning, "metric", "utility"))
    better = "higher" if _get(tuning, "higher_is_better", True) is not False else "lower"
    placed = [c for c in candidates if c.utility is not None]
    groups = _groups(placed)
    marked, name = _marked(tuning, candidates)
    limits = dict(zip(("auc", "tpr"), _limits(tuning, policy), strict=True))

    fig = Figure(figsize=(11.5, 5.4), dpi=120)
    axes = fig.subplots(1, 2)
    for ax, which, label in ((axes[0], "auc", "Strongest attack: AUC"),
                             (axes[1], "tpr", "Strongest attack: TPR at 1% FPR")):
        for i, group in enumerate(groups):
            shown = [c for c in group if c.value(which)[0] is not None]
            colour, marker = f"C{i % 10}", _MARKERS[i % len(_MARKERS)]
            _draw(ax, [float(c.utility) for c in shown if c.utility is not None], shown, which, colour, marker)
            for c in shown:
                ax.annotate(str(c.epochs), (c.utility, c.value(which)[0]), xytext=(5, 4), textcoords="offset points",
                            fontsize=7.5, color=colour)
        limit = limits[which]
        if limit is not None:
            ax.axhline(limit, ls="--", lw=1.2, color=_LIMIT_COLOUR, zorder=1)
        if which == "auc":
            ax.axhline(0.5, ls=":", lw=1.0, color="grey", zorder=1)  # a guessing attacker
        if marked is not None and marked.utility is not None and marked.value(which)[0] is not None:
            _ring(ax, marked.utility, float(marked.value(which)[0] or 0.0), name)
        if not placed:
            ax.text(0.5, 0.5, f"no candidate has a {metric} value", ha="center", va="center",
                    transform=ax.transAxes, color="grey")
        ax.set_xlabel(f"{metric} ({better} is better)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.margins(x=0.12, y=0.1)

    left_out = len(candidates) - len(placed)
    heading = f"{title}: {len(candidates)} candidate{'s' if len(candidates) != 1 else ''}"
    if left_out:
        heading += f" ({left_out} without a {metric} value left out)"
    extra = f" (no {metric} value: not drawn)" if marked is not None and marked.utility is None else ""
    handles = _legend_handles(groups, marked, name, any(v is not None for v in limits.values()), extra)
    return _finish(fig, handles, heading, path)


def plot_leakage_curve(tuning: object, path: str | os.PathLike[str], title: str = "Leakage over training",
                       *, policy: object = None) -> Path:
    """Write how a tuned release's leakage grows with training to ``path`` (PNG) and return it.

    The strongest attack's AUC (left) and TPR at 1% FPR (right), each with its interval, against the
    epochs of each checkpoint; one line per defence setting, nudged apart so settings at the same
    epochs stand side by side. The epoch axis is logarithmic when the checkpoints span more than 8x.
    Dashed lines are the privacy limits: the ``policy``'s, or without one those the candidates' checks
    were judged against. Filled points pass every check; the chosen (or closest) candidate is ringed.
    """
    candidates = _candidates(tuning)
    groups = _groups(candidates)
    marked, name = _marked(tuning, candidates)
    limits = dict(zip(("auc", "tpr"), _limits(tuning, policy), strict=True))
    epochs = sorted({c.epochs for c in candidates if c.epochs > 0})
    log_x = bool(epochs) and epochs[-1] / epochs[0] > 8

    def nudged(epoch: int, i: int) -> float:
        shift = (i - (len(groups) - 1) / 2) * 0.035
        if log_x:
            return epoch * (1.0 + shift)
        span = (epochs[-1] - epochs[0]) if len(epochs) > 1 else max(epoch, 1)
        return epoch + shift * span

    fig = Figure(figsize=(11.5, 5.0), dpi=120)
    axes = fig.subplots(1, 2)
    for ax, which, label in ((axes[0], "auc", "Strongest attack: AUC"),
                             (axes[1], "tpr", "Strongest attack: TPR at 1% FPR")):
        for i, group in enumerate(groups):
            shown = [c for c in group if c.value(which)[0] is not None and c.epochs > 0]
            xs = [nudged(c.epochs, i) for c in shown]
            _draw(ax, xs, shown, which, f"C{i % 10}", _MARKERS[i % len(_MARKERS)])
            if marked is not None and marked in shown and marked.value(which)[0] is not None:
                _ring(ax, xs[shown.index(marked)], float(marked.value(which)[0] or 0.0), name)
        limit = limits[which]
        if limit is not None:
            ax.axhline(limit, ls="--", lw=1.2, color=_LIMIT_COLOUR, zorder=1)
        if which == "auc":
            ax.axhline(0.5, ls=":", lw=1.0, color="grey", zorder=1)
        if log_x:
            ax.set_xscale("log")
            ax.set_xlim(epochs[0] / 1.35, epochs[-1] * 1.35)
        else:
            ax.margins(x=0.08)
        if epochs:
            ax.set_xticks(epochs, [str(e) for e in epochs])
            ax.set_xticks([], minor=True)
        ax.margins(y=0.1)
        ax.set_xlabel("Training epochs" + (" (log scale)" if log_x else ""))
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)

    heading = f"{title}: {len(groups)} defence setting{'s' if len(groups) != 1 else ''}"
    handles = _legend_handles(groups, marked, name, any(v is not None for v in limits.values()))
    return _finish(fig, handles, heading, path)


__all__ += ["plot_frontier", "plot_leakage_curve"]
