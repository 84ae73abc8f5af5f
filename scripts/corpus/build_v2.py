"""Builds saex corpus-v2 (and corpus-v3): MIDI pieces rendered by several SoundFonts and
engines, sung by many voices, mixed through drawn effects and a master bus, stored as 16-bit
FLAC stems.

    python build_v2.py --out DIR --saex BIN --work DIR [--seed N] [--hours H] [--jobs J]
                       [--version v2|v3]

--version v3 (corpus-v3) differs in its singing: phrases sung through the WORLD vocoder
(sing_world.py: speech turned into singing, drawn singers) instead of one speech utterance
per syllable (sing.py, voice_fx.sing), and its own voices (FLITE_V3, ENGINE_WEIGHTS_V3,
CROSS_RANGE_V3); in its players (players.py: drums from sampled Hydrogen kits played by a
drawn drummer in SAMPLED_DRUMS_V3 of the drum parts, bass articulations); and in its mixes (a
share --clean-mixes of clean mixes, the drum stem near the centre, no stem past
STEM_CEILING_V3). Everything else is v2's machinery; v2 builds as before, byte for byte.

Layout written under --out:
    train/ valid/ test/ ood/ <track>/{drums,bass,piano,guitar,vocals,other}.flac
                         and mixture.flac (the exact sum of the stems) outside train/
    manifest.json        every track: split, sources, engine, programs, voices, effects, seed
    .sources/<track>.mid the MIDI each track was rendered from
    .meta/<track>.json   one manifest entry per finished track (a re-run skips these tracks)

Splits: train/valid/test (80/10/10 by a hash of seed and piece) draw from the in-domain
sources, SoundFonts and voices; `ood` draws only from held-out MIDI sources (music21
collections, Essen folk song books, mma groove files, planetblupi files), held-out renderers
(timidity with freepats, and the csound SoundFont through saex) and held-out singers (flite's
voices and some espeak-ng variants). ood gets as many hours as test.

Every draw of a track comes from a generator seeded by the corpus seed and the track's piece,
so a track does not depend on the others, and tracks can be built in parallel (--jobs): the
tracks kept are those a sequential build would keep, and extra ones are removed.
"""

import argparse
import collections
import json
import math
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import sys
import time

import mido
import numpy as np
import soundfile as sf

import build
import effects
import gm
import midi_tools
import pieces
import players
import sing
import sing_world
import stems
import voice_fx

FORMATS = {"v2": "saex-corpus-v2", "v3": "saex-corpus-v3"}
RATE = 44100
SPLITS = {"train": 0.8, "valid": 0.1, "test": 0.1}
OOD_SHARE = 0.1  # ood gets the hours of test
KIND_WEIGHTS = {"multipart": 0.3, "folk": 0.33, "groove": 0.27, "blupi": 0.1}

# Held out of train/valid/test: these sources, renderers and voices make the ood split.
OOD_COLLECTIONS = {"monteverdi", "haydn"}
OOD_ESSEN_BOOKS = {"han1", "han2", "irl", "lux", "dva0", "zuccal0"}
OOD_GROOVE_SHARE = 0.15  # of mma's groove files, by a hash of the file name
OOD_BLUPI_FILES = 2  # of planetblupi's files, the first in a seeded order

SF2 = "/usr/share/sounds/sf2"
# (engine, SoundFont or patch set): weight. saex = `saex render` (rustysynth).
RENDERERS = {
    "in": {("saex", f"{SF2}/FluidR3_GM.sf2"): 0.3,
           ("saex", f"{SF2}/MuseScore_General_Full.sf2"): 0.3,
           ("saex", f"{SF2}/TimGM6mb.sf2"): 0.25,
           ("saex", f"{SF2}/OPL-3_FM_128M.sf2"): 0.15},
    "ood": {("timidity", "/etc/timidity/freepats.cfg"): 0.5,
            ("saex", f"{SF2}/sf_GMbank.sf2"): 0.5},
}
RENDERER_PACKAGES = {
    "FluidR3_GM.sf2": "fluid-soundfont-gm", "MuseScore_General_Full.sf2":
    "musescore-general-soundfont-lossless", "TimGM6mb.sf2": "timgm6mb-soundfont",
    "OPL-3_FM_128M.sf2": "opl3-soundfont", "sf_GMbank.sf2": "csound-soundfont",
    "freepats.cfg": "timidity + freepats",
}
# espeak-ng variants left out: no steady pitch (whisper), or noise rather than a voice.
ESPEAK_EXCLUDED = {"whisper", "whisperf", "croak", "Demonic", "UniRobot", "anikaRobot",
                   "robosoft2", "robosoft3", "robosoft4", "robosoft5", "robosoft6", "robosoft7",
                   "robosoft8", "Tweaky", "kaukovalta", "fast"}
ESPEAK_OOD = {"klatt4", "Andy", "steph2", "m8", "grandma", "Mario", "Alicia", "caleb"}
FLITE_VOICES = {"in": [("awb", "male")], "ood": [("slt", "female"), ("kal16", "male")]}
# v3: flite's voices are most singers (their speech is the most natural of the two engines),
# espeak-ng a minority. Festival and its voices are never used: they are reserved for an
# independent evaluation set. flite's slt and kal16 are the speakers of Debian's Festival
# voices festvox-us-slt-hts and festvox-kallpc16k (the same CMU recordings), so they stay out
# of training: held out for ood, with the same espeak-ng variants as in v2. In-domain female
# singers come from espeak-ng's female variants and from awb and rms singing in the female
# range (CROSS_RANGE_V3, formants warped up).
FLITE_V3 = {"in": [("awb", "male"), ("rms", "male")],
            "ood": [("slt", "female"), ("kal16", "male")]}
