"""The training defaults chosen for time to quality: a batch chosen from the table's size and an
exponential moving average of the generator (benchmarks/levers.py measures them)."""

from __future__ import annotations

import contextlib

import pytest
import torch

from synthguard.errors import SynthguardError
from synthguard.gan.trainer import GeneratorAverage, TrainConfig, auto_batch_size
from synthguard.synthesizer import Synthesizer

from .conftest import TINY


@pytest.mark.parametrize(("rows", "batch"), [(10, 64), (2_000, 64), (3_525, 128), (4_460, 128), (8_000, 256),
                                             (16_149, 512), (1_000_000, 512)])
def test_auto_batch_size_follows_the_table_size(rows: int, batch: int) -> None:
    assert auto_batch_size(rows) == batch


def test_auto_is_the_default_batch_and_sets_the_steps_per_epoch(ofp_schema, ofp_full) -> None:
    assert TrainConfig().batch_size == "auto"
    rows = ofp_full.iloc[:400]
    settings = {**TINY, "batch_size": "auto", "n_critic": 1, "epochs": 2}
    model = Synthesizer(ofp_schema, seed=0, **settings).fit(rows)
    # 400 rows: auto picks 64 (the floor), so 6 critic steps, and at n_critic = 1 as many generator steps
    assert [h["g_steps"] for h in model.gan_.history] == [400 // auto_batch_size(400)] * 2
    explicit = Synthesizer(ofp_schema, seed=0, **{**settings, "batch_size": 200}).fit(rows)
    assert [h["g_steps"] for h in explicit.gan_.history] == [2, 2]


def test_generator_average_follows_its_decay_schedule() -> None:
    live = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        live.weight.fill_(0.0)
    average = GeneratorAverage(live, decay=0.5)
    expected = 0.0
    for step, value in enumerate([1.0, 2.0, 3.0, 4.0, 5.0], start=1):
        with torch.no_grad():
            live.weight.fill_(value)
        average.update(live)
        decay = min(0.5, (1 + step) / (10 + step))  # the warm-up keeps early updates heavy
        expected = decay * expected + (1 - decay) * value
        assert average.model.weight.item() == pytest.approx(expected)
    assert average.model is not live and live.weight.item() == 5.0


def test_the_average_is_sampled_but_never_feeds_back_into_training(ofp_schema, ofp_raw) -> None:
    rows = ofp_raw.iloc[:300]
    plain = Synthesizer(ofp_schema, seed=2, **{**TINY, "ema": 0.0}).fit(rows)
    averaged = Synthesizer(ofp_schema, seed=2, **{**TINY, "ema": 0.9}).fit(rows)
    # same seed: the critic (trained against the live generator) is the same to the bit
    for name, tensor in plain.gan_.critic.state_dict().items():
        assert torch.equal(tensor, averaged.gan_.critic.state_dict()[name]), name
    # but what is sampled is the average, not the live generator
    differs = [not torch.equal(t, averaged.gan_.generator.state_dict()[n])
               for n, t in plain.gan_.generator.state_dict().items() if t.is_floating_point()]
    assert any(differs)
    assert not plain.sample(50, seed=1).equals(averaged.sample(50, seed=1))


@pytest.mark.parametrize(("setting", "value"), [("ema", 1.0), ("ema", -0.1), ("batch_size", "big"),
                                                ("batch_size", 0), ("classifier_weight", -1.0)])
def test_bad_training_settings_are_one_line_errors(ofp_schema, setting: str, value: object) -> None:
    with pytest.raises(SynthguardError, match=setting):
        Synthesizer(ofp_schema, **{setting: value})


def test_a_model_saved_before_the_average_existed_loads_as_trained_without_one(ofp_schema, ofp_raw, tmp_path):
    import json
    import zipfile

    model = Synthesizer(ofp_schema, seed=1, **{**TINY, "ema": 0.0}).fit(ofp_raw)
    model.save(tmp_path / "new.sgm")
    # the same file as an older synthguard wrote it: no `ema` among the recipe's settings
    with zipfile.ZipFile(tmp_path / "new.sgm") as src, zipfile.ZipFile(tmp_path / "old.sgm", "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "manifest.json":
                manifest = json.loads(data)
                del manifest["params"]["ema"]
                data = json.dumps(manifest).encode()
            dst.writestr(name, data)
    old = Synthesizer.load(tmp_path / "old.sgm")
    assert old.get_params() == model.get_params() and old.config.ema == 0.0
    assert old.sample(40, seed=2).equals(model.sample(40, seed=2))


def test_sized_for_pins_auto_at_the_whole_tables_batch(ofp_schema) -> None:
    recipe = Synthesizer(ofp_schema, seed=4, epochs=2)
    pinned = recipe.sized_for(3_525)
    assert pinned.config.batch_size == auto_batch_size(3_525) == 128
    assert recipe.config.batch_size == "auto"  # the recipe itself is left as it was
    assert {k: v for k, v in pinned.get_params().items() if k != "batch_size"} == \
        {k: v for k, v in recipe.get_params().items() if k != "batch_size"}
    assert Synthesizer(ofp_schema, batch_size=200).sized_for(3_525) is None  # nothing to pin: kept as given


class _FirstShadow(Exception):
    pass


class _Recording:
    """A recipe that records the rows and the batch of the first shadow it is asked to fit, then
    ends the audit (the audit runs in this process: workers=1)."""

    def __init__(self, inner, seen):
        self.inner, self.seen = inner, seen

    def clone(self, **overrides):
        return _Recording(self.inner.clone(**overrides), self.seen)

    def sized_for(self, rows):
        return _Recording(self.inner.sized_for(rows), self.seen)

    def fit_parsed(self, frame, resolved, on_epoch=None):
        self.seen.append((len(frame), self.inner.config.batch_size))
        raise _FirstShadow

    def __getattr__(self, name):  # get_params, sample, ...: the inner recipe's
        if name.startswith("__") or name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def test_the_audits_shadows_train_with_the_release_models_batch(ofp_schema, ofp_full) -> None:
    from synthguard.audit import audit

    rows = ofp_full.iloc[:2_800]  # auto: 128 for the whole 2,800 rows, 64 for a shadow's half
    seen: list[tuple[int, object]] = []
    with pytest.raises(_FirstShadow):
        audit(rows, _Recording(Synthesizer(ofp_schema, seed=0, epochs=1), seen), ofp_schema,
              n_shadows=4, n_targets=50, workers=1, threat_model="data")
    (shadow_rows, batch), = seen
    assert shadow_rows < 1_500 and auto_batch_size(shadow_rows) == 64
    assert batch == auto_batch_size(len(rows)) == 128


@pytest.mark.parametrize("defense", ["none", "mixup", "relaxloss"])
def test_the_one_pass_critic_step_is_the_two_pass_step(defense: str) -> None:
    """`critic_step` scores real and fake rows in one pass; its loss and its gradients must be
    those of two separate passes (to float precision), for every defence's loss. Both sides step
    plain SGD, so that the updated weights compare the gradients (Adam's first step divides each
    gradient by its own size, which turns a rounding difference in a near-zero gradient into a
    full step)."""
    import copy

    import numpy as np

    from synthguard.gan.defenses import DEFENSES
    from synthguard.gan.networks import Critic
    from synthguard.gan.trainer import critic_step, gradient_penalty

    torch.manual_seed(0)
    critic = Critic(12, 3, (32, 32))
    twin, before = copy.deepcopy(critic), copy.deepcopy(critic)
    real, fake = torch.rand(40, 12), torch.rand(40, 12)
    cond = torch.nn.functional.one_hot(torch.arange(40) % 3, 3).float()
    rows = torch.arange(40)
    chosen = DEFENSES[defense](mode="per_example") if defense == "relaxloss" else DEFENSES[defense]()
    chosen.bind(0)
    if defense == "relaxloss":  # its per-row loss reads thresholds a fit would have set
        chosen.thresholds = np.linspace(-1.0, 1.0, 40)
    torch.manual_seed(1)  # the penalty's interpolation weights
    loss = critic_step(critic, torch.optim.SGD(critic.parameters(), lr=0.1), real, fake, cond, chosen, rows, 0, 10.0)
    torch.manual_seed(1)
    expected = chosen.critic_loss(twin(real, cond), twin(fake, cond), rows, 0)
    expected = expected + 10.0 * gradient_penalty(twin, real, fake, cond)
    expected.backward()
    torch.optim.SGD(twin.parameters(), lr=0.1).step()
    assert loss == pytest.approx(float(expected), rel=1e-5)
    for mine, theirs in zip(critic.parameters(), twin.parameters(), strict=True):
        assert torch.allclose(mine, theirs, atol=1e-6)
    # the step moved every weight matrix (the output bias cancels between real and fake scores)
    assert all(not torch.equal(mine, start) for mine, start in zip(critic.parameters(), before.parameters(), strict=True)
               if mine.dim() == 2)


def test_the_generator_step_takes_no_critic_weight_gradients_and_the_same_generator_gradients() -> None:
    """`frozen` keeps the critics' weights out of the generator step's backward pass: no weight
    gradient is computed for them, the generator's gradients are the very ones it gets with the
    critic's weights in autograd, and the weights are trainable again after the block, also when
    the block fails (a loaded model's critic keeps `requires_grad` for the white-box attacks)."""
    from synthguard.gan.networks import Critic, Generator
    from synthguard.gan.trainer import frozen

    torch.manual_seed(0)
    generator, critic = Generator(8, 3, 12, (16, 16)), Critic(12, 3, (16, 16))
    z, cond = torch.randn(20, 8), torch.nn.functional.one_hot(torch.arange(20) % 3, 3).float()

    def generator_gradients(freeze: bool) -> list[torch.Tensor]:
        generator.zero_grad(set_to_none=True)
        critic.zero_grad(set_to_none=True)
        with frozen([critic]) if freeze else contextlib.nullcontext():
            (-critic(generator(z, cond), cond).mean()).backward()
        return [p.grad.clone() for p in generator.parameters()]

    plain = generator_gradients(False)
    assert all(p.grad is not None for p in critic.parameters())
    kept = generator_gradients(True)
    assert all(p.grad is None for p in critic.parameters())
    assert all(torch.equal(a, b) for a, b in zip(plain, kept, strict=True))
    assert all(p.requires_grad for p in critic.parameters())
    with pytest.raises(RuntimeError), frozen([critic]):
        assert not any(p.requires_grad for p in critic.parameters())
        raise RuntimeError("a failing step")
    assert all(p.requires_grad for p in critic.parameters())


def test_a_fitted_critic_is_trainable_after_the_fit(ofp_schema, ofp_raw) -> None:
    synth = Synthesizer(ofp_schema, seed=0, **TINY).fit(ofp_raw)
    assert all(p.requires_grad for p in synth.gan_.critic.parameters())
