"""The evaluation engine behind ``sepviz evaluate``: score one mixture, score a folder, aggregate.

A folder is in the wsj0-2mix layout (``mix/``, ``s1/``, ``s2/`` [, ``s3/``], same file names).
Each mixture is embedded once and every system runs on the cached embedding: the model with
each clusterer, and the ideal-mask oracles.  :func:`score_mixture` does one mixture (what a
worker process runs with ``--jobs N``), :func:`score_folder` all of them, in order, and
:func:`aggregate` turns the per-mixture scores into the result the CLI prints as JSON.
The command line (:mod:`sepviz.cli`) only parses options and prints.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__
from .audio import AUDIO_SUFFIXES
from .errors import SepvizInputError
from .geometry import Geometry

REPORTED = ("si_snri", "sdri", "sir", "sar", "pesq")  # the JSON keys per system (fixed contract)
ORACLES = ("ibm", "irm", "wfm")

System = tuple[str, str]  # ("model", clusterer) or ("oracle", mask)


# --------------------------------------------------------------------------- the folder


def read_reference(path: Path, sr: int) -> np.ndarray:
    """A source file as mono float64 at ``sr``; no silence/length validation (a source may be quiet)."""
    from .audio import decode, resample, to_mono

    data, in_sr = decode(path, max_seconds=None)
    return resample(to_mono(data), in_sr, sr).astype(np.float64)


def read_references(src_dirs: list[Path], name: str, sr: int, n: int) -> np.ndarray:
    """The sources of mixture ``name`` as ``(C, n)``: cut or zero-padded to the mixture's ``n``
    samples, so every score compares signals of one length (evaluate and the diagnostic scripts)."""
    refs = []
    for d in src_dirs:
        r = read_reference(d / name, sr)[:n]
        refs.append(np.pad(r, (0, n - len(r))))
    return np.stack(refs)


def mixture_folder(data: Path, limit: int | None = None) -> tuple[list[Path], list[Path], list[str]]:
    """``(mixture paths, source folders, file names)`` of a wsj0-2mix-layout folder, sorted by name.

    Raises :class:`SepvizInputError` with what is wrong (no ``mix/``, too few or too many source
    folders, missing source files)."""
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


def runnable_clusterers(model, clusterers: list[str], n_speakers: int) -> tuple[list[str], list[str]]:
    """Split the requested clusterers into those this model can run and notes for the others."""
    from .clusterers import CLUSTERERS

    ok, notes = [], []
    for name in dict.fromkeys(clusterers):  # de-duplicate, keep order
        if name not in CLUSTERERS:
            raise SepvizInputError(f"unknown clusterer {name!r}; choose from {', '.join(CLUSTERERS)}")
        entry = CLUSTERERS[name]
        if not entry.available(model, has_references=True):
            notes.append(f"skipping clusterer {name}: {entry.missing()}")
        elif (why := entry.refusal(model, n_speakers)) is not None:
            notes.append(f"skipping clusterer {name}: {why}")
        else:
            ok.append(name)
    return ok, notes


# --------------------------------------------------------------------------- one mixture


@dataclass(frozen=True)
class EvaluationPlan:
    """What to run on every mixture of a folder (plain values: it travels to worker processes)."""

    src_dirs: tuple[Path, ...]
    clusterers: tuple[str, ...]
    oracles: tuple[str, ...]
    counted: tuple[str, ...] = ()     # clusterers whose automatic talker count is scored too
    pesq: bool = True
    seed: int = 0
    beta: float = 10.0
    weighting: str = "auto"
    max_seconds: float | None = None

    @property
    def n_speakers(self) -> int:
        return len(self.src_dirs)

    @property
    def systems(self) -> list[System]:
        return [("model", c) for c in self.clusterers] + [("oracle", o) for o in self.oracles]


@dataclass
class MixtureScore:
    """One mixture's scores: ``scores[system]`` holds :data:`REPORTED` and ``si_snr`` (dB)."""

    name: str
    scores: dict[System, dict]
    seconds: dict[System, float]      # separation only, not scoring
    embed_seconds: float
    geometry: Geometry
    counts: dict[str, int] = field(default_factory=dict)  # talkers found by the automatic count
    total_seconds: float = 0.0        # embedding, separations and scoring

    @property
    def best_model_si_snri(self) -> float:
        return max((self.scores[s]["si_snri"] for s in self.scores if s[0] == "model"), default=float("nan"))


