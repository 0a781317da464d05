"""Conditional generator and critic MLPs, and the generator's output heads.

The generator's raw output is shaped by heads that follow the encoder's spans: tanh for scalars,
softmax (or Gumbel-softmax) for one-hot groups, sigmoid for binary units. At release time the
heads draw hard values instead: a category from the softmax, a 0/1 from the sigmoid.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..encoders.table import Span


class _Residual(nn.Module):
    """Linear -> BatchNorm -> ReLU, concatenated with its input (a dense block, as in CTGAN)."""

    def __init__(self, width_in: int, width_out: int) -> None:
        super().__init__()
        self.fc = nn.Linear(width_in, width_out)
        self.bn = nn.BatchNorm1d(width_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


class Generator(nn.Module):
    """G(z, c): noise and a condition vector to raw (pre-head) encoded rows."""

    def __init__(self, z_dim: int, cond_dim: int, data_dim: int, hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = z_dim + cond_dim
        for h in hidden:
            layers.append(_Residual(width, h))
            width += h
        layers.append(nn.Linear(width, data_dim))
        self.body = nn.Sequential(*layers)
        self.z_dim = z_dim

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([z, cond], dim=1))


class Critic(nn.Module):
    """D(x, c): an unbounded score per row. No batch norm: the gradient penalty is per sample."""

    def __init__(self, data_dim: int, cond_dim: int, hidden: Sequence[int] = (256, 256), dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = data_dim + cond_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([x, cond], dim=1)).squeeze(1)

    def input_gradient(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor | None:
        """dD(x, c)/dx per row, written out for this network and differentiable in its weights.

        For Linear and LeakyReLU layers the gradient is the product of the weights with the
        activations' slopes between them, back from the last layer. The slopes (1 above zero, the
        leak at or below, as torch's backward takes them) come from a forward pass without a graph:
        they are piecewise constant in the weights, so the penalty's gradient does not flow
        through them. Each is applied by torch's own LeakyReLU backward kernel, which reads the
        layer's input and scales the gradient in one pass: the same values and gradients as
        multiplying by a tensor of slopes, without making one (a MedExp critic step on two threads
        0.965x, benchmarks/critic_step.py). This is the gradient the gradient penalty needs, at
        first order: autograd's `create_graph` route reaches the same by a double backward through
        the forward pass, and a critic step costs 0.86-0.87x with this (benchmarks/critic_step.py).
        None where dropout is active, or where the body holds a layer this does not know: the
        penalty then takes autograd's route (with its own dropout draw)."""
        known = (nn.Linear, nn.LeakyReLU, nn.Dropout)
        if not all(isinstance(m, known) for m in self.body) or (
                self.training and any(isinstance(m, nn.Dropout) and m.p > 0 for m in self.body)):
            return None
        linears = [m for m in self.body if isinstance(m, nn.Linear)]
        # each LeakyReLU's input and its leak
        activations: list[tuple[torch.Tensor, float]] = []
        with torch.no_grad():
            h = torch.cat([x, cond], dim=1)
            for module in self.body[:-1]:
                if isinstance(module, nn.LeakyReLU):
                    activations.append((h, module.negative_slope))
                h = module(h)
        grad = linears[-1].weight.expand(len(x), -1)
        for k in range(len(linears) - 2, -1, -1):
            weight = linears[k].weight if k else linears[0].weight[:, :x.shape[1]]
            h, leak = activations[k]
            grad = torch.ops.aten.leaky_relu_backward(grad, h, leak, False) @ weight
        return grad


#: the logit that pads a narrower one-hot group to the grid's width: finite, so that no Gumbel draw
#: turns it into inf - inf, and low enough that its softmax weight is exactly 0 in float32
_PAD_LOGIT = -1e30
_TINY = torch.finfo(torch.float32).tiny


def gumbel_noise(like: torch.Tensor) -> torch.Tensor:
    """Standard Gumbel draws shaped like `like`: -log(-log(U)), U uniform on (0, 1). The same law
    as F.gumbel_softmax's -log(Exp(1)), at a sixth of the cost on the CPU (torch's exponential_
    draws one value at a time; its uniform draws are vectorised)."""
    noise = torch.rand_like(like).clamp_(min=_TINY)
    return noise.log_().neg_().log_().neg_()


