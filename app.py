#!/usr/bin/env python
"""sepviz studio: hear and see speech separation with the Deep Attractor Network family.

    python app.py [--checkpoints DIR] [--host 127.0.0.1] [--port 7860] [--max-seconds 60] [--share]

Tabs: **Separate** (voices, spectrograms, masks, the embedding cloud with attractors / anchors /
GMM ellipses, metrics when references are given), **Compare** (several clusterers on the same
cached embeddings, and the ideal-vs-estimated "center mismatch" view) and **Teaching** (what each
plot means, and the attractors of many mixtures in one PCA).

The network runs once per (audio, model, salient fraction): embeddings are cached, so changing
the clusterer, the projection or the plot settings only re-clusters / re-plots.  The main action
is also the API endpoint ``/separate`` (see docs/app.md).
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import logging
import os
import tempfile
import threading
import time
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import gradio.utils
import numpy as np
from gradio.exceptions import InvalidPathError
from pydantic import ValidationError

from sepviz import export, selection, viz
from sepviz.checkpoint import summarize_metrics
from sepviz.clusterers import DEFAULT_CLUSTERER
from sepviz.danet import tracking_summary
from sepviz.errors import SepvizError, SepvizInputError
from sepviz.examples import Example, cache_dir, examples_dir, list_atlas_examples, list_examples

log = logging.getLogger("sepviz.app")

REPO = Path(__file__).resolve().parent
MAX_VOICES = 3
N_SPEAKERS = ["2", "3", "auto"]
PROJECTIONS = ["PCA 2D", "PCA 3D", "UMAP 2D", "UMAP 3D"]
COLOR_BY = ["assigned speaker", "true speaker", "power"]
ALL_CLUSTERERS = ["kmeans", "gmm", "gmm_tied", "soft_kmeans", "fixed", "anchors", "head", "oracle"]
WEIGHTED_CLUSTERERS = ("kmeans", "soft_kmeans", "gmm_tied")  # the fits that use the loudness weights
FIT_WEIGHTING_CHOICES = [("auto (2 talkers: on, 3: off)", "auto"), ("on", "loudness"), ("off", "none")]
TRACKING_CHOICES = [("as calibrated for the model", "model"), ("off: one attractor per talker", "off")]
CLUSTERER_LABELS = {
    "kmeans": "k-means", "gmm": "GMM (full covariance)", "gmm_tied": "GMM (tied full covariance)", "soft_kmeans": "soft k-means",
    "fixed": "fixed (training attractors)", "anchors": "ADANet anchors",
    "head": "DEF mask head (uPIT)", "oracle": "oracle (references)",
}
DEFAULT_MAX_FILE_SIZE = "25mb"
REF_TOLERANCE_S = 0.5
MAX_VOICE_FOLDERS = 200  # separations whose voice files are kept on disk
# status, 3 voices, zip of the voices, embedding, spectrograms, masks, metrics, report, the panels that
# belong to one result (the export's files, the selection's audio and note), results panel
N_EXTRA_OUTPUTS = 3  # the export's files, the selection's audio and its note
N_MAIN_OUTPUTS = 11 + N_EXTRA_OUTPUTS
NOTICE_SECONDS = 8
INTRO = "Upload or record a mixture of 2-3 talkers, or pick an example: the separation starts at once."
QUIET_DBFS = -40.0       # a mixture below this RMS is "too quiet" (speech is recorded at -30 to -15 dBFS)
CLIPPED_SHARE = 5e-4     # the share of samples at full scale that says "clipped" ...
CLIPPED_MIN_SAMPLES = 8  # ... and at least this many (a peak-normalised file has one or two)

# One answer for every file a client names instead of uploading, whether it exists or not, so
# the refusal tells nothing about the server's files.
REFUSAL = ("The studio reads only audio uploaded with the request or a bundled example: send the file "
           "itself (gradio_client's handle_file uploads it) or pick an example by name.")

CSS = """
.sv-status p {margin: 2px 0;}
.sv-card {font-size: 0.9em;}
.sv-card table {font-size: 0.95em;}
.sv-help {font-size: 0.88em; color: var(--body-text-color-subdued);}
#sv-title h1 {margin-bottom: 0;}
.sv-hidden {display: none !important;}
"""

SELECTION_HELP = ("*Draw a lasso (or a box) around dots in the cloud to hear those bins alone and see them lit on "
                  "the mixture's spectrogram; drag a box on the mixture's spectrogram to ring its bins in the "
                  "cloud.*")

# The bridge from plotly's selections to the server: gr.Plot has no selection event, so the page
# listens to plotly_selected on the cloud's and the spectrogram's plots itself and hands the
# selection (JSON) to a hidden button's event, whose own js puts it in place of its first input.
# Polled: Gradio mounts a new plot div when a hidden plot is shown again, and a purged plot
# loses its listeners.
SELECTION_JS = """
() => {
  const send = (payload) => {
    window.svSelection = JSON.stringify(payload);
    const go = document.getElementById("sv-sel-go");
    if (go) go.click();
  };
  const binOf = (gd, p) => {
    let cd = p.customdata;
    if (cd == null || typeof cd === "number") {
      const tr = (gd._fullData || gd.data)[p.curveNumber];  // gd.data may hold the arrays still base64-coded
      if (!tr || tr.customdata == null) return null;
      cd = tr.customdata[p.pointNumber];
      if (typeof cd === "number") cd = [0, 0, 0, tr.customdata[4 * p.pointNumber + 3]];
    }
    return cd != null && cd.length >= 4 ? Math.round(cd[3]) : null;
  };
  const fromCloud = (gd, ev) => {
    if (!ev || !ev.points) return;
    const bins = ev.points.map((p) => binOf(gd, p)).filter((b) => b != null);
    const lp = ev.lassoPoints;
    const lasso = lp && lp.x ? Array.from(lp.x, (x, i) => [x, lp.y[i]]) : null;
    const box = ev.range && ev.range.x && ev.range.y ? [ev.range.x, ev.range.y] : null;
    send({source: "cloud", bins: bins, lasso: lasso, box: box});
  };
  const fromSpectrogram = (gd, ev) => {
    if (!ev) return;
    let box = null;
    if (ev.range) {
      const keys = Object.keys(ev.range);
      const kx = keys.find((k) => k[0] === "x"), ky = keys.find((k) => k[0] === "y");
      if (kx && ky) box = [ev.range[kx], ev.range[ky]];
    }
    if (!box && ev.points && ev.points.length) {
      const xs = ev.points.map((p) => p.x), ys = ev.points.map((p) => p.y);
      box = [[Math.min(...xs), Math.max(...xs)], [Math.min(...ys), Math.max(...ys)]];
    }
    if (box) send({source: "spectrogram", box: box});
  };
  const hook = () => {
    for (const [id, fn] of [["sv-embedding", fromCloud], ["sv-spectrograms", fromSpectrogram]]) {
      const gd = document.querySelector("#" + id + " .js-plotly-plot");
      if (!gd || typeof gd.on !== "function" || gd.svHooked === gd._ev) continue;
      gd.svHooked = gd._ev;
      gd.on("plotly_selected", (ev) => fn(gd, ev));
    }
  };
  setInterval(hook, 300);
}
"""


def user_message(err: BaseException) -> str:
    """What a user reads about ``err``: a library or Gradio message as it is; anything else,
    logged here, as a short line (never a traceback)."""
    if isinstance(err, gr.Error):
        return str(err.message)
    if isinstance(err, SepvizError):
        return str(err)
    log.error("unexpected error", exc_info=err)
    return f"Something went wrong ({err.__class__.__name__}: {str(err)[:200]})."


def _close(fn):
    """Wrap an API handler: errors become a user message (gr.Error), never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - every error reaches the client as words
            raise gr.Error(user_message(err), print_exception=False) from None

    return wrapper


def notice(err: BaseException) -> str:
    """Say once, in a pop-up that goes away, why an action failed; returns the message for the
    status line.  UI handlers return their cleared panels instead of raising: a raised error
    would badge every output "Error" and leave the previous results on screen."""
    message = user_message(err)
    gr.Warning(message, duration=NOTICE_SECONDS)
    return message


class StudioBlocks(gr.Blocks):
    """gr.Blocks whose refusal of a file named by path says so in words.

    Gradio already refuses an input file that was not uploaded to its cache (or that is not a file
    description at all), but answers with a bare ``"error": null``; this turns both into the
    studio's one refusal (:data:`REFUSAL`), the same for every path."""

    async def preprocess_data(self, *args, **kwargs):
        try:
            return await super().preprocess_data(*args, **kwargs)
        except (InvalidPathError, ValidationError) as err:
            log.info("refused an input file that was not uploaded: %s", str(err).splitlines()[0][:300])
            raise gr.Error(REFUSAL, print_exception=False) from None


class LRU(OrderedDict):
    def __init__(self, maxsize: int = 8) -> None:
        super().__init__()
        self.maxsize = maxsize

    def get_(self, key):
        if key in self:
            self.move_to_end(key)
            return self[key]
        return None

    def put(self, key, value):
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)
        return value


def file_sha1(path: str | os.PathLike) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def parse_n_speakers(value) -> int | None:
    s = str(value).strip().lower()
    if s in ("auto", "none", ""):
        return None
    if s in ("2", "3"):
        return int(s)
    raise SepvizInputError(f"number of speakers must be 2, 3 or auto, not {value!r}")


def parse_projection(value: str) -> tuple[str, int]:
    try:
        method, dims = str(value).split()
        return {"pca": "pca", "umap": "umap"}[method.lower()], int(dims[0])
    except (ValueError, KeyError, IndexError):
        raise SepvizInputError(f"unknown projection {value!r}; choose one of {PROJECTIONS}") from None


@dataclass
class Result:
    """One separation, rendered."""

    sep: object
    emb_key: tuple
    voice_paths: list[str]
    metrics: list[dict] | None
    seconds: float


