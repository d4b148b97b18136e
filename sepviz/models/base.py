"""Shared pieces of the embedding networks."""
from __future__ import annotations

import torch
from torch import nn


ACTIVATIONS = ("none", "tanh", "unit")


def embedding_activation(v: torch.Tensor, kind: str) -> torch.Tensor:
    """``none`` (DANet: raw linear output), ``tanh``, or ``unit`` (deep clustering: unit-norm rows)."""
    if kind == "none":
        return v
    if kind == "tanh":
        return torch.tanh(v)
    if kind == "unit":
        return nn.functional.normalize(v, dim=-1)
    raise ValueError(f"unknown embedding activation {kind!r}")


class EmbeddingNet(nn.Module):
    """Base class of the embedding networks: one K-dimensional vector per time-frequency bin.

    Subclasses implement ``_embed`` returning ``(B, T, F*K)`` or ``(B, T, F, K)``; the base checks
    the input, reshapes and applies the activation.

    Args:
        n_freq: frequency bins F of the input features (129 for a 256-point STFT).
        emb_dim: embedding dimension K.
        activation: ``"none"`` (DANet), ``"tanh"`` or ``"unit"`` (deep clustering: unit-norm
            embeddings), see :func:`embedding_activation`.
    """

    def __init__(self, n_freq: int = 129, emb_dim: int = 20, activation: str = "none") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:  # fail when the model is built, not at the first forward
            raise ValueError(f"unknown embedding activation {activation!r}; choose one of {ACTIVATIONS}")
        self.n_freq = n_freq
        self.emb_dim = emb_dim
        self.activation = activation

    def _embed(self, feats: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """
        Args:
            feats: normalised log-magnitude features, ``(B, T, F)``.
        Returns:
            embeddings ``V``, ``(B, T, F, K)``.
        """
        if feats.dim() != 3 or feats.shape[-1] != self.n_freq:
            raise ValueError(f"expected features (batch, frames, {self.n_freq}), got {tuple(feats.shape)}")
        v = self._embed(feats)
        v = v.reshape(feats.shape[0], feats.shape[1], self.n_freq, self.emb_dim)
        return embedding_activation(v, self.activation)
