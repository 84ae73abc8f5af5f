#!/usr/bin/env bash
# Low-latency benchmark (issue 17): the pipe path `saex extract --mix - --out - --latency low`
# fed in real time (scripts/bench-live.py): stated latency, end to end with an impulse, response
# and compute per hop, hops late; then, with a corpus, the SDR of --latency low against the
# batched engine on tracks of its test split (Wiener filter off in both).
#
#   scripts/bench-live.sh [SECONDS]        (default 600: the 10-minute run of the target)
#
# MODELS="vocals drums" picks the models (shipped names or folders; the first gets SECONDS, the
# others 60 s). CORPUS=DIR (a folder with test/<track>/mixture.flac and vocals.flac) and
# TRACKS=N (default 4) add the SDR comparison.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-libtorch.sh >/dev/null
cargo build --release --locked --quiet --bin saex
seconds="${1:-600}"
models=(${MODELS:-vocals drums})
input=audio/demo/mixture.wav

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for model in "${models[@]}"; do
    dir="$model"
    [ -d "$dir" ] || dir="models/$model"
    echo
    echo "## $model, ${seconds} s of $input looped, paced in real time"
    python3 scripts/bench-live.py --saex target/release/saex --model "$dir" --input "$input" \
        --seconds "$seconds"
    seconds=60
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

[ -n "${CORPUS:-}" ] || exit 0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/reference"
for track in $(ls "$CORPUS/test" | head -n "${TRACKS:-4}"); do
    ln -s "$(realpath "$CORPUS/test/$track")" "$work/reference/$track"
    for latency in batch low; do
        mkdir -p "$work/$latency/$track"
        target/release/saex extract --quiet --device cpu --model "${models[0]}" \
            --latency "$latency" --format float --mix "$CORPUS/test/$track/mixture.flac" \
            --out "$work/$latency/$track/vocals.wav"
    done
done
echo
echo "## SDR of ${models[0]} on $(ls "$work/reference" | wc -l) test tracks, batch against low"
for latency in batch low; do
    target/release/saex eval --reference "$work/reference" --estimate "$work/$latency" \
        --targets vocals --out "$work/eval-$latency" >/dev/null
done
python3 - "$work" <<'PY'
import json, sys, pathlib
work = pathlib.Path(sys.argv[1])
tracks = {}
for latency in ("batch", "low"):
    for f in sorted((work / f"eval-{latency}").rglob("*.json")):
        if f.name.startswith("summary"):
            continue
        doc = json.load(open(f))
        for t in doc["targets"]:
            frames = [fr["metrics"]["SDR"] for fr in t["frames"]
                      if isinstance(fr["metrics"]["SDR"], (int, float))]
            frames.sort()
            median = frames[len(frames) // 2] if frames else float("nan")
            tracks.setdefault((f.stem, t["name"]), {})[latency] = median
print("| track | target | SDR batch (dB) | SDR low (dB) | difference |")
print("|---|---|---|---|---|")
worst = 0.0
for (track, name), v in sorted(tracks.items()):
    d = v["low"] - v["batch"]
    worst = max(worst, abs(d))
    print(f"| {track} | {name} | {v['batch']:.4f} | {v['low']:.4f} | {d:+.5f} |")
print(f"largest difference: {worst:.5f} dB")
PY
