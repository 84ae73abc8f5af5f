"""General MIDI families and the per-render instrument draws.

The families are `saex render`'s own: `load(saex)` reads them once from
`saex render --print-stem-map` (the library's `StemMap::general_midi`), so that a note is drawn
for the stem it will be rendered into. With the default map: drums = MIDI channel 10 (index 9),
bass = programs 32..39, piano = 0..7, guitar = 24..31, vocals = a named track plus 52..54,
other = the rest. Every builder calls `load` before drawing; the names below exist from then on:

    DRUM_CHANNEL   the drum channel (0-based); DRUM_STEM, the stem of its notes
    STEMS          every stem of the track layout, in listing order (drums, bass, piano,
                   guitar, vocals, other)
    PROGRAMS       the stem of each GM program 0..127
    CHOIR          the programs of the vocals stem (choir aahs, voice oohs, synth voice)
    FAMILY_RANGES  {stem: its programs} of the instrument families a part is drawn from
                   (every stem with programs but vocals and other)
    OTHER_MELODIC  the programs "other" draws from (see below)

What stays here is the corpus's own choice of what to draw. The corpus keeps the choir programs
out of every accompaniment, so that the `vocals` stem holds only the sung line.
"""

import json
import os
import subprocess

# The release build of this checkout, for scripts run without --saex (stats.py, test_corpus.py).
REPO_SAEX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "target",
                         "release", "saex")

# Programs kept as they are when a MIDI file uses them: chromatic percussion, sound effects.
UNCHANGED = set(range(8, 16)) | set(range(96, 128))
# Of the "other" programs, those that are not melodic voices: timpani and orchestra hit.
NOT_MELODIC = (47, 55)
# corpus-v1 replaced the voice programs (choir aahs, voice oohs, synth voice) by other ensemble
# programs; corpus-v2 keeps them (redrawn among themselves): they belong in the vocals stem,
# as MUSDB18's vocals hold all vocals. Set once by the builder before drawing.
KEEP_VOICES = False

_LOADED_FROM = None
_TABLE_NAMES = ("DRUM_CHANNEL", "DRUM_STEM", "STEMS", "PROGRAMS", "CHOIR", "FAMILY_RANGES",
                "OTHER_MELODIC")


def load(saex):
    """Reads the stem map of the saex binary `saex` (once; a second call with the same binary
    does nothing) and sets the module's table names from it."""
    global _LOADED_FROM, DRUM_CHANNEL, DRUM_STEM, STEMS, PROGRAMS, CHOIR, FAMILY_RANGES, \
        OTHER_MELODIC
    if _LOADED_FROM == saex:
        return
    if not os.path.isfile(saex):
        raise FileNotFoundError(f"{saex}: no saex binary here (cargo build --release makes one)")
    result = subprocess.run([saex, "render", "--print-stem-map"], capture_output=True,
                            text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{saex} render --print-stem-map failed: {result.stderr.strip()}")
    table = json.loads(result.stdout)
    programs = table["programs"]
    if len(programs) != 128:
        raise ValueError(f"{saex}: expected 128 programs in the stem map, found {len(programs)}")
    owned = {stem: [p for p in range(128) if programs[p] == stem] for stem in table["stems"]}
    DRUM_CHANNEL = table["drum_channel"]
    DRUM_STEM = table["drum_stem"]
    STEMS = list(table["stems"])
    PROGRAMS = list(programs)
    CHOIR = owned[table["vocal_stem"]]
    FAMILY_RANGES = {stem: p for stem, p in owned.items()
                     if p and stem not in (table["vocal_stem"], "other")}
    # Melodic programs the "other" family draws from for a part with no program of its own:
    # organs, strings, ensembles (without choirs), brass, reeds, pipes, a few synth leads and
    # pads.
    OTHER_MELODIC = [p for p in owned["other"] if p not in UNCHANGED and p not in NOT_MELODIC]
    _LOADED_FROM = saex


def __getattr__(name):
    # Only called for names not set yet: the table before load().
    if name in _TABLE_NAMES:
        raise RuntimeError(f"gm.{name}: call gm.load(saex_binary) first")
    raise AttributeError(f"module 'gm' has no attribute {name!r}")


def _need_table():
    if _LOADED_FROM is None:
        raise RuntimeError("gm: call gm.load(saex_binary) before drawing programs")


def family(program, channel):
    """The stem a note of `program` on MIDI `channel` (0-based) goes to."""
    _need_table()
    if channel == DRUM_CHANNEL:
        return DRUM_STEM
    return PROGRAMS[program]


def draw_program(rng, fam):
    """A random GM program of family `fam` ("piano", "guitar", "bass" or "other")."""
    _need_table()
    if fam == "other":
        return rng.choice(OTHER_MELODIC)
    return rng.choice(FAMILY_RANGES[fam])


def draw_similar(rng, program):
    """A random program of the same family as `program`; for "other", of the same GM group of
    eight (strings stay strings, brass stays brass). Choirs become another ensemble program."""
    _need_table()
    if program in UNCHANGED:
        return program
    if KEEP_VOICES and program in CHOIR:
        return rng.choice(CHOIR)
    for programs in FAMILY_RANGES.values():
        if program in programs:
            return rng.choice(programs)
    group = range(program - program % 8, program - program % 8 + 8)
    choices = [p for p in group if p in OTHER_MELODIC]
    return rng.choice(choices) if choices else program
