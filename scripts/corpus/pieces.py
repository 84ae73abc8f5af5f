"""The pieces of the corpus and how each becomes a MIDI file (plus a sung line).

Four kinds, each a list of piece ids in a fixed order:
- `multipart`: music21 corpus works with two or more parts (Bach chorales, Palestrina,
  Monteverdi, string quartets, ...); each part gets its own channel and a program drawn per
  render; when the piece has lyrics its melody part may be sung instead of played.
- `folk`: music21's Essen folk songs, sung (syllables), over an mma groove on chords
  harmonised from the melody.
- `groove`: mma grooves over generated chord progressions (no vocals).
- `blupi`: windows of planetblupi's MIDI files with their programs redrawn.

`make_track(kind, piece, rng, ...)` returns a Track: the accompaniment MIDI written to disk and
the sung notes (seconds, MIDI pitch, syllable), with everything the manifest records.
"""

import glob
import os
import re
import subprocess

import mido
from music21 import corpus, converter, key as m21key, pitch as m21pitch

import gm
import midi_tools
import sing

MULTIPART_COLLECTIONS = {
    # collection: (quarter-note tempo range, lyric language for espeak-ng)
    "bach": ((60, 96), "de"),
    "palestrina": ((110, 160), "la"),
    "monteverdi": ((90, 140), "it"),
    "josquin": ((110, 160), "la"),
    "trecento": ((90, 140), "it"),
    "beethoven": ((80, 140), None),
    "haydn": ((80, 140), None),
    "mozart": ((80, 140), None),
    "corelli": ((80, 130), None),
    "handel": ((70, 120), None),
    "verdi": ((70, 120), "it"),
    "schubert": ((60, 110), "de"),
}
SCORE_FORMATS = (".mxl", ".krn", ".xml", ".musicxml")  # not .rntxt analyses or .abc tunes
# Whole multi-movement works (e.g. a compressed quartet of 160 KB) take music21 minutes to
# parse and are cut at MAX_SECONDS anyway: files above this size are left out.
MAX_SCORE_BYTES = 100_000
MAX_SECONDS = 200.0  # pieces are cut here (at a note boundary of the score's time)
MIN_SECONDS = 20.0
BLUPI_DIR = "/usr/share/planetblupi/music"
BLUPI_WINDOW = (100.0, 180.0)  # seconds per window of a planetblupi file
BLUPI_WINDOWS_PER_FILE = 4
MMA_LIB = "/usr/share/mma/lib/stdlib"


class Track:
    """What one render needs: `midi` (path), `vocals` ([(start_s, length_s, pitch, syllable)]
    or None), `voice`/`language` for the singer, and `info` for the manifest."""

    def __init__(self, midi, info, vocals=None, voice=None, language=None):
        self.midi, self.info, self.vocals = midi, info, vocals
        self.voice, self.language = voice, language


class SkipPiece(Exception):
    """The piece cannot make a track (too short, unparseable, ...): the builder moves on."""


# ---------------------------------------------------------------------------------------------
# Piece lists


def multipart_pieces():
    """{collection: music21 corpus paths (relative to the corpus folder)} of the multi-part
    collections."""
    root = os.path.dirname(corpus.__file__)
    out = {}
    for path in corpus.getPaths():
        rel = os.path.relpath(str(path), root)
        collection = rel.split(os.sep)[0]
        if (collection in MULTIPART_COLLECTIONS and rel.endswith(SCORE_FORMATS)
                and os.path.getsize(str(path)) <= MAX_SCORE_BYTES):
            out.setdefault(collection, []).append(rel)
    return {c: sorted(paths) for c, paths in sorted(out.items())}


def folk_pieces():
    """'essenFolksong/<file>#<number>' for each Essen tune in 2/4, 4/4, 2/2 or 3/4."""
    root = os.path.join(os.path.dirname(corpus.__file__), "essenFolksong")
    out = []
    for path in sorted(glob.glob(os.path.join(root, "*.abc"))):
        number, meter = None, None
        with open(path, encoding="latin-1") as f:
            for line in f:
                if line.startswith("X:"):
                    number = line[2:].strip()
                elif line.startswith("M:") and number is not None:
                    meter = line[2:].strip()
                    if meter in ("2/4", "4/4", "2/2", "3/4", "C"):
                        out.append(f"essenFolksong/{os.path.basename(path)[:-4]}#{number}")
                    number = None
    return out


