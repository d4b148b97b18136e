"""Write ``checkpoints/README.md``: one model card per shipped checkpoint, read from the files.

    python -m training.model_cards checkpoints/*.pt --results docs/results.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sepviz.checkpoint import load_checkpoint
from sepviz.clusterers import available_clusterers
from sepviz.danet import temperature_summary, tracking_summary

from .config import TrainConfig, averaged_from, describe_init

INTENDED = {
    "default": "The studio's default: a mixed 2/3-talker DANet (BLSTM) with three outputs (all-zero third "
               "target for 2-talker mixtures), warm-started from danet_2spk's network; its last stages are "
               "scored by the SI-SNR of the resynthesised voices and of the attractors soft k-means finds. "
               "Separates 2 or 3 talkers and counts them ('auto'). Called danet_3spk.pt until 2026-12-01. Its last "
               "two stages are each the average of the weights of two continuations of the same parent (a "
               "'model soup'; `soup` in scripts/train_cpu.sh), so the history below lists those runs as separate "
               "stages; in the last pair one run played every training source at a random speed within ±10 % "
               "(`data.speed_perturb`, new virtual talkers).",
    "danet_2spk": "2-talker DANet (BLSTM), the studio's default until 2026-12-01; trained with an auxiliary "
                  "clustering term and FSDD real speech of two talkers mixed in; its last stages are scored "
                  "by the SI-SNR of the resynthesised voices.",
    "bgru_gmm": "BGRU+GMM DANet: BGRU embedding net, meant for the full-covariance GMM clusterer.",
    "adanet": "ADANet: 6 trainable anchors pick the attractors (no k-means needed); PIT training.",
    "dilated_cnn": "DANet with the 13-layer dilated residual CNN embedding net (narrow CPU variant); "
                   "never heard FSDD, so its FSDD row is the cross-corpus test.",
    "dpcl": "Deep clustering (affinity loss, unit-norm embeddings, binary masks); k-means at test time.",
    "def_upit": "DEF: uPIT with a discriminative term on deep-clustering embeddings; clusterer `head` uses "
                "its mask head, the others cluster the embeddings (binary masks).",
}


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


def _history_line(stages: list[dict]) -> str:
    if len(stages) < 2:
        return ""
    parts = [f"{s['updates']:,} updates on {'/'.join(map(str, s['frames']))}-frame chunks ({s['seconds'] / 60:.0f} min)"
             for s in stages]
    total = sum(s["updates"] for s in stages)
    return (f"- history ({len(stages)} warm-started stages, from its log): " + "; ".join(parts)
            + f": {total:,} updates, {sum(s['seconds'] for s in stages) / 3600:.1f} h in all")


def _recipe_line(rec: dict, averaged: bool = False) -> str:
    name = rec.get("name", "?")
    # Checkpoints written before the trainer stored its profile: their warm starts used `cpu_long`.
    profile = rec.get("profile") or ("cpu_long" if rec.get("init_from") else "cpu")
    line = f"- recipe: `training/recipes/{name}.toml`, profile `{profile}`"
    if averaged:  # an average saved as is: its own settings trained nothing
        return line + "; the averaged runs' settings are in `scripts/train_cpu.sh`"
    if rec.get("init_from"):
        line += f", last stage warm-started from {describe_init(rec['init_from'])}"
    if rec.get("aux_dc_weight"):
        line += f"; auxiliary deep-clustering term, weight {rec['aux_dc_weight']:g}"
    if rec.get("target", "wfm") != "wfm" and rec.get("objective") in ("danet", "adanet"):
        what = {"psa": "phase-sensitive", "sisnr": "SI-SNR of the resynthesised voices"}.get(rec["target"], rec["target"])
        line += f"; last stage scored by the `{rec['target']}` target ({what})"
    if rec.get("clustered_weight"):
        line += f", plus the same for the attractors soft k-means finds (weight {rec['clustered_weight']:g}, PIT)"
    if rec.get("tracked_weight"):
        frames, strength = rec.get("tracked", TrainConfig().tracked)  # older cards: the default window
        line += (f", plus the same for attractors tracked from those (+-{int(frames)} frames, strength {strength:g}, "
                 f"weight {rec['tracked_weight']:g}, PIT)")
    return line


def _trained_line(t: dict) -> str:
    """A checkpoint saved with no update of its own (an average of runs) says so instead of "0 steps"."""
    loss = f"{t.get('best_valid_loss', float('nan')):.4f}"
    init = averaged_from(t)
    if init:
        return f"- last stage: {describe_init(init)}, no update of its own; its validation loss {loss}"
    return (f"- trained {t.get('steps', '?')} steps / {t.get('epochs', '?')} epochs in {t.get('train_minutes', '?')} min on "
            f"{t.get('device', '?')} ({t.get('seconds_per_step', '?')} s/step); best validation loss {loss}")


def _temperature_text(config: dict, training: dict) -> str:
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


def card(path: Path, results: dict) -> str:
    m = load_checkpoint(path)
    c, t = m.card["config"], m.card["training"]
    data = t.get("data", {})
    lines = [f"## `{path.name}`", "", INTENDED.get(path.stem, ""), "",
             f"- network: `{c['model']}` {c['model_kwargs']}, K = {m.emb_dim}, {m.card['n_parameters'] / 1e6:.2f} M parameters, "
             f"{path.stat().st_size / 2**20:.1f} MB (fp16)",
             f"- objective `{c['objective']}`, {c['mask']} masks, {c['n_speakers']} outputs, salient bins kept {c['keep']:.0%}"
             + (f", {c['n_anchors']} anchors" if c.get("n_anchors") else "")
             + _temperature_text(c, t),
             f"- clusterers: {', '.join(available_clusterers(m))} (+ oracle with references)",
             _trained_line(t),
             data_line(data),
             _recipe_line(t.get("recipe") or {}, averaged=averaged_from(t) is not None)]
    history = _history_line(training_stages(path.with_suffix(".log.jsonl")))
    if history:
        lines.append(history)
    res = results.get(path.stem, {})
    for set_name, r in res.items():
        best = max(r["model"].items(), key=lambda kv: kv[1].get("si_snri") or -99)
        wfm = r.get("oracle", {}).get("wfm", {}).get("si_snri")
        lines.append(f"- {set_name} ({r['n']} mixtures): best SI-SNRi {best[1]['si_snri']:.2f} dB with `{best[0]}`"
                     + (f" (WFM oracle {wfm:.2f} dB)" if wfm else ""))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--results", type=Path, default=Path("docs/results.json"))
    ap.add_argument("--out", type=Path, default=Path("checkpoints/README.md"))
    a = ap.parse_args(argv)
    results = json.loads(a.results.read_text()) if a.results.exists() else {}
    text = ["# Shipped checkpoints", "",
            "Small models trained on a 2-core CPU with `bash scripts/train_cpu.sh` (recipes in `training/recipes/`, "
            "each card names the profile and, for a model trained in warm-started stages, every stage from its log). Each file carries its config, training summary and metrics: "
            "`python -m sepviz info checkpoints/NAME.pt`. Full numbers: [docs/results.md](../docs/results.md).", ""]
    text += [card(p, results) for p in a.checkpoints]
    a.out.write_text("\n".join(text))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
