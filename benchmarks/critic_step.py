"""The critic step as shipped against the step it replaced, timed in the same run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/critic_step.py [--table ofp] [--threads 1] [--rounds 15] \
        [--json out/critic_step.json]

The shipped step (`synthguard.gan.trainer.critic_step` with `trainer.adam`) scores the real and
the fake rows in one pass of the critic, takes the gradient penalty's input gradient as the
critic writes it out (`Critic.input_gradient`), and updates the critic with Adam's fused form.
The reference is the step before these: two passes (real, then fake), the input gradient by
autograd's double backward (the critic wrapped in a module that does not write it out), and
Adam's default per-parameter loop. Each change is also timed alone, so that its share shows, and
one later change is undone alone: `slopes as a tensor`, the written-out input gradient with each
LeakyReLU's slopes made into a tensor and multiplied in, where the shipped critic applies them by
torch's LeakyReLU backward kernel.
The networks, the encoded width and the batch are those of a bundled table's default recipe
(from a one-epoch fit); the rows are random. Each variant runs 50 steps per round after 5
warm-up steps, the variants interleaved, for `--rounds` rounds; the figure is the median over
rounds of the process's CPU time per step, so a busy machine slows every variant alike instead of
the one that happened to run beside the load (the 1-minute load average is printed too). Never
part of `make test`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

from _peers_common import json_path, machine, save_json

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--table", choices=("ofp", "medexp", "doctorcontacts"), default="ofp")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", type=json_path, default=None)
    args = parser.parse_args(argv)

    import torch
    from train_epoch import tensor_slopes_gradient

    from synthguard.gan.defenses import Defense
    from synthguard.gan.trainer import adam, batch_for, critic_step, gradient_penalty
    from synthguard.io import read_table
    from synthguard.schema import Schema
    from synthguard.synthesizer import Synthesizer

    torch.set_num_threads(args.threads)
    raw = read_table(ROOT / "synthguard" / "data" / f"{args.table}.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Synthesizer(Schema.load(ROOT / "schemas" / f"{args.table}.yaml"), epochs=1).fit(raw)
    config, enc = model.config, model.encoder_
    batch = batch_for(len(raw), config)
    gen, critic = model._network_factory()(enc.dim, enc.cond_dim, config)
    defense: Defense = model._make_defense()
    torch.manual_seed(0)
    real = torch.rand(batch, enc.dim)
    cond = torch.zeros(batch, enc.cond_dim)
    cond[:, 0] = 1.0
    rows = torch.arange(batch)

    class ViaAutograd(torch.nn.Module):
        """The same critic, without `input_gradient`: the penalty takes autograd's double backward."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = critic

        def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
            return self.inner(x, c)

    autograd_critic = ViaAutograd()

    class SlopesAsTensor(ViaAutograd):
        """The same critic, its input gradient written out with slope tensors (as before)."""

        def input_gradient(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
            return tensor_slopes_gradient(critic, x, c)

    slopes_critic = SlopesAsTensor()

    def two_passes(opt: torch.optim.Optimizer, fake: torch.Tensor) -> None:
        loss = defense.critic_loss(critic(real, cond), critic(fake, cond), rows, 0)
        loss = loss + config.gp_weight * gradient_penalty(autograd_critic, real, fake, cond)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def step(net: torch.nn.Module, opt: torch.optim.Optimizer) -> Any:
        return lambda fake: critic_step(net, opt, real, fake, cond, defense, rows, 0, config.gp_weight)

    looped = torch.optim.Adam(critic.parameters(), lr=config.lr, betas=config.betas,
                              weight_decay=config.weight_decay, foreach=False)
    fused = adam(critic, config)
    variants = {
        "before: two passes, autograd penalty, Adam loop": lambda fake: two_passes(looped, fake),
        "two passes, autograd penalty, fused Adam": lambda fake: two_passes(fused, fake),
        "one pass, autograd penalty, Adam loop": step(autograd_critic, looped),
        "one pass, written-out penalty, Adam loop": step(critic, looped),
        "one pass, autograd penalty, fused Adam": step(autograd_critic, fused),
        "shipped: one pass, written-out penalty, fused Adam": step(critic, fused),
        "shipped but slopes as a tensor": step(slopes_critic, fused),
    }
    per_step: dict[str, list[float]] = {name: [] for name in variants}
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for name, step in variants.items():
            with torch.no_grad():
                fake = torch.tanh(gen(torch.randn(batch, config.z_dim), cond))
            for _ in range(5):
                step(fake)
            started = time.process_time()
            for _ in range(50):
                step(fake)
            per_step[name].append((time.process_time() - started) / 50)
    load.append(os.getloadavg()[0])
    reference = statistics.median(per_step["before: two passes, autograd penalty, Adam loop"])
    print(f"{args.table}: critic step at batch {batch}, {enc.dim} encoded units, {enc.cond_dim} condition slots, "
          f"{args.threads} thread(s), defence {model.defense}; load {load[0]:.2f}-{load[1]:.2f}")
    report: dict[str, Any] = {"table": args.table, "batch": batch, "threads": args.threads, "load": load,
                              "machine": machine(), "variants": {}}
    for name, times in per_step.items():
        median = statistics.median(times)
        report["variants"][name] = {"ms_per_step": median * 1e3, "ratio_to_before": median / reference}
        print(f"  {name:<52} {median * 1e3:7.3f} ms/step (min {min(times) * 1e3:.3f})  {median / reference:5.2f} x before")
    save_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
