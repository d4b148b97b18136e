#!/usr/bin/env python
"""Build the small committed example mixtures in ``examples/`` (8 kHz PCM16, ~5 s each).

From the synthetic corpus (once it exists)::

    python scripts/make_examples.py --corpus data/synth --clean

reads ``data/synth/manifest.tsv`` (columns: speaker, gender, language, engine, path, duration_s;
``path`` relative to the corpus folder), keeps the *test* speakers (the speaker-disjoint split of
``training.data.splits`` when importable, else a ``split`` column, else a seeded 20 % of speakers),
and mixes speakers of different genders at 0-5 dB: ``--n2`` two-talker and ``--n3`` three-talker
examples.

Without a corpus (development only)::

    python scripts/make_examples.py --espeak --clean

makes a few mixtures with espeak-ng voices saying different sentences.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sepviz.audio import load_audio  # noqa: E402
from sepviz.examples import SAMPLE_RATE, mix_sources, trim_silence, write_example  # noqa: E402

SECONDS = 5.0


# --------------------------------------------------------------------------- corpus mode
def read_manifest(corpus: Path) -> list[dict]:
    path = corpus / "manifest.tsv"
    if not path.is_file():
        sys.exit(f"no manifest.tsv in {corpus}")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    need = {"speaker", "gender", "path"}
    if not rows or not need <= set(rows[0]):
        sys.exit(f"{path} must have the columns {sorted(need)}")
    return rows


def test_speakers(rows: list[dict], corpus: Path, seed: int) -> set[str]:
    """The held-out speakers: the project's own split when available, so examples are unseen."""
    try:
        from training.data import corpora, splits  # type: ignore

        utts = corpora.CORPORA["synth"](str(corpus))
        return {u.speaker for u in splits.split_utterances(utts, "test", seed=seed)}
    except Exception as exc:  # noqa: BLE001 - the split module may not exist or differ
        print(f"note: training.data.splits not usable ({exc.__class__.__name__}); using a fallback split")
    if "split" in rows[0]:
        return {r["speaker"] for r in rows if r["split"].strip().lower() == "test"}
    speakers = sorted({r["speaker"] for r in rows}, key=lambda s: hashlib.sha1(f"{seed}:{s}".encode()).hexdigest())
    return set(speakers[: max(3, len(speakers) // 5)])


def talker(utts: list[Path], rng: np.random.Generator, seconds: float = SECONDS) -> tuple[np.ndarray, list[str]]:
    """Concatenate a speaker's utterances (silence trimmed, short gaps) up to ``seconds``."""
    parts, used, total = [np.zeros(int(rng.uniform(0, 0.3) * SAMPLE_RATE), np.float32)], [], 0
    order = rng.permutation(len(utts))
    for i in np.resize(order, max(len(order), 50)):
        w = trim_silence(load_audio(utts[i], target_sr=SAMPLE_RATE)[0])
        parts += [w, np.zeros(int(0.15 * SAMPLE_RATE), np.float32)]
        used.append(utts[i].name)
        total += len(w) + int(0.15 * SAMPLE_RATE)
        if total >= seconds * SAMPLE_RATE:
            break
    wave = np.concatenate(parts)
    if len(wave) < seconds * SAMPLE_RATE:
        wave = np.pad(wave, (0, int(seconds * SAMPLE_RATE) - len(wave)))
    return wave[: int(seconds * SAMPLE_RATE)], used


def pick_group(by_gender: dict[str, list[str]], n: int, rng: np.random.Generator,
               base: dict[str, str] | None = None) -> list[str]:
    """``n`` distinct speakers, covering both genders when the test split has both, and (when the
    corpus says which talkers are pitch-shifted copies of one base voice) from different bases."""
    base = base or {}
    genders = [g for g in sorted(by_gender) if by_gender[g]]
    chosen: list[str] = []
    for k in range(n):
        g = genders[k % len(genders)]
        used = {base.get(s, s) for s in chosen}
        pool = [s for s in by_gender[g] if s not in chosen and base.get(s, s) not in used]
        if not pool:
            pool = [s for gg in genders for s in by_gender[gg] if s not in chosen and base.get(s, s) not in used]
        if not pool:
            pool = [s for gg in genders for s in by_gender[gg] if s not in chosen]
        chosen.append(pool[int(rng.integers(len(pool)))])
    rng.shuffle(chosen)
    return chosen


def from_corpus(args) -> list[tuple[str, list[np.ndarray], list[float], dict]]:
    corpus = Path(args.corpus)
    rows = read_manifest(corpus)
    test = test_speakers(rows, corpus, args.seed)
    utts: dict[str, list[Path]] = defaultdict(list)
    gender: dict[str, str] = {}
    meta_of: dict[str, dict] = {}
    for r in rows:
        if r["speaker"] in test:
            p = Path(r["path"])
            utts[r["speaker"]].append(p if p.is_absolute() else corpus / p)
            gender[r["speaker"]] = r["gender"].strip().lower()[:1]
            meta_of[r["speaker"]] = {k: r.get(k) for k in ("language", "engine", "base_voice")}
    if len(utts) < 3:
        sys.exit(f"only {len(utts)} test speakers in {corpus}; need at least 3")
    by_gender: dict[str, list[str]] = defaultdict(list)
    for s in sorted(utts):
        by_gender[gender[s]].append(s)
    rng = np.random.default_rng(args.seed)
    out = []
    for n, count in ((2, args.n2), (3, args.n3)):
        for j in range(count):
            spk = pick_group(by_gender, n, rng, {s: m.get("base_voice") or s for s, m in meta_of.items()})
            waves, used = zip(*(talker(utts[s], rng) for s in spk))
            snrs = [float(np.round(rng.uniform(0, 5), 2)) for _ in spk[1:]]
            meta = {"source": f"synthetic corpus ({corpus.name}, test speakers)", "speakers": spk,
                    "genders": [gender[s] for s in spk], "snr_db": snrs, "files": [list(u) for u in used],
                    "engines": [meta_of[s].get("engine") for s in spk],
                    "languages": [meta_of[s].get("language") for s in spk]}
            out.append((f"synth_{n}talker_{j + 1}", list(waves), snrs, meta))
    return out


# --------------------------------------------------------------------------- espeak-ng mode (dev)
ESPEAK_TALKERS = {  # name: (voice, pitch 0-99, speed wpm, gender)
    "ava": ("en-us+f3", 75, 150, "f"),
    "ben": ("en-gb+m3", 35, 160, "m"),
    "cleo": ("en-gb+f4", 85, 140, "f"),
    "dan": ("en-us+m1", 25, 150, "m"),
}
SENTENCES = [
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well. These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls. The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck. Four hours of steady work faced us.",
    "A large size in stockings is hard to sell. The boy was there when the sun rose.",
    "Kick the ball straight and follow through. Help the woman get back to her feet.",
]
ESPEAK_MIXES = [  # (name, talkers, sentence indices, snrs)
    ("tts_2talker_mf", ("ben", "ava"), (0, 1), [2.0]),
    ("tts_2talker_fm", ("cleo", "dan"), (2, 3), [0.5]),
    ("tts_3talker", ("dan", "ava", "ben"), (4, 5, 1), [1.5, 3.0]),
]


def espeak(text: str, voice: str, pitch: int, speed: int) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "out.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(wav), text],
                       check=True, capture_output=True)
        return trim_silence(load_audio(wav, target_sr=SAMPLE_RATE)[0])


def from_espeak(args) -> list[tuple[str, list[np.ndarray], list[float], dict]]:
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is not installed")
    out = []
    rng = np.random.default_rng(args.seed)
    for name, talkers, sent, snrs in ESPEAK_MIXES:
        waves = []
        for t, s in zip(talkers, sent):
            voice, pitch, speed, _ = ESPEAK_TALKERS[t]
            w = espeak(SENTENCES[s], voice, pitch, speed)
            w = np.concatenate([np.zeros(int(rng.uniform(0, 0.3) * SAMPLE_RATE), np.float32), w])
            w = np.pad(w, (0, max(0, int(SECONDS * SAMPLE_RATE) - len(w))))[: int(SECONDS * SAMPLE_RATE)]
            waves.append(w)
        meta = {"source": "espeak-ng TTS (development placeholder)", "speakers": list(talkers),
                "genders": [ESPEAK_TALKERS[t][3] for t in talkers], "snr_db": snrs,
                "text": [SENTENCES[s] for s in sent]}
        out.append((name, waves, snrs, meta))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--corpus", help="corpus folder with manifest.tsv (e.g. data/synth)")
    src.add_argument("--espeak", action="store_true", help="development placeholders made with espeak-ng")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "examples"))
    ap.add_argument("--n2", type=int, default=3, help="two-talker examples (corpus mode)")
    ap.add_argument("--n3", type=int, default=2, help="three-talker examples (corpus mode)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clean", action="store_true", help="remove existing example folders in --out first")
    args = ap.parse_args(argv)
    items = from_corpus(args) if args.corpus else from_espeak(args)
    out = Path(args.out)
    if args.clean and out.is_dir():
        for d in out.iterdir():
            if d.is_dir() and (d / "mix.wav").is_file():
                shutil.rmtree(d)
    for name, waves, snrs, meta in items:
        mix, sources = mix_sources(waves, snrs)
        write_example(out / name, mix, sources, meta=meta)
        print(f"{out / name}: {len(sources)} talkers, {len(mix) / SAMPLE_RATE:.1f} s, "
              f"{' + '.join(meta['speakers'])}, SNR {snrs} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
