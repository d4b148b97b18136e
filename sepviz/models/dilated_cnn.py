"""Dilated residual CNN embedding net (13 layers of 3x3 convs, batch norm, about 1.6M parameters).

Two stacks of dilated 2-D convolutions over the time-frequency plane, the dilation doubling
inside each stack (1, 2, 4, ...), so the receptive field grows exponentially with depth while
the network stays fully convolutional (no recurrence: parallel over time).  A residual
connection wraps every other layer.  With the default 128 channels it has ~1.6M parameters.
"""
from __future__ import annotations

import torch
from torch import nn

from .base import EmbeddingNet


class _ConvBlock(nn.Module):
    """3x3 dilated convolution, batch norm, ReLU, dropout: ``(B, cin, T, F)`` -> ``(B, cout, T, F)``."""

    def __init__(self, cin: int, cout: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation)
        self.norm = nn.BatchNorm2d(cout)
        self.act = nn.ReLU()
        self.drop = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.act(self.norm(self.conv(x))))


class DilatedCNN(EmbeddingNet):
    """Dilated residual CNN over the time-frequency plane (see the module docstring).

    Args:
        n_freq: frequency bins F of the input features.
        emb_dim: embedding dimension K (the output channels).
        channels: channels of the hidden layers.
        layers: convolution layers in all, at least 3 (input and output layers included).
        stacks: stacks of hidden layers; the dilation doubles inside each, 1, 2, 4, ...
        dropout: 2-D (channel) dropout in the hidden layers.
        activation: embedding activation (:class:`~sepviz.models.base.EmbeddingNet`).

    Shapes: ``feats (B, T, F)`` -> ``V (B, T, F, K)``; the features are one input channel.
    """

    def __init__(self, n_freq: int = 129, emb_dim: int = 20, channels: int = 128, layers: int = 13,
                 stacks: int = 2, dropout: float = 0.0, activation: str = "none") -> None:
        super().__init__(n_freq, emb_dim, activation)
        if layers < 3:
            raise ValueError("dilated_cnn needs at least 3 layers")
        self.channels, self.layers, self.stacks, self.dropout = channels, layers, stacks, dropout
        hidden_layers = layers - 2  # first layer lifts 1 -> channels, last maps channels -> K
        per_stack = max(1, -(-hidden_layers // stacks))
        self.inp = _ConvBlock(1, channels, 1, 0.0)
        self.hidden_blocks = nn.ModuleList(
            _ConvBlock(channels, channels, 2 ** (i % per_stack), dropout) for i in range(hidden_layers))
        self.out = nn.Conv2d(channels, emb_dim, 3, padding=1)

    def _embed(self, feats: torch.Tensor) -> torch.Tensor:
        x = self.inp(feats.unsqueeze(1))  # (B, C, T, F)
        for i, block in enumerate(self.hidden_blocks):
            y = block(x)
            x = x + y if i % 2 == 1 else y  # residual connection every other layer
        v = self.out(x)  # (B, K, T, F)
        return v.permute(0, 2, 3, 1).contiguous()
