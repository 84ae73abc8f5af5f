//! `saex extract` and `saex batch` through the binary: outputs, refusals and exit codes.

use crate::common;
use crate::common::data;
use common::{saex, tiny_model, write_tones, Setup};
use predicates::prelude::*;
use saex::read_audio;
use std::path::Path;

#[test]
fn version_and_help_run_without_library_path() {
    saex()
        .env_remove("LD_LIBRARY_PATH")
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("saex "));
    saex()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("extract"));
}

#[test]
fn wav_input_keeps_rate_channels_and_length() {
    let s = Setup::new();
    let mix = s.path("song.wav");
    write_tones(&mix, 44100, 2, 44_321);
    s.extract(&mix, &s.path("vocals.wav"))
        .arg("--residual")
        .arg(s.path("accompaniment.wav"))
        .assert()
        .success();
    for name in ["vocals.wav", "accompaniment.wav"] {
        let out = read_audio(s.path(name)).unwrap();
        assert_eq!(
            (out.sample_rate, out.nb_channels(), out.nb_frames()),
            (44100, 2, 44_321),
            "{name}"
        );
    }
}

#[test]
fn timings_name_every_stage() {
    let s = Setup::new();
    let mix = s.path("song.wav");
    write_tones(&mix, 22050, 2, 30_000);
    let out = s
        .extract(&mix, &s.path("vocals.wav"))
        .arg("--timings")
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    for stage in [
        "decode", "resample", "stft", "features", "network", "mask", "istft", "encode", "total",
    ] {
        assert!(
            stderr.lines().any(|l| l.trim_start().starts_with(stage)),
            "{stage} missing in:\n{stderr}"
        );
    }
}

/// The split of the cores between LibTorch and rayon changes the speed, never the samples;
/// impossible splits are refused before any work.
#[test]
fn thread_splits_give_the_same_samples() {
    let s = Setup::new();
    let mix = s.path("song.wav");
    write_tones(&mix, 44100, 2, 70_000);
    let mut outputs = Vec::new();
    for (i, split) in [["1", "1"], ["2", "2"], ["4", "1"], ["3", "2"]]
        .iter()
        .enumerate()
    {
        let out = s.path(&format!("vocals-{i}.wav"));
        s.extract(&mix, &out)
            .args(["--threads", split[0], "--network-threads", split[1]])
            .assert()
            .success();
        outputs.push(std::fs::read(&out).unwrap());
    }
    for (i, out) in outputs.iter().enumerate() {
        assert!(out == &outputs[0], "split {i} differs from split 0");
    }
    s.extract(&mix, &s.path("never.wav"))
        .args(["--threads", "2", "--network-threads", "3"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "3 network threads: expected 1 ..= 2 (the threads in all)",
        ));
    assert!(!s.path("never.wav").exists());
}

#[test]
fn mp3_input_works() {
    let s = Setup::new();
    s.extract(&data("tone.mp3"), &s.path("vocals.wav"))
        .arg("--format")
        .arg("24")
        .assert()
        .success();
    let out = read_audio(s.path("vocals.wav")).unwrap();
    assert_eq!(
        (out.sample_rate, out.nb_channels(), out.nb_frames()),
        (44100, 2, 44100)
    );
}

