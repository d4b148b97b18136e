#!/usr/bin/env python
"""CPU speed of the separator: network forward, every clusterer, and the whole ``separate`` call.

For one 10-second 8 kHz mixture (synthetic and seeded, or cut from ``--wav``) it times

* the forward pass of each embedding net at the **full paper configurations** (4 x 600 BLSTM
  as in DANet/ADANet, 4 x 600 BGRU as in the BGRU+GMM DANet, 13-layer dilated CNN, K = 20) and
  of every checkpoint given with ``--checkpoint`` (default: ``checkpoints/*.pt`` if any);
* each clusterer on that model's embeddings of the mixture (the network is not rerun);
* the whole :func:`sepviz.separate.separate` call (load + STFT + network + clusterer + iSTFT);

each as the median of ``--repeats`` runs after one warm-up run, with the real-time factor
(processing seconds per second of audio; below 1 is faster than real time) and the parameter
count.  The paper-config nets are randomly initialised (speed does not depend on the weights);
they get 6 anchors and random fixed attractors so that every clusterer can run.
The threads are left at torch's default unless ``--threads`` is given.  Prints a
markdown table (median and, in brackets, fastest run); ``--json FILE`` also writes the numbers.

Timings are only meaningful on an otherwise idle machine: when another process keeps a core busy,
torch's default threads (one per core) wait on each other at every op, and the recurrent nets,
which run thousands of small sequential ops, can slow down 10x or more and vary run to run.  The
load average is printed with the table for that reason.

    python scripts/benchmark.py                       # paper configs + checkpoints/*.pt
    python scripts/benchmark.py --checkpoint a.pt --no-paper --repeats 5 --json bench.json
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sepviz.audio import load_audio  # noqa: E402
from sepviz.checkpoint import build_danet, load_checkpoint  # noqa: E402
from sepviz.clusterers import available_clusterers  # noqa: E402
from sepviz.danet import DANetConfig  # noqa: E402
from sepviz.errors import CheckpointError  # noqa: E402
from sepviz.features import StftConfig, log_magnitude_features, stft  # noqa: E402
from sepviz.models import count_parameters  # noqa: E402
from sepviz.separate import embed, separate, separate_embedding  # noqa: E402
from sepviz.threads import limit_threads  # noqa: E402

SR = 8000
PAPER_CONFIGS = {
    "blstm": dict(hidden=600, layers=4, emb_dim=20),        # DANet / ADANet (Chen et al. 2017, Luo et al. 2018)
    "bgru": dict(hidden=600, layers=4, emb_dim=20),         # BGRU+GMM DANet
    "dilated_cnn": dict(channels=128, layers=13, emb_dim=20),
}
PAPER_ANCHORS = 6  # ADANet uses 6 anchors


# --------------------------------------------------------------------------- the mixture


def _talker(seconds: float, sr: int, rng: np.random.Generator, f0: float) -> np.ndarray:
    """Speech-like source: harmonics of a drifting pitch, syllable-rate envelope, noisy onsets."""
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    contour = f0 * (1 + 0.15 * np.sin(2 * math.pi * rng.uniform(0.2, 0.5) * t + rng.uniform(0, 6.3))
                    + 0.05 * np.sin(2 * math.pi * rng.uniform(3, 6) * t))
    phase = 2 * math.pi * np.cumsum(contour) / sr
    voiced = sum(np.sin(h * phase + rng.uniform(0, 6.3)) / h ** 0.8 for h in range(1, 25)
                 if h * f0 * 1.2 < sr / 2)
    syll = rng.uniform(3.0, 5.0)
    env = np.clip(np.sin(2 * math.pi * syll * t + rng.uniform(0, 6.3)), 0, None) ** 0.7
    env *= (np.sin(2 * math.pi * 0.3 * t + rng.uniform(0, 6.3)) > -0.6)  # pauses between phrases
    noise = np.convolve(rng.standard_normal(n), np.ones(4) / 4, mode="same")
    frication = noise * np.clip(np.sin(2 * math.pi * syll * t + 2.0), 0, None) ** 4
    x = voiced / np.max(np.abs(voiced)) * env + 0.3 * frication
    return (x / np.sqrt(np.mean(x ** 2)) * 0.1).astype(np.float32)


def make_mixture(seconds: float, seed: int, wav: str | None) -> tuple[np.ndarray, np.ndarray | None, str]:
    """``(mixture, sources or None, description)`` at 8 kHz, exactly ``seconds`` long."""
    n = int(round(seconds * SR))
    if wav:
        wave, _ = load_audio(wav, target_sr=SR, max_seconds=None)
        reps = int(math.ceil(n / len(wave)))
        return np.tile(wave, reps)[:n], None, f"{Path(wav).name} (cut/looped to {seconds:g} s)"
    rng = np.random.default_rng(seed)
    src = np.stack([_talker(seconds, SR, rng, 110.0), _talker(seconds, SR, rng, 210.0)])
    mix = src.sum(0)
    peak = float(np.max(np.abs(mix)))
    if peak > 0.9:
        mix, src = mix / peak * 0.9, src / peak * 0.9
    return mix.astype(np.float32), src.astype(np.float32), f"synthetic 2-talker mixture (seed {seed})"


# --------------------------------------------------------------------------- timing


def run_times(fn, repeats: int, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def paper_model(name: str):
    torch.manual_seed(0)
    model = build_danet(DANetConfig(model=name, model_kwargs=dict(PAPER_CONFIGS[name]), n_anchors=PAPER_ANCHORS)).eval()
    with torch.no_grad():
        model.fixed_attractors.copy_(torch.randn_like(model.fixed_attractors))
    model.card = {"name": f"paper {name}", "config": model.config.to_dict()}
    return model


def bench_model(label: str, model, mix: np.ndarray, sources, args) -> dict:
    seconds = len(mix) / SR
    cfg = StftConfig.from_dict(model.config.stft) if model.config.stft else StftConfig()
    with torch.inference_mode():
        feats = log_magnitude_features(stft(torch.from_numpy(mix), cfg).abs()).unsqueeze(0)
        param = next(model.parameters())
        feats = feats.to(param.device, param.dtype)

        def forward():
            model(feats)

        fwd_times = run_times(forward, args.repeats)
    t_fwd = statistics.median(fwd_times)
    print(f"  forward {t_fwd:.3f} s (min {min(fwd_times):.3f})", file=sys.stderr, flush=True)
    emb = embed((mix, SR), None, model)
    names = [c for c in available_clusterers(model, has_references=sources is not None) if c in args.clusterers]
    cluster = {}
    for c in names:
        refs = list(sources) if c == "oracle" else None
        timings = []

        def run_one():
            timings.append(separate_embedding(emb, c, 2, references=refs).timings["cluster"])

        run_times(run_one, args.repeats)
        cluster[c] = statistics.median(timings[1:])  # the clusterer alone (not masks + iSTFT)
        print(f"  {c} {cluster[c]:.3f} s", file=sys.stderr, flush=True)
    sep_clusterer = args.separate_clusterer if args.separate_clusterer in names else "kmeans"
    sep_times = run_times(lambda: separate((mix, SR), None, model, sep_clusterer, 2), args.repeats)
    t_sep = statistics.median(sep_times)
    print(f"  separate {t_sep:.3f} s (min {min(sep_times):.3f})", file=sys.stderr, flush=True)
    cfg_d = model.config
    return {
        "label": label, "model": cfg_d.model, "model_kwargs": dict(cfg_d.model_kwargs), "objective": cfg_d.objective,
        "parameters": count_parameters(model), "frames": int(feats.shape[1]),
        "forward_s": t_fwd, "forward_rtf": t_fwd / seconds, "forward_min_s": min(fwd_times),
        "cluster_s": cluster, "separate_clusterer": sep_clusterer,
        "separate_s": t_sep, "separate_rtf": t_sep / seconds, "separate_min_s": min(sep_times),
    }


# --------------------------------------------------------------------------- report


def markdown(res: dict) -> str:
    rows = res["results"]
    load = res.get("load_average")
    out = [f"Benchmark: {res['audio']}, {res['seconds']:g} s at 8 kHz; {res['machine']}; "
           f"torch {res['torch']} with {res['threads']} thread{'s' if res['threads'] != 1 else ''}; median of {res['repeats']} runs after 1 warm-up"
           + (f"; load average {load[0]:.1f} before / {load[1]:.1f} after (other processes share the CPUs "
              f"when these exceed the CPU count)" if load else "") + ".", "",
           "| model | config | params | forward (s) [min] | forward RTF | separate (s) [min] | separate RTF |",
           "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        kw = ", ".join(f"{k}={v}" for k, v in r["model_kwargs"].items())
        out.append(f"| {r['label']} | {r['model']} ({kw}) | {r['parameters'] / 1e6:.2f} M | "
                   f"{r['forward_s']:.3f} [{r['forward_min_s']:.3f}] | {r['forward_rtf']:.3f} | "
                   f"{r['separate_s']:.3f} [{r['separate_min_s']:.3f}] ({r['separate_clusterer']}) | "
                   f"{r['separate_rtf']:.3f} |")
    clusterers = list(dict.fromkeys(c for r in rows for c in r["cluster_s"]))
    if clusterers:
        out += ["", "Clusterer time in seconds on each model's embeddings of the same mixture "
                    "(attractors + assignment, without masks/iSTFT):", "",
                "| model | " + " | ".join(clusterers) + " |", "|---|" + "---:|" * len(clusterers)]
        for r in rows:
            cells = [f"{r['cluster_s'][c]:.3f}" if c in r["cluster_s"] else "-" for c in clusterers]
            out.append(f"| {r['label']} | " + " | ".join(cells) + " |")
    out += ["", "RTF = processing time / audio duration (below 1: faster than real time)."]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wav", help="use this recording (cut or looped to --seconds) instead of the synthetic mixture")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--checkpoint", nargs="*", default=None,
                    help="checkpoints to time as well (default: checkpoints/*.pt if present)")
    ap.add_argument("--no-paper", action="store_true", help="skip the paper-config networks")
    ap.add_argument("--models", nargs="+", default=list(PAPER_CONFIGS), choices=list(PAPER_CONFIGS))
    ap.add_argument("--clusterers", nargs="+", default=["kmeans", "gmm", "gmm_tied", "soft_kmeans", "fixed", "anchors", "head", "oracle"])
    ap.add_argument("--separate-clusterer", default="kmeans", help="clusterer for the whole-separate timing")
    ap.add_argument("--threads", type=int, default=None,
                    help="N torch and BLAS threads (sepviz.threads.limit_threads); default: leave torch's default (all cores). On a shared "
                         "machine, fewer threads than free cores avoids OpenMP stragglers")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)
    if args.threads:
        limit_threads(args.threads)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")

    mix, sources, desc = make_mixture(args.seconds, args.seed, args.wav)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    explicit = args.checkpoint is not None
    ckpts = args.checkpoint if explicit else sorted(
        p for p in glob.glob(str(ROOT / "checkpoints" / "*.pt")) if not p.endswith(".state.pt"))  # trainer states
    todo = [] if args.no_paper else [(f"paper {m}", lambda m=m: paper_model(m)) for m in args.models]
    todo += [(Path(c).stem, lambda c=c: load_checkpoint(c)) for c in ckpts]
    results = []
    for label, build in todo:
        print(f"timing {label} ...", file=sys.stderr, flush=True)
        try:
            model = build()
        except CheckpointError as exc:
            if explicit:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            print(f"  skipped: {exc}", file=sys.stderr, flush=True)
            continue
        results.append(bench_model(label, model, mix, sources, args))
        del model
    res = {"audio": desc, "seconds": args.seconds, "repeats": args.repeats, "threads": torch.get_num_threads(),
           "torch": torch.__version__, "cpu_count": os.cpu_count(),
           "machine": f"{platform.machine()} {platform.processor() or ''} ({os.cpu_count()} CPUs)".replace("  ", " "),
           "load_average": None if load_before is None else [load_before, os.getloadavg()[0]],
           "results": results}
    print(markdown(res))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
