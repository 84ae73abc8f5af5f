"""corpus-v3 drums and bass that are played: a track's drum notes (MIDI channel 10) humanised
and rendered through a sampled Hydrogen drum kit with velocity layers; its bass parts given an
articulation (finger, pick, slap, fretless, muted; slides) and a bass player's timing and
dynamics in the MIDI before rendering.

    kit = Kit(KITS_DIR, "BJA_Pacific")
    hits = drum_hits(midi_path)                      # [(seconds, GM note, velocity 0..1)]
    player = draw_drummer(rng)                       # the drawn humanisation (for the manifest)
    hits = humanise(hits, player, rng, grid)         # jitter, accents, ghosts, fills, hats
    audio, used = render(hits, kits, rng, nb_frames) # (nb_frames, 2) float32 at 44.1 kHz

Kits are Debian's `hydrogen-drumkits` (drumkit.xml + samples, read with soundfile); each
instrument is classed by its name (kick, snare, hats, toms, cymbals, hand percussion) and a
GM drum note is played by the instrument of its class, its layer picked by velocity (one of
the overlapping layers at random). Held-out kits make the ood split's drums (KITS["ood"]).
Everything is drawn from the `random.Random` passed in; the same draws give the same samples.
"""

import math
import os
import re
import xml.etree.ElementTree as ET

import mido
import numpy as np
import soundfile as sf
from scipy import signal

RATE = 44100
KITS_DIR = "/usr/share/hydrogen/data/drumkits"
DRUM_CHANNEL = 9

# kit folder: (style, licence as Debian's copyright file gives it). Held-out kits make ood.
KITS = {
    "in": {"BJA_Pacific": ("acoustic", "CC-BY-SA-3.0-us"),
           "ForzeeStereo": ("acoustic", "GPL-2"),
           "Millo_MultiLayered2": ("acoustic", "GPL-2"),
           "Millo_MultiLayered3": ("acoustic", "GPL-2"),
           "Millo-Drums_v.1": ("acoustic", "GPL-2"),
           "rumpf_kit_z01_h2": ("acoustic", "CC-BY-3.0"),
           "ElectricEmpireKit": ("electronic", "GPL-2+"),
           "HardElectro1": ("electronic", "GPL-2+"),
           "Audiophob": ("electronic", "CC0")},
    "ood": {"The Black Pearl 1.0": ("acoustic", "GPL-2"),
            "ColomboAcousticDrumkit": ("acoustic", "GPL-2+ with composition exception"),
            "VariBreaks": ("electronic", "GPL-2+")},
}
# Hand percussion (tambourine, shakers, bongos, claves, cowbell) when the kit has none.
PERCUSSION_KITS = {"in": "Gimme A Hand 1.0", "ood": "circAfrique v4"}
STYLE_WEIGHTS = {"acoustic": 0.8, "electronic": 0.2}

# GM drum note -> instrument classes to try, in order.
GM_CLASSES = {
    35: ["kick"], 36: ["kick"], 37: ["rim", "snare"], 38: ["snare"], 40: ["snare_rim", "snare"],
    39: ["clap"], 42: ["hh_closed"], 44: ["hh_pedal", "hh_closed"],
    46: ["hh_open", "hh_semi", "hh_closed"], 41: ["tom_low", "tom_mid"],
    43: ["tom_low", "tom_mid"], 45: ["tom_mid", "tom_low", "tom_high"],
    47: ["tom_mid", "tom_high", "tom_low"], 48: ["tom_high", "tom_mid"],
    50: ["tom_high", "tom_mid"], 49: ["crash", "ride"], 57: ["crash", "ride"],
    52: ["crash"], 55: ["crash"], 51: ["ride", "crash"], 59: ["ride", "crash"],
    53: ["ride_bell", "ride"], 56: ["cowbell"], 54: ["tambourine"], 69: ["shaker"],
    70: ["shaker"], 82: ["shaker"], 75: ["claves"], 76: ["block_high"], 77: ["block_low"],
    60: ["bongo_high", "hand_high"], 61: ["bongo_low", "hand_low"], 62: ["hand_high"],
    63: ["hand_high"], 64: ["hand_low"],
}
PERCUSSION = {"cowbell", "tambourine", "shaker", "claves", "block_high", "block_low",
              "bongo_high", "bongo_low", "hand_high", "hand_low"}
PAN = {"kick": 0.0, "snare": 0.05, "snare_rim": 0.05, "rim": 0.05, "clap": 0.0,
       "hh_closed": -0.35, "hh_pedal": -0.35, "hh_open": -0.35, "hh_semi": -0.35,
       "tom_high": -0.2, "tom_mid": 0.1, "tom_low": 0.4, "crash": -0.45, "ride": 0.45,
       "ride_bell": 0.45}


