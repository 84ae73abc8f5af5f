//! `saex train` and `saex info` through the command line, on tiny generated stems.

use crate::common;
use assert_cmd::Command;
use predicates::prelude::*;
use saex::train::{write_dataset, SynthSpec};
use saex::Model;
use std::path::Path;
use tch::{Device, Kind};

fn dataset(root: &Path, nb_valid: usize) {
    let spec = SynthSpec {
        sample_rate: 8000,
        nb_channels: 2,
        seconds: 2.0,
        nb_train: 3,
        nb_valid,
        seed: 11,
    };
    write_dataset(root, &spec).unwrap();
}

/// The tiny network of [`common::TINY_TRAIN`], 3 layers, a short schedule.
fn train_cmd(data: &Path, out: &Path, dtype: &str) -> Command {
    train_cmd_finetune(data, out, dtype, "1")
}

/// [`train_cmd`] with `finetune` epochs of fine-tuning.
fn train_cmd_finetune(data: &Path, out: &Path, dtype: &str, finetune: &str) -> Command {
    let mut cmd = Command::cargo_bin("saex").unwrap();
    cmd.arg("train")
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(common::TINY_TRAIN)
        .args([
            "--layers",
            "3",
            "--epochs-per-stage",
            "2",
            "--finetune-epochs",
            finetune,
        ])
        .args([
            "--frames-per-epoch",
            "1500",
            "--seed",
            "3",
            "--dtype",
            dtype,
        ]);
    cmd
}

#[test]
fn trains_a_three_layer_ls_model_and_reloads_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("model");
    dataset(&data, 1);
    train_cmd(&data, &out, "f16").assert().success();

    let model = Model::load(&out, Device::Cpu).unwrap();
    let c = &model.config;
    assert_eq!(
        (c.nb_layers, c.nb_bins_in, c.nb_bins, c.context),
        (3, 64, 48, 2)
    );
    assert_eq!(c.init, saex::model::Init::Ls);
    let summary = c.training.as_ref().expect("a training summary");
    assert_eq!((summary.nb_tracks_train, summary.nb_tracks_valid), (3, 1));
    assert_eq!(summary.epochs, 3 * 2 + 1);
    assert!(summary.best_valid_loss.is_finite() && summary.best_valid_loss > 0.0);
    assert!(c.command.as_deref().unwrap().contains("--init ls"));
    assert!(
        !out.join("checkpoint").exists(),
        "the checkpoint outlived a finished run"
    );
    assert!(out.join("history.png").is_file());

    // history.csv: per stage the init row (epoch 0) and 2 epochs, then 1 fine-tuning epoch.
    let csv = std::fs::read_to_string(out.join("history.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let stages: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(
        stages,
        ["1", "1", "1", "2", "2", "2", "3", "3", "3", "finetune"],
        "{csv}"
    );
    assert!(csv.starts_with("stage,nb_layers,epoch,train_loss,valid_loss,seconds\n"));
    // The saved model is the best of the 3-layer stack (stage 3 and fine-tuning): a tiny
    // corpus like this one overfits, so the loss need not fall, but the choice must be right.
    let best = summary.best_valid_loss;
    let deepest = rows
        .iter()
        .filter(|r| r[1] == "3")
        .map(|r| r[4].parse::<f64>().unwrap())
        .fold(f64::INFINITY, f64::min);
    assert!(
        (best - deepest).abs() <= 1e-6 * deepest,
        "best {best}, lowest 3-layer loss {deepest}\n{csv}"
    );

    // The network runs on context-stacked mixture frames.
    let input = tch::Tensor::rand([10, 5 * 64], (Kind::Float, Device::Cpu));
    assert_eq!(model.forward(&input).size(), vec![10, 48]);

    Command::cargo_bin("saex")
        .unwrap()
        .args(["info", "--model"])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("target: vocals"))
        .stdout(predicate::str::contains("layers: 3 (relu, 48 units each)"))
        .stdout(predicate::str::contains(
            "input: 5 frames (context 2) x 64 bins = 320 values",
        ))
        .stdout(predicate::str::contains("best valid loss"))
        .stdout(predicate::str::contains("3 train tracks, 1 valid tracks"));

    // A second run into the same folder refuses to overwrite the model.
    train_cmd(&data, &out, "f16")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already holds a model"));
}

