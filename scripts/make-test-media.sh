#!/usr/bin/env bash
# Regenerates the AAC fixtures of tests/data/ with ffmpeg (needed only here: the tests read the
# committed files and need no ffmpeg).
#
#   tone.m4a        1 s, 44.1 kHz stereo AAC in MP4: 440 Hz left, 660 Hz right, at half scale
#   tone.opus       the same sines at 48 kHz (Opus's only rate), Ogg Opus (libopus, 96 kbit/s)
#   tiny.stem.mp4   1 s, five 44.1 kHz stereo AAC streams in the stems layout of MUSDB18
#                   (0 mixture, 1 drums, 2 bass, 3 other, 4 vocals): sines of 200, 300, 500
#                   and 700 Hz at 0.2 in both channels as the four sources, their sum as the
#                   mixture
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v ffmpeg >/dev/null || { echo "make-test-media.sh needs ffmpeg" >&2; exit 1; }

out=tests/data
common=(-hide_banner -loglevel error -y -bitexact -fflags +bitexact)
sine() { echo "aevalsrc=$2*sin(2*PI*$1*t)|$2*sin(2*PI*$1*t):s=44100:d=1"; }

ffmpeg "${common[@]}" -f lavfi -i "aevalsrc=0.5*sin(2*PI*440*t)|0.5*sin(2*PI*660*t):s=44100:d=1" \
    -c:a aac -b:a 128k -map_metadata -1 "$out/tone.m4a"

ffmpeg "${common[@]}" -f lavfi -i "aevalsrc=0.5*sin(2*PI*440*t)|0.5*sin(2*PI*660*t):s=48000:d=1" \
    -c:a libopus -b:a 96k -map_metadata -1 "$out/tone.opus"

mix="0.2*(sin(2*PI*200*t)+sin(2*PI*300*t)+sin(2*PI*500*t)+sin(2*PI*700*t))"
inputs=(-f lavfi -i "aevalsrc=$mix|$mix:s=44100:d=1")
maps=(-map 0:a)
i=1
for freq in 200 300 500 700; do
    inputs+=(-f lavfi -i "$(sine "$freq" 0.2)")
    maps+=(-map "$i:a")
    i=$((i + 1))
done
ffmpeg "${common[@]}" "${inputs[@]}" "${maps[@]}" -c:a aac -b:a 48k -map_metadata -1 \
    -f mp4 "$out/tiny.stem.mp4"

ls -l "$out/tone.m4a" "$out/tone.opus" "$out/tiny.stem.mp4"
