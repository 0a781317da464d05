"""Utility of synthetic images: downstream accuracy and a Frechet distance between features.

* Downstream (train on synthetic, test on real): a small CNN trained on the synthetic images and
  one trained on the real training images, both tested on the real holdout images.
* Frechet distance between the feature distributions (Gaussians fitted to features) of holdout and
  synthetic images, with train vs holdout as the floor that two real samples reach. Features come
  from torchvision's Inception v3 (pool3, 2048-d, as FID uses) when the user has its weights as a
  local state-dict file (nothing is downloaded), else from the penultimate layer of the CNN trained
  on the real training images. The result names the extractor used: distances from different
  extractors are not comparable.

Everything is seeded: the same frames and seed give the same numbers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import InputError
from ..gan.trainer import seeded_torch
from ..images import frame_to_images
from ..schema import Schema

CLASSIFIER_FEATURES = "classifier trained on the real data"
_FEATURE_DIM = 128
_INCEPTION_SIDE = 299
_BATCH = 64
_MIN_STEPS = 300


class SmallCNN(nn.Module):
    """A small classifier: 3x3 convs, stride-2 convs down to 4x4 or less, then two linear layers;
    `features` is the penultimate layer (what the Frechet distance compares without Inception)."""

    def __init__(self, channels: int, n_classes: int, side: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU()]
        width = 32
        while side > 4:
            out = min(2 * width, 128)
            layers += [nn.Conv2d(width, out, 3, stride=2, padding=1), nn.ReLU()]
            width, side = out, math.ceil(side / 2)
        layers += [nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(width * 4, _FEATURE_DIM), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(_FEATURE_DIM, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


# ---- inputs ------------------------------------------------------------------------------------
def _tensors(frame: pd.DataFrame, schema: Schema, classes: dict[str, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Images as NCHW in [-1, 1] (the GAN's range) and class indices (-1: a label not in `classes`)."""
    images, labels = frame_to_images(frame, schema)
    x = torch.as_tensor(images).permute(0, 3, 1, 2).contiguous() * 2 - 1
    y = torch.as_tensor([classes.get(str(v), -1) for v in labels], dtype=torch.long)
    return x, y


def _class_index(schema: Schema, *frames: pd.DataFrame) -> dict[str, int]:
    declared = schema.column(schema.condition).categories if schema.condition else None
    labels = [str(c) for c in declared] if declared else []
    for frame in frames:
        labels += [str(v) for v in pd.unique(frame[schema.condition]) if str(v) not in labels]
    return {label: i for i, label in enumerate(labels)}


# ---- the classifier ------------------------------------------------------------------------------
def train_classifier(x: torch.Tensor, y: torch.Tensor, n_classes: int, seed: int = 0, epochs: int = 15,
                     lr: float = 1e-3, min_steps: int = _MIN_STEPS) -> SmallCNN:
    """Train a SmallCNN on NCHW images and class indices (rows with index -1 are skipped) for
    `epochs` passes, or more passes until it has taken `min_steps` steps (small sets need them)."""
    keep = y >= 0
    x, y = x[keep], y[keep]
    if len(x) == 0:
        raise ValueError("no labelled images to train the classifier on")
    with seeded_torch(seed):
        model = SmallCNN(x.shape[1], n_classes, max(x.shape[2], x.shape[3]))
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        per_epoch = math.ceil(len(x) / _BATCH)
        for _ in range(max(epochs, math.ceil(min_steps / per_epoch))):
            order = torch.randperm(len(x))
            for start in range(0, len(x), _BATCH):
                idx = order[start:start + _BATCH]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    model.eval()
    return model


def _batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([fn(x[i:i + batch]) for i in range(0, len(x), batch)]) if len(x) else torch.zeros(0)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    pred = _batched(model, x).argmax(dim=1)
    return float((pred == y).float().mean()) if len(y) else float("nan")


