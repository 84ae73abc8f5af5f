#!/usr/bin/env bash
# Makes the README's demo mix with its reference stems: audio/demo/{mixture,vocals,
# accompaniment}.wav (16-bit stereo 44.1 kHz, 20 s) and audio/demo/README.md (sources, licences).
#
#   scripts/corpus/make-demo.sh [--seed N] [--seconds S] [--out DIR]
#   scripts/corpus/make-demo.sh --track CORPUS/test/NAME [--seconds S] [--out DIR]
#
# With --track, the excerpt comes from that track of a built corpus-v2 (the shipped demo is
# `--track $SAEX_CACHE/corpus-v2/test/groove-in-00179`); otherwise a corpus-v1-style folk-song
# track is built for it from --seed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache_root="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}"
out="$repo/audio/demo"
seed=1
seconds=20
track=""
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="${2:?--out needs a folder}"; shift 2 ;;
        --seed) seed="${2:?--seed needs a number}"; shift 2 ;;
        --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
        --track) track="${2:?--track needs a track folder}"; shift 2 ;;
        *) echo "make-demo: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

# shellcheck source=setup.sh
source "$repo/scripts/corpus/setup.sh"
if [ -n "$track" ]; then
    "$corpus_python" "$repo/scripts/corpus/demo.py" --out "$out" --track "$track" \
        --seconds "$seconds"
else
    "$corpus_python" "$repo/scripts/corpus/demo.py" --out "$out" --work "$cache_root/corpus-tools" \
        --saex "$saex_bin" --seed "$seed" --seconds "$seconds"
fi
