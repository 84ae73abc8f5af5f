#!/usr/bin/env bash
# Installs LibTorch 2.11.0 (PyPI's torch==2.11.0 wheel, CPU and CUDA 13 in one) once per machine
# into a versioned cache folder outside the checkout, then links the checkout's `.libtorch` to it
# so that plain `cargo build` / `cargo test` find it (see .cargo/config.toml).
# Idempotent: a second run returns at once. Prints the LibTorch folder on stdout.
#
# SAEX_CACHE overrides the cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/saex).
set -euo pipefail

# The other build tools (cmake for the bundled libopus), first: every build path runs this
# script before cargo. Their messages go to stderr; stdout is the LibTorch folder alone.
"$(dirname "${BASH_SOURCE[0]}")/setup-build.sh" >&2

TORCH_VERSION=2.11.0
cache_root="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}"
prefix="$cache_root/libtorch-$TORCH_VERSION"
stamp="$prefix/.installed"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ ! -f "$stamp" ]; then
    python="$(command -v python3 || true)"
    if [ -z "$python" ]; then
        echo "saex: python3 (with venv) is needed to fetch torch==$TORCH_VERSION from PyPI" >&2
        exit 2
    fi
    echo "saex: installing LibTorch $TORCH_VERSION into $prefix (once per machine, about 5 GB)" >&2
    # No stamp means an earlier install was cut off or never ran: start clean.
    rm -rf "$prefix"
    mkdir -p "$prefix"
    "$python" -m venv "$prefix/venv"
    "$prefix/venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off \
        "torch==$TORCH_VERSION" >&2
    touch "$stamp"
fi

torch_dir="$(ls -d "$prefix"/venv/lib/python3*/site-packages/torch | head -n 1)"
ln -sfn "$torch_dir" "$repo/.libtorch"
echo "$torch_dir"
