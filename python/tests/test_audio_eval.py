"""saex.read_audio / write_audio in every format the CLI writes, and saex.evaluate."""

import math

import numpy as np
import pytest
import torch

import saex
from conftest import mixture


@pytest.mark.parametrize(
    "ext,kwargs,tolerance",
    [
        ("wav", {"sample_format": "float"}, 0.0),
        ("wav", {}, 1 / 32768),
        ("wav", {"sample_format": "24"}, 1 / 2**23),
        ("flac", {}, 1 / 32768),
        ("flac", {"sample_format": "24"}, 1 / 2**23),
        ("raw", {"sample_format": "float"}, None),
        ("mp3", {}, None),
        ("ogg", {}, None),
    ],
)
def test_write_then_read(tmp, ext, kwargs, tolerance):
    rate = 44100
    audio = mixture(2, 0.5, rate)
    path = tmp / f"out.{ext}"
    saex.write_audio(path, audio, rate, **kwargs)
    assert path.stat().st_size > 0
    if ext == "raw":  # headerless: read back with NumPy
        back = np.fromfile(path, dtype="<f4").reshape(-1, 2).T
        assert np.array_equal(back, audio)
        return
    back, back_rate = saex.read_audio(path)
    assert back_rate == rate and back.dtype == np.float32
    assert back.shape[0] == 2
    if tolerance is None:  # lossy: the length and a rough likeness
        assert abs(back.shape[1] - audio.shape[1]) <= 2048
        n = min(back.shape[1], audio.shape[1])
        assert np.corrcoef(back[:, :n].ravel(), audio[:, :n].ravel())[0, 1] > 0.9
    else:
        assert back.shape == audio.shape
        assert np.abs(back - audio).max() <= tolerance


def test_write_audio_errors_and_warnings(tmp):
    audio = mixture(2, 0.1)
    with pytest.raises(saex.SaexError, match=r"\.m4a"):
        saex.write_audio(tmp / "x.m4a", audio, 44100)
    with pytest.raises(saex.SaexError, match="no extension"):
        saex.write_audio(tmp / "x", audio, 44100)
    with pytest.raises(OSError):
        saex.write_audio(tmp / "missing-folder" / "x.wav", audio, 44100)
    with pytest.raises(saex.SaexError, match="FLAC"):
        saex.write_audio(tmp / "x.flac", audio, 44100, sample_format="float")
    with pytest.warns(UserWarning, match="clipped"):
        saex.write_audio(tmp / "loud.wav", audio * 10, 44100)
    saex.write_audio(tmp / "t.wav", torch.from_numpy(audio), 44100, sample_format="float")
    assert np.array_equal(saex.read_audio(tmp / "t.wav")[0], audio)


def test_evaluate_is_museval_shaped():
    rate = 8000
    rng = np.random.default_rng(1)
    vocals = rng.standard_normal((2, 3 * rate)).astype(np.float32)
    accompaniment = rng.standard_normal((2, 3 * rate)).astype(np.float32)
    references = {"vocals": vocals, "accompaniment": accompaniment}
    estimates = {
        "vocals": vocals + 0.1 * accompaniment,
        "accompaniment": torch.from_numpy(accompaniment + 0.1 * vocals),
    }
    scores = saex.evaluate(references, estimates, rate)
    assert [t["name"] for t in scores["targets"]] == ["vocals", "accompaniment"]
    for target in scores["targets"]:
        assert len(target["frames"]) == 3
        for i, frame in enumerate(target["frames"]):
            assert frame["time"] == float(i) and frame["duration"] == 1.0
            assert set(frame["metrics"]) == {"SDR", "SIR", "SAR", "ISR"}
            # 10 % crosstalk: about 20 dB
            assert 15 < frame["metrics"]["SDR"] < 25, frame
    perfect = saex.evaluate({"a": vocals, "b": accompaniment},
                            {"a": vocals, "b": accompaniment}, rate, window=rate // 2,
                            hop=rate // 2)
    assert len(perfect["targets"][0]["frames"]) == 6
    assert all(f["metrics"]["SDR"] > 100 or math.isnan(f["metrics"]["SDR"])
               for f in perfect["targets"][0]["frames"])
    with pytest.raises(ValueError, match="accompaniment"):
        saex.evaluate(references, {"vocals": vocals}, rate)
    with pytest.raises(ValueError, match="shape"):
        saex.evaluate({"vocals": vocals}, {"vocals": vocals[:, :100]}, rate)
