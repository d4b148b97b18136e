"""Command line: ``python -m sepviz separate | evaluate | info``.

* ``separate MIX.wav`` writes ``OUT/MIX_voice1.wav ...`` at the input sample rate.
* ``evaluate --data DIR`` scores a checkpoint's clusterers and the ideal-mask oracles on a
  folder in the wsj0-2mix layout (``mix/``, ``s1/``, ``s2/`` [, ``s3/``], same file names).
  Each mixture is embedded once and every clusterer runs on the cached embeddings.  A table
  goes to stdout, then, as the *last line*, one JSON object (also written to ``--json``)::

      {"n": N, "model": {"<clusterer>": {"si_snri", "sdri", "sir", "sar", "pesq"}},
       "oracle": {"ibm": {...}, "irm": {...}, "wfm": {...}}, "extra": {...}}

  (``NaN`` is written as ``null`` so any JSON parser reads it; ``extra`` holds the run's
  details: checkpoint, data, timings, skipped items.)  Progress goes to stderr.
* ``info CKPT`` prints the model card.

Every :class:`~sepviz.errors.SepvizError` (and OS errors such as an unwritable output folder)
ends as one line ``error: message`` on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from .audio import DEFAULT_MAX_SECONDS
from .errors import CheckpointError, SepvizError, SepvizInputError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHECKPOINT = REPO_ROOT / "checkpoints" / "default.pt"
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au"}
REPORTED = ("si_snri", "sdri", "sir", "sar", "pesq")  # the JSON keys per system (fixed contract)
ORACLES = ("ibm", "irm", "wfm")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so :func:`main` can return the status."""

    def error(self, message):  # noqa: D401
        raise SepvizInputError(f"{message} (see: {self.prog} --help)")


# --------------------------------------------------------------------------- helpers


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _checkpoint_path(value: str | None) -> Path:
    p = Path(value) if value else DEFAULT_CHECKPOINT
    if not p.is_file():
        if value is None:
            raise CheckpointError(f"no checkpoint given and the default {p} does not exist; "
                                  f"train one or pass --checkpoint PATH")
        raise CheckpointError(f"checkpoint not found: {p}")
    return p


def _load_model(value: str | None, mask_temperature: float | None = None, tracking: str | None = None):
    """Load the checkpoint; ``mask_temperature`` and ``tracking`` ("off" or FRAMES:STRENGTH)
    replace its calibrated values for this run only."""
    from .checkpoint import load_checkpoint
    from .danet import TEMPERATURE_RANGE, check_mask_temperature

    model = load_checkpoint(_checkpoint_path(value))
    if mask_temperature is not None:
        temps = {str(c): float(mask_temperature) for c in (2, 3)}
        try:
            check_mask_temperature(temps)  # also refuses NaN
        except ValueError:
            lo, hi = TEMPERATURE_RANGE
            raise SepvizInputError(f"--mask-temperature must be in [{lo:g}, {hi:g}], got {mask_temperature}") from None
        model.config.mask_temperature = temps
    if tracking is not None:
        from .danet import Tracking

        try:
            chosen = Tracking.parse(tracking)
        except ValueError as exc:
            raise SepvizInputError(f"--tracking: {exc}") from None
        model.config.attractor_tracking = {} if chosen is None else {str(c): chosen.to_dict() for c in (2, 3)}
    return model


def _n_speakers(value: str) -> int | None:
    if value == "auto":
        return None
    if value in ("2", "3"):
        return int(value)
    raise argparse.ArgumentTypeError(f"must be 2, 3 or auto, not {value!r}")


def _fmt(v, width: int = 7) -> str:
    return f"{'-':>{width}}" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:>{width}.2f}"


