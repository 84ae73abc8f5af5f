#!/usr/bin/env bash
# Makes the virtual environment that builds and tests the Python package (python/): once per
# machine, in saex's cache beside LibTorch, and idempotent (a second run returns at once).
# Prints the environment's python on stdout.
#
# The environment sees the torch==2.11.0 of scripts/setup-libtorch.sh through a .pth file (no
# second 5 GB copy of torch; pip counts it as installed) and gets maturin, numpy, pytest and Ray
# (the cluster example's test, python/tests/test_ray.py; a 79 MB wheel) from PyPI. It is made with the same Python as LibTorch's environment, so the extension built for
# one runs in the other.
#
# SAEX_CACHE overrides the cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/saex).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
torch_dir="$(scripts/setup-libtorch.sh)"
site="$(dirname "$torch_dir")"
base_python="$(cd "$site/../../.." && pwd)/bin/python"

cache_root="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}"
# What is installed; a change makes a fresh environment.
want="maturin==1.16.0 numpy==2.4.6 pytest==9.2.0 ray==2.60.0"
venv="$cache_root/python-venv"
stamp="$venv/.installed"

if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "saex: making the Python test environment in $venv" >&2
    # Made once; a changed list is installed into it (pip moves each package to the wanted
    # version), so that a process using the environment meanwhile keeps working.
    if [ ! -x "$venv/bin/python" ]; then
        rm -rf "$venv"
        "$base_python" -m venv "$venv"
    fi
    venv_site="$(ls -d "$venv"/lib/python3*/site-packages | head -n 1)"
    # torch (and LibTorch's own dependencies) from LibTorch's environment, after this one's
    # packages on sys.path.
    echo "$site" >"$venv_site/saex-libtorch.pth"
    # shellcheck disable=SC2086 # $want is a list of requirements
    "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off -q $want >&2
    echo "$want" >"$stamp"
fi
echo "$venv/bin/python"
