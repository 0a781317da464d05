"""The gradient penalty with the critic's input gradient written out is the penalty autograd's
double backward gives: the same value and the same gradients for every weight."""

from __future__ import annotations

import pytest
import torch

from synthguard.gan.networks import Critic
from synthguard.gan.trainer import gradient_penalty


def autograd_penalty(critic: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, cond: torch.Tensor
                     ) -> torch.Tensor:
    eps = torch.rand(len(real), 1)
    x_hat = (real + eps * (fake - real)).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat, cond).sum(), x_hat, create_graph=True)
    return ((grad.norm(2, dim=1) - 1) ** 2).mean()


def weight_gradients(critic: torch.nn.Module, penalty: torch.Tensor) -> list[torch.Tensor]:
    grads = torch.autograd.grad(penalty, list(critic.parameters()), allow_unused=True)
    # the biases only move the activations' slopes, which are piecewise constant: no gradient
    return [torch.zeros_like(p) if g is None else g for p, g in zip(critic.parameters(), grads, strict=True)]


@pytest.mark.parametrize(("dims", "dropout", "train"), [((256, 256), 0.0, True), ((64, 32, 16), 0.0, True),
                                                        ((64, 64), 0.5, False)])
def test_the_written_out_penalty_is_autograds(dims: tuple[int, ...], dropout: float, train: bool) -> None:
    torch.manual_seed(0)
    critic = Critic(40, 3, dims, dropout).train(train)
    real, fake, cond = torch.rand(128, 40), torch.rand(128, 40), torch.eye(3)[torch.randint(0, 3, (128,))]
    x = torch.rand(128, 40)
    torch.testing.assert_close(critic.input_gradient(x, cond),
                               torch.autograd.grad(critic(x.requires_grad_(True), cond).sum(), x)[0])
    torch.manual_seed(1)
    shipped = gradient_penalty(critic, real, fake, cond)
    torch.manual_seed(1)
    reference = autograd_penalty(critic, real, fake, cond)
    torch.testing.assert_close(shipped, reference)
    for got, want in zip(weight_gradients(critic, shipped), weight_gradients(critic, reference), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("leak", [0.0, 0.5, -0.3])
def test_the_written_out_gradient_follows_each_layers_leak(leak: float) -> None:
    """The slopes come from each LeakyReLU's own input and leak: one of 0 (a ReLU) or below 0,
    whose output's sign is not its input's, gives autograd's gradient too."""
    torch.manual_seed(0)
    critic = Critic(12, 2, (32, 16))
    for k, module in enumerate(critic.body):
        if isinstance(module, torch.nn.LeakyReLU):
            critic.body[k] = torch.nn.LeakyReLU(leak)
    x, cond = torch.randn(64, 12), torch.eye(2)[torch.randint(0, 2, (64,))]
    torch.testing.assert_close(critic.input_gradient(x, cond),
                               torch.autograd.grad(critic(x.requires_grad_(True), cond).sum(), x)[0])


@pytest.mark.parametrize("case", ["active dropout", "a layer it does not know"])
def test_other_critics_take_autograds_route(case: str) -> None:
    """Active dropout draws its own mask, and an activation other than LeakyReLU has other slopes:
    neither is written out, and the penalty is autograd's."""
    torch.manual_seed(0)
    critic = Critic(10, 2, (32, 32), dropout=0.3 if case == "active dropout" else 0.0).train()
    if case != "active dropout":
        critic.body[1] = torch.nn.Tanh()
    real, fake, cond = torch.rand(64, 10), torch.rand(64, 10), torch.eye(2)[torch.randint(0, 2, (64,))]
    assert critic.input_gradient(real, cond) is None
    torch.manual_seed(1)
    shipped = gradient_penalty(critic, real, fake, cond)
    torch.manual_seed(1)
    torch.testing.assert_close(shipped, autograd_penalty(critic, real, fake, cond))


def test_a_scaled_penalty_takes_the_norm_of_the_gradient_over_the_scale() -> None:
    """`scale` stretches units: the norm is of grad / scale (autograd's gradient, divided by hand),
    a scale of ones is the plain penalty to the bit, and stretching some units changes the value."""
    torch.manual_seed(0)
    critic = Critic(8, 2, (16, 16))
    real, fake, cond = torch.rand(32, 8), torch.rand(32, 8), torch.eye(2)[torch.randint(0, 2, (32,))]
    scale = torch.tensor([1.0, 1.0, 1.0, 1.0, 4.0, 4.0, 8.0, 8.0])
    torch.manual_seed(1)
    eps = torch.rand(len(real), 1)
    x_hat = (real + eps * (fake - real)).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat, cond).sum(), x_hat)
    expected = (((grad / scale).norm(2, dim=1) - 1) ** 2).mean()
    torch.manual_seed(1)
    scaled = gradient_penalty(critic, real, fake, cond, scale=scale)
    torch.testing.assert_close(scaled, expected)
    torch.manual_seed(1)
    plain = gradient_penalty(critic, real, fake, cond)
    torch.manual_seed(1)
    assert torch.equal(gradient_penalty(critic, real, fake, cond, scale=torch.ones(8)), plain)
    assert not torch.isclose(scaled, plain)
