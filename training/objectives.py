"""One loss function per training objective, all with the same signature.

``batch_loss(model, mix, sources, cfg)`` turns waveforms into STFT features, runs the embedding
net and returns ``(loss, ideal_attractors)``; the attractors feed the fixed-attractor statistics.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from sepviz.clusterers import batched_direction_responsibilities, raw_means
from sepviz.danet import DANet, anchor_attractors, ideal_attractors, masks_from_attractors, similarity
from sepviz.features import StftConfig, istft, log_magnitude_features, salient_weights, stft
from sepviz.frontend import frontend_features, frontend_resynthesis, separation_autoencoder_loss
from sepviz.losses import (deep_clustering_loss, negative_si_snr, pit_reconstruction_loss, reconstruction_loss,
                           si_snr_db, silenced_weights, source_contrastive_loss, upit_discriminative_loss)
from sepviz.masks import ideal_binary_mask, phase_sensitive_target, wiener_filter_mask
from sepviz.pit import pit_min_permutation
from sepviz.fitting import fit_weight_map
from sepviz.calibration import Tracking
from sepviz.tracking import windowed_attractors

TARGETS = ("wfm", "psa", "sisnr")


@dataclass
class Batch:
    mag: torch.Tensor       # (B, T, F) mixture magnitude
    feats: torch.Tensor     # (B, T, F) network input
    src_mag: torch.Tensor   # (B, C, T, F)
    ibm: torch.Tensor       # (B, C, T, F) ideal assignment (all-zero rows for absent speakers)
    target: torch.Tensor | None  # (B, C, T, F) target mask: WFM or phase-sensitive; None for "sisnr"
    weights: torch.Tensor   # (B, T, F) salient bins
    sources: torch.Tensor   # (B, C, samples) reference waveforms
    present: torch.Tensor   # (B, C) False for zero-padded auxiliary talkers
    # masks (B, C, T, F) -> voices (B, C, samples), as the model's analysis resynthesises: the
    # mixture's phase and the iSTFT, or an adaptive front-end's back-end
    resynth: Callable[[torch.Tensor], torch.Tensor]


def make_batch(mix: torch.Tensor, sources: torch.Tensor, stft_cfg: StftConfig, keep: float,
               target: str = "wfm") -> Batch:
    """``target="psa"`` swaps the papers' WFM target for the phase-sensitive one, whose loss is the
    error of the complex spectrum the separated waveform is made from; ``"sisnr"`` resynthesises
    the voices (masks, mixture phase, iSTFT) and scores them with SI-SNR itself."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose {TARGETS}")
    spec = stft(mix, stft_cfg)
    src = stft(sources, stft_cfg)
    mag = spec.abs()
    silent = sources.abs().amax(-1) == 0  # (B, C): zero-padded auxiliary speakers
    ibm = ideal_binary_mask(src).masked_fill(silent[..., None, None], 0.0)
    tgt = None  # "sisnr": the loss scores the resynthesised voices, not masks
    if target == "wfm":
        tgt = wiener_filter_mask(src)
    elif target == "psa":
        tgt = phase_sensitive_target(src, spec)
    return Batch(mag=mag, feats=log_magnitude_features(mag), src_mag=src.abs(), ibm=ibm, target=tgt,
                 weights=salient_weights(mag, keep), sources=sources, present=~silent,
                 resynth=lambda masks: istft(masks * spec.unsqueeze(1), sources.shape[-1], stft_cfg))


def make_frontend_batch(model: DANet, mix: torch.Tensor, sources: torch.Tensor, keep: float,
                        target: str = "wfm") -> Batch:
    """:func:`make_batch` for a model with an adaptive front-end (thesis fig. 4.2): the mixture's
    latent plays the magnitude, the net reads it log-normalised (:func:`sepviz.frontend.frontend_features`),
    and the ideal masks come from the sources' latents (binary: the dominant talker of each
    (frame, filter) cell; the ratio target: their Wiener-like ratio).  The front-end is fixed (as
    in the thesis's training phase) unless its parameters require gradients (``train_frontend``,
    its end-to-end fine-tuning); the talkers' latents never carry one.  Targets ``"wfm"`` and ``"sisnr"`` (the voices
    the back-end decodes from the masked latent, scored by SI-SNR: the gradient reaches the masks
    through the frozen back-end); ``psa`` needs the STFT's phase."""
    if target not in ("wfm", "sisnr"):
        raise ValueError(f"an adaptive front-end trains with the 'wfm' or 'sisnr' target, not {target!r}")
    b, c, length = sources.shape
    # the mixture's path keeps its gradient when the front-end is being fine-tuned end to end
    with torch.set_grad_enabled(torch.is_grad_enabled() and model.frontend.window.requires_grad):
        view = frontend_features(model, mix)
    with torch.no_grad():  # the talkers' latents are targets
        src, _ = model.frontend.encode(sources.reshape(b * c, length))
    src = src.reshape(b, c, *src.shape[1:])
    silent = sources.abs().amax(-1) == 0
    ibm = ideal_binary_mask(src).masked_fill(silent[..., None, None], 0.0)
    return Batch(mag=view.latent, feats=view.feats, src_mag=src, ibm=ibm,
                 target=wiener_filter_mask(src) if target == "wfm" else None,
                 weights=salient_weights(view.latent, keep), sources=sources, present=~silent,
                 resynth=lambda masks: frontend_resynthesis(model, masks, view))