CROSS_RANGE_V3 = 0.35
# v3: the pitch a voice speaks at before it is made to sing (clamped to what it can speak).
SPEAKING_HZ = {"male": (85.0, 200.0), "female": (150.0, 330.0)}
ENGINE_WEIGHTS_V3 = {"in": {"flite": 0.75, "espeak": 0.25}, "ood": {"flite": 0.5, "espeak": 0.5}}
# v3: drums played from a sampled kit (players.py) in this share of the tracks with drums (the
# others keep the renderer's GM drums); bass parts get an articulation and a player's timing.
SAMPLED_DRUMS_V3 = 0.75
# v3: the default share of clean mixes (no effects, no master bus: the rendered stems at drawn
# levels, one constant gain to a drawn peak), `--clean-mixes` to change it.
CLEAN_MIXES_V3 = 0.2
STEM_CEILING_V3 = 0.99  # v3: no stem may clip at the 16-bit conversion
DRUM_PAN_V3 = 0.3  # v3: the drum stem's drawn balance, scaled (within +-0.15: under 2.1 dB)
SYLLABLE_LANGUAGES = ["it", "it", "es", "fi", "la", "pt"]
VOCAL_RANGE_PROGRAMS = ([64, 65, 66, 67, 56, 57, 68, 71, 73, 40, 41, 42, 16, 17, 18, 19, 11]
                        + list(range(80, 88)) + [26, 27, 29, 30, 0, 1, 4, 5])

LICENCES = dict(build.LICENCES, **{
    "musescore-general-soundfont-lossless": "MIT (S. Christian Collins and MuseScore), "
        "/usr/share/doc/musescore-general-soundfont-lossless/copyright",
    "opl3-soundfont": "CC-BY-SA-4.0 / GPL-3+ (Zandro Reveille, Bret Curtis), "
                      "/usr/share/doc/opl3-soundfont/copyright",
    "csound-soundfont": "public domain (sf_GMbank.sf2), /usr/share/doc/csound-soundfont/copyright",
    "freepats": "GPL-2+ with exceptions, /usr/share/doc/freepats/copyright",
    "timidity": "GPL-2+, /usr/share/doc/timidity/copyright",
    "flite": "BSD-like (Carnegie Mellon University), /usr/share/doc/flite/copyright",
})
LICENCES_V3 = {"pyworld": "MIT (pyworld contributors); WORLD vocoder: modified BSD (M. Morise), "
                          "LICENSE and lib/World/LICENSE.txt in the pyworld sdist",
               "hydrogen-drumkits": "per kit: GPL-2, GPL-2+, CC-BY-3.0, CC-BY-SA-3.0, CC0 "
                                    "(players.KITS), /usr/share/doc/hydrogen-drumkits/copyright"}


# ---------------------------------------------------------------------------------------------
# Voices


def espeak_gender(data_dir, name):
    path = os.path.join(data_dir, sing.VARIANT_DIR, name)
    with open(path, encoding="latin-1") as f:
        for line in f:
            m = re.match(r"\s*gender\s+(\w+)", line)
            if m:
                return "female" if m.group(1).lower().startswith("f") else "male"
    return "male"


def voice_pools(voice_root, version="v2"):
    """{"in": [(engine, voice, gender)], "ood": [...]}: every espeak-ng variant but those that
    cannot hold a pitch, and flite's voices that follow a pitch target (v3: all of flite's
    16 kHz voices, see FLITE_V3)."""
    data = os.path.join(voice_root, "espeak-ng-data")
    folder = os.path.join(data, sing.VARIANT_DIR)
    names = sorted(n for n in os.listdir(folder) if not n.startswith((".", "saex-"))
                   and n not in ESPEAK_EXCLUDED and " " not in n)
    pools = {"in": [], "ood": []}
    for name in names:
        pool = "ood" if name in ESPEAK_OOD else "in"
        pools[pool].append(("espeak", name, espeak_gender(data, name)))
    for pool, voices in (FLITE_V3 if version == "v3" else FLITE_VOICES).items():
        pools[pool] += [("flite", v, g) for v, g in voices]
    return pools


# ---------------------------------------------------------------------------------------------
# Candidates


def is_ood(kind, piece):
    if kind == "multipart":
        return piece.split("/")[0] in OOD_COLLECTIONS
    if kind == "folk":
        return piece.split("/")[1].split("#")[0] in OOD_ESSEN_BOOKS
    return False  # grooves and planetblupi are split by file below


def groove_files_ood(grooves):
    files = sorted({f for by_beats in grooves.values() for f in by_beats})
    return {f for f in files if build.unit_hash("ood-groove", f) < OOD_GROOVE_SHARE}


def candidates(seed, domain, blupi_ood):
    """An endless, seeded stream of (kind, piece, window, name) of one domain ("in" or
    "ood")."""
    multipart = {c: p for c, p in pieces.multipart_pieces().items()
                 if (c in OOD_COLLECTIONS) == (domain == "ood")}
    lists = {
        "multipart": build.interleave(multipart, f"{seed}/{domain}"),
        "folk": [(p, 0) for p in pieces.folk_pieces()
                 if is_ood("folk", p) == (domain == "ood")],
        "blupi": [(p, w) for p in pieces.blupi_pieces() if (p in blupi_ood) == (domain == "ood")
                  for w in range(pieces.BLUPI_WINDOWS_PER_FILE)],
    }
    for kind in ("folk", "blupi"):
        random.Random(f"{seed}/{domain}/order/{kind}").shuffle(lists[kind])
    positions = {kind: 0 for kind in lists}
    chooser = random.Random(f"{seed}/{domain}/kinds")
    nb_grooves = 0
    while True:
        kinds = [k for k in KIND_WEIGHTS if k == "groove" or positions[k] < len(lists[k])]
        kind = chooser.choices(kinds, [KIND_WEIGHTS[k] for k in kinds])[0]
        if kind == "groove":
            piece, window = f"groove-{domain}-{nb_grooves:05d}", 0
            nb_grooves += 1
        else:
            piece, window = lists[kind][positions[kind]]
            positions[kind] += 1
        yield kind, piece, window, build.track_name(kind, piece, window)


