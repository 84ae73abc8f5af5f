"""General MIDI families and the per-render instrument draws.

The families match `saex render`'s stems: drums = MIDI channel 10 (index 9), bass = programs
32..39, piano = 0..7, guitar = 24..31, vocals = a named track plus 52..54, other = the rest.
The corpus keeps the choir programs 52..54 out of every accompaniment, so that the `vocals`
stem holds only the sung (espeak-ng) line.
"""

DRUM_CHANNEL = 9
CHOIR = range(52, 55)
FAMILY_RANGES = {
    "piano": range(0, 8),
    "guitar": range(24, 32),
    "bass": range(32, 40),
}
# Melodic programs the "other" family draws from for a part with no program of its own:
# organs, strings, ensembles (without choirs), brass, reeds, pipes, a few synth leads and pads.
OTHER_MELODIC = [
    p
    for p in list(range(16, 24)) + list(range(40, 52)) + [55] + list(range(56, 96))
    if p not in (47, 55)  # timpani and orchestra hit are not melodic voices
]
# corpus-v1 replaced the voice programs (choir aahs, voice oohs, synth voice) by other ensemble
# programs; corpus-v2 keeps them (redrawn among themselves): they belong in the vocals stem,
# as MUSDB18's vocals hold all vocals. Set once by the builder before drawing.
KEEP_VOICES = False
# Programs kept as they are when a MIDI file uses them: chromatic percussion, sound effects.
UNCHANGED = set(range(8, 16)) | set(range(96, 128))


def family(program, channel):
    """The stem a note of `program` on MIDI `channel` (0-based) goes to."""
    if channel == DRUM_CHANNEL:
        return "drums"
    if program in CHOIR:
        return "vocals"
    for name, programs in FAMILY_RANGES.items():
        if program in programs:
            return name
    return "other"


def draw_program(rng, fam):
    """A random GM program of family `fam` ("piano", "guitar", "bass" or "other")."""
    if fam == "other":
        return rng.choice(OTHER_MELODIC)
    return rng.choice(list(FAMILY_RANGES[fam]))


def draw_similar(rng, program):
    """A random program of the same family as `program`; for "other", of the same GM group of
    eight (strings stay strings, brass stays brass). Choirs become another ensemble program."""
    if program in UNCHANGED:
        return program
    if KEEP_VOICES and program in CHOIR:
        return rng.choice(list(CHOIR))
    for programs in FAMILY_RANGES.values():
        if program in programs:
            return rng.choice(list(programs))
    group = range(program - program % 8, program - program % 8 + 8)
    choices = [p for p in group if p in OTHER_MELODIC]
    return rng.choice(choices) if choices else program
