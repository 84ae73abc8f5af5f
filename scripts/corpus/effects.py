"""A drawn mixing chain: per-stem effects and a master bus that keeps stems summing to the mix.

All audio is float32 of shape (nb_frames, 2) at RATE. Everything is drawn from a
`random.Random` passed in, so the same seed gives the same samples.

Per stem (`draw_stem_chain` / `apply_stem_chain`):
    EQ (high-pass, low and high shelves, one or two peaks, sometimes a low-pass), distortion
    (guitars mostly: drive into tanh and a cabinet low-pass), compression (feed-forward,
    RMS envelope with attack and release), stereo width (mid/side) and pan (balance), and sends
    to the track's one reverb (room to hall, per stem send level) and one delay (per stem send).
Master bus (`master`): a linear EQ applied to every stem, then one time-varying gain curve
computed on the mix (glue compression and a look-ahead peak limiter) applied to every stem,
then one constant gain. Each step is linear in the stems for a fixed gain curve, so the
processed stems still sum to the processed mix.
"""

import math

import numpy as np
from scipy import signal

RATE = 44100
BLOCK = 256  # frames per envelope block of compressors and the limiter


# ---------------------------------------------------------------------------------------------
# Filters (RBJ audio-EQ cookbook biquads, as second-order sections)


def biquad(kind, freq, q=0.707, gain_db=0.0, rate=RATE):
    """One second-order section [b0, b1, b2, 1, a1, a2] of `kind`: "highpass", "lowpass",
    "peak", "lowshelf" or "highshelf" at `freq` Hz."""
    freq = min(freq, 0.45 * rate)
    w0 = 2 * math.pi * freq / rate
    cos, sin = math.cos(w0), math.sin(w0)
    alpha = sin / (2 * q)
    a = 10 ** (gain_db / 40)
    if kind == "highpass":
        b = [(1 + cos) / 2, -(1 + cos), (1 + cos) / 2]
        den = [1 + alpha, -2 * cos, 1 - alpha]
    elif kind == "lowpass":
        b = [(1 - cos) / 2, 1 - cos, (1 - cos) / 2]
        den = [1 + alpha, -2 * cos, 1 - alpha]
    elif kind == "peak":
        b = [1 + alpha * a, -2 * cos, 1 - alpha * a]
        den = [1 + alpha / a, -2 * cos, 1 - alpha / a]
    elif kind in ("lowshelf", "highshelf"):
        sq = 2 * math.sqrt(a) * alpha
        sign = 1 if kind == "lowshelf" else -1
        b = [a * ((a + 1) - sign * (a - 1) * cos + sq),
             sign * 2 * a * ((a - 1) - sign * (a + 1) * cos),
             a * ((a + 1) - sign * (a - 1) * cos - sq)]
        den = [(a + 1) + sign * (a - 1) * cos + sq,
               -sign * 2 * ((a - 1) + sign * (a + 1) * cos),
               (a + 1) + sign * (a - 1) * cos - sq]
    else:
        raise ValueError(f"unknown filter kind {kind!r}")
    return [b[0] / den[0], b[1] / den[0], b[2] / den[0], 1.0, den[1] / den[0], den[2] / den[0]]


def equalize(audio, bands):
    """`audio` (nb_frames, nb_channels) through the biquads `bands` [(kind, freq, q, gain_db)]."""
    if not bands:
        return audio
    sos = np.array([biquad(*band) for band in bands])
    return signal.sosfilt(sos, audio, axis=0).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Dynamics


