#!/usr/bin/env python
"""Time the studio's handlers as a user meets them: what the status line of the app reports.

Builds the same :class:`app.Studio` the web app serves (no browser, no HTTP) and times, on one
mixture (default: a bundled example, looped to ``--seconds``):

* **first separate**: a new upload: audio loading, network, clustering, masks, iSTFT, metrics
  against the references and the three figures with a PCA projection;
* **re-cluster**: the same audio with the GMM (the embeddings come from the cache);
* **UMAP 2D**: the same audio and clusterer with the UMAP projection on the default 3,000 bins (after
  the numba JIT warm-up, timed on its own: it happens once per server start, in the background);
* **compare**: the Compare tab with k-means, GMM and soft k-means side by side on new audio
  (network included).

Each row is the median of ``--repeats`` rounds; every round uses slightly rescaled audio, so the
caches (keyed by content) cannot answer the first call of a kind.  Like every timing, only meaningful on an idle machine.

    python scripts/benchmark_app.py --threads 1          # the app's default thread setting
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from sepviz.threads import limit_threads  # noqa: E402


def _looped(src: Path, seconds: float, out: Path) -> Path:
    wave, sr = sf.read(str(src), dtype="float32")
    n = int(seconds * sr)
    sf.write(str(out), np.resize(wave, n) if wave.ndim == 1 else np.resize(wave, (n, wave.shape[1])), sr)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--example", default="synth_2talker_1", help="folder under examples/ (mix.wav, s1.wav, s2.wav)")
    ap.add_argument("--seconds", type=float, default=10.0, help="loop the mixture (and references) to this length")
    ap.add_argument("--checkpoints", default=str(REPO / "checkpoints"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch/BLAS threads, as app.py --threads (default 1)")
    args = ap.parse_args(argv)

    import torch

    if args.threads > 0:
        limit_threads(args.threads)
    import app

    tmp = Path(tempfile.mkdtemp(prefix="sepviz-bench-"))
    studio = app.Studio(args.checkpoints, include_fsdd=False, read_dirs=[tmp])  # it reads its looped copies
    if not studio.models:
        shutil.rmtree(tmp, ignore_errors=True)
        print(studio.no_models_message(), file=sys.stderr)
        return 2
    model = studio.default_model
    ex = REPO / "examples" / args.example
    try:
        refs = [str(_looped(p, args.seconds, tmp / p.name)) for p in sorted(ex.glob("s[0-9].wav"))]
        refs += [None] * (3 - len(refs))
        mix = _looped(ex / "mix.wav", args.seconds, tmp / "mix.wav")
        n = str(sum(r is not None for r in refs))

        def run(audio, clusterer="kmeans", projection="PCA 2D"):
            return studio.separate(str(audio), *refs, model, clusterer, n, 10, projection, "assigned speaker",
                                   None, None, None, None, progress=None)

        wave, sr = sf.read(str(mix), dtype="float32")
        uploads = iter(range(10_000))

        def fresh() -> Path:  # the caches are keyed by content: rescale the samples for a new "upload"
            i = next(uploads)
            path = tmp / f"upload{i}.wav"
            sf.write(str(path), wave * (1.0 - 0.005 * (i + 1)), sr)
            return path

        run(fresh())  # first forward pass of the process (allocator, kernels) is not what users wait for
        t = time.perf_counter()
        studio.warm_up(umap=True)
        warm = time.perf_counter() - t
        times: dict[str, list[float]] = {}

        def timed(name, fn):
            t = time.perf_counter()
            fn()
            times.setdefault(name, []).append(time.perf_counter() - t)

        for _ in range(args.repeats):
            audio = fresh()
            timed("first separate (PCA 2D, k-means, metrics)", lambda: run(audio))
            timed("re-cluster with GMM (cached embeddings)", lambda: run(audio, "gmm"))
            timed("switch to UMAP 2D (cached clustering)", lambda: run(audio, "gmm", "UMAP 2D"))
            other = fresh()
            timed("compare k-means / GMM / soft k-means (new audio)",
                  lambda: studio.compare(str(other), *refs, model, ["kmeans", "gmm", "soft_kmeans"], n, 10,
                                         "PCA 2D", None, None, None, None, progress=None))
        rows = [(k, statistics.median(v), min(v)) for k, v in times.items()]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"app handlers, model `{model}`, {args.seconds:.0f} s mixture ({args.example}), torch {torch.__version__}, "
          f"{args.threads} thread(s), load average {load:.2f}; median of {args.repeats} (fastest)")
    print("| step | seconds |\n|---|---|")
    for name, med, best in rows:
        print(f"| {name} | {med:.2f} ({best:.2f}) |")
    print(f"| UMAP numba warm-up (once per server start, background) | {warm:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
