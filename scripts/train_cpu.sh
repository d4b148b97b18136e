#!/usr/bin/env bash
# Train the shipped checkpoints on a 2-core CPU: two streams, one thread each (about 4.5 hours).
# Needs the synthetic corpus: python -m training.data.synth_corpus --out data/synth
# default.pt: a 20-minute `cpu` stage, the 100-minute `cpu_long` stage with the auxiliary
# clustering term, then 13 + 55 minutes on 400-frame chunks (the second with fresh mixtures,
# data.mix_seed); danet_3spk.pt: `cpu_long` from default.pt, then 55 minutes on 400-frame chunks.
# The others: their `cpu` profile only.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs checkpoints
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
train() { python -m training.train "$1" --threads 1 "${@:3}" --out "$2" > "runs/$(basename "$2" .pt).out" 2>&1; }
(
  train danet_blstm runs/default_stage1.pt --profile cpu
  train danet_blstm runs/default_stage2.pt --profile cpu_long --set init_from='"runs/default_stage1.pt"'
  train danet_blstm runs/default_stage3.pt --profile cpu_long --set init_from='"runs/default_stage2.pt"' \
    --set 'curriculum=[[400,10]]' --set lr=2.5e-4 --set data.train_items_per_epoch=1600 --max-minutes 13
  long400() {  # another 55 minutes on 400-frame chunks, fresh mixtures
    train "$1" "$2" --profile cpu_long --set init_from="\"$3\"" --set 'curriculum=[[400,40]]' --set lr=2.5e-4 \
      --set data.train_items_per_epoch=1600 --set data.mix_seed=3 --max-minutes 55
  }
  long400 danet_blstm checkpoints/default.pt runs/default_stage3.pt
  train danet_blstm_3spk runs/danet_3spk_stage1.pt --profile cpu_long --set init_from='"checkpoints/default.pt"'
  long400 danet_blstm_3spk checkpoints/danet_3spk.pt runs/danet_3spk_stage1.pt
) &
( train danet_bgru_gmm checkpoints/bgru_gmm.pt --profile cpu && train adanet_blstm checkpoints/adanet.pt --profile cpu &&
  train danet_dilated_cnn checkpoints/dilated_cnn.pt --profile cpu && train dpcl_blstm checkpoints/dpcl.pt --profile cpu &&
  train def_upit checkpoints/def_upit.pt --profile cpu ) &
wait
