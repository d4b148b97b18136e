"""Tiny synthetic signals and tiny models shared by the core-library tests (no data, no downloads)."""
from __future__ import annotations

import math

import numpy as np
import torch

from sepviz.checkpoint import build_danet, save_checkpoint
from sepviz.danet import DANet, DANetConfig

SR = 8000

# One torch thread for the whole test session (conftest.py imports this module, so this runs
# before any test).  The tiny ops here gain nothing from threads, and on a busy 2-core machine
# OpenMP barriers made them 10-30x slower.  It must be a one-way switch: raising the count again
# later in the same process (set_num_threads(1) ... set_num_threads(2)) made a subsequent
# torch.linalg.solve (fast_bss_eval, in the metrics/CLI tests) hang forever with this torch build.
torch.set_num_threads(1)

# Smallest configurations of every registered embedding net (fast on 2 CPU cores).
TINY_KWARGS = {
    "blstm": {"hidden": 8, "layers": 1},
    "bgru": {"hidden": 8, "layers": 2},
    "dilated_cnn": {"channels": 4, "layers": 4},
}


def harmonic(f0: float, seconds: float = 1.0, sr: int = SR, n_harm: int = 5, amp: float = 0.3,
             phase: float = 0.0) -> np.ndarray:
    """A voiced-speech-like harmonic tone (1/h amplitudes) as float32."""
    t = np.arange(int(round(seconds * sr))) / sr
    x = sum(np.sin(2 * math.pi * f0 * h * t + phase * h) / h for h in range(1, n_harm + 1))
    x = x / np.max(np.abs(x)) * amp
    return x.astype(np.float32)


def tone_sources(f0s=(150.0, 370.0), seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    """``(C, samples)`` harmonic tones with different pitches, slightly amplitude-modulated."""
    t = np.arange(int(round(seconds * sr))) / sr
    rows = []
    for i, f0 in enumerate(f0s):
        env = 0.75 + 0.25 * np.sin(2 * math.pi * (1.5 + i) * t + i)
        rows.append(harmonic(f0, seconds, sr, phase=0.3 * i) * env.astype(np.float32))
    return np.stack(rows).astype(np.float32)


def tone_mixture(f0s=(150.0, 370.0), seconds: float = 1.0, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    src = tone_sources(f0s, seconds, sr)
    return src.sum(0), src


def tiny_danet(model: str = "blstm", *, objective: str = "danet", n_speakers: int = 2, n_anchors: int = 0,
               mask: str = "softmax", emb_dim: int = 6, seed: int = 0, **model_kwargs) -> DANet:
    """A freshly initialised (untrained) tiny DANet in eval mode."""
    torch.manual_seed(seed)
    kwargs = {**TINY_KWARGS[model], "emb_dim": emb_dim, **model_kwargs}
    cfg = DANetConfig(model=model, model_kwargs=kwargs, objective=objective, mask=mask,
                      n_speakers=n_speakers, n_anchors=n_anchors)
    return build_danet(cfg).eval()


def save_tiny_checkpoint(path, **kw):
    """Save :func:`tiny_danet` to ``path`` and return ``(path, model)``."""
    m = tiny_danet(**kw)
    return save_checkpoint(path, m), m


def blobs(n_per: int = 200, c: int = 3, k: int = 20, spread: float = 0.1, sep: float = 3.0, seed: int = 0):
    """``c`` well-separated Gaussian blobs in ``k`` dims: ``(points (N, K) float32, labels (N,))``."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(c, k, generator=g)
    centers = sep * centers / centers.norm(dim=1, keepdim=True)
    labels = torch.arange(c).repeat_interleave(n_per)
    pts = centers[labels] + spread * torch.randn(c * n_per, k, generator=g)
    perm = torch.randperm(pts.shape[0], generator=g)
    return pts[perm], labels[perm], centers


def accuracy_up_to_permutation(pred, labels, c: int) -> float:
    """Best assignment accuracy over all relabellings of the ``c`` clusters."""
    import itertools

    pred = torch.as_tensor(pred).long()
    labels = torch.as_tensor(labels).long()
    best = 0.0
    for perm in itertools.permutations(range(c)):
        mapped = torch.tensor(perm)[pred]
        best = max(best, float((mapped == labels).float().mean()))
    return best


class ToneMixes(torch.utils.data.Dataset):
    """Training items ``(mixture, sources)`` of harmonic tones with random pitches, the interface
    the trainer needs (``set_segment``, ``set_epoch``); a 3-source set zero-pads every other third
    source.  Subclasses may pick the pitches (:meth:`pitches`) and add speaker ids."""

    def __init__(self, n: int, c: int = 2) -> None:
        self.n, self.c, self.segment, self.epoch = n, c, 1280, 0

    def set_segment(self, samples: int) -> None:
        self.segment = samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def pitches(self, g: torch.Generator) -> torch.Tensor:
        return 100 + 300 * torch.rand(self.c, generator=g)

    def tones(self, f0: torch.Tensor) -> torch.Tensor:
        """``(C, segment)`` harmonic tones at the pitches ``f0 (C,)``."""
        t = torch.arange(self.segment) / 8000
        return torch.stack([sum(torch.sin(2 * math.pi * f * h * t) / h for h in range(1, 4)) for f in f0])

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i + 1000 * self.epoch)
        src = self.tones(self.pitches(g))
        if self.c == 3 and i % 2:
            src[2] = 0
        return src.sum(0), src
