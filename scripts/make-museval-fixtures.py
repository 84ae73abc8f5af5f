"""Builds the BSS Eval v4 fixtures under tests/data/museval/ with museval itself.

Each case is a folder with
  references.wav  16-bit PCM, nb_sources * nb_channels channels: source j, channel c is
                  channel j * nb_channels + c
  estimates.wav   the same layout
  metrics.json    museval's per-window SDR, ISR, SIR, SAR, shape (nb_sources, nb_windows), with
                  the window and hop in samples; non-finite values as the strings "NaN",
                  "Infinity", "-Infinity"
museval is given exactly the samples stored in the WAV files (16-bit values / 32768 in float64),
so saex reading those files must reproduce the metrics to rounding.

Run through scripts/make-museval-fixtures.sh, which prepares a venv with museval.
"""

import json
import sys
import types
import wave
from pathlib import Path

import numpy as np

# museval's package imports musdb, whose stem decoder (stempeg) refuses to load without ffmpeg.
# Only museval.evaluate on arrays is used here, which never touches musdb: an empty stand-in
# lets the import through without installing ffmpeg.
if "musdb" not in sys.modules:
    try:
        import musdb  # noqa: F401
    except (ImportError, RuntimeError):
        sys.modules["musdb"] = types.ModuleType("musdb")
import museval
import museval.version as museval_version
from scipy.signal import lfilter

RATE = 8000
NB_SAMPLES = 27200  # 3.4 s: three 1 s windows and a tail that museval drops


