//! The edges a new-user trial found (issue 32), each reproduced in a temporary folder: paths
//! never leave the folders they were given. Rows in docs/reliability.md.

use crate::common::{listing, saex, write_tones, Setup, TINY_TRAIN};
use saex::audio::OutputFormat;
use saex::batch::{BatchJob, Shard};

/// `--filename '{folder}/{target}.wav'` (the README's MUSDB template) with a mix directly under
/// `--in`: `{folder}` is empty, and the outputs once went to `/vocals.wav` and
/// `/accompaniment.wav`. The plan is checked first, so that a regression fails here without
/// writing anywhere but the temporary folder.
#[test]
fn an_empty_folder_placeholder_stays_below_the_output_folder() {
    let s = Setup::new();
    let (input, out) = (s.path("in"), s.path("out"));
    std::fs::create_dir(&input).unwrap();
    write_tones(&input.join("mixture.wav"), 22050, 1, 4000);
    for (template, expected) in [
        ("{folder}/{target}.wav", ["accompaniment.wav", "vocals.wav"]),
        (
            "{folder}/{name}/{target}.wav",
            ["mixture/accompaniment.wav", "mixture/vocals.wav"],
        ),
    ] {
        let job = BatchJob {
            input_dir: input.clone(),
            output_dir: out.clone(),
            template: template.into(),
            residual: Some("accompaniment".into()),
            shard: Shard::ALL,
            overwrite: true,
            format: OutputFormat::default(),
            include: vec!["mixture.wav".into()],
        };
        let plan = job.plan(&["vocals"]).unwrap();
        for path in plan[0].outputs.paths() {
            assert!(path.starts_with(&out), "{template}: {}", path.display());
        }
        s.batch(&input, &out)
            .args(["--filename", template, "--residual", "accompaniment"])
            .args(["--include", "mixture.wav", "--overwrite"])
            .assert()
            .success();
        for name in expected {
            assert!(
                out.join(name).is_file(),
                "{template}: no {name} in {:?}",
                listing(&out)
            );
        }
        std::fs::remove_dir_all(&out).unwrap();
    }
}

