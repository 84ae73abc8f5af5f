#!/usr/bin/env bash
# Issue 14's model scaling study: trains the vocals network in several shapes on corpus-v2 with
# one schedule (the same frames and epochs per layer for each), scores each with the ratio mask
# on the test and ood evaluation subsets (BSS Eval v4, `saex eval`), then writes the table of
# every shape scored so far to $SAEX_CACHE/scaling/table.md and its figure to
# docs/scaling-study.png (examples/scaling_plot.rs).
#
#   scripts/scaling-study.sh [NAME ...]      (default: every shape below, in that order)
#
# A shape already trained or scored (its summary.json exists) is not redone, and a stopped
# training run is resumed, so the study can be stopped and taken up again. About 10 to 35
# minutes of training per shape on 2 cores, and 5 of scoring.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}"
data="${DATA:-$cache/corpus-v2}"
eval_data="${EVAL_DATA:-$cache/corpus-v2-eval}"
work="$cache/scaling"
target="${TARGET:-vocals}"

# name: the shape's arguments to `saex train` (c: context C, 2C+1 frames in; s: every s-th
# frame; k: layers; mix50: half the excerpts coherent; masked: `--loss masked`; long: 4 times
# the frames per epoch and more epochs; seed2: the noise of a comparison; half, quarter: the
# same network on every 2nd or 4th training track of the corpus, for hours of data as an axis;
# b1025: every bin of n_fft 2048 in and out, up to 22 kHz, instead of the lowest 513).
declare -A shapes=(
  [c3-k3]="--context 3 --layers 3"
  [c3s2-k3]="--context 3 --context-stride 2 --layers 3"
  [c3-k5]="--context 3 --layers 5"
  [c3s2-k5]="--context 3 --context-stride 2 --layers 5"
  [c3-k3-seed2]="--context 3 --layers 3 --seed 2"
  [c3-k3-mix50]="--context 3 --layers 3 --mix-probability 0.5"
  [c3-k3-masked]="--context 3 --layers 3 --loss masked"
  [c3-k3-masked-seed2]="--context 3 --layers 3 --loss masked --seed 2"
  [c3-k3-long]="--context 3 --layers 3 --frames-per-epoch 196608 --epochs-per-stage 5 --finetune-epochs 20"
  [c5-k3]="--context 5 --layers 3"
  [c1-k3]="--context 1 --layers 3"
  [c3-k7]="--context 3 --layers 7"
  [c3-k3-4096]="--context 3 --layers 3 --n-fft 4096 --hop 1024 --bins-in 1486 --bins 1486"
  [c3-k3-half]="--context 3 --layers 3"
  [c3-k3-quarter]="--context 3 --layers 3"
  [c8-k3]="--context 8 --layers 3"
  [c3-k3-b1025]="--context 3 --layers 3 --bins-in 1025 --bins 1025"
  [c3-k3-long-seed2]="--context 3 --layers 3 --frames-per-epoch 196608 --epochs-per-stage 5 --finetune-epochs 20 --seed 2"
  [c1-k3-long]="--context 1 --layers 3 --frames-per-epoch 196608 --epochs-per-stage 5 --finetune-epochs 20"
  [c1-k3-long-seed2]="--context 1 --layers 3 --frames-per-epoch 196608 --epochs-per-stage 5 --finetune-epochs 20 --seed 2"
)
order=(c3-k3 c3s2-k3 c3-k5 c3s2-k5 c3-k3-seed2 c3-k3-mix50 c3-k3-masked c3-k3-masked-seed2
       c3-k3-long c5-k3 c1-k3 c3-k7 c3-k3-4096 c3-k3-half c3-k3-quarter c8-k3 c3-k3-b1025
       c1-k3-long c1-k3-long-seed2 c3-k3-long-seed2)
