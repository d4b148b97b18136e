"""Write ``checkpoints/README.md``: one model card per shipped checkpoint, read from the files.

    python -m training.model_cards checkpoints/*.pt --results docs/results.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sepviz.checkpoint import load_checkpoint
from sepviz.model_card import averaged_from, card_lines, describe_init

from .config import flat_recipe

# The seed systems' last stage (issue 24 item 6, `real_seeds` in scripts/train_cpu.sh)
REAL_SEED = ("continued 20 minutes (2026-12-06) on the default's real + synthetic voices (LibriSpeech readers, "
             "the Asterisk prompt voices, two FSDD talkers, the TTS corpus; rooms and noise), ")
INTENDED = {
    "default": "The studio's default: a mixed 2/3-talker DANet (BLSTM) with three outputs, separates 2 or 3 "
               "talkers and counts them ('auto'). The synthetic-talker model of 2026-12-02 (the history below) "
               "continued on real and synthetic voices together (LibriSpeech readers, the Asterisk prompt voices, "
               "two FSDD talkers, the TTS corpus), 30 % of the mixtures in simulated rooms and 30 % with noise, with "
               "a deep-clustering term of weight 100 on the unit embeddings: 75 minutes (2026-12-04), then twice 95 "
               "minutes side by side, one run with the recipe's shares and one with 70 % real-only mixtures "
               "(LibriSpeech 55 %), averaged (2026-12-06); chosen and calibrated on real validation readers "
               "(docs/real_voices.md). The data line below is the recipe's shares; the stages are in the recipe's "
               "[[stages]] (danet_blstm_3spk).",
    "danet_2spk": "2-talker DANet (BLSTM), the studio's default until 2026-12-01; trained with an auxiliary "
                  "clustering term and FSDD real speech of two talkers mixed in; its last stages are scored "
                  "by the SI-SNR of the resynthesised voices; then "
                  + REAL_SEED + "its test-time settings chosen on real validation readers.",
    "bgru_gmm": "BGRU+GMM DANet: BGRU embedding net, meant for the full-covariance GMM clusterer; synthetic "
                "talkers and two FSDD talkers only: its 20-minute continuation on the real voices (2026-12-06) fell "
                "on real validation readers and was not shipped (docs/real_voices.md).",
    "adanet": "ADANet: 6 trainable anchors pick the attractors (no k-means needed); PIT training, 20 minutes "
              "(2026-12-06) warm-started from the real-voice default's network on its real + synthetic voices "
              "(anchors fresh); test-time settings chosen on real validation readers.",
    "dilated_cnn": "DANet with the 13-layer dilated residual CNN embedding net (narrow CPU variant, 62 k "
                   "parameters); synthetic talkers first, then "
                   + REAL_SEED + "its test-time settings chosen on real validation readers.",
    "dpcl": "Deep clustering (affinity loss, unit-norm embeddings, binary masks); k-means at test time; "
            "20 minutes of the affinity loss alone (2026-12-06) warm-started from the real-voice default's "
            "network, on its real + synthetic voices.",
    "dpcl_pp": "DPCL++ (Isik et al. 2016, as the thesis reproduces it): dpcl.pt's deep-clustering network, then "
               "an enhancement layer (2 x BLSTM-128 reading the mixture and each soft k-means estimate) trained "
               "15 minutes on the voices' SI-SNR with the embeddings fixed, then 10 minutes end to end through "
               "soft k-means, on the real + synthetic voices. Recipe `dpcl_pp`, its [[stages]].",
    "adaptive": "The thesis's adaptive front-end (D'Amato 2018, ch. 4.1) with SCE + DANet: a learned filter bank "
                "(256 filters of 32 ms, max-pooled to the STFT's 8 ms hop) in place of the STFT, pretrained 4 minutes (2,000 updates) "
                "as a separation autoencoder on LibriSpeech; the default's network carried onto its filters by "
                "frequency and trained 45 minutes on its latent with sce_danet's real-voice recipe, the voices "
                "decoded by the learned back-end (recipe `adapt_sce_danet`, its [[stages]]).",
    "def_upit": "DEF: uPIT with a discriminative term on deep-clustering embeddings; clusterer `head` uses "
                "its mask head, the others cluster the embeddings (binary masks); "
                + REAL_SEED + "from its own checkpoint.",
    "sce_danet": "The thesis's SCE + DANet, finetuned (D'Amato 2018, ch. 4.3): the default (2026-12-06) "
                 "continued on the same real + synthetic data with the source-contrastive term added to its "
                 "loss (a trainable vector per training talker; each bin pulled to its talker's vector and "
                 "pushed from the others' and from 5 random negatives), twice (38 and 45 minutes), then the two "
                 "runs' weight average (chosen on real validation readers); k-means at test time; the default's "
                 "test-time settings copied. Recipe `sce_danet`, its [[stages]].",
}


def _recipe_line(rec: dict, averaged: bool = False) -> str:
    """``rec``: a stored config, flat (``training.config.flat_recipe``)."""
    name = rec.get("name", "?")
    # Checkpoints written before the trainer stored its profile: their warm starts used `cpu_long`.
    profile = rec.get("profile") or ("cpu_long" if rec.get("init_from") else "cpu")
    line = f"- recipe: `training/recipes/{name}.toml`, profile `{profile}`"
    if averaged:  # an average saved as is: its own settings trained nothing
        return line + "; the averaged runs' settings are in the recipe's `[[stages]]`"
    if rec.get("init_from"):
        line += f", last stage warm-started from {describe_init(rec['init_from'])}"
    if rec.get("net_from"):
        line += f"; its embedding net carried over from {describe_init(rec['net_from'])} onto the front-end's filters by frequency"
    if rec.get("aux_dc_weight"):
        line += f"; auxiliary deep-clustering term, weight {rec['aux_dc_weight']:g}"
    if rec.get("target", "wfm") != "wfm" and rec.get("objective") in ("danet", "adanet"):
        what = {"psa": "phase-sensitive", "sisnr": "SI-SNR of the resynthesised voices"}.get(rec["target"], rec["target"])
        line += f"; last stage scored by the `{rec['target']}` target ({what})"
    if rec.get("clustered_weight"):
        line += f", plus the same for the attractors soft k-means finds (weight {rec['clustered_weight']:g}, PIT)"
    if rec.get("tracked_weight"):
        frames, strength = rec.get("tracked", [16, 0.5])  # trial checkpoints of rounds 10-13; older ones: the default window
        line += (f", plus the same for attractors tracked from those (+-{int(frames)} frames, strength {strength:g}, "
                 f"weight {rec['tracked_weight']:g}, PIT)")
    return line


def card(path: Path, results: dict) -> str:
    m = load_checkpoint(path)
    t = m.card["training"]
    recipe = _recipe_line(flat_recipe(t.get("recipe") or {}), averaged=averaged_from(t) is not None)
    lines = [f"## `{path.name}`", "", INTENDED.get(path.stem, ""), "", *card_lines(m, path, after_data=[recipe])]
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
