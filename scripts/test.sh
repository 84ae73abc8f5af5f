#!/usr/bin/env bash
# The README's test command: installs what the tests need (LibTorch once per machine, the ALSA
# and JACK packages of `saex live` with scripts/setup-audio.sh, headless Chromium for the page's
# browser test with scripts/setup-browser.sh), checks
# formatting and lints (warnings are errors), builds, and runs every test of the workspace
# (unit, integration, CLI and doc tests). Arguments go to `cargo test`.
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
cargo fmt --all --check
cargo clippy --release --locked "${features[@]}" --all-targets --quiet -- -D warnings
cargo test --release --locked "${features[@]}" "$@" 2>&1

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
