"""Synthesizer: schema + encoder + conditional WGAN-GP, with fit / sample / save / load.

    synth = Synthesizer(schema, defense="mixup", epochs=300, seed=0).fit(frame)
    rows = synth.sample(1000, seed=1)
    synth.save("model.sgm");  same = Synthesizer.load("model.sgm")
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from . import __version__
from .encoders.table import TableEncoder
from .errors import ModelFileError, SynthguardError, SynthguardWarning
from .gan.defenses import defense_arguments, defense_signature, make_defense
from .gan.networks import OutputHeads
from .gan.trainer import (
    AUTO,
    CriticEnsemble,
    NetworkFactory,
    TrainConfig,
    TrainedGAN,
    auto_batch_size,
    build_gan,
    build_networks,
    resolve_device,
    seeded_torch,
    train_gan,
    whole_setting,
)
from .modelfile import read_model_file, write_model_file
from .schema import Schema

KINDS = {"table": "table-cgan", "image": "image-cgan"}  # the manifest's `kind`, by modality
_SAMPLE_CHUNK = 10_000
#: the largest seed: numpy's legacy and scikit-learn's random states stop at 2**32 - 1
MAX_SEED = 2**32 - 1
#: per-column progress of the encoder's fit: (columns done, columns in all, the column just fitted)
ColumnProgress = Callable[[int, int, str], None]


#: defence settings a recipe records resolved to their defaults when not given: those whose
#: default changed (mixup's `fakes`: the paper's `generated` before, `mixed` since), so that a model
#: file, a passport or a run directory names the recipe that trained it
RESOLVED_DEFENSE_SETTINGS = ("fakes",)


def check_seed(seed: Any, what: str = "seed") -> int:
    """A seed as an int, or a ValueError of one line: a whole number from 0 to MAX_SEED."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"{what} must be a non-negative whole number of at most {MAX_SEED} (2**32 - 1), "
                         f"got {seed!r}")
    return int(seed)