def block_level(audio, block=BLOCK, peak=False):
    """Per-block level (linear) of the channels together: RMS, or the peak when `peak`."""
    nb_blocks = -(-len(audio) // block)
    padded = np.zeros((nb_blocks * block, audio.shape[1]), dtype=np.float32)
    padded[: len(audio)] = audio
    frames = padded.reshape(nb_blocks, block, -1)
    if peak:
        return np.abs(frames).max(axis=(1, 2))
    return np.sqrt((frames.astype(np.float64) ** 2).mean(axis=(1, 2)))


def smooth(values, attack_blocks, release_blocks, falling_is_attack=False):
    """One-pole smoothing of a block series with separate coefficients for rising and falling
    values (a rising level is the attack of an envelope; a falling gain the attack of a
    limiter when `falling_is_attack`)."""
    up = math.exp(-1.0 / max(attack_blocks, 1e-3))
    down = math.exp(-1.0 / max(release_blocks, 1e-3))
    if falling_is_attack:
        up, down = down, up
    out = np.empty_like(values)
    state = float(values[0]) if len(values) else 0.0
    for i, v in enumerate(values.tolist()):
        coef = up if v > state else down
        state = coef * state + (1 - coef) * v
        out[i] = state
    return out


def block_gain_to_samples(gain, nb_frames, block=BLOCK):
    """A per-block gain curve as one gain per frame (linear interpolation between block
    centres)."""
    centres = (np.arange(len(gain)) + 0.5) * block
    return np.interp(np.arange(nb_frames), centres, gain).astype(np.float32)


def compressor_gain(audio, threshold_db, ratio, attack_ms, release_ms, knee_db=6.0):
    """The gain per frame (nb_frames,) of a feed-forward compressor reading `audio`."""
    blocks_per_ms = RATE / BLOCK / 1000.0
    level = 20 * np.log10(block_level(audio) + 1e-9)
    env = smooth(level, attack_ms * blocks_per_ms, release_ms * blocks_per_ms)
    over = env - threshold_db
    # Soft knee: quadratic within +-knee/2 of the threshold.
    reduction = np.where(
        over <= -knee_db / 2, 0.0,
        np.where(over >= knee_db / 2, over * (1 - 1 / ratio),
                 (1 - 1 / ratio) * (over + knee_db / 2) ** 2 / (2 * knee_db)))
    return block_gain_to_samples(10 ** (-reduction / 20), len(audio))


def limiter_gain(audio, ceiling, release_ms=80.0, lookahead_blocks=2):
    """The gain per frame of a look-ahead peak limiter holding `audio` near `ceiling`
    (linear). Not brick-wall: `master` scales what is left over."""
    peak = block_level(audio, peak=True)
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-9))
    # Look ahead: each block takes the smallest gain of itself and its neighbours.
    held = need.copy()
    for shift in range(1, lookahead_blocks + 1):
        held[:-shift] = np.minimum(held[:-shift], need[shift:])
        held[shift:] = np.minimum(held[shift:], need[:-shift])
    blocks_per_ms = RATE / BLOCK / 1000.0
    gain = smooth(held, 0.3, release_ms * blocks_per_ms, falling_is_attack=True)
    return block_gain_to_samples(gain, len(audio))


# ---------------------------------------------------------------------------------------------
# Other effects


def distort(audio, drive_db, tone_hz):
    """Overdrive: gain into tanh, then a cabinet-like low-pass at `tone_hz`, back to the input's
    RMS."""
    rms_in = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    if rms_in < 1e-7:
        return audio
    drive = 10 ** (drive_db / 20) / max(rms_in * 3, 1e-4)
    out = np.tanh(audio * drive)
    out = equalize(out, [("lowpass", tone_hz, 0.8), ("highpass", 90.0, 0.7)])
    rms_out = float(np.sqrt(np.mean(out.astype(np.float64) ** 2)))
    return (out * (rms_in / max(rms_out, 1e-9))).astype(np.float32)


def width_and_pan(audio, width, pan):
    """Mid/side width (0 mono, 1 unchanged, >1 wider) and a constant-power balance `pan` in
    [-1, 1]."""
    mid = (audio[:, 0] + audio[:, 1]) * 0.5
    side = (audio[:, 0] - audio[:, 1]) * 0.5 * width
    angle = (pan + 1.0) * math.pi / 4.0
    gl, gr = math.cos(angle) * math.sqrt(2), math.sin(angle) * math.sqrt(2)
    return np.stack([(mid + side) * gl, (mid - side) * gr], axis=1).astype(np.float32)


