//! MUSDB18's `NAME.stem.mp4` (five AAC streams: mixture, drums, bass, other, vocals) as a
//! track of a data folder for training and evaluation, and as a mix to extract from (its
//! stream 0). The fixture is tests/data/tiny.stem.mp4 (scripts/make-test-media.sh).

use crate::common::{self, data, saex, Setup};
use saex::eval::ReferenceTrack;
use std::path::Path;

/// A data folder of stems files: `<root>/<split>/<name>.stem.mp4`, copies of the fixture.
fn stems_folder(root: &Path, tracks: &[(&str, &str)]) {
    for (split, name) in tracks {
        let dir = root.join(split);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(data("tiny.stem.mp4"), dir.join(format!("{name}.stem.mp4"))).unwrap();
    }
}

#[test]
fn a_stems_file_is_a_track_of_five_stems() {
    let track = saex::Track::open(&data("tiny.stem.mp4"), "vocals").unwrap();
    assert_eq!(track.name(), "tiny");
    let names: Vec<&str> = track.stems().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["bass", "drums", "other", "vocals"]);
    let streams: Vec<usize> = track.stems().iter().map(|s| s.stream).collect();
    assert_eq!(streams, [2, 1, 3, 4]);
    assert_eq!(track.mixture().unwrap().stream, 0);
    assert_eq!(
        (track.sample_rate, track.nb_channels, track.nb_samples),
        (44100, 2, 44100)
    );

    // Read whole for evaluation: the mixture is stream 0, each stem its own tone.
    let reference = ReferenceTrack::load(&data("tiny.stem.mp4")).unwrap();
    assert_eq!(reference.name, "tiny");
    let level = |x: &[f32], freq: f64| {
        let (mut re, mut im) = (0.0f64, 0.0f64);
        for (i, &v) in x.iter().enumerate() {
            let phase = 2.0 * std::f64::consts::PI * freq * i as f64 / 44100.0;
            re += v as f64 * phase.cos();
            im += v as f64 * phase.sin();
        }
        2.0 * (re * re + im * im).sqrt() / x.len() as f64
    };
    for (name, freq) in [
        ("drums", 200.0),
        ("bass", 300.0),
        ("other", 500.0),
        ("vocals", 700.0),
    ] {
        let stem = reference.stem(name).unwrap();
        assert_eq!(stem.audio.nb_frames(), 44100, "{name}");
        let own = level(&stem.audio.channels[0][4410..39690], freq);
        assert!((own - 0.2).abs() < 0.03, "{name}: {own} at {freq} Hz");
        let in_mix = level(&reference.mixture.channels[1][4410..39690], freq);
        assert!(
            (in_mix - 0.2).abs() < 0.03,
            "mixture: {in_mix} at {freq} Hz"
        );
    }

    // Another number of streams is refused, naming the file and the count.
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.stem.mp4");
    std::fs::copy(data("tone.m4a"), &one).unwrap();
    let err = saex::Track::open(&one, "vocals").unwrap_err().to_string();
    assert!(
        err.contains("one.stem.mp4")
            && err.contains(
                "expected 5 audio streams (mixture, drums, bass, other, vocals), found 1"
            ),
        "{err}"
    );
}

#[test]
fn eval_scores_a_folder_of_stems_files() {
    let dir = tempfile::tempdir().unwrap();
    stems_folder(dir.path(), &[("test", "a"), ("test", "b")]);
    let out = dir.path().join("out");
    saex()
        .args(["eval", "--data"])
        .arg(dir.path().join("test"))
        .args(["--oracle", "mixture", "--targets", "vocals", "--out"])
        .arg(&out)
        .assert()
        .success();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["targets"][0]["target"], "vocals");
    assert_eq!(summary["targets"][0]["nb_tracks"], 2, "{summary}");
    // Four equal tones: the mixture as the vocals estimate is about 10 log10(1/3) dB off.
    let sdr = summary["targets"][0]["metrics"]["SDR"].as_f64().unwrap();
    assert!((-8.0..-2.0).contains(&sdr), "mixture SDR {sdr}");
    assert!(out.join("test/a.json").is_file());
}

#[test]
fn train_reads_stems_files_and_extract_separates_their_mixture() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("musdb");
    stems_folder(&root, &[("train", "a"), ("train", "b"), ("valid", "c")]);
    let model = dir.path().join("model");
    saex()
        .args(["train", "--data"])
        .arg(&root)
        .arg("--out")
        .arg(&model)
        .args(common::TINY_TRAIN)
        .args([
            "--layers",
            "1",
            "--epochs-per-stage",
            "1",
            "--finetune-epochs",
            "0",
        ])
        .args(["--frames-per-epoch", "300", "--seed", "3", "--quiet"])
        .assert()
        .success();
    assert!(model.join("model.safetensors").is_file());

    // `extract --mix x.stem.mp4` separates stream 0, the mixture, to its length.
    let s = Setup::new();
    let out = s.path("vocals.wav");
    s.extract(&data("tiny.stem.mp4"), &out).assert().success();
    let vocals = saex::read_audio(&out).unwrap();
    assert_eq!((vocals.nb_channels(), vocals.nb_frames()), (2, 44100));
}
