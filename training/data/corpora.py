"""Corpus adapters: each returns plain `Utterance` (or `MixtureExample`) lists.

Why: the trainer, the split logic and the mixer only need "who speaks, which gender, where is the
audio"; keeping every corpus behind this one record lets synthetic, FSDD and licensed corpora
(LibriSpeech, TIMIT, wsj0-2mix, LibriMix) be swapped without touching the training code.
Genders are lower-case ``"f"`` / ``"m"`` (``"?"`` when unknown).
"""
from __future__ import annotations

import csv
import os
import re
import shutil
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

from sepviz.audio import resample as audio_resample

SAMPLE_RATE = 8000
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FSDD = REPO_ROOT.parent / "shared" / "data" / "fsdd"
DEFAULT_LIBRISPEECH = REPO_ROOT.parent / "shared" / "data" / "librispeech"
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds")
# All FSDD speakers are adult men (FSDD README); unknown names get "?".
FSDD_GENDER = {"george": "m", "jackson": "m", "nicolas": "m", "theo": "m", "lucas": "m", "yweweler": "m"}


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read any libsndfile format (WAV, FLAC, NIST/TIMIT), mix to mono, resample; float32."""
    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    return resample(x.mean(axis=1), sr, sample_rate)


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """The library's one resampler (:func:`sepviz.audio.resample`), contiguous float32."""
    return np.ascontiguousarray(audio_resample(x, sr_in, sr_out))


