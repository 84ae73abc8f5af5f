//! `saex eval` end to end on small generated track folders: museval-format JSON, summary, the
//! oracles, and the messages and exit code when some inputs are bad.

use crate::common::saex;
use predicates::prelude::*;
use saex::{write_wav, AudioBuffer, SampleFormat};
use std::path::Path;

const RATE: u32 = 8000;
const NB_FRAMES: usize = 8000 * 3 + 500;

fn tone(freq: f32, amp: f32, phase: f32) -> Vec<f32> {
    (0..NB_FRAMES)
        .map(|i| amp * (2.0 * std::f32::consts::PI * freq * i as f32 / RATE as f32 + phase).sin())
        .collect()
}

fn noise(seed: u32, amp: f32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    (0..NB_FRAMES)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            amp * (state as f32 / u32::MAX as f32 - 0.5)
        })
        .collect()
}

fn write(path: &Path, channels: Vec<Vec<f32>>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    write_wav(
        path,
        &AudioBuffer::new(RATE, channels).unwrap(),
        SampleFormat::Float32,
    )
    .unwrap();
}

fn add(a: &[f32], b: &[f32], gain: f32) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x + gain * y).collect()
}

/// Two stereo tracks with vocals, bass and drums; estimates of vocals for both.
fn make_folders(root: &Path) {
    for t in 0..2u32 {
        let track = root.join(format!("data/test/song{t}"));
        let vocals = vec![tone(440.0 + t as f32, 0.2, 0.0), tone(442.0, 0.15, 0.4)];
        let bass = vec![tone(82.0, 0.3, 0.0), tone(82.0, 0.25, 0.1)];
        let drums = vec![noise(1 + t, 0.2), noise(7 + t, 0.2)];
        write(&track.join("vocals.wav"), vocals.clone());
        write(&track.join("bass.wav"), bass.clone());
        write(&track.join("drums.wav"), drums.clone());
        let estimate = vec![
            add(&add(&vocals[0], &noise(11 + t, 0.05), 1.0), &bass[0], 0.1),
            add(&vocals[1], &drums[1], 0.2),
        ];
        write(&root.join(format!("est/song{t}/vocals.wav")), estimate);
    }
}