def _json_safe(obj):
    """NaN/inf -> None and numpy -> Python, so the output is strict JSON."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _write_text(path: str | Path, text: str) -> None:
    try:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    except OSError as exc:
        raise SepvizInputError(f"cannot write {path}: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------- separate


def cmd_separate(args) -> int:
    import soundfile as sf

    from .separate import separate

    model = _load_model(args.checkpoint, args.mask_temperature, args.tracking)
    t0 = time.perf_counter()
    sep = separate(args.mixture, None, model, args.clusterer, args.n_speakers, beta=args.beta, seed=args.seed,
                   max_seconds=args.max_seconds, weighting=args.weighting)
    elapsed = time.perf_counter() - t0
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SepvizInputError(f"cannot create the output folder {out}: {exc.strerror or exc}") from None
    voices = [np.asarray(v, dtype=np.float32) for v in sep.voices]
    peak = max(float(np.max(np.abs(v))) if v.size else 0.0 for v in voices)
    if peak > 1.0:  # 16-bit WAV would clip: scale all voices alike (keeps their relative levels)
        voices = [v / peak for v in voices]
        sep.warnings.append(f"the voices were scaled by {1 / peak:.3f} to avoid clipping")
    stem = Path(args.mixture).stem
    paths = []
    for i, v in enumerate(voices, 1):
        p = out / f"{stem}_voice{i}.wav"
        try:
            sf.write(str(p), v, sep.sample_rate, subtype="PCM_16")
        except (OSError, RuntimeError) as exc:  # soundfile reports I/O failures as RuntimeError
            raise SepvizInputError(f"cannot write {p}: {exc}") from None
        paths.append(p)
    print(f"{sep.n_speakers} voices from {args.mixture} ({sep.embedding.seconds:.2f} s, {sep.sample_rate} Hz) "
          f"with {model.card['name']} + {args.clusterer}:")
    for p, e in zip(paths, sep.energies_db):
        print(f"  {p}  ({e:+.1f} dB)")
    t = sep.timings
    parts = [f"{k} {t[k]:.3f}" for k in ("load", "stft", "network", "cluster", "masks_istft") if k in t]
    print(f"timings (s): {', '.join(parts)}; total {elapsed:.3f} "
          f"(real-time factor {elapsed / max(sep.embedding.seconds, 1e-9):.3f})")
    for w in sep.warnings:
        print(f"warning: {w}")
    return 0


# --------------------------------------------------------------------------- evaluate


def _read_reference(path: Path, sr: int) -> np.ndarray:
    """A source file as mono float64 at ``sr``; no silence/length validation (a source may be quiet)."""
    from .audio import _decode, resample, to_mono

    data, in_sr = _decode(path, max_seconds=None)
    return resample(to_mono(data), in_sr, sr).astype(np.float64)


def read_references(src_dirs: list[Path], name: str, sr: int, n: int) -> np.ndarray:
    """The sources of mixture ``name`` as ``(C, n)``: cut or zero-padded to the mixture's ``n``
    samples, so every score compares signals of one length (evaluate and the diagnostic scripts)."""
    refs = []
    for d in src_dirs:
        r = _read_reference(d / name, sr)[:n]
        refs.append(np.pad(r, (0, n - len(r))))
    return np.stack(refs)


def _dataset(data: Path, limit: int | None) -> tuple[list[Path], list[Path], list[str]]:
    if not data.is_dir():
        raise SepvizInputError(f"data folder not found: {data}")
    mix_dir = data / "mix"
    if not mix_dir.is_dir():
        raise SepvizInputError(f"{data} has no mix/ folder (expected the wsj0-2mix layout: mix/, s1/, s2/ [, s3/])")
    src_dirs = []
    for i in range(1, 10):
        d = data / f"s{i}"
        if not d.is_dir():
            break
        src_dirs.append(d)
    if len(src_dirs) < 2:
        raise SepvizInputError(f"{data} needs at least s1/ and s2/ next to mix/")
    if len(src_dirs) > 3:
        raise SepvizInputError(f"{data} has {len(src_dirs)} source folders; sepviz separates 2 or 3 talkers")
    names = sorted(p.name for p in mix_dir.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not names:
        raise SepvizInputError(f"no audio files in {mix_dir}")
    if limit is not None:
        if limit < 1:
            raise SepvizInputError("--limit must be at least 1")
        names = names[:limit]
    missing = [f"{d.name}/{n}" for n in names for d in src_dirs if not (d / n).is_file()]
    if missing:
        more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
        raise SepvizInputError(f"missing source files in {data}: {', '.join(missing[:3])}{more}")
    return [mix_dir / n for n in names], src_dirs, names


def _runnable(model, clusterers: list[str], n_speakers: int) -> tuple[list[str], list[str]]:
    """Split the requested clusterers into those this model can run and notes for the others."""
    from .clusterers import CLUSTERERS, available_clusterers

    ok, notes = [], []
    avail = available_clusterers(model, has_references=True)
    for name in dict.fromkeys(clusterers):  # de-duplicate, keep order
        if name not in CLUSTERERS:
            raise SepvizInputError(f"unknown clusterer {name!r}; choose from {', '.join(CLUSTERERS)}")
        if name not in avail:
            why = {"anchors": "the model has no ADANet anchors",
                   "head": "the model has no DEF (uPIT) mask head",
                   "fixed": "the checkpoint stores no fixed attractors"}.get(name, "not available for this model")
            notes.append(f"skipping clusterer {name}: {why}")
        elif name == "anchors" and model.anchors.shape[0] < n_speakers:
            notes.append(f"skipping clusterer anchors: {model.anchors.shape[0]} anchors < {n_speakers} talkers")
        elif name == "head" and model.mask_head.out_features != n_speakers:
            notes.append(f"skipping clusterer head: the mask head has {model.mask_head.out_features} outputs, "
                         f"the data has {n_speakers} talkers")
        elif name == "fixed" and model.fixed_attractors.shape[0] < n_speakers:
            notes.append(f"skipping clusterer fixed: the checkpoint has fixed attractors for "
                         f"{model.fixed_attractors.shape[0]} talkers, the data has {n_speakers}")
        else:
            ok.append(name)
    return ok, notes


def _evaluation_table(result: dict, extra_means: dict) -> str:
    head = f"{'system':<22}{'SI-SNRi':>9}{'SDRi':>9}{'SIR':>9}{'SAR':>9}{'PESQ':>9}{'sep s':>9}"
    lines = [head, "-" * len(head)]
    for group, label in (("model", "model + {}"), ("oracle", "oracle {}")):
        for name, m in result[group].items():
            secs = extra_means.get(f"{group}:{name}")
            lines.append(f"{label.format(name.upper() if group == 'oracle' else name):<22}"
                         + "".join(f"{_fmt(m[k], 9)}" for k in REPORTED) + _fmt(secs, 9))
    return "\n".join(lines)


def _standard_error(values: list[float]) -> float:
    """Standard error of a mean over mixtures (NaN with fewer than two)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    return float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")