def _fmt(v, nd=2):
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def evaluate(voices: list[np.ndarray], refs: list[np.ndarray], mixture: np.ndarray, sr: int) -> dict:
    """Per-voice SI-SNRi, SDRi, SIR, SAR (permutation-invariant), matched to the references.

    Uses ``sepviz.metrics`` when it provides ``evaluate_estimates``; otherwise computes them here.
    Returns ``{"rows": [{"voice", "reference", "si_snri", "sdri", "sir", "sar"}...], "means": {...}}``.
    """
    est = np.stack([np.asarray(v, np.float64) for v in voices])
    src = np.stack([np.asarray(r, np.float64)[: est.shape[1]] for r in refs])
    n = min(est.shape[1], src.shape[1])
    est, src, mix = est[:, :n], src[:, :n], np.asarray(mixture, np.float64)[:n]
    try:
        from sepviz import metrics as m  # written in parallel: use it when it is there
    except ImportError:
        m = None
    if m is not None and hasattr(m, "evaluate_estimates"):
        out = m.evaluate_estimates(est, src, mix, sr, pesq=False)
        perm = out["permutation"]
        rows = [{"voice": int(perm[i]) + 1, "reference": i + 1,
                 **{k: float(out[k][i]) for k in ("si_snri", "sdri", "sir", "sar")}} for i in range(len(perm))]
        return {"rows": rows, "means": {k: float(out["mean"][k]) for k in ("si_snri", "sdri", "sir", "sar")}}
    import fast_bss_eval

    def si_snr(e, s):
        e, s = e - e.mean(), s - s.mean()
        proj = (e @ s) / (s @ s + 1e-12) * s
        return 10 * np.log10((proj @ proj) / (((e - proj) @ (e - proj)) + 1e-12) + 1e-12)

    c = min(len(est), len(src))
    import itertools

    best = max(itertools.permutations(range(len(est)), c),
               key=lambda p: sum(si_snr(est[p[i]], src[i]) for i in range(c)))
    est_m = est[list(best)]
    import torch  # fast_bss_eval's numpy backend breaks on numpy 2 (np.linalg.solve); torch's works

    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    sdr, sir, sar = (x.numpy() for x in fast_bss_eval.bss_eval_sources(t(src), t(est_m), compute_permutation=False)[:3])
    sdr_mix = fast_bss_eval.sdr(t(src), t(np.repeat(mix[None], c, 0))).numpy()
    rows = []
    for i in range(c):
        rows.append({"voice": int(best[i]) + 1, "reference": i + 1,
                     "si_snri": float(si_snr(est_m[i], src[i]) - si_snr(mix, src[i])),
                     "sdri": float(sdr[i] - sdr_mix[i]), "sir": float(sir[i]), "sar": float(sar[i])})
    means = {k: float(np.mean([r[k] for r in rows])) for k in ("si_snri", "sdri", "sir", "sar")}
    return {"rows": rows, "means": means}


METRICS_HELP = ("**SI-SNRi**: how many dB clearer each voice is than the mixture (higher is better) · "
                "**SDRi**: the same, forgiving a fixed change of tone · **SIR**: how far down the other talkers "
                "are · **SAR**: how little the separation itself added (warble, gaps); all in dB, higher is better.")


def voice_label(i: int, level_db: float) -> str:
    """A voice player's label: how loud it is next to the loudest voice, in words."""
    return f"Voice {i + 1} (the loudest)" if level_db > -0.05 else f"Voice {i + 1} ({-level_db:.1f} dB quieter)"


def metrics_markdown(ev: dict | None) -> str:
    if not ev:
        return ("*With the isolated sources (References, or any example) the voices are also scored: how much "
                "clearer each one is than the mixture.*")
    lines = ["| voice | reference | SI-SNRi (dB) | SDRi (dB) | SIR (dB) | SAR (dB) |", "|---|---|---|---|---|---|"]
    for r in sorted(ev["rows"], key=lambda r: r.get("voice", 0)):
        lines.append(f"| {r.get('voice', '')} | s{r.get('reference', '')} | {r['si_snri']:.1f} | {r.get('sdri', float('nan')):.1f} "
                     f"| {r.get('sir', float('nan')):.1f} | {r.get('sar', float('nan')):.1f} |")
    m = ev["means"]
    lines.append(f"| **mean** | | **{m.get('si_snri', float('nan')):.1f}** | **{m.get('sdri', float('nan')):.1f}** "
                 f"| {m.get('sir', float('nan')):.1f} | {m.get('sar', float('nan')):.1f} |")
    return "\n".join(lines + ["", METRICS_HELP])