@dataclass
class Utterance:
    """One single-talker recording, on disk (`path`) or in memory (`audio` at `sample_rate`)."""

    speaker: str
    gender: str  # "f" | "m" | "?"
    corpus: str
    path: Path | None = None
    audio: np.ndarray | None = None
    sample_rate: int = SAMPLE_RATE
    language: str | None = None
    engine: str | None = None  # synthetic corpora: TTS engine (used to stratify splits)
    group: str | None = None  # speakers sharing a group (shifted copies of one voice) never cross splits
    name: str | None = None

    @property
    def id(self) -> str:
        return self.name or (self.path.stem if self.path is not None else f"{self.speaker}-{id(self):x}")

    def load(self, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
        """Mono float32 samples at `sample_rate`."""
        if self.audio is not None:
            return resample(self.audio, self.sample_rate, sample_rate)
        return load_audio(self.path, sample_rate)


@dataclass
class MixtureExample:
    """A pre-mixed example (wsj0-2mix / LibriMix layout): mixture file plus its source files."""

    name: str
    mixture: Path
    sources: list[Path]
    corpus: str

    def load(self, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
        """(mixture (T,), sources (C, T)) float32, trimmed to a common length."""
        mix = load_audio(self.mixture, sample_rate)
        src = [load_audio(p, sample_rate) for p in self.sources]
        n = min([len(mix)] + [len(s) for s in src])
        return mix[:n], np.stack([s[:n] for s in src])


def _gender(g: str) -> str:
    g = g.strip().lower()[:1]
    return g if g in ("f", "m") else "?"


def synth(root: str | Path = "data/synth") -> list[Utterance]:
    """The TTS corpus written by `training.data.synth_corpus` (reads OUT/manifest.tsv)."""
    root = Path(root)
    if not (root / "manifest.tsv").is_file():
        raise FileNotFoundError(f"no synthetic corpus at {root} (manifest.tsv missing): build it with "
                                f"python -m training.data.synth_corpus --out {root}")
    with open(root / "manifest.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [Utterance(speaker=r["speaker"], gender=_gender(r["gender"]), corpus="synth", path=root / r["path"],
                      language=r.get("language") or None, engine=r.get("engine") or None,
                      group=r.get("base_voice") or r["speaker"].split(".")[0]) for r in rows]


def fsdd_root(root: str | Path | None = None) -> Path:
    """Argument, else $SEPVIZ_FSDD, else ../shared/data/fsdd next to the repository."""
    return Path(root or os.environ.get("SEPVIZ_FSDD") or DEFAULT_FSDD)


_FSDD_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")


def fsdd(root: str | Path | None = None, *, seed: int = 0, min_seconds: float = 2.0, max_seconds: float = 6.0,
         gap_ms: tuple[float, float] = (50.0, 150.0), cache_dir: str | Path | None = None) -> list[Utterance]:
    """Free Spoken Digit Dataset (real speech): one speaker's digits joined into 2-6 s utterances.

    Recordings (``{digit}_{speaker}_{index}.wav``, 8 kHz) are shuffled per speaker (seeded) and
    concatenated with random 50-150 ms silences, each recording used once. Returned in memory;
    with `cache_dir` they are also written there as WAVs (and re-read on later calls).
    """
    root = fsdd_root(root)
    rec_dir = root / "recordings" if (root / "recordings").is_dir() else root
    return list(_fsdd_cached(str(rec_dir.resolve()), seed, min_seconds, max_seconds, tuple(gap_ms),
                             str(cache_dir) if cache_dir else None))


@lru_cache(maxsize=4)
def _fsdd_cached(rec_dir: str, seed: int, min_s: float, max_s: float, gap_ms: tuple[float, float],
                 cache_dir: str | None) -> tuple[Utterance, ...]:
    by_speaker: dict[str, list[Path]] = {}
    for p in sorted(Path(rec_dir).glob("*.wav")):
        m = _FSDD_NAME.match(p.name)
        if m:
            by_speaker.setdefault(m.group(2), []).append(p)
    if not by_speaker:
        raise FileNotFoundError(f"no FSDD recordings ({{digit}}_{{speaker}}_{{index}}.wav) in {rec_dir}; "
                                "set SEPVIZ_FSDD or pass root (the FSDD recordings folder)")
    return tuple(join_prompts(by_speaker, corpus="fsdd", genders=FSDD_GENDER, languages=dict.fromkeys(by_speaker, "en"), seed=seed,
                              min_seconds=min_s, max_seconds=max_s, gap_ms=gap_ms, cache_dir=cache_dir))


def join_prompts(by_speaker: dict[str, list[Path]], *, corpus: str, genders: dict[str, str],
                 languages: dict[str, str], seed: int = 0, min_seconds: float = 2.0, max_seconds: float = 6.0,
                 gap_ms: tuple[float, float] = (50.0, 150.0), cache_dir: str | Path | None = None,
                 loader: Callable[[Path], np.ndarray] | None = None) -> list[Utterance]:
    """Join each speaker's short recordings into ``min_seconds``-``max_seconds`` utterances.

    Why: spoken digits and telephone prompts last 0.3-1.5 s, shorter than a 3.2 s training chunk.
    Files are shuffled per speaker (seeded by seed and speaker name) and concatenated with random
    ``gap_ms`` silences, each file used once; a remainder under half of ``min_seconds`` is dropped.
    Returned in memory; with ``cache_dir`` also written there as WAVs (and kept on later calls).
    """
    load = loader or load_audio
    out: list[Utterance] = []
    for spk, files in sorted(by_speaker.items()):
        rng = np.random.default_rng([seed, *spk.encode()])
        order = [files[i] for i in rng.permutation(len(files))]
        k = 0
        while k < len(order):
            target = rng.uniform(min_seconds, max_seconds) * SAMPLE_RATE
            parts, n = [], 0
            while k < len(order) and n < target:
                if parts:
                    gap = np.zeros(int(rng.uniform(*gap_ms) / 1000 * SAMPLE_RATE), np.float32)
                    parts.append(gap)
                    n += len(gap)
                x = load(order[k])
                parts.append(x)
                n += len(x)
                k += 1
            if n < min_seconds * SAMPLE_RATE * 0.5:  # a short remainder: drop rather than make a 1-prompt utterance
                break
            name = f"{corpus}-{spk}-{len(out):04d}"
            utt = Utterance(speaker=spk, gender=genders.get(spk, "?"), corpus=corpus, audio=np.concatenate(parts),
                            language=languages.get(spk), group=spk, name=name)
            if cache_dir:
                path = Path(cache_dir) / spk / f"{name}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                if not path.exists():
                    sf.write(str(path), utt.audio, SAMPLE_RATE, subtype="FLOAT")
                utt.path = path
            out.append(utt)
    return out


def shifted_speakers(utterances: list[Utterance], n_shifts: int, seed: int = 0) -> list[Utterance]:
    """Pitch/tempo-shifted copies of every speaker, as the synthetic corpus makes of its voices.

    FSDD gives only two talkers to fine-tune on; a shifted copy of a real recording is a new
    voice recorded in the same room, so real speech meets more than one pair of voices.  Copies
    keep their source's ``group``, so they never cross a split.  Needs sox.
    """
    from training.data.synth_corpus import shift_plan, sox_shift

    if n_shifts > 0 and shutil.which("sox") is None:
        raise RuntimeError("shifted copies of speakers need sox: apt-get install sox (or set data.fsdd_shifts = 0)")
    out = []
    for spk in sorted({u.speaker for u in utterances}):
        mine = [u for u in utterances if u.speaker == spk]
        for tag, cents, tempo in shift_plan(spk, n_shifts, seed):
            for u in mine:
                audio = u.audio if u.audio is not None else load_audio(u.path)
                out.append(replace(u, speaker=f"{spk}.{tag}", path=None, audio=sox_shift(audio, cents, tempo),
                                   sample_rate=SAMPLE_RATE, group=u.group or spk,
                                   name=f"{u.name or u.id}.{tag}"))
    return out


def _speakers_txt(root: Path) -> dict[str, str]:
    """LibriSpeech SPEAKERS.TXT: ``ID | SEX | SUBSET | MINUTES | NAME`` lines."""
    for cand in (root / "SPEAKERS.TXT", root.parent / "SPEAKERS.TXT"):
        if cand.exists():
            out = {}
            for line in cand.read_text(errors="replace").splitlines():
                cols = [c.strip() for c in line.split("|")]
                if not line.startswith(";") and len(cols) >= 2:
                    out[cols[0]] = _gender(cols[1])
            return out
    return {}


def librispeech_root(root: str | Path | None = None) -> Path:
    """Argument, else $SEPVIZ_LIBRISPEECH, else ../shared/data/librispeech next to the repository."""
    return Path(root or os.environ.get("SEPVIZ_LIBRISPEECH") or DEFAULT_LIBRISPEECH)


def librispeech(root: str | Path | None = None, subset: str = "train-clean-100") -> list[Utterance]:
    """LibriSpeech ``[SUBSET/]SPK/CHAPTER/*.flac`` with ``SPEAKERS.TXT`` (genders) beside or above it.

    Without `root`: $SEPVIZ_LIBRISPEECH, else ``../shared/data/librispeech`` (191 readers, one
    utterance each).  A missing folder or one without FLAC files raises FileNotFoundError naming it.
    """
    root = librispeech_root(root)
    base = root / subset if (root / subset).is_dir() else root
    genders = _speakers_txt(root if base != root else root.parent) or _speakers_txt(base)
    out = [Utterance(speaker=p.parts[-3], gender=genders.get(p.parts[-3], "?"), corpus="librispeech", path=p,
                     language="en", group=p.parts[-3]) for p in sorted(base.glob("*/*/*.flac"))]
    if not out:
        raise FileNotFoundError(f"no LibriSpeech FLAC files (SPEAKER/CHAPTER/*.flac) under {base}; point "
                                "$SEPVIZ_LIBRISPEECH (or the root argument) at a LibriSpeech folder, e.g. ../shared/data/librispeech")
    return out


@dataclass(frozen=True)
class AsteriskVoice:
    """One professional prompt voice packaged by Debian (../shared/data/asterisk/SOURCE.md)."""

    name: str
    gender: str
    language: str
    packages: tuple[str, ...]
    folders: tuple[str, ...] = ()  # sub-folders of /usr/share/asterisk/sounds it owns; () = every file of its packages


ASTERISK_VOICES: tuple[AsteriskVoice, ...] = (
    AsteriskVoice("allison", "f", "en", ("asterisk-core-sounds-en-wav", "asterisk-core-sounds-es-wav"),
                  ("en_US_f_Allison", "es_MX_f_Allison")),
    AsteriskVoice("june", "f", "fr", ("asterisk-core-sounds-fr-wav",), ("fr_CA_f_June",)),
    AsteriskVoice("carlo", "m", "it", ("asterisk-core-sounds-it-wav",), ("it_IT_m_Carlo",)),
    AsteriskVoice("ivrvoice_ru", "f", "ru", ("asterisk-core-sounds-ru-wav",), ("ru_RU_f_IvrvoiceRU",)),
    AsteriskVoice("menardi", "f", "it", ("asterisk-prompt-it-menardi-wav",), ("it_IT_f_Menardi",)),
    AsteriskVoice("armelle", "f", "fr", ("asterisk-prompt-fr-armelle",)),
    AsteriskVoice("es_co", "f", "es", ("asterisk-prompt-es-co",)),
)


def install_asterisk_voices(voices: tuple[AsteriskVoice, ...] = ASTERISK_VOICES) -> None:
    """apt-get the voices' Debian packages (and sox, which decodes the GSM ones); root only."""
    packages = sorted({p for v in voices for p in v.packages} | {"sox"})
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise RuntimeError("installing the Asterisk voices needs root and apt-get: apt-get install " + " ".join(packages))
    import subprocess

    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env, stdout=subprocess.DEVNULL)


