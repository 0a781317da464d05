"""Synthesizer: schema + encoder + conditional WGAN-GP, with fit / sample / save / load.

    synth = Synthesizer(schema, defense="mixup", epochs=300, seed=0).fit(frame)
    rows = synth.sample(1000, seed=1)
    synth.save("model.sgm");  same = Synthesizer.load("model.sgm")
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from . import __version__
from .encoders.table import TableEncoder
from .errors import ModelFileError, SynthguardError, SynthguardWarning
from .gan.defenses import defense_arguments, make_defense
from .gan.networks import OutputHeads
from .gan.trainer import (CriticEnsemble, NetworkFactory, TrainConfig, TrainedGAN, build_gan, build_networks,
                          resolve_device, seeded_torch, train_gan)
from .modelfile import read_model_file, write_model_file
from .schema import Schema

KINDS = {"table": "table-cgan", "image": "image-cgan"}  # the manifest's `kind`, by modality
_SAMPLE_CHUNK = 10_000


class Synthesizer:
    """A mixup-trained (by default) conditional WGAN-GP over a schema-encoded table.

    Args:
        schema: the table's schema; inferred from the data at `fit` (with a warning) if None.
        defense: `mixup` (the paper's defence), `none`, or the baselines `relaxloss` and `pargan`.
        alpha: mixup's Beta(alpha, alpha) parameter.
        lambda_mode: `batch` (one lambda per batch, the paper's) or `sample`.
        defense_params: further settings of the defence (relaxloss: mode, holdout,
            reference_models; pargan: partitions), see `synthguard.gan.defenses`.
        seed: every random choice (encoder modes, weights, noise, sampling) derives from it.
        threads: torch threads while fitting and sampling (None leaves torch's setting).
        device: where to train, `cpu` (default) or `cuda`; the fitted model lives on the CPU.
        rare_category_count: categories held by fewer rows are merged into one slot.
        max_modes: most mixture modes per continuous column.
        **train_options: any TrainConfig field (epochs, batch_size, n_critic, critic_dims, ...).
    """

    def __init__(self, schema: Schema | None = None, *, defense: str = "mixup", alpha: float = 1.0,
                 lambda_mode: str = "batch", defense_params: dict[str, Any] | None = None, seed: int = 0,
                 threads: int | None = None, device: str = "cpu", rare_category_count: int = 5,
                 max_modes: int = 10, **train_options: Any) -> None:
        self.schema = schema
        self.defense = defense
        self.alpha = alpha
        self.lambda_mode = lambda_mode
        self.defense_params = dict(defense_params or {})
        self.device = device
        self.seed = int(seed)
        self.threads = threads
        self.rare_category_count = rare_category_count
        self.max_modes = max_modes
        try:
            self.config = TrainConfig(**train_options)
            unknown = sorted(set(self.defense_params) - set(defense_arguments(defense)))
            if unknown:
                raise ValueError(f"defence {defense!r} has no setting {unknown[0]!r} "
                                 f"(it takes: {', '.join(defense_arguments(defense)) or 'none'})")
            self._make_defense()
            resolve_device(device)
        except (TypeError, ValueError) as err:
            raise SynthguardError(str(err)) from None

    # ---- parameters ----------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """Everything needed to repeat this training recipe (the audit's shadows use it)."""
        return {"defense": self.defense, "alpha": self.alpha, "lambda_mode": self.lambda_mode,
                "defense_params": dict(self.defense_params), "seed": self.seed, "device": self.device,
                "rare_category_count": self.rare_category_count, "max_modes": self.max_modes,
                **self.config.to_dict()}

    def clone(self, **overrides: Any) -> Synthesizer:
        """An unfitted synthesizer with the same recipe (and schema), some parameters replaced."""
        params = {**self.get_params(), "threads": self.threads, **overrides}
        return Synthesizer(self.schema, **params)

    def _make_defense(self):  # noqa: ANN202 - small factory
        return make_defense(self.defense, alpha=self.alpha, lambda_mode=self.lambda_mode, **self.defense_params)

    # ---- fitting -------------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, on_epoch: Callable[[int, dict[str, float]], None] | None = None,
            source: str = "data") -> Synthesizer:
        """Fit on a raw frame (text cells are parsed by the schema). Returns self."""
        if self.schema is None:
            warnings.warn("no schema given: inferring one from the data (review it with `synthguard schema infer`)",
                          SynthguardWarning, stacklevel=2)
            self.schema = Schema.infer(data)
        frame = self.schema.parse(data, source)
        self.fit_parsed(frame, self.schema.resolve(list(data.columns), source), on_epoch)
        return self

    def fit_parsed(self, frame: pd.DataFrame, resolved: Schema,
                   on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> Synthesizer:
        """Fit on a frame already parsed by `resolved` (the audit reuses one parse for all shadows)."""
        if len(frame) < 2:
            raise SynthguardError(f"need at least 2 rows to fit, got {len(frame)}")
        encoder_seed, train_seed = self._start_fit(resolved)
        self.encoder_.fit(frame, seed=encoder_seed)
        x, cond = self.encoder_.transform(frame, seed=encoder_seed)
        return self._fit_encoded(x, cond, train_seed, on_epoch)

    def _start_fit(self, resolved: Schema) -> tuple[int, int]:
        """A fresh, unfitted encoder for `resolved`; returns the (encoder, training) seeds. The two
        halves of `fit_parsed`, apart, let `synthguard.streaming` encode a file batch by batch."""
        encoder_seed, train_seed, self._sample_seed = (int(s) for s in np.random.SeedSequence(self.seed).generate_state(3))
        self.schema_ = resolved
        self.encoder_ = self._make_encoder(resolved)
        return encoder_seed, train_seed

    def _fit_encoded(self, x: np.ndarray, cond: np.ndarray, train_seed: int,
                     on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> Synthesizer:
        """Train the GAN on rows already encoded by `self.encoder_` (float32 X and condition)."""

        def hook(epoch: int, stats: dict[str, float], gan: TrainedGAN) -> None:
            self.gan_ = gan  # so that the callback may sample from the model as it trains
            if on_epoch is not None:
                on_epoch(epoch, stats)

        self.gan_ = train_gan(x, cond, self.encoder_.spans, self.config, self._make_defense(), train_seed,
                              on_epoch=hook, threads=self.threads, networks=self._network_factory(),
                              device=self.device)
        self.n_rows_ = len(x)
        return self

    def describe_defense(self) -> dict[str, Any]:
        """The defence and its settings, for reports."""
        return self._make_defense().describe()

    def smallest_category_count(self) -> int | None:
        """Training rows behind the rarest category the fitted model can emit."""
        self._check_fitted()
        return self.encoder_.smallest_category_count()

    # ---- what the data's modality decides ---------------------------------------------------------
    def _make_encoder(self, resolved: Schema) -> Any:
        if resolved.modality == "image":
            from .encoders.image import ImageEncoder  # here, not at the top: tables never load it

            return ImageEncoder(resolved, rare_category_count=self.rare_category_count)
        return TableEncoder(resolved, max_modes=self.max_modes, rare_category_count=self.rare_category_count)

    def _encoder_from_state(self, resolved: Schema, state: dict[str, Any]) -> Any:
        if resolved.modality == "image":
            from .encoders.image import ImageEncoder

            return ImageEncoder.from_state_dict(resolved, state)
        return TableEncoder.from_state_dict(resolved, state)

    def _network_factory(self) -> NetworkFactory:
        schema = getattr(self, "schema_", None) or self.schema
        if schema is not None and schema.modality == "image" and schema.image is not None:
            from .gan.conv import image_networks

            return image_networks(schema.image.height, schema.image.width, schema.image.channels)
        return build_networks

    @property
    def fitted(self) -> bool:
        return hasattr(self, "gan_")

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise SynthguardError("this synthesizer is not fitted yet; call fit() or load a model file")

    # ---- sampling ------------------------------------------------------------------------------
    def condition_slots(self, n: int, condition: Any = None, seed: int | None = None) -> np.ndarray:
        """Condition slot per row: the given label, or drawn with the training frequencies."""
        enc = self.encoder_
        if enc.condition is None:
            if condition is not None:
                raise SynthguardError("this model has no condition column, so --condition cannot be used")
            return np.zeros(n, dtype=np.int64)
        if condition is not None:
            try:
                return np.full(n, enc.condition_slot(condition), dtype=np.int64)
            except ValueError as err:
                raise SynthguardError(str(err)) from None
        rng = np.random.default_rng(self._seed_for(seed, 1))
        return rng.choice(enc.cond_dim, size=n, p=enc.condition_frequencies)

    def _seed_for(self, seed: int | None, *stream: int) -> int:
        base = self._sample_seed if seed is None else int(seed)
        return int(np.random.SeedSequence([base, *stream]).generate_state(1)[0])

    def generate_encoded(self, slots: np.ndarray, seed: int | None = None, mode: str = "hard") -> np.ndarray:
        """Generator output for the given condition slots, in encoded space (hard or soft)."""
        self._check_fitted()
        out = np.empty((len(slots), self.encoder_.dim), dtype=np.float32)
        for start, block in self._encoded_chunks(slots, seed, mode):
            out[start:start + len(block)] = block
        return out

    def _encoded_chunks(self, slots: np.ndarray, seed: int | None, mode: str) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, generator output) per `_SAMPLE_CHUNK` rows. One seeded torch stream runs
        through all chunks (its state is carried from chunk to chunk, and restored around each so
        that whatever runs between chunks neither disturbs it nor is disturbed)."""
        eye = torch.eye(max(self.encoder_.cond_dim, 1))[:, : self.encoder_.cond_dim]
        state = None
        for start in range(0, len(slots), _SAMPLE_CHUNK):
            with seeded_torch(self._seed_for(seed, 2), self.threads), torch.no_grad():
                if state is not None:
                    torch.set_rng_state(state)
                idx = torch.as_tensor(slots[start:start + _SAMPLE_CHUNK])
                z = torch.randn(len(idx), self.config.z_dim)
                raw = self.gan_.generator(z, eye[idx])
                block = self.gan_.heads(raw, mode).numpy()
                state = torch.get_rng_state()
            yield start, block

    def sample(self, n: int, condition: Any = None, seed: int | None = None, typed: bool = False) -> pd.DataFrame:
        """Draw `n` synthetic rows; `condition` fixes the condition column's label.

        Rows look like the input (booleans in the data's own spelling); `typed=True` returns them
        as `Schema.parse` would (booleans as True/False), which is what metrics compare."""
        parts = list(self.sample_chunks(n, condition, seed, typed))
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)

    def sample_chunks(self, n: int, condition: Any = None, seed: int | None = None,
                      typed: bool = False) -> Iterator[pd.DataFrame]:
        """`sample`'s rows, `_SAMPLE_CHUNK` at a time, in order: memory bounded by a chunk, not by n
        (`synthguard.streaming.sample_to_file` writes them as they come). Concatenated, the
        chunks are `sample(n, condition, seed, typed)`."""
        self._check_fitted()
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise SynthguardError(f"the number of rows to sample must be a positive integer, got {n}")
        slots = self.condition_slots(int(n), condition, seed)  # n integers: small beside the rows
        for start, x in self._encoded_chunks(slots, seed, "hard"):
            # each chunk decodes with its own seed (the first with the one a single draw always
            # used): no decoding state passes between chunks, and sample(k * _SAMPLE_CHUNK) is
            # the start of every longer draw with the same seed
            chunk_seed = self._seed_for(seed, 3) if start == 0 else self._seed_for(seed, 3, start // _SAMPLE_CHUNK)
            rows = self.encoder_.inverse_transform(x, slots[start:start + len(x)], seed=chunk_seed)
            rows.index = pd.RangeIndex(start, start + len(rows))
            yield rows if typed else self.schema_.format(rows)

    # ---- scoring helpers used by the audit --------------------------------------------------------
    def encode(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Encode parsed rows as the critic sees them (fixed seed: the same rows, the same vectors)."""
        self._check_fitted()
        return self.encoder_.transform(frame, seed=0)

    def critic_scores(self, x: np.ndarray, cond: np.ndarray) -> np.ndarray:
        """D(x, c) for encoded rows (eval mode: no dropout)."""
        self._check_fitted()
        with torch.no_grad():
            return self.gan_.critic(torch.as_tensor(x), torch.as_tensor(cond)).numpy().astype(np.float64)

    def critic_statistics(self, frame: pd.DataFrame, m: int = 64, seed: int | None = None) -> dict[str, np.ndarray]:
        """Per-record critic statistics of parsed rows (higher = more member-like).

        `critic` is the raw D(x, y) (LOGAN white-box). `critic_calibrated` is Ji et al.'s LiRA
        statistic with its sign flipped: D(x, y) minus the mean critic score of `m` fakes of the
        same label, which removes the per-model, per-class offset of an unbounded critic.
        """
        x, cond = self.encode(frame)
        raw = self.critic_scores(x, cond)
        k = max(self.encoder_.cond_dim, 1)
        slots = cond.argmax(axis=1) if self.encoder_.cond_dim else np.zeros(len(frame), dtype=np.int64)
        mode = self.config.head_mode(self._make_defense())  # fakes as the critic saw them in training
        fake_slots = np.repeat(np.arange(k), m)
        fakes = self.generate_encoded(fake_slots, seed, mode=mode)
        eye = np.eye(k, dtype=np.float32)[:, : self.encoder_.cond_dim]
        fake_scores = self.critic_scores(fakes, eye[fake_slots]).reshape(k, m).mean(axis=1)
        return {"critic": raw, "critic_calibrated": raw - fake_scores[slots]}

    def reconstruction_loss(self, frame: pd.DataFrame, seed: int = 0) -> np.ndarray:
        """GAN-Leaks white-box: per record, the least squared error with which the generator can
        reproduce it (L-BFGS over z, label fixed); lower = more member-like."""
        from .attacks.reconstruction import reconstruction_loss

        return reconstruction_loss(self, frame, method="lbfgs", seed=seed)

    def mixed_query_statistic(self, frame_a: pd.DataFrame, frame_b: pd.DataFrame, m: int = 64,
                              seed: int | None = None) -> np.ndarray:
        """Ji et al.'s adaptive query against mixup: the calibrated critic statistic of mixes of
        record pairs (lam = 0.2, 0.5, 0.8), averaged; higher = more member-like."""
        from .attacks.mixed_query import mixed_query_statistic

        return mixed_query_statistic(self, frame_a, frame_b, m=m, seed=seed if seed is not None else 0)

    # ---- persistence -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write one `.sgm` model file (atomically). It holds the critic too: keep it internal."""
        self._check_fitted()
        manifest = {
            "kind": KINDS[self.schema_.modality], "synthguard_version": __version__, "params": self.get_params(),
            "defense": self._make_defense().describe(), "n_rows": self.n_rows_,
            "data_dim": self.encoder_.dim, "cond_dim": self.encoder_.cond_dim,
            "internal": ["critic.safetensors", "encoder.json"],
            "history": self.gan_.history[-1:] if self.gan_.history else [],
        }
        parts = {
            "schema.yaml": self.schema_.to_yaml().encode(),
            "encoder.json": json.dumps(self.encoder_.state_dict(), sort_keys=True).encode(),
            "generator.safetensors": save_tensors(_contiguous(self.gan_.generator.state_dict())),
            "critic.safetensors": save_tensors(_contiguous(self.gan_.critic.state_dict())),
        }
        write_model_file(path, manifest, parts)

    @classmethod
    def load(cls, path: str | Path, threads: int | None = None) -> Synthesizer:
        """Read a model file written by `save`; refuses foreign or altered files."""
        manifest, parts = read_model_file(path)
        expected = {"schema.yaml", "encoder.json", "generator.safetensors", "critic.safetensors"}
        if manifest.get("kind") not in KINDS.values() or set(parts) != expected:
            raise ModelFileError(f"{path}: not a synthguard model of a kind this version reads")
        try:
            schema = Schema.from_yaml(parts["schema.yaml"].decode())
            # a model trained on a GPU loads (and samples) on the CPU of a machine without one
            synth = cls(schema, threads=threads, **{**manifest["params"], "device": "cpu"})
            synth.schema_ = schema
            synth.encoder_ = synth._encoder_from_state(schema, json.loads(parts["encoder.json"]))
            n_critics = synth._make_defense().n_critics
            generator, critics = build_gan(synth._network_factory(), synth.encoder_.dim, synth.encoder_.cond_dim,
                                           synth.config, n_critics)
            critic = critics[0] if n_critics == 1 else CriticEnsemble(critics)
            generator.load_state_dict(load_tensors(parts["generator.safetensors"]), strict=True)
            critic.load_state_dict(load_tensors(parts["critic.safetensors"]), strict=True)
        except (KeyError, ValueError, TypeError, RuntimeError, SynthguardError) as err:
            raise ModelFileError(f"{path}: the model's parts do not fit together ({err})") from None
        generator.eval()
        critic.eval()
        synth.gan_ = TrainedGAN(generator, critic, OutputHeads(synth.encoder_.spans), list(manifest.get("history", [])))
        synth.n_rows_ = int(manifest.get("n_rows", 0))
        synth._sample_seed = int(np.random.SeedSequence(synth.seed).generate_state(3)[2])
        return synth


def _contiguous(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous() for k, v in state.items()}


__all__ = ["Synthesizer"]
