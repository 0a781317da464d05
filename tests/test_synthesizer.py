"""Synthesizer: fit / sample / save / load, determinism, the mixup defence, tampered files refused."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

from synthguard.errors import ModelFileError, SynthguardError
from synthguard.gan.defenses import Defense, Mixup
from synthguard.gan.trainer import TrainConfig, train_gan
from synthguard.synthesizer import Synthesizer
from tests.conftest import TINY


@pytest.fixture()
def fitted(ofp_raw, ofp_schema):
    return Synthesizer(ofp_schema, defense="mixup", seed=3, **TINY).fit(ofp_raw)


def test_samples_keep_every_column_type_and_domain(fitted, ofp_raw, ofp_schema):
    rows = fitted.sample(400, seed=1)
    assert list(rows.columns) == list(ofp_raw.columns)
    typed = ofp_schema.parse(rows)  # the output is valid input again: types, categories, bounds
    assert typed["ofp"].min() >= 0 and (typed["ofp"] % 1 == 0).all()
    assert set(rows["privins"]) <= {"yes", "no"} and set(rows["adldiff"]) <= {0, 1}
    assert set(rows["hlth"]) <= {"excellent", "other", "poor"}
    assert rows["ofp"].dtype == np.int64 and rows["age"].dtype == float


def test_same_seed_same_model_and_samples(ofp_raw, ofp_schema, fitted):
    again = Synthesizer(ofp_schema, defense="mixup", seed=3, **TINY).fit(ofp_raw)
    pd.testing.assert_frame_equal(fitted.sample(200, seed=5), again.sample(200, seed=5))
    for a, b in zip(fitted.gan_.generator.state_dict().values(), again.gan_.generator.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    other = Synthesizer(ofp_schema, defense="mixup", seed=4, **TINY).fit(ofp_raw)
    assert not fitted.sample(200, seed=5).equals(other.sample(200, seed=5))
    assert not fitted.sample(200, seed=5).equals(fitted.sample(200, seed=6))


def test_save_load_round_trip_gives_identical_samples(fitted, tmp_path):
    path = tmp_path / "m.sgm"
    fitted.save(path)
    loaded = Synthesizer.load(path)
    pd.testing.assert_frame_equal(fitted.sample(300, seed=9), loaded.sample(300, seed=9))
    assert loaded.get_params() == fitted.get_params()
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["critic.safetensors", "encoder.json", "generator.safetensors",
                                         "manifest.json", "schema.yaml"]
    path2 = tmp_path / "m2.sgm"
    fitted.save(path2)
    assert path.read_bytes() == path2.read_bytes()  # no timestamps: same model, same bytes


def test_condition_fixes_the_label(fitted):
    rows = fitted.sample(50, condition="poor", seed=1)
    assert (rows["hlth"] == "poor").all()
    with pytest.raises(SynthguardError, match="'great' is not a category"):
        fitted.sample(5, condition="great")
    with pytest.raises(SynthguardError, match="positive integer"):
        fitted.sample(0)


def _rewrite(path, name, mutate):
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    mutate(parts)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for n, data in parts.items():
            zf.writestr(n, data)
    path.write_bytes(buffer.getvalue())


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda p: p.__setitem__("generator.safetensors", p["generator.safetensors"][:-8] + b"\0" * 8), "does not match its hash"),
    (lambda p: p.__setitem__("encoder.json", p["encoder.json"].replace(b'"max_modes": 10', b'"max_modes": 11')), "does not match its hash"),
    (lambda p: p.__setitem__("payload.pkl", b"cos\nsystem\n"), "unexpected part 'payload.pkl'"),
    (lambda p: p.pop("critic.safetensors"), "missing part 'critic.safetensors'"),
    (lambda p: p.__setitem__("manifest.json", b"{not json"), "not valid JSON"),
])
def test_altered_model_files_are_refused(fitted, tmp_path, mutate, message):
    path = tmp_path / "m.sgm"
    fitted.save(path)
    _rewrite(path, "", mutate)
    with pytest.raises(ModelFileError, match=message):
        Synthesizer.load(path)


def test_foreign_and_truncated_files_are_refused(fitted, tmp_path):
    path = tmp_path / "m.sgm"
    fitted.save(path)
    truncated = tmp_path / "t.sgm"
    truncated.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ModelFileError, match="not a zip archive, or truncated"):
        Synthesizer.load(truncated)
    foreign = tmp_path / "f.sgm"
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("manifest.json", '{"format": "someone-else"}')
    with pytest.raises(ModelFileError, match="not a synthguard model file"):
        Synthesizer.load(foreign)
    (tmp_path / "x.sgm").write_text("hello")
    with pytest.raises(ModelFileError):
        Synthesizer.load(tmp_path / "x.sgm")


class _FixedLambda(Mixup):
    """Mixup with lambda pinned to 1: the critic sees exactly the first loader's batch."""

    def sample_lambda(self, n):
        self.rng.beta(self.alpha, self.alpha, size=1)  # keep the stream in step
        return np.ones(1)


