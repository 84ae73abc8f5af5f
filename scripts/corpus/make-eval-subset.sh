#!/usr/bin/env bash
# A smaller scoring set: every Nth track (sorted by name, starting with the first) of a corpus'
# test and ood splits, as symbolic links, so that a model's scores on both splits take minutes
# instead of an hour on 2 cores. docs/results.md says which rows were scored on it.
#   scripts/corpus/make-eval-subset.sh [CORPUS [OUT [N]]]
#   (defaults: $SAEX_CACHE/corpus-v2, $SAEX_CACHE/corpus-v2-eval, 3)
set -euo pipefail
cache="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}"
corpus="$(realpath "${1:-$cache/corpus-v2}")"
out="${2:-$cache/corpus-v2-eval}"
every="${3:-3}"
for split in test ood; do
    [ -d "$corpus/$split" ] || { echo "$corpus/$split: no such split" >&2; exit 1; }
    rm -rf "${out:?}/$split"
    mkdir -p "$out/$split"
    i=0
    while IFS= read -r track; do
        if [ $((i % every)) -eq 0 ]; then
            ln -s "$corpus/$split/$track" "$out/$split/$track"
        fi
        i=$((i + 1))
    done < <(ls "$corpus/$split" | LC_ALL=C sort)
    echo "$split: $(ls "$out/$split" | wc -l) of $i tracks (every $every) in $out/$split" >&2
done