class Synthesizer:
    """A mixup-trained (by default) conditional WGAN-GP over a schema-encoded table.

    Args:
        schema: the table's schema; inferred from the data at `fit` (with a warning) if None. A
            schema without a condition column trains an unconditional GAN (an empty label).
        defense: `mixup` (the paper's defence), `none`, or the baselines `relaxloss` and `pargan`.
        alpha: mixup's Beta(alpha, alpha) parameter (default 1.0). Only mixup uses it: with another
            defence any other value is an error, and the recipe records no alpha (None).
        lambda_mode: `batch` (one lambda per batch, the paper's; the default) or `sample` (one per
            mixed pair); mixup only, like alpha.
        defense_params: further settings of the defence (relaxloss: mode, holdout,
            reference_models; pargan: partitions), see `synthguard.gan.defenses`.
        seed: every random choice (encoder modes, weights, noise, sampling) derives from it.
        threads: torch threads while fitting and sampling (None leaves torch's setting).
        device: where to train, `cpu` (default) or `cuda`; the fitted model lives on the CPU.
        rare_category_count: categories held by fewer rows are merged into one slot.
        max_modes: most mixture modes per continuous column.
        checkpoints: epochs at which `fit` keeps the networks' weights (the last epoch is always
            kept): `at_epoch(e)` is then the model of epoch e, identical to a fit of e epochs with
            the same seed (training never reads its total length), at no extra training.
        **train_options: any TrainConfig field (epochs, batch_size, n_critic, critic_dims, ...).

    Every setting is checked here, before any data is read (`_validate_params`): a setting out of
    range is a one-line SynthguardError naming it (epochs and batch_size at least 1, finite
    positive learning rate, ...).

    A privacy audit reaches a fitted model only through public measurement primitives: `encode`,
    `critic_scores`, `critic_statistics`, `fake_critic_means` (the critic), `latent_dim` and
    `decode_latent` (the generator), plus `mixes_records` (declared by the defence) and `to_bytes`
    (the model file); the audit's access protocols say which threat model needs which.
    """

    #: the fewest training epochs a recipe may ask for (`calibration.Untrained` lowers it to 0)
    min_epochs: ClassVar[int] = 1

    def __init__(self, schema: Schema | None = None, *, defense: str = "mixup", alpha: float | None = None,
                 lambda_mode: str | None = None, defense_params: dict[str, Any] | None = None, seed: int = 0,
                 threads: int | None = None, device: str = "cpu", rare_category_count: int = 5,
                 max_modes: int = 10, checkpoints: Iterable[int] | None = None, **train_options: Any) -> None:
        self.schema = schema
        self.defense = defense
        self.alpha = alpha
        self.lambda_mode = lambda_mode
        self.defense_params = dict(defense_params or {})
        self.device = device
        self.seed = seed
        self.threads = threads
        self.rare_category_count = rare_category_count
        self.max_modes = max_modes
        self.checkpoints = checkpoints
        try:
            self._validate_params(train_options)
        except (TypeError, ValueError) as err:
            raise SynthguardError(str(err)) from None

    def _validate_params(self, train_options: dict[str, Any]) -> None:
        """Check every setting (a ValueError names the first bad one) and resolve the defaults
        that depend on the defence. The one place where a recipe's settings are validated."""
        known = [f.name for f in fields(TrainConfig)]
        unknown = sorted(set(train_options) - set(known))
        if unknown:
            raise ValueError(f"unknown training setting {unknown[0]!r} (one of {', '.join(known)})")
        whole_setting("epochs", train_options.get("epochs", TrainConfig.epochs), self.min_epochs)
        self.config = TrainConfig(**train_options)
        accepted = defense_arguments(self.defense)  # an unknown defence is an error here
        # mixup's own settings given among the defence's (as a command line's defence settings
        # give them) are taken as the settings of their own they are
        for name in ("alpha", "lambda_mode"):
            if name in self.defense_params:
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} given twice: as a setting of its own and among the defence's settings")
                setattr(self, name, self.defense_params.pop(name))
        # mixup's own settings: resolved to their defaults for mixup, refused (unless left at the
        # default) and recorded as None for a defence that does not use them
        for name, default in (("alpha", 1.0), ("lambda_mode", "batch")):
            value = getattr(self, name)
            if name in accepted:
                setattr(self, name, default if value is None else value)
            elif value is None or (value == default and not isinstance(value, bool)):
                setattr(self, name, None)
            else:
                raise ValueError(f"{name} applies only to the mixup defence, not to {self.defense!r} "
                                 f"(got {name}={value!r})")
        if self.alpha is not None:
            alpha = self.alpha
            if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not math.isfinite(alpha):
                raise ValueError(f"mixup alpha must be a finite number, got {self.alpha!r}")
            self.alpha = float(self.alpha)
        # a defence setting whose default changed (mixup's `fakes`) is recorded as resolved, so
        # that a model file or a run directory says which recipe trained it
        for name, param in defense_signature(self.defense).items():
            if name in RESOLVED_DEFENSE_SETTINGS and name not in self.defense_params:
                self.defense_params[name] = param.default
        unknown = sorted(set(self.defense_params) - set(accepted))
        if unknown:
            raise ValueError(f"defence {self.defense!r} has no setting {unknown[0]!r} "
                             f"(it takes: {', '.join(accepted) or 'none'})")
        self.seed = check_seed(self.seed)
        threads = self.threads
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1):
            raise ValueError(f"threads must be a whole number of at least 1 (or None), got {self.threads!r}")
        for name in ("rare_category_count", "max_modes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
        self._make_defense()  # the defence checks its own settings (alpha > 0, partitions, ...)
        resolve_device(self.device)
        if self.checkpoints is not None:
            if isinstance(self.checkpoints, (str, bytes)) or not isinstance(self.checkpoints, Iterable):
                raise ValueError(f"checkpoints must be a list of epochs, got {self.checkpoints!r}")
            kept = sorted({whole_setting("each checkpoint", e, 1) for e in self.checkpoints})
            if kept and kept[-1] > self.config.epochs:
                raise ValueError(f"checkpoint {kept[-1]} is past the last epoch ({self.config.epochs})")
            self.checkpoints = tuple(kept)

    @property
    def checkpoint_epochs(self) -> tuple[int, ...]:
        """The epochs whose weights a fit keeps, in order: the checkpoints and the last epoch."""
        return tuple(sorted({*(self.checkpoints or ()), self.config.epochs}))

    # ---- parameters ----------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """Everything needed to repeat this training recipe (the audit's shadows use it)."""
        return {"defense": self.defense, "alpha": self.alpha, "lambda_mode": self.lambda_mode,
                "defense_params": dict(self.defense_params), "seed": self.seed, "device": self.device,
                "rare_category_count": self.rare_category_count, "max_modes": self.max_modes,
                "checkpoints": None if self.checkpoints is None else list(self.checkpoints),
                **self.config.to_dict()}

    def clone(self, **overrides: Any) -> Synthesizer:
        """An unfitted synthesizer with the same recipe (and schema), some parameters replaced."""
        params = {**self.get_params(), "threads": self.threads, **overrides}
        if params["defense"] != self.defense:  # mixup's own settings do not carry to another defence
            params.update({name: overrides.get(name) for name in ("alpha", "lambda_mode")})
            if "defense_params" not in overrides:  # nor do the settings resolved to their defaults
                params["defense_params"] = {k: v for k, v in self.defense_params.items()
                                            if k not in RESOLVED_DEFENSE_SETTINGS}
        return type(self)(self.schema, **params)

    def sized_for(self, rows: int) -> Synthesizer | None:
        """This recipe with `batch_size="auto"` fixed at the batch a fit on `rows` rows uses (an
        unfitted clone; None when its batch is a number). An audit trains its shadows,
        each on half of the release table, with the release model's batch this way: the same
        settings on half the rows, as LiRA's shadows repeat their target's training. Resolved on
        the half instead, `auto` would halve a shadow's batch and double the weight of each of its
        records in every step it takes part in, a leakier training than the one audited."""
        if self.config.batch_size != AUTO:
            return None
        return self.clone(batch_size=auto_batch_size(rows))

    def _make_defense(self):  # noqa: ANN202 - small factory
        return make_defense(self.defense, alpha=self.alpha, lambda_mode=self.lambda_mode, **self.defense_params)

    # ---- fitting -------------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame, on_epoch: Callable[[int, dict[str, float]], None] | None = None,
            source: str = "data", on_column: ColumnProgress | None = None) -> Synthesizer:
        """Fit on a raw frame, the whole training table (text cells are parsed by the schema; a
        condition column holding fewer than two classes is refused). Returns self.
        `on_column(done, total, column)` reports the encoder's fit, column by column."""
        if self.schema is None:
            warnings.warn("no schema given: inferring one from the data (review it with `synthguard schema infer`)",
                          SynthguardWarning, stacklevel=2)
            self.schema = Schema.infer(data)
        resolved = self.schema.resolve(list(data.columns), source)
        _check_something_to_model(resolved, source)  # before the parse: a one-line answer, not a list
        frame = self.schema.parse(data, source, whole=True)
        self.fit_parsed(frame, resolved, on_epoch, on_column=on_column)
        return self

    def fit_parsed(self, frame: pd.DataFrame, resolved: Schema,
                   on_epoch: Callable[[int, dict[str, float]], None] | None = None,
                   on_column: ColumnProgress | None = None) -> Synthesizer:
        """Fit on a frame already parsed by `resolved` (the audit reuses one parse for all shadows).
        `on_column(done, total, column)` reports the encoder's fit, column by column."""
        if len(frame) < 2:
            raise SynthguardError(f"need at least 2 rows to fit, got {len(frame)}")
        encoder_seed, train_seed = self._start_fit(resolved)
        self.encoder_.fit(frame, seed=encoder_seed, progress=on_column)
        x, cond = self.encoder_.transform(frame, seed=encoder_seed)
        return self._fit_encoded(x, cond, train_seed, on_epoch)

    def _start_fit(self, resolved: Schema) -> tuple[int, int]:
        """A fresh, unfitted encoder for `resolved`; returns the (encoder, training) seeds. The two
        halves of `fit_parsed`, apart, let `synthguard.streaming` encode a file batch by batch.
        A schema that leaves nothing to model is refused here, so on both paths."""
        _check_something_to_model(resolved)
        encoder_seed, train_seed, self._sample_seed = (int(s) for s in np.random.SeedSequence(self.seed).generate_state(3))
        self.schema_ = resolved
        self.encoder_ = self._make_encoder(resolved)
        return encoder_seed, train_seed

    def _fit_encoded(self, x: np.ndarray, cond: np.ndarray, train_seed: int,
                     on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> Synthesizer:
        """Train the GAN on rows already encoded by `self.encoder_` (float32 X and condition)."""

        keep = set(self.checkpoint_epochs) - {self.config.epochs}
        self.checkpoints_: dict[int, tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]] = {}

        def hook(epoch: int, stats: dict[str, float], gan: TrainedGAN) -> None:
            self.gan_ = gan  # so that the callback may sample from the model as it trains
            if epoch in keep:  # copies: training goes on changing the live weights
                self.checkpoints_[epoch] = (_copied(gan.generator.state_dict()), _copied(gan.critic.state_dict()))
            if on_epoch is not None:
                on_epoch(epoch, stats)

        self.gan_ = train_gan(x, cond, self.encoder_.spans, self.config, self._make_defense(), train_seed,
                              on_epoch=hook, threads=self.threads, networks=self._network_factory(),
                              device=self.device)
        self.n_rows_ = len(x)
        return self

    def at_epoch(self, epoch: int) -> Synthesizer:
        """The fitted model as it was after `epoch` epochs (one of `checkpoint_epochs`): a new
        Synthesizer whose recipe says `epochs=epoch` and keeps no checkpoints, with the weights
        kept at that epoch. It is the model a fit of `epoch` epochs with the same seed gives; the
        encoder is shared with this model (it is never changed after the fit)."""
        self._check_fitted()
        if epoch == self.config.epochs:
            generator_state, critic_state = self.gan_.generator.state_dict(), self.gan_.critic.state_dict()
        elif epoch in getattr(self, "checkpoints_", {}):
            generator_state, critic_state = self.checkpoints_[epoch]
        else:
            kept = ", ".join(str(e) for e in [*sorted(getattr(self, "checkpoints_", {})), self.config.epochs])
            raise SynthguardError(f"no weights kept at epoch {epoch!r}; this model kept epochs {kept}")
        model = self.clone(epochs=epoch, checkpoints=None)
        model.schema_, model.encoder_, model.n_rows_ = self.schema_, self.encoder_, self.n_rows_
        model._sample_seed = self._sample_seed
        n_critics = model._make_defense().n_critics
        with seeded_torch(0):  # the initial weights are replaced: this only keeps the global stream untouched
            generator, critics = build_gan(model._network_factory(), self.encoder_.dim, self.encoder_.cond_dim,
                                           model.config, n_critics)
        critic = critics[0] if n_critics == 1 else CriticEnsemble(critics)
        generator.load_state_dict(generator_state, strict=True)
        critic.load_state_dict(critic_state, strict=True)
        generator.eval()
        critic.eval()
        model.gan_ = TrainedGAN(generator, critic, OutputHeads(self.encoder_.spans), list(self.gan_.history[:epoch]))
        return model

    def describe_defense(self) -> dict[str, Any]:
        """The defence and its settings, for reports."""
        return self._make_defense().describe()

    @property
    def mixes_records(self) -> bool:
        """Whether the critic trains on mixes of records (the defence class declares it: mixup
        does). A privacy audit then also queries the critic with mixed record pairs."""
        return bool(self._make_defense().mixes_records)

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
        """Condition slot per row: the given label, or drawn with the training frequencies (a
        model without a condition column has the one slot 0, an empty label)."""
        chunks = list(self._slot_chunks(n, condition, seed))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)

    def _slot_chunks(self, n: int, condition: Any, seed: int | None) -> Iterator[np.ndarray]:
        """`condition_slots(n, ...)` in `_SAMPLE_CHUNK` pieces, from one random stream (drawing it
        piece by piece gives the same slots): memory bounded by a chunk, not by n."""
        enc = self.encoder_
        if enc.condition is None and condition is not None:
            raise SynthguardError("this model has no condition column, so a condition cannot be given")
        fixed = None
        if enc.condition is None:
            fixed = 0
        elif condition is not None:
            try:
                fixed = enc.condition_slot(condition)
            except ValueError as err:
                raise SynthguardError(str(err)) from None
        rng = np.random.default_rng(self._seed_for(seed, 1)) if fixed is None else None
        for start in range(0, n, _SAMPLE_CHUNK):
            size = min(_SAMPLE_CHUNK, n - start)
            if rng is None:
                yield np.full(size, fixed, dtype=np.int64)
            else:
                yield rng.choice(enc.cond_dim, size=size, p=enc.condition_frequencies)

    def _seed_for(self, seed: int | None, *stream: int) -> int:
        if seed is None:
            base = self._sample_seed
        else:
            try:
                base = check_seed(seed, "the sampling seed")
            except ValueError as err:
                raise SynthguardError(str(err)) from None
        return int(np.random.SeedSequence([base, *stream]).generate_state(1)[0])

    def generate_encoded(self, slots: np.ndarray, seed: int | None = None, mode: str = "hard") -> np.ndarray:
        """Generator output for the given condition slots, in encoded space (hard or soft)."""
        self._check_fitted()
        out = np.empty((len(slots), self.encoder_.dim), dtype=np.float32)
        pieces = (slots[start:start + _SAMPLE_CHUNK] for start in range(0, len(slots), _SAMPLE_CHUNK))
        for start, _, block in self._encoded_chunks(pieces, seed, mode):
            out[start:start + len(block)] = block
        return out

    def _encoded_chunks(self, slot_chunks: Iterable[np.ndarray], seed: int | None, mode: str
                        ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(first row, slots, generator output) per chunk of at most `_SAMPLE_CHUNK` slots. One
        seeded torch stream runs through all chunks (its state is carried from chunk to chunk, and
        restored around each so that whatever runs between chunks neither disturbs it nor is
        disturbed)."""
        eye = torch.eye(max(self.encoder_.cond_dim, 1))[:, : self.encoder_.cond_dim]
        state = None
        start = 0
        for slots in slot_chunks:
            block, state = self._generator_block(eye[torch.as_tensor(slots)], seed, mode, state)
            yield start, slots, block
            start += len(slots)

    def _generator_block(self, cond: torch.Tensor, seed: int | None, mode: str, state: torch.Tensor | None
                         ) -> tuple[np.ndarray, torch.Tensor]:
        """Generator output for one chunk of condition vectors, on the sampling stream `seed`
        (stream 2) continued from `state` (None: its start); returns the block and the stream's
        state after it. Every fake the model makes (`generate_encoded`, `sample`,
        `fake_critic_means`) is drawn here, so equal seeds and chunking give equal noise."""
        with seeded_torch(self._seed_for(seed, 2), self.threads), torch.no_grad():
            if state is not None:
                torch.set_rng_state(state)
            z = torch.randn(len(cond), self.config.z_dim)
            block = self.gan_.heads(self.gan_.generator(z, cond), mode).numpy()
            return block, torch.get_rng_state()

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
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise SynthguardError(f"the number of rows to sample must be a positive integer, got {n}")
        if seed is not None:
            self._seed_for(seed)  # a bad seed is refused before the first row, not at it
        # slots are drawn a chunk at a time too: n itself never sizes an allocation
        for start, slots, x in self._encoded_chunks(self._slot_chunks(int(n), condition, seed), seed, "hard"):
            # each chunk decodes with its own seed (the first with the one a single draw always
            # used): no decoding state passes between chunks, and sample(k * _SAMPLE_CHUNK) is
            # the start of every longer draw with the same seed
            chunk_seed = self._seed_for(seed, 3) if start == 0 else self._seed_for(seed, 3, start // _SAMPLE_CHUNK)
            rows = self.encoder_.inverse_transform(x, slots, seed=chunk_seed)
            rows.index = pd.RangeIndex(start, start + len(rows))
            yield rows if typed else self.schema_.format(rows)

    # ---- measurement primitives: what a privacy audit may query of a fitted model ----------------
    # (its threat models' access protocols); the audit computes its statistics from these, so
    # this module imports nothing of the audit's.
    def encode(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Encode parsed rows as the critic sees them: (x (n, dim), condition vectors (n, cond_dim)),
        float32. Continuous modes are drawn with a fixed seed over the frame, so a row is encoded
        identically only within the same frame."""
        self._check_fitted()
        return self.encoder_.transform(frame, seed=0)

    def critic_scores(self, x: np.ndarray, cond: np.ndarray) -> np.ndarray:
        """D(x, c) for encoded rows and condition vectors (one-hot or mixed), float64. The critic
        runs in eval mode (no dropout); its mode is restored after."""
        self._check_fitted()
        with _frozen(self.gan_.critic), torch.no_grad():
            return self.gan_.critic(torch.as_tensor(x), torch.as_tensor(cond)).numpy().astype(np.float64)

    def critic_statistics(self, frame: pd.DataFrame, m: int = 64, seed: int | None = None) -> dict[str, np.ndarray]:
        """Per-record critic statistics of parsed rows (higher = more member-like).

        `critic` is the raw D(x, y) (LOGAN white-box). `critic_calibrated` is Ji et al.'s LiRA
        statistic with its sign flipped: D(x, y) minus the mean critic score of `m` fakes of the
        same label, which removes the per-model, per-class offset of an unbounded critic. The
        fakes are drawn on the sampling stream `seed`, class s from rows s*m..(s+1)*m of one draw.
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

    def fake_critic_means(self, label: np.ndarray, m: int = 64, seed: int | None = None) -> np.ndarray:
        """The mean critic score of `m` fakes generated at one condition vector `label` (cond_dim
        values: a class's one-hot, or a mix of two), once per noise block of `critic_statistics`.

        Returns max(cond_dim, 1) means. Mean s averages m fakes drawn with exactly the noise that
        `critic_statistics(frame, m, seed)` gives class s's fakes (the same sampling stream, size
        and chunking), here all conditioned on `label`; at class s's one-hot it is the calibration
        term of class s. Fakes use the output heads the model trained with; both networks run in
        eval mode and no weight changes. Ji et al.'s mixed query calibrates with it."""
        self._check_fitted()
        cond_dim = self.encoder_.cond_dim
        label = np.asarray(label, dtype=np.float32)
        if label.shape != (cond_dim,):
            raise SynthguardError(f"label must hold {cond_dim} condition value(s), got shape {label.shape}")
        if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 1:
            raise SynthguardError(f"m must be a whole number of at least 1, got {m!r}")
        k = max(cond_dim, 1)
        n = k * int(m)
        cond = np.broadcast_to(label, (n, cond_dim)).copy()
        mode = self.config.head_mode(self._make_defense())
        fakes = np.empty((n, self.encoder_.dim), dtype=np.float32)
        state = None
        with _frozen(self.gan_.generator):
            for start in range(0, n, _SAMPLE_CHUNK):
                block, state = self._generator_block(torch.as_tensor(cond[start:start + _SAMPLE_CHUNK]), seed, mode,
                                                     state)
                fakes[start:start + len(block)] = block
        return self.critic_scores(fakes, cond).reshape(k, int(m)).mean(axis=1)

    @property
    def latent_dim(self) -> int:
        """Size of the generator's latent code z (the recipe's z_dim)."""
        return int(self.config.z_dim)

    def decode_latent(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """The generator's output for latent codes z (n, latent_dim) under condition vectors
        (n, cond_dim), through the soft (softmax) output heads, in encoded space. Differentiable
        in z, for searches of the latent space (GAN-Leaks' white-box reconstruction): the
        generator runs in eval mode with its weights frozen (no gradient reaches them), both
        restored after."""
        self._check_fitted()
        with _frozen(self.gan_.generator):
            return self.gan_.heads(self.gan_.generator(z, cond), "softmax")

    # ---- persistence -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write one `.sgm` model file (atomically). It holds the critic too: keep it internal."""
        write_model_file(path, *self._model_file_parts())

    def to_bytes(self) -> bytes:
        """The `.sgm` model file's bytes (what `save` writes): a worker sends a fitted model back
        this way, for the caller to store (`synthguard.rundir`)."""
        with tempfile.TemporaryDirectory(prefix="synthguard-model-") as folder:
            path = Path(folder) / "model.sgm"
            self.save(path)
            return path.read_bytes()

    def _model_file_parts(self) -> tuple[dict[str, Any], dict[str, bytes]]:
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
        return manifest, parts

    @classmethod
    def load(cls, path: str | Path, threads: int | None = None) -> Synthesizer:
        """Read a model file written by `save`; refuses foreign or altered files."""
        manifest, parts = read_model_file(path)
        expected = {"schema.yaml", "encoder.json", "generator.safetensors", "critic.safetensors"}
        if manifest.get("kind") not in KINDS.values() or set(parts) != expected:
            raise ModelFileError(f"{path}: not a synthguard model of a kind this version reads")
        epochs = manifest.get("params", {}).get("epochs") if isinstance(manifest.get("params"), dict) else None
        if isinstance(epochs, int) and epochs == 0 < cls.min_epochs:
            raise ModelFileError(f"{path}: an untrained model (0 epochs); fit it again with at least 1 epoch")
        try:
            schema = Schema.from_yaml(parts["schema.yaml"].decode())
            # a model trained on a GPU loads (and samples) on the CPU of a machine without one
            # a model saved before the generator's moving average existed was trained without one,
            # and a mixup model saved before mixed fakes existed with the paper's generated fakes
            params = {"ema": 0.0, **manifest["params"], "device": "cpu"}
            if params.get("defense") == "mixup" and "fakes" not in (params.get("defense_params") or {}):
                params["defense_params"] = {**(params.get("defense_params") or {}), "fakes": "generated"}
            synth = cls(schema, threads=threads, **params)
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


def _check_something_to_model(resolved: Schema, source: str | None = None) -> None:
    """Refuse a resolved schema that leaves no column to model (every one an id or sensitive):
    a model of nothing would still be written and sampled."""
    if resolved.modelled_columns:
        return
    where = f"{source}: " if source else ""
    raise SynthguardError(f"{where}nothing to model: every one of the {len(resolved.columns)} column(s) is an id "
                          "or sensitive in the schema (give at least one column a modelled type)")


@contextlib.contextmanager
def _frozen(*modules: torch.nn.Module) -> Iterator[None]:
    """Eval mode and no parameter gradients for a block, each module's previous state restored
    after. Eval mode matters beyond dropout: a train-mode forward pass moves batch-norm statistics."""
    saved = [(m, m.training, [p.requires_grad for p in m.parameters()]) for m in modules]
    for m in modules:
        m.eval()
        for p in m.parameters():
            p.requires_grad_(False)
    try:
        yield
    finally:
        for m, was_training, flags in saved:
            for p, flag in zip(m.parameters(), flags, strict=True):
                p.requires_grad_(flag)
            m.train(was_training)


def _copied(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in state.items()}


def _contiguous(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous() for k, v in state.items()}


__all__ = ["MAX_SEED", "Synthesizer", "check_seed"]
