"""The Python API behind the command line: inputs and modality defaults, streaming, evaluation from
files, defence settings parsed by the registry, and errors in synthguard's tree."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from synthguard import api
from synthguard.cli import app
from synthguard.errors import InputError, SettingError, SynthguardError, SynthguardWarning, mapped_errors
from synthguard.gan.defenses import (
    DEFENSES,
    Defense,
    make_defense,
    parse_defense_settings,
    parse_settings_by_defense,
    register_defense,
)
from synthguard.gan.trainer import TrainConfig
from synthguard.images import IMAGE_TRAIN_DEFAULTS
from synthguard.policy import Policy
from synthguard.release import release
from synthguard.synthesizer import Synthesizer
from synthguard.utility import evaluate
from tests.conftest import OFP_SCHEMA, TINY

#: a policy that never refuses before training (its privacy limits measured, not enforced)
LENIENT = {"format_version": 1, "audit": {"shadows": 4, "targets": 60}, "privacy": {"enforce": False}}
IMAGE_ONLY = {k: v for k, v in IMAGE_TRAIN_DEFAULTS.items() if k != "epochs"}


def test_the_image_defaults_differ_from_the_table_defaults():
    # what the tests below tell apart: an image recipe and a table recipe differ in every one
    table = TrainConfig()
    assert all(getattr(table, key) != value for key, value in IMAGE_TRAIN_DEFAULTS.items())


class Stop(Exception):
    """Raised by a spy to stop a release once the fit's recipe is known (no training)."""


@pytest.fixture()
def fitted_recipe(monkeypatch):
    """Records the recipe and rows that the release's model fit receives, then stops the release."""
    seen: dict = {}

    def spy(self, frame, resolved, *args, **kwargs):
        seen.update(params=self.get_params(), rows=len(frame), modality=resolved.modality, image=resolved.image)
        raise Stop

    monkeypatch.setattr(Synthesizer, "fit_parsed", spy)
    return seen


def _folder(root, sizes=((10, 10),) * 12, classes=("cat", "dog")):
    for i, size in enumerate(sizes):
        path = root / classes[i % len(classes)] / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", size, 40 + 15 * i).save(path)
    return root


# ---- inputs and the modality's training defaults ----------------------------------------------------
def test_release_of_digits_from_python_fits_with_the_image_training_defaults(tmp_path, fitted_recipe):
    with pytest.raises(Stop):
        release("digits", None, tmp_path / "rel", policy=Policy.from_dict(LENIENT), audit_options={"workers": 1})
    params = fitted_recipe["params"]
    assert fitted_recipe["modality"] == "image" and fitted_recipe["rows"] == 1438  # 80% of 1,797 digits
    assert {key: params[key] for key in IMAGE_TRAIN_DEFAULTS} == IMAGE_TRAIN_DEFAULTS
    assert not (tmp_path / "rel").exists()


def test_release_of_an_image_folder_from_python_reads_it_resized_with_the_image_defaults(tmp_path, fitted_recipe):
    folder = _folder(tmp_path / "pics")
    with pytest.raises(Stop):
        release(folder, None, tmp_path / "rel", policy=Policy.from_dict(LENIENT), size=8,
                audit_options={"workers": 1})
    shape = fitted_recipe["image"]
    assert fitted_recipe["modality"] == "image" and (shape.height, shape.width) == (8, 8)
    assert {key: fitted_recipe["params"][key] for key in IMAGE_TRAIN_DEFAULTS} == IMAGE_TRAIN_DEFAULTS


def test_release_of_a_table_keeps_the_table_defaults(tmp_path, ofp_csv, fitted_recipe):
    with pytest.raises(Stop):
        release(ofp_csv, OFP_SCHEMA, tmp_path / "rel", policy=Policy.from_dict(LENIENT), audit_options={"workers": 1})
    params = fitted_recipe["params"]
    assert (params["epochs"], params["batch_size"], params["lr"]) == (TrainConfig.epochs, TrainConfig.batch_size,
                                                                     TrainConfig.lr)


def test_fit_from_python_on_an_image_folder_uses_the_image_defaults_under_given_options(tmp_path):
    folder = _folder(tmp_path / "pics", sizes=((8, 8),) * 12)
    model = api.fit(folder, epochs=1, seed=3, generator_dims=(8,), critic_dims=(8,))
    assert model.schema_.modality == "image" and model.n_rows_ == 12
    assert model.config.epochs == 1  # the caller's option wins
    assert {k: getattr(model.config, k) for k in IMAGE_ONLY} == IMAGE_ONLY  # the rest: the image defaults


def test_make_recipe_takes_the_modality_defaults_and_none_keeps_them(ofp_schema):
    images = api.load_input("digits").schema
    assert api.make_recipe(images, epochs=None).config.batch_size == IMAGE_TRAIN_DEFAULTS["batch_size"]
    table = api.make_recipe(ofp_schema, epochs=None, batch_size=None)
    assert (table.config.epochs, table.config.batch_size) == (TrainConfig.epochs, TrainConfig.batch_size)


