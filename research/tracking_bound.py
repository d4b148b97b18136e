"""How much moving attractors could give, and how much attractor tracking gets, for a checkpoint.

    python research/tracking_bound.py --checkpoint checkpoints/default.pt --data data/mix/synth2_valid --limit 40

Prints mean SI-SNRi (dB) over the folder's mixtures for four ways to form the masks from the same
embeddings:

- ``oracle, one attractor``: each talker's mean embedding over the bins it dominates (the
  ``oracle`` clusterer, T = 1);
- ``oracle, +-N frames``: the same mean taken over +-N frames around each frame (the bound: what
  attractors that move with the talkers could give when the bins' owners are known);
- ``CLUSTERER``: the clusterer's attractors at the model's temperature, no tracking;
- ``CLUSTERER + tracking``: the same start with the model's calibrated tracking (or ``--tracking``).

Use validation folders to choose, test folders once.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sepviz.checkpoint import load_checkpoint  # noqa: E402
from sepviz.evaluation import mixture_folder, read_references  # noqa: E402
from sepviz.calibration import Tracking  # noqa: E402
from sepviz.danet import ideal_attractors, masks_from_attractors  # noqa: E402
from sepviz.separate import (cluster_embedding, embed, embedding_masks, embedding_tracks,  # noqa: E402
                             reference_assignment)
from sepviz.tracking import tracked_masks, windowed_attractors  # noqa: E402
from training.calibrate import masks_si_snri  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, type=Path)
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--clusterer", default="kmeans")
    ap.add_argument("--frames", type=int, default=16, help="half-window of the oracle bound (frames)")
    ap.add_argument("--tracking", default=None, help="FRAMES:STRENGTH instead of the model's own tracking")
    a = ap.parse_args(argv)
    model = load_checkpoint(a.checkpoint)
    mixes, src_dirs, names = mixture_folder(a.data, a.limit)
    c = len(src_dirs)
    tracking = Tracking.from_value(a.tracking) if a.tracking else model.config.tracking(c)
    if tracking is None:
        print(f"{a.checkpoint.name} has no attractor tracking for {c} talkers: pass --tracking FRAMES:STRENGTH", file=sys.stderr)
        return 2
    sr = model.config.stft.get("sample_rate", 8000)
    bound = Tracking(a.frames, 1e-3)  # a negligible prior: only where a talker is absent
    rows: dict[str, list[float]] = {}
    with torch.inference_mode():
        for mix_path, name in zip(mixes, names):
            emb = embed(str(mix_path), None, model)
            refs = read_references(src_dirs, name, sr, len(emb.wave))
            owner = reference_assignment(emb, refs).float() * emb.salient.float()  # (C, T, F)
            whole = ideal_attractors(emb.v.unsqueeze(0), owner.unsqueeze(0))[0]  # the oracle clusterer's, (C, K)
            rows.setdefault("oracle, one attractor", []).append(
                masks_si_snri(emb, masks_from_attractors(emb.v.unsqueeze(0), whole.unsqueeze(0))[0], refs))
            rows.setdefault(f"oracle, +-{a.frames} frames", []).append(
                masks_si_snri(emb, tracked_masks(emb.v, windowed_attractors(emb.v, owner, bound, whole)), refs))
            res = cluster_embedding(emb, a.clusterer, c)
            rows.setdefault(a.clusterer, []).append(masks_si_snri(emb, embedding_masks(emb, res), refs))
            tracks = embedding_tracks(emb, res, tracking)
            rows.setdefault(f"{a.clusterer} + tracking ({tracking})", []).append(
                masks_si_snri(emb, embedding_masks(emb, res, tracks=tracks), refs))
    print(f"{a.checkpoint.name} on {a.data} ({len(names)} mixtures, {c} talkers), mean SI-SNRi dB:")
    for k, v in rows.items():
        print(f"  {k:45s} {np.mean(v):6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
