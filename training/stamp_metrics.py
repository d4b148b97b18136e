"""Write each checkpoint's held-out results (from ``docs/results.json``) into the checkpoint.

    python -m training.stamp_metrics checkpoints/*.pt --results docs/results.json

Why: a checkpoint should carry its own metrics, so the studio's model card and ``sepviz info``
say how well a model separates unseen talkers. Only ``metrics`` changes; weights, config and
training summary are kept byte for byte in meaning (the file is rewritten atomically).
Checkpoints are matched to results by file stem; one with no results keeps its metrics.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sepviz.checkpoint import summarize_metrics, write_metrics

KEPT = ("n", "model", "oracle", "command", "measured")


def metrics_for(results: dict, stem: str) -> dict:
    """The per-test-set results of one checkpoint, without per-run bookkeeping (timings, paths)."""
    out = {}
    for set_name, r in (results.get(stem) or {}).items():
        entry = {k: r[k] for k in KEPT if k in r}
        extra = r.get("extra") or {}
        if "data" in extra:
            entry["data"] = extra["data"]
        out[set_name] = entry
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--results", type=Path, default=Path("docs/results.json"))
    a = ap.parse_args(argv)
    if not a.results.exists():
        print(f"error: {a.results} not found (run scripts/make_results.sh first)", file=sys.stderr)
        return 2
    results = json.loads(a.results.read_text())
    for path in a.checkpoints:
        metrics = metrics_for(results, path.stem)
        if not metrics:
            print(f"{path}: no results, left as it is")
            continue
        write_metrics(path, metrics)
        print(f"{path}:\n  " + "\n  ".join(summarize_metrics(metrics)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