def test_load_input_reads_every_kind_of_source(tmp_path, ofp_csv, ofp_raw):
    digits = api.load_input("digits")
    assert digits.modality == "image" and digits.path is None and len(digits.frame) == 1797
    table = api.load_input(ofp_csv, OFP_SCHEMA)
    assert table.modality == "table" and table.path == ofp_csv and len(table.frame) == 300
    with pytest.warns(SynthguardWarning, match="no schema given"):
        inferred = api.load_input(ofp_raw)
    assert inferred.frame is ofp_raw and inferred.source == "data"
    assert api.load_input(table) is table


def test_a_schema_that_models_nothing_is_an_input_error(ofp_raw):
    from synthguard.schema import Column, Schema

    ids = Schema(columns=tuple(Column(name=c, type="id") for c in ofp_raw.columns))
    with pytest.raises(InputError, match="no column to model"):
        api.load_input(ofp_raw, ids)


# ---- streaming -----------------------------------------------------------------------------------
def test_a_parquet_file_with_a_schema_is_streamed_never_read_whole(tmp_path, ofp_raw, monkeypatch):
    parquet = tmp_path / "ofp.parquet"
    ofp_raw.to_parquet(parquet, index=False)
    assert api.should_stream(parquet, OFP_SCHEMA) and not api.should_stream(parquet, None)
    assert not api.should_stream(tmp_path / "ofp.csv", OFP_SCHEMA)

    def no_whole_table(*args, **kwargs):
        raise AssertionError("the parquet file was read whole")

    monkeypatch.setattr(api, "read_table", no_whole_table)
    loaded = api.load_input(parquet, OFP_SCHEMA)
    assert loaded.streamed and loaded.frame is None
    model = api.fit(loaded, **{**TINY, "epochs": 1})
    assert model.n_rows_ == 300


# ---- evaluation from files -------------------------------------------------------------------------
@pytest.fixture()
def utility_files(tmp_path, ofp_full):
    rows = ofp_full.iloc[:240]
    paths = {}
    for name, part in (("train", rows.iloc[:120]), ("holdout", rows.iloc[120:180]), ("synthetic", rows.iloc[180:])):
        paths[name] = tmp_path / f"{name}.csv"
        part.to_csv(paths[name], index=False)
    return paths


@pytest.fixture()
def evaluated(monkeypatch):
    """Records what `evaluate_files` hands to `utility.evaluate` (the metrics themselves are
    tested in test_utility.py), and returns a stand-in report."""
    import importlib

    module = importlib.import_module("synthguard.utility.evaluate")  # the package exports a function of that name
    seen: dict = {}

    def spy(train, holdout, synthetic, schema, target=None, seed=0):
        seen.update(train=train, holdout=holdout, synthetic=synthetic, schema=schema, target=target, seed=seed)
        return "report"

    monkeypatch.setattr(module, "evaluate", spy)
    return seen


def test_evaluate_files_reads_and_parses_each_file_for_evaluate(utility_files, ofp_schema, evaluated):
    report = api.evaluate_files(utility_files["train"], utility_files["synthetic"], OFP_SCHEMA,
                                holdout=utility_files["holdout"], target="ofp", seed=1)
    assert report == "report" and evaluated["target"] == "ofp" and evaluated["seed"] == 1
    for name in ("train", "holdout", "synthetic"):
        expected = ofp_schema.parse(pd.read_csv(utility_files[name], dtype=str, keep_default_na=False))
        pd.testing.assert_frame_equal(evaluated[name].reset_index(drop=True), expected)
    assert [c.name for c in evaluated["schema"].columns] == list(evaluated["train"].columns)  # resolved


def test_evaluate_files_without_a_holdout_says_the_estimate_is_optimistic(utility_files, evaluated):
    with pytest.warns(SynthguardWarning, match="no holdout given"):
        api.evaluate_files(utility_files["train"], utility_files["synthetic"], OFP_SCHEMA, seed=2)
    test, train = evaluated["holdout"], evaluated["train"]
    assert len(test) == 24 and len(train) == 120  # 20% of the 120 real rows, which the generator saw
    assert list(test.index) == list(range(24))
    assert test.reset_index(drop=True).equals(train.sample(frac=0.2, random_state=2).reset_index(drop=True))


def test_evaluate_files_names_an_unknown_target_and_the_modelled_columns(utility_files):
    with pytest.raises(SettingError, match=r"target 'nope' is not a modelled column .*\(modelled: 'ofp'") as info:
        api.evaluate_files(utility_files["train"], utility_files["synthetic"], OFP_SCHEMA, target="nope")
    assert info.value.setting == "target" and "--" not in str(info.value)


def test_evaluate_maps_a_lower_layers_value_error_into_the_error_tree(ofp_raw, ofp_schema):
    parsed = ofp_schema.parse(ofp_raw)
    with pytest.raises(SettingError, match="'age'") as info:
        evaluate(parsed, parsed, parsed.drop(columns="age"), ofp_schema)
    assert isinstance(info.value, ValueError) and isinstance(info.value, SynthguardError)


# ---- defence settings, parsed by the registry ---------------------------------------------------------
def test_defence_settings_are_converted_by_the_defences_signature():
    assert parse_defense_settings("relaxloss", ["mode=per_example", "holdout=0.2", "reference_models=6"]) == {
        "mode": "per_example", "holdout": 0.2, "reference_models": 6}
    assert parse_defense_settings("pargan", ["partitions=3"]) == {"partitions": 3}
    assert parse_settings_by_defense(["pargan.partitions=3", "relaxloss.mode=global"]) == {
        "pargan": {"partitions": 3}, "relaxloss": {"mode": "global"}}


@pytest.mark.parametrize(("name", "items", "fragments"), [
    ("pargan", ["partitions"], ["defence 'pargan'", "KEY=VALUE", "'partitions'"]),
    ("pargan", ["partitons=3"], ["defence 'pargan' has no setting 'partitons'", "it takes: partitions"]),
    ("pargan", ["partitions=2.5"], ["defence 'pargan'", "setting 'partitions'", "whole number", "'2.5'"]),
    ("relaxloss", ["holdout=lots"], ["defence 'relaxloss'", "setting 'holdout'", "a number", "'lots'"]),
    ("none", ["alpha=1"], ["defence 'none' has no setting 'alpha'", "it takes: none"]),
    ("dpsgd", ["x=1"], ["unknown defence 'dpsgd'"]),
])
def test_a_bad_defence_setting_is_one_line_naming_the_defence_and_the_setting(name, items, fragments):
    with pytest.raises(SettingError) as info:
        parse_defense_settings(name, items)
    message = str(info.value)
    assert "\n" not in message and "--" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_settings_of_several_defences_need_the_defence_name():
    with pytest.raises(SettingError, match=r"DEFENCE\.KEY=VALUE, got 'partitions=0\.5'"):
        parse_settings_by_defense(["partitions=0.5"])
    with pytest.raises(SettingError, match="defence 'pargan' has no setting 'k'"):
        parse_settings_by_defense(["pargan.k=2"])


def test_make_recipe_parses_defence_settings_and_refuses_bad_ones(ofp_schema):
    recipe = api.make_recipe(ofp_schema, defense="pargan", defense_settings=["partitions=3"])
    assert recipe.describe_defense() == {"name": "pargan", "partitions": 3}
    with pytest.raises(SettingError, match="defence 'pargan' has no setting 'partitons'"):
        api.make_recipe(ofp_schema, defense="pargan", defense_settings={"partitons": 3})


def test_a_registered_defence_gets_its_settings_parsed_from_its_signature():
    class Noisy(Defense):
        name = "noisy_test"

        def __init__(self, sigma: float = 0.1, clip: bool = False) -> None:
            self.sigma, self.clip = sigma, clip

    try:
        assert register_defense(Noisy) is Noisy and DEFENSES["noisy_test"] is Noisy
        assert parse_defense_settings("noisy_test", ["sigma=2", "clip=yes"]) == {"sigma": 2.0, "clip": True}
        assert make_defense("noisy_test", sigma=0.5).sigma == 0.5

        class Other(Defense):
            name = "noisy_test"

        with pytest.raises(ValueError, match="'noisy_test' is taken"):
            register_defense(Other)
        assert register_defense(Other, force=True) is Other
    finally:
        DEFENSES.pop("noisy_test", None)


# ---- errors --------------------------------------------------------------------------------------
def test_mapped_errors_turn_value_and_key_errors_into_setting_errors():
    with pytest.raises(SettingError, match="^where: bad value$") as info, mapped_errors(where="where"):
        raise ValueError("bad value\nsecond line")
    assert isinstance(info.value.__cause__, ValueError)
    with pytest.raises(InputError, match="no entry 'col'"), mapped_errors(InputError):
        raise KeyError("col")
    with pytest.raises(SettingError, match="^kept$"), mapped_errors(InputError):
        raise SettingError("kept")  # synthguard's own errors pass unchanged


def test_the_cli_points_at_its_own_option_for_a_library_setting(tmp_path, ofp_csv):
    folder = _folder(tmp_path / "pics", sizes=((8, 8), (9, 8), (8, 8), (8, 8)))
    result = CliRunner().invoke(app, ["fit", str(folder), "-o", str(tmp_path / "m.sgm"), "--quiet"])
    assert result.exit_code == 1, result.output
    assert "give a size to resize every image (option --size)" in " ".join(result.stderr.split())
    bad = CliRunner().invoke(app, ["fit", str(ofp_csv), "-s", str(OFP_SCHEMA), "-o", str(tmp_path / "m.sgm"),
                                   "--defense", "pargan", "--defense-param", "partitions=two", "--quiet"])
    assert bad.exit_code == 1
    line = " ".join(bad.stderr.split())
    assert "defence 'pargan': setting 'partitions' must be a whole number, got 'two' (option --defense-param)" in line


def test_load_input_refuses_what_it_cannot_read():
    with pytest.raises(SettingError, match="data must be a path, a frame"):
        api.load_input(np.zeros((3, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match="file not found"):
            api.load_input("missing.csv", OFP_SCHEMA)
