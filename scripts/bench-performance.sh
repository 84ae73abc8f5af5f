#!/usr/bin/env bash
# The performance table of docs/benchmarks.md, in one run on one machine:
#   - extraction real-time factor and peak RSS on generated stereo 44.1 kHz inputs (30 s, 3 min
#     and 60 min on the CPU; 3 and 10 min with --device cuda, on the GPU and on the CPU), with a
#     model of the shipped vocals model's shape (speed does not depend on its weights), and where the 3-minute
#     run's time goes, stage by stage;
#   - batch throughput: 20 files of 3 minutes through `saex batch` (hours of audio per hour);
#   - cores: batch throughput on 1, 2 and all cores (taskset), against 0.7 x N times one core;
#   - the compute limit (LibTorch matmul GFLOP/s on the model's own shapes), the model's FLOPs
#     per second of audio, and the fraction of the limit that extraction reaches;
#   - training throughput (frames per second; with --device cuda on the GPU and on the CPU) and
#     the least-squares accumulation and solve;
#   - low latency: 20 s of the demo mix piped through `saex extract --latency low` in real time
#     (scripts/bench-live.py; CPU only);
#   - Open-Unmix's inference on the same 3-minute file with the same threads (and on the GPU
#     with --device cuda).
# It prints the CPU's lscpu model name and whether it has AVX512-BF16, AMX and VNNI first.
#
#   scripts/bench-performance.sh                 the CPU table
#   scripts/bench-performance.sh --device cuda   the same table on a GPU machine
#
# Environment: REPEAT=N (best of N runs for the short inputs, default 3), BATCH_FILES (20),
# LENGTHS (input lengths in seconds), SAEX_BIN_DIR (prebuilt binaries laid out like
# target/release, for a machine without Rust: then nothing is built or installed), PYTHON
# (a Python with torch 2.11.0 and openunmix importable), LIVE_SECONDS (20).
#
# Without SAEX_BIN_DIR it builds saex and installs openunmix (with numpy, tqdm and torchaudio
# 2.11.0) into the LibTorch venv that scripts/setup-libtorch.sh made. Inputs are cached under
# ${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}/bench. Takes about 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

device=cpu
if [ "${1:-}" = "--device" ]; then
    device="${2:?--device needs cpu or cuda}"
fi
case "$device" in
cpu) default_lengths="30 180 3600" ;;
cuda) default_lengths="180 600" ;;
*) echo "--device: expected cpu or cuda" >&2 && exit 2 ;;
esac
lengths="${LENGTHS:-$default_lengths}"

cache="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}"
if [ -n "${SAEX_BIN_DIR:-}" ]; then
    bin="$SAEX_BIN_DIR"
    python="${PYTHON:-python3}"
else
    scripts/setup-libtorch.sh >/dev/null
    python="${PYTHON:-$cache/libtorch-2.11.0/venv/bin/python}"
    if ! "$python" -c "import openunmix.model" 2>/dev/null; then
        echo "installing openunmix into the LibTorch venv" >&2
        "$python" -m pip install --disable-pip-version-check --progress-bar off --quiet numpy tqdm >&2
        # --no-deps keeps pip from replacing torch 2.11.0; torchaudio is pinned to the same release.
        "$python" -m pip install --disable-pip-version-check --progress-bar off --quiet --no-deps \
            "torchaudio==2.11.0" "openunmix==1.3.0" >&2
    fi
    cargo build --release --locked --quiet --bin saex \
        --example bench_inputs --example perf_limits --example synth_stems
    bin=target/release
fi
saex="$bin/saex"

work="$cache/bench"
# shellcheck disable=SC2086 # a list of numbers
"$bin/examples/bench_inputs" "$work" $lengths 180 >&2
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
threads="$(nproc)"
repeat="${REPEAT:-3}"
batch_files="${BATCH_FILES:-20}"
devices="cpu"
[ "$device" = cpu ] || devices="$device cpu"

