"""The model card of a checkpoint: what it is, how it was trained, how it is set up at test time.

One set of lines for ``sepviz info`` and ``checkpoints/README.md`` (``training.model_cards``), read
from the checkpoint's own card and, where there is one, the training log next to it
(``NAME.log.jsonl``): a shipped checkpoint is often several warm-started runs or the weight average
of two, and its own training summary knows only the last run.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from .clusterers import available_clusterers
from .calibration import temperature_summary, tracking_summary
from .danet import DANet


# The groups a stored training config (a checkpoint card's ``training.recipe``) keeps its loss and
# schedule options in since 2026-12-06; older cards hold them flat.  training.config builds its
# config classes on these names (and re-exports flat_recipe), so the studio, the cards and the
# trainer read a stored config one way.
RECIPE_GROUPS = ("loss", "schedule")


def flat_recipe(rec: dict) -> dict:
    """A stored config as one flat dict (loss and schedule options at the top level), whichever
    form it was written in: the model cards and the studio read options by their flat names."""
    out = {k: v for k, v in rec.items() if k not in RECIPE_GROUPS}
    for group in RECIPE_GROUPS:
        out.update(rec.get(group) or {})
    return out


def describe_init(init_from: str | list[str]) -> str:
    """How a warm start reads in the report and the model cards ("" for none)."""
    if isinstance(init_from, list):
        names = [f"`{p}`" for p in init_from]
        return "the weight average of " + (", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0])
    return f"`{init_from}`" if init_from else ""


def averaged_from(training: dict) -> list[str] | None:
    """The checkpoints an average saved with no update of its own was made of; None otherwise.

    One predicate for the report and the model cards: such a checkpoint trained nothing, so its
    minutes, steps and loss settings describe nothing and are not printed."""
    init = (training.get("recipe") or {}).get("init_from")
    return init if isinstance(init, list) and training.get("steps") == 0 else None


def training_stages(log_path: Path) -> list[dict]:
    """Split a joined JSON-lines log (``scripts/train_cpu.sh`` concatenates every stage's log)
    into stages: a stage starts where the epoch counter starts again at 0.

    Why: a shipped checkpoint is often several warm-started runs; its own summary only knows the
    last one, the log knows them all."""
    stages: list[dict] = []
    if not log_path.exists():
        return stages
    for line in log_path.read_text().splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        if not stages or rec.get("epoch", 0) == 0:
            stages.append({"updates": 0, "seconds": 0.0, "frames": []})
        st = stages[-1]
        st["updates"] = rec.get("steps", st["updates"])
        st["seconds"] += rec.get("epoch_seconds", 0.0)
        if rec.get("frames") not in st["frames"]:
            st["frames"].append(rec.get("frames"))
    return stages


def history_line(stages: list[dict]) -> str:
    if len(stages) < 2:
        return ""
    parts = [f"{s['updates']:,} updates on {'/'.join(map(str, s['frames']))}-frame chunks ({s['seconds'] / 60:.0f} min)"
             for s in stages]
    total = sum(s["updates"] for s in stages)
    return (f"- history ({len(stages)} warm-started stages, from its log): " + "; ".join(parts)
            + f": {total:,} updates, {sum(s['seconds'] for s in stages) / 3600:.1f} h in all")


def trained_line(t: dict) -> str:
    """A checkpoint saved with no update of its own (an average of runs) says so instead of "0 steps"."""
    loss = f"{t.get('best_valid_loss', float('nan')):.4f}"
    init = averaged_from(t)
    if init:
        return f"- last stage: {describe_init(init)}, no update of its own; its validation loss {loss}"
    return (f"- trained {t.get('steps', '?')} steps / {t.get('epochs', '?')} epochs in {t.get('train_minutes', '?')} min on "
            f"{t.get('device', '?')} ({t.get('seconds_per_step', '?')} s/step); best validation loss {loss}")


def calibration_text(config: dict, training: dict) -> str:
    """", mask temperature 1.2 (2 talkers) ..., chosen on validation talkers" when calibrated."""
    temps = config.get("mask_temperature") or {}
    if not temps:
        return ""
    cal = training.get("calibration") or {}
    parts = temperature_summary(temps)
    names = cal.get("clusterers") or []
    how = (f" for {' + '.join(f'`{n}`' for n in names)} on validation talkers (`training.calibrate`)"
           if names else "")
    merge = config.get("merge_cosine")
    count = f"; auto-count merge cosine {float(merge):g}, chosen on validation talkers" if merge is not None else ""
    tracking = config.get("attractor_tracking") or {}
    track = (f"; attractor tracking {tracking_summary(tracking)}, chosen with the temperature" if tracking else "")
    one = config.get("one_talker_cosine")
    single = (f"; one-talker warning above cosine {float(one):g} for two voices, chosen on validation talkers"
              if one is not None else "")
    return f", mask temperature {parts}, chosen{how}{count}{track}{single}"


def data_line(data: dict) -> str:
    """The model card's training-data line: corpora with hours and talkers by gender for pooled
    training (``data.pools``), else the single corpus as before."""
    tr = data.get("train", {})
    extras = "".join(f", {text}" for key, text in (
        ("speed_perturb", f"each source at a random speed within ±{data.get('speed_perturb', 0):.0%}"),
        ("reverb", f"{data.get('reverb', 0):.0%} of mixtures in simulated rooms (RT60 0.1-0.6 s; references: "
                   "direct path + 50 ms early reflections)"),
        ("noise", f"{data.get('noise', 0):.0%} with coloured noise at 10-30 dB SNR")) if data.get(key))
    pools = data.get("pools")
    if not pools:
        return (f"- data: {data.get('corpus', '?')} corpus, {tr.get('speakers', '?')} training talkers ({tr.get('female', '?')} female), "
                f"{tr.get('utterances', '?')} utterances, dynamic 0-5 dB mixing"
                + (f", each source at a random speed within ±{data['speed_perturb']:.0%} (last stage)" if data.get("speed_perturb") else "")
                + "; validation talkers are unseen"
                + (f"; FSDD fine-tuning on {', '.join(data['fsdd_finetune']['speakers'])} ({data['fsdd_finetune']['fraction']:.0%} of mixtures"
                   + (f", each with {data['fsdd_finetune']['shifted_copies_per_talker']} pitch/tempo-shifted copies"
                      if data["fsdd_finetune"].get("shifted_copies_per_talker") else "") + ")"
                   if data.get("fsdd_finetune") else ""))
    weights = pools.get("weights", {})
    parts = []
    for name, p in pools.items():
        if name == "weights":
            continue
        t = p["train"]
        men = t["speakers"] - t["female"]
        parts.append(f"{name} {t.get('hours', '?')} h, {t['speakers']} talkers ({t['female']} "
                     f"{'woman' if t['female'] == 1 else 'women'}, {men} {'man' if men == 1 else 'men'}), "
                     f"{weights.get(name, 0):.0%} of mixtures")
    union = f"; {weights['union']:.0%} of mixtures pool every corpus's talkers" if weights.get("union") else ""
    return (f"- data (last stage): {'; '.join(parts)}{union}; dynamic 0-5 dB mixing{extras}; validation and test "
            "talkers are unseen (speaker-disjoint splits, training.data.splits)")


def card_lines(model: DANet, path: Path, *, calibration: bool = True, after_data: Sequence[str] = ()) -> list[str]:
    """The card's lines: network, objective (with the test-time calibration unless ``calibration``
    is False), clusterers, the last stage's training, data, ``after_data`` (the README's recipe
    line), and each training stage from the log when there is one.

    Why the log: the summary of an average says "0 steps" and a warm start's counts only its last
    stage; the joined log of every stage (``scripts/train_cpu.sh``) has them all."""
    path = Path(path)
    c, t = model.card["config"], model.card["training"]
    lines = [f"- network: `{c['model']}` {c['model_kwargs']}, K = {model.emb_dim}, "
             f"{model.card['n_parameters'] / 1e6:.2f} M parameters, {path.stat().st_size / 2**20:.1f} MB (fp16)",
             f"- objective `{c['objective']}`, {c['mask']} masks, {c['n_speakers']} outputs, salient bins kept {c['keep']:.0%}"
             + (f", {c['n_anchors']} anchors" if c.get("n_anchors") else "")
             + (calibration_text(c, t) if calibration else ""),
             f"- clusterers: {', '.join(available_clusterers(model))} (+ oracle with references)",
             trained_line(t)]
    if t.get("note"):
        lines.append(f"- note: {t['note']}")
    lines += [data_line(t.get("data", {})), *after_data]
    history = history_line(training_stages(path.with_suffix(".log.jsonl")))
    return lines + [history] if history else lines
