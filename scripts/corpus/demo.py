"""Makes the README's demo: a <= 20 s excerpt of one sung corpus track, 16-bit WAV.

    python demo.py --out audio/demo --work DIR --saex BIN [--seed N] [--seconds S]

Builds the first folk-song track of the seed's candidate stream that falls in the test split (a
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
    parser.add_argument("--work", required=True)
    parser.add_argument("--saex", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    if not 1.0 <= args.seconds <= 30.0:
        parser.error(f"--seconds must be within 1..30, got {args.seconds}")

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

    # The excerpt: from 1 s before the first sung sample, faded in and out over 50 ms.
    voiced = np.flatnonzero(np.abs(audio["vocals"]).max(axis=1) > 1e-4)
    start = max(0, int(voiced[0]) - stems.RATE) if len(voiced) else 0
    length = int(args.seconds * stems.RATE)
    fade = np.ones(length, dtype=np.float32)
    ramp = np.linspace(0.0, 1.0, stems.RATE // 20, dtype=np.float32)
    fade[: len(ramp)], fade[-len(ramp):] = ramp, ramp[::-1]

    def cut(x):
        y = np.zeros((length, 2), dtype=np.float32)
        part = x[start:start + length]
        y[: len(part)] = part
        return y * fade[:, None]

    vocals = cut(audio["vocals"])
    accompaniment = sum(cut(audio[s]) for s in gm.STEMS if s != "vocals")
    mixture = vocals + accompaniment
    gain = min(1.0, 0.89 / max(float(np.max(np.abs(mixture))), 1e-9))  # peak <= -1 dBFS
    os.makedirs(args.out, exist_ok=True)
    for label, x in (("mixture", mixture), ("vocals", vocals),
                     ("accompaniment", accompaniment)):
        path = os.path.join(args.out, f"{label}.wav")
        tmp = os.path.join(args.out, f".{label}.wav.tmp")
        sf.write(tmp, x * gain, stems.RATE, format="WAV", subtype="PCM_16")
        os.replace(tmp, path)
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


if __name__ == "__main__":
    main()