# Best (shortest) wall time of N runs of a command, with that run's peak RSS: "seconds kilobytes".
best_of() {
    local n="$1" best="" rss=""
    shift
    for _ in $(seq "$n"); do
        # Earlier runs' outputs must not be written back to disk during this one.
        sync
        if [ -x /usr/bin/time ]; then
            /usr/bin/time -f "%e %M" -o "$out/time" "$@" >"$out/stdout" 2>"$out/stderr" ||
                { cat "$out/stderr" >&2; exit 1; }
            read -r wall kb <"$out/time"
        else
            # No GNU time here: wall time only (peak RSS shows as 0).
            local t0 t1
            t0="$(date +%s.%N)"
            "$@" >"$out/stdout" 2>"$out/stderr" || { cat "$out/stderr" >&2; exit 1; }
            t1="$(date +%s.%N)"
            wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')" kb=0
        fi
        if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best="$wall" rss="$kb"
            cp "$out/stdout" "$out/best-stdout"
        fi
    done
    echo "$best $rss"
}

# The extraction command for an input of $1 seconds on device $2.
extract() {
    echo "$saex" extract --quiet --device "$2" --model "$work/model" \
        --mix "$work/mix-$1s.wav" --out "$out/vocals-$2.wav"
}

echo "measuring: extraction" >&2
declare -A wall rss
for dev in $devices; do
    for seconds in $lengths; do
        n="$repeat"
        [ "$seconds" -lt 3600 ] || n=1
        # shellcheck disable=SC2046 # no spaces in these paths by construction
        read -r wall[$dev-$seconds] rss[$dev-$seconds] < <(best_of "$n" $(extract "$seconds" "$dev"))
    done
    sync
    $(extract 180 "$dev") --timings 2>"$out/stages-$dev"
done

if [ "$device" = cuda ]; then
    echo "checking: --device auto, CUDA against CPU" >&2
    "$saex" extract --quiet --device auto --model "$work/model" --mix "$work/mix-180s.wav" \
        --out "$out/vocals-auto.wav"
    # The reference: f32 on the CPU (the CPU's default may be bf16, see --network-precision).
    "$saex" extract --quiet --device cpu --network-precision f32 --model "$work/model" \
        --mix "$work/mix-180s.wav" --out "$out/vocals-cpu-f32.wav"
    # The largest difference in 16-bit steps between two 16-bit WAVs of the same shape.
    lsb() {
        "$python" - "$1" "$2" <<'PY'
import sys, wave, torch
def read(p):
    with wave.open(p, "rb") as f:
        return torch.frombuffer(bytearray(f.readframes(f.getnframes())), dtype=torch.int16).int()
a, b = read(sys.argv[1]), read(sys.argv[2])
assert a.shape == b.shape
print(int((a - b).abs().max()), f"{(a != b).float().mean().item() * 100:.3f}")
PY
    }
    read -r cuda_cpu_lsb cuda_cpu_share < <(lsb "$out/vocals-cuda.wav" "$out/vocals-cpu-f32.wav")
    read -r auto_cuda_lsb _ < <(lsb "$out/vocals-auto.wav" "$out/vocals-cuda.wav")
fi

# A folder of N copies of the 3-minute input under distinct names.
batch_dir() {
    local dir="$work/batch-$1"
    if [ ! -d "$dir" ]; then
        mkdir -p "$dir.tmp"
        for i in $(seq -w 1 "$1"); do
            cp "$work/mix-180s.wav" "$dir.tmp/song-$i.wav"
        done
        mv "$dir.tmp" "$dir"
    fi
    echo "$dir"
}

# Throughput (seconds of audio per second) of `saex batch` over N 3-minute files on device D,
# with an optional CPU list for taskset: "N D [CPUS]".
batch_rate() {
    local n="$1" dev="$2" cpus="${3:-}" dir
    dir="$(batch_dir "$n")"
    local cmd=("$saex" batch --quiet --overwrite --device "$dev" --model "$work/model"
        --in "$dir" --out "$out/batch")
    [ -z "$cpus" ] || cmd=(taskset -c "$cpus" "${cmd[@]}")
    read -r seconds _ < <(best_of "${BATCH_REPEAT:-1}" "${cmd[@]}")
    rm -rf "$out/batch"
    awk -v n="$n" -v s="$seconds" 'BEGIN { printf "%.1f %.2f\n", n * 180 / s, s }'
}

