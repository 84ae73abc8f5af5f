#!/usr/bin/env bash
# Checks scripts/install.sh: installs saex (CPU only) into a temporary prefix, moves the tree
# elsewhere, and runs the moved copy with a bare environment (no HOME, SAEX_CACHE, SAEX_MODELS
# or cargo variables). Every shared library the process loads must come from the moved tree or
# the system, never from the build cache, and the default model must be the installed one.
# A few seconds once the release build is done (most of it copying LibTorch's 0.5 GB); run by
# scripts/test.sh.
#
#   scripts/test-install.sh [--cuda] [--binary FILE] [--torch DIR]
#
# --cuda installs the CUDA libraries too and also extracts with --device cuda, checking that
# LibTorch's CUDA library came from the moved tree (on a GPU machine); --binary and --torch are
# passed to scripts/install.sh (a prebuilt binary, another PyTorch 2.11.0's torch folder), so a
# machine without Rust can run the check: e.g. on the lent GPU machine,
#   scripts/test-install.sh --cuda --binary carry/saex --torch <site-packages>/torch
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

cuda=0
install_args=(--cpu-only)
while [ $# -gt 0 ]; do
    case "$1" in
        --cuda) cuda=1 ;;
        --binary | --torch)
            install_args+=("$1" "${2:?$1 needs a value}")
            shift
            ;;
        *) echo "test-install.sh: unknown argument $1" >&2 && exit 2 ;;
    esac
    shift
done
if [ "$cuda" = 1 ]; then
    install_args=("${install_args[@]:1}")
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "test-install.sh: FAILED: $*" >&2
    exit 1
}

scripts/install.sh "${install_args[@]}" "$tmp/prefix" 2>"$tmp/install.log" ||
    { cat "$tmp/install.log" >&2; fail "scripts/install.sh exited with $?"; }
mv "$tmp/prefix" "$tmp/moved"
moved="$(cd "$tmp/moved" && pwd -P)"
mkdir "$tmp/home" "$tmp/ld"

# The moved copy, in a bare environment, from an unrelated folder; the dynamic loader logs
# every object it loads into $tmp/ld.
run() {
    (cd "$tmp/home" && env -i PATH=/usr/bin:/bin HOME="$tmp/home" \
        LD_DEBUG=files LD_DEBUG_OUTPUT="$tmp/ld/log" "$moved/bin/saex" "$@")
}

run --version >/dev/null || fail "the installed saex does not start"
run info >"$tmp/info.txt" || fail "saex info: exit $?"
grep -qxF "model: $moved/share/saex/models/vocals" "$tmp/info.txt" ||
    fail "the default model is not the installed one: $(grep '^model:' "$tmp/info.txt")"
# It searches its own models only, never the checkout it was built in.
elsewhere="$(sed -n '/^search order/,/^$/p' "$tmp/info.txt" | sed '1d;/^$/d' |
    grep -vF "$moved/share/saex/models/" || true)"
[ -z "$elsewhere" ] || fail "the installed saex looks for models outside its tree:"$'\n'"$elsewhere"
cp tests/data/tone.flac "$tmp/home/"
run extract --quiet --device cpu tone.flac || fail "saex extract: exit $?"
[ -s "$tmp/home/tone.vocals.wav" ] || fail "saex extract wrote no tone.vocals.wav"
run man >/dev/null || fail "saex man: exit $?"
if [ "$cuda" = 1 ]; then
    run extract --quiet --device cuda --out tone.cuda.wav tone.flac || fail "saex extract --device cuda: exit $?"
    [ -s "$tmp/home/tone.cuda.wav" ] || fail "saex extract --device cuda wrote nothing"
fi

loaded="$(sed -n 's/.*calling init: //p' "$tmp"/ld/log.* | xargs -r realpath | sort -u)"
grep -q "^$moved/lib/saex/torch/lib/libtorch_cpu.so$" <<<"$loaded" ||
    fail "libtorch_cpu.so was not loaded from the installed tree:"$'\n'"$loaded"
if [ "$cuda" = 1 ]; then
    grep -q "^$moved/lib/saex/torch/lib/libtorch_cuda.so$" <<<"$loaded" ||
        fail "libtorch_cuda.so was not loaded from the installed tree:"$'\n'"$loaded"
fi
# The NVIDIA driver's own libraries (libcuda, libnvidia-*) belong to the machine, wherever it
# keeps them.
outside="$(grep -v -e "^$moved/" -e '^/lib/' -e '^/lib64/' -e '^/usr/lib/' -e '^/usr/lib64/' \
    -e '/libcuda\.so[^/]*$' -e '/libnvidia-[^/]*$' <<<"$loaded" || true)"
[ -z "$outside" ] || fail "libraries loaded from outside the installed tree and the system:"$'\n'"$outside"
[ -s "$moved/share/man/man1/saex.1" ] && [ -s "$moved/share/bash-completion/completions/saex" ] ||
    fail "no manual page or bash completion installed"
echo "test-install.sh: the installed copy runs from a moved prefix on its own libraries and models"
