"""Issue 16 wired into the synthesizer, the image encoder, image writing and the `schema check` and
`fit` commands: each test fails for the reason its name gives."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from synthguard.cli import app
from synthguard.encoders.image import ImageEncoder
from synthguard.encoders.table import RARE_PLACEHOLDER
from synthguard.errors import DataValidationError, SynthguardError
from synthguard.images import image_schema, images_to_frame, write_image_samples
from synthguard.schema import Column, ImageShape, Schema
from synthguard.streaming import fit_parquet
from synthguard.synthesizer import MAX_SEED, Synthesizer
from tests.conftest import OFP_SCHEMA, ROOT, TINY

runner = CliRunner()
TINY_ARGS = ["--epochs", "1", "--batch-size", "64"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def _dead_pid() -> int:
    """The id of a process that has exited (its id is free, not reused at once)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# ---- task 1: `schema check` warns about what a steward must decide ----------------------------------
def _steward_table(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame({
        "patient": rng.permutation(np.arange(1000, 1000 + n)),  # unique whole numbers: an id
        "site": ["north"] * n,                                 # one value only
        "age": rng.integers(20, 90, n),
        "y": rng.choice(["a", "b"], n),
    })
    data = tmp_path / "steward.csv"
    frame.to_csv(data, index=False)
    schema = tmp_path / "steward.yaml"
    schema.write_text("format_version: 1\nname: steward\ncondition: y\ncolumns:\n"
                      "  - {name: patient, type: integer}\n"
                      "  - {name: site, type: categorical}\n"
                      "  - {name: age, type: integer, min: 0, max: 120}\n"
                      "  - {name: y, type: categorical, categories: [a, b]}\n")
    return data, schema


def test_schema_check_warns_about_probable_ids_and_constant_columns_and_still_exits_0(tmp_path):
    data, schema = _steward_table(tmp_path)
    result = invoke("schema", "check", data, "--schema", schema)
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if line.strip()]
    assert all(line.startswith("warning: ") for line in warned), result.stderr  # one line each, CLI style
    assert any("'patient'" in line and "identifier" in line for line in warned), result.stderr
    assert any("'site'" in line and "one value only" in line for line in warned), result.stderr
    assert "Traceback" not in result.output
    assert result.stdout.startswith("ok: ")
    # the warnings come before the "ok:" line in what the user sees
    assert result.output.index("warning:") < result.output.index("ok: ")


def test_schema_check_parses_the_whole_table_so_a_one_class_condition_fails(tmp_path):
    data, schema = _steward_table(tmp_path)
    frame = pd.read_csv(data)
    frame["y"] = "a"  # declared [a, b]: valid cell by cell, but a condition of one class
    frame.to_csv(data, index=False)
    result = invoke("schema", "check", data, "--schema", schema)
    assert result.exit_code == 1
    assert "holds one class ('a')" in result.stderr and "ok:" not in result.stdout


# ---- task 2: the whole-table parse and the encoder's progress -----------------------------------------
def test_fit_parses_the_whole_table_so_a_one_class_condition_is_refused(ofp_raw, ofp_schema):
    # hlth declares three categories: the encoder alone only warns (a shadow's half may miss a
    # class); the whole training table of `fit` must not
    one_class = ofp_raw.assign(hlth="other")
    with pytest.raises(DataValidationError, match="holds one class"):
        Synthesizer(ofp_schema, seed=0, **TINY).fit(one_class)


def test_fit_reports_encoder_progress_column_by_column(ofp_raw, ofp_schema):
    calls = []
    synth = Synthesizer(ofp_schema, seed=0, **{**TINY, "epochs": 1, "batch_size": 32})
    synth.fit(ofp_raw, on_column=lambda done, total, column: calls.append((done, total, column)))
    total = len(ofp_schema.resolve(list(ofp_raw.columns)).modelled_columns)
    assert [c[0] for c in calls] == list(range(1, total + 1))
    assert {c[1] for c in calls} == {total}
    assert {c[2] for c in calls} == {c.name for c in ofp_schema.resolve(list(ofp_raw.columns)).modelled_columns}


def test_streaming_fit_reports_the_same_encoder_progress(tmp_path, ofp_raw, ofp_schema):
    path = tmp_path / "ofp.parquet"
    ofp_raw.to_parquet(path)
    streamed, whole = [], []
    fit_parquet(Synthesizer(ofp_schema, seed=0, **{**TINY, "epochs": 1, "batch_size": 32}), path,
                on_column=lambda *call: streamed.append(call))
    Synthesizer(ofp_schema, seed=0, **{**TINY, "epochs": 1, "batch_size": 32}).fit(ofp_raw, on_column=lambda *call: whole.append(call))
    assert streamed == whole and streamed[-1][0] == streamed[-1][1]


