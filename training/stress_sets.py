"""Generalisation test sets (the seed-003 tests): long mixtures and a white-noise burst.

    python -m training.stress_sets long  --root data/synth --out data/mix/synth2_long  --n 20 --seconds 32
    python -m training.stress_sets noise --base data/mix/synth2_test --out data/mix/synth2_noise --n 100

* ``long``: each talker's test utterances are joined into ~32 s turns, 10x the 400-frame
  (3.2 s) training chunks, then mixed with the usual recipe.
* ``noise``: a copy of a test folder where a 0.25 s white-noise burst (at the mixture's RMS level)
  is added to the middle of every mixture; the references stay the clean talkers.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from .data import corpora, splits
from .data.corpora import Utterance
from .data.mixing import write_mixture_folder

SR = 8000


def long_utterances(utts: list[Utterance], seconds: float, seed: int = 0) -> list[Utterance]:
    """Join each speaker's utterances (seeded order, 0.1-0.3 s pauses) into turns of ``seconds``."""
    rng = np.random.default_rng(seed)
    by_spk: dict[str, list[Utterance]] = {}
    for u in utts:
        by_spk.setdefault(u.speaker, []).append(u)
    out = []
    for spk, items in sorted(by_spk.items()):
        order = rng.permutation(len(items))
        pieces, total = [], 0
        for k in order:
            x = items[k].load(SR)
            pieces += [x, np.zeros(int(rng.uniform(0.1, 0.3) * SR), np.float32)]
            total += len(pieces[-1]) + len(x)
            if total >= seconds * SR:
                break
        if total >= 0.8 * seconds * SR:
            u0 = items[0]
            out.append(Utterance(speaker=spk, gender=u0.gender, corpus=u0.corpus, audio=np.concatenate(pieces)[: int(seconds * SR)],
                                 group=u0.group, language=u0.language, engine=u0.engine, name=f"{spk}-long"))
    return out


def add_noise_burst(base: Path, out: Path, n: int | None, burst_seconds: float = 0.25, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(base, out)
    files = sorted((out / "mix").glob("*.wav"))
    if n:
        for f in files[n:]:
            for d in out.iterdir():
                if d.is_dir():
                    (d / f.name).unlink(missing_ok=True)
        files = files[:n]
    for f in files:
        mix, sr = sf.read(f, dtype="float32")
        rms = float(np.sqrt(np.mean(mix ** 2)))
        m, half = len(mix) // 2, int(burst_seconds * sr / 2)
        mix[m - half: m + half] += rng.standard_normal(2 * half).astype(np.float32) * rms
        sf.write(f, mix, sr, subtype="FLOAT")
    return len(files)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=("long", "noise"))
    ap.add_argument("--root", default="data/synth", help="corpus (long)")
    ap.add_argument("--base", help="test folder to copy (noise)")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=32.0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if a.kind == "long":
        test = splits.split_utterances(corpora.synth(a.root), "test")
        longs = long_utterances(test, a.seconds, a.seed)
        recs = write_mixture_folder(a.out, longs, a.n, 2, a.seed, "min")
        print(f"wrote {len(recs)} mixtures of {a.seconds:.0f} s from {len(longs)} unseen talkers to {a.out}")
    else:
        k = add_noise_burst(Path(a.base), a.out, a.n, seed=a.seed)
        print(f"wrote {k} mixtures with a 0.25 s white-noise burst to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
