"""Images through the command line: fit, sample (npz + per-class grids), and the gated release."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from synthguard.cli import app

runner = CliRunner()
TINY = ["--epochs", "2", "--batch-size", "64"]
SMALL_AUDIT = ["--shadows", "4", "--targets", "60", "--workers", "1"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_fit_and_sample_digits_from_the_command_line(tmp_path):
    model = tmp_path / "digits.sgm"
    assert invoke("fit", "digits", "-o", model, "--seed", "1", "--quiet", *TINY).exit_code == 0
    result = invoke("sample", model, "-n", 30, "-o", tmp_path / "s.npz", "--condition", "label=3", "--seed", "2")
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "s.npz") as data:
        assert data["images"].shape[0] == 30 and data["images"].dtype == np.uint8
        assert set(data["labels"].tolist()) == {3}
    assert (tmp_path / "s_class_3.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = invoke("sample", model, "-n", 5, "-o", tmp_path / "s.csv")
    assert bad.exit_code == 1 and "image samples go to an .npz file or a folder" in bad.stderr


def test_schema_infer_proposes_an_image_schema(tmp_path):
    result = invoke("schema", "infer", "digits")
    assert result.exit_code == 0
    assert "modality: image" in result.stdout and "height: 8" in result.stdout and "condition: label" in result.stdout


def test_image_release_passes_or_is_refused_by_the_policy(tmp_path):
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text("format_version: 1\naudit: {shadows: 4, targets: 60}\nprivacy: {max_auc: 0.8, "
                       "max_tpr_at_1pct_fpr: 0.6, max_tpr_at_01pct_fpr: 0.6}\n"
                       "utility: {min_tstr_accuracy_ratio: 0.05, min_tstr_auc_lift: null}\n")
    out = tmp_path / "rel"
    result = invoke("release", "digits", "-p", lenient, "-o", out, "--epochs", "3", *SMALL_AUDIT)
    assert result.exit_code == 0, result.output
    passport = json.loads((out / "release.json").read_text())
    assert passport["output"]["path"] == "synthetic.npz" and passport["output"]["rows"] == 1438
    assert "frechet" in passport["utility"] and "quality" not in passport["utility"]
    assert {c["name"] for c in passport["checks"]} >= {"TSTR accuracy ratio", "synthetic rows identical to a training row"}
    html = (out / "report.html").read_text()
    assert 'data-decision="released"' in html and 'id="fig-samples' in html
    strict = tmp_path / "strict.yaml"
    strict.write_text(lenient.read_text().replace("min_tstr_accuracy_ratio: 0.05", "min_tstr_accuracy_ratio: 1.5"))
    refused = invoke("release", "digits", "-p", strict, "-o", tmp_path / "rel2", "--epochs", "3", *SMALL_AUDIT)
    assert refused.exit_code == 3
    assert not list((tmp_path / "rel2").glob("synthetic*")) and not list((tmp_path / "rel2").glob("samples*"))