class Studio:
    """State and handlers of the app, independent of the Blocks layout (tests call these directly)."""

    def __init__(self, checkpoints: str | os.PathLike | None = None, *, max_seconds: float = 60.0,
                 examples: dict[str, Example] | None = None, include_fsdd: bool = True,
                 work_dir: str | os.PathLike | None = None,
                 read_dirs: list[str | os.PathLike] = ()) -> None:
        """``read_dirs``: folders besides Gradio's upload cache whose files the handlers may read
        (tests and scripts that call the handlers with their own files); the examples' own files
        are always readable."""
        self.read_dirs = [Path(d) for d in read_dirs]
        self.checkpoint_dir = Path(checkpoints or os.environ.get("SEPVIZ_CHECKPOINTS") or REPO / "checkpoints")
        self.max_seconds = float(max_seconds)
        self.include_fsdd = include_fsdd
        self.examples = examples if examples is not None else list_examples(include_fsdd)
        self.work_dir = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="sepviz-app-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.models: dict[str, Path] = {}
        self.scan_models()
        self._lock = threading.RLock()
        self._emb = LRU(6)
        self._sep = LRU(24)
        self._refs = LRU(12)
        self._truth = LRU(12)
        self._clouds = LRU(12)
        self._metrics = LRU(24)
        self._atlas = LRU(4)
        self.network_runs = 0   # how often the embedding network ran (the cache is tested on this)
        self.umap_ready = threading.Event()
        self._warming = False

    # ------------------------------------------------------------------ models
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
                  "upit": "DEF mask head"}.get(cfg.get("objective"), cfg.get("objective") or "?")
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
            out += ["", "**Training**", ""] + [f"- {k}: {self._short(v)}" for k, v in list(training.items())[:12]]
        if metrics:
            out += ["", "**Held-out metrics** (SI-SNRi in dB, docs/results.md)", ""]
            out += [f"- {line}" for line in summarize_metrics(metrics)[:12]]
        return "\n".join(out)

    @staticmethod
    def _short(v) -> str:
        if isinstance(v, float):
            return f"{v:.3g}"
        if isinstance(v, dict):
            return ", ".join(f"{k}={Studio._short(x)}" for k, x in list(v.items())[:8])
        s = str(v)
        return s if len(s) < 160 else s[:157] + "..."

    def clusterers_for(self, model_name: str | None, has_refs: bool) -> list[str]:
        from sepviz.clusterers import available_clusterers

        try:
            model = self.get_model(model_name)
        except SepvizError:
            model = None
        return available_clusterers(model, has_refs)

    # ------------------------------------------------------------------ what may be read
    def readable(self, path):
        """``path`` (resolved) when the handlers may read it; else SepvizInputError(:data:`REFUSAL`).

        Readable: files in Gradio's upload cache (where every upload, and every example the UI
        picked, lands), the examples' own files, and ``read_dirs``.  Links are followed first, so
        a link in the cache to a file elsewhere is elsewhere.  A missing file gets the same answer
        as a forbidden one."""
        if not path:
            return path
        try:
            real = Path(os.path.realpath(os.fspath(path)))
            ok = real.is_file()
        except (TypeError, ValueError, OSError):
            ok = False
        if ok:
            roots = [gradio.utils.get_upload_folder(), *self.read_dirs]
            files = {Path(os.path.realpath(f)) for ex in self.examples.values() for f in (ex.mix, *ex.sources)}
            if real in files or any(real.is_relative_to(os.path.realpath(r)) for r in roots):
                return str(real)
        raise SepvizInputError(REFUSAL)

    # ------------------------------------------------------------------ cached pipeline
    def get_embedding(self, audio_path: str, model_name: str | None, keep: float | None):
        from sepviz.separate import embed

        model = self.get_model(model_name)
        keep = float(model.config.keep if keep in (None, 0) else keep)
        if not 0.05 <= keep <= 1.0:
            raise SepvizInputError(f"the salient fraction must be between 0.05 and 1, got {keep}")
        mpath = self.models[model_name or self.default_model]
        key = (file_sha1(audio_path), str(mpath), mpath.stat().st_mtime, round(keep, 3), self.max_seconds)
        with self._lock:
            hit = self._emb.get_(key)
        if hit is not None:
            return hit, key, True
        emb = embed(audio_path, None, model, keep=keep, max_seconds=self.max_seconds)
        with self._lock:
            self.network_runs += 1
            self._emb.put(key, emb)
        return emb, key, False

    def get_references(self, paths: list[str], emb) -> tuple[list[np.ndarray] | None, str | None]:
        from sepviz.audio import load_audio

        paths = [p for p in paths if p]
        if not paths:
            return None, None
        if len(paths) == 1:
            raise SepvizInputError("give at least two reference sources (s1 and s2), or none")
        key = "|".join(file_sha1(p) for p in paths) + f"@{len(emb.wave)}"
        with self._lock:
            hit = self._refs.get_(key)
        if hit is not None:
            return hit, key
        sr = emb.stft_config.sample_rate
        refs = []
        for i, p in enumerate(paths, 1):
            try:
                w, _ = load_audio(p, target_sr=sr, max_seconds=self.max_seconds)
            except SepvizInputError as err:
                raise SepvizInputError(f"reference s{i}: {err}") from None
            if abs(len(w) - len(emb.wave)) > REF_TOLERANCE_S * sr:
                raise SepvizInputError(f"reference s{i} is {len(w) / sr:.2f} s long but the mixture is "
                                       f"{len(emb.wave) / sr:.2f} s: references must be the isolated sources "
                                       f"of this mixture")
            w = np.pad(w, (0, max(0, len(emb.wave) - len(w))))[: len(emb.wave)]
            refs.append(w.astype(np.float32))
        with self._lock:
            self._refs.put(key, refs)
        return refs, key

    def get_separation(self, emb, emb_key, clusterer: str, n_speakers, beta: float, refs, refs_key,
                       weighting: str | bool | None = "auto", tracking: str = "model"):
        """Cluster cached embeddings (cached by every setting that changes the voices).

        ``tracking``: "model" lets the attractors follow the talkers as the checkpoint was
        calibrated (sepviz.tracking); "off" keeps one attractor per talker."""
        from sepviz.separate import FIT_WEIGHTINGS, resolve_weighting, separate_embedding

        available = self.clusterers_for_model(emb.model, refs is not None)
        if clusterer not in available:
            if clusterer == "oracle":
                raise SepvizInputError("the oracle clusterer needs the reference sources (s1, s2[, s3])")
            if clusterer in ALL_CLUSTERERS:
                raise SepvizInputError(f"the {clusterer!r} clusterer is not available for this model "
                                       f"(available: {', '.join(available)})")
            raise SepvizInputError(f"unknown clusterer {clusterer!r}; choose one of {', '.join(available)}")
        n = parse_n_speakers(n_speakers)
        if refs is not None:
            if n is None:
                n = len(refs)
            elif n != len(refs):
                raise SepvizInputError(f"{len(refs)} reference sources were given, so the mixture has "
                                       f"{len(refs)} talkers: set the number of speakers to {len(refs)} or auto")
        beta = float(beta or 10.0)
        if weighting in (None, True, False):  # a bare on/off (older callers, the API)
            weighting = {None: "auto", True: "loudness", False: "none"}[weighting]
        if weighting not in FIT_WEIGHTINGS:
            raise SepvizInputError(f"unknown fit weighting {weighting!r}; choose one of {', '.join(FIT_WEIGHTINGS)}")
        if tracking not in ("model", "off"):
            raise SepvizInputError(f"unknown attractor tracking {tracking!r}; choose 'model' or 'off'")
        if n is not None:  # "auto" with a known count is the same fit as its resolution: share the cache
            weighting = resolve_weighting(weighting, n)
        # tracked masks weigh the bins as the fit does, whatever the clusterer
        tracks = tracking == "model" and clusterer != "oracle" and bool(emb.model.config.attractor_tracking)
        key = (emb_key, clusterer, n, round(beta, 3) if clusterer == "soft_kmeans" else None,
               refs_key if clusterer == "oracle" else None,
               weighting if clusterer in WEIGHTED_CLUSTERERS or tracks else None, tracks)
        with self._lock:
            hit = self._sep.get_(key)
        if hit is not None:
            return hit, key
        sep = separate_embedding(emb, clusterer, n, beta=beta, references=refs if clusterer == "oracle" else None,
                                 weighting=weighting, tracking="config" if tracks else None)
        with self._lock:
            self._sep.put(key, sep)
        return sep, key

    @staticmethod
    def clusterers_for_model(model, has_refs: bool) -> list[str]:
        from sepviz.clusterers import available_clusterers

        return available_clusterers(model, has_refs)

    def move_axes(self, emb, emb_key, projection, n_points, trange) -> tuple[np.ndarray, np.ndarray]:
        """The directions an attractor moves along: the first two principal axes of the shown bins'
        embeddings (with a PCA projection the cloud's own x and y), ``(W (2, K), spread (2,))``, the
        spread being the bins' standard deviation along each axis (the sliders' unit)."""
        cloud = self.get_cloud(emb, emb_key, projection, n_points, trange)
        pts = emb.v.numpy().reshape(-1, emb.v.shape[-1])[cloud.index]
        proj = cloud.projector if cloud.projector.linear else viz.fit_pca(pts, 2)
        w = np.asarray(proj.components[:2], np.float64)
        spread = ((pts - proj.mean) @ w.T).std(axis=0)
        return w, spread

    def moved(self, sep, key, emb, emb_key, projection, n_points, trange, which, along1, along2):
        """``sep`` with attractor ``which`` (1-based) moved ``along1`` / ``along2`` spreads along the
        principal axes (:meth:`move_axes`), and its cache key: ``(sep, key, note)``; unmoved when
        both are 0.  Recomputed from the cached embeddings: the network does not run."""
        try:
            a, b, i = float(along1 or 0.0), float(along2 or 0.0), int(which or 1) - 1
        except (TypeError, ValueError):
            raise SepvizInputError(f"an attractor moves by numbers, not {along1!r} / {along2!r}") from None
        if a == 0 and b == 0:
            return sep, key, None
        from sepviz.separate import move_attractor

        w, spread = self.move_axes(emb, emb_key, projection, n_points, trange)
        mkey = (key, "moved", i, round(a, 3), round(b, 3), projection, int(n_points or 0), trange)
        with self._lock:
            hit = self._sep.get_(mkey)
        if hit is None:
            hit = move_attractor(sep, i, a * spread[0] * w[0] + b * spread[1] * w[1])
            with self._lock:
                self._sep.put(mkey, hit)
        return hit, mkey, (f"attractor {i + 1} moved {a:+.1f} along PC1 and {b:+.1f} along PC2 (in spreads of the "
                           "bins): its voice was recomputed from the stored embeddings, without the network")

    def voice_files(self, sep, key) -> tuple[list[str], str, float]:
        """The voices as 16-bit WAVs and one zip of them all, written once per separation:
        ``(wav paths, zip path, scale)``.  When a voice would clip, all are scaled alike by
        ``scale`` (< 1), which keeps their relative levels."""
        import soundfile as sf

        folder = self.work_dir / hashlib.sha1(repr(key).encode()).hexdigest()[:16]
        paths = [folder / f"voice{i + 1}.wav" for i in range(len(sep.voices))]
        zpath = folder / "voices.zip"
        peak = max((float(np.max(np.abs(v))) for v in sep.voices if len(v)), default=0.0)
        scale = 1.0 / peak if peak > 1.0 else 1.0
        if not all(p.is_file() for p in (*paths, zpath)):
            self._prune_work_dir()
            folder.mkdir(parents=True, exist_ok=True)
            for p, v in zip(paths, sep.voices):
                sf.write(p, np.asarray(v, np.float32) * scale, sep.sample_rate, subtype="PCM_16")
            # written aside and moved in place: a concurrent request never serves a half-written zip
            tmp = folder / f".voices.{os.getpid()}.{threading.get_ident()}.part"
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
                for p in paths:
                    zf.write(p, p.name)
            tmp.replace(zpath)
        return [str(p) for p in paths], str(zpath), scale

    def make_report(self, sep, model_name: str, n_asked, *, cached: bool, scale: float = 1.0,
                    has_refs: bool = False, timings: dict | None = None, metrics: dict | None = None) -> dict:
        """What a separation found, as the API returns it and the status line shows it: talkers
        asked and found, each voice's level, warnings (``code`` + ``message``), model, clusterer,
        the input's level, timings in seconds."""
        emb = sep.embedding
        levels = emb.input_levels or {}
        warnings = []
        n = sep.n_speakers
        plain = {"quiet_voice": f"one voice is very faint (more than 20 dB below the loudest): the mixture may hold "
                                f"fewer than {n} talkers",
                 "same_attractor": f"two of the voices came out nearly alike: the mixture may hold fewer than {n} "
                                   "talkers, and one talker may be split in two"}
        for w in sep.warnings:  # sepviz.separate's: both kinds say "fewer talkers than asked"
            reason = getattr(w, "code", "other")
            code = "fewer_talkers" if reason in plain else reason
            warnings.append({"code": code, "reason": reason, "message": plain.get(reason, str(w)), "detail": str(w)})
        rms = levels.get("rms_dbfs")
        if rms is not None and rms < QUIET_DBFS:
            warnings.append({"code": "too_quiet", "message": f"the mixture is very quiet ({rms:.0f} dB below full "
                             "scale): background noise then weighs as much as the voices; record louder or closer"})
        if levels.get("clipped", 0.0) >= CLIPPED_SHARE and levels.get("full_scale_samples", 0) >= CLIPPED_MIN_SAMPLES:
            warnings.append({"code": "clipped", "message": f"{100 * levels['clipped']:.1f} % of the mixture's samples sit "
                             "at full scale: it was recorded too loud and clipped, and the voices keep that distortion"})
        if scale < 1.0:
            warnings.append({"code": "voices_scaled", "message": f"the voices were turned down by "
                             f"{-20 * np.log10(scale):.1f} dB so that none of them clips"})
        asked = parse_n_speakers(n_asked)
        talkers = {"asked": "auto" if asked is None else asked, "found": sep.n_speakers}
        if asked is None and not has_refs:
            trained = sep.embedding.model.config.n_speakers
            talkers["note"] = (f"estimated {sep.n_speakers} talkers" if trained >= 3 else
                               f"{sep.n_speakers} talkers: this model was trained on {trained}-talker mixtures only "
                               f"and cannot tell a third talker (choose 3 to force one, or a model trained on 3)")
        voices = []
        for i, v in enumerate(sep.voices):
            v = np.asarray(v, np.float64) * scale
            voices.append({"voice": i + 1, "level_db": round(float(sep.energies_db[i]), 2),
                           "rms_dbfs": round(float(10 * np.log10(np.mean(v ** 2) + 1e-20)), 2) if len(v) else None})
        report = {
            "talkers": talkers, "voices": voices, "warnings": warnings,
            "model": model_name, "clusterer": sep.clusterer,
            "clusterer_label": CLUSTERER_LABELS.get(sep.clusterer, sep.clusterer),
            "audio": {"seconds": round(float(emb.seconds), 3), "sample_rate": int(emb.input_sr),
                      **{k: round(float(levels[k]), 2) for k in ("rms_dbfs", "peak_dbfs") if k in levels}},
            "network_cached": bool(cached),
            "timings_s": {k: round(float(v), 4) for k, v in (timings or {}).items()},
        }
        if metrics:
            report["metrics"] = metrics
        return report

    def _prune_work_dir(self, keep: int = MAX_VOICE_FOLDERS) -> None:
        """Gradio copies the voices into its own cache; keep only the newest folders here."""
        try:
            dirs = sorted((d for d in self.work_dir.iterdir() if d.is_dir()), key=lambda d: d.stat().st_mtime)
            for d in dirs[: max(0, len(dirs) - keep + 1)]:
                for f in d.iterdir():
                    f.unlink(missing_ok=True)
                d.rmdir()
        except OSError:
            pass

    def true_labels(self, emb, emb_key, refs, refs_key) -> np.ndarray:
        from sepviz.separate import reference_assignment

        key = (emb_key, refs_key)
        with self._lock:
            hit = self._truth.get_(key)
        if hit is None:
            hit = reference_assignment(emb, refs).argmax(0).numpy()
            with self._lock:
                self._truth.put(key, hit)
        return hit

    def get_cloud(self, emb, emb_key, projection: str, n_points: int, time_range) -> viz.Cloud:
        method, dims = parse_projection(projection)
        n_points = int(np.clip(int(n_points or viz.DEFAULT_POINTS), 100, viz.MAX_POINTS))
        key = (emb_key, method, dims, n_points, time_range)
        with self._lock:
            hit = self._clouds.get_(key)
        if hit is not None:
            return hit
        cfg = emb.stft_config
        cloud = viz.prepare_cloud(emb.v.numpy(), emb.salient.numpy(), emb.mag.numpy(), n_points=n_points,
                                  method=method, dims=dims, seed=0, time_range=time_range,
                                  seconds_per_frame=cfg.hop_length / cfg.sample_rate,
                                  hz_per_bin=cfg.sample_rate / cfg.n_fft)
        with self._lock:
            self._clouds.put(key, cloud)
        return cloud

    def get_metrics(self, sep, key, refs, refs_key):
        if refs is None:
            return None
        mkey = (key, refs_key)
        with self._lock:
            hit = self._metrics.get_(mkey)
        if hit is None:
            emb = sep.embedding
            hit = evaluate(sep.voices_model_sr, refs, emb.wave, emb.stft_config.sample_rate)
            with self._lock:
                self._metrics.put(mkey, hit)
        return hit

    @staticmethod
    def time_range(t_from, t_to) -> tuple[float, float] | None:
        a, b = float(t_from or 0.0), float(t_to or 0.0)
        if a < 0 or b < 0:
            raise SepvizInputError("the time range cannot be negative")
        if b and b <= a:
            raise SepvizInputError(f"the time range end ({b:g} s) must be after its start ({a:g} s); 0 means the end")
        return None if a == 0 and b == 0 else (a, b)

    # ------------------------------------------------------------------ figures
    def _grid_kw(self, emb) -> dict:
        cfg = emb.stft_config
        return dict(seconds_per_frame=cfg.hop_length / cfg.sample_rate, hz_per_bin=cfg.sample_rate / cfg.n_fft)

    def figures(self, sep, emb, emb_key, refs, refs_key, projection, color_by, n_points, trange, lit=None):
        """(cloud, spectrograms, masks) figures; ``lit (T, F)`` bool: selected bins, ringed in the
        cloud and lit on the mixture's spectrogram."""
        cloud = self.get_cloud(emb, emb_key, projection, n_points, trange)
        notes = []
        names = [f"voice {i + 1}" for i in range(sep.n_speakers)]
        if color_by == "true speaker" and refs is not None:
            labels = cloud.take(self.true_labels(emb, emb_key, refs, refs_key))
            names = [f"true speaker s{i + 1}" for i in range(len(refs))]
        elif color_by == "power":
            labels = None
        else:
            if color_by == "true speaker":
                notes.append("No references given: coloured by assigned speaker instead of the true speaker.")
            labels = cloud.take(sep.assignment)
        extras = sep.cluster.extras or {}
        gmm = extras if sep.clusterer.startswith("gmm") and "covariances" in extras else None
        method, dims = parse_projection(projection)
        title = (f"Embeddings · {CLUSTERER_LABELS.get(sep.clusterer, sep.clusterer)} · {projection} · "
                 f"{len(cloud.coords):,} of {cloud.n_candidates:,} salient bins")
        emb_fig = viz.embedding_figure(
            cloud, labels=labels, label_names=names, color_by="power" if labels is None else "labels",
            attractors=sep.attractors, attractor_names=[f"attractor {i + 1}" for i in range(len(sep.attractors))],
            anchors=extras.get("anchors"), chosen=extras.get("chosen"), gmm=gmm, title=title, notes=notes,
            tracks=sep.attractor_tracks, highlight=None if lit is None else cloud.take(lit))
        if cloud.coords.shape[1] == 2:  # a drag draws a lasso: the selection the studio plays
            emb_fig.update_layout(dragmode="lasso")
        mag = emb.mag.numpy()
        grid = self._grid_kw(emb)
        specs = [("mixture", mag)] + [(f"voice {i + 1}", sep.masks[i] * mag) for i in range(sep.n_speakers)]
        spec_fig = viz.spectrogram_figure(specs, time_range=trange, title="Spectrograms (dB below the mixture's loudest bin)",
                                          lit=lit, selectable=True, **grid)
        mask_fig = viz.masks_figure(sep.masks, names=[f"mask of voice {i + 1}" for i in range(sep.n_speakers)],
                                    time_range=trange, title=f"Masks ({emb.model.config.mask})", mag=mag, **grid)
        return emb_fig, spec_fig, mask_fig

    # ------------------------------------------------------------------ handlers
    def _prepare(self, audio, refs_paths, model, keep, progress):
        if not self.models:
            self.scan_models()
            if not self.models:
                raise SepvizInputError(self.no_models_message())
        if not audio:
            raise SepvizInputError("Upload or record a mixture first, or pick an example.")
        audio, refs_paths = self.readable(audio), [self.readable(p) for p in refs_paths]
        _progress(progress, 0.05, "Loading the audio and running the network")
        emb, emb_key, cached = self.get_embedding(audio, model, keep)
        refs, refs_key = self.get_references(list(refs_paths), emb)
        return emb, emb_key, cached, refs, refs_key

    def separate(self, audio, ref1, ref2, ref3, model, clusterer, n_speakers, beta, projection, color_by,
                 keep, n_points, t_from, t_to, weighting="auto", tracking="model", move_which="1", move_x=0.0,
                 move_y=0.0, progress=gr.Progress()):
        """Main handler: (status, voice 1-3, zip of the voices, embedding, spectrograms, masks, metrics,
        report, results panel).  Raises on a bad input (:meth:`separate_ui` shows it instead)."""
        t0 = time.perf_counter()
        trange = self.time_range(t_from, t_to)
        emb, emb_key, cached, refs, refs_key = self._prepare(audio, (ref1, ref2, ref3), model, keep, progress)
        t1 = time.perf_counter()
        _progress(progress, 0.4, "Finding the voices")
        sep, key = self.get_separation(emb, emb_key, clusterer, n_speakers, beta, refs, refs_key, weighting, tracking)
        sep, key, moved = self.moved(sep, key, emb, emb_key, projection, n_points, trange, move_which, move_x, move_y)
        paths, zpath, scale = self.voice_files(sep, key)
        t2 = time.perf_counter()
        _progress(progress, 0.7, "Drawing")
        ev = self.get_metrics(sep, key, refs, refs_key)
        figs = self.figures(sep, emb, emb_key, refs, refs_key, projection, color_by, n_points, trange)
        t3 = time.perf_counter()
        report = self.make_report(sep, model or self.default_model, n_speakers, cached=cached, scale=scale,
                                  has_refs=refs is not None, metrics=ev,
                                  timings={"network": 0.0 if cached else emb.timings.get("network", 0.0),
                                           "load_and_embed": t1 - t0, "cluster_and_masks": t2 - t1,
                                           "plots": t3 - t2, "total": t3 - t0})
        voices = []
        for i in range(MAX_VOICES):
            if i < len(paths):
                voices.append(gr.update(value=paths[i], visible=True, label=voice_label(i, sep.energies_db[i])))
            else:
                voices.append(gr.update(value=None, visible=False))
        if moved:
            report["moved_attractor"] = {"attractor": int(move_which), "pc1": float(move_x), "pc2": float(move_y)}
        status = self.status_text(report, sep, projection) + (f"\n\n↔ {moved}" if moved else "")
        return (status, *voices, gr.update(value=zpath, visible=True),
                *figs, metrics_markdown(ev), report, *Studio.stale(), gr.update(visible=True))

    def export_embeddings(self, audio, ref1, ref2, ref3, model, clusterer, n_speakers, beta, projection, keep,
                          n_points, t_from, t_to, weighting="auto", tracking="model", move_which="1", move_x=0.0,
                          move_y=0.0, progress=gr.Progress()):
        """The embeddings of the bins the cloud shows, with time, frequency, power, assigned voice
        (and true voice with references): ``(projector zip, npz)`` paths (:mod:`sepviz.export`)."""
        trange = self.time_range(t_from, t_to)
        emb, emb_key, _, refs, refs_key = self._prepare(audio, (ref1, ref2, ref3), model, keep, progress)
        sep, key = self.get_separation(emb, emb_key, clusterer, n_speakers, beta, refs, refs_key, weighting, tracking)
        sep, key, _ = self.moved(sep, key, emb, emb_key, projection, n_points, trange, move_which, move_x, move_y)
        cloud = self.get_cloud(emb, emb_key, projection, n_points, trange)
        truth = self.true_labels(emb, emb_key, refs, refs_key) if refs is not None else None
        table = export.bins_table(emb.v.numpy(), cloud.index, emb.mag.numpy(), sep.assignment,
                                  true_assignment=truth, **self._grid_kw(emb))
        folder = self.work_dir / hashlib.sha1(repr((key, refs_key, projection, n_points, trange)).encode()).hexdigest()[:16]
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for name, write in (("embeddings_projector.zip", export.write_projector_zip), ("embeddings.npz", export.write_npz)):
            # written aside and moved in place: a concurrent request never serves a half-written file
            tmp = folder / f".{name}.{os.getpid()}.{threading.get_ident()}.part"
            write(table, tmp)
            tmp.replace(folder / name)
            out.append(str(folder / name))
        return out[0], out[1]

    def export_ui(self, *args, progress=gr.Progress()):
        """:meth:`export_embeddings` for the page: the two files, or one notice saying why not."""
        try:
            return gr.update(value=list(self.export_embeddings(*args, progress=progress)), visible=True)
        except Exception as err:  # noqa: BLE001 - every failure is shown, in words
            notice(err)
            return gr.update(value=None, visible=False)

    def api_export(self, audio, model=None, clusterer=DEFAULT_CLUSTERER, n_speakers="2", ref1=None, ref2=None,
                   ref3=None, projection="PCA 2D", n_points=viz.DEFAULT_POINTS):
        """API: the export of :meth:`export_embeddings` with the studio's default settings."""
        if not audio:
            raise SepvizInputError("send an audio file")
        return self.export_embeddings(audio, ref1, ref2, ref3, model or self.default_model,
                                      clusterer or DEFAULT_CLUSTERER, n_speakers or "2", 10.0,
                                      projection or "PCA 2D", None, n_points or viz.DEFAULT_POINTS, 0, 0,
                                      progress=None)

    @staticmethod
    def parse_selection(text) -> dict:
        """The page's selection (:data:`SELECTION_JS`): ``{"source": "cloud", "bins": [...], "lasso":
        [[x, y]...] | None, "box": [[x0, x1], [y0, y1]] | None}`` or ``{"source": "spectrogram",
        "box": [[t0, t1], [f0, f1]]}``."""
        import json

        try:
            sel = json.loads(text) if isinstance(text, str) else text
        except ValueError:
            sel = None
        if not isinstance(sel, dict) or sel.get("source") not in ("cloud", "spectrogram"):
            raise SepvizInputError("the selection could not be read: draw it again")
        for k in ("lasso", "box"):
            v = sel.get(k)
            if v is not None and not (isinstance(v, list) and all(isinstance(p, list) and len(p) == 2 for p in v)):
                raise SepvizInputError(f"the selection's {k} could not be read: draw it again")
        if sel["source"] == "spectrogram" and not sel.get("box"):
            raise SepvizInputError("drag a box on the mixture's spectrogram to select a time-frequency rectangle")
        return sel

    def listen_selection(self, text, audio, ref1, ref2, ref3, model, clusterer, n_speakers, beta, projection,
                         color_by, keep, n_points, t_from, t_to, weighting="auto", tracking="model", move_which="1",
                         move_x=0.0, move_y=0.0):
        """A selection on the page: the selected bins alone as sound (a mask of the selection on the
        mixture's STFT, the mixture's phase), lit on the spectrogram and ringed in the cloud.
        Returns (selection audio, note, cloud, spectrograms); the cloud is left as drawn when the
        selection was made in it (a redraw would drop plotly's own selection)."""
        from sepviz.separate import listen_to_bins

        sel = self.parse_selection(text)
        trange = self.time_range(t_from, t_to)
        emb, emb_key, _, refs, refs_key = self._prepare(audio, (ref1, ref2, ref3), model, keep, None)
        sep, key = self.get_separation(emb, emb_key, clusterer, n_speakers, beta, refs, refs_key, weighting, tracking)
        sep, key, _ = self.moved(sep, key, emb, emb_key, projection, n_points, trange, move_which, move_x, move_y)
        cloud = self.get_cloud(emb, emb_key, projection, n_points, trange)
        grid = self._grid_kw(emb)
        t, f = emb.spec.shape
        lo, hi = viz.frame_window(t, grid["seconds_per_frame"], trange)
        region = sel.get("lasso") or sel.get("box")
        if sel["source"] == "spectrogram":
            (t0, t1), (f0, f1) = sel["box"]
            mask = selection.rectangle_mask((t, f), (t0, t1), (f0, f1), **grid)
            mask[:lo], mask[hi:] = False, False
            how = f"the rectangle {min(t0, t1):.2f}-{max(t0, t1):.2f} s, {min(f0, f1):.0f}-{max(f0, f1):.0f} Hz"
        elif region and cloud.projector.linear and cloud.coords.shape[1] == 2:
            mask = selection.region_mask(emb.v.numpy(), cloud.projector, lasso=sel.get("lasso"),
                                         box=None if sel.get("lasso") else sel.get("box"), frames=(lo, hi))
            how = "every bin whose embedding falls inside the drawn region, shown or not"
        else:
            mask = selection.bins_mask((t, f), sel.get("bins") or [])
            how = "the picked dots only (UMAP places only the bins it shows)"
        if not mask.any():
            return (gr.update(value=None, visible=False), "Nothing selected: draw the lasso or box around some dots "
                    "(or, on the spectrogram, around some sound).", gr.skip(), gr.skip())
        wave = listen_to_bins(emb, mask)
        import soundfile as sf

        folder = self.work_dir / hashlib.sha1(repr(key).encode() + np.packbits(mask).tobytes()).hexdigest()[:16]
        path = folder / "selection.wav"
        if not path.is_file():
            self._prune_work_dir()
            folder.mkdir(parents=True, exist_ok=True)
            peak = float(np.max(np.abs(wave))) if len(wave) else 0.0
            tmp = folder / f".selection.{os.getpid()}.{threading.get_ident()}.part.wav"
            sf.write(tmp, wave / peak if peak > 1.0 else wave, emb.input_sr, subtype="PCM_16")
            tmp.replace(path)
        energy = emb.mag.numpy() ** 2
        share = 100 * float(energy[mask].sum() / max(energy.sum(), 1e-20))
        owners = np.bincount(sep.assignment[mask].reshape(-1), minlength=sep.n_speakers)
        top = int(owners.argmax())
        note = (f"**{int(mask.sum()):,} bins selected** ({how}): {share:.1f} % of the mixture's energy; "
                f"{100 * owners[top] / owners.sum():.0f} % of them go to voice {top + 1}.")
        emb_fig, spec_fig, _ = self.figures(sep, emb, emb_key, refs, refs_key, projection, color_by, n_points, trange,
                                            lit=mask)
        return (gr.update(value=str(path), visible=True), note,
                emb_fig if sel["source"] == "spectrogram" else gr.skip(), spec_fig)

    def selection_ui(self, *args):
        """:meth:`listen_selection` for the page: a failure says why (the note, one notice)."""
        try:
            return self.listen_selection(*args)
        except Exception as err:  # noqa: BLE001 - every failure is shown, in words
            return gr.update(value=None, visible=False), f"⚠️ {notice(err)}", gr.skip(), gr.skip()

    def status_text(self, report: dict, sep, projection) -> str:
        """The status line: what was found, how long it took, and the report's warnings."""
        t = report["timings_s"]
        net = "the network's output was reused" if report["network_cached"] else f"network {t.get('network', 0.0):.2f} s"
        status = [f"**{sep.n_speakers} voices** from {report['audio']['seconds']:.1f} s of audio, found by "
                  f"{report['clusterer_label']} with the model {self.model_label(report['model'])}",
                  f"took {t['total']:.2f} s ({net}, finding the voices {t['cluster_and_masks']:.2f} s, "
                  f"drawing {t['plots']:.2f} s)"]
        tracked = sep.embedding.model.config.tracking(sep.n_speakers)
        if sep.attractor_tracks is not None and tracked is not None:
            span = (2 * tracked.frames + 1) * sep.embedding.stft_config.hop_length / sep.embedding.stft_config.sample_rate
            status.append(f"attractors follow the talkers ({span:.2f} s windows): the lines in the cloud are the "
                          "paths they take, ◆ where they sit on average")
        status += [f"⚠️ {w['message']}" for w in report["warnings"]]
        if str(projection).startswith("UMAP") and self._warming and not self.umap_ready.is_set():
            status.append("UMAP is slow the first time after the server starts (it is being prepared); later "
                          "pictures are fast.")
        if "note" in report["talkers"]:
            status.append(f"auto: {report['talkers']['note']}")
        return "\n\n".join(status)

    @staticmethod
    def stale() -> tuple:
        """The panels made from a previous result on request (the export), emptied: a new result
        or an error makes them stale."""
        return (gr.update(value=None, visible=False), gr.update(value=None, visible=False), SELECTION_HELP)

    @staticmethod
    def cleared(status: str = INTRO) -> tuple:
        """The main outputs with no result: ``status`` alone, every result panel emptied and hidden."""
        voices = [gr.update(value=None, visible=i < 2) for i in range(MAX_VOICES)]
        return (status, *voices, gr.update(value=None, visible=False), None, None, None, "", None,
                *Studio.stale(), gr.update(visible=False))

    def separate_ui(self, audio, ref1, ref2, ref3, model, clusterer, n_speakers, beta, projection, color_by,
                    keep, n_points, t_from, t_to, weighting="auto", tracking="model", move_which="1", move_x=0.0,
                    move_y=0.0, progress=gr.Progress()):
        """:meth:`separate` for the page: a bad input clears the old results and says why (status, one notice)."""
        try:
            return self.separate(audio, ref1, ref2, ref3, model, clusterer, n_speakers, beta, projection, color_by,
                                 keep, n_points, t_from, t_to, weighting, tracking, move_which, move_x, move_y, progress=progress)
        except Exception as err:  # noqa: BLE001 - every failure is shown, in words
            return self.cleared(f"⚠️ {notice(err)}")

    def refresh(self, audio, ref1, ref2, ref3, model, clusterer, n_speakers, beta, projection, color_by,
                keep, n_points, t_from, t_to, weighting="auto", tracking="model", move_which="1", move_x=0.0,
                move_y=0.0):
        """Re-run on a control change, but only when there is something to separate."""
        if not audio:
            return tuple(gr.skip() for _ in range(N_MAIN_OUTPUTS))
        return self.separate_ui(audio, ref1, ref2, ref3, model, clusterer, n_speakers, beta, projection, color_by,
                                keep, n_points, t_from, t_to, weighting, tracking, move_which, move_x, move_y, progress=None)

    def clusterer_choices(self, model_name, has_refs: bool, current, selected) -> tuple[dict, dict]:
        """Updates of the clusterer menu and the Compare tab's ticks for a model, with or without
        references (the oracle needs them): the current choices are kept where still offered."""
        names = self.clusterers_for(model_name, has_refs) if self.models else ["kmeans"]
        choices = [(CLUSTERER_LABELS[c], c) for c in names]
        sel = [c for c in (selected or []) if c in names] or [c for c in ("kmeans", "gmm") if c in names]
        value = current if current in names else (DEFAULT_CLUSTERER if DEFAULT_CLUSTERER in names else names[0])
        return gr.update(choices=choices, value=value), gr.update(choices=choices, value=sel)

    def new_audio(self, audio, model, clusterer, selected, n_speakers, beta, projection, color_by, keep, n_points,
                  t_from, t_to, weighting="auto", tracking="model", move_which="1", move_x=0.0,
                  move_y=0.0, progress=gr.Progress()):
        """A new upload or recording: the example and references no longer apply; separate at once.
        Returns (example, s1-s3, example note, clusterer menu, Compare ticks, *main outputs)."""
        menu, ticks = self.clusterer_choices(model, False, clusterer, selected)
        return ("", None, None, None, gr.update(value="", visible=False), menu, ticks,
                *self.separate_ui(audio, None, None, None, model, menu["value"], n_speakers, beta, projection,
                                  color_by, keep, n_points, t_from, t_to, weighting, tracking, move_which, move_x, move_y, progress=progress))

    def pick_example(self, name, model, clusterer, selected, beta, projection, color_by, keep, n_points, t_from,
                     t_to, weighting="auto", tracking="model", move_which="1", move_x=0.0,
                     move_y=0.0, progress=gr.Progress()):
        """The example menu: fill the mixture, its references and its number of talkers, and separate.
        Returns (mixture, s1-s3, talkers, example note, clusterer menu, Compare ticks, *main outputs)."""
        if not name:
            return (gr.skip(),) * (8 + N_MAIN_OUTPUTS)
        try:
            mix, r1, r2, r3, n, info = self.load_example(name)
        except Exception as err:  # noqa: BLE001
            return (*(gr.skip(),) * 8, *self.cleared(f"⚠️ {notice(err)}"))
        menu, ticks = self.clusterer_choices(model, True, clusterer, selected)
        return (mix, r1, r2, r3, n, gr.update(value=info, visible=True), menu, ticks,
                *self.separate_ui(mix, r1, r2, r3, model, menu["value"], n, beta, projection, color_by, keep,
                                  n_points, t_from, t_to, weighting, tracking, move_which, move_x, move_y, progress=progress))

    def compare(self, audio, ref1, ref2, ref3, model, clusterers, n_speakers, beta, projection, keep, n_points,
                t_from, t_to, weighting="auto", tracking="model", progress=gr.Progress()):
        """Compare tab: (grid figure, center-mismatch figure, summary markdown)."""
        trange = self.time_range(t_from, t_to)
        clusterers = [c for c in (clusterers or []) if c]
        if not clusterers:
            raise SepvizInputError("tick at least one clusterer to compare")
        emb, emb_key, _, refs, refs_key = self._prepare(audio, (ref1, ref2, ref3), model, keep, progress)
        cloud = self.get_cloud(emb, emb_key, projection, n_points, trange)
        items, estimates, rows = [], {}, []
        for j, name in enumerate(clusterers):
            _progress(progress, 0.2 + 0.6 * j / len(clusterers), f"Clustering ({name})")
            sep, key = self.get_separation(emb, emb_key, name, n_speakers, beta, refs, refs_key, weighting, tracking)
            dt = sep.timings.get("cluster", 0.0) + sep.timings.get("masks_istft", 0.0)
            ev = self.get_metrics(sep, key, refs, refs_key)
            ex = sep.cluster.extras or {}
            items.append(viz.CompareItem(CLUSTERER_LABELS.get(name, name), cloud.take(sep.assignment), sep.attractors,
                                         sep.masks, score=ev["means"]["si_snri"] if ev else None,
                                         anchors=ex.get("anchors"), chosen=ex.get("chosen"),
                                         gmm=ex if name.startswith("gmm") and "covariances" in ex else None))
            estimates[name] = sep.attractors
            rows.append((name, ev["means"]["si_snri"] if ev else None, dt, sep.n_speakers))
        _progress(progress, 0.85, "Plotting")
        grid = viz.compare_figure(cloud, items, emb.mag.numpy(), time_range=trange,
                                  title=f"Same embeddings, {len(items)} clusterers · {projection}")
        mismatch_fig, dist = None, {}
        if refs is not None:
            oracle, _ = self.get_separation(emb, emb_key, "oracle", len(refs), beta, refs, refs_key)
            est = {CLUSTERER_LABELS.get(k, k): v for k, v in estimates.items() if k != "oracle"}
            mismatch_fig, dist = viz.center_mismatch_figure(
                cloud, oracle.attractors, est, true_labels=cloud.take(self.true_labels(emb, emb_key, refs, refs_key)),
                points=emb.v.numpy().reshape(-1, emb.v.shape[-1])[cloud.index])
        lines = ["| clusterer | speakers | SI-SNRi (dB) | distance to ideal attractors | cluster + masks (s) |", "|---|---|---|---|---|"]
        for name, score, dt, c in rows:
            d = dist.get(CLUSTERER_LABELS.get(name, name))
            lines.append(f"| {CLUSTERER_LABELS.get(name, name)} | {c} | {'' if score is None else f'{score:.1f}'} | "
                         f"{'' if d is None else f'{d:.3f}'} | {dt:.2f} |")
        lines.append("\n*SI-SNRi*: how many dB clearer the voices are than the mixture (higher is better). "
                     "*Distance to ideal attractors*: how far each clusterer's talker centres land from those the "
                     "isolated sources give (lower is better).")
        if refs is None:
            lines.append("\n*Give the references (or pick an example) for SI-SNRi and the center-mismatch view.*")
        return grid, mismatch_fig, "\n".join(lines)

    def compare_ui(self, audio, ref1, ref2, ref3, model, clusterers, n_speakers, beta, projection, keep, n_points,
                   t_from, t_to, weighting="auto", tracking="model", progress=gr.Progress()):
        """:meth:`compare` for the page: the figures shown once there are some; a bad input clears
        them and says why (the table, one notice)."""
        try:
            grid, mismatch, table = self.compare(audio, ref1, ref2, ref3, model, clusterers, n_speakers, beta,
                                                 projection, keep, n_points, t_from, t_to, weighting, tracking,
                                                 progress=progress)
        except Exception as err:  # noqa: BLE001
            return gr.update(value=None, visible=False), gr.update(value=None, visible=False), f"⚠️ {notice(err)}"
        return (gr.update(value=grid, visible=True), gr.update(value=mismatch, visible=mismatch is not None), table)

    def load_example(self, name):
        """Example menu: the mixture, the references and the number of talkers (by name only)."""
        ex = self.examples.get(name)
        if ex is None:
            raise SepvizInputError(f"unknown example {name!r}")
        refs = [str(p) for p in ex.sources] + [None] * (MAX_VOICES - len(ex.sources))
        return (str(ex.mix), *refs, str(ex.n_speakers), f"*{ex.description}*")

    def atlas_ui(self, model, dims_label, color_by, progress=gr.Progress()):
        """:meth:`atlas` for the page: the figure shown once drawn; a failure says why in one notice."""
        try:
            return gr.update(value=self.atlas(model, dims_label, color_by, progress=progress), visible=True)
        except Exception as err:  # noqa: BLE001
            notice(err)
            return gr.update(value=None, visible=False)

    def atlas(self, model, dims_label, color_by, progress=gr.Progress()):
        """Teaching tab: oracle attractors of many mixtures in one PCA (cached per model)."""
        from sepviz.separate import separate_embedding

        model_obj = self.get_model(model)
        mpath = self.models[model or self.default_model]
        key = (str(mpath), mpath.stat().st_mtime)
        with self._lock:
            items = self._atlas.get_(key)
        if items is None:
            exs = list_atlas_examples() if self.include_fsdd else list(self.examples.values())
            if not exs:
                raise SepvizInputError("no examples to draw: add some with scripts/make_examples.py")
            items = []
            for i, ex in enumerate(exs):
                _progress(progress, i / len(exs), f"Attractors of {ex.name}")
                try:
                    emb, _, _ = self.get_embedding(str(ex.mix), model, None)
                    refs = ex.load_references(emb.stft_config.sample_rate)
                    refs = [np.pad(r, (0, max(0, len(emb.wave) - len(r))))[: len(emb.wave)] for r in refs]
                    sep = separate_embedding(emb, "oracle", len(refs), references=refs)
                except SepvizError as err:
                    log.warning("atlas: skipping %s (%s)", ex.name, err)
                    continue
                items.append((ex, sep.attractors))
            with self._lock:
                self._atlas.put(key, items)
        del model_obj
        dims = 3 if "3" in str(dims_label) else 2
        if color_by == "mixture":
            atlas_items = [viz.AtlasItem(ex.name, a, [ex.name] * len(a)) for ex, a in items]
        elif color_by == "gender":
            atlas_items = [viz.AtlasItem(ex.name, a, ex.labels) for ex, a in items]
        else:
            atlas_items = [viz.AtlasItem(ex.name, a, [str(s) for s in (ex.meta.get("speakers") or ex.labels)])
                           for ex, a in items]
        fig, _ = viz.attractor_atlas_figure(atlas_items, dims=dims,
                                            title=f"Oracle attractors of {len(items)} mixtures in one PCA · model "
                                                  f"{model or self.default_model}")
        return fig

    def api_separate(self, audio, model=None, clusterer=DEFAULT_CLUSTERER, n_speakers="2"):
        """API: one audio file in; voices 1-3 (unused ones None) and the report (:meth:`make_report`) out."""
        t0 = time.perf_counter()
        if not audio:
            raise SepvizInputError("send an audio file")
        audio = self.readable(audio)
        model = model or self.default_model
        emb, emb_key, cached = self.get_embedding(audio, model, None)
        t1 = time.perf_counter()
        sep, key = self.get_separation(emb, emb_key, clusterer or DEFAULT_CLUSTERER, n_speakers or "2", 10.0, None, None)
        paths, _, scale = self.voice_files(sep, key)
        t2 = time.perf_counter()
        report = self.make_report(sep, model, n_speakers or "2", cached=cached, scale=scale,
                                  timings={"network": 0.0 if cached else emb.timings.get("network", 0.0),
                                           "load_and_embed": t1 - t0, "cluster_and_masks": t2 - t1, "total": t2 - t0})
        return (*(paths[i] if i < len(paths) else None for i in range(MAX_VOICES)), report)

    # ------------------------------------------------------------------ warm-up
    def warm_up(self, umap: bool = True) -> None:
        """Run in a background thread: imports, sklearn's k-means, numba's UMAP JIT (~5-15 s)."""
        self._warming = True
        try:
            from sklearn.cluster import KMeans

            KMeans(2, n_init=1, random_state=0).fit(np.random.default_rng(0).normal(size=(200, 4)))
            from sepviz.separate import embed

            if self.models:  # the first forward pass of a model is slow (allocator, kernels): do it now
                noise = np.random.default_rng(0).normal(size=8000).astype(np.float32) * 0.1
                embed(noise, 8000, self.get_model(None))
            if umap:
                viz.warm_up_umap()
        except Exception:  # noqa: BLE001 - warm-up is best effort
            log.exception("warm-up failed")
        finally:
            self.umap_ready.set()


