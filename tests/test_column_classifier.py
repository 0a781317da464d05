"""The column classifier behind `TrainConfig.classifier_weight`: what it predicts from what, the
loss it returns, that it learns a link the rows hold, and what it does to a fit."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from synthguard.encoders.table import Span
from synthguard.gan.defenses import DEFENSES
from synthguard.gan.networks import ColumnClassifier
from synthguard.gan.trainer import column_divergence
from synthguard.synthesizer import Synthesizer

from .conftest import TINY

# a scalar at 0, a one-hot group of three at 1-3, a binary unit at 4; and a condition of two values
SPANS = [Span(0, 1, "scalar", "s"), Span(1, 3, "onehot", "g"), Span(4, 1, "binary", "b")]
COND = torch.tensor([[1.0, 0.0], [0.3, 0.7], [0.0, 1.0]])


def captured_logits(classifier: ColumnClassifier) -> list[torch.Tensor]:
    """The raw logits of every later call, caught at the network's output."""
    caught: list[torch.Tensor] = []
    classifier.body.register_forward_hook(lambda _m, _i, out: caught.append(out.detach()))
    return caught


def rows() -> torch.Tensor:
    return torch.tensor([[0.3, 0.0, 1.0, 0.0, 1.0],
                         [-0.8, 0.2, 0.5, 0.3, 0.4],     # soft values, as mixed or generated rows have
                         [0.1, 1.0, 0.0, 0.0, 0.0]])


def test_a_group_is_scored_by_cross_entropy_over_its_units_and_a_unit_by_binary_cross_entropy() -> None:
    torch.manual_seed(0)
    classifier = ColumnClassifier(SPANS, 2, (8,))
    logits = captured_logits(classifier)
    x = rows()
    # part 0 is the group, part 1 the binary unit, part 2 the condition
    loss = classifier(x, COND, torch.tensor([0, 1, 2]))
    expected_group = -(x[0, 1:4] * torch.log_softmax(logits[0][0, 1:4], dim=0)).sum()
    expected_unit = F.binary_cross_entropy_with_logits(logits[0][1, 4], x[1, 4])
    expected_condition = -(COND[2] * torch.log_softmax(logits[0][2, 5:7], dim=0)).sum()
    assert torch.allclose(loss, torch.stack([expected_group, expected_unit, expected_condition]), atol=1e-6)


def test_its_parts_are_every_group_and_unit_and_the_condition_last() -> None:
    classifier = ColumnClassifier(SPANS, 2, (8,))
    assert classifier.parts == 3
    assert classifier.units.tolist() == [[0, 1, 1, 1, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 1, 1]]
    assert classifier.is_binary.tolist() == [False, True, False]
    assert ColumnClassifier(SPANS, 0, (8,)).parts == 2      # no condition, nothing to predict of it


def test_the_picked_column_is_hidden_from_the_prediction_and_only_its_target_changes() -> None:
    torch.manual_seed(0)
    classifier = ColumnClassifier(SPANS, 2, (8,))
    logits = captured_logits(classifier)
    x = rows()
    pick = torch.tensor([0, 1, 2])
    changed, cond = x.clone(), COND.clone()
    changed[0, 1:4] = torch.tensor([0.0, 0.0, 1.0])   # row 0's group now says its third value
    changed[1, 4] = 1.0 - x[1, 4]                      # row 1's unit flips
    cond[2] = torch.tensor([1.0, 0.0])                 # row 2's condition flips
    before, after = classifier(x, COND, pick), classifier(changed, cond, pick)
    # the picked part never reaches the network: the same logits for both inputs
    assert torch.equal(logits[0], logits[1])
    assert torch.allclose(after[0], -torch.log_softmax(logits[0][0, 1:4], dim=0)[2])
    assert torch.allclose(after[2], -torch.log_softmax(logits[0][2, 5:7], dim=0)[0])
    assert (before != after).all()
    # a part that is not picked is an input: the scalar, and the condition when another part is
    other = x.clone()
    other[:, 0] += 1.0
    classifier(other, COND, pick)
    classifier(x, COND.flip(1), torch.tensor([0, 1, 0]))
    classifier(x, COND, torch.tensor([0, 1, 0]))
    assert not torch.equal(logits[0], logits[2])
    assert not torch.equal(logits[3][[0, 1]], logits[4][[0, 1]])


