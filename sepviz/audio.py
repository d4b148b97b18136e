"""Reading and validating audio: every path into the separator goes through :func:`load_audio`.

The aim is that any bad input (empty, silent, NaN, not audio, too long, ...) ends in a
:class:`~sepviz.errors.SepvizInputError` whose message tells the user what to do.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Union

import numpy as np

from .errors import SepvizInputError

DEFAULT_SR = 8000
DEFAULT_MAX_SECONDS = 60.0
MIN_SECONDS = 0.25
SILENCE_RMS = 1e-4  # about -80 dBFS
MAX_FILE_BYTES = 200 * 1024 * 1024

AudioSource = Union[str, os.PathLike, bytes, tuple]


def _decode(source: AudioSource) -> tuple[np.ndarray, int]:
    """Decode to ``(samples, channels)`` float32 and the native rate."""
    import soundfile as sf

    if isinstance(source, tuple):
        data, sr = source
        arr = np.asarray(data)
        if arr.dtype.kind not in "fiu":
            raise SepvizInputError("audio array must be numeric")
        if arr.dtype.kind in "iu":  # PCM integers, e.g. from a microphone widget
            arr = arr.astype(np.float32) / float(np.iinfo(arr.dtype).max)
        return arr.astype(np.float32), int(sr)
    if isinstance(source, (bytes, bytearray)):
        if len(source) == 0:
            raise SepvizInputError("the uploaded file is empty")
        try:
            data, sr = sf.read(io.BytesIO(source), dtype="float32", always_2d=True)
            return data, sr
        except Exception as exc:  # noqa: BLE001 - any decoder failure means "not audio"
            raise SepvizInputError(f"could not read the upload as audio ({exc.__class__.__name__})") from None
    path = Path(source)
    if not path.is_file():
        raise SepvizInputError(f"audio file not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise SepvizInputError(f"the file {path.name} is empty")
    if size > MAX_FILE_BYTES:
        raise SepvizInputError(f"the file {path.name} is {size / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        return data, sr
    except Exception:  # noqa: BLE001 - fall back to librosa/audioread for mp3 and friends
        pass
    try:
        import librosa

        data, sr = librosa.load(str(path), sr=None, mono=False)
        data = np.atleast_2d(data).T if data.ndim == 1 else data.T
        return data.astype(np.float32), int(sr)
    except Exception:  # noqa: BLE001
        raise SepvizInputError(
            f"{path.name} is not an audio file sepviz can read (try WAV, FLAC, OGG or MP3)") from None


def to_mono(data: np.ndarray) -> np.ndarray:
    """Average channels; accepts ``(samples,)``, ``(samples, ch)`` or ``(ch, samples)`` with ch <= 8."""
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 1:
        return data
    if data.ndim != 2:
        raise SepvizInputError(f"audio must be 1-D or 2-D, got shape {data.shape}")
    if data.shape[0] <= 8 and data.shape[1] > data.shape[0]:
        data = data.T  # channels-first
    return data.mean(axis=1)


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """High-quality polyphase resampling (scipy), exact for integer rate ratios."""
    if orig_sr == target_sr:
        return wave.astype(np.float32)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(orig_sr), int(target_sr))
    return resample_poly(wave, target_sr // g, orig_sr // g).astype(np.float32)


def validate_wave(wave: np.ndarray, sr: int, *, max_seconds: float = DEFAULT_MAX_SECONDS,
                  min_seconds: float = MIN_SECONDS) -> None:
    """Raise :class:`SepvizInputError` unless ``wave`` is finite, long enough, short enough, not silent."""
    if sr <= 0:
        raise SepvizInputError(f"invalid sample rate {sr}")
    if wave.size == 0:
        raise SepvizInputError("the audio is empty (0 samples)")
    if not np.all(np.isfinite(wave)):
        raise SepvizInputError("the audio contains NaN or infinite values")
    dur = wave.shape[-1] / sr
    if dur < min_seconds:
        raise SepvizInputError(f"the audio is {dur:.2f} s long; at least {min_seconds} s is needed")
    if max_seconds and dur > max_seconds:
        raise SepvizInputError(
            f"the audio is {dur:.1f} s long; the limit is {max_seconds:.0f} s (raise it with max_seconds / --max-seconds)")
    if float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))) < SILENCE_RMS:
        raise SepvizInputError("the audio is silent (RMS below -80 dBFS): nothing to separate")


def load_audio(source: AudioSource, *, target_sr: int = DEFAULT_SR,
               max_seconds: float = DEFAULT_MAX_SECONDS) -> tuple[np.ndarray, int]:
    """Load ``source`` (path, bytes, or ``(array, sr)``) as mono float32 at ``target_sr``.

    Returns ``(wave, original_sr)`` so callers can resample the separated voices back to the
    user's rate.  Duration is checked before resampling so a huge file fails fast.
    """
    data, sr = _decode(source)
    if sr <= 0:
        raise SepvizInputError(f"invalid sample rate {sr}")
    mono = to_mono(data)
    validate_wave(mono, sr, max_seconds=max_seconds)
    wave = resample(mono, sr, target_sr)
    peak = float(np.max(np.abs(wave)))
    if peak > 1.0:  # float files may exceed full scale; keep the model's input range sane
        wave = wave / peak
    return wave, int(sr)
