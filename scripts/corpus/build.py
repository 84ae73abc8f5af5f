"""Builds the saex training corpus: MIDI pieces + sung lines -> stems in the MUSDB18-HQ layout.

    python build.py --out DIR --saex BIN --work DIR [--seed N] [--hours H] [--demo DIR]

Layout written under --out:
    train/ valid/ test/ <track>/{drums,bass,piano,guitar,vocals,other,mixture}.wav
    manifest.json        every track: split, sources, soundfont, programs, voice, seed, licences
    .sources/<track>.mid the accompaniment MIDI each track was rendered from
    .meta/<track>.json   one manifest entry per finished track (a re-run skips these tracks)

Reproducible: every draw for a track comes from a random generator seeded with the corpus
seed and the track's piece, so a track does not depend on which tracks were built before it.
Splits are by piece (a hash of seed and piece): one piece never lands in two splits.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import time

import numpy as np

import gm
import pieces
import sing
import stems

SPLITS = {"train": 0.8, "valid": 0.1, "test": 0.1}
KIND_WEIGHTS = {"multipart": 0.35, "folk": 0.35, "groove": 0.15, "blupi": 0.15}
SOUNDFONTS = {
    # file: Debian package (its /usr/share/doc/<package>/copyright is the licence of record)
    "/usr/share/sounds/sf2/FluidR3_GM.sf2": ("fluid-soundfont-gm", "MIT (Frank Wen)"),
    "/usr/share/sounds/sf2/TimGM6mb.sf2": ("timgm6mb-soundfont", "GPL-2 (Tim Brechbill)"),
}
LICENCES = {
    "music21 corpus": "see music21/corpus/license.txt and the per-collection licence files "
                      "(essenFolksong/license.txt: non-commercial distribution permitted by the "
                      "EsAC editors); works out of copyright in the US to music21's knowledge",
    "planetblupi-music-midi": "GPL-3+ (Mathieu Schroeter; Daniel Roux, EPSITEC SA & Denis "
                              "Dumoulin), /usr/share/doc/planetblupi-music-midi/copyright",
    "mma": "GPL-2+ (Bob van der Poel): grooves of mma's standard library, "
           "/usr/share/doc/mma/copyright",
    "espeak-ng": "GPL-3+ (Jonathan Duddington, Reece H. Dunn and others), "
                 "/usr/share/doc/espeak-ng-data/copyright",
    "fluid-soundfont-gm": "MIT (Frank Wen), /usr/share/doc/fluid-soundfont-gm/copyright",
    "timgm6mb-soundfont": "GPL-2 (Tim Brechbill), /usr/share/doc/timgm6mb-soundfont/copyright",
}


def unit_hash(*parts):
    """A number in [0, 1) from the parts (stable across runs and machines)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def split_of(seed, piece):
    u, edge = unit_hash(seed, "split", piece), 0.0
    for name, share in SPLITS.items():
        edge += share
        if u < edge:
            return name
    return "test"


def candidates(seed):
    """An endless, seeded stream of (kind, piece, window, track name): kinds drawn by
    KIND_WEIGHTS, pieces of each kind in a seeded order; grooves are generated without end."""
    lists = {
        "multipart": interleave(pieces.multipart_pieces(), seed),
        "folk": [(p, 0) for p in pieces.folk_pieces()],
        "blupi": [(p, w) for p in pieces.blupi_pieces()
                  for w in range(pieces.BLUPI_WINDOWS_PER_FILE)],
    }
    for kind, items in lists.items():
        if kind == "multipart":
            continue  # interleave() has ordered it
        random.Random(f"{seed}/order/{kind}").shuffle(items)
    positions = {kind: 0 for kind in lists}
    chooser = random.Random(f"{seed}/kinds")
    nb_grooves = 0
    while True:
        kinds = [k for k in KIND_WEIGHTS if k == "groove" or positions[k] < len(lists[k])]
        kind = chooser.choices(kinds, [KIND_WEIGHTS[k] for k in kinds])[0]
        if kind == "groove":
            piece, window = f"groove-{nb_grooves:05d}", 0
            nb_grooves += 1
        else:
            piece, window = lists[kind][positions[kind]]
            positions[kind] += 1
        yield kind, piece, window, track_name(kind, piece, window)


def interleave(collections, seed):
    """[(piece, 0)] taking one piece of each collection in turn (each collection in a seeded
    order), so that Palestrina's 1300 pieces do not crowd out the rest."""
    queues = []
    for name, paths in collections.items():
        paths = list(paths)
        random.Random(f"{seed}/order/{name}").shuffle(paths)
        queues.append(paths)
    out = []
    while any(queues):
        for queue in queues:
            if queue:
                out.append((queue.pop(0), 0))
    return out


def track_name(kind, piece, window):
    """A file-system-safe, unique track name."""
    stem = piece.replace("/", "-").replace("#", "-")
    for suffix in (".mxl", ".krn", ".xml", ".musicxml", ".mid", ".abc"):
        stem = stem.replace(suffix, "")
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)
    name = stem if kind == "groove" else f"{kind}-{stem}"
    return f"{name}-w{window}" if kind == "blupi" else name


