"""Checkpoints: a fit keeps the weights of the epochs asked for, and the model of epoch e is the
model a fit of e epochs with the same seed gives (training never reads its total length)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from synthguard.errors import SynthguardError
from synthguard.synthesizer import Synthesizer
from tests.conftest import TINY


def _same_weights(a: Synthesizer, b: Synthesizer) -> bool:
    pairs = [*zip(a.gan_.generator.state_dict().values(), b.gan_.generator.state_dict().values(), strict=True),
             *zip(a.gan_.critic.state_dict().values(), b.gan_.critic.state_dict().values(), strict=True)]
    return all(torch.equal(x, y) for x, y in pairs)


@pytest.mark.parametrize("defense", ["mixup", "none"])
def test_the_model_at_a_checkpoint_is_the_shorter_fit(ofp_raw, ofp_schema, defense):
    long = Synthesizer(ofp_schema, defense=defense, seed=4, checkpoints=[2, 4], **{**TINY, "epochs": 6}).fit(ofp_raw)
    assert long.checkpoint_epochs == (2, 4, 6)
    for epoch in (2, 4):
        short = Synthesizer(ofp_schema, defense=defense, seed=4, **{**TINY, "epochs": epoch}).fit(ofp_raw)
        kept = long.at_epoch(epoch)
        assert _same_weights(kept, short)
        assert kept.get_params() == short.get_params()  # its recipe is the shorter fit's: epochs=e
        pd.testing.assert_frame_equal(kept.sample(100, seed=2), short.sample(100, seed=2))
    # the weights kept are copies: the final model differs from the one of epoch 4
    assert not _same_weights(long.at_epoch(4), long.at_epoch(6))
    assert _same_weights(long.at_epoch(6), long)


def test_checkpoints_are_checked_before_any_training(ofp_schema):
    with pytest.raises(SynthguardError, match="past the last epoch"):
        Synthesizer(ofp_schema, checkpoints=[2, 9], **{**TINY, "epochs": 6})
    with pytest.raises(SynthguardError, match="each checkpoint must be at least 1"):
        Synthesizer(ofp_schema, checkpoints=[0], **TINY)
    with pytest.raises(SynthguardError, match="list of epochs"):
        Synthesizer(ofp_schema, checkpoints="10,20", **TINY)
    assert Synthesizer(ofp_schema, checkpoints=[3, 1, 3], **TINY).checkpoints == (1, 3)


def test_an_epoch_not_kept_is_refused_by_name(ofp_raw, ofp_schema):
    model = Synthesizer(ofp_schema, seed=1, checkpoints=[1], **TINY).fit(ofp_raw)
    with pytest.raises(SynthguardError, match="no weights kept at epoch 2; this model kept epochs 1, 3"):
        model.at_epoch(2)


def test_an_audit_of_a_recipe_with_checkpoints_scores_each_on_the_same_shadows(ofp_raw, ofp_schema):
    from synthguard.audit import audit

    small = {"n_shadows": 4, "n_targets": 60, "workers": 1, "synthetic_rows": 500, "n_bootstrap": 50}
    recipe = {**TINY, "epochs": 4}
    curve = audit(ofp_raw, Synthesizer(ofp_schema, checkpoints=[2], **recipe), **small)
    plain = audit(ofp_raw, Synthesizer(ofp_schema, **recipe), **small)
    assert [epoch for epoch, _ in curve.curve()] == [2, 4]
    # the last epoch's audit is the audit of the recipe without checkpoints, to the bit
    assert set(curve.attacks) == set(plain.attacks)
    for name, attack in plain.attacks.items():
        np.testing.assert_array_equal(curve.attacks[name].scores, attack.scores)
    early = curve.checkpoints[2]
    assert early.recipe["epochs"] == 2 and (early.membership == curve.membership).all()
    assert not np.array_equal(early.attacks["lira"].scores, curve.attacks["lira"].scores)  # other weights
    # the short run's statistics are those of a 2-epoch recipe's audit
    short = audit(ofp_raw, Synthesizer(ofp_schema, **{**recipe, "epochs": 2}), **small)
    np.testing.assert_array_equal(early.attacks["lira"].scores, short.attacks["lira"].scores)
    written = curve.to_dict(include_scores=False)
    assert [c["epoch"] for c in written["curve"]] == [2, 4] and "lira" in written["curve"][0]["attacks"]