echo "measuring: batch throughput" >&2
declare -A batch
for dev in $devices; do
    batch[$dev]="$(batch_rate "$batch_files" "$dev")"
done

echo "measuring: cores" >&2
declare -A cores
core_counts="1 2"
[ "$threads" -le 2 ] || core_counts="1 2 $threads"
for n in $core_counts; do
    files=$((2 * n > 4 ? 2 * n : 4))
    cores[$n]="$(batch_rate "$files" cpu "0-$((n - 1))")"
done

echo "measuring: compute limit, least squares" >&2
"$bin/examples/perf_limits" >"$out/limits"
limit() { awk -v k="$1" '$1 == k { print $2 }' "$out/limits"; }

echo "measuring: training" >&2
"$bin/examples/synth_stems" "$out/stems" 20 4 1 44100 0 2>/dev/null
declare -A train_fps init_seconds
for dev in $devices; do
    "$saex" train --quiet --data "$out/stems" --target vocals --out "$out/model-$dev" \
        --device "$dev" --seed 0 --epochs-per-stage 1 --finetune-epochs 1 \
        --frames-per-epoch 65536 --ls-frames 16384 >/dev/null 2>&1
    config="$out/model-$dev/config.json"
    train_fps[$dev]="$("$python" -c "import json,sys; print(json.load(open(sys.argv[1]))['training']['frames_per_second'])" "$config")"
    init_seconds[$dev]="$("$python" -c "import json,sys; print(json.load(open(sys.argv[1]))['training']['init_seconds'])" "$config")"
done

echo "measuring: low latency (20 s of the demo, paced in real time)" >&2
if [ "$device" = cpu ]; then
    python3 scripts/bench-live.py --saex "$saex" --model models/vocals \
        --input audio/demo/mixture.wav --seconds "${LIVE_SECONDS:-20}" >"$out/live" 2>&1 ||
        echo "(the low-latency run failed; see above)" >>"$out/live"
fi

echo "measuring: Open-Unmix" >&2
declare -A umx_wall umx_rss
for dev in $devices; do
    read -r umx_wall[$dev] umx_rss[$dev] < <(best_of "$repeat" "$python" scripts/peer/openunmix_extract.py \
        "$work/mix-180s.wav" "$out/umx" --threads "$threads" --device "$dev")
    cp "$out/best-stdout" "$out/umx-stages-$dev"
done

# The CPU as docs/benchmarks.md names it: lscpu's model name, and which of the instructions
# that the network's reduced precisions use it has.
cpu_flags="$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2)"
has() { case " $cpu_flags " in *" $1 "*) echo yes ;; *) echo no ;; esac; }
model_name="$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n1)"
[ -n "$model_name" ] || model_name="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "CPU (lscpu model name): $model_name"
echo "CPU flags: avx512_bf16 $(has avx512_bf16), amx_bf16 $(has amx_bf16), amx_int8 $(has amx_int8)," \
    "avx512_vnni $(has avx512_vnni), avx_vnni $(has avx_vnni)"
echo "machine: $threads cores, $model_name," \
    "$(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo)," \
    "LibTorch $("$python" -c 'import torch; print(torch.__version__)')"
if [ "$device" = cuda ]; then
    echo "GPU: $("$python" -c 'import torch; print(torch.cuda.get_device_name(0))')"
