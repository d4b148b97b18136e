#!/usr/bin/env python
"""Parallel speed-ups: ``sepviz evaluate --jobs N`` against ``--jobs 1``, and DDP training steps.

``evaluate``: scores the first ``--n`` mixtures of ``--data`` with ``--checkpoint`` twice, as
``python -m sepviz --threads 1 evaluate ... --jobs 1`` and ``--jobs J`` (each a fresh process, so
the wall time includes starting Python, torch and the workers), checks that the two JSON results
are the same apart from their timing fields, and prints both wall times and the speed-up.
Without ``--checkpoint``/``--data`` it makes a tiny random model and ``--n`` synthetic tone
mixtures in a temporary folder (a smoke test of the machinery, not of a real model's cost).

``ddp``: for each process count P of ``--procs``, ``torchrun --standalone --nproc_per_node=P``
runs this script's ``ddp-worker`` mode, which builds the trainer on a synthetic precomputed
folder (data.corpus = "wsj0mix"), trains one warm-up epoch and times the next; each process has
one thread.  Prints updates and mixtures per second (the batch of ``--batch`` is split over the
processes, so every update does the same work) and the speed-up over the first count.

On a CPU whose cores are busy with other work neither number means much: the script prints the
load average with them.

    python scripts/benchmark_jobs.py evaluate --checkpoint checkpoints/default.pt --data data/mix/synth2_test --n 40
    python scripts/benchmark_jobs.py ddp --procs 1 2 --hidden 256 --layers 2
    python scripts/benchmark_jobs.py all                 # both, on the tiny synthetic case
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from sepviz.threads import limit_threads, single_thread_env  # noqa: E402
SR = 8000


def _env() -> dict:
    return single_thread_env(dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")))


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def write_tone_folder(root: Path, n: int, seconds: float = 2.0, seed: int = 0) -> Path:
    """``n`` 2-talker mixtures in the wsj0-2mix layout: harmonic tones of random pitch and
    amplitude wobble, every other second talker noise bursts (float32 WAV, mix = s1 + s2)."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    for d in ("mix", "s1", "s2"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for m in range(n):
        src = []
        for c in range(2):
            if c == 1 and m % 2:
                x = rng.standard_normal(len(t)) * (np.sin(2 * math.pi * rng.uniform(1, 4) * t) > 0)
            else:
                f0 = rng.uniform(90, 400)
                x = sum(np.sin(2 * math.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in range(1, 6))
                x *= 0.75 + 0.25 * np.sin(2 * math.pi * rng.uniform(1, 3) * t)
            src.append(0.3 * x / np.max(np.abs(x)))
        src = np.stack(src).astype(np.float32)
        name = f"m{m:03d}.wav"
        sf.write(str(root / "mix" / name), src.sum(0), SR, subtype="FLOAT")
        for c in range(2):
            sf.write(str(root / f"s{c + 1}" / name), src[c], SR, subtype="FLOAT")
    return root


def tiny_checkpoint(path: Path) -> Path:
    import torch

    from sepviz.checkpoint import build_danet, save_checkpoint
    from sepviz.danet import DANetConfig

    torch.manual_seed(0)
    model = build_danet(DANetConfig(model="blstm", model_kwargs={"hidden": 16, "layers": 1})).eval()
    with torch.no_grad():
        model.fixed_attractors.copy_(torch.randn_like(model.fixed_attractors))
    return save_checkpoint(path, model, training={"steps": 0, "note": "random tiny benchmark model"})


# --------------------------------------------------------------------------- evaluate --jobs


def _evaluate(ckpt: Path, data: Path, n: int, jobs: int, extra: list[str]) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "sepviz", "--threads", "1", "evaluate", "--checkpoint", str(ckpt), "--data",
           str(data), "--limit", str(n), "--jobs", str(jobs), *extra]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=_env())
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"evaluate --jobs {jobs} failed: {r.stderr.strip().splitlines()[-1:]}")
    return wall, json.loads(r.stdout.strip().splitlines()[-1])


def _without_timings(result: dict) -> dict:
    return {**result, "extra": {k: v for k, v in result["extra"].items() if not k.startswith("seconds")}}


def bench_evaluate(a, tmp: Path) -> dict:
    ckpt = Path(a.checkpoint) if a.checkpoint else tiny_checkpoint(tmp / "tiny.pt")
    data = Path(a.data) if a.data else write_tone_folder(tmp / "mixtures", a.n)
    extra = [] if a.pesq else ["--no-pesq"]
    if a.clusterer:
        extra += ["--clusterer", *a.clusterer]
    print(f"evaluate: {ckpt} on the first {a.n} mixtures of {data} ({_load()})", flush=True)
    one_s, one = _evaluate(ckpt, data, a.n, 1, extra)
    many_s, many = _evaluate(ckpt, data, a.n, a.jobs, extra)
    same = _without_timings(one) == _without_timings(many)
    print(f"  --jobs 1: {one_s:.1f} s wall ({one['extra']['seconds']:.1f} s inside evaluate)")
    print(f"  --jobs {a.jobs}: {many_s:.1f} s wall ({many['extra']['seconds']:.1f} s inside evaluate)")
    print(f"  speed-up {one_s / many_s:.2f}x; results identical apart from timings: {'yes' if same else 'NO'}",
          flush=True)
    return {"n": one["n"], "jobs": a.jobs, "seconds_jobs_1": one_s, f"seconds_jobs_{a.jobs}": many_s,
            "speedup": one_s / many_s, "identical": same, "load": os.getloadavg()[0]}


