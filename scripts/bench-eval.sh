#!/usr/bin/env bash
# Times BSS Eval v4 of a 3-minute stereo 44.1 kHz track (two sources) with museval and with
# `saex eval` on this machine. museval goes into a venv outside the checkout (MUSEVAL_VENV).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv="${MUSEVAL_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/saex/museval-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet museval==0.4.1
fi
cargo build --release --quiet
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" scripts/bench-eval.py "$work" target/release/saex
