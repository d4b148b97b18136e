"""Reading and validating audio: every path into the separator goes through :func:`load_audio`.

The aim is that any bad input (empty, silent, NaN, not audio, too long, ...) ends in a
:class:`~sepviz.errors.SepvizInputError` whose message tells the user what to do.
"""
from __future__ import annotations

import io
import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Union

import numpy as np

from .errors import SepvizInputError

DEFAULT_SR = 8000
DEFAULT_MAX_SECONDS = 60.0
MIN_SECONDS = 0.25
SILENCE_RMS = 1e-4  # about -80 dBFS
MAX_FILE_BYTES = 200 * 1024 * 1024
MIN_SR, MAX_SR = 1000, 768000
# the file names a folder of mixtures is read from (sepviz separate DIR, sepviz evaluate --data)
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au"}

AudioSource = Union[str, os.PathLike, bytes, tuple]


def _too_long(frames: int, sr: int, max_seconds: float | None, name: str) -> None:
    if max_seconds and sr > 0 and frames / sr > max_seconds:
        raise SepvizInputError(f"{name} is {frames / sr:.1f} s long; the limit is {max_seconds:.0f} s "
                               f"(raise it with max_seconds / --max-seconds)")


@lru_cache(maxsize=1)
def _audioread_has_decoder() -> bool:
    """True when audioread can decode more than soundfile already does (ffmpeg, GStreamer, ...)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # audioread imports modules deprecated in Python 3.11
            import audioread

            return any(b.__name__ != "RawAudioFile" for b in audioread.available_backends())
    except Exception:  # noqa: BLE001
        return False


def _read_soundfile(obj, name: str, max_seconds: float | None) -> tuple[np.ndarray, int]:
    """Decode with soundfile, checking the header's duration first so a huge file fails fast."""
    import soundfile as sf

    info = sf.info(obj)
    if hasattr(obj, "seek"):
        obj.seek(0)
    if info.frames > 0:  # some formats (e.g. piped MP3) report 0 frames: check after decoding
        _too_long(info.frames, info.samplerate, max_seconds, name)
    data, sr = sf.read(obj, dtype="float32", always_2d=True)
    return data.mean(axis=1), int(sr)  # (samples, channels): downmix here, the layout is known


