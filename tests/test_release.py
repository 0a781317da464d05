"""The release gate end to end: nothing leaves unless the policy passes, and nothing half-written."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from synthguard.attacks.calibration import Memoriser
from synthguard.cli import app
from synthguard.errors import InputError
from synthguard.passport import Passport
from synthguard.policy import Policy
from synthguard.release import release, sha256_file
from tests.conftest import LENIENT_POLICY, OFP_SCHEMA, ROOT

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
# A policy that a GAN passes after two epochs (the kill test's): LENIENT's limits on the synthetic rows
# alone (the `data` threat model: fewer attacks to score) and no utility limits
OPEN = """format_version: 1
audit: {shadows: 4, targets: 60, threat_model: data}
privacy: {max_auc: 0.75, max_tpr_at_1pct_fpr: 0.5, max_tpr_at_01pct_fpr: 0.5}
utility: {min_quality: null, max_dwp_mae: null, max_dwpre_gap: null, min_tstr_accuracy_ratio: null, min_tstr_auc_lift: null}
"""


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
    assert {"torch", "numpy", "sdmetrics", "cpu", "cpu_capability"} <= set(passport["versions"])
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
                      audit_options={"n_shadows": 8, "n_targets": 120, "workers": 1, "synthetic_rows": 500})
    size = outcome.passport.audit_size
    assert size.required_by_policy.shadows == 4 and size.ran.details["most_shadows"] == 8
    assert size.required_by_policy.targets == 100 and size.ran.targets == 120


def test_the_memoriser_is_refused(refused):
    # the shared fixture (tests/conftest.py): a Memoriser recipe released under a lenient policy
    assert not refused.passed and refused.passport.decision == "refused"
    failed = " ".join(c.name for c in refused.verdict.failed)
    assert "ganleaks: AUC" in failed and "lira: AUC" in failed
    assert "synthetic rows identical to a training row" in failed
    assert written_rows_anywhere(refused.out_dir.parent) == []
    assert sorted(p.name for p in refused.out_dir.iterdir()) == ["dwp.png", "dwpre.png", "release.json", "report.html",
                                                                 "roc.png"]


def test_the_passport_reads_back_as_written(released, refused):
    for outcome in (released, refused):
        text = (outcome.out_dir / "release.json").read_text(encoding="utf-8")
        assert text == outcome.passport.to_json()
        again = Passport.load(outcome.out_dir / "release.json")
        assert again.to_dict() == json.loads(text)
        assert Passport.from_dict(again.to_dict()) == again          # JSON in, the same object out
        assert again.decision == outcome.passport.decision and [c.name for c in again.failed] == \
            [c.name for c in outcome.verdict.failed]
        assert again.policy == outcome.passport.policy and again.seeds == outcome.passport.seeds
    passport = released.passport
    assert passport.output is not None and passport.output.sha256 == sha256_file(released.out_dir / passport.output.path)
    assert passport.output.rows == passport.split.train_rows == 320
    assert set(passport.figures) == {"roc", "dwp", "dwpre"}
    assert all((released.out_dir / name).is_file() for name in passport.figures.values())
    assert passport.recipe["defense"] == passport.defense["name"] == "mixup"


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda d: d.pop("checks"), "no 'checks'"),
    (lambda d: d.update(format_version=2), "format_version 2 is not supported"),
    (lambda d: d.update(decision="released"), "says 'released', but its checks say 'refused'"),
    (lambda d: d["checks"][0].update(passed=True, extra=1), "unknown field 'extra'"),
    (lambda d: d["seeds"].update(audit="zero"), "'seeds.audit' must be int"),
    (lambda d: d["verdict"].update(failed=[]), "verdict.failed does not match"),
    (lambda d: d.update(output={"path": "synthetic.csv", "sha256": "0" * 64, "rows": 1, "format": "csv"}),
     "records an output file for a refused release"),
])
def test_a_passport_that_does_not_hold_together_is_refused(refused, tmp_path, change, fragment):
    data = json.loads((refused.out_dir / "release.json").read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "release.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match=re.escape(fragment)):
        Passport.load(path)


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


# The command line, in a child process that stops for good right after one step of the staged write
# (the patched function does its work, then waits): the parent watches the staging folder fill up and
# kills the child while the release is staged but not yet renamed into place. The library has no
# test hook; the pause is this script's.
PAUSED_CLI = """
import signal, sys, time
# Ctrl-C as at a terminal: a test run started as a background job (make test &) hands its children
# SIGINT ignored, and the interrupted release would then never see it
signal.signal(signal.SIGINT, signal.default_int_handler)
import synthguard.release, synthguard.report
module, name = {"rows": (synthguard.release, "write_table"), "report": (synthguard.report, "write_report")}[sys.argv.pop(1)]
original = getattr(module, name)

