"""TableEncoder: reversible, bounded, rare categories merged, nulls carried, wide 0/1 tables narrow."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthguard.encoders.table import TableEncoder
from synthguard.schema import Column, Schema


def _round_trip(schema: Schema, frame: pd.DataFrame, **kw) -> tuple[TableEncoder, pd.DataFrame]:
    enc = TableEncoder(schema, **kw).fit(frame, seed=0)
    x, cond = enc.transform(frame, seed=0)
    slots = cond.argmax(axis=1) if cond.shape[1] else None
    return enc, enc.inverse_transform(x, slots)


@st.composite
def tables(draw):
    n = draw(st.integers(20, 120))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    cats = draw(st.lists(st.text(alphabet="abcxyz", min_size=1, max_size=4), min_size=1, max_size=5, unique=True))
    numbers = rng.normal(draw(st.floats(-1e3, 1e3)), draw(st.floats(0.1, 100)), n)
    counts = rng.poisson(draw(st.floats(0.1, 20)), n).astype(float)
    frame = pd.DataFrame({
        "x": numbers, "k": counts,
        "c": pd.Series(rng.choice(cats, n), dtype=object),
        "b": pd.Series(rng.random(n) < draw(st.floats(0.05, 0.95)), dtype=object),
    })
    nullable = draw(st.booleans())
    if nullable:
        frame.loc[rng.random(n) < 0.2, "x"] = np.nan
        frame.loc[rng.random(n) < 0.2, "b"] = None
    schema = Schema(columns=(
        Column(name="x", type="continuous", nullable=nullable), Column(name="k", type="integer", min=0),
        Column(name="c", type="categorical"), Column(name="b", type="boolean", nullable=nullable)))
    return schema, frame


@given(tables())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_round_trip_property(table):
    schema, frame = table
    enc, back = _round_trip(schema, frame, rare_category_count=1)
    assert list(back.columns) == ["x", "k", "c", "b"]
    assert back["c"].tolist() == frame["c"].tolist()
    assert back["b"].tolist() == frame["b"].tolist()
    assert back["x"].isna().tolist() == frame["x"].isna().tolist()
    assert back["k"].dtype == np.int64 and (back["k"] >= 0).all()
    # continuous values come back exactly unless a mode cannot hold them (clipped tails)
    present = frame["x"].notna()
    close = np.isclose(back["x"][present], frame["x"][present], rtol=1e-4, atol=1e-4 * frame["x"].std())
    assert close.mean() >= 0.97
    assert np.isclose(back["k"], frame["k"]).mean() >= 0.97


def test_real_table_round_trip_and_json_state(ofp_full, ofp_schema):
    frame = ofp_schema.parse(ofp_full)
    enc, back = _round_trip(ofp_schema, frame)
    for col in ("ofp", "school", "numchron", "age"):
        assert np.isclose(back[col].astype(float), frame[col]).mean() > 0.995, col
    for col in ("sex", "region", "hlth", "privins"):
        assert (back[col] == frame[col]).all(), col
    # the state is plain JSON and rebuilds an identical encoder
    state = json.loads(json.dumps(enc.state_dict()))
    again = TableEncoder.from_state_dict(ofp_schema, state)
    assert again.spans == enc.spans
    np.testing.assert_array_equal(again.transform(frame, seed=3)[0], enc.transform(frame, seed=3)[0])
    kinds = {s.kind for s in enc.spans}
    assert kinds == {"scalar", "onehot", "binary"}
    assert enc.cond_dim == 3  # hlth: excellent, other, poor


def test_rare_categories_are_merged_and_never_decode_to_a_member():
    # issue 16: the merged slot used to decode to one of its (real, rare) members
    values = ["common"] * 50 + ["usual"] * 40 + ["rare1"] * 2 + ["rare2"] * 1
    frame = pd.DataFrame({"c": pd.Series(values, dtype=object), "y": np.arange(len(values), dtype=float)})
    schema = Schema(columns=(Column(name="c", type="categorical"), Column(name="y", type="continuous")))
    with pytest.warns(UserWarning, match="2 categories held by fewer than 5 rows are never sampled"):
        enc = TableEncoder(schema, rare_category_count=5).fit(frame)
    transform = enc.transforms["c"]
    assert transform.slots == ["common", "usual", "__rare__"] and transform.rare == 2
    assert "rare1" not in json.dumps(enc.state_dict())  # the rare labels are not kept
    x, _ = enc.transform(frame)
    back = enc.inverse_transform(x)
    assert set(back["c"][90:]) <= {"common", "usual"}
    assert (back["c"][:90] == frame["c"][:90]).all()


def test_numeric_categories_whole_and_fractional_each_keep_their_slot():
    # A coinsurance rate coded 0, 3.258096, ..., declared categorical: parsing once let pandas turn
    # the category 0 into 0.0, which the encoder (counting categories by their text) did not know,
    # so the commonest plan was merged away and never sampled (found on the RAND HIE table).
    schema = Schema(columns=(Column(name="rate", type="categorical", categories=(0, 3.258096, 4.61512)),
                             Column(name="y", type="continuous")))
    raw = pd.DataFrame({"rate": ["0"] * 60 + ["3.258096"] * 30 + ["4.61512"] * 10, "y": [str(v) for v in range(100)]})
    typed = schema.parse(raw)
    assert typed["rate"].iloc[0] == 0 and isinstance(typed["rate"].iloc[0], int)
    enc, back = _round_trip(schema, typed)
    assert enc.transforms["rate"].slots == [0, 3.258096, 4.61512] and enc.transforms["rate"].rare == 0
    assert back["rate"].value_counts().to_dict() == {0: 60, 3.258096: 30, 4.61512: 10}


def test_a_continuous_column_of_few_levels_gets_a_mode_per_level_and_decodes_them_exactly():
    # The RAND HIE coinsurance rates: 4.564348 and 4.61512 lie close, and a mixture fitted to the
    # five point masses gave them one mode, so the generator could not tell the two plans apart.
    levels = [0.0, 3.258096, 3.931826, 4.564348, 4.61512]
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"rate": rng.choice(levels, 2000, p=[0.4, 0.2, 0.15, 0.15, 0.1]),
                          "y": rng.normal(size=2000)})
    schema = Schema(columns=(Column(name="rate", type="continuous", min=0), Column(name="y", type="continuous")))
    enc, back = _round_trip(schema, frame)
    t = enc.transforms["rate"]
    assert t.levels and t.means == levels
    assert set(back["rate"]) == set(levels)
    assert (back["rate"] == frame["rate"]).all()
    again = TableEncoder.from_state_dict(schema, json.loads(json.dumps(enc.state_dict())))
    assert again.transforms["rate"].levels
    # a level held by fewer rows than a category must be to be sampled keeps the mixture, whose
    # decoded values are not that person's value exactly
    frame.loc[:2, "rate"] = 2.5
    enc = TableEncoder(schema, rare_category_count=5).fit(frame, seed=0)
    assert not enc.transforms["rate"].levels


def test_constant_and_empty_columns_are_reproduced_with_a_warning():
    frame = pd.DataFrame({"k": np.full(30, 7.0), "e": np.full(30, np.nan), "v": np.linspace(0, 1, 30)})
    schema = Schema(columns=(Column(name="k", type="integer"), Column(name="e", type="continuous", nullable=True),
                             Column(name="v", type="continuous")))
    with pytest.warns(UserWarning) as caught:
        enc, back = _round_trip(schema, frame)
    messages = " ".join(str(w.message) for w in caught)
    assert "'k' is constant" in messages and "'e' is entirely empty" in messages
    assert (back["k"] == 7).all() and back["e"].isna().all()
    assert enc.dim == sum(s.width for s in enc.spans if s.column == "v")


def test_many_constant_code_columns_give_one_warning():
    # a wide code table where most codes never occur: one line, not one per column
    frame = pd.DataFrame({f"icd9_{i:03d}": np.zeros(40, dtype=int) for i in range(12)})
    frame["icd9_999"] = np.arange(40) % 2
    schema = Schema(columns=(Column(pattern="icd9_*", type="boolean"),)).resolve(list(frame.columns))
    with pytest.warns(UserWarning) as caught:
        _round_trip(schema, frame)
    constant = [str(w.message) for w in caught if "constant" in str(w.message)]
    assert constant == ["12 columns are constant and are reproduced as their constants: 'icd9_000', 'icd9_001', "
                        "'icd9_002', 'icd9_003', 'icd9_004' and 7 more"]


def test_wide_binary_table_has_one_unit_per_code():
    rng = np.random.default_rng(0)
    codes = {f"icd9_{i}": pd.Series(rng.random(400) < 0.03, dtype=object) for i in range(1200)}
    frame = pd.DataFrame({"dead": pd.Series(rng.random(400) < 0.1, dtype=object), **codes})
    frame["icd9_0"] = pd.Series([True] * 200 + [False] * 200, dtype=object)
    schema = Schema.from_dict({"condition": "dead", "columns": [
        {"name": "dead", "type": "boolean"}, {"pattern": "icd9_*", "type": "boolean"}]}).resolve(list(frame.columns))
    enc, back = _round_trip(schema, frame)
    varying = sum(1 for c in codes if frame[c].nunique() > 1)
    assert enc.dim == varying <= 1200
    assert all(s.kind == "binary" for s in enc.spans)
    assert (back == frame[back.columns]).all().all()


def test_likeliest_mode_choice_encodes_each_value_with_its_most_probable_mode():
    # two overlapping bumps: a value between them is drawn into either mode by default, into its
    # likeliest under `likeliest` (the short_fits.py trial `modes=likeliest`)
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"x": np.concatenate([rng.normal(0, 1, 600), rng.normal(2.5, 1, 600)])})
    schema = Schema(columns=(Column(name="x", type="continuous"),))
    enc = TableEncoder(schema, max_modes=2).fit(frame, seed=0)
    t = enc.transforms["x"]
    assert len(t.means) == 2
    means, stds, weights = (np.asarray(v) for v in (t.means, t.stds, t.weights))
    values = frame["x"].to_numpy()
    fits = np.abs(values[:, None] - means) < 0.99 * 4.0 * stds
    logp = np.log(weights) - np.log(stds) - 0.5 * ((values[:, None] - means) / stds) ** 2
    likeliest = np.where(fits | ~fits.any(axis=1, keepdims=True), logp, -np.inf).argmax(axis=1)
    drawn = enc.transform(frame, seed=1)[0][:, 1:3].argmax(axis=1)
    assert (drawn != likeliest).mean() > 0.05  # the default draws; a share of rows leave the likeliest
    t.mode_choice = "likeliest"
    x, _ = enc.transform(frame, seed=1)
    np.testing.assert_array_equal(x[:, 1:3].argmax(axis=1), likeliest)
    assert np.isclose(enc.inverse_transform(x)["x"], values, rtol=1e-4, atol=1e-4).mean() > 0.99