#[test]
fn resume_after_a_stop_reaches_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    dataset(&data, 0);
    let whole = dir.path().join("whole");
    train_cmd(&data, &whole, "f32")
        .arg("--quiet")
        .assert()
        .success();

    // Stops after 4 epochs (mid stage 2), as Ctrl-C would.
    let parts = dir.path().join("parts");
    train_cmd(&data, &parts, "f32")
        .args(["--quiet", "--stop-after-epochs", "4"])
        .assert()
        .code(130)
        .stderr(predicate::str::contains("continue with --resume"));
    assert!(parts.join("checkpoint/state.json").is_file());
    train_cmd(&data, &parts, "f32")
        .arg("--quiet")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--resume"));
    // A resume with other settings is refused, naming them.
    train_cmd(&data, &parts, "f32")
        .args(["--quiet", "--resume", "--lr", "0.01"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--lr gives lr 0.01, the run was started with 0.001",
        ));
    // Stop once more (in stage 3), then finish.
    train_cmd(&data, &parts, "f32")
        .args(["--quiet", "--resume", "--stop-after-epochs", "1"])
        .assert()
        .code(130);
    train_cmd(&data, &parts, "f32")
        .args(["--quiet", "--resume"])
        .assert()
        .success();

    let a = Model::load(&whole, Device::Cpu).unwrap();
    let b = Model::load(&parts, Device::Cpu).unwrap();
    for ((name, x), (_, y)) in a.named_parameters().iter().zip(b.named_parameters()) {
        let err = (x - &y).abs().max().double_value(&[]);
        assert!(
            err < 1e-5,
            "{name}: max difference {err} between whole and resumed runs"
        );
    }
    let history = |p: &Path| std::fs::read_to_string(p.join("history.csv")).unwrap();
    let losses = |csv: String| -> Vec<String> {
        csv.lines()
            .map(|l| l.split(',').take(5).collect::<Vec<_>>().join(","))
            .collect()
    };
    assert_eq!(losses(history(&whole)), losses(history(&parts)));
}

#[test]
fn resume_alone_takes_the_stored_settings_and_may_train_longer() {
    let dir = tempfile::tempdir().unwrap();
    dataset(&dir.path().join("data"), 0);
    // Started with relative paths, stopped mid stage 2.
    train_cmd(Path::new("data"), Path::new("parts"), "f32")
        .current_dir(dir.path())
        .args(["--quiet", "--stop-after-epochs", "4"])
        .assert()
        .code(130);
    let parts = dir.path().join("parts");
    let resume = |args: &[&str]| {
        let mut cmd = Command::cargo_bin("saex").unwrap();
        cmd.args(["train", "--quiet", "--resume", "--out"])
            .arg(&parts)
            .args(args);
        cmd
    };
    // Settings given on resume must match; the epochs may only be raised.
    for (args, message) in [
        (
            &["--lr", "0.01"][..],
            "--lr gives lr 0.01, the run was started with 0.001; a resumed run keeps its settings",
        ),
        (
            &["--layers", "4"],
            "--layers gives nb_layers 4, the run was started with 3",
        ),
        (
            &["--target", "bass"],
            r#"--target gives target "bass", the run was started with "vocals""#,
        ),
        (
            &["--no-eq"],
            "--no-eq gives augment [",
        ),
        (
            &["--epochs-per-stage", "1"],
            "--epochs-per-stage gives epochs_per_stage 1, the run was started with 2; on resume it may only be raised",
        ),
    ] {
        resume(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
    }
    // The same values as stored are accepted; then stop once more, in stage 3.
    resume(&["--lr", "0.001", "--stop-after-epochs", "1"])
        .assert()
        .code(130);
    // Alone, from another folder, with fine-tuning raised from 1 to 3 epochs.
    resume(&["--finetune-epochs", "3"]).assert().success();
    let model = Model::load(&parts, Device::Cpu).unwrap();
    let summary = model.config.training.as_ref().unwrap();
    assert_eq!(
        (summary.settings.finetune_epochs, summary.epochs),
        (3, 3 * 2 + 3)
    );
    let command = model.config.command.as_deref().unwrap();
    assert!(
        command.contains("--data data") && command.contains("--finetune-epochs 3"),
        "{command}"
    );

    // The same weights as a run asked for 3 fine-tuning epochs from the start.
    let whole = dir.path().join("whole");
    train_cmd_finetune(&dir.path().join("data"), &whole, "f32", "3")
        .arg("--quiet")
        .assert()
        .success();
    let a = Model::load(&whole, Device::Cpu).unwrap();
    for ((name, x), (_, y)) in a.named_parameters().iter().zip(model.named_parameters()) {
        let err = (x - &y).abs().max().double_value(&[]);
        assert!(err < 1e-5, "{name}: max difference {err}");
    }

    // A finished model trains longer only by raising the fine-tuning epochs.
    for (args, message) in [
        (
            &[][..],
            "is a finished model: raise --finetune-epochs (it was 3) to train it longer",
        ),
        (
            &["--epochs-per-stage", "3"],
            "its layer-wise stages are over, so --epochs-per-stage (2) cannot be raised",
        ),
    ] {
        resume(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
    }
    let config_before = std::fs::read(parts.join("config.json")).unwrap();
    resume(&["--finetune-epochs", "5"]).assert().success();
    let longer = Model::load(&parts, Device::Cpu).unwrap();
    let summary = longer.config.training.as_ref().unwrap();
    assert_eq!(
        (summary.settings.finetune_epochs, summary.epochs),
        (5, 3 * 2 + 5)
    );
    assert_ne!(
        std::fs::read(parts.join("config.json")).unwrap(),
        config_before
    );
    let rows = saex::train::read_history(&parts.join("history.csv")).unwrap();
    let finetune: Vec<usize> = rows
        .iter()
        .filter(|r| r.stage == "finetune")
        .map(|r| r.epoch)
        .collect();
    assert_eq!(finetune, vec![1, 2, 3, 4, 5]);
    assert!(!parts.join("checkpoint").exists());
    let command = longer.config.command.as_deref().unwrap();
    assert!(command.ends_with("--finetune-epochs 5"), "{command}");

    // A folder with neither a checkpoint nor a model: said so, naming the folder.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    Command::cargo_bin("saex")
        .unwrap()
        .args(["train", "--quiet", "--resume", "--out"])
        .arg(&empty)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing to resume: no checkpoint"));
}

#[test]
fn a_track_without_the_target_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    dataset(&data, 0);
    std::fs::remove_file(data.join("train/track-001/vocals.wav")).unwrap();
    train_cmd(&data, &dir.path().join("m"), "f16")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "track-001: no target stem \"vocals\" (stems found: bass, drums)",
        ));
}