def test_it_learns_a_link_the_rows_hold() -> None:
    torch.manual_seed(0)
    classifier = ColumnClassifier(SPANS, 0, (16,))
    optimizer = torch.optim.Adam(classifier.parameters(), lr=1e-2)
    n = 256
    s = torch.rand(n) * 2 - 1
    group = F.one_hot((s > 0).long() + (s > 0.5).long(), 3).float()   # three bands of s
    b = (s < -0.3).float()
    x = torch.cat([s[:, None], group, b[:, None]], dim=1)
    picks = torch.tensor([0, 1])
    for _ in range(300):
        loss = classifier(x.repeat(2, 1), torch.empty(2 * n, 0), picks.repeat_interleave(n)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        group_loss = classifier(x, torch.empty(n, 0), torch.zeros(n, dtype=torch.long)).mean().item()
        unit_loss = classifier(x, torch.empty(n, 0), torch.ones(n, dtype=torch.long)).mean().item()
    # far below what the marginals alone give (log 3, and 0.65 nats for a unit that is 1 in 35% of rows)
    assert group_loss < 0.2 * math.log(3)
    assert unit_loss < 0.2 * 0.65


def test_a_table_of_scalars_without_a_condition_has_nothing_to_classify() -> None:
    with pytest.raises(ValueError, match="or a condition to predict"):
        ColumnClassifier([Span(0, 1, "scalar", "s")], 0)
    assert ColumnClassifier([Span(0, 1, "scalar", "s")], 2).parts == 1


def test_the_generators_term_vanishes_where_its_classifier_agrees_with_the_real_rows_one() -> None:
    torch.manual_seed(0)
    real_rows = ColumnClassifier(SPANS, 2, (8,))
    fake_rows = ColumnClassifier(SPANS, 2, (8,))
    fake_rows.load_state_dict(real_rows.state_dict())
    x = rows().requires_grad_(True)
    term = column_divergence(real_rows, fake_rows, x, COND)
    term.backward()
    # the same conditional on both sides: no divergence and no push on the generator's rows
    assert term.item() == 0.0 and torch.count_nonzero(x.grad) == 0
    # the real rows' loss alone would still push them (towards rows easier to predict)
    x.grad = None
    torch.manual_seed(1)
    real_rows(x, COND, torch.randint(3, (3,))).mean().backward()
    assert torch.count_nonzero(x.grad) > 0
    # and a classifier that differs gives a term that moves them
    with torch.no_grad():
        fake_rows.body[-1].bias.add_(0.5)
    x.grad = None
    column_divergence(real_rows, fake_rows, x, COND).backward()
    assert torch.count_nonzero(x.grad) > 0


def test_a_fit_with_the_classifiers_differs_and_holds_the_same_networks(ofp_schema, ofp_raw) -> None:
    rows = ofp_raw.iloc[:300]
    settings = {**TINY, "n_critic": 1}   # a generator step after every critic step
    plain = Synthesizer(ofp_schema, seed=3, **settings).fit(rows)
    weighted = Synthesizer(ofp_schema, seed=3, **{**settings, "classifier_weight": 1.0}).fit(rows)
    assert weighted.config.classifier_weight == 1.0
    assert not weighted.sample(50, seed=1).equals(plain.sample(50, seed=1))
    losses = [h["loss_g"] for h in weighted.gan_.history if h["loss_g"] is not None]
    assert len(losses) == TINY["epochs"] and all(math.isfinite(v) for v in losses)
    # the classifiers are training-time only: the fitted model holds the same networks
    assert weighted.gan_.generator.state_dict().keys() == plain.gan_.generator.state_dict().keys()
    assert weighted.gan_.critic.state_dict().keys() == plain.gan_.critic.state_dict().keys()


@pytest.mark.parametrize("defense", sorted(DEFENSES))
def test_the_term_trains_beside_every_registered_defence(ofp_schema, ofp_raw, defense: str) -> None:
    # PAR-GAN's critics each bring their own real batch; the classifiers read them together
    settings = {**TINY, "n_critic": 1, "classifier_weight": 1.0}
    model = Synthesizer(ofp_schema, defense=defense, seed=0, **settings).fit(ofp_raw.iloc[:300])
    assert len(model.gan_.history) == TINY["epochs"]
    assert len(model.sample(20, seed=0)) == 20
