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

from .models import EmbeddingNet

EPS = 1e-8

OBJECTIVES = ("danet", "adanet", "dpcl", "upit", "sce")
MASK_KINDS = ("softmax", "sigmoid")


@dataclass
class DANetConfig:
    """Everything (besides weights) needed to rebuild a separator; stored in checkpoints."""

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
    # Test-time mask temperature per talker count, e.g. {"2": 1.2, "3": 1.6}: masks are
    # softmax(similarity / T).  Training always uses 1 with the *ideal* attractors; the attractors a
    # clusterer finds are noisier, and softer masks then lose less on the bins it gets wrong.
    # Chosen on validation talkers by ``python -m training.calibrate``; absent = 1.  The oracle
    # clusterer's exact attractors keep T = 1 (sepviz.separate).
    mask_temperature: dict = field(default_factory=dict)
    # "auto" count: a third attractor this close (cosine) to another is one talker split in two.
    # None = sepviz.separate.MERGE_COSINE; ``training.calibrate --count`` sets it on validation talkers.
    merge_cosine: float | None = None
    # Two voices whose attractors are closer than this cosine are one talker split in two (the
    # "one talker" warning).  None = sepviz.separate.ONE_TALKER_COSINE (only near-identical
    # attractors); ``training.calibrate --one-talker`` sets it from validation mixtures and their
    # single-talker sources.
    one_talker_cosine: float | None = None
    # Attractor tracking per talker count, e.g. {"2": {"frames": 32, "strength": 0.5}}: the
    # clusterer's attractors follow each talker through time (sepviz.tracking).  Absent = off.
    # Chosen on validation talkers by ``python -m training.calibrate --tracking-grid``.
    attractor_tracking: dict = field(default_factory=dict)
    # DPCL++ enhancement layer (sepviz.models.enhance), e.g. {"hidden": 300, "layers": 2}: refines
    # the clusterer's masks from the mixture and each estimate.  Empty = none (every older checkpoint).
    enhance: dict = field(default_factory=dict)
    # The thesis's adaptive front-end (sepviz.frontend.FrontendConfig), e.g. {"n_filters": 256,
    # "kernel": 256, "stride": 16, "pool": 4}: the net reads its latent instead of the STFT and the
    # back-end resynthesises.  Empty = the STFT (every older checkpoint).
    frontend: dict = field(default_factory=dict)

    def tracking(self, n_speakers: int) -> Tracking | None:
        """The attractor tracking for ``n_speakers`` talkers (None: one attractor per talker)."""
        return Tracking.from_value(self.attractor_tracking.get(str(int(n_speakers))) or None)

    def temperature(self, n_speakers: int) -> float:
        """The mask temperature for ``n_speakers`` talkers (1 when not calibrated)."""
        return float(self.mask_temperature.get(str(int(n_speakers)), 1.0))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DANetConfig":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


TEMPERATURE_RANGE = (0.05, 20.0)  # mask temperatures a checkpoint, the CLI and calibrate accept