def test_fit_command_shows_encoder_progress_in_a_log_and_quiet_silences_it(tmp_path, ofp_csv):
    result = invoke("fit", ofp_csv, "--schema", OFP_SCHEMA, "-o", tmp_path / "m.sgm", *TINY_ARGS)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("fitting the encoder: ")]
    assert lines and re.match(r"fitting the encoder: (\d+)/\1 columns", lines[-1]), result.stderr
    assert len(lines) <= 11  # a line every tenth of the columns at most, not one per column of a wide table
    assert result.stderr.index("fitting the encoder") < result.stderr.index("training: epoch")
    quiet = invoke("fit", ofp_csv, "--schema", OFP_SCHEMA, "-o", tmp_path / "q.sgm", "--quiet", *TINY_ARGS)
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout == ""


def test_streaming_fit_command_shows_encoder_progress(tmp_path, ofp_raw):
    path = tmp_path / "ofp.parquet"
    ofp_raw.to_parquet(path)
    result = invoke("fit", path, "--schema", OFP_SCHEMA, "-o", tmp_path / "m.sgm", *TINY_ARGS)
    assert result.exit_code == 0, result.output
    assert re.search(r"fitting the encoder: (\d+)/\1 columns", result.stderr), result.stderr


def test_fit_command_progress_is_a_line_every_tenth_on_a_wide_table(tmp_path):
    rng = np.random.default_rng(1)
    wide = pd.DataFrame({f"c{i:03d}": rng.normal(size=40) for i in range(60)})
    wide["y"] = rng.choice(["a", "b"], 40)
    data = tmp_path / "wide.csv"
    wide.to_csv(data, index=False)
    schema = tmp_path / "wide.yaml"
    schema.write_text("format_version: 1\nname: wide\ncondition: y\ncolumns:\n"
                      "  - {pattern: 'c*', type: continuous}\n"
                      "  - {name: y, type: categorical, categories: [a, b]}\n")
    result = invoke("fit", data, "--schema", schema, "-o", tmp_path / "m.sgm", *TINY_ARGS)
    assert result.exit_code == 0, result.output
    counts = [int(m.group(1)) for m in re.finditer(r"fitting the encoder: (\d+)/61 columns", result.stderr)]
    assert counts[-1] == 61 and 5 <= len(counts) <= 11, result.stderr


# ---- task 3: seeds and a schema with nothing to model ------------------------------------------------
@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1, 2**64, 1.5, True])
def test_a_seed_outside_0_to_2_32_is_one_line_error(ofp_schema, seed):
    with pytest.raises(SynthguardError) as caught:
        Synthesizer(ofp_schema, seed=seed)
    assert "\n" not in str(caught.value) and "seed must be" in str(caught.value)


def test_the_largest_seed_fits_and_a_sampling_seed_outside_the_range_is_refused(ofp_raw, ofp_schema):
    synth = Synthesizer(ofp_schema, seed=MAX_SEED, **{**TINY, "epochs": 1, "batch_size": 32}).fit(ofp_raw)
    assert len(synth.sample(5, seed=MAX_SEED)) == 5
    for bad in (-1, MAX_SEED + 1):
        with pytest.raises(SynthguardError, match="sampling seed must be") as caught:
            synth.sample(5, seed=bad)
        assert "\n" not in str(caught.value)


def _nothing_schema() -> Schema:
    return Schema(columns=(Column(name="a", type="id"), Column(name="b", type="continuous", sensitive=True)))


def test_a_schema_with_nothing_to_model_is_refused_in_one_line_without_cli_flags(tmp_path):
    frame = pd.DataFrame({"a": range(30), "b": np.linspace(0, 1, 30)})
    with pytest.raises(SynthguardError, match="nothing to model") as caught:
        Synthesizer(_nothing_schema(), epochs=1).fit(frame)
    message = str(caught.value)
    assert "\n" not in message and "--" not in message
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    with pytest.raises(SynthguardError, match="nothing to model") as caught:
        fit_parquet(Synthesizer(_nothing_schema(), epochs=1), path)  # the streaming path too
    assert "\n" not in str(caught.value) and "--" not in str(caught.value)
    assert not list(tmp_path.glob(".*"))


