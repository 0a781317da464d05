"""Resuming an audit from its run directory: finished shadows are loaded, not retrained; the
results equal an uninterrupted run's; another audit's directory is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from synthguard.audit import audit
from synthguard.errors import InputError, SynthguardError
from synthguard.synthesizer import Synthesizer
from tests.test_cli import invoke

SMALL_NET = {"generator_dims": (32,), "critic_dims": (32,), "z_dim": 16, "batch_size": 64, "epochs": 2}
AUDIT = {"n_shadows": 4, "n_targets": 30, "synthetic_rows": 500, "n_bootstrap": 100, "seed": 3, "workers": 1}


class Counting:
    """The recipe, recording every shadow it trains (workers=1: in this process)."""

    def __init__(self, inner, log):
        self.inner, self.log = inner, log

    def clone(self, **overrides):
        return Counting(self.inner.clone(**overrides), self.log)

    def fit_parsed(self, frame, resolved, on_epoch=None):
        self.log.append(self.inner.seed)
        self.inner.fit_parsed(frame, resolved)
        return self

    def __getattr__(self, name):  # sample, critic_statistics, save, get_params, ...: the inner model's
        if name.startswith("__") or name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


class Interrupted(Exception):
    pass


def assert_same(one, two):
    assert set(one.attacks) == set(two.attacks)
    for name, attack in one.attacks.items():
        np.testing.assert_array_equal(attack.scores, two.attacks[name].scores)
        assert attack.summary.auc == two.attacks[name].summary.auc
    for name, values in one.statistics.items():
        np.testing.assert_array_equal(values, two.statistics[name])


def test_an_interrupted_audit_resumes_from_its_shadows(tmp_path, ofp_full, ofp_schema):
    rows = ofp_full.iloc[:120]
    recipe = Synthesizer(ofp_schema, **SMALL_NET)
    uninterrupted = audit(rows, recipe, ofp_schema, **AUDIT)
    run = tmp_path / "run"

    def stop_after_two(done, total):
        if done == 2:
            raise Interrupted  # as if the machine went down while shadow 3 trained

    trained: list[int] = []
    with pytest.raises(Interrupted):
        audit(rows, Counting(recipe, trained), ofp_schema, run_dir=run, on_shadow=stop_after_two, **AUDIT)
    kept = sorted(p.name for p in run.iterdir())
    assert kept == ["run.json", "shadow-0000.npz", "shadow-0000.sgm", "shadow-0001.npz", "shadow-0001.sgm"]
    first_two = list(trained)
    stamps = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}

    trained.clear()
    progress: list[int] = []
    resumed = audit(rows, Counting(recipe, trained), ofp_schema, run_dir=run, on_shadow=lambda d, t: progress.append(d),
                    **AUDIT)
    assert len(trained) == 2 and not set(trained) & set(first_two)  # only shadows 2 and 3 trained
    assert progress == [2, 3, 4] and resumed.reused_shadows == 2
    assert all(run.joinpath(name).stat().st_mtime_ns == stamp for name, stamp in stamps.items())
    assert_same(resumed, uninterrupted)

    # a shadow whose statistics are gone is trained again, the others are not
    run.joinpath("shadow-0001.npz").unlink()
    trained.clear()
    again = audit(rows, Counting(recipe, trained), ofp_schema, run_dir=run, **AUDIT)
    assert len(trained) == 1 and again.reused_shadows == 3
    assert_same(again, uninterrupted)
    trained.clear()
    assert_same(audit(rows, Counting(recipe, trained), ofp_schema, run_dir=run, **AUDIT), uninterrupted)
    assert trained == []

    # the kept weights are the shadows' model files
    model = Synthesizer.load(run / "shadow-0003.sgm")
    assert model.get_params()["seed"] != recipe.seed and len(model.sample(5, seed=0)) == 5
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["fingerprint"]["settings"]["n_shadows"] == 4


def test_another_audits_run_directory_is_refused(tmp_path, ofp_full, ofp_schema):
    rows = ofp_full.iloc[:120]
    recipe = Synthesizer(ofp_schema, **SMALL_NET)
    run = tmp_path / "run"
    run.mkdir()
    (run / "shadow-0000.npz").write_bytes(b"x")
    with pytest.raises(InputError, match="not a synthguard run directory"):
        audit(rows, recipe, ofp_schema, run_dir=run, **AUDIT)
    (run / "shadow-0000.npz").unlink()
    audit(rows, recipe, ofp_schema, run_dir=run, **AUDIT)
    different = {
        "settings.seed": ({**AUDIT, "seed": 4}, recipe, rows),
        "recipe.epochs": (AUDIT, recipe.clone(epochs=3), rows),
        "population": (AUDIT, recipe, ofp_full.iloc[1:121]),
        "settings.threat_model": ({**AUDIT, "threat_model": "data"}, recipe, rows),
    }
    for what, (options, other, data) in different.items():
        with pytest.raises(SynthguardError, match=rf"run: this run directory belongs to a different audit \(its {what}"):
            audit(data, other, ofp_schema, run_dir=run, **options)
    # a shadow's file copied under another shadow's name is not taken for it
    (run / "shadow-0001.npz").write_bytes((run / "shadow-0000.npz").read_bytes())
    with pytest.raises(InputError, match="shadow-0001.npz: not shadow 1 of this audit; delete it"):
        audit(rows, recipe, ofp_schema, run_dir=run, **AUDIT)


def test_cli_audit_resumes_with_run_dir(tmp_path, ofp_csv):
    from tests.conftest import OFP_SCHEMA

    args = ["audit", ofp_csv, "--schema", OFP_SCHEMA, "--epochs", "1", "--batch-size", "64", "--shadows", "4",
            "--targets", "20", "--threat-model", "data", "--workers", "1", "--run-dir", tmp_path / "run", "-o"]
    first = invoke(*args, tmp_path / "a.json")
    assert first.exit_code == 0, first.output
    assert "0 of 4 shadows reused, 4 trained" in first.stderr
    second = invoke(*args, tmp_path / "b.json")
    assert second.exit_code == 0, second.output
    assert "4 of 4 shadows reused, 0 trained" in second.stderr
    a, b = (json.loads((tmp_path / name).read_text()) for name in ("a.json", "b.json"))
    assert a["attacks"] == b["attacks"]
    other = invoke(*args[:-3], "--seed", "9", "--run-dir", tmp_path / "run", "-o", tmp_path / "c.json")
    assert other.exit_code == 1 and "belongs to a different audit" in other.stderr
    assert len([line for line in other.stderr.splitlines() if line.strip()]) == 1


def test_a_dask_run_keeps_its_shadows_on_the_client(tmp_path, ofp_full, ofp_schema):
    distributed = pytest.importorskip("distributed", reason="the cluster extra is not installed")
    rows = ofp_full.iloc[:120]
    recipe = Synthesizer(ofp_schema, **SMALL_NET)
    run = tmp_path / "run"
    local = audit(rows, recipe, ofp_schema, run_dir=run, **AUDIT)
    for name in ("shadow-0002.npz", "shadow-0002.sgm"):
        run.joinpath(name).unlink()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster:
        remote = audit(rows, recipe, ofp_schema, run_dir=run, backend="dask", scheduler=cluster.scheduler_address,
                       **AUDIT)
    assert remote.reused_shadows == 3
    assert_same(remote, local)
    assert Synthesizer.load(run / "shadow-0002.sgm").fitted  # the worker's model file, written here
