"""The separation pipeline's front door: audio -> STFT -> embeddings -> attractors -> masks -> voices.

Split in two so the app can cache: :func:`embed` runs the network once; :func:`separate_embedding`
runs a clusterer, masks and iSTFT on cached embeddings (changing the clusterer or projection
does not rerun the network).  :func:`separate` is both in one call.

The stages, each its own module, data flowing one way:

=========================  ===============================================================
:mod:`sepviz.inference`    embed: audio -> :class:`Embedding` (model cache, chunked network)
:mod:`sepviz.fitting`      fit: attractors ``(C, K)`` with the weighting policy
:mod:`sepviz.masking`      masks: attractor tracking ``(C, T, K)`` and masks ``(C, T, F)``
:mod:`sepviz.counting`     count: the "auto" talker count and the fewer-talkers warnings
:mod:`sepviz.resynthesis`  voices: masked iSTFT at the input's rate and length
=========================  ===============================================================

Their public names are importable from here as well.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .audio import DEFAULT_MAX_SECONDS, load_audio
from .calibration import MERGE_COSINE, ONE_TALKER_COSINE, Tracking
from .clusterers import CLUSTERERS, DEFAULT_CLUSTERER, ClusterResult
from .counting import (DROP_DB, SepWarning, count_from, count_speakers, counting_fit, estimate_speaker_count,
                       max_cosine, merge_cosine, one_talker_cosine, quiet_voice_warning, same_attractor_warning,
                       speaker_count_plan)
from .errors import SepvizInputError
from .fitting import (FIT_WEIGHTINGS, cluster_embedding, fit_weight_map, fit_weights, reference_assignment,
                      resolve_weighting)
from .inference import Embedding, embed, resolve_model
from .masking import embedding_masks, embedding_tracks, output_energies_db
from .resynthesis import at_input_rate, listen_to_bins, masked_istft

# the front door's names: the pipeline here, and the stages' public names callers import from it
__all__ = [
    "Separation", "separate", "separate_embedding", "move_attractor",
    "Embedding", "embed", "resolve_model", "load_audio",
    "FIT_WEIGHTINGS", "cluster_embedding", "fit_weight_map", "fit_weights", "reference_assignment",
    "resolve_weighting",
    "embedding_masks", "embedding_tracks", "output_energies_db",
    "DROP_DB", "MERGE_COSINE", "ONE_TALKER_COSINE", "SepWarning", "count_from", "counting_fit",
    "estimate_speaker_count", "max_cosine", "merge_cosine", "one_talker_cosine", "speaker_count_plan",
    "listen_to_bins",
]


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


def separate_embedding(emb: Embedding, clusterer: str = DEFAULT_CLUSTERER, n_speakers: int | None = 2, *,
                       seed: int = 0, beta: float = 10.0, iterations: int = 20,
                       references: list[np.ndarray] | None = None, weighting: str = "auto",
                       tracking: Tracking | None | str = "config") -> Separation:
    """Cluster cached embeddings, build masks, and resynthesise the voices with the mixture phase.

    ``tracking``: the model's calibrated attractor tracking (``"config"``), a
    :class:`~sepviz.calibration.Tracking`, or None for one attractor per talker.  The oracle
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
            n_speakers, res = count_speakers(emb, clusterer, **kw)
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
        voices8k = masked_istft(emb, masks)
    t2 = time.perf_counter()
    voices = [at_input_rate(emb, v) for v in voices8k]
    energies = output_energies_db(masks, emb.mag)
    warnings = quiet_voice_warning(energies, n_speakers)
    if not exact:
        warnings += same_attractor_warning(emb, res, clusterer, n_speakers, weighting=weighting, seed=seed,
                                           iterations=iterations)
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
        voices8k = masked_istft(emb, masks)
    voices = [at_input_rate(emb, v) for v in voices8k]
    energies = output_energies_db(masks, emb.mag)
    warnings = [w for w in sep.warnings if getattr(w, "code", "") != "quiet_voice"]
    warnings += quiet_voice_warning(energies, c)
    return Separation(voices=voices, sample_rate=sep.sample_rate, voices_model_sr=list(voices8k),
                      masks=masks.numpy(), attractors=att.numpy(), assignment=masks.argmax(0).numpy(),
                      cluster=moved, embedding=emb, clusterer=sep.clusterer, n_speakers=c, energies_db=energies,
                      timings=dict(sep.timings, masks_istft=time.perf_counter() - t0), warnings=warnings,
                      attractor_tracks=None if tracks is None else tracks.numpy())


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
