"""`synthguard experiment` on a tiny real table: every defence trained, attacked and measured."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from synthguard.attacks.lira import lira_scores
from synthguard.cli import app
from synthguard.errors import SynthguardError
from synthguard.experiment import ExperimentConfig, render_markdown, run_experiment, write_experiment

from .conftest import TINY

DEFENCES = ["none", "mixup", "relaxloss", "pargan"]


@pytest.fixture(scope="module")
def experiment_dir(tmp_path_factory, ofp_full, ofp_schema):
    # the Python API with tiny networks and few mixture modes: the CLI path is checked below
    out = tmp_path_factory.mktemp("experiment") / "results"
    config = ExperimentConfig(n_shadows=6, n_targets=24, workers=1, n_bootstrap=200,
                              defense_params={"pargan": {"partitions": 2}})
    result = run_experiment(ofp_full.iloc[:200].reset_index(drop=True), ofp_schema, config, dataset="ofp-200",
                            max_modes=3, **{**TINY, "epochs": 2, "batch_size": 50})
    write_experiment(result, out, command="python api")
    return out


def test_experiment_writes_markdown_json_and_plots(experiment_dir):
    assert sorted(p.name for p in experiment_dir.iterdir()) == sorted(
        ["results.md", "results.json"] + [f"roc_{d}.png" for d in DEFENCES])
    for name in DEFENCES:
        assert (experiment_dir / f"roc_{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(experiment_dir.parent.glob(".results.staging-*"))


def test_experiment_measures_every_defence_the_same_way(experiment_dir):
    data = json.loads((experiment_dir / "results.json").read_text())
    assert list(data["runs"]) == DEFENCES
    assert data["runs"]["pargan"]["defense"] == {"name": "pargan", "partitions": 2}
    assert data["train_rows"] == 160 and data["rows"] == 200 and data["command"] == "python api"
    for run in data["runs"].values():
        assert {"logan", "lira", "lira_offline", "ganleaks", "ganleaks_wb"} <= set(run["attacks"])
        for attack in run["attacks"].values():
            lo, hi = attack["auc_ci"]
            assert 0 <= lo <= attack["auc"] <= hi <= 1
            # 6 shadows x 24 targets, each record in half of them
            assert attack["n_members"] + attack["n_nonmembers"] == 6 * 24 or attack["name"] == "lira_mixed"
        utility = run["utility"]
        assert 0 < utility["quality"]["score"] <= 1
        assert 0 <= utility["downstream"]["tstr"]["accuracy"] <= 1
        assert run["fit_seconds"] > 0 and run["audit_seconds"] > 0
    # the adaptive table: both queries, both kinds of reference model
    adaptive = data["adaptive"]
    assert set(adaptive) == {"single query", "mixed query"}
    for cells in adaptive.values():
        assert set(cells) == {"mixup-trained references", "naturally trained references"}
    # mixup-trained references on the single query ARE the mixup audit's own online LiRA
    assert adaptive["single query"]["mixup-trained references"]["auc"] == pytest.approx(
        data["runs"]["mixup"]["attacks"]["lira"]["auc"])


def test_each_defence_is_compared_with_no_defence_on_the_same_records(experiment_dir):
    data = json.loads((experiment_dir / "results.json").read_text())
    differences = data["differences"]
    assert set(differences) == {"mixup", "relaxloss", "pargan"}
    for name, cells in differences.items():
        # every single-record attack pairs (same targets and masks); the mixed query too, its pairs
        # drawn alike for mixup and its natural twins
        assert {"logan", "lira", "lira_offline", "ganleaks", "ganleaks_wb"} <= set(cells)
        for attack, d in cells.items():
            mine, theirs = data["runs"][name]["attacks"][attack], data["runs"]["none"]["attacks"][attack]
            assert d["auc_a"] == pytest.approx(mine["auc"]) and d["auc_b"] == pytest.approx(theirs["auc"])
            assert d["auc"] == pytest.approx(mine["auc"] - theirs["auc"])
            assert d["auc_ci"][0] <= d["auc"] <= d["auc_ci"][1] and d["n_models"] == 6
    assert "lira_mixed" in differences["mixup"]
    text = (experiment_dir / "results.md").read_text()
    assert "Each defence against no defence, paired" in text
    # the reading judges each defence by the paired difference on no defence's strongest attack
    assert sum(line.startswith(f"- {name} against none:") and "(paired)" in line
               for line in text.splitlines() for name in differences) == 3


def test_markdown_is_rendered_from_the_json(experiment_dir):
    data = json.loads((experiment_dir / "results.json").read_text())
    text = (experiment_dir / "results.md").read_text()
    assert text == render_markdown(data)
    lira = data["runs"]["relaxloss"]["attacks"]["lira"]
    assert f"{lira['auc']:.3f} [{lira['auc_ci'][0]:.3f}, {lira['auc_ci'][1]:.3f}]" in text
    for heading in ("Tables I-III", "Table IV", "Tables V-VI"):
        assert heading in text


def test_references_from_another_recipe_replace_only_the_reference_side():
    rng = np.random.default_rng(0)
    member = np.zeros((8, 50), dtype=bool)
    for t in range(50):
        member[rng.permutation(8)[:4], t] = True
    victim_stats = rng.normal(size=(8, 50)) + member  # members score 1 higher in the victims
    references = rng.normal(size=(8, 50)) + 3 * member  # another recipe: members 3 higher
    own = lira_scores(victim_stats, member, seed=1)
    other = lira_scores(victim_stats, member, seed=1, references=references)
    assert own.shape == other.shape and not np.allclose(own, other)
    same = lira_scores(victim_stats, member, seed=1, references=victim_stats)
    np.testing.assert_allclose(own, same)
    with pytest.raises(ValueError, match="shape"):
        lira_scores(victim_stats, member, references=references[:, :10])


def test_cli_runs_an_experiment_with_per_defence_settings(ofp_csv, tmp_path):
    out = tmp_path / "cli"
    result = CliRunner().invoke(app, ["experiment", str(ofp_csv), "-s", "schemas/ofp.yaml", "-o", str(out),
                                      "--defenses", "none,pargan", "--defense-param", "pargan.partitions=3",
                                      "--epochs", "1", "--batch-size", "60", "--shadows", "4", "--targets", "12",
                                      "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text())
    assert list(data["runs"]) == ["none", "pargan"] and data["adaptive"] is None
    assert data["runs"]["pargan"]["defense"] == {"name": "pargan", "partitions": 3}
    assert "| pargan (partitions=3) |" in result.output  # the tables are printed too
    bad = CliRunner().invoke(app, ["experiment", str(ofp_csv), "-s", "schemas/ofp.yaml", "-o", str(tmp_path / "b"),
                                   "--defense-param", "partitions=3", "--quiet"])
    assert bad.exit_code == 1 and "DEFENCE.KEY=VALUE" in bad.output


def test_unknown_defence_is_a_usage_error(ofp_csv, tmp_path):
    result = CliRunner().invoke(app, ["experiment", str(ofp_csv), "-s", "schemas/ofp.yaml", "-o",
                                      str(tmp_path / "r"), "--defenses", "none,dpsgd", "--quiet"])
    assert result.exit_code == 2 and "'dpsgd' is not one of" in " ".join(result.output.split())
    assert not (tmp_path / "r").exists()
    with pytest.raises(SynthguardError, match="unknown defence 'dpsgd'"):  # the API refuses it too
        ExperimentConfig(defenses=("none", "dpsgd"))
