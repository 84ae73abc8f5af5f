"""saex.Separator: the CLI's numbers, shapes, rates, dtypes, channels, torch, threads, memory."""

import os
import pathlib
import subprocess
import threading
import time

import numpy as np
import pytest
import torch

import saex
from conftest import REPO, mixture


def cli_extract(saex_bin, mix_path, out_path, *extra):
    subprocess.run(
        [str(saex_bin), "extract", "-q", "--mix", str(mix_path), "--out", str(out_path),
         "--format", "float", *extra],
        check=True,
    )
    audio, _ = saex.read_audio(out_path)
    return audio


@pytest.mark.parametrize("nb_channels,rate", [(2, 44100), (1, 22050)])
def test_bit_identical_to_saex_extract(saex_bin, vocals, tmp, nb_channels, rate):
    mix = mixture(nb_channels, 1.5, rate)
    path = tmp / "mix.wav"
    saex.write_audio(path, mix, rate, sample_format="float")
    want = cli_extract(saex_bin, path, tmp / "vocals.wav")
    audio, read_rate = saex.read_audio(path)
    assert read_rate == rate and np.array_equal(audio, mix)
    got = vocals.separate(audio, rate)["vocals"]
    assert got.shape == want.shape == mix.shape
    diff = np.abs(got - want).max()
    assert np.array_equal(got, want), f"{nb_channels} ch at {rate} Hz: max difference {diff}"


def test_several_models_and_residual_match_the_cli(saex_bin, tmp):
    rate = 44100
    mix = mixture(2, 1.0, rate, seed=3)
    path = tmp / "mix.wav"
    saex.write_audio(path, mix, rate, sample_format="float")
    subprocess.run(
        [str(saex_bin), "extract", "-q", "--mix", str(path), "--model", "vocals", "--model",
         "bass", "--out-dir", str(tmp / "cli"), "--format", "float"],
        check=True,
    )
    separator = saex.Separator(["vocals", "bass"])
    assert separator.targets == ["vocals", "bass"]
    got = separator.separate(mix, rate, residual=True)
    assert list(got) == ["vocals", "bass", "residual"]
    for name in got:
        want, _ = saex.read_audio(tmp / "cli" / f"{name}.wav")
        assert np.array_equal(got[name], want), name
    written = separator.separate_file(path, tmp / "py", format="wav", sample_format="float")
    assert set(written) == {"vocals", "bass", "residual"}
    for name, file in written.items():
        assert (tmp / "py" / f"{name}.wav").samefile(file)
        a, _ = saex.read_audio(file)
        b, _ = saex.read_audio(tmp / "cli" / f"{name}.wav")
        assert np.array_equal(a, b), name


@pytest.mark.parametrize("nb_channels", range(1, 7))
def test_shape_rate_and_dtype_kept(vocals, nb_channels):
    rate = 16000
    mix = mixture(nb_channels, 0.5, rate).astype(np.float64)
    out = vocals.separate(mix, rate, residual=True)
    for name, audio in out.items():
        assert audio.shape == mix.shape, (nb_channels, name)
        assert audio.dtype == np.float32
        assert np.isfinite(audio).all()
    # Targets plus residual give the mix back.
    assert np.allclose(out["vocals"] + out["residual"], mix, atol=1e-5)


def test_float64_and_strided_input_give_the_float32_result(vocals):
    mix = mixture(2, 0.5)
    want = vocals.separate(mix, 44100)["vocals"]
    assert np.array_equal(vocals.separate(mix.astype(np.float64), 44100)["vocals"], want)
    fortran = np.asfortranarray(mix)
    assert np.array_equal(vocals.separate(fortran, 44100)["vocals"], want)
    interleaved = np.ascontiguousarray(mix.T).T  # [channels, samples] view of [samples, ch]
    assert np.array_equal(vocals.separate(interleaved, 44100)["vocals"], want)


def test_torch_tensor_in_and_out(vocals):
    mix = mixture(2, 0.5)
    want = vocals.separate(mix, 44100, residual=True)
    for dtype in (torch.float32, torch.float64):
        out = vocals.separate(torch.from_numpy(mix).to(dtype), 44100, residual=True)
        assert set(out) == set(want)
        for name, tensor in out.items():
            assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float32
            assert tensor.device.type == "cpu"
            assert torch.equal(tensor, torch.from_numpy(want[name])), name
    with pytest.raises(TypeError, match="float32 or float64"):
        vocals.separate(torch.zeros(2, 100, dtype=torch.int16), 44100)


