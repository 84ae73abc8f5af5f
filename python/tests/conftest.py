"""Shared fixtures of the Python package's tests: generated audio, the CLI, a separator."""

import os
import pathlib
import shutil

import numpy as np
import pytest

import saex

REPO = pathlib.Path(__file__).resolve().parents[2]


def mixture(nb_channels: int, seconds: float, rate: int = 44100, seed: int = 0) -> np.ndarray:
    """A short test mix, float32 ``[channels, samples]``: a "voice" (vibrato tone with
    harmonics), a bass line and noise, differently panned per channel."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 220.0 * (1.0 + 0.01 * np.sin(2 * np.pi * 5.0 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 6))
    bass = np.sin(2 * np.pi * 55.0 * t)
    out = np.empty((nb_channels, t.size), dtype=np.float32)
    for c in range(nb_channels):
        pan = (c + 1) / (nb_channels + 1)
        noise = rng.standard_normal(t.size)
        out[c] = 0.2 * pan * voice + 0.2 * (1 - pan) * bass + 0.01 * noise
    return out


@pytest.fixture(scope="session")
def saex_bin() -> pathlib.Path:
    """The command line built beside this package (scripts/test.sh builds it first)."""
    found = os.environ.get("SAEX_BIN") or REPO / "target" / "release" / "saex"
    path = pathlib.Path(found)
    if not path.is_file():
        message = f"no saex binary at {path} (cargo build --release, or set SAEX_BIN)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def vocals() -> saex.Separator:
    return saex.Separator(["vocals"])


@pytest.fixture()
def tmp(tmp_path):
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)
