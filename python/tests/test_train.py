"""saex.train: a tiny model on generated stems, progress, an interrupted run resumed."""

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

    def stop_after_first_epoch(row):
        if row["epoch"] == 1:
            raise KeyboardInterrupt

    # Progress rows reach Python every 50 ms: the run must outlast that after epoch 1 for the
    # stop to land mid-run (3 tiny epochs could all be over by then, leaving a finished model).
    epochs = 300
    with pytest.raises(KeyboardInterrupt):
        saex.train(data, "vocals", tmp / "model", progress=stop_after_first_epoch,
                   epochs_per_stage=epochs, **TINY)
    assert (tmp / "model" / "checkpoint").is_dir()
    rows = []
    saex.train(data, "vocals", tmp / "model", progress=rows.append, resume=True,
               epochs_per_stage=epochs, **TINY)
    assert rows and rows[-1]["epoch"] == epochs, rows


def test_train_errors(tmp):
    with pytest.raises(TypeError, match="unknown setting .*epochs_per_stage"):
        saex.train(tmp, "vocals", tmp / "model", epochs_per_stage_typo=1)
    with pytest.raises(ValueError, match="nb_layers"):
        saex.train(tmp, "vocals", tmp / "model", nb_layers="three")
    with pytest.raises((FileNotFoundError, saex.SaexError, ValueError), match="no-data"):
        saex.train(tmp / "no-data", "vocals", tmp / "model", **TINY)