def test_bad_input_raises_the_right_exception(vocals, tmp):
    with pytest.raises(ValueError, match="2 dimensions"):
        vocals.separate(np.zeros(1000, np.float32), 44100)
    with pytest.raises(TypeError, match="float32 or float64"):
        vocals.separate(np.zeros((2, 1000), np.int16), 44100)
    with pytest.raises(TypeError, match="NumPy array or torch tensor"):
        vocals.separate([[0.0] * 100], 44100)
    with pytest.raises(ValueError, match="channels"):
        vocals.separate(np.zeros((0, 1000), np.float32), 44100)
    with pytest.raises(ValueError):
        vocals.separate(np.zeros((2, 1000), np.float32), 10)
    with pytest.raises(ValueError, match="device"):
        saex.Separator(["vocals"], device="tpu")
    with pytest.raises(ValueError, match="latency"):
        saex.Separator(["vocals"], latency="fast")
    with pytest.raises(ValueError, match="mask"):
        saex.Separator(["vocals"], mask="binary")
    with pytest.raises(ValueError, match="niter"):
        saex.Separator(["vocals"], latency="low", niter=1)
    missing = tmp / "no-such-model"
    with pytest.raises((FileNotFoundError, ValueError, saex.SaexError), match="no-such-model"):
        saex.Separator([str(missing)])
    with pytest.raises(FileNotFoundError, match="nothing.wav"):
        vocals.separate_file(tmp / "nothing.wav", tmp / "out")
    text = tmp / "notes.wav"
    text.write_text("not audio at all\n" * 50)
    with pytest.raises(saex.SaexError, match="notes.wav"):
        vocals.separate_file(text, tmp / "out")
    with pytest.raises(saex.SaexError, match="notes.wav"):
        saex.read_audio(text)
    with pytest.raises(ValueError, match="output type"):
        vocals.separate_file(text, tmp / "out", format="aiff")


def test_properties_and_low_latency(vocals):
    assert vocals.sample_rate == 44100
    assert vocals.latency == "normal"
    assert vocals.device in ("cpu", "cuda:0")
    low = saex.Separator("vocals", latency="low", device="cpu")
    assert low.latency == "low"
    assert 0 < low.algorithmic_latency < low.sample_rate  # well under a second
    mix = mixture(2, 0.5)
    a = vocals.separate(mix, 44100)["vocals"]
    b = low.separate(mix, 44100)["vocals"]
    assert a.shape == b.shape and np.abs(a - b).max() < 1e-3
    assert "vocals" in repr(vocals)


def test_shipped_model_folder_as_path(vocals):
    by_path = saex.Separator([REPO / "models" / "vocals"])
    mix = mixture(1, 0.3)
    assert np.array_equal(by_path.separate(mix, 44100)["vocals"],
                          vocals.separate(mix, 44100)["vocals"])


def _timed_separations(separators, mix, rate):
    """Wall time of one separation per separator, all started at once in threads."""
    barrier = threading.Barrier(len(separators) + 1)
    errors = []

    def work(separator):
        barrier.wait()
        try:
            separator.separate(mix, rate)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in separators]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    assert not errors, errors
    return time.perf_counter() - start


def idle_cores(seconds: float = 0.5) -> float:
    """How many cores sat idle over the next `seconds` (from /proc/stat)."""
    def sample():
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields[:8])
    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return (idle1 - idle0) / max(total1 - total0, 1) * (os.cpu_count() or 1)


def test_the_gil_is_released_while_separating(vocals):
    # While a separation runs in one thread, Python code in this one keeps running.
    mix = mixture(2, 20.0)
    done = threading.Event()
    worker = threading.Thread(target=lambda: (vocals.separate(mix, 44100), done.set()))
    count = 0
    worker.start()
    while not done.is_set():
        count += 1
    worker.join()
    assert count > 1000, f"this thread ran only {count} steps during the separation"


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2,
                    reason="fewer than 2 cores: two threads cannot run at once")
@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="no /proc/stat (not Linux)")
@pytest.mark.skipif(not os.environ.get("SAEX_TIMED_TESTS"),
                    reason="a timing (the project checks speed by benchmarks, not by tests that "
                    "a busy machine fails): run with SAEX_TIMED_TESTS=1 on a quiet machine")
