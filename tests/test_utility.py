"""Tests for the utility metrics (synthguard.utility) and their plots.

One hand-made generating process gives the real train and holdout rows. Synthetic candidates
with known defects test that each metric sees what it should: a fresh draw from the same process
(good everywhere), independently shuffled columns (marginals right, relations gone: DWP stays
good while TSTR AUC and pair trends drop), copies of the training rows (exact copies, DCR 0) and
a single class of the target.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthguard.plots import plot_dwp, plot_dwpre
from synthguard.schema import Column, Schema
from synthguard.utility import UtilityReport, evaluate
from synthguard.utility.downstream import downstream
from synthguard.utility.dwp import dwp
from synthguard.utility.dwpre import dwpre
from synthguard.utility.features import fit_features
from synthguard.utility.quality import quality

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

SCHEMA = Schema(
    columns=(
        Column(name="pid", type="id"),
        Column(name="x1", type="continuous"),
        Column(name="x2", type="integer"),
        Column(name="color", type="categorical", categories=("red", "green", "blue"), nullable=True),
        Column(name="smoker", type="boolean", true_value="yes", false_value="no"),
        Column(name="y", type="boolean"),
    ),
    condition="y",
)


def draw(n: int, seed: int) -> pd.DataFrame:
    """A typed frame: x1 and x2 depend on the boolean target y; color and smoker less so."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    x1 = 2.0 * y + rng.normal(size=n)
    x2 = np.round(10 + 3.0 * x1 + rng.normal(scale=2.0, size=n)).astype(np.int64)
    color = np.where(y, rng.choice(["red", "green", "blue"], n, p=[0.6, 0.3, 0.1]),
                     rng.choice(["red", "green", "blue"], n, p=[0.2, 0.3, 0.5])).astype(object)
    color[rng.random(n) < 0.05] = None
    smoker = np.where(rng.random(n) < 0.3 + 0.3 * y, "yes", "no").astype(object)
    return pd.DataFrame({
        "pid": np.arange(n) + 1000 * seed,
        "x1": x1,
        "x2": x2,
        "color": color,
        "smoker": smoker,
        "y": pd.Series(y, dtype=object),
    })