def test_mixup_with_lambda_one_reduces_exactly_to_plain_training(fitted, ofp_raw, ofp_schema):
    x, cond = fitted.encode(ofp_schema.parse(ofp_raw))
    config = TrainConfig(**{**TINY, "discrete_output": "softmax"})
    plain = train_gan(x, cond, fitted.encoder_.spans, config, Defense(), seed=1)
    # the paper's recipe (one fake at the mixed label); mixed fakes draw a second noise batch
    pinned = train_gan(x, cond, fitted.encoder_.spans, config, _FixedLambda(alpha=1.0, fakes="generated"), seed=1)
    for a, b in zip(plain.generator.state_dict().values(), pinned.generator.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    mixed = train_gan(x, cond, fitted.encoder_.spans, config, Mixup(alpha=1.0), seed=1)
    assert not torch.equal(next(iter(mixed.generator.parameters())), next(iter(plain.generator.parameters())))


def test_mixup_interpolates_records_and_labels_with_one_lambda_per_batch():
    mix = Mixup(alpha=0.5)
    mix.bind(0)
    x1, x2 = torch.zeros(8, 3), torch.ones(8, 3)
    c1, c2 = torch.tensor([[1.0, 0.0]] * 8), torch.tensor([[0.0, 1.0]] * 8)
    x, c = mix.real_batch(x1, c1, x2, c2)
    lam = 1 - x[0, 0]
    assert torch.allclose(x, torch.full_like(x, float(1 - lam)))
    assert torch.allclose(c[:, 0], torch.full((8,), float(lam))) and torch.allclose(c.sum(1), torch.ones(8))
    tiny = Mixup(alpha=1e-3)
    tiny.bind(0)
    lams = np.concatenate([tiny.sample_lambda(1) for _ in range(200)])
    assert np.mean(np.minimum(lams, 1 - lams) < 1e-3) > 0.97  # alpha -> 0: lambda in {0, 1}
    per_record = Mixup(alpha=1.0, lambda_mode="sample")
    per_record.bind(0)
    assert len(np.unique(per_record.sample_lambda(16))) == 16


def test_bad_parameters_are_user_errors(ofp_schema):
    with pytest.raises(SynthguardError, match="epochs must be at least 1"):
        Synthesizer(ofp_schema, epochs=-1)
    with pytest.raises(SynthguardError, match="batch_size must be at least 1"):
        Synthesizer(ofp_schema, batch_size=0)
    with pytest.raises(SynthguardError, match="unknown defence 'dp'"):
        Synthesizer(ofp_schema, defense="dp")
    with pytest.raises(SynthguardError, match="alpha must be positive"):
        Synthesizer(ofp_schema, alpha=0)


def test_alpha_without_mixup_is_refused_and_never_recorded(ofp_schema):
    # alpha is mixup's Beta(alpha, alpha): another defence cannot use it, so asking for it is an error,
    # and a recipe (whose get_params is what the passport records) never carries an alpha it does not use
    with pytest.raises(SynthguardError, match="alpha applies only to the mixup defence, not to 'none'"):
        Synthesizer(ofp_schema, defense="none", alpha=7)
    with pytest.raises(SynthguardError, match="alpha applies only to the mixup defence"):
        Synthesizer(ofp_schema, alpha=7).clone(defense="none", alpha=7)
    for plain in (Synthesizer(ofp_schema, defense="none"), Synthesizer(ofp_schema, alpha=7).clone(defense="none")):
        assert plain.get_params()["alpha"] is None and "alpha" not in plain.describe_defense()
        assert Synthesizer(ofp_schema, **plain.get_params()).get_params() == plain.get_params()  # a saved recipe reloads
    assert Synthesizer(ofp_schema, alpha=7).get_params()["alpha"] == 7.0