#[test]
fn scores_folders_in_museval_format() {
    let dir = tempfile::tempdir().unwrap();
    make_folders(dir.path());
    saex()
        .current_dir(dir.path())
        .args([
            "eval",
            "--reference",
            "data/test",
            "--estimate",
            "est",
            "--out",
            "out",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("| vocals |"))
        .stdout(predicate::str::contains("| accompaniment |"));
    let json = std::fs::read_to_string(dir.path().join("out/test/song0.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let targets = value["targets"].as_array().unwrap();
    assert_eq!(targets[0]["name"], "vocals");
    assert_eq!(targets[1]["name"], "accompaniment");
    let frames = targets[0]["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 3, "3.06 s at 1 s windows: 3 windows");
    assert_eq!(frames[2]["time"], 2.0);
    let sdr = frames[0]["metrics"]["SDR"].as_f64().unwrap();
    assert!(sdr > 5.0 && sdr < 30.0, "SDR {sdr}");
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["targets"][0]["nb_tracks"], 2);
    assert!(dir.path().join("out/summary.md").is_file());
}

#[test]
fn oracles_order_ceiling_above_floor() {
    let dir = tempfile::tempdir().unwrap();
    make_folders(dir.path());
    let median_sdr = |oracle: &str| -> f64 {
        let out = format!("out-{oracle}");
        saex()
            .current_dir(dir.path())
            .args([
                "eval",
                "--data",
                "data/test",
                "--oracle",
                oracle,
                "--targets",
                "vocals",
            ])
            .args(["--out", &out])
            .assert()
            .success();
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(out).join("summary.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(summary["targets"][0]["target"], "vocals");
        summary["targets"][0]["metrics"]["SDR"].as_f64().unwrap()
    };
    let irm = median_sdr("irm");
    let mixture = median_sdr("mixture");
    assert!(irm > 15.0, "IRM SDR {irm}");
    assert!(mixture < 0.0, "mixture SDR {mixture}");
}

#[test]
fn bad_tracks_are_reported_and_the_others_scored() {
    let dir = tempfile::tempdir().unwrap();
    make_folders(dir.path());
    write(
        &dir.path().join("est/song1/vocals.wav"),
        vec![vec![0.1; NB_FRAMES - 10]; 2],
    );
    write(
        &dir.path().join("est/song0/bass.wav"),
        vec![vec![0.0; NB_FRAMES]; 2],
    );
    saex()
        .current_dir(dir.path())
        .args(["eval", "--reference", "data/test", "--estimate", "est"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("| vocals |"))
        .stderr(predicate::str::contains(format!(
            "est/song1/vocals.wav: {} frames, expected {NB_FRAMES} as data/test/song1/bass.wav",
            NB_FRAMES - 10
        )))
        .stderr(predicate::str::contains(
            "est/song0/bass.wav: silent estimate (all samples zero)",
        ));
}

#[test]
fn missing_reference_target_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    make_folders(dir.path());
    write(
        &dir.path().join("est/song0/piano.wav"),
        vec![tone(300.0, 0.1, 0.0); 2],
    );
    saex()
        .current_dir(dir.path())
        .args(["eval", "--reference", "data/test", "--estimate", "est"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "data/test/song0/piano.wav: missing reference for target \"piano\" (the track has bass, drums, vocals)",
        ));
}

#[test]
fn reference_of_vocals_and_accompaniment_is_scored() {
    let dir = tempfile::tempdir().unwrap();
    let track = dir.path().join("ref/song");
    let vocals = vec![tone(440.0, 0.2, 0.0), tone(442.0, 0.15, 0.4)];
    let accompaniment = vec![noise(3, 0.2), noise(5, 0.2)];
    write(&track.join("vocals.wav"), vocals.clone());
    write(&track.join("accompaniment.wav"), accompaniment.clone());
    let estimate = vec![
        add(&vocals[0], &accompaniment[0], 0.1),
        add(&vocals[1], &accompaniment[1], 0.1),
    ];
    write(&dir.path().join("est/song/vocals.wav"), estimate);
    saex()
        .current_dir(dir.path())
        .args(["eval", "--reference", "ref", "--estimate", "est"])
        .assert()
        .success()
        .stdout(predicate::str::contains("| vocals |"))
        .stdout(predicate::str::contains("| accompaniment |"));
    // The oracle does not take the residual file for a target of its own.
    saex()
        .current_dir(dir.path())
        .args(["eval", "--data", "ref", "--oracle", "irm"])
        .assert()
        .success()
        .stdout(predicate::str::contains("| vocals |"))
        .stdout(predicate::str::contains("accompaniment_accompaniment").not());
}

#[test]
fn silent_reference_targets_are_skipped_not_failed() {
    let dir = tempfile::tempdir().unwrap();
    make_folders(dir.path());
    // A third track without vocals: its vocals stem is silent.
    let track = dir.path().join("data/test/song2");
    write(&track.join("vocals.wav"), vec![vec![0.0; NB_FRAMES]; 2]);
    write(&track.join("bass.wav"), vec![tone(82.0, 0.3, 0.0); 2]);
    write(
        &track.join("drums.wav"),
        vec![noise(9, 0.2), noise(10, 0.2)],
    );
    saex()
        .current_dir(dir.path())
        .args([
            "eval",
            "--data",
            "data/test",
            "--oracle",
            "irm",
            "--targets",
            "vocals",
        ])
        .args(["--out", "out"])
        .assert()
        .success()
        .stderr(predicate::str::contains("song2: vocals: silent reference"))
        .stdout(predicate::str::contains("1 target(s) skipped"))
        .stdout(predicate::str::contains("failure").not());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["skipped"].as_array().unwrap().len(), 1);
    assert_eq!(summary["targets"][0]["nb_tracks"], 2);
}

/// `--model NAME` is a shipped model's name, found as extract finds it (here through
/// SAEX_MODELS).
#[test]
fn a_model_by_name_is_separated_and_scored() {
    let dir = tempfile::tempdir().unwrap();
    make_folders(dir.path());
    crate::common::tiny_model(&dir.path().join("models/vocals"), "vocals");
    saex()
        .current_dir(dir.path())
        .env("SAEX_MODELS", dir.path().join("models"))
        .args(["eval", "--data", "data/test", "--model", "vocals"])
        .args(["--device", "cpu", "--out", "out"])
        .assert()
        .success()
        .stdout(predicate::str::contains("| vocals |"));
    assert!(dir.path().join("out/test/song1.json").is_file());
}

/// Estimates in any format saex reads are scored (batch writes FLAC with `--type flac`): eval
/// read only `<target>.wav` and said "no estimates". A reference track without estimates is
/// named, not silently left out.
#[test]
fn flac_estimates_are_scored_and_a_missing_track_is_named() {
    let dir = tempfile::tempdir().unwrap();
    make_folders(dir.path());
    let est = dir.path().join("est");
    let wav = est.join("song0/vocals.wav");
    let audio = saex::read_audio(&wav).unwrap();
    let mut writer = saex::AudioWriter::create(
        est.join("song0/vocals.flac"),
        audio.sample_rate,
        2,
        saex::OutputFormat::from(SampleFormat::Pcm16),
    )
    .unwrap();
    writer.write(&audio.channels).unwrap();
    writer.finish().unwrap();
    std::fs::remove_file(&wav).unwrap();
    std::fs::remove_dir_all(est.join("song1")).unwrap();
    saex()
        .current_dir(dir.path())
        .args(["eval", "--reference", "data/test", "--estimate", "est"])
        .assert()
        .success()
        .stdout(predicate::str::contains("| vocals |"))
        .stderr(predicate::str::contains(
            "song1: no estimates for this track",
        ));
}

#[test]
fn the_high_band_is_scored_alone_with_above() {
    // The estimate has the vocals' 3 kHz tone right and their 440 Hz tone wrong (bass instead):
    // poor over the whole band, near perfect above 2 kHz.
    let dir = tempfile::tempdir().unwrap();
    let track = dir.path().join("data/test/song");
    let vocals = vec![add(&tone(440.0, 0.2, 0.0), &tone(3000.0, 0.1, 0.3), 1.0)];
    let bass = vec![tone(82.0, 0.3, 0.0)];
    write(&track.join("vocals.wav"), vocals);
    write(&track.join("bass.wav"), bass.clone());
    let estimate = vec![add(&tone(3000.0, 0.1, 0.3), &bass[0], 0.5)];
    write(&dir.path().join("est/song/vocals.wav"), estimate);
    let median_sdr = |above: Option<&str>| -> f64 {
        let out = dir.path().join(format!("out-{}", above.unwrap_or("full")));
        let mut command = saex();
        command
            .current_dir(dir.path())
            .args(["eval", "--reference", "data/test", "--estimate", "est"])
            .arg("--out")
            .arg(&out);
        if let Some(hz) = above {
            command.args(["--above", hz]);
        }
        command.assert().success().stdout(predicate::str::contains(
            above.map_or("est: BSS".to_string(), |hz| format!("(above {hz} Hz)")),
        ));
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(
            summary.get("band").and_then(|b| b.as_str()),
            above.map(|hz| format!("above {hz} Hz")).as_deref()
        );
        summary["targets"][0]["metrics"]["SDR"].as_f64().unwrap()
    };
    let (full, high) = (median_sdr(None), median_sdr(Some("2000")));
    assert!(full < 5.0, "full-band SDR {full}");
    assert!(high > 30.0, "high-band SDR {high}");
    saex()
        .current_dir(dir.path())
        .args(["eval", "--reference", "data/test", "--estimate", "est"])
        .args(["--above", "4000"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("Nyquist"));
}

/// `--data` on a dataset's root (its train and test folders) is refused with the split to give,
/// where it scored the split folders as if they were tracks.
#[test]
fn a_dataset_root_is_refused_with_the_split_to_give() {
    let dir = tempfile::tempdir().unwrap();
    make_folders(dir.path());
    std::fs::create_dir_all(dir.path().join("data/train/song9")).unwrap();
    std::fs::copy(
        dir.path().join("data/test/song0/vocals.wav"),
        dir.path().join("data/train/song9/vocals.wav"),
    )
    .unwrap();
    saex()
        .current_dir(dir.path())
        .args(["eval", "--data", "data", "--oracle", "irm"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "a dataset root: test, train hold tracks",
        ))
        .stderr(predicate::str::contains("give one split, e.g. data/train"));
}
