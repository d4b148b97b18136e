#!/usr/bin/env bash
# Rebuild docs/results.md, docs/results.json and checkpoints/README.md, and stamp each checkpoint's
# held-out metrics into it (needs data/mix from scripts/make_test_sets.sh).
# Evaluates every shipped checkpoint on the whole held-out test folders: the real-voice folders
# (LibriSpeech test readers, the cross-corpus voices) and the synthetic and FSDD ones (the synthetic
# and FSDD parts alone took about 75 min of evaluation, one process on one core, 2026-12-02). A part
# whose docs/results_parts/<part>.json exists is reused: delete it to evaluate that part again.
# docs/results.md starts with the status table (training.report --status: every checkpoint x folder).
cd "$(dirname "$0")/.."
set -euo pipefail
source scripts/cpu_env.sh
# JOBS=N: N worker processes per evaluation; ASSEMBLE_ONLY=1: evaluate nothing, rebuild the documents from the parts there are
report() { local part=$1; shift; [ -n "${ASSEMBLE_ONLY:-}" ] || [ -e "docs/results_parts/$part.json" ] || python -m training.report "$@" ${JOBS:+--jobs "$JOBS"} --out "docs/results_parts/$part.md" --json "docs/results_parts/$part.json"; }
REAL2=(real2_mixed=data/mix/real2_mixed_test real2_same=data/mix/real2_same_test)
REAL=("${REAL2[@]}" cross2=data/mix/cross2_test)
SYNTH=(synth2_unseen=data/mix/synth2_test fsdd2_unseen=data/mix/fsdd2_test)
# part NAME CHECKPOINT SETS... [--limit N]: one part of the report, for a checkpoint that is there
PARTS=() SHIPPED=()
part() {
  local name=$1 ck=$2; shift 2
  [ -e "checkpoints/$ck.pt" ] || return 0
  PARTS+=("$name"); [[ " ${SHIPPED[*]} " == *" checkpoints/$ck.pt "* ]] || SHIPPED+=("checkpoints/$ck.pt")
  report "$name" --checkpoints "checkpoints/$ck.pt" --sets "$@"
}
part real_default default "${REAL[@]}" real3=data/mix/real3_test
for ck in danet_2spk bgru_gmm adanet dilated_cnn dpcl def_upit; do part "real_$ck" "$ck" "${REAL[@]}"; done
part default default "${SYNTH[@]}" synth3_unseen=data/mix/synth3_test
for ck in danet_2spk bgru_gmm adanet dilated_cnn dpcl def_upit; do part "$ck" "$ck" "${SYNTH[@]}"; done
# the thesis's systems (issue 25): SCE + DANet on the ship comparison's folders, then the other real ones;
# DPCL++ and the adaptive front-end on the real 2-talker folders and synth2
part sce_danet sce_danet real2_mixed=data/mix/real2_mixed_test synth2_unseen=data/mix/synth2_test
part real_sce_danet sce_danet real2_same=data/mix/real2_same_test cross2=data/mix/cross2_test real3=data/mix/real3_test
for ck in dpcl_pp adaptive; do part "$ck" "$ck" "${REAL[@]}" synth2_unseen=data/mix/synth2_test; done
part real3_adaptive adaptive real3=data/mix/real3_test  # trained and calibrated for 3 talkers too
part stress default long_32s=data/mix/synth2_long noise_burst=data/mix/synth2_noise --limit 10
PARTS="${PARTS[*]}" python - <<'PY'
import json, os, pathlib
d = pathlib.Path("docs")
parts = tuple(os.environ["PARTS"].split())  # the checkpoints there are, in the order above
missing = [n for n in parts if not (d / "results_parts" / f"{n}.json").exists()]
parts = tuple(n for n in parts if n not in missing)
merged = {}
for name in parts:
    for ck, sets in json.loads((d / "results_parts" / f"{name}.json").read_text()).items():
        merged.setdefault(ck, {}).update(sets)
(d / "results.json").write_text(json.dumps(merged, indent=1))
body = "\n".join((d / "results_parts" / f"{n}.md").read_text().split("\n", 1)[1] for n in parts if n != "stress")
if missing:
    body = f"Parts not measured yet (their rows are missing above): {', '.join(missing)}.\n\n" + body
stress = (d / "results_parts" / "stress.md").read_text().split("\n", 1)[1]
head = (d / "results_head.md").read_text()
from training.report import status_table
shown = {ck: {k: v for k, v in sets.items() if k not in ("long_32s", "noise_burst")} for ck, sets in merged.items()}
from sepviz.checkpoint import read_checkpoint
from training.config import load_recipe
from training.report import THESIS_RECIPES, thesis_table
from training.trainer import build_model
ours = {ck: read_checkpoint(f"checkpoints/{ck}.pt").get("n_parameters") if pathlib.Path(f"checkpoints/{ck}.pt").exists() else None
        for ck in THESIS_RECIPES}
theirs = {ck: sum(p.numel() for p in build_model(load_recipe(r)).parameters()) for ck, r in THESIS_RECIPES.items()}
(d / "results.md").write_text(head.replace("{STATUS_TABLE}", status_table(shown)).replace("{THESIS_TABLE}", thesis_table(merged, ours, theirs)) + body
                              + "\n# Generalisation tests (default model)\n" + stress)
PY
python -m training.stamp_metrics "${SHIPPED[@]}"
python -m training.model_cards "${SHIPPED[@]}"
