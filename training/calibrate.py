"""Choose a DANet's test-time mask temperature (and attractor tracking) per talker count on
validation talkers.

    python -m training.calibrate --checkpoint checkpoints/default.pt \\
        --data data/mix/synth2_valid data/mix/synth3_valid --limit 40 \\
        --tracking-grid off,16:0.5,32:0.5,32:1 --write

Why: training forms masks from the *ideal* attractors, softmax(V a), and learns their sharpness for
those.  At test time a clusterer estimates the attractors, a little off, and the masks it gives are
then too sure of the bins near the boundary.  Dividing the similarities by a temperature T > 1
softens them.  The value is chosen by the clusterer's SI-SNRi on mixtures of validation talkers
(never the test ones) and stored in the checkpoint's config (``mask_temperature``), which every
separation then uses.  Training itself always uses T = 1.

With ``--tracking-grid`` every (tracking, T) pair is scored and the best pair is kept: tracked
attractors (``sepviz.tracking``) change how sharp the masks should be, so the two are chosen together.

Each folder (wsj0-2mix layout) calibrates the talker count of its source folders; the network runs
once per mixture and the clusterer once, so only the tracks, the masks and the iSTFT repeat.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np
import torch

from sepviz.calibration import MERGE_COSINE, ONE_TALKER_COSINE, TEMPERATURE_RANGE, Tracking
from sepviz.checkpoint import load_checkpoint, write_calibration
from sepviz.clusterers import available_clusterers
from sepviz.counting import count_from, counting_fit, max_cosine, speaker_count_plan
from sepviz.errors import CheckpointError, SepvizInputError
from sepviz.evaluation import mixture_folder, paired_difference, read_references
from sepviz.fitting import cluster_embedding
from sepviz.inference import embed
from sepviz.masking import embedding_masks, embedding_tracks
from sepviz.metrics import best_pairing, si_snr_improvement
from sepviz.resynthesis import masked_istft
from sepviz.threads import limit_threads

DEFAULT_GRID = (0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.5)


def masks_si_snri(emb, masks: torch.Tensor, refs: np.ndarray) -> float:
    """Mean SI-SNRi of the voices these masks give with the mixture phase (best permutation); a
    model with a learned front-end resynthesises through its back-end, as separations do."""
    est = masked_istft(emb, masks)
    return float(np.mean(si_snr_improvement(est[list(best_pairing(est, refs))], refs, emb.wave)))


def folder_scores(model, data: Path, limit: int | None, clusterers: list[str], grid: tuple[float, ...],
                  count_plan: tuple[str, int] | None = None,
                  trackings: tuple[Tracking | None, ...] = (None,)) -> tuple[int, dict[str, np.ndarray], list]:
    """C; per clusterer the SI-SNRi ``(mixtures, len(trackings), len(grid))`` of its masks with each
    tracking at each temperature; and, with ``count_plan = (counter, most talkers)``, each
    mixture's counting fit ``(energies, cosine)``."""
    mixes, src_dirs, names = mixture_folder(data, limit)
    c = len(src_dirs)
    sr = model.config.stft.get("sample_rate", 8000)
    rows: dict[str, list] = {k: [] for k in clusterers}
    fits = []
    for mix_path, name in zip(mixes, names):
        emb = embed(str(mix_path), None, model)
        if count_plan is not None:
            _, energies, cosine = counting_fit(emb, *count_plan)
            fits.append((energies, cosine))
        refs = read_references(src_dirs, name, sr, len(emb.wave))
        for clusterer in clusterers:
            res = cluster_embedding(emb, clusterer, c)  # once; only the masks change with T
            table = []
            with torch.inference_mode():
                for tracking in trackings:
                    row = []
                    for t in grid:
                        tracks = embedding_tracks(emb, res, tracking, temperature=t)
                        row.append(masks_si_snri(emb, embedding_masks(emb, res, temperature=t, tracks=tracks), refs))
                    table.append(row)
            rows[clusterer].append(table)
    return c, {k: np.asarray(v) for k, v in rows.items()}, fits


