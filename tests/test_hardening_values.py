"""Issue 16, leaks of real values and bad values: identifiers, learned extremes, rare categories,
non-finite and nested cells, time zones, date formats, what schema review must say, one-class
conditions, and a wide encoder fit that finishes in seconds.

Every frame built here is a hostile input a steward could hand the tool; keep them."""

from __future__ import annotations

import json
import time
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthguard import Schema, Synthesizer
from synthguard.encoders.table import RARE_PLACEHOLDER, TableEncoder
from synthguard.errors import DataValidationError, SchemaError, SynthguardWarning
from synthguard.io import read_table
from synthguard.schema import Column, review_schema

TINY = {"epochs": 2, "batch_size": 64, "z_dim": 16, "generator_dims": (32,), "critic_dims": (32,)}


def _infer(frame: pd.DataFrame, **kw) -> tuple[Schema, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        schema = Schema.infer(frame, **kw)
    return schema, [str(w.message) for w in caught if issubclass(w.category, SynthguardWarning)]


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SynthguardWarning)
        return fn(*args, **kw)


def _one_line_naming(messages: list[str], column: str, *words: str) -> str:
    hits = [m for m in messages if repr(column) in m and all(w in m for w in words)]
    assert hits, f"no warning naming {column!r} with {words}: {messages}"
    assert all("\n" not in m for m in hits)
    return hits[0]


# ---- 1. identifiers ------------------------------------------------------------------------------
def _patients(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "patient_no": rng.choice(np.arange(10_000, 99_999), n, replace=False),   # unique whole numbers
        "visit_key": 5000.5 + 0.25 * rng.permutation(n),                         # unique, evenly spaced
        "mrn": [f"P{i:06d}" for i in rng.permutation(n)],                       # unique text
        "age": rng.integers(20, 90, n),
        "bmi": rng.normal(25, 4, n).round(1),
        "sex": rng.choice(["f", "m"], n),
        "dead": rng.choice([0, 1], n),
    })


def test_unique_integer_and_evenly_spaced_columns_are_inferred_as_ids_with_a_warning():
    frame = _patients()
    schema, messages = _infer(frame, condition="dead")
    for name in ("patient_no", "visit_key", "mrn"):
        assert schema.column(name).type == "id", name
        _one_line_naming(messages, name, "identifier", "`id`")
    assert schema.column("age").type == "integer" and schema.column("bmi").type == "continuous"
    typed = schema.parse(frame)
    assert not {"patient_no", "visit_key", "mrn"} & set(typed.columns)  # never modelled


def test_review_flags_an_id_declared_as_an_ordinary_column():
    frame = _patients()
    schema = Schema.from_dict({"condition": "dead", "columns": [
        {"name": "patient_no", "type": "integer"}, {"name": "visit_key", "type": "continuous"},
        {"name": "mrn", "type": "categorical"}, {"name": "age", "type": "integer"},
        {"name": "bmi", "type": "continuous"}, {"name": "sex", "type": "categorical"},
        {"name": "dead", "type": "categorical"}]})
    lines = review_schema(schema, frame)
    for name in ("patient_no", "visit_key", "mrn"):
        _one_line_naming(lines, name, "identifier")
    assert not [line for line in lines if "'age'" in line or "'bmi'" in line]


def test_an_id_modelled_anyway_never_piles_up_on_a_persons_value():
    # the reported leak: values clipped onto the learned min/max id appeared 24 and 63 times
    frame = _patients(400)[["patient_no", "age", "dead"]]
    lo, hi = int(frame["patient_no"].min()), int(frame["patient_no"].max())
    schema = Schema.from_dict({"condition": "dead", "columns": [
        {"name": "patient_no", "type": "integer", "min": lo, "max": hi, "learned": ["bounds"]},
        {"name": "age", "type": "integer"}, {"name": "dead", "type": "categorical"}]})
    synth = _quiet(Synthesizer(schema, seed=0, threads=1, **TINY).fit, frame)
    rows = synth.sample(1000, seed=1)
    ids = rows["patient_no"].to_numpy()
    ordered = np.sort(frame["patient_no"].to_numpy())
    assert ids.min() >= ordered[4] and ids.max() <= ordered[-5]  # never beyond the 5th extreme
    assert pd.Series(ids).value_counts().max() <= 20  # nothing piles up on one value