fi
echo "date: $(date -u +%Y-%m-%d), threads: $threads (saex and Open-Unmix), best of $repeat runs (one for 60 min), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "### Extraction (the shipped vocals model's shape)"
echo
echo "| device | input | wall time | real-time factor | peak RSS | GFLOP/s | of the CPU limit |"
echo "|---|---|---|---|---|---|---|"
for dev in $devices; do
    for seconds in $lengths; do
        awk -v d="$dev" -v s="$seconds" -v w="${wall[$dev-$seconds]}" -v r="${rss[$dev-$seconds]}" \
            -v f="$(limit gflop_per_stereo_second)" -v l="$(limit limit_gflops)" 'BEGIN {
            g = f * s / w
            printf "| %s | %d s stereo 44.1 kHz | %.2f s | %.1fx | %.0f MB | %.1f | %.0f %% |\n",
                d, s, w, s / w, r / 1024, g, 100 * g / l }'
    done
done
echo
for dev in $devices; do
    echo "Where the 3-minute run's time goes on $dev (\`saex extract --timings\`; stages overlap):"
    echo
    echo '```'
    cat "$out/stages-$dev"
    echo '```'
    echo
done
if [ "$device" = cuda ]; then
    echo "CUDA against the CPU in f32 on the 3-minute file: at most $cuda_cpu_lsb 16-bit steps apart" \
        "($cuda_cpu_share % of the samples differ); \`--device auto\` against \`--device cuda\`:" \
        "at most $auto_cuda_lsb steps apart (0: auto picked CUDA)."
    echo
fi
echo "### Batch throughput ($batch_files files of 3 minutes, \`saex batch\`, default --jobs)"
echo
echo "| device | wall time | hours of audio per hour |"
echo "|---|---|---|"
for dev in $devices; do
    read -r rate seconds <<<"${batch[$dev]}"
    echo "| $dev | $seconds s | ${rate}x |"
done
echo
echo "### Cores (CPU batch throughput under taskset, 2 files per core, at least 4)"
echo
echo "| cores | files | wall time | hours of audio per hour | per core | target (0.7 x N x one core) |"
echo "|---|---|---|---|---|---|"
read -r one _ <<<"${cores[1]}"
for n in $core_counts; do
    read -r rate seconds <<<"${cores[$n]}"
    files=$((2 * n > 4 ? 2 * n : 4))
    awk -v n="$n" -v f="$files" -v r="$rate" -v s="$seconds" -v o="$one" 'BEGIN {
        printf "| %d | %d | %.2f s | %.1fx | %.1fx | %.1fx (%s) |\n", n, f, s, r, r / n, 0.7 * n * o,
            (r >= 0.7 * n * o ? "met" : "not met") }'
done
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
for dev in $devices; do
    echo "| training on $dev (Adam, batch 256, default shape) | ${train_fps[$dev]} frames/s |"
    echo "| training on $dev: LS initialisation of 3 layers, 16384 frames each | ${init_seconds[$dev]} s |"
done
echo
echo "### Against Open-Unmix (same 3-minute file, $threads threads)"
echo
echo "| device | tool | wall time | real-time factor | peak RSS |"
echo "|---|---|---|---|---|"
for dev in $devices; do
    awk -v d="$dev" -v w="${wall[$dev-180]}" -v r="${rss[$dev-180]}" \
        'BEGIN { printf "| %s | saex extract (1 target, default mask: ratio) | %.2f s | %.1fx | %.0f MB |\n", d, w, 180 / w, r / 1024 }'
    awk -v d="$dev" -v w="${umx_wall[$dev]}" -v r="${umx_rss[$dev]}" \
        'BEGIN { printf "| %s | Open-Unmix umxhq (1 target + residual, 1 EM iteration) | %.2f s | %.1fx | %.0f MB |\n", d, w, 180 / w, r / 1024 }'
done
echo
if [ -s "$out/live" ]; then
    echo "### Low latency (\`saex extract --mix - --out - --latency low\`, models/vocals, scripts/bench-live.py)"
    echo
    echo '```'
    cat "$out/live"
    echo '```'
    echo
fi
for dev in $devices; do
    echo "Open-Unmix's stages on $dev: $(cat "$out/umx-stages-$dev")"
    awk -v d="$dev" -v a="${wall[$dev-180]}" -v b="${umx_wall[$dev]}" \
        'BEGIN { printf "On %s, saex is %.1fx faster than Open-Unmix.\n", d, b / a }'
done