@dataclass
class SkippedMixture:
    """A mixture that could not be evaluated (unreadable, silent, too long...)."""

    name: str
    reason: str


def score_mixture(plan: EvaluationPlan, model, mix_path: Path, name: str) -> MixtureScore | SkippedMixture:
    """Embed one mixture and score every system of ``plan`` on it (deterministic: seeded fits)."""
    from .geometry import embedding_geometry
    from .metrics import evaluate_estimates, ideal_mask_separation, mixture_baseline
    from .separate import embed, estimate_speaker_count, reference_assignment, separate_embedding, speaker_count_plan

    t0 = time.perf_counter()
    n_spk = plan.n_speakers
    try:
        emb = embed(mix_path, None, model, max_seconds=plan.max_seconds)
        t_emb = time.perf_counter() - t0
        sr = emb.stft_config.sample_rate
        mixture = emb.wave.astype(np.float64)
        n = len(mixture)
        refs = read_references(list(plan.src_dirs), name, sr, n)
        base = mixture_baseline(refs, mixture)
        geo = embedding_geometry(emb.v, reference_assignment(emb, refs), emb.salient, seed=plan.seed)
        row, row_secs = {}, {}
        for group, sysname in plan.systems:
            t1 = time.perf_counter()
            if group == "model":
                sep = separate_embedding(emb, sysname, n_spk, seed=plan.seed, beta=plan.beta,
                                         references=list(refs) if sysname == "oracle" else None,
                                         weighting=plan.weighting)
                est = np.stack(sep.voices_model_sr)
            else:
                est = ideal_mask_separation(mixture, refs, sysname, emb.stft_config, frontend=emb.model.frontend,
                                            mixture_view=emb.frontend)
            row_secs[(group, sysname)] = time.perf_counter() - t1  # separation only, not scoring
            row[(group, sysname)] = evaluate_estimates(est, refs, mixture, sr, pesq=plan.pesq, baseline=base)["mean"]
        by_plan: dict[tuple, int] = {}  # clusterers that count the same way share one count
        row_counts = {}
        for c in plan.counted:
            how = speaker_count_plan(model, c)
            if how not in by_plan:
                by_plan[how] = estimate_speaker_count(emb, c, seed=plan.seed, beta=plan.beta, weighting=plan.weighting)
            row_counts[c] = by_plan[how]
    except SepvizInputError as exc:
        return SkippedMixture(name, str(exc))
    return MixtureScore(name, row, row_secs, t_emb, geo, row_counts, time.perf_counter() - t0)


def _score_item(plan: EvaluationPlan, model, item: tuple[Path, str]) -> MixtureScore | SkippedMixture:
    return score_mixture(plan, model, *item)


def score_folder(plan: EvaluationPlan, model, mixes: list[Path], names: list[str], *, spec=None, jobs: int = 1,
                 on_done: Callable[[int, MixtureScore | SkippedMixture], None] | None = None
                 ) -> list[MixtureScore | SkippedMixture]:
    """:func:`score_mixture` on every mixture, in the folder's order.

    With ``jobs > 1`` the mixtures are scored in that many worker processes, each rebuilding the
    model from ``spec`` (a :class:`sepviz.jobs.ModelSpec`); the results are the same as with one.
    ``on_done(index, outcome)`` reports each mixture as it finishes."""
    from .jobs import run_tasks

    return run_tasks(functools.partial(_score_item, plan), list(zip(mixes, names)), model=model, spec=spec,
                     jobs=jobs, on_done=on_done)


# --------------------------------------------------------------------------- the folder's result


