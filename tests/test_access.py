"""The model-access protocols: any generator with clone / fit_parsed / sample can be audited under
the `data` threat model, a recipe lacking what its threat model needs is refused in one line, a
Synthesizer meets the stronger protocols through its public primitives, and training code
imports nothing from the attack layer."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthguard.attacks.access import (
    CriticAccess,
    GeneratorAccess,
    LatentGenerator,
    PrimitiveAccess,
    SamplesAccess,
    ScoringCritic,
    Serialisable,
    check_access,
    missing_for,
    mixes_records,
    model_access,
)
from synthguard.attacks.calibration import Memoriser
from synthguard.attacks.shadows import ShadowTask, run_shadow
from synthguard.audit import AuditConfig, audit
from synthguard.errors import SynthguardError
from synthguard.synthesizer import Synthesizer
from synthguard.utility.features import fit_features
from tests.conftest import ROOT, TINY

SMALL = {"n_shadows": 4, "n_targets": 20, "synthetic_rows": 300, "n_bootstrap": 50, "workers": 1}


class ColumnShuffler:
    """A numpy-only generator: each column resampled on its own from the training rows. Only the
    `data` threat model's protocol (clone, fit_parsed, sample) and a name."""

    def __init__(self, schema=None, seed: int = 0, threads: int | None = None) -> None:
        self.schema, self.seed = schema, seed

    def get_params(self) -> dict:
        return {"recipe": "column-shuffler", "seed": self.seed}

    def clone(self, **overrides) -> ColumnShuffler:
        return ColumnShuffler(self.schema, seed=overrides.get("seed", self.seed))

    def fit_parsed(self, frame: pd.DataFrame, resolved) -> ColumnShuffler:
        self.schema_, self.rows_ = resolved, frame.reset_index(drop=True)
        return self

    def sample(self, n: int, condition=None, seed: int | None = None, typed: bool = False) -> pd.DataFrame:
        rng = np.random.default_rng(self.seed if seed is None else seed)
        rows = pd.DataFrame({name: self.rows_[name].to_numpy()[rng.integers(0, len(self.rows_), n)]
                             for name in self.rows_.columns})
        return rows if typed else self.schema_.format(rows)


class WithoutSample:
    def clone(self, **overrides):
        return self

    def fit_parsed(self, frame, resolved):
        return self


def test_a_numpy_generator_is_audited_under_the_data_threat_model(ofp_full, ofp_schema):
    recipe = ColumnShuffler(ofp_schema)
    assert isinstance(recipe, SamplesAccess) and not isinstance(recipe, GeneratorAccess)
    assert missing_for(recipe, "data") == [] and not mixes_records(recipe)
    result = audit(ofp_full.iloc[:200], recipe, ofp_schema, threat_model="data", **SMALL)
    assert result.attacks and all(a.spec.threat == "data" for a in result.attacks.values())
    assert {"ganleaks", "domias", "logan_bb"} <= set(result.attacks)
    assert set(result.statistics) == {"nn_distance", "density_ratio", "blackbox"}
    for name, attack in result.attacks.items():
        assert 0.0 <= attack.summary.auc <= 1.0, name
    assert result.recipe == {"recipe": "column-shuffler", "seed": 0}


@pytest.mark.parametrize("threat, lacks", [("generator", "reconstruction_loss"), ("critic", "critic_statistics")])
def test_a_recipe_lacking_what_its_threat_model_needs_is_refused_in_one_line(ofp_full, ofp_schema, threat, lacks):
    with pytest.raises(SynthguardError) as err:
        audit(ofp_full.iloc[:200], ColumnShuffler(ofp_schema), ofp_schema, threat_model=threat, **SMALL)
    message = str(err.value)
    assert "\n" not in message and "ColumnShuffler" in message and repr(threat) in message
    assert lacks in message and "decode_latent" in message  # what it could offer instead, too


