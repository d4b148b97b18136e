"""Check, install and summarise the real-speech corpora the recipes train on.

    python -m training.data.real_corpus --check      # what is there, what is missing and how to get it
    python -m training.data.real_corpus --install    # apt-get the Asterisk prompt voices (root), then check

LibriSpeech and FSDD are read from ../shared/data (or $SEPVIZ_LIBRISPEECH / $SEPVIZ_FSDD); the
Asterisk voices are Debian packages (../shared/data/asterisk/SOURCE.md), joined into 2-6 s
utterances and cached under data/asterisk.  Exit status 0 when every corpus is there, 1 otherwise.
"""
from __future__ import annotations

import argparse
import sys

from training.data import corpora, splits

REAL = ("librispeech", "asterisk", "fsdd")


def check() -> bool:
    ok = True
    for name in REAL:
        try:
            utts = corpora.CORPORA[name]()
        except (FileNotFoundError, RuntimeError) as e:
            print(f"{name}: missing: {e}")
            ok = False
            continue
        d = splits.describe(utts, hours=True)
        print(f"{name}: {d['speakers']} talkers ({d['female']} women), {d['utterances']} utterances, {d['hours']} h")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--install", action="store_true", help="apt-get the Asterisk voices first (needs root)")
    ap.add_argument("--check", action="store_true", help="only report (the default)")
    a = ap.parse_args(argv)
    if a.install:
        try:
            corpora.install_asterisk_voices()
        except Exception as e:  # noqa: BLE001 - apt-get's own failure, reported in one line
            print(f"could not install the Asterisk voices: {e}", file=sys.stderr)
            return 1
    return 0 if check() else 1


if __name__ == "__main__":
    sys.exit(main())
