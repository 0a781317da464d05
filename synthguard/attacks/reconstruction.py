"""GAN-Leaks reconstruction attacks (GAN-Leaks, Chen et al., CCS 2020: the white-box and partial
black-box settings), and their statistic for LiRA (Carlini et al. 2022) under the generator threat model.

A record the generator can reproduce closely was likely a member. The attacker looks for the
latent code that best reproduces the record under its own label c and takes the distance left:

    L(x, z) = mean((heads(G(z, c), "softmax") - x)^2) + lambda3 * (||z||^2 - z_dim)^2,  lambda3 = 1e-3

in the model's encoded space (no LPIPS term: tables have no perceptual metric; GAN-Leaks's objective
is lambda1 * L2 + lambda2 * LPIPS + lambda3 * the shell term, and here lambda2 = 0).
The second term keeps z on the Gaussian shell, where G was trained. The membership loss is the
first term at the z found; lower = more member-like.

Three ways to find z, by what the attacker holds:

* ``nn``      no search: the best of `n_init` generated samples (GAN-Leaks' `nn` initialisation;
              every other method starts from it)
* ``powell``  partial black-box: G can be queried but not differentiated; scipy's Powell per
              record, `maxiter` 10 by default as in the official `pbb_wgangp.py`
* ``lbfgs``   white-box: gradients of G; torch's L-BFGS over all records at once

All are pure functions of a fitted model, reached through its public primitives (the
`synthguard.attacks.access.LatentGenerator` protocol: `encode`, `latent_dim`, `decode_latent`).
`decode_latent` runs G in eval mode (so batch norm uses its running statistics and each row's
output depends only on its own z) with its weights frozen, so no weight changes.

Cost (measured with one torch thread on 2 CPU cores shared with other jobs, so upper bounds):
Powell makes about maxiter x z_dim line searches, one record at a time: 2,100 generator calls
per record at z_dim 16 (~1 s), 17,300 at the default z_dim 128 and 256x256 networks (32-37 s per
record, ~1 hour per 100 records). Keep it to a few dozen targets per model. L-BFGS batches all
records: ~0.1 s per 100 records on the tests' tiny networks, ~2 s per 100 at the defaults; `nn`
is a single batched pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.optimize import minimize

from ..gan.trainer import seeded_torch
from .registry import Attack, Scores, register_attack

#: weight of the z-norm prior term (GAN-Leaks' lambda3)
LAMBDA_Z = 1e-3
METHODS = ("lbfgs", "powell", "nn")
_DEFAULT_STEPS = {"lbfgs": 50, "powell": 10, "nn": 0}
_LBFGS_HISTORY = 20
#: rows x bank samples x dims held at once while choosing the nn initialisation
_INIT_BLOCK = 4_000_000


def reconstruction_loss(model: Any, frame: pd.DataFrame, *, method: str = "lbfgs", n_init: int = 16,
                        steps: int | None = None, seed: int = 0) -> np.ndarray:
    """GAN-Leaks membership loss of every row of a typed (parsed) frame; lower = more member-like.

    Args:
        model: a fitted `Synthesizer`, or anything with `encode`, `latent_dim` and
            `decode_latent` (`synthguard.attacks.access.LatentGenerator`).
        frame: parsed rows, as `Synthesizer.critic_statistics` takes them.
        method: `lbfgs` (white-box), `powell` (partial black-box) or `nn` (initialisation only).
        n_init: size of the shared bank of random codes the search starts from.
        steps: L-BFGS iterations (default 50) or Powell's `maxiter` (default 10).
        seed: seeds the code bank; use the same seed for every shadow model (LiRA compares one
            record's loss across models, so their searches must start alike).

    Note that `model.encode` samples each continuous value's mixture mode with a fixed seed over
    the frame, so a row is encoded the same way only within the same frame.
    """
    x, cond = model.encode(frame)
    return reconstruction_loss_encoded(model, x, cond, method=method, n_init=n_init, steps=steps, seed=seed)


def reconstruction_loss_encoded(model: Any, x: np.ndarray, cond: np.ndarray, *, method: str = "lbfgs",
                                n_init: int = 16, steps: int | None = None, seed: int = 0) -> np.ndarray:
    """`reconstruction_loss` on rows already in encoded space: x (n, dim), cond (n, cond_dim)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if n_init < 1:
        raise ValueError(f"n_init must be at least 1, got {n_init}")
    steps = _DEFAULT_STEPS[method] if steps is None else int(steps)
    if steps < 0:
        raise ValueError(f"steps must be non-negative, got {steps}")
    x_t = torch.as_tensor(np.asarray(x, dtype=np.float32))
    c_t = torch.as_tensor(np.asarray(cond, dtype=np.float32))
    if x_t.ndim != 2 or c_t.ndim != 2 or len(x_t) != len(c_t):
        raise ValueError("x and cond must be (n, dim) and (n, cond_dim) with the same n")
    if len(x_t) == 0:
        return np.zeros(0, dtype=np.float64)
    decode, z_dim = model.decode_latent, int(model.latent_dim)
    with seeded_torch(seed, getattr(model, "threads", None)):
        z = _nn_init(decode, x_t, c_t, z_dim, n_init, seed)
        if method == "lbfgs" and steps > 0:
            z = _lbfgs(decode, x_t, c_t, z, z_dim, steps)
        elif method == "powell" and steps > 0:
            z = _powell(decode, x_t, c_t, z, z_dim, steps)
        with torch.no_grad():
            l2, _ = _objective(decode, z, x_t, c_t, z_dim)
    return l2.numpy().astype(np.float64)


def log_reconstruction_statistic(loss: np.ndarray) -> np.ndarray:
    """-log(loss + 1e-8): higher = more member-like. The log brings the skewed, positive loss
    closer to the Gaussian that LiRA (Carlini et al. 2022) fits per record, under the generator threat
    model."""
    return -np.log(np.asarray(loss, dtype=np.float64) + 1e-8)


# ---- the objective and the searches ----------------------------------------------------------------
#: the model's `decode_latent`: codes z (n, z_dim) and conditions (n, cond_dim) to soft outputs
Decode = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _objective(decode: Decode, z: torch.Tensor, x: torch.Tensor, c: torch.Tensor, z_dim: int
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per record: (L2 part, full objective) for codes z (n, z_dim)."""
    fake = decode(z, c)
    l2 = ((fake - x) ** 2).mean(dim=1)
    prior = LAMBDA_Z * ((z**2).sum(dim=1) - z_dim) ** 2
    return l2, l2 + prior


def _nn_init(decode: Decode, x: torch.Tensor, c: torch.Tensor, z_dim: int, n_init: int, seed: int) -> torch.Tensor:
    """Per record, the code of the nearest (L2) generated sample among a shared bank of n_init
    codes, each decoded under the record's own label. The bank is shared so that a record's
    start does not depend on its position or on which other rows are attacked."""
    bank = torch.randn(n_init, z_dim, generator=torch.Generator().manual_seed(int(seed)))
    best = torch.empty(len(x), z_dim)
    if c.shape[1]:
        labels, inverse = torch.unique(c, dim=0, return_inverse=True)
    else:  # no condition column: every record has the one (empty) label
        labels, inverse = c.new_zeros((1, 0)), torch.zeros(len(x), dtype=torch.int64)
    with torch.no_grad():
        for k, label in enumerate(labels):
            rows = torch.nonzero(inverse == k).squeeze(1)
            fakes = decode(bank, label.expand(n_init, -1))
            block = max(1, _INIT_BLOCK // (n_init * max(x.shape[1], 1)))
            for start in range(0, len(rows), block):
                part = rows[start:start + block]
                dist = ((x[part, None, :] - fakes[None, :, :]) ** 2).mean(dim=2)
                best[part] = bank[dist.argmin(dim=1)]
    return best


def _lbfgs(decode: Decode, x: torch.Tensor, c: torch.Tensor, z0: torch.Tensor, z_dim: int, steps: int) -> torch.Tensor:
    """White-box search: one L-BFGS over the codes of all records together.

    Record i's loss depends only on z_i (eval-mode G is row-wise), so the summed objective
    separates and its minimiser is every record's own minimiser. The iterates do not separate:
    the line search step and the curvature history are shared, so with a fixed budget a record's
    result depends slightly on the batch, and one record can get worse while the sum improves.
    Hence each record keeps the better (full objective) of its start and its end."""
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([z], lr=1.0, max_iter=steps, max_eval=2 * steps, history_size=_LBFGS_HISTORY,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        loss = _objective(decode, z, x, c, z_dim)[1].sum()
        loss.backward()
        return loss

    try:
        opt.step(closure)
    except IndexError:
        # torch's strong-Wolfe search can fail to bracket on a flat or degenerate objective (an
        # untrained or collapsed generator); the codes reached so far are still valid
        pass
    with torch.no_grad():
        end = z.detach()
        start_total = _objective(decode, z0, x, c, z_dim)[1]
        end_total = _objective(decode, end, x, c, z_dim)[1]
        better = torch.isfinite(end_total) & (end_total < start_total)  # a NaN end keeps the start
        return torch.where(better[:, None], end, z0)


def _powell(decode: Decode, x: torch.Tensor, c: torch.Tensor, z0: torch.Tensor, z_dim: int, steps: int) -> torch.Tensor:
    """Partial black-box search: Powell's derivative-free method, one record at a time, querying
    G without gradients. Cost: about steps x z_dim line searches per record."""
    out = z0.clone()
    for i in range(len(x)):
        xi, ci = x[i:i + 1], c[i:i + 1]

        def total(z: np.ndarray, xi: torch.Tensor = xi, ci: torch.Tensor = ci) -> float:
            with torch.no_grad():
                zt = torch.as_tensor(z, dtype=torch.float32).reshape(1, z_dim)
                return float(_objective(decode, zt, xi, ci, z_dim)[1])

        result = minimize(total, z0[i].numpy().astype(np.float64), method="Powell", options={"maxiter": steps})
        # Powell never ends above its start, but the float64 search runs on a float32 objective
        if np.all(np.isfinite(result.x)) and result.fun <= total(z0[i].numpy()):
            out[i] = torch.as_tensor(result.x, dtype=torch.float32)
    return out


__all__ = ["LAMBDA_Z", "METHODS", "log_reconstruction_statistic", "reconstruction_loss",
           "reconstruction_loss_encoded"]


register_attack(Attack("ganleaks_wb", "ganleaks", "generator", "GAN-Leaks white-box: -reconstruction loss (L-BFGS "
                       "over z)", ("reconstruction",), lambda data: Scores(-data.stats["reconstruction"], data.membership)))