def test_two_threads_run_at_once():
    # Each separator gets one core's share, as two `saex extract --threads 1` would.
    separators = [saex.Separator(["vocals"], device="cpu", threads=1) for _ in range(2)]
    rate = 44100
    mix = mixture(2, 30.0, rate)
    separators[0].separate(mix, rate)  # warm up
    separators[1].separate(mix, rate)
    idle = idle_cores()
    if idle < 1.5:
        pytest.skip(f"the machine is busy ({idle:.1f} of {os.cpu_count()} cores idle): a "
                    "timing of two threads would measure the other work")
    one = min(_timed_separations(separators[:1], mix, rate) for _ in range(5))
    two = min(_timed_separations(separators, mix, rate) for _ in range(5))
    print(f"\none separation {one:.3f} s, two in two threads {two:.3f} s: "
          f"ratio {two / one:.2f} ({idle:.1f} cores idle before)")
    if two >= 1.6 * one and idle_cores() < 1.5:
        pytest.skip(f"ratio {two / one:.2f}, but the machine became busy during the timing")
    assert two < 1.6 * one, f"two threads took {two / one:.2f}x one"


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="no /proc (not Linux)")
def test_memory_flat_over_50_calls(vocals):
    mix = mixture(2, 1.0)
    for _ in range(5):  # allocators and caches settle
        vocals.separate(mix, 44100, residual=True)
    before = rss_bytes()
    for _ in range(50):
        out = vocals.separate(torch.from_numpy(mix), 44100, residual=True)
        del out
    grown = rss_bytes() - before
    print(f"\nRSS after 50 separations: {grown / 2**20:+.1f} MiB")
    # One call's output is 2 x 2 x 44100 float32 = 0.7 MB: a leak would grow by 35 MB.
    assert grown < 16 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB over 50 calls"


def test_ctrl_c_stops_separate_file_and_leaves_nothing(vocals, tmp):
    import signal

    rate = 44100
    path = tmp / "long.wav"
    # 4 minutes of quiet noise (cheap to make): some seconds of work at 100x real time.
    noise = np.random.default_rng(5).standard_normal((2, 240 * rate), dtype=np.float32)
    saex.write_audio(path, 0.1 * noise, rate)
    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
    # Python raises KeyboardInterrupt on SIGINT only where SIGINT was not ignored when it
    # started (a background job of a non-interactive shell inherits it ignored): install the
    # handler a terminal would have.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            vocals.separate_file(path, tmp / "out")
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert time.perf_counter() - start < 5
    assert list((tmp / "out").iterdir()) == []  # no output, no temporary file


def test_batch_shards_skips_and_reports_as_saex_batch(vocals, tmp):
    mixes, out = tmp / "in", tmp / "out"
    (mixes / "album").mkdir(parents=True)
    names = ["a", "album/b", "c"]
    for i, name in enumerate(names):
        saex.write_audio(mixes / f"{name}.wav", mixture(1, 0.3, 22050, seed=i), 22050)
    (mixes / "bad.flac").write_bytes(b"fLaC not really")
    (mixes / "notes.txt").write_text("not audio")
    # Sorted by path: a, album/b, bad.flac, c; shard 0/2 takes a and bad.flac.
    first = vocals.batch(mixes, out, shard=(0, 2))
    second = vocals.batch(mixes, out, shard=(1, 2))
    assert [pathlib.Path(f["input"]).name for f in first["files"]] == ["a.wav", "bad.flac"]
    assert [pathlib.Path(f["input"]).name for f in second["files"]] == ["b.wav", "c.wav"]
    assert (first["processed"], first["failed"], second["processed"]) == (1, 1, 2)
    bad = first["files"][1]
    assert bad["outcome"] == "failed" and "bad.flac" in bad["error"], bad
    for name in names:
        assert saex.read_audio(out / name / "vocals.wav")[0].shape == (1, int(0.3 * 22050))
    assert not (out / "bad").exists()
    again = vocals.batch(mixes, out)
    assert (again["processed"], again["skipped"], again["failed"]) == (0, 3, 1), again
    with pytest.raises(ValueError, match="shard"):
        vocals.batch(mixes, out, shard=(2, 2))
    with pytest.raises(saex.SaexError, match="missing: is not a folder"):
        vocals.batch(tmp / "missing", out)