# ---- 2. learned extremes -------------------------------------------------------------------------
def _survey(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    weight = rng.uniform(9000, 40000, n).round(0)
    weight[0] = 8530.0                        # the learned minimum, held by exactly one row
    score = rng.integers(0, 51, n)
    score[:2], score[2:4] = -1, 51             # learned bounds -1 and 51, two rows each
    return pd.DataFrame({"weight": weight, "score": score, "dead": rng.choice(["no", "yes"], n)})


def test_learned_extremes_held_by_few_rows_are_never_emitted():
    frame = _survey()
    schema, _ = _infer(frame, condition="dead")
    assert schema.column("weight").learned == ("bounds",) and schema.column("weight").min == 8530
    assert (schema.column("score").min, schema.column("score").max) == (-1, 51)
    synth = _quiet(Synthesizer(schema, seed=0, threads=1, **TINY).fit, frame)
    rows = synth.sample(2000, seed=3)
    assert (rows["weight"] > 8530).all()
    assert not rows["score"].isin([-1, 51]).any()
    weights = np.sort(frame["weight"].to_numpy())
    assert rows["weight"].min() >= weights[4] and rows["weight"].max() <= weights[-5]


def test_the_decoder_folds_outputs_beyond_a_learned_bound_instead_of_clipping():
    values = np.concatenate([[0.0], np.linspace(10, 20, 200), [1000.0]])
    frame = pd.DataFrame({"x": values})
    learned = Schema(columns=(Column(name="x", type="continuous", min=0, max=1000, learned=("bounds",)),))
    public = Schema(columns=(Column(name="x", type="continuous", min=0, max=1000),))
    far = np.linspace(-5000, 5000, 10_001)
    enc = TableEncoder(learned, rare_category_count=5).fit(frame)
    t = enc.transforms["x"]
    out = t.bounded(far)
    ordered = np.sort(values)
    assert out.min() >= ordered[4] and out.max() <= ordered[-5]
    assert (np.unique(out, return_counts=True)[1] <= 2).all()  # spread, not piled on the bound
    inside = (far > ordered[4]) & (far < ordered[-5])
    np.testing.assert_array_equal(out[inside], far[inside])      # inside values are untouched
    # public bounds clip as declared, as before
    pub = TableEncoder(public, rare_category_count=5).fit(frame).transforms["x"]
    assert pub.bounded(np.array([-10.0, 5.0, 2000.0])).tolist() == [0.0, 5.0, 1000.0]
    # the safe range survives the JSON state
    state = json.loads(json.dumps(enc.state_dict()))
    again = TableEncoder.from_state_dict(learned, state)
    np.testing.assert_array_equal(again.transforms["x"].bounded(far), out)


# ---- 3. rare categories ------------------------------------------------------------------------
def test_a_column_of_rare_levels_never_samples_a_real_code_and_says_so():
    n_levels = 600
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"code": [f"C{i:05d}" for i in range(n_levels)] * 2,
                          "x": rng.normal(size=2 * n_levels), "dead": rng.choice(["no", "yes"], 2 * n_levels)})
    schema = Schema(columns=(Column(name="code", type="categorical"), Column(name="x", type="continuous"),
                             Column(name="dead", type="categorical")), condition="dead")
    with pytest.warns(SynthguardWarning) as caught:
        synth = Synthesizer(schema, seed=0, threads=1, **TINY).fit(frame)
    message = _one_line_naming([str(w.message) for w in caught], "code", "placeholder")
    assert "never as a real value" in message
    rows = synth.sample(2000, seed=1)
    assert set(rows["code"]) == {RARE_PLACEHOLDER}
    assert "C00001" not in json.dumps(synth.encoder_.state_dict())


