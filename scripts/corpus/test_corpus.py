"""Checks of the corpus-v2 and -v3 pieces on tiny inputs (no test framework needed):

    python scripts/corpus/test_corpus.py      (with the corpus venv's Python)

Run by scripts/test.sh when the corpus virtual environment exists (after `cargo test
--release`: the GM families come from target/release/saex). Exits non-zero on failure.
"""

import math
import os
import random
import sys
import tempfile

import mido
import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import build_v2  # noqa: E402
import effects  # noqa: E402
import gm  # noqa: E402
import midi_tools  # noqa: E402
import players  # noqa: E402
import sing  # noqa: E402
import sing_world  # noqa: E402
import voice_fx  # noqa: E402

RATE = effects.RATE
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def sine(freq, seconds=1.0, amp=0.5, stereo=True):
    t = np.arange(int(seconds * RATE)) / RATE
    x = (amp * np.sin(2 * math.pi * freq * t)).astype(np.float32)
    return np.stack([x, x], axis=1) if stereo else x


def rms(x):
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


def db(ratio):
    return 20 * math.log10(ratio)


@check
def peak_filter_gain_at_its_frequency():
    x = sine(1000.0)
    y = effects.equalize(x, [("peak", 1000.0, 1.0, 6.0)])
    gain = db(rms(y[RATE // 2:]) / rms(x[RATE // 2:]))
    assert abs(gain - 6.0) < 0.2, gain
    far = effects.equalize(sine(100.0), [("peak", 1000.0, 2.0, 6.0)])
    assert abs(db(rms(far[RATE // 2:]) / rms(sine(100.0)[RATE // 2:]))) < 0.5


@check
def highpass_and_shelves():
    low = sine(20.0, seconds=2.0)
    y = effects.equalize(low, [("highpass", 200.0, 0.707, 0.0)])
    assert db(rms(y[RATE:]) / rms(low[RATE:])) < -30
    shelf = effects.equalize(sine(8000.0), [("highshelf", 2000.0, 0.707, -6.0)])
    assert abs(db(rms(shelf[RATE // 2:]) / rms(sine(8000.0)[RATE // 2:])) + 6.0) < 0.5


@check
def compressor_reduces_loud_parts_only():
    quiet, loud = sine(440.0, amp=0.01), sine(440.0, amp=0.5)
    g_quiet = effects.compressor_gain(quiet, threshold_db=-20, ratio=4, attack_ms=5,
                                      release_ms=50)
    g_loud = effects.compressor_gain(loud, threshold_db=-20, ratio=4, attack_ms=5,
                                     release_ms=50)
    assert np.allclose(g_quiet, 1.0, atol=1e-3)
    # A sine of amplitude 0.5 has an RMS of -9 dB: 11 dB over, 3/4 of it removed.
    assert abs(db(float(g_loud[-1])) + 11 * 0.75) < 0.6, db(float(g_loud[-1]))


@check
def master_bus_keeps_stems_summing_to_the_mix():
    rng = np.random.default_rng(1)
    a = (rng.standard_normal((RATE, 2)) * 0.3).astype(np.float32)
    b = sine(220.0, amp=0.9)
    params = effects.draw_master(random.Random(3))
    out = effects.master({"a": a, "b": b}, params)
    whole = effects.master({"mix": a + b}, params)["mix"]
    assert np.max(np.abs(out["a"] + out["b"] - whole)) < 1e-4
    assert np.max(np.abs(out["a"] + out["b"])) <= params["ceiling"] + 1e-6


@check
def reverb_decays_and_delay_echoes():
    ir = effects.reverb_ir(random.Random(1), rt60=0.5, predelay_ms=10, damping_hz=5000)
    assert np.allclose((ir.astype(np.float64) ** 2).sum(axis=0), 1.0, atol=1e-3)
    n = len(ir)
    first = (ir[: n // 4] ** 2).sum()
    last = (ir[3 * n // 4:] ** 2).sum()
    assert last < first * 1e-3, (first, last)
    assert not np.any(ir[: int(0.009 * RATE)])  # the pre-delay
    click = np.zeros((RATE, 2), dtype=np.float32)
    click[0] = 1.0
    wet = effects.delay_line(click, 0.25, 0.5, tone_hz=20000.0)
    lag = int(0.25 * RATE)
    assert np.argmax(np.abs(wet[:, 0])) in range(lag - 2, lag + 3)
    assert np.abs(wet[: lag - 10]).max() < 1e-6


@check
def width_and_pan():
    x = np.stack([sine(300.0, stereo=False), sine(500.0, stereo=False)], axis=1)
    mono = effects.width_and_pan(x, 0.0, 0.0)
    assert np.allclose(mono[:, 0], mono[:, 1])
    left = effects.width_and_pan(x, 1.0, -1.0)
    assert np.abs(left[:, 1]).max() < 1e-6


@check
def distortion_keeps_level_and_adds_harmonics():
    x = sine(200.0, amp=0.3)
    y = effects.distort(x, drive_db=24.0, tone_hz=6000.0)
    assert abs(db(rms(y) / rms(x))) < 0.1
    spectrum = np.abs(np.fft.rfft(y[:, 0]))
    assert spectrum[600] > 0.05 * spectrum[200]  # the third harmonic (1 Hz bins)


@check
def stem_chain_is_deterministic_and_silence_stays_silent():
    room = effects.Room(effects.draw_room(random.Random(5)), random.Random(6))
    chain = effects.draw_stem_chain(random.Random(7), "guitar")
    x = sine(330.0, amp=0.2)
    assert np.array_equal(effects.apply_stem_chain(x, chain, room),
                          effects.apply_stem_chain(x, chain, room))
    silent = np.zeros((1000, 2), dtype=np.float32)
    assert not np.any(effects.apply_stem_chain(silent, chain, room))


@check
def loudness_ignores_silence():
    x = sine(440.0, seconds=2.0, amp=0.1)
    padded = np.concatenate([x, np.zeros_like(x)])
    assert abs(effects.loudness_db(x) - effects.loudness_db(padded)) < 0.1
    assert effects.loudness_db(np.zeros((RATE, 2), dtype=np.float32)) == -math.inf


@check
def bend_shifts_pitch_and_vibrato_stays_in_tune():
    x = sine(440.0, seconds=1.0, stereo=False)
    up = voice_fx.bend(x, np.full(len(x), 2 ** (1 / 12)))
    half = up[: RATE // 2]  # read faster, the sine runs out before the end
    crossings = np.sum((half[:-1] < 0) & (half[1:] >= 0))
    assert abs(crossings - 440 * 2 ** (1 / 12) / 2) < 2, crossings
    style = {"vibrato_cents": 50.0, "vibrato_hz": 5.5, "vibrato_onset_s": 0.0,
             "scoop_cents": 0.0}
    curve = voice_fx.note_pitch_curve(RATE, style, random.Random(1))
    cents = 1200 * np.log2(curve)
    assert 40 < cents.max() <= 50.01 and -50.01 <= cents.min() < -40
    assert abs(cents.mean()) < 5  # centred on the note


@check
def breath_and_double():
    x = sine(220.0, seconds=0.5, stereo=False)
    y = voice_fx.breath(x, -20.0, random.Random(1))
    assert abs(db(rms(y - x) / rms(x)) + 20.0) < 1.5
    d = voice_fx.double(x, random.Random(2))
    assert len(d) == len(x) and not np.any(d[:400]) and rms(d) > 0.5 * rms(x)


@check
def harmonies_stay_in_key_and_chord():
    notes = [(0.0, 1.0, 64, "la"), (1.0, 1.0, 65, "la")]  # E, F in C major
    third = voice_fx.harmony_notes(notes, 0, False, 2, random.Random(1))
    assert [n[2] for n in third] == [67, 69]
    assert build_v2.chord_pitch_classes("Bbm7") == [10, 1, 5, 8]
    below = build_v2.chord_harmony([(0.0, 1.0, 72, "la")], ["C"], 2.0, below=True)
    assert below[0][2] == 67  # G: the chord tone at least three semitones under C5


@check
def groove_melody_is_seeded_and_singable():
    bars = ["C", "C", "G", "G", "Am", "Am", "F", "F", "C"]
    a, _ = build_v2.groove_melody(random.Random(4), bars, 4, 0.5)
    b, _ = build_v2.groove_melody(random.Random(4), bars, 4, 0.5)
    assert a == b and len(a) > 4
    assert all(57 <= p <= 76 for _, _, p, _ in a)
    assert all(s >= 2 * 4 * 0.5 - 1e-9 for s, _, _, _ in a)  # after the two lead-in bars


@check
def flac_stems_sum_exactly_to_the_mixture():
    with tempfile.TemporaryDirectory() as d:
        rng = np.random.default_rng(2)
        processed = {"vocals": (rng.standard_normal((3000, 2)) * 0.1).astype(np.float32),
                     "bass": (rng.standard_normal((2000, 2)) * 0.1).astype(np.float32)}
        for sub in ("one", "two"):
            os.makedirs(os.path.join(d, sub))
            assert build_v2.write_track(os.path.join(d, sub), processed) == 3000
        total = np.zeros((3000, 2), dtype=np.int32)
        for name in gm.STEMS:
            data, rate = sf.read(os.path.join(d, "one", f"{name}.flac"), dtype="int16")
            assert rate == RATE and data.shape == (3000, 2)
            total += data
            with open(os.path.join(d, "one", f"{name}.flac"), "rb") as f1, \
                    open(os.path.join(d, "two", f"{name}.flac"), "rb") as f2:
                assert f1.read() == f2.read(), f"{name}.flac differs between two writes"
        mixture, _ = sf.read(os.path.join(d, "one", "mixture.flac"), dtype="int16")
        assert np.array_equal(mixture, total)


@check
def gm_families_are_saex_renders_and_the_draws_keep_their_pools():
    # The table comes from `saex render --print-stem-map`; these are the pools the corpora
    # were drawn from, so a change to the library's map shows here before it changes a corpus.
    assert gm.DRUM_CHANNEL == 9
    assert gm.STEMS == ["drums", "bass", "piano", "guitar", "vocals", "other"]
    assert all(gm.family(p, 9) == "drums" for p in range(128))
    expected = {**{p: "piano" for p in range(0, 8)}, **{p: "guitar" for p in range(24, 32)},
                **{p: "bass" for p in range(32, 40)}, **{p: "vocals" for p in range(52, 55)}}
    for channel in range(16):
        if channel != 9:
            assert [gm.family(p, channel) for p in range(128)] == [
                expected.get(p, "other") for p in range(128)], channel
    assert gm.CHOIR == [52, 53, 54]
    assert gm.FAMILY_RANGES == {"bass": list(range(32, 40)), "piano": list(range(0, 8)),
                                "guitar": list(range(24, 32))}
    assert gm.OTHER_MELODIC == [p for p in list(range(16, 24)) + list(range(40, 52))
                                + list(range(56, 96)) if p != 47]


@check
def midi_split_by_family_and_appended_parts():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "song.mid")
        midi_tools.write_parts(path, [
            {"name": "p", "channel": 0, "program": 0, "notes": [(0, 1, 60, 90)]},
            {"name": "b", "channel": 1, "program": 33, "notes": [(0, 1, 40, 90)]}], 120)
        channel = midi_tools.append_part(path, "choir", 52, [(1, 1, 64)], 80)
        assert channel == 2
        outs = {fam: os.path.join(d, f"{fam}.mid") for fam in ("piano", "bass", "vocals",
                                                               "drums")}
        found = midi_tools.split_by_family(path, outs)
        assert found == {"piano", "bass", "vocals"}
        for fam, pitch in (("piano", 60), ("bass", 40), ("vocals", 64)):
            ons = [m.note for t in mido.MidiFile(outs[fam]).tracks for m in t
                   if m.type == "note_on" and m.velocity > 0]
            assert ons == [pitch], (fam, ons)
        assert gm.family(52, 2) == "vocals"


# corpus-v3 singing (sing_world.py): flite phrases through WORLD, on a few notes.

SINGER = {"formant_warp": 1.05, "breath_db": 4.0, "vibrato_cents": 40.0, "vibrato_hz": 5.5,
          "vibrato_onset_s": 0.25, "portamento_s": 0.08, "damping": 0.6, "scoop_cents": 60.0,
          "fluctuation_cents": 6.0, "drift_cents": 8.0, "legato": 0.92,
          "dynamics_db_per_semitone": 0.3, "brightness": 0.5}
MELODY = [(0.5, 0.5, 55, "la"), (1.0, 0.5, 57, "na"), (1.5, 1.0, 59, "do"), (2.5, 0.25, 60, "mi"),
          (2.75, 0.25, 59, "i"), (3.0, 1.0, 55, "ra"), (4.6, 0.6, 62, "so"), (5.2, 0.8, 60, "le")]


def sung(notes=MELODY, total=None, seed=1, engine="flite", voice="awb", language="en"):
    sing_world._ANALYSIS_CACHE.clear()  # every call speaks and analyses anew
    total = total or int(6.5 * RATE)
    with tempfile.TemporaryDirectory() as work:
        root = sing.prepare_voice_data(work) if engine == "espeak" else work
        speaker = sing_world.Voice(engine, voice, language, 130, root, work)
        return sing_world.sing_line(speaker, notes, total, dict(SINGER), random.Random(seed))


def note_cents(line, notes):
    """Per note, the median F0 (harvest) of its middle against the note, in cents."""
    import pyworld
    f0, t = pyworld.harvest(line.astype(np.float64), RATE, f0_floor=60.0, f0_ceil=800.0,
                            frame_period=5.0)
    out = []
    for start, length, pitch, _ in notes:
        inside = (t >= start + 0.1) & (t < start + length - 0.05) & (f0 > 0)
        if inside.sum() >= 5:
            out.append(1200 * math.log2(float(np.median(f0[inside])) / sing.midi_to_hz(pitch)))
    return out


@check
def notes_become_legato_phrases_with_melismas():
    phrases = sing_world.phrases_of(MELODY)
    assert [len(p) for p in phrases] == [5, 2], phrases  # a 0.6 s rest before "so"
    assert phrases[0][3] == ("mi", [(2.5, 0.25, 60), (2.75, 0.25, 59)])  # "mi-i": one vowel
    assert sing_world.share_vowels(["gott", "lui", "a"], 4) == [1, 2, 1]
    segments = [("pau", 0.0, 0.2), ("l", 0.2, 0.3), ("aa", 0.3, 0.5), ("g", 0.5, 0.55),
                ("aa", 0.55, 0.7), ("t", 0.7, 0.75), ("r", 0.75, 0.8), ("eh", 0.8, 0.9),
                ("pau", 0.9, 1.0)]
    units = sing_world.flite_units(segments, ["la", "gott", "ren"])
    assert units == [(0.2, 0.3, 0.5, 0.5), (0.5, 0.55, 0.7, 0.75), (0.75, 0.8, 0.9, 0.9)], units
    assert sing_world.flite_units(segments, ["la", "gott", "ren", "o"]) is None


@check
def sung_line_follows_the_melody_and_is_sane():
    line = sung()
    assert line.dtype == np.float32 and len(line) == int(6.5 * RATE)
    assert np.all(np.isfinite(line)) and 0.1 < np.abs(line).max() <= 0.9
    cents = note_cents(line, MELODY)
    assert len(cents) >= 6, cents
    assert abs(float(np.median(cents))) < 25 and float(np.median(np.abs(cents))) < 35, cents
    # Silent before the first syllable's consonants and after the last note's release; sung
    # in the middle of every note.
    assert not np.any(line[: int(0.2 * RATE)]) and not np.any(line[int(6.01 * RATE):])
    for start, length, _, _ in MELODY:
        middle = line[int((start + length / 2 - 0.05) * RATE): int((start + length / 2) * RATE)]
        assert rms(middle) > 0.01, (start, rms(middle))


@check
def sung_line_is_deterministic_and_sample_exact_at_onsets():
    a, b = sung(seed=3), sung(seed=3)
    assert a.tobytes() == b.tobytes()
    # The same notes one second later: the same samples, one second later.
    later = sung([(s + 1.0, l, p, y) for s, l, p, y in MELODY], total=int(7.5 * RATE), seed=3)
    assert later[RATE:].tobytes() == a.tobytes()
    assert not np.any(later[:RATE])


@check
def espeak_syllables_sing_too():
    notes = MELODY[:3]
    line = sung(notes, total=3 * RATE, engine="espeak", voice="m3", language="it")
    assert np.all(np.isfinite(line)) and 0.05 < np.abs(line).max() <= 0.9
    cents = note_cents(line, notes)
    assert len(cents) >= 2 and float(np.median(np.abs(cents))) < 40, cents


def drum_groove(bars=4, spb=0.5):
    """A rock beat on GM notes: kick on 1 and 3, snare on 2 and 4, closed hats on eighths."""
    hits = []
    for bar in range(bars):
        for beat in range(4):
            t = (bar * 4 + beat) * spb
            hits.append((t, 36 if beat % 2 == 0 else 38, 0.8))
            hits += [(t, 42, 0.6), (t + spb / 2, 42, 0.5)]
    return sorted(hits)


HAVE_KITS = os.path.isdir(players.KITS_DIR)


@check
def drum_kits_map_the_gm_kit_and_have_layers():
    if not HAVE_KITS:
        print("      (hydrogen-drumkits not installed: skipped)")
        return
    for domain in ("in", "ood"):
        for name in players.KITS[domain]:
            kit = players.Kit(players.KITS_DIR, name)
            for cls in ("kick", "snare", "hh_closed", "hh_open"):
                assert cls in kit.classes, (name, cls)
    assert not set(players.KITS["in"]) & set(players.KITS["ood"])
    layered = players.Kit(players.KITS_DIR, "BJA_Pacific").classes["snare"][0]["layers"]
    assert len(layered) >= 5, layered
    assert players.classify("Ride (Custom, Zagrebin 22\")") == "ride"
    assert players.classify("Sabian Hat Semi-Open") == "hh_semi"


@check
def drums_are_humanised_with_ghosts_fills_and_open_hats():
    hits = drum_groove(8)
    rng = random.Random(3)
    player = dict(players.draw_drummer(rng), ghost_rate=0.5, fill_every_bars=4,
                  open_hat_rate=1.0, timing_sd_ms=5.0, drift_ms=0.0)
    played = players.humanise(hits, player, rng, (0.5, 4))
    notes = [n for _, n, _ in played]
    assert 46 in notes  # open hats on the last off-beat
    assert any(n in (41, 43, 45, 47, 48, 50) for n in notes)  # tom fills
    assert any(n == 49 for n in notes)  # a crash after a fill
    ghosts = [v for _, n, v in played if n == 38 and v < 0.3]
    assert ghosts, "no ghost notes"
    # Timing: jittered by milliseconds, not more.
    kicks = [t for t, n, _ in played if n == 36 and t < 3.5]
    offsets = [abs(t - round(t / 0.5) * 0.5) for t in kicks]
    assert 0 < max(offsets) < 0.03, offsets
    velocities = {round(v, 3) for _, n, v in played if n == 42}
    assert len(velocities) > 10  # no two hats alike
    assert players.humanise(hits, player, random.Random(5), (0.5, 4)) == players.humanise(
        hits, player, random.Random(5), (0.5, 4))


@check
def sampled_drums_render_velocity_layers_and_choke_open_hats():
    if not HAVE_KITS:
        print("      (hydrogen-drumkits not installed: skipped)")
        return
    kit = players.Kit(players.KITS_DIR, "BJA_Pacific")
    soft, _ = players.render([(0.1, 38, 0.15)], [kit], random.Random(1), RATE)
    loud, _ = players.render([(0.1, 38, 0.95)], [kit], random.Random(1), RATE)
    assert np.all(np.isfinite(loud)) and np.abs(loud[:int(0.099 * RATE)]).max() == 0
    assert db(rms(loud) / rms(soft)) > 10  # velocity changes layer and level
    # An open hat choked by a closed hat 0.2 s later is silent 50 ms after the choke
    # (but for the closed hat's own sound).
    ringing, _ = players.render([(0.0, 46, 0.9)], [kit], random.Random(1), RATE)
    closed, _ = players.render([(0.2, 42, 0.9)], [kit], random.Random(1), RATE)
    both, _ = players.render([(0.0, 46, 0.9), (0.2, 42, 0.9)], [kit], random.Random(1), RATE)
    late = slice(int(0.25 * RATE), RATE)
    assert rms(ringing[late]) > 4 * rms((both - closed)[late]), (rms(ringing[late]),
                                                                  rms((both - closed)[late]))
    a, counts = players.render(drum_groove(2), [kit], random.Random(2), 5 * RATE)
    b, _ = players.render(drum_groove(2), [kit], random.Random(2), 5 * RATE)
    assert counts["dropped"] == 0 and np.array_equal(a, b)


@check
def bass_is_played_with_articulations_and_slides():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bass.mid")
        notes = [(i, 0.9, 40 + (i % 2) * 2, 90) for i in range(8)]
        midi_tools.write_parts(path, [{"name": "bass", "channel": 1, "program": 33,
                                       "notes": notes}], 120)
        player = dict(players.draw_bassist(random.Random(1)), articulation="muted",
                      program=34, length=0.5, slide_rate=1.0)
        assert players.play_bass(path, {1}, player, random.Random(1), (None, 4)) == 8
        midi = mido.MidiFile(path)
        msgs = [m for t in midi.tracks for m in t]
        assert {m.program for m in msgs if m.type == "program_change"} == {34}
        bends = [m.pitch for m in msgs if m.type == "pitchwheel"]
        assert bends and min(bends) >= -8192 and bends.count(0) >= 7  # each slide ends at 0
        now, ons, lengths = 0.0, {}, []
        for m in midi:
            now += m.time
            if m.type == "note_on" and m.velocity > 0:
                ons[m.note] = now
            elif m.type in ("note_off", "note_on") and m.note in ons:
                lengths.append(now - ons.pop(m.note))
        assert len(lengths) == 8 and max(lengths) < 0.3, lengths  # 0.45 s notes, muted
        # A channel that switches to a guitar keeps its guitar notes and program as they were.
        midi_tools.write_parts(path, [{"name": "bass", "channel": 1, "program": 33,
                                       "notes": notes}], 120)
        midi = mido.MidiFile(path)
        midi.tracks[1].insert(-4, mido.Message("program_change", channel=1, program=26))
        midi.save(path)
        before = [m for m in mido.MidiFile(path).tracks[1] if m.type != "program_change"][-4:]
        players.play_bass(path, {1}, player, random.Random(1), (None, 4))
        after = mido.MidiFile(path).tracks[1]
        assert {m.program for m in after if m.type == "program_change"} == {34, 26}
        tail = [m for m in after if m.type not in ("program_change", "end_of_track")][-3:]
        assert [(m.type, m.note) for m in tail] == [(m.type, m.note) for m in before[-4:-1]]
        ons = [m for m in after if m.type == "note_on" and m.velocity > 0]
        assert ons[-1].velocity == 90 and ons[0].velocity != 90  # played, then left alone


@check
def clean_mix_keeps_stems_unprocessed_and_summing():
    class Args:
        clean_mixes = 1.0
    maker = build_v2.TrackMaker.__new__(build_v2.TrackMaker)
    maker.args, maker.version = Args(), "v3"
    stems = {"drums": sine(100.0, 2.0, 0.3), "vocals": sine(440.0, 2.0, 0.2),
             "bass": sine(55.0, 2.0, 0.3)}
    info = {}
    out = maker.mix(dict(stems), random.Random(4), info)
    assert info["mix"]["clean"] and "master" not in info["mix"]
    for name in stems:  # only a constant gain per stem: the waveform is unchanged
        big = np.abs(stems[name][:, 0]) > 0.05
        ratio = out[name][big, 0] / stems[name][big, 0]
        assert np.ptp(ratio) < 1e-3 * abs(ratio.mean()), name
    peak = float(np.abs(sum(out.values())).max())
    assert abs(db(peak) - info["mix"]["peak_dbfs"]) < 0.01


@check
def v3_stems_are_scaled_under_full_scale_and_drums_centred():
    loud = sine(60.0, 1.0, 0.9) * 1.3
    stems = {"drums": loud, "bass": -loud + sine(3000.0, 1.0, 0.01)}  # they cancel in the mix
    fitted, gain_db = build_v2.fit_stems(stems, build_v2.STEM_CEILING_V3)
    assert max(float(np.abs(a).max()) for a in fitted.values()) <= build_v2.STEM_CEILING_V3 + 1e-6
    assert gain_db < 0, gain_db
    big = np.abs(stems["drums"]) > 0.5
    assert np.allclose(fitted["drums"][big] / stems["drums"][big], 10 ** (gain_db / 20),
                       rtol=1e-3)
    same, zero = build_v2.fit_stems({"a": sine(100.0, 0.1, 0.5)}, 0.99)
    assert zero == 0.0
    class Args:
        clean_mixes = 0.0
    maker = build_v2.TrackMaker.__new__(build_v2.TrackMaker)
    maker.args, maker.version = Args(), "v3"
    info = {}
    maker.mix({"drums": sine(100.0, 1.0, 0.3), "bass": sine(50.0, 1.0, 0.3)}, random.Random(2),
              info)
    pan = info["mix"]["stems"]["drums"]["pan"]
    assert abs(pan) <= 0.5 * build_v2.DRUM_PAN_V3 + 1e-9, pan


def main():
    gm.load(gm.REPO_SAEX)
    failed = 0
    for fn in CHECKS:
        try:
            fn()
            print(f"ok    {fn.__name__}")
        except Exception as e:  # report every failing check, then fail
            failed += 1
            print(f"FAIL  {fn.__name__}: {type(e).__name__}: {e}")
    print(f"{len(CHECKS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
