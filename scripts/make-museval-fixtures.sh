#!/usr/bin/env bash
# Rebuilds tests/data/museval/ with museval (BSS Eval v4, the reference implementation).
# museval is installed once into a venv outside the checkout (MUSEVAL_VENV to choose where).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv="${MUSEVAL_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/saex/museval-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet museval==0.4.1
fi
"$venv/bin/python" scripts/make-museval-fixtures.py tests/data/museval