/// An empty `./bass` in the current folder hid the shipped model: `--model bass` failed on
/// `bass/config.json`. A bare name is the shipped model; `./bass` names the folder.
#[test]
fn a_folder_named_like_a_shipped_model_does_not_hide_it() {
    let s = Setup::new();
    let cwd = s.path("work");
    std::fs::create_dir_all(cwd.join("vocals")).unwrap();
    saex()
        .current_dir(&cwd)
        .args(["info", "--model", "vocals"])
        .assert()
        .success();
    saex()
        .current_dir(&cwd)
        .args(["info", "--model", "./vocals"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("config.json"));
}

/// `SAEX_MODELS=` (set, empty) is as good as unset; an unknown name lists the shipped ones.
#[test]
fn an_empty_saex_models_is_unset_and_unknown_names_list_the_shipped_ones() {
    saex()
        .env("SAEX_MODELS", "")
        .args(["info", "--model", "vocals"])
        .assert()
        .success();
    saex()
        .args(["info", "--model", "other"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "the shipped models are bass, drums, vocals",
        ));
}

/// `eval --save-scores --model vocals` rewrote the shipped model's config.json (and an
/// installed one's under PREFIX/share): now refused before any work unless `--force`.
#[test]
fn save_scores_leaves_a_shipped_model_alone() {
    let shipped = saex::locate::find_model("vocals")
        .unwrap()
        .join("config.json");
    let before = std::fs::read(&shipped).unwrap();
    let s = Setup::new();
    std::fs::create_dir_all(s.path("data/test/song")).unwrap();
    saex()
        .args([
            "eval",
            "--device",
            "cpu",
            "--save-scores",
            "--model",
            "vocals",
            "--data",
        ])
        .arg(s.path("data/test"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("a shipped or installed model"));
    assert_eq!(std::fs::read(&shipped).unwrap(), before);
}

/// A run never interrupted stored `"data": "data"` (relative), so `train --resume --out
/// /abs/model` from another folder could not find its data; it is absolute now.
#[test]
fn a_training_run_records_its_data_absolute_and_resumes_from_elsewhere() {
    use saex::train::{write_dataset, SynthSpec};
    let s = Setup::new();
    let work = s.path("work");
    let spec = SynthSpec {
        sample_rate: 8000,
        nb_channels: 1,
        seconds: 2.0,
        nb_train: 2,
        nb_valid: 1,
        seed: 1,
    };
    write_dataset(&work.join("data"), &spec).unwrap();
    let schedule = [
        "--layers",
        "1",
        "--epochs-per-stage",
        "1",
        "--frames-per-epoch",
        "500",
    ];
    saex()
        .current_dir(&work)
        .args(["train", "--quiet", "--data", "data", "--out", "model"])
        .args(TINY_TRAIN)
        .args(schedule)
        .args(["--finetune-epochs", "0"])
        .assert()
        .success();
    let config = saex::ModelConfig::read(&work.join("model/config.json")).unwrap();
    let data = std::path::PathBuf::from(config.training.unwrap().data);
    assert!(data.is_absolute(), "{}", data.display());
    assert_eq!(
        data.canonicalize().unwrap(),
        work.join("data").canonicalize().unwrap()
    );
    let elsewhere = s.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    saex()
        .current_dir(&elsewhere)
        .args([
            "train",
            "--quiet",
            "--resume",
            "--finetune-epochs",
            "1",
            "--out",
        ])
        .arg(work.join("model"))
        .assert()
        .success();
}

/// `ln -s .. in/x/up` gave the same file 41 times in a 40-level `x/up/x/up/...` output tree,
/// then "Too many levels of symbolic links", exit 1. Each folder is read once now, and the link
/// is named as skipped.
#[test]
fn batch_reads_a_linked_folder_once() {
    let s = Setup::new();
    let (input, out) = (s.path("in"), s.path("out"));
    std::fs::create_dir_all(input.join("x")).unwrap();
    write_tones(&input.join("x/song.wav"), 22050, 1, 4000);
    std::os::unix::fs::symlink("..", input.join("x/up")).unwrap();
    s.batch(&input, &out)
        .arg("--quiet")
        .assert()
        .success()
        .stderr(predicates::str::contains("1 processed"));
    assert_eq!(listing(&out), ["x"]);
    assert_eq!(listing(&out.join("x")), ["song"]);
    let found = saex::batch::discover(&input, &[]).unwrap();
    assert_eq!(found.audio, [input.join("x/song.wav")]);
    assert_eq!(found.repeated, [input.join("x/up")]);
}

/// `--jobs 0` was accepted; `--bitrate` with a lossless output was ignored without a word.
#[test]
fn a_zero_job_count_and_a_bit_rate_for_flac_are_refused() {
    let s = Setup::new();
    let input = s.path("in");
    std::fs::create_dir(&input).unwrap();
    write_tones(&input.join("a.wav"), 22050, 1, 4000);
    s.batch(&input, &s.path("out"))
        .args(["--jobs", "0"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("invalid value '0' for '--jobs"));
    s.extract(&input.join("a.wav"), &s.path("a.flac"))
        .args(["--bitrate", "128"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "--bitrate 128 applies to MP3 and Ogg Vorbis",
        ));
    assert!(!s.path("a.flac").exists());
}

/// `--out -` to a terminal wrote binary audio onto it. Run under a pseudo-terminal with
/// util-linux's `script` (its transcript goes to a file of the temporary folder).
#[test]
fn audio_is_not_written_to_a_terminal() {
    let s = Setup::new();
    let mix = s.path("song.wav");
    write_tones(&mix, 22050, 1, 4000);
    if crate::common::on_path(&["script"]).is_none() {
        crate::common::skip(
            "edges::audio_is_not_written_to_a_terminal",
            "no script (util-linux)",
            false,
        );
        return;
    }
    let command = format!(
        "{} extract --quiet --device cpu --model {} --mix {} --out -",
        env!("CARGO_BIN_EXE_saex"),
        s.path("vocals").display(),
        mix.display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command])
        .arg(s.path("transcript"))
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains("which is a terminal here"), "{shown}");
    assert!(!shown.contains("RIFF"), "{shown}");
}

/// `--residual acc.flac` beside `--out-dir d` landed in the current folder; it goes to `d`.
#[test]
fn a_relative_residual_file_goes_to_the_output_folder() {
    let s = Setup::new();
    let work = s.path("work");
    std::fs::create_dir(&work).unwrap();
    write_tones(&work.join("song.wav"), 22050, 1, 4000);
    saex()
        .current_dir(&work)
        .args(["extract", "--quiet", "--device", "cpu", "--model"])
        .arg(s.path("vocals"))
        .args([
            "--mix",
            "song.wav",
            "--out-dir",
            "d",
            "--residual",
            "acc.flac",
        ])
        .assert()
        .success();
    assert_eq!(listing(&work.join("d")), ["acc.flac", "vocals.wav"]);
    assert!(!work.join("acc.flac").exists());
}

/// `render` had no `-q`, while extract, batch, live and train have one.
#[test]
fn every_subcommand_with_quiet_takes_q() {
    for subcommand in ["extract", "batch", "live", "train", "render"] {
        let help = saex().args([subcommand, "--help"]).output().unwrap();
        let text = String::from_utf8_lossy(&help.stdout);
        if subcommand == "live" && !help.status.success() {
            continue; // Built without the live feature.
        }
        assert!(text.contains("-q, --quiet"), "{subcommand}: {text}");
    }
}

/// `saex info` listed the checkout's models folder twice (`target/release/../../models` and the
/// source tree) and called the models of `SAEX_MODELS` shipped: now each folder once, and the
/// models of `SAEX_MODELS` apart.
#[test]
fn info_lists_each_folder_once_and_saex_models_apart() {
    let s = Setup::new();
    let mine = s.path("mine");
    let vocals = saex::locate::find_model("vocals").unwrap();
    std::fs::create_dir_all(mine.join("custom")).unwrap();
    for file in ["config.json", "model.safetensors"] {
        std::fs::copy(vocals.join(file), mine.join("custom").join(file)).unwrap();
    }
    let output = saex()
        .env("SAEX_MODELS", &mine)
        .arg("info")
        .assert()
        .success()
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("shipped models: bass, drums, vocals\n")
            && stdout.contains(&format!(
                "models in SAEX_MODELS ({}): custom\n",
                mine.display()
            )),
        "{stdout}"
    );
    let places: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("search order"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l[4..].trim())
        .collect();
    let mut unique = places.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), places.len(), "{stdout}");
    assert_eq!(
        places[0],
        mine.join("vocals").display().to_string(),
        "{stdout}"
    );
}
