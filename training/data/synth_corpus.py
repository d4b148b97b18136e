"""Synthetic multi-talker speech corpus from the Debian TTS engines (flite, festival, espeak-ng).

Why: the project needs many distinct, licence-free talkers to train speaker-independent
separation models without downloading WSJ0/LibriSpeech. Every base voice is rendered as is and
as pitch/tempo-shifted copies (sox), so one engine voice yields several distinguishable speakers.

    python -m training.data.synth_corpus --out data/synth --utts-per-speaker 30 --jobs 2

Output: ``OUT/wav/{speaker}/{speaker}_{i:03d}.wav`` (8 kHz mono PCM16, -3 dBFS peak, trimmed),
``OUT/manifest.tsv`` and ``OUT/SUMMARY.md``. Re-running skips files that already exist.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import zip_longest
from pathlib import Path

import numpy as np
import soundfile as sf

from training.data.sentences import SENTENCES

SAMPLE_RATE = 8000
PEAK_DBFS = -3.0
TRIM_DB = -40.0  # frames quieter than this (relative to the loudest frame) count as silence
TRIM_MARGIN_S = 0.05
MANIFEST_COLUMNS = ("speaker", "gender", "language", "engine", "path", "duration_s", "base_voice", "text")

# Festival voices expect text in their historical 8-bit encodings.
FESTIVAL_ENCODING = {"cs": "iso-8859-2", "fi": "latin-1", "it": "latin-1"}


@dataclass(frozen=True)
class Talker:
    """One corpus speaker: an engine voice plus an optional sox pitch/tempo shift."""

    speaker: str  # stable id, also the folder name
    base_voice: str  # id of the unshifted voice; all copies of a voice share it (used by splits)
    gender: str  # "f" or "m" (shifted copies keep the base voice's label)
    language: str  # ISO 639-1
    engine: str  # "flite" | "festival" | "espeak"
    voice: str  # engine-specific voice name
    engine_args: tuple[str, ...] = ()
    pitch_cents: int = 0
    tempo: float = 1.0


def _base(engine: str, voice: str, gender: str, language: str, name: str | None = None,
          engine_args: tuple[str, ...] = ()) -> Talker:
    sid = f"{engine}-{name or voice}"
    return Talker(sid, sid, gender, language, engine, voice, engine_args)


FLITE_VOICES = [("kal", "m"), ("kal16", "m"), ("awb", "m"), ("rms", "m"), ("slt", "f")]
FESTIVAL_VOICES = [  # (voice, gender, language); Debian main festvox-* packages
    ("kal_diphone", "m", "en"), ("ked_diphone", "m", "en"), ("cmu_us_slt_arctic_hts", "f", "en"),
    ("lp_diphone", "f", "it"), ("pc_diphone", "m", "it"),
    ("czech_dita", "f", "cs"), ("czech_krb", "m", "cs"), ("czech_machac", "m", "cs"), ("czech_ph", "m", "cs"),
    ("suo_fi_lj_diphone", "f", "fi"), ("hy_fi_mv_diphone", "m", "fi"),
    ("upc_ca_ona_hts", "f", "ca"), ("msu_ru_nsh_clunits", "m", "ru"),
    ("hindi_NSK_diphone", "m", "hi"), ("marathi_NSK_diphone", "m", "mr"), ("telugu_NSK_diphone", "m", "te"),
]
# espeak-ng: (language voice, iso code, variants). Variants m* are male, f* female.
ESPEAK_VOICES = [
    ("en-us", "en", ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5"]),
    ("en-gb-x-rp", "en", ["m2", "m4", "f2", "f4"]),
    ("ar", "ar", ["m1", "f1", "f3"]), ("es", "es", ["m3", "f2", "f5"]), ("de", "de", ["m2", "f3", "f4"]),
    ("fr-fr", "fr", ["m4", "f1", "f4"]), ("it", "it", ["m5", "f2", "f3"]), ("cs", "cs", ["m6", "f4", "f5"]),
    ("fi", "fi", ["m7", "f1", "f5"]), ("ca", "ca", ["m1", "f2", "f4"]), ("hi", "hi", ["m3", "f1", "f3"]),
    ("ru", "ru", ["m2", "f2", "f5"]),
]


def stable_seed(*parts: object) -> int:
    """Process-independent seed (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "little")


def base_voices(seed: int = 0) -> list[Talker]:
    """All candidate unshifted voices, whether or not installed (see `available`)."""
    out = [_base("flite", v, g, "en") for v, g in FLITE_VOICES]
    out += [_base("festival", v, g, lang) for v, g, lang in FESTIVAL_VOICES]
    for lang_voice, lang, variants in ESPEAK_VOICES:
        for var in variants:
            rng = np.random.default_rng(stable_seed(seed, "espeak", lang_voice, var))
            args = ("-p", str(int(rng.integers(30, 71))), "-s", str(int(rng.integers(140, 186))))
            out.append(_base("espeak", f"{lang_voice}+{var}", "f" if var.startswith("f") else "m", lang,
                             name=f"{lang_voice}-{var}", engine_args=args))
    return out