def classify(name):
    """The class of a drumkit instrument from its name, or None."""
    n = name.lower()
    if re.search(r"cowbell", n):
        return "cowbell"
    if re.search(r"kick|bass ?drum|^bd", n):
        return "kick"
    if "roll" in n or "choke" in n or "swish" in n or "flink" in n:
        return None
    if "rimshot" in n:
        return "snare_rim"
    if re.search(r"stick|rim click", n):
        return "rim"
    if "snare" in n:
        return "snare"
    if "clap" in n:
        return "clap"
    if re.search(r"hat|hh|hi-hat", n):
        if re.search(r"pedal|\bpd\b", n):
            return "hh_pedal"
        if "semi" in n:
            return "hh_semi"
        if re.search(r"open|\bop\b", n):
            return "hh_open"
        if re.search(r"closed|\bcl\b", n):
            return "hh_closed"
        return None
    if re.search(r"\btom", n):
        if re.search(r"floor|low", n):
            return "tom_low"
        if re.search(r"mid|tom 2", n):
            return "tom_mid"
        if re.search(r"hi|high|tom 1", n):
            return "tom_high"
        return "tom_mid"
    if re.search(r"bell|cup", n):
        return "ride_bell"
    if "ride" in n:
        return "ride"
    if re.search(r"crash|splash|china|cymbal", n):
        return "crash"
    for key, cls in (("tambourine", "tambourine"), ("maraca", "shaker"), ("shaker", "shaker"),
                     ("clave", "claves"), ("woodblock hi", "block_high"),
                     ("woodblock lo", "block_low"), ("bongo hi", "bongo_high"),
                     ("bongo lo", "bongo_low"), ("slap", "hand_high"), ("tone", "hand_high"),
                     ("djembe1 bass", "hand_low"), ("cajon thump", "hand_low")):
        if key in n:
            return cls
    return None


class Kit:
    """A Hydrogen drumkit: {class: [instrument]}, instrument = {"name", "volume", "layers":
    [(min, max, gain, path)]}. Samples are read (and resampled to 44.1 kHz) on first use."""

    _cache = {}  # path -> float32 (nb, 2), per process

    def __init__(self, root, name, only=None):
        self.name = name
        folder = os.path.join(root, name)
        tree = ET.parse(os.path.join(folder, "drumkit.xml")).getroot()
        for element in tree.iter():  # drop the XML namespace of newer kits
            element.tag = element.tag.split("}")[-1]
        self.classes = {}
        for ins in tree.iter("instrument"):
            name_el = ins.find("name")
            cls = classify(name_el.text or "") if name_el is not None else None
            if cls is None or (only and cls not in only):
                continue
            volume = float(ins.findtext("volume") or 1.0)
            layers = []
            for layer in ins.iter("layer"):
                layers.append((float(layer.findtext("min") or 0), float(layer.findtext("max") or 1),
                               float(layer.findtext("gain") or 1),
                               os.path.join(folder, layer.findtext("filename"))))
            if not layers and ins.findtext("filename"):
                layers.append((0.0, 1.0, 1.0, os.path.join(folder, ins.findtext("filename"))))
            layers = [la for la in layers if os.path.exists(la[3])]
            if layers:
                self.classes.setdefault(cls, []).append(
                    {"name": name_el.text, "volume": volume, "layers": sorted(layers)})

    def sample(self, path):
        if path not in Kit._cache:
            audio, rate = sf.read(path, dtype="float32", always_2d=True)
            if audio.shape[1] == 1:
                audio = np.repeat(audio, 2, axis=1)
            audio = audio[:, :2]
            if rate != RATE:
                g = math.gcd(RATE, rate)
                audio = signal.resample_poly(audio, RATE // g, rate // g, axis=0).astype(
                    np.float32)
            Kit._cache[path] = np.ascontiguousarray(audio)
        return Kit._cache[path]


def drum_hits(midi_path):
    """[(seconds, note, velocity 0..1)] of the drum channel's note-ons, in time order."""
    hits, now = [], 0.0
    for message in mido.MidiFile(midi_path):
        now += message.time
        if message.type == "note_on" and message.velocity > 0 and \
                message.channel == DRUM_CHANNEL:
            hits.append((now, message.note, message.velocity / 127.0))
    return hits