def shuffled(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Each column permuted on its own: marginals kept, every relation between columns broken."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: frame[c].to_numpy()[rng.permutation(len(frame))] for c in frame.columns})


@pytest.fixture(scope="module")
def data() -> dict[str, pd.DataFrame]:
    return {"train": draw(600, 1), "holdout": draw(600, 2), "fresh": draw(600, 3)}


@pytest.fixture(scope="module")
def fresh(data: dict[str, pd.DataFrame]) -> UtilityReport:
    return evaluate(data["train"], data["holdout"], data["fresh"], SCHEMA, seed=0)


@pytest.fixture(scope="module")
def broken(data: dict[str, pd.DataFrame]) -> UtilityReport:
    return evaluate(data["train"], data["holdout"], shuffled(data["fresh"], 7), SCHEMA, seed=0)


# ---- a synthetic table from the same process ---------------------------------------------------
def test_fresh_draw_scores_well(fresh: UtilityReport) -> None:
    assert fresh.target == "y"
    assert fresh.dwp.mae is not None and fresh.dwp.mae < 0.05
    assert fresh.dwp.correlation is not None and fresh.dwp.correlation > 0.95
    assert fresh.dwpre.mean_abs_gap is not None and fresh.dwpre.mean_abs_gap < 0.05
    down = fresh.downstream
    assert down is not None and down.task == "classification"
    assert down.classes == ("False", "True") and down.positive_class == "True"
    assert down.trtr.auc is not None and down.trtr.auc > 0.8
    assert down.auc_ratio is not None and abs(down.auc_ratio - 1) < 0.05
    assert down.accuracy_ratio is not None and abs(down.accuracy_ratio - 1) < 0.08
    assert not down.tstr.single_class
    assert fresh.quality.score is not None and fresh.quality.score > 0.8
    assert fresh.quality.column_pair_trends is not None and fresh.quality.column_pair_trends > 0.8
    assert fresh.quality.pairs_scored > 0 and not fresh.quality.subset
    # Fresh rows are no closer to train than holdout rows are.
    assert fresh.distance.exact_copy_rate == 0.0
    assert fresh.distance.share_closer_than_holdout_p5 < 0.15


def test_dwp_dimensions(fresh: UtilityReport, data: dict[str, pd.DataFrame]) -> None:
    names = [p.name for p in fresh.dwp.dimensions]
    # Categories (with the null level), one dimension per boolean in its own spelling.
    assert names == ["color=red", "color=green", "color=blue", "color=<null>", "smoker=yes", "y=True"]
    point = fresh.dwp.dimensions[names.index("smoker=yes")]
    assert point.p_real == pytest.approx((data["train"]["smoker"] == "yes").mean())
    assert point.p_synthetic == pytest.approx((data["fresh"]["smoker"] == "yes").mean())
    numeric = {s.column: s for s in fresh.dwp.numeric}
    assert set(numeric) == {"x1", "x2"}
    assert numeric["x1"].ks is not None and numeric["x1"].ks < 0.1
    assert numeric["x1"].smd is not None and abs(numeric["x1"].smd) < 0.15


# ---- shuffled columns: marginals right, relations gone --------------------------------------------
def test_shuffled_columns_keep_dwp_but_lose_relations(fresh: UtilityReport, broken: UtilityReport) -> None:
    assert broken.dwp.mae == pytest.approx(fresh.dwp.mae)  # a permutation keeps every share
    assert broken.dwp.mae is not None and broken.dwp.mae < 0.05
    down = broken.downstream
    assert down is not None and down.tstr.auc is not None
    assert abs(down.tstr.auc - 0.5) < 0.1
    assert down.auc_ratio is not None and down.auc_ratio < 0.7
    assert broken.dwpre.mean_abs_gap is not None and fresh.dwpre.mean_abs_gap is not None
    assert broken.dwpre.mean_abs_gap > fresh.dwpre.mean_abs_gap + 0.1
    assert broken.quality.column_shapes == pytest.approx(fresh.quality.column_shapes, abs=0.01)
    assert broken.quality.column_pair_trends is not None and fresh.quality.column_pair_trends is not None
    assert broken.quality.column_pair_trends < fresh.quality.column_pair_trends - 0.15


# ---- copies and a single class -------------------------------------------------------------------
def test_copies_of_train_are_caught(data: dict[str, pd.DataFrame]) -> None:
    copies = data["train"].sample(frac=1.0, random_state=0).reset_index(drop=True)
    copies["pid"] = -1  # ids are not modelled: they must not hide a copy
    report = evaluate(data["train"], data["holdout"], copies, SCHEMA, seed=0)
    assert report.distance.exact_copy_rate == 1.0
    assert report.distance.dcr_synthetic_median == 0.0
    assert report.distance.dcr_holdout_median > 0.0
    assert report.distance.share_closer_than_holdout_p5 == 1.0
    assert report.distance.holdout_exact_copy_rate == 0.0


def test_single_class_synthetic_is_flagged(data: dict[str, pd.DataFrame]) -> None:
    one_class = data["fresh"][data["fresh"]["y"] == False].reset_index(drop=True)  # noqa: E712
    result = downstream(data["train"], data["holdout"], one_class, SCHEMA, seed=0)
    assert result.tstr.single_class and not result.trtr.single_class
    assert result.tstr.auc == 0.5
    assert result.auc_ratio is not None and result.auc_ratio < 0.7
    assert any("single class" in note for note in result.notes)
    # Predicting the majority class everywhere: accuracy is the holdout's share of that class.
    assert result.tstr.accuracy == pytest.approx((data["holdout"]["y"] == False).mean())  # noqa: E712


def test_a_class_made_once_in_a_large_table_is_scored(data: dict[str, pd.DataFrame]) -> None:
    # Above 10,000 training rows the downstream model stops early on a stratified holdout, which
    # a class held by a single synthetic row cannot join (found on a 16,000-row table whose TVAE
    # rows held one row of a rare class). Such a table is scored, not refused with an error.
    many = draw(10_500, 4)
    many["color"] = "red"
    many.loc[17, "color"] = "blue"  # the one row of a class
    result = downstream(data["train"], data["holdout"], many, SCHEMA, target="color", seed=0)
    assert result.tstr.n_train == 10_500 and not result.tstr.single_class
    assert result.tstr.auc is not None and 0.0 <= result.tstr.auc <= 1.0


def test_numeric_target_is_regressed(data: dict[str, pd.DataFrame]) -> None:
    result = downstream(data["train"], data["holdout"], data["fresh"], SCHEMA, target="x2", seed=0)
    assert result.task == "regression" and result.classes == ()
    assert result.trtr.r2 is not None and result.trtr.r2 > 0.5
    assert result.r2_ratio is not None and abs(result.r2_ratio - 1) < 0.1
    assert result.auc_ratio is None


# ---- features and options --------------------------------------------------------------------------
def test_features_align_and_spellings_agree(data: dict[str, pd.DataFrame]) -> None:
    train = data["train"]
    space = fit_features(train, SCHEMA)
    assert space.names == ("x1", "x2", "color=red", "color=green", "color=blue", "color=<null>", "smoker=yes", "y=True")
    x = space.transform(train)
    assert np.allclose(x[:, 0].mean(), 0) and np.allclose(x[:, 0].std(), 1)
    other = train.head(4).copy()
    other["color"] = ["purple", None, "red", "blue"]  # an unseen category gets no unit
    other["smoker"] = ["yes", "no", "yes", "no"]
    other["y"] = [True, False, 1, 0]  # bool values and 0/1 both read as the boolean
    z = space.transform(other)
    assert z.shape == (4, space.n_features)
    assert z[0, 2:6].tolist() == [0, 0, 0, 0] and z[1, 5] == 1 and z[2, 2] == 1
    assert z[:, 6].tolist() == [1, 0, 1, 0] and z[:, 7].tolist() == [1, 0, 1, 0]


def test_wide_tables_use_a_seeded_subset(data: dict[str, pd.DataFrame]) -> None:
    train, holdout, syn = data["train"], data["holdout"], data["fresh"]
    result = dwpre(train, holdout, syn, SCHEMA, max_columns=3, seed=5)
    assert result.subset and result.n_columns_total == 5 and len(result.columns) == 3
    again = dwpre(train, holdout, syn, SCHEMA, max_columns=3, seed=5)
    assert [p.column for p in again.columns] == [p.column for p in result.columns]
    q = quality(train, syn, SCHEMA, max_columns=3, seed=5)
    assert q.subset and len(q.columns) == 3 and "y" in q.columns
    assert any("subset" in note for note in q.notes)


def test_dwp_of_identical_frames_is_perfect(data: dict[str, pd.DataFrame]) -> None:
    result = dwp(data["train"], data["train"], SCHEMA)
    assert result.mae == 0.0 and result.rmse == 0.0 and result.correlation == pytest.approx(1.0)
    assert all(s.ks == 0.0 and s.smd == 0.0 for s in result.numeric)


def _mixed(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = rng.integers(1, 4, n)  # integer category labels
    visits = pd.array(rng.poisson(2 + label), dtype="Int64")
    visits[rng.random(n) < 0.1] = pd.NA
    when = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, n) + 30 * label, unit="D")
    when = pd.Series(when).where(rng.random(n) > 0.05)  # NaT nulls
    flag = (rng.random(n) < 0.2 * label).astype(np.int64)  # a boolean spelled 1/0
    return pd.DataFrame({"label": pd.Series(label, dtype=object), "visits": visits, "when": when, "flag": flag})


