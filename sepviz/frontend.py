"""The thesis's adaptive front-end (D'Amato 2018, ch. 4.1): a learned filter bank in place of the STFT.

Analysis (front-end): a 1-D convolution with F filters of N samples whose weights are a learned
window times learned bases, ``W = |w| * B``, a rectifier (ReLU) and a max-pooling over time that
remembers where each maximum was.  Synthesis (back-end): un-pooling with those indices (the
maximum goes back where it came from, zeros elsewhere) and a transposed convolution with its own
weights back to the waveform.

Choices the thesis leaves open or that differ from it (each explained where it is made):

* **Stride and pooling.**  The thesis convolves at stride 1 and max-pools by m = 128.  Here the
  convolution runs at ``stride`` = 16 and pools by ``pool`` = 4, so one latent frame is 64
  samples (8 ms at 8 kHz), the STFT's hop: the latent sits on the same frame grid as the
  spectrogram, so the curriculum's chunk lengths, the salient-bin weights, attractor tracking's
  windows (in frames) and the embedding nets' ``(B, T, F)`` input mean what they mean with the STFT,
  and a stride-1 convolution of 256 x 1024 taps would be 16x dearer on a CPU.
* **Non-negativity.**  ReLU (the thesis's masks ``X_j / sum X_j`` need non-negative latents; a
  rectified band-pass output max-pooled over 64 samples is an envelope detector for every band
  above ~125 Hz, so the latent behaves like a magnitude spectrogram, and unlike |.| the decoder
  knows the sign of every value it gets back).
* **Initialisation** (``init``): ``"fourier"`` (default) starts the window at the STFT's sqrt-Hann
  and the bases at cosines and sines of F/2 frequencies spread evenly over 0 - sr/2, so an untrained
  front-end is already an STFT-like filter bank and pretraining refines it; ``"random"`` (Gaussian
  bases, as an unconstrained autoencoder would start) is there to see what is learnt from scratch.
  The synthesis filters start as the analysis filters scaled to give roughly unit gain.

Shapes: waveforms ``(B, L)``; latents ``(B, T, F)`` with ``T = L // hop + 1`` (the STFT's frame
count, :meth:`sepviz.features.StftConfig.frames`); pooling indices ``(B, F, T)`` (int64, positions
in the un-pooled convolution output, as :func:`torch.nn.functional.max_unpool1d` wants them).

Public entry points for a separator built on the front-end (``DANetConfig.frontend``):
:func:`frontend_features` (mixture -> latent, network input, indices) and
:func:`frontend_resynthesis` (masks on the latent -> waveforms).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as Fn

from .features import log_magnitude_features

MASK_EPS = 1e-8
INITS = ("fourier", "random")


@dataclass(frozen=True)
class FrontendConfig:
    """Settings of :class:`AdaptiveFrontend`; stored in checkpoints (``DANetConfig.frontend``).

    Args:
        n_filters: F, learned filters (latent channels; the embedding net's ``n_freq``).
        kernel: N, taps of each filter (256 = 32 ms at 8 kHz, the STFT's window; the thesis's best
            pretraining used 1024).
        stride: hop of the convolution in samples.
        pool: max-pooling size and stride over the convolution's output frames (no overlap, as the
            thesis); ``stride * pool`` is the latent's hop (64 = the STFT's).
        init: ``"fourier"`` or ``"random"`` (see the module docstring).
        sample_rate: Hz, for frequencies and seconds in figures.
        log_floor: floor added to the latent before the network's log, relative to each
            utterance's peak (0 = none).
    """

    n_filters: int = 256
    kernel: int = 256
    stride: int = 16
    pool: int = 4
    # 16 x 4 = 64 samples per latent frame: the STFT's hop, so both front-ends share one frame grid
    init: str = "fourier"
    sample_rate: int = 8000
    # The network reads log(latent + log_floor * the utterance's peak): a ReLU latent is exactly 0
    # in about a tenth of its cells, and log(0 + 1e-8) outliers there would dominate the
    # per-utterance variance (features correlate 0.53 with the STFT's log magnitudes without the
    # floor, 0.83 with 1e-3, i.e. 60 dB below the peak).  0 by default so that a stored config
    # written before the floor existed reads its latent as it was trained; recipes set 1e-3.
    log_floor: float = 0.0

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise ValueError(f"unknown front-end init {self.init!r}; choose {INITS}")
        if min(self.n_filters, self.kernel, self.stride, self.pool) < 1:
            raise ValueError("front-end sizes must be positive")
        if not 0.0 <= self.log_floor < 1.0:
            raise ValueError(f"front-end log_floor must be in [0, 1), got {self.log_floor}")
        if self.kernel < 2 * self.stride:
            raise ValueError(f"front-end kernel ({self.kernel}) must be at least twice its stride ({self.stride})")

    @property
    def hop(self) -> int:
        """Samples per latent frame."""
        return self.stride * self.pool

    def frames(self, n_samples: int) -> int:
        """Latent frames for ``n_samples`` samples (the STFT's count when ``hop`` is the STFT's)."""
        return n_samples // self.hop + 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> "FrontendConfig":
        known = set(cls.__dataclass_fields__)
        unknown = set(d or {}) - known
        if unknown:
            raise ValueError(f"unknown front-end settings {sorted(unknown)}; known: {sorted(known)}")
        return cls(**(d or {}))


def _fourier_bases(n_filters: int, kernel: int) -> torch.Tensor:
    """``(F, N)`` cosines then sines of ``ceil(F/2)`` frequencies at bin centres ``(k + 1/2) sr / F``."""
    n_freq = (n_filters + 1) // 2
    freqs = (torch.arange(n_freq, dtype=torch.float64) + 0.5) / (2 * n_freq)  # cycles per sample, < 1/2
    t = torch.arange(kernel, dtype=torch.float64)
    phase = 2 * math.pi * freqs[:, None] * (t[None, :] - kernel / 2)
    return torch.cat([torch.cos(phase), torch.sin(phase)])[:n_filters].float()


class AdaptiveFrontend(nn.Module):
    """Learned analysis / synthesis filter bank (see the module docstring).

    Parameters: ``window (N,)`` and ``bases (F, N)`` (analysis weights ``|window| * bases``),
    ``synthesis (F, N)`` (the back-end's transposed-convolution weights, not shared).

    Shapes: :meth:`encode` ``(B, L) -> (latent (B, T, F), indices (B, F, T))``;
    :meth:`decode` ``(latent (..., T, F), indices (..., F, T), L) -> (..., L)``.
    """

    def __init__(self, config: FrontendConfig = FrontendConfig()) -> None:
        super().__init__()
        self.config = config
        f, n = config.n_filters, config.kernel
        window = torch.hann_window(n, periodic=True).sqrt()
        if config.init == "fourier":
            bases = _fourier_bases(f, n)
        else:
            g = torch.Generator().manual_seed(0)
            bases = torch.randn(f, n, generator=g) / math.sqrt(n / 2)
        self.window = nn.Parameter(window)
        self.bases = nn.Parameter(bases)
        # Synthesis starts as the analysis filters at about unit gain: overlap-add of the squared
        # sqrt-Hann at this stride sums to N / (2 stride), the F filters' bases to about N / 2 per
        # tap (a tight frame) and the ReLU keeps about half; the pooling keeps one frame in
        # ``pool``, but its maximum, which for a rectified band-pass output is about the pool's sum.
        gain = (n / (2 * config.stride)) * (n / 2) / 2
        self.synthesis = nn.Parameter((window * bases) / gain)

    # -- analysis -----------------------------------------------------------------------------
    def filters(self) -> torch.Tensor:
        """The analysis weights ``|window| * bases``, ``(F, N)``."""
        return self.window.abs() * self.bases

    def _padding(self, length: int) -> tuple[int, int, int]:
        """``(left, right, conv frames)``: the convolution's frame k is centred on sample k * stride
        (as the STFT's centred framing), and there are exactly ``pool`` of them per latent frame."""
        c = self.config
        conv_frames = c.frames(length) * c.pool
        padded = (conv_frames - 1) * c.stride + c.kernel
        left = c.kernel // 2
        return left, padded - length - left, conv_frames

    def encode(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            wave: ``(B, L)`` (or ``(L,)``) waveforms.
        Returns:
            ``latent (B, T, F)`` >= 0 and the max-pooling ``indices (B, F, T)``, ``T = L // hop + 1``.
        """
        single = wave.dim() == 1
        x = wave.unsqueeze(0) if single else wave
        if x.dim() != 2:
            raise ValueError(f"encode expects waveforms (batch, samples), got {tuple(wave.shape)}")
        left, right, _ = self._padding(x.shape[-1])
        x = Fn.pad(x.unsqueeze(1), (left, right))
        y = torch.relu(Fn.conv1d(x, self.filters().unsqueeze(1).to(x.dtype), stride=self.config.stride))
        pooled, idx = Fn.max_pool1d(y, self.config.pool, self.config.pool, return_indices=True)
        latent = pooled.transpose(1, 2)
        return (latent[0], idx[0]) if single else (latent, idx)

    # -- synthesis ----------------------------------------------------------------------------
    def decode(self, latent: torch.Tensor, indices: torch.Tensor, length: int) -> torch.Tensor:
        """
        Args:
            latent: ``(..., T, F)`` (e.g. masked mixture latents ``(B, C, T, F)``).
            indices: ``(..., F, T)`` the pooling indices of the latent's mixture (broadcast over
                leading dimensions the latent has and they lack, e.g. the talkers).
            length: L, samples of the waveform to return.
        Returns:
            waveforms ``(..., L)``.
        """
        lead = latent.shape[:-2]
        t, f = latent.shape[-2:]
        idx = indices.expand(*lead, f, t)
        flat = latent.reshape(-1, t, f).transpose(1, 2)
        left, right, conv_frames = self._padding(length)
        if conv_frames != t * self.config.pool:
            raise ValueError(f"{t} latent frames cannot make {length} samples (expected {self.config.frames(length)})")
        y = Fn.max_unpool1d(flat, idx.reshape(-1, f, t), self.config.pool, self.config.pool,
                            output_size=[conv_frames])
        wave = Fn.conv_transpose1d(y, self.synthesis.unsqueeze(1).to(y.dtype), stride=self.config.stride)
        return wave[:, 0, left: left + length].reshape(*lead, length)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Encode and decode (plain autoencoding, ``(B, L) -> (B, L)``)."""
        latent, idx = self.encode(wave)
        return self.decode(latent, idx, wave.shape[-1])

    # -- inspection ---------------------------------------------------------------------------
    @torch.no_grad()
    def centre_frequencies(self, n_fft: int = 2048) -> torch.Tensor:
        """Each analysis filter's dominant frequency in Hz, ``(F,)`` (the peak of its magnitude
        response; the thesis sorts its filters by it)."""
        resp = torch.fft.rfft(self.filters().float(), n=max(n_fft, self.config.kernel)).abs()
        return resp.argmax(-1).float() * self.config.sample_rate / max(n_fft, self.config.kernel)

    def sort_order(self) -> torch.Tensor:
        """Filter indices ``(F,)`` from the lowest centre frequency to the highest."""
        return torch.argsort(self.centre_frequencies(), stable=True)


def build_frontend(config: dict | FrontendConfig | None = None) -> AdaptiveFrontend:
    """The factory: a front-end from its settings (a checkpoint's ``frontend`` dict or a config)."""
    cfg = config if isinstance(config, FrontendConfig) else FrontendConfig.from_dict(config)
    return AdaptiveFrontend(cfg)


# ----------------------------------------------------------------------------- separation pretraining
def source_masks(source_latents: torch.Tensor, eps: float = MASK_EPS) -> torch.Tensor:
    """The thesis's pretraining masks ``m_j = X_j / (sum_j X_j + eps)`` from ``(B, C, T, F)`` latents."""
    return source_latents / (source_latents.sum(1, keepdim=True) + eps)


def kl_sparsity(latents: torch.Tensor, rho: float = 0.05) -> torch.Tensor:
    """Sparse-autoencoder penalty ``mean_f KL(rho || rho_hat_f)`` over the filters ``f``.

    The thesis's ``rho_hat`` is each unit's mean activation, which must lie in (0, 1) for the KL
    to exist; a ReLU latent of raw audio has no upper bound.  So each activation is first squashed
    by ``x / (1 + x)`` (equal to x for small values, below 1 always, and never flat, unlike
    clipping) and the mean is over every axis but the filters.  The mean over filters (the thesis
    sums) keeps the weight independent of F.  ``latents`` is ``(..., F)`` >= 0.
    """
    act = latents / (1 + latents)
    rho_hat = act.reshape(-1, act.shape[-1]).mean(0).clamp(1e-6, 1 - 1e-6)
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
    return kl.mean()


def overlap_penalty(source_latents: torch.Tensor, present: torch.Tensor | None = None,
                    floor: float = 1e-3) -> torch.Tensor:
    """The thesis's overlapping loss, averaged over the pairs of sources and the latent cells.

    Its per-cell term ``(max(X, Y) - ||X| - |Y||) / max(X, Y)`` is, for non-negative latents,
    ``min(X, Y) / max(X, Y)``: 1 where both talkers drive a (filter, frame) cell equally, 0 where
    only one does.  It penalises *shared* cells, pushing the filters towards a representation in
    which each cell belongs to one talker, which is what the binary masks of deep clustering
    assume.  Departures from the text: the mean over cells (the thesis sums) and a denominator
    ``max + floor * mean(X)`` so that cells far below the utterance's level (where the ratio is
    noise) count for little.

    Args:
        source_latents: ``(B, C, T, F)`` >= 0.
        present: ``(B, C)`` False for zero-padded absent talkers (their pairs are skipped).
    """
    b, c = source_latents.shape[:2]
    if c < 2:
        return source_latents.new_zeros(())
    ref = source_latents.mean(dim=(1, 2, 3), keepdim=True).squeeze(1) * floor + 1e-12  # (B, 1, 1)
    total, count = source_latents.new_zeros(()), source_latents.new_zeros(())
    for i in range(c):
        for j in range(i + 1, c):
            xi, xj = source_latents[:, i], source_latents[:, j]
            ratio = torch.minimum(xi, xj) / (torch.maximum(xi, xj) + ref)
            w = torch.ones(b, device=ratio.device, dtype=ratio.dtype) if present is None else \
                (present[:, i] & present[:, j]).to(ratio.dtype)
            total = total + (ratio.mean(dim=(1, 2)) * w).sum()
            count = count + w.sum()
    return total / count.clamp_min(1)


@dataclass
class AutoencoderOutput:
    estimates: torch.Tensor       # (B, C, L) reconstructed sources
    mix_latent: torch.Tensor      # (B, T, F)
    source_latents: torch.Tensor  # (B, C, T, F)
    indices: torch.Tensor         # (B, F, T) the mixture's pooling indices


def separate_with_source_masks(frontend: AdaptiveFrontend, mix: torch.Tensor, sources: torch.Tensor) -> AutoencoderOutput:
    """The pretraining pass (thesis fig. 4.1): encode the mixture ``(B, L)`` and every source
    ``(B, C, L)``, mask the mixture's latent with :func:`source_masks`, decode each masked latent
    with the *mixture's* pooling indices (the only ones a separator has at test time)."""
    b, c, length = sources.shape
    mix_latent, idx = frontend.encode(mix)
    src_latent, _ = frontend.encode(sources.reshape(b * c, length))
    src_latent = src_latent.reshape(b, c, *src_latent.shape[1:])
    est = frontend.decode(source_masks(src_latent) * mix_latent.unsqueeze(1), idx.unsqueeze(1), length)
    return AutoencoderOutput(est, mix_latent, src_latent, idx)


def normalised_mse(estimates: torch.Tensor, sources: torch.Tensor, present: torch.Tensor | None = None) -> torch.Tensor:
    """``||s - s_hat||^2 / ||s||^2`` averaged over the present sources (``(B, C, L)`` each).

    The thesis's MSE on raw samples depends on the recording level, which varies across our
    corpora; relative to each source's energy it is ``10^(-SNR/10)``, the same for every level."""
    err = ((estimates - sources) ** 2).sum(-1) / ((sources ** 2).sum(-1) + 1e-8)
    if present is None:
        return err.mean()
    w = present.to(err.dtype)
    return (err * w).sum() / w.sum().clamp_min(1)


def separation_autoencoder_loss(frontend: AdaptiveFrontend, mix: torch.Tensor, sources: torch.Tensor, *,
                                sparsity: float = 0.01, rho: float = 0.05, overlap: float = 0.1
                                ) -> tuple[torch.Tensor, dict]:
    """The pretraining objective: ``NMSE + sparsity * KL(rho || rho_hat) + overlap * overlapping``.

    Returns ``(loss, terms)`` with the three terms' values (floats) for logs."""
    present = sources.abs().amax(-1) > 0
    out = separate_with_source_masks(frontend, mix, sources)
    rec = normalised_mse(out.estimates, sources, present)
    kl = kl_sparsity(torch.cat([out.mix_latent.unsqueeze(1), out.source_latents], 1))
    ov = overlap_penalty(out.source_latents, present)
    loss = rec + sparsity * kl + overlap * ov
    return loss, {"nmse": float(rec.detach()), "kl": float(kl.detach()), "overlap": float(ov.detach())}


class FrontendAutoencoder(nn.Module):
    """What the separation-autoencoder pretraining trains and saves: a front-end and its config.

    Its state-dict keys (``frontend.*``) are those of a separator's front-end (``DANet.frontend``),
    so ``init_from`` a pretraining checkpoint copies them over; ``config.kind`` marks the file as
    a front-end, not a separator (:func:`sepviz.checkpoint.load_checkpoint` refuses it)."""

    def __init__(self, config: dict | FrontendConfig | None = None) -> None:
        super().__init__()
        self.frontend = build_frontend(config)
        self.config = PretrainedFrontendConfig(frontend=self.frontend.config.to_dict())

    def forward(self, mix: torch.Tensor, sources: torch.Tensor) -> AutoencoderOutput:
        return separate_with_source_masks(self.frontend, mix, sources)


PRETRAINED_KIND = "adaptive_frontend"


@dataclass
class PretrainedFrontendConfig:
    frontend: dict
    kind: str = PRETRAINED_KIND
    objective: str = "adaptive_ae"

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------- separator path
@dataclass
class FrontendView:
    """A mixture seen through a separator's front-end (:func:`frontend_features`)."""

    latent: torch.Tensor   # (B, T, F) >= 0, the mixture's latent: the "magnitude" masks apply to
    feats: torch.Tensor    # (B, T, F) the embedding net's input: log latent, per-utterance normalised
    indices: torch.Tensor  # (B, F, T) pooling indices, needed to resynthesise
    length: int            # samples of the mixture


def _frontend_of(model) -> AdaptiveFrontend:
    fe = model if isinstance(model, AdaptiveFrontend) else getattr(model, "frontend", None)
    if fe is None:
        raise ValueError("this model has no adaptive front-end (DANetConfig.frontend is empty): it uses the STFT")
    return fe


def frontend_features(model, wave: torch.Tensor) -> FrontendView:
    """Mixture waveforms ``(B, L)`` (or ``(L,)``, giving B = 1) -> :class:`FrontendView`.

    ``model`` is a DANet with a front-end (or the front-end itself).  The network input is the
    latent as the STFT path treats ``|X|`` (:func:`frontend_log_features`: log above a floor, then
    zero mean and unit variance per utterance; the thesis normalised without the log, but the
    embedding nets and every threshold downstream were tuned on log-compressed inputs)."""
    fe = _frontend_of(model)
    wave = torch.as_tensor(wave, dtype=torch.float32)
    if wave.dim() == 1:
        wave = wave.unsqueeze(0)
    latent, idx = fe.encode(wave)
    return FrontendView(latent, frontend_log_features(latent, fe.config.log_floor), idx, wave.shape[-1])


def frontend_log_features(latent: torch.Tensor, log_floor: float) -> torch.Tensor:
    """``(B, T, F)`` latents -> the network's input: :func:`sepviz.features.log_magnitude_features`
    of the latent plus ``log_floor`` times each utterance's peak (:class:`FrontendConfig`)."""
    floor = latent.amax(dim=(-2, -1), keepdim=True) * log_floor
    return log_magnitude_features(latent + floor)


def frontend_resynthesis(model, masks: torch.Tensor, view: FrontendView) -> torch.Tensor:
    """Masks on the latent ``(B, C, T, F)`` -> waveforms ``(B, C, L)``: the back-end decodes
    ``masks * view.latent`` with the mixture's pooling indices (the iSTFT's counterpart)."""
    fe = _frontend_of(model)
    return fe.decode(masks.to(view.latent.dtype) * view.latent.unsqueeze(1), view.indices.unsqueeze(1), view.length)


def frontend_for(config) -> AdaptiveFrontend | None:
    """A separator's front-end from ``DANetConfig.frontend`` (None when empty: the STFT).

    Its weights are frozen: the thesis trains the embedding net on a pretrained, fixed front-end
    (fig. 4.2); only its final end-to-end fine-tuning (fig. 4.3; ``train_frontend`` in a training
    recipe) moves them.
    The DPCL++ enhancement layer reads STFT magnitudes and resynthesises by iSTFT, so the two are
    not combined yet."""
    if not config.frontend:
        return None
    if config.enhance:
        raise ValueError("an adaptive front-end with the DPCL++ enhancement layer is not supported yet")
    fe = build_frontend(config.frontend)
    fe.requires_grad_(False)
    return fe
