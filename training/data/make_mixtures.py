"""Write a fixed, seeded set of mixtures (wsj0-2mix layout) from one split of a corpus.

    python -m training.data.make_mixtures --corpus synth --root data/synth --split test \
        --n 200 --speakers 2 --mode min --seed 0 --out data/mix/synth2_test
    python -m training.data.make_mixtures --corpus fsdd --split test --n 200 --speakers 2 --out data/mix/fsdd2_test
    python -m training.data.make_mixtures --corpus librispeech --split test --genders same --n 60 --out data/mix/real2_same_test
    python -m training.data.make_mixtures --corpus fsdd,asterisk --fsdd-scheme finetune --split test --n 60 \
        --out data/mix/cross2_test

Several corpora (comma-separated) pool their `--split` talkers; the real corpora read their default
folders (../shared/data/..., the installed Asterisk voices) unless `--root` names one (one corpus only).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.data import corpora, splits
from training.data.mixing import GENDER_RULES, write_mixture_folder


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="synth", help=f"one or more of {','.join(sorted(corpora.CORPORA))}, comma-separated")
    ap.add_argument("--root", default=None, help="corpus folder (fsdd: default ../shared/data/fsdd or $SEPVIZ_FSDD)")
    ap.add_argument("--split", choices=splits.SPLITS + ("all",), default="test")
    ap.add_argument("--split-seed", type=int, default=0, help="seed of the speaker split (keep 0 to match training)")
    ap.add_argument("--fsdd-scheme", choices=sorted(splits.FSDD_SPLITS), default="eval")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--speakers", type=int, choices=(2, 3), default=2)
    ap.add_argument("--mode", choices=("min", "max"), default="min")
    ap.add_argument("--seed", type=int, default=0, help="seed of the mixture draws")
    ap.add_argument("--genders", choices=GENDER_RULES, default="any",
                    help="mixed: every mixture holds both genders; same: one gender")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    names = [n for n in a.corpus.split(",") if n]
    bad = [n for n in names if n not in corpora.CORPORA]
    if bad or not names:
        ap.error(f"unknown corpus {','.join(bad) or a.corpus!r}; choose from {', '.join(sorted(corpora.CORPORA))}")
    if a.root is None and "synth" in names:
        ap.error("--root is required for --corpus synth")
    if a.root is not None and len(names) > 1:
        ap.error("--root names one corpus folder: give one --corpus with it")
    utts = []
    try:
        for name in names:
            part = corpora.CORPORA[name](a.root) if a.root else corpora.CORPORA[name]()
            if a.split != "all":
                part = splits.split_utterances(part, a.split, seed=a.split_seed, fsdd_scheme=a.fsdd_scheme)
            utts += part
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    info = splits.describe(utts)
    print(f"{a.corpus} {a.split}: {info['speakers']} speakers ({info['female']} female), {info['utterances']} utterances")
    records = write_mixture_folder(a.out, utts, a.n, a.speakers, a.seed, a.mode, genders=a.genders)
    secs = sum(r.samples for r in records) / 8000
    print(f"wrote {len(records)} {a.speakers}-talker mixtures ({a.mode}, 0-5 dB, {a.genders} genders, {secs / 60:.1f} min) to {a.out}/"
          f"{{mix,{','.join(f's{c + 1}' for c in range(a.speakers))}}} + mixtures.tsv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
