"""ImageEncoder: pixels to the GAN's range and back, and the label as the condition.

Pixel values in [0, 1] map to [-1, 1] (x * 2 - 1), the range of the generator's tanh output, so that
real and generated images share one range (a pitfall of Ji et al.'s official code, ji-zhe/MixupTraining,
whose CIFAR-10 script normalises reals by mean and std while its generator ends in a sigmoid): a critic
must not be able to tell them apart by range alone. Every pixel is a `scalar` span, so the trainer's
heads apply tanh to each. Nothing about the pixels is learned from the data; the only fitted state
is the label's slots and their training counts (release-time labels are drawn with those
frequencies), encoded with the table encoder's categorical transform. The interface is TableEncoder's, so the
Synthesizer, the audit and the model file treat both alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import SchemaError
from ..images import pixel_columns
from ..schema import ImageShape, Schema
from .table import FitProgress, Span, _Categorical

KIND = "image"


class ImageEncoder:
    """Encode an image frame (see `synthguard.images`) into (X, C) and decode generator output.

    Args:
        schema: an image schema resolved against the frame (`Schema.resolve`).
        rare_category_count: labels held by fewer images are merged into one slot, as for tables.
    """

    def __init__(self, schema: Schema, *, rare_category_count: int = 5) -> None:
        if schema.modality != "image" or schema.image is None or schema.condition is None:
            raise SchemaError(f"schema {schema.name!r} is not an image schema with a label")
        self.schema = schema
        self.shape: ImageShape = schema.image
        self.rare_category_count = rare_category_count
        self.pixels = pixel_columns(self.shape)
        expected = set(self.pixels) | {schema.condition}
        names = [c.name for c in schema.modelled_columns]
        extra = [n for n in names if n not in expected]
        if extra:
            raise SchemaError(f"image schema {schema.name!r}: column {extra[0]!r} is neither the label nor a pixel "
                              f"(px_00000 .. px_{self.shape.n_pixels - 1:05d})")
        missing = sorted(expected - set(names))
        if missing:
            raise SchemaError(f"image schema {schema.name!r}: column {missing[0]!r} of a "
                              f"{self.shape.height}x{self.shape.width}x{self.shape.channels} image is missing")
        self._names = names
        self.label = schema.condition
        self.condition = _Categorical(schema.column(self.label), rare_category_count)
        self.dim = self.shape.n_pixels
        # one scalar span per pixel value: the trainer's heads put tanh on each
        self.spans = [Span(i, 1, "scalar", name) for i, name in enumerate(self.pixels)]

    # ---- fitting -------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, seed: int = 0, progress: FitProgress | None = None) -> ImageEncoder:
        """Count the labels; the pixel map is fixed, so nothing else is fitted. `progress(done,
        total, column)` is called once, after the label (TableEncoder's interface)."""
        self.condition.fit(frame[self.label], seed)
        self.condition.blocks = [("onehot", len(self.condition.slots))]  # even one class is a label
        if progress is not None:
            progress(1, 1, self.label)
        return self

    @property
    def cond_dim(self) -> int:
        return len(self.condition.slots)

    @property
    def condition_frequencies(self) -> np.ndarray:
        """Training frequency of each label slot: how release-time labels are drawn. The merged
        slot of rare labels is never drawn (unless no label is common), as for tables."""
        counts = np.asarray(self.condition.counts, dtype=float)
        if self.condition.common and _Categorical.RARE in self.condition.slots:
            counts[self.condition.slots.index(_Categorical.RARE)] = 0.0  # rare labels are never sampled
        return counts / counts.sum()

    # ---- encode / decode -----------------------------------------------------------------------
    def transform(self, frame: pd.DataFrame, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Pixels as X (n, H*W*C) in [-1, 1] and the label one-hot C (n, cond_dim), float32."""
        rng = np.random.default_rng(seed)
        x = frame[self.pixels].to_numpy(dtype=np.float32) * 2.0 - 1.0
        cond = self.condition.encode(frame[self.label], rng)
        return x.astype(np.float32, copy=False), cond.astype(np.float32)

    def inverse_transform(self, x: np.ndarray, cond_slots: np.ndarray | None = None, seed: int = 0) -> pd.DataFrame:
        """Generator output (n, H*W*C) back to a frame: pixels in [0, 1] (float32, clipped) and the
        label of each row's slot, in the schema's column order. The rare slot's label is the
        placeholder, never a real (rare) label."""
        pixels = np.clip((np.asarray(x, dtype=np.float32) + 1.0) / 2.0, 0.0, 1.0)
        frame = pd.DataFrame(pixels, columns=self.pixels)
        slots = cond_slots if cond_slots is not None else np.zeros(len(x), dtype=np.int64)
        labels = self.condition.labels_for(np.asarray(slots, dtype=np.int64))
        frame.insert(self._names.index(self.label), self.label, labels.to_numpy(dtype=object))
        if list(frame.columns) != self._names:
            frame = frame[self._names]
        return frame

    def smallest_category_count(self) -> int | None:
        """Training images behind the rarest label the model can emit (the release gate checks it)."""
        counts = [n for slot, n in zip(self.condition.slots, self.condition.counts, strict=True)
                  if slot not in (_Categorical.NULL, _Categorical.RARE)]
        return min(counts) if counts else None

    def condition_slot(self, value: Any) -> int:
        """The label slot for a user-given label, e.g. from `--condition label=3`."""
        slots = self.condition.slot_of(pd.Series([value], dtype=object))
        if slots[0] < 0:
            raise ValueError(f"{value!r} is not a category of the condition column {self.label!r}")
        return int(slots[0])

    # ---- JSON state ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"kind": KIND, "rare_category_count": self.rare_category_count,
                "shape": [self.shape.height, self.shape.width, self.shape.channels],
                "condition": self.condition.state()}

    @classmethod
    def from_state_dict(cls, schema: Schema, state: dict[str, Any]) -> ImageEncoder:
        if state.get("kind") != KIND:
            raise ValueError("encoder state is not an image encoder's")
        enc = cls(schema, rare_category_count=state["rare_category_count"])
        if list(state["shape"]) != [enc.shape.height, enc.shape.width, enc.shape.channels]:
            raise ValueError("encoder state does not match the schema's image size")
        enc.condition.load(state["condition"])
        enc.condition.blocks = [("onehot", len(enc.condition.slots))]
        return enc


__all__ = ["ImageEncoder"]
