#!/usr/bin/env bash
# Extraction benchmark: real-time factor and peak RSS of `saex extract` (decode to written file)
# on generated stereo 44.1 kHz mixtures, with a model of the shipped vocals model's shape.
#
#   scripts/bench-extract.sh [SECONDS ...]        (default: 30 180 3600)
#
# MODEL=DIR uses that model instead (e.g. models/vocals); by default a model of the default
# shape with random weights is generated (speed does not depend on the weights).
# Inputs are cached under ${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}/bench.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-libtorch.sh >/dev/null
cargo build --release --locked --quiet --bin saex --example bench_inputs
lengths=("$@")
[ ${#lengths[@]} -gt 0 ] || lengths=(30 180 3600)
work="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}/bench"
target/release/examples/bench_inputs "$work" "${lengths[@]}"
model="${MODEL:-$work/model}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "model: $model"
echo
echo "| input | wall time | real-time factor | peak RSS |"
echo "|---|---|---|---|"
for seconds in "${lengths[@]}"; do
    /usr/bin/time -f "%e %M" -o "$out/time" target/release/saex extract --quiet --device cpu \
        --model "$model" --mix "$work/mix-${seconds}s.wav" --out "$out/vocals.wav"
    read -r wall rss <"$out/time"
    awk -v s="$seconds" -v w="$wall" -v r="$rss" \
        'BEGIN { printf "| %d s stereo 44.1 kHz | %.2f s | %.1fx | %.0f MB |\n", s, w, s / w, r / 1024 }'
done
