#!/usr/bin/env bash
# The README's main command: installs LibTorch once per machine, builds saex in release mode,
# and extracts the vocals of the shipped demo mix with the shipped default model.
# Writes demo-output/vocals.wav and demo-output/accompaniment.wav in the checkout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-libtorch.sh >/dev/null
# With `saex live` where its audio packages can be installed (scripts/setup-audio.sh).
features=()
if scripts/setup-audio.sh; then
    features=(--features live)
fi
cargo build --release --locked "${features[@]}"
mkdir -p demo-output
target/release/saex extract \
    --mix audio/demo/mixture.wav \
    --out demo-output/vocals.wav \
    --residual demo-output/accompaniment.wav "$@"
