"""The command line of a tuned release (`release --tune`) and of the leakage curve (`audit
--checkpoints`): what they print and write, and the one-line errors that come before any work."""

from __future__ import annotations

import json

import pytest

from synthguard.cli import run_estimate
from tests.conftest import OFP_SCHEMA
from tests.test_cli import invoke, one_line_error

TINY_ARGS = ["--epochs", "3", "--batch-size", "64", "--workers", "1"]
# 4 shadows x 100 records on the synthetic rows alone (the `data` threat model: few attacks to score),
# limits that audit can resolve, and no utility limits: a GAN of 3 epochs may pass
SMALL_POLICY = """format_version: 1
audit: {shadows: 4, targets: 100, threat_model: data}
privacy: {max_auc: 0.75, max_tpr_at_1pct_fpr: 0.5, max_tpr_at_01pct_fpr: 0.5}
utility: {min_quality: null, max_dwp_mae: null, max_dwpre_gap: null, min_tstr_accuracy_ratio: null, min_tstr_auc_lift: null}
"""


@pytest.fixture()
def ofp400(tmp_path, ofp_full):
    path = tmp_path / "ofp400.csv"
    ofp_full.iloc[:400].to_csv(path, index=False)
    return path


@pytest.fixture()
def small_policy(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_POLICY)
    return path


# ---- a tuned release end to end ------------------------------------------------------------------
def test_a_tuned_release_prints_its_candidates_marks_the_pick_and_records_them(tmp_path, ofp400, small_policy):
    out = tmp_path / "rel"
    result = invoke("release", ofp400, "-s", OFP_SCHEMA, "-p", small_policy, "-o", out, "--seed", "1", *TINY_ARGS,
                    "--tune", "--tune-defenses", "none,mixup:1", "--checkpoints", "1")
    assert result.exit_code in (0, 3), result.output
    # before training: what tuning costs; during it: each of the 2 fits labelled, one estimate for both
    assert "2 defence setting(s) x 2 checkpoints" in result.stderr
    assert "each setting costs one fit and one audit" in result.stderr
    assert "[1/2] training: epoch 3/3" in result.stderr and "[2/2] training: epoch 3/3" in result.stderr
    estimates = [line for line in result.stderr.splitlines() if line.startswith("estimated time")]
    assert len(estimates) == 1 and "2 defence settings, each a model fit and 4 shadow models" in estimates[0]
    assert "[2/2] shadow models: 4/4 done" in result.stderr

    passport = json.loads((out / "release.json").read_text())
    tuning = passport["tuning"]
    candidates = tuning["candidates"]
    assert sorted((c["defense"], c["alpha"], c["epochs"]) for c in candidates) == [
        ("mixup", 1.0, 1), ("mixup", 1.0, 3), ("none", None, 1), ("none", None, 3)]
    released = result.exit_code == 0
    assert (tuning["chosen"] is not None) == released == passport["verdict"]["passed"]
    pick = tuning["chosen"] if released else tuning["closest"]
    assert pick is not None

    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["setting", "epochs", "privacy"])
    rows = lines[header + 2:header + 2 + len(candidates)]  # under the header and its rule
    assert len(rows) == 4
    for row, c in zip(rows, candidates, strict=True):  # one row per candidate, in the passport's order
        setting = c["defense"] if c["alpha"] is None else f"{c['defense']}:{c['alpha']:g}"
        assert row[2:].split()[:2] == [setting, str(c["epochs"])], row
        assert ("pass" in row.split()) == c["passed"], row  # the gate column: pass, or how many checks fail
        assert f"{c['strongest']['auc']:.3f}" in row and c["strongest"]["attack"] in row
    marked = [i for i, row in enumerate(rows) if row[0] in "*~"]
    assert marked == [pick], rows
    assert rows[pick][0] == ("*" if released else "~")
    chosen = candidates[pick]
    what = "chosen" if released else "closest"
    assert f"the {what} candidate, " in result.stdout and f" at {chosen['epochs']} epochs" in result.stdout
    assert f"verdict: {'RELEASED' if released else 'REFUSED'}" in result.stdout
    assert (out / "synthetic.parquet").exists() == released


# ---- the leakage curve of an audit ----------------------------------------------------------------
def test_audit_checkpoints_prints_the_curve_and_writes_it_for_each_epoch(tmp_path, ofp400):
    report = tmp_path / "audit.json"
    result = invoke("audit", ofp400, "-s", OFP_SCHEMA, *TINY_ARGS, "--shadows", "4", "--targets", "100",
                    "--threat-model", "data", "--checkpoints", "2,1", "-o", report)
    assert result.exit_code == 0, result.output
    written = json.loads(report.read_text())
    curve = written["curve"]
    assert [point["epoch"] for point in curve] == [1, 2, 3]
    for point in curve:
        assert set(point["attacks"]) == set(written["attacks"]) and point["worst_attack"] in point["attacks"]
    last = {name: {k: v for k, v in a.items() if k != "scores"} for name, a in written["attacks"].items()}
    assert curve[-1]["attacks"] == last  # the last epoch is the audit itself
    lines = result.stdout.splitlines()
    title = next(i for i, line in enumerate(lines) if line.startswith("leakage over training"))
    rows = [line.split() for line in lines[title + 3:title + 6]]
    for row, point in zip(rows, curve, strict=True):
        auc = point["attacks"][point["worst_attack"]]["auc"]
        assert row[:3] == [str(point["epoch"]), point["worst_attack"], f"{auc:.3f}"], row


