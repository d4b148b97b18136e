"""Shared pytest fixtures: tiny synthetic signals, a tiny checkpoint, a tiny wsj0-2mix folder.

Everything is generated (seeded) in temporary folders: no data sets, no downloads.  Session
scoped where building is not free, so several test files can share one checkpoint/folder;
treat them as read-only.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch

from _synth import SR, tone_sources

# Fundamentals whose first harmonics never share a 31 Hz STFT bin, so ideal masks separate well.
TONE_F0S = (120.0, 440.0)


def noise_burst_source(seconds: float, sr: int, seed: int, amp: float = 0.2) -> np.ndarray:
    """Band-limited noise switched on and off (an unvoiced, speech-like rhythm), float32."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    x = rng.standard_normal(n)
    x = np.convolve(x, np.hanning(9) / np.hanning(9).sum(), mode="same")  # soften the top end
    t = np.arange(n) / sr
    gate = (np.sin(2 * math.pi * (2.0 + seed % 3) * t + seed) > -0.3).astype(np.float64)
    return (amp * x / np.max(np.abs(x)) * gate).astype(np.float32)


def write_wsj0_2mix(root, n_mixtures: int = 3, seconds: float = 1.5, sr: int = 16000, n_sources: int = 2):
    """A folder in the wsj0-2mix layout (``mix/``, ``s1/``, ``s2/`` [, ``s3/``]) of tones and noise.

    Returns ``root``.  The mixtures are the exact sums of the written sources.
    """
    f0_sets = [(120.0, 440.0, 260.0), (180.0, 95.0, 330.0), (220.0, 140.0, 510.0)]
    for d in ["mix"] + [f"s{i + 1}" for i in range(n_sources)]:
        (root / d).mkdir(parents=True, exist_ok=True)
    for m in range(n_mixtures):
        f0s = f0_sets[m % len(f0_sets)][:n_sources]
        src = tone_sources(f0s, seconds, sr).astype(np.float64)
        if m % 2 == 1:  # every other mixture: one talker is noise bursts
            src[1] = noise_burst_source(seconds, sr, seed=m)
        mix = src.sum(0)
        peak = max(1.0, float(np.max(np.abs(mix))) / 0.9)
        name = f"mix{m:02d}.wav"
        sf.write(str(root / "mix" / name), (mix / peak).astype(np.float32), sr, subtype="FLOAT")
        for i in range(n_sources):
            sf.write(str(root / f"s{i + 1}" / name), (src[i] / peak).astype(np.float32), sr, subtype="FLOAT")
    return root


def make_tiny_checkpoint(path, *, n_anchors: int = 4, fixed: bool = True, seed: int = 0, **model_kwargs):
    """Save a tiny random BLSTM DANet (optionally with random fixed attractors); returns the path."""
    from sepviz.checkpoint import build_danet, save_checkpoint
    from sepviz.danet import DANetConfig

    torch.manual_seed(seed)
    kwargs = {"hidden": 16, "layers": 1, **model_kwargs}
    model = build_danet(DANetConfig(model="blstm", model_kwargs=kwargs, n_anchors=n_anchors)).eval()
    if fixed:
        with torch.no_grad():
            model.fixed_attractors.copy_(torch.randn_like(model.fixed_attractors))
    return save_checkpoint(path, model, training={"steps": 0, "note": "random tiny test model"},
                           metrics={"valid_si_snri": 0.0})


@pytest.fixture(scope="session")
def tone_pair():
    """``(mixture (T,), sources (2, T))`` float32 at 8 kHz: two 1.5 s harmonic tones, 120/440 Hz."""
    src = tone_sources(TONE_F0S, seconds=1.5, sr=SR)
    return src.sum(0), src


@pytest.fixture(scope="session")
def checkpoint_factory():
    """:func:`make_tiny_checkpoint` (``factory(path, n_anchors=0, fixed=False, ...)``) for variants."""
    return make_tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """Path of a tiny random BLSTM checkpoint with 4 anchors and random fixed attractors."""
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture(scope="session")
def wsj0_2mix_dir(tmp_path_factory):
    """A 3-mixture, 2-talker, 16 kHz folder in the wsj0-2mix layout (read-only)."""
    return write_wsj0_2mix(tmp_path_factory.mktemp("wsj0-2mix"))


@pytest.fixture(scope="module")
def one_thread():
    """One torch/BLAS/OpenMP thread, as the app runs (``--threads 1``): on a shared 2-core machine
    spinning thread pools make timings erratic.  Not restored afterwards: switching torch back to
    more threads can hang a later ``torch.linalg.solve`` (fast_bss_eval) with this torch build."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