# --------------------------------------------------------------------------- DDP steps


def ddp_worker(argv: list[str]) -> int:
    """One torchrun process: train one warm-up epoch, time the next; rank 0 writes the numbers."""
    from training import distributed
    from training.config import DataConfig, ScheduleConfig, TrainConfig
    from training.train import build_datasets
    from training.trainer import Trainer

    ap = argparse.ArgumentParser()
    for name, kind in (("--root", str), ("--out", str), ("--hidden", int), ("--layers", int), ("--batch", int),
                       ("--frames", int)):
        ap.add_argument(name, type=kind, required=True)
    a = ap.parse_args(argv)
    limit_threads(1)
    ctx, device = distributed.setup("cpu")
    cfg = TrainConfig(name="ddp_benchmark", model="blstm", model_kwargs={"hidden": a.hidden, "layers": a.layers},
                      schedule=ScheduleConfig(batch_size=a.batch, curriculum=[[a.frames, 2]]),
                      data=DataConfig(corpus="wsj0mix", root=a.root, valid_items=2))
    train, valid, summary = build_datasets(cfg)
    trainer = Trainer(cfg, Path(a.out).with_suffix(f".rank{ctx.rank}.pt"), train, valid, device=device, dist=ctx,
                      data_summary=summary)
    trainer.train_epoch(a.frames)  # warm-up: first-call allocations, file cache
    trainer.global_epoch = 1
    steps = trainer.steps
    t0 = time.perf_counter()
    trainer.train_epoch(a.frames)
    distributed.sum_over_ranks([0.0], ctx, trainer.device)  # every rank has finished its updates
    seconds = time.perf_counter() - t0
    if ctx.is_main:
        updates = trainer.steps - steps
        Path(a.out).write_text(json.dumps({"procs": ctx.world_size, "updates": updates, "seconds": seconds,
                                           "updates_per_s": updates / seconds,
                                           "mixtures_per_s": updates * a.batch / seconds}))
    distributed.shutdown(ctx)
    return 0


def bench_ddp(a, tmp: Path) -> list[dict]:
    root = tmp / "ddp_corpus"
    n = a.batch * a.updates
    write_tone_folder(root / "tr", n, seconds=max(2.0, a.frames * 64 / SR + 0.1))
    write_tone_folder(root / "cv", 2, seed=1)
    print(f"DDP: BLSTM {a.layers} x {a.hidden}, batch {a.batch} of {a.frames}-frame chunks, {a.updates} timed "
          f"updates, one thread per process ({_load()})", flush=True)
    rows = []
    for p in a.procs:
        out = tmp / f"ddp{p}.json"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={p}",
               str(Path(__file__).resolve()), "ddp-worker", "--root", str(root), "--out", str(out), "--hidden",
               str(a.hidden), "--layers", str(a.layers), "--batch", str(a.batch), "--frames", str(a.frames)]
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=_env())
        if r.returncode != 0:
            raise SystemExit(f"DDP with {p} processes failed:\n{r.stderr[-2000:]}")
        rows.append(json.loads(out.read_text()))
        base = rows[0]["updates_per_s"]
        row = rows[-1]
        print(f"  {p} process{'es' if p > 1 else ''}: {row['updates_per_s']:.2f} updates/s, "
              f"{row['mixtures_per_s']:.1f} mixtures/s ({row['updates']} updates in {row['seconds']:.1f} s); "
              f"speed-up {row['updates_per_s'] / base:.2f}x over {a.procs[0]}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["ddp-worker"]:
        return ddp_worker(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["evaluate", "ddp", "all"])
    ap.add_argument("--checkpoint", help="evaluate: a checkpoint (default: a tiny random one)")
    ap.add_argument("--data", help="evaluate: a wsj0-2mix style folder (default: synthetic tone mixtures)")
    ap.add_argument("--n", type=int, default=40, help="evaluate: mixtures (default: 40)")
    ap.add_argument("--jobs", type=int, default=2, help="evaluate: worker processes against one (default: 2)")
    ap.add_argument("--clusterer", nargs="+", help="evaluate: clusterers (default: all the model can run)")
    ap.add_argument("--no-pesq", dest="pesq", action="store_false", help="evaluate: skip PESQ")
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 2], help="ddp: process counts (default: 1 2)")
    ap.add_argument("--hidden", type=int, default=32, help="ddp: BLSTM width (the cpu profiles: 256)")
    ap.add_argument("--layers", type=int, default=1, help="ddp: BLSTM layers (the cpu profiles: 2)")
    ap.add_argument("--batch", type=int, default=8, help="ddp: global batch per update (default: 8)")
    ap.add_argument("--frames", type=int, default=100, help="ddp: chunk length in frames (default: 100)")
    ap.add_argument("--updates", type=int, default=4, help="ddp: timed updates (default: 4)")
    ap.add_argument("--json", help="also write the numbers to this file")
    a = ap.parse_args(argv)
    if a.n < 1 or a.jobs < 2 or min(a.procs) < 1 or a.updates < 1:
        ap.error("--n and --updates must be at least 1, --jobs at least 2, --procs at least 1")
    if any(a.batch % p for p in a.procs):
        ap.error(f"--batch {a.batch} must split over every process count {a.procs}")
    results = {}
    with tempfile.TemporaryDirectory(prefix="sepviz_bench_") as tmp:
        if a.what in ("evaluate", "all"):
            results["evaluate"] = bench_evaluate(a, Path(tmp))
        if a.what in ("ddp", "all"):
            results["ddp"] = bench_ddp(a, Path(tmp))
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
