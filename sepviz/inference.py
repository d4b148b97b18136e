"""The embedding stage: audio -> STFT (or a model's adaptive front-end) -> the network's embedding
of every T-F bin.

:func:`embed` is the only stage that runs the network; its :class:`Embedding` holds everything
the later stages (:mod:`sepviz.fitting`, :mod:`sepviz.masking`, :mod:`sepviz.counting`,
:mod:`sepviz.resynthesis`) need, so the studio caches it and reruns only those when the
clusterer or a setting changes.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .audio import DEFAULT_MAX_SECONDS, load_audio_measured
from .checkpoint import load_checkpoint
from .danet import DANet
from .errors import SepvizInputError
from .features import StftConfig, log_magnitude_features, salient_weights, stft
from .frontend import FrontendView, frontend_features

CHUNK_SECONDS = 12.0    # network input per chunk for long audio
CONTEXT_SECONDS = 1.0   # extra context on each side of a chunk, discarded after the network

# The timings' key of the analysis stage (audio -> what the network reads): "stft", or "frontend"
# for a model's learned front-end (no STFT runs there).  Readers of the timings take either key;
# TIMING_LABELS is how a key is printed where it is not printed as it is.
ANALYSIS_TIMINGS = ("stft", "frontend")
TIMING_LABELS = {"frontend": "front-end"}


@dataclass
class Embedding:
    """Everything clusterer-independent about one mixture (cache this)."""

    wave: np.ndarray          # mono float32 at the model rate
    input_sr: int             # the user's sample rate (voices are returned at it)
    # complex STFT (T, F); for a model with an adaptive front-end its latent (T, F), real and >= 0,
    # which masks multiply as they do |STFT| (``frontend`` then holds what resynthesis needs)
    spec: torch.Tensor
    v: torch.Tensor           # embeddings (T, F, K)
    salient: torch.Tensor     # bool (T, F): bins used to fit attractors
    model: DANet
    stft_config: StftConfig
    keep: float
    seconds: float
    timings: dict = field(default_factory=dict)
    input_length: int | None = None  # samples at ``input_sr`` (voices are returned with this length)
    input_levels: dict = field(default_factory=dict)  # sepviz.audio.input_levels of the decoded input
    frontend: FrontendView | None = None  # the mixture through model.frontend (None: the STFT)

    @property
    def mag(self) -> torch.Tensor:
        return self.spec.abs()

    def analyse(self, waves: torch.Tensor) -> torch.Tensor:
        """Other waveforms ``(..., N)`` (e.g. the reference sources) seen as this mixture is: the
        STFT ``(..., T, F)``, or the model's front-end latent for a front-end model."""
        if self.frontend is None:
            return stft(waves, self.stft_config)
        fe = self.model.frontend
        flat = waves.reshape(-1, waves.shape[-1]).to(fe.window.device, fe.window.dtype)
        with torch.inference_mode():
            latent = fe.encode(flat)[0].float().cpu()
        return latent.reshape(*waves.shape[:-1], *latent.shape[1:])


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

    Args:
        model: the separator; it runs on its own device and dtype, in eval mode.
        feats: normalised log-magnitude features ``(T, F)``.
        chunk_frames: frames kept from each chunk.
        context_frames: extra frames on each side of a chunk, seen by the net and then dropped.
    Returns:
        embeddings ``(T, F, K)``, float32 on the CPU.
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


def analysis_config(model: DANet) -> StftConfig:
    """The model's time-frequency grid: its STFT settings; with an adaptive front-end, the
    front-end's hop and sample rate (its latent's frames, as the STFT's, are ``hop`` samples apart)."""
    cfg = StftConfig.from_dict(model.config.stft) if model.config.stft else StftConfig()
    fe = getattr(model, "frontend", None)
    if fe is not None and (cfg.hop_length, cfg.sample_rate) != (fe.config.hop, fe.config.sample_rate):
        cfg = replace(cfg, hop_length=fe.config.hop, sample_rate=fe.config.sample_rate)
    return cfg


def _frontend_view(model: DANet, wave: np.ndarray) -> FrontendView:
    """The mixture through the model's front-end, on the front-end's device, returned on the CPU
    in float32.  The latent is computed for the whole clip at once (a convolution: any length),
    so chunking the network later sees exactly the latent of the whole mixture."""
    fe = model.frontend
    view = frontend_features(fe, torch.from_numpy(wave).to(fe.window.device, fe.window.dtype))
    return FrontendView(view.latent.float().cpu(), view.feats.float().cpu(), view.indices.cpu(), view.length)


def embed(audio, sr: int | None, checkpoint, *, keep: float | None = None,
          max_seconds: float = DEFAULT_MAX_SECONDS) -> Embedding:
    """Load/validate audio and compute the embeddings of every T-F bin.

    Args:
        audio: a path, bytes, ``(array, sr)``, or an array (numpy, torch, list; then ``sr`` is
            required), mono or multi-channel.
        sr: the array's sample rate; None for the other forms.
        checkpoint: a :class:`~sepviz.danet.DANet` or a checkpoint path (:func:`resolve_model`).
        keep: the fraction of loudest bins that are salient; None: the model's ``config.keep``.
        max_seconds: longer input is refused.
    Returns:
        :class:`Embedding` with ``spec (T, F)``, ``v (T, F, K)`` and ``salient (T, F)`` (and
        ``frontend``, the front-end's view, for a model with an adaptive front-end).
    """
    t0 = time.perf_counter()
    model = resolve_model(checkpoint)
    cfg = analysis_config(model)
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
        view = None
        if model.frontend is not None:  # the latent stands where |STFT| does (sepviz.frontend)
            view = _frontend_view(model, wave)
            spec, feats = view.latent[0], view.feats[0]
            mag = spec
        else:
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
                     timings={"load": t1 - t0, "stft" if view is None else "frontend": t2 - t1, "network": t3 - t2},
                     input_length=in_len,
                     input_levels=levels, frontend=view)
