"""Deep Attractor Network maths and the model wrapper.

Shapes: embeddings ``V (B, T, F, K)`` (or flattened ``(B, N, K)``), assignments / masks
``(B, C, T, F)``, attractors ``A (B, C, K)``, T-F weights ``w (B, T, F)``.

An attractor is the weighted mean of the embeddings of the bins a speaker owns; a mask is the
(softmax or sigmoid) similarity of every bin's embedding to each attractor.
"""
from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .calibration import Calibration
from .models import EmbeddingNet

EPS = 1e-8

OBJECTIVES = ("danet", "adanet", "dpcl", "upit", "sce")
MASK_KINDS = ("softmax", "sigmoid")


@dataclass
class DANetConfig(Calibration):
    """Everything (besides weights) needed to rebuild a separator; stored in checkpoints.

    The model's own settings, plus the test-time settings chosen after training
    (:class:`~sepviz.calibration.Calibration`: mask temperatures, attractor tracking, thresholds).
    """

    model: str = "blstm"
    model_kwargs: dict = field(default_factory=dict)
    # danet | adanet | dpcl | upit (DEF: uPIT on DC embeddings) | sce (source-contrastive estimation:
    # raw embeddings, clustered at test time and masked like a DANet's)
    objective: str = "danet"
    mask: str = "softmax"         # softmax | sigmoid
    n_speakers: int = 2           # outputs of the model (max talkers it was trained on)
    keep: float = 0.9             # salient-bin fraction used to form attractors
    n_anchors: int = 0            # ADANet anchors (0 = none)
    stft: dict = field(default_factory=dict)
    # DPCL++ enhancement layer (sepviz.models.enhance), e.g. {"hidden": 300, "layers": 2}: refines
    # the clusterer's masks from the mixture and each estimate.  Empty = none (every older checkpoint).
    enhance: dict = field(default_factory=dict)
    # The thesis's adaptive front-end (sepviz.frontend.FrontendConfig), e.g. {"n_filters": 256,
    # "kernel": 256, "stride": 16, "pool": 4}: the net reads its latent instead of the STFT and the
    # back-end resynthesises.  Empty = the STFT (every older checkpoint).
    frontend: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DANetConfig":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


def flatten_bins(v: torch.Tensor) -> torch.Tensor:
    """``(B, T, F, K)`` -> ``(B, N, K)``; already-flat input passes through."""
    return v.reshape(v.shape[0], -1, v.shape[-1]) if v.dim() == 4 else v


