"""The separation pipeline: audio -> STFT -> embeddings -> attractors -> masks -> voices.

Split in two so the app can cache: :func:`embed` runs the network once; :func:`separate_embedding`
runs a clusterer, masks and iSTFT on cached embeddings (changing the clusterer or projection
does not rerun the network).  :func:`separate` is both in one call.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .audio import DEFAULT_MAX_SECONDS, load_audio, load_audio_measured, resample, to_mono  # noqa: F401 - load_audio re-exported
from .calibration import MERGE_COSINE, ONE_TALKER_COSINE, Tracking
from .checkpoint import load_checkpoint
from .clusterers import CLUSTERERS, DEFAULT_CLUSTERER, ClusterContext, ClusterResult, run_clusterer
from .danet import DANet, masks_from_attractors
from .errors import SepvizInputError
from .features import StftConfig, istft, log_magnitude_features, loudness_weights, salient_weights, stft
from .masks import ideal_binary_mask
from .tracking import tracked_attractors

CHUNK_SECONDS = 12.0    # network input per chunk for long audio
CONTEXT_SECONDS = 1.0   # extra context on each side of a chunk, discarded after the network
DROP_DB = -20.0         # ADANet rule: an output 20 dB below the loudest is not a talker


class SepWarning(str):
    """A warning's text (what people read) with a stable ``code`` (what programs test): both
    ``"quiet_voice"`` (an output far below the loudest) and ``"same_attractor"`` (two attractors
    nearly alike) mean the mixture may hold fewer talkers than were asked for."""

    code: str

    def __new__(cls, code: str, text: str):
        obj = super().__new__(cls, text)
        obj.code = code
        return obj


@dataclass
class Embedding:
    """Everything clusterer-independent about one mixture (cache this)."""

    wave: np.ndarray          # mono float32 at the model rate
    input_sr: int             # the user's sample rate (voices are returned at it)
    spec: torch.Tensor        # complex STFT (T, F)
    v: torch.Tensor           # embeddings (T, F, K)
    salient: torch.Tensor     # bool (T, F): bins used to fit attractors
    model: DANet
    stft_config: StftConfig
    keep: float
    seconds: float
    timings: dict = field(default_factory=dict)
    input_length: int | None = None  # samples at ``input_sr`` (voices are returned with this length)
    input_levels: dict = field(default_factory=dict)  # sepviz.audio.input_levels of the decoded input

    @property
    def mag(self) -> torch.Tensor:
        return self.spec.abs()


@dataclass
class Separation:
    voices: list[np.ndarray]          # at ``sample_rate`` (the input rate)
    sample_rate: int
    voices_model_sr: list[np.ndarray] # at the model rate (8 kHz), for metrics
    masks: np.ndarray                 # (C, T, F)
    attractors: np.ndarray            # (C, K)
    # (T, F) int: the voice each bin goes to; the clusterer's assignment, or with attractor tracking
    # the loudest of the tracked masks, so the cloud's colours match what is heard
    assignment: np.ndarray
    cluster: ClusterResult
    embedding: Embedding
    clusterer: str
    n_speakers: int
    energies_db: list[float]          # output energy relative to the loudest
    timings: dict
    warnings: list[str] = field(default_factory=list)
    attractor_tracks: np.ndarray | None = None  # (C, T, K) when the attractors follow the talkers


@lru_cache(maxsize=8)
def _cached_checkpoint(path: str, mtime: float) -> DANet:
    return load_checkpoint(path)


def resolve_model(checkpoint: str | os.PathLike | DANet) -> DANet:
    """Accept a loaded model or a path (loaded once and cached)."""
    if isinstance(checkpoint, DANet):
        return checkpoint
    p = Path(checkpoint)
    return _cached_checkpoint(str(p.resolve()), p.stat().st_mtime if p.exists() else 0.0)


def _embed_frames(model: DANet, feats: torch.Tensor, chunk_frames: int, context_frames: int) -> torch.Tensor:
    """Run the net on overlapping chunks and keep each chunk's centre: bounded memory, same space.

    The net runs on the model's device and dtype; the embeddings come back as float32 on the CPU.
    """
    param = next(model.parameters(), None)
    if param is not None:
        feats = feats.to(device=param.device, dtype=param.dtype)
    chunk_frames, context_frames = max(1, int(chunk_frames)), max(0, int(context_frames))
    t = feats.shape[0]
    was_training = model.training
    model.eval()  # a model handed over mid-training must not apply dropout or batch statistics
    try:
        if t <= chunk_frames + 2 * context_frames:
            return model(feats.unsqueeze(0))[0].float().cpu()
        out = []
        for start in range(0, t, chunk_frames):
            lo, hi = max(0, start - context_frames), min(t, start + chunk_frames + context_frames)
            v = model(feats[lo:hi].unsqueeze(0))[0]
            out.append(v[start - lo: start - lo + min(chunk_frames, t - start)].float().cpu())
        return torch.cat(out, 0)
    finally:
        model.train(was_training)


def embed(audio, sr: int | None, checkpoint, *, keep: float | None = None,
          max_seconds: float = DEFAULT_MAX_SECONDS) -> Embedding:
    """Load/validate audio and compute the embeddings of every T-F bin.

    ``audio`` is a path, bytes, ``(array, sr)``, or an array (numpy, torch, list; then ``sr`` is
    required).
    """
    t0 = time.perf_counter()
    model = resolve_model(checkpoint)
    cfg = StftConfig.from_dict(model.config.stft) if model.config.stft else StftConfig()
    if not isinstance(audio, (str, os.PathLike, bytes, bytearray, memoryview, tuple)):
        if sr is None:
            raise SepvizInputError("a sample rate is needed with a raw array")
        if isinstance(audio, torch.Tensor):
            audio = audio.detach().cpu().numpy()
        audio = (audio, sr)
    wave, in_sr, in_len, levels = load_audio_measured(audio, cfg.sample_rate, max_seconds)
    t1 = time.perf_counter()
    keep = model.config.keep if keep is None else keep
    with torch.inference_mode():
        spec = stft(torch.from_numpy(wave), cfg)
        mag = spec.abs()
        feats = log_magnitude_features(mag)
        t2 = time.perf_counter()
        frames_per_s = cfg.sample_rate / cfg.hop_length
        v = _embed_frames(model, feats, int(CHUNK_SECONDS * frames_per_s), int(CONTEXT_SECONDS * frames_per_s))
        t3 = time.perf_counter()
        salient = salient_weights(mag, keep).bool()
    return Embedding(wave=wave, input_sr=in_sr, spec=spec, v=v, salient=salient, model=model, stft_config=cfg,
                     keep=keep, seconds=len(wave) / cfg.sample_rate,
                     timings={"load": t1 - t0, "stft": t2 - t1, "network": t3 - t2}, input_length=in_len,
                     input_levels=levels)


def reference_assignment(emb: Embedding, references: list[np.ndarray] | np.ndarray) -> torch.Tensor:
    """IBM assignment ``(C, T, F)`` of the reference sources (mono, at the model rate).

    Each reference is cut or zero-padded to the mixture's length, so references of slightly
    different lengths (e.g. after resampling) still line up with the mixture's frames.
    """
    n = len(emb.wave)
    rows = []
    for r in references:
        r = to_mono(np.asarray(r, dtype=np.float32))[:n]  # (a stereo reference is downmixed)
        rows.append(np.pad(r, (0, n - r.shape[0])))
    if len(rows) < 2:
        raise SepvizInputError(f"the oracle needs at least 2 reference sources, got {len(rows)}")
    return ideal_binary_mask(stft(torch.from_numpy(np.stack(rows)), emb.stft_config))


FIT_WEIGHTINGS = ("auto", "loudness", "none")  # how much each bin counts when attractors are fitted


def resolve_weighting(weighting: str, n_speakers: int) -> str:
    """``"auto"`` -> ``"loudness"`` for two talkers, ``"none"`` for three or more.

    Why: weighting bins by loudness lifted every 2-talker result we measured (the 2-talker model,
    25 unseen FSDD mixtures: k-means 2.8 -> 5.2 dB SI-SNRi), but on 3-talker mixtures it lets the
    loudest talker's bins dominate the fit, so one talker gets split while the quiet ones merge
    (the mixed 2/3-talker model, 35 held-out mixtures: k-means 4.7 -> 3.8 dB).  docs/results.md
    has the numbers.
    """
    if weighting not in FIT_WEIGHTINGS:
        raise SepvizInputError(f"unknown fit weighting {weighting!r}; choose one of {', '.join(FIT_WEIGHTINGS)}")
    if weighting == "auto":
        return "loudness" if n_speakers <= 2 else "none"
    return weighting


def cluster_embedding(emb: Embedding, clusterer: str, c: int, *, seed: int = 0, beta: float = 10.0,
                      iterations: int = 20, oracle: torch.Tensor | None = None,
                      weighting: str = "auto") -> ClusterResult:
    """Fit ``c`` attractors with ``clusterer`` on cached embeddings (no masks, no iSTFT)."""
    t, f, k = emb.v.shape
    if oracle is not None and oracle.shape[0] != c:
        raise SepvizInputError(f"{oracle.shape[0]} reference sources given but {c} speakers requested")
    # unweighted fits get None (every salient bin once), not a map of ones: the clusterers then skip weighting
    weights = fit_weights(emb, c, weighting).reshape(-1) if resolve_weighting(weighting, c) == "loudness" else None
    ctx = ClusterContext(n_speakers=c, model=emb.model, seed=seed, beta=beta, iterations=iterations,
                         oracle_assignment=None if oracle is None else oracle.reshape(c, -1), fit_weights=weights)
    return run_clusterer(clusterer, emb.v.reshape(-1, k), emb.salient.reshape(-1), ctx)


def fit_weight_map(mag: torch.Tensor, salient: torch.Tensor, c: int, weighting: str = "auto") -> torch.Tensor:
    """How much each bin ``(T, F)`` counts when ``c`` attractors are fitted: 0 off the ``salient``
    bins, loudness-weighted for two talkers (:func:`resolve_weighting`).  The trainer's tracked
    term weighs its bins with this too, so training tracks as the studio does."""
    on = salient.float()
    if resolve_weighting(weighting, c) == "loudness":
        return loudness_weights(mag, salient.bool()) * on
    return on


def fit_weights(emb: Embedding, c: int, weighting: str = "auto") -> torch.Tensor:
    """:func:`fit_weight_map` of a cached embedding."""
    return fit_weight_map(emb.mag, emb.salient, c, weighting)


def _attractor_masks(emb: Embedding, res: ClusterResult) -> bool:
    """Whether the masks come from the attractors (not a head, not deep clustering's binary masks)."""
    return "masks" not in res.extras and emb.model.config.objective not in ("dpcl", "upit")


def embedding_tracks(emb: Embedding, res: ClusterResult, tracking: Tracking | None | str = "config", *,
                     temperature: float | None = None, weighting: str = "auto") -> torch.Tensor | None:
    """Per-frame attractors ``(C, T, K)`` that follow the talkers (:mod:`sepviz.tracking`), or None
    when there is no tracking: ``tracking="config"`` takes the model's calibrated setting for C
    talkers, None (or "off") turns it off, any other spelling is read by :meth:`Tracking.from_value`;
    models whose masks do not come from attractors never track."""
    c = res.attractors.shape[0]
    tracking = emb.model.config.tracking(c) if tracking == "config" else Tracking.from_value(tracking)
    if tracking is None or not _attractor_masks(emb, res):
        return None
    if temperature is None:
        temperature = emb.model.config.temperature(c)
    with torch.inference_mode():
        return tracked_attractors(emb.v, res.attractors, fit_weights(emb, c, weighting), tracking, temperature)


def _clusterer_masks(emb: Embedding, res: ClusterResult, temperature: float | None = None, *,
                    tracks: torch.Tensor | None = None) -> torch.Tensor:
    """Masks ``(C, T, F)`` for a clustering result, before any enhancement layer.

    DANet-style models (raw embeddings) use the soft attractor masks, at the model's calibrated
    temperature for C talkers unless ``temperature`` is given, with the per-frame attractors
    ``tracks`` when given (:func:`embedding_tracks`).  Deep-clustering embeddings
    (objectives ``dpcl`` and ``upit``) are unit-norm, so dot products lie in [-1, 1] and a softmax
    over them is nearly flat: those models use the binary masks of the cluster assignment, as in
    deep clustering's k-means inference.  The DEF mask head (clusterer ``head``) brings its own
    soft masks.
    """
    if "masks" in res.extras:
        return torch.as_tensor(res.extras["masks"]).reshape(-1, *emb.v.shape[:2]).float()
    if emb.model.config.objective in ("dpcl", "upit"):
        c = res.attractors.shape[0]
        hard = torch.nn.functional.one_hot(res.assignment.reshape(emb.v.shape[:2]).long(), c)
        return hard.permute(2, 0, 1).float()
    if temperature is None:
        temperature = emb.model.config.temperature(res.attractors.shape[0])
    attractors = res.attractors if tracks is None else tracks  # (C, K), or (C, T, K) per frame
    return masks_from_attractors(emb.v.unsqueeze(0), attractors.unsqueeze(0), emb.model.config.mask, temperature)[0]


def embedding_masks(emb: Embedding, res: ClusterResult, temperature: float | None = None, *,
                    tracks: torch.Tensor | None = None) -> torch.Tensor:
    """Masks ``(C, T, F)`` for a clustering result (:func:`_clusterer_masks`), refined by the
    model's DPCL++ enhancement layer when it has one (:meth:`sepviz.danet.DANet.enhance`)."""
    masks = _clusterer_masks(emb, res, temperature, tracks=tracks)
    if emb.model.enhancer is None:
        return masks
    with torch.inference_mode():
        return emb.model.enhance(emb.mag.unsqueeze(0).float(), masks.unsqueeze(0).float())[0]


def _output_energies_db(masks: torch.Tensor, mag: torch.Tensor) -> list[float]:
    energy = ((masks * mag.unsqueeze(0)) ** 2).sum(dim=(1, 2))
    return (10 * torch.log10(energy / energy.max().clamp_min(1e-12) + 1e-12)).tolist()


def _fit_length(wave: np.ndarray, n: int | None) -> np.ndarray:
    """Cut or zero-pad to ``n`` samples: resampling 8 kHz back to the input rate rounds up."""
    if n is None or len(wave) == n:
        return wave
    return wave[:n] if len(wave) > n else np.pad(wave, (0, n - len(wave)))


def one_talker_cosine(model: DANet) -> float:
    """The model's calibrated two-voice threshold for the one-talker warning, else
    :data:`ONE_TALKER_COSINE`.  Why not :func:`merge_cosine`: that one is chosen for the *three*
    attractors of the auto count; two real talkers' attractors often sit closer (the default
    model, 40 validation mixtures: up to 0.89), so it raised the warning on ordinary mixtures."""
    oc = model.config.one_talker_cosine
    return ONE_TALKER_COSINE if oc is None else float(oc)


def merge_cosine(model: DANet) -> float:
    """The model's calibrated merge threshold for the auto count, else :data:`MERGE_COSINE`."""
    mc = model.config.merge_cosine
    return MERGE_COSINE if mc is None else float(mc)


def _max_cosine(att: torch.Tensor) -> float:
    a = torch.nn.functional.normalize(att, dim=1)
    g = a @ a.t()
    g.fill_diagonal_(-1.0)
    return float(g.max())


def estimate_speaker_count(emb: Embedding, clusterer: str, max_speakers: int = 3, *, seed: int = 0,
                           beta: float = 10.0, iterations: int = 20, weighting: str = "auto") -> int:
    """Guess 2 or 3 talkers: fit ``max_speakers`` attractors and drop those that are not talkers.

    An output is dropped when its energy is 20 dB below the loudest one (the ADANet rule), or
    when its attractor nearly coincides with another (cosine above the model's merge threshold,
    0.85 unless calibrated: one talker split in two).
    This is what ``n_speakers=None`` ("auto") does in :func:`separate_embedding`.
    """
    return _count_speakers(emb, clusterer, max_speakers, seed=seed, beta=beta, iterations=iterations,
                           weighting=weighting)[0]


def speaker_count_plan(model: DANet, clusterer: str, max_speakers: int = 3) -> tuple[str, int]:
    """How "auto" counts for ``clusterer``: ``(counter, most talkers)``; counter ``"head"`` means
    the count is simply the DEF head's number of outputs.

    The attractor clusterers all count with k-means: its hard clusters give distinct attractors
    when a talker is there.  Soft k-means, the GMMs and fixed attractors give attractors that sit
    close together (soft responsibilities pull them to the common mean; fixed ones never go
    silent), and the 0.85-cosine rule then merged a real third talker: on the 40 validation
    mixtures of each count (the mixed 2/3-talker model before its last stage, then danet_3spk.pt)
    soft k-means found 3 of 3 talkers 13 times, the GMM 3, the tied GMM 22, k-means 39, with 40,
    40, 38 and 36 of the 2-talker ones right (``python -m sepviz evaluate ... --count``).  A
    model's own outputs bound the count: ADANet counts with its N anchors; the DEF head gives
    exactly as many masks as it has outputs (a quiet extra voice is then flagged by the
    separation's warnings).  A model trained on two-talker mixtures only cannot tell a third
    talker (the 2-talker DANet's k-means count was right for 28/40 two-talker and 18/40
    three-talker validation mixtures, a coin toss, before this bound), so "auto" counts up to the
    talkers the model was trained for.
    """
    entry = CLUSTERERS.get(clusterer)
    counts_with = entry.counts_with if entry else "kmeans"
    most = entry.most_talkers(model) if entry else None  # what the model's anchors, head or fixed attractors hold
    if counts_with == "head" and most is not None:
        return "head", most
    max_speakers = min(max_speakers, max(2, model.config.n_speakers))
    if counts_with == "anchors" and most is not None:
        return "anchors", min(max_speakers, most)
    if most is not None:  # fixed attractors: as many as the training had
        max_speakers = min(max_speakers, most)
    return "kmeans", max_speakers


def counting_fit(emb: Embedding, counter: str, max_speakers: int, *, seed: int = 0, beta: float = 10.0,
                 iterations: int = 20, weighting: str = "auto") -> tuple[ClusterResult, list[float], float]:
    """Fit ``max_speakers`` attractors with ``counter``: the fit, each output's energy (dB below the
    loudest, at T = 1: DROP_DB was set on uncalibrated masks) and the largest attractor cosine."""
    res = cluster_embedding(emb, counter, max_speakers, seed=seed, beta=beta, iterations=iterations,
                            weighting=weighting)
    energies = _output_energies_db(embedding_masks(emb, res, temperature=1.0), emb.mag)
    return res, energies, _max_cosine(res.attractors)


def count_from(energies: list[float], max_cosine: float, merge: float) -> int:
    """The auto-count rule on a counting fit: outputs within DROP_DB of the loudest are talkers,
    less one when all of them are and two attractors are closer than ``merge`` (cosine)."""
    c = sum(e > DROP_DB for e in energies)
    if c == len(energies) and max_cosine > merge:
        c -= 1
    return max(2, c)


def _count_speakers(emb: Embedding, clusterer: str, max_speakers: int = 3,
                    **kw) -> tuple[int, ClusterResult | None]:
    """:func:`estimate_speaker_count` plus the counting fit, kept when it is ``clusterer``'s own
    fit of the final number (see :func:`speaker_count_plan` for how each clusterer counts)."""
    counter, max_speakers = speaker_count_plan(emb.model, clusterer, max_speakers)
    if counter == "head" or max_speakers <= 2:
        return max(2, max_speakers), None
    res, energies, cosine = counting_fit(emb, counter, max_speakers, **kw)
    return count_from(energies, cosine, merge_cosine(emb.model)), (res if counter == clusterer else None)


def _check_attractors(emb: Embedding, res: ClusterResult, clusterer: str, c: int, weighting: str, seed: int,
                      iterations: int) -> torch.Tensor:
    """The attractors the "nearly the same attractor" warning measures: a k-means fit of ``c``
    talkers with the default weighting, whatever the clusterer.  Why: both thresholds were
    calibrated on such fits (``merge_cosine`` on the auto count's, ``one_talker_cosine`` on
    two-attractor ones, training/calibrate.py), and soft k-means and the GMMs pull their
    attractors closer together: on the bundled ``synth_3talker_1`` the default model's k-means
    attractors reach cosine 0.840 (threshold 0.845) but soft k-means's 0.887, which warned "fewer
    than 3 talkers" on three real talkers.  The oracle's attractors come from the references, so
    it is never checked."""
    if clusterer == "kmeans" and resolve_weighting(weighting, c) == resolve_weighting("auto", c):
        return res.attractors
    return cluster_embedding(emb, "kmeans", c, seed=seed, iterations=iterations).attractors


def separate_embedding(emb: Embedding, clusterer: str = DEFAULT_CLUSTERER, n_speakers: int | None = 2, *,
                       seed: int = 0, beta: float = 10.0, iterations: int = 20,
                       references: list[np.ndarray] | None = None, weighting: str = "auto",
                       tracking: Tracking | None | str = "config") -> Separation:
    """Cluster cached embeddings, build masks, and resynthesise the voices with the mixture phase.

    ``tracking``: the model's calibrated attractor tracking (``"config"``), a
    :class:`~sepviz.tracking.Tracking`, or None for one attractor per talker.  The oracle
    clusterer never tracks: its attractors are the exact reference a tracked fit is measured against.

    ``weighting="loudness"`` lets loud bins count more when k-means / tied GMM / soft k-means fit
    the attractors (:func:`sepviz.features.loudness_weights`); ``"none"`` counts every salient bin
    once; ``"auto"`` (default) weights for two talkers only (:func:`resolve_weighting`).
    """
    t0 = time.perf_counter()
    kw = dict(seed=seed, beta=beta, iterations=iterations, weighting=weighting)
    oracle = reference_assignment(emb, references) if references is not None else None
    res = None  # the auto count's fit, reused when it fitted the final number with this clusterer
    if n_speakers is None:
        if oracle is not None:
            n_speakers = oracle.shape[0]
        else:
            n_speakers, res = _count_speakers(emb, clusterer, **kw)
    if n_speakers not in (2, 3):
        raise SepvizInputError(f"n_speakers must be 2, 3 or None (auto), got {n_speakers!r}")
    if res is None or res.attractors.shape[0] != n_speakers:
        res = cluster_embedding(emb, clusterer, n_speakers, oracle=oracle, **kw)
    t1 = time.perf_counter()
    with torch.inference_mode():
        # Oracle attractors are exact, as in training: the temperature that softens a clusterer's
        # masks would only blur theirs (measured: -0.1 to -0.4 dB on the test sets).
        exact = CLUSTERERS[clusterer].exact
        tracks = None if exact else embedding_tracks(emb, res, tracking, weighting=weighting)
        masks = embedding_masks(emb, res, temperature=1.0 if exact else None, tracks=tracks)
        voices8k = istft(masks * emb.spec.unsqueeze(0), len(emb.wave), emb.stft_config).numpy()
    t2 = time.perf_counter()
    voices = [_fit_length(resample(v, emb.stft_config.sample_rate, emb.input_sr), emb.input_length)
              for v in voices8k]
    energies = _output_energies_db(masks, emb.mag)
    warnings = []
    weak = [i + 1 for i, e in enumerate(energies) if e < DROP_DB]
    if weak:
        warnings.append(SepWarning("quiet_voice", f"voice {', '.join(map(str, weak))} is more than 20 dB quieter than "
                                   f"the loudest: the mixture may hold fewer than {n_speakers} talkers"))
    too_close = merge_cosine(emb.model) if n_speakers >= 3 else one_talker_cosine(emb.model)
    if not exact and _max_cosine(_check_attractors(emb, res, clusterer, n_speakers, weighting,
                                                               seed, iterations)) > too_close:
        warnings.append(SepWarning("same_attractor",
                                   f"{'two of the' if n_speakers >= 3 else 'the two'} voices have nearly the same "
                                   f"attractor (cosine > {too_close:g}): the mixture may hold fewer than "
                                   f"{n_speakers} talkers, so one voice may be split in two"))
    t, f = emb.spec.shape
    timings = dict(emb.timings, cluster=t1 - t0, masks_istft=t2 - t1)
    return Separation(voices=voices, sample_rate=emb.input_sr, voices_model_sr=list(voices8k),
                      masks=masks.numpy(), attractors=res.attractors.numpy(),
                      assignment=(res.assignment.reshape(t, f) if tracks is None else masks.argmax(0)).numpy(),
                      cluster=res, embedding=emb,
                      clusterer=clusterer, n_speakers=n_speakers, energies_db=energies, timings=timings,
                      warnings=warnings, attractor_tracks=None if tracks is None else tracks.numpy())


def move_attractor(sep: Separation, index: int, offset: np.ndarray) -> Separation:
    """``sep`` with attractor ``index`` moved by ``offset (K,)`` in the embedding space: masks and
    voices recomputed from the cached embeddings (the network does not run again), each bin
    going to the voice whose mask is largest.  With attractor tracking the whole path moves by
    ``offset``.  The clusterer's GMM components no longer describe the moved attractors, so they
    are left out of ``cluster.extras``."""
    emb, res = sep.embedding, sep.cluster
    if "masks" in res.extras:
        raise SepvizInputError("the DEF mask head's masks do not come from attractors: moving one changes nothing; "
                               "choose a clusterer")
    c, k = sep.attractors.shape
    if not 0 <= int(index) < c:
        raise SepvizInputError(f"there is no attractor {int(index) + 1}: this separation has {c}")
    off = np.zeros((c, k), np.float32)
    off[int(index)] = np.asarray(offset, np.float32).reshape(k)
    t0 = time.perf_counter()
    att = torch.as_tensor(sep.attractors, dtype=torch.float32) + torch.from_numpy(off)
    with torch.inference_mode():
        tracks = None if sep.attractor_tracks is None else (torch.as_tensor(sep.attractor_tracks)
                                                              + torch.from_numpy(off)[:, None, :])
        # deep clustering's binary masks follow the assignment: each bin to its most similar attractor
        nearest = torch.einsum("tfk,ck->ctf", emb.v, att).argmax(0).reshape(-1)
        extras = {key: v for key, v in res.extras.items() if key not in ("means", "covariances", "weights")}
        moved = ClusterResult(att, nearest, extras)
        masks = embedding_masks(emb, moved, temperature=1.0 if sep.clusterer == "oracle" else None, tracks=tracks)
        voices8k = istft(masks * emb.spec.unsqueeze(0), len(emb.wave), emb.stft_config).numpy()
    voices = [_fit_length(resample(v, emb.stft_config.sample_rate, emb.input_sr), emb.input_length)
              for v in voices8k]
    energies = _output_energies_db(masks, emb.mag)
    weak = [i + 1 for i, e in enumerate(energies) if e < DROP_DB]
    warnings = [w for w in sep.warnings if getattr(w, "code", "") != "quiet_voice"]
    if weak:
        warnings.append(SepWarning("quiet_voice", f"voice {', '.join(map(str, weak))} is more than 20 dB quieter than "
                                   f"the loudest: the mixture may hold fewer than {c} talkers"))
    return Separation(voices=voices, sample_rate=sep.sample_rate, voices_model_sr=list(voices8k),
                      masks=masks.numpy(), attractors=att.numpy(), assignment=masks.argmax(0).numpy(),
                      cluster=moved, embedding=emb, clusterer=sep.clusterer, n_speakers=c, energies_db=energies,
                      timings=dict(sep.timings, masks_istft=time.perf_counter() - t0), warnings=warnings,
                      attractor_tracks=None if tracks is None else tracks.numpy())


def listen_to_bins(emb: Embedding, mask: np.ndarray) -> np.ndarray:
    """The mixture's bins where ``mask (T, F)`` (bool or 0-1) is set, alone: the mask applied to
    the mixture's STFT (so with the mixture's phase) and turned back into sound, at the input's
    rate and length."""
    m = torch.as_tensor(np.asarray(mask, np.float32))
    if tuple(m.shape) != tuple(emb.spec.shape):
        raise SepvizInputError(f"the selection covers a {tuple(m.shape)} grid but this mixture's is "
                               f"{tuple(emb.spec.shape)}: separate it again and reselect")
    with torch.inference_mode():
        wave = istft((m * emb.spec).unsqueeze(0), len(emb.wave), emb.stft_config)[0].numpy()
    return _fit_length(resample(wave, emb.stft_config.sample_rate, emb.input_sr), emb.input_length)


def separate(audio, sr: int | None, checkpoint, clusterer: str = DEFAULT_CLUSTERER, n_speakers: int | None = 2, *,
             keep: float | None = None, max_seconds: float = DEFAULT_MAX_SECONDS, seed: int = 0,
             beta: float = 10.0, references: list[np.ndarray] | None = None,
             weighting: str = "auto", tracking: Tracking | None | str = "config") -> Separation:
    """Separate a mixture in one call; see :func:`embed` and :func:`separate_embedding`."""
    t0 = time.perf_counter()
    emb = embed(audio, sr, checkpoint, keep=keep, max_seconds=max_seconds)
    out = separate_embedding(emb, clusterer, n_speakers, seed=seed, beta=beta, references=references,
                             weighting=weighting, tracking=tracking)
    out.timings["total"] = time.perf_counter() - t0
    return out
