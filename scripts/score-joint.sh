#!/usr/bin/env bash
# Issue 14, item 3: the shipped models together (vocals, bass, drums: the joint Wiener mask, the
# default for several targets) with and without the multichannel Wiener filter's EM iterations
# (`--niter`), scored with BSS Eval v4 on a corpus' evaluation subsets; prints one table of the
# medians over tracks per target, split and iteration count.
#
#   scripts/score-joint.sh [DATA]        (default DATA: $SAEX_CACHE/corpus-v2-eval)
#
# Environment: NITERS (default "0 1"), SPLITS (default "test ood"), SAEX_BIN (a prebuilt saex;
# default: build target/release/saex). Scores go to $SAEX_CACHE/eval-<DATA's name>/joint-niter<N>-<split>;
# a combination already scored (its summary.json exists) is not redone. About 3 to 5 minutes per
# combination on 2 idle cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}"
data="${1:-$cache/corpus-v2-eval}"
out="$cache/eval-$(basename "$data")"
niters="${NITERS:-0 1}"
splits="${SPLITS:-test ood}"
scripts/setup-libtorch.sh >/dev/null
saex="${SAEX_BIN:-}"
if [ -z "$saex" ]; then
    cargo build --release --locked --quiet --bin saex
    saex=target/release/saex
fi
mkdir -p "$out"
for niter in $niters; do
    for split in $splits; do
        scored="$out/joint-niter$niter-$split"
        [ -f "$scored/summary.json" ] && continue
        echo "== --niter $niter on $split" >&2
        "$saex" eval --data "$data/$split" --model models/vocals --model models/bass \
            --model models/drums --niter "$niter" --device cpu --out "$scored" > "$scored.log" 2>&1
    done
done

echo "| target | split | --niter | SDR | SIR | SAR |"
echo "|---|---|---:|---:|---:|---:|"
for niter in $niters; do
    for split in $splits; do
        python3 - "$out/joint-niter$niter-$split/summary.json" "$split" "$niter" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
for t in summary["targets"]:
    m = t["metrics"]
    print(f"| {t['target']} | {sys.argv[2]} | {sys.argv[3]} | {m['SDR']:.2f} | {m['SIR']:.2f} | {m['SAR']:.2f} |")
PY
    done
done
