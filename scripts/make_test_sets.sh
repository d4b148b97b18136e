#!/usr/bin/env bash
# Held-out test sets used by docs/results.md (unseen synthetic talkers, unseen FSDD talkers, stress tests)
# and two validation folders.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m training.data.make_mixtures --corpus synth --root data/synth --split test --n 100 --speakers 2 --out data/mix/synth2_test
python -m training.data.make_mixtures --corpus synth --root data/synth --split test --n 60 --speakers 3 --out data/mix/synth3_test
python -m training.data.make_mixtures --corpus fsdd --fsdd-scheme finetune --split test --n 60 --speakers 2 --out data/mix/fsdd2_test
python -m training.stress_sets long --root data/synth --out data/mix/synth2_long --n 20 --seconds 32
python -m training.stress_sets noise --base data/mix/synth2_test --out data/mix/synth2_noise --n 100
# Validation folders (the validation talkers, never the test ones): used to compare training stages
# and inference settings before anything is run on the test folders above.
python -m training.data.make_mixtures --corpus synth --root data/synth --split valid --n 40 --speakers 2 --out data/mix/synth2_valid
python -m training.data.make_mixtures --corpus synth --root data/synth --split valid --n 40 --speakers 3 --out data/mix/synth3_valid
# Real speech for validation: held-out utterances (every 10th) of the two FSDD talkers the recipes fine-tune
# on, never the test talkers (jackson, theo); only 11 digit sentences, so its 40 mixtures repeat pairs.
python -m training.data.make_mixtures --corpus fsdd --fsdd-scheme finetune --split valid --n 40 --speakers 2 --out data/mix/fsdd2_valid
# Both 2-talker validation folders side by side (links, file names prefixed synth2_ / fsdd2_), so one
# calibration can choose a setting for synthetic and real talkers together (docs/results.md, thirteenth session).
for src in synth2 fsdd2; do
  for d in mix s1 s2; do
    mkdir -p "data/mix/joint2_valid/$d"
    for f in "data/mix/${src}_valid/$d"/*.wav; do ln -sf "../../${src}_valid/$d/$(basename "$f")" "data/mix/joint2_valid/$d/${src}_$(basename "$f")"; done
  done
done
# 100 more validation mixtures of each kind (the same validation talkers, another mixture seed), for choices
# that 40 mixtures cannot settle (the studio's default clusterer, thirteenth session)
python -m training.data.make_mixtures --corpus synth --root data/synth --split valid --n 100 --speakers 2 --seed 1 --out data/mix/synth2_valid_b
python -m training.data.make_mixtures --corpus synth --root data/synth --split valid --n 100 --speakers 3 --seed 1 --out data/mix/synth3_valid_b
# Real voices (issue 24): LibriSpeech readers held out of training (25 test, 20 validation, gender-balanced;
# training.data.splits), and a cross-corpus folder of voices from corpora no model trains on (FSDD jackson and
# theo, the Asterisk voice June). The Asterisk voices are Debian packages: installed here if missing (root).
python -m training.data.real_corpus --check || python -m training.data.real_corpus --install
python -m training.data.make_mixtures --corpus librispeech --split test --genders mixed --n 60 --speakers 2 --out data/mix/real2_mixed_test
python -m training.data.make_mixtures --corpus librispeech --split test --genders same --n 60 --speakers 2 --out data/mix/real2_same_test
python -m training.data.make_mixtures --corpus librispeech --split test --genders mixed --n 40 --speakers 3 --out data/mix/real3_test
python -m training.data.make_mixtures --corpus fsdd,asterisk --fsdd-scheme finetune --split test --n 60 --speakers 2 --out data/mix/cross2_test
python -m training.data.make_mixtures --corpus librispeech --split valid --n 40 --speakers 2 --out data/mix/real2_valid
python -m training.data.make_mixtures --corpus librispeech --split valid --n 40 --speakers 3 --out data/mix/real3_valid
# Real and synthetic validation talkers side by side (links), one folder per talker count, for choices that
# must serve both (the default's auto-count threshold, docs/real_voices.md)
for n in 2 3; do
  dirs=(mix s1 s2); [ "$n" = 3 ] && dirs+=(s3)
  for src in real synth; do
    for d in "${dirs[@]}"; do
      mkdir -p "data/mix/joint${n}_realsynth_valid/$d"
      for f in "data/mix/${src}${n}_valid/$d"/*.wav; do
        ln -sf "../../${src}${n}_valid/$d/$(basename "$f")" "data/mix/joint${n}_realsynth_valid/$d/${src}_$(basename "$f")"
      done
    done
  done
done