def choose_merge_cosine(fits_by_count: dict[int, list], grid: np.ndarray) -> tuple[float, dict[int, list[int]]]:
    """The merge threshold that counts the most validation mixtures right (the middle one of a tie),
    and for every threshold how many of each talker count it gets right."""
    right = {c: [sum(count_from(e, cos, m) == c for e, cos in fits) for m in grid] for c, fits in fits_by_count.items()}
    total = np.sum(list(right.values()), axis=0)
    best = np.flatnonzero(total == total.max())
    return float(grid[best[len(best) // 2]]), right


def one_talker_cosines(model, data: Path, limit: int | None) -> tuple[list[float], list[float]]:
    """Cosine between the two k-means attractors of each 2-talker validation mixture, and of each
    of its sources alone (one talker fitted with two attractors)."""
    mixes, src_dirs, names = mixture_folder(data, limit)
    if len(src_dirs) != 2:
        raise SepvizInputError(f"--one-talker needs a 2-talker folder; {data} has {len(src_dirs)} sources")
    pairs, singles = [], []
    for mix_path, name in zip(mixes, names):
        for path, out in [(mix_path, pairs)] + [(d / name, singles) for d in src_dirs]:
            out.append(max_cosine(cluster_embedding(embed(str(path), None, model), "kmeans", 2).attractors))
    return pairs, singles


MAX_FALSE_WARNINGS = 0.1  # at most this share of real 2-talker validation mixtures may get the warning


def choose_one_talker_cosine(pairs: list[float], singles: list[float], grid: np.ndarray,
                             max_false_warnings: float = MAX_FALSE_WARNINGS) -> tuple[float, list[int], list[int]]:
    """The threshold that tells them apart best (pairs at or below it, single talkers above; the
    shares right of the two kinds count the same; the middle of a tie) among those that warn on at
    most ``max_false_warnings`` of the real pairs (a warning on ordinary mixtures teaches users to
    ignore it; a network whose embeddings do not tell one talker from two then gets a threshold
    that rarely fires), and per threshold how many of each are right."""
    pairs_right = [int(sum(c <= t for c in pairs)) for t in grid]
    singles_right = [int(sum(c > t for c in singles)) for t in grid]
    total = np.round(np.divide(pairs_right, max(1, len(pairs))) + np.divide(singles_right, max(1, len(singles))), 9)
    allowed = np.divide(pairs_right, max(1, len(pairs))) >= 1 - max_false_warnings - 1e-9
    if not allowed.any():
        return float(grid[-1]), pairs_right, singles_right
    total = np.where(allowed, total, -np.inf)
    best = np.flatnonzero(total == total.max())
    return float(grid[best[len(best) // 2]]), pairs_right, singles_right


def copy_main(target: Path, source: Path) -> int:
    """Write `source`'s test-time settings into `target` (same talker counts)."""
    try:
        cfg = load_checkpoint(source).card["config"]
        load_checkpoint(target)  # refuse a corrupt target before writing
    except (CheckpointError, SepvizInputError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tracking = {c: t for c, t in (cfg.get("attractor_tracking") or {}).items()}
    write_calibration(target, cfg.get("mask_temperature") or {}, {"copied_from": str(source)},
                      merge_cosine=cfg.get("merge_cosine"), tracking=tracking or None,
                      one_talker_cosine=cfg.get("one_talker_cosine"))
    print(f"copied {source}'s test-time settings into {target}")
    return 0


def one_talker_main(a, argv) -> int:
    """``--one-talker``: choose and store the two-voice threshold of the one-talker warning."""
    try:
        model = load_checkpoint(a.checkpoint)
        pairs, singles = [], []
        for data in a.data:
            p, s1 = one_talker_cosines(model, data, a.limit)
            pairs += p
            singles += s1
    except (SepvizInputError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    grid = np.round(np.arange(0.70, 0.9951, 0.005), 3)
    chosen, pr, sr = choose_one_talker_cosine(pairs, singles, grid)
    print(f"k-means attractor cosine, two talkers ({len(pairs)} mixtures): "
          f"{min(pairs):.3f} to {max(pairs):.3f} (median {np.median(pairs):.3f}); one talker "
          f"({len(singles)} sources alone): {min(singles):.3f} to {max(singles):.3f} (median {np.median(singles):.3f})")
    print("right by threshold (two talkers at or below it, one talker above):")
    for j, t in enumerate(grid):
        if abs(t * 100 - round(t * 100)) < 1e-6 or t == chosen:
            print(f"  {t:.3f}  {pr[j]}/{len(pairs)} two-talker mixtures, {sr[j]}/{len(singles)} single talkers"
                  + ("   <- chosen" if t == chosen else ""))
    print("chosen one_talker_cosine:", chosen, f"(at most {MAX_FALSE_WARNINGS:.0%} of the two-talker mixtures warned; "
          f"uncalibrated rule: {ONE_TALKER_COSINE})")
    if a.write:
        command = "python -m training.calibrate " + " ".join(shlex.quote(x) for x in (argv if argv is not None else sys.argv[1:]))
        j = list(grid).index(chosen)
        write_calibration(a.checkpoint, {}, {"data": [str(d) for d in a.data], "pairs": len(pairs), "singles": len(singles),
                                             "right": {"pairs": pr[j], "singles": sr[j]}, "command": command},
                          one_talker_cosine=chosen, evidence_key="calibration_one_talker")
        print(f"wrote it into {a.checkpoint}")
    return 0


def _print_curve(title: str, scores: np.ndarray, grid: tuple[float, ...], best: int | None) -> None:
    """Mean SI-SNRi per temperature, with the paired difference to T = 1 and its standard error."""
    one = grid.index(1.0) if 1.0 in grid else None
    print(title)
    means = scores.mean(0)
    for j, t in enumerate(grid):
        gain = ""
        if one is not None and len(scores) > 1:  # paired: the same mixtures at T and at 1
            gain = f"   {paired_difference(scores[:, one], scores[:, j])} vs T=1"
        print(f"  T={t:<5g} {means[j]:7.3f}{gain}{'   <- chosen' if j == best else ''}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, type=Path)
    ap.add_argument("--data", nargs="+", type=Path,
                    help="validation folders (mix/ s1/ s2/ [s3/]), one per talker count")
    ap.add_argument("--limit", type=int, default=None, help="first N mixtures of each folder")
    ap.add_argument("--clusterer", nargs="+", default=["kmeans"],
                    help="clusterer(s) whose masks are scored; with several, T maximises their mean")
    ap.add_argument("--grid", default=",".join(map(str, DEFAULT_GRID)), help="temperatures to try")
    ap.add_argument("--tracking-grid", default="off",
                    help="attractor trackings to try with every T: 'off' and/or FRAMES:STRENGTH, comma-separated "
                         "(e.g. off,16:0.5,32:0.5); the best (tracking, T) pair is kept (default: off only)")
    ap.add_argument("--count", action="store_true",
                    help="also choose the auto count's merge threshold (needs a 2- and a 3-talker folder)")
    ap.add_argument("--one-talker", action="store_true",
                    help="instead: choose the cosine above which two voices are one talker split in two (the "
                         "one-talker warning), from 2-talker folders' mixtures and their sources alone")
    ap.add_argument("--write", action="store_true", help="store what was chosen in the checkpoint")
    ap.add_argument("--copy-from", type=Path, default=None, metavar="CKPT",
                    help="instead: give the checkpoint CKPT's test-time settings (temperatures, tracking, count and "
                         "one-talker thresholds), e.g. to compare a continuation with its parent before calibrating it")
    ap.add_argument("--threads", type=int, default=0, metavar="N",
                    help="torch and BLAS threads (sepviz.threads.limit_threads; default: torch's choice)")
    a = ap.parse_args(argv)
    if a.threads > 0:
        limit_threads(a.threads)
    if a.copy_from is not None:
        return copy_main(a.checkpoint, a.copy_from)
    if not a.data:
        ap.error("--data is required (validation folders), except with --copy-from")
    if a.one_talker:
        return one_talker_main(a, argv)
    try:
        lo, hi = TEMPERATURE_RANGE
        grid = tuple(float(x) for x in a.grid.split(","))
        if not grid or not all(lo <= t <= hi for t in grid):
            raise ValueError
    except ValueError:
        print(f"error: --grid needs comma-separated numbers in [{lo:g}, {hi:g}], got {a.grid!r}", file=sys.stderr)
        return 2
    try:
        trackings = tuple(dict.fromkeys(Tracking.from_value(x) for x in a.tracking_grid.split(",")))
    except ValueError as exc:
        print(f"error: --tracking-grid: {exc}", file=sys.stderr)
        return 2
    labels = [str(t) if t else "off" for t in trackings]
    try:
        model = load_checkpoint(a.checkpoint)
        if model.config.objective in ("dpcl", "upit"):
            raise SepvizInputError(f"{a.checkpoint.name} separates with binary or head masks: no temperature to calibrate")
        usable = [c for c in available_clusterers(model) if c != "head"]
        unknown = [c for c in a.clusterer if c not in usable]
        if unknown:
            raise SepvizInputError(f"{a.checkpoint.name} cannot calibrate with {', '.join(unknown)}; "
                                   f"choose from {', '.join(usable)}")
        plan = speaker_count_plan(model, "kmeans") if a.count else None
        if plan is not None and plan[1] < 3:
            raise SepvizInputError(f"{a.checkpoint.name} counts up to {plan[1]} talkers: no count to calibrate")
        chosen, evidence, fits_by_count = {}, {}, {}
        tracking_chosen = {}
        for data in a.data:
            c, scores, fits = folder_scores(model, data, a.limit, a.clusterer, grid, plan, trackings)
            fits_by_count[c] = fits
            if str(c) in chosen:
                raise SepvizInputError(f"two folders have {c} talkers; give one per talker count")
            mean = np.mean([sc.mean(0) for sc in scores.values()], axis=0)  # (trackings, grid)
            best_tr, best = np.unravel_index(int(np.argmax(mean)), mean.shape)
            n = len(next(iter(scores.values())))
            for i, label in enumerate(labels):
                for k, sc in scores.items():
                    _print_curve(f"{data} ({n} mixtures, {c} talkers), {k} SI-SNRi dB by temperature, tracking {label}:",
                                 sc[:, i], grid, best if i == best_tr else None)
                if len(scores) > 1:
                    _print_curve(f"mean of {', '.join(scores)}, tracking {label}:",
                                 np.mean([sc[:, i] for sc in scores.values()], axis=0), grid,
                                 best if i == best_tr else None)
            if None in trackings and len(trackings) > 1:
                off = trackings.index(None)
                per_mix = np.mean([sc for sc in scores.values()], axis=0)  # (mixtures, trackings, grid)
                gain = paired_difference(per_mix[:, off, int(np.argmax(mean[off]))], per_mix[:, best_tr, best])
                print(f"chosen for {c} talkers: tracking {labels[best_tr]}, T={grid[best]:g}; "
                      f"{gain} dB over the best T without tracking")
            chosen[str(c)] = grid[best]
            tracking_chosen[str(c)] = trackings[best_tr].to_dict() if trackings[best_tr] else None
            evidence[str(c)] = {"data": str(data), "n": n, "tracking": labels[best_tr], "si_snri": {
                k: {label: dict(zip(map(str, grid), sc[:, i].mean(0).round(3).tolist())) for i, label in enumerate(labels)}
                if len(labels) > 1 else dict(zip(map(str, grid), sc[:, 0].mean(0).round(3).tolist()))
                for k, sc in scores.items()}}
        merge = None
        if a.count:
            if set(fits_by_count) != {2, 3}:
                raise SepvizInputError("--count needs one 2-talker and one 3-talker validation folder")
            thresholds = np.round(np.arange(0.70, 0.951, 0.005), 3)
            merge, right = choose_merge_cosine(fits_by_count, thresholds)
            n2, n3 = len(fits_by_count[2]), len(fits_by_count[3])
            print(f"auto count ({plan[0]}, up to {plan[1]} talkers) right by merge threshold (cosine):")
            for j, m in enumerate(thresholds):
                if abs(m * 100 - round(m * 100)) < 1e-6 or m in (merge, MERGE_COSINE):
                    mark = "   <- chosen" if m == merge else ("   (the default rule)" if m == MERGE_COSINE else "")
                    print(f"  {m:.3f}  {right[2][j]}/{n2} (2 talkers), {right[3][j]}/{n3} (3 talkers){mark}")
            evidence["count"] = {"counter": plan[0], "right_at_chosen": {str(c): r[list(thresholds).index(merge)]
                                                                         for c, r in right.items()},
                                 "right_at_default": {str(c): r[list(thresholds).index(MERGE_COSINE)]
                                                      for c, r in right.items()}}
    except (SepvizInputError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("chosen mask_temperature:", chosen, *(("merge_cosine:", merge) if merge is not None else ()),
          *(("attractor_tracking:", tracking_chosen) if trackings != (None,) else ()))
    if a.write:
        command = "python -m training.calibrate " + " ".join(shlex.quote(x) for x in (argv if argv is not None else sys.argv[1:]))
        write_calibration(a.checkpoint, chosen, {"clusterers": a.clusterer, "by_talkers": evidence, "command": command},
                          merge_cosine=merge, tracking=tracking_chosen if trackings != (None,) else None)
        print(f"wrote it into {a.checkpoint}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