def all_candidates(seed, blupi_ood):
    """(split, kind, piece, window, name): in-domain candidates with their split, and about
    one ood candidate in ten, interleaved in a seeded order."""
    inside = candidates(seed, "in", blupi_ood)
    outside = candidates(seed, "ood", blupi_ood)
    chooser = random.Random(f"{seed}/domains")
    while True:
        if chooser.random() < OOD_SHARE:
            kind, piece, window, name = next(outside)
            yield "ood", kind, piece, window, name
        else:
            kind, piece, window, name = next(inside)
            yield build.split_of(seed, piece), kind, piece, window, name


# ---------------------------------------------------------------------------------------------
# Melodies and parts added to the pieces


def chord_pitch_classes(name):
    """Pitch classes of an mma chord name like 'Bbm7', 'F#', 'C7'."""
    m = re.match(r"([A-G])([b#]?)(m?)(7?)", name)
    if not m:
        return [0, 4, 7]
    root = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[m.group(1)]
    root += {"b": -1, "#": 1, "": 0}[m.group(2)]
    third = 3 if m.group(3) else 4
    out = [root % 12, (root + third) % 12, (root + 7) % 12]
    if m.group(4):
        out.append((root + 10) % 12)
    return out


def groove_melody(rng, bars, beats, spq, lead_in_bars=2):
    """A sung melody over an mma chord list: two-bar phrases (some left to rest), chord tones
    on strong beats, scale steps between, a random walk around C4..C5. Returns
    ([(start_s, length_s, pitch, syllable)], [unsung phrase start bars])."""
    scale = sorted({pc for b in bars for pc in chord_pitch_classes(b)})
    rhythms = [[1, 1, 1, 1], [1.5, 0.5, 1, 1], [0.5, 0.5, 1, 2], [2, 1, 1], [1, 0.5, 0.5, 2],
               [0.5] * 8, [3, 1], [1, 1, 2]]
    pattern = [rng.choice(rhythms) for _ in range(2)]
    pitch = rng.randint(62, 69)
    notes, rests = [], []
    for bar in range(lead_in_bars, len(bars) - 1, 2):
        if rng.random() < 0.3:
            rests.append(bar)
            continue
        for half in range(2):
            chord = chord_pitch_classes(bars[min(bar + half, len(bars) - 1)])
            rhythm = pattern[half] if rng.random() < 0.7 else rng.choice(rhythms)
            t = 0.0
            for length in rhythm:
                if t >= beats:
                    break
                length = min(length, beats - t)
                strong = t == int(t) and int(t) % 2 == 0
                pool = chord if strong else scale
                options = [p for p in range(pitch - 5, pitch + 6) if p % 12 in pool]
                options = options or [pitch]
                weights = [1.0 / (1 + abs(p - pitch)) for p in options]
                pitch = rng.choices(options, weights)[0]
                pitch = min(max(pitch, 57), 76)
                start_q = (bar + half) * beats + t
                if not (half == 1 and t + length >= beats and rng.random() < 0.4):
                    notes.append((start_q * spq, length * spq, pitch,
                                  rng.choice(sing.SYLLABLES)))
                t += length
    return notes, rests


def chord_harmony(notes, bars, bar_s, below):
    """Backing-vocal notes: for each note the nearest tone of its bar's chord at least three
    semitones below (or above) it."""
    out = []
    for start, length, pitch, syllable in notes:
        chord = chord_pitch_classes(bars[min(int(start / bar_s + 1e-6), len(bars) - 1)])
        step = -1 if below else 1
        p = pitch + 3 * step
        while p % 12 not in chord:
            p += step
        out.append((start, length, p, syllable))
    return out


def choir_pad(rng, bars, beats, low=55):
    """Sustained three-note chords per bar for a GM voice program: [(start_q, len_q, pitch)]."""
    notes = []
    for i, bar in enumerate(bars):
        pcs = chord_pitch_classes(bar)[:3]
        voiced = sorted(low + ((pc - low) % 12) for pc in pcs)
        for p in voiced:
            notes.append((i * beats, beats * 0.98, p + (12 if rng.random() < 0.2 else 0)))
    return notes


# ---------------------------------------------------------------------------------------------
# Rendering


def render_saex(saex, midi, soundfont, out_dir):
    cmd = [saex, "render", "--midi", midi, "--soundfont", soundfont, "--out", out_dir,
           "--vocals-track", "saex-sung-line", "--quiet"]
    result = subprocess.run(cmd, capture_output=True, text=True,
                            env=dict(os.environ, RAYON_NUM_THREADS="1"))
    if result.returncode != 0:
        raise RuntimeError(f"saex render failed on {midi}: {result.stderr.strip()[-500:]}")
    folder = os.path.join(out_dir, os.path.basename(midi)[:-4])
    return {n: stems.read_wav(os.path.join(folder, f"{n}.wav")) for n in gm.STEMS
            if os.path.exists(os.path.join(folder, f"{n}.wav"))}


