"""Times BSS Eval v4 on a 3-minute stereo 44.1 kHz track with two sources (a target and its
accompaniment), with museval and with `saex eval`, on the same generated audio.

Usage (through scripts/bench-eval.sh): bench-eval.py WORK_DIR SAEX_BINARY
"""

import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import soundfile as sf

if "musdb" not in sys.modules:  # see make-museval-fixtures.py
    try:
        import musdb  # noqa: F401
    except (ImportError, RuntimeError):
        sys.modules["musdb"] = types.ModuleType("musdb")
import museval

RATE = 44100
SECONDS = 180


def main(work, saex):
    work = Path(work)
    rng = np.random.default_rng(0)
    n = RATE * SECONDS
    t = np.arange(n) / RATE
    vocals = np.stack([0.2 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(3 * t)),
                       0.15 * np.sin(2 * np.pi * 445 * t + 0.3)], axis=1)
    accompaniment = 0.1 * rng.standard_normal((n, 2)) + 0.2 * np.sin(2 * np.pi * 82 * t)[:, None]
    estimate = vocals + 0.05 * rng.standard_normal((n, 2)) + 0.1 * accompaniment
    ref_dir, est_dir = work / "reference" / "track", work / "estimate" / "track"
    ref_dir.mkdir(parents=True, exist_ok=True)
    est_dir.mkdir(parents=True, exist_ok=True)
    sf.write(ref_dir / "vocals.wav", vocals, RATE, subtype="FLOAT")
    sf.write(ref_dir / "accompaniment_stem.wav", accompaniment, RATE, subtype="FLOAT")
    sf.write(est_dir / "vocals.wav", estimate, RATE, subtype="FLOAT")
    # Exactly what the files hold, as saex reads them.
    vocals = sf.read(ref_dir / "vocals.wav")[0]
    accompaniment = sf.read(ref_dir / "accompaniment_stem.wav")[0]
    estimate = sf.read(est_dir / "vocals.wav")[0]
    mixture = vocals + accompaniment

    start = time.perf_counter()
    sdr, _, _, _ = museval.evaluate([vocals, accompaniment], [estimate, mixture - estimate],
                                    win=RATE, hop=RATE)
    museval_s = time.perf_counter() - start

    start = time.perf_counter()
    subprocess.run([saex, "eval", "--reference", work / "reference", "--estimate",
                    work / "estimate", "--out", work / "out"], check=True,
                   stdout=subprocess.DEVNULL)
    saex_s = time.perf_counter() - start
    print(f"museval median SDR vocals {np.nanmedian(sdr[0]):.3f} dB, "
          f"accompaniment {np.nanmedian(sdr[1]):.3f} dB")
    print(f"museval {museval.version._version}: {museval_s:.1f} s")
    print(f"saex eval (whole command, reading the WAVs included): {saex_s:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
