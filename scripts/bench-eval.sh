#!/usr/bin/env bash
# Times BSS Eval v4 of a 3-minute stereo 44.1 kHz track (two sources) with museval and with
# `saex eval` on this machine. museval goes into a venv outside the checkout (scripts/setup-museval.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python="$(scripts/setup-museval.sh)"
cargo build --release --quiet
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" scripts/bench-eval.py "$work" target/release/saex
