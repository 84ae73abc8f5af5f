#!/usr/bin/env bash
# Installs what `saex live` (cargo feature `live`) needs to build and to be tested: the ALSA and
# JACK development files, and jackd2 (a headless JACK server with a dummy driver for the tests).
# Debian packages, with apt-get as root (or through sudo). Exits 1, saying what is missing, where
# it cannot install them; the callers then build saex without `live`.
set -euo pipefail

packages=(libasound2-dev libjack-jackd2-dev jackd2 pkg-config)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
    echo "setup-audio: no apt-get here; install the ALSA and JACK development files and jackd" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo)
else
    echo "setup-audio: please install as root: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
"${sudo[@]}" apt-get update -qq >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    "${missing[@]}" >&2
