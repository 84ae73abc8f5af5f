#!/usr/bin/env bash
# The performance table of docs/benchmarks.md, in one run on one machine:
#   - extraction real-time factor and peak RSS on generated stereo 44.1 kHz inputs of 30 s, 3 min
#     and 60 min (a model of the default shape; speed does not depend on its weights), and where
#     the 3-minute run's time goes, stage by stage;
#   - the compute limit (LibTorch matmul GFLOP/s on the model's own shapes), the model's FLOPs
#     per second of audio, and the fraction of the limit that extraction reaches;
#   - training throughput (frames per second) and the least-squares accumulation and solve;
#   - Open-Unmix's inference on the same 3-minute file with the same number of threads.
#
#   scripts/bench-performance.sh            (REPEAT=N: best of N runs for the short inputs, default 3)
#
# Installs openunmix (with numpy, tqdm and torchaudio 2.11.0) into the LibTorch venv that
# scripts/setup-libtorch.sh made. Inputs are cached under
# ${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}/bench. Takes about 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cache="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}"
scripts/setup-libtorch.sh >/dev/null
python="$cache/libtorch-2.11.0/venv/bin/python"
if ! "$python" -c "import openunmix.model" 2>/dev/null; then
    echo "installing openunmix into the LibTorch venv" >&2
    "$python" -m pip install --disable-pip-version-check --progress-bar off --quiet numpy tqdm >&2
    # --no-deps keeps pip from replacing torch 2.11.0; torchaudio is pinned to the same release.
    "$python" -m pip install --disable-pip-version-check --progress-bar off --quiet --no-deps \
        "torchaudio==2.11.0" "openunmix==1.3.0" >&2
fi
cargo build --release --locked --quiet --bin saex \
    --example bench_inputs --example perf_limits --example synth_stems

work="$cache/bench"
target/release/examples/bench_inputs "$work" 30 180 3600 >&2
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
threads="$(nproc)"
repeat="${REPEAT:-3}"

# Best (shortest) wall time of N runs of a command, with that run's peak RSS: "seconds kilobytes".
best_of() {
    local n="$1" best="" rss=""
    shift
    for _ in $(seq "$n"); do
        # Earlier runs' outputs must not be written back to disk during this one.
        sync
        /usr/bin/time -f "%e %M" -o "$out/time" "$@" >"$out/stdout" 2>"$out/stderr" ||
            { cat "$out/stderr" >&2; exit 1; }
        read -r wall kb <"$out/time"
        if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best="$wall" rss="$kb"
            cp "$out/stdout" "$out/best-stdout"
        fi
    done
    echo "$best $rss"
}

# The extraction command for an input of $1 seconds.
extract() {
    echo target/release/saex extract --quiet --device cpu --model "$work/model" \
        --mix "$work/mix-$1s.wav" --out "$out/vocals.wav"
}

echo "measuring: extraction" >&2
declare -A wall rss
for seconds in 30 180 3600; do
    n="$repeat"
    [ "$seconds" -lt 3600 ] || n=1
    # shellcheck disable=SC2046 # no spaces in these paths by construction
    read -r wall[$seconds] rss[$seconds] < <(best_of "$n" $(extract "$seconds"))
done
sync
$(extract 180) --timings 2>"$out/stages"

echo "measuring: compute limit, least squares" >&2
target/release/examples/perf_limits >"$out/limits"
limit() { awk -v k="$1" '$1 == k { print $2 }' "$out/limits"; }

echo "measuring: training" >&2
target/release/examples/synth_stems "$out/stems" 20 4 1 44100 0 2>/dev/null
/usr/bin/time -f "%e %M" -o "$out/train-time" target/release/saex train --quiet \
    --data "$out/stems" --target vocals --out "$out/model" --device cpu --seed 0 \
    --epochs-per-stage 1 --finetune-epochs 1 --frames-per-epoch 65536 --ls-frames 16384 \
    >/dev/null 2>&1