def test_a_recipe_without_sample_is_refused_before_training(ofp_full, ofp_schema):
    assert missing_for(WithoutSample(), "data") == ["sample"]
    with pytest.raises(SynthguardError, match=r"^the recipe's model \(WithoutSample\) cannot be audited under the "
                                              r"'data' threat model: it lacks sample$"):
        check_access(WithoutSample(), "data")
    # the worker refuses it before any training
    parsed = ofp_schema.parse(ofp_full.iloc[:40])
    resolved = ofp_schema.resolve(list(parsed.columns))
    features = fit_features(parsed, resolved)
    member = np.arange(40) % 2 == 0
    task = ShadowTask(0, 1, WithoutSample(), parsed, resolved, features, features.transform(parsed), member,
                      np.arange(10), 8, 50, threat_model="data")
    with pytest.raises(SynthguardError, match="it lacks sample$"):
        run_shadow(task)


@pytest.fixture(scope="module")
def fitted(ofp_full, ofp_schema):
    settings = {**TINY, "epochs": 1, "batch_size": 16}
    return Synthesizer(ofp_schema, defense="mixup", seed=0, **settings).fit(ofp_full.iloc[:120])


def test_a_synthesizer_meets_every_protocol_through_its_primitives(fitted, ofp_full, ofp_schema):
    unfitted = Synthesizer(ofp_schema, defense="none", **TINY)
    for model in (unfitted, fitted):
        assert isinstance(model, SamplesAccess) and isinstance(model, LatentGenerator)
        assert isinstance(model, ScoringCritic) and isinstance(model, Serialisable)
        assert not isinstance(model, CriticAccess)  # the attack layer computes two statistics for it
        assert missing_for(model, "critic") == []
    access = model_access(fitted, "critic")
    assert isinstance(access, PrimitiveAccess) and isinstance(access, CriticAccess)
    assert model_access(fitted, "data") is fitted
    rows = ofp_schema.parse(ofp_full.iloc[:8]).reset_index(drop=True)
    assert access.reconstruction_loss(rows).shape == (8,)
    stat = access.mixed_query_statistic(rows, rows.iloc[::-1].reset_index(drop=True), m=4, seed=1)
    assert stat.shape == (8,) and np.isfinite(stat).all()
    # a model that implements the statistics itself is used as it is
    memoriser = Memoriser(ofp_schema)
    assert isinstance(memoriser, CriticAccess) and model_access(memoriser, "critic") is memoriser


def test_fake_critic_means_at_a_class_is_the_calibration_of_critic_statistics(fitted, ofp_full, ofp_schema):
    rows = ofp_schema.parse(ofp_full.iloc[:30]).reset_index(drop=True)
    stats = fitted.critic_statistics(rows, m=8, seed=2)
    x, cond = fitted.encode(rows)
    slot = int(cond[0].argmax())
    means = fitted.fake_critic_means(cond[0], m=8, seed=2)
    assert means.shape == (cond.shape[1],)
    np.testing.assert_allclose(stats["critic"][0] - means[slot], stats["critic_calibrated"][0], rtol=0, atol=1e-5)
    with pytest.raises(SynthguardError, match="condition value"):
        fitted.fake_critic_means(cond[0][:-1], m=8)


def test_mixing_is_declared_by_the_defence_not_named_by_the_audit(ofp_schema):
    config = AuditConfig(n_shadows=4, n_targets=10)
    assert Synthesizer(ofp_schema, defense="mixup", **TINY).mixes_records
    assert config.scores_pairs(Synthesizer(ofp_schema, defense="mixup", **TINY))
    assert not config.scores_pairs(Synthesizer(ofp_schema, defense="none", **TINY))

    class Mixing(ColumnShuffler):
        mixes_records = True

    assert config.scores_pairs(Mixing()) and not config.scores_pairs(ColumnShuffler())


def test_the_model_file_comes_from_the_model(fitted, tmp_path):
    data = fitted.to_bytes()
    path = tmp_path / "m.sgm"
    path.write_bytes(data)
    again = Synthesizer.load(path)
    pd.testing.assert_frame_equal(again.sample(20, seed=3), fitted.sample(20, seed=3))
    fitted.save(tmp_path / "saved.sgm")
    assert (tmp_path / "saved.sgm").read_bytes() == data


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            found.append("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def test_training_code_imports_nothing_from_the_attacks():
    package = ROOT / "synthguard"
    for path in [package / "synthesizer.py", *sorted((package / "gan").glob("*.py"))]:
        offending = [name for name in _imports(path) if "attacks" in name]
        assert not offending, (path.name, offending)
