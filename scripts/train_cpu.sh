#!/usr/bin/env bash
# Train the shipped checkpoints on a 2-core CPU: two streams, one thread each (about 6 hours).
# Needs the synthetic corpus: python -m training.data.synth_corpus --out data/synth
# default.pt: a 20-minute `cpu` stage, the 100-minute `cpu_long` stage with the auxiliary
# clustering term, then 13 + 55 minutes on 400-frame chunks (the second with fresh mixtures,
# data.mix_seed); danet_3spk.pt: `cpu_long` from default.pt, then 55 minutes on 400-frame chunks.
# bgru_gmm.pt: 70 minutes of its `cpu_long` profile (auxiliary term, FSDD mixed in) from scratch,
# then 30 minutes on 400-frame chunks;
# adanet.pt: 60 minutes of ADANet training warm-started from default.pt's embedding net.
# The others: their `cpu` profile only.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs checkpoints
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
train() { python -m training.train "$1" --threads 1 "${@:3}" --out "$2" > "runs/$(basename "$2" .pt).out" 2>&1; }
long400() {  # another 55 minutes on 400-frame chunks, fresh mixtures
  train "$1" "$2" --profile cpu_long --set init_from="\"$3\"" --set 'curriculum=[[400,40]]' --set lr=2.5e-4 \
    --set data.train_items_per_epoch=1600 --set data.mix_seed=3 --max-minutes 55
}
(
  train danet_blstm runs/default_stage1.pt --profile cpu
  train danet_blstm runs/default_stage2.pt --profile cpu_long --set init_from='"runs/default_stage1.pt"'
  train danet_blstm runs/default_stage3.pt --profile cpu_long --set init_from='"runs/default_stage2.pt"' \
    --set 'curriculum=[[400,10]]' --set lr=2.5e-4 --set data.train_items_per_epoch=1600 --max-minutes 13
  long400 danet_blstm checkpoints/default.pt runs/default_stage3.pt
) &
( train danet_bgru_gmm runs/bgru_gmm_stage1.pt --profile cpu_long &&
  train danet_bgru_gmm checkpoints/bgru_gmm.pt --profile cpu_long --set init_from='"runs/bgru_gmm_stage1.pt"' \
    --set 'curriculum=[[400,20]]' --set lr=5e-4 --set data.train_items_per_epoch=1600 --max-minutes 30 &&
  train danet_dilated_cnn checkpoints/dilated_cnn.pt --profile cpu && train dpcl_blstm checkpoints/dpcl.pt --profile cpu &&
  train def_upit checkpoints/def_upit.pt --profile cpu ) &
wait
# Both need the finished default.pt.
( train danet_blstm_3spk runs/danet_3spk_stage1.pt --profile cpu_long --set init_from='"checkpoints/default.pt"'
  long400 danet_blstm_3spk checkpoints/danet_3spk.pt runs/danet_3spk_stage1.pt ) &
( train adanet_blstm checkpoints/adanet.pt --profile cpu_long --set init_from='"checkpoints/default.pt"' --set data.mix_seed=5 ) &
wait