def reverb_ir(rng, rt60, predelay_ms, damping_hz, seconds=None):
    """A stereo impulse response (nb, 2): decorrelated noise decaying by 60 dB in `rt60` s,
    its highs (above `damping_hz`) decaying twice as fast, a few early reflections, after
    `predelay_ms`. Normalised to unit energy per channel."""
    seconds = seconds or min(rt60 * 1.2, 3.5)
    nb = int(seconds * RATE)
    gen = np.random.default_rng(rng.randrange(1 << 63))
    noise = gen.standard_normal((nb, 2)).astype(np.float32)
    t = np.arange(nb, dtype=np.float32)[:, None] / RATE
    low = equalize(noise, [("lowpass", damping_hz, 0.7)])
    high = noise - low
    tau = rt60 / math.log(1000.0)
    ir = low * np.exp(-t / tau) + high * np.exp(-2 * t / tau)
    for _ in range(6):  # early reflections
        at = int(RATE * rng.uniform(0.003, 0.04))
        ir[at] += np.array([rng.uniform(-1, 1), rng.uniform(-1, 1)], dtype=np.float32) * 4
    fade = min(nb, RATE // 20)
    ir[nb - fade:] *= np.linspace(1, 0, fade, dtype=np.float32)[:, None]
    ir /= np.sqrt((ir.astype(np.float64) ** 2).sum(axis=0, keepdims=True)) + 1e-12
    pre = np.zeros((int(predelay_ms * RATE / 1000), 2), dtype=np.float32)
    return np.concatenate([pre, ir]).astype(np.float32)


def convolve(audio, ir):
    """Each channel of `audio` convolved with the same channel of `ir`, cut to len(audio)."""
    out = np.empty_like(audio)
    for c in range(audio.shape[1]):
        out[:, c] = signal.oaconvolve(audio[:, c], ir[:, c], mode="full")[: len(audio)]
    return out


def delay_line(audio, seconds, feedback, nb_echoes=5, ping_pong=False, tone_hz=5000.0):
    """Echoes of `audio` every `seconds`, each `feedback` times the previous, darkened by a
    low-pass; ping-pong alternates the channels. The dry signal is not included."""
    lag = max(1, int(seconds * RATE))
    wet = np.zeros_like(audio)
    src = equalize(audio, [("lowpass", tone_hz, 0.7)])
    for k in range(1, nb_echoes + 1):
        at = k * lag
        if at >= len(audio):
            break
        echo = src[: len(audio) - at] * (feedback ** (k - 1))
        if ping_pong and k % 2 == 1:
            echo = echo[:, ::-1]
        wet[at:] += echo
    return wet


# ---------------------------------------------------------------------------------------------
# Drawn chains


def draw_room(rng):
    """One reverb and one delay per track (shared by the stems' sends, as on a mixing desk)."""
    rt60 = rng.choice([rng.uniform(0.25, 0.8), rng.uniform(0.8, 1.8), rng.uniform(1.8, 3.2)])
    return {
        "rt60": round(rt60, 3),
        "predelay_ms": round(rng.uniform(0, 40), 1),
        "damping_hz": round(rng.uniform(2500, 9000), 0),
        "delay_s": round(rng.uniform(0.12, 0.5), 4),
        "delay_feedback": round(rng.uniform(0.2, 0.5), 3),
        "delay_ping_pong": rng.random() < 0.5,
        "ir_seed": rng.randrange(1 << 30),
    }


HIGHPASS = {"drums": (20, 60), "bass": (20, 45), "piano": (30, 120), "guitar": (60, 150),
            "vocals": (70, 140), "other": (40, 150)}


def draw_stem_chain(rng, stem):
    """The effect parameters of one stem (a dict for the manifest)."""
    bands = [("highpass", round(rng.uniform(*HIGHPASS[stem]), 1), 0.707, 0.0),
             ("lowshelf", round(rng.uniform(80, 300), 1), 0.707, round(rng.uniform(-4, 4), 2)),
             ("highshelf", round(rng.uniform(3000, 10000), 1), 0.707,
              round(rng.uniform(-6, 4), 2))]
    for _ in range(rng.randint(1, 2)):
        bands.append(("peak", round(math.exp(rng.uniform(math.log(150), math.log(6000))), 1),
                      round(rng.uniform(0.5, 3.0), 2), round(rng.uniform(-7, 6), 2)))
    if stem == "vocals" and rng.random() < 0.7:
        bands.append(("peak", round(rng.uniform(2500, 5000), 1), 1.0,
                      round(rng.uniform(1, 5), 2)))  # presence
    if rng.random() < 0.15:
        bands.append(("lowpass", round(rng.uniform(3500, 9000), 1), 0.707, 0.0))  # lo-fi
    distortion = None
    if (stem == "guitar" and rng.random() < 0.55) or (stem in ("other", "bass")
                                                      and rng.random() < 0.1):
        distortion = {"drive_db": round(rng.uniform(6, 30), 2),
                      "tone_hz": round(rng.uniform(2500, 6500), 1)}
    compress = None
    if rng.random() < {"vocals": 0.9, "drums": 0.8, "bass": 0.8}.get(stem, 0.5):
        compress = {"threshold_db": round(rng.uniform(-30, -12), 2),
                    "ratio": round(rng.uniform(1.5, 6.0), 2),
                    "attack_ms": round(rng.uniform(2, 30), 2),
                    "release_ms": round(rng.uniform(40, 300), 1)}
    reverb_send = {"bass": (0.0, 0.05), "drums": (0.0, 0.3)}.get(stem, (0.02, 0.45))
    delay_send = rng.uniform(0.05, 0.25) if rng.random() < (0.45 if stem == "vocals" else 0.15) \
        else 0.0
    return {
        "eq": bands,
        "distortion": distortion,
        "compressor": compress,
        "width": round(rng.uniform(0.0, 0.6) if stem == "bass" else rng.uniform(0.4, 1.4), 3),
        "pan": round(0.0 if stem in ("bass", "vocals") else rng.uniform(-0.5, 0.5), 3),
        "reverb_send": round(rng.uniform(*reverb_send), 3),
        "delay_send": round(delay_send, 3),
    }


class Room:
    """The track's reverb and delay, built once from `draw_room`'s parameters."""

    def __init__(self, params, rng_for_ir):
        self.params = params
        self.ir = reverb_ir(rng_for_ir, params["rt60"], params["predelay_ms"],
                            params["damping_hz"])


def apply_stem_chain(audio, chain, room):
    """`audio` (nb_frames, 2) through the stem's chain and its sends into `room`."""
    if not np.any(audio):
        return audio
    out = equalize(audio, [tuple(b) for b in chain["eq"]])
    if chain["distortion"]:
        out = distort(out, **chain["distortion"])
    if chain["compressor"]:
        out = out * compressor_gain(out, **chain["compressor"])[:, None]
        out = out.astype(np.float32)
    out = width_and_pan(out, chain["width"], chain["pan"])
    wet = np.zeros_like(out)
    if chain["reverb_send"] > 0:
        wet += convolve(out, room.ir) * chain["reverb_send"]
    if chain["delay_send"] > 0:
        p = room.params
        wet += delay_line(out, p["delay_s"], p["delay_feedback"],
                          ping_pong=p["delay_ping_pong"]) * chain["delay_send"]
    return (out + wet).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Loudness and the master bus


def loudness_db(audio):
    """A gated loudness in dB: the mean power of the 400 ms blocks louder than 40 dB below the
    loudest one (silence and pauses do not count); -inf for silence."""
    block = int(0.4 * RATE)
    if len(audio) < block:
        block = max(1, len(audio))
    power = block_level(audio, block=block) ** 2
    if not np.any(power > 0):
        return -math.inf
    gated = power[power > power.max() * 1e-4]
    return 10 * math.log10(float(gated.mean()))


def draw_master(rng):
    return {
        "eq": [("lowshelf", round(rng.uniform(60, 200), 1), 0.707, round(rng.uniform(-2, 3), 2)),
               ("highshelf", round(rng.uniform(6000, 12000), 1), 0.707,
                round(rng.uniform(-2, 3), 2))],
        "glue": {"threshold_db": round(rng.uniform(-22, -10), 2),
                 "ratio": round(rng.uniform(1.5, 3.0), 2), "attack_ms": round(rng.uniform(10, 30), 1),
                 "release_ms": round(rng.uniform(100, 400), 1)},
        "loudness_db": round(rng.uniform(-16, -8), 2),
        "ceiling": 0.89,  # -1 dBFS
    }


def master(stems, params):
    """The master bus on a dict of stems {name: (nb_frames, 2)}: returns the processed stems,
    which sum to the processed mix. Every time-varying gain is computed on the mix and applied
    identically to every stem."""
    names = sorted(stems)
    out = {n: equalize(stems[n], [tuple(b) for b in params["eq"]]) for n in names}
    mix = sum(out[n] for n in names)
    # Bring the mix to the drawn loudness before compressing (thresholds are absolute).
    level = loudness_db(mix)
    pre = 10 ** ((params["loudness_db"] - level) / 20) if math.isfinite(level) else 1.0
    mix = mix * pre
    gain = compressor_gain(mix, **params["glue"]) * np.float32(pre)
    limited = limiter_gain(mix * (gain / pre)[:, None], params["ceiling"])
    gain = gain * limited
    mix = sum(out[n] for n in names) * gain[:, None]
    peak = float(np.max(np.abs(mix))) if len(mix) else 0.0
    final = min(1.0, params["ceiling"] / peak) if peak > 0 else 1.0
    gain = gain * np.float32(final)
    return {n: (out[n] * gain[:, None]).astype(np.float32) for n in names}
