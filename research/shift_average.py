"""Does averaging separations over shifted STFT frames help? (test-time augmentation, a probe)

    python research/shift_average.py --checkpoint checkpoints/default.pt --data data/mix/synth2_valid --limit 40

Demucs-style "shifts": the mixture is delayed by a fraction of the hop (0, 16, 32, 48 samples of
a 64-sample hop), so every run sees other frames; each run is separated with the checkpoint's
default settings (k-means, its calibrated tracking and temperature), its voices are put back in
time and in the first run's order, and the voices are averaged.  The WFM oracle gets the same
treatment, so any gain can be compared with what the framing alone gives an ideal mask.
Prints each mixture's SI-SNRi (dB) and the means: one run, the average, WFM, WFM averaged.
Use validation folders to choose, test folders once.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from sepviz.evaluation import mixture_folder, paired_difference, read_reference, read_references
from sepviz.metrics import best_pairing, ideal_mask_separation, si_snr_improvement
from sepviz.separate import separate

SR = 8000


def _score(est: np.ndarray, refs: np.ndarray, mix: np.ndarray) -> float:
    return float(np.mean(si_snr_improvement(est[list(best_pairing(est, refs))], refs, mix)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="checkpoints/default.pt")
    ap.add_argument("--data", type=Path, required=True, help="a wsj0-2mix style folder (mix/ s1/ s2/ [s3/])")
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--shifts", default="0,16,32,48", help="delays in samples, comma-separated")
    ap.add_argument("--clusterer", default="kmeans")
    args = ap.parse_args(argv)
    shifts = [int(s) for s in args.shifts.split(",")]
    mixes, src_dirs, names = mixture_folder(args.data, args.limit)
    rows = []
    for path, name in zip(mixes, names):
        mix = read_reference(path, SR).astype(np.float32)
        n = len(mix)
        refs = read_references(src_dirs, name, SR, n)
        runs, oracle_runs = [], []
        for s in shifts:
            delayed = np.concatenate([np.zeros(s, np.float32), mix])
            sep = separate((delayed, SR), None, args.checkpoint, args.clusterer, refs.shape[0])
            est = np.stack(sep.voices_model_sr)[:, s:s + n]
            if runs:  # the first run's voice order
                est = est[list(best_pairing(est, runs[0]))]
            runs.append(est)
            delayed_refs = np.concatenate([np.zeros((refs.shape[0], s)), refs], 1)
            oracle_runs.append(ideal_mask_separation(delayed, delayed_refs, "wfm")[:, s:s + n])
        row = [_score(runs[0], refs, mix), _score(np.mean(runs, 0), refs, mix),
               _score(oracle_runs[0], refs, mix), _score(np.mean(oracle_runs, 0), refs, mix)]
        rows.append(row)
        print(name, " ".join(f"{v:6.2f}" for v in row), flush=True)
    one, avg, wfm, wfm_avg = np.mean(rows, 0)
    gain = paired_difference(np.array(rows)[:, 0], np.array(rows)[:, 1])
    print(f"{len(rows)} mixtures, shifts {shifts}: one run {one:.3f}, averaged {avg:.3f} dB "
          f"({gain.mean:+.3f}, se {gain.se:.3f}); "
          f"WFM {wfm:.3f}, averaged {wfm_avg:.3f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
