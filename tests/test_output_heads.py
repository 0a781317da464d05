"""The generator's output heads: one padded grid for every one-hot group computes what a loop over
the encoder's spans computes, and draws from the laws it should."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from synthguard.encoders.table import Span
from synthguard.gan.networks import OutputHeads, gumbel_noise

#: scalars, binary units and one-hot groups of four widths, interleaved as an encoder lays them out
SPANS = [Span(0, 1, "scalar", "a"), Span(1, 3, "onehot", "b"), Span(4, 1, "binary", "c"), Span(5, 5, "onehot", "d"),
         Span(10, 1, "scalar", "e"), Span(11, 2, "onehot", "f"), Span(13, 3, "onehot", "g"), Span(16, 1, "binary", "h"),
         Span(17, 7, "onehot", "i")]
WIDTH = 24


def per_span(raw: torch.Tensor) -> torch.Tensor:
    """The heads written span by span: tanh, sigmoid, softmax over each group."""
    out = []
    for s in SPANS:
        block = raw[:, s.start:s.start + s.width]
        out.append({"scalar": torch.tanh, "binary": torch.sigmoid}.get(s.kind, lambda b: torch.softmax(b, dim=1))(block))
    return torch.cat(out, dim=1)


def test_the_grid_heads_are_the_per_span_heads_with_their_gradients() -> None:
    heads = OutputHeads(SPANS)
    raw = (torch.randn(64, WIDTH, generator=torch.Generator().manual_seed(0)) * 4).requires_grad_(True)
    weights = torch.randn(64, WIDTH, generator=torch.Generator().manual_seed(1))
    got = heads(raw)
    (got_grad,) = torch.autograd.grad((got * weights).sum(), raw)
    want = per_span(raw)
    (want_grad,) = torch.autograd.grad((want * weights).sum(), raw)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got_grad, want_grad)


def test_gumbel_noise_is_standard_gumbel() -> None:
    torch.manual_seed(0)
    draws = gumbel_noise(torch.empty(200_000)).numpy()
    assert np.isfinite(draws).all()
    assert stats.kstest(draws, stats.gumbel_r.cdf).pvalue > 0.001
    # a KS test sees little of the tails: the mean and variance are Euler's constant and pi^2 / 6
    assert abs(draws.mean() - np.euler_gamma) < 0.01
    assert abs(draws.var() - np.pi ** 2 / 6) < 0.03


def chi_square_p(picks: np.ndarray, probs: np.ndarray) -> float:
    counts = np.bincount(picks, minlength=len(probs))
    return float(stats.chisquare(counts, probs * len(picks)).pvalue)


@pytest.mark.parametrize("mode", ["gumbel", "hard"])
def test_every_group_draws_its_softmax_law_and_pads_get_nothing(mode: str) -> None:
    """Hard draws pick a category with its softmax probability; near tau = 0 the Gumbel-softmax's
    largest unit does too (the Gumbel-max law). Every group's units sum to 1, so the padding of the
    narrower groups carries no weight."""
    heads = OutputHeads(SPANS)
    n = 20_000
    logits = torch.randn(1, WIDTH, generator=torch.Generator().manual_seed(2)) * 1.5
    raw = logits.repeat(n, 1)
    torch.manual_seed(3)
    out = heads(raw, mode, tau=0.05, generator=torch.Generator().manual_seed(4))
    for s in SPANS:
        block = out[:, s.start:s.start + s.width]
        if s.kind == "onehot":
            torch.testing.assert_close(block.sum(dim=1), torch.ones(n))
            probs = torch.softmax(logits[0, s.start:s.start + s.width], dim=0).double().numpy()
            assert chi_square_p(block.argmax(dim=1).numpy(), probs / probs.sum()) > 0.001, s.column
        elif s.kind == "binary" and mode == "hard":
            assert set(block.unique().tolist()) <= {0.0, 1.0}
            p = float(torch.sigmoid(logits[0, s.start]))
            assert stats.binomtest(int(block.sum()), n, p).pvalue > 0.001, s.column
    if mode == "hard":
        assert set(out[:, [u for s in SPANS if s.kind == "onehot" for u in range(s.start, s.start + s.width)]]
                   .unique().tolist()) == {0.0, 1.0}


def test_hard_draws_follow_the_generator_seed() -> None:
    heads = OutputHeads(SPANS)
    raw = torch.randn(100, WIDTH, generator=torch.Generator().manual_seed(5))
    first, again = (heads(raw, "hard", generator=torch.Generator().manual_seed(6)) for _ in range(2))
    other = heads(raw, "hard", generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(first, again)
    assert not torch.equal(first, other)


def test_spans_that_leave_a_unit_out_are_refused() -> None:
    with pytest.raises(ValueError, match="cover every encoded unit"):
        OutputHeads([Span(0, 1, "scalar", "a"), Span(2, 2, "onehot", "b")])