def _decode(source: AudioSource, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Decode to float32 samples (mono ``(samples,)`` for files, as given for arrays) and the rate."""
    if isinstance(source, tuple):
        if len(source) != 2:
            raise SepvizInputError("an audio array must come as (samples, sample_rate)")
        data, sr = source
        try:
            sr = int(sr)
        except (TypeError, ValueError):
            raise SepvizInputError(f"invalid sample rate {sr!r}") from None
        try:
            arr = np.asarray(data)
        except Exception:  # noqa: BLE001 - ragged lists and other junk
            raise SepvizInputError("audio array must be numeric") from None
        if arr.dtype.kind not in "fiu":
            raise SepvizInputError("audio array must be numeric")
        if arr.dtype.kind == "i":  # PCM integers, e.g. from a microphone widget
            arr = arr.astype(np.float32) / float(-np.iinfo(arr.dtype).min)
        elif arr.dtype.kind == "u":  # unsigned PCM (8-bit WAV) is offset binary
            mid = float(np.iinfo(arr.dtype).max) / 2 + 0.5
            arr = (arr.astype(np.float32) - mid) / mid
        return arr.astype(np.float32), sr
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise SepvizInputError("the uploaded file is empty")
        if len(source) > MAX_FILE_BYTES:
            raise SepvizInputError(f"the upload is {len(source) / 2**20:.0f} MB; the limit is "
                                   f"{MAX_FILE_BYTES // 2**20} MB")
        try:
            return _read_soundfile(io.BytesIO(bytes(source)), "the upload", max_seconds)
        except SepvizInputError:
            raise
        except Exception as exc:  # noqa: BLE001 - any decoder failure means "not audio"
            raise SepvizInputError(f"could not read the upload as audio ({exc.__class__.__name__}); "
                                   f"try WAV, FLAC, OGG or MP3") from None
    try:
        path = Path(source)
    except TypeError:
        raise SepvizInputError(f"cannot read audio from a {type(source).__name__}; give a path, bytes "
                               f"or (array, sample_rate)") from None
    if not path.is_file():
        raise SepvizInputError(f"audio file not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise SepvizInputError(f"the file {path.name} is empty")
    if size > MAX_FILE_BYTES:
        raise SepvizInputError(f"the file {path.name} is {size / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB")
    try:
        return _read_soundfile(str(path), path.name, max_seconds)
    except SepvizInputError:
        raise
    except Exception:  # noqa: BLE001 - fall back to librosa/audioread for formats libsndfile lacks
        pass
    # audioread's only built-in backend reads what soundfile reads; without ffmpeg/GStreamer the
    # fallback can only fail (slowly), so skip it and report "not audio" at once.
    if _audioread_has_decoder():
        try:
            import librosa

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # Decode at most just over the limit: a long file fails without decoding all of it.
                data, sr = librosa.load(str(path), sr=None, mono=True,
                                        duration=(max_seconds + 1.0) if max_seconds else None)
            _too_long(len(data), int(sr), max_seconds, path.name)
            return np.asarray(data, dtype=np.float32), int(sr)
        except SepvizInputError:
            raise
        except Exception:  # noqa: BLE001
            pass
    raise SepvizInputError(f"{path.name} is not an audio file sepviz can read (try WAV, FLAC, OGG or MP3)")


def decode(source: AudioSource, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Samples and rate as stored (float32; mono for files), without the checks of :func:`load_audio`.

    For references, which may be quiet or short where a mixture may not; a file that is not audio
    still raises :class:`SepvizInputError`."""
    return _decode(source, max_seconds)


def to_mono(data: np.ndarray) -> np.ndarray:
    """Average channels; accepts ``(samples,)``, ``(samples, ch)`` or ``(ch, samples)`` (the shorter axis is channels)."""
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 1:
        return data
    if data.ndim != 2:
        raise SepvizInputError(f"audio must be 1-D or 2-D, got shape {data.shape}")
    if data.size == 0:
        return np.zeros(0, dtype=np.float32)  # validate_wave reports "empty"
    if data.shape[1] > data.shape[0]:
        data = data.T  # channels-first: there are fewer channels than samples
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


FULL_SCALE = 0.999  # a sample this close to +-1 sits at full scale (16-bit PCM tops out at 0.99997)


def input_levels(mono: np.ndarray) -> dict:
    """How loud the decoded input is: RMS and peak in dBFS, and the share of its samples stuck at
    full scale (``clipped``: samples beyond 1.0 in a float file do not count, they were not cut)."""
    x = np.abs(np.asarray(mono, dtype=np.float64))
    at_full = np.count_nonzero((x >= FULL_SCALE) & (x <= 1.0 + 1e-6))
    return {"rms_dbfs": float(10 * np.log10(np.mean(x ** 2) + 1e-20)),
            "peak_dbfs": float(20 * np.log10(x.max() + 1e-10)),
            "full_scale_samples": int(at_full), "clipped": float(at_full / max(1, x.size))}


def load_audio_measured(source: AudioSource, target_sr: int, max_seconds: float) -> tuple[np.ndarray, int, int, dict]:
    """:func:`load_audio` plus the number of samples at the original rate (to restore the length)
    and the input's :func:`input_levels`, measured before resampling (which smooths a clipped top)."""
    data, sr = _decode(source, max_seconds)
    if sr <= 0:
        raise SepvizInputError(f"invalid sample rate {sr}")
    if not MIN_SR <= sr <= MAX_SR:
        raise SepvizInputError(f"unsupported sample rate {sr} Hz (expected {MIN_SR} to {MAX_SR} Hz)")
    mono = to_mono(data)
    validate_wave(mono, sr, max_seconds=max_seconds)
    levels = input_levels(mono)
    wave = resample(mono, sr, target_sr)
    peak = float(np.max(np.abs(wave)))
    if peak > 1.0:  # float files may exceed full scale; keep the model's input range sane
        wave = wave / peak
    return wave, int(sr), int(mono.shape[-1]), levels


def load_audio(source: AudioSource, *, target_sr: int = DEFAULT_SR,
               max_seconds: float = DEFAULT_MAX_SECONDS) -> tuple[np.ndarray, int]:
    """Load ``source`` (path, bytes, or ``(array, sr)``) as mono float32 at ``target_sr``.

    Returns ``(wave, original_sr)`` so callers can resample the separated voices back to the
    user's rate.  For files the duration is read from the header before decoding, and for every
    source it is checked before resampling, so a huge input fails fast.
    """
    wave, sr, _, _ = load_audio_measured(source, target_sr, max_seconds)
    return wave, sr