def _progress(progress, frac: float, desc: str) -> None:
    try:
        if progress is not None:
            progress(frac, desc=desc)
    except Exception:  # noqa: BLE001 - outside a Gradio request the tracker may be unavailable
        pass


# ---------------------------------------------------------------------------- teaching text
TEACH = {
    "embedding": """### Embeddings
The network looks at the whole spectrogram and gives **every time-frequency bin a point in a
K-dimensional space** (K = 20 here). It is trained so that bins dominated by the same talker land
close together and bins of different talkers land far apart. The studio shows a few thousand bins,
projected to 2-D or 3-D with **PCA** (a linear map: distances and covariances stay meaningful) or
**UMAP** (non-linear: neighbourhoods are kept, distances are not).""",
    "attractor": """### Attractors
An **attractor** is the centre of one talker's bins in the embedding space, a point that
"pulls" that talker's bins. During training the network is given the true assignment (the
*ideal* attractors); at test time the attractors are **estimated**: k-means, the GMM and soft
k-means group the bins by the **direction** of their embeddings (a vector's length mostly
follows loudness, its direction the talker), and each group's attractor is the mean of its
embeddings, as in training. k-means and soft k-means let **loud bins count more** (weight
log(1 + loudness / median)): the quality measures are energy-weighted, and quiet bins carry
noisy embeddings. Each bin then goes to the attractor it is most similar to (dot
product), and the mismatch between estimated and ideal attractors (the **center mismatch**,
Compare tab) costs quality.""",
    "anchors": """### ADANet anchors
The Anchored DANet learns **N anchor points** during training. For a new mixture it tries every
subset of C anchors, lets each anchor gather the bins near it, and keeps the subset whose
attractors are **least similar to each other** (the most distinct talkers). No clustering is run
at test time; the chosen anchors are highlighted with a star.

**DEF mask head** (deep-clustering embeddings + uPIT, DEF checkpoints only): a small layer reads
each bin's embedding and gives one mask per output directly, trained with utterance-level
permutation-invariant training. Nothing is clustered; the points drawn as its attractors are the
mask-weighted mean embeddings, to show where each output sits in the cloud.""",
    "gmm": """### GMM ellipses
The BGRU+GMM DANet fits a **Gaussian mixture** to the embeddings (here to their directions,
started from the k-means partition): each talker is a mean (the attractor) and a full covariance
(the spread of its bins, drawn from the embeddings each component claims). With PCA, a Gaussian projects
exactly: mean `W μ`, covariance `W Σ Wᵀ`, drawn as its **1-σ (solid) and 2-σ (dashed) ellipses**
(ellipsoid wireframes in 3-D). A 1-σ ellipse of a 2-D Gaussian holds ~39 % of its points, a 2-σ
one ~86 %. UMAP is non-linear, so there no ellipses are drawn.
With a covariance per talker, one broad component can swallow both talkers while the other
shrinks onto a tight core; **GMM (tied)** shares one full covariance between the talkers, which
keeps the components alike in shape (its ellipses still show the spread of each talker's bins).""",
    "mask": """### Masks
A **mask** says, for each time-frequency bin, which share of the mixture belongs to a voice
(0-100 %). DANet computes it as the softmax over talkers of the similarity between the bin's
embedding and each attractor, so the masks of all voices add up to one. A voice is the mixture's
spectrogram times its mask, turned back into sound with the mixture's phase.""",
    "atlas": """### Attractors of many mixtures
DANet's paper (Fig. 5) plots the attractors of many mixtures together: if the embedding space
is well organised, attractors of similar voices (same speaker, or same gender) land in the same
regions. Here each mixture's **oracle attractors** (centroids of its reference bins) are projected
with **one PCA**; grey segments join the attractors of the same mixture.""",
}