def blupi_pieces():
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(BLUPI_DIR, "*.mid")))


def mma_grooves():
    """{beats per bar: {groove file: [main groove names]}} from mma's standard library
    (intros, endings and fills left out)."""
    found = {}
    for path in sorted(glob.glob(os.path.join(MMA_LIB, "*.mma"))):
        beats = 4
        for line in open(path, encoding="latin-1"):
            line = line.split("//")[0].strip()
            m = re.match(r"(?i)time\s+(\d+)", line)
            if m:
                beats = int(m.group(1))
            m = re.match(r"(?i)defgroove\s+(\S+)", line)
            if m and not re.search(r"(?i)(intro|end|fill)", m.group(1)) and beats in (3, 4):
                found.setdefault(beats, {}).setdefault(os.path.basename(path), []).append(
                    m.group(1))
    return found


# ---------------------------------------------------------------------------------------------
# music21 -> notes


def part_notes(part, transpose=0):
    """[(start, length, pitch, lyric)] in quarter notes of a part, ties merged, grace notes
    dropped; chords give all their pitches (the lyric goes with the top one)."""
    out = []
    for n in part.stripTies().flatten().notes:
        length = float(n.quarterLength)
        if length <= 0:
            continue
        pitches = sorted(p.midi for p in n.pitches)
        for i, p in enumerate(pitches):
            lyric = n.lyric if i == len(pitches) - 1 else None
            out.append((float(n.offset), length, p + transpose, lyric))
    return out


def melody_part(score):
    """Index of the part to sing: 'soprano'/'cantus'/'superius' if named, else the part with
    the most lyrics; None when no part has lyrics."""
    counts = []
    for i, part in enumerate(score.parts):
        name = (part.partName or "").lower()
        lyrics = sum(1 for n in part.recurse().notes if n.lyric)
        counts.append((lyrics, i, name))
    named = [c for c in counts if c[0] and re.search("soprano|cantus|superius|canto", c[2])]
    if named:
        return named[0][1]
    best = max(counts, default=(0, None, ""))
    return best[1] if best[0] else None


def sung_notes(notes, seconds_per_quarter, offset_s, rng, with_lyrics):
    """[(start_s, length_s, pitch, syllable)] for the singer from part notes. Without lyrics
    (or for a melisma) syllables are drawn / the previous vowel goes on."""
    out, previous = [], "la"
    last_start = None
    for start, length, pitch, lyric in notes:
        if start == last_start:
            continue  # one voice: the top note of a chord only (notes come sorted per onset)
        last_start = start
        if with_lyrics:
            syllable = sing.syllable_of(lyric)
            syllable = syllable if syllable else sing.last_vowel(previous)
        else:
            syllable = rng.choice(sing.SYLLABLES)
        previous = syllable
        out.append((offset_s + start * seconds_per_quarter, length * seconds_per_quarter, pitch,
                    syllable))
    return out


def top_line(notes):
    """The highest note at each onset of `notes` (a melody from a part that has chords)."""
    best = {}
    for n in notes:
        if n[0] not in best or n[2] > best[n[0]][2]:
            best[n[0]] = n
    return [best[k] for k in sorted(best)]


def voice_for(rng, pitches):
    """A (voice, gender, octave shift) for a melody with `pitches`."""
    voice, gender = rng.choice(sing.VOICES)
    return voice, gender, sing.fit_range(pitches, gender)


# ---------------------------------------------------------------------------------------------
# The kinds