def test_rare_categories_beside_common_ones_never_come_out_of_sample():
    rng = np.random.default_rng(1)
    common = list(rng.choice(["a", "b", "c"], 400))
    rare = [f"r{i}" for i in range(40) for _ in range(2)]  # 40 categories of 2 rows
    codes = common + rare
    frame = pd.DataFrame({"cat": codes, "x": rng.normal(size=len(codes)),
                          "dead": rng.choice(["no", "yes"], len(codes))})
    schema = Schema(columns=(Column(name="cat", type="categorical"), Column(name="x", type="continuous"),
                             Column(name="dead", type="categorical")), condition="dead")
    with pytest.warns(SynthguardWarning, match="40 categories held by fewer than 5 rows are never sampled"):
        synth = Synthesizer(schema, seed=0, threads=1, **TINY).fit(frame)
    rows = synth.sample(3000, seed=2)
    assert set(rows["cat"]) <= {"a", "b", "c"}
    assert synth.smallest_category_count() >= 5  # the merged slot is not a released category


def test_a_rare_condition_class_is_never_sampled_nor_accepted_as_a_request():
    rng = np.random.default_rng(2)
    labels = ["a"] * 150 + ["b"] * 150 + ["rare"] * 2
    frame = pd.DataFrame({"x": rng.normal(size=len(labels)), "y": labels})
    schema = Schema(columns=(Column(name="x", type="continuous"), Column(name="y", type="categorical")), condition="y")
    synth = _quiet(Synthesizer(schema, seed=0, threads=1, **TINY).fit, frame)
    assert set(synth.sample(2000, seed=0)["y"]) <= {"a", "b"}
    with pytest.raises(ValueError, match="at least 5"):
        synth.encoder_.condition_slot("rare")


# ---- 4. bad values ---------------------------------------------------------------------------
def test_non_finite_and_huge_values_are_each_reported_with_column_and_row():
    frame = pd.DataFrame({"x": ["1.5", "inf", "2", "-inf"], "w": ["1e308", "3", "-1e300", "4"],
                          "n": ["1", "2", "Infinity", "4"], "ok": ["1", "2", "3", "4"]})
    schema = Schema.from_dict({"columns": [{"name": "x", "type": "continuous"}, {"name": "w", "type": "continuous"},
                                           {"name": "n", "type": "integer"}, {"name": "ok", "type": "integer"}]})
    with pytest.raises(DataValidationError) as info:
        schema.parse(frame)
    problems = info.value.problems
    assert any("'x'" in p and "non-finite" in p and "rows 2, 4" in p for p in problems), problems
    assert any("'w'" in p and "too large" in p and "rows 1, 3" in p for p in problems), problems
    assert any("'n'" in p and "non-finite" in p and "row 3" in p for p in problems), problems
    assert len(problems) == 3 and not any("'ok'" in p for p in problems)


def test_non_finite_numbers_in_a_numeric_frame_are_refused_before_the_encoder():
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    x[[3, 7]] = [np.inf, 1e308]
    frame = pd.DataFrame({"x": x, "y": rng.choice(["a", "b"], 50)})
    frame.loc[0, "x"] = np.nan  # row numbers count every row, present or not
    schema, messages = _infer(frame)
    _one_line_naming(messages, "x", "non-finite or too large", "rows 4, 8")
    x = schema.column("x")
    assert x.nullable and np.isfinite(x.min) and x.max < 10  # bounds from the sane values only
    assert Schema.from_yaml(schema.to_yaml()) == schema
    with pytest.raises(DataValidationError) as info:
        schema.parse(frame)
    assert {p.split(":")[0] for p in info.value.problems} == {"column 'x'"}
    problems = " ".join(info.value.problems)
    assert "non-finite value inf in row 4" in problems and "value 1e+308 is too large" in problems
    assert "row 8" in problems and "np.float64" not in problems


def test_bounds_that_are_not_finite_are_schema_errors():
    for bound in (float("inf"), float("nan"), 1e300):
        with pytest.raises(SchemaError, match="finite"):
            Schema.from_dict({"columns": [{"name": "x", "type": "continuous", "max": bound}]})


