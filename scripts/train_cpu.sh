#!/usr/bin/env bash
# Train the shipped checkpoints on a 2-core CPU: two streams, one thread each (~50 min).
# Needs the synthetic corpus: python -m training.data.synth_corpus --out data/synth
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs checkpoints
train() { python -m training.train "$1" --profile cpu --threads 1 --out "checkpoints/$2.pt" > "runs/$2.out" 2>&1; }
( train danet_blstm default && train adanet_blstm adanet && train danet_dilated_cnn dilated_cnn ) &
( train danet_bgru_gmm bgru_gmm && train danet_blstm_3spk danet_3spk && train dpcl_blstm dpcl && train def_upit def_upit ) &
wait