# ---- task 4: the image encoder never emits a rare label -----------------------------------------------
def _image_encoder() -> tuple[ImageEncoder, pd.DataFrame]:
    shape = ImageShape(8, 8, 1)
    labels = [0] * 10 + [1] * 8 + [2] * 2 + [3] * 1  # labels 2 and 3: fewer than 5 images each
    images = np.random.default_rng(0).random((len(labels), 8, 8, 1))
    frame = images_to_frame(images, labels)
    schema = image_schema([0, 1, 2, 3], shape).resolve(list(frame.columns))
    return ImageEncoder(schema, rare_category_count=5).fit(frame), frame


def test_image_condition_frequencies_never_draw_the_rare_slot():
    enc, _ = _image_encoder()
    rare = enc.condition.slots.index(RARE_PLACEHOLDER)
    freq = enc.condition_frequencies
    assert freq[rare] == 0.0 and np.isclose(freq.sum(), 1.0)
    assert np.allclose(freq[[enc.condition.slots.index(0), enc.condition.slots.index(1)]], [10 / 18, 8 / 18])


def test_image_decoding_of_the_rare_slot_is_the_placeholder_never_a_real_label():
    enc, _ = _image_encoder()
    rare = enc.condition.slots.index(RARE_PLACEHOLDER)
    slots = np.array([rare, enc.condition.slots.index(0), rare, enc.condition.slots.index(1)])
    rows = enc.inverse_transform(np.zeros((4, enc.dim), dtype=np.float32), slots)
    assert rows["label"].tolist() == [RARE_PLACEHOLDER, 0, RARE_PLACEHOLDER, 1]
    assert not set(rows["label"]) & {2, 3}


def test_image_smallest_category_count_skips_the_rare_slot():
    enc, _ = _image_encoder()
    assert enc.smallest_category_count() == 8  # label 1; not the 3 images of the merged slot


def test_image_encoder_reports_progress():
    enc, frame = _image_encoder()
    calls = []
    enc.fit(frame, progress=lambda *call: calls.append(call))
    assert calls == [(1, 1, "label")]


# ---- task 5: image folders are staged under the io helpers' private names -------------------------------
def test_image_folder_staging_names_the_pid_and_removes_a_killed_runs_debris(tmp_path, monkeypatch):
    import synthguard.images as images

    shape = ImageShape(8, 8, 1)
    schema = image_schema([0, 1], shape)
    frame = images_to_frame(np.random.default_rng(0).random((6, 8, 8, 1)), [0, 1] * 3)
    debris = tmp_path / f".out.staging-{_dead_pid()}-0123abcd"
    debris.mkdir()
    (debris / "0").mkdir()
    (debris / "0" / "00000.png").write_bytes(b"a killed run's real-looking image")
    seen: list[str] = []
    real_png = images.png_bytes

    def spying_png(image):
        seen.extend(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
        return real_png(image)

    monkeypatch.setattr(images, "png_bytes", spying_png)
    written = write_image_samples(frame, schema, tmp_path / "out")
    assert len(written) == 6 and all(p.is_file() for p in written)
    assert not debris.exists()  # the killed run's folder is found and removed
    assert seen and {re.sub(r"-[0-9a-f]{8}$", "", name) for name in seen} == {f".out.staging-{os.getpid()}"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_image_folder_staging_is_removed_when_writing_fails(tmp_path, monkeypatch):
    import synthguard.images as images

    schema = image_schema([0, 1], ImageShape(8, 8, 1))
    frame = images_to_frame(np.random.default_rng(0).random((4, 8, 8, 1)), [0, 1] * 2)
    monkeypatch.setattr(images, "png_bytes", lambda image: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        write_image_samples(frame, schema, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


# ---- task 6: the README says what happens to rare values ------------------------------------------------
def test_readme_says_rare_categories_and_learned_extremes_never_come_out():
    text = " ".join((ROOT / "README.md").read_text().split())
    assert "merged into one slot by the encoder (`rare_category_count`); that slot is never sampled" in text
    assert "`__rare__`" in text
    assert "within the 5th smallest and 5th largest training values" in text
    assert re.search(r"`schema infer` and `schema check` warn about probable ids, .*constant columns, rare "
                     r"categories, columns that \(nearly\) determine the condition, and identifiers that repeat", text)


def test_an_image_collection_of_one_class_is_refused_naming_the_source(tmp_path):
    from PIL import Image

    from synthguard.errors import InputError
    from synthguard.images import load_images

    (tmp_path / "in" / "a").mkdir(parents=True)
    for i in range(2):
        Image.new("L", (8, 8), 0).save(tmp_path / "in" / "a" / f"{i}.png")
    with pytest.raises(InputError, match=r"in: one class only \('a'\); an image collection needs at least two"):
        load_images(tmp_path / "in")