def draw_drummer(rng):
    """The humanisation of one track's drummer (a dict for the manifest)."""
    return {
        "timing_sd_ms": round(rng.uniform(2.0, 10.0), 2),
        "drift_ms": round(rng.uniform(0.0, 8.0), 2),  # slow rushing and dragging
        "snare_lag_ms": round(rng.uniform(-3.0, 8.0), 2),
        "hat_lag_ms": round(rng.uniform(-5.0, 5.0), 2),
        "velocity_sd": round(rng.uniform(0.05, 0.14), 3),
        "accent": round(rng.uniform(0.0, 0.2), 3),  # beats up, hat off-beats down
        "ghost_rate": round(rng.choice([0.0, rng.uniform(0.08, 0.35)]), 3),
        "fill_every_bars": rng.choice([0, 4, 8, 8]),
        "open_hat_rate": round(rng.choice([0.0, rng.uniform(0.1, 0.5)]), 3),
        "flip_stereo": rng.random() < 0.3,  # audience perspective
        "level_db": round(rng.uniform(-2.0, 2.0), 2),
    }


def humanise(hits, player, rng, grid=None):
    """The hits as played: timing jitter and drift, snare and hat lags, velocity accents and
    jitter; and where the bar grid is known (`grid` = (seconds per beat, beats per bar)):
    ghost notes on the snare, open hats before downbeats, fills every N bars with a crash
    after them. Returns [(seconds, note, velocity)] sorted."""
    hits = list(hits)
    if grid and hits:
        spb, beats = grid
        bar_s = spb * beats
        end = max(t for t, _, _ in hits)
        nb_bars = int(end / bar_s) + 1
        bars_with = {int(t / bar_s + 1e-6) for t, _, _ in hits}
        # Fills: the last beat (or two) of every N-th bar.
        if player["fill_every_bars"]:
            n = player["fill_every_bars"]
            for bar in range(n - 1, nb_bars - 1, n):
                if bar not in bars_with or bar + 1 not in bars_with or rng.random() < 0.25:
                    continue
                length = 2 if rng.random() < 0.3 and beats >= 4 else 1
                start = (bar + 1) * bar_s - length * spb
                hits = [h for h in hits if not (start - 1e-6 <= h[0] < (bar + 1) * bar_s - 1e-6)
                        or h[1] in (35, 36)]
                step = spb / rng.choice([2, 4, 4, 3])
                nb = int(round(length * spb / step))
                toms = rng.choice([[38, 38, 50, 48, 45, 43, 41], [50, 50, 47, 47, 43, 43],
                                   [38, 38, 38, 38, 45, 41], [38, 50, 45, 41]])
                for k in range(nb):
                    note = toms[min(len(toms) - 1, k * len(toms) // nb)]
                    hits.append((start + k * step, note, min(1.0, 0.55 + 0.4 * k / nb)))
                hits.append(((bar + 1) * bar_s, 49, rng.uniform(0.8, 1.0)))
                hits.append(((bar + 1) * bar_s, 36, rng.uniform(0.8, 1.0)))
        # Ghost notes on free sixteenths of bars with a snare backbeat.
        if player["ghost_rate"] > 0:
            snares = sorted(t for t, n, _ in hits if n in (38, 40))
            if snares:
                step = spb / 4
                for k in range(int(end / step)):
                    t = k * step
                    if k % 2 == 0 or rng.random() >= player["ghost_rate"]:
                        continue
                    i = np.searchsorted(snares, t)
                    near = min([abs(snares[j] - t) for j in (i - 1, i) if 0 <= j < len(snares)])
                    if near > spb * 0.3 and int(t / bar_s) in bars_with:
                        hits.append((t, 38, rng.uniform(0.1, 0.28)))
        # Open hats on the last off-beat of some bars (the next closed hat chokes them).
        if player["open_hat_rate"] > 0:
            out = []
            for t, note, vel in hits:
                pos = (t % bar_s) / spb
                if note == 42 and abs(pos - (beats - 0.5)) < 0.05 and \
                        rng.random() < player["open_hat_rate"]:
                    note = 46
                out.append((t, note, vel))
            hits = out
    hits.sort(key=lambda h: (h[0], h[1]))
    drift_phase = rng.uniform(0, 2 * math.pi)
    drift_rate = rng.uniform(0.03, 0.12)  # Hz
    played = []
    for t, note, vel in hits:
        offset = rng.gauss(0.0, player["timing_sd_ms"]) + player["drift_ms"] * math.sin(
            2 * math.pi * drift_rate * t + drift_phase)
        if note in (38, 40, 37, 39):
            offset += player["snare_lag_ms"]
        elif note in (42, 44, 46):
            offset += player["hat_lag_ms"]
        if note in (35, 36):
            offset *= 0.5  # the kick is the tightest
        v = vel
        if grid:
            spb, beats = grid
            pos = t / spb
            on_beat = abs(pos - round(pos)) < 0.05
            if on_beat:
                v *= 1 + player["accent"] * (1.0 if round(pos) % beats == 0 else 0.5)
            elif note in (42, 44, 46, 51, 59):
                v *= 1 - player["accent"]
        v *= math.exp(rng.gauss(0.0, player["velocity_sd"]))
        played.append((max(0.0, t + offset / 1000.0), note, float(min(1.0, max(0.03, v)))))
    played.sort(key=lambda h: (h[0], h[1]))
    return played


def draw_kit(rng, domain):
    """A kit name of the domain: a style by STYLE_WEIGHTS, then a kit of that style."""
    pool = KITS[domain]
    style = rng.choices(sorted(STYLE_WEIGHTS), [STYLE_WEIGHTS[s] for s in sorted(STYLE_WEIGHTS)]
                        )[0]
    names = sorted(n for n, (s, _) in pool.items() if s == style) or sorted(pool)
    return rng.choice(names)


def render(hits, kits, rng, nb_frames, flip=False):
    """Hits [(seconds, note, velocity)] through `kits` (the main kit first, then hand
    percussion) into (nb_frames, 2) float32. Each class is played by one instrument of the
    kit drawn per track; an open hat is choked by the next closed or pedal hat. Returns
    (audio, {"hits": n, "dropped": n})."""
    out = np.zeros((nb_frames, 2), dtype=np.float32)
    chosen = {}

    def instrument(cls):
        if cls not in chosen:
            options = next((k.classes[cls] for k in kits if cls in k.classes), None)
            chosen[cls] = (options[rng.randrange(len(options))], next(
                k for k in kits if cls in k.classes)) if options else None
        return chosen[cls]

    open_hat = None  # (start frame, end frame) of the ringing open hat
    dropped = 0
    for t, note, vel in hits:
        found = None
        for cls in GM_CLASSES.get(note, []):
            found = instrument(cls)
            if found:
                break
        at = int(round(t * RATE))
        if not found or at >= nb_frames:
            dropped += 1
            continue
        ins, kit = found
        if cls in ("hh_closed", "hh_pedal") and open_hat and open_hat[0] < at < open_hat[1]:
            fade = min(int(0.015 * RATE), open_hat[1] - at)
            ramp = np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
            seg = out[at:at + fade]
            # Remove the open hat's tail: subtract what it would still add, faded in.
            tail = open_hat[2][at - open_hat[0]:at - open_hat[0] + len(seg)]
            out[at:at + len(seg)] -= tail * (1 - ramp[:len(seg)])
            rest = open_hat[2][at - open_hat[0] + len(seg):]
            end = min(nb_frames, at + len(seg) + len(rest))
            out[at + len(seg):end] -= rest[:end - at - len(seg)]
            open_hat = None
        layers = [la for la in ins["layers"] if la[0] <= vel <= la[1]] or \
            [min(ins["layers"], key=lambda la: min(abs(la[0] - vel), abs(la[1] - vel)))]
        lo, hi, gain, path = layers[rng.randrange(len(layers))]
        sample = kit.sample(path)
        # Within a layer, velocity still sets the level (about 20 dB over the range).
        amp = gain * ins["volume"] * (0.1 + 0.9 * vel) ** 1.2
        pan = PAN.get(cls, rng.uniform(-0.5, 0.5)) * (-1 if flip else 1)
        angle = (pan + 1.0) * math.pi / 4.0
        lr = np.array([math.cos(angle), math.sin(angle)], dtype=np.float32) * math.sqrt(2)
        n = min(len(sample), nb_frames - at)
        piece = sample[:n] * (lr * np.float32(amp))
        out[at:at + n] += piece
        if cls in ("hh_open", "hh_semi"):
            open_hat = (at, at + n, piece)
    return out, {"hits": len(hits) - dropped, "dropped": dropped}


# ---------------------------------------------------------------------------------------------
# Bass

# articulation: (weight, GM programs it plays on; None keeps the drawn program)
BASS_ARTICULATIONS = {"finger": (0.3, [33]), "pick": (0.2, [34]), "muted": (0.15, [33, 34]),
                      "slap": (0.1, [36, 37]), "fretless": (0.05, [35]),
                      "as drawn": (0.2, None)}
BEND_PER_SEMITONE = 4096  # the default pitch-bend range is +-2 semitones


def draw_bassist(rng):
    names = sorted(BASS_ARTICULATIONS)
    art = rng.choices(names, [BASS_ARTICULATIONS[n][0] for n in names])[0]
    programs = BASS_ARTICULATIONS[art][1]
    return {"articulation": art, "program": rng.choice(programs) if programs else None,
            "timing_sd_ms": round(rng.uniform(2.0, 9.0), 2),
            "lag_ms": round(rng.uniform(-4.0, 8.0), 2),
            "velocity_sd": round(rng.uniform(0.04, 0.12), 3),
            "accent": round(rng.uniform(0.0, 0.15), 3),
            "length": round(rng.uniform(0.3, 0.6), 3) if art == "muted" else 1.0,
            "slide_rate": round(rng.choice([0.0, rng.uniform(0.05, 0.25)]), 3)}


def play_bass(midi_path, bass_channels, player, rng, grid=None, bass_programs=range(32, 40)):
    """Rewrites the notes of `bass_channels` (0-based) in the MIDI file at `midi_path` while
    their program is one of `bass_programs` (a channel that switches to another instrument
    keeps it): program, timing jitter and lag, velocity accents and jitter, shortened notes
    (muted), slides into notes from one or two semitones away (pitch bend over 30..90 ms).
    Returns the number of notes played."""
    midi = mido.MidiFile(midi_path)
    tpq = midi.ticks_per_beat
    tempo = next((m.tempo for t in midi.tracks for m in t if m.type == "set_tempo"), 500000)
    ms_ticks = tpq * 1000.0 / tempo  # ticks per millisecond at the first tempo
    nb_notes = 0
    for track in midi.tracks:
        now, events = 0, []
        for m in track:
            now += m.time
            events.append([now, m])
        if not any(getattr(m, "channel", None) in bass_channels for _, m in events):
            continue
        out, sounding, last_pitch, program = [], {}, {}, {}
        for tick, m in events:
            ch = getattr(m, "channel", None)
            if m.type == "end_of_track":
                continue
            if m.type == "program_change":
                program[ch] = m.program
            if ch not in bass_channels or program.get(ch, 0) not in bass_programs:
                out.append((tick, 1, m))
                continue
            if m.type == "program_change" and player["program"] is not None:
                out.append((tick, 1, m.copy(program=player["program"])))
            elif m.type == "note_on" and m.velocity > 0:
                shift = rng.gauss(player["lag_ms"], player["timing_sd_ms"]) * ms_ticks
                on = max(0, int(round(tick + shift)))
                v = m.velocity / 127.0
                if grid:
                    pos = tick / tpq  # quarter notes at the file's grid
                    if abs(pos - round(pos)) < 0.05:
                        v *= 1 + player["accent"] * (1.0 if round(pos) % grid[1] == 0 else 0.4)
                v *= math.exp(rng.gauss(0.0, player["velocity_sd"]))
                velocity = int(min(127, max(8, round(v * 127))))
                sounding[(ch, m.note)] = (tick, on)
                prev = last_pitch.get(ch)
                if prev is not None and prev != m.note and rng.random() < player["slide_rate"]:
                    steps = max(-2, min(2, prev - m.note))
                    span = int(rng.uniform(30, 90) * ms_ticks)
                    for k in range(6):
                        value = int(round(steps * BEND_PER_SEMITONE * (1 - k / 5)))
                        out.append((on + span * k // 5, 0 if k == 0 else 2, mido.Message(
                            "pitchwheel", channel=ch, pitch=max(-8192, min(8191, value)))))
                last_pitch[ch] = m.note
                out.append((on, 1, m.copy(velocity=velocity)))
                nb_notes += 1
            elif m.type == "note_off" or (m.type == "note_on" and m.velocity == 0):
                start = sounding.pop((ch, m.note), None)
                if start is None:
                    out.append((tick, 0, m))
                    continue
                orig_on, on = start
                length = max(1, int((tick - orig_on) * player["length"]))
                out.append((max(on + 1, on + length), 0, m))
            else:
                out.append((tick, 1, m))
        out.sort(key=lambda e: (e[0], e[1]))
        out.append((max([e[0] for e in out] + [events[-1][0]]), 3,
                    mido.MetaMessage("end_of_track")))
        track.clear()
        now = 0
        for tick, _, m in out:
            track.append(m.copy(time=tick - now))
            now = tick
    tmp = f"{midi_path}.tmp{os.getpid()}"
    midi.save(tmp)
    os.replace(tmp, midi_path)
    return nb_notes