class OutputHeads:
    """Applies each span's activation to raw generator output, in a fixed number of tensor
    operations whatever the table.

    Every one-hot group is gathered, with one index, into a grid of (rows, widest group, groups),
    narrower groups padded with a logit of -1e30 (weight 0 after the softmax); one softmax (or
    Gumbel-softmax, or draw) over the grid's middle axis does every group. Scalars and binary units
    are gathered the same way, and a last index puts every unit back at its encoded place. A loop
    over groups cost as much as the generator's own pass on OFP (docs/results.md, "The output
    heads"). Every gather is an `index_select` along the units: the same values and gradients as
    indexing with `[:, index]`, which torch runs as a general advanced index, several times slower
    on the CPU."""

    def __init__(self, spans: Sequence[Span]) -> None:
        width = max((s.start + s.width for s in spans), default=0)
        covered = sorted(i for s in spans for i in range(s.start, s.start + s.width))
        if covered != list(range(width)):
            raise ValueError("the output spans must cover every encoded unit exactly once")
        scalar = [s.start for s in spans if s.kind == "scalar"]
        binary = [s.start for s in spans if s.kind == "binary"]
        groups = [s for s in spans if s.kind == "onehot"]
        self.scalar = torch.tensor(scalar, dtype=torch.long)
        self.binary = torch.tensor(binary, dtype=torch.long)
        self.groups = len(groups)
        self.group_width = max((g.width for g in groups), default=0)
        # grid cell (j, k) is unit j of group k; column `width` of the padded raw output is the pad
        self.grid = torch.tensor([g.start + j if j < g.width else width for j in range(self.group_width)
                                  for g in groups], dtype=torch.long)
        # where each encoded unit sits in [scalars | binary units | grid]
        place = torch.empty(width, dtype=torch.long)
        place[self.scalar] = torch.arange(len(scalar))
        place[self.binary] = len(scalar) + torch.arange(len(binary))
        offset = len(scalar) + len(binary)
        for k, g in enumerate(groups):
            place[g.start:g.start + g.width] = offset + torch.arange(g.width) * self.groups + k
        self.place = place
        self._moved: dict[tuple[str, torch.device], torch.Tensor] = {}

    def _take(self, values: torch.Tensor, name: str) -> torch.Tensor:
        """The columns of `values` that the index `name` lists, by `index_select` (which takes
        its index on the device of its input: moved once per device)."""
        index: torch.Tensor = getattr(self, name)
        if index.device != values.device:
            key = (name, values.device)
            if key not in self._moved:
                self._moved[key] = index.to(values.device)
            index = self._moved[key]
        return values.index_select(1, index)

    def _binary(self, logits: torch.Tensor, mode: str, tau: float, generator: torch.Generator | None) -> torch.Tensor:
        """The binary units: their sigmoid, or a 0/1 draw from it in `hard` mode."""
        prob = torch.sigmoid(logits)
        if mode == "hard":
            prob = (torch.rand(prob.shape, generator=generator) < prob).to(logits.dtype)
        return prob

    def __call__(self, raw: torch.Tensor, mode: str = "softmax", tau: float = 0.2,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """mode: `softmax` (soft probabilities), `gumbel` (Gumbel-softmax at temperature tau) or
        `hard` (sampled one-hot and 0/1 values, for release)."""
        n = raw.shape[0]
        parts = []
        if len(self.scalar):
            parts.append(torch.tanh(self._take(raw, "scalar")))
        if len(self.binary):
            parts.append(self._binary(self._take(raw, "binary"), mode, tau, generator))
        if self.groups:
            padded = F.pad(raw, (0, 1), value=_PAD_LOGIT)
            logits = self._take(padded, "grid").reshape(n, self.group_width, self.groups)
            if mode == "gumbel":
                probs = torch.softmax((logits + gumbel_noise(logits)) / tau, dim=1)
            elif mode == "hard":
                flat = torch.softmax(logits, dim=1).transpose(1, 2).reshape(-1, self.group_width)
                pick = torch.multinomial(flat, 1, generator=generator).reshape(n, self.groups)
                probs = F.one_hot(pick, self.group_width).to(raw.dtype).transpose(1, 2)
            else:
                probs = torch.softmax(logits, dim=1)
            parts.append(probs.reshape(n, -1))
        if not parts:
            return raw.clone()
        return self._take(torch.cat(parts, dim=1), "place")


class ColumnClassifier(nn.Module):
    """Predicts one discrete part of an encoded row from the rest of the row and its condition.

    The parts it predicts: every one-hot group (a categorical column, or the mode of a continuous
    column, whose scalar half stays visible), every binary unit, and the condition's one-hot.
    Each row names the part to predict (`pick`, an index into the `parts`, in span order
    and the condition last); that part's units are zeroed in the input and its index appended
    one-hot, so one network serves every part. The loss is cross-entropy against the row's own
    values of the part, which may be soft (a mixed real row, a generator's softmax): over the
    group's units for a one-hot group, binary for a unit. One is trained on the critic's real rows
    and one on the generator's; together they tell the generator how far each of its rows'
    discrete values follows the rest of the row otherwise than the real rows' do
    (`TrainConfig.classifier_weight`, `trainer.column_divergence`).

    Which parts, from a screen of the generator term's first form (the real rows' classifier's
    loss alone; MedExp, 300 epochs, seeds 0-3, benchmarks/short_fits.py): the categorical and
    boolean columns alone, the condition an input, gave `physlim` a TSTR AUC of 0.650 and
    `health` 0.682; every group and unit with the condition predicted too, 0.712 and 0.713; the
    same hiding a continuous column's scalar half with its mode, 0.697 and 0.700."""

    units: torch.Tensor       # (parts, row width + condition width): each part's units
    is_binary: torch.Tensor   # (parts,): whether a part is a binary unit

    @staticmethod
    def parts_of(spans: Sequence[Span], cond_dim: int) -> list[tuple[int, int, str]]:
        """The parts a classifier of these spans and this condition predicts: (start, width, kind)."""
        width = max((s.start + s.width for s in spans), default=0)
        parts = [(s.start, s.width, s.kind) for s in spans if s.kind in ("onehot", "binary")]
        return parts + [(width, cond_dim, "onehot")] if cond_dim else parts

    def __init__(self, spans: Sequence[Span], cond_dim: int = 0, hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        width = max((s.start + s.width for s in spans), default=0)
        parts = self.parts_of(spans, cond_dim)
        if not parts:
            raise ValueError("a column classifier needs a one-hot group, a binary unit or a condition to predict")
        units = torch.zeros(len(parts), width + cond_dim)
        for k, (start, size, _) in enumerate(parts):
            units[k, start:start + size] = 1.0
        self.register_buffer("units", units)
        self.register_buffer("is_binary", torch.tensor([kind == "binary" for _, _, kind in parts]))
        self.parts = len(parts)
        layers: list[nn.Module] = []
        size = width + cond_dim + len(parts)
        for h in hidden:
            layers += [nn.Linear(size, h), nn.LeakyReLU(0.2)]
            size = h
        layers.append(nn.Linear(size, width + cond_dim))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, pick: torch.Tensor) -> torch.Tensor:
        """Per-row loss of predicting part `pick[i]` of row `x[i]` with condition `cond[i]` from
        the rest of both."""
        row = torch.cat([x, cond], dim=1)
        mask = self.units.index_select(0, pick)
        logits = self.body(torch.cat([row * (1 - mask), F.one_hot(pick, self.parts).to(x.dtype)], dim=1))
        # a one-hot group: softmax over its own units (the rest pushed to weight 0)
        log_probs = torch.log_softmax(logits.masked_fill(mask == 0, _PAD_LOGIT), dim=1)
        group = -(row * mask * log_probs).sum(dim=1)
        # a binary unit: its logit against its value
        unit = F.binary_cross_entropy_with_logits((logits * mask).sum(dim=1), (row * mask).sum(dim=1),
                                                  reduction="none")
        return torch.where(self.is_binary.index_select(0, pick), unit, group)
