"""Measures one stem across a corpus folder (v1, v2 or v3): level against the mix, crest
factor, long-term average spectrum, grouped by renderer.

    python stem_stats.py CORPUS [CORPUS...] [--stem drums] [--max-tracks N] [--json OUT]

Per track where the stem plays: its gated loudness against the mixture's (effects.loudness_db,
dB), its crest factor (peak over RMS of the active 1-s windows, median, dB), the mixture's
loudness and crest, the share of 1-s windows where it plays, and its long-term average
spectrum (Welch, mono) in octave bands as dB against the stem's total power. Printed as
medians per corpus and per renderer (v1: the SoundFont; v2/v3: engine and bank, or the v3
drum kit). Finished tracks only (those with a .meta entry).
"""

import argparse
import collections
import json
import os
import sys

import numpy as np
import soundfile as sf
from scipy import signal

import effects

BANDS = [31.5, 63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000]


def read(folder, name):
    for ext in ("flac", "wav"):
        path = os.path.join(folder, f"{name}.{ext}")
        if os.path.exists(path):
            audio, _ = sf.read(path, dtype="float32", always_2d=True)
            return audio
    return None


def octave_bands(mono, rate=44100):
    freqs, psd = signal.welch(mono, rate, nperseg=8192)
    total = psd.sum()
    out = []
    for centre in BANDS:
        sel = (freqs >= centre / np.sqrt(2)) & (freqs < centre * np.sqrt(2))
        out.append(10 * np.log10(psd[sel].sum() / total + 1e-12))
    return [float(v) for v in out]


def crest_db(audio, rate=44100):
    """Median over the active 1-s windows of peak / RMS (dB)."""
    mono = audio.mean(axis=1)
    nb = len(mono) // rate
    frames = mono[: nb * rate].reshape(nb, rate)
    rms = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1))
    active = rms > rms.max() * 10 ** (-40 / 20) if nb else np.zeros(0, bool)
    if not active.any():
        return float("nan"), 0.0
    peak = np.abs(frames[active]).max(axis=1)
    return float(np.median(20 * np.log10(peak / rms[active]))), float(active.mean())


def renderer_of(entry, stem):
    if stem == "drums" and entry.get("drum_kit"):
        return f"kit:{entry['drum_kit']['kit']}"
    if "renderer" in entry:
        return f"{entry['renderer']['engine']}:{entry['renderer']['bank']}"
    return f"saex:{os.path.basename(entry.get('soundfont', '?'))}"


def measure(corpus, stem, max_tracks):
    rows = []
    meta = os.path.join(corpus, ".meta")
    for name in sorted(os.listdir(meta))[:max_tracks or None]:
        with open(os.path.join(meta, name)) as f:
            entry = json.load(f)
        folder = os.path.join(corpus, entry["split"], entry["name"])
        x = read(folder, stem)
        if x is None or not np.any(x):
            continue
        mix = read(folder, "mixture")
        if mix is None:
            mix = sum(read(folder, n) for n in ("drums", "bass", "piano", "guitar", "vocals",
                                                 "other") if read(folder, n) is not None)
        crest, active = crest_db(x)
        mix_crest, _ = crest_db(mix)
        rows.append({
            "track": entry["name"], "renderer": renderer_of(entry, stem),
            "clean": bool(entry.get("mix", {}).get("clean")),
            "master_loudness_db": (entry.get("mix", {}).get("master") or {}).get("loudness_db"),
            "vs_mix_db": effects.loudness_db(x) - effects.loudness_db(mix),
            "crest_db": crest, "active": active, "mix_loudness_db": effects.loudness_db(mix),
            "mix_crest_db": mix_crest, "bands_db": [float(b) for b in octave_bands(x.mean(axis=1))],
            "peak_dbfs": float(20 * np.log10(np.abs(x).max())),
            # |left/right power| in dB (a stem panned off-centre) and side/mid power in dB
            "balance_db": float(abs(10 * np.log10((x[:, 0].astype(np.float64) ** 2).sum() /
                                                 max((x[:, 1].astype(np.float64) ** 2).sum(),
                                                     1e-12) + 1e-12))),
            "side_mid_db": float(10 * np.log10(
                ((x[:, 0] - x[:, 1]).astype(np.float64) ** 2).sum() /
                max(((x[:, 0] + x[:, 1]).astype(np.float64) ** 2).sum(), 1e-12) + 1e-12)),
        })
    return rows


