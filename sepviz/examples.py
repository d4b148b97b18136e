"""Example mixtures for the studio: the committed ones in ``examples/`` and FSDD real speech.

Committed examples live in ``examples/NAME/`` as ``mix.wav`` plus the reference sources
``s1.wav``, ``s2.wav`` [, ``s3.wav``] (8 kHz, PCM16, a few seconds) and an optional
``meta.json`` (speakers, genders, SNRs, source corpus).  ``scripts/make_examples.py`` writes them.

FSDD (the Free Spoken Digit Dataset, real recordings of a few speakers) and LibriSpeech (read
audiobook speech) are *not* copied into the repository: when ``../shared/data/fsdd/recordings`` or
``../shared/data/librispeech`` exists, :func:`list_examples` builds a few mixtures from them at run
time into a cache folder outside the repository.  The LibriSpeech readers used are test readers
that no shipped model trained on (``training.data.splits``).

Examples are addressed by *name* only, so a client can never make the app read an arbitrary path.
"""
from __future__ import annotations

import json
from itertools import combinations
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import SepvizInputError

SAMPLE_RATE = 8000
REPO_ROOT = Path(__file__).resolve().parents[1]
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")

# FSDD mixtures made at run time: (name, speakers, seed).  FSDD's speakers are all male adults.
FSDD_MIXES = [
    ("fsdd_george+jackson", ("george", "jackson"), 1),
    ("fsdd_nicolas+theo", ("nicolas", "theo"), 2),
    ("fsdd_george+nicolas+theo", ("george", "nicolas", "theo"), 3),
]

# LibriSpeech mixtures made at run time from test readers (held out of every recipe's training;
# tests/test_examples checks they are in the test split): (name, readers, genders, seed).
LIBRISPEECH_MIXES = [
    ("librispeech_woman+man", ("2391", "1743"), ("f", "m"), 1),
    ("librispeech_woman+woman", ("3526", "5393"), ("f", "f"), 2),
    ("librispeech_man+man", ("2159", "6019"), ("m", "m"), 3),
    ("librispeech_woman+man+man", ("289", "2384", "5104"), ("f", "m", "m"), 4),
]


@dataclass
class Example:
    name: str
    mix: Path
    sources: list[Path]
    origin: str = "bundled"               # bundled | fsdd | librispeech
    meta: dict = field(default_factory=dict)

    @property
    def n_speakers(self) -> int:
        return len(self.sources)

    @property
    def description(self) -> str:
        spk = self.meta.get("speakers")
        genders = self.meta.get("genders")
        who = ""
        if spk:
            who = " + ".join(f"{s} ({g})" if g else str(s) for s, g in zip(spk, genders or [None] * len(spk)))
        src = self.meta.get("source", self.origin)
        return f"{self.n_speakers} talkers, {src}" + (f": {who}" if who else "")

    @property
    def labels(self) -> list[str]:
        """One label per source, for colouring (gender when known, else the speaker name)."""
        genders = self.meta.get("genders") or []
        speakers = self.meta.get("speakers") or []
        out = []
        for i in range(self.n_speakers):
            g = genders[i] if i < len(genders) else None
            s = speakers[i] if i < len(speakers) else f"s{i + 1}"
            out.append({"f": "female", "m": "male"}.get(str(g).lower(), str(s)) if g else str(s))
        return out

    def load_references(self, target_sr: int = SAMPLE_RATE) -> list[np.ndarray]:
        from .audio import load_audio

        return [load_audio(p, target_sr=target_sr)[0] for p in self.sources]


def examples_dir() -> Path:
    return Path(os.environ.get("SEPVIZ_EXAMPLES", REPO_ROOT / "examples"))


def fsdd_dir() -> Path:
    return Path(os.environ.get("SEPVIZ_FSDD", REPO_ROOT.parent / "shared" / "data" / "fsdd" / "recordings"))


def librispeech_dir() -> Path:
    return Path(os.environ.get("SEPVIZ_LIBRISPEECH", REPO_ROOT.parent / "shared" / "data" / "librispeech"))


def cache_dir() -> Path:
    """Where run-time examples are written: never inside the repository."""
    return Path(os.environ.get("SEPVIZ_CACHE", Path(tempfile.gettempdir()) / "sepviz-cache"))


def list_bundled(root: str | os.PathLike | None = None) -> list[Example]:
    root = Path(root) if root is not None else examples_dir()
    out = []
    if not root.is_dir():
        return out
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        mix = d / "mix.wav"
        sources = [d / f"s{i}.wav" for i in (1, 2, 3) if (d / f"s{i}.wav").is_file()]
        if not mix.is_file() or len(sources) < 2 or not _NAME_RE.match(d.name):
            continue
        meta = {}
        if (d / "meta.json").is_file():
            try:
                meta = json.loads((d / "meta.json").read_text())
            except ValueError:
                meta = {}
        out.append(Example(d.name, mix, sources, "bundled", meta))
    return out


