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
from .calibration import check_mask_temperature, check_merge_cosine, check_tracking
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
    if config.frontend:  # the net reads the adaptive front-end's latent: one channel per filter
        from .frontend import FrontendConfig

        kwargs.setdefault("n_freq", FrontendConfig.from_dict(config.frontend).n_filters)
    kwargs.setdefault("n_freq", stft.n_freq)
    net = build_model(config.model, **kwargs)
    return DANet(net, config)


def _plain(obj):
    """Reduce training/metrics summaries to types ``torch.load(weights_only=True)`` accepts.

    numpy scalars/arrays, paths, dataclasses and sets would make the *whole* checkpoint
    unreadable by the safe loader, so they are converted to plain Python values here.
    """
    import dataclasses

    import numpy as np

    if obj is None or isinstance(obj, (bool, int, float, str, torch.Tensor)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, dict):
        return {str(k) if not isinstance(k, (int, str)) else k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_plain(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _plain(dataclasses.asdict(obj))
    return str(obj)  # Path, torch.device, enums, ...


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
        "config": _plain(model.config.to_dict()),
        "n_parameters": count_parameters(model),
        "state_dict": state,
        "training": _plain(training or {}),
        "metrics": _plain(metrics or {}),
    }
    return _save_atomically(payload, path)


def _save_atomically(payload: dict, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a failed save leaves neither a half-written file nor litter
        raise
    return path


def write_metrics(path: str | os.PathLike, metrics: dict) -> Path:
    """Replace the ``metrics`` of an existing checkpoint, leaving weights and config untouched.

    Why: a model is evaluated after it is trained; stamping the held-out results into the file
    lets the app and ``sepviz info`` show how well it separates without the report at hand.
    """
    payload = read_checkpoint(path)
    payload["metrics"] = _plain(metrics)
    return _save_atomically(payload, path)


def write_calibration(path: str | os.PathLike, mask_temperature: dict, evidence: dict, *,
                      merge_cosine: float | None = None, tracking: dict | None = None,
                      one_talker_cosine: float | None = None, evidence_key: str = "calibration") -> Path:
    """Set the config's test-time ``mask_temperature`` (talker count -> T), the auto count's
    ``merge_cosine`` and the ``attractor_tracking`` (talker count -> {frames, strength}, or None
    to turn it off for that count) and the two-voice ``one_talker_cosine`` when given, and keep how
    they were chosen.

    Counts not in ``mask_temperature`` keep their stored value; the evidence goes to
    ``training[evidence_key]`` (``"calibration"``) so the model card can say where the numbers came from.
    """
    check_mask_temperature(mask_temperature)  # fail here, not at the next load
    check_merge_cosine(merge_cosine)
    check_merge_cosine(one_talker_cosine, "one_talker_cosine")
    check_tracking({c: t for c, t in (tracking or {}).items() if t is not None})
    payload = read_checkpoint(path)
    temps = dict(payload["config"].get("mask_temperature") or {})
    temps.update({str(k): float(v) for k, v in mask_temperature.items()})
    payload["config"]["mask_temperature"] = temps
    if merge_cosine is not None:
        payload["config"]["merge_cosine"] = float(merge_cosine)
    if one_talker_cosine is not None:
        payload["config"]["one_talker_cosine"] = float(one_talker_cosine)
    if tracking is not None:
        kept = dict(payload["config"].get("attractor_tracking") or {})
        for c, t in tracking.items():
            if t is None:
                kept.pop(str(c), None)
            else:
                kept[str(c)] = {"frames": int(t["frames"]), "strength": float(t["strength"])}
        payload["config"]["attractor_tracking"] = kept
    training = dict(payload.get("training") or {})
    training[evidence_key] = _merge_evidence(training.get(evidence_key), _plain(evidence))
    payload["training"] = training
    return _save_atomically(payload, path)


def _merge_evidence(old: dict | None, new: dict) -> dict:
    """Calibration evidence after one more ``--write``: per talker count the newest evidence wins, the
    counts calibrated earlier (one folder per run, e.g. 2 then 3 talkers) keep theirs, and every run's
    command is kept in order, so the card can still say where each stored number came from."""
    if not old or "by_talkers" not in old or "by_talkers" not in new:
        return new
    merged = dict(new)
    merged["by_talkers"] = {**old["by_talkers"], **new["by_talkers"]}
    earlier = old.get("commands") or ([old["command"]] if old.get("command") else [])
    merged["commands"] = [*earlier, *([new["command"]] if new.get("command") else [])]
    merged.pop("command", None)
    return merged


def summarize_metrics(metrics: dict) -> list[str]:
    """One line per test set: SI-SNRi of every clusterer next to the WFM oracle's.

    Expects the layout ``training.stamp_metrics`` writes (``{set: {"n", "model": {clusterer:
    {"si_snri", ...}}, "oracle": {...}}}``); other entries are shown as they are.
    """
    lines = []
    for name, m in metrics.items():
        if not (isinstance(m, dict) and isinstance(m.get("model"), dict)):
            lines.append(f"{name}: {m}")
            continue
        scores = {k: v.get("si_snri") for k, v in m["model"].items() if isinstance(v, dict)}
        scores = {k: v for k, v in scores.items() if isinstance(v, (int, float))}
        best = max(scores, key=scores.get) if scores else None
        parts = [f"{k} {v:.2f}" + (" (best)" if k == best else "") for k, v in scores.items()]
        wfm = ((m.get("oracle") or {}).get("wfm") or {}).get("si_snri")
        tail = f"; WFM oracle {wfm:.2f}" if isinstance(wfm, (int, float)) else ""
        lines.append(f"{name} ({m.get('n', '?')} mixtures), SI-SNRi dB: " + ", ".join(parts) + tail)
    return lines


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
    version = payload.get("format_version", 0)
    if not isinstance(version, int):
        raise CheckpointError(f"{path.name} has an invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path.name} was written by a newer sepviz (format "
                              f"{payload.get('format_version')}); upgrade sepviz")
    for key in ("config", "state_dict"):
        if not isinstance(payload.get(key), dict):
            raise CheckpointError(f"{path.name} has no {key}")
    bad = [k for k, v in payload["state_dict"].items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path.name} has a malformed state_dict (not a tensor: {', '.join(map(str, bad[:3]))})")
    return payload


def load_checkpoint(path: str | os.PathLike) -> DANet:
    """Rebuild the model from the checkpoint alone; the result is in eval mode on the CPU.

    The returned module has a ``card`` dict (name, path, config, training, metrics) for the app.
    """
    payload = read_checkpoint(path)
    if payload["config"].get("kind") == "adaptive_frontend":  # sepviz.frontend.FrontendAutoencoder
        raise CheckpointError(f"{Path(path).name} is a pretrained adaptive front-end, not a separator: "
                              "start a recipe from it with init_from")
    try:
        config = DANetConfig.from_dict(payload["config"])
        model = build_danet(config)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise CheckpointError(f"{Path(path).name} has an invalid config: {exc}") from None
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in payload["state_dict"].items()}
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError, KeyError) as exc:
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
