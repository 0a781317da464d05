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