def render_timidity(midi, config, work):
    """Each stem family rendered on its own by timidity (effects off), 44.1 kHz stereo."""
    paths = {fam: os.path.join(work, f"timidity-{fam}.mid") for fam in gm.STEMS}
    found = midi_tools.split_by_family(midi, paths)
    out = {}
    for fam in sorted(found):
        wav = os.path.join(work, f"timidity-{fam}.wav")
        cmd = ["timidity", "-c", config, "-Ow", "-o", wav, "-s", str(RATE), "--output-stereo",
               "--output-16bit", "-EFreverb=0", "-EFchorus=0", "-idq", paths[fam]]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or not os.path.exists(wav):
            raise RuntimeError(f"timidity failed on {midi}: {result.stderr.strip()[-300:]}")
        audio, rate = sf.read(wav, dtype="float32", always_2d=True)
        if rate != RATE or audio.shape[1] != 2:
            raise RuntimeError(f"timidity wrote {rate} Hz, {audio.shape[1]} channels")
        out[fam] = audio
    return out


# ---------------------------------------------------------------------------------------------
# Output


def to_int16(audio):
    return np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)


def write_flac(path, samples):
    """16-bit FLAC of int16 `samples` (nb_frames, 2), written atomically."""
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp{os.getpid()}")
    sf.write(tmp, samples, RATE, format="FLAC", subtype="PCM_16")
    os.replace(tmp, path)


def write_track(folder, processed, with_mixture=True):
    """Writes every stem of gm.STEMS (silence where absent) and, when `with_mixture`,
    mixture.flac, the exact integer sum of the 16-bit stems. Fails when the sum would clip
    (the master bus keeps the mix under -1 dBFS, so it cannot)."""
    nb = max(len(a) for a in processed.values())
    total = np.zeros((nb, 2), dtype=np.int32)
    for name in gm.STEMS:
        audio = processed.get(name)
        q = np.zeros((nb, 2), dtype=np.int16)
        if audio is not None:
            q[: len(audio)] = to_int16(audio)
        total += q
        write_flac(os.path.join(folder, f"{name}.flac"), q)
    if np.abs(total).max() > 32767:
        raise RuntimeError(f"{folder}: the mixture of the 16-bit stems clips")
    if with_mixture:
        write_flac(os.path.join(folder, "mixture.flac"), total.astype(np.int16))
    return nb


# ---------------------------------------------------------------------------------------------
# One track


