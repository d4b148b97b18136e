"""Ideal (oracle) masks computed from the true sources: training targets and the upper bound.

All functions take source spectrograms ``S`` of shape ``(..., C, T, F)`` (complex) and the
mixture ``X`` ``(..., T, F)`` where needed, and return masks ``(..., C, T, F)`` in [0, 1].
The ratio masks sum to 1 over the sources in every bin that is not (numerically) silent: the
denominator is clamped at ``EPS`` rather than offset by it, so quiet bins are not biased low.
"""
from __future__ import annotations

from typing import Callable

import torch

EPS = 1e-8


def ideal_binary_mask(sources: torch.Tensor, mixture: torch.Tensor | None = None) -> torch.Tensor:
    """1 for the source that dominates each bin (the DANet "IBM" assignment)."""
    mag = sources.abs()
    winner = mag.argmax(dim=-3, keepdim=True)
    return torch.zeros_like(mag).scatter_(-3, winner, 1.0)


def ideal_ratio_mask(sources: torch.Tensor, mixture: torch.Tensor | None = None) -> torch.Tensor:
    """|S_c| / sum_c |S_c|."""
    mag = sources.abs()
    return mag / mag.sum(dim=-3, keepdim=True).clamp_min(EPS)


def wiener_filter_mask(sources: torch.Tensor, mixture: torch.Tensor | None = None) -> torch.Tensor:
    """|S_c|^2 / sum_c |S_c|^2 (the DANet training target, "WFM")."""
    power = sources.abs() ** 2
    return power / power.sum(dim=-3, keepdim=True).clamp_min(EPS)


def phase_sensitive_target(sources: torch.Tensor, mixture: torch.Tensor) -> torch.Tensor:
    """``|S_c| cos(angle S_c - angle X) / |X|``: a training target, not a [0, 1] mask.

    A real mask M applied to the mixture with its own phase gives the complex error
    ``|M X - S|^2 = |X|^2 (M - PSF)^2 + const``, so fitting this target minimises the error of the
    reconstructed waveform itself (Erdogan et al. 2015), which the WFM target does not. The targets
    sum to exactly 1 over the sources (the sources sum to the mixture), as softmax masks do,
    but one may fall below 0 or above 1 where sources cancel.
    """
    mag_x = mixture.abs().unsqueeze(-3)
    unit_x = mixture.unsqueeze(-3) / mag_x.clamp_min(EPS)
    return (sources * unit_x.conj()).real / mag_x.clamp_min(EPS)


IDEAL_MASKS: dict[str, Callable[..., torch.Tensor]] = {
    "ibm": ideal_binary_mask,
    "irm": ideal_ratio_mask,
    "wfm": wiener_filter_mask,
}