# ---- errors before any work ----------------------------------------------------------------------
@pytest.mark.parametrize(("extra", "fragments"), [
    (["--tune-defenses", "none,mixup:1"], ["--tune-defenses applies only to a tuned release", "add --tune"]),
    (["--tune-metric", "quality"], ["--tune-metric applies only to a tuned release"]),
    (["--checkpoints", "10,20"], ["--checkpoints applies only to a tuned release"]),
    (["--tune-defenses", "none", "--tune-metric", "dwp"], ["--tune-defenses and --tune-metric apply only"]),
    (["--tune", "--defense", "none"], ["--defense cannot be combined with --tune", "--tune-defenses"]),
    (["--tune", "--defense", "mixup"], ["--defense cannot be combined with --tune"]),  # the default, given
    (["--tune", "--alpha", "2"], ["--alpha cannot be combined with --tune"]),
    (["--tune", "--defense-param", "partitions=2"], ["--defense-param cannot be combined with --tune"]),
    (["--tune", "--checkpoints", "10,x"], ["'10,x'", "whole epochs", "(option --checkpoints)"]),
    (["--tune", "--checkpoints", "0,10"], ["'0,10'", "(option --checkpoints)"]),
    (["--tune", "--checkpoints", " , "], ["at least one epoch", "(option --checkpoints)"]),
])
def test_tuning_options_out_of_place_are_one_line_errors_before_reading_the_data(tmp_path, extra, fragments):
    # the data file does not exist: reading it first would say "file not found"
    out = tmp_path / "rel"
    one_line_error(invoke("release", tmp_path / "missing.csv", "-o", out, *extra), *fragments)
    assert list(tmp_path.iterdir()) == []


def test_audit_checkpoint_text_is_a_one_line_error_before_reading_the_data(tmp_path):
    one_line_error(invoke("audit", tmp_path / "missing.csv", "--checkpoints", "5,ten"), "'5,ten'",
                   "(option --checkpoints)")


@pytest.mark.parametrize("command", ["release", "audit"])
def test_a_checkpoint_past_the_last_epoch_is_refused_before_training(tmp_path, ofp400, small_policy, command):
    # 100,000 epochs would take hours: the refusal must come first
    extra = (["-p", small_policy, "-o", tmp_path / "rel", "--tune"] if command == "release"
             else ["-o", tmp_path / "a.json"])
    result = invoke(command, ofp400, "-s", OFP_SCHEMA, "--epochs", "100000", "--checkpoints", "50,200000", *extra)
    one_line_error(result, "checkpoint 200000 is past the last epoch (100000)", "(option --checkpoints)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ofp400.csv", "small.yaml"]


@pytest.mark.parametrize(("value", "option"), [
    (["--tune-defenses", "none,nosuch"], "--tune-defenses"),
    (["--tune-defenses", "none:2"], "--tune-defenses"),       # only mixup takes an alpha
    (["--tune-defenses", "mixup:1,mixup:1"], "--tune-defenses"),
    (["--tune-metric", "nosuch"], "--tune-metric"),
])
def test_a_bad_tuning_value_is_a_usage_error_before_any_work(tmp_path, value, option):
    result = invoke("release", tmp_path / "missing.csv", "-o", tmp_path / "rel", "--tune", *value)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{option}'" in " ".join(result.stderr.split()), result.stderr
    assert list(tmp_path.iterdir()) == []


# ---- the estimate and the progress of several fits -------------------------------------------------
def test_the_estimate_of_a_tuned_release_counts_each_setting():
    # 3 settings x 2 s/epoch x 10 epochs x (1 + shadows x 0.5 / 2 workers): 4 shadows 120 s, 16 shadows 300 s
    line = run_estimate(2.0, 10, shadows=16, workers=2, first_round=4, fits=3)
    assert "2m00s to 5m00s" in line and "3 defence settings, each a model fit and 4 to 16 shadow models" in line
    assert "1m00s" in run_estimate(2.0, 10, fits=3)
    assert run_estimate(2.0, 10, shadows=16, workers=2) == run_estimate(2.0, 10, shadows=16, workers=2, fits=1)


def test_progress_labels_each_fit_when_the_epochs_restart(capsys):
    from synthguard.cli._common import epoch_progress, shadow_progress

    with epoch_progress(2, False, shadows=4, fits=2) as on_epoch, shadow_progress(False, audits=2) as on_shadow:
        assert on_epoch is not None and on_shadow is not None
        for _setting in range(2):
            for epoch in (1, 2):
                on_epoch(epoch, {"loss_d": 0.5, "loss_g": -0.1})
            for done in (1, 2):
                on_shadow(done, 2)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in lines if "training" in line] == ["[1/2] training"] * 2 + ["[2/2] training"] * 2
    assert [line.split(":")[0] for line in lines if "shadow models:" in line] == (["[1/2] shadow models"] * 2
                                                                                 + ["[2/2] shadow models"] * 2)
    assert sum(line.startswith("estimated time") for line in lines) == 1