def _package_files(package: str) -> list[Path]:
    import subprocess

    r = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True)
    return [Path(line) for line in r.stdout.splitlines() if line.endswith((".wav", ".gsm"))] if r.returncode == 0 else []


def asterisk_files(voice: AsteriskVoice) -> list[Path]:
    """The voice's prompt files (WAV or GSM) as its installed packages list them; [] if not installed.

    Silence files and links are left out (several packages link digits into a shared folder)."""
    files = []
    for pkg in voice.packages:
        for f in _package_files(pkg):
            rel = f.relative_to(ASTERISK_SOUNDS).parts if f.is_relative_to(ASTERISK_SOUNDS) else f.parts
            if voice.folders and not (rel and rel[0] in voice.folders):
                continue
            if "silence" in rel or f.is_symlink() or not f.is_file():
                continue
            files.append(f)
    return sorted(set(files))


def _load_prompt(path: Path) -> np.ndarray:
    """A prompt at 8 kHz mono; GSM 06.10 files are decoded by sox, and leading/trailing silence trimmed."""
    if path.suffix == ".gsm":
        import subprocess

        raw = subprocess.run(["sox", "-t", "gsm", "-r", "8000", "-c", "1", str(path), "-t", "raw", "-e", "float",
                              "-b", "32", "-"], capture_output=True, check=True).stdout
        x = np.frombuffer(raw, dtype=np.float32).copy()
    else:
        x = load_audio(path)
    if not x.size:
        return x
    loud = np.flatnonzero(np.abs(x) > 10 ** (-40 / 20) * max(float(np.abs(x).max()), 1e-9))
    pad = int(0.05 * SAMPLE_RATE)
    return x[max(0, loud[0] - pad): loud[-1] + pad] if loud.size else x[:0]


