"""The release gate end to end: nothing leaves unless the policy passes, and nothing half-written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from synthguard.attacks.calibration import Memoriser
from synthguard.cli import app
from synthguard.policy import Policy
from synthguard.release import release, sha256_file
from tests.conftest import OFP_SCHEMA, ROOT

runner = CliRunner()
SMALL = ["--epochs", "30", "--batch-size", "64", "--shadows", "4", "--targets", "60", "--workers", "1"]

# A policy whose audit is this small (4 shadows x 60 records: 120 non-member scores) and whose
# limits that audit can resolve (synthguard.sizing); the default policy's limits need thousands of
# non-member scores and its audit 16 shadows, which the command line may not lower.
LENIENT = """format_version: 1
audit: {shadows: 4, targets: 60}
privacy: {max_auc: 0.75, max_tpr_at_1pct_fpr: 0.5, max_tpr_at_01pct_fpr: 0.5}
utility: {min_quality: 0.5, max_dwp_mae: 0.2, max_dwpre_gap: 0.5, min_tstr_accuracy_ratio: 0.5, min_tstr_auc_lift: null}
"""
LENIENT_POLICY = Policy.from_dict({"audit": {"shadows": 4, "targets": 100},
                                   "privacy": {"max_auc": 0.75, "max_tpr_at_1pct_fpr": 0.5,
                                               "max_tpr_at_01pct_fpr": 0.5}})


@pytest.fixture()
def lenient(tmp_path):
    path = tmp_path / "lenient.yaml"
    path.write_text(LENIENT)
    return path


@pytest.fixture()
def ofp400(tmp_path, ofp_full):
    path = tmp_path / "ofp400.csv"
    ofp_full.iloc[:400].to_csv(path, index=False)
    return path


def written_rows_anywhere(root):
    return [p for p in root.rglob("*") if p.suffix in (".parquet", ".csv") and p.name.startswith("synth")]


def test_a_passing_release_writes_data_passport_and_report(tmp_path, ofp400, lenient):
    policy = lenient
    out = tmp_path / "rel"
    result = runner.invoke(app, ["release", str(ofp400), "-s", str(OFP_SCHEMA), "-p", str(policy), "-o", str(out),
                                 "--seed", "1", *SMALL])
    assert result.exit_code == 0, result.output
    assert "verdict: RELEASED" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["dwp.png", "dwpre.png", "release.json", "report.html",
                                                     "roc.png", "synthetic.parquet"]
    passport = json.loads((out / "release.json").read_text())
    assert passport["decision"] == "released" and passport["verdict"]["passed"]
    assert passport["inputs"]["data"]["sha256"] == sha256_file(ofp400)
    assert passport["inputs"]["schema"]["sha256"] == sha256_file(OFP_SCHEMA)
    assert passport["inputs"]["policy"]["sha256"] == sha256_file(policy)
    assert passport["output"]["sha256"] == sha256_file(out / "synthetic.parquet")
    rows = pd.read_parquet(out / "synthetic.parquet")
    assert len(rows) == passport["output"]["rows"] == passport["split"]["train_rows"] == 320
    assert all(c["passed"] for c in passport["checks"]) and len(passport["checks"]) >= 20
    assert {"torch", "numpy", "sdmetrics"} <= set(passport["versions"])
    assert passport["recipe"]["defense"] == "mixup" and passport["recipe"]["epochs"] == 30
    assert passport["audit_size"]["ran"]["shadows"] == passport["audit_size"]["required_by_policy"]["shadows"] == 4
    assert passport["error_rates"]["false_release_bound"] == 0.025
    assert passport["inputs"]["data"]["path"] == str(ofp400)
    html = (out / "report.html").read_text()
    assert 'data-decision="released"' in html and html.count("data:image/png;base64,") >= 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_a_failing_check_refuses_and_writes_no_rows(tmp_path, ofp400, lenient):
    policy = tmp_path / "strict.yaml"
    policy.write_text(lenient.read_text().replace("min_quality: 0.5", "min_quality: 0.99"))
    out = tmp_path / "rel"
    result = runner.invoke(app, ["release", str(ofp400), "-s", str(OFP_SCHEMA), "-p", str(policy), "-o", str(out),
                                 "--format", "csv", *SMALL, "--epochs", "5"])
    assert result.exit_code == 3, result.output
    assert "refused:" in result.stderr and "sdmetrics quality score" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["dwp.png", "dwpre.png", "release.json", "report.html", "roc.png"]
    assert written_rows_anywhere(tmp_path) == []
    passport = json.loads((out / "release.json").read_text())
    assert passport["decision"] == "refused" and passport["output"] is None
    assert "sdmetrics quality score" in passport["verdict"]["failed"]
    failed = [c for c in passport["checks"] if not c["passed"]]
    assert all(c["advice"] for c in failed)
    assert 'data-decision="refused"' in (out / "report.html").read_text()


def test_a_limit_the_table_cannot_resolve_is_refused_before_training(tmp_path, ofp400, lenient):
    policy = tmp_path / "tight.yaml"
    policy.write_text(lenient.read_text().replace("max_auc: 0.75", "max_auc: 0.51"))
    out = tmp_path / "rel"
    result = runner.invoke(app, ["release", str(ofp400), "-s", str(OFP_SCHEMA), "-p", str(policy), "-o", str(out),
                                 *SMALL, "--epochs", "100000"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot be resolved" in lines[0] and "shadow models" in lines[0], lines
    assert not out.exists()


@pytest.mark.parametrize(("extra", "fragment"), [
    (["--shadows", "8"], "8 shadow models, the policy requires at least 16"),
    (["--targets", "100"], "100 audited records, the policy requires at least 500"),
    (["--threat-model", "data"], "threat model 'data' is weaker than the policy's 'critic'"),
])
def test_settings_weaker_than_the_policy_are_refused_before_training(tmp_path, ofp400, extra, fragment):
    out = tmp_path / "rel"
    # 100,000 epochs would take hours: the refusal must come first
    result = runner.invoke(app, ["release", str(ofp400), "-s", str(OFP_SCHEMA), "-o", str(out), "--epochs", "100000",
                                 *extra])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0] and "floor" in lines[0], lines
    assert not out.exists()


def test_settings_stronger_than_the_policy_are_kept_and_recorded(tmp_path, ofp_full, ofp_schema):
    outcome = release(ofp_full.iloc[:400], ofp_schema, tmp_path / "rel", policy=LENIENT_POLICY,
                      recipe=Memoriser(ofp_schema),
                      audit_options={"n_shadows": 6, "n_targets": 120, "workers": 1, "synthetic_rows": 500})
    size = outcome.passport["audit_size"]
    assert size["required_by_policy"]["shadows"] == 4 and size["ran"]["shadows"] == 6
    assert size["required_by_policy"]["targets"] == 100 and size["ran"]["targets"] == 120


def test_the_memoriser_is_refused(tmp_path, ofp_full, ofp_schema):
    outcome = release(ofp_full.iloc[:400], ofp_schema, tmp_path / "rel", recipe=Memoriser(ofp_schema),
                      policy=LENIENT_POLICY,
                      audit_options={"n_shadows": 4, "n_targets": 100, "workers": 1, "synthetic_rows": 2000})
    assert not outcome.passed
    failed = " ".join(c.name for c in outcome.verdict.failed)
    assert "ganleaks: AUC" in failed and "lira: AUC" in failed
    assert "synthetic rows identical to a training row" in failed
    assert written_rows_anywhere(tmp_path) == []


@pytest.mark.parametrize(("text", "fragment"), [
    ("format_version: 1\nprivacy: {max_acu: 0.6}\n", "unknown key privacy.'max_acu'"),
    ("format_version: 1\nholdout: 0.2\n", "unknown key 'holdout'"),
    ("format_version: 1\nprivacy: {max_auc: high}\n", "privacy.max_auc must be a number"),
    ("format_version: 1\naudit: {shadows: 3}\n", "audit.shadows must be an even number"),
])
def test_a_policy_with_a_typo_is_a_one_line_error(tmp_path, ofp400, text, fragment):
    policy = tmp_path / "p.yaml"
    policy.write_text(text)
    result = runner.invoke(app, ["release", str(ofp400), "-s", str(OFP_SCHEMA), "-p", str(policy),
                                 "-o", str(tmp_path / "rel")])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0] and "p.yaml" in lines[0]
    assert not (tmp_path / "rel").exists()


def test_default_policy_file_documents_the_code_defaults():
    assert Policy.load(ROOT / "schemas" / "policy.default.yaml") == Policy()


def test_an_existing_release_folder_is_not_overwritten(tmp_path, ofp400):
    out = tmp_path / "rel"
    out.mkdir()
    (out / "old.txt").write_text("keep me")
    result = runner.invoke(app, ["release", str(ofp400), "-s", str(OFP_SCHEMA), "-o", str(out)])
    assert result.exit_code == 1 and "exists and is not empty" in result.stderr
    assert (out / "old.txt").read_text() == "keep me"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_killing_a_release_leaves_no_partial_output(tmp_path, ofp400, lenient, sig):
    out = tmp_path / "rel"
    command = [sys.executable, "-m", "synthguard.cli", "release", str(ofp400), "-s", str(OFP_SCHEMA), "-o", str(out),
               "-p", str(lenient), "--epochs", "2000", "--workers", "1", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(8)  # well into training the release model
    assert process.poll() is None, process.communicate()
    process.send_signal(sig)
    process.wait(timeout=60)
    assert process.returncode != 0
    assert not out.exists()
    assert sorted(tmp_path.iterdir()) == sorted([ofp400, lenient])  # no staging folder, no temp file
