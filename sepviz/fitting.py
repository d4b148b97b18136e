"""The fit stage: attractors for ``C`` talkers from cached embeddings, with the weighting policy.

A clusterer (:mod:`sepviz.clusterers`) fits ``C`` attractors ``(C, K)`` on the salient bins of an
:class:`~sepviz.inference.Embedding`; how much each bin counts in that fit is this module's
weighting policy (:func:`resolve_weighting`), shared with the attractor tracking
(:mod:`sepviz.masking`) and the trainer's tracked term.
"""
from __future__ import annotations

import numpy as np
import torch

from .audio import to_mono
from .clusterers import ClusterContext, ClusterResult, run_clusterer
from .errors import SepvizInputError
from .features import loudness_weights
from .inference import Embedding
from .masks import ideal_binary_mask

FIT_WEIGHTINGS = ("auto", "loudness", "none")  # how much each bin counts when attractors are fitted


def reference_assignment(emb: Embedding, references: list[np.ndarray] | np.ndarray) -> torch.Tensor:
    """IBM assignment ``(C, T, F)`` of the reference sources (mono, at the model rate), on the
    mixture's grid: their STFTs, or their latents through a front-end model's front-end.

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
    return ideal_binary_mask(emb.analyse(torch.from_numpy(np.stack(rows))))


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
    """Fit ``c`` attractors with ``clusterer`` on cached embeddings (no masks, no iSTFT).

    Args:
        emb: the mixture's embeddings ``v (T, F, K)`` and salient bins ``(T, F)``.
        clusterer: a name in :data:`sepviz.clusterers.CLUSTERERS`.
        c: talkers to fit.
        oracle: the references' assignment ``(C, T, F)`` (:func:`reference_assignment`), for the
            oracle clusterer.
        weighting: see :func:`resolve_weighting`.
    Returns:
        :class:`~sepviz.clusterers.ClusterResult`: attractors ``(C, K)``, assignment ``(T * F,)``.
    """
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
    term weighs its bins with this too, so training tracks as the studio does.

    Args:
        mag: the mixture's magnitude ``(T, F)``.
        salient: ``(T, F)`` bool or 0/1.
    Returns:
        weights ``(T, F)``, float.
    """
    on = salient.float()
    if resolve_weighting(weighting, c) == "loudness":
        return loudness_weights(mag, salient.bool()) * on
    return on


def fit_weights(emb: Embedding, c: int, weighting: str = "auto") -> torch.Tensor:
    """:func:`fit_weight_map` of a cached embedding: ``(T, F)``."""
    return fit_weight_map(emb.mag, emb.salient, c, weighting)
