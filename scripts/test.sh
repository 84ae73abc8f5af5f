#!/usr/bin/env bash
# The README's test command: installs what the tests need (LibTorch once per machine), checks
# formatting and lints (warnings are errors), builds, and runs every test of the workspace
# (unit, integration, CLI and doc tests). Arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-libtorch.sh >/dev/null
cargo fmt --all --check
cargo clippy --release --locked --all-targets --quiet -- -D warnings
cargo test --release --locked "$@" 2>&1
