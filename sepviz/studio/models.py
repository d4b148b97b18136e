"""The studio's shelf of checkpoints: the models in a folder, each with its label and card."""
from __future__ import annotations

import os
from pathlib import Path

from sepviz.checkpoint import summarize_metrics
from sepviz.calibration import tracking_summary
from sepviz.errors import SepvizError, SepvizInputError
from sepviz.examples import REPO_ROOT
from sepviz.model_card import flat_recipe


class Checkpoints:
    """The ``*.pt`` checkpoints of a folder (``checkpoints``, else ``$SEPVIZ_CHECKPOINTS``, else the
    repository's ``checkpoints/``), by name."""

    def __init__(self, checkpoints: str | os.PathLike | None = None) -> None:
        self.checkpoint_dir = Path(checkpoints or os.environ.get("SEPVIZ_CHECKPOINTS") or REPO_ROOT / "checkpoints")
        self.models: dict[str, Path] = {}
        self.scan_models()

    def scan_models(self) -> dict[str, Path]:
        d = self.checkpoint_dir
        found = sorted(d.glob("*.pt")) if d.is_dir() else []
        self.models = {p.stem: p for p in found if not p.name.endswith(".state.pt")}
        return self.models

    @property
    def default_model(self) -> str | None:
        if "default" in self.models:
            return "default"
        return next(iter(self.models), None)

    def no_models_message(self) -> str:
        return (f"No checkpoints found in `{self.checkpoint_dir}`. Train one (e.g. `python -m training.train "
                f"danet_blstm --profile cpu --out checkpoints/default.pt`) or start the app with "
                f"`--checkpoints DIR` / `SEPVIZ_CHECKPOINTS=DIR`.")

    def get_model(self, name: str | None):
        from sepviz.separate import resolve_model

        if not self.models:
            self.scan_models()
        if not self.models:
            raise SepvizInputError(self.no_models_message())
        name = name or self.default_model
        if name not in self.models:
            self.scan_models()
            if name not in self.models:
                raise SepvizInputError(f"unknown model {name!r}; choose one of {sorted(self.models)}")
        return resolve_model(self.models[name])

    def model_label(self, name: str | None) -> str:
        """A model's name with what it is, in words: "default (DANet, BLSTM, 2-3 talkers)"."""
        name = name or self.default_model
        try:
            model = self.get_model(name)
        except SepvizError:
            return str(name)
        card = getattr(model, "card", {}) or {}
        cfg = card.get("config", {}) or {}
        family = {"danet": "DANet", "adanet": "Anchored DANet", "dpcl": "deep clustering",
                  "upit": "DEF mask head", "sce": "source-contrastive"}.get(cfg.get("objective"), cfg.get("objective") or "?")
        recipe = flat_recipe((card.get("training") or {}).get("recipe") or {})  # stored flat or grouped
        if cfg.get("objective") == "danet" and recipe.get("sce_weight"):
            family = "DANet + source-contrastive"  # the thesis's SCE + DANet
        if cfg.get("frontend"):
            family += ", learned front-end"
        if cfg.get("enhance"):
            family += " + enhancement layer"  # DPCL++: a BLSTM refines the clustered masks
        arch = {"blstm": "BLSTM", "bgru": "BGRU", "dilated_cnn": "dilated CNN"}.get(cfg.get("model"), cfg.get("model"))
        trained = (((card.get("training") or {}).get("data") or {}).get("n_speakers")
                   or [cfg.get("n_speakers", model.config.n_speakers)])
        talkers = f"{min(trained)}-{max(trained)}" if len(set(trained)) > 1 else f"{trained[0]}"
        return f"{name} ({family}, {arch}, {talkers} talkers)"

    def model_card(self, name: str | None) -> str:
        if not self.models:
            return f"⚠️ {self.no_models_message()}"
        try:
            model = self.get_model(name)
        except SepvizError as err:
            return f"⚠️ {err}"
        card = getattr(model, "card", {}) or {}
        cfg = card.get("config", {}) or {}
        kw = cfg.get("model_kwargs", {}) or {}
        npar = card.get("n_parameters") or sum(p.numel() for p in model.parameters())
        arch = ", ".join(f"{k}={v}" for k, v in kw.items()) or "defaults"
        rows = [("model", f"`{cfg.get('model', '?')}` ({arch})"),
                ("objective", f"{cfg.get('objective', '?')} · {cfg.get('mask', '?')} masks"),
                ("embedding dim K", model.emb_dim), ("parameters", f"{npar / 1e6:.2f} M" if npar >= 1e5 else f"{npar:,}"),
                ("speakers (trained)", cfg.get("n_speakers", "?")), ("salient fraction", cfg.get("keep", "?"))]
        if cfg.get("n_anchors"):
            rows.append(("ADANet anchors", cfg["n_anchors"]))
        live = model.config  # what separations use (the stored config, unless changed since loading)
        if live.mask_temperature:
            rows.append(("mask temperature", ", ".join(f"{float(t):g} for {c} talkers"
                                                       for c, t in sorted(live.mask_temperature.items()))))
        if live.attractor_tracking:
            rows.append(("attractor tracking", tracking_summary(live.attractor_tracking)))
        if live.one_talker_cosine is not None:
            rows.append(("one-talker warning", f"two voices with attractor cosine > {live.one_talker_cosine:g}"))
        rows.append(("fixed attractors", "yes" if model.has_fixed_attractors else "no"))
        training = card.get("training") or {}
        metrics = card.get("metrics") or {}
        out = [f"**{card.get('name', name)}**", "", "| | |", "|---|---|"]
        out += [f"| {k} | {v} |" for k, v in rows]
        if training:
            out += ["", "**Training**", ""] + [f"- {k}: {_short(v)}" for k, v in list(training.items())[:12]]
        if metrics:
            out += ["", "**Held-out metrics** (SI-SNRi in dB, docs/results.md)", ""]
            out += [f"- {line}" for line in summarize_metrics(metrics)[:12]]
        return "\n".join(out)

    def clusterers_for(self, model_name: str | None, has_refs: bool) -> list[str]:
        from sepviz.clusterers import available_clusterers

        try:
            model = self.get_model(model_name)
        except SepvizError:
            model = None
        return available_clusterers(model, has_refs)


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_short(x)}" for k, x in list(v.items())[:8])
    s = str(v)
    return s if len(s) < 160 else s[:157] + "..."
