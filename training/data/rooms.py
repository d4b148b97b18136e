"""Simulated rooms and background noise for training mixtures.

Why: every real test recording comes through a room and a microphone; studio-dry training
mixtures teach a network nothing about reverberation tails smearing a talker over time. A share
of the training mixtures therefore plays each talker through an image-source room impulse
response (pyroomacoustics, random shoebox rooms, RT60 0.1-0.6 s, one microphone, each talker at
its own position) and adds stationary coloured noise at 10-30 dB SNR.

The reference each talker is scored against is its **direct path plus early reflections** (the
first ``early_ms`` = 50 ms of its impulse response after the direct-path peak), not the dry
source: a mask on the mixture's STFT cannot undo the room's colouring and delay, so a dry
reference would charge the network for something no mask can do, while the early part is what
listeners hear as the voice itself (the late tail is what they hear as the room). The late tail
and the noise are left in the mixture only, so the masks learn to suppress them.

The impulse responses are computed once into a bank (``data/rirs/bank.npz``, a few minutes on
one core) and drawn from it per mixture: computing a 0.6 s room takes about a second.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.signal import fftconvolve

from training.data.corpora import SAMPLE_RATE
from training.data.levels import mix_signals

DEFAULT_BANK = Path("data/rirs/bank.npz")


@dataclass(frozen=True)
class RoomSpec:
    """How the bank's rooms are drawn."""

    n_rooms: int = 200
    sources_per_room: int = 3
    rt60: tuple[float, float] = (0.1, 0.6)
    length: tuple[float, float] = (3.0, 10.0)   # metres
    width: tuple[float, float] = (3.0, 8.0)
    height: tuple[float, float] = (2.4, 3.5)
    distance: tuple[float, float] = (0.5, 3.0)  # talker to microphone
    seed: int = 0


def _one_room(spec: RoomSpec, rng: np.random.Generator, sample_rate: int) -> tuple[np.ndarray, float]:
    import pyroomacoustics as pra

    while True:
        dims = np.array([rng.uniform(*spec.length), rng.uniform(*spec.width), rng.uniform(*spec.height)])
        rt60 = float(rng.uniform(*spec.rt60))
        try:
            absorption, order = pra.inverse_sabine(rt60, dims)
        except ValueError:  # the room is too large for so short an RT60: draw another
            continue
        room = pra.ShoeBox(dims, fs=sample_rate, materials=pra.Material(absorption), max_order=order)
        mic = np.array([rng.uniform(0.5, d - 0.5) for d in dims[:2]] + [rng.uniform(0.9, 1.6)])
        placed = 0
        for _ in range(200):
            if placed == spec.sources_per_room:
                break
            pos = np.array([rng.uniform(0.3, d - 0.3) for d in dims[:2]] + [rng.uniform(1.0, 1.9)])
            if spec.distance[0] <= np.linalg.norm(pos - mic) <= spec.distance[1]:
                room.add_source(pos)
                placed += 1
        if placed < spec.sources_per_room:
            continue
        room.add_microphone(mic)
        room.compute_rir()
        rirs = [np.asarray(room.rir[0][s], np.float32) for s in range(placed)]
        n = max(len(r) for r in rirs)
        return np.stack([np.pad(r, (0, n - len(r))) for r in rirs]), rt60


def make_bank(spec: RoomSpec = RoomSpec(), sample_rate: int = SAMPLE_RATE) -> dict[str, np.ndarray]:
    """``{"rirs": (R, S, L) float32 zero-padded, "lengths": (R,), "rt60": (R,)}`` for R rooms, S talkers."""
    rng = np.random.default_rng(spec.seed)
    rooms, rt = [], []
    for _ in range(spec.n_rooms):
        r, t = _one_room(spec, rng, sample_rate)
        rooms.append(r)
        rt.append(t)
    n = max(r.shape[1] for r in rooms)
    return {"rirs": np.stack([np.pad(r, ((0, 0), (0, n - r.shape[1]))) for r in rooms]),
            "lengths": np.array([r.shape[1] for r in rooms]), "rt60": np.array(rt, np.float32),
            "sample_rate": np.array(sample_rate)}


