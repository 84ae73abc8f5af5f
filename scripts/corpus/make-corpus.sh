#!/usr/bin/env bash
# Makes the saex training corpus (rendered MIDI + synthesized singing, MUSDB18-HQ layout).
#
#   scripts/corpus/make-corpus.sh [--out DIR] [--seed N] [--hours H] [--jobs J] [--v1|--v3]
#                                 [--clean-mixes F]
#
#   --out DIR   where the corpus goes (default: $SAEX_CACHE/corpus-v2, or corpus-v1/-v3)
#   --seed N    the seed every draw comes from (default 1); same seed, same corpus
#   --hours H   hours of training audio (default 20; 3 with --v1); valid, test and ood
#               get H/8 each
#   --jobs J    tracks built at once (default: the number of cores; v2 and v3)
#   --v1        the first corpus (float WAV, two SoundFonts, one singer), as it was built
#   --v3        corpus-v3: v2 with singing through the WORLD vocoder, drums played from
#               sampled kits, bass articulations, clean mixes (docs/corpus.md)
#   --clean-mixes F  v3: the share of tracks mixed without effects or master bus (0.2)
#
# Installs what it needs: Debian packages with apt-get (SoundFonts, timidity and freepats,
# mma, planetblupi-music-midi, espeak-ng, flite, sox, hydrogen-drumkits), music21/numpy/scipy/soundfile/mido and
# pyworld from PyPI into a virtual environment under the cache folder, and builds saex in release mode for
# `saex render`. Resumable: finished tracks are kept and skipped on a re-run. See
# docs/corpus.md.
#
# SAEX_CACHE overrides the cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/saex).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache_root="${SAEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/saex}"
out=""
seed=1
hours=""
clean=0.2
jobs="$(nproc 2>/dev/null || echo 2)"
version=v2

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="${2:?--out needs a folder}"; shift 2 ;;
        --seed) seed="${2:?--seed needs a number}"; shift 2 ;;
        --hours) hours="${2:?--hours needs a number}"; shift 2 ;;
        --jobs) jobs="${2:?--jobs needs a number}"; shift 2 ;;
        --v1) version=v1; shift ;;
        --v3) version=v3; shift ;;
        --clean-mixes) clean="${2:?--clean-mixes needs a share, 0..1}"; shift 2 ;;
        -h|--help) usage ;;
        *) echo "make-corpus: unknown argument '$1'" >&2; usage ;;
    esac
done

# shellcheck source=setup.sh
source "$repo/scripts/corpus/setup.sh"

out="${out:-$cache_root/corpus-$version}"
start=$(date +%s)
if [ "$version" = v1 ]; then
    "$corpus_python" "$repo/scripts/corpus/build.py" --out "$out" \
        --work "$cache_root/corpus-tools" --saex "$saex_bin" --seed "$seed" --hours "${hours:-3}"
else
    "$corpus_python" "$repo/scripts/corpus/build_v2.py" --out "$out" \
        --work "$cache_root/corpus-tools" --saex "$saex_bin" --seed "$seed" \
        --hours "${hours:-20}" --jobs "$jobs" --version "$version" --clean-mixes "$clean"
fi
echo "make-corpus: done in $(( $(date +%s) - start )) s (tools ready before that); corpus in $out" >&2