def make_multipart(piece, rng, midi_path, sing_language=None, sing_probability=0.75):
    """`sing_language`: for a collection without lyrics, sing its top part on drawn syllables
    read in this language (corpus-v2); None keeps such works instrumental.
    `sing_probability`: how often a work with a language is sung (corpus-v1: 3 in 4)."""
    root = os.path.dirname(corpus.__file__)
    collection = piece.split("/")[0]
    (lo, hi), language = MULTIPART_COLLECTIONS[collection]
    language = language or sing_language
    try:
        score = converter.parse(os.path.join(root, piece))
    except Exception as e:  # music21 raises many kinds of parse errors
        raise SkipPiece(f"music21 cannot parse it: {e}") from e
    if len(score.parts) < 2:
        raise SkipPiece(f"{len(score.parts)} part(s); two or more needed")
    bpm = rng.randint(lo, hi)
    spq = 60.0 / bpm
    max_quarters = MAX_SECONDS / spq
    if float(score.highestTime) * spq < MIN_SECONDS:
        raise SkipPiece(f"shorter than {MIN_SECONDS} s")
    transpose = rng.randint(-3, 3)
    # A vocal work (a collection with a lyric language) is sung 3 times in 4: the part with
    # the lyrics, or the top part on drawn syllables when the encoding has no lyrics.
    sung, with_lyrics = None, False
    if language and rng.random() < sing_probability:
        sung = melody_part(score)
        with_lyrics = sung is not None
        sung = 0 if sung is None else sung

    parts, programs, vocals, voice = [], {}, None, None
    channels = [c for c in range(16) if c != gm.DRUM_CHANNEL]
    for i, part in enumerate(score.parts[: len(channels)]):
        notes = [(s, min(l, max_quarters - s), p, y)
                 for s, l, p, y in part_notes(part, transpose) if s < max_quarters]
        if not notes:
            continue
        name = part.partName or f"part {i + 1}"
        if i == sung:
            line = top_line(notes)
            voice, gender, shift = voice_for(rng, [n[2] for n in line])
            vocals = sung_notes([(s, l, p + shift, y) for s, l, p, y in line], spq, 0.0, rng,
                                with_lyrics)
            continue
        median = sorted(n[2] for n in notes)[len(notes) // 2]
        is_lowest = i == len(score.parts) - 1
        if is_lowest and median < 55 and rng.random() < 0.6:
            family = "bass"
        else:
            family = rng.choices(["piano", "guitar", "other"], [0.25, 0.2, 0.55])[0]
        program = gm.draw_program(rng, family)
        channel = channels[len(parts)]
        velocity = rng.randint(70, 105)
        parts.append({"name": name, "channel": channel, "program": program,
                      "notes": [(s, l, p, max(1, min(127, velocity + rng.randint(-8, 8))))
                                for s, l, p, _ in notes]})
        programs[str(channel + 1)] = {"part": name, "program": program, "family": family}
    if not parts:
        raise SkipPiece("no playable part")
    midi_tools.write_parts(midi_path, parts, bpm)
    info = {"source": f"music21 corpus: {piece}", "tempo_bpm": bpm, "transpose": transpose,
            "programs": programs}
    if vocals:
        info["vocals"] = {"part": score.parts[sung].partName,
                          "lyrics": language if with_lyrics else "drawn syllables",
                          "voice": voice, "nb_notes": len(vocals)}
    return Track(midi_path, info, vocals, voice, language if with_lyrics else "it")


def harmonize(notes, beats, key, rng):
    """One chord per mma bar of `beats` quarters from the melody's notes in it: the diatonic
    triad holding most of the bar's note time (tonic, subdominant and dominant preferred).
    `notes`: [(start, length, pitch, _)] in quarters from bar 0. Returns mma chord names."""
    tonic = key.tonic.midi % 12
    if key.mode == "minor":
        degrees = [(0, "m"), (5, "m"), (7, ""), (3, ""), (8, ""), (10, "")]
    else:
        degrees = [(0, ""), (5, ""), (7, ""), (9, "m"), (2, "m"), (4, "m")]
    end = max(s + l for s, l, _, _ in notes)
    nb_bars = int(-(-end // beats))
    chords = []
    for bar in range(nb_bars):
        lo, hi = bar * beats, (bar + 1) * beats
        weight = [0.0] * 12
        for s, l, p, _ in notes:
            overlap = min(hi, s + l) - max(lo, s)
            if overlap > 0:
                weight[p % 12] += overlap * (1.5 if s == lo else 1.0)
        best, best_score = None, None
        for rank, (step, quality) in enumerate(degrees):
            root = (tonic + step) % 12
            third = 3 if quality == "m" else 4
            score = sum(weight[(root + i) % 12] for i in (0, third, 7))
            score += 0.3 * beats * (rank < 3) + rng.random() * 0.01
            if best_score is None or score > best_score:
                best, best_score = (root, quality), score
        root, quality = best
        name = m21pitch.Pitch(root).name.replace("-", "b")
        seventh = "7" if quality == "" and (root - tonic) % 12 == 7 and rng.random() < 0.5 else ""
        chords.append(f"{name}{quality}{seventh}")
    return chords


def run_mma(mma_text, midi_path, work_dir):
    """Runs mma on `mma_text`; the MIDI lands in `midi_path`."""
    name = os.path.basename(midi_path)[:-4] + ".mma"
    with open(os.path.join(work_dir, name), "w") as f:
        f.write(mma_text)
    # mma writes its input's name into the MIDI: a relative name keeps the bytes independent of
    # where the corpus is made.
    result = subprocess.run(["mma", name, "-f", os.path.abspath(midi_path)], cwd=work_dir,
                            capture_output=True, text=True)
    if result.returncode != 0 or not os.path.exists(midi_path):
        raise SkipPiece(f"mma failed: {(result.stdout + result.stderr).strip()[-300:]}")


def mma_text(seed, bpm, groove_plan, chord_bars, beats):
    """An mma song: `groove_plan` [(bar index, groove)], one chord per bar (two in 4/4 when the
    entry is a pair)."""
    lines = [f"RndSeed {seed}", f"Time {beats}", f"Tempo {bpm}"]
    switches = dict(groove_plan)
    for bar, chord in enumerate(chord_bars):
        if bar in switches:
            lines.append(f"Groove {switches[bar]}")
        lines.append(chord if isinstance(chord, str) else f"{chord[0]} / {chord[1]} /")
    return "\n".join(lines) + "\n"


def groove_plan(rng, grooves, beats, nb_bars):
    """A groove file of `beats` per bar and its variants switched every 4 or 8 bars."""
    library = grooves[beats]
    name = rng.choice(sorted(library))
    variants = library[name]
    plan, bar = [], 0
    while bar < nb_bars:
        plan.append((bar, rng.choice(variants)))
        bar += rng.choice([4, 8, 8])
    return name, plan


def make_folk(piece, rng, midi_path, work_dir, grooves):
    path, number = piece.split("#")
    try:
        score = corpus.parse(path, number=int(number))
    except Exception as e:
        raise SkipPiece(f"music21 cannot parse it: {e}") from e
    part = score.parts[0] if hasattr(score, "parts") and len(score.parts) else score
    notes = top_line(part_notes(part))
    if len(notes) < 8:
        raise SkipPiece("fewer than 8 notes")
    ts = part.recurse().getElementsByClass("TimeSignature")
    quarters_per_bar = float(ts[0].barDuration.quarterLength) if ts else 4.0
    beats = 3 if quarters_per_bar == 3.0 else 4
    # An anacrusis: shift the tune so that its first full bar starts on an mma bar line.
    measures = list(part.getElementsByClass("Measure"))
    pickup = 0.0
    if measures and measures[0].duration.quarterLength < quarters_per_bar:
        pickup = float(measures[0].duration.quarterLength)
    lead = (beats - pickup % beats) % beats
    tune_quarters = max(s + l for s, l, _, _ in notes) + lead
    tune_bars = int(-(-tune_quarters // beats))
    bpm = rng.randint(72, 132) if beats == 4 else rng.randint(90, 160)
    spq = 60.0 / bpm
    transpose = rng.randint(-5, 6)
    detected = part.analyze("key")
    key = m21key.Key(detected.tonic.transpose(transpose).name, detected.mode)
    shifted = [(s + lead, l, p + transpose, y) for s, l, p, y in notes]
    chords = harmonize(shifted, beats, key, rng)[:tune_bars]
    chords += [chords[-1]] * (tune_bars - len(chords))
    nb_verses = max(1, min(4, int(90 // (tune_bars * beats * spq))))
    intro_bars = rng.choice([1, 2, 2, 4])
    tonic = key.tonic.name.replace("-", "b") + ("m" if key.mode == "minor" else "")
    bars = [tonic] * intro_bars + chords * nb_verses + [tonic]
    groove_file, plan = groove_plan(rng, grooves, beats, len(bars))
    run_mma(mma_text(rng.randrange(1 << 30), bpm, plan, bars, beats), midi_path, work_dir)
    programs = midi_tools.redraw_and_save(midi_path, rng)

    voice, gender, shift = voice_for(rng, [p for _, _, p, _ in shifted])
    line = []
    for verse in range(nb_verses):
        start_q = (intro_bars + verse * tune_bars) * beats
        line += [(s + start_q, l, p + shift, y) for s, l, p, y in shifted]
    vocals = sung_notes(line, spq, 0.0, rng, with_lyrics=False)
    info = {"source": f"music21 corpus: {piece}", "title": score.metadata.title
            if score.metadata else None, "tempo_bpm": bpm, "transpose": transpose,
            "key": f"{key.tonic.name} {key.mode}", "mma_groove": groove_file,
            "mma_variants": [g for _, g in plan], "chords": bars, "verses": nb_verses,
            "programs": programs,
            "vocals": {"part": "melody", "lyrics": "drawn syllables", "voice": voice,
                       "nb_notes": len(vocals)}}
    return Track(midi_path, info, vocals, voice, "it")


PROGRESSIONS_MAJOR = [["I", "V", "vi", "IV"], ["I", "vi", "IV", "V"], ["ii", "V", "I", "I"],
                      ["I", "IV", "I", "V"], ["I", "iii", "IV", "V"], ["vi", "IV", "I", "V"],
                      ["I", "I", "IV", "IV", "I", "I", "V", "V"],
                      ["I", "I", "I", "I", "IV", "IV", "I", "I", "V", "IV", "I", "V"]]
PROGRESSIONS_MINOR = [["i", "VII", "VI", "V"], ["i", "iv", "v", "i"], ["i", "VI", "III", "VII"],
                      ["i", "iv", "VII", "III"], ["i", "i", "iv", "V"]]
DEGREES = {"I": (0, ""), "ii": (2, "m"), "iii": (4, "m"), "IV": (5, ""), "V": (7, ""),
           "vi": (9, "m"), "i": (0, "m"), "III": (3, ""), "iv": (5, "m"), "v": (7, "m"),
           "VI": (8, ""), "VII": (10, "")}


def make_groove(piece, rng, midi_path, work_dir, grooves):
    beats = rng.choices([4, 3], [0.8, 0.2])[0]
    minor = rng.random() < 0.35
    progressions = PROGRESSIONS_MINOR if minor else PROGRESSIONS_MAJOR
    tonic = rng.randrange(12)
    sections = [rng.choice(progressions) for _ in range(rng.randint(2, 3))]
    bpm = rng.randint(70, 150)
    nb_bars = 0
    target_bars = int(rng.uniform(60, 150) / (beats * 60.0 / bpm))
    form = []
    while nb_bars < target_bars:
        section = rng.choice(sections)
        form.append(section)
        nb_bars += len(section) * 2

    def chord(degree):
        step, quality = DEGREES[degree]
        name = m21pitch.Pitch((tonic + step) % 12).name.replace("-", "b")
        return f"{name}{quality}"

    bars = []
    for section in form:
        for degree in section:
            bars += [chord(degree)] * 2
    bars.append(chord(form[0][0]))
    groove_file, plan = groove_plan(rng, grooves, beats, len(bars))
    run_mma(mma_text(rng.randrange(1 << 30), bpm, plan, bars, beats), midi_path, work_dir)
    programs = midi_tools.redraw_and_save(midi_path, rng)
    info = {"source": f"mma groove {groove_file} over a generated progression",
            "tempo_bpm": bpm, "mma_groove": groove_file, "mma_variants": [g for _, g in plan],
            "chords": bars, "programs": programs}
    return Track(midi_path, info)


def make_blupi(piece, window, rng, midi_path):
    """Window `window` (0-based) of a planetblupi file: windows are spread over the file."""
    source = os.path.join(BLUPI_DIR, piece)
    midi = mido.MidiFile(source)
    length = rng.uniform(*BLUPI_WINDOW)
    if midi.length < MIN_SECONDS:
        raise SkipPiece("shorter than the minimum")
    span = max(midi.length - length, 0.0)
    start = span * (window + rng.uniform(0.0, 0.8)) / BLUPI_WINDOWS_PER_FILE
    cropped = midi_tools.crop(midi, start, min(length, midi.length))
    programs = midi_tools.redraw_programs(cropped, rng)
    midi_tools.save_atomic(cropped, midi_path)
    info = {"source": f"planetblupi-music-midi: {piece}", "window_s": [round(start, 3),
            round(start + length, 3)], "programs": programs}
    return Track(midi_path, info)
