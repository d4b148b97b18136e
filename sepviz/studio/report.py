"""A separation in words: the report (as the API returns it), the status line, the voices' labels
and the metrics table."""
from __future__ import annotations

import numpy as np

from .resources import text
from .settings import CLUSTERER_LABELS, parse_n_speakers

QUIET_DBFS = -40.0       # a mixture below this RMS is "too quiet" (speech is recorded at -30 to -15 dBFS)
CLIPPED_SHARE = 5e-4     # the share of samples at full scale that says "clipped" ...
CLIPPED_MIN_SAMPLES = 8  # ... and at least this many (a peak-normalised file has one or two)


def make_report(sep, model_name: str, n_asked, *, cached: bool, scale: float = 1.0,
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


def status_text(report: dict, sep, projection, model_label: str, umap_pending: bool) -> str:
    """The status line: what was found, how long it took, and the report's warnings.  ``model_label``
    names the model in words; ``umap_pending``: UMAP is still being prepared (its first picture is slow)."""
    t = report["timings_s"]
    net = "the network's output was reused" if report["network_cached"] else f"network {t.get('network', 0.0):.2f} s"
    status = [f"**{sep.n_speakers} voices** from {report['audio']['seconds']:.1f} s of audio, found by "
              f"{report['clusterer_label']} with the model {model_label}",
              f"took {t['total']:.2f} s ({net}, finding the voices {t['cluster_and_masks']:.2f} s, "
              f"drawing {t['plots']:.2f} s)"]
    tracked = sep.embedding.model.config.tracking(sep.n_speakers)
    if sep.attractor_tracks is not None and tracked is not None:
        span = (2 * tracked.frames + 1) * sep.embedding.stft_config.hop_length / sep.embedding.stft_config.sample_rate
        status.append(f"attractors follow the talkers ({span:.2f} s windows): the lines in the cloud are the "
                      "paths they take, ◆ where they sit on average")
    status += [f"⚠️ {w['message']}" for w in report["warnings"]]
    if str(projection).startswith("UMAP") and umap_pending:
        status.append("UMAP is slow the first time after the server starts (it is being prepared); later "
                      "pictures are fast.")
    if "note" in report["talkers"]:
        status.append(f"auto: {report['talkers']['note']}")
    return "\n\n".join(status)


def voice_label(i: int, level_db: float) -> str:
    """A voice player's label: how loud it is next to the loudest voice, in words."""
    return f"Voice {i + 1} (the loudest)" if level_db > -0.05 else f"Voice {i + 1} ({-level_db:.1f} dB quieter)"


def metrics_markdown(ev: dict | None) -> str:
    if not ev:
        return text("metrics_none")
    lines = ["| voice | reference | SI-SNRi (dB) | SDRi (dB) | SIR (dB) | SAR (dB) |", "|---|---|---|---|---|---|"]
    for r in sorted(ev["rows"], key=lambda r: r.get("voice", 0)):
        lines.append(f"| {r.get('voice', '')} | s{r.get('reference', '')} | {r['si_snri']:.1f} | {r.get('sdri', float('nan')):.1f} "
                     f"| {r.get('sir', float('nan')):.1f} | {r.get('sar', float('nan')):.1f} |")
    m = ev["means"]
    lines.append(f"| **mean** | | **{m.get('si_snri', float('nan')):.1f}** | **{m.get('sdri', float('nan')):.1f}** "
                 f"| {m.get('sir', float('nan')):.1f} | {m.get('sar', float('nan')):.1f} |")
    return "\n".join(lines + ["", text("metrics_help")])