def _number_in(x, lo: float, hi: float, *, closed: bool) -> bool:
    """A real number (not a bool, not NaN) in [lo, hi] (``closed``) or (lo, hi)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    return lo <= x <= hi if closed else lo < x < hi


def check_mask_temperature(temps) -> None:
    """Raise ValueError unless ``temps`` maps talker counts ("2", "3") to numbers in TEMPERATURE_RANGE."""
    lo, hi = TEMPERATURE_RANGE
    if not isinstance(temps, dict) or not all(str(k).isdigit() and _number_in(t, lo, hi, closed=True)
                                              for k, t in temps.items()):
        raise ValueError(f"mask_temperature must map talker counts to numbers in [{lo:g}, {hi:g}], got {temps!r}")


def check_merge_cosine(merge, name: str = "merge_cosine") -> None:
    """Raise ValueError unless ``merge`` is None (the default rule) or a cosine in (0, 1)."""
    if merge is not None and not _number_in(merge, 0.0, 1.0, closed=False):
        raise ValueError(f"{name} must be a number in (0, 1), got {merge!r}")


def temperature_summary(temps: dict) -> str:
    """"1.2 (2 talkers), 1.4 (3 talkers)": how cards and ``sepviz info`` show a calibration."""
    return ", ".join(f"{float(t):g} ({c} talkers)" for c, t in sorted(temps.items()))


FRAMES_RANGE = (1, 2000)        # tracking half-window in STFT frames (8 ms each at 8 kHz, hop 64)
STRENGTH_RANGE = (0.0, 1000.0)  # tracking prior weight of the global attractor, relative to a window's own


@dataclass(frozen=True)
class Tracking:
    """How attractors follow the talkers (sepviz.tracking): half-window ``frames`` and prior ``strength``.

    Every spelling of a setting (the CLI's string, a checkpoint's dict, the trainer's pair) is read
    by :meth:`from_value`; None stands for no tracking (one attractor per talker).
    """

    frames: int
    strength: float

    def to_dict(self) -> dict:
        return {"frames": int(self.frames), "strength": float(self.strength)}

    def __str__(self) -> str:
        return f"+-{self.frames} frames, strength {self.strength:g}"

    @classmethod
    def from_value(cls, value) -> "Tracking | None":
        """A checked Tracking, or None for no tracking, from any of its spellings:

        * None, ``"off"`` -> None;
        * ``"FRAMES:STRENGTH"`` such as ``"32:0.5"`` (``sepviz --tracking``, calibrate's grid): :meth:`parse`;
        * ``{"frames": 32, "strength": 0.5}`` (a checkpoint's ``attractor_tracking`` per talker count);
        * ``[frames, strength]`` (the trainer's ``tracked``);
        * a Tracking, as it is.

        Raises ValueError for anything else or a setting out of range."""
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, dict) and set(value) == {"frames", "strength"}:
            return cls.checked(value["frames"], value["strength"])
        if isinstance(value, (list, tuple)) and len(value) == 2:
            return cls.checked(*value)
        raise ValueError(f"attractor tracking needs 'off', 'FRAMES:STRENGTH', [frames, strength] or "
                         f"{{'frames', 'strength'}}, got {value!r}")

    @classmethod
    def parse(cls, spec: str) -> "Tracking | None":
        """``"off"`` -> None; ``"FRAMES:STRENGTH"`` (e.g. ``"32:0.5"``) -> Tracking; else ValueError."""
        spec = str(spec).strip().lower()
        if spec in ("off", "0", "none"):
            return None
        frames, sep, strength = spec.partition(":")
        try:
            frames_n, strength_x = int(frames), float(strength) if sep else 0.5
        except ValueError:
            raise ValueError(f"a tracking setting is 'off' or FRAMES:STRENGTH such as 32:0.5, got {spec!r}") from None
        return cls.checked(frames_n, strength_x)

    @classmethod
    def checked(cls, frames, strength) -> "Tracking":
        """A Tracking, or ValueError when ``frames`` / ``strength`` are out of range: one check for
        the CLI, the trainer's tracked term and (per talker count) the checkpoint's setting."""
        if not _tracking_in_range({"frames": frames, "strength": strength}):
            raise ValueError(f"attractor tracking needs {_TRACKING_RANGES}, got frames={frames!r}, "
                             f"strength={strength!r}")
        return cls(int(frames), float(strength))


_TRACKING_RANGES = (f"'frames': integer in [{FRAMES_RANGE[0]}, {FRAMES_RANGE[1]}], "
                    f"'strength': number in [{STRENGTH_RANGE[0]:g}, {STRENGTH_RANGE[1]:g}]")


def _tracking_in_range(setting) -> bool:
    """Whether ``setting`` is exactly {frames, strength} with both in range (frames whole)."""
    return (isinstance(setting, dict) and set(setting) == {"frames", "strength"}
            and _number_in(setting["frames"], *FRAMES_RANGE, closed=True)
            and float(setting["frames"]) == int(setting["frames"])
            and _number_in(setting["strength"], *STRENGTH_RANGE, closed=True))


def check_tracking(settings) -> None:
    """Raise ValueError unless ``settings`` maps talker counts ("2", "3") to {frames, strength} in range."""
    ok = isinstance(settings, dict) and all(str(c).isdigit() and _tracking_in_range(s) for c, s in settings.items())
    if not ok:
        raise ValueError(f"attractor_tracking must map talker counts to {{{_TRACKING_RANGES}}}, got {settings!r}")


def tracking_summary(settings: dict) -> str:
    """"+-32 frames, strength 0.5 (2 talkers)": how cards and ``sepviz info`` show it."""
    return ", ".join(f"{Tracking.from_value(s)} ({c} talkers)" for c, s in sorted(settings.items()))


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
        check_mask_temperature(config.mask_temperature)
        check_merge_cosine(config.merge_cosine)
        check_merge_cosine(config.one_talker_cosine, "one_talker_cosine")
        check_tracking(config.attractor_tracking)
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
