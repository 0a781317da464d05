"""A schema without a condition column takes the whole path (fit, sample, audit, release,
experiment), and training settings that make no sense are refused before any training."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from synthguard import Schema, Synthesizer
from synthguard.attacks.calibration import Untrained
from synthguard.attacks.mixed_query import mixed_query_statistic
from synthguard.attacks.reconstruction import reconstruction_loss
from synthguard.audit import ATTACKS, audit
from synthguard.cli import app
from synthguard.errors import ModelFileError, SynthguardError, SynthguardWarning
from synthguard.experiment import ExperimentConfig, run_experiment, write_experiment

TINY = {"epochs": 2, "batch_size": 64, "z_dim": 16, "generator_dims": (32,), "critic_dims": (32,)}
#: small batches, so that the generator steps in every epoch even on a shadow's 48-60 rows
AUDIT_NET = {**TINY, "epochs": 3, "batch_size": 8}
FAST_AUDIT = {"n_targets": 20, "synthetic_rows": 200, "n_bootstrap": 50, "workers": 1, "critic_fakes": 8}


def small_table(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(20, 90, n), "bmi": rng.normal(25, 4, n).round(1),
                         "sex": rng.choice(["f", "m"], n), "smoker": rng.choice(["yes", "no"], n),
                         "region": rng.choice(["n", "s", "e", "w"], n)})


@pytest.fixture(scope="module")
def table():
    return small_table()


@pytest.fixture(scope="module")
def schema(table):
    inferred = Schema.infer(table)
    assert inferred.condition is None  # nothing asked for, nothing proposed
    return inferred


@pytest.fixture(scope="module")
def fitted(table, schema):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SynthguardWarning)
        return Synthesizer(schema, defense="mixup", seed=0, threads=1, **TINY).fit(table)


@pytest.mark.parametrize("defense", ["mixup", "none"])
def test_every_attack_runs_without_a_condition(table, schema, defense):
    # 8 shadows: the mixed query counts a pair only under models holding both or neither record
    recipe = Synthesizer(schema, defense=defense, seed=0, **AUDIT_NET)
    result = audit(table, recipe, schema, n_shadows=8, threat_model="critic", mixed_query=True, **FAST_AUDIT)
    assert set(result.attacks) == set(ATTACKS)
    for name, attack in result.attacks.items():
        assert np.isfinite(attack.scores[attack.valid]).all(), name
        assert attack.valid.mean() > 0.3, name
        assert 0.0 <= attack.summary.auc <= 1.0 and math.isfinite(attack.summary.auc), name
    for name, values in result.statistics.items():
        assert np.isfinite(values).all(), name


def test_reconstruction_and_critic_statistics_without_a_condition(fitted, table, schema):
    rows = schema.parse(table.iloc[:6]).reset_index(drop=True)
    for method, steps in (("nn", None), ("lbfgs", 5), ("powell", 1)):
        loss = reconstruction_loss(fitted, rows.iloc[:3] if method == "powell" else rows, method=method, steps=steps)
        assert loss.shape == ((3,) if method == "powell" else (6,)) and np.isfinite(loss).all(), method
    stats = fitted.critic_statistics(rows, m=8, seed=3)
    assert all(np.isfinite(v).all() and v.shape == (6,) for v in stats.values())
    # the mixed query at lam = 1 is the calibrated critic statistic of record a
    other = rows.iloc[::-1].reset_index(drop=True)
    single = mixed_query_statistic(fitted, rows, other, lams=(1.0,), m=8, seed=3)
    np.testing.assert_allclose(single, stats["critic_calibrated"], rtol=0, atol=1e-5)
    assert np.isfinite(mixed_query_statistic(fitted, rows, other, m=8, seed=3)).all()


@pytest.mark.parametrize("defense, params", [("relaxloss", {}), ("relaxloss", {"mode": "per_example"}),
                                             ("pargan", {"partitions": 2})])
def test_every_defence_trains_without_a_condition(table, schema, defense, params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SynthguardWarning)
        synth = Synthesizer(schema, defense=defense, defense_params=params, seed=0, threads=1,
                            **{**TINY, "batch_size": 16}).fit(table)
    assert synth.encoder_.cond_dim == 0
    assert len(synth.sample(20, seed=1)) == 20
    assert np.isfinite(synth.critic_statistics(schema.parse(table.iloc[:4]), m=4)["critic_calibrated"]).all()


def test_fit_sample_save_load_round_trip(fitted, tmp_path):
    rows = fitted.sample(50, seed=1)
    assert list(rows.columns) == ["age", "bmi", "sex", "smoker", "region"] and len(rows) == 50
    assert set(rows["smoker"]) <= {"yes", "no"}
    fitted.save(tmp_path / "m.sgm")
    again = Synthesizer.load(tmp_path / "m.sgm")
    pd.testing.assert_frame_equal(again.sample(50, seed=1), rows)
    assert again.encoder_.cond_dim == 0 and again.get_params() == fitted.get_params()
    with pytest.raises(SynthguardError, match="no condition column"):
        again.sample(5, condition="x")


def test_training_progress_never_reports_nan(table, schema):
    # 120 rows in batches of 64: one critic step per epoch, a generator step every fifth
    seen = []
    with pytest.warns(SynthguardWarning, match=r"1 critic step\(s\) at a batch of 64 .* takes 1 step\(s\) in 6 epochs"):
        synth = Synthesizer(schema, defense="none", seed=0, threads=1, **{**TINY, "epochs": 6}).fit(
            table, on_epoch=lambda epoch, stats: seen.append(dict(stats)))
    assert [s["g_steps"] for s in seen] == [0, 0, 0, 0, 1, 0]
    assert all(s["loss_g"] is None for s in seen[:4])            # not yet measured
    assert isinstance(seen[4]["loss_g"], float) and math.isfinite(seen[4]["loss_g"])
    assert seen[5]["loss_g"] == seen[4]["loss_g"]                # the last one measured
    assert synth.gan_.history == seen and all(math.isfinite(s["loss_d"]) for s in seen)
    with pytest.warns(SynthguardWarning, match="takes no training step at all"):
        Synthesizer(schema, defense="none", seed=0, threads=1, **TINY).fit(table)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SynthguardWarning)  # five critic steps an epoch: no warning
        steady = Synthesizer(schema, defense="none", seed=0, threads=1, **{**TINY, "batch_size": 24}).fit(table)
    assert all(s["g_steps"] == 1 and math.isfinite(s["loss_g"]) for s in steady.gan_.history)


@pytest.mark.parametrize("settings, message", [
    ({"epochs": 0}, "epochs must be at least 1, got 0"),
    ({"epochs": -3}, "epochs must be at least 1, got -3"),
    ({"epochs": 2.5}, "epochs must be a whole number"),
    ({"batch_size": 0}, "batch_size must be at least 1"),
    ({"n_critic": 0}, "n_critic must be at least 1"),
    ({"lr": float("nan")}, "lr must be a finite number"),
    ({"lr": 0}, "lr must be above 0"),
    ({"critic_dropout": 1.0}, "critic_dropout must be at least 0 and below 1"),
    ({"betas": (0.5, 1.5)}, "betas must be at least 0 and below 1"),
    ({"critic_dims": (64, 0)}, "each of critic_dims must be at least 1"),
    ({"epoch": 3}, "unknown training setting 'epoch'"),
    ({"seed": -1}, "seed must be a non-negative whole number"),
    ({"threads": 0}, "threads must be a whole number of at least 1"),
    ({"defense": "none", "alpha": 7}, "alpha applies only to the mixup defence"),
    ({"defense": "pargan", "lambda_mode": "sample"}, "lambda_mode applies only to the mixup defence"),
    ({"defense": "pargan", "defense_params": {"lambda_mode": "sample"}}, "lambda_mode applies only to the mixup defence"),
    ({"lambda_mode": "sample", "defense_params": {"lambda_mode": "sample"}}, "lambda_mode given twice"),
    ({"defense_params": {"lambda_mode": "pairs"}}, "lambda_mode must be batch or sample"),
    ({"alpha": float("inf")}, "mixup alpha must be a finite number"),
])
def test_nonsensical_settings_are_one_line_errors(schema, settings, message):
    with pytest.raises(SynthguardError, match=message) as caught:
        Synthesizer(schema, **settings)
    assert "\n" not in str(caught.value) and "--" not in str(caught.value)


def test_alpha_is_recorded_only_for_mixup(schema):
    assert Synthesizer(schema, defense="none").get_params()["alpha"] is None
    assert Synthesizer(schema, defense="none", alpha=1.0).get_params()["lambda_mode"] is None  # the default: ignored
    mixup = Synthesizer(schema, alpha=0.5)
    assert (mixup.get_params()["alpha"], mixup.get_params()["lambda_mode"]) == (0.5, "batch")
    # given among the defence's settings (a command line gives them so), they are settings of their own
    pairs = Synthesizer(schema, defense_params={"lambda_mode": "sample", "alpha": 0.5, "fakes": "generated"})
    assert (pairs.alpha, pairs.lambda_mode, pairs.defense_params) == (0.5, "sample", {"fakes": "generated"})
    assert pairs.describe_defense() == {"name": "mixup", "alpha": 0.5, "lambda_mode": "sample", "fakes": "generated"}
    assert pairs.clone().get_params() == pairs.get_params()
    other = mixup.clone(defense="pargan")  # mixup's settings do not follow the recipe to another defence
    assert other.get_params()["alpha"] is None and other.describe_defense() == {"name": "pargan", "partitions": 4}
    assert other.clone(defense="mixup").alpha == 1.0


def test_untrained_recipe_is_explicit(table, schema, tmp_path):
    recipe = Untrained(schema, seed=0, **TINY)
    model = recipe.clone(seed=4).fit(table)
    assert type(model) is Untrained and model.config.epochs == 0 and model.gan_.history == []
    model.save(tmp_path / "u.sgm")
    with pytest.raises(ModelFileError, match="untrained model"):
        Synthesizer.load(tmp_path / "u.sgm")


def test_experiment_on_an_unconditional_table(table, schema, tmp_path):
    config = ExperimentConfig(defenses=("none", "mixup"), n_shadows=4, n_targets=20, workers=1, n_bootstrap=50)
    result = run_experiment(table, schema, config, **AUDIT_NET)
    assert set(result.runs) == {"none", "mixup"} and result.adaptive is not None
    for run in result.runs.values():
        assert {"lira", "logan", "ganleaks", "ganleaks_wb"} <= set(run.audit.attacks)
        assert run.utility["n_synthetic"] == result.n_train
    out = write_experiment(result, tmp_path / "exp")
    assert json.loads((out / "results.json").read_text())["runs"].keys() == {"none", "mixup"}


runner = CliRunner()


def test_schema_infer_then_release_without_a_condition(tmp_path):
    data = tmp_path / "small.csv"
    small_table().to_csv(data, index=False)
    schema_path, out = tmp_path / "s.yaml", tmp_path / "out"
    inferred = runner.invoke(app, ["schema", "infer", str(data), "-o", str(schema_path)])
    assert inferred.exit_code == 0, inferred.output
    assert "condition:" not in schema_path.read_text()
    policy = tmp_path / "small-audit.yaml"   # the default policy's audit needs 16 shadows and more rows
    policy.write_text("format_version: 1\naudit: {shadows: 8, targets: 20}\n"
                      "privacy: {max_auc: 0.8, max_tpr_at_1pct_fpr: 0.6, max_tpr_at_01pct_fpr: 0.6}\n")
    result = runner.invoke(app, ["release", str(data), "-s", str(schema_path), "-o", str(out), "-p", str(policy),
                                 "--epochs", "2", "--batch-size", "8", "--workers", "1"])
    assert result.exit_code in (0, 3), result.output   # released or refused by the gate, never an error
    passport = json.loads((out / "release.json").read_text())
    assert passport["decision"] in ("released", "refused")
    assert passport["recipe"]["epochs"] == 2 and "Traceback" not in result.output


def test_cli_refuses_nonsensical_training_settings(tmp_path):
    data = tmp_path / "small.csv"
    small_table().to_csv(data, index=False)
    schema_path = tmp_path / "s.yaml"
    schema_path.write_text(Schema.infer(small_table()).to_yaml())
    for extra, codes, message in ((["--epochs", "0"], (1, 2), "epochs"),  # a usage error (2) or ours (1)
                                  (["--defense", "none", "--alpha", "7"], (1,), "alpha applies only to the mixup")):
        result = runner.invoke(app, ["fit", str(data), "-s", str(schema_path), "-o", str(tmp_path / "m.sgm"), *extra])
        assert result.exit_code in codes, result.output
        assert message in result.output and "Traceback" not in result.output
        assert not (tmp_path / "m.sgm").exists()


def test_cli_progress_on_a_short_run_prints_no_nan(tmp_path):
    data = tmp_path / "small.csv"
    small_table().to_csv(data, index=False)
    schema_path = tmp_path / "s.yaml"
    schema_path.write_text(Schema.infer(small_table()).to_yaml())
    result = runner.invoke(app, ["fit", str(data), "-s", str(schema_path), "-o", str(tmp_path / "m.sgm"),
                                 "--epochs", "2", "--batch-size", "64"])
    assert result.exit_code == 0, result.output
    assert "nan" not in result.output.lower()
