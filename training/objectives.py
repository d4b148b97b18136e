"""One loss function per training objective, all with the same signature.

``batch_loss(model, mix, sources, cfg)`` turns waveforms into STFT features, runs the embedding
net and returns ``(loss, ideal_attractors)``; the attractors feed the fixed-attractor statistics.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from sepviz.danet import DANet, anchor_attractors, ideal_attractors, masks_from_attractors
from sepviz.features import StftConfig, log_magnitude_features, salient_weights, stft
from sepviz.losses import (danet_loss, deep_clustering_loss, pit_reconstruction_loss,
                           upit_discriminative_loss)
from sepviz.masks import ideal_binary_mask, wiener_filter_mask


@dataclass
class Batch:
    mag: torch.Tensor       # (B, T, F) mixture magnitude
    feats: torch.Tensor     # (B, T, F) network input
    src_mag: torch.Tensor   # (B, C, T, F)
    ibm: torch.Tensor       # (B, C, T, F) ideal assignment (all-zero rows for absent speakers)
    wfm: torch.Tensor       # (B, C, T, F) Wiener-filter-like target mask
    weights: torch.Tensor   # (B, T, F) salient bins


def make_batch(mix: torch.Tensor, sources: torch.Tensor, stft_cfg: StftConfig, keep: float) -> Batch:
    spec = stft(mix, stft_cfg)
    src = stft(sources, stft_cfg)
    mag = spec.abs()
    silent = sources.abs().amax(-1) == 0  # (B, C): zero-padded auxiliary speakers
    ibm = ideal_binary_mask(src).masked_fill(silent[..., None, None], 0.0)
    wfm = wiener_filter_mask(src)
    return Batch(mag=mag, feats=log_magnitude_features(mag), src_mag=src.abs(), ibm=ibm, wfm=wfm,
                 weights=salient_weights(mag, keep))


def batch_loss(model: DANet, b: Batch, *, dc_weight: float = 1.0, disc_weight: float = 0.1,
               aux_dc_weight: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    cfg = model.config
    v = model(b.feats)
    att = ideal_attractors(v, b.ibm, b.weights)
    if cfg.objective == "danet":
        loss = danet_loss(v, b.mag, b.wfm, b.ibm, b.weights, cfg.mask)
    elif cfg.objective == "adanet":
        anchors_att, _, _ = anchor_attractors(v, model.anchors, b.ibm.shape[1], b.weights)
        est = masks_from_attractors(v, anchors_att, cfg.mask)
        loss = pit_reconstruction_loss(b.mag, b.wfm, est)
    elif cfg.objective == "dpcl":
        loss = deep_clustering_loss(v, b.ibm, b.weights)
    elif cfg.objective == "upit":
        loss = dc_weight * deep_clustering_loss(v, b.ibm, b.weights) + upit_discriminative_loss(
            b.mag, b.src_mag, model.head_masks(v), disc_weight)
    else:  # pragma: no cover - DANetConfig validates
        raise ValueError(cfg.objective)
    if aux_dc_weight and cfg.objective in ("danet", "adanet"):
        unit = v / v.norm(dim=-1, keepdim=True).clamp_min(1e-8)
        loss = loss + aux_dc_weight * deep_clustering_loss(unit, b.ibm, b.weights)
    return loss, att.detach()