class TrackMaker:
    def __init__(self, args, voice_root, grooves, pools):
        self.args, self.voice_root, self.grooves, self.pools = args, voice_root, grooves, pools
        self.out = os.path.abspath(args.out)
        self.version = args.version

    def make(self, split, kind, piece, window, name):
        final = os.path.join(self.out, split, name)
        meta_path = os.path.join(self.out, ".meta", f"{name}.json")
        if os.path.isdir(final) and os.path.exists(meta_path):
            with open(meta_path) as f:
                return json.load(f), True
        seed = self.args.seed
        domain = "ood" if split == "ood" else "in"
        rng = random.Random(f"{seed}/{self.version}/track/{kind}/{piece}/{window}")
        stage = os.path.join(self.out, ".staging", name)
        shutil.rmtree(stage, ignore_errors=True)
        os.makedirs(stage)
        midi_path = os.path.join(stage, f"{name}.mid")
        grooves = self.grooves_of(domain)
        if kind == "multipart":
            # Vocal works are sung 9 times in 10; instrumental works (no lyric language) get
            # their top part sung on syllables 3 times in 4.
            language = "it" if rng.random() < 0.75 else None
            track = pieces.make_multipart(piece, rng, midi_path, sing_language=language,
                                          sing_probability=0.9)
        elif kind == "folk":
            track = pieces.make_folk(piece, rng, midi_path, stage, grooves)
        elif kind == "groove":
            track = pieces.make_groove(piece, rng, midi_path, stage, grooves)
        else:
            track = pieces.make_blupi(piece, window, rng, midi_path)
        info = dict(track.info)
        lines = self.arrange(kind, track, info, rng, midi_path)

        if self.version == "v3":
            self.play_bass(rng, info, midi_path, kind)
        engine, bank = draw(rng, RENDERERS[domain])
        render_dir = os.path.join(stage, "render")
        if engine == "saex":
            audio = render_saex(self.args.saex, midi_path, bank, render_dir)
        else:
            os.makedirs(render_dir)
            audio = render_timidity(midi_path, bank, render_dir)
        info["renderer"] = {"engine": engine, "bank": os.path.basename(bank),
                            "package": RENDERER_PACKAGES[os.path.basename(bank)]}
        if self.version == "v3" and "drums" in audio:
            self.play_drums(audio, rng, info, domain, midi_path, kind)

        sung = self.sing_lines(lines, rng, info, domain, stage)
        nb = max([len(a) for a in audio.values()] + [len(sung) if sung is not None else 0])
        padded = {}
        for stem_name in gm.STEMS:
            a = np.zeros((nb, 2), dtype=np.float32)
            if stem_name in audio:
                a[: len(audio[stem_name])] = audio[stem_name]
            if stem_name == "vocals" and sung is not None:
                a[: len(sung)] += sung
            if np.any(a):
                padded[stem_name] = a
        processed = self.mix(padded, rng, info)
        folder = os.path.join(stage, "track")
        os.makedirs(folder)
        # Training reads stems only (the loader sums them, exactly as the mixture would be):
        # train tracks go without mixture.flac, which saves a third of the disk.
        nb = write_track(folder, processed, with_mixture=split != "train")
        entry = {"name": name, "split": split, "kind": kind, "piece": piece, "seed": seed,
                 "seconds": round(nb / RATE, 3),
                 "stems_present": sorted(processed), **info}
        shutil.copyfile(midi_path, os.path.join(self.out, ".sources", f"{name}.mid"))
        build.write_json(meta_path, entry)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(folder, final)
        shutil.rmtree(stage, ignore_errors=True)
        return entry, False

    def grid(self, info, kind):
        """(seconds per beat, beats per bar) of mma-backed tracks (their bar 1 starts at 0)."""
        if kind in ("folk", "groove") and info.get("tempo_bpm"):
            return 60.0 / info["tempo_bpm"], beats_of(info, self.grooves)
        return None

    def play_bass(self, rng, info, midi_path, kind):
        """v3: the bass parts' articulation, timing and dynamics, in the MIDI."""
        midi = mido.MidiFile(midi_path)
        channels = set()
        for track in midi.tracks:
            for m in track:
                if m.type == "program_change" and m.channel != gm.DRUM_CHANNEL and \
                        gm.family(m.program, m.channel) == "bass":
                    channels.add(m.channel)
        if not channels:
            return
        player = players.draw_bassist(rng)
        grid = self.grid(info, kind)
        nb = players.play_bass(midi_path, channels, player, rng,
                               (None, grid[1]) if grid else None, set(gm.FAMILY_RANGES["bass"]))
        info["bass_player"] = dict(player, channels=sorted(c + 1 for c in channels),
                                   nb_notes=nb)

    def play_drums(self, audio, rng, info, domain, midi_path, kind):
        """v3: the drum part played from a sampled kit (SAMPLED_DRUMS_V3 of the tracks),
        humanised, at the level of the renderer's drums (+- the drummer's level_db)."""
        if rng.random() >= SAMPLED_DRUMS_V3:
            return
        hits = players.drum_hits(midi_path)
        if not hits:
            return
        kit_name = players.draw_kit(rng, domain)
        kits = [players.Kit(players.KITS_DIR, kit_name),
                players.Kit(players.KITS_DIR, players.PERCUSSION_KITS[domain],
                            players.PERCUSSION)]
        player = players.draw_drummer(rng)
        played = players.humanise(hits, player, rng, self.grid(info, kind))
        nb = max(len(a) for a in audio.values())
        sampled, counts = players.render(played, kits, rng, nb, player["flip_stereo"])
        have, want = effects.loudness_db(sampled), effects.loudness_db(audio["drums"])
        if not (math.isfinite(have) and math.isfinite(want)):
            return
        audio["drums"] = sampled * np.float32(10 ** ((want + player["level_db"] - have) / 20))
        info["drum_kit"] = {"kit": kit_name, "style": players.KITS[domain][kit_name][0],
                            "percussion": players.PERCUSSION_KITS[domain], "player": player,
                            **counts}

    def grooves_of(self, domain):
        held = groove_files_ood(self.grooves)
        return {beats: {f: v for f, v in files.items() if (f in held) == (domain == "ood")}
                for beats, files in self.grooves.items()}

    def arrange(self, kind, track, info, rng, midi_path):
        """The sung lines of the track [(role, notes, language)] and the parts added to its
        MIDI: a melody for grooves, a lead instrument in the vocal range, choir pads."""
        lines = []
        bpm = info.get("tempo_bpm")
        bars = info.get("chords")
        beats = beats_of(info, self.grooves)
        spq = 60.0 / bpm if bpm else None
        if kind == "groove" and rng.random() < 0.9:
            notes, rests = groove_melody(rng, bars, beats, spq)
            track.vocals, track.language = notes, rng.choice(SYLLABLE_LANGUAGES)
            info["vocals"] = {"part": "generated melody", "lyrics": "drawn syllables"}
            if rests and rng.random() < 0.6:
                answer, _ = groove_melody(random.Random(rng.random()), bars, beats, spq)
                answer = [n for n in answer if any(r * beats * spq <= n[0] < (r + 2) * beats *
                                                   spq for r in rests)]
                self.lead_part(rng, info, midi_path, answer, spq, "answers in the rests")
        if track.vocals:
            lead = list(track.vocals)
            if kind == "folk" and info.get("verses", 1) >= 2 and rng.random() < 0.4:
                # One verse played by a lead instrument instead of sung.
                verse = rng.randrange(1, info["verses"])
                per = len(lead) // info["verses"]
                played = lead[verse * per:(verse + 1) * per]
                lead = lead[:verse * per] + lead[(verse + 1) * per:]
                self.lead_part(rng, info, midi_path, played, spq, "an instrumental verse")
            elif spq and rng.random() < 0.25:
                self.lead_part(rng, info, midi_path, lead, spq, "doubles the melody",
                               velocity=rng.randint(35, 60))
            language = track.language if kind == "multipart" and info.get("vocals", {}).get(
                "lyrics") not in (None, "drawn syllables") else rng.choice(SYLLABLE_LANGUAGES)
            lines.append(("lead", lead, language))
            if bars and spq and rng.random() < 0.35:
                below = rng.random() < 0.6
                harmony = chord_harmony(lead, bars, beats * spq, below)
                if rng.random() < 0.5:  # backing vocals in the second half only
                    half = lead[len(lead) // 2][0] if lead else 0.0
                    harmony = [n for n in harmony if n[0] >= half]
                lines.append(("harmony", harmony, language))
        if bars and spq and kind in ("folk", "groove") and rng.random() < 0.2:
            program = rng.choice(list(gm.CHOIR))
            channel = midi_tools.append_part(midi_path, "choir pad", program,
                                             choir_pad(rng, bars, beats), rng.randint(45, 75))
            info["choir_pad"] = {"program": program, "channel": channel}
        return lines

    def lead_part(self, rng, info, midi_path, notes, spq, role, velocity=None):
        if not notes:
            return
        program = rng.choice(VOCAL_RANGE_PROGRAMS)
        octave = rng.choice([0, 0, 0, -12, 12]) if program not in (42, 57) else -12
        quarters = [(s / spq, l / spq * 0.95, p + octave) for s, l, p, _ in notes]
        velocity = velocity or rng.randint(70, 110)
        channel = midi_tools.append_part(midi_path, "lead instrument", program, quarters, velocity)
        info.setdefault("lead_instruments", []).append(
            {"role": role, "program": program, "channel": channel, "family":
             gm.family(program, channel if channel is not None else 0)})

    def sing_lines(self, lines, rng, info, domain, stage):
        """Every sung line into one stereo vocals layer (or None)."""
        if not lines:
            return None
        pool = self.pools[domain]
        voice = self.draw_voice(rng, pool, domain)
        end = max(s + l for _, notes, _ in lines for s, l, _, _ in notes) + 1.0
        total = int(end * RATE)
        out = np.zeros((total, 2), dtype=np.float32)
        style = voice_fx.draw_style(rng) if self.version == "v2" else None
        centre_jitter = rng.uniform(-4, 4)  # the track's range within the voice's
        lead_info = None
        used = []
        singers = {}  # v3: one singer per voice and range in a track (a harmony by the lead's
        # voice is the lead singer overdubbing)
        for role, notes, language in lines:
            v = voice if role == "lead" or rng.random() < 0.4 else self.draw_voice(rng, pool,
                                                                                   domain)
            engine, name, gender = v
            sung_range = gender
            if self.version == "v3" and rng.random() < CROSS_RANGE_V3:  # a voice made to sing
                sung_range = "female" if gender == "male" else "male"  # the other range
            # Octaves only (the line stays in the key), towards this singer's range.
            centre = sing.MEDIAN_PITCH[sung_range] + centre_jitter
            shift = 12 * round((centre - float(np.median([n[2] for n in notes]))) / 12)
            notes = [(s, l, p + shift, y) for s, l, p, y in notes]
            language = language if engine == "espeak" else "en"
            if self.version == "v2":
                formant = rng.uniform(0.88, 1.14)
                singer = sing.Singer(self.voice_root, name, language, engine=engine,
                                     formant=formant, work=stage)
                mono = voice_fx.sing(singer, notes, total, style, rng)
                mono = voice_fx.breath(mono, style["breath_db"], rng)
                sung = {"language": singer.language, "formant": round(formant, 3)}
            else:
                key = (v, sung_range)
                if key not in singers:
                    singers[key] = sing_world.draw_singer(rng, gender, sung_range)
                hz = float(np.clip(sing.midi_to_hz(centre), *SPEAKING_HZ[gender]))
                speaker = sing_world.Voice(engine, name, language, round(hz), self.voice_root,
                                           stage)
                mono = sing_world.sing_line(speaker, notes, total, singers[key], rng)
                sung = {"language": language, "range": sung_range, "speaking_hz": round(hz),
                        "singer": singers[key]}
            gain = 1.0 if role == "lead" else rng.uniform(0.35, 0.7)
            pan = rng.uniform(-0.15, 0.15) if role == "lead" else rng.choice([-1, 1]) * \
                rng.uniform(0.3, 0.8)
            out += voice_fx.stereo(mono, pan, gain)
            record = {"role": role, "engine": engine, "voice": name, "gender": gender, **sung,
                      "nb_notes": len(notes), "pan": round(pan, 3), "gain": round(gain, 3)}
            if role == "lead" and rng.random() < 0.4:
                d_pan = rng.uniform(0.3, 0.9)
                dub = voice_fx.double(mono, rng) * rng.uniform(0.4, 0.8)
                out += voice_fx.stereo(dub, d_pan, 1.0) + voice_fx.stereo(
                    voice_fx.double(mono, rng) * rng.uniform(0.4, 0.8), -d_pan, 1.0)
                record["doubled"] = True
            used.append(record)
            if role == "lead":
                lead_info = record
        info["singing"] = {"style": style, "lines": used} if style else {"lines": used}
        if lead_info and "vocals" in info:
            info["vocals"]["voice"] = lead_info["voice"]
        return out

    def draw_voice(self, rng, pool, domain):
        """A voice of `pool`: uniform in v2; in v3 an engine by ENGINE_WEIGHTS_V3 first."""
        if self.version == "v2":
            return rng.choice(pool)
        engine = draw(rng, ENGINE_WEIGHTS_V3[domain])
        return rng.choice([v for v in pool if v[0] == engine])

    def mix(self, padded, rng, info):
        """Effects per stem, the vocals' level against the accompaniment, the master bus
        (v3: or, for a share of the tracks, a clean mix)."""
        if self.version == "v3" and rng.random() < self.args.clean_mixes:
            return self.clean_mix(padded, rng, info)
        room = effects.Room(effects.draw_room(rng), rng)
        chains = {}
        out = {}
        for name in sorted(padded):
            chain = effects.draw_stem_chain(rng, name)
            if self.version == "v3" and name == "drums":
                # A drum bus sits near the centre (v2 balanced it anywhere within +-0.5, up to
                # 7.7 dB between the channels; docs/corpus.md, "Why the v2 drums regressed").
                chain["pan"] = round(chain["pan"] * DRUM_PAN_V3, 3)
            chain["gain_db"] = round(rng.uniform(-4, 4), 2)
            chains[name] = chain
            out[name] = effects.apply_stem_chain(padded[name], chain, room) * np.float32(
                10 ** (chain["gain_db"] / 20))
        vocal_offset = set_vocal_level(out, rng)
        master = effects.draw_master(rng)
        processed = effects.master(out, master)
        if self.version == "v3":
            # The mix peaks at -1 dBFS, but a stem alone can go past full scale (in v2, 13 of
            # 74 drum stems had samples clipped by the 16-bit conversion): scale every stem
            # alike so that none clips.
            processed, scaled_db = fit_stems(processed, STEM_CEILING_V3)
            if scaled_db:
                master["stem_peak_scaled_db"] = scaled_db
        info["mix"] = {"room": room.params, "stems": chains, "vocals_vs_accompaniment_db":
                       vocal_offset, "master": master}
        return processed


    def clean_mix(self, padded, rng, info):
        """v3: an unprocessed mix: the rendered stems at drawn gains (+-4 dB), the vocals at a
        drawn level against the accompaniment, one constant gain to a drawn peak of
        -6..-1 dBFS. No EQ, compression, reverb, delay or master bus."""
        gains = {n: round(rng.uniform(-4, 4), 2) for n in sorted(padded)}
        out = {n: padded[n] * np.float32(10 ** (gains[n] / 20)) for n in sorted(padded)}
        vocal_offset = set_vocal_level(out, rng)
        peak_db = round(rng.uniform(-6, -1), 2)
        peak = float(np.max(np.abs(sum(out.values()))))
        final = np.float32(10 ** (peak_db / 20) / peak) if peak > 0 else np.float32(1)
        info["mix"] = {"clean": True, "gain_db": gains, "vocals_vs_accompaniment_db":
                       vocal_offset, "peak_dbfs": peak_db}
        return {n: (a * final).astype(np.float32) for n, a in out.items()}


def set_vocal_level(out, rng):
    """Scales `out["vocals"]` (in place) to a drawn loudness against the sum of the other stems,
    -6..+3 dB; returns that offset, or None when there are no vocals or nothing else."""
    if "vocals" not in out or len(out) < 2:
        return None
    acc = sum(out[n] for n in out if n != "vocals")
    vocal_offset = round(rng.uniform(-6, 3), 2)
    have = effects.loudness_db(out["vocals"]) - effects.loudness_db(acc)
    if math.isfinite(have):
        out["vocals"] = out["vocals"] * np.float32(10 ** ((vocal_offset - have) / 20))
    return vocal_offset


def fit_stems(stems, ceiling):
    """Every stem scaled alike so that none peaks over `ceiling`: (stems, gain in dB or 0)."""
    peak = max(float(np.max(np.abs(a))) for a in stems.values())
    if peak <= ceiling:
        return stems, 0.0
    scale = np.float32(ceiling / peak)
    return {n: a * scale for n, a in stems.items()}, round(20 * math.log10(float(scale)), 2)


def beats_of(info, grooves):
    """Beats per bar of an mma-backed track (from the groove variants it used)."""
    variants = set(info.get("mma_variants") or [])
    threes = {v for names in grooves.get(3, {}).values() for v in names}
    return 3 if variants and variants <= threes else 4


def draw(rng, weighted):
    keys = sorted(weighted)
    return rng.choices(keys, [weighted[k] for k in keys])[0]


# ---------------------------------------------------------------------------------------------
# The driver

_maker = None


def _init_worker(args, voice_root, grooves, pools):
    global _maker
    gm.KEEP_VOICES = True
    _maker = TrackMaker(args, voice_root, grooves, pools)


def _make(job):
    split, kind, piece, window, name = job
    before = os.times()
    try:
        entry, existed = _maker.make(split, kind, piece, window, name)
        after = os.times()
        # CPU seconds of this worker and the tools it ran (for the log, not the manifest).
        cpu = sum(after[:4]) - sum(before[:4])
        return job, entry, existed, None, cpu
    except pieces.SkipPiece as e:
        return job, None, False, str(e), 0.0
    except (RuntimeError, ValueError, subprocess.CalledProcessError) as e:
        # A tool failing on one piece (the same inputs fail the same way) costs that track,
        # not the whole build: it is listed under "skipped" with the reason.
        shutil.rmtree(os.path.join(_maker.out, ".staging", name), ignore_errors=True)
        return job, None, False, f"{type(e).__name__}: {str(e)[-300:]}", 0.0


def run(args):
    gm.load(args.saex)  # the GM families and stem names of `saex render`; workers fork after
    gm.KEEP_VOICES = True
    out = os.path.abspath(args.out)
    work = os.path.abspath(args.work)
    voice_root = sing.prepare_voice_data(work)
    grooves = pieces.mma_grooves()
    pools = voice_pools(voice_root, args.version)
    blupi = pieces.blupi_pieces()
    random.Random(f"{args.seed}/ood-blupi").shuffle(blupi)
    blupi_ood = set(blupi[:OOD_BLUPI_FILES])
    for folder in (".meta", ".sources", ".staging"):
        os.makedirs(os.path.join(out, folder), exist_ok=True)
    targets = {s: args.hours * 3600.0 * share / SPLITS["train"] for s, share in SPLITS.items()}
    targets["ood"] = targets["test"]
    totals = {s: 0.0 for s in targets}
    entries, skipped, kept, started = [], [], set(), time.time()
    cpu_total = 0.0
    stream = all_candidates(args.seed, blupi_ood)
    pending = collections.deque()
    window = max(1, args.jobs) * 2
    context = multiprocessing.get_context("fork")
    with context.Pool(max(1, args.jobs), _init_worker, (args, voice_root, grooves, pools)) as pool:
        while True:
            # Keep the pool busy with the next candidates whose split still needs audio.
            while len(pending) < window and not all(totals[s] >= targets[s] for s in targets):
                job = next(stream)
                if totals[job[0]] >= targets[job[0]]:
                    continue
                pending.append(pool.apply_async(_make, (job,)))
            if not pending:
                break
            job, entry, existed, reason, cpu = pending.popleft().get()
            split, kind, piece, _, name = job
            if reason is not None:
                skipped.append({"piece": piece, "kind": kind, "reason": reason})
                build.log(f"skip {name}: {reason}")
                continue
            if totals[split] >= targets[split]:
                continue  # a sequential build would not have made it; removed below
            totals[split] += entry["seconds"]
            cpu_total += cpu
            entries.append(entry)
            kept.add(name)
            done = ", ".join(f"{s} {totals[s] / 3600:.2f}/{targets[s] / 3600:.2f} h"
                             for s in targets)
            build.log(f"{'have' if existed else 'made'} {split}/{name} "
                      f"({entry['seconds']:.0f} s audio, {cpu:.0f} s CPU); {done}; "
                      f"{time.time() - started:.0f} s, {cpu_total:.0f} s CPU")
    # Tracks made beyond the targets by the parallel look-ahead.
    for split in targets:
        folder = os.path.join(out, split)
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if name not in kept:
                shutil.rmtree(os.path.join(folder, name))
                for extra in (os.path.join(out, ".meta", f"{name}.json"),
                              os.path.join(out, ".sources", f"{name}.mid")):
                    if os.path.exists(extra):
                        os.remove(extra)
    shutil.rmtree(os.path.join(out, ".staging"), ignore_errors=True)
    manifest = {
        "format": FORMATS[args.version],
        "seed": args.seed,
        "hours_train_target": args.hours,
        "layout": "MUSDB18-HQ: <split>/<track>/<stem>.flac, 44.1 kHz stereo 16-bit FLAC; "
                  "mixture.flac (valid, test and ood only) is the exact sum of the 16-bit "
                  "stems",
        "stems": gm.STEMS,
        "seconds": {s: round(t, 1) for s, t in totals.items()},
        "held_out_for_ood": {
            "music21 collections": sorted(OOD_COLLECTIONS),
            "essen books": sorted(OOD_ESSEN_BOOKS),
            "mma groove files": sorted(groove_files_ood(grooves)),
            "planetblupi files": sorted(blupi_ood),
            "renderers": [f"{e}:{os.path.basename(b)}" for e, b in sorted(RENDERERS["ood"])],
            "voices": [f"{e}:{v}" for e, v, _ in pools["ood"]],
        },
        "voices_in_domain": [f"{e}:{v}" for e, v, _ in pools["in"]],
        "licences": dict(LICENCES, **LICENCES_V3) if args.version == "v3" else LICENCES,
        "tools": tool_versions(args.version),
        "tracks": sorted(entries, key=lambda e: (e["split"], e["name"])),
        "skipped": skipped,
    }
    build.write_json(os.path.join(out, "manifest.json"), manifest)
    build.log(f"corpus in {out}: " + ", ".join(
        f"{s} {len([e for e in entries if e['split'] == s])} tracks {totals[s] / 3600:.2f} h"
        for s in targets))


def tool_versions(version="v2"):
    packages = ["fluid-soundfont-gm", "timgm6mb-soundfont", "musescore-general-soundfont-lossless",
                "opl3-soundfont", "csound-soundfont", "timidity", "freepats", "mma",
                "planetblupi-music-midi", "espeak-ng", "flite", "sox", "libsndfile1"]
    out = {}
    for p in packages:
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", p], capture_output=True,
                           text=True)
        out[p] = r.stdout.strip() or None
    import music21
    import scipy
    out.update(music21=music21.__version__, numpy=np.__version__, scipy=scipy.__version__,
               soundfile=sf.__version__)
    if version == "v3":
        out["pyworld"] = sing_world.pyworld.__version__
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "hydrogen-drumkits"],
                           capture_output=True, text=True)
        out["hydrogen-drumkits"] = r.stdout.strip() or None
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="corpus folder")
    parser.add_argument("--work", required=True, help="cache folder for tools (espeak data)")
    parser.add_argument("--saex", required=True, help="the saex binary (for `saex render`)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hours", type=float, default=20.0, help="hours of training audio")
    parser.add_argument("--jobs", type=int, default=2, help="tracks built at once")
    parser.add_argument("--version", choices=sorted(FORMATS), default="v2",
                        help="v3: singing through the WORLD vocoder (sing_world.py), drums "
                             "and bass played (players.py), clean mixes")
    parser.add_argument("--clean-mixes", type=float, default=CLEAN_MIXES_V3,
                        help="v3: the share of tracks mixed clean, without effects or master "
                             f"bus (default {CLEAN_MIXES_V3})")
    args = parser.parse_args()
    if args.hours <= 0:
        parser.error(f"--hours must be positive, got {args.hours}")
    if not 0 <= args.clean_mixes <= 1:
        parser.error(f"--clean-mixes must be within 0..1, got {args.clean_mixes}")
    run(args)


if __name__ == "__main__":
    sys.exit(main())
