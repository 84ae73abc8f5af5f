#!/usr/bin/env bash
# Installs the build tools that cargo's build scripts need beyond a C compiler: cmake, which
# builds the bundled libopus (the Opus decoder, crate opusic-sys). A Debian package, with apt-get
# as root (or through sudo); nothing happens when cmake is already on the PATH. Called by
# scripts/setup-libtorch.sh, which every build path runs first.
set -euo pipefail
command -v cmake >/dev/null && exit 0
exec "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" setup-build "cmake (to build libopus)" cmake