def shift_plan(speaker: str, n_shifts: int, seed: int) -> list[tuple[str, int, float]]:
    """``(tag, cents, tempo)`` of each shifted copy of one voice: alternating down/up by 300-500
    cents (later copies step further out), tempo 0.9-1.1; seeded by the speaker's name."""
    rng = np.random.default_rng(stable_seed(seed, "shift", speaker))
    out = []
    for k in range(n_shifts):
        sign = -1 if k % 2 == 0 else 1
        cents = sign * min(int(rng.integers(300, 501)) + 150 * (k // 2), 800)
        tempo = round(float(rng.uniform(0.9, 1.1)), 3)
        out.append((f"{'up' if cents > 0 else 'dn'}{abs(cents)}", cents, tempo))
    return out


def shifted_copies(base: Talker, n_shifts: int, seed: int) -> list[Talker]:
    """Base voice plus `n_shifts` pitch/tempo-shifted copies (:func:`shift_plan`)."""
    return [base] + [replace(base, speaker=f"{base.speaker}.{tag}", pitch_cents=cents, tempo=tempo)
                     for tag, cents, tempo in shift_plan(base.speaker, n_shifts, seed)]


def _sox_effects(pitch_cents: int, tempo: float) -> list[str]:
    """sox effect arguments of one pitch/tempo shift (none for an unshifted voice)."""
    return (["pitch", str(pitch_cents)] if pitch_cents else []) + (["tempo", str(tempo)] if tempo != 1.0 else [])


def sox_shift(audio: np.ndarray, pitch_cents: int = 0, tempo: float = 1.0, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Pitch/tempo-shift an in-memory signal with sox (the effects the corpus's copies get)."""
    raw = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1"]
    cmd = ["sox", *raw, "-r", str(sr), "-", *raw, "-", *_sox_effects(pitch_cents, tempo)]
    out = subprocess.run(cmd, input=np.ascontiguousarray(audio, dtype=np.float32).tobytes(),
                         capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype=np.float32).copy()


@lru_cache(maxsize=None)
def _installed(engine: str) -> frozenset[str]:
    """Voice names the engine reports, or empty if the binary is missing."""
    exe = {"flite": "flite", "festival": "festival", "espeak": "espeak-ng"}[engine]
    if shutil.which(exe) is None:
        return frozenset()
    if engine == "flite":
        out = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout
        return frozenset(out.split(":", 1)[-1].split())
    if engine == "festival":
        out = subprocess.run(["festival", "--pipe"], input="(print (voice.list))", capture_output=True,
                             text=True).stdout
        return frozenset(out.replace("(", " ").replace(")", " ").split())
    out = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True).stdout
    return frozenset(line.split()[1] for line in out.splitlines()[1:] if len(line.split()) > 1)


def available(t: Talker) -> bool:
    name = t.voice.split("+")[0]
    return name in _installed(t.engine) and t.language in SENTENCES and shutil.which("sox") is not None


# Approximate speaking rate (characters/s, measured on this corpus) to aim texts at a duration.
CHARS_PER_SECOND = {"ar": 9.5, "mr": 10.0, "te": 11.2, "hi": 12.3, "fi": 14.0, "ru": 14.0, "cs": 14.5}
DEFAULT_CHARS_PER_SECOND = 16.5


def pick_texts(t: Talker, n: int, seed: int, seconds: tuple[float, float] = (2.5, 4.5),
               max_seconds: float = 6.0) -> list[str]:
    """Seeded per-talker texts of 1-3 sentences each, aimed at `seconds` of speech.

    One sentence is often under 3 s, too short for 400-frame training chunks, so sentences are
    joined (in a per-talker random order, cycling through the pool) until a random target length
    is reached, dropping the last one again if that overshoots `max_seconds`.
    """
    pool = SENTENCES[t.language]
    rate = CHARS_PER_SECOND.get(t.language, DEFAULT_CHARS_PER_SECOND) * t.tempo  # sox tempo > 1 speaks faster
    rng = np.random.default_rng(stable_seed(seed, "text", t.speaker))
    order = list(rng.permutation(len(pool)))
    k, out = 0, []
    for _ in range(n):
        target, parts = rng.uniform(*seconds) * rate, []
        while sum(map(len, parts)) < target and len(parts) < 3:
            parts.append(pool[order[k % len(order)]])
            k += 1
        if len(parts) > 1 and len(" ".join(parts)) > max_seconds * rate:
            parts.pop()
            k -= 1
        out.append(" ".join(parts))
    return out


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def synthesize_raw(t: Talker, texts: list[str], raw_paths: list[Path]) -> None:
    """Render texts with the talker's engine voice into WAVs at the engine's native rate."""
    if t.engine == "festival":  # one festival process per batch: its start-up dominates otherwise
        lines = [f"(voice_{t.voice})"] + [
            f"(utt.save.wave (utt.synth (Utterance Text {_scheme_string(x)})) {_scheme_string(str(p))} 'riff)"
            for x, p in zip(texts, raw_paths)]
        enc = FESTIVAL_ENCODING.get(t.language, "utf-8")
        with tempfile.NamedTemporaryFile("wb", suffix=".scm", delete=False) as f:
            f.write("\n".join(lines).encode(enc, errors="replace"))
        try:
            subprocess.run(["festival", "-b", f.name], capture_output=True, check=True, timeout=600)
        finally:
            os.unlink(f.name)
        return
    for text, p in zip(texts, raw_paths):
        if t.engine == "flite":
            cmd = ["flite", "-voice", t.voice, "-t", text, "-o", str(p)]
        elif t.engine == "espeak":
            cmd = ["espeak-ng", "-v", t.voice, *t.engine_args, "-w", str(p), text]
        else:
            raise ValueError(f"unknown engine {t.engine}")
        subprocess.run(cmd, capture_output=True, check=True, timeout=120)


def trim_and_normalise(x: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Cut leading/trailing silence (keeping a small margin) and set the peak to PEAK_DBFS."""
    hop = max(1, sr // 100)
    n = len(x) // hop
    if n == 0 or not np.any(x):
        return x.astype(np.float32)
    energy = 10 * np.log10(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    loud = np.nonzero(energy > energy.max() + TRIM_DB)[0]
    margin = int(TRIM_MARGIN_S * sr)
    x = x[max(0, loud[0] * hop - margin): min(len(x), (loud[-1] + 1) * hop + margin)]
    return (x * (10 ** (PEAK_DBFS / 20) / (np.abs(x).max() + 1e-12))).astype(np.float32)


def postprocess(raw: Path, out: Path, pitch_cents: int = 0, tempo: float = 1.0) -> float:
    """Shift/resample with sox, trim, normalise, write PCM16 atomically; returns duration in s."""
    cmd = ["sox", str(raw), "-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-",
           *_sox_effects(pitch_cents, tempo), "rate", "-v", str(SAMPLE_RATE)]
    audio = np.frombuffer(subprocess.run(cmd, capture_output=True, check=True).stdout, dtype=np.float32)
    y = trim_and_normalise(audio.astype(np.float64))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".part.wav")
    sf.write(tmp, y, SAMPLE_RATE, subtype="PCM_16")
    os.replace(tmp, out)
    return len(y) / SAMPLE_RATE


def render_talkers(talkers: list[Talker], out_root: Path, n_utts: int, seed: int = 0,
                   known_texts: dict[str, str] | None = None) -> list[dict]:
    """Render all utterances of a group of talkers (one engine voice); returns manifest rows.

    Existing files are kept (an interrupted run resumes where it stopped) unless `known_texts`
    (path -> text from an earlier manifest) says they were rendered from a different text.
    """
    out_root = Path(out_root)
    rows, todo = [], []
    for t in talkers:
        for i, text in enumerate(pick_texts(t, n_utts, seed)):
            path = Path("wav") / t.speaker / f"{t.speaker}_{i:03d}.wav"
            row = dict(speaker=t.speaker, gender=t.gender, language=t.language, engine=t.engine,
                       path=path.as_posix(), duration_s=None, base_voice=t.base_voice, text=text, new=False)
            rows.append(row)
            stale = known_texts is not None and known_texts.get(path.as_posix(), text) != text
            if (out_root / path).exists() and not stale:
                row["duration_s"] = sf.info(str(out_root / path)).duration
            else:
                row["new"] = True
                todo.append((t, row))
    if todo:
        with tempfile.TemporaryDirectory(prefix="synth_") as tmp:
            raws = [Path(tmp) / f"{k:04d}.wav" for k in range(len(todo))]
            by_voice: dict[tuple, list[int]] = {}
            for k, (t, _) in enumerate(todo):  # shifted copies share the engine voice: one batch
                by_voice.setdefault((t.engine, t.voice, t.engine_args, t.language), []).append(k)
            for ks in by_voice.values():
                synthesize_raw(todo[ks[0]][0], [todo[k][1]["text"] for k in ks], [raws[k] for k in ks])
            for raw, (t, row) in zip(raws, todo):
                row["duration_s"] = postprocess(raw, out_root / row["path"], t.pitch_cents, t.tempo)
    for r in rows:
        r["duration_s"] = round(float(r["duration_s"]), 3)
    return rows


def _render_job(args: tuple) -> tuple[str, list[dict] | str]:
    talkers, out_root, n_utts, seed, known = args
    try:
        return talkers[0].base_voice, render_talkers(talkers, out_root, n_utts, seed, known)
    except Exception as e:  # one broken voice must not stop the corpus
        return talkers[0].base_voice, f"{type(e).__name__}: {e}"


def plan(seed: int = 0, n_shifts: int = 2, max_speakers: int | None = None,
         engines: tuple[str, ...] = ("flite", "festival", "espeak")) -> list[list[Talker]]:
    """Groups of talkers (one group per installed base voice), interleaved across engines."""
    per_engine: dict[str, list[Talker]] = {e: [] for e in engines}
    for b in base_voices(seed):
        if b.engine not in per_engine:
            continue
        if available(b):
            per_engine[b.engine].append(b)
        else:
            warnings.warn(f"skipping {b.speaker}: {b.engine} voice {b.voice!r} not installed", stacklevel=2)
    order = [b for rnd in zip_longest(*per_engine.values()) for b in rnd if b is not None]
    groups, total = [], 0
    for b in order:
        g = shifted_copies(b, n_shifts, seed)
        if max_speakers is not None:
            g = g[: max(0, max_speakers - total)]
        if g:
            groups.append(g)
            total += len(g)
    return groups


def summarise(rows: list[dict], elapsed_s: float | None = None) -> str:
    """Markdown summary: talkers by gender/engine/language, utterances, hours."""
    spk = {r["speaker"]: r for r in rows}
    dur = np.array([r["duration_s"] for r in rows], dtype=float)
    g = Counter(r["gender"] for r in spk.values())

    def table(key: str) -> list[str]:
        c = Counter(r[key] for r in spk.values())
        f = Counter(r[key] for r in spk.values() if r["gender"] == "f")
        return [f"| {k} | {c[k]} | {f[k]} | {c[k] - f[k]} |" for k in sorted(c)]

    lines = [
        "# Synthetic corpus summary", "",
        f"- talkers: {len(spk)} ({g['f']} female, {g['m']} male), "
        f"base voices: {len({r['base_voice'] for r in spk.values()})}",
        f"- utterances: {len(rows)}, hours: {dur.sum() / 3600:.2f}, "
        f"duration s: mean {dur.mean():.2f}, min {dur.min():.2f}, max {dur.max():.2f}" if len(rows) else "- utterances: 0",
    ]
    if elapsed_s is not None:
        new = sum(bool(r.get("new")) for r in rows)
        lines.append(f"- this run: {elapsed_s / 60:.1f} min, {new} files rendered, {len(rows) - new} already present")
    lines += ["", "| engine | talkers | F | M |", "|---|---|---|---|", *table("engine"),
              "", "| language | talkers | F | M |", "|---|---|---|---|", *table("language"), ""]
    return "\n".join(lines)


def read_manifest_texts(out_root: Path) -> dict[str, str]:
    """path -> text of an existing manifest (empty if none), to detect files made from other texts."""
    try:
        with open(Path(out_root) / "manifest.tsv", newline="") as f:
            return {r["path"]: r["text"] for r in csv.DictReader(f, delimiter="\t") if r.get("text")}
    except FileNotFoundError:
        return {}


def write_manifest(rows: list[dict], out_root: Path) -> None:
    rows = sorted(rows, key=lambda r: r["path"])
    with open(Path(out_root) / "manifest.tsv", "w", newline="") as f:
        w = csv.DictWriter(f, MANIFEST_COLUMNS, delimiter="\t", lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("data/synth"))
    p.add_argument("--utts-per-speaker", type=int, default=30)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--max-speakers", type=int, default=None)
    p.add_argument("--shifts", type=int, default=2, help="pitch/tempo-shifted copies per base voice")
    p.add_argument("--engines", default="flite,festival,espeak")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    t0 = time.time()
    groups = plan(a.seed, a.shifts, a.max_speakers, tuple(a.engines.split(",")))
    print(f"{sum(map(len, groups))} talkers from {len(groups)} base voices -> {a.out}", flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    known = read_manifest_texts(a.out)
    jobs = [(g, a.out, a.utts_per_speaker, a.seed, known) for g in groups]
    rows: list[dict] = []
    with mp.get_context("fork").Pool(a.jobs) as pool:
        for k, (voice, res) in enumerate(pool.imap_unordered(_render_job, jobs), 1):
            if isinstance(res, str):
                print(f"[{k}/{len(jobs)}] {voice}: FAILED {res}", file=sys.stderr, flush=True)
                continue
            rows += res
            print(f"[{k}/{len(jobs)}] {voice}: {len(res)} utts, {time.time() - t0:.0f}s", flush=True)
    write_manifest(rows, a.out)
    summary = summarise(rows, time.time() - t0)
    (a.out / "SUMMARY.md").write_text(summary)
    print(summary)


if __name__ == "__main__":
    main()