def test_inferred_bounds_hold_the_data_they_came_from():
    # floats round-tripped through text once gave a min one ulp above the data's minimum
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"c{i}": rng.normal(size=60) for i in range(30)})
    schema, _ = _infer(frame)
    schema.parse(frame)  # no "below min" for the data the bounds were learned from


def test_time_zone_aware_dates_are_converted_to_utc_with_a_note(tmp_path):
    text = pd.DataFrame({"when": ["2020-01-01T10:00:00+02:00", "2020-01-02T10:00:00-05:00", "2020-01-03T00:00:00Z"] * 10,
                         "x": np.arange(30.0) % 7})
    schema = Schema.from_dict({"columns": [{"name": "when", "type": "datetime"}, {"name": "x", "type": "continuous"}]})
    with pytest.warns(SynthguardWarning, match="'when'.*UTC"):
        typed = schema.parse(text)
    assert typed["when"].dt.tz is None
    assert typed["when"].iloc[:3].tolist() == [pd.Timestamp("2020-01-01 08:00"), pd.Timestamp("2020-01-02 15:00"),
                                               pd.Timestamp("2020-01-03 00:00")]
    # an aware column read from parquet takes the same path, and the encoder fits it
    aware = pd.DataFrame({"when": pd.date_range("2021-03-01", periods=30, freq="D", tz="Europe/Paris"),
                          "x": np.arange(30.0) % 7})
    path = tmp_path / "aware.parquet"
    pq.write_table(pa.Table.from_pandas(aware), path)
    raw = read_table(path)
    inferred, _ = _infer(raw)
    assert inferred.column("when").type == "datetime"
    with pytest.warns(SynthguardWarning, match="'when'.*UTC"):
        typed = inferred.parse(raw)
    enc = _quiet(TableEncoder(inferred.resolve(list(raw.columns))).fit, typed)
    back = enc.inverse_transform(enc.transform(typed)[0])
    assert back["when"].dt.tz is None


def test_parquet_list_and_struct_columns_are_marked_and_reported(tmp_path):
    table = pa.table({"x": [1.0, 2.0, 3.0, 4.0] * 5, "tags": [[1, 2], [3], [], [4, 5]] * 5,
                      "addr": [{"city": "a", "zip": 1}, {"city": "b", "zip": 2}] * 10})
    path = tmp_path / "nested.parquet"
    pq.write_table(table, path)
    raw = read_table(path)
    schema, messages = _infer(raw)
    for name in ("tags", "addr"):
        assert schema.column(name).type == "id"
        _one_line_naming(messages, name, "nested")
    assert list(schema.parse(raw).columns) == ["x"]
    declared = Schema.from_dict({"columns": [{"name": "x", "type": "continuous"},
                                             {"name": "tags", "type": "categorical"},
                                             {"name": "addr", "type": "categorical"}]})
    with pytest.raises(DataValidationError) as info:
        declared.parse(raw)
    assert [p.split(":")[0] for p in info.value.problems] == ["column 'tags'", "column 'addr'"]
    assert all("nested" in p and "rows 1, 2, 3" in p for p in info.value.problems)
    assert any("'tags'" in line and "nested" in line for line in declared.review(raw))


# ---- 5. date formats ---------------------------------------------------------------------------
def test_mixed_format_dates_are_not_proposed_as_datetime_and_the_error_names_the_key():
    when = ["2020-01-02", "03/04/2020", "2021-05-06", "07/08/2021"] * 10
    frame = pd.DataFrame({"when": when, "x": np.arange(40.0) % 5})
    schema, messages = _infer(frame)
    assert schema.column("when").type != "datetime"
    _one_line_naming(messages, "when", "datetime_format")
    declared = Schema.from_dict({"columns": [{"name": "when", "type": "datetime"}, {"name": "x", "type": "continuous"}]})
    with pytest.raises(DataValidationError, match="`datetime_format`"):
        declared.parse(frame)


