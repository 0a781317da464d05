"""The command line: exit codes, one-line errors that name the problem, and nothing half-written."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from synthguard.cli import app
from tests.conftest import OFP_SCHEMA

runner = CliRunner()
TINY_ARGS = ["--epochs", "2", "--batch-size", "64"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, *fragments):
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_fit_then_sample_csv_and_parquet(tmp_path, ofp_csv):
    model = tmp_path / "m.sgm"
    result = invoke("fit", ofp_csv, "--schema", OFP_SCHEMA, "-o", model, "--defense", "none", "--seed", "1", *TINY_ARGS)
    assert result.exit_code == 0, result.output
    assert model.is_file() and "training" in result.stderr
    for name in ("s.csv", "s.parquet"):
        result = invoke("sample", model, "-n", 25, "-o", tmp_path / name, "--seed", "2")
        assert result.exit_code == 0, result.output
    csv_rows = pd.read_csv(tmp_path / "s.csv")
    parquet_rows = pd.read_parquet(tmp_path / "s.parquet")
    assert len(csv_rows) == len(parquet_rows) == 25
    assert list(parquet_rows.columns) == list(csv_rows.columns)
    assert parquet_rows["ofp"].tolist() == csv_rows["ofp"].tolist()
    result = invoke("sample", model, "-n", 10, "-o", tmp_path / "p.csv", "--condition", "hlth=poor", "--quiet")
    assert result.exit_code == 0 and result.stderr == ""
    assert set(pd.read_csv(tmp_path / "p.csv")["hlth"]) == {"poor"}


def test_quiet_fit_prints_nothing(tmp_path, ofp_csv):
    result = invoke("fit", ofp_csv, "--schema", OFP_SCHEMA, "-o", tmp_path / "m.sgm", "--quiet", *TINY_ARGS)
    assert result.exit_code == 0 and result.stderr == "" and result.stdout == ""


def test_schema_infer_and_check(tmp_path, ofp_csv):
    out = tmp_path / "s.yaml"
    assert invoke("schema", "infer", ofp_csv, "-o", out, "--condition", "hlth").exit_code == 0
    assert "learned: [bounds]" in out.read_text()
    result = invoke("schema", "check", ofp_csv, "--schema", out)
    assert result.exit_code == 0 and "ok:" in result.stdout


def test_schema_check_lists_every_problem(tmp_path, ofp_full):
    bad = ofp_full.iloc[:20].copy()
    bad.loc[3, "age"] = "old"
    bad.loc[5, "hlth"] = "great"
    bad.loc[7, "sex"] = ""
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    result = invoke("schema", "check", path, "--schema", OFP_SCHEMA)
    assert result.exit_code == 1
    assert "'age': non-numeric value 'old' in row 4" in result.stderr
    assert "'hlth': value 'great' is not a declared category" in result.stderr
    assert "'sex': missing value in row 8" in result.stderr
    assert "3 problem(s)" in result.stderr


def _write(tmp_path, name, text=None, data=None):
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    else:
        path.write_text(text)
    return path


@pytest.fixture()
def bad_inputs(tmp_path, ofp_full):
    head = ofp_full.iloc[:30]
    csv_text = head.to_csv(index=False)
    header = csv_text.splitlines()[0]
    rows = head.copy()
    numeric_text = rows.assign(age=rows["age"].where(rows.index != 4, "seventy"))
    out_of_domain = rows.assign(region=rows["region"].where(rows.index != 6, "mars"))
    negative = rows.assign(ofp=rows["ofp"].where(rows.index != 2, "-3"))
    with_null = rows.assign(school=rows["school"].where(rows.index != 9, ""))
    return {
        "missing file": (tmp_path / "nope.csv", ["file not found", "nope.csv"]),
        "empty file": (_write(tmp_path, "empty.csv", ""), ["the file is empty", "empty.csv"]),
        "header only": (_write(tmp_path, "header.csv", header + "\n"), ["header but no data rows"]),
        "schema column missing": (_write(tmp_path, "drop.csv", rows.drop(columns="hosp").to_csv(index=False)),
                                  ["'hosp' is in the schema but not in the data"]),
        "data column not in schema": (_write(tmp_path, "extra.csv", rows.assign(zip="12345").to_csv(index=False)),
                                      ["'zip' is in the data but not in the schema"]),
        "non-numeric text": (_write(tmp_path, "text.csv", numeric_text.to_csv(index=False)),
                             ["'age'", "non-numeric value 'seventy'", "row 5"]),
        "outside categories": (_write(tmp_path, "cat.csv", out_of_domain.to_csv(index=False)),
                               ["'region'", "'mars'", "row 7"]),
        "outside bounds": (_write(tmp_path, "neg.csv", negative.to_csv(index=False)), ["'ofp'", "below min 0", "row 3"]),
        "null in non-nullable": (_write(tmp_path, "null.csv", with_null.to_csv(index=False)),
                                 ["'school'", "missing value in row 10"]),
        "duplicate columns": (_write(tmp_path, "dup.csv", "a,b,a\n1,2,3\n"), ["duplicate column name 'a'"]),
        "not UTF-8": (_write(tmp_path, "latin.csv", data=("name,x\n" + "Jos\xe9,1\n").encode("latin-1")),
                      ["not UTF-8", "latin.csv"]),
    }


CASES = ["missing file", "empty file", "header only", "schema column missing", "data column not in schema",
         "non-numeric text", "outside categories", "outside bounds", "null in non-nullable", "duplicate columns",
         "not UTF-8"]


@pytest.mark.parametrize("case", CASES)
def test_bad_data_gets_a_one_line_error_and_writes_nothing(tmp_path, bad_inputs, case):
    path, fragments = bad_inputs[case]
    model = tmp_path / "model.sgm"
    result = invoke("fit", path, "--schema", OFP_SCHEMA, "-o", model, *TINY_ARGS)
    one_line_error(result, *fragments)
    assert not model.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_extra_columns_may_be_ignored_when_the_schema_says_so(tmp_path, ofp_full):
    schema = tmp_path / "s.yaml"
    schema.write_text(OFP_SCHEMA.read_text().replace("extra_columns: error", "extra_columns: ignore"))
    data = _write(tmp_path, "extra.csv", ofp_full.iloc[:80].assign(zip="12345").to_csv(index=False))
    result = invoke("fit", data, "--schema", schema, "-o", tmp_path / "m.sgm", "--quiet", *TINY_ARGS)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("text", "fragments"), [
    ("format_version: 1\ncolumns:\n  - {name: ofp, type: number}\n", ["unknown type 'number'"]),
    ("format_version: 1\ncolumns:\n  - {name: ofp, type: integer, nulable: true}\n", ["unknown key 'nulable'", "ofp"]),
    ("columns: [\n", ["not valid YAML"]),
])
def test_bad_schema_gets_a_one_line_error(tmp_path, ofp_csv, text, fragments):
    schema = _write(tmp_path, "bad.yaml", text)
    one_line_error(invoke("fit", ofp_csv, "--schema", schema, "-o", tmp_path / "m.sgm"), str(schema), *fragments)


def test_sample_errors(tmp_path, ofp_csv):
    model = tmp_path / "m.sgm"
    assert invoke("fit", ofp_csv, "--schema", OFP_SCHEMA, "-o", model, "--quiet", *TINY_ARGS).exit_code == 0
    one_line_error(invoke("sample", model, "-n", 0, "-o", tmp_path / "s.csv"), "-n must be a positive")
    one_line_error(invoke("sample", model, "-n", -5, "-o", tmp_path / "s.csv"), "-n must be a positive")
    one_line_error(invoke("sample", model, "-n", 5, "-o", tmp_path / "no" / "s.csv"), "output directory does not exist")
    one_line_error(invoke("sample", model, "-n", 5, "-o", tmp_path / "s.txt"), "unknown table format")
    one_line_error(invoke("sample", model, "-n", 5, "-o", tmp_path / "s.csv", "--condition", "sex=male"),
                   "not the model's condition column ('hlth')")
    tampered = tmp_path / "t.sgm"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    one_line_error(invoke("sample", tampered, "-n", 5, "-o", tmp_path / "s.csv"), "t.sgm")
    one_line_error(invoke("sample", ofp_csv, "-n", 5, "-o", tmp_path / "s.csv"), "not a synthguard model file")
    assert not (tmp_path / "s.csv").exists()


def test_fit_refuses_a_missing_output_directory_before_training(tmp_path, ofp_csv):
    one_line_error(invoke("fit", ofp_csv, "--schema", OFP_SCHEMA, "-o", tmp_path / "no" / "m.sgm"),
                   "output directory does not exist")


def test_usage_errors_are_exit_code_2(tmp_path, ofp_csv):
    assert invoke("fit", ofp_csv).exit_code == 2  # -o is required
    assert invoke("sample").exit_code == 2


# ---- version, help and option values -------------------------------------------------------------
def test_version_prints_the_package_version():
    import synthguard

    result = invoke("--version")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"synthguard {synthguard.__version__}"


def test_the_package_runs_as_a_module_and_as_the_console_script():
    import subprocess
    import sys

    import synthguard
    from synthguard.cli import main

    result = subprocess.run([sys.executable, "-m", "synthguard.cli", "--version"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == f"synthguard {synthguard.__version__}"
    assert callable(main)  # pyproject's entry point, synthguard.cli:main


def help_text(*command):
    """The help of a command as one line: rich's box edges, colours and line wrapping removed."""
    import re

    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    plain = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    return " ".join(" ".join(line.strip().strip("│").split()) for line in plain.splitlines())


