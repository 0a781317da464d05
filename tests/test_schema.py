"""Schema: YAML round trip, inference, and every kind of bad input named precisely."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthguard.errors import DataValidationError, SchemaError
from synthguard.schema import Column, Schema


def test_bundled_schema_parses_the_bundled_table(ofp_raw, ofp_schema):
    typed = ofp_schema.parse(ofp_raw)
    assert list(typed.columns) == list(ofp_raw.columns)
    assert typed["ofp"].dtype == float and typed["ofp"].iloc[0] == 5
    assert set(typed["hlth"]) <= {"excellent", "other", "poor"}
    assert set(typed["privins"]) == {True, False}


def test_a_slice_of_a_frame_parses_by_position(ofp_full, ofp_schema):
    typed = ofp_schema.parse(ofp_full.iloc[3000:3010])
    assert list(typed.index) == list(range(10)) and typed.notna().all().all()
    assert typed["ofp"].tolist() == ofp_full["ofp"].iloc[3000:3010].astype(float).tolist()


def test_yaml_round_trip_of_an_inferred_schema(ofp_raw):
    schema = Schema.infer(ofp_raw, name="ofp", condition="hlth")
    assert Schema.from_yaml(schema.to_yaml()) == schema
    assert "learned" in schema.to_yaml()
    ofp = schema.column("ofp")
    assert (ofp.type, ofp.min, ofp.learned) == ("integer", 0, ("bounds",))
    assert schema.column("black").true_value == "yes"
    assert schema.column("hlth").categories == ("excellent", "other", "poor")


names = st.text(alphabet="abcdefghij_", min_size=1, max_size=8)


@st.composite
def schemas(draw):
    cols = []
    for name in draw(st.lists(names, min_size=1, max_size=6, unique=True)):
        kind = draw(st.sampled_from(["continuous", "integer", "categorical", "boolean", "datetime", "id"]))
        extra = {}
        if kind == "categorical" and draw(st.booleans()):
            extra["categories"] = tuple(draw(st.lists(st.one_of(names, st.integers(0, 50)), min_size=1, max_size=5,
                                                      unique_by=str)))
        if kind in ("continuous", "integer") and draw(st.booleans()):
            extra["min"] = draw(st.integers(-5, 0))
            extra["max"] = draw(st.integers(1, 100))
        cols.append(Column(name=name, type=kind, nullable=draw(st.booleans()), sensitive=draw(st.booleans()), **extra))
    return Schema(columns=tuple(cols), name=draw(names))


@given(schemas())
@settings(max_examples=60, deadline=None)
def test_yaml_round_trip_property(schema):
    assert Schema.from_yaml(schema.to_yaml()) == schema


@pytest.mark.parametrize(("raw", "message"), [
    ({"columns": [{"name": "a", "type": "float"}]}, "unknown type 'float'"),
    ({"columns": [{"name": "a", "type": "integer", "maximum": 3}]}, "unknown key 'maximum'"),
    ({"columns": [{"name": "a", "type": "integer"}], "colums": []}, "unknown key 'colums'"),
    ({"columns": [{"name": "a"}]}, "missing `type`"),
    ({"columns": []}, "non-empty list"),
    ({"format_version": 9, "columns": [{"name": "a", "type": "integer"}]}, "format_version 9"),
    ({"columns": [{"name": "a", "type": "integer", "min": 5, "max": 1}]}, "min 5 is above max 1"),
    ({"columns": [{"name": "a", "type": "integer"}, {"name": "a", "type": "boolean"}]}, "appears twice"),
    ({"condition": "b", "columns": [{"name": "a", "type": "integer"}]}, "condition column 'b'"),
    ({"condition": "a", "columns": [{"name": "a", "type": "integer"}]}, "categorical or boolean"),
    ({"columns": [{"name": "a", "type": "boolean", "categories": [1]}]}, "categories apply"),
])
def test_invalid_schemas_are_refused_with_the_reason(raw, message):
    with pytest.raises(SchemaError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Schema.from_dict(raw)


def _frame(**cols):
    return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in cols.items()})


def test_every_problem_is_collected_with_column_and_rows():
    schema = Schema.from_dict({"columns": [
        {"name": "x", "type": "continuous", "min": 0},
        {"name": "n", "type": "integer"},
        {"name": "c", "type": "categorical", "categories": ["a", "b"]},
        {"name": "b", "type": "boolean"},
        {"name": "gone", "type": "integer"},
    ]})
    frame = _frame(x=["1.5", "abc", "-2", ""], n=["1", "2.5", "3", "4"], c=["a", "z", "b", "a"],
                   b=["yes", "no", "maybe", "1"], extra=["1", "2", "3", "4"])
    with pytest.raises(DataValidationError) as info:
        schema.parse(frame)
    assert "'extra' is in the data but not in the schema" in info.value.problems[0]
    assert "'gone' is in the schema but not in the data" in info.value.problems[1]
    with pytest.raises(DataValidationError) as info:
        Schema.from_dict({"columns": [c for c in schema.to_dict()["columns"] if c["name"] != "gone"],
                          "extra_columns": "ignore"}).parse(frame)
    problems = "\n".join(info.value.problems)
    assert "column 'x': non-numeric value 'abc' in row 2" in problems
    assert "column 'x': value '-2' below min 0 in row 3" in problems
    assert "column 'x': missing value in row 4" in problems
    assert "column 'n': non-integer value '2.5' in row 2" in problems
    assert "column 'c': value 'z' is not a declared category" in problems and "row 2" in problems
    assert "column 'b': value 'maybe' is not boolean" in problems
    assert len(info.value.problems) == 6
    assert "and 5 more problem(s)" in str(info.value)


def test_patterns_bind_many_columns_and_must_match_something():
    schema = Schema.from_dict({"condition": "dead", "columns": [
        {"name": "dead", "type": "boolean"}, {"pattern": "icd9_*", "type": "boolean"}]})
    frame = _frame(dead=["0", "1"], icd9_401=["1", "0"], icd9_V05=["0", "0"])
    bound = schema.resolve(list(frame.columns))
    assert [c.name for c in bound.columns] == ["dead", "icd9_401", "icd9_V05"]
    typed = schema.parse(frame)
    assert typed["icd9_401"].tolist() == [True, False]
    with pytest.raises(DataValidationError, match="pattern 'icd9_\\*' matches no column"):
        schema.parse(_frame(dead=["0"]))


def test_infer_marks_ids_dates_and_free_text(ofp_raw):
    frame = _frame(**{"Unnamed: 0": ["1", "2", "3"], "when": ["2020-01-02", "2021-03-04", "2022-05-06"],
                      "flag": ["TRUE", "FALSE", "TRUE"], "grade": ["a", "b", "a"]})
    schema = Schema.infer(frame)
    assert [c.type for c in schema.columns] == ["id", "datetime", "boolean", "categorical"]
    assert schema.column("flag").true_value == "TRUE"
    typed = schema.parse(frame)
    assert list(typed.columns) == ["when", "flag", "grade"]  # ids are never modelled
    assert typed["when"].dt.year.tolist() == [2020, 2021, 2022]
