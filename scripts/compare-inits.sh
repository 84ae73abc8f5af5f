#!/usr/bin/env bash
# The paper's claim, measured: trains the default network (44.1 kHz, n_fft 2048, context 3,
# 513 bins, 3 layers) with ls, identity and random init on generated stems, then prints the
# comparison table and writes docs/training-inits.png. Takes a few minutes on 2 cores.
#
#   scripts/compare-inits.sh [WORK_DIR]     (default: a folder under ${XDG_CACHE_HOME:-~/.cache})
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
work="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/saex/compare-inits}"
mkdir -p "$work" docs
cargo build --release --quiet --example synth_stems --example compare_histories --bin saex
if [ ! -d "$work/data/train" ]; then
  target/release/examples/synth_stems "$work/data" 20 8 2 44100 0
fi
common=(--data "$work/data" --target vocals --layers 3 --epochs-per-stage 3 --finetune-epochs 3
        --frames-per-epoch 16384 --ls-frames 16384 --valid-frames 4096 --seed 0 --device cpu --force)
for init in ls identity random; do
  echo "== $init" >&2
  target/release/saex train "${common[@]}" --init "$init" --out "$work/$init" 2>&1 | grep -v '^$' >&2
done
target/release/examples/compare_histories docs/training-inits.png "${THRESHOLD:-0.2}" \
  ls="$work/ls" identity="$work/identity" random="$work/random"