def cmd_evaluate(args) -> int:
    from .geometry import embedding_geometry
    from .metrics import evaluate_estimates, ideal_mask_separation, mixture_baseline
    from .separate import embed, estimate_speaker_count, reference_assignment, separate_embedding, speaker_count_plan

    t_start = time.perf_counter()
    ckpt = _checkpoint_path(args.checkpoint)
    model = _load_model(str(ckpt), args.mask_temperature, args.tracking)
    mixes, src_dirs, names = _dataset(Path(args.data), args.limit)
    n_spk = len(src_dirs)
    requested = args.clusterer or [c for c in ("kmeans", "gmm", "gmm_tied", "soft_kmeans", "fixed", "anchors", "head")]
    clusterers, notes = _runnable(model, requested, n_spk)
    if args.clusterer is None:  # defaults: silently drop what this model cannot run
        notes = []
    for note in notes:
        _progress(note)
    oracles = list(dict.fromkeys(args.oracle))
    for o in oracles:
        if o not in ORACLES:
            raise SepvizInputError(f"unknown oracle {o!r}; choose from {', '.join(ORACLES)}")
    if not clusterers and not oracles:
        raise SepvizInputError("nothing to evaluate: no runnable clusterer and no oracle")

    systems = [("model", c) for c in clusterers] + [("oracle", o) for o in oracles]
    scores: dict[tuple, list[dict]] = {s: [] for s in systems}
    seconds: dict[tuple, list[float]] = {s: [] for s in systems}
    embed_seconds, skipped, done_names, geometry = [], [], [], []
    counted = [c for c in clusterers if c != "oracle"] if args.count else []
    found_counts: dict[str, list[int]] = {c: [] for c in counted}  # talkers found by the auto count
    _progress(f"evaluating {ckpt.name} on {len(mixes)} mixtures of {n_spk} talkers from {args.data}: "
              f"{', '.join(clusterers) or '-'} + oracles {', '.join(oracles) or '-'}"
              f"{'' if args.pesq else ' (no PESQ)'}")
    for i, (mix_path, name) in enumerate(zip(mixes, names), 1):
        t0 = time.perf_counter()
        try:
            emb = embed(mix_path, None, model, max_seconds=args.max_seconds)
            t_emb = time.perf_counter() - t0
            sr = emb.stft_config.sample_rate
            mixture = emb.wave.astype(np.float64)
            n = len(mixture)
            refs = read_references(src_dirs, name, sr, n)
            base = mixture_baseline(refs, mixture)
            geo = embedding_geometry(emb.v, reference_assignment(emb, refs), emb.salient, seed=args.seed)
            row, row_secs = {}, {}
            for group, sysname in systems:
                t1 = time.perf_counter()
                if group == "model":
                    sep = separate_embedding(emb, sysname, n_spk, seed=args.seed, beta=args.beta,
                                             references=list(refs) if sysname == "oracle" else None,
                                             weighting=args.weighting)
                    est = np.stack(sep.voices_model_sr)
                else:
                    est = ideal_mask_separation(mixture, refs, sysname, emb.stft_config)
                row_secs[(group, sysname)] = time.perf_counter() - t1  # separation only, not scoring
                row[(group, sysname)] = evaluate_estimates(est, refs, mixture, sr, pesq=args.pesq,
                                                           baseline=base)["mean"]
            by_plan: dict[tuple, int] = {}  # clusterers that count the same way share one count
            row_counts = {}
            for c in counted:
                plan = speaker_count_plan(model, c)
                if plan not in by_plan:
                    by_plan[plan] = estimate_speaker_count(emb, c, seed=args.seed, beta=args.beta,
                                                           weighting=args.weighting)
                row_counts[c] = by_plan[plan]
        except SepvizInputError as exc:
            skipped.append({"file": name, "reason": str(exc)})
            _progress(f"[{i}/{len(mixes)}] {name}: skipped ({exc})")
            continue
        embed_seconds.append(t_emb)
        done_names.append(name)
        geometry.append(geo)
        for s in systems:
            scores[s].append(row[s])
            seconds[s].append(row_secs[s])
        for c in counted:
            found_counts[c].append(row_counts[c])
        best = max((row[s]["si_snri"] for s in systems if s[0] == "model"), default=float("nan"))
        _progress(f"[{i}/{len(mixes)}] {name}: {time.perf_counter() - t0:.2f} s"
                  + (f", best model SI-SNRi {best:.2f} dB" if clusterers else ""))
    n_done = len(embed_seconds)
    if n_done == 0:
        raise SepvizInputError(f"none of the {len(mixes)} mixtures could be evaluated "
                               f"(first problem: {skipped[0]['reason']})")

    def mean_of(rows: list[dict], key: str) -> float:
        vals = np.array([r[key] for r in rows], dtype=np.float64)
        return float(np.nanmean(vals)) if np.any(~np.isnan(vals)) else float("nan")

    result = {"n": n_done, "model": {}, "oracle": {}}
    for group, sysname in systems:
        result[group][sysname] = {k: mean_of(scores[(group, sysname)], k) for k in REPORTED}
    mean_secs = {f"{g}:{s}": float(np.mean(seconds[(g, s)])) for g, s in systems}
    per_mixture = {f"{g}:{s}": [r["si_snri"] for r in scores[(g, s)]] for g, s in systems}
    # the clusterer-free view: do the talkers form clusters at all (sepviz.geometry)
    geo_rows = [g.to_dict() for g in geometry]
    result["geometry"] = {k: mean_of(geo_rows, k) for k in ("silhouette", "closest_attractor_cosine")}
    result["extra"] = {
        "checkpoint": str(ckpt), "data": str(args.data), "n_speakers": n_spk, "pesq": bool(args.pesq),
        "weighting": args.weighting, "mask_temperature": model.config.temperature(n_spk),
        "attractor_tracking": tracking.to_dict() if (tracking := model.config.tracking(n_spk)) else None,
        "si_snr": {f"{g}:{s}": mean_of(scores[(g, s)], "si_snr") for g, s in systems},
        # Per mixture, so two systems (or two checkpoints on the same folder) can be compared pair by
        # pair: on 25-40 mixtures a 0.1 dB difference of means is within noise, a paired one may not be.
        "per_mixture": {"files": done_names, "si_snri": per_mixture,
                        "silhouette": [g.silhouette for g in geometry]},
        "si_snri_se": {key: _standard_error(vals) for key, vals in per_mixture.items()},
        "seconds_per_mixture": {"embed": float(np.mean(embed_seconds)), **mean_secs},  # without scoring
        "seconds": time.perf_counter() - t_start,
        "skipped_clusterers": notes, "skipped_mixtures": skipped, "sepviz": __version__,
    }
    if counted:
        result["extra"]["count"] = {c: {"right": sum(n == n_spk for n in found),
                                        "found": {str(k): found.count(k) for k in (2, 3)}}
                                    for c, found in found_counts.items()}
    result = _json_safe(result)
    line = json.dumps(result, allow_nan=False)
    if args.json:
        _write_text(args.json, json.dumps(result, indent=1, allow_nan=False) + "\n")
    print(f"{ckpt.name} on {args.data}: mean over {n_done} mixtures ({n_spk} talkers); dB except PESQ; "
          f"'sep s' = seconds per mixture to separate from the cached embeddings "
          f"(+ {result['extra']['seconds_per_mixture']['embed']:.2f} s to embed)")
    print(_evaluation_table(result, mean_secs))
    print("SI-SNRi standard error over the mixtures: " + ", ".join(
        f"{name} {_fmt(se, 0).strip()}" for name, se in result["extra"]["si_snri_se"].items()))
    geo = result["geometry"]
    print(f"embedding geometry (any clusterer): silhouette {_fmt(geo['silhouette'], 0).strip()} "
          f"(cosine, salient bins by dominant talker; 1 = tight talker clusters, 0 = none), closest oracle "
          f"attractors' cosine {_fmt(geo['closest_attractor_cosine'], 0).strip()}")
    for c, cnt in result["extra"].get("count", {}).items():
        print(f"auto count with {c}: {cnt['right']}/{n_done} right ({n_spk} talkers; found 2: "
              f"{cnt['found']['2']}, 3: {cnt['found']['3']})")
    for note in notes:
        print(f"note: {note}")
    if skipped:
        print(f"note: {len(skipped)} mixture(s) skipped (see extra.skipped_mixtures)")
    print(line, flush=True)
    return 0