MIXED = Schema(
    columns=(
        Column(name="label", type="categorical", categories=(1, 2, 3)),
        Column(name="visits", type="integer", nullable=True),
        Column(name="when", type="datetime", nullable=True),
        Column(name="flag", type="boolean", true_value="1", false_value="0"),
    ),
    condition="label",
)


def test_mixed_types_with_nulls() -> None:
    report = evaluate(_mixed(300, 1), _mixed(300, 2), _mixed(300, 3), MIXED, seed=0)
    names = [p.name for p in report.dwp.dimensions]
    assert names == ["label=1", "label=2", "label=3", "visits=<null>", "when=<null>", "flag=1"]
    assert report.dwp.mae is not None and report.dwp.mae < 0.06
    assert {s.column for s in report.dwp.numeric} == {"visits", "when"}
    assert [p.kind for p in report.dwpre.columns] == ["f1", "r2", "r2", "f1"]
    down = report.downstream
    assert down is not None and down.classes == ("1", "2", "3") and down.positive_class is None
    assert down.tstr.auc is not None and down.tstr.auc > 0.6  # one-vs-rest macro AUC
    # Few discrete values: real rows coincide too, so copies are judged against the holdout's rate.
    assert 0 < report.distance.holdout_exact_copy_rate
    assert report.distance.exact_copy_rate < report.distance.holdout_exact_copy_rate + 0.05
    assert json.loads(json.dumps(report.to_dict(), allow_nan=False)) == report.to_dict()


# ---- the report ---------------------------------------------------------------------------------------
def _plain_types(value: object) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_types(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_types(v) for v in value)
    if isinstance(value, float):
        return type(value) is float and math.isfinite(value)
    return value is None or type(value) in (str, int, bool)


def test_to_dict_is_plain_json(fresh: UtilityReport) -> None:
    out = fresh.to_dict()
    assert set(out) == {"target", "seed", "n_train", "n_holdout", "n_synthetic", "dwp", "dwpre", "downstream", "quality", "distance"}
    assert _plain_types(out)
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    assert out["dwp"]["dimensions"][0]["name"] == "color=red"
    assert out["downstream"]["tstr"]["auc"] == fresh.downstream.tstr.auc  # type: ignore[union-attr]


def test_same_seed_same_report(data: dict[str, pd.DataFrame], fresh: UtilityReport) -> None:
    again = evaluate(data["train"], data["holdout"], data["fresh"], SCHEMA, seed=0)
    assert again.to_dict() == fresh.to_dict()


def test_evaluate_rejects_missing_columns(data: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(ValueError, match="x2"):
        evaluate(data["train"], data["holdout"], data["fresh"].drop(columns="x2"), SCHEMA)
    with pytest.raises(ValueError, match="not in the schema"):
        evaluate(data["train"], data["holdout"], data["fresh"], SCHEMA, target="nope")


# ---- plots ---------------------------------------------------------------------------------------------
def test_plots_write_png_atomically(tmp_path: Path, fresh: UtilityReport) -> None:
    written = [
        plot_dwp(fresh, tmp_path / "dwp.png"),
        plot_dwp([(0.1, 0.12), (0.5, 0.45)], tmp_path / "dwp_pairs.png"),
        plot_dwpre(fresh.dwpre.columns, tmp_path / "dwpre.png"),
        plot_dwpre(fresh.to_dict(), tmp_path / "dwpre_dict.png"),
    ]
    for path in written:
        assert path.read_bytes()[:8] == PNG_MAGIC
    assert sorted(os.listdir(tmp_path)) == ["dwp.png", "dwp_pairs.png", "dwpre.png", "dwpre_dict.png"]
