#!/usr/bin/env bash
# Installs what the real-browser test of `saex serve` (tests/all/serve/browser.rs) needs:
# headless Chromium and its WebDriver server (Debian's chromium and chromium-driver), with
# apt-get as root (or through sudo). Exits 1, saying what is missing, where it cannot install
# them; the test then says it is skipped and passes.
set -euo pipefail

packages=(chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
    echo "setup-browser: no apt-get here; install chromium and chromedriver" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo)
else
    echo "setup-browser: please install as root: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
"${sudo[@]}" apt-get update -qq >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    "${missing[@]}" >&2
