#!/usr/bin/env bash
# Scores the shipped models on a corpus' test and ood splits with BSS Eval v4
# (`saex eval --save-scores`): each model with both masks, beside the IRM ceiling and the mixture
# floor, recorded per split under "scores" in its config.json by saex itself.
#
#   scripts/score-default-models.sh [DATA]
#
# DATA holds test/ and ood/ (default: $SAEX_CACHE/corpus-v2-eval, every third track of
# corpus-v2's splits, made by scripts/corpus/make-eval-subset.sh when missing; give
# $SAEX_CACHE/corpus-v2 for the whole splits, about 4 times longer). Evaluation folders (museval
# JSON per track, summary.md/json, one per target, split and method) go to
# $SAEX_CACHE/eval-<DATA's name>. Prints a markdown table of the medians over tracks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}"
data="${1:-$cache/corpus-v2-eval}"
if [ ! -d "$data/test" ] && [ "$data" = "$cache/corpus-v2-eval" ]; then
    scripts/corpus/make-eval-subset.sh "$cache/corpus-v2" "$data" 3
fi
out="$cache/eval-$(basename "$data")"
targets="${TARGETS:-vocals bass drums}"
splits="${SPLITS:-test ood}"
scripts/setup-libtorch.sh >/dev/null
cargo build --release --locked --quiet --bin saex
mkdir -p "$out"

for target in $targets; do
    for split in $splits; do
        echo "saex eval --data $data/$split --model models/$target --save-scores --force" >&2
        target/release/saex eval --data "$data/$split" --model "models/$target" --save-scores --force \
            --device cpu --out "$out/$split" >/dev/null
    done
done

# The table, read back from the scores saex recorded.
python3 - "$targets" "$splits" "$(basename "$data")" <<'PY'
import json, sys
corpus = sys.argv[3]
labels = {"wiener": "{t} model, wiener mask", "ratio": "{t} model, ratio mask",
          "irm_oracle": "IRM oracle", "mixture": "mixture"}
print("| target | split | method | tracks | target SDR | SIR | ISR | SAR | residual SDR |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|")
for target in sys.argv[1].split():
    scores = json.load(open(f"models/{target}/config.json"))["scores"]
    residual = "accompaniment" if target == "vocals" else f"{target}_accompaniment"
    for split in sys.argv[2].split():
        for method, label in labels.items():
            m = scores[f"{corpus}/{split}"][method]
            t, r = m[target], m[residual]
            print(f"| {target} | {split} | {label.format(t='models/' + target)} | {m['nb_tracks']} | "
                  f"{t['SDR']:.2f} | {t['SIR']:.2f} | {t['ISR']:.2f} | {t['SAR']:.2f} | {r['SDR']:.2f} |")
PY
for target in $targets; do
    target/release/saex info --model "models/$target" >/dev/null
done
