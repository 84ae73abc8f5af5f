#!/usr/bin/env bash
# Regenerates the command reference at the end of docs/guide.md from the built binary's
# `saex --help` and `saex <command> --help` (every command it lists). The test
# `docs::guide_reference_is_the_help` (tests/all/docs.rs) fails whenever the two differ; this
# runs it with SAEX_BLESS=1, which rewrites the reference instead. Arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-libtorch.sh >/dev/null
# The same features as scripts/test.sh where the audio packages are there, so that nothing is
# rebuilt for it (the help is the same either way).
features=()
if pkg-config --exists alsa jack 2>/dev/null; then
    features=(--features live)
fi
SAEX_BLESS=1 cargo test --release --locked "${features[@]}" "$@" --test all \
    docs::guide_reference_is_the_help
git diff --stat -- docs/guide.md