# ---------------------------------------------------------------------------- layout
def build_demo(studio: Studio) -> gr.Blocks:
    models = list(studio.models)
    default = studio.default_model
    has_examples = bool(studio.examples)
    clusterers0 = studio.clusterers_for(default, False) if models else ["kmeans", "gmm", "gmm_tied", "soft_kmeans"]
    keep0 = float(studio.get_model(default).config.keep) if models else 0.9
    toys = viz.toy_figures()

    with StudioBlocks(title="sepviz studio", delete_cache=(1800, 3600), fill_width=True) as demo:
        gr.Markdown("# sepviz studio\nHear and see how a **Deep Attractor Network** pulls 2-3 talkers apart: "
                    "the voices, and inside the network, embeddings, attractors and masks.", elem_id="sv-title")
        if not models:
            gr.Markdown(f"> ⚠️ {studio.no_models_message()}")
        with gr.Row(equal_height=False):
            # ---------------- left: the input, the three main choices, the button; the rest folded away
            with gr.Column(scale=2, min_width=360):
                audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Mixture (2-3 talkers)",
                                 elem_id="sv-audio")
                example = gr.Dropdown(choices=[("…or pick an example", "")] + [(e.name, e.name)
                                                                                for e in studio.examples.values()],
                                      value="", show_label=False, label="Example", visible=has_examples,
                                      elem_id="sv-example")
                example_info = gr.Markdown("", elem_classes="sv-help", visible=False)
                clusterer0 = DEFAULT_CLUSTERER if DEFAULT_CLUSTERER in clusterers0 else clusterers0[0]
                model = gr.Dropdown(choices=[(studio.model_label(m), m) for m in models], value=default,
                                    label="Model", elem_id="sv-model")
                with gr.Row():
                    clusterer = gr.Dropdown(choices=[(CLUSTERER_LABELS[c], c) for c in clusterers0], value=clusterer0,
                                            label="Clusterer", elem_id="sv-clusterer", min_width=150)
                    n_speakers = gr.Dropdown([("2", "2"), ("3", "3"), ("auto (count them)", "auto")], value="2",
                                             label="Talkers", elem_id="sv-talkers", min_width=150)
                run = gr.Button("Separate", variant="primary", elem_id="sv-run")
                with gr.Accordion("References (optional)", open=False):
                    gr.Markdown("The isolated sources of this mixture: they enable the oracle clusterer, the "
                                "metrics and the true-speaker colours.", elem_classes="sv-help")
                    refs = [gr.Audio(sources=["upload"], type="filepath", label=f"s{i + 1}", elem_id=f"sv-ref{i + 1}")
                            for i in range(MAX_VOICES)]
                with gr.Accordion("Model card", open=False):
                    card = gr.Markdown(studio.model_card(default), elem_classes="sv-card")
                    rescan = gr.Button("↻ Look for new checkpoints", size="sm")
                with gr.Accordion("Advanced", open=False, elem_id="sv-advanced"):
                    beta = gr.Slider(1, 50, value=10, step=1, label="soft k-means stiffness β",
                                     visible=clusterer0 == "soft_kmeans")
                    fit_weighting = gr.Radio(FIT_WEIGHTING_CHOICES, value="auto",
                                             label="Loud bins count more in the fit",
                                             info="k-means, soft k-means, tied GMM: weight each bin by "
                                                  "log(1 + loudness)", elem_id="sv-loud")
                    tracking = gr.Radio(TRACKING_CHOICES, value="model", label="Attractors follow the talkers over time",
                                        info="each talker's attractor moves with a short window of its bins "
                                             "(the model card says how long)", elem_id="sv-track")
                    projection = gr.Radio(PROJECTIONS, value="PCA 2D", label="Projection", elem_id="sv-projection")
                    color_by = gr.Radio(COLOR_BY, value="assigned speaker", label="Colour bins by")
                    keep = gr.Slider(0.3, 1.0, value=keep0, step=0.05, label="Salient bins kept (fraction)",
                                     info="bins used to estimate attractors; default from the model")
                    n_points = gr.Slider(500, viz.MAX_POINTS, value=viz.DEFAULT_POINTS, step=500,
                                         label="Bins to plot", info=f"UMAP uses at most {viz.UMAP_MAX_POINTS}")
                    with gr.Row():
                        t_from = gr.Number(0, label="from (s)", minimum=0, elem_id="sv-from")
                        t_to = gr.Number(0, label="to (s), 0 = end", minimum=0, elem_id="sv-to")

            # ---------------- right: tabs; results stay hidden until there are some
            with gr.Column(scale=5):
                with gr.Tabs():
                    with gr.Tab("Separate", id="separate"):
                        status = gr.Markdown(INTRO, elem_classes="sv-status", elem_id="sv-status")
                        with gr.Column(visible=False, elem_id="sv-results") as results:
                            with gr.Row():
                                voices = [gr.Audio(label=f"Voice {i + 1}", type="filepath", interactive=False,
                                                   visible=i < 2, buttons=["download"], elem_id=f"sv-voice{i + 1}")
                                          for i in range(MAX_VOICES)]
                            zip_btn = gr.DownloadButton("Download all voices (.zip)", visible=False, size="sm",
                                                        elem_id="sv-zip")
                            emb_plot = gr.Plot(label="Embedding cloud", elem_id="sv-embedding")
                            gr.Markdown("Each dot is one time-frequency bin's embedding; ◆ are the attractors, lines "
                                        "their paths when they follow the talkers; ☆ ADANet "
                                        "anchors (★ chosen); ellipses are GMM components (1σ solid, 2σ dashed). "
                                        "See the Teaching tab.", elem_classes="sv-help")
                            with gr.Row(equal_height=False):
                                sel_note = gr.Markdown(SELECTION_HELP, elem_classes="sv-help", elem_id="sv-sel-note")
                                sel_audio = gr.Audio(label="The selected bins alone", type="filepath",
                                                     interactive=False, visible=False, buttons=["download"],
                                                     elem_id="sv-sel-audio")
                            sel_box = gr.Textbox(elem_id="sv-selection", elem_classes="sv-hidden", show_label=False,
                                                 container=False)
                            sel_go = gr.Button("selection", elem_id="sv-sel-go", elem_classes="sv-hidden")
                            with gr.Row():
                                export_btn = gr.Button("Export these bins' embeddings", size="sm", scale=0,
                                                       min_width=260, elem_id="sv-export")
                                gr.Markdown("For the TensorBoard Embedding Projector (projector.tensorflow.org: "
                                            "*Load* vectors.tsv and metadata.tsv from the zip) and for numpy "
                                            "(.npz): each bin's embedding with its time, frequency, power, voice "
                                            "and, with references, true voice.", elem_classes="sv-help")
                            with gr.Group(elem_id="sv-move"):
                                with gr.Row(equal_height=False):
                                    move_which = gr.Radio(["1", "2", "3"], value="1", label="Move attractor",
                                                          min_width=140, elem_id="sv-move-which")
                                    move_x = gr.Slider(-3, 3, value=0, step=0.1, label="along PC1",
                                                       elem_id="sv-move-x", min_width=160)
                                    move_y = gr.Slider(-3, 3, value=0, step=0.1, label="along PC2",
                                                       elem_id="sv-move-y", min_width=160)
                                    move_reset = gr.Button("Put it back", size="sm", scale=0, min_width=110,
                                                           elem_id="sv-move-reset")
                                gr.Markdown("Move one attractor through the cloud (in spreads of the bins along the "
                                            "first two principal axes) and hear its voice change: the masks are "
                                            "recomputed from the stored embeddings, the network does not run again.",
                                            elem_classes="sv-help")
                            export_files = gr.File(label="Embeddings", file_count="multiple", visible=False,
                                                   interactive=False, elem_id="sv-export-files")
                            metrics = gr.Markdown("")
                            spec_plot = gr.Plot(label="Spectrograms", elem_id="sv-spectrograms")
                            mask_plot = gr.Plot(label="Masks", elem_id="sv-masks")
                            with gr.Accordion("Report (as the API returns it)", open=False):
                                report = gr.JSON(elem_id="sv-report")
                    with gr.Tab("Compare", id="compare"):
                        gr.Markdown("Run several clusterers on the **same cached embeddings** (the network runs once). "
                                    "With references, the *center mismatch* plot shows how far each estimate lands "
                                    "from the ideal (oracle) attractors.", elem_classes="sv-help")
                        with gr.Row():
                            compare_set = gr.CheckboxGroup(
                                choices=[(CLUSTERER_LABELS[c], c) for c in clusterers0],
                                value=[c for c in ("kmeans", "gmm", "gmm_tied", "soft_kmeans", "anchors") if c in clusterers0],
                                label="Clusterers", scale=4)
                            compare_btn = gr.Button("Compare", variant="primary", scale=1, elem_id="sv-compare")
                        compare_table = gr.Markdown("")
                        compare_plot = gr.Plot(label="Clusterers side by side", elem_id="sv-compare-grid", visible=False)
                        mismatch_plot = gr.Plot(label="Center mismatch", elem_id="sv-mismatch", visible=False)
                    with gr.Tab("Teaching", id="teaching"):
                        for k in ("embedding", "attractor", "anchors", "gmm", "mask"):
                            with gr.Row(equal_height=False):
                                with gr.Column(scale=2, min_width=260):
                                    gr.Markdown(TEACH[k])
                                with gr.Column(scale=3):
                                    gr.Plot(value=toys[k], show_label=False)
                        with gr.Row(equal_height=False):
                            with gr.Column(scale=2, min_width=260):
                                gr.Markdown(TEACH["atlas"])
                                atlas_dims = gr.Radio(["2D", "3D"], value="2D", label="Atlas projection")
                                atlas_color = gr.Radio(["gender", "speaker", "mixture"], value="gender",
                                                       label="Colour by")
                                atlas_btn = gr.Button("Draw the atlas", variant="primary", elem_id="sv-atlas-btn")
                            with gr.Column(scale=3):
                                atlas_plot = gr.Plot(show_label=False, elem_id="sv-atlas", visible=False)

        # ---------------- hidden API endpoint: /separate (one file in; three voices and the report out)
        with gr.Row(visible=False):
            api_audio = gr.Audio(type="filepath", sources=["upload"], label="audio")
            api_model = gr.Dropdown(choices=models or [""], value=default or "", label="model",
                                    allow_custom_value=True)
            api_clusterer = gr.Dropdown(choices=[c for c in ALL_CLUSTERERS if c != "oracle"], value=DEFAULT_CLUSTERER,
                                        label="clusterer")
            api_n = gr.Dropdown(choices=N_SPEAKERS, value="2", label="n_speakers")
            api_out = [gr.Audio(type="filepath", label=f"voice {i + 1}") for i in range(MAX_VOICES)]
            api_report = gr.JSON(label="report")
            api_btn = gr.Button("api")
        api_btn.click(_close(studio.api_separate), [api_audio, api_model, api_clusterer, api_n], [*api_out, api_report],
                      api_name="separate",
                      api_description="Separate a mixture: returns voices 1-3 (unused ones None) and a JSON report "
                                      "(talkers, voice levels, warnings, model, clusterer, timings)")

        with gr.Row(visible=False):
            api_refs = [gr.Audio(type="filepath", sources=["upload"], label=f"s{i + 1}") for i in range(MAX_VOICES)]
            api_projection = gr.Dropdown(choices=PROJECTIONS, value="PCA 2D", label="projection")
            api_points = gr.Number(viz.DEFAULT_POINTS, label="n_points", precision=0)
            api_export_out = [gr.File(label="projector zip"), gr.File(label="npz")]
            api_export_btn = gr.Button("api export")
        api_export_btn.click(_close(studio.api_export), [api_audio, api_model, api_clusterer, api_n, *api_refs,
                                                          api_projection, api_points], api_export_out,
                             api_name="export_embeddings",
                             api_description="The embeddings of the plotted bins with time, frequency, power, "
                                             "assigned voice (and true voice with references s1-s3): a zip of "
                                             "vectors.tsv + metadata.tsv (TensorBoard Embedding Projector) and "
                                             "an .npz")

        # ---------------- wiring: one event per user action, so a failure says so once
        ui = dict(api_visibility="private")
        rest = [beta, projection, color_by, keep, n_points, t_from, t_to, fit_weighting, tracking, move_which, move_x,
                move_y]
        main_inputs = [audio, *refs, model, clusterer, n_speakers, *rest]
        main_outputs = [status, *voices, zip_btn, emb_plot, spec_plot, mask_plot, metrics, report, export_files,
                        sel_audio, sel_note, results]
        run.click(studio.separate_ui, main_inputs, main_outputs, **ui)
        redo = dict(fn=studio.refresh, inputs=main_inputs, outputs=main_outputs, trigger_mode="always_last",
                    show_progress="minimal", **ui)
        for comp in (clusterer, n_speakers, projection, color_by, fit_weighting, tracking):
            comp.input(**redo)
        for comp in (beta, keep, n_points, move_x, move_y):
            comp.release(**redo)
        move_which.input(**redo)
        move_reset.click(lambda: (0, 0), None, [move_x, move_y], **ui).then(**redo)
        for comp in (t_from, t_to):
            comp.submit(**redo)

        def _choices(model_name, r1, r2, r3, current, selected):
            return studio.clusterer_choices(model_name, sum(bool(r) for r in (r1, r2, r3)) >= 2, current, selected)

        choice_io = dict(inputs=[model, *refs, clusterer, compare_set], outputs=[clusterer, compare_set], **ui)
        for r in refs:  # the user's own uploads only: the example menu sets the choices itself
            r.upload(_choices, **choice_io)
            r.clear(_choices, **choice_io)

        def _model_changed(model_name):
            try:
                k = float(studio.get_model(model_name).config.keep)
            except SepvizError:
                k = 0.9
            return studio.model_card(model_name), k

        model.change(_model_changed, [model], [card, keep], **ui).then(_choices, **choice_io).then(**redo)

        def _rescan(current):
            names = list(studio.scan_models())
            value = current if current in names else studio.default_model
            return gr.update(choices=[(studio.model_label(m), m) for m in names], value=value)

        rescan.click(_rescan, [model], [model], **ui)
        clusterer.change(lambda c: gr.update(visible=c == "soft_kmeans"), [clusterer], [beta], **ui)

        new_io = dict(inputs=[audio, model, clusterer, compare_set, n_speakers, *rest],
                      outputs=[example, *refs, example_info, clusterer, compare_set, *main_outputs], **ui)
        audio.upload(studio.new_audio, **new_io)          # an upload or a recording separates at once
        audio.stop_recording(studio.new_audio, **new_io)
        audio.clear(lambda: ("", *Studio.cleared()), None, [example, *main_outputs], **ui)
        example.input(studio.pick_example, [example, model, clusterer, compare_set, *rest],
                      [audio, *refs, n_speakers, example_info, clusterer, compare_set, *main_outputs], **ui)

        sel_go.click(studio.selection_ui, [sel_box, *main_inputs], [sel_audio, sel_note, emb_plot, spec_plot],
                     js="(selection, ...rest) => [window.svSelection || '', ...rest]", trigger_mode="always_last",
                     show_progress="minimal", **ui)
        export_btn.click(studio.export_ui, [audio, *refs, model, clusterer, n_speakers, beta, projection, keep,
                                            n_points, t_from, t_to, fit_weighting, tracking, move_which, move_x,
                                            move_y], [export_files], **ui)
        compare_btn.click(studio.compare_ui,
                          [audio, *refs, model, compare_set, n_speakers, beta, projection, keep, n_points, t_from, t_to,
                           fit_weighting, tracking],
                          [compare_plot, mismatch_plot, compare_table], **ui)
        atlas_btn.click(studio.atlas_ui, [model, atlas_dims, atlas_color], [atlas_plot], **ui)
        for comp in (atlas_dims, atlas_color):
            comp.input(studio.atlas_ui, [model, atlas_dims, atlas_color], [atlas_plot], **ui)
    demo.studio = studio
    return demo