def source(rng, kind, n=NB_SAMPLES, rate=RATE):
    """A music-like test signal: harmonic notes with envelopes, or filtered noise bursts."""
    t = np.arange(n) / rate
    out = np.zeros(n)
    if kind == "noise":
        step = rate // 4
        for start in range(0, n, step):
            burst = rng.standard_normal(step // 2) * np.hanning(step // 2)
            stop = min(start + step // 2, n)
            out[start:stop] += burst[: stop - start]
        return 0.3 * lfilter([1.0, -0.6], [1.0], out)
    f0 = {"low": 110.0, "mid": 330.0, "high": 880.0}[kind]
    note = rate // 2
    for start in range(0, n, note):
        freq = f0 * 2 ** (rng.integers(0, 12) / 12)
        seg = slice(start, min(start + note, n))
        tt = t[seg] - t[start]
        env = np.exp(-3.0 * tt)
        for h in range(1, 6):
            if h * freq < rate / 2:
                out[seg] += env * np.sin(2 * np.pi * h * freq * tt + rng.uniform(0, 6.28)) / h
    return 0.25 * out / np.max(np.abs(out))


def noisy(rng, x, snr_db):
    noise = rng.standard_normal(x.shape)
    noise *= np.sqrt(np.sum(x**2) / np.sum(noise**2) / 10 ** (snr_db / 10))
    return x + noise


def delayed(x, nb_samples):
    out = np.zeros_like(x)
    out[nb_samples:] = x[: len(x) - nb_samples]
    return out


def quantize(x):
    """What the 16-bit WAV holds, as museval (soundfile) reads it."""
    return np.clip(np.round(x * 32768), -32768, 32767) / 32768


def write_wav16(path, sources):
    """sources: (nb_sources, nb_samples, nb_channels) in [-1, 1)."""
    nb_sources, nb_samples, nb_channels = sources.shape
    planar = sources.transpose(1, 0, 2).reshape(nb_samples, nb_sources * nb_channels)
    ints = np.clip(np.round(planar * 32768), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(nb_sources * nb_channels)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(ints.tobytes())


def encode(values):
    return [
        [v if np.isfinite(v) else ("NaN" if np.isnan(v) else ("Infinity" if v > 0 else "-Infinity"))
         for v in row.tolist()]
        for row in values
    ]


def stack(channels_per_source):
    """[[ch0, ch1, ...] per source] -> (nb_sources, nb_samples, nb_channels)."""
    return np.array([np.stack(chs, axis=1) for chs in channels_per_source])


def cases(rng):
    lo, mid, hi, nz = (source(rng, k) for k in ("low", "mid", "high", "noise"))
    lo2, mid2 = source(rng, "low"), source(rng, "mid")

    # Three mono sources, estimates at 30, 10 and 0 dB SNR plus leakage of the others.
    refs = stack([[lo], [mid], [nz]])
    ests = stack([
        [noisy(rng, lo, 30) + 0.05 * mid],
        [noisy(rng, mid, 10) + 0.1 * nz],
        [noisy(rng, nz, 0) + 0.2 * lo],
    ])
    yield "mono_three_sources_snr", refs, ests, RATE, RATE

    # Two mono sources at -5 dB SNR (worse than the mixture).
    refs = stack([[hi], [lo2]])
    ests = stack([[noisy(rng, hi, -5)], [noisy(rng, lo2, 20) + 0.3 * hi]])
    yield "mono_two_sources_low_snr", refs, ests, RATE, RATE

    # Stereo: filtered and delayed copies (within the 512 taps, and one beyond them).
    b = [0.2, 0.5, 0.2, 0.1]
    refs = stack([[lo, 0.6 * delayed(lo, 7)], [0.7 * mid, mid]])
    ests = stack([
        [lfilter(b, [1.0], lo) + 0.02 * mid, delayed(0.6 * lo, 40)],
        [delayed(0.7 * mid, 300) + 0.05 * lo, noisy(rng, delayed(mid, 700), 15)],
    ])
    yield "stereo_filtered_delayed", refs, ests, RATE, RATE

    # Stereo with silence: the first source is silent in the second window (NaN there),
    # and the second estimate is silent in the third window (NaN there too).
    gate = np.ones(NB_SAMPLES)
    gate[RATE : 2 * RATE] = 0.0
    gate_est = np.ones(NB_SAMPLES)
    gate_est[2 * RATE : 3 * RATE] = 0.0
    refs = stack([[lo * gate, 0.5 * lo * gate], [nz, 0.8 * nz]])
    ests = stack([
        [noisy(rng, lo * gate, 12) * gate + 0.1 * nz, 0.5 * lo * gate + 0.05 * nz],
        [noisy(rng, nz, 8) * gate_est, (0.8 * nz + 0.1 * lo) * gate_est],
    ])
    yield "stereo_silent_sections", refs, ests, RATE, RATE

    # Three stereo sources, every estimate the mixture (the floor baseline), hop < window.
    refs = stack([[lo, 0.5 * lo], [0.4 * mid2, mid2], [0.6 * nz, 0.6 * nz]])
    mix = refs.sum(axis=0)
    ests = np.array([mix, mix, mix])
    yield "stereo_three_sources_mixture_overlap", refs, ests, RATE, RATE // 2

    # Shorter than one window: a single window over the whole signal.
    n = 6000
    refs = stack([[lo[:n]], [mid[:n]]])
    ests = stack([[noisy(rng, lo[:n], 6) + 0.1 * mid[:n]], [noisy(rng, mid[:n], 3)]])
    yield "mono_shorter_than_window", refs, ests, RATE, RATE


def main(out_dir):
    rng = np.random.default_rng(2015)
    out_dir = Path(out_dir)
    for name, refs, ests, window, hop in cases(rng):
        refs, ests = quantize(refs), quantize(ests)
        sdr, isr, sir, sar = museval.evaluate(refs, ests, win=window, hop=hop, mode="v4")
        case = out_dir / name
        case.mkdir(parents=True, exist_ok=True)
        write_wav16(case / "references.wav", refs)
        write_wav16(case / "estimates.wav", ests)
        metrics = {
            "museval_version": museval_version._version,
            "nb_sources": refs.shape[0],
            "nb_channels": refs.shape[2],
            "window": window,
            "hop": hop,
            "sdr": encode(sdr),
            "isr": encode(isr),
            "sir": encode(sir),
            "sar": encode(sar),
        }
        (case / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
        print(name, "SDR", np.round(sdr, 2).tolist())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/museval")
