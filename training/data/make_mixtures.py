"""Write a fixed, seeded set of mixtures (wsj0-2mix layout) from one split of a corpus.

    python -m training.data.make_mixtures --corpus synth --root data/synth --split test \
        --n 200 --speakers 2 --mode min --seed 0 --out data/mix/synth2_test
    python -m training.data.make_mixtures --corpus fsdd --split test --n 200 --speakers 2 --out data/mix/fsdd2_test
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.data import corpora, splits
from training.data.mixing import write_mixture_folder


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", choices=sorted(corpora.CORPORA), default="synth")
    ap.add_argument("--root", default=None, help="corpus folder (fsdd: default ../shared/data/fsdd or $SEPVIZ_FSDD)")
    ap.add_argument("--split", choices=splits.SPLITS + ("all",), default="test")
    ap.add_argument("--split-seed", type=int, default=0, help="seed of the speaker split (keep 0 to match training)")
    ap.add_argument("--fsdd-scheme", choices=sorted(splits.FSDD_SPLITS), default="eval")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--speakers", type=int, choices=(2, 3), default=2)
    ap.add_argument("--mode", choices=("min", "max"), default="min")
    ap.add_argument("--seed", type=int, default=0, help="seed of the mixture draws")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    if a.root is None and a.corpus != "fsdd":
        ap.error(f"--root is required for --corpus {a.corpus}")
    utts = corpora.CORPORA[a.corpus](a.root) if a.root or a.corpus != "fsdd" else corpora.fsdd()
    if a.split != "all":
        utts = splits.split_utterances(utts, a.split, seed=a.split_seed, fsdd_scheme=a.fsdd_scheme)
    info = splits.describe(utts)
    print(f"{a.corpus} {a.split}: {info['speakers']} speakers ({info['female']} female), {info['utterances']} utterances")
    records = write_mixture_folder(a.out, utts, a.n, a.speakers, a.seed, a.mode)
    secs = sum(r.samples for r in records) / 8000
    print(f"wrote {len(records)} {a.speakers}-talker mixtures ({a.mode}, 0-5 dB, {secs / 60:.1f} min) to {a.out}/"
          f"{{mix,{','.join(f's{c + 1}' for c in range(a.speakers))}}} + mixtures.tsv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
