"""The wsj0-2mix level rule: each source at the same active speech level, then its own relative level.

Its own module so that both the dry mixing (``training.data.mixing``) and the simulated rooms
(``training.data.rooms``) use it without importing each other.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from training.data.corpora import SAMPLE_RATE

PEAK = 0.9


def active_level_db(x: np.ndarray, sr: int = SAMPLE_RATE, floor_db: float = -40.0) -> float:
    """RMS level (dB) over 10 ms frames within `floor_db` of the loudest (a P.56 stand-in)."""
    hop = max(1, sr // 100)
    n = len(x) // hop
    if n == 0:
        return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-12))
    p = np.mean(np.square(x[: n * hop].astype(np.float64)).reshape(n, hop), axis=1)
    active = p[10 * np.log10(p + 1e-12) > 10 * np.log10(p.max() + 1e-12) + floor_db]
    return float(10 * np.log10(active.mean() + 1e-12))


def mix_signals(signals: Sequence[np.ndarray], levels_db: Sequence[float], mode: str = "min",
                sr: int = SAMPLE_RATE, peak: float = PEAK) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Level-normalise, apply `levels_db`, align (min/max), scale against clipping.

    Returns (mixture (T,), sources (C, T), gains (C,)) as float32/float32/float64 where
    ``sources[c] = gains[c] * signals[c]`` (cut/padded) and ``mixture == sources.sum(0)``.
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
    gains = np.array([10 ** ((lv - active_level_db(x, sr)) / 20) for x, lv in zip(signals, levels_db)])
    lengths = [len(x) for x in signals]
    T = min(lengths) if mode == "min" else max(lengths)
    src = np.zeros((len(signals), T), np.float64)
    for c, x in enumerate(signals):
        src[c, : min(T, len(x))] = gains[c] * x[:T]
    top = np.abs(src.sum(0)).max() if T else 0.0
    if top > peak:
        src *= peak / top
        gains = gains * (peak / top)
    sources = src.astype(np.float32)
    return sources.sum(0, dtype=np.float32), sources, gains