#[test]
fn info_names_a_broken_model() {
    let dir = tempfile::tempdir().unwrap();
    Command::cargo_bin("saex")
        .unwrap()
        .args(["info", "--model"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("config.json"));
}

#[test]
fn a_plateau_decays_the_learning_rate_and_ends_stages_early_also_across_a_resume() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    dataset(&data, 1);
    // At a learning rate of 1e-12 no epoch improves the validation loss by the relative
    // threshold: every stage decays after one epoch and ends after two.
    let plateau = |out: &Path| {
        let mut cmd = Command::cargo_bin("saex").unwrap();
        cmd.args(["train", "--data"])
            .arg(&data)
            .arg("--out")
            .arg(out)
            .args(common::TINY_TRAIN)
            .args(["--layers", "3", "--frames-per-epoch", "1500", "--seed", "3"])
            .args(["--epochs-per-stage", "5", "--finetune-epochs", "4"])
            .args(["--lr", "1e-12", "--lr-patience", "1", "--early-stop", "2"]);
        cmd
    };
    let whole = dir.path().join("whole");
    plateau(&whole)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "stage 1: no better validation loss in 1 epoch(s): learning rate now 3.000e-13",
        ))
        .stderr(predicate::str::contains(
            "stage finetune: no better validation loss in 2 epoch(s): stage ends early",
        ));
    let history = |p: &Path| std::fs::read_to_string(p.join("history.csv")).unwrap();
    let epochs = |csv: String| -> Vec<String> {
        csv.lines()
            .skip(1)
            .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(","))
            .collect()
    };
    let expected: Vec<String> = [
        "1,1,0",
        "1,1,1",
        "1,1,2",
        "2,2,0",
        "2,2,1",
        "2,2,2",
        "3,3,0",
        "3,3,1",
        "3,3,2",
        "finetune,3,1",
        "finetune,3,2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(epochs(history(&whole)), expected);

    // Stopped right after stage 2 ended early, a resumed run goes on with stage 3.
    let parts = dir.path().join("parts");
    plateau(&parts)
        .args(["--quiet", "--stop-after-epochs", "4"])
        .assert()
        .code(130);
    plateau(&parts)
        .args(["--quiet", "--resume"])
        .assert()
        .success();
    assert_eq!(epochs(history(&parts)), expected);
}

