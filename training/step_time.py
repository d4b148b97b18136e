"""Parameters and training time per step, BLSTM vs BGRU (and the dilated CNN), side by side.

    python -m training.step_time --batch 4 --frames 100 --steps 5

The BGRU+GMM DANet paper reports ~21 % fewer parameters and ~18 % faster training for BGRU.
Prints a markdown table; run it on an otherwise idle machine (the numbers are wall-clock).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from sepviz.checkpoint import build_danet
from sepviz.danet import DANetConfig
from sepviz.models import count_parameters

from .objectives import batch_loss, make_batch
from sepviz.features import StftConfig

CONFIGS = [
    ("blstm", {"hidden": 600, "layers": 4}, "paper"),
    ("bgru", {"hidden": 600, "layers": 4}, "paper"),
    ("dilated_cnn", {"channels": 128, "layers": 13}, "paper"),
    ("blstm", {"hidden": 256, "layers": 2}, "cpu"),
    ("bgru", {"hidden": 256, "layers": 2}, "cpu"),
    ("dilated_cnn", {"channels": 24, "layers": 13}, "cpu"),
]


def time_steps(model_name: str, kwargs: dict, batch: int, frames: int, steps: int) -> tuple[int, float]:
    torch.manual_seed(0)
    model = build_danet(DANetConfig(model=model_name, model_kwargs=kwargs))
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    samples = frames * 64
    t = torch.arange(samples) / 8000
    src = torch.stack([torch.stack([torch.sin(2 * torch.pi * f * t) for f in (150.0 + 10 * b, 330.0)]) for b in range(batch)])
    b = make_batch(src.sum(1), src, StftConfig(), 0.9)
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        loss, _ = batch_loss(model, b)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:  # first step is warm-up
            times.append(time.perf_counter() - t0)
    return count_parameters(model), statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--steps", type=int, default=5)
    a = ap.parse_args(argv)
    print(f"training step (forward + backward + Adam), batch {a.batch} x {a.frames} frames, "
          f"{torch.get_num_threads()} torch threads, median of {a.steps}")
    print("| config | net | parameters | s / step |\n|---|---|---|---|")
    rows = {}
    for name, kw, tag in CONFIGS:
        n, s = time_steps(name, kw, a.batch, a.frames, a.steps)
        rows[(name, tag)] = (n, s)
        print(f"| {tag} | {name} {kw} | {n / 1e6:.2f} M | {s:.3f} |", flush=True)
    for tag in ("paper", "cpu"):
        (nl, sl), (ng, sg) = rows[("blstm", tag)], rows[("bgru", tag)]
        speed = f"{100 * (1 - sg / sl):.0f} % faster" if sg < sl else f"{100 * (sg / sl - 1):.0f} % slower"
        print(f"\n{tag}: BGRU has {100 * (1 - ng / nl):.0f} % fewer parameters; its training step is {speed} than BLSTM's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