def master_probe(corpus, stem, loudness, max_tracks):
    """What v2's master bus does to `stem`: the unprocessed stems of a v1 corpus through
    effects.master (flat EQ, glue compressor and limiter at mid-range settings, the mix brought
    to `loudness` dB). Per track: the gain reduction (dB) where the stem peaks (its loudest 2 %
    of 256-frame blocks) and elsewhere, and the stem's crest factor before and after."""
    rows = []
    meta = os.path.join(corpus, ".meta")
    params = {"eq": [], "glue": {"threshold_db": -16.0, "ratio": 2.25, "attack_ms": 20.0,
                                 "release_ms": 250.0}, "loudness_db": loudness, "ceiling": 0.89}
    for name in sorted(os.listdir(meta))[:max_tracks or None]:
        with open(os.path.join(meta, name)) as f:
            entry = json.load(f)
        folder = os.path.join(corpus, entry["split"], entry["name"])
        stems = {n: read(folder, n) for n in ("drums", "bass", "piano", "guitar", "vocals",
                                              "other")}
        stems = {n: a for n, a in stems.items() if a is not None and np.any(a)}
        if stem not in stems or len(stems) < 2:
            continue
        rest = sum(a for n, a in stems.items() if n != stem)
        out = effects.master({"a": stems[stem], "b": rest}, params)
        mix_in = stems[stem] + rest
        gain = np.abs(out["a"] + out["b"]).sum(axis=1) / np.maximum(np.abs(mix_in).sum(axis=1),
                                                                    1e-9)
        level = effects.block_level(stems[stem], peak=True)
        nb = len(level) * effects.BLOCK
        g = np.zeros(nb)
        g[: len(gain)] = gain
        g_blocks = np.median(g.reshape(-1, effects.BLOCK), axis=1)
        loud = level >= np.quantile(level, 0.98)
        rows.append({"track": entry["name"],
                     "gain_at_peaks_db": float(20 * np.log10(np.median(g_blocks[loud]))),
                     "gain_elsewhere_db": float(20 * np.log10(np.median(g_blocks[~loud & (
                         level > 0)]))),
                     "crest_before_db": crest_db(stems[stem])[0],
                     "crest_after_db": crest_db(out["a"])[0]})
    return rows


def summary(label, rows):
    if not rows:
        return
    med = lambda k: float(np.median([r[k] for r in rows]))
    bands = np.median(np.array([r["bands_db"] for r in rows]), axis=0)
    print(f"{label}: {len(rows)} tracks; vs mix {med('vs_mix_db'):+.1f} dB, crest "
          f"{med('crest_db'):.1f} dB, active {med('active'):.0%}, stem peak "
          f"{med('peak_dbfs'):.1f} dBFS; mix {med('mix_loudness_db'):.1f} dB loudness, crest "
          f"{med('mix_crest_db'):.1f} dB; |balance| {med('balance_db'):.1f} dB, side/mid "
          f"{med('side_mid_db'):.1f} dB")
    print("    octave bands (Hz: dB of the stem's power) " + "  ".join(
        f"{int(c) if c >= 63 else c}:{b:.1f}" for c, b in zip(BANDS, bands)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpora", nargs="+")
    parser.add_argument("--stem", default="drums")
    parser.add_argument("--max-tracks", type=int, default=0)
    parser.add_argument("--json", help="write every row here")
    parser.add_argument("--master-probe", type=float, metavar="LOUDNESS_DB",
                        help="instead: v2's master bus at this loudness on an unprocessed (v1) "
                             "corpus, the stem's gain reduction and crest factor")
    args = parser.parse_args()
    if args.master_probe is not None:
        for corpus in args.corpora:
            rows = master_probe(corpus, args.stem, args.master_probe, args.max_tracks)
            med = {k: float(np.median([r[k] for r in rows])) for k in rows[0] if k != "track"}
            print(f"{corpus}: {len(rows)} tracks, master at {args.master_probe} dB: " + ", ".join(
                f"{k} {v:.1f}" for k, v in med.items()))
        return 0
    everything = {}
    for corpus in args.corpora:
        rows = measure(corpus, args.stem, args.max_tracks)
        everything[corpus] = rows
        summary(f"{os.path.basename(os.path.normpath(corpus))} (all)", rows)
        groups = collections.defaultdict(list)
        for r in rows:
            groups[r["renderer"]].append(r)
        for key in sorted(groups):
            summary(f"  {key}", groups[key])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(everything, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
