"""Training objectives of the DANet family.

* DANet: L2 reconstruction of the masked mixture, ``||X * (M - M_hat)||^2``, with WFM targets and
  attractors formed from the ideal assignment on salient bins.
* Deep clustering: ``||V V^T - Y Y^T||_F^2`` in its low-rank form
  ``||V^T V||^2 - 2 ||V^T Y||^2 + ||Y^T Y||^2`` (never builds the N x N affinity).
* ADANet / uPIT: utterance-level permutation invariant training (PIT) over a pairwise loss
  matrix (:mod:`sepviz.pit`, in the style of asteroid's ``PITLossWrapper``); uPIT adds the
  discriminative term.
"""
from __future__ import annotations

import torch

from .danet import EPS, flatten_bins, ideal_attractors, masks_from_attractors
from .pit import PITLossWrapper, pit_min_permutation


def _per_bin_mean(x: torch.Tensor) -> torch.Tensor:
    """Average over the T-F bins of each utterance: ``(B, ..., T, F)`` -> ``(B, ...)``."""
    return x.mean(dim=(-2, -1))


def masked_reconstruction_error(mix_mag: torch.Tensor, target_masks: torch.Tensor,
                                est_masks: torch.Tensor) -> torch.Tensor:
    """Pairwise ``mean_tf |X (M_ref_j - M_est_i)|^2``, the matrix PIT minimises over.

    Args:
        mix_mag: mixture magnitude ``X (B, T, F)``.
        target_masks: reference masks ``(B, C_ref, T, F)``.
        est_masks: estimated masks ``(B, C_est, T, F)``.
    Returns:
        ``(B, C_est, C_ref)``.
    """
    x = mix_mag.unsqueeze(1).unsqueeze(1)
    diff = x * (est_masks.unsqueeze(2) - target_masks.unsqueeze(1))
    return _per_bin_mean(diff ** 2)


def reconstruction_loss(mix_mag: torch.Tensor, target_masks: torch.Tensor, est_masks: torch.Tensor) -> torch.Tensor:
    """``sum_c mean_tf |X (M_c - M_hat_c)|^2`` averaged over the batch, speaker order known.

    Args:
        mix_mag: mixture magnitude ``X (B, T, F)``.
        target_masks, est_masks: ``(B, C, T, F)`` in the same speaker order.
    Returns:
        scalar loss.
    """
    err = mix_mag.unsqueeze(1) * (target_masks - est_masks)
    return _per_bin_mean(err ** 2).sum(1).mean()


def danet_loss(v: torch.Tensor, mix_mag: torch.Tensor, target_masks: torch.Tensor,
               assignment: torch.Tensor, weights: torch.Tensor, mask: str = "softmax") -> torch.Tensor:
    """DANet reconstruction loss with ideal attractors (speaker order is known: no PIT).

    Args:
        v: embeddings ``(B, T, F, K)``.
        mix_mag: mixture magnitude ``(B, T, F)``.
        target_masks: WFM (or phase-sensitive) targets ``(B, C, T, F)``.
        assignment: ideal assignment ``(B, C, T, F)`` (IBM) the attractors are formed from.
        weights: ``(B, T, F)`` salient bins that form the attractors.
        mask: ``"softmax"`` or ``"sigmoid"`` (:func:`sepviz.danet.masks_from_attractors`).
    Returns:
        scalar loss.
    """
    att = ideal_attractors(v, assignment, weights)
    return reconstruction_loss(mix_mag, target_masks, masks_from_attractors(v, att, mask))


