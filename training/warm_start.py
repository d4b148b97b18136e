"""Carry an STFT separator's embedding net onto an adaptive front-end: a warm start by frequency.

The front-end's filters start as band-pass filters (``init="fourier"``) and stay near them through
the separation-autoencoder pretraining, so each has a centre frequency
(:meth:`sepviz.frontend.AdaptiveFrontend.centre_frequencies`), and its log latent resembles the
STFT's log magnitude (their per-utterance normalised features correlate 0.83 on a real-voice
mixture once bins map to filters as below).  A recurrent net trained on ``F`` STFT bins can then
read ``C`` filters:

* **input**: bin ``k``'s first-layer weights are shared among the filters near it in frequency
  (triangular weights over fractional bin distance, summing to one per bin), so the net sees each
  bin as the mean of its filters' features: ``W_new = W_old @ A`` with ``A (F, C)``;
* **output**: each filter's embedding is the linear interpolation of its two neighbouring bins'
  (``B (C, F)``), applied to the projection's rows.

Everything else (the recurrent layers above the first input, fixed attractors) is copied.  Why not
train the front-end model from scratch: on a CPU, 25 minutes from scratch separated nothing
(-0.84 dB on real2_valid, docs/training.md), while the carried-over default separates at once and
trains from there.
"""
from __future__ import annotations

import torch

from sepviz.checkpoint import read_checkpoint
from sepviz.features import StftConfig

# first-layer input weights of the recurrent nets (sepviz.models.rnn), and their projection
INPUT_KEYS = ("net.rnn.weight_ih_l0", "net.rnn.weight_ih_l0_reverse")
PROJ_KEYS = ("net.proj.weight", "net.proj.bias")


def frequency_maps(bin_hz: torch.Tensor, filter_hz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``A (F, C)``: each bin as a weighted mean of the filters within one bin spacing of it (the
    nearest filter where none is); ``B (C, F)``: each filter as the interpolation of its neighbouring
    bins.  ``bin_hz (F,)`` evenly spaced, ascending; ``filter_hz (C,)`` any order."""
    step = float(bin_hz[1] - bin_hz[0])
    pos = (filter_hz.double() - float(bin_hz[0])) / step                 # fractional bin of each filter
    dist = (torch.arange(bin_hz.shape[0], dtype=torch.float64)[:, None] - pos[None, :]).abs()  # (F, C)
    a = (1 - dist).clamp_min(0)
    empty = a.sum(1) == 0
    a[empty, dist[empty].argmin(1)] = 1.0
    a = a / a.sum(1, keepdim=True)
    b = (1 - dist.T).clamp_min(0)
    lost = b.sum(1) == 0                                                 # a filter beyond the last bin
    b[lost, dist.T[lost].argmin(1)] = 1.0
    b = b / b.sum(1, keepdim=True)
    return a.float(), b.float()


def carry_net_onto_frontend(state: dict[str, torch.Tensor], own: dict[str, torch.Tensor], emb_dim: int,
                            bin_hz: torch.Tensor, filter_hz: torch.Tensor) -> dict[str, torch.Tensor]:
    """An STFT separator's ``state`` -> weights for a same-size net on the front-end (``own`` gives
    the target shapes; front-end tensors are left out, the caller keeps its own).

    Args:
        state: the STFT model's state dict (``net.*`` for ``F`` bins).
        own: the front-end model's state dict (``net.*`` for ``C`` filters).
        emb_dim: K.
        bin_hz: ``(F,)`` the STFT bins' frequencies.
        filter_hz: ``(C,)`` the filters' centre frequencies, in the latent's channel order.
    Raises:
        ValueError: the net is not a recurrent one, or its other layers differ from ``own``'s.
    """
    missing = [k for k in INPUT_KEYS + PROJ_KEYS if k not in state or k not in own]
    if missing:
        raise ValueError(f"only the recurrent nets (blstm, bgru) can be carried onto a front-end; missing {missing}")
    a, b = frequency_maps(bin_hz, filter_hz)
    n_bins, n_filters = a.shape
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("frontend."):
            continue
        v = value.float() if value.is_floating_point() else value
        if key in INPUT_KEYS:
            v = v @ a
        elif key == "net.proj.weight":
            v = (b @ v.reshape(n_bins, -1)).reshape(n_filters * emb_dim, v.shape[1])
        elif key == "net.proj.bias":
            v = (b @ v.reshape(n_bins, emb_dim)).reshape(-1)
        if key not in own or own[key].shape != v.shape:
            raise ValueError(f"cannot carry {key} {tuple(value.shape)} onto this network "
                             f"({tuple(own[key].shape) if key in own else 'absent'}): the nets differ beyond the input")
        out[key] = v.to(own[key].dtype)
    return out


def carry_net_from_checkpoint(model, path: str) -> int:
    """Load the STFT separator at ``path``'s net into ``model`` (a DANet with an adaptive front-end,
    whose filters are already in place), mapped by :func:`carry_net_onto_frontend`; returns how many
    tensors were set.  Raises ValueError when either side is not what this needs."""
    fe = model.frontend
    if fe is None:
        raise ValueError(f"net_from {path}: this recipe has no adaptive front-end (set [frontend], or use init_from)")
    src = read_checkpoint(path)
    if src["config"].get("frontend"):
        raise ValueError(f"net_from {path}: it reads an adaptive front-end already; use init_from")
    stft_cfg = StftConfig.from_dict(src["config"].get("stft") or {})
    bin_hz = torch.arange(stft_cfg.n_freq, dtype=torch.float32) * stft_cfg.sample_rate / stft_cfg.n_fft
    carried = carry_net_onto_frontend(src["state_dict"], model.state_dict(), model.emb_dim, bin_hz,
                                      fe.centre_frequencies().cpu())
    model.load_state_dict(carried, strict=False)
    return len(carried)