def asterisk(root: str | Path | None = "data/asterisk", *, voices: tuple[str, ...] | None = None, seed: int = 0,
             install: bool = False) -> list[Utterance]:
    """Real telephone-prompt voices from Debian's Asterisk packages: each voice's prompts joined into
    2-6 s utterances (:func:`join_prompts`), cached as WAVs under `root` (None: in memory only).

    With `install` the packages are apt-get installed first.  Voices whose packages are missing
    raise FileNotFoundError naming the packages and the command that installs them.
    """
    known = {v.name for v in ASTERISK_VOICES}
    if voices is not None and set(voices) - known:
        raise ValueError(f"unknown Asterisk voices {sorted(set(voices) - known)}; choose from {sorted(known)}")
    chosen = [v for v in ASTERISK_VOICES if voices is None or v.name in voices]
    if install:
        install_asterisk_voices(tuple(chosen))
    by_speaker = {v.name: asterisk_files(v) for v in chosen}
    missing = [v for v in chosen if not by_speaker[v.name]]
    if missing:
        pkgs = " ".join(p for v in missing for p in v.packages)
        raise FileNotFoundError(f"Asterisk voices {', '.join(v.name for v in missing)} are not installed: "
                                f"apt-get install {pkgs} (or python -m training.data.real_corpus --install)")
    # utterance names count over the chosen voices, so each choice of voices gets its own cache
    cache = None if root is None else Path(root) / f"seed{seed}" / ("all" if voices is None else "+".join(v.name for v in chosen))
    return join_prompts(by_speaker, corpus="asterisk", genders={v.name: v.gender for v in chosen},
                        languages={v.name: v.language for v in chosen}, seed=seed, cache_dir=cache,
                        loader=_load_prompt)


