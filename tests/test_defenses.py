"""The baseline defences (RelaxLoss, PAR-GAN) and mixup's mixed-fakes variant: their rules, a short
training run, save/load, audit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from synthguard.audit import AuditConfig, audit
from synthguard.cli import app
from synthguard.errors import SynthguardError
from synthguard.gan.defenses import Defense, Mixup, ParGAN, RelaxLoss, make_defense
from synthguard.gan.trainer import CriticEnsemble, TrainConfig, train_gan
from synthguard.synthesizer import Synthesizer

from .conftest import TINY

BASELINES = [("relaxloss", {}), ("relaxloss", {"mode": "per_example", "reference_models": 2}),
             ("pargan", {"partitions": 3}), ("mixup", {"fakes": "mixed"})]


def _ids(case):
    return f"{case[0]}-{case[1].get('mode', '')}{case[1].get('partitions', '')}{case[1].get('fakes', '')}"


@pytest.fixture(scope="module", params=BASELINES, ids=_ids)
def baseline(request, ofp_full, ofp_schema):
    name, params = request.param
    raw = ofp_full.iloc[:300].reset_index(drop=True)
    synth = Synthesizer(ofp_schema, defense=name, defense_params=params, seed=3, threads=1, **TINY).fit(raw)
    return synth, raw


def test_baseline_trains_samples_and_keeps_the_schema(baseline, ofp_schema):
    synth, raw = baseline
    assert len(synth.gan_.history) == TINY["epochs"]
    assert np.isfinite([h["loss_d"] for h in synth.gan_.history]).all()
    # an epoch without a generator step reports the last generator loss (None before the first)
    assert any(h["loss_g"] is not None and np.isfinite(h["loss_g"]) for h in synth.gan_.history)
    rows = synth.sample(200, seed=1)
    assert list(rows.columns) == list(raw.columns) and len(rows) == 200
    parsed = ofp_schema.parse(rows)  # raises if a value leaves its declared domain
    assert parsed.notna().any().all()
    assert synth.describe_defense()["name"] == synth.defense


def test_baseline_round_trips_through_a_model_file(baseline, tmp_path):
    synth, raw = baseline
    path = tmp_path / "model.sgm"
    synth.save(path)
    loaded = Synthesizer.load(path, threads=1)
    assert loaded.get_params() == synth.get_params()
    assert synth.sample(100, seed=5).equals(loaded.sample(100, seed=5))
    parsed = synth.schema_.parse(raw.iloc[:50])
    before, after = synth.critic_statistics(parsed, m=8, seed=0), loaded.critic_statistics(parsed, m=8, seed=0)
    np.testing.assert_allclose(before["critic"], after["critic"], rtol=1e-6)


def test_baseline_same_seed_same_model(baseline, ofp_schema):
    synth, raw = baseline
    again = Synthesizer(ofp_schema, defense=synth.defense, defense_params=synth.defense_params, seed=3, threads=1,
                        **TINY).fit(raw)
    for a, b in zip(synth.gan_.generator.state_dict().values(), again.gan_.generator.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", ["relaxloss", "pargan"])
def test_baseline_can_be_audited(ofp_full, ofp_schema, name):
    raw = ofp_full.iloc[:160].reset_index(drop=True)
    recipe = Synthesizer(ofp_schema, defense=name, seed=0, threads=1, **{**TINY, "epochs": 2})
    result = audit(raw, recipe, ofp_schema, AuditConfig(n_shadows=4, n_targets=30, attacks=("lira", "logan"),
                                                        workers=1, n_bootstrap=50))
    assert {"lira", "logan"} <= set(result.attacks)
    for attack in result.attacks.values():
        assert 0.0 <= attack.summary.auc <= 1.0
        assert np.isfinite(attack.scores[attack.valid]).all()
    assert result.recipe["defense"] == name


# ---- the rules themselves --------------------------------------------------------------------------
def test_relaxloss_global_gates_on_the_held_out_loss_of_the_current_critic():
    defense = RelaxLoss()
    defense.bind(0)
    (train,) = defense.partitions(200)
    assert len(defense.held_out) == 20 and len(train) == 180
    assert not set(train) & set(defense.held_out)
    probed = []

    def probe(rows):
        probed.append(rows)
        return np.where(np.arange(len(rows)) % 2 == 0, -0.4, -0.6)  # mean -0.5

    defense.before_step(probe, batch=16)
    assert set(probed[0]) <= set(defense.held_out) and len(probed[0]) == 16
    sd = np.std(np.where(np.arange(16) % 2 == 0, -0.4, -0.6), ddof=1)
    assert defense.alpha == pytest.approx(-0.5 - 2 * sd / 4)   # two standard errors below the mean
    alpha = defense.alpha
    rows = torch.tensor([0, 1])
    real, fake = torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor([0.0, 0.0])  # L = -1.5 < alpha
    even = defense.critic_loss(real, fake, rows, epoch=0)
    assert even.item() == pytest.approx(abs(-1.5 - alpha))   # |L - alpha|: ascent back up to alpha
    even.backward()
    assert (real.grad > 0).all()                             # minimising it lowers D(x): ascent on L
    odd = defense.critic_loss(real, fake, rows, epoch=1)
    assert odd.item() == 0.0                                 # below alpha on odd epochs: no step
    real = torch.tensor([0.1, 0.1])                          # L = -0.1 > alpha: ordinary descent
    assert defense.critic_loss(real, fake, rows, epoch=1).item() == pytest.approx(-0.1)


def test_relaxloss_global_rarely_fires_when_training_rows_look_like_held_out_ones():
    """A critic that does not memorise must keep learning: with training and held-out losses from
    one distribution, few batches fall two standard errors below the held-out mean (the
    difference of two batch means has sqrt(2) standard errors: about 8% expected)."""
    rng = np.random.default_rng(0)
    defense = RelaxLoss()
    defense.bind(1)
    defense.partitions(2000)
    fired = 0
    for _ in range(400):
        defense.before_step(lambda rows: rng.normal(-1.0, 0.5, size=len(rows)), batch=64)
        batch_loss = rng.normal(-1.0, 0.5, size=64).mean()
        fired += batch_loss < defense.alpha
    assert 0 < fired / 400 < 0.15


def test_relaxloss_per_example_flips_only_rows_below_their_threshold():
    defense = RelaxLoss(mode="per_example")
    defense.thresholds = np.array([0.0, 0.0, -5.0])
    real, fake = torch.tensor([1.0, 1.0, 1.0], requires_grad=True), torch.tensor([0.0, 0.0, 0.0])
    rows = torch.tensor([0, 1, 2])  # per-sample losses -1, -1, -1: rows 0 and 1 fall below 0, row 2 not
    loss = defense.critic_loss(real, fake, rows, epoch=0)
    loss.backward()
    # flipped rows push D(x) down (ascent on their critic loss), the last row keeps pushing it up
    np.testing.assert_allclose(real.grad.numpy(), [1 / 3, 1 / 3, -1 / 3])


def test_relaxloss_per_example_thresholds_come_from_reference_models(ofp_full, ofp_schema):
    synth = Synthesizer(ofp_schema, defense="relaxloss", defense_params={"mode": "per_example"},
                        seed=0, threads=1, **{**TINY, "epochs": 1})
    x, cond = _encoded(synth, ofp_full.iloc[:120])
    defense = synth._make_defense()
    train_gan(x, cond, synth.encoder_.spans, synth.config, defense, seed=0, threads=1)
    assert defense.thresholds.shape == (120,) and np.isfinite(defense.thresholds).all()
    assert defense.thresholds.std() > 0


def test_pargan_critics_train_only_on_their_own_partition(ofp_full, ofp_schema):
    synth = Synthesizer(ofp_schema, seed=0, threads=1, **{**TINY, "epochs": 2})
    x, cond = _encoded(synth, ofp_full.iloc[:240])

    class Recording(ParGAN):
        def __init__(self) -> None:
            super().__init__(partitions=3)
            self.calls: list[np.ndarray] = []

        def critic_loss(self, d_real, d_fake, rows, epoch):
            self.calls.append(rows.numpy().copy())
            return super().critic_loss(d_real, d_fake, rows, epoch)

    defense = Recording()
    gan = train_gan(x, cond, synth.encoder_.spans, TrainConfig(**{**TINY, "epochs": 2}), defense, seed=0, threads=1)
    assert isinstance(gan.critic, CriticEnsemble) and len(gan.critic.critics) == 3
    # calls cycle through the critics in order; the rows each critic saw never overlap another's
    seen = [np.unique(np.concatenate(defense.calls[j::3])) for j in range(3)]
    assert all(len(np.intersect1d(seen[i], seen[j])) == 0 for i in range(3) for j in range(i + 1, 3))
    assert all(0 < len(rows) <= 80 for rows in seen)
    # the ensemble's score is the mean of its critics'
    xs, cs = torch.as_tensor(x[:5]), torch.as_tensor(cond[:5])
    with torch.no_grad():
        members = torch.stack([c(xs, cs) for c in gan.critic.critics]).mean(dim=0)
        assert torch.allclose(gan.critic(xs, cs), members)


def test_pargan_partitions_are_disjoint_and_cover_the_rows():
    defense = ParGAN(partitions=4)
    defense.bind(1)
    parts = defense.partitions(103)
    assert sorted(np.concatenate(parts).tolist()) == list(range(103))
    assert {len(p) for p in parts} <= {25, 26}


def _encoded(synth, raw):
    parsed = synth.schema.parse(raw)
    synth.encoder_ = synth._make_encoder(synth.schema.resolve(list(raw.columns)))
    synth.encoder_.fit(parsed, seed=0)
    return synth.encoder_.transform(parsed, seed=0)


def test_mixed_fakes_follow_the_real_pairs_mixing():
    """fakes="mixed" (the default): one fake per record of the real pair, each at that record's own
    label, mixed with the real pair's lam; the paper's recipe (fakes="generated") makes one fake at
    the mixed label."""
    c1 = torch.tensor([[1.0, 0.0]] * 4)
    c2 = torch.tensor([[0.0, 1.0]] * 4)

    def generate(z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:  # shows what it was given
        return torch.cat([z, c], dim=1)

    for lambda_mode in ("batch", "sample"):
        mixed = Mixup(lambda_mode=lambda_mode)
        mixed.bind(0)
        _, c = mixed.real_batch(torch.zeros(4, 3), c1, torch.ones(4, 3), c2)
        lam = c[:, :1]  # the label is mixed with the same weight
        z = mixed.fake_noise(4, 5, torch.device("cpu"))
        assert z.shape == (8, 5)
        fake = mixed.fake_batch(generate, z, c)
        expected = lam * generate(z[:4], c1) + (1 - lam) * generate(z[4:], c2)
        torch.testing.assert_close(fake, expected)
    paper = Mixup(fakes="generated")
    paper.bind(0)
    _, c = paper.real_batch(torch.zeros(4, 3), c1, torch.ones(4, 3), c2)
    z = paper.fake_noise(4, 5, torch.device("cpu"))
    assert z.shape == (4, 5)
    torch.testing.assert_close(paper.fake_batch(generate, z, c), generate(z, c))
    # the generator's step is judged on the critic step's own fakes, under the same conditions
    for defense in (paper, mixed):
        z = defense.fake_noise(4, 5, torch.device("cpu"))
        judged, under = defense.generator_batch(generate, z, c)
        torch.testing.assert_close(judged, defense.fake_batch(generate, z, c))
        assert under is c
    # the paper's generator emits soft rows, as the mixed reals are; mixed fakes start near one-hot
    assert TrainConfig().head_mode(paper) == "softmax"
    assert TrainConfig().head_mode(Mixup()) == "gumbel"
    assert paper.describe()["fakes"] == "generated" and Mixup().describe()["fakes"] == "mixed"


def test_a_recipe_records_its_fakes_and_an_older_model_file_loads_as_it_was_trained(ofp_schema, ofp_full, tmp_path):
    """The default changed from the paper's generated fakes to mixed ones: a recipe records the
    setting resolved (so model files, passports and run directories name it), and a mixup model
    file written before the setting existed loads with the paper's fakes, as it was trained."""
    import json
    import zipfile

    assert Synthesizer(ofp_schema).get_params()["defense_params"] == {"fakes": "mixed"}
    assert Synthesizer(ofp_schema, defense="none").get_params()["defense_params"] == {}
    raw = ofp_full.iloc[:120].reset_index(drop=True)
    paper = Synthesizer(ofp_schema, defense_params={"fakes": "generated"}, seed=2, threads=1, **TINY).fit(raw)
    paper.save(tmp_path / "new.sgm")
    with zipfile.ZipFile(tmp_path / "new.sgm") as src, zipfile.ZipFile(tmp_path / "old.sgm", "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "manifest.json":  # as an older synthguard wrote it: no `fakes` anywhere
                manifest = json.loads(data)
                manifest["params"]["defense_params"] = {}
                manifest["defense"].pop("fakes")
                data = json.dumps(manifest).encode()
            dst.writestr(name, data)
    old = Synthesizer.load(tmp_path / "old.sgm")
    assert old.get_params() == paper.get_params() and old.describe_defense()["fakes"] == "generated"
    assert old.sample(40, seed=3).equals(paper.sample(40, seed=3))


# ---- settings and errors ---------------------------------------------------------------------------
def test_defence_settings_are_checked(ofp_schema):
    with pytest.raises(SynthguardError, match="no setting 'partitons'"):
        Synthesizer(ofp_schema, defense="pargan", defense_params={"partitons": 4})
    with pytest.raises(SynthguardError, match="at least 2 partitions"):
        Synthesizer(ofp_schema, defense="pargan", defense_params={"partitions": 1})
    with pytest.raises(SynthguardError, match="relaxloss mode"):
        Synthesizer(ofp_schema, defense="relaxloss", defense_params={"mode": "flatten"})
    with pytest.raises(SynthguardError, match="mixup fakes must be generated or mixed"):
        Synthesizer(ofp_schema, defense="mixup", defense_params={"fakes": "blended"})
    with pytest.raises(SynthguardError, match="unknown defence"):
        Synthesizer(ofp_schema, defense="dpsgd")
    assert type(make_defense("none", alpha=0.3)) is Defense


def test_devices_are_checked(ofp_schema):
    with pytest.raises(SynthguardError, match="device must be cpu or cuda"):
        Synthesizer(ofp_schema, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(SynthguardError, match="no CUDA device"):
            Synthesizer(ofp_schema, device="cuda")


def test_cli_fit_takes_a_baseline_and_its_settings(ofp_csv, tmp_path):
    runner = CliRunner()
    model = tmp_path / "m.sgm"
    args = ["fit", str(ofp_csv), "-s", "schemas/ofp.yaml", "-o", str(model), "--defense", "pargan",
            "--defense-param", "partitions=2", "--epochs", "1", "--batch-size", "64", "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert Synthesizer.load(model).describe_defense() == {"name": "pargan", "partitions": 2}
    bad = runner.invoke(app, ["fit", str(ofp_csv), "-s", "schemas/ofp.yaml", "-o", str(tmp_path / "x.sgm"),
                              "--defense", "pargan", "--defense-param", "partitions", "--quiet"])
    assert bad.exit_code == 1 and "KEY=VALUE" in bad.output
    cuda = runner.invoke(app, ["fit", str(ofp_csv), "-s", "schemas/ofp.yaml", "-o", str(tmp_path / "y.sgm"),
                               "--device", "gpu", "--quiet"])
    assert cuda.exit_code == 1 and "device must be cpu or cuda" in cuda.output


def test_cli_fit_takes_mixups_own_settings_as_defence_settings(ofp_csv, tmp_path):
    model = tmp_path / "pairs.sgm"
    result = CliRunner().invoke(app, ["fit", str(ofp_csv), "-s", "schemas/ofp.yaml", "-o", str(model), "--defense-param",
                                      "lambda_mode=sample", "--defense-param", "alpha=0.5", "--epochs", "1",
                                      "--batch-size", "64", "--quiet"])
    assert result.exit_code == 0, result.output
    assert Synthesizer.load(model).describe_defense() == {"name": "mixup", "alpha": 0.5, "lambda_mode": "sample",
                                                          "fakes": "mixed"}
    twice = CliRunner().invoke(app, ["fit", str(ofp_csv), "-s", "schemas/ofp.yaml", "-o", str(tmp_path / "t.sgm"),
                                     "--alpha", "0.5", "--defense-param", "alpha=0.5", "--quiet"])
    assert twice.exit_code == 1 and "alpha given twice" in twice.output and not (tmp_path / "t.sgm").exists()
    plain = CliRunner().invoke(app, ["fit", str(ofp_csv), "-s", "schemas/ofp.yaml", "-o", str(tmp_path / "p.sgm"),
                                     "--defense", "none", "--epochs", "1", "--batch-size", "64", "--quiet"])
    assert plain.exit_code == 0, plain.output  # no alpha given: nothing for a defence without one to refuse
    assert Synthesizer.load(tmp_path / "p.sgm").get_params()["alpha"] is None