/// `--init autoencoder` pretrains each new layer before its supervised stage (and says so);
/// `--init random --epochs-per-stage 0` is the conventional network, trained jointly only
/// (here on every second frame of context, which the model keeps).
#[test]
fn autoencoder_and_joint_random_baselines_train() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    dataset(&data, 1);
    let run = |init: &str, extra: &[&str]| {
        let out = dir.path().join(init);
        let mut cmd = Command::cargo_bin("saex").unwrap();
        let mut args: Vec<&str> = common::TINY_TRAIN.to_vec();
        let at = args.iter().position(|a| *a == "--init").unwrap();
        args[at + 1] = init;
        let at = args.iter().position(|a| *a == "--ls-frames").unwrap();
        args[at + 1] = "600";
        cmd.arg("train")
            .arg("--data")
            .arg(&data)
            .arg("--out")
            .arg(&out)
            .args(args)
            .args(["--layers", "2", "--frames-per-epoch", "800", "--seed", "5"])
            .args(extra);
        let output = cmd.assert().success().get_output().clone();
        (out, String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (out, log) = run(
        "autoencoder",
        &[
            "--epochs-per-stage",
            "1",
            "--finetune-epochs",
            "0",
            "--autoencoder-epochs",
            "2",
        ],
    );
    assert_eq!(
        log.matches("autoencoder pretraining over 600 frames, 2 pass(es)")
            .count(),
        2,
        "{log}"
    );
    let model = Model::load(&out, Device::Cpu).unwrap();
    assert_eq!(model.config.init, saex::model::Init::Autoencoder);

    let (out, _) = run(
        "random",
        &[
            "--epochs-per-stage",
            "0",
            "--finetune-epochs",
            "2",
            "--context-stride",
            "2",
        ],
    );
    let model = Model::load(&out, Device::Cpu).unwrap();
    assert_eq!((model.config.context, model.config.context_stride), (2, 2));
    let csv = std::fs::read_to_string(out.join("history.csv")).unwrap();
    let stages: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(stages, ["1", "2", "finetune", "finetune"], "{csv}");
}

/// Before training, what was found (tracks, audio time, rates, stems); a track without a stem
/// the others have is named, with how its mixes are formed (was: no summary, no word).
#[test]
fn the_data_is_summarised_and_a_missing_stem_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    dataset(&data, 1);
    std::fs::remove_file(data.join("train/track-001/drums.wav")).unwrap();
    let out = dir.path().join("m");
    let mut cmd = Command::cargo_bin("saex").unwrap();
    cmd.arg("train")
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .args(common::TINY_TRAIN)
        .args([
            "--layers",
            "1",
            "--epochs-per-stage",
            "1",
            "--finetune-epochs",
            "0",
        ])
        .args(["--frames-per-epoch", "500"]);
    let output = cmd.assert().success().get_output().clone();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let train = data.join("train").display().to_string();
    assert!(
        stderr.contains(&format!("{train}: 3 tracks, 0:06 of audio;"))
            && stderr.contains("valid: 1 track, 0:02")
            && stderr.contains("8000 Hz, stereo; stems: bass, drums, vocals (target vocals)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("saex: warning: ")
            && stderr.contains("track-001: no drums stem, which 3 other tracks have")
            && stderr.contains("the sum of its own stems (bass, vocals), without drums"),
        "{stderr}"
    );
    // -q keeps the warning, drops the summary.
    cmd.arg("--force").arg("-q");
    let output = cmd.assert().success().get_output().clone();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no drums stem") && !stderr.contains("of audio"),
        "{stderr}"
    );
}

/// A run whose gradient epochs never beat the new layer's initialisation says so, with
/// settings to try (was: the initialisation saved without a word). A step far too large for
/// this data makes it happen deterministically.
#[test]
fn a_run_that_never_beats_its_initialisation_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    dataset(&data, 0);
    let mut cmd = Command::cargo_bin("saex").unwrap();
    cmd.arg("train")
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(dir.path().join("m"))
        .args(common::TINY_TRAIN)
        .args([
            "--layers",
            "1",
            "--epochs-per-stage",
            "2",
            "--finetune-epochs",
            "0",
        ])
        .args(["--frames-per-epoch", "1500", "--seed", "3", "--lr", "0.05"]);
    cmd.assert().success().stderr(
        predicate::str::contains(
            "saex: note: no training epoch of the 1-layer stack beat its initialisation",
        )
        .and(predicate::str::contains(
            "the saved model is that initialisation",
        ))
        .and(predicate::str::contains("--lr 5e-3 --finetune-lr 5e-4")),
    );
}