# --------------------------------------------------------------------------- mixing helpers
def scale_to_snr(sources: list[np.ndarray], snrs_db: list[float]) -> list[np.ndarray]:
    """Scale ``sources[i]`` (i >= 1) so that ``sources[0]`` is ``snrs_db[i-1]`` dB louder than it."""
    p0 = float(np.mean(sources[0].astype(np.float64) ** 2)) + 1e-12
    out = [sources[0].astype(np.float32)]
    for s, snr in zip(sources[1:], snrs_db):
        p = float(np.mean(s.astype(np.float64) ** 2)) + 1e-12
        out.append((s * np.sqrt(p0 / p * 10 ** (-snr / 10))).astype(np.float32))
    return out


def mix_sources(sources: list[np.ndarray], snrs_db: list[float] | None = None, peak: float = 0.9
                ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Crop to the shortest source, set relative levels, and scale all jointly to ``peak``.

    The references are scaled with the mixture so ``mix == sum(sources)`` (before PCM rounding).
    """
    n = min(len(s) for s in sources)
    srcs = [np.asarray(s[:n], dtype=np.float32) for s in sources]
    if snrs_db is not None:
        srcs = scale_to_snr(srcs, snrs_db)
    mix = np.sum(srcs, axis=0)
    g = peak / max(float(np.max(np.abs(mix))), 1e-9)
    return (mix * g).astype(np.float32), [(s * g).astype(np.float32) for s in srcs]


def write_example(out_dir: str | os.PathLike, mix: np.ndarray, sources: list[np.ndarray],
                  sr: int = SAMPLE_RATE, meta: dict | None = None) -> Path:
    import soundfile as sf

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sf.write(out / "mix.wav", mix, sr, subtype="PCM_16")
    for i, s in enumerate(sources, 1):
        sf.write(out / f"s{i}.wav", s, sr, subtype="PCM_16")
    for i in range(len(sources) + 1, 4):
        (out / f"s{i}.wav").unlink(missing_ok=True)
    if meta is not None:
        (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return out


def trim_silence(wave: np.ndarray, top_db: float = 30.0) -> np.ndarray:
    """Cut leading/trailing silence (frames more than ``top_db`` below the peak)."""
    frame = 160
    n = len(wave) // frame
    if n < 2:
        return wave
    rms = np.sqrt(np.mean(wave[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > -top_db)
    if loud.size == 0:
        return wave
    return wave[loud[0] * frame: (loud[-1] + 1) * frame]


# --------------------------------------------------------------------------- FSDD at run time
def fsdd_talker(root: Path, speaker: str, seconds: float, rng: np.random.Generator,
                sr: int = SAMPLE_RATE, gap: float = 0.12) -> tuple[np.ndarray, list[int]]:
    """Concatenate random digits of one FSDD speaker until ``seconds`` of audio."""
    import soundfile as sf

    from .audio import resample, to_mono

    files = sorted(root.glob(f"[0-9]_{speaker}_*.wav"))
    if not files:
        raise SepvizInputError(f"no FSDD recordings of speaker {speaker!r} in {root}")
    parts, digits, total = [np.zeros(int(rng.uniform(0, 0.4) * sr), np.float32)], [], 0
    while total < seconds * sr:
        f = files[int(rng.integers(len(files)))]
        data, fsr = sf.read(str(f), dtype="float32", always_2d=True)  # some digits are < 0.25 s
        w = trim_silence(resample(to_mono(data), fsr, sr))
        w = w / max(float(np.sqrt(np.mean(w ** 2))), 1e-6) * 0.1  # equal loudness per digit
        parts += [w, np.zeros(int(gap * sr), np.float32)]
        digits.append(int(f.name[0]))
        total = sum(len(p) for p in parts)
    return np.concatenate(parts)[: int(seconds * sr)], digits


def make_fsdd_example(name: str, speakers: tuple[str, ...], seed: int, *, root: Path | None = None,
                      out_root: Path | None = None, seconds: float = 4.5) -> Example:
    """Make (or reuse) one FSDD mixture in the cache folder."""
    root = fsdd_dir() if root is None else Path(root)
    out = (cache_dir() if out_root is None else Path(out_root)) / "fsdd_examples" / name
    srcs = [out / f"s{i + 1}.wav" for i in range(len(speakers))]
    if not ((out / "mix.wav").is_file() and all(p.is_file() for p in srcs) and (out / "meta.json").is_file()):
        rng = np.random.default_rng(seed)
        waves, digits = zip(*(fsdd_talker(root, s, seconds, rng) for s in speakers))
        snrs = [float(rng.uniform(0, 5)) for _ in speakers[1:]]
        mix, sources = mix_sources(list(waves), snrs)
        meta = {"source": "FSDD real speech (made at run time)", "speakers": list(speakers),
                "genders": ["m"] * len(speakers), "snr_db": snrs, "digits": [list(d) for d in digits],
                "seed": seed}
        write_example(out, mix, sources, meta=meta)
    meta = json.loads((out / "meta.json").read_text())
    return Example(name, out / "mix.wav", srcs, "fsdd", meta)


def list_fsdd(root: Path | None = None, out_root: Path | None = None) -> list[Example]:
    root = fsdd_dir() if root is None else Path(root)
    if not root.is_dir():
        return []
    out = []
    for name, speakers, seed in FSDD_MIXES:
        try:
            out.append(make_fsdd_example(name, speakers, seed, root=root, out_root=out_root))
        except (SepvizInputError, OSError):
            continue  # a speaker missing from this copy of FSDD: skip that mixture
    return out


def make_librispeech_example(name: str, readers: tuple[str, ...], genders: tuple[str, ...], seed: int, *,
                             root: Path | None = None, out_root: Path | None = None, seconds: float = 5.0) -> Example:
    """Make (or reuse) one LibriSpeech mixture in the cache folder: each reader's utterance, trimmed,
    cut to ``seconds`` from a seeded start, mixed at 0-5 dB."""
    from .audio import load_audio

    root = librispeech_dir() if root is None else Path(root)
    out = (cache_dir() if out_root is None else Path(out_root)) / "librispeech_examples" / name
    srcs = [out / f"s{i + 1}.wav" for i in range(len(readers))]
    if not ((out / "mix.wav").is_file() and all(p.is_file() for p in srcs) and (out / "meta.json").is_file()):
        rng = np.random.default_rng(seed)
        waves = []
        for r in readers:
            files = sorted(root.glob(f"{r}/*/*.flac"))
            if not files:
                raise SepvizInputError(f"no LibriSpeech utterance of reader {r} in {root}")
            w = trim_silence(load_audio(files[0], target_sr=SAMPLE_RATE)[0])
            n = int(seconds * SAMPLE_RATE)
            start = int(rng.integers(0, max(1, len(w) - n + 1)))
            waves.append(w[start: start + n])
        snrs = [float(rng.uniform(0, 5)) for _ in readers[1:]]
        mix, sources = mix_sources(waves, snrs)
        meta = {"source": "LibriSpeech real speech, test readers (made at run time)", "speakers": list(readers),
                "genders": list(genders), "snr_db": snrs, "seed": seed}
        write_example(out, mix, sources, meta=meta)
    meta = json.loads((out / "meta.json").read_text())
    return Example(name, out / "mix.wav", srcs, "librispeech", meta)


def list_librispeech(root: Path | None = None, out_root: Path | None = None) -> list[Example]:
    root = librispeech_dir() if root is None else Path(root)
    if not root.is_dir():
        return []
    out = []
    for name, readers, genders, seed in LIBRISPEECH_MIXES:
        try:
            out.append(make_librispeech_example(name, readers, genders, seed, root=root, out_root=out_root))
        except (SepvizInputError, OSError):
            continue  # a reader missing from this copy: skip that mixture
    return out


def fsdd_speakers(root: Path | None = None) -> list[str]:
    root = fsdd_dir() if root is None else Path(root)
    if not root.is_dir():
        return []
    return sorted({p.stem.split("_")[1] for p in root.glob("[0-9]_*_*.wav") if p.stem.count("_") == 2})


def list_atlas_examples(*, root: Path | None = None, fsdd_root: Path | None = None, out_root: Path | None = None,
                        seeds: tuple[int, ...] = (11, 12)) -> list[Example]:
    """Many mixtures for the 'attractors of many mixtures' picture: every example plus, when FSDD
    is present, each pair of its speakers with a few seeds (3 s each, made once in the cache)."""
    out = list(list_examples(root=root, fsdd_root=fsdd_root, out_root=out_root).values())
    for a, b in combinations(fsdd_speakers(fsdd_root), 2):
        for seed in seeds:
            try:
                out.append(make_fsdd_example(f"atlas_{a}+{b}_{seed}", (a, b), seed, root=fsdd_root,
                                             out_root=out_root, seconds=3.0))
            except (SepvizInputError, OSError):
                continue
    return out


def list_examples(include_fsdd: bool = True, *, root: Path | None = None, fsdd_root: Path | None = None,
                  out_root: Path | None = None) -> dict[str, Example]:
    """All examples by name: the committed ones first, then real-speech mixtures (LibriSpeech, FSDD)
    made from ../shared when it is there (``include_fsdd=False``: the committed ones only)."""
    ex = {e.name: e for e in list_bundled(root)}
    if include_fsdd:
        for e in list_librispeech(out_root=out_root) + list_fsdd(fsdd_root, out_root):
            ex.setdefault(e.name, e)
    return ex


def get_example(name: str, examples: dict[str, Example] | None = None) -> Example:
    examples = list_examples() if examples is None else examples
    try:
        return examples[name]
    except KeyError:
        raise SepvizInputError(f"unknown example {name!r}") from None