def ideal_attractors(v: torch.Tensor, assignment: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Attractors as the (salience-weighted) centroids of each speaker's bins.

    Args:
        v: embeddings ``(B, T, F, K)`` or flat ``(B, N, K)``.
        assignment: ``(B, C, T, F)`` (or ``(B, C, N)``), binary (IBM) or soft (IRM/WFM); an
            all-zero row (an absent auxiliary speaker) gives a zero attractor rather than NaN.
        weights: ``(B, T, F)`` (or ``(B, N)``) how much each bin counts, e.g. salient bins; None: all.
    Returns:
        attractors ``(B, C, K)``.
    """
    vf = flatten_bins(v)
    y = assignment.reshape(assignment.shape[0], assignment.shape[1], -1)  # (B, C, N)
    if weights is not None:
        y = y * weights.reshape(weights.shape[0], 1, -1)
    num = torch.einsum("bcn,bnk->bck", y, vf)
    return num / (y.sum(-1, keepdim=True) + EPS)


def similarity(v: torch.Tensor, attractors: torch.Tensor) -> torch.Tensor:
    """Dot-product similarity of every bin to every attractor.

    Args:
        v: embeddings ``(B, T, F, K)`` or flat ``(B, N, K)``.
        attractors: ``(B, C, K)``, or ``(B, C, T, K)`` for one per frame (attractor tracking,
            :mod:`sepviz.tracking`; with 4-D ``v`` only).
    Returns:
        ``(B, C, T, F)``, or ``(B, C, N)`` for flat ``v``.
    """
    if attractors.dim() == 4:
        return torch.einsum("btfk,bctk->bctf", v, attractors)
    if v.dim() == 4:
        return torch.einsum("btfk,bck->bctf", v, attractors)
    return torch.einsum("bnk,bck->bcn", v, attractors)


def masks_from_attractors(v: torch.Tensor, attractors: torch.Tensor, kind: str = "softmax",
                          temperature: float = 1.0) -> torch.Tensor:
    """Masks from the similarity of each bin to the attractors, divided by ``temperature``.

    Args:
        v: embeddings ``(B, T, F, K)`` or flat ``(B, N, K)``.
        attractors: ``(B, C, K)`` or per frame ``(B, C, T, K)`` (see :func:`similarity`).
        kind: ``"softmax"`` over the speakers (masks sum to 1) or independent ``"sigmoid"``\ s.
        temperature: > 1 softens the masks (test time, calibrated per talker count); 1 in training.
    Returns:
        masks ``(B, C, T, F)`` (or ``(B, C, N)``).
    """
    sim = similarity(v, attractors)
    if temperature != 1.0:
        sim = sim / temperature
    if kind == "softmax":
        return torch.softmax(sim, dim=1)
    if kind == "sigmoid":
        return torch.sigmoid(sim)
    raise ValueError(f"unknown mask kind {kind!r}; choose {MASK_KINDS}")


def anchor_subsets(n_anchors: int, n_speakers: int) -> list[tuple[int, ...]]:
    """Every choice of ``n_speakers`` of the ``n_anchors`` anchors, in lexicographic order."""
    return list(itertools.combinations(range(n_anchors), n_speakers))


def anchor_attractors(v: torch.Tensor, anchors: torch.Tensor, n_speakers: int,
                      weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ADANet: try every C-subset of the N anchors and keep the most distinct one.

    For each subset, bins are softly assigned to its anchors (softmax of the dot product),
    attractors are the weighted centroids, and the in-set similarity is the largest dot product
    between two different attractors.  The subset with the *smallest* in-set similarity wins.

    Args:
        v: embeddings ``(B, T, F, K)`` or flat ``(B, N, K)``.
        anchors: the trainable anchors ``(N_a, K)``.
        n_speakers: C, at most ``N_a``.
        weights: ``(B, T, F)`` (or ``(B, N)``) how much each bin counts in the centroids; None: all.
    Returns:
        ``(attractors (B, C, K), chosen subset indices (B, C), in-set similarity (B, S))`` with
        S the number of subsets (:func:`anchor_subsets`).
    """
    if not 1 <= n_speakers <= anchors.shape[0]:
        raise ValueError(f"cannot pick {n_speakers} attractors from {anchors.shape[0]} anchors "
                         f"(the model needs at least as many anchors as speakers)")
    vf = flatten_bins(v)
    anchors = anchors.to(device=vf.device, dtype=vf.dtype)
    subsets = anchor_subsets(anchors.shape[0], n_speakers)
    idx = torch.tensor(subsets, device=vf.device)  # (S, C)
    sub_anchors = anchors[idx]  # (S, C, K)
    logits = torch.einsum("bnk,sck->bscn", vf, sub_anchors)
    y = torch.softmax(logits, dim=2)  # soft assignment within each subset
    if weights is not None:
        y = y * weights.reshape(weights.shape[0], 1, 1, -1)
    att = torch.einsum("bscn,bnk->bsck", y, vf) / (y.sum(-1, keepdim=True) + EPS)  # (B, S, C, K)
    gram = torch.einsum("bsck,bsdk->bscd", att, att)
    off_diag = ~torch.eye(n_speakers, dtype=torch.bool, device=vf.device)
    in_set = gram.masked_fill(~off_diag, float("-inf")).amax(dim=(-1, -2))  # (B, S)
    best = in_set.argmin(dim=1)  # (B,)
    chosen = att[torch.arange(att.shape[0], device=vf.device), best]
    return chosen, idx[best], in_set


class DANet(nn.Module):
    """Embedding net plus what the attractor methods need: anchors, fixed attractors, a mask head.

    Args:
        net: the embedding network (:mod:`sepviz.models`), ``(B, T, F)`` -> ``(B, T, F, K)``.
        config: objective, mask kind, speakers and the test-time settings (:class:`DANetConfig`).

    Parameters and buffers: ``anchors (N_a, K)`` (ADANet, ``config.n_anchors`` > 0, else None);
    ``fixed_attractors (C, K)`` (the mean training attractors, all zero until the trainer fills
    them); ``mask_head`` (``K -> C``, the DEF/uPIT objective only); ``enhancer`` (DPCL++, when
    ``config.enhance`` is set); ``frontend`` (the adaptive front-end, frozen, when
    ``config.frontend`` is set: :func:`sepviz.frontend.frontend_features` / ``frontend_resynthesis``).
    """

    def __init__(self, net: EmbeddingNet, config: DANetConfig) -> None:
        super().__init__()
        if config.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {config.objective!r}; choose {OBJECTIVES}")
        if config.mask not in MASK_KINDS:
            raise ValueError(f"unknown mask kind {config.mask!r}; choose {MASK_KINDS}")
        config.check_calibration()
        self.net = net
        self.config = config
        k = net.emb_dim
        self.anchors = nn.Parameter(torch.randn(config.n_anchors, k) * 0.5) if config.n_anchors else None
        # Mean of the training attractors, filled in by the trainer ("fixed attractor" inference).
        self.register_buffer("fixed_attractors", torch.zeros(config.n_speakers, k))
        # DEF (uPIT on deep-clustering embeddings): a per-bin linear mask head on the embeddings.
        self.mask_head = nn.Linear(k, config.n_speakers) if config.objective == "upit" else None
        self.enhancer = None
        if config.enhance:
            from .models.enhance import Enhancer

            n_fft = int((config.stft or {}).get("n_fft", 256))
            self.enhancer = Enhancer(n_freq=n_fft // 2 + 1, **config.enhance)
        from .frontend import frontend_for

        self.frontend = frontend_for(config)  # None: STFT features (sepviz.frontend for the other path)

    @property
    def emb_dim(self) -> int:
        return self.net.emb_dim

    @property
    def has_fixed_attractors(self) -> bool:
        return bool(self.fixed_attractors.abs().sum() > 0)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(B, T, F, K)`` of normalised log-magnitude features ``(B, T, F)``."""
        return self.net(feats)

    def enhance(self, mag: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """DPCL++: refined masks ``(B, C, T, F)`` from the mixture magnitude ``(B, T, F)`` and the
        clusterer's masks; unchanged without an enhancement layer."""
        return masks if self.enhancer is None else self.enhancer(mag, masks)

    def head_masks(self, v: torch.Tensor) -> torch.Tensor:
        """Masks from the uPIT head: ``(B, T, F, K)`` -> ``(B, C, T, F)``."""
        if self.mask_head is None:
            raise ValueError("this model has no mask head")
        return torch.softmax(self.mask_head(v), dim=-1).permute(0, 3, 1, 2)
