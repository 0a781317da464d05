"""Conditional generator and critic MLPs, and the generator's output heads.

The generator's raw output is shaped by heads that follow the encoder's spans: tanh for scalars,
softmax (or Gumbel-softmax) for one-hot groups, sigmoid for binary units. At release time the
heads draw hard values instead: a category from the softmax, a 0/1 from the sigmoid.
"""

from __future__ import annotations

from collections import defaultdict
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


class OutputHeads:
    """Applies each span's activation to raw generator output, vectorised per kind.

    One-hot groups of equal width are gathered into one (n, groups, width) tensor so that a table
    with many categorical columns costs one softmax per distinct width, not one per column.
    """

    def __init__(self, spans: Sequence[Span]) -> None:
        self.scalar = torch.tensor([s.start for s in spans if s.kind == "scalar"], dtype=torch.long)
        self.binary = torch.tensor([s.start for s in spans if s.kind == "binary"], dtype=torch.long)
        groups: dict[int, list[list[int]]] = defaultdict(list)
        for s in spans:
            if s.kind == "onehot":
                groups[s.width].append(list(range(s.start, s.start + s.width)))
        self.onehot = [torch.tensor(idx, dtype=torch.long) for idx in groups.values()]

    def __call__(self, raw: torch.Tensor, mode: str = "softmax", tau: float = 0.2,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """mode: `softmax` (soft probabilities), `gumbel` (Gumbel-softmax at temperature tau) or
        `hard` (sampled one-hot and 0/1 values, for release)."""
        out = torch.empty_like(raw)
        if len(self.scalar):
            out[:, self.scalar] = torch.tanh(raw[:, self.scalar])
        if len(self.binary):
            prob = torch.sigmoid(raw[:, self.binary])
            if mode == "hard":
                prob = (torch.rand(prob.shape, generator=generator) < prob).to(raw.dtype)
            out[:, self.binary] = prob
        for idx in self.onehot:
            logits = raw[:, idx]
            if mode == "gumbel":
                out[:, idx] = F.gumbel_softmax(logits, tau=tau, hard=False, dim=-1)
            elif mode == "hard":
                probs = torch.softmax(logits, dim=-1).reshape(-1, idx.shape[-1])
                pick = torch.multinomial(probs, 1, generator=generator).reshape(logits.shape[:-1])
                out[:, idx] = F.one_hot(pick, idx.shape[-1]).to(raw.dtype)
            else:
                out[:, idx] = torch.softmax(logits, dim=-1)
        return out
