"""Convolutional conditional generator and critic for images, sized from the image schema.

Both take and return FLAT rows, as the trainer and the audit expect: a row is an image's pixel
values in row-major (height, width, channel) order, the layout of `synthguard.images`. They reshape
inside. The layout follows Ji et al.'s conv WGAN (INFOCOM 2023; official code ji-zhe/MixupTraining,
models.py), scaled to the image size:

* generator: concat(z, c) -> Linear -> BatchNorm -> ReLU -> a 4x4 map -> a 3x3 conv (BatchNorm,
  ReLU), then one transposed-conv stage per doubling (ConvT 4x4 stride 2, BatchNorm, ReLU) up to the
  next power of two at or above the image's side (8 -> 1 stage, 16 -> 2, 32 -> 3, 64 -> 4); the
  last stage outputs the image's channels raw (the trainer's heads apply tanh). Sides that are not
  powers of two (28, say) are generated at the next power of two and resized (bilinear,
  antialiased) down.
* critic: the label broadcast as constant extra input channels; strided 4x4 convs halve the
  resolution down to 4x4 (the first without normalisation), then a 3x3 conv at 4x4 and a linear map
  to a scalar; LeakyReLU(0.2) throughout, and layer normalisation (GroupNorm with one group: per
  sample, so the gradient penalty stays per sample; never batch norm). Inputs whose side is not a
  power of two are resized up to one first.

Channel counts: `width` channels one stage below full resolution, doubling per halving of the
resolution up to 8 x width (Ji's 64x64 networks are width 64: 512 channels at 4x4). Work at full
resolution is kept to one stride-2 layer on each side: on CPU it dominates the cost (a 3x3 conv
at full resolution measured twice as slow for 8x8), and more so in the critic, whose gradient
penalty differentiates it twice. The default width
depends on the image's side (`default_width`); a TrainConfig whose `generator_dims` /
`critic_dims` differ from the table default sets it instead (their first entry).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..schema import ImageShape
from .trainer import NetworkFactory, TrainConfig

_TABLE_DEFAULTS = TrainConfig()  # a config that keeps its table widths asks for the image default
_MAX_MULTIPLIER = 8


def default_width(height: int, width: int) -> int:
    """Channels one stage below full resolution: small for small images so that CPU training stays
    quick (8x8 digits: about 0.05 s per critic step of 64 images on one thread)."""
    side = max(height, width)
    return 32 if side <= 16 else 64


def _canvas(shape: ImageShape) -> tuple[int, int]:
    """(side of the square the networks work at, number of doublings from 4x4 to it)."""
    side = max(8, 2 ** math.ceil(math.log2(max(shape.height, shape.width))))
    return side, int(math.log2(side)) - 2


def _channels(width: int, stages: int, level: int) -> int:
    """Channels at `level` doublings above 4x4 (level < stages; full resolution is level == stages)."""
    return width * 2 ** min(stages - 1 - level, int(math.log2(_MAX_MULTIPLIER)))


class ConvGenerator(nn.Module):
    """G(z, c) -> flat raw pixel rows (n, H*W*C), before the tanh head."""

    def __init__(self, z_dim: int, cond_dim: int, shape: ImageShape, width: int) -> None:
        super().__init__()
        self.shape, self.z_dim = shape, z_dim
        self.side, stages = _canvas(shape)
        self.first = _channels(width, stages, 0)
        self.project = nn.Sequential(nn.Linear(z_dim + cond_dim, self.first * 16, bias=False),
                                     nn.BatchNorm1d(self.first * 16), nn.ReLU())
        blocks: list[nn.Module] = [nn.Conv2d(self.first, self.first, 3, padding=1, bias=False),
                                   nn.BatchNorm2d(self.first), nn.ReLU()]
        for level in range(1, stages):
            c_in, c_out = _channels(width, stages, level - 1), _channels(width, stages, level)
            blocks += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU()]
        blocks.append(nn.ConvTranspose2d(_channels(width, stages, stages - 1), shape.channels, 4, stride=2, padding=1))
        self.body = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.project(torch.cat([z, cond], dim=1)).view(-1, self.first, 4, 4)
        image = self.body(h)
        if (self.shape.height, self.shape.width) != (self.side, self.side):
            image = F.interpolate(image, size=(self.shape.height, self.shape.width), mode="bilinear",
                                  align_corners=False, antialias=True)
        return image.permute(0, 2, 3, 1).reshape(len(image), -1)  # NCHW -> rows in (H, W, C) order


class ConvCritic(nn.Module):
    """D(x, c) on flat pixel rows: an unbounded score per row. No batch norm (WGAN-GP)."""

    def __init__(self, cond_dim: int, shape: ImageShape, width: int) -> None:
        super().__init__()
        self.shape = shape
        self.side, stages = _canvas(shape)
        top = _channels(width, stages, stages - 1)
        layers: list[nn.Module] = [nn.Conv2d(shape.channels + cond_dim, top, 4, stride=2, padding=1),
                                   nn.LeakyReLU(0.2)]
        for level in range(stages - 1, 0, -1):
            c_in, c_out = _channels(width, stages, level), _channels(width, stages, level - 1)
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.GroupNorm(1, c_out), nn.LeakyReLU(0.2)]
        last = _channels(width, stages, 0)
        layers += [nn.Conv2d(last, last, 3, padding=1), nn.GroupNorm(1, last), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(last * 16, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        s = self.shape
        image = x.reshape(-1, s.height, s.width, s.channels).permute(0, 3, 1, 2)
        if (s.height, s.width) != (self.side, self.side):
            image = F.interpolate(image, size=(self.side, self.side), mode="bilinear", align_corners=False)
        # the label (one-hot, or mixed by the defence) as constant feature maps
        label = cond[:, :, None, None].expand(-1, -1, self.side, self.side)
        h = self.body(torch.cat([image, label], dim=1))
        return self.out(h.flatten(1)).squeeze(1)


def _width_from(dims: tuple[int, ...], table_default: tuple[int, ...], fallback: int) -> int:
    return fallback if tuple(dims) == tuple(table_default) or not dims else int(dims[0])


def image_networks(height: int, width: int, channels: int, generator_width: int | None = None,
                   critic_width: int | None = None) -> NetworkFactory:
    """A `train_gan` network factory for images of this size.

    Widths: the arguments if given, else the config's `generator_dims[0]` / `critic_dims[0]` when
    those differ from the table default, else `default_width(height, width)`."""
    shape = ImageShape(height, width, channels)

    def factory(data_dim: int, cond_dim: int, config: TrainConfig) -> tuple[ConvGenerator, ConvCritic]:
        if data_dim != shape.n_pixels:
            raise ValueError(f"a {height}x{width}x{channels} image has {shape.n_pixels} values, not {data_dim}")
        fallback = default_width(height, width)
        g_width = generator_width or _width_from(config.generator_dims, _TABLE_DEFAULTS.generator_dims, fallback)
        d_width = critic_width or _width_from(config.critic_dims, _TABLE_DEFAULTS.critic_dims, fallback)
        return ConvGenerator(config.z_dim, cond_dim, shape, g_width), ConvCritic(cond_dim, shape, d_width)

    return factory


__all__ = ["ConvGenerator", "ConvCritic", "default_width", "image_networks"]
