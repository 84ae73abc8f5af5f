#!/usr/bin/env bash
# Installs saex under PREFIX so that it runs on a machine that never built it:
#
#   PREFIX/bin/saex                          the release binary
#   PREFIX/lib/saex/torch/lib/               the LibTorch libraries it loads
#   PREFIX/lib/saex/nvidia/*/lib/            the CUDA libraries LibTorch loads (not with --cpu-only)
#   PREFIX/share/saex/models/<name>/         the shipped models (vocals, bass, drums)
#   PREFIX/share/man/man1/saex.1             the manual page
#   PREFIX/share/{bash-completion,zsh,fish}/ shell completions
#
# The tree is relocatable: the binary finds its libraries through the rpath
# $ORIGIN/../lib/saex/torch/lib (see build.rs) and its models relative to itself (src/locate.rs),
# so PREFIX can be moved, archived, or copied to another x86-64 Linux machine (glibc and
# libstdc++ at least as new as the build machine's; for a GPU, an NVIDIA driver).
#
# Usage: scripts/install.sh [--cpu-only] [--binary FILE] [--torch DIR] PREFIX
#   --cpu-only     leave the CUDA libraries out (about 0.5 GB installed instead of 4 GB); saex
#                  then runs on the CPU only, as on a machine without a GPU.
#   --binary FILE  install this release binary (built elsewhere from this checkout) instead of
#                  building one, e.g. on a GPU machine without Rust.
#   --torch DIR    take the libraries from DIR, the `torch` folder of an installed PyTorch
#                  2.11.0 wheel (its site-packages holding nvidia/), instead of the LibTorch
#                  that scripts/setup-libtorch.sh installs.
#
# Without --binary it builds the release binary first (CARGO_TARGET_DIR is honoured); without
# --torch, LibTorch is installed once per machine by scripts/setup-libtorch.sh. Each part is put in place whole,
# never file by file: the libraries and the models are written beside their final folder and
# swapped in, then the binary is renamed over the old one.
set -euo pipefail

usage() {
    echo "usage: scripts/install.sh [--cpu-only] [--binary FILE] [--torch DIR] PREFIX" >&2
    exit 2
}
cpu_only=0
prefix=""
binary=""
torch_dir=""
while [ $# -gt 0 ]; do
    arg="$1"
    shift
    case "$arg" in
        --cpu-only) cpu_only=1 ;;
        --binary | --torch)
            [ $# -gt 0 ] || usage
            value="$(realpath -e "$1")" || { echo "install.sh: $arg $1: no such file" >&2; exit 2; }
            shift
            if [ "$arg" = --binary ]; then binary="$value"; else torch_dir="$value"; fi
            ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        -*) echo "install.sh: unknown option $arg" >&2; usage ;;
        *)
            [ -z "$prefix" ] || usage
            prefix="$arg"
            ;;
    esac
done
[ -n "$prefix" ] || usage

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
if [ -z "$torch_dir" ]; then
    torch_dir="$(scripts/setup-libtorch.sh)"
elif ! grep -qE "^__version__ = '2\.11\.0([+'])" "$torch_dir/version.py" 2>/dev/null; then
    echo "install.sh: --torch $torch_dir is not the torch folder of PyTorch 2.11.0 (its version.py)" >&2
    exit 2
fi
# The folder that holds torch/ and nvidia/ (a wheel's site-packages).
site="$(cd "$torch_dir/.." && pwd -P)"

if [ -z "$binary" ]; then
    cargo build --release --locked --bin saex >&2
    binary="${CARGO_TARGET_DIR:-$repo/target}/release/saex"
fi
if ! grep -qaF '$ORIGIN/../lib/saex/torch/lib' "$binary"; then
    echo "install.sh: $binary lacks the rpath \$ORIGIN/../lib/saex/torch/lib (see build.rs)" >&2
    exit 2
fi

mkdir -p "$prefix/bin" "$prefix/lib" "$prefix/share/saex"
prefix="$(cd "$prefix" && pwd -P)"

# Copies $1 (a file under $site, through links) to the same place under $2, named $3.
copy_lib() {
    local dir
    dir="$(realpath --relative-to="$site" "$(dirname "$1")")"
    case "$dir" in ..*) echo "install.sh: $1 is outside $site" >&2; exit 2 ;; esac
    mkdir -p "$2/$dir"
    cp -L "$1" "$2/$dir/$3"
}

# Libraries: what the binary loads (ldd finds them in $torch_dir/lib), and
# without --cpu-only every library of torch/lib and nvidia/ that LibTorch may load (CUDA's are
# loaded on demand, some by name at run time, so the whole set goes).
libs="$prefix/lib/.saex.new.$$"
trap 'rm -rf "$libs" "$prefix/share/saex/.models.new.$$" "$prefix/bin/.saex.new.$$"' EXIT
rm -rf "$libs"
mkdir -p "$libs"
LD_LIBRARY_PATH="$torch_dir/lib" ldd "$binary" | while read -r name arrow path _; do
    [ "$arrow" = "=>" ] || continue
    case "$(realpath "$path")" in
        "$site"/*) copy_lib "$path" "$libs" "$name" ;;
    esac
done
if [ "$cpu_only" = 0 ]; then
    find "$torch_dir/lib" "$site/nvidia" -name '*.so*' \( -type f -o -type l \) \
        ! -name 'libtorch_python.so' ! -name 'libshm*' 2>/dev/null |
        while read -r path; do
            copy_lib "$path" "$libs" "$(basename "$path")"
        done
fi
if [ ! -e "$libs/torch/lib/libtorch_cpu.so" ]; then
    echo "install.sh: found no LibTorch library to install (ldd $binary)" >&2
    exit 2
fi
rm -rf "$prefix/lib/saex.old.$$"
[ ! -e "$prefix/lib/saex" ] || mv "$prefix/lib/saex" "$prefix/lib/saex.old.$$"
mv "$libs" "$prefix/lib/saex"
rm -rf "$prefix/lib/saex.old.$$"

# Models: every shipped model folder.
models="$prefix/share/saex/.models.new.$$"
mkdir -p "$models"
for dir in models/*/; do
    if [ -f "$dir/config.json" ]; then
        cp -R "$dir" "$models/"
    fi
done
rm -rf "$prefix/share/saex/models.old.$$"
[ ! -e "$prefix/share/saex/models" ] || mv "$prefix/share/saex/models" "$prefix/share/saex/models.old.$$"
mv "$models" "$prefix/share/saex/models"
rm -rf "$prefix/share/saex/models.old.$$"

cp "$binary" "$prefix/bin/.saex.new.$$"
mv -f "$prefix/bin/.saex.new.$$" "$prefix/bin/saex"

# The manual page and completions, from the installed copy (which also shows that it starts).
installed="$prefix/bin/saex"
mkdir -p "$prefix/share/man/man1" "$prefix/share/bash-completion/completions" \
    "$prefix/share/zsh/site-functions" "$prefix/share/fish/vendor_completions.d"
"$installed" man > "$prefix/share/man/man1/saex.1"
"$installed" completions bash > "$prefix/share/bash-completion/completions/saex"
"$installed" completions zsh > "$prefix/share/zsh/site-functions/_saex"
"$installed" completions fish > "$prefix/share/fish/vendor_completions.d/saex.fish"

size="$(du -shc "$prefix/bin/saex" "$prefix/lib/saex" "$prefix/share/saex" | tail -n 1 | cut -f 1)"
echo "installed saex into $prefix ($size: binary, libraries, models); run $installed --help" >&2
