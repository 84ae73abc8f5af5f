"""saex.train: a tiny model on generated stems, progress, an interrupted run resumed."""

import threading

import numpy as np
import pytest

import saex

RATE = 8000
TINY = dict(
    sample_rate=RATE, n_fft=256, hop=64, nb_bins_in=64, nb_bins=48, nb_layers=1,
    frames_per_epoch=500, valid_frames=200, ls_frames=500, excerpt_seconds=0.5,
    finetune_epochs=0,
)


def write_data(root):
    """data/{train,valid}/<track>/{vocals,other}.wav: a tone and noise, 2 s mono."""
    rng = np.random.default_rng(7)
    t = np.arange(2 * RATE) / RATE
    for split, n in (("train", 2), ("valid", 1)):
        for i in range(n):
            track = root / split / f"track{i}"
            track.mkdir(parents=True)
            vocals = 0.3 * np.sin(2 * np.pi * (300 + 50 * i) * t)[None, :]
            other = 0.1 * rng.standard_normal((1, t.size))
            saex.write_audio(track / "vocals.wav", vocals, RATE, sample_format="float")
            saex.write_audio(track / "other.wav", other, RATE, sample_format="float")
    return root


def test_train_a_tiny_model_with_progress(tmp):
    data = write_data(tmp / "data")
    rows = []
    report = saex.train(data, "vocals", tmp / "model", progress=rows.append,
                        epochs_per_stage=2, **TINY)
    assert np.isfinite(report["best_valid_loss"])
    assert [(r["stage"], r["epoch"]) for r in rows] == [("1", 0), ("1", 1), ("1", 2)]
    assert rows == report["history"]
    separator = saex.Separator([tmp / "model"])
    assert separator.sample_rate == RATE and separator.targets == ["vocals"]
    mix = np.zeros((1, RATE), np.float32)
    assert separator.separate(mix, RATE)["vocals"].shape == mix.shape


def test_interrupted_training_keeps_its_checkpoint(tmp):
    data = write_data(tmp / "data")
    threads = set()

    def stop_after_first_epoch(row):
        threads.add(threading.current_thread() is threading.main_thread())
        if row["epoch"] == 1:
            raise KeyboardInterrupt

    # The callback is synchronous (the training thread waits for it), so the stop lands right
    # after epoch 1 although the whole run would take a fraction of a second.
    with pytest.raises(KeyboardInterrupt):
        saex.train(data, "vocals", tmp / "model", progress=stop_after_first_epoch,
                   epochs_per_stage=3, **TINY)
    assert threads == {False}, "progress is called on the training thread"
    assert (tmp / "model" / "checkpoint").is_dir()
    rows = []
    saex.train(data, "vocals", tmp / "model", progress=rows.append, resume=True,
               epochs_per_stage=3, **TINY)
    assert [(r["stage"], r["epoch"]) for r in rows] == [("1", 2), ("1", 3)], rows


def test_an_exception_from_progress_stops_training_at_once(tmp):
    data = write_data(tmp / "data")
    seen = []

    def fail_at_init(row):
        seen.append(row["epoch"])
        raise ValueError("no more")

    with pytest.raises(ValueError, match="no more"):
        saex.train(data, "vocals", tmp / "model", progress=fail_at_init,
                   epochs_per_stage=3, **TINY)
    assert seen == [0]
    assert (tmp / "model" / "checkpoint").is_dir()
    rows = []
    saex.train(data, "vocals", tmp / "model", progress=rows.append, resume=True,
               epochs_per_stage=3, **TINY)
    assert [r["epoch"] for r in rows] == [1, 2, 3], rows


def test_train_errors(tmp):
    with pytest.raises(TypeError, match="unknown setting .*epochs_per_stage"):
        saex.train(tmp, "vocals", tmp / "model", epochs_per_stage_typo=1)
    with pytest.raises(ValueError, match="nb_layers"):
        saex.train(tmp, "vocals", tmp / "model", nb_layers="three")
    with pytest.raises((FileNotFoundError, saex.SaexError, ValueError), match="no-data"):
        saex.train(tmp / "no-data", "vocals", tmp / "model", **TINY)
