"""Small MIDI helpers on top of mido: write parts as tracks, crop in time, redraw programs."""

import os

import mido

import gm

TICKS_PER_QUARTER = 480


def save_atomic(midi, path):
    """Writes `midi` to `path` through a temporary file and a rename."""
    tmp = f"{path}.tmp{os.getpid()}"
    midi.save(tmp)
    os.replace(tmp, path)


def write_parts(path, parts, bpm, time_signature=(4, 4)):
    """Writes a type-1 MIDI file with one track per part at a constant tempo.

    `parts`: list of dicts {name, channel (0-based), program, notes: [(start, length, pitch,
    velocity)]} with start and length in quarter notes. Notes of length <= 0 are dropped.
    """
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_QUARTER)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    num, den = time_signature
    meta.append(mido.MetaMessage("time_signature", numerator=num, denominator=den, time=0))
    midi.tracks.append(meta)
    for part in parts:
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=part["name"], time=0))
        channel = part["channel"]
        if channel != gm.DRUM_CHANNEL:
            track.append(mido.Message("program_change", channel=channel, program=part["program"]))
        _append_notes(track, channel, part["notes"], TICKS_PER_QUARTER)
        midi.tracks.append(track)
    save_atomic(midi, path)


def _append_notes(track, channel, notes, tpq):
    """Appends `notes` [(start, length, pitch, velocity)] (quarter notes) to `track` as delta-timed
    note-on/off messages; notes of no length or out of the MIDI range are dropped."""
    events = []  # (tick, order, message): note-offs (order 0) before note-ons at one tick
    for start, length, pitch, velocity in notes:
        on, off = round(start * tpq), round((start + length) * tpq)
        if off <= on or not 0 <= pitch <= 127:
            continue
        events.append((on, 1, mido.Message("note_on", channel=channel, note=pitch,
                                           velocity=velocity)))
        events.append((off, 0, mido.Message("note_off", channel=channel, note=pitch)))
    events.sort(key=lambda e: (e[0], e[1], e[2].note))
    now = 0
    for tick, _, message in events:
        track.append(message.copy(time=tick - now))
        now = tick


def _absolute(track):
    """[(absolute tick, message)] of a track."""
    now, out = 0, []
    for message in track:
        now += message.time
        out.append((now, message))
    return out


def _tick_of_seconds(midi):
    """A function seconds -> tick from the file's tempo map (all tracks)."""
    changes = sorted(
        (tick, m.tempo)
        for track in midi.tracks
        for tick, m in _absolute(track)
        if m.type == "set_tempo"
    )
    points = [(0, 0.0, 500000)]  # (tick, seconds, tempo from there on)
    for tick, tempo in changes:
        last_tick, last_s, last_tempo = points[-1]
        seconds = last_s + mido.tick2second(tick - last_tick, midi.ticks_per_beat, last_tempo)
        points.append((tick, seconds, tempo))

    def tick_of(seconds):
        tick, start_s, tempo = max((p for p in points if p[1] <= seconds), key=lambda p: p[1])
        return tick + round(mido.second2tick(seconds - start_s, midi.ticks_per_beat, tempo))

    return tick_of


def crop(midi, start_s, length_s):
    """The part of `midi` between `start_s` and `start_s + length_s` seconds, as a new file.

    Tempo, program, controller and meta events before the window are kept at its start, so
    the window sounds as it did in the whole piece; notes that start in the window are kept
    and cut at its end; notes sounding at the window's start are dropped.
    """
    tick_of = _tick_of_seconds(midi)
    first, last = tick_of(start_s), tick_of(start_s + length_s)
    out = mido.MidiFile(type=1, ticks_per_beat=midi.ticks_per_beat)
    for track in midi.tracks:
        kept = []  # (absolute tick in the window, message)
        sounding = {}  # (channel, note) -> True for notes started inside the window
        for tick, m in _absolute(track):
            if m.type == "end_of_track":
                continue
            is_on = m.type == "note_on" and m.velocity > 0
            is_off = m.type == "note_off" or (m.type == "note_on" and m.velocity == 0)
            if is_on:
                if first <= tick < last:
                    sounding[(m.channel, m.note)] = True
                    kept.append((tick - first, m))
            elif is_off:
                if sounding.pop((m.channel, m.note), False):
                    kept.append((min(tick, last) - first, m))
            elif tick < last and m.type not in ("pitchwheel", "aftertouch", "polytouch"):
                kept.append((max(tick - first, 0), m))
        for channel, note in sounding:
            kept.append((last - first, mido.Message("note_off", channel=channel, note=note)))
        kept.sort(key=lambda e: e[0])  # stable: the original order within one tick stays
        new, now = mido.MidiTrack(), 0
        for tick, m in kept:
            new.append(m.copy(time=tick - now))
            now = tick
        out.tracks.append(new)
    return out