train_fps="$("$python" -c "import json,sys; print(json.load(open(sys.argv[1]))['training']['frames_per_second'])" "$out/model/config.json")"
init_seconds="$("$python" -c "import json,sys; print(json.load(open(sys.argv[1]))['training']['init_seconds'])" "$out/model/config.json")"

echo "measuring: Open-Unmix" >&2
read -r umx_wall umx_rss < <(best_of "$repeat" "$python" scripts/peer/openunmix_extract.py \
    "$work/mix-180s.wav" "$out/umx" --threads "$threads")
cp "$out/best-stdout" "$out/umx-stages"

echo "machine: $threads cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
    "$(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo)," \
    "LibTorch $("$python" -c 'import torch; print(torch.__version__)')"
echo "date: $(date -u +%Y-%m-%d), threads: $threads (saex and Open-Unmix), best of $repeat runs (one for 60 min)"
echo
echo "### Extraction (default model shape, CPU)"
echo
echo "| input | wall time | real-time factor | peak RSS | GFLOP/s | of the limit |"
echo "|---|---|---|---|---|---|"
for seconds in 30 180 3600; do
    awk -v s="$seconds" -v w="${wall[$seconds]}" -v r="${rss[$seconds]}" \
        -v f="$(limit gflop_per_stereo_second)" -v l="$(limit limit_gflops)" 'BEGIN {
        g = f * s / w
        printf "| %d s stereo 44.1 kHz | %.2f s | %.1fx | %.0f MB | %.1f | %.0f %% |\n",
            s, w, s / w, r / 1024, g, 100 * g / l }'
done
echo
echo "Where the 3-minute run's time goes (\`saex extract --timings\`):"
echo
echo '```'
cat "$out/stages"
echo '```'
echo
echo "### Compute limit and training"
echo
echo "| quantity | value |"
echo "|---|---|"
echo "| batch rows (frames x channels) | $(limit batch_rows) |"
echo "| matmul, layer 1 ($(limit layer1_shape)) | $(limit layer1_gflops) GFLOP/s |"
echo "| matmul, layers 2.. ($(limit layer2_shape)) | $(limit layer2_gflops) GFLOP/s |"
echo "| compute limit on the model's shapes | $(limit limit_gflops) GFLOP/s |"
echo "| model forward pass (scaling, bias, ReLU) | $(limit forward_gflops) GFLOP/s |"
echo "| model cost | $(limit mflop_per_frame) MFLOP per frame, $(limit gflop_per_stereo_second) GFLOP per second of stereo audio |"
echo "| least squares, layer 1: accumulation | $(limit ls_rows_per_second) frames/s (f64) |"
echo "| least squares, layer 1: solve | $(limit ls_solve_seconds) s |"
echo "| training (Adam, batch 256, default shape) | $train_fps frames/s |"
echo "| training: LS initialisation of 3 layers, 16384 frames each | $init_seconds s |"
echo
echo "### Against Open-Unmix (same 3-minute file, $threads threads)"
echo
echo "| tool | wall time | real-time factor | peak RSS |"
echo "|---|---|---|---|"
awk -v w="${wall[180]}" -v r="${rss[180]}" \
    'BEGIN { printf "| saex extract (1 target + Wiener) | %.2f s | %.1fx | %.0f MB |\n", w, 180 / w, r / 1024 }'
awk -v w="$umx_wall" -v r="$umx_rss" \
    'BEGIN { printf "| Open-Unmix umxhq (1 target + residual, 1 EM iteration) | %.2f s | %.1fx | %.0f MB |\n", w, 180 / w, r / 1024 }'
echo
echo "Open-Unmix's stages: $(cat "$out/umx-stages")"
awk -v a="${wall[180]}" -v b="$umx_wall" 'BEGIN { printf "saex is %.1fx faster than Open-Unmix.\n", b / a }'