def test_one_format_is_recorded_and_sampled_dates_keep_it():
    rng = np.random.default_rng(0)
    days = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 700, 120), unit="D")
    frame = pd.DataFrame({"admitted": days.strftime("%d/%m/%Y"), "x": rng.normal(size=120),
                          "dead": rng.choice(["no", "yes"], 120)})
    schema, _ = _infer(frame, condition="dead")
    assert schema.column("admitted").datetime_format == "%d/%m/%Y"
    assert Schema.from_yaml(schema.to_yaml()) == schema
    typed = schema.parse(frame)
    assert schema.format(typed)["admitted"].tolist() == frame["admitted"].tolist()
    synth = _quiet(Synthesizer(schema, seed=0, threads=1, **TINY).fit, frame)
    rows = synth.sample(50, seed=0)
    assert rows["admitted"].str.fullmatch(r"\d{2}/\d{2}/\d{4}").all()
    schema.parse(rows)  # sampled dates read back with the schema


# ---- 6. what review must say -----------------------------------------------------------------
def _steward_table(n: int = 800, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dead = rng.choice([0, 1], n, p=[0.7, 0.3])
    return pd.DataFrame({
        "state": rng.choice([11, 12, 21, 23, 29, 31, 33, 35, 41, 43, 50, 53, 61, 71, 91, 95], n),
        "consent": ["yes"] * n,
        "ward": list(rng.choice(["a", "b", "c"], n - 3)) + ["x", "y", "y"],
        "death_time": np.where(dead == 1, rng.uniform(1, 30, n).round(2), np.nan),
        "discharge": np.where(dead == 1, "morgue", rng.choice(["home", "rehab"], n)),
        "age": rng.integers(20, 90, n),
        "dead": dead,
    })


def test_infer_warns_about_everything_a_steward_must_decide():
    frame = _steward_table()
    schema, messages = _infer(frame, condition="dead")
    assert schema.column("state").type == "categorical"
    _one_line_naming(messages, "state", "numeric code")
    _one_line_naming(messages, "consent", "one value only")
    _one_line_naming(messages, "ward", "fewer than 5 rows")
    _one_line_naming(messages, "death_time", "empty exactly when", "'dead'")
    _one_line_naming(messages, "discharge", "determines", "'dead'")
    assert not [m for m in messages if "'age'" in m]


def test_review_of_a_declared_schema_says_the_same():
    frame = _steward_table()
    schema = Schema.from_dict({"condition": "dead", "columns": [
        {"name": "state", "type": "integer"}, {"name": "consent", "type": "boolean"},
        {"name": "ward", "type": "categorical"}, {"name": "death_time", "type": "continuous", "nullable": True},
        {"name": "discharge", "type": "categorical"}, {"name": "age", "type": "integer"},
        {"name": "dead", "type": "categorical"}]})
    lines = schema.review(frame)
    for name, words in (("state", ["numeric code", "categorical"]), ("consent", ["one value only"]),
                        ("ward", ["fewer than 5 rows"]), ("death_time", ["empty exactly when"]),
                        ("discharge", ["determines"])):
        _one_line_naming(lines, name, *words)
    assert len(lines) == 5
    assert review_schema(schema, frame, rare_category_count=2) != lines  # the threshold is the encoder's


def test_a_wide_code_table_gets_one_review_line_per_kind():
    frame = pd.DataFrame({f"icd9_{i:03d}": ["0"] * 40 for i in range(30)})
    frame["dead"] = ["0", "1"] * 20
    schema = Schema.from_dict({"condition": "dead", "columns": [
        {"name": "dead", "type": "boolean"}, {"pattern": "icd9_*", "type": "boolean"}]})
    lines = schema.review(frame)
    assert len(lines) == 1 and lines[0].startswith("30 columns: one value only")


# ---- 7. one-class conditions -------------------------------------------------------------------
def test_a_condition_with_one_class_is_refused_in_one_line():
    frame = pd.DataFrame({"x": np.arange(30.0) % 4, "y": ["a"] * 30})
    with pytest.raises(DataValidationError, match="condition column 'y' holds one class"):
        _infer(frame, condition="y")
    with pytest.raises(SchemaError, match="one category"):
        Schema.from_dict({"condition": "y", "columns": [{"name": "x", "type": "continuous"},
                                                         {"name": "y", "type": "categorical", "categories": ["a"]}]})
    schema = Schema.from_dict({"condition": "y", "columns": [{"name": "x", "type": "continuous"},
                                                              {"name": "y", "type": "categorical"}]})
    with pytest.raises(DataValidationError, match="condition column 'y' holds one class") as info:
        Synthesizer(schema, seed=0, **TINY).fit(frame)
    assert "\n" not in str(info.value)
    assert any("'y'" in line and "fewer than two classes" in line for line in schema.review(frame))


# ---- 8. a wide encoder fit -------------------------------------------------------------------
def test_encoder_fit_reports_progress_per_column():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=80), "b": rng.choice(["u", "v"], 80), "c": rng.normal(size=80),
                          "y": rng.choice(["p", "q"], 80)})
    schema = Schema(columns=(Column(name="a", type="continuous"), Column(name="b", type="categorical"),
                             Column(name="c", type="continuous"), Column(name="y", type="categorical")),
                    condition="y")
    seen: list[tuple[int, int, str]] = []
    TableEncoder(schema).fit(frame, progress=lambda done, total, name: seen.append((done, total, name)))
    assert seen == [(1, 4, "a"), (2, 4, "b"), (3, 4, "c"), (4, 4, "y")]


