#!/usr/bin/env bash
# Batch load test: `saex batch` over many short files with all cores, to show that no file fails
# and that peak memory does not grow with the number of files (a leak per file would).
#
#   scripts/load-batch.sh [NB_FILES ...]        (default: 25 200; files of SECONDS_PER_FILE=3 s each)
#
# Runs one batch per count on the first NB_FILES of a generated folder (a model of the default
# shape with random weights, stereo 44.1 kHz mixtures) and prints a Markdown table of wall time,
# exit code, outputs written and peak RSS (GNU time). Inputs are cached under
# ${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}/load.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-libtorch.sh >/dev/null
cargo build --release --locked --quiet --bin saex --example load_inputs
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(25 200)
seconds="${SECONDS_PER_FILE:-3}"
largest=$(printf '%s\n' "${counts[@]}" | sort -n | tail -1)
work="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}/load"
target/release/examples/load_inputs "$work" "$largest" "$seconds"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
echo "| files | audio | wall time | exit code | outputs | peak RSS |"
echo "|---|---|---|---|---|---|"
for n in "${counts[@]}"; do
    mkdir -p "$tmp/in-$n"
    for f in $(ls "$work/mixes" | sort | head -n "$n"); do
        ln -s "$work/mixes/$f" "$tmp/in-$n/$f"
    done
    code=0
    /usr/bin/time -f "%e %M" -o "$tmp/time" target/release/saex batch --quiet --device cpu \
        --model "$work/model" --in "$tmp/in-$n" --out "$tmp/out-$n" 2>"$tmp/log" || code=$?
    read -r wall rss <"$tmp/time"
    outputs=$(find "$tmp/out-$n" -name vocals.wav | wc -l)
    awk -v n="$n" -v s="$seconds" -v w="$wall" -v c="$code" -v o="$outputs" -v r="$rss" \
        'BEGIN { printf "| %d x %g s | %g s | %.1f s | %d | %d | %.0f MB |\n", n, s, n * s, w, c, o, r / 1024 }'
    grep -v "processed" "$tmp/log" | head -5 || true
done