# ---- Inception v3 from a local file ----------------------------------------------------------------
def load_state_dict_file(model: nn.Module, path: str | Path) -> nn.Module:
    """Load a local state-dict file into `model` (strictly, without running code from the file:
    `torch.load(weights_only=True)`); a missing or mismatched file is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many kinds for a file that is not a state dict
        raise InputError(f"{path}: not a readable PyTorch state dict ({type(err).__name__})") from None
    if not isinstance(state, dict):
        raise InputError(f"{path}: holds a {type(state).__name__}, not a state dict")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[1].strip() if len(str(err).splitlines()) > 1 else str(err)
        raise InputError(f"{path}: the weights do not fit {type(model).__name__} ({first})") from None
    return model.eval()


def inception_extractor(path: str | Path) -> Callable[[torch.Tensor], torch.Tensor]:
    """Pool3 (2048-d) features of torchvision's Inception v3 with weights from a local file.

    The returned function takes NCHW images in [-1, 1] of any size and channels 1 or 3, and feeds
    them at 299x299, RGB, in [-1, 1] (the range the Inception weights were trained on)."""
    from torchvision.models import inception_v3

    model = inception_v3(weights=None, aux_logits=True, init_weights=False)
    load_state_dict_file(model, path)
    model.fc = nn.Identity()  # the pooled 2048-d features, not the ImageNet logits

    def features(x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = F.interpolate(x, size=(_INCEPTION_SIDE, _INCEPTION_SIDE), mode="bilinear", align_corners=False)
        return model(x)

    return features


# ---- Frechet distance ------------------------------------------------------------------------------
def frechet_distance(a: np.ndarray, b: np.ndarray, eps: float = 1e-6) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussians fitted to two
    feature samples (rows). A singular product (few samples, dead features) is regularised with
    eps * I; a tiny imaginary part from rounding is dropped."""
    from scipy import linalg

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the Frechet distance needs at least 2 samples on each side")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s_a @ s_b)
    singular = any(issubclass(w.category, linalg.LinAlgWarning) for w in caught)
    if singular or not np.isfinite(covmean).all() or (
            np.iscomplexobj(covmean) and np.abs(covmean.imag).max() > 1e-3 * max(1.0, np.abs(covmean.real).max())):
        # dead ReLU features or fewer samples than features: the product is singular
        offset = np.eye(len(s_a)) * eps
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", linalg.LinAlgWarning)
            covmean = linalg.sqrtm((s_a + offset) @ (s_b + offset))
    covmean = np.real(covmean)  # a tiny imaginary part is rounding
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(covmean))
    return max(value, 0.0)


# ---- everything ----------------------------------------------------------------------------------
def image_utility(train_frame: pd.DataFrame, holdout_frame: pd.DataFrame, synthetic_frame: pd.DataFrame,
                  schema: Schema, seed: int = 0, inception_weights: str | Path | None = None,
                  epochs: int = 15) -> dict[str, Any]:
    """Downstream accuracy and Frechet distances of synthetic images (plain JSON types).

    Args:
        train_frame: the real images the generator was trained on (frames of `synthguard.images`).
        holdout_frame: real images it never saw: the test set of both classifiers.
        synthetic_frame: the synthetic images (e.g. `Synthesizer.sample`).
        schema: the image schema (its label is the classifiers' target).
        seed: seeds both classifiers (the same seed for both, so only the data differs).
        inception_weights: a local state-dict file for torchvision's Inception v3; without it the
            features are those of the classifier trained on the real training images.
        epochs: passes of each classifier over its training images (at least 300 steps each).
    """
    classes = _class_index(schema, train_frame, holdout_frame, synthetic_frame)
    x_train, y_train = _tensors(train_frame, schema, classes)
    x_hold, y_hold = _tensors(holdout_frame, schema, classes)
    x_syn, y_syn = _tensors(synthetic_frame, schema, classes)
    real_model = train_classifier(x_train, y_train, len(classes), seed=seed, epochs=epochs)
    syn_model = train_classifier(x_syn, y_syn, len(classes), seed=seed, epochs=epochs)
    acc_real, acc_syn = accuracy(real_model, x_hold, y_hold), accuracy(syn_model, x_hold, y_hold)
    if inception_weights is not None:
        extract = inception_extractor(inception_weights)
        extractor = f"inception_v3 (local weights: {inception_weights})"
    else:
        extract, extractor = real_model.features, CLASSIFIER_FEATURES
    f_train, f_hold, f_syn = (_batched(extract, x, batch=32 if inception_weights else 256).numpy()
                              for x in (x_train, x_hold, x_syn))
    return {
        "downstream": {
            "classifier": "small CNN (3x3 convs, Adam 1e-3)", "epochs": epochs, "test": "real holdout",
            "accuracy_trained_on_real": acc_real, "accuracy_trained_on_synthetic": acc_syn,
            "accuracy_ratio": acc_syn / acc_real if acc_real > 0 else float("nan"),
        },
        "frechet": {
            "feature_extractor": extractor, "n_features": int(f_hold.shape[1]),
            "synthetic_vs_holdout": frechet_distance(f_syn, f_hold),
            "train_vs_holdout": frechet_distance(f_train, f_hold),
        },
        "n_images": {"train": len(x_train), "holdout": len(x_hold), "synthetic": len(x_syn)},
    }


__all__ = ["CLASSIFIER_FEATURES", "SmallCNN", "frechet_distance", "image_utility", "inception_extractor",
           "load_state_dict_file", "train_classifier"]