def test_a_table_of_3000_columns_and_50_rows_fits_its_encoder_in_seconds():
    # it did not finish within 300 s: a ten-component mixture per column on 50 values
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"c{i}": (rng.lognormal(size=50) if i % 2 else rng.normal(size=50)) for i in range(3000)})
    schema = Schema(columns=(Column(pattern="c*", type="continuous"),)).resolve(list(frame.columns))
    calls = []
    start = time.perf_counter()
    enc = TableEncoder(schema).fit(frame, seed=0, progress=lambda done, total, name: calls.append(done))
    elapsed = time.perf_counter() - start
    assert calls == list(range(1, 3001))
    assert elapsed < 60, f"{elapsed:.1f} s"  # about 5 s on a loaded 2-core machine
    x, _ = enc.transform(frame)
    assert x.shape == (50, enc.dim) and np.isfinite(x).all()
    # and the same seed gives the same encoder
    again = TableEncoder(schema).fit(frame, seed=0)
    assert json.dumps(again.state_dict()) == json.dumps(enc.state_dict())


def test_a_whole_table_parse_refuses_a_one_class_condition_that_declares_two():
    frame = pd.DataFrame({"x": np.arange(30.0) % 4, "y": ["0"] * 30})
    schema = Schema.from_dict({"condition": "y", "columns": [
        {"name": "x", "type": "continuous"}, {"name": "y", "type": "categorical", "categories": ["0", "1"]}]})
    schema.parse(frame)  # a slice or a sample may hold one class
    with pytest.raises(DataValidationError, match="condition column 'y' holds one class"):
        schema.parse(frame, "t.csv", whole=True)
    # a shadow model's half of the rows may miss a class: a warning, not an error
    with pytest.warns(SynthguardWarning, match="'y' holds one class"):
        TableEncoder(schema).fit(schema.parse(frame))


def test_a_streamed_fit_refuses_a_one_class_condition_and_reports_progress(tmp_path):
    from synthguard.streaming import ParquetSource, fit_encoder

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=40), "y": ["0"] * 40})
    path = tmp_path / "one.parquet"
    pq.write_table(pa.Table.from_pandas(frame), path)
    schema = Schema.from_dict({"condition": "y", "columns": [
        {"name": "x", "type": "continuous"}, {"name": "y", "type": "categorical", "categories": ["0", "1"]}]})
    source = ParquetSource(path, schema, batch_rows=16)
    with pytest.raises(DataValidationError, match="condition column 'y' holds one class"):
        fit_encoder(TableEncoder(source.resolved), source, seed=0)
    frame["y"] = rng.choice(["0", "1"], 40)
    pq.write_table(pa.Table.from_pandas(frame), path)
    source = ParquetSource(path, schema, batch_rows=16)
    seen: list[str] = []
    fit_encoder(TableEncoder(source.resolved), source, seed=0, progress=lambda d, t, name: seen.append(name))
    assert seen == ["x", "y"]
