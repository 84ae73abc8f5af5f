#!/usr/bin/env bash
# Prepares what a GPU machine without Rust needs for `scripts/bench-gpu.sh`, in the git-ignored
# folder `bench-carry/` (about 40 MB): the release binary and the benchmark's examples, the
# openunmix and torchaudio packages (pure Python and abi3 libraries, for the machine's own
# PyTorch 2.11.0), and a numpy wheel for Python 3.12 in case that machine has none.
#
#   scripts/gpu-carry.sh            then, on the GPU machine, with bench-carry/ carried:
#   PYTHON=/path/to/python-with-torch scripts/bench-gpu.sh        (the whole table, long)
#   PYTHON=... scripts/bench-throughput.py --bin bench-carry     (issue 19's figures, short)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}"
scripts/setup-libtorch.sh >/dev/null
python="$cache/libtorch-2.11.0/venv/bin/python"
if ! "$python" -c "import openunmix.model" 2>/dev/null; then
    "$python" -m pip install --disable-pip-version-check --progress-bar off --quiet numpy tqdm
    "$python" -m pip install --disable-pip-version-check --progress-bar off --quiet --no-deps \
        "torchaudio==2.11.0" "openunmix==1.3.0"
fi
# FEATURES=live carries the binary built with `saex live` (it links ALSA's libasound, carried
# too, in lib/: put bench-carry/lib on LD_LIBRARY_PATH there); the default build needs neither.
cargo build --release --locked --quiet ${FEATURES:+--features "$FEATURES"} --bin saex \
    --example bench_inputs --example perf_limits --example synth_stems
carry=bench-carry
rm -rf "$carry"
mkdir -p "$carry/examples" "$carry/py"
cp target/release/saex "$carry/"
cp target/release/examples/{bench_inputs,perf_limits,synth_stems} "$carry/examples/"
# The device tool carries at most 64 MiB: symbols are not needed there.
strip "$carry/saex" "$carry"/examples/*
if ldd "$carry/saex" | grep -q libasound; then
    mkdir -p "$carry/lib"
    cp -L "$(ldd "$carry/saex" | awk '/libasound/ {print $3}')" "$carry/lib/"
fi
site="$("$python" -c 'import openunmix, os; print(os.path.dirname(os.path.dirname(openunmix.__file__)))')"
cp -a "$site/openunmix" "$site/torchaudio" "$carry/py/"
find "$carry/py" -name __pycache__ -type d -exec rm -rf {} +
numpy="$("$python" -c 'import numpy; print(numpy.__version__)')"
"$python" -m pip download --disable-pip-version-check --quiet --no-deps --only-binary=:all: \
    --python-version 3.12 --platform manylinux_2_28_x86_64 "numpy==$numpy" -d "$carry"
du -sh "$carry"
