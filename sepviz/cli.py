"""Command line: ``python -m sepviz separate | evaluate | info``.

* ``separate MIX.wav`` writes ``OUT/MIX_voice1.wav ...`` at the input sample rate; ``separate DIR``
  does so for every audio file in DIR (``--jobs N``: in N worker processes).
* ``evaluate --data DIR`` scores a checkpoint's clusterers and the ideal-mask oracles on a
  folder in the wsj0-2mix layout (``mix/``, ``s1/``, ``s2/`` [, ``s3/``], same file names),
  with the engine of :mod:`sepviz.evaluation` (``--jobs N``: in N worker processes, same scores).
  Each mixture is embedded once and every clusterer runs on the cached embeddings.  A table
  goes to stdout, then, as the *last line*, one JSON object (also written to ``--json``)::

      {"n": N, "model": {"<clusterer>": {"si_snri", "sdri", "sir", "sar", "pesq"}},
       "oracle": {"ibm": {...}, "irm": {...}, "wfm": {...}},
       "geometry": {"silhouette", "closest_attractor_cosine"}, "extra": {...}}

  (``NaN`` is written as ``null`` so any JSON parser reads it; ``extra`` holds the run's
  details: checkpoint, data, timings, skipped items.)  Progress goes to stderr (with a bar on a
  terminal).
* ``info CKPT`` prints the model card (``--full``: with the training summary and calibration tables).

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
from .evaluation import ORACLES, REPORTED

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHECKPOINT = REPO_ROOT / "checkpoints" / "default.pt"


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
    from .calibration import TEMPERATURE_RANGE, check_mask_temperature

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
        from .calibration import Tracking

        try:
            chosen = Tracking.from_value(tracking)
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


# --------------------------------------------------------------------------- progress


class _Progress:
    """Per-item lines on stderr, under a progress bar when stderr is a terminal."""

    def __init__(self, total: int, unit: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True,
                        disable=total < 2 or not sys.stderr.isatty())

    def line(self, msg: str) -> None:
        if self.bar.disable:
            _progress(msg)
        else:
            self.bar.write(msg, file=sys.stderr)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _jobs(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of worker processes, not {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _run_folder(task, items: list, model, ckpt: Path, jobs: int, on_done) -> list:
    """``task`` on every item, in ``jobs`` worker processes when ``jobs > 1`` (sepviz.jobs)."""
    from .jobs import ModelSpec, run_tasks

    return run_tasks(task, items, model=model, spec=ModelSpec.of(model, ckpt), jobs=jobs, on_done=on_done)


# --------------------------------------------------------------------------- separate


def _print_voices(res, name: str, clusterer: str) -> None:
    print(f"{res.n_speakers} voices from {res.mixture} ({res.seconds:.2f} s, {res.sample_rate} Hz) "
          f"with {name} + {clusterer}:")
    for p, e in zip(res.paths, res.energies_db):
        print(f"  {p}  ({e:+.1f} dB)")
    from .inference import ANALYSIS_TIMINGS, TIMING_LABELS

    t = res.timings
    # the analysis stage is "stft" or, for a learned front-end, "frontend" (printed "front-end")
    stages = ("load", *ANALYSIS_TIMINGS, "network", "cluster", "masks_istft")
    parts = [f"{TIMING_LABELS.get(k, k)} {t[k]:.3f}" for k in stages if k in t]
    print(f"timings (s): {', '.join(parts)}; total {res.elapsed:.3f} "
          f"(real-time factor {res.elapsed / max(res.seconds, 1e-9):.3f})")
    for w in res.warnings:
        print(f"warning: {w}")


def cmd_separate(args) -> int:
    import functools

    from .voice_files import FailedFile, SeparateOptions, mixture_files, separate_or_fail, separate_to_files

    ckpt = _checkpoint_path(args.checkpoint)
    model = _load_model(str(ckpt), args.mask_temperature, args.tracking)
    options = SeparateOptions(args.clusterer, args.n_speakers, beta=args.beta, seed=args.seed,
                              max_seconds=args.max_seconds, weighting=args.weighting)
    folder = Path(args.mixture)
    files = mixture_files(folder) if folder.is_dir() else None
    out = Path(args.out)
    if files is None:  # one file: any problem is the run's error
        _print_voices(separate_to_files(options, model, args.mixture, out), model.card["name"], args.clusterer)
        return 0
    if out.resolve() == folder.resolve():  # the voices would join the mixtures of a second run
        raise SepvizInputError(f"--out {out} is the input folder; give another one for the voices")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SepvizInputError(f"cannot create the output folder {out}: {exc.strerror or exc}") from None
    # A folder: each file's report in the folder's order, printed as soon as all before it are done.
    results: list = [None] * len(files)
    printed = 0
    progress = _Progress(len(files), "file")

    def on_done(i: int, res) -> None:
        nonlocal printed
        results[i] = res
        progress.line(f"[{i + 1}/{len(files)}] {files[i].name}: "
                      + (f"skipped ({res.reason})" if isinstance(res, FailedFile) else f"{res.elapsed:.2f} s"))
        while printed < len(files) and results[printed] is not None:
            if not isinstance(results[printed], FailedFile):
                _print_voices(results[printed], model.card["name"], args.clusterer)
            printed += 1

    try:
        _run_folder(functools.partial(separate_or_fail, options), [(f, out) for f in files], model, ckpt,
                    args.jobs, on_done)
    finally:
        progress.close()
    failed = [r for r in results if isinstance(r, FailedFile)]
    if len(failed) == len(files):
        raise SepvizInputError(f"none of the {len(files)} files in {folder} could be separated "
                               f"(first problem: {failed[0].reason})")
    for r in failed:
        print(f"warning: skipped {r.mixture}: {r.reason}")
    print(f"{len(files) - len(failed)} of {len(files)} mixtures separated into {out}"
          + (f" with {args.jobs} worker processes" if args.jobs > 1 else ""))
    return 0


# --------------------------------------------------------------------------- evaluate


def _evaluation_table(result: dict, extra_means: dict) -> str:
    head = f"{'system':<22}{'SI-SNRi':>9}{'SDRi':>9}{'SIR':>9}{'SAR':>9}{'PESQ':>9}{'sep s':>9}"
    lines = [head, "-" * len(head)]
    for group, label in (("model", "model + {}"), ("oracle", "oracle {}")):
        for name, m in result[group].items():
            secs = extra_means.get(f"{group}:{name}")
            lines.append(f"{label.format(name.upper() if group == 'oracle' else name):<22}"
                         + "".join(f"{_fmt(m[k], 9)}" for k in REPORTED) + _fmt(secs, 9))
    return "\n".join(lines)


def cmd_evaluate(args) -> int:
    from .clusterers import CLUSTERERS, MODEL_CLUSTERERS
    from .evaluation import (EvaluationPlan, SkippedMixture, aggregate, mixture_folder,
                             runnable_clusterers, score_folder)
    from .jobs import ModelSpec

    t_start = time.perf_counter()
    ckpt = _checkpoint_path(args.checkpoint)
    model = _load_model(str(ckpt), args.mask_temperature, args.tracking)
    mixes, src_dirs, names = mixture_folder(Path(args.data), args.limit)
    n_spk = len(src_dirs)
    requested = args.clusterer or list(MODEL_CLUSTERERS)
    clusterers, notes = runnable_clusterers(model, requested, n_spk)
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
    counted = [c for c in clusterers if not CLUSTERERS[c].exact] if args.count else []
    plan = EvaluationPlan(tuple(src_dirs), tuple(clusterers), tuple(oracles), tuple(counted), pesq=args.pesq,
                          seed=args.seed, beta=args.beta, weighting=args.weighting, max_seconds=args.max_seconds)
    jobs = min(args.jobs, len(mixes))
    _progress(f"evaluating {ckpt.name} on {len(mixes)} mixtures of {n_spk} talkers from {args.data}: "
              f"{', '.join(clusterers) or '-'} + oracles {', '.join(oracles) or '-'}"
              f"{'' if args.pesq else ' (no PESQ)'}" + (f" in {jobs} worker processes" if jobs > 1 else ""))
    progress = _Progress(len(mixes), "mixture")

    def on_done(i: int, res) -> None:
        if isinstance(res, SkippedMixture):
            progress.line(f"[{i + 1}/{len(mixes)}] {res.name}: skipped ({res.reason})")
        else:
            progress.line(f"[{i + 1}/{len(mixes)}] {res.name}: {res.total_seconds:.2f} s"
                          + (f", best model SI-SNRi {res.best_model_si_snri:.2f} dB" if clusterers else ""))

    try:
        outcomes = score_folder(plan, model, mixes, names, spec=ModelSpec.of(model, ckpt), jobs=jobs, on_done=on_done)
    finally:
        progress.close()
    result = aggregate(plan, outcomes, model=model, checkpoint=ckpt, data=args.data, notes=notes, t_start=t_start)
    n_done = result["n"]
    skipped = result["extra"]["skipped_mixtures"]
    mean_secs = {k: v for k, v in result["extra"]["seconds_per_mixture"].items() if k != "embed"}
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
    from .checkpoint import summarize_metrics
    from .clusterers import available_clusterers
    from .calibration import temperature_summary, tracking_summary
    from .model_card import card_lines

    model = _load_model(args.checkpoint)
    card = dict(model.card)
    card["clusterers"] = available_clusterers(model)
    card["fixed_attractors"] = model.has_fixed_attractors
    if args.json:
        print(json.dumps(_json_safe(card), indent=1))
        return 0
    cfg = card["config"]
    print(f"checkpoint: {card['name']} ({card['path']}), written by sepviz {card.get('code_version')}")
    for line in card_lines(model, Path(card["path"]), calibration=False):
        print(line)
    temps = cfg.get("mask_temperature") or {}
    line = f"{temperature_summary(temps)} (python -m training.calibrate)" if temps else "1 (not calibrated)"
    if cfg.get("merge_cosine") is not None:
        line += f"; auto-count merge cosine: {cfg['merge_cosine']:g}"
    if cfg.get("one_talker_cosine") is not None:
        line += f"; one-talker cosine (two voices): {cfg['one_talker_cosine']:g}"
    print(f"mask temperature: {line}")
    tracking = cfg.get("attractor_tracking") or {}
    print(f"attractor tracking: {tracking_summary(tracking) + ' (python -m training.calibrate)' if tracking else 'off'}")
    metrics = card.get("metrics") or {}
    print("metrics (held-out test sets):" if metrics else "metrics:")
    for line in summarize_metrics(metrics) or ["(none)"]:
        print(f"  {line}")
    if not args.full:
        print("(--full: the training summary and calibration tables; --json: the whole card)")
        return 0
    print(f"stft: {cfg.get('stft')}")
    print(f"fixed attractors: {'yes' if card['fixed_attractors'] else 'no'}")
    print("training:")
    _print_tree(card.get("training") or {})
    return 0


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    from .clusterers import CLUSTERERS, DEFAULT_CLUSTERER, MODEL_CLUSTERERS
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
    p.add_argument("mixture", help="audio file (WAV, FLAC, OGG, MP3), any sample rate, or a folder of them "
                                   "(OUT/NAME_voice1.wav ... for each)")
    p.add_argument("--checkpoint", help=f"model checkpoint (default: {DEFAULT_CHECKPOINT})")
    p.add_argument("--clusterer", default=DEFAULT_CLUSTERER, choices=list(MODEL_CLUSTERERS),
                   help=f"attractor estimator (default: {DEFAULT_CLUSTERER})")
    p.add_argument("--n-speakers", type=_n_speakers, default=2, metavar="{2,3,auto}",
                   help="number of talkers (default: 2)")
    p.add_argument("--out", default="separated", help="output folder (default: ./separated)")
    _add_clustering_options(p)
    p.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS,
                   help=f"refuse longer audio (default: {DEFAULT_MAX_SECONDS:.0f})")
    p.add_argument("--jobs", type=_jobs, default=1, metavar="N",
                   help="a folder: separate its files in N worker processes, one thread each (default: 1, "
                        "in this process); the voices are the same")
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
    p.add_argument("--jobs", type=_jobs, default=1, metavar="N",
                   help="score the mixtures in N worker processes, one thread each (default: 1, in this "
                        "process); the scores are the same, to the last digit")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("info", help="print a checkpoint's model card")
    p.add_argument("checkpoint", nargs="?", help=f"checkpoint (default: {DEFAULT_CHECKPOINT})")
    p.add_argument("--full", action="store_true",
                   help="also print the training summary and the calibration tables (about 250 lines)")
    p.add_argument("--json", action="store_true", help="print the card as JSON")
    p.set_defaults(func=cmd_info)
    return ap


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
            from .threads import limit_threads

            limit_threads(args.threads)
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