class Builder:
    def __init__(self, args):
        self.args = args
        gm.load(args.saex)  # the GM families and stem names of `saex render`
        self.out = os.path.abspath(args.out)
        self.work = os.path.abspath(args.work)
        self.voice_root = sing.prepare_voice_data(self.work)
        self.grooves = pieces.mma_grooves()
        for folder in (".meta", ".sources", ".staging"):
            os.makedirs(os.path.join(self.out, folder), exist_ok=True)

    def build_track(self, kind, piece, window, name, split):
        """Makes one track (or returns its manifest entry when it is already finished)."""
        final = os.path.join(self.out, split, name)
        meta_path = os.path.join(self.out, ".meta", f"{name}.json")
        if os.path.isdir(final) and os.path.exists(meta_path):
            with open(meta_path) as f:
                return json.load(f), True
        seed = self.args.seed
        rng = random.Random(f"{seed}/track/{kind}/{piece}/{window}")
        stage = os.path.join(self.out, ".staging", name)
        shutil.rmtree(stage, ignore_errors=True)
        os.makedirs(stage)
        midi_path = os.path.join(stage, f"{name}.mid")
        if kind == "multipart":
            track = pieces.make_multipart(piece, rng, midi_path)
        elif kind == "folk":
            track = pieces.make_folk(piece, rng, midi_path, stage, self.grooves)
        elif kind == "groove":
            track = pieces.make_groove(piece, rng, midi_path, stage, self.grooves)
        else:
            track = pieces.make_blupi(piece, window, rng, midi_path)
        soundfont = rng.choice(sorted(SOUNDFONTS))
        render_dir = os.path.join(stage, "render")
        # The sung line is added afterwards: no MIDI track may land in the vocals stem by its
        # name (a score part called "Voice"), so the vocals-track name is one no part has.
        cmd = [self.args.saex, "render", "--midi", midi_path, "--soundfont", soundfont,
               "--out", render_dir, "--vocals-track", "saex-espeak-line", "--quiet"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"saex render failed on {name}: {result.stderr.strip()[-500:]}")
        folder = os.path.join(render_dir, name)
        vocals = None
        if track.vocals:
            singer = sing.Singer(self.voice_root, track.voice, track.language)
            end = max(s + l for s, l, _, _ in track.vocals) + 0.5
            mono = singer.line(track.vocals, int(end * stems.RATE))
            pan, gain = rng.uniform(-0.3, 0.3), rng.uniform(0.6, 1.2)
            vocals = stems.stereo(mono, pan, gain)
            track.info["vocals"].update({"pan": round(pan, 3), "gain": round(gain, 3)})
        nb_frames = stems.finish_track(folder, vocals)
        entry = {"name": name, "split": split, "kind": kind, "piece": piece, "seed": seed,
                 "soundfont": os.path.basename(soundfont),
                 "soundfont_package": SOUNDFONTS[soundfont][0],
                 "seconds": round(nb_frames / stems.RATE, 3), **track.info}
        shutil.copyfile(midi_path, os.path.join(self.out, ".sources", f"{name}.mid"))
        write_json(meta_path, entry)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(folder, final)
        shutil.rmtree(stage, ignore_errors=True)
        return entry, False

    def run(self):
        """Builds tracks until every split holds its share of --hours of training audio."""
        targets = {s: self.args.hours * 3600.0 * share / SPLITS["train"]
                   for s, share in SPLITS.items()}
        totals = {s: 0.0 for s in SPLITS}
        entries, skipped, started = [], [], time.time()
        for kind, piece, window, name in candidates(self.args.seed):
            if all(totals[s] >= targets[s] for s in SPLITS):
                break
            split = split_of(self.args.seed, piece)
            if totals[split] >= targets[split]:
                continue
            try:
                entry, existed = self.build_track(kind, piece, window, name, split)
            except pieces.SkipPiece as e:
                skipped.append({"piece": piece, "kind": kind, "reason": str(e)})
                log(f"skip {name}: {e}")
                continue
            totals[split] += entry["seconds"]
            entries.append(entry)
            done = ", ".join(f"{s} {totals[s] / 3600:.2f}/{targets[s] / 3600:.2f} h"
                             for s in SPLITS)
            log(f"{'have' if existed else 'made'} {split}/{name} ({entry['seconds']:.0f} s); "
                f"{done}; {time.time() - started:.0f} s")
        shutil.rmtree(os.path.join(self.out, ".staging"), ignore_errors=True)
        manifest = {
            "format": "saex-corpus-v1",
            "seed": self.args.seed,
            "hours_train_target": self.args.hours,
            "layout": "MUSDB18-HQ: <split>/<track>/<stem>.wav, 44.1 kHz stereo float32; "
                      "mixture.wav is the float32 sum of the stems",
            "stems": gm.STEMS,
            "seconds": {s: round(t, 1) for s, t in totals.items()},
            "licences": LICENCES,
            "tools": tool_versions(),
            "tracks": entries,
            "skipped": skipped,
        }
        write_json(os.path.join(self.out, "manifest.json"), manifest)
        log(f"corpus in {self.out}: " + ", ".join(
            f"{s} {len([e for e in entries if e['split'] == s])} tracks {totals[s] / 3600:.2f} h"
            for s in SPLITS))


def tool_versions():
    """Versions of the Debian packages and Python modules the corpus was made with."""
    packages = ["fluid-soundfont-gm", "timgm6mb-soundfont", "mma", "planetblupi-music-midi",
                "espeak-ng", "sox"]
    out = {}
    for p in packages:
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", p], capture_output=True,
                           text=True)
        out[p] = r.stdout.strip() or None
    import music21
    out["music21"] = music21.__version__
    out["numpy"] = np.__version__
    return out


def write_json(path, value):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(value, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def log(message):
    print(f"[corpus {time.strftime('%H:%M:%S')}] {message}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="corpus folder")
    parser.add_argument("--work", required=True, help="cache folder for tools (espeak data)")
    parser.add_argument("--saex", required=True, help="the saex binary (for `saex render`)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hours", type=float, default=3.0, help="hours of training audio")
    args = parser.parse_args()
    if args.hours <= 0:
        parser.error(f"--hours must be positive, got {args.hours}")
    Builder(args).run()


if __name__ == "__main__":
    sys.exit(main())