#[test]
fn bad_inputs_fail_naming_the_file_and_leave_nothing() {
    let s = Setup::new();
    let out = s.path("vocals.wav");

    s.extract(&s.path("missing.wav"), &out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.wav"));

    let text = s.path("notes.wav");
    std::fs::write(&text, "not audio at all\n".repeat(10)).unwrap();
    s.extract(&text, &out).assert().code(2).stderr(
        predicate::str::contains("notes.wav")
            .and(predicate::str::contains("not a recognised audio file")),
    );

    let good = s.path("good.wav");
    write_tones(&good, 44100, 2, 20_000);
    let bytes = std::fs::read(&good).unwrap();
    let truncated = s.path("truncated.wav");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    s.extract(&truncated, &out).assert().code(2).stderr(
        predicate::str::contains("truncated.wav").and(predicate::str::contains("truncated")),
    );

    // A folder that cannot be made (a file is in the way); missing folders are made.
    s.extract(&good, &good.join("sub/vocals.wav"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("vocals.wav"));

    s.extract(&good, &good)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("good.wav").and(predicate::str::contains("input")));
    assert_eq!(
        std::fs::read(&good).unwrap(),
        bytes,
        "the input is untouched"
    );
    assert!(!out.exists(), "no output after failures");
}

#[test]
fn several_models_write_every_target_and_the_residual() {
    let s = Setup::new();
    tiny_model(&s.path("bass"), "bass");
    let mix = s.path("song.wav");
    write_tones(&mix, 22050, 1, 10_000);
    saex()
        .args(["extract", "--quiet", "--device", "cpu", "--model"])
        .arg(s.path("vocals"))
        .arg("--model")
        .arg(s.path("bass"))
        .arg("--mix")
        .arg(&mix)
        .arg("--out-dir")
        .arg(s.path("stems"))
        .assert()
        .success();
    for name in ["vocals.wav", "bass.wav", "residual.wav"] {
        let out = read_audio(s.path("stems").join(name)).unwrap();
        assert_eq!(out.nb_frames(), 10_000, "{name}");
    }
}

fn outputs_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(tracks) = std::fs::read_dir(dir) {
        for track in tracks.flatten() {
            if track.path().join("vocals.wav").is_file() {
                found.push(track.file_name().to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn batch_survives_a_corrupt_file_and_skips_finished_ones() {
    let s = Setup::new();
    let input = s.path("mixes");
    std::fs::create_dir_all(input.join("live")).unwrap();
    write_tones(&input.join("a.wav"), 22050, 2, 8000);
    write_tones(&input.join("live/b.wav"), 44100, 1, 9000);
    std::fs::write(input.join("c.wav"), b"RIFF....WAVEjunk").unwrap();
    std::fs::copy(data("tone.mp3"), input.join("d.mp3")).unwrap();
    let output = s.path("separated");

    s.batch(&input, &output).assert().code(1).stderr(
        predicate::str::contains("c.wav")
            .and(predicate::str::contains("3 processed, 0 skipped, 1 failed")),
    );
    assert_eq!(outputs_under(&output), ["a", "d"]);
    assert_eq!(
        read_audio(output.join("live/b/vocals.wav"))
            .unwrap()
            .nb_frames(),
        9000
    );
    assert!(!output.join("c").join("vocals.wav").exists());

    std::fs::remove_file(input.join("c.wav")).unwrap();
    s.batch(&input, &output)
        .assert()
        .success()
        .stderr(predicate::str::contains("0 processed, 3 skipped, 0 failed"));
}

#[test]
fn shards_are_disjoint_and_cover_all_files() {
    let s = Setup::new();
    let input = s.path("mixes");
    std::fs::create_dir_all(&input).unwrap();
    for name in ["a", "b", "c", "d", "e"] {
        write_tones(&input.join(format!("{name}.wav")), 22050, 1, 3000);
    }
    let mut seen = Vec::new();
    for i in 0..3 {
        let out = s.path(&format!("shard{i}"));
        s.batch(&input, &out)
            .arg("--shard")
            .arg(format!("{i}/3"))
            .arg("--quiet")
            .assert()
            .success();
        seen.extend(outputs_under(&out));
    }
    seen.sort();
    assert_eq!(
        seen,
        ["a", "b", "c", "d", "e"],
        "each file in exactly one shard"
    );

    // The same slice from Slurm's variables.
    let out = s.path("slurm");
    s.batch(&input, &out)
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .arg("--quiet")
        .assert()
        .success();
    assert_eq!(outputs_under(&out), outputs_under(&s.path("shard1")));
}

#[test]
fn eval_extracts_with_a_model_then_scores() {
    let s = Setup::new();
    let track = s.path("test/song");
    std::fs::create_dir_all(&track).unwrap();
    let vocals = common::tones(22050, 2, 33_075);
    let other = common::tones(22050, 2, 33_075);
    let other = saex::AudioBuffer::new(
        22050,
        other
            .channels
            .iter()
            .map(|c| c.iter().rev().map(|x| 0.5 * x).collect())
            .collect(),
    )
    .unwrap();
    let mix = saex::AudioBuffer::new(
        22050,
        vocals
            .channels
            .iter()
            .zip(&other.channels)
            .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x + y).collect())
            .collect(),
    )
    .unwrap();
    for (name, audio) in [("vocals", &vocals), ("other", &other), ("mixture", &mix)] {
        saex::write_wav(
            track.join(format!("{name}.wav")),
            audio,
            saex::SampleFormat::Float32,
        )
        .unwrap();
    }
    saex()
        .args(["eval", "--device", "cpu", "--model"])
        .arg(s.path("vocals"))
        .arg("--data")
        .arg(s.path("test"))
        .arg("--out")
        .arg(s.path("scores"))
        .assert()
        .success()
        .stdout(predicate::str::contains("vocals").and(predicate::str::contains("accompaniment")));
    assert!(s.path("scores/test/song.json").is_file());
    assert!(s.path("scores/summary.json").is_file());

    // --save-scores: both masks and both oracles, recorded in the model's config.json by saex
    // and read back by `saex info` through the typed config.
    saex()
        .args(["eval", "--device", "cpu", "--save-scores", "--model"])
        .arg(s.path("vocals"))
        .arg("--data")
        .arg(s.path("test"))
        .arg("--out")
        .arg(s.path("saved"))
        .assert()
        .success();
    let config = saex::ModelConfig::read(&s.path("vocals/config.json")).unwrap();
    let test_split = saex::eval::split_name(&s.path("test"));
    assert!(test_split.ends_with("/test"), "{test_split}");
    let scores = config
        .scores
        .get(&test_split)
        .expect("test scores in config.json");
    assert_eq!(scores.data, s.path("test").display().to_string());
    for method in saex::eval::SCORED_METHODS {
        let m = &scores.methods[method];
        assert_eq!(m.nb_tracks, 1, "{method}");
        assert!(m.sdr("vocals").is_some(), "{method}: {m:?}");
        assert!(m.sources.contains_key("accompaniment"), "{method}: {m:?}");
        assert!(s
            .path(&format!("saved/vocals-{method}/summary.json"))
            .is_file());
    }
    // The recorded medians are those of each method's summary.
    for method in saex::eval::SCORED_METHODS {
        let path = s.path(&format!("saved/vocals-{method}/summary.json"));
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let vocals = summary["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["target"] == "vocals")
            .unwrap();
        assert_eq!(
            vocals["metrics"]["SDR"].as_f64(),
            scores.methods[method].sdr("vocals"),
            "{method}"
        );
    }
    saex()
        .args(["info", "--model"])
        .arg(s.path("vocals"))
        .assert()
        .success()
        .stdout(predicate::str::contains("irm_oracle vocals SDR"));

    // A second split is recorded beside the first, under its folder's name.
    let ood_song = s.path("ood/song");
    std::fs::create_dir_all(&ood_song).unwrap();
    for entry in std::fs::read_dir(s.path("test/song")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), ood_song.join(entry.file_name())).unwrap();
    }
    saex()
        .args(["eval", "--device", "cpu", "--save-scores", "--model"])
        .arg(s.path("vocals"))
        .arg("--data")
        .arg(s.path("ood"))
        .assert()
        .success();
    let config = saex::ModelConfig::read(&s.path("vocals/config.json")).unwrap();
    let splits: Vec<&String> = config.scores.iter().map(|(split, _)| split).collect();
    assert_eq!(splits.len(), 2);
    assert!(
        splits[0].ends_with("/ood") && splits[1] == &test_split,
        "{splits:?}"
    );
    assert_eq!(config.scores.get(&test_split), Some(scores));
}

#[test]
fn four_stems_add_up_to_the_mix() {
    let dir = tempfile::tempdir().unwrap();
    let mix = dir.path().join("song.wav");
    write_tones(&mix, 44100, 2, 30_000);
    saex()
        .args(["extract", "--mix"])
        .arg(&mix)
        .args(["--stems", "4", "--format", "f32", "--out-dir"])
        .arg(dir.path().join("stems"))
        .assert()
        .success()
        .stderr(predicate::str::contains("(and other, the residual)"));
    let input = read_audio(&mix).unwrap();
    let mut sum = vec![vec![0.0f32; input.nb_frames()]; input.nb_channels()];
    for stem in ["vocals", "drums", "bass", "other"] {
        let out = read_audio(dir.path().join(format!("stems/{stem}.wav"))).unwrap();
        assert_eq!(
            (out.sample_rate, out.nb_channels(), out.nb_frames()),
            (44100, 2, 30_000),
            "{stem}"
        );
        for (acc, channel) in sum.iter_mut().zip(&out.channels) {
            for (a, v) in acc.iter_mut().zip(channel) {
                *a += v;
            }
        }
    }
    // The joint Wiener mask shares each bin out exactly; the rest is float rounding.
    let worst = sum
        .iter()
        .flatten()
        .zip(input.channels.iter().flatten())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst < 1e-4,
        "the stems differ from the mix by up to {worst}"
    );
    assert_eq!(
        common::listing(&dir.path().join("stems")),
        ["bass.wav", "drums.wav", "other.wav", "vocals.wav"]
    );
}

#[test]
fn two_stems_in_a_batch_and_stems_with_model_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("in")).unwrap();
    write_tones(&dir.path().join("in/a.wav"), 22050, 1, 8000);
    saex()
        .args(["batch", "--in"])
        .arg(dir.path().join("in"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .args(["--stems", "2", "-q"])
        .assert()
        .success();
    assert_eq!(
        common::listing(&dir.path().join("out/a")),
        ["accompaniment.wav", "vocals.wav"]
    );
    saex()
        .args(["extract", "--mix"])
        .arg(dir.path().join("in/a.wav"))
        .args(["--stems", "4", "--model", "bass", "--out-dir"])
        .arg(dir.path().join("x"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("cannot be used with"));
    saex()
        .args(["extract", "--mix"])
        .arg(dir.path().join("in/a.wav"))
        .args(["--stems", "5", "--out-dir"])
        .arg(dir.path().join("x"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("expected 2 or 4"));
    assert!(!dir.path().join("x").exists());
}

/// A folder of mixtures beside their stems (MUSDB18's layout) gets a hint to separate the
/// mixtures alone; with `--include` the stems are left alone and no hint is given.
#[test]
fn batch_over_a_dataset_hints_at_include() {
    let s = Setup::new();
    let input = s.path("musdb");
    for name in ["mixture", "vocals", "drums"] {
        std::fs::create_dir_all(input.join("song")).unwrap();
        write_tones(&input.join(format!("song/{name}.wav")), 22050, 1, 3000);
    }
    s.batch(&input, &s.path("all"))
        .assert()
        .success()
        .stderr(predicate::str::contains("1 folder(s) under"))
        .stderr(predicate::str::contains("--include '**/mixture.*'"));
    s.batch(&input, &s.path("mixtures"))
        .args(["--include", "**/mixture.*"])
        .assert()
        .success()
        .stderr(predicate::str::contains("hint").not());
    assert_eq!(common::listing(&s.path("mixtures/song")), ["mixture"]);
}