[ $# -gt 0 ] && order=("$@")
schedule=(--frames-per-epoch 49152 --epochs-per-stage 3 --finetune-epochs 5 --lr-patience 2
          --early-stop 4 --device cpu)

scripts/setup-libtorch.sh >/dev/null
mkdir -p "$work"
# A copy of the binary, so that builds during the study's hours do not change it midway;
# STUDY_BIN=DIR takes saex and examples/scaling_plot from DIR instead of building them.
saex="$work/saex"
plot="$work/scaling_plot"
if [ -z "${STUDY_BIN:-}" ]; then
  cargo build --release --locked --quiet --bin saex --example scaling_plot
  STUDY_BIN=target/release
fi
for bin in "$STUDY_BIN/saex" "$STUDY_BIN/examples/scaling_plot"; do
  cp "$bin" "$work/.new" && mv "$work/.new" "$work/$(basename "$bin")"
done
# The training data of a shape: the corpus, or (half, quarter) a folder of links to every 2nd or
# 4th of its training tracks beside all of its validation tracks.
data_for() {
  local every
  case "$1" in
    *-half) every=2 ;;
    *-quarter) every=4 ;;
    *) echo "$data"; return ;;
  esac
  local subset="$work/data-every-$every"
  if [ ! -d "$subset" ]; then
    mkdir -p "$subset.tmp/train"
    ln -sfn "$data/valid" "$subset.tmp/valid"
    local i=0
    for track in "$data"/train/*/; do
      [ $((i % every)) -eq 0 ] && ln -s "${track%/}" "$subset.tmp/train/"
      i=$((i + 1))
    done
    mv "$subset.tmp" "$subset"
  fi
  echo "$subset"
}

for name in "${order[@]}"; do
  model="$work/$target-$name"
  # A run that stopped keeps its checkpoint/ (removed when training ends): take it up again.
  if [ -d "$model/checkpoint" ]; then
    echo "== resume $name" >&2
    "$saex" train --resume --out "$model" >> "$model.train.log" 2>&1
  elif [ ! -f "$model/model.safetensors" ]; then
    echo "== train $name: ${shapes[$name]}" >&2
    # shellcheck disable=SC2086
    # The schedule's flags that the shape does not set itself (a longer run sets its own).
    own=()
    for ((i = 0; i < ${#schedule[@]}; i++)); do
      if [[ ${schedule[i]} == --* && ${schedule[i + 1]:-} != --* ]]; then
        [[ " ${shapes[$name]} " == *" ${schedule[i]} "* ]] || own+=("${schedule[i]}" "${schedule[i + 1]}")
        i=$((i + 1))
      else
        [[ " ${shapes[$name]} " == *" ${schedule[i]} "* ]] || own+=("${schedule[i]}")
      fi
    done
    "$saex" train --data "$(data_for "$name")" --target "$target" --out "$model" \
      ${shapes[$name]} "${own[@]}" $([[ ${shapes[$name]} == *--seed* ]] || echo --seed 1) \
      > "$model.train.log" 2>&1
  fi
  for split in test ood; do
    scored="$work/eval/$name/$split"
    if [ ! -f "$scored/summary.json" ]; then
      echo "== score $name on $split" >&2
      mkdir -p "$(dirname "$scored")"
      "$saex" eval --data "$eval_data/$split" --model "$model" --mask ratio \
        --device cpu --out "$scored" > "$scored.log" 2>&1
    fi
  done
done

# The table and figure of every shape scored on both splits, in the order above.
runs=()
# A second seed joins its shape's curve (label without "-seed2"); c3-k3-longer is c3-k3-long
# trained further (`saex train --resume --out DIR --finetune-epochs 40` on a copy) and joins its
# curve.
for name in c3-k3 c3-k3-seed2 c3s2-k3 c3-k5 c3s2-k5 c3-k3-mix50 c3-k3-masked c3-k3-masked-seed2 \
  c3-k3-long c3-k3-longer c3-k3-long-seed2 c5-k3 c1-k3 c1-k3-long c1-k3-long-seed2 c3-k7 \
  c3-k3-4096 c3-k3-half c3-k3-quarter c8-k3 c3-k3-b1025; do
  scored="$work/eval/$name"
  if [ -f "$scored/test/summary.json" ] && [ -f "$scored/ood/summary.json" ]; then
    label="${name%-seed2}"
    [ "$name" = c3-k3-longer ] && label=c3-k3-long
    runs+=("$label=$work/$target-$name=$scored/test/summary.json=$scored/ood/summary.json")
  fi
done
# The 60-second model of docs/results.md ($SAEX_CACHE/v2-run/$target-60s), scored the same way.
sixty="$cache/v2-run/$target-60s"
if [ -f "$sixty/model.safetensors" ]; then
  for split in test ood; do
    if [ ! -f "$work/eval/c3-k3-60s/$split/summary.json" ]; then
      mkdir -p "$work/eval/c3-k3-60s"
      "$saex" eval --data "$eval_data/$split" --model "$sixty" --mask ratio \
        --device cpu --out "$work/eval/c3-k3-60s/$split" > "$work/eval/c3-k3-60s/$split.log" 2>&1
    fi
  done
  runs+=("c3-k3=$sixty=$work/eval/c3-k3-60s/test/summary.json=$work/eval/c3-k3-60s/ood/summary.json")
fi
# (The shipped models/vocals is a point of its own above: c1-k3-long-seed2 since the night of
# 2026-11-26, c3-k3-long before it.)
"$plot" docs/scaling-study.png "${runs[@]}" | tee "$work/table.md"
