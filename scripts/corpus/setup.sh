# Sourced by make-corpus.sh and make-demo.sh: installs the tools the corpus needs and sets
#   corpus_python  the Python of the corpus virtual environment (music21, numpy, scipy,
#                  soundfile, mido, pyworld)
#   saex_bin       a copy of the release build of saex (for `saex render`)
# Needs `repo` and `cache_root` set by the caller.

# SoundFonts (every General MIDI one Debian ships as SF2), timidity with freepats (a second
# engine and patch set, for the out-of-domain split), MIDI sources, two speech synthesisers, and
# Hydrogen's sampled drum kits (corpus-v3's played drums).
apt_packages=(fluid-soundfont-gm timgm6mb-soundfont
    musescore-general-soundfont-lossless opl3-soundfont csound-soundfont timidity freepats
    mma planetblupi-music-midi espeak-ng flite sox hydrogen-drumkits)
missing=()
for package in "${apt_packages[@]}"; do
    dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "corpus: installing Debian packages: ${missing[*]}" >&2
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
    elif command -v sudo >/dev/null; then
        sudo apt-get update -qq >&2 && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
    else
        echo "corpus: please install as root: apt-get install -y ${missing[*]}" >&2
        exit 2
    fi
fi

# Python packages, pinned so that the same seed gives the same corpus. pyworld (the WORLD
# vocoder, corpus-v3's singing) comes as source and is compiled here (it needs g++).
venv="$cache_root/corpus-venv"
requirements="music21==10.5.1 numpy==2.4.6 soundfile==0.14.0 mido==1.3.3 scipy==1.17.1 pyworld==0.3.5"
if [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$requirements" ]; then
    echo "corpus: installing $requirements into $venv" >&2
    python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off -q \
        $requirements >&2
    echo "$requirements" >"$venv/.requirements"
fi
corpus_python="$venv/bin/python"

# saex itself: LibTorch once per machine (found through the checkout's .libtorch link, as
# .cargo/config.toml says; exporting LIBTORCH here would rebuild tch), then a release build.
"$repo/scripts/setup-libtorch.sh" >/dev/null
(cd "$repo" && cargo build --release --quiet --bin saex) >&2
# The build renders with a copy, so that rebuilding the checkout while a long build runs does
# not swap the renderer under it (or remove it for a moment).
mkdir -p "$cache_root/corpus-tools"
saex_bin="$cache_root/corpus-tools/saex"
cp "$repo/target/release/saex" "$saex_bin.tmp$$"
mv -f "$saex_bin.tmp$$" "$saex_bin"
