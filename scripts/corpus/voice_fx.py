"""What makes a synthesised line sound like a singer: vibrato, breath, doubling, harmony.

Mono float32 lines at RATE. Every draw comes from a `random.Random` passed in.
"""

import math

import numpy as np

import effects

RATE = 44100


def draw_style(rng):
    """A singer's style for one track (a dict for the manifest)."""
    return {
        "vibrato_cents": round(rng.choice([0.0, rng.uniform(15, 45), rng.uniform(40, 90)]), 1),
        "vibrato_hz": round(rng.uniform(4.5, 6.8), 2),
        "vibrato_onset_s": round(rng.uniform(0.08, 0.35), 3),
        "breath_db": round(rng.uniform(-38, -16), 1),
        "legato": round(rng.uniform(0.85, 0.98), 3),
        "scoop_cents": round(rng.choice([0.0, rng.uniform(20, 120)]), 1),
    }


def bend(audio, ratio_of_time):
    """`audio` read at a varying speed: `ratio_of_time` (same length) is the instantaneous
    playback rate (1 = unchanged, 1.01 = about 17 cents sharp). Linear interpolation."""
    position = np.concatenate([[0.0], np.cumsum(ratio_of_time[:-1], dtype=np.float64)])
    return np.interp(position, np.arange(len(audio)), audio, right=0.0).astype(np.float32)


def note_pitch_curve(nb, style, rng):
    """The playback rate (nb,) for one sung note: a scoop from below into the note, then
    vibrato fading in after the onset, with the rate jittered per note."""
    t = np.arange(nb, dtype=np.float64) / RATE
    cents = np.zeros(nb)
    if style["scoop_cents"] > 0:
        cents -= style["scoop_cents"] * np.exp(-t / 0.04)
    if style["vibrato_cents"] > 0:
        rate = style["vibrato_hz"] * rng.uniform(0.9, 1.1)
        onset = style["vibrato_onset_s"]
        ramp = np.clip((t - onset) / 0.25, 0.0, 1.0)
        phase = rng.uniform(0, 2 * math.pi)
        cents += style["vibrato_cents"] * ramp * np.sin(2 * math.pi * rate * t + phase)
    return 2.0 ** (cents / 1200.0)


def sing(singer, notes, total_samples, style, rng):
    """A mono line of `total_samples` from `notes` [(start_s, length_s, pitch, syllable)], each
    syllable filling `legato` of its note, with the style's scoop and vibrato per note."""
    out = np.zeros(total_samples, dtype=np.float32)
    for start_s, length_s, pitch, syllable in notes:
        start = int(round(start_s * RATE))
        nb = int(round(length_s * style["legato"] * RATE))
        if nb < RATE // 40 or start >= total_samples:
            continue
        # A little longer, as bending reads at most ~1.5 % faster.
        sung = singer.syllable(syllable, pitch, nb + nb // 50 + 8)
        if style["vibrato_cents"] > 0 or style["scoop_cents"] > 0:
            sung = bend(sung, note_pitch_curve(len(sung), style, rng))
        sung = sung[:nb]
        fade = min(len(sung), RATE // 40)
        if fade:
            sung[len(sung) - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        end = min(total_samples, start + len(sung))
        out[start:end] += sung[: end - start]
    return out


def breath(line, level_db, rng):
    """`line` plus noise following its envelope (10 ms RMS), band-limited to 1.5..9 kHz, at
    `level_db` relative to the line: breathiness and air."""
    if not np.any(line):
        return line
    gen = np.random.default_rng(rng.randrange(1 << 63))
    noise = gen.standard_normal(len(line)).astype(np.float32)
    noise = effects.equalize(noise[:, None], [("highpass", 1500.0, 0.7),
                                              ("lowpass", 9000.0, 0.7)])[:, 0]
    env = effects.block_level(line[:, None], block=441)
    env = effects.block_gain_to_samples(env, len(line), block=441)
    noise *= env / (float(np.sqrt(np.mean(noise ** 2))) + 1e-9)
    return (line + noise * 10 ** (level_db / 20)).astype(np.float32)


def double(line, rng):
    """An artificial double of `line`: a copy read with a slowly wandering delay (10..35 ms)
    and a few cents of drift, as a second take would be."""
    nb = len(line)
    t = np.arange(nb, dtype=np.float64) / RATE
    drift_cents = rng.uniform(4, 12) * np.sin(2 * math.pi * rng.uniform(0.1, 0.4) * t
                                             + rng.uniform(0, 6.3))
    rate = 2.0 ** (drift_cents / 1200.0)
    delay = int(rng.uniform(0.010, 0.035) * RATE)
    out = np.zeros(nb, dtype=np.float32)
    bent = bend(line, rate)
    out[delay:] = bent[: nb - delay]
    return out


def harmony_notes(notes, tonic, minor, steps, rng):
    """The notes moved by `steps` scale degrees (2 = a third above, -2 a third below, 5 a
    sixth above) in the key of `tonic` (pitch class) and mode; chromatic notes move by the
    interval of their nearest scale note."""
    scale = [0, 2, 3, 5, 7, 8, 10] if minor else [0, 2, 4, 5, 7, 9, 11]
    out = []
    for start, length, pitch, syllable in notes:
        pc = (pitch - tonic) % 12
        nearest = min(range(7), key=lambda i: min(abs(scale[i] - pc), 12 - abs(scale[i] - pc)))
        octave, idx = divmod(nearest + steps, 7)
        shift = scale[idx] + 12 * octave - scale[nearest]
        out.append((start, length, pitch + shift, syllable))
    return out


def stereo(mono, pan, gain):
    """(nb, 2) with a constant-power pan in [-1, 1]."""
    angle = (pan + 1.0) * math.pi / 4.0
    return np.stack([mono * math.cos(angle) * gain, mono * math.sin(angle) * gain],
                    axis=1).astype(np.float32)
