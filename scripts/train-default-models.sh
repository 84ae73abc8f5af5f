#!/usr/bin/env bash
# Trains the shipped default models (models/vocals, models/bass, models/drums) on the project's
# corpus-v2 (scripts/corpus/build_v2.py; docs/corpus.md), with the default network and seed 1
# (vocals and bass: 3 frames in, seed 2), on the long schedule of docs/scaling.md: 196 608 frames per epoch, 5 epochs per
# stage, 20 of fine-tuning, the learning rate cut after 2 epochs without a better validation loss
# and each stage stopped after 4. About 20 minutes per model on an idle 2-core machine. (The
# first corpus-v2 models had 131 072 frames per epoch and 10 epochs of fine-tuning;
# docs/results.md says which shipped model came from which.)
#   scripts/train-default-models.sh [CORPUS]   (default: $SAEX_CACHE/corpus-v2)
#   OUT=DIR writes DIR/<target> instead of models/<target>; TARGETS="vocals" picks the targets.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}"
corpus="${1:-$cache/corpus-v2}"
out="${OUT:-models}"
scripts/setup-libtorch.sh >/dev/null
cargo build --release --locked --quiet --bin saex
for target in ${TARGETS:-vocals bass drums}; do
    # vocals and bass: 3 frames in (context 1) and seed 2, what models/vocals and models/bass
    # were trained with (the scaling study's c1-k3 shape, docs/scaling.md); drums: the default
    # context 3 (3 frames in were worse for drums, docs/results.md).
    own=(--seed 1)
    case "$target" in vocals | bass) own=(--context 1 --seed 2) ;; esac
    target/release/saex train --data "$corpus" --target "$target" --out "$out/$target" \
        "${own[@]}" --device cpu --force --frames-per-epoch 196608 --epochs-per-stage 5 \
        --finetune-epochs 20 --lr-patience 2 --early-stop 4
    # config.json names a corpus under the cache as $SAEX_CACHE/... (saex::locate::portable_path),
    # by how it is made, not by where it lies on the training machine.
    target/release/saex info --model "$out/$target" >/dev/null
done
