#!/usr/bin/env bash
# Scores the shipped models on the corpus' test split with BSS Eval v4
# (`saex eval --save-scores`): each model with both masks, beside the IRM ceiling and the mixture
# floor, recorded under "scores" in its config.json by saex itself.
#
#   scripts/score-default-models.sh [CORPUS]   (default: $SAEX_CACHE/corpus-v1)
#
# Evaluation folders (museval JSON per track, summary.md/json, one per target and method) go to
# $SAEX_CACHE/eval-corpus-v1. Prints a markdown table of the medians over tracks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}"
corpus="${1:-$cache/corpus-v1}"
out="$cache/eval-corpus-v1"
targets="${TARGETS:-vocals bass drums}"
scripts/setup-libtorch.sh >/dev/null
cargo build --release --locked --quiet --bin saex
mkdir -p "$out"

for target in $targets; do
    echo "saex eval --data $corpus/test --model models/$target --save-scores" >&2
    target/release/saex eval --data "$corpus/test" --model "models/$target" --save-scores \
        --device cpu --out "$out" >/dev/null
done

# The table, read back from the scores saex recorded.
python3 - "$targets" <<'PY'
import json, sys
labels = {"wiener": "{t} model, wiener mask", "ratio": "{t} model, ratio mask",
          "irm_oracle": "IRM oracle", "mixture": "mixture"}
print("| target | method | tracks | target SDR | SIR | ISR | SAR | residual SDR |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for target in sys.argv[1].split():
    scores = json.load(open(f"models/{target}/config.json"))["scores"]
    residual = "accompaniment" if target == "vocals" else f"{target}_accompaniment"
    for method, label in labels.items():
        m = scores[method]
        t, r = m[target], m[residual]
        print(f"| {target} | {label.format(t='models/' + target)} | {m['nb_tracks']} | "
              f"{t['SDR']:.2f} | {t['SIR']:.2f} | {t['ISR']:.2f} | {t['SAR']:.2f} | {r['SDR']:.2f} |")
PY
for target in $targets; do
    target/release/saex info --model "models/$target" >/dev/null
done