def load_bank(path: str | Path | None = None, spec: RoomSpec = RoomSpec(), build: bool = True) -> dict[str, np.ndarray]:
    """The bank at `path` ($SEPVIZ_RIR_BANK, else data/rirs/bank.npz); built and saved there if missing."""
    path = Path(path or os.environ.get("SEPVIZ_RIR_BANK") or DEFAULT_BANK)
    if not path.exists():
        if not build:
            raise FileNotFoundError(f"no room impulse response bank at {path}: python -m training.data.rooms --out {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        bank = make_bank(spec)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **bank)
        tmp.replace(path)
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def reverberate(x: np.ndarray, rir: np.ndarray, early_ms: float = 50.0,
                sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """``(reverberant, early)``, both ``(len(x),)``: `x` through the whole `rir`, and through its
    direct path and the first `early_ms` after it (the reference; same delay, so aligned)."""
    rir = np.trim_zeros(np.asarray(rir, np.float32), "b")
    cut = int(np.argmax(np.abs(rir))) + int(round(early_ms / 1000 * sample_rate)) + 1
    full = fftconvolve(x, rir)[: len(x)]
    early = fftconvolve(x, rir[:cut])[: len(x)]
    return full.astype(np.float32), early.astype(np.float32)


def coloured_noise(n: int, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Unit-power stationary noise whose spectrum falls by 0-6 dB per octave (white to brown-ish)
    with a slow (0.2-2 Hz) amplitude wobble of up to 30 %: fans, hum-free room tone, traffic."""
    slope = rng.uniform(0.0, 6.0)
    f = np.maximum(np.fft.rfftfreq(n, 1.0 / sample_rate), 50.0)
    spec = (rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f))) * 10 ** (-slope * np.log2(f / 50.0) / 20)
    x = np.fft.irfft(spec, n)
    t = np.arange(n) / sample_rate
    x *= 1 + rng.uniform(0, 0.3) * np.sin(2 * np.pi * rng.uniform(0.2, 2.0) * t + rng.uniform(0, 2 * np.pi))
    return (x / (np.sqrt(np.mean(x ** 2)) + 1e-12)).astype(np.float32)


def room_mixture(signals: Sequence[np.ndarray], levels_db: Sequence[float], rng: np.random.Generator, *,
                 bank: dict[str, np.ndarray] | None, snr_db: float | None, mode: str = "min",
                 early_ms: float = 50.0, sample_rate: int = SAMPLE_RATE,
                 peak: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """``(mixture (T,), references (C, T))`` of talkers in one drawn room (`bank`; None: dry) plus
    noise at `snr_db` below the talkers' sum (None: none).  Levels follow the wsj0-2mix recipe on
    the reverberant signals; each reference is its talker's early image with the same gain, so
    ``mixture = sum(references) + late reverberation + noise``."""

    if bank is not None:
        room = int(rng.integers(len(bank["rirs"])))
        slots = rng.permutation(bank["rirs"].shape[1])
        if len(signals) > len(slots):
            raise ValueError(f"the room bank holds {len(slots)} talker positions per room, not {len(signals)}")
        pairs = [reverberate(x, bank["rirs"][room, s], early_ms, sample_rate) for x, s in zip(signals, slots)]
        wet, early = [p[0] for p in pairs], [p[1] for p in pairs]
    else:
        wet = early = list(signals)
    _, src_wet, gains = mix_signals(wet, levels_db, mode, sample_rate, peak=np.inf)
    T = src_wet.shape[1]
    refs = np.zeros_like(src_wet)
    for c, x in enumerate(early):
        refs[c, : min(T, len(x))] = gains[c] * x[:T]
    mix = src_wet.sum(0)
    if snr_db is not None and T:
        power = float(np.mean(mix.astype(np.float64) ** 2))
        mix = mix + coloured_noise(T, rng, sample_rate) * np.sqrt(power * 10 ** (-snr_db / 10))
    top = float(np.abs(mix).max()) if T else 0.0
    scale = peak / top if top > peak else 1.0
    return (mix * scale).astype(np.float32), (refs * scale).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Build the room impulse response bank used by data.reverb.")
    ap.add_argument("--out", default=str(DEFAULT_BANK))
    ap.add_argument("--rooms", type=int, default=RoomSpec.n_rooms)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    bank = load_bank(a.out, RoomSpec(n_rooms=a.rooms, seed=a.seed))
    print(f"{a.out}: {len(bank['rirs'])} rooms x {bank['rirs'].shape[1]} talkers, RT60 "
          f"{bank['rt60'].min():.2f}-{bank['rt60'].max():.2f} s, {bank['rirs'].shape[2] / SAMPLE_RATE:.2f} s long")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
