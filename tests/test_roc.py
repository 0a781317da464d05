"""Tests for the ROC statistics module and the ROC plot.

The outside check: the per-record attack scores published with Ji et al. (INFOCOM 2023)
in tests/data/paper_scores/ must give the AUCs of the paper's Table II and the TPR
figures listed in that folder's README.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from synthguard.attacks import roc
from synthguard.attacks.roc import RocSummary
from synthguard.plots import plot_roc

DATA = Path(__file__).parent / "data" / "paper_scores"

# (file, score column, AUC) for every file and column in the README's table.
PAPER_AUCS = [
    ("lira_unprotected", 0, 0.8637),
    ("lira_unprotected", 1, 0.8041),
    ("lira_mixup", 0, 0.6615),
    ("lira_mixup", 1, 0.6701),
    ("lira_relaxloss", 0, 0.5857),
    ("lira_relaxloss", 1, 0.5783),
    ("lira_pargan", 0, 0.7781),
    ("lira_pargan", 1, 0.6541),
    ("logan_unprotected", 0, 0.8346),
    ("logan_mixup", 0, 0.5789),
    ("logan_relaxloss", 0, 0.7703),
    ("logan_pargan", 0, 0.6571),
    ("ganleaks_unprotected", 0, 0.5317),
    ("ganleaks_mixup", 0, 0.5487),
    ("ganleaks_relaxloss", 0, 0.4322),
    ("ganleaks_pargan", 0, 0.5361),
    ("adaptive_mixedquery_naturalrefs", 0, 0.7283),
    ("adaptive_mixedquery_mixuprefs", 0, 0.5975),
]

# (file, FPR, TPR) from the README; LiRA figures are for the first (natural-shadow) column.
PAPER_TPRS = [
    ("lira_unprotected", 0.01, 0.348),
    ("lira_unprotected", 0.001, 0.227),
    ("lira_mixup", 0.01, 0.049),
    ("lira_mixup", 0.001, 0.013),
    ("logan_unprotected", 0.01, 0.187),
    ("logan_unprotected", 0.001, 0.053),
    ("logan_mixup", 0.01, 0.024),
    ("logan_mixup", 0.001, 0.005),
]

# (rows, members) from the README, to catch a truncated or swapped data file.
PAPER_SIZES = {"lira": (10000, 5000), "logan": (19962, 5000), "ganleaks": (2000, 1000), "adaptive": (10000, 5000)}


@cache
def load_paper(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Score columns (rows x k) and membership (bool) of one published file."""
    rows = np.asarray(json.loads((DATA / f"{name}.json").read_text()), dtype=np.float64)
    return rows[:, :-1], rows[:, -1] == 1


# ------------------------------------------------------------------ outside check


def test_every_table_file_is_checked() -> None:
    on_disk = {p.stem for p in DATA.glob("*.json")}
    assert on_disk == {name for name, _, _ in PAPER_AUCS}


@pytest.mark.parametrize("name", sorted({n for n, _, _ in PAPER_AUCS}))
def test_paper_file_sizes(name: str) -> None:
    scores, members = load_paper(name)
    assert (scores.shape[0], int(members.sum())) == PAPER_SIZES[name.split("_")[0]]


@pytest.mark.parametrize(("name", "column", "expected"), PAPER_AUCS)
def test_paper_auc(name: str, column: int, expected: float) -> None:
    scores, members = load_paper(name)
    assert roc.auc(scores[:, column], members) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(("name", "fpr", "expected"), PAPER_TPRS)
def test_paper_tpr_at_fpr(name: str, fpr: float, expected: float) -> None:
    scores, members = load_paper(name)
    assert roc.tpr_at_fpr(scores[:, 0], members, fpr) == pytest.approx(expected, abs=1e-3)


def test_paper_summary_matches_point_functions() -> None:
    scores, members = load_paper("lira_unprotected")
    s = roc.summarize(scores[:, 0], members, n_bootstrap=200)
    assert s.auc == pytest.approx(0.8637, abs=1e-4)
    assert s.tpr_at[0.01] == pytest.approx(0.348, abs=1e-3)
    assert s.tpr_at[0.001] == pytest.approx(0.227, abs=1e-3)
    assert (s.n_members, s.n_nonmembers) == (5000, 5000)
    # 5000 negatives: 50 false positives allowed at 1%, 5 at 0.1%.
    assert s.negatives_needed == {0.01: 100, 0.001: 1000}
    assert s.auc_ci[0] < s.auc < s.auc_ci[1]
    for f in (0.01, 0.001):
        lo, hi = s.tpr_ci[f]
        assert lo <= s.tpr_at[f] <= hi


# ------------------------------------------------------------------ point statistics