def test_release_help_shows_the_defaults():
    text = help_text("release")
    assert "[default: mixup]" in text  # --defense
    assert "[default: 0]" in text  # --seed
    assert "default: the policy's" in text  # --shadows, --targets, --threat-model


def test_every_option_without_a_shown_default_describes_it():
    import typer
    from typer.core import TyperOption

    def commands(command, path=()):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():  # a group: its commands too
            yield from commands(sub, (*path, name))

    undescribed, checked = [], 0
    for path, command in commands(typer.main.get_command(app)):
        for param in command.params:
            if not isinstance(param, TyperOption) or param.is_flag or param.required:
                continue
            checked += 1
            shown = param.default is not None and param.show_default is not False
            help_ = (param.help or "").lower()
            if not shown and "default" not in help_ and "if omitted" not in help_:
                undescribed.append(f"{' '.join(path)} {param.opts[0]}")
    assert checked > 50 and not undescribed, undescribed


def test_option_choices_are_the_librarys():
    from typing import get_args

    from synthguard import cli
    from synthguard.audit import THREAT_MODELS
    from synthguard.gan.trainer import TrainConfig
    from synthguard.images import IMAGE_TRAIN_DEFAULTS
    from synthguard.parallel import BACKENDS

    assert get_args(cli.ThreatModel) == THREAT_MODELS
    assert get_args(cli.Backend) == BACKENDS
    assert (cli.TABLE_EPOCHS, cli.TABLE_BATCH) == (TrainConfig.epochs, TrainConfig.batch_size)
    assert (cli.IMAGE_EPOCHS, cli.IMAGE_BATCH) == (IMAGE_TRAIN_DEFAULTS["epochs"], IMAGE_TRAIN_DEFAULTS["batch_size"])


@pytest.mark.parametrize("args, option", [
    (["fit", "{data}", "-o", "{out}/m.sgm", "--defense", "nosuch"], "--defense"),
    (["audit", "{data}", "--defense", "nosuch"], "--defense"),
    (["audit", "{data}", "--threat-model", "nosuch"], "--threat-model"),
    (["audit", "{data}", "--backend", "nosuch"], "--backend"),
    (["release", "{data}", "-o", "{out}/r", "--threat-model", "nosuch"], "--threat-model"),
    (["release", "{data}", "-o", "{out}/r", "--format", "xls"], "--format"),
    (["release", "{data}", "-o", "{out}/r", "--backend", "nosuch"], "--backend"),
    (["experiment", "{data}", "-o", "{out}/e", "--defenses", "none,nosuch"], "--defenses"),
])
def test_a_bad_option_value_is_a_usage_error_before_any_work(tmp_path, args, option):
    # the data file does not exist: reading it first would be exit 1, not 2
    data = tmp_path / "missing.csv"
    result = invoke(*(a.format(data=data, out=tmp_path) for a in args))
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in " ".join(result.stderr.split()), result.stderr
    assert "nosuch" in result.stderr or "xls" in result.stderr
    assert list(tmp_path.iterdir()) == []