def standard_error(values) -> float:
    """Standard error of a mean over mixtures, NaNs left out (NaN with fewer than two values)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    return float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")


@dataclass(frozen=True)
class PairedDifference:
    """``b - a`` over the same mixtures: on 25-40 mixtures the spread between mixtures (several dB)
    hides a 0.1 dB change of the means, the per-mixture differences do not."""
    n: int          # mixtures where both have a score
    mean_a: float
    mean_b: float
    mean: float     # mean of the per-mixture differences b - a
    se: float       # its standard error
    fell: int       # mixtures where b < a
    rose: int       # mixtures where b > a

    def __str__(self) -> str:
        return f"{self.mean:+.3f} (se {self.se:.3f})"


def paired_difference(a, b) -> PairedDifference:
    """The paired difference ``b - a`` of two per-mixture score lists in the same order; a mixture
    that either left unscored (NaN) is left out of both."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    d = b - a
    return PairedDifference(n=len(d), mean_a=float(a.mean()), mean_b=float(b.mean()), mean=float(d.mean()),
                            se=standard_error(d), fell=int((d < 0).sum()), rose=int((d > 0).sum()))


def _mean_of(rows: list[dict], key: str) -> float:
    vals = np.array([r[key] for r in rows], dtype=np.float64)
    return float(np.nanmean(vals)) if np.any(~np.isnan(vals)) else float("nan")


def aggregate(plan: EvaluationPlan, outcomes: list[MixtureScore | SkippedMixture], *, model, checkpoint: Path,
              data, notes: list[str], t_start: float) -> dict:
    """The folder's result: means per system over the scored mixtures, geometry and ``extra``.

    Layout (NaN still as float; the CLI makes it strict JSON)::

        {"n", "model": {clusterer: {REPORTED}}, "oracle": {mask: {...}}, "geometry": {...}, "extra": {...}}

    Raises :class:`SepvizInputError` when no mixture could be scored."""
    done = [o for o in outcomes if isinstance(o, MixtureScore)]
    skipped = [{"file": o.name, "reason": o.reason} for o in outcomes if isinstance(o, SkippedMixture)]
    if not done:
        raise SepvizInputError(f"none of the {len(outcomes)} mixtures could be evaluated "
                               f"(first problem: {skipped[0]['reason']})")
    systems, n_spk = plan.systems, plan.n_speakers
    scores = {s: [o.scores[s] for o in done] for s in systems}
    seconds = {s: [o.seconds[s] for o in done] for s in systems}
    geometry = [o.geometry for o in done]
    result = {"n": len(done), "model": {}, "oracle": {}}
    for group, sysname in systems:
        result[group][sysname] = {k: _mean_of(scores[(group, sysname)], k) for k in REPORTED}
    mean_secs = {f"{g}:{s}": float(np.mean(seconds[(g, s)])) for g, s in systems}
    per_mixture = {f"{g}:{s}": [r["si_snri"] for r in scores[(g, s)]] for g, s in systems}
    # the clusterer-free view: do the talkers form clusters at all (sepviz.geometry)
    geo_rows = [g.to_dict() for g in geometry]
    result["geometry"] = {k: _mean_of(geo_rows, k) for k in ("silhouette", "closest_attractor_cosine")}
    result["extra"] = {
        "checkpoint": str(checkpoint), "data": str(data), "n_speakers": n_spk, "pesq": bool(plan.pesq),
        "weighting": plan.weighting, "mask_temperature": model.config.temperature(n_spk),
        "attractor_tracking": tracking.to_dict() if (tracking := model.config.tracking(n_spk)) else None,
        "si_snr": {f"{g}:{s}": _mean_of(scores[(g, s)], "si_snr") for g, s in systems},
        # Per mixture, so two systems (or two checkpoints on the same folder) can be compared pair by
        # pair: on 25-40 mixtures a 0.1 dB difference of means is within noise, a paired one may not be.
        "per_mixture": {"files": [o.name for o in done], "si_snri": per_mixture,
                        "silhouette": [g.silhouette for g in geometry]},
        "si_snri_se": {key: standard_error(vals) for key, vals in per_mixture.items()},
        # without scoring
        "seconds_per_mixture": {"embed": float(np.mean([o.embed_seconds for o in done])), **mean_secs},
        "seconds": time.perf_counter() - t_start,
        "skipped_clusterers": notes, "skipped_mixtures": skipped, "sepviz": __version__,
    }
    if plan.counted:
        result["extra"]["count"] = {c: {"right": sum(o.counts[c] == n_spk for o in done),
                                        "found": {str(k): sum(o.counts[c] == k for o in done) for k in (2, 3)}}
                                    for c in plan.counted}
    return result
