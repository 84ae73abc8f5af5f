"""Makes the README's demo: a <= 20 s excerpt of one sung corpus track, 16-bit WAV.

    python demo.py --out audio/demo --work DIR --saex BIN [--seed N] [--seconds S]
    python demo.py --out audio/demo --track CORPUS/test/NAME [--seconds S]

With --track, the excerpt comes from that track of a built corpus (corpus-v2: its stems are
FLAC files and its manifest.json, two folders up, names the sources and licences). Otherwise it
builds the first folk-song track of the seed's candidate stream that falls in the test split (a
sung melody over an mma groove, never heard by models trained on the seed's train split) in a
scratch corpus under --work, cuts S seconds starting shortly before the singing, and writes mixture.wav, vocals.wav and accompaniment.wav (the sum of the other stems) as 16-bit
stereo 44.1 kHz, plus README.md naming the sources and their licences.
"""

import argparse
import json
import os

import numpy as np
import soundfile as sf

import build
import gm
import stems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--work")
    parser.add_argument("--saex")
    parser.add_argument("--track", help="a track folder of a built corpus (corpus-v2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    if not 1.0 <= args.seconds <= 30.0:
        parser.error(f"--seconds must be within 1..30, got {args.seconds}")

    if args.track:
        return from_track(args)
    if not (args.work and args.saex):
        parser.error("--work and --saex are needed without --track")
    scratch = argparse.Namespace(out=os.path.join(args.work, "demo-corpus"), work=args.work,
                                 saex=args.saex, seed=args.seed, hours=0.0)
    builder = build.Builder(scratch)
    # A track of the test split, so that no shipped model (trained on the train split of the
    # same seed) has heard the demo.
    for kind, piece, window, name in build.candidates(args.seed):
        if kind == "folk" and build.split_of(args.seed, piece) == "test":
            break
    split = "test"
    entry, _ = builder.build_track(kind, piece, window, name, split)
    folder = os.path.join(scratch.out, split, name)
    audio = {s: stems.read_wav(os.path.join(folder, f"{s}.wav")) for s in gm.STEMS}

    start, gain = write_excerpt(audio, args.out, args.seconds)
    readme = f"""# Demo mix

A {args.seconds:.0f} s excerpt (from {start / stems.RATE:.2f} s) of one track of the saex
corpus, made by `scripts/corpus/make-demo.sh --seed {args.seed}`. The track, `{name}`, belongs to
the corpus' test split: the shipped models, trained on the train split, have not heard it.

- `mixture.wav`: vocals + accompaniment (16-bit stereo 44.1 kHz; the three files are scaled by
  the same gain, {gain:.3f}, and rounded to 16 bits each, so the sum agrees to rounding).
- `vocals.wav`: the reference vocals: the melody sung syllable by syllable by espeak-ng.
- `accompaniment.wav`: the reference accompaniment: the other stems summed.

## Sources and licences

- Melody: {entry['source']} ({entry.get('title') or 'untitled'}), transposed by
  {entry['transpose']} semitones, at {entry['tempo_bpm']} quarter notes per minute. The Essen
  folk song collection as shipped with music21: "The legal status of the Essen folksong
  database is unclear, as the data has been input by many people"; its editors gave
  permission for non-commercial distribution and use (music21/corpus/essenFolksong/license.txt).
- Singing: espeak-ng (GPL-3+), voice variant `{entry['vocals']['voice']}`, drawn syllables.
- Accompaniment: mma (GPL-2+) groove `{entry['mma_groove']}` ({', '.join(sorted(set(entry['mma_variants'])))})
  over chords harmonised from the melody, rendered by `saex render` through
  {entry['soundfont']} ({build.LICENCES[entry['soundfont_package']]}).
- Programs (MIDI channel: [original, drawn]): `{json.dumps(entry['programs'])}`.

This excerpt is distributed for non-commercial use, under the most restrictive of the
licences above (the Essen collection's non-commercial permission; GPL for the rest).
"""
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(readme)
    print(json.dumps({"out": args.out, "track": name, "start_s": start / stems.RATE}))


def write_excerpt(audio, out, seconds):
    """Writes mixture, vocals and accompaniment (the other stems summed) of `audio` (stem name
    -> (n, 2) float array) from 1 s before the first sung sample, `seconds` long, faded in and out
    over 50 ms, scaled so the mixture peaks at -1 dBFS at most. Returns (start sample, gain)."""
    voiced = np.flatnonzero(np.abs(audio["vocals"]).max(axis=1) > 1e-4)
    start = max(0, int(voiced[0]) - stems.RATE) if len(voiced) else 0
    length = int(seconds * stems.RATE)
    fade = np.ones(length, dtype=np.float32)
    ramp = np.linspace(0.0, 1.0, stems.RATE // 20, dtype=np.float32)
    fade[: len(ramp)], fade[-len(ramp):] = ramp, ramp[::-1]

    def cut(x):
        y = np.zeros((length, 2), dtype=np.float32)
        part = x[start:start + length]
        y[: len(part)] = part
        return y * fade[:, None]

    vocals = cut(audio["vocals"])
    accompaniment = sum(cut(x) for s, x in audio.items() if s != "vocals")
    mixture = vocals + accompaniment
    gain = min(1.0, 0.89 / max(float(np.max(np.abs(mixture))), 1e-9))  # peak <= -1 dBFS
    os.makedirs(out, exist_ok=True)
    for label, x in (("mixture", mixture), ("vocals", vocals),
                     ("accompaniment", accompaniment)):
        path = os.path.join(out, f"{label}.wav")
        tmp = os.path.join(out, f".{label}.wav.tmp")
        sf.write(tmp, x * gain, stems.RATE, format="WAV", subtype="PCM_16")
        os.replace(tmp, path)
    return start, gain


def from_track(args):
    """The demo from an existing corpus-v2 track, its README from the corpus manifest."""
    track = os.path.normpath(args.track)
    name = os.path.basename(track)
    split = os.path.basename(os.path.dirname(track))
    with open(os.path.join(os.path.dirname(os.path.dirname(track)), "manifest.json")) as f:
        manifest = json.load(f)
    entry = next(t for t in manifest["tracks"] if t["name"] == name)
    audio = {}
    for stem in manifest["stems"]:
        path = os.path.join(track, f"{stem}.flac")
        if os.path.exists(path):
            x, rate = sf.read(path, dtype="float32", always_2d=True)
            if rate != stems.RATE or x.shape[1] != 2:
                raise SystemExit(f"{path}: expected stereo {stems.RATE} Hz, got {x.shape[1]} "
                                 f"channels at {rate} Hz")
            audio[stem] = x
    if "vocals" not in audio:
        raise SystemExit(f"{track}: no vocals.flac: the demo needs a sung track")
    start, gain = write_excerpt(audio, args.out, args.seconds)
    licences = manifest["licences"]
    singers = ", ".join(sorted({f"{line['engine']} voice `{line['voice']}` ({line['role']})"
                                for line in entry["singing"]["lines"]}))
    engines = sorted({line["engine"] for line in entry["singing"]["lines"]})
    engine_licences = {"espeak": "espeak-ng", "flite": "flite"}
    if entry["kind"] == "folk":
        sources = [f"- Melody: {entry['source']} ({entry.get('title') or 'untitled'}), transposed "
                   f"by {entry['transpose']} semitones, at {entry['tempo_bpm']} beats per "
                   f"minute; {licences['music21 corpus']}."]
    else:
        sources = [f"- Melody and chord progression: generated by saex's corpus generator "
                   f"(`scripts/corpus/`), at {entry['tempo_bpm']} beats per minute."]
    if entry.get("mma_groove"):
        sources.append(f"- Accompaniment: mma groove `{entry['mma_groove']}` "
                       f"({', '.join(sorted(set(entry['mma_variants'])))}); {licences['mma']}.")
    renderer = entry["renderer"]
    sources.append(f"- Rendered by `saex render` through {renderer['bank']}: "
                   f"{licences[renderer['package']]}.")
    sources.append(f"- Singing: {singers}, drawn syllables; "
                   + "; ".join(licences[engine_licences[e]] for e in engines) + ".")
    sources.append(f"- Programs (MIDI channel: [original, drawn]): `{json.dumps(entry['programs'])}`.")
    sources = "\n".join(sources)
    readme = f"""# Demo mix

A {args.seconds:.0f} s excerpt (from {start / stems.RATE:.2f} s) of one track of the saex
corpus ({manifest['format']}, seed {manifest['seed']}), made by
`scripts/corpus/make-demo.sh --track CORPUS/{split}/{name}`. The track, `{name}`, belongs to the
corpus' {split} split: the shipped models, trained on the train split, have not heard it.

- `mixture.wav`: vocals + accompaniment (16-bit stereo 44.1 kHz; the three files are scaled by
  the same gain, {gain:.3f}, and rounded to 16 bits each, so the sum agrees to rounding).
- `vocals.wav`: the reference vocals: a melody sung syllable by syllable by a speech
  synthesiser, with the corpus' mix effects (EQ, compression, room, delay) as mixed.
- `accompaniment.wav`: the reference accompaniment: the other stems summed.

## Sources and licences

{sources}

The excerpt is distributed under the most restrictive of the licences above.
"""
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(readme)
    print(json.dumps({"out": args.out, "track": name, "start_s": start / stems.RATE}))


if __name__ == "__main__":
    main()
