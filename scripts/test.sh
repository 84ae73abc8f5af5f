#!/usr/bin/env bash
# The README's test command: installs what the tests need (LibTorch once per machine), builds,
# and runs every test of the workspace (unit, integration, CLI and doc tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-libtorch.sh >/dev/null
cargo test --release --locked "$@" 2>&1