# --------------------------------------------------------------------------- info


def _print_tree(d, indent: int = 2) -> None:
    pad = " " * indent
    if not d:
        print(f"{pad}(none)")
        return
    for k, v in d.items():
        if isinstance(v, dict) and v:
            print(f"{pad}{k}:")
            _print_tree(v, indent + 2)
        elif isinstance(v, list) and len(v) > 1 and all(isinstance(x, dict) for x in v):
            # e.g. a per-epoch training history: the count and the last entry are what one reads
            print(f"{pad}{k}: {len(v)} entries, last: {_compact(v[-1])}")
        else:
            print(f"{pad}{k}: {_compact(v)}")


def _compact(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_compact(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_compact(x) for x in v) + "]"
    return str(v)


def cmd_info(args) -> int:
    from .clusterers import available_clusterers

    model = _load_model(args.checkpoint)
    card = dict(model.card)
    card["clusterers"] = available_clusterers(model)
    card["fixed_attractors"] = model.has_fixed_attractors
    if args.json:
        print(json.dumps(_json_safe(card), indent=1))
        return 0
    cfg = card["config"]
    n = card["n_parameters"]
    print(f"checkpoint: {card['name']} ({card['path']}), written by sepviz {card.get('code_version')}")
    print(f"model: {cfg.get('model')} {cfg.get('model_kwargs')}; {n:,} parameters ({n / 1e6:.2f} M)")
    print(f"objective: {cfg.get('objective')}, mask: {cfg.get('mask')}, speakers: {cfg.get('n_speakers')}, "
          f"salient fraction: {cfg.get('keep')}, anchors: {cfg.get('n_anchors')}, "
          f"fixed attractors: {'yes' if card['fixed_attractors'] else 'no'}")
    from .danet import temperature_summary

    temps = cfg.get("mask_temperature") or {}
    line = f"{temperature_summary(temps)} (python -m training.calibrate)" if temps else "1 (not calibrated)"
    if cfg.get("merge_cosine") is not None:
        line += f"; auto-count merge cosine: {cfg['merge_cosine']:g}"
    if cfg.get("one_talker_cosine") is not None:
        line += f"; one-talker cosine (two voices): {cfg['one_talker_cosine']:g}"
    print(f"mask temperature: {line}")
    from .danet import tracking_summary

    tracking = cfg.get("attractor_tracking") or {}
    print(f"attractor tracking: {tracking_summary(tracking) + ' (python -m training.calibrate)' if tracking else 'off'}")
    print(f"stft: {cfg.get('stft')}")
    print(f"clusterers: {', '.join(card['clusterers'])} (+ oracle with references)")
    print("training:")
    _print_tree(card.get("training") or {})
    from .checkpoint import summarize_metrics

    metrics = card.get("metrics") or {}
    print("metrics (held-out test sets; details: --json):" if metrics else "metrics:")
    for line in summarize_metrics(metrics) or ["(none)"]:
        print(f"  {line}")
    return 0


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    from .clusterers import CLUSTERERS, DEFAULT_CLUSTERER
    from .separate import FIT_WEIGHTINGS

    ap = _Parser(prog="sepviz", description="Separate 2-3 talker mixtures with the Deep Attractor Network family.")
    ap.add_argument("--version", action="version", version=f"sepviz {__version__}")
    ap.add_argument("--threads", type=int, default=0, metavar="N",
                    help="torch and BLAS threads (default: torch's choice, one per core). On a shared or "
                         "busy machine use 1: OpenMP threads that wait on a busy core run 10-100x slower")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def _add_clustering_options(p: argparse.ArgumentParser) -> None:
        """Options separate and evaluate share: how the attractors are fitted."""
        p.add_argument("--beta", type=float, default=10.0, help="soft k-means stiffness (default: 10)")
        p.add_argument("--weighting", choices=FIT_WEIGHTINGS, default="auto",
                       help="how much each bin counts when k-means/tied GMM/soft k-means fit the attractors: "
                            "'loudness' lets loud bins count more, 'none' counts every salient bin once, "
                            "'auto' (default) weights for 2 talkers and not for 3")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--mask-temperature", type=float, default=None, metavar="T",
                       help="masks = softmax(similarity / T) for every talker count: T > 1 softens them; "
                            "default: the checkpoint's own, chosen on validation talkers (sepviz info), else 1")
        p.add_argument("--tracking", default=None, metavar="SPEC",
                       help="attractor tracking: 'off' (one attractor per talker) or FRAMES:STRENGTH, e.g. 32:0.5 "
                            "(attractors follow each talker over +-FRAMES frames, pulled back to the clusterer's "
                            "by STRENGTH); default: the checkpoint's own, chosen on validation talkers (sepviz info)")

    p = sub.add_parser("separate", help="separate one mixture into voices (WAV files)")
    p.add_argument("mixture", help="audio file (WAV, FLAC, OGG, MP3), any sample rate")
    p.add_argument("--checkpoint", help=f"model checkpoint (default: {DEFAULT_CHECKPOINT})")
    p.add_argument("--clusterer", default=DEFAULT_CLUSTERER, choices=[c for c in CLUSTERERS if c != "oracle"],
                   help=f"attractor estimator (default: {DEFAULT_CLUSTERER})")
    p.add_argument("--n-speakers", type=_n_speakers, default=2, metavar="{2,3,auto}",
                   help="number of talkers (default: 2)")
    p.add_argument("--out", default="separated", help="output folder (default: ./separated)")
    _add_clustering_options(p)
    p.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS,
                   help=f"refuse longer audio (default: {DEFAULT_MAX_SECONDS:.0f})")
    p.set_defaults(func=cmd_separate)

    p = sub.add_parser("evaluate", help="score clusterers and ideal-mask oracles on a wsj0-2mix style folder")
    p.add_argument("--checkpoint", help=f"model checkpoint (default: {DEFAULT_CHECKPOINT})")
    p.add_argument("--data", required=True, help="folder with mix/, s1/, s2/ [, s3/] (same file names)")
    p.add_argument("--clusterer", nargs="+", metavar="NAME",
                   help=f"clusterers to score ({', '.join(CLUSTERERS)}); default: all the model can run")
    p.add_argument("--oracle", nargs="*", default=list(ORACLES), metavar="MASK",
                   help="ideal masks to score on the same mixtures (default: ibm irm wfm; none: --oracle)")
    p.add_argument("--limit", type=int, help="only the first N mixtures (sorted by name)")
    p.add_argument("--no-pesq", dest="pesq", action="store_false", help="skip PESQ (the slowest metric)")
    p.add_argument("--json", help="also write the JSON result to this file")
    p.add_argument("--count", action="store_true",
                   help="also score the automatic talker count ('auto' in the studio, --n-speakers auto): "
                        "how often each clusterer finds the folder's number of talkers")
    _add_clustering_options(p)
    p.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("info", help="print a checkpoint's model card")
    p.add_argument("checkpoint", nargs="?", help=f"checkpoint (default: {DEFAULT_CHECKPOINT})")
    p.add_argument("--json", action="store_true", help="print the card as JSON")
    p.set_defaults(func=cmd_info)
    return ap


def _limit_threads(n: int) -> None:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(n)  # k-means / GMM (sklearn) and numpy's BLAS


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or exc.__class__.__name__


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 user error, 130 interrupted)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.threads < 0:
            raise SepvizInputError("--threads must be 0 (torch's default) or a positive number")
        if args.threads:
            _limit_threads(args.threads)
        return int(args.func(args) or 0)
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else 0
    except SepvizError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # unreadable folder, disk full, permission denied...
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
