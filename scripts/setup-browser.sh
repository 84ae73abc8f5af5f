#!/usr/bin/env bash
# Installs what the real-browser test of `saex serve` (tests/all/serve/browser.rs) needs:
# headless Chromium and its WebDriver server (Debian's chromium and chromium-driver), with
# apt-get as root (or through sudo). Exits 1, saying what is missing, where it cannot install
# them; the test then says it is skipped and passes.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" setup-browser "chromium and chromedriver" \
    chromium chromium-driver