def timit(root: str | Path, subsets: tuple[str, ...] = ("TRAIN", "TEST"), include_sa: bool = False) -> list[Utterance]:
    """TIMIT ``TRAIN|TEST/DR*/[MF]SPK/*.WAV`` (any case); gender is the speaker folder's first letter.

    The two SA sentences are read by every speaker, so they are left out unless `include_sa`.
    """
    root = Path(root)
    out = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and p.name.upper() in subsets):
        for spk_dir in sorted(sub.glob("*/*")):
            if not (spk_dir.is_dir() and spk_dir.name[:1].upper() in "FM" and spk_dir.parent.name.upper().startswith("DR")):
                continue
            files: dict[str, Path] = {}  # "SA1.WAV" and a converted "SA1.WAV.wav": keep the shorter name
            for p in spk_dir.iterdir():
                if p.name.lower().endswith(".wav"):
                    key = p.name.split(".")[0].upper()
                    if key not in files or len(p.name) < len(files[key].name):
                        files[key] = p
            spk = spk_dir.name.upper()
            out += [Utterance(speaker=spk, gender=spk[0].lower(), corpus="timit", path=p, language="en", group=spk)
                    for k, p in sorted(files.items()) if include_sa or not k.startswith("SA")]
    return out


def _mixture_examples(root: Path, mix_dir: str, corpus: str) -> list[MixtureExample]:
    """Examples from every folder under root (root included) that holds `mix_dir`, s1, s2 [, s3]."""
    root = Path(root)
    dirs = [root] if (root / mix_dir).is_dir() else sorted(p.parent for p in root.rglob(mix_dir) if p.is_dir())
    out = []
    for d in dirs:
        src_dirs = [d / f"s{i}" for i in range(1, 5) if (d / f"s{i}").is_dir()]
        for m in sorted((d / mix_dir).glob("*.wav")):
            srcs = [s / m.name for s in src_dirs]
            if len(srcs) >= 2 and all(s.exists() for s in srcs):
                name = m.stem if d == root else f"{d.relative_to(root).as_posix()}/{m.stem}"
                out.append(MixtureExample(name, m, srcs, corpus))
    return out


def wsj0mix(root: str | Path) -> list[MixtureExample]:
    """wsj0-2mix/3mix layout ``mix/ s1/ s2/ [s3/]`` (root, or e.g. ``wav8k/min`` holding tr/cv/tt)."""
    return _mixture_examples(Path(root), "mix", "wsj0mix")


def librimix(root: str | Path, mix_dir: str = "mix_clean") -> list[MixtureExample]:
    """LibriMix layout ``mix_clean/ s1/ s2/ [s3/]`` (noisy ``mix_both`` does not sum to the sources)."""
    return _mixture_examples(Path(root), mix_dir, "librimix")


CORPORA: dict[str, Callable[..., list[Utterance]]] = {
    "synth": synth, "fsdd": fsdd, "librispeech": librispeech, "asterisk": asterisk, "timit": timit}
MIXTURE_CORPORA: dict[str, Callable[..., list[MixtureExample]]] = {"wsj0mix": wsj0mix, "librimix": librimix}