def _tied_random(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 8, size=n).astype(float)  # few distinct values: many ties
    members = rng.random(n) < 0.4
    members[:2] = [True, False]
    return scores, members


@pytest.mark.parametrize("seed", range(5))
def test_auc_antisymmetric_with_ties(seed: int) -> None:
    scores, members = _tied_random(300, seed)
    assert roc.auc(scores, members) + roc.auc(-scores, members) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_auc_matches_sklearn(seed: int) -> None:
    scores, members = _tied_random(500, seed)
    assert roc.auc(scores, members) == pytest.approx(roc_auc_score(members, scores), abs=1e-12)
    cont = np.random.default_rng(seed).normal(size=500) + members
    assert roc.auc(cont, members) == pytest.approx(roc_auc_score(members, cont), abs=1e-12)


def test_roc_points_shape_and_ends() -> None:
    scores, members = _tied_random(200, 0)
    fpr, tpr, thr = roc.roc_points(scores, members)
    assert fpr.shape == tpr.shape == thr.shape == (np.unique(scores).size + 1,)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert thr[0] == np.inf and np.all(np.diff(thr) < 0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    # Trapezoids over all points reproduce the tie-aware AUC.
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert area == pytest.approx(roc.auc(scores, members), abs=1e-12)


def test_tpr_at_fpr_matches_roc_table() -> None:
    scores, members = _tied_random(400, 3)
    fpr, tpr, _ = roc.roc_points(scores, members)
    for f in (0.0, 0.05, 0.1, 0.37, 0.5, 1.0):
        assert roc.tpr_at_fpr(scores, members, f) == tpr[fpr <= f].max()


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(-5, 5), st.booleans()), min_size=2, max_size=60),
    f1=st.floats(0.0, 1.0),
    f2=st.floats(0.0, 1.0),
)
def test_tpr_at_fpr_monotone(data: list[tuple[int, bool]], f1: float, f2: float) -> None:
    scores = np.array([s for s, _ in data], dtype=float)
    members = np.array([m for _, m in data])
    members[0], members[1] = True, False  # both classes present
    lo, hi = sorted((f1, f2))
    t_lo = roc.tpr_at_fpr(scores, members, lo)
    t_hi = roc.tpr_at_fpr(scores, members, hi)
    assert 0.0 <= t_lo <= t_hi <= 1.0


def test_perfect_separation() -> None:
    members = np.r_[np.ones(500, bool), np.zeros(1500, bool)]
    scores = np.r_[np.linspace(2, 3, 500), np.linspace(0, 1, 1500)]
    assert roc.auc(scores, members) == 1.0
    assert roc.tpr_at_fpr(scores, members, 0.001) == 1.0
    assert roc.balanced_accuracy(scores, members) == 1.0
    assert roc.precision_at_n(scores, members) == 1.0
    assert roc.auc(-scores, members) == 0.0


def test_balanced_accuracy_and_precision_small_example() -> None:
    scores = np.array([4.0, 3.0, 2.0, 1.0])
    members = np.array([1, 0, 1, 0])
    # Thresholds give (FPR, TPR): (0,.5) -> .75, (.5,1) -> .75.
    assert roc.balanced_accuracy(scores, members) == 0.75
    assert roc.precision_at_n(scores, members) == 0.5
    # A tie across the cut shares the last slot: top-2 = {5} plus half of the tied pair.
    assert roc.precision_at_n([5.0, 3.0, 3.0, 1.0], [1, 1, 0, 0]) == 0.75


def test_precision_at_n_ignores_input_order() -> None:
    scores, members = _tied_random(300, 7)
    perm = np.random.default_rng(0).permutation(300)
    assert roc.precision_at_n(scores, members) == pytest.approx(roc.precision_at_n(scores[perm], members[perm]))


# ------------------------------------------------------------------ summary / bootstrap


