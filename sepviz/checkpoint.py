"""One-file checkpoints that carry their own config, so ``load_checkpoint(path)`` needs nothing else.

Layout (plain dicts, lists, numbers, strings and tensors only, so ``torch.load(weights_only=True)``
can read it without executing code)::

    {"format": "sepviz-checkpoint", "format_version": 1, "code_version": "0.1.0",
     "config": DANetConfig.to_dict() (model name + kwargs, objective, mask, stft, ...),
     "state_dict": {...}, "training": {...data summary, steps, time...}, "metrics": {...}}
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from . import __version__
from .danet import DANet, DANetConfig
from .errors import CheckpointError
from .features import StftConfig
from .models import build_model, count_parameters

FORMAT = "sepviz-checkpoint"
FORMAT_VERSION = 1


def build_danet(config: DANetConfig) -> DANet:
    stft = StftConfig.from_dict(config.stft) if config.stft else StftConfig()
    config.stft = stft.to_dict()
    kwargs = dict(config.model_kwargs)
    kwargs.setdefault("n_freq", stft.n_freq)
    net = build_model(config.model, **kwargs)
    return DANet(net, config)


def save_checkpoint(path: str | os.PathLike, model: DANet, *, training: dict | None = None,
                    metrics: dict | None = None, half: bool = False) -> Path:
    """Write atomically (temp file + rename) so an interrupted save never leaves a corrupt file.

    ``half=True`` stores floating weights as fp16 (halves the size; they are cast back on load).
    """
    state = {k: (v.detach().half() if half and v.is_floating_point() else v.detach()).cpu().clone()
             for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "code_version": __version__,
        "config": model.config.to_dict(),
        "n_parameters": count_parameters(model),
        "state_dict": state,
        "training": training or {},
        "metrics": metrics or {},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load and validate the raw payload (safe: ``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated zip, pickle with code, random bytes...
        raise CheckpointError(f"{path.name} is not a readable sepviz checkpoint (corrupt, truncated, or not "
                              f"saved by sepviz): {exc.__class__.__name__}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path.name} is not a sepviz checkpoint (missing format tag)")
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path.name} was written by a newer sepviz (format "
                              f"{payload.get('format_version')}); upgrade sepviz")
    for key in ("config", "state_dict"):
        if not isinstance(payload.get(key), dict):
            raise CheckpointError(f"{path.name} has no {key}")
    return payload


def load_checkpoint(path: str | os.PathLike) -> DANet:
    """Rebuild the model from the checkpoint alone; the result is in eval mode on the CPU.

    The returned module has a ``card`` dict (name, path, config, training, metrics) for the app.
    """
    payload = read_checkpoint(path)
    try:
        config = DANetConfig.from_dict(payload["config"])
        model = build_danet(config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{Path(path).name} has an invalid config: {exc}") from None
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in payload["state_dict"].items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:2]
        raise CheckpointError(f"{Path(path).name} does not match its declared model "
                              f"{config.model!r}: {' '.join(first)[:300]}") from None
    model.eval()
    model.card = {
        "name": Path(path).stem,
        "path": str(path),
        "code_version": payload.get("code_version"),
        "config": payload["config"],
        "n_parameters": payload.get("n_parameters", count_parameters(model)),
        "training": payload.get("training", {}),
        "metrics": payload.get("metrics", {}),
    }
    return model
