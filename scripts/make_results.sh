#!/usr/bin/env bash
# Rebuild docs/results.md, docs/results.json and checkpoints/README.md (needs data/mix from scripts/make_test_sets.sh).
# Evaluates every shipped checkpoint on the held-out sets (about 30 min on 2 cores).
OTHERS_CMD=(python -m training.report --checkpoints checkpoints/bgru_gmm.pt checkpoints/adanet.pt checkpoints/dilated_cnn.pt checkpoints/danet_3spk.pt
    --sets synth2_unseen=data/mix/synth2_test fsdd2_unseen=data/mix/fsdd2_test synth3_unseen=data/mix/synth3_test --limit 25 --out docs/results_others.md --json docs/results_others.json)
cd "$(dirname "$0")/.."
set -euo pipefail
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
[ -e docs/results_others.json ] || "${OTHERS_CMD[@]}"
python -m training.report --checkpoints checkpoints/default.pt --sets synth2_unseen=data/mix/synth2_test fsdd2_unseen=data/mix/fsdd2_test --limit 25 --out docs/results_default.md --json docs/results_default.json
python -m training.report --checkpoints checkpoints/default.pt --sets long_32s=data/mix/synth2_long noise_burst=data/mix/synth2_noise --limit 10 --out docs/results_stress.md --json docs/results_stress.json
python - <<'PY'
import json, pathlib
d = pathlib.Path("docs")
merged = {}
for name in ("results_default", "results_others", "results_stress"):
    for ck, sets in json.loads((d / f"{name}.json").read_text()).items():
        merged.setdefault(ck, {}).update(sets)
(d / "results.json").write_text(json.dumps(merged, indent=1))
parts = [(d / f"{n}.md").read_text().split("\n", 1)[1] for n in ("results_default", "results_others")]
stress = (d / "results_stress.md").read_text().split("\n", 1)[1]
head = open("docs/results_head.md").read()
(d / "results.md").write_text(head + "\n".join(parts) + "\n# Generalisation tests (default model)\n" + stress)
for n in ("results_default", "results_others", "results_stress"):
    (d / f"{n}.md").unlink(); (d / f"{n}.json").unlink()
PY
python -m training.model_cards checkpoints/default.pt checkpoints/bgru_gmm.pt checkpoints/adanet.pt checkpoints/dilated_cnn.pt checkpoints/danet_3spk.pt
