"""Adds the sung line to a rendered track folder and recomputes mixture.wav from the stems.

The stem names and their order are `saex render`'s (gm.STEMS, read from the saex binary). The
mixture sum here is corpus-v1's format, not a copy of a library rule: `saex render` sums its
stems in name order before the sung line exists, while v1 defines mixture.wav as the float32
sum, in gm.STEMS order, of the stem files after the vocals were added (a library sum in another
order would change v1's bytes). corpus-v2 sums its 16-bit stems exactly in build_v2.py.
"""

import os
import struct

import numpy as np
import soundfile as sf

import gm

RATE = 44100


def write_wav(path, audio):
    """Writes `audio` (nb_frames, nb_channels) float32 at 44.1 kHz atomically.

    The header is written here rather than by libsndfile, whose PEAK chunk holds the time of
    writing: the same corpus must give the same bytes."""
    audio = np.ascontiguousarray(audio, dtype="<f4")
    nb_frames, nb_channels = audio.shape
    data = audio.tobytes()
    fmt = struct.pack("<HHIIHH", 3, nb_channels, RATE, RATE * 4 * nb_channels, 4 * nb_channels, 32)
    chunks = (b"fmt " + struct.pack("<I", len(fmt)) + fmt
              + b"fact" + struct.pack("<II", 4, nb_frames)
              + b"data" + struct.pack("<I", len(data)))
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 4 + len(chunks) + len(data)) + b"WAVE")
        f.write(chunks)
        f.write(data)
    os.replace(tmp, path)


def read_wav(path):
    """(nb_frames, nb_channels) float32 of a stem; checks the rate."""
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    if rate != RATE:
        raise ValueError(f"{path}: expected {RATE} Hz, found {rate} Hz")
    return audio


def stereo(mono, pan, gain):
    """(nb_frames, 2) from a mono line with a constant-power pan in [-1, 1] and a gain."""
    angle = (pan + 1.0) * np.pi / 4.0
    return np.stack([mono * np.cos(angle) * gain, mono * np.sin(angle) * gain],
                    axis=1).astype(np.float32)


def finish_track(folder, vocals=None):
    """Makes `folder` a complete track: every stem of gm.STEMS present (silence where the render
    wrote none), all of one length (zeros appended), `vocals` (nb_frames, 2) added to
    vocals.wav, and mixture.wav the float32 sum of the stem files as written, in gm.STEMS order.
    Returns the length in frames."""
    audio = {}
    for name in gm.STEMS:
        path = os.path.join(folder, f"{name}.wav")
        audio[name] = read_wav(path) if os.path.exists(path) else None
    lengths = [len(a) for a in audio.values() if a is not None]
    if vocals is not None:
        lengths.append(len(vocals))
    nb_frames = max(lengths, default=0)
    if nb_frames == 0:
        raise ValueError(f"{folder}: no stem to finish")
    for name in gm.STEMS:
        current = audio[name]
        changed = current is None or len(current) != nb_frames
        padded = np.zeros((nb_frames, 2), dtype=np.float32)
        if current is not None:
            if current.shape[1] != 2:
                raise ValueError(f"{folder}/{name}.wav: expected 2 channels, "
                                 f"found {current.shape[1]}")
            padded[: len(current)] = current
        if name == "vocals" and vocals is not None:
            padded[: len(vocals)] += vocals
            changed = True
        if changed:
            write_wav(os.path.join(folder, f"{name}.wav"), padded)
    # The mixture from the files exactly as written, summed in float32.
    mixture = np.zeros((nb_frames, 2), dtype=np.float32)
    for name in gm.STEMS:
        mixture += read_wav(os.path.join(folder, f"{name}.wav"))
    write_wav(os.path.join(folder, "mixture.wav"), mixture)
    return nb_frames