def launch_kwargs(studio: Studio) -> dict:
    """Theme, CSS and the folders the app may serve files from (examples, caches)."""
    return dict(theme=gr.themes.Soft(primary_hue="blue", secondary_hue="orange"), css=CSS, js=SELECTION_JS,
                allowed_paths=[str(examples_dir()), str(cache_dir())])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", default=None, help="folder of *.pt checkpoints (default $SEPVIZ_CHECKPOINTS or checkpoints/)")
    ap.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    ap.add_argument("--port", type=int, default=7860)
    ap.add_argument("--share", action="store_true", help="create a public gradio.live link (off by default)")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="longest accepted audio")
    ap.add_argument("--max-file-size", default=DEFAULT_MAX_FILE_SIZE, help="largest accepted upload, e.g. 25mb")
    ap.add_argument("--no-fsdd", action="store_true", help="do not make FSDD example mixtures")
    ap.add_argument("--no-warmup", action="store_true", help="skip the background UMAP JIT warm-up")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads per request (default 1: two concurrent requests share 2 cores without "
                         "thread oversubscription)")
    args = ap.parse_args(argv)
    if args.threads > 0:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)  # BLAS / OpenMP (k-means, GMM) too
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    studio = Studio(args.checkpoints, max_seconds=args.max_seconds, include_fsdd=not args.no_fsdd)
    if not studio.models:
        log.warning(studio.no_models_message())
    threading.Thread(target=studio.warm_up, kwargs=dict(umap=not args.no_warmup), daemon=True).start()
    demo = build_demo(studio)
    demo.queue(default_concurrency_limit=2, max_size=32)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size=args.max_file_size,
                **launch_kwargs(studio))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