def si_snr_db(estimates: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """Differentiable SI-SNR (dB) over the last axis; broadcasts, so ``est[:, :, None]`` against
    ``ref[:, None]`` gives the pairwise matrix PIT needs.

    Args:
        estimates, references: ``(..., samples)``, broadcastable.
    Returns:
        ``(...)`` in dB (not clipped: :func:`sepviz.metrics.si_snr` is the scoring one).
    """
    est = estimates - estimates.mean(-1, keepdim=True)
    ref = references - references.mean(-1, keepdim=True)
    target = (est * ref).sum(-1, keepdim=True) / (ref.pow(2).sum(-1, keepdim=True) + EPS) * ref
    return 10 * torch.log10(target.pow(2).sum(-1) + EPS) - 10 * torch.log10((est - target).pow(2).sum(-1) + EPS)


def negative_si_snr(estimates: torch.Tensor, references: torch.Tensor, present: torch.Tensor | None = None) -> torch.Tensor:
    """``-SI-SNR`` in dB, averaged over the present sources of every utterance.

    ``estimates, references (B, C, samples)`` in matching order; ``present (B, C)`` leaves out
    the zero-padded auxiliary talkers of a mixed 2/3-talker batch, whose SI-SNR is undefined.
    Each talker counts the same whatever its level, as in the SI-SNRi the papers report, where
    a squared-error loss is dominated by the louder talker.
    """
    si_snr = si_snr_db(estimates, references)
    if present is None:
        return -si_snr.mean()
    w = present.to(si_snr.dtype)
    return -((si_snr * w).sum(1) / w.sum(1).clamp_min(1)).mean()


def deep_clustering_loss(v: torch.Tensor, assignment: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Affinity loss, normalised by the squared number of (weighted) bins.

    Args:
        v: embeddings ``(B, T, F, K)`` (or flat ``(B, N, K)``).
        assignment: one-hot ideal assignment ``(B, C, T, F)`` (IBM).
        weights: ``(B, T, F)`` that drops silent bins; None: every bin counts.
    Returns:
        scalar loss.
    """
    vf = flatten_bins(v)
    y = assignment.reshape(assignment.shape[0], assignment.shape[1], -1).transpose(1, 2)  # (B, N, C)
    if weights is not None:
        w = weights.reshape(weights.shape[0], -1, 1).sqrt()
        vf, y = vf * w, y * w
        norm = weights.reshape(weights.shape[0], -1).sum(-1) ** 2
    else:
        norm = torch.full((vf.shape[0],), float(vf.shape[1]) ** 2, device=vf.device)
    vtv = torch.einsum("bnk,bnl->bkl", vf, vf)
    vty = torch.einsum("bnk,bnc->bkc", vf, y)
    yty = torch.einsum("bnc,bnd->bcd", y, y)
    loss = vtv.pow(2).sum((1, 2)) - 2 * vty.pow(2).sum((1, 2)) + yty.pow(2).sum((1, 2))
    return (loss / (norm + EPS)).mean()


def pit_reconstruction_loss(mix_mag: torch.Tensor, target_masks: torch.Tensor,
                            est_masks: torch.Tensor) -> torch.Tensor:
    """ADANet loss: masked-mixture reconstruction with the best speaker permutation.

    Args:
        mix_mag: mixture magnitude ``(B, T, F)``.
        target_masks: ``(B, C, T, F)``.
        est_masks: ``(B, C, T, F)`` in any speaker order.
    Returns:
        scalar loss (:class:`sepviz.pit.PITLossWrapper` over :func:`masked_reconstruction_error`).
    """
    pit = PITLossWrapper(lambda est, ref: masked_reconstruction_error(mix_mag, ref, est))
    return pit(est_masks, target_masks)


def upit_discriminative_loss(mix_mag: torch.Tensor, source_mags: torch.Tensor, est_masks: torch.Tensor,
                             disc_weight: float = 0.1) -> torch.Tensor:
    """uPIT magnitude loss minus ``disc_weight`` times the error to the *other* speakers.

    The discriminative term pushes each output away from the competing talkers, reducing
    cross-talk (the "DEF" seed system's objective).

    Args:
        mix_mag: mixture magnitude ``(B, T, F)``.
        source_mags: reference magnitudes ``(B, C, T, F)``.
        est_masks: the mask head's masks ``(B, C, T, F)`` in any speaker order.
        disc_weight: weight of the mean error to the other talkers.
    Returns:
        scalar loss.
    """
    est = mix_mag.unsqueeze(1) * est_masks  # (B, C, T, F)
    pair = _per_bin_mean((est.unsqueeze(2) - source_mags.unsqueeze(1)) ** 2)  # (B, C_est, C_ref)
    matched, _ = pit_min_permutation(pair)
    total = pair.sum((1, 2))
    others = total - matched
    c = pair.shape[-1]
    return (matched - disc_weight * others / max(c - 1, 1)).mean()


SCE_SAMPLING = ("random", "knn")


def sample_negatives(speaker_vectors: torch.Tensor, speaker_ids: torch.Tensor, k: int, sampling: str = "random",
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Indices ``(B, C, k)`` of `k` speaker vectors to push away from each talker ``(B, C)``.

    ``random``: drawn uniformly from every training speaker but the talker itself (without
    replacement within one talker); ``knn``: the `k` speaker vectors nearest (Euclidean) to the
    talker's own. A talker's own id is never drawn; absent talkers (id < 0) get index 0, which
    the loss masks out.
    """
    if sampling not in SCE_SAMPLING:
        raise ValueError(f"sampling must be one of {SCE_SAMPLING}, not {sampling!r}")
    n_spk = speaker_vectors.shape[0]
    if not 0 < k < n_spk:
        raise ValueError(f"negative sampling needs 0 < k < {n_spk} (the training speakers), got {k}")
    ids = speaker_ids.clamp_min(0)
    if sampling == "knn":
        with torch.no_grad():
            d = torch.cdist(speaker_vectors[ids].reshape(-1, speaker_vectors.shape[1]).float(),
                            speaker_vectors.float())
            d.scatter_(1, ids.reshape(-1, 1), float("inf"))  # never the talker itself
            return d.topk(k, dim=1, largest=False).indices.reshape(*ids.shape, k)
    scores = torch.rand(*ids.shape, n_spk, generator=generator, device="cpu").to(ids.device)
    scores.scatter_(-1, ids.unsqueeze(-1), -1.0)  # the talker itself ranks last
    return scores.topk(k, dim=-1).indices


def source_contrastive_loss(v: torch.Tensor, assignment: torch.Tensor, speaker_vectors: torch.Tensor,
                            speaker_ids: torch.Tensor, weights: torch.Tensor, *, negatives: int = 0,
                            mu: float = 0.1, sampling: str = "random",
                            generator: torch.Generator | None = None) -> torch.Tensor:
    """Source-contrastive estimation (Stephenson et al. 2017; D'Amato 2018, ch. 3.2 and 4.4).

    Every salient bin's embedding is pulled towards its dominant talker's speaker vector and
    pushed from the other talkers' of the mixture: per bin ``-sum_s log sigmoid(Y_s v . w_s)``
    with ``Y_s = +1`` for the dominant talker and ``-1`` for the others, averaged over the bins
    ``weights`` keeps (the "silenced" loss leaves quiet bins out through them). With `negatives`
    = K, each talker's bins also push away K more speaker vectors (:func:`sample_negatives`,
    drawn per talker and batch), ``- mu / K * sum_k log sigmoid(-v . w_k)``.

    Args:
        v: embeddings ``(B, T, F, D)``.
        assignment: ideal binary masks ``(B, C, T, F)`` (one-hot over present talkers).
        speaker_vectors: the trainable table ``(S, D)`` of the S training speakers.
        speaker_ids: ``(B, C)`` long, rows of the table; < 0 for absent or unknown talkers, whose
            bins and terms are left out (an item with no known talker adds nothing).
        weights: ``(B, T, F)`` bins that count (salient, or not silenced).
    Returns:
        scalar loss.
    """
    known = speaker_ids >= 0  # (B, C)
    w = speaker_vectors[speaker_ids.clamp_min(0)] * known.unsqueeze(-1).to(speaker_vectors.dtype)  # (B, C, D)
    logits = torch.einsum("btfd,bcd->bctf", v.to(w.dtype), w)
    sign = 2 * assignment.to(logits.dtype) - 1  # +1 dominant, -1 the others
    present = known[:, :, None, None].to(logits.dtype)
    per_bin = -(torch.nn.functional.logsigmoid(sign * logits) * present).sum(1)  # (B, T, F)
    # bins owned by a known talker only (an unknown dominant talker has no vector to pull to)
    owner_known = (assignment.to(logits.dtype) * present).sum(1)
    bin_w = weights.to(logits.dtype) * owner_known
    if negatives:
        neg = sample_negatives(speaker_vectors, speaker_ids, negatives, sampling, generator)  # (B, C, K)
        wn = speaker_vectors[neg]  # (B, C, K, D)
        neg_logits = torch.einsum("btfd,bckd->bcktf", v.to(wn.dtype), wn)
        own = (assignment.to(logits.dtype) * present).unsqueeze(2)  # each bin pushes its own talker's negatives
        push = -(torch.nn.functional.logsigmoid(-neg_logits) * own).sum((1, 2)) / negatives
        per_bin = per_bin + mu * push
    return (per_bin * bin_w).sum() / bin_w.sum().clamp_min(EPS)


def silenced_weights(mag: torch.Tensor, tau_db: float) -> torch.Tensor:
    """``(B, T, F)`` 1 for bins within `tau_db` of each utterance's loudest bin, 0 below it
    (the thesis's "silenced" SCE loss, ch. 4.5.1: quiet bins carry no talker).

    Args:
        mag: magnitude ``(B, T, F)``.
        tau_db: how far below the loudest bin a bin still counts, in dB.
    """
    db = 20 * torch.log10(mag.clamp_min(1e-8))
    top = db.flatten(1).amax(1)[:, None, None]
    return (db > top - tau_db).to(mag.dtype)
