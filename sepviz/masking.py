"""The masks stage: a fit's attractors (tracked through time where calibrated) -> masks ``(C, T, F)``.

Not to be confused with :mod:`sepviz.masks`, the *ideal* masks computed from the true sources;
these are the masks a separation estimates, at the model's calibrated temperature
(:class:`~sepviz.calibration.Calibration`).
"""
from __future__ import annotations

import torch

from .calibration import Tracking
from .clusterers import ClusterResult
from .danet import masks_from_attractors
from .fitting import fit_weights
from .inference import Embedding
from .tracking import tracked_attractors


def _attractor_masks(emb: Embedding, res: ClusterResult) -> bool:
    """Whether the masks come from the attractors (not a head, not deep clustering's binary masks)."""
    return "masks" not in res.extras and emb.model.config.objective not in ("dpcl", "upit")


def embedding_tracks(emb: Embedding, res: ClusterResult, tracking: Tracking | None | str = "config", *,
                     temperature: float | None = None, weighting: str = "auto") -> torch.Tensor | None:
    """Per-frame attractors ``(C, T, K)`` that follow the talkers (:mod:`sepviz.tracking`), or None
    when there is no tracking: ``tracking="config"`` takes the model's calibrated setting for C
    talkers, None (or "off") turns it off, any other spelling is read by :meth:`Tracking.from_value`;
    models whose masks do not come from attractors never track.

    Args:
        emb: embeddings ``v (T, F, K)``; the fit weights ``(T, F)`` come from ``weighting``
            (:func:`sepviz.fitting.fit_weights`).
        res: the fit, attractors ``(C, K)``.
        temperature: of the responsibilities; None: the model's calibrated one for C talkers.
    Returns:
        tracks ``(C, T, K)``, or None.
    """
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
    model's DPCL++ enhancement layer when it has one (:meth:`sepviz.danet.DANet.enhance`).

    Args:
        emb: embeddings ``v (T, F, K)`` and the mixture's STFT ``(T, F)``.
        res: the fit: attractors ``(C, K)``, assignment ``(T * F,)``, or a head's masks.
        temperature: None: the model's calibrated one for C talkers; 1 for exact (oracle) attractors.
        tracks: per-frame attractors ``(C, T, K)`` (:func:`embedding_tracks`) instead of ``res``'s.
    Returns:
        masks ``(C, T, F)``.
    """
    masks = _clusterer_masks(emb, res, temperature, tracks=tracks)
    if emb.model.enhancer is None:
        return masks
    with torch.inference_mode():
        return emb.model.enhance(emb.mag.unsqueeze(0).float(), masks.unsqueeze(0).float())[0]


def output_energies_db(masks: torch.Tensor, mag: torch.Tensor) -> list[float]:
    """Each masked output's energy in dB relative to the loudest one.

    Args:
        masks: ``(C, T, F)``.
        mag: the mixture's magnitude ``(T, F)``.
    Returns:
        C numbers, the loudest 0.
    """
    energy = ((masks * mag.unsqueeze(0)) ** 2).sum(dim=(1, 2))
    return (10 * torch.log10(energy / energy.max().clamp_min(1e-12) + 1e-12)).tolist()
