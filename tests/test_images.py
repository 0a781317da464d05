"""Images: reading collections, the image schema, the encoder, the conv GAN through fit / sample /
save / load, the audit on image models, sample writing, and image utility."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from synthguard.attacks.calibration import Memoriser
from synthguard.audit import audit
from synthguard.encoders.image import ImageEncoder
from synthguard.errors import InputError, SchemaError, SettingError, SynthguardError
from synthguard.gan.conv import ConvCritic, ConvGenerator, image_networks
from synthguard.gan.trainer import TrainConfig
from synthguard.images import (
    class_grids,
    frame_to_images,
    image_grid,
    infer_image_schema,
    is_image_source,
    load_images,
    pixel_columns,
    write_image_samples,
)
from synthguard.schema import ImageShape, Schema
from synthguard.synthesizer import Synthesizer
from synthguard.utility import images as image_metrics
from synthguard.utility.images import CLASSIFIER_FEATURES, frechet_distance, image_utility, load_state_dict_file

TINY_IMAGE = {"epochs": 2, "batch_size": 32, "z_dim": 16, "generator_dims": (8,), "critic_dims": (8,)}


@pytest.fixture(scope="module")
def digits():
    return load_images("digits")


@pytest.fixture(scope="module")
def small(digits):
    frame, schema = digits
    return frame.iloc[:200].reset_index(drop=True), schema


@pytest.fixture(scope="module")
def fitted(small):
    frame, schema = small
    return Synthesizer(schema, defense="mixup", seed=2, **TINY_IMAGE).fit(frame)


def _png(path, size=(8, 8), mode="L", value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    color = value if mode == "L" else (value, 255 - value, 7)
    Image.new(mode, size, color).save(path)


# ---- reading ---------------------------------------------------------------------------------------
def test_folder_in_imagefolder_layout(tmp_path):
    for label, values in {"3": (10, 20), "7": (200,)}.items():
        for i, v in enumerate(values):
            _png(tmp_path / "set" / label / f"{i}.png", value=v)
    (tmp_path / "set" / "notes.txt").write_text("ignored")
    frame, schema = load_images(tmp_path / "set")
    assert frame.shape == (3, 65) and list(frame.columns[:2]) == ["label", "px_00000"]
    assert frame["label"].tolist() == [3, 3, 7]  # folder names that are numbers become ints
    assert np.allclose(frame["px_00063"], [10 / 255, 20 / 255, 200 / 255])
    assert schema.modality == "image" and schema.image == ImageShape(8, 8, 1) and schema.condition == "label"
    assert schema.column("label").categories == (3, 7) and schema.name == "set"
    assert infer_image_schema(tmp_path / "set") == schema
    assert is_image_source(tmp_path / "set") and is_image_source("digits") and not is_image_source("x.csv")


def test_folder_colour_and_resize(tmp_path):
    _png(tmp_path / "f" / "cat" / "a.png", size=(10, 12), mode="RGB", value=100)
    _png(tmp_path / "f" / "dog" / "b.jpg", size=(16, 16), mode="L", value=50)
    frame, schema = load_images(tmp_path / "f", size=8)
    assert schema.image == ImageShape(8, 8, 3) and frame.shape == (2, 1 + 8 * 8 * 3)
    images, labels = frame_to_images(frame, schema)
    assert images.shape == (2, 8, 8, 3) and list(labels) == ["cat", "dog"]
    assert np.allclose(images[0, 4, 4], [100 / 255, 155 / 255, 7 / 255], atol=1e-6)
    assert np.allclose(images[1, 4, 4], 50 / 255, atol=2 / 255)  # grey images become RGB in a colour set


@pytest.mark.parametrize(("setup", "message"), [
    (lambda d: d.mkdir(), "no class sub-folders"),
    (lambda d: (d / "a").mkdir(parents=True), "no PNG or JPEG images"),
    (lambda d: (_png(d / "a" / "ok.png"), (d / "b").mkdir(), (d / "b" / "bad.png").write_bytes(b"\x89PNG garbage")),
     r"bad\.png: not a readable PNG/JPEG image"),
    (lambda d: (_png(d / "a" / "1.png"), _png(d / "a" / "2.png", size=(9, 8))),
     r"2\.png: is 9x8 pixels .* give a size to resize every image"),
    (lambda d: _png(d / "a" / "big.png", size=(100, 100)), "give a size to resize them"),
])
def test_bad_folders_are_one_line_input_errors(tmp_path, setup, message):
    setup(tmp_path / "in")
    with pytest.raises(InputError, match=message) as info:
        load_images(tmp_path / "in")
    assert "\n" not in str(info.value)
    assert "--" not in str(info.value)  # library errors name no command-line flag


@pytest.mark.parametrize("setup", [
    lambda d: (_png(d / "a" / "1.png"), _png(d / "a" / "2.png", size=(9, 8))),
    lambda d: _png(d / "a" / "big.png", size=(100, 100)),
])
def test_size_errors_name_the_size_setting_for_the_cli_to_point_at(tmp_path, setup):
    setup(tmp_path / "in")
    with pytest.raises(InputError) as info:
        load_images(tmp_path / "in")
    assert info.value.setting == "size"
    with pytest.raises(SettingError, match="image size must be from .* got 100x100") as bad:
        load_images(tmp_path / "in", size=100)
    assert bad.value.setting == "size" and "--" not in str(bad.value)


def test_mixed_sizes_are_fine_with_size(tmp_path):
    _png(tmp_path / "in" / "a" / "1.png")
    _png(tmp_path / "in" / "b" / "2.png", size=(20, 16))
    frame, schema = load_images(tmp_path / "in", size=(8, 12))
    assert schema.image == ImageShape(8, 12, 1) and len(frame) == 2


def test_npz_uint8_and_float(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "c.npz", images=images, labels=np.array(["cat", "dog", "cat", "cow", "dog"]))
    frame, schema = load_images(tmp_path / "c.npz")
    assert schema.image == ImageShape(8, 8, 3) and schema.column("label").categories == ("cat", "cow", "dog")
    assert schema.column("label").learned == ("categories",)  # read from the data, unlike folder names
    back, _ = frame_to_images(frame, schema)
    assert np.array_equal(np.round(back * 255).astype(np.uint8), images)
    np.savez(tmp_path / "g.npz", images=rng.random((4, 16, 16)), labels=np.array([0, 1, 0, 1]))
    frame, schema = load_images(tmp_path / "g.npz", size=8)
    assert schema.image == ImageShape(8, 8, 1) and frame["label"].tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize(("arrays", "message"), [
    ({"images": np.zeros((2, 8, 8))}, "no `labels` array"),
    ({"images": np.full((2, 8, 8), 1.5), "labels": np.array([0, 1])}, r"must lie in \[0, 1\]"),
    ({"images": np.zeros((2, 8, 8, 2)), "labels": np.array([0, 1])}, "C = 1 or 3"),
    ({"images": np.zeros((2, 8, 8)), "labels": np.array([0, 1, 2])}, "one label per image"),
])
def test_bad_npz(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputError, match=message):
        load_images(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match=r"junk\.npz: not a readable \.npz"):
        load_images(tmp_path / "junk.npz")


def test_digits(digits):
    frame, schema = digits
    assert frame.shape == (1797, 65) and schema.image == ImageShape(8, 8, 1)
    pixels = frame[pixel_columns(schema.image)].to_numpy()
    assert pixels.min() == 0 and pixels.max() == 1 and np.allclose(pixels * 16, np.round(pixels * 16))
    assert sorted(frame["label"].unique()) == list(range(10))
    parsed = schema.parse(frame)  # the audit and the synthesizer read image frames like tables
    assert parsed.shape == frame.shape


# ---- schema -------------------------------------------------------------------------------------------
def test_image_schema_yaml_round_trip(digits):
    schema = digits[1]
    text = schema.to_yaml()
    assert "modality: image" in text and "image: {height: 8, width: 8, channels: 1}" in text
    assert Schema.from_yaml(text) == schema
    assert "modality" not in Schema.from_yaml("columns: [{name: a, type: integer}]").to_yaml()


@pytest.mark.parametrize(("image", "extra", "message"), [
    ({"height": 4, "width": 8, "channels": 1}, {}, "height must be a whole number from 8 to 64"),
    ({"height": 8, "width": 8, "channels": 2}, {}, "channels must be 1"),
    ({"height": 8, "width": 8.5, "channels": 1}, {}, "`width` must be a whole number"),
    ({"height": 8, "width": 8}, {}, "missing `channels`"),
    (None, {}, "needs `image"),
    ({"height": 8, "width": 8, "channels": 1}, {"condition": None}, "needs a `condition`"),
    ({"height": 8, "width": 8, "channels": 1}, {"modality": "video"}, "modality must be"),
])
def test_image_schema_validation(image, extra, message):
    raw = {"modality": "image", "condition": "label",
           "columns": [{"name": "label", "type": "categorical"}, {"pattern": "px_*", "type": "continuous"}]}
    if image is not None:
        raw["image"] = image
    raw.update(extra)
    with pytest.raises(SchemaError, match=message):
        Schema.from_dict(raw)
    with pytest.raises(SchemaError, match="modality: image"):
        Schema.from_dict({"image": {"height": 8, "width": 8, "channels": 1}, "columns": [{"name": "a", "type": "integer"}]})


# ---- encoder ----------------------------------------------------------------------------------------
def test_encoder_round_trip_and_json_state(small):
    frame, schema = small
    resolved = schema.resolve(list(frame.columns))
    parsed = schema.parse(frame)
    enc = ImageEncoder(resolved).fit(parsed, seed=0)
    x, cond = enc.transform(parsed)
    assert x.shape == (200, 64) and x.dtype == np.float32 and x.min() >= -1 and x.max() <= 1
    assert cond.shape == (200, 10) and enc.dim == 64 and enc.cond_dim == 10
    assert {s.kind for s in enc.spans} == {"scalar"} and len(enc.spans) == 64
    back = enc.inverse_transform(x, cond.argmax(axis=1))
    assert list(back.columns) == list(frame.columns)
    assert np.abs(back[pixel_columns(schema.image)].to_numpy() - parsed[pixel_columns(schema.image)].to_numpy()).max() < 1 / 255
    assert back["label"].tolist() == parsed["label"].tolist()
    assert enc.inverse_transform(np.full((2, 64), 3.0)).iloc[:, 1:].to_numpy().max() == 1.0  # clipped
    state = json.loads(json.dumps(enc.state_dict()))
    again = ImageEncoder.from_state_dict(resolved, state)
    assert np.array_equal(again.transform(parsed)[0], x) and np.array_equal(again.transform(parsed)[1], cond)
    assert np.allclose(again.condition_frequencies, enc.condition_frequencies)
    assert again.condition_slot("3") == enc.condition_slot(3)
    with pytest.raises(ValueError, match="not a category"):
        enc.condition_slot(11)


def test_encoder_refuses_a_non_image_column():
    schema = Schema.from_dict({"modality": "image", "condition": "label", "image": {"height": 8, "width": 8, "channels": 1},
                               "columns": [{"name": "label", "type": "categorical"}, {"name": "age", "type": "integer"},
                                           {"pattern": "px_*", "type": "continuous"}]})
    resolved = schema.resolve(["label", "age", *pixel_columns(schema.image)])
    with pytest.raises(SchemaError, match="'age' is neither the label nor a pixel"):
        ImageEncoder(resolved)


# ---- networks ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("h", "w", "c"), [(8, 8, 1), (16, 16, 3), (28, 20, 1), (64, 64, 3)])
def test_conv_networks_take_and_return_flat_rows(h, w, c):
    g, d = image_networks(h, w, c, 4, 4)(h * w * c, 3, TrainConfig(z_dim=8))
    assert isinstance(g, ConvGenerator) and isinstance(d, ConvCritic)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in d.modules())
    cond = torch.eye(3)[[0, 1]]
    out = g(torch.randn(2, 8), cond)
    assert out.shape == (2, h * w * c)
    assert d(out, cond).shape == (2,)


def test_conv_width_comes_from_the_config_unless_it_keeps_the_table_default():
    factory = image_networks(8, 8, 1)
    default_g, default_d = factory(64, 2, TrainConfig(z_dim=8))  # table dims (256, 256): the image default
    small_g, small_d = factory(64, 2, TrainConfig(z_dim=8, generator_dims=(8,), critic_dims=(4,)))
    assert default_d.body[0].out_channels == 32 and small_d.body[0].out_channels == 4
    assert default_g.first == 32 and small_g.first == 8
    with pytest.raises(ValueError, match="has 64 values, not 65"):
        factory(65, 2, TrainConfig())


def test_pixel_order_is_row_major_height_width_channel():
    # a critic that reads its input back as an image must see pixel (i, j, k) at i*W*C + j*C + k
    d = ConvCritic(0, ImageShape(8, 8, 3), 4)
    x = torch.zeros(1, 192)
    x[0, (2 * 8 + 5) * 3 + 1] = 1.0
    seen = {}

    def keep_input(module, inputs, output):
        seen["x"] = inputs[0]

    d.body[0].register_forward_hook(keep_input)
    d(x, torch.zeros(1, 0))
    assert seen["x"][0, 1, 2, 5] == 1 and seen["x"].sum() == 1


# ---- fit / sample / save / load -----------------------------------------------------------------------
def test_fit_sample_save_load(fitted, small, tmp_path):
    frame, schema = small
    rows = fitted.sample(30, seed=4)
    assert list(rows.columns) == list(frame.columns)
    assert schema.parse(rows).shape == (30, 65)  # valid input again: pixels in [0, 1], known labels
    again = Synthesizer(schema, defense="mixup", seed=2, **TINY_IMAGE).fit(frame)
    pd.testing.assert_frame_equal(rows, again.sample(30, seed=4))
    assert not rows.equals(fitted.sample(30, seed=5))
    path = tmp_path / "img.sgm"
    fitted.save(path)
    loaded = Synthesizer.load(path)
    pd.testing.assert_frame_equal(rows, loaded.sample(30, seed=4))
    assert loaded.schema_.modality == "image" and isinstance(loaded.encoder_, ImageEncoder)
    with zipfile.ZipFile(path) as zf:
        assert json.loads(zf.read("encoder.json"))["kind"] == "image"


def test_condition_fixes_the_class(fitted):
    rows = fitted.sample(12, condition=3, seed=1)
    assert rows["label"].tolist() == [3] * 12
    assert fitted.sample(3, condition="7", seed=1)["label"].tolist() == [7] * 3  # as the CLI passes it
    with pytest.raises(SynthguardError, match="not a category"):
        fitted.sample(2, condition=12)


def test_write_image_samples(fitted, small, tmp_path):
    schema = small[1]
    rows = fitted.sample(40, seed=0)
    written = write_image_samples(rows, schema, tmp_path / "synthetic.npz")
    with np.load(tmp_path / "synthetic.npz") as archive:
        assert archive["images"].shape == (40, 8, 8, 1) and archive["images"].dtype == np.uint8
        assert archive["labels"].tolist() == rows["label"].tolist()
    grids = sorted(p.name for p in written if p.suffix == ".png")
    assert grids == sorted(f"synthetic_class_{v}.png" for v in set(rows["label"]))
    with Image.open(written[1]) as grid:
        assert grid.mode == "L" and grid.size[0] >= 32
    folder = write_image_samples(rows, schema, tmp_path / "out")
    assert len(folder) == 40 and all(p.is_file() for p in folder)
    assert {p.parent.name for p in folder} == {str(v) for v in rows["label"]}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind
    with pytest.raises(InputError, match="not an empty folder"):
        write_image_samples(rows, schema, tmp_path / "out")
    assert set(class_grids(rows, schema)) == set(rows["label"])
    assert image_grid(np.zeros((5, 8, 8, 3))).shape == (2 * 33 + 1, 3 * 33 + 1, 3)  # 3 columns, 2 rows


# ---- audit ------------------------------------------------------------------------------------------
def test_audit_catches_a_memoriser_on_images(small):
    frame, schema = small
    result = audit(frame, Memoriser(schema), schema, n_shadows=4, n_targets=40, workers=1, synthetic_rows=500,
                   n_bootstrap=100)
    assert result.attacks["ganleaks"].summary.auc >= 0.95


def test_audit_of_an_image_synthesizer_scores_every_attack(small):
    frame, schema = small
    recipe = Synthesizer(schema, defense="mixup", seed=0, **{**TINY_IMAGE, "epochs": 1})
    result = audit(frame.iloc[:120], recipe, schema, n_shadows=4, n_targets=20, workers=1, synthetic_rows=200,
                   critic_fakes=8, n_bootstrap=50)
    assert set(result.attacks) >= {"lira", "lira_offline", "logan", "lira_dcr", "ganleaks", "ganleaks_cal",
                                   "domias", "logan_bb"}
    for attack in result.attacks.values():
        assert np.isfinite(attack.scores).all() and np.isfinite(attack.summary.auc)


# ---- utility ----------------------------------------------------------------------------------------
def test_image_utility(digits, small, fitted):
    frame, schema = digits
    train, holdout = small[0], frame.iloc[1500:1600].reset_index(drop=True)
    out = image_utility(train, holdout, fitted.sample(150, seed=0), schema, seed=0, epochs=3)
    json.dumps(out)  # plain JSON types
    assert out["frechet"]["feature_extractor"] == CLASSIFIER_FEATURES
    down, fd = out["downstream"], out["frechet"]
    assert 0 <= down["accuracy_trained_on_synthetic"] <= 1 and down["accuracy_trained_on_real"] > 0.5
    assert np.isfinite([fd["synthetic_vs_holdout"], fd["train_vs_holdout"]]).all()
    assert image_utility(train, holdout, fitted.sample(150, seed=0), schema, seed=0, epochs=3) == out  # seeded


def test_frechet_distance():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 6)), rng.normal(size=(400, 6)) + 2.0
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(a, b) == pytest.approx(24, rel=0.1)  # 6 dims x (2.0)^2
    a[:, 0] = 0  # a dead feature makes the covariance singular: guarded, still finite
    assert np.isfinite(frechet_distance(a[:5], b[:5]))


class _TinyInception(torch.nn.Module):
    """Stands in for Inception v3 (whose default init alone takes several seconds here)."""

    def __init__(self, **kwargs):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 10)

    def forward(self, x):
        assert x.shape[1:] == (3, 299, 299)
        return self.fc(self.conv(x[:, :, :5, :5]).mean(dim=(2, 3)))


def test_local_weights_loader_and_the_inception_branch(tmp_path, monkeypatch, small, digits):
    weights = tmp_path / "inception.pt"
    torch.save(_TinyInception().state_dict(), weights)
    model = load_state_dict_file(_TinyInception(), weights)
    assert not model.training
    (tmp_path / "bad.pt").write_bytes(b"junk")
    with pytest.raises(InputError, match="not a readable PyTorch state dict"):
        load_state_dict_file(_TinyInception(), tmp_path / "bad.pt")
    with pytest.raises(InputError, match="do not fit"):
        load_state_dict_file(torch.nn.Linear(2, 2), weights)
    with pytest.raises(InputError, match="weights file not found"):
        load_state_dict_file(_TinyInception(), tmp_path / "none.pt")
    import torchvision.models

    monkeypatch.setattr(torchvision.models, "inception_v3", _TinyInception)
    frame, schema = small
    holdout = digits[0].iloc[1500:1540].reset_index(drop=True)
    out = image_utility(frame.iloc[:60], holdout, frame.iloc[60:120], schema, epochs=1, inception_weights=weights)
    assert out["frechet"]["feature_extractor"] == f"inception_v3 (local weights: {weights})"
    assert out["frechet"]["n_features"] == 4 and np.isfinite(out["frechet"]["synthetic_vs_holdout"])
    _ = image_metrics  # the module under test, imported for the monkeypatch's target above
