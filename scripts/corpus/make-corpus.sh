#!/usr/bin/env bash
# Makes the saex training corpus (rendered MIDI + synthesized singing, MUSDB18-HQ layout).
#
#   scripts/corpus/make-corpus.sh [--out DIR] [--seed N] [--hours H]
#
#   --out DIR   where the corpus goes (default: $SAEX_CACHE/corpus-v1)
#   --seed N    the seed every draw comes from (default 1); same seed, same corpus
#   --hours H   hours of training audio (default 3); valid and test get H/8 each
#
# Installs what it needs: Debian packages with apt-get (fluid-soundfont-gm, timgm6mb-soundfont,
# mma, planetblupi-music-midi, espeak-ng, sox), music21/numpy/soundfile/mido from PyPI into a
# virtual environment under the cache folder, and builds saex in release mode for `saex render`.
# Idempotent: finished tracks are kept and skipped on a re-run. See docs/corpus.md.
#
# SAEX_CACHE overrides the cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/saex).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache_root="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}"
out="$cache_root/corpus-v1"
seed=1
hours=3

usage() { sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="${2:?--out needs a folder}"; shift 2 ;;
        --seed) seed="${2:?--seed needs a number}"; shift 2 ;;
        --hours) hours="${2:?--hours needs a number}"; shift 2 ;;
        -h|--help) usage ;;
        *) echo "make-corpus: unknown argument '$1'" >&2; usage ;;
    esac
done

# shellcheck source=setup.sh
source "$repo/scripts/corpus/setup.sh"

start=$(date +%s)
"$corpus_python" "$repo/scripts/corpus/build.py" --out "$out" --work "$cache_root/corpus-tools" \
    --saex "$saex_bin" --seed "$seed" --hours "$hours"
echo "make-corpus: done in $(( $(date +%s) - start )) s (tools ready before that); corpus in $out" >&2
