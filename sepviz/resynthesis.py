"""The voices stage: masks ``(C, T, F)`` on the mixture's STFT -> waveforms, at the input's rate.

Every voice keeps the mixture's phase (with an adaptive front-end, the masked latent is decoded
with the mixture's pooling indices: :func:`sepviz.frontend.frontend_resynthesis`); it is resampled
from the model rate back to the rate and length of the user's input, so a voice lines up sample
for sample with the file it came from.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from .audio import resample
from .errors import SepvizInputError
from .features import istft
from .frontend import frontend_resynthesis
from .inference import Embedding


def masked_istft(emb: Embedding, masks: torch.Tensor) -> np.ndarray:
    """The masked mixture turned back into sound at the model rate: by the iSTFT, or for a model
    with an adaptive front-end by its back-end (the transposed filters, the mixture's pooling indices).

    Args:
        emb: the mixture's STFT ``(T, F)`` (or front-end view), length and STFT settings.
        masks: ``(C, T, F)``.
    Returns:
        waves ``(C, N)`` float32, ``N = len(emb.wave)``.
    """
    with torch.inference_mode():
        if emb.frontend is not None:
            fe, dev = emb.model.frontend, emb.model.frontend.window.device  # the view lives on the CPU
            view = replace(emb.frontend, latent=emb.frontend.latent.to(dev), indices=emb.frontend.indices.to(dev))
            return frontend_resynthesis(fe, masks.unsqueeze(0).to(dev), view)[0].float().cpu().numpy()
        return istft(masks * emb.spec.unsqueeze(0), len(emb.wave), emb.stft_config).numpy()


def at_input_rate(emb: Embedding, wave: np.ndarray) -> np.ndarray:
    """A model-rate wave ``(N,)`` resampled to the input's rate and cut or zero-padded to its length
    (resampling 8 kHz back to the input rate rounds up)."""
    wave = resample(wave, emb.stft_config.sample_rate, emb.input_sr)
    n = emb.input_length
    if n is None or len(wave) == n:
        return wave
    return wave[:n] if len(wave) > n else np.pad(wave, (0, n - len(wave)))


def listen_to_bins(emb: Embedding, mask: np.ndarray) -> np.ndarray:
    """The mixture's bins where ``mask (T, F)`` (bool or 0-1) is set, alone: the mask applied to
    the mixture's STFT (so with the mixture's phase; or to a front-end model's latent) and turned back into sound, at the input's
    rate and length."""
    m = torch.as_tensor(np.asarray(mask, np.float32))
    if tuple(m.shape) != tuple(emb.spec.shape):
        raise SepvizInputError(f"the selection covers a {tuple(m.shape)} grid but this mixture's is "
                               f"{tuple(emb.spec.shape)}: separate it again and reselect")
    return at_input_rate(emb, masked_istft(emb, m.unsqueeze(0))[0])
