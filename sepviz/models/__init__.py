"""Embedding networks, registered by name so the app, the CLI and training share them.

Every network maps normalised log-magnitude features ``(B, T, F)`` to embeddings
``V`` of shape ``(B, T, F, K)``: one K-dimensional vector per time-frequency bin.
"""
from __future__ import annotations

from typing import Callable

from torch import nn

from .base import EmbeddingNet, embedding_activation
from .dilated_cnn import DilatedCNN
from .rnn import BGRU, BLSTM

MODELS: dict[str, Callable[..., EmbeddingNet]] = {
    "blstm": BLSTM,
    "bgru": BGRU,
    "dilated_cnn": DilatedCNN,
}


def build_model(name: str, **kwargs) -> EmbeddingNet:
    """Instantiate a registered embedding net; unknown names list the choices."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None
    return cls(**kwargs)


def count_parameters(module: nn.Module) -> int:
    """The number of parameters of ``module`` (trainable or not)."""
    return sum(p.numel() for p in module.parameters())


__all__ = ["MODELS", "build_model", "count_parameters", "EmbeddingNet", "embedding_activation",
           "BLSTM", "BGRU", "DilatedCNN"]
