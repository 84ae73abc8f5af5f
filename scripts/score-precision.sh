#!/usr/bin/env bash
# Measures what the network's precision (`--network-precision`) does to the scores: separates a
# corpus' test and ood splits with one model in f32 and in each reduced precision (`saex batch
# --device cpu`), scores every run with BSS Eval v4 (`saex eval --reference --estimate`), and
# prints per split and target the per-track change against f32 (median, smallest, largest) and
# the median SDRs. The issue-19 bar for a default precision: no track moves by 0.05 dB.
#
#   scripts/score-precision.sh [DATA] [MODEL]
#
# DATA holds test/ and ood/ (default: $SAEX_CACHE/corpus-v2-eval, made by
# scripts/score-default-models.sh); MODEL defaults to models/vocals. PRECISIONS="bf16 int8"
# picks the reduced precisions. Estimates and scores go to $SAEX_CACHE/precision/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}"
data="${1:-$cache/corpus-v2-eval}"
model="${2:-models/vocals}"
precisions="${PRECISIONS:-bf16 int8}"
out="$cache/precision/$(basename "$model")"
bin="${SAEX_BIN:-target/release/saex}"
if [ -z "${SAEX_BIN:-}" ]; then
    scripts/setup-libtorch.sh >/dev/null
    cargo build --release --locked --quiet --bin saex
fi
target=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["target"])' "$model/config.json")
residual=accompaniment
[ "$target" = vocals ] || residual="${target}_accompaniment"

for split in test ood; do
    for precision in f32 $precisions; do
        run="$out/$precision/$split"
        echo "saex batch --network-precision $precision ($split)" >&2
        "$bin" batch --in "$data/$split" --out "$run/estimates" --include '*/mixture.*' \
            --filename '{folder}/{target}.wav' --residual "$residual" --model "$model" \
            --network-precision "$precision" --device cpu --quiet
        "$bin" eval --reference "$data/$split" --estimate "$run/estimates" --out "$run/scores" \
            --targets "$target" >/dev/null
    done
done

python3 - "$out" "$precisions" "$target" "$residual" <<'PY'
import json, statistics, sys
out, precisions, names = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
def per_track(precision, split):
    summary = json.load(open(f"{out}/{precision}/{split}/scores/summary.json"))
    return {(t["track"], t["target"]): t["metrics"]["SDR"] for t in summary["tracks"]
            if t["metrics"]["SDR"] is not None}
print("| precision | split | target | tracks | per-track change: median | smallest | largest "
      "| median SDR f32 | median SDR reduced |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|")
for precision in precisions:
    for split in ("test", "ood"):
        base, reduced = per_track("f32", split), per_track(precision, split)
        for name in names:
            keys = sorted(k for k in base if k[1] == name and k in reduced)
            change = [reduced[k] - base[k] for k in keys]
            print(f"| {precision} | {split} | {name} | {len(keys)} | {statistics.median(change):+.3f} dB "
                  f"| {min(change):+.3f} dB | {max(change):+.3f} dB "
                  f"| {statistics.median(base[k] for k in keys):.3f} dB "
                  f"| {statistics.median(reduced[k] for k in keys):.3f} dB |")
PY
