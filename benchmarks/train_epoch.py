"""Whole training epochs of a bundled table's default recipe: the trainer as shipped against the
same trainer with one change undone (or one trial made), timed in the same run.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/train_epoch.py [--table medexp] [--threads 2] \\
        [--rounds 7] [--epochs 6] [--variants NAME ...] [--json out/train_epoch.json]

Variants:
- `shipped`: the trainer as it is.
- `critic weight gradients in the generator step`: the generator's step with the critics' weights
  left in autograd (`trainer.frozen` replaced by a block that does nothing), as before it: its
  backward pass then also computes the critics' weight gradients, which their next step discards.
- `Adam's step by one direct call` (a trial, not shipped): each optimiser's step calls torch's
  fused Adam kernel itself, with the lists of parameters, gradients and moments kept from the
  first step, and `zero_grad` sets the gradients to None in a plain loop; the same arithmetic as
  `torch.optim.Adam(fused=True)` (checked here: the weights after a fit are equal to the bit),
  without its per-call grouping of tensors by device and type. It calls `torch._fused_adam_`, a
  private torch function, which is why it is a trial.
- `slopes as a tensor`: the gradient penalty's written-out input gradient
  (`Critic.input_gradient`) as it was before: each LeakyReLU's slopes made into a tensor (1 above
  zero, the leak at or below) and multiplied in, where the shipped critic calls torch's LeakyReLU
  backward kernel on the layer's input.
- `critic forward compiled` (a trial): the critic wrapped in `torch.compile` (inductor, which
  needs a C++ compiler). The gradient penalty's input gradient is written out
  (`Critic.input_gradient`), so no double backward goes through the compiled graph; a compiled
  forward rounds differently, so this variant's model is not compared with the shipped one, and
  its first epoch, which compiles, is left out like every fit's.

Every variant fits the table's seeded 80% split with the same seed; each fit is timed per epoch
over `--epochs` epochs after its first (the encoder's fit and the first epoch left out), in wall
seconds as the trainer measures each epoch (the process's CPU time would count every thread's,
and a matrix product on two threads takes about half its wall time), variants interleaved for
`--rounds` rounds, so a run must be alone on the machine; figures are medians over rounds,
with the ratio to `shipped`. Before timing, each variant's model is compared with the shipped
one: a variant that should train the same model and does not stops the run. Per variant also the
floating-point operations of one epoch in matrix products (`torch.utils.flop_counter`, a 1-epoch
fit under the counter, as `fit_speed.py` counts them) and how many times the epoch takes the time
those need at this machine's matrix-product rate, measured in the same run on a 500x256x256
product at the same thread count (the issue's target: 2x). Run it alone; the 1-minute load
average is printed. Never part of `make test`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _peers_common import json_path, machine, save_json

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def unfrozen(modules: Any) -> Iterator[None]:
    """Stands in for `trainer.frozen`: leaves the modules in autograd."""
    yield


def lean_adam_class() -> type:
    """The `Adam's step by one direct call` trial (see the module docstring)."""
    import torch

    class LeanAdam(torch.optim.Adam):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._lists: tuple[list[Any], ...] | None = None

        @torch.no_grad()
        def step(self, closure: Any = None) -> None:  # type: ignore[override]
            (group,) = self.param_groups
            params = [p for p in group["params"] if p.grad is not None]
            if self._lists is None or len(self._lists[0]) != len(params):
                super().step()  # the first step makes the moments and step counts, as torch does
                self._lists = (params, [self.state[p]["exp_avg"] for p in params],
                               [self.state[p]["exp_avg_sq"] for p in params], [self.state[p]["step"] for p in params])
                return
            params, exp_avgs, exp_avg_sqs, steps = self._lists
            beta1, beta2 = group["betas"]
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(params, [p.grad for p in params], exp_avgs, exp_avg_sqs, [], steps,
                               amsgrad=False, lr=group["lr"], beta1=beta1, beta2=beta2,
                               weight_decay=group["weight_decay"], eps=group["eps"], maximize=False,
                               grad_scale=None, found_inf=None)

        def zero_grad(self, set_to_none: bool = True) -> None:
            for p in self.param_groups[0]["params"]:
                p.grad = None

    return LeanAdam


def tensor_slopes_gradient(critic: Any, x: Any, cond: Any) -> Any:
    """`Critic.input_gradient` as it was before (the `slopes as a tensor` variant; also in
    benchmarks/critic_step.py): each LeakyReLU's slopes made into a tensor from the layer's output
    (1 above zero, the leak at or below) and multiplied in. The same values as the shipped route
    for a leak of at least 0."""
    import torch

    linears = [m for m in critic.body if isinstance(m, torch.nn.Linear)]
    slopes: list[Any] = []
    with torch.no_grad():
        h = torch.cat([x, cond], dim=1)
        for module in critic.body[:-1]:
            h = module(h)
            if isinstance(module, torch.nn.LeakyReLU):
                slopes.append(torch.where(h > 0, 1.0, module.negative_slope))
    grad = linears[-1].weight.expand(len(x), -1)
    for k in range(len(linears) - 2, -1, -1):
        weight = linears[k].weight if k else linears[0].weight[:, :x.shape[1]]
        grad = (grad * slopes[k]) @ weight
    return grad


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--table", choices=("ofp", "medexp", "doctorcontacts"), default="medexp")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=6, help="epochs timed per fit, after its first")
    parser.add_argument("--json", type=json_path, default=None)
    parser.add_argument("--variants", nargs="+", default=None, metavar="NAME",
                        help="time only these variants beside `shipped` (default: every one)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.epochs < 1 or args.threads < 1:
        raise SystemExit("--rounds, --epochs and --threads: each at least 1")

    import torch
    from fit_speed import GEMM, _gemm_flops_per_second, _GlobalOnly
    from torch.utils.flop_counter import FlopCounterMode

    from synthguard.gan import trainer
    from synthguard.gan.networks import Critic
    from synthguard.io import read_table
    from synthguard.schema import Schema
    from synthguard.synthesizer import Synthesizer

    torch.set_num_threads(args.threads)
    raw = read_table(ROOT / "synthguard" / "data" / f"{args.table}.csv")
    train = raw.sample(frac=0.8, random_state=0)
    schema = Schema.load(ROOT / "schemas" / f"{args.table}.yaml")
    lean = lean_adam_class()

    def lean_adam(module: Any, config: Any) -> Any:
        return lean(module.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay,
                    fused=True)

    class CompiledCritic(Synthesizer):
        def _network_factory(self) -> Any:
            base = super()._network_factory()

            def networks(data_dim: int, cond_dim: int, config: Any) -> tuple[Any, Any]:
                generator, critic = base(data_dim, cond_dim, config)
                return generator, torch.compile(critic)
            return networks

    class SlopesCritic(Critic):
        def input_gradient(self, x: Any, cond: Any) -> Any:
            return tensor_slopes_gradient(self, x, cond)

    class SlopesSynthesizer(Synthesizer):
        def _network_factory(self) -> Any:
            base = super()._network_factory()

            def networks(data_dim: int, cond_dim: int, config: Any) -> tuple[Any, Any]:
                generator, critic = base(data_dim, cond_dim, config)
                critic.__class__ = SlopesCritic  # the same weights, and no draw from the seeded stream
                return generator, critic
            return networks

    #: per variant, what it replaces in the trainer module, the Synthesizer class it fits, and
    #: whether it must train the shipped model to the bit
    variants: dict[str, tuple[dict[str, Any], Any, bool]] = {
        "shipped": ({}, Synthesizer, True),
        "critic weight gradients in the generator step": ({"frozen": unfrozen}, Synthesizer, True),
        "Adam's step by one direct call": ({"adam": lean_adam}, Synthesizer, True),
        "slopes as a tensor": ({}, SlopesSynthesizer, True),
        "critic forward compiled": ({}, CompiledCritic, False),
    }
    if args.variants:
        unknown = sorted(set(args.variants) - set(variants))
        if unknown:
            raise SystemExit(f"--variants: no variant {unknown[0]!r} (one of: {', '.join(variants)})")
        variants = {name: v for name, v in variants.items() if name == "shipped" or name in args.variants}

    def fit(variant: tuple[dict[str, Any], Any, bool], epochs: int, seconds: list[float] | None = None) -> Any:
        patches, synthesizer, _ = variant
        saved = {name: getattr(trainer, name) for name in patches}
        for name, value in patches.items():
            setattr(trainer, name, value)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return synthesizer(schema, epochs=epochs, seed=0, threads=args.threads).fit(
                    train, on_epoch=None if seconds is None else (lambda epoch, stats: seconds.append(stats["seconds"])))
        finally:
            for name, value in saved.items():
                setattr(trainer, name, value)

    def weights(model: Any) -> list[Any]:
        return [t.detach().clone() for t in (*model.gan_.generator.state_dict().values(),
                                             *model.gan_.critic.state_dict().values())]

    reference = weights(fit(variants["shipped"], 3))
    for name, variant in variants.items():
        if name != "shipped" and variant[2] and not all(torch.equal(a, b) for a, b in zip(reference, weights(fit(variant, 3)), strict=True)):
            raise SystemExit(f"{name}: a 3-epoch fit differs from the shipped trainer's; it is not the same training")

    def epoch_flops(variant: tuple[dict[str, Any], Any, bool]) -> float | None:
        counter = FlopCounterMode(display=False)
        counter.mod_tracker = _GlobalOnly()  # type: ignore[assignment]
        try:
            with counter:
                fit(variant, 1)
        except Exception:  # noqa: BLE001 - a compiled module the counter cannot trace: no figure
            return None
        return float(counter.get_total_flops())

    flops = {name: epoch_flops(variant) for name, variant in variants.items()}

    def epoch_seconds(variant: tuple[dict[str, Any], Any, bool]) -> float:
        seconds: list[float] = []
        fit(variant, args.epochs + 1, seconds)
        return sum(seconds[1:]) / args.epochs

    per: dict[str, list[float]] = {name: [] for name in variants}
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for name, variant in variants.items():
            per[name].append(epoch_seconds(variant))
    rate = _gemm_flops_per_second()
    load.append(os.getloadavg()[0])
    base = statistics.median(per["shipped"])
    print(f"{args.table}: {len(train)} training rows, {args.threads} thread(s), {args.rounds} rounds of "
          f"{args.epochs} epochs; {'x'.join(map(str, GEMM))} matmul {rate / 1e9:.1f} GFLOP/s; "
          f"load {load[0]:.2f}-{load[1]:.2f}")
    report: dict[str, Any] = {"table": args.table, "threads": args.threads, "rounds": args.rounds,
                              "epochs": args.epochs, "load": load, "gemm_flops_per_second": rate,
                              "gemm_shape": list(GEMM), "machine": machine(), "variants_asked": args.variants,
                              "variants": {}}
    for name, times in per.items():
        median, f = statistics.median(times), flops[name]
        bound = median / (f / rate) if f else None
        report["variants"][name] = {"ms_per_epoch": median * 1e3, "min_ms": min(times) * 1e3,
                                    "ratio_to_shipped": median / base, "same_model": variants[name][2],
                                    "epoch_flops": f, "times_matmul_bound": bound}
        print(f"  {name:<48} {median * 1e3:8.1f} ms/epoch (min {min(times) * 1e3:.1f})  {median / base:5.3f} x shipped"
              + (f"  {f / 1e9:.2f} GFLOP = {f / median / 1e9:.1f} GFLOP/s, {bound:.2f} x matmul bound" if f else ""))
    save_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