def staged_then_wait(*args, **kwargs):
    original(*args, **kwargs)
    while True:  # the parent kills this process here, inside the staged write
        time.sleep(0.02)

setattr(module, name, staged_then_wait)
from synthguard.cli import main
sys.argv[0] = "synthguard"
main()
"""


def staging_holding(folder, out, expected):
    """`out`'s staging folder (in `folder`) and the names in it, once it holds every name in `expected`
    (files are renamed into it whole, so a name there is a finished file); else None."""
    for staging in folder.glob(f".{out.name}.staging-*"):
        try:
            names = {p.name for p in staging.iterdir()}
        except FileNotFoundError:
            continue
        if expected <= names:
            return staging, names
    return None


# pause point -> (the signal, what the staging folder holds when it comes)
INTERRUPTIONS = {
    # the rows are staged, the passport and report not yet: a partial release
    "rows": (signal.SIGTERM, {"roc.png", "dwp.png", "dwpre.png", "synthetic.parquet"}),
    # every file is staged, only the rename is left: a complete release that must still not appear
    "report": (signal.SIGINT, {"roc.png", "dwp.png", "dwpre.png", "synthetic.parquet", "release.json", "report.html"}),
}


def test_killing_a_release_leaves_no_partial_output(tmp_path, ofp400):
    # both interruptions run side by side, one process each
    policy = tmp_path / "open.yaml"
    policy.write_text(OPEN)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = {}
    try:
        for pause in INTERRUPTIONS:
            folder = tmp_path / pause
            folder.mkdir()
            out = folder / "rel"
            command = [sys.executable, "-c", PAUSED_CLI, pause, "release", str(ofp400), "-s", str(OFP_SCHEMA),
                       "-o", str(out), "-p", str(policy), "--epochs", "2", "--batch-size", "64", "--shadows", "4",
                       "--targets", "60", "--workers", "1", "--quiet"]
            runs[pause] = (subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE), folder, out)
        staged = {}
        deadline = time.monotonic() + 300
        while len(staged) < len(runs):
            waiting = sorted(set(runs) - set(staged))
            assert time.monotonic() < deadline, f"no staging folder filled up in 300 s: {waiting}"
            for pause in waiting:
                process, folder, out = runs[pause]
                if process.poll() is not None:
                    pytest.fail(f"the release ended before it was interrupted: {process.communicate()}")
                assert not out.exists(), f"{pause}: the release folder appeared before the staged write ended"
                sig, expected = INTERRUPTIONS[pause]
                found = staging_holding(folder, out, expected)
                if found is not None:
                    process.send_signal(sig)
                    staged[pause] = found
            time.sleep(0.02)
        errors = {pause: process.communicate(timeout=60)[1] for pause, (process, _, _) in runs.items()}
    finally:
        for process, _, _ in runs.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
    for pause, (process, folder, out) in runs.items():
        assert process.returncode != 0, (pause, errors[pause])
        assert b"Traceback" not in errors[pause], errors[pause].decode(errors="replace")
        staging, names = staged[pause]
        assert not out.exists() and not staging.exists(), (pause, names)
        assert list(folder.iterdir()) == [], pause  # no staging folder, no temp file
    assert sorted(tmp_path.iterdir()) == sorted([ofp400, policy, *(tmp_path / pause for pause in INTERRUPTIONS)])
