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


IDEAL_MASKS: dict[str, Callable[..., torch.Tensor]] = {
    "ibm": ideal_binary_mask,
    "irm": ideal_ratio_mask,
    "wfm": wiener_filter_mask,
}
