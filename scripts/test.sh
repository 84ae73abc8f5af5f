#!/usr/bin/env bash
# The README's test command: installs what the tests need (LibTorch once per machine, the ALSA
# and JACK packages of `saex live` with scripts/setup-audio.sh, headless Chromium for the page's
# browser test with scripts/setup-browser.sh, Slurm and munge with scripts/setup-slurm.sh, the
# Python package's environment with scripts/setup-python.sh), checks formatting and lints
# (warnings are errors), builds, and runs every test of the workspace (unit, integration, CLI
# and doc tests, then the Python package's pytest tests, Slurm's and Ray's included). Arguments
# go to `cargo test` (and then the Python tests are left out).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-libtorch.sh >/dev/null
# `saex live` (audio devices) where the ALSA and JACK files can be had; else without it.
features=()
if scripts/setup-audio.sh; then
    features=(--features live)
else
    echo "test.sh: building without saex live (the live tests are skipped)"
fi
# Headless Chromium and chromedriver for the real-browser test of `saex serve`
# (tests/all/serve/browser.rs); without them that test says it is skipped and passes.
if ! scripts/setup-browser.sh; then
    echo "test.sh: no headless Chromium (the real-browser test of saex serve is skipped)"
fi
# Slurm and munge for the job-array test of `saex batch --shard` (python/tests/test_slurm.py);
# without them that test says it is skipped.
if ! scripts/setup-slurm.sh; then
    echo "test.sh: no Slurm (the job-array test is skipped)"
fi
# The Python package's environment (scripts/setup-python.sh: in saex's cache, torch from
# LibTorch's environment, maturin, numpy, pytest and Ray from PyPI); its python also tells PyO3
# which Python the binding (python/) is checked and built for.
python="$(scripts/setup-python.sh)"
export PYO3_PYTHON="$python"
cargo fmt --all --check
# The workspace: the saex package and the Python binding (python/).
cargo clippy --release --locked --workspace "${features[@]/#live/saex/live}" --all-targets \
    --quiet -- -D warnings
cargo test --release --locked "${features[@]}" "$@" 2>&1

# The Python package (docs/python.md): its extension built in place (python/saex/) by maturin
# in the workspace's target folder (LibTorch's bindings are not compiled again), then its tests
# on that checkout's package, which compare it with the saex binary that cargo test built.
if [ $# -eq 0 ]; then
    (
        export VIRTUAL_ENV="${python%/bin/python}"
        export PATH="$VIRTUAL_ENV/bin:$PATH"
        maturin develop --release --locked --skip-install -m python/Cargo.toml 2>&1
    )
    PYTHONPATH=python "$python" -m pytest python/tests -p no:cacheprovider -ra -s 2>&1
fi

# scripts/install.sh into a temporary prefix, the installed copy run from elsewhere on its own
# libraries and models (a few seconds).
if [ $# -eq 0 ]; then
    scripts/test-install.sh
fi

# The corpus generator's checks (Python, tiny inputs), when its virtual environment exists
# (scripts/corpus/setup.sh makes it; it needs Debian packages, so the Rust suite does not).
corpus_python="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}/corpus-venv/bin/python"
if [ $# -eq 0 ] && [ -x "$corpus_python" ]; then
    "$corpus_python" scripts/corpus/test_corpus.py
elif [ $# -eq 0 ]; then
    echo "test.sh: corpus checks skipped (no corpus venv; run scripts/corpus/make-corpus.sh once)"
fi
