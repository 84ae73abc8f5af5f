#!/usr/bin/env bash
# Installs the Debian packages PACKAGE... that are missing, with apt-get as root (or through
# sudo). Exits 1, saying what is missing, where it cannot install them. Used by the set-up
# scripts of the test command (setup-audio.sh, setup-browser.sh).
#
#   scripts/apt-install.sh CALLER "WHAT TO INSTALL BY HAND" PACKAGE...
set -euo pipefail

caller="$1"
what="$2"
shift 2
missing=()
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
    echo "$caller: no apt-get here; install $what" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo=(sudo)
else
    echo "$caller: please install as root: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
# Another apt-get (a corpus set-up, unattended upgrades) may hold dpkg's lock: wait for it
# instead of failing, up to 10 minutes.
lock=(-o DPkg::Lock::Timeout=600)
"${sudo[@]}" apt-get "${lock[@]}" update -qq >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" install -y \
    --no-install-recommends "${missing[@]}" >&2
