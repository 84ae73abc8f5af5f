#!/usr/bin/env bash
# Installs museval 0.4.1 (BSS Eval v4's reference implementation) once into a venv outside the
# checkout and prints that venv's python. MUSEVAL_VENV chooses the venv (default:
# $SAEX_CACHE/museval-venv, SAEX_CACHE defaulting to ${XDG_CACHE_HOME:-$HOME/.cache}/saex).
set -euo pipefail

venv="${MUSEVAL_VENV:-${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}/museval-venv}"
# Importing, not the python's presence, says the install finished.
if ! "$venv/bin/python" -c "import museval" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet museval==0.4.1 >&2
fi
echo "$venv/bin/python"