def autoencoder_loss(model, mix: torch.Tensor, sources: torch.Tensor, *, sparsity: float = 0.01,
                     rho: float = 0.05, overlap: float = 0.1) -> tuple[torch.Tensor, None]:
    """Objective ``adaptive_ae``: the separation-autoencoder pretraining of ``model.frontend``
    (:func:`sepviz.frontend.separation_autoencoder_loss`); no attractors, hence ``None``."""
    loss, _ = separation_autoencoder_loss(model.frontend, mix, sources, sparsity=sparsity, rho=rho, overlap=overlap)
    return loss, None


def waveform_loss(b: Batch, est_masks: torch.Tensor, pit: bool = False) -> torch.Tensor:
    """``-SI-SNR`` of the voices the masks give through the batch's resynthesis (as the app's own);
    with ``pit`` the best speaker order per utterance (ADANet's anchors have no fixed order)."""
    voices = b.resynth(est_masks.float())
    if not pit:
        return negative_si_snr(voices, b.sources, b.present)
    pair = -si_snr_db(voices.unsqueeze(2), b.sources.unsqueeze(1)) * b.present.unsqueeze(1)  # (B, C_est, C_ref)
    loss, _ = pit_min_permutation(pair)
    return (loss / b.present.sum(1).clamp_min(1)).mean()


def reconstruction(b: Batch, est_masks: torch.Tensor, pit: bool) -> torch.Tensor:
    """Score attractor masks against the batch's target: the voices' SI-SNR, or the masked mixture."""
    if b.target is None:
        return waveform_loss(b, est_masks, pit)
    if pit:
        return pit_reconstruction_loss(b.mag, b.target, est_masks)
    return reconstruction_loss(b.mag, b.target, est_masks)


def clustered_attractors(v: torch.Tensor, b: Batch, fit_bins: int = 4000) -> torch.Tensor:
    """The attractors test-time soft k-means finds, ``(B, C, K)``, each in an arbitrary order.

    The fit itself (responsibilities of the salient bins' directions) carries no gradient; the
    attractors are the responsibility-weighted means of the raw embeddings, so the loss pulls each
    talker's bins towards the attractor the clusterer gave them.  An item with fewer talkers than
    ``C`` gets zero attractors in the spare slots, as the ideal attractors do for absent talkers.
    Items with the same number of talkers are fitted together (padded to the longest).
    """
    vf = v.reshape(v.shape[0], -1, v.shape[-1])
    out = torch.zeros(v.shape[0], b.ibm.shape[1], v.shape[-1], dtype=v.dtype, device=v.device)
    g = torch.Generator().manual_seed(0)
    by_count: dict[int, list[tuple[int, torch.Tensor]]] = {}
    for i in range(v.shape[0]):
        idx = torch.nonzero(b.weights[i].reshape(-1) > 0).squeeze(1)
        if idx.shape[0] > fit_bins:  # a random subsample, as the studio fits on one: same means, 10x faster
            idx = idx[torch.randperm(idx.shape[0], generator=g)[:fit_bins].to(idx.device)]
        n = int(b.present[i].sum())
        if idx.shape[0] >= n > 0:  # else nothing loud to cluster: the ideal term still trains this item
            by_count.setdefault(n, []).append((i, idx))
    for n, group in by_count.items():
        items = torch.tensor([i for i, _ in group], device=v.device)
        lengths = torch.tensor([idx.shape[0] for _, idx in group])
        idx = torch.nn.utils.rnn.pad_sequence([idx for _, idx in group], batch_first=True)  # (G, M), 0-padded
        pts = vf[items.unsqueeze(1), idx]  # (G, M, K), with gradient
        resp = batched_direction_responsibilities(pts, lengths, n).to(pts.dtype)
        out[items, :n] = raw_means(pts, resp)
    return out


def tracked_clustered_attractors(v: torch.Tensor, b: Batch, clustered: torch.Tensor, tracking: Tracking,
                                 temperature: float) -> torch.Tensor:
    """Per-frame attractors ``(B, C, T, K)`` that follow the talkers from the clusterer's
    ``clustered (B, C, K)``, as the studio's attractor tracking does (:mod:`sepviz.tracking`).

    The responsibilities (softmax of the similarity at ``temperature``, times the studio's fit
    weights: salient bins, loudness-weighted for two talkers) carry no gradient, as the clusterer's
    fit; the windowed means and the prior do, so the loss asks each talker's bins to sit near that
    talker's attractor *of the moment*.  Spare slots of items with fewer talkers get no bins."""
    with torch.no_grad():
        logits = similarity(v, clustered).float() / temperature
        logits = logits.masked_fill(~b.present[:, :, None, None], float("-inf"))
        fit = torch.stack([fit_weight_map(b.mag[i], b.weights[i], int(b.present[i].sum()))
                           for i in range(b.mag.shape[0])])
        resp = torch.softmax(logits, dim=1) * fit.unsqueeze(1)
    return windowed_attractors(v, resp, tracking, clustered)