def redraw_programs(midi, rng):
    """Replaces each channel's programs by random ones of the same family (see gm.draw_similar),
    one draw per (channel, program). Channels that never set a program get one drawn like
    program 0. Returns {channel: [[old, new], ...]} as strings for the manifest."""
    mapping = {}
    for track in midi.tracks:
        for m in track:
            if m.type == "program_change" and m.channel != gm.DRUM_CHANNEL:
                key = (m.channel, m.program)
                if key not in mapping:
                    mapping[key] = gm.draw_similar(rng, m.program)
                m.program = mapping[key]
    used = {m.channel for t in midi.tracks for m in t if m.type == "note_on"}
    with_program = {c for c, _ in mapping}
    for channel in sorted(used - with_program - {gm.DRUM_CHANNEL}):
        program = gm.draw_similar(rng, 0)
        midi.tracks[-1].insert(0, mido.Message("program_change", channel=channel, program=program))
        mapping[(channel, 0)] = program
    report = {}
    for (channel, old), new in sorted(mapping.items()):
        report.setdefault(str(channel + 1), []).append([old, new])
    return report


def programs_by_channel(midi):
    """{channel (1-based, as a string): sorted programs} of a file, for the manifest."""
    found = {}
    for track in midi.tracks:
        for m in track:
            if m.type == "program_change":
                found.setdefault(str(m.channel + 1), set()).add(m.program)
    return {c: sorted(p) for c, p in sorted(found.items(), key=lambda kv: int(kv[0]))}


def redraw_and_save(path, rng):
    """redraw_programs on the MIDI file at `path`, saved in place; returns the report."""
    midi = mido.MidiFile(path)
    report = redraw_programs(midi, rng)
    save_atomic(midi, path)
    return report


def append_part(path, name, program, notes, velocity):
    """Adds a part to the MIDI file at `path` (in place) on a channel no message uses yet:
    `notes` [(start, length, pitch)] in quarter notes of the file's tempo. Returns the channel
    (0-based), or None when all 15 melodic channels are taken."""
    midi = mido.MidiFile(path)
    used = {m.channel for t in midi.tracks for m in t if hasattr(m, "channel")}
    free = [c for c in range(16) if c != gm.DRUM_CHANNEL and c not in used]
    if not free:
        return None
    channel = free[0]
    tpq = midi.ticks_per_beat
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name=name, time=0))
    track.append(mido.Message("program_change", channel=channel, program=program))
    _append_notes(track, channel, [(s, l, p, velocity) for s, l, p in notes], tpq)
    midi.tracks.append(track)
    save_atomic(midi, path)
    return channel


def split_by_family(path, out_paths):
    """One MIDI file per stem family from the file at `path`: every message kept, but the
    note-ons of notes of other families silenced (velocity 0). `out_paths`: {family: path}.
    Returns the families that have notes."""
    midi = mido.MidiFile(path)
    # Programs per channel over time, from every track.
    changes = []
    for track in midi.tracks:
        for tick, m in _absolute(track):
            if m.type == "program_change":
                changes.append((tick, m.channel, m.program))
    changes.sort(key=lambda c: c[0])

    def program_at(channel, tick):
        program = 0
        for t, c, p in changes:
            if t > tick:
                break
            if c == channel:
                program = p
        return program

    found = set()
    for fam, out in out_paths.items():
        copy = mido.MidiFile(type=midi.type, ticks_per_beat=midi.ticks_per_beat)
        for track in midi.tracks:
            new = mido.MidiTrack()
            for tick, m in _absolute(track):
                if m.type == "note_on" and m.velocity > 0:
                    if gm.family(program_at(m.channel, tick), m.channel) == fam:
                        found.add(fam)
                    else:
                        m = m.copy(velocity=0)
                new.append(m)
            copy.tracks.append(new)
        save_atomic(copy, out)
    return found
