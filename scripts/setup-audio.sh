#!/usr/bin/env bash
# Installs what `saex live` (cargo feature `live`) needs to build and to be tested: the ALSA and
# JACK development files, jackd2 (a headless JACK server with a dummy driver for the tests),
# and sox (the tests that pipe audio through another program).
# Debian packages, with apt-get as root (or through sudo). Exits 1, saying what is missing, where
# it cannot install them; the callers then build saex without `live`.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" setup-audio \
    "the ALSA and JACK development files, jackd and sox" \
    libasound2-dev libjack-jackd2-dev jackd2 pkg-config sox