@pytest.fixture(scope="module")
def random_summary() -> tuple[RocSummary, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(123)
    scores = rng.normal(size=20_000)
    members = rng.random(20_000) < 0.5
    return roc.summarize(scores, members, seed=0), scores, members


def test_random_scores_give_chance_auc(random_summary) -> None:
    s, _, _ = random_summary
    assert abs(s.auc - 0.5) < 0.02
    assert s.auc_ci[0] <= 0.5 <= s.auc_ci[1]
    assert s.auc_ci[0] <= s.auc <= s.auc_ci[1]
    assert s.auc_ci[1] - s.auc_ci[0] < 0.05
    assert abs(s.balanced_accuracy - 0.5) < 0.03
    assert abs(s.precision_at_n - 0.5) < 0.03
    for f in (0.01, 0.001):
        lo, hi = s.tpr_ci[f]
        assert lo <= s.tpr_at[f] <= hi


def test_summary_deterministic_for_seed(random_summary) -> None:
    s, scores, members = random_summary
    assert roc.summarize(scores, members, seed=0) == s
    assert roc.summarize(scores, members, seed=1).auc_ci != s.auc_ci


def test_summary_point_figures_match_functions() -> None:
    scores, members = _tied_random(400, 11)
    s = roc.summarize(scores, members, fprs=(0.05, 0.2), n_bootstrap=50)
    assert s.auc == roc.auc(scores, members)
    assert s.tpr_at == {f: roc.tpr_at_fpr(scores, members, f) for f in (0.05, 0.2)}
    assert s.negatives_needed == {0.05: 20, 0.2: 5}
    assert s.n_members + s.n_nonmembers == 400


def test_bootstrap_is_stratified_on_tiny_input() -> None:
    # One member, one non-member: any unstratified resample could lose a class.
    s = roc.summarize([1.0, 0.0], [1, 0], n_bootstrap=100)
    assert s.auc_ci == (1.0, 1.0)


def test_summary_round_trips_through_json(random_summary) -> None:
    s, _, _ = random_summary
    d = s.to_dict()
    assert set(d["tpr_at"]) == {"0.01", "0.001"}
    text = json.dumps(d)
    assert RocSummary.from_dict(d) == s
    assert RocSummary.from_dict(json.loads(text)) == s


def test_negatives_needed_is_exact() -> None:
    for f in (0.1, 0.01, 0.001, 1e-4, 0.3, 1.0):
        n = roc.negatives_needed(f)
        assert 1 / n <= f and (n == 1 or 1 / (n - 1) > f)
        assert n == math.ceil(round(1 / f, 9))


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("scores", "members", "match"),
    [
        ([0.1, 0.2, 0.3], [1, 0], "same length"),
        ([0.1, 0.2], [1, 1], "at least one member and one non-member"),
        ([0.1, 0.2], [0, 0], "at least one member and one non-member"),
        ([], [], "at least one member and one non-member"),
        ([0.1, np.nan], [1, 0], "finite"),
        ([0.1, np.inf], [1, 0], "finite"),
        ([0.1, 0.2], [1, 2], "0/1"),
        ([[0.1, 0.2]], [[1, 0]], "1-D"),
        (["a", "b"], [1, 0], "numeric"),
    ],
)
def test_bad_input_raises(scores, members, match: str) -> None:
    for call in (roc.auc, roc.roc_points, roc.balanced_accuracy, roc.precision_at_n):
        with pytest.raises(ValueError, match=match):
            call(scores, members)
    with pytest.raises(ValueError, match=match):
        roc.summarize(scores, members, n_bootstrap=5)


@pytest.mark.parametrize("kwargs", [{"fprs": (0.0,)}, {"fprs": (1.5,)}, {"n_bootstrap": 0}, {"confidence": 1.0}])
def test_bad_summary_options_raise(kwargs) -> None:
    with pytest.raises(ValueError):
        roc.summarize([1.0, 0.0], [1, 0], **kwargs)


def test_bad_fpr_raises() -> None:
    with pytest.raises(ValueError, match="fpr"):
        roc.tpr_at_fpr([1.0, 0.0], [1, 0], -0.1)


# ------------------------------------------------------------------ plot


def test_plot_roc_writes_png_atomically(tmp_path: Path) -> None:
    scores, members = load_paper("lira_unprotected")
    fpr, tpr, _ = roc.roc_points(scores[:, 1], members)
    out = tmp_path / "roc.png"
    returned = plot_roc(
        {"LiRA natural shadows": (scores[:, 0], members), "LiRA mixup shadows": (fpr, tpr)},
        out,
        title="LiRA on the unprotected model",
    )
    assert Path(returned) == out
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    assert [p.name for p in tmp_path.iterdir()] == ["roc.png"]
    # Overwriting an existing file also leaves nothing behind.
    plot_roc({"random": (np.random.default_rng(0).normal(size=50), np.arange(50) % 2)}, out)
    assert out.read_bytes().startswith(b"\x89PNG") and [p.name for p in tmp_path.iterdir()] == ["roc.png"]


def test_plot_roc_auc_in_legend_equal_for_both_input_kinds() -> None:
    from synthguard.plots import _curve

    scores, members = _tied_random(300, 2)
    fpr, tpr, _ = roc.roc_points(scores, members)
    from_scores = _curve((scores, members), "auto")
    from_points = _curve((fpr, tpr), "auto")
    assert from_points[3] is None and from_scores[3] == int((~members).sum())
    assert from_points[2] == pytest.approx(from_scores[2], abs=1e-12)


def test_plot_roc_rejects_empty(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        plot_roc({}, tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []
