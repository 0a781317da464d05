"""A schema's `entity`: when a person has several rows, the person is the unit of the holdout and
of the audit. A row-level audit of panel data understates what a model leaks about persons; these
tests show it on a memoriser and keep the entity audit honest at the null."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from synthguard.attacks.calibration import Memoriser, Untrained
from synthguard.audit import audit, one_row_each
from synthguard.errors import DataValidationError, InputError, SchemaError
from synthguard.release import release, split_holdout
from synthguard.schema import Column, Schema

from .conftest import LENIENT_POLICY, SMALL_AUDIT, TINY

PERSONS, YEARS = 200, 3


@pytest.fixture(scope="module")
def panel(ofp_full):
    """200 OFP persons, each with three identical yearly rows, and their `person` number."""
    rows = pd.concat([ofp_full.iloc[:PERSONS]] * YEARS).sort_index(kind="stable").reset_index(drop=True)
    rows.insert(0, "person", np.repeat(np.arange(1000, 1000 + PERSONS), YEARS))
    return rows


@pytest.fixture(scope="module")
def by_row(ofp_schema):
    return replace(ofp_schema, columns=(Column(name="person", type="id"), *ofp_schema.columns))


@pytest.fixture(scope="module")
def by_person(by_row):
    return replace(by_row, entity="person")


# ---- the schema ----------------------------------------------------------------------------------
def test_entity_reads_back_and_must_be_an_id_column(by_person, by_row):
    assert Schema.from_yaml(by_person.to_yaml()) == by_person
    assert "entity" not in by_row.to_dict()
    with pytest.raises(SchemaError, match="entity column 'hlth' must be declared `type: id`"):
        replace(by_row, entity="hlth")
    with pytest.raises(SchemaError, match="entity column 'nobody' is not a named column"):
        replace(by_row, entity="nobody")


def test_rows_without_a_person_are_named(panel, by_person):
    broken = panel.copy()
    broken.loc[[4, 7], "person"] = None
    with pytest.raises(DataValidationError, match=r"entity column 'person': missing value in rows 5, 8"):
        by_person.parse(broken)
    codes = by_person.entities(panel)
    assert codes.tolist()[:7] == [0, 0, 0, 1, 1, 1, 2] and codes.max() == PERSONS - 1


# ---- the holdout -----------------------------------------------------------------------------------
def test_the_holdout_takes_whole_persons(panel, by_person):
    entities = by_person.entities(panel)
    train, holdout = split_holdout(len(panel), 0.2, seed=3, entities=entities)
    assert not set(entities[train]) & set(entities[holdout])
    assert len(set(entities[holdout])) == round(0.2 * PERSONS) and len(holdout) == YEARS * round(0.2 * PERSONS)
    assert sorted([*train, *holdout]) == list(range(len(panel)))
    again = split_holdout(len(panel), 0.2, seed=3, entities=entities)
    assert all(np.array_equal(a, b) for a, b in zip((train, holdout), again, strict=True))
    by_rows = split_holdout(len(panel), 0.2, seed=3)[1]
    assert set(entities[by_rows]) & set(entities[train])  # what a row split does to panel data


def test_one_row_each_draws_a_row_of_every_person() -> None:
    entities = np.array([2, 0, 1, 0, 2, 2, 1])
    picked = one_row_each(entities, seed=0)
    assert entities[picked].tolist() == [0, 1, 2]
    assert {tuple(one_row_each(entities, seed=s)) for s in range(20)} != {tuple(picked)}  # drawn, not the first


# ---- the audit -------------------------------------------------------------------------------------
class Recording(Memoriser):
    """A memoriser that keeps the rows each of its shadows trained on (one worker: this process)."""

    trained: list[pd.DataFrame] = []

    def clone(self, **overrides):
        return Recording(self.schema, seed=overrides.get("seed", self.seed))

    def fit_parsed(self, frame, resolved, on_epoch=None):
        Recording.trained.append(frame)
        return super().fit_parsed(frame, resolved, on_epoch)


def test_a_person_is_in_or_out_of_a_shadow_with_all_of_its_rows(panel, by_person):
    Recording.trained = []
    result = audit(panel, Recording(by_person), by_person, n_shadows=4, n_targets=40, workers=1,
                   synthetic_rows=500, n_bootstrap=50)
    assert len(Recording.trained) == 4
    for frame in Recording.trained:  # a person's rows are identical here: each is trained on 0 or 3 times
        counts = frame.value_counts().to_numpy()
        assert (counts % YEARS == 0).all(), sorted(set(counts.tolist()))
    entities = by_person.entities(panel)
    assert len(set(entities[result.targets])) == len(result.targets) == 40  # one audited row per person
    population = set(entities[result.population])
    assert population and not population & set(entities[result.targets])
    assert len(result.population) == YEARS * len(population)  # whole persons, none of them audited


def test_a_row_level_audit_of_panel_data_misses_a_memoriser_that_the_person_level_one_catches(panel, by_row,
                                                                                             by_person):
    # a non-member row whose copies (the same person's other years) were trained on is as close to
    # the synthetic rows as a member: by row the memoriser looks almost safe, by person it is not
    found = {}
    for schema in (by_row, by_person):
        result = audit(panel, Memoriser(schema), schema, n_shadows=8, n_targets=80, workers=1,
                       synthetic_rows=2000, n_bootstrap=200)
        found[schema.entity] = {name: a.summary for name, a in result.attacks.items()}
    assert found["person"]["ganleaks"].auc >= 0.95 and found["person"]["lira"].auc >= 0.95
    assert found["person"]["ganleaks"].tpr_at[0.01] > 0.5
    assert found[None]["ganleaks"].auc_ci[1] < 0.8 and found[None]["lira"].auc_ci[1] < 0.8


def test_the_person_level_audit_of_models_that_learn_nothing_is_at_chance(panel, by_person):
    # untrained networks: nothing depends on membership. A target's other rows are kept out of the
    # reference rows; left in, DOMIAS read a non-member's copies as the reference density and
    # measured 0.58-0.60 here (three seeds) instead of 0.51-0.52
    recipe = Untrained(by_person, **{k: v for k, v in TINY.items() if k != "epochs"})
    result = audit(panel, recipe, by_person, n_shadows=8, n_targets=80, workers=1, synthetic_rows=2000,
                   n_bootstrap=200, seed=0)
    for name in ("domias", "logan_bb", "ganleaks"):
        lo, hi = result.attacks[name].summary.auc_ci
        assert lo <= 0.5 <= hi, (name, lo, hi)


# ---- the release ------------------------------------------------------------------------------------
def test_a_release_by_person_holds_out_persons_and_says_so(tmp_path, panel, by_person):
    folder = tmp_path / "rel"
    stages: list[str] = []
    outcome = release(panel, by_person, folder, policy=LENIENT_POLICY, recipe=Memoriser(by_person),
                      audit_options=SMALL_AUDIT, on_stage=stages.append)
    assert not outcome.passed  # a memoriser, caught
    split = json.loads((folder / "release.json").read_text())["split"]
    assert split["entity"] == "person" and split["train_entities"] + split["holdout_entities"] == PERSONS
    assert split["holdout_rows"] == YEARS * split["holdout_entities"]
    assert outcome.passport.split.holdout_entities == split["holdout_entities"]
    assert any(f"rows of {split['train_entities']} persons ({split['holdout_rows']} rows of "
               f"{split['holdout_entities']} persons held out)" in line for line in stages), stages
    assert any("each on the rows of half of the training persons (person)" in line for line in stages), stages
    audited_persons = set(panel["person"].to_numpy()[outcome.audit.row_numbers[outcome.audit.targets] - 1])
    assert len(audited_persons) == len(outcome.audit.targets)


def test_the_review_suggests_an_entity_for_a_repeating_id(panel, by_row, by_person):
    lines = by_row.review(panel)
    assert any("column 'person' is an identifier that repeats (200 values over 600 rows)" in line
               and "set `entity: person`" in line for line in lines), lines
    assert not any("`entity:" in line for line in by_person.review(panel))
    assert not any("`entity:" in line for line in by_row.review(panel.drop_duplicates("person")))
    # a constant column marked id (what the review advises for one) names no persons
    assert not any("`entity:" in line for line in by_row.review(panel.assign(person=7)))


def test_too_few_persons_is_an_error_before_any_training(tmp_path, panel, by_person):
    few = panel[panel["person"] < 1020]  # 20 persons: 16 left for training
    with pytest.raises(InputError, match="at least 20 persons in the training rows, got 16"):
        release(few, by_person, tmp_path / "rel", policy=LENIENT_POLICY, recipe=Memoriser(by_person),
                audit_options=SMALL_AUDIT)
    assert not (tmp_path / "rel").exists()
