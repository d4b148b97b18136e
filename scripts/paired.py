"""Paired comparison of two `sepviz evaluate --json` results on the same folder.

    python scripts/paired.py A.json B.json [--system model:kmeans] [--other-system model:kmeans]

Prints the mean SI-SNRi of each, the mean of the per-mixture differences B - A with its standard
error, and how many mixtures fell.  Why: on a 25-mixture test folder the spread between mixtures
(several dB) hides a 0.1 dB change in the means; the per-mixture differences do not.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sepviz.evaluation import paired_difference  # noqa: E402


def per_mixture(path: str, system: str) -> tuple[list[str], np.ndarray]:
    result = json.loads(open(path, encoding="utf-8").read())
    per = (result.get("extra") or {}).get("per_mixture")
    if not per:
        raise SystemExit(f"{path} has no extra.per_mixture (written by `sepviz evaluate --json` since 2026-12-02)")
    if system not in per["si_snri"]:
        raise SystemExit(f"{path} has no system {system!r}; it has {', '.join(per['si_snri'])}")
    return per["files"], np.array([np.nan if v is None else v for v in per["si_snri"][system]], dtype=np.float64)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--system", default="model:kmeans", help="GROUP:NAME in A (and in B unless --other-system)")
    ap.add_argument("--other-system", default=None, help="the system to take from B (default: --system)")
    args = ap.parse_args(argv)
    files_a, a = per_mixture(args.a, args.system)
    files_b, b = per_mixture(args.b, args.other_system or args.system)
    common = sorted(set(files_a) & set(files_b))
    if len(common) < 2:
        raise SystemExit(f"the two results share {len(common)} mixtures; a paired comparison needs at least 2")
    ia, ib = ({f: i for i, f in enumerate(files)} for files in (files_a, files_b))
    a, b = a[[ia[f] for f in common]], b[[ib[f] for f in common]]
    d = paired_difference(a, b)
    print(f"{d.n} mixtures in both: A {d.mean_a:.3f} dB, B {d.mean_b:.3f} dB; B - A {d.mean:+.3f} dB "
          f"(se {d.se:.3f}); fell in {d.fell}, rose in {d.rose}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
