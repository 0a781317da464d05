"""Large tables: a parquet file fitted batch by batch gives the in-memory fit's encoder, encoded
rows and model; samples written chunk by chunk are `sample()`'s rows; failures leave no file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from synthguard.encoders.table import TableEncoder
from synthguard.errors import DataValidationError, InputError
from synthguard.io import read_table, write_table
from synthguard.schema import Schema
from synthguard.streaming import ParquetSource, encode, fit_encoder, fit_parquet, sample_to_file
from synthguard.synthesizer import _SAMPLE_CHUNK, Synthesizer
from tests.conftest import TINY

SCHEMA = Schema.from_dict({"name": "mixed", "condition": "d", "columns": [
    {"name": "a", "type": "continuous", "nullable": True},
    {"name": "b", "type": "categorical", "nullable": True},
    {"name": "c", "type": "boolean", "nullable": True, "true_value": "yes", "false_value": "no"},
    {"name": "d", "type": "categorical", "categories": ["p", "q", "r"]},
    {"name": "e", "type": "integer", "min": 0},
    {"name": "f", "type": "continuous", "min": 0},
    {"name": "key", "type": "id"},
]})


def mixed_frame(n: int = 700, seed: int = 0) -> pd.DataFrame:
    """Text cells as a CSV holds them: nulls in a continuous, a categorical and a boolean column,
    rare categories (merged by the encoder), a heavy tail (fitted on log1p)."""
    rng = np.random.default_rng(seed)
    a = np.round(rng.normal(size=n), 4).astype(str)
    a[rng.choice(n, 40, replace=False)] = ""
    b = rng.choice(["x", "y", "z", "w", "v"], n, p=[0.5, 0.3, 0.194, 0.004, 0.002]).astype(object)
    b[rng.choice(n, 25, replace=False)] = "NA"
    c = rng.choice(["yes", "no"], n).astype(object)
    c[rng.choice(n, 15, replace=False)] = ""
    return pd.DataFrame({"a": a, "b": b, "c": c, "d": rng.choice(["p", "q", "r"], n, p=[0.6, 0.3, 0.1]),
                         "e": rng.poisson(3, n).astype(str), "f": np.round(rng.lognormal(2, 1.5, n), 3).astype(str),
                         "key": [f"id{i}" for i in range(n)]})


def write_parquet(frame: pd.DataFrame, path, row_group_size: int = 100):
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=row_group_size)
    return path


@pytest.mark.parametrize("fit_rows", [150, 5000])  # a seeded sample of the rows, and every row
def test_streamed_encoder_and_rows_equal_the_in_memory_ones(tmp_path, fit_rows):
    frame = mixed_frame()
    path = write_parquet(frame, tmp_path / "t.parquet")
    assert pq.ParquetFile(path).metadata.num_row_groups == 7
    resolved = SCHEMA.resolve(list(frame.columns))
    whole = TableEncoder(resolved, fit_rows=fit_rows).fit(SCHEMA.parse(frame), seed=3)
    x_whole, c_whole = whole.transform(SCHEMA.parse(frame), seed=3)

    source = ParquetSource(path, SCHEMA, batch_rows=64)  # batches end inside and at row groups
    streamed = TableEncoder(resolved, fit_rows=fit_rows)
    nulls = fit_encoder(streamed, source, seed=3)
    assert nulls["a"] == 40 and nulls["e"] == 0
    assert streamed.state_dict() == whole.state_dict()
    assert streamed.transforms["a"].has_nulls and streamed.transforms["b"].rare  # the cases are there
    x, c = encode(streamed, source, seed=3, nulls=nulls)
    assert x.dtype == np.float32 and x.shape == x_whole.shape
    np.testing.assert_array_equal(x, x_whole)
    np.testing.assert_array_equal(c, c_whole)
    # given the same (in-memory fitted) encoder, batches encode as the whole table does
    np.testing.assert_array_equal(encode(whole, source, seed=3)[0], x_whole)


def test_fit_parquet_gives_the_in_memory_model(tmp_path):
    frame = mixed_frame(400)
    path = write_parquet(frame, tmp_path / "t.parquet", row_group_size=90)
    recipe = Synthesizer(SCHEMA, seed=4, threads=1, **TINY)
    in_memory = recipe.clone().fit(read_table(path))
    streamed = fit_parquet(recipe.clone(), path, batch_rows=50)
    assert streamed.n_rows_ == 400
    for name, tensor in in_memory.gan_.generator.state_dict().items():
        assert torch.equal(tensor, streamed.gan_.generator.state_dict()[name]), name
    pd.testing.assert_frame_equal(streamed.sample(300, seed=1), in_memory.sample(300, seed=1))


def test_a_bad_cell_is_named_by_file_column_and_row(tmp_path):
    frame = mixed_frame(300)
    frame.loc[149, "e"] = "many"  # data row 150, in the third batch of 64
    path = write_parquet(frame, tmp_path / "bad.parquet")
    with pytest.raises(DataValidationError, match=r"bad\.parquet: column 'e': non-numeric value 'many' in row 150$"):
        fit_parquet(Synthesizer(SCHEMA, **TINY), path, batch_rows=64)
    # a column missing in one whole batch only: each batch's parse allows an empty column
    frame = mixed_frame(300)
    frame.loc[64:127, "e"] = ""
    path = write_parquet(frame, tmp_path / "gap.parquet")
    with pytest.raises(DataValidationError, match="column 'e': 64 missing value"):
        fit_parquet(Synthesizer(SCHEMA, **TINY), path, batch_rows=64)
    (tmp_path / "not.parquet").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not.parquet: not a readable parquet file"):
        fit_parquet(Synthesizer(SCHEMA, **TINY), tmp_path / "not.parquet")
    with pytest.raises(DataValidationError, match="column 'key' is in the schema but not in the data"):
        fit_parquet(Synthesizer(SCHEMA, **TINY), write_parquet(frame.drop(columns="key"), tmp_path / "k.parquet"))


@pytest.fixture(scope="module")
def tiny_model():
    return Synthesizer(SCHEMA, seed=2, threads=1, **TINY).fit(mixed_frame(300))


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_chunked_sample_file_equals_sample(tmp_path, tiny_model, suffix):
    n = 2 * _SAMPLE_CHUNK + 123  # three generator chunks, written as two row groups
    path = sample_to_file(tiny_model, n, tmp_path / f"s.{suffix}", seed=5, write_rows=_SAMPLE_CHUNK + 1)
    expected = tiny_model.sample(n, seed=5)
    assert len(expected) == n and expected.index.equals(pd.RangeIndex(n))
    write_table(expected, tmp_path / f"whole.{suffix}")
    pd.testing.assert_frame_equal(read_table(path), read_table(tmp_path / f"whole.{suffix}"))
    if suffix == "parquet":
        assert pq.ParquetFile(path).metadata.num_row_groups == 2
    # whole chunks do not depend on how many rows follow: a draw of whole chunks is a prefix
    pd.testing.assert_frame_equal(tiny_model.sample(_SAMPLE_CHUNK, seed=5), expected.iloc[:_SAMPLE_CHUNK])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"s.{suffix}", f"whole.{suffix}"])


def test_a_failed_sample_leaves_no_file(tmp_path, tiny_model, monkeypatch):
    calls = []
    inverse = tiny_model.encoder_.inverse_transform

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # interrupted after the first chunk was written
        return inverse(*args, **kwargs)

    monkeypatch.setattr(tiny_model.encoder_, "inverse_transform", failing)
    with pytest.raises(KeyboardInterrupt):
        sample_to_file(tiny_model, 3 * _SAMPLE_CHUNK, tmp_path / "s.parquet", seed=1, write_rows=100)
    assert list(tmp_path.iterdir()) == []


def test_cli_fit_streams_parquet_and_sample_writes_chunks(tmp_path, ofp_csv, monkeypatch):
    import synthguard.api as api
    from tests.conftest import OFP_SCHEMA
    from tests.test_cli import TINY_ARGS, invoke

    parquet = write_parquet(pd.read_csv(ofp_csv, dtype=str, keep_default_na=False), tmp_path / "ofp.parquet", 64)
    result = invoke("fit", ofp_csv, "--schema", OFP_SCHEMA, "-o", tmp_path / "csv.sgm", "--quiet", *TINY_ARGS)
    assert result.exit_code == 0, result.output

    def no_whole_table(*args, **kwargs):
        raise AssertionError("the parquet file was read whole")

    monkeypatch.setattr(api, "read_table", no_whole_table)  # the API decides to stream
    result = invoke("fit", parquet, "--schema", OFP_SCHEMA, "-o", tmp_path / "pq.sgm", "--quiet", *TINY_ARGS)
    assert result.exit_code == 0, result.output
    for name in ("csv", "pq"):
        result = invoke("sample", tmp_path / f"{name}.sgm", "-n", _SAMPLE_CHUNK + 7, "-o", tmp_path / f"{name}.csv",
                        "--seed", "1", "--quiet")
        assert result.exit_code == 0, result.output
    assert (tmp_path / "csv.csv").read_bytes() == (tmp_path / "pq.csv").read_bytes()
    assert len(pd.read_csv(tmp_path / "pq.csv")) == _SAMPLE_CHUNK + 7
