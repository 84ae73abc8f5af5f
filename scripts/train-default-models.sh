#!/usr/bin/env bash
# Trains the shipped default models (models/vocals, models/bass, models/drums) on the project's
# corpus (scripts/corpus/make-corpus.sh), with the default network and schedule, seed 1.
#   scripts/train-default-models.sh [CORPUS]   (default: $SAEX_CACHE/corpus-v1)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
corpus="${1:-${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}/corpus-v1}"
scripts/setup-libtorch.sh >/dev/null
cargo build --release --locked --quiet --bin saex
for target in ${TARGETS:-vocals bass drums}; do
    target/release/saex train --data "$corpus" --target "$target" --out "models/$target" \
        --seed 1 --device cpu --force
    # config.json names a corpus under the cache as $SAEX_CACHE/... (saex::locate::portable_path),
    # by how it is made, not by where it lies on the training machine.
    target/release/saex info --model "models/$target" >/dev/null
done