@dataclass
class SceTerm:
    """The source-contrastive term's table and settings (see ``TrainConfig.sce_*``)."""

    weight: float
    speaker_vectors: torch.Tensor   # (S, K), trainable
    speaker_ids: torch.Tensor       # (B, C) long, -1 for absent or unseen talkers
    negatives: int = 0
    mu: float = 0.1
    sampling: str = "random"
    silence_db: float = 0.0


def batch_loss(model: DANet, b: Batch, *, dc_weight: float = 1.0, disc_weight: float = 0.1,
               aux_dc_weight: float = 0.0, clustered_weight: float = 0.0, tracked_weight: float = 0.0,
               tracking: Tracking | None = None, tracked_temperature: float = 1.6,
               sce: SceTerm | None = None, enhance_weight: float = 0.0, enhance_beta: float = 10.0,
               freeze_embedding: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    cfg = model.config
    v = model(b.feats)
    if freeze_embedding:  # DPCL++'s first step: the enhancement layer learns on fixed embeddings
        if model.enhancer is None or not enhance_weight:
            raise ValueError("freeze_embedding trains the enhancement layer alone: set enhance and enhance_weight")
        v = v.detach()
    att = ideal_attractors(v, b.ibm, b.weights)
    if cfg.objective in ("danet", "adanet"):
        # DANet: the ideal attractors, speaker order known; ADANet: the anchors' pick, so PIT.
        pit = cfg.objective == "adanet"
        est_att = anchor_attractors(v, model.anchors, b.ibm.shape[1], b.weights)[0] if pit else att
        loss = reconstruction(b, masks_from_attractors(v, est_att, cfg.mask), pit)
        if tracked_weight and tracking is None:
            raise ValueError("the tracked term needs a tracking window (sepviz.calibration.Tracking)")
        if clustered_weight or tracked_weight:  # also score the attractors soft k-means finds (order unknown: PIT)
            clustered = clustered_attractors(v, b)
            if clustered_weight:
                loss = loss + clustered_weight * reconstruction(b, masks_from_attractors(v, clustered, cfg.mask), pit=True)
            if tracked_weight:  # ... and the attractors that follow the talkers from there
                tracks = tracked_clustered_attractors(v, b, clustered, tracking, tracked_temperature)
                loss = loss + tracked_weight * reconstruction(b, masks_from_attractors(v, tracks, cfg.mask), pit=True)
    elif cfg.objective == "sce":  # the thesis's source-contrastive estimation alone
        if sce is None:
            raise ValueError("objective 'sce' needs speaker ids and a speaker table (set sce_weight > 0)")
        loss = torch.zeros((), device=v.device)
        if not bool((sce.speaker_ids >= 0).any()):
            # unseen (validation) talkers have no speaker vector: score the same clusters without
            # one, by the deep-clustering affinity loss of the unit embeddings
            unit = v / v.norm(dim=-1, keepdim=True).clamp_min(1e-8)
            loss = deep_clustering_loss(unit, b.ibm, b.weights)
    elif b.target is None:
        raise ValueError(f"the sisnr target needs attractor masks; objective {cfg.objective!r} has none")
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
    if sce is not None and sce.weight and cfg.objective in ("danet", "adanet", "sce"):
        bins = silenced_weights(b.mag, sce.silence_db) if sce.silence_db > 0 else b.weights
        loss = loss + sce.weight * source_contrastive_loss(
            v, b.ibm, sce.speaker_vectors, sce.speaker_ids.to(v.device), bins, negatives=sce.negatives,
            mu=sce.mu, sampling=sce.sampling)
    if model.enhancer is not None and enhance_weight:
        term = enhancement_loss(model, v, b, enhance_beta)
        loss = enhance_weight * term if freeze_embedding else loss + enhance_weight * term
    return loss, att.detach()


def enhancement_loss(model: DANet, v: torch.Tensor, b: Batch, beta: float = 10.0) -> torch.Tensor:
    """DPCL++: ``-SI-SNR`` (PIT) of the voices the enhancement layer makes from soft k-means masks.

    The clusterer's fit carries no gradient (:func:`clustered_attractors`), its attractors and the
    masks do, so the signal loss reaches the embeddings through soft k-means, as the thesis's
    end-to-end fine-tuning does.  Deep-clustering embeddings are unit-norm, so their masks are
    soft assignments at stiffness `beta`; attractor models use their own masks."""
    clustered = clustered_attractors(v, b)  # (B, C, K), any order
    if model.config.objective in ("dpcl", "upit"):
        unit = torch.nn.functional.normalize(clustered, dim=-1)
        first = torch.softmax(beta * similarity(v, unit).float(), dim=1)
    else:
        first = masks_from_attractors(v, clustered, model.config.mask)
    return waveform_loss(b, model.enhance(b.mag, first.float()), pit=True)
