"""Separate a mixture file into voice files (``sepviz separate MIX.wav`` and ``sepviz separate DIR``).

:func:`separate_to_files` writes ``OUT/STEM_voice1.wav ...`` (16-bit PCM at the input rate) for one
mixture; a folder is the same call per file, which is what a worker process runs with ``--jobs N``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .audio import AUDIO_SUFFIXES, DEFAULT_MAX_SECONDS
from .errors import SepvizInputError


@dataclass(frozen=True)
class SeparateOptions:
    """How every mixture of a run is separated (plain values: it travels to worker processes)."""

    clusterer: str
    n_speakers: int | None = 2        # None: counted
    beta: float = 10.0
    seed: int = 0
    max_seconds: float = DEFAULT_MAX_SECONDS
    weighting: str = "auto"


@dataclass
class VoiceFiles:
    """What :func:`separate_to_files` wrote for one mixture."""

    mixture: str
    n_speakers: int
    seconds: float                    # the mixture's duration
    sample_rate: int
    paths: list[Path]
    energies_db: list[float]
    timings: dict
    elapsed: float                    # wall-clock seconds to separate (not to write)
    warnings: list[str] = field(default_factory=list)


@dataclass
class FailedFile:
    """A mixture of a folder that could not be separated (the reason is one line)."""

    mixture: str
    reason: str


def mixture_files(folder: Path) -> list[Path]:
    """The audio files directly in ``folder``, sorted by name; refuses two with one stem (their
    voices would overwrite each other)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise SepvizInputError(f"no audio files in {folder}")
    stems: dict[str, Path] = {}
    for p in files:
        if p.stem in stems:
            raise SepvizInputError(f"{stems[p.stem].name} and {p.name} in {folder} would write the same voice files")
        stems[p.stem] = p
    return files


def separate_to_files(options: SeparateOptions, model, mixture: str | Path, out: Path) -> VoiceFiles:
    """Separate ``mixture`` and write its voices to ``out`` (created if missing).

    All voices are scaled alike when one would clip in 16-bit WAV (their relative levels are kept).
    Raises :class:`SepvizInputError` for unreadable audio or an unwritable folder or file."""
    import soundfile as sf

    from .separate import separate

    t0 = time.perf_counter()
    sep = separate(mixture, None, model, options.clusterer, options.n_speakers, beta=options.beta, seed=options.seed,
                   max_seconds=options.max_seconds, weighting=options.weighting)
    elapsed = time.perf_counter() - t0
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SepvizInputError(f"cannot create the output folder {out}: {exc.strerror or exc}") from None
    voices = [np.asarray(v, dtype=np.float32) for v in sep.voices]
    peak = max(float(np.max(np.abs(v))) if v.size else 0.0 for v in voices)
    if peak > 1.0:  # 16-bit WAV would clip: scale all voices alike (keeps their relative levels)
        voices = [v / peak for v in voices]
        sep.warnings.append(f"the voices were scaled by {1 / peak:.3f} to avoid clipping")
    stem = Path(mixture).stem
    paths = []
    for i, v in enumerate(voices, 1):
        p = out / f"{stem}_voice{i}.wav"
        try:
            sf.write(str(p), v, sep.sample_rate, subtype="PCM_16")
        except (OSError, RuntimeError) as exc:  # soundfile reports I/O failures as RuntimeError
            raise SepvizInputError(f"cannot write {p}: {exc}") from None
        paths.append(p)
    return VoiceFiles(str(mixture), sep.n_speakers, sep.embedding.seconds, sep.sample_rate, paths,
                      list(sep.energies_db), dict(sep.timings), elapsed, list(sep.warnings))


def separate_or_fail(options: SeparateOptions, model, item: tuple[Path, Path]) -> VoiceFiles | FailedFile:
    """:func:`separate_to_files` for one ``(mixture, out)`` of a folder: a bad file is reported, not raised."""
    mixture, out = item
    try:
        return separate_to_files(options, model, mixture, out)
    except SepvizInputError as exc:
        return FailedFile(str(mixture), str(exc))
