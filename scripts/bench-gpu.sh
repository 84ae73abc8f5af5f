#!/usr/bin/env bash
# The performance table in --device cuda mode on a GPU machine that has PyTorch 2.11.0 (CUDA)
# and no Rust, from what scripts/gpu-carry.sh put in bench-carry/: LibTorch comes from that
# PyTorch (its torch/lib and nvidia/*/lib folders), Open-Unmix from the carried packages.
#
#   PYTHON=/path/to/python-with-torch [LIMIT=seconds] [REPEAT=N] scripts/bench-gpu.sh [OUT_DIR]
#
# Prints the table (also written to OUT_DIR/table.md, the log to OUT_DIR/log.txt).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
carry="$PWD/bench-carry"
python="${PYTHON:-python3}"
out="${1:-${OUT:-$(mktemp -d)}}"
mkdir -p "$out"
site="$("$python" -c 'import torch, os; print(os.path.dirname(os.path.dirname(torch.__file__)))')"
nvidia="$(find "$site/nvidia" -maxdepth 3 -type d -name lib 2>/dev/null | tr '\n' ':')"
export LD_LIBRARY_PATH="$site/torch/lib:$nvidia${LD_LIBRARY_PATH:-}"
export PYTHONPATH="$carry/py"
"$python" -c "import numpy" 2>/dev/null || "$python" -m zipfile -e "$carry"/numpy-*.whl "$carry/py"
chmod +x "$carry/saex" "$carry"/examples/*
"$python" -c "import torch, openunmix.model; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
nvidia-smi -L 2>/dev/null || true
# Fail fast: a 30-second CUDA extraction, with its stage times.
quick="$(mktemp -d)"
"$carry/examples/bench_inputs" "$quick" 30 >/dev/null &&
    "$carry/saex" extract --device cuda --model "$quick/model" --mix "$quick/mix-30s.wav" \
        --out "$quick/v.wav" --timings 2>&1 | tail -12
SAEX_BIN_DIR="$carry" PYTHON="$python" SAEX_CACHE="$quick/cache" REPEAT="${REPEAT:-2}" \
    timeout "${LIMIT:-480}" scripts/bench-performance.sh --device cuda >"$out/table.md" 2>"$out/log.txt"
status=$?
cat "$out/table.md"
tail -20 "$out/log.txt"
exit "$status"
