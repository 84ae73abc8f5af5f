#!/usr/bin/env bash
# Rebuilds tests/data/museval/ with museval (BSS Eval v4, the reference implementation).
# museval is installed once into a venv outside the checkout (scripts/setup-museval.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python="$(scripts/setup-museval.sh)"
"$python" scripts/make-museval-fixtures.py tests/data/museval
