"""Recurrent embedding nets: DANet's 4 x BLSTM-600 and the lighter 4 x BGRU-600.

A GRU has three gates to the LSTM's four, so the same width costs about a quarter fewer
recurrent weights and runs faster; the BGRU+GMM DANet paper reports ~21 % fewer parameters.
"""
from __future__ import annotations

import torch
from torch import nn

from .base import EmbeddingNet


class _BiRNN(EmbeddingNet):
    """A bidirectional recurrent stack over frames, then a linear layer to F*K per frame.

    Args:
        n_freq: frequency bins F of the input features.
        emb_dim: embedding dimension K.
        hidden: units per direction in each layer.
        layers: recurrent layers.
        dropout: between the recurrent layers and before the projection.
        activation: embedding activation (:class:`~sepviz.models.base.EmbeddingNet`).

    Shapes: ``feats (B, T, F)`` -> ``V (B, T, F, K)``.
    """

    rnn_cls: type[nn.RNNBase] = nn.LSTM

    def __init__(self, n_freq: int = 129, emb_dim: int = 20, hidden: int = 600, layers: int = 4,
                 dropout: float = 0.0, activation: str = "none") -> None:
        super().__init__(n_freq, emb_dim, activation)
        self.hidden, self.layers, self.dropout = hidden, layers, dropout
        self.rnn = self.rnn_cls(n_freq, hidden, num_layers=layers, batch_first=True, bidirectional=True,
                                dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.proj = nn.Linear(2 * hidden, n_freq * emb_dim)

    def _embed(self, feats: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(feats)
        return self.proj(self.drop(out))


class BLSTM(_BiRNN):
    """Bidirectional LSTM stack (DANet, deep clustering, ADANet)."""

    rnn_cls = nn.LSTM


class BGRU(_BiRNN):
    """Bidirectional GRU stack (the BGRU+GMM DANet variant)."""

    rnn_cls = nn.GRU
