//! Reliability through the binary: bad input for every subcommand, injected write failures,
//! kill -9 and Ctrl-C in the middle of work, and a batch of many files. Each failure must exit
//! non-zero with a message naming the file, leave nothing partial at a final path and overwrite
//! nothing that existed. docs/reliability.md lists every case and where it is tested.

use crate::common;
use crate::render_support;
use assert_cmd::Command;
use common::{saex, write_tones, Setup};
use predicates::prelude::*;
use saex::read_audio;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_saex");
const OLD: &[u8] = b"an older output that must survive";

/// A `saex` command run by `sh` under a file-size limit of `blocks` (512 or 1024 bytes each,
/// by shell), with SIGXFSZ ignored: every write past the limit fails with EFBIG, as a full
/// disk fails with ENOSPC, through the real writer.
fn saex_with_write_limit(blocks: u32) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "ulimit -f {blocks} && trap '' XFSZ && exec \"$0\" \"$@\""
        ))
        .arg(BIN)
        .env_remove("SAEX_MODELS")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX");
    cmd
}

/// Every file and folder name under `dir`, recursively, relative and sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Hidden temporary files (`.name.XXXX.tmp`) anywhere under `dir`.
fn temp_files(dir: &Path) -> Vec<String> {
    tree(dir)
        .into_iter()
        .filter(|p| {
            Path::new(p)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect()
}

/// A RIFF/WAVE header (PCM or float `format`) announcing `data_len` bytes, followed by `data`.
fn wav_bytes(
    format: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    data_len: u32,
    data: &[u8],
) -> Vec<u8> {
    let block_align = channels.wrapping_mul(bits / 8);
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data_len).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&format.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate.wrapping_mul(block_align as u32)).to_le_bytes());
    v.extend_from_slice(&block_align.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    v.extend_from_slice(data);
    v
}

/// A 32-bit float WAV holding interleaved `samples`.
fn float_wav(rate: u32, channels: u16, samples: &[f32]) -> Vec<u8> {
    let data: Vec<u8> = samples.iter().flat_map(|x| x.to_le_bytes()).collect();
    wav_bytes(3, channels, rate, 32, data.len() as u32, &data)
}

/// Bad inputs every decoder must refuse: (file name, bytes, what the message must say).
fn bad_audio_files() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let pcm = vec![0u8; 400];
    let mut many = vec![0.25f32; 200];
    many[150] = f32::NAN;
    let mut inf = vec![0.25f32; 200];
    inf[20] = f32::INFINITY;
    vec![
        ("empty.wav", Vec::new(), "empty file"),
        ("tiny.wav", b"RI".to_vec(), "not a recognised audio file"),
        (
            "magic.wav",
            b"RIFX\x24\x00\x00\x00WAVEfmt junk junk junk junk".to_vec(),
            "not a recognised audio file",
        ),
        (
            "wave.wav",
            b"RIFF\x24\x00\x00\x00WAVXfmt junk junk junk junk".to_vec(),
            "not a WAV file",
        ),
        (
            "text.wav",
            "just some notes\n".repeat(30).into_bytes(),
            "not a recognised audio file",
        ),
        (
            "notes.flac",
            "fLaC, but only text\n".repeat(30).into_bytes(),
            "not a recognised audio file",
        ),
        (
            "lying.wav",
            wav_bytes(1, 2, 22050, 16, 400_000, &pcm),
            "truncated: the header announces 400000 bytes",
        ),
        (
            "no_channels.wav",
            wav_bytes(1, 0, 22050, 16, 400, &pcm),
            "0 channels: expected 1 to 64",
        ),
        (
            "many_channels.wav",
            wav_bytes(1, 1000, 22050, 16, 4000, &vec![0; 4000]),
            "1000 channels: expected 1 to 64",
        ),
        (
            "zero_rate.wav",
            wav_bytes(1, 1, 0, 16, 400, &pcm),
            "sample rate 0 Hz",
        ),
        (
            "huge_rate.wav",
            wav_bytes(1, 1, 1_000_000, 16, 400, &pcm),
            "sample rate 1000000 Hz: expected 1000 to 768000 Hz",
        ),
        (
            "absurd_rate.wav",
            wav_bytes(1, 2, 3_000_000_000, 16, 400, &pcm),
            "sample rate 3000000000 Hz",
        ),
        (
            "nan.wav",
            float_wav(22050, 1, &many),
            "sample 150 of channel 0 is NaN",
        ),
        (
            "inf.wav",
            float_wav(22050, 1, &inf),
            "sample 20 of channel 0 is inf",
        ),
    ]
}

#[test]
fn extract_refuses_bad_audio_naming_it_and_keeps_the_old_output() {
    let s = Setup::new();
    let inputs = s.path("inputs");
    std::fs::create_dir(&inputs).unwrap();
    let out_dir = s.path("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("vocals.wav");
    std::fs::write(&out, OLD).unwrap();
    for (name, bytes, reason) in bad_audio_files() {
        let input = inputs.join(name);
        std::fs::write(&input, &bytes).unwrap();
        s.extract(&input, &out)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!("{}: ", input.display())))
            .stderr(predicate::str::contains(reason))
            .stderr(predicate::str::contains("panicked").not());
        assert_eq!(std::fs::read(&out).unwrap(), OLD, "{name}: old output kept");
        assert_eq!(
            tree(&out_dir),
            ["vocals.wav"],
            "{name}: nothing else written"
        );
    }
}

#[test]
fn output_paths_that_cannot_be_written_are_named() {
    let s = Setup::new();
    let mix = s.path("mix.wav");
    write_tones(&mix, 22050, 1, 5000);
    let before = tree(s.dir.path());

    // A folder that is a file.
    std::fs::write(s.path("file"), b"x").unwrap();
    s.extract(&mix, &s.path("file/vocals.wav"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("file/vocals.wav"));
    // The output is a folder.
    s.extract(&mix, &s.path("vocals"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a folder"));
    // The output is the input, also through another spelling of its path.
    let other_spelling = s.dir.path().join(".").join("mix.wav");
    s.extract(&mix, &other_spelling)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("refusing to overwrite the input"));
    // A read-only folder (only checkable without root's privileges).
    let locked = s.path("locked");
    std::fs::create_dir(&locked).unwrap();
    set_mode(&locked, 0o555);
    if std::fs::write(locked.join("probe"), b"x").is_err() {
        s.extract(&mix, &locked.join("vocals.wav"))
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains("locked/vocals.wav")
                    .and(predicate::str::contains("ermission denied")),
            );
    } else {
        std::fs::remove_file(locked.join("probe")).unwrap();
        eprintln!("running as root: the read-only folder case is not checkable");
    }
    set_mode(&locked, 0o755);
    assert!(tree(&locked).is_empty());
    let mut after = tree(s.dir.path());
    after.retain(|p| p != "file" && p != "locked");
    assert_eq!(after, before, "nothing written");
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Writes a model folder whose `model.safetensors` holds `tensors`.
fn write_weights(dir: &Path, tensors: &[(String, tch::Tensor)]) {
    tch::Tensor::write_safetensors(tensors, dir.join("model.safetensors")).unwrap();
}

#[test]
fn broken_model_folders_are_refused_by_extract_and_info() {
    let s = Setup::new();
    let mix = s.path("mix.wav");
    write_tones(&mix, 22050, 1, 5000);
    let good = s.path("vocals");
    let model = saex::Model::load(&good, tch::Device::Cpu).unwrap();
    let config_text = std::fs::read_to_string(good.join("config.json")).unwrap();
    let weights = std::fs::read(good.join("model.safetensors")).unwrap();
    let config: serde_json::Value = serde_json::from_str(&config_text).unwrap();

    type Breaks = Box<dyn Fn(&Path)>;
    let with_config = |change: fn(&mut serde_json::Value)| -> Breaks {
        let mut value = config.clone();
        change(&mut value);
        Box::new(move |dir: &Path| {
            std::fs::write(dir.join("config.json"), value.to_string()).unwrap()
        })
    };
    let half = weights[..weights.len() / 2].to_vec();
    let nan: Vec<(String, tch::Tensor)> = model
        .named_parameters()
        .into_iter()
        .map(|(name, t)| {
            let t = if name == "fc2.bias" {
                t.full_like(f64::NAN)
            } else {
                t.copy()
            };
            (name, t)
        })
        .collect();
    let nan_dir = s.path("nan-weights");
    std::fs::create_dir(&nan_dir).unwrap();
    write_weights(&nan_dir, &nan);
    let nan_bytes = std::fs::read(nan_dir.join("model.safetensors")).unwrap();
    let cases: Vec<(&str, Breaks, &str)> = vec![
        (
            "missing config",
            Box::new(|d: &Path| std::fs::remove_file(d.join("config.json")).unwrap()),
            "config.json: No such file",
        ),
        (
            "missing weights",
            Box::new(|d: &Path| std::fs::remove_file(d.join("model.safetensors")).unwrap()),
            "model.safetensors: missing",
        ),
        (
            "empty weights",
            Box::new(|d: &Path| std::fs::write(d.join("model.safetensors"), b"").unwrap()),
            "model.safetensors: not a readable safetensors file",
        ),
        (
            "corrupt weights",
            Box::new(|d: &Path| {
                std::fs::write(
                    d.join("model.safetensors"),
                    b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all",
                )
                .unwrap()
            }),
            "model.safetensors: not a readable safetensors file",
        ),
        (
            "truncated weights",
            Box::new(move |d: &Path| std::fs::write(d.join("model.safetensors"), &half).unwrap()),
            "model.safetensors: not a readable safetensors file",
        ),
        (
            "NaN weights",
            Box::new(move |d: &Path| {
                std::fs::write(d.join("model.safetensors"), &nan_bytes).unwrap()
            }),
            "model.safetensors: tensor fc2.bias holds NaN or infinite values",
        ),
        (
            "wrong shape",
            with_config(|v| v["nb_bins"] = 40.into()),
            "model.safetensors: tensor fc1.weight: expected shape [40, 144]",
        ),
        (
            "fewer layers",
            with_config(|v| v["nb_layers"] = 1.into()),
            "unexpected tensor fc2.bias",
        ),
        (
            "newer format",
            with_config(|v| v["format_version"] = 99.into()),
            "config.json: model format version 99: this saex reads versions up to 1",
        ),
        (
            "text config",
            Box::new(|d: &Path| {
                std::fs::write(d.join("config.json"), "target = vocals\n").unwrap()
            }),
            "config.json: not valid JSON",
        ),
        (
            "missing field",
            with_config(|v| {
                v.as_object_mut().unwrap().remove("hop");
            }),
            "config.json: not a saex model config: missing field `hop`",
        ),
        (
            "absurd n_fft",
            with_config(|v| v["n_fft"] = (1u64 << 40).into()),
            "n_fft 1099511627776: expected an even number from 4 to 65536",
        ),
        (
            "absurd rate",
            with_config(|v| v["sample_rate"] = 0.into()),
            "sample rate 0 Hz",
        ),
    ];
    for (case, breaks, reason) in cases {
        let dir = s.path(&format!("model-{}", case.replace(' ', "-")));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("config.json"), &config_text).unwrap();
        std::fs::write(dir.join("model.safetensors"), &weights).unwrap();
        breaks(&dir);
        let out = s.path("out.wav");
        saex()
            .args(["extract", "--device", "cpu", "--quiet", "--model"])
            .arg(&dir)
            .arg("--mix")
            .arg(&mix)
            .arg("--out")
            .arg(&out)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(dir.display().to_string()))
            .stderr(predicate::str::contains(reason))
            .stderr(predicate::str::contains("panicked").not());
        assert!(!out.exists(), "{case}: no output");
        saex()
            .args(["info", "--model"])
            .arg(&dir)
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(reason));
    }
}

#[test]
fn batch_reports_each_bad_file_and_finishes_the_good_ones() {
    let s = Setup::new();
    let input = s.path("mixes");
    std::fs::create_dir(&input).unwrap();
    let bad = bad_audio_files();
    for (name, bytes, _) in &bad {
        std::fs::write(input.join(name), bytes).unwrap();
    }
    write_tones(&input.join("good.wav"), 22050, 2, 4000);
    let output = s.path("out");
    let mut assert = s
        .batch(&input, &output)
        .arg("--quiet")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "1 processed, 0 skipped, {} failed",
            bad.len()
        )));
    for (name, _, reason) in &bad {
        assert = assert.stderr(
            predicate::str::contains(format!("{}: ", input.join(name).display()))
                .and(predicate::str::contains(*reason)),
        );
    }
    assert.stderr(predicate::str::contains("panicked").not());
    assert_eq!(tree(&output), ["good", "good/vocals.wav"]);

    // A missing input folder, and an output folder that is a file, are fatal.
    s.batch(&s.path("nope"), &output)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nope: is not a folder"));
    std::fs::write(s.path("a-file"), b"x").unwrap();
    s.batch(&input, &s.path("a-file"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("a-file"));
}

#[test]
fn batch_never_takes_its_outputs_for_inputs() {
    let s = Setup::new();
    let input = s.path("music");
    std::fs::create_dir(&input).unwrap();
    write_tones(&input.join("a.wav"), 22050, 1, 3000);
    let files = tree(&input);
    s.batch(&input, &input)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is the input folder"));
    assert_eq!(tree(&input), files, "nothing written");
    // Through another spelling of the same folder.
    s.batch(&input, &input.join("."))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is the input folder"));
    // An output folder inside the input folder: its files are not inputs on a re-run.
    let inner = input.join("separated");
    for expected in [
        "1 processed, 0 skipped, 0 failed",
        "0 processed, 1 skipped, 0 failed",
    ] {
        s.batch(&input, &inner)
            .assert()
            .success()
            .stderr(predicate::str::contains(expected));
    }
    assert_eq!(tree(&inner), ["a", "a/vocals.wav"]);
}

#[test]
fn train_eval_and_render_name_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let train = |data: &Path| {
        let mut cmd = saex();
        cmd.args([
            "train", "--target", "vocals", "--device", "cpu", "--quiet", "--data",
        ])
        .arg(data)
        .arg("--out")
        .arg(p("model"));
        cmd
    };
    train(&p("nope"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nope"));
    // One track whose stems disagree, then one whose stem is not audio.
    let track = p("data/train/song");
    std::fs::create_dir_all(&track).unwrap();
    write_tones(&track.join("vocals.wav"), 8000, 2, 8000);
    write_tones(&track.join("bass.wav"), 16000, 2, 16000);
    train(&p("data"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "song/bass.wav: sample rate 16000 Hz, expected 8000 Hz like vocals.wav",
        ));
    write_tones(&track.join("bass.wav"), 8000, 2, 4000);
    train(&p("data"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "song/bass.wav: 4000 samples, expected 8000 like vocals.wav",
        ));
    std::fs::write(track.join("bass.wav"), "not audio\n".repeat(20)).unwrap();
    train(&p("data"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "song/bass.wav: not a recognised audio file",
        ));
    let mut samples = vec![0.1f32; 2 * 8000];
    samples[2 * 4000 + 1] = f32::NAN;
    std::fs::write(track.join("bass.wav"), float_wav(8000, 2, &samples)).unwrap();
    train(&p("data"))
        .args([
            "--sample-rate",
            "8000",
            "--n-fft",
            "256",
            "--hop",
            "64",
            "--bins-in",
            "64",
        ])
        .args([
            "--bins",
            "48",
            "--excerpt-seconds",
            "0.5",
            "--frames-per-epoch",
            "500",
        ])
        .args([
            "--valid-frames",
            "100",
            "--ls-frames",
            "500",
            "--layers",
            "1",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "song/bass.wav: sample 4000 of channel 1 is NaN",
        ));
    assert!(!p("model").join("config.json").exists());

    // eval: a missing folder, and a reference stem that is text.
    saex()
        .args(["eval", "--reference"])
        .arg(p("nope"))
        .arg("--estimate")
        .arg(p("nope2"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nope"));
    let reference = p("ref/song");
    std::fs::create_dir_all(&reference).unwrap();
    write_tones(&reference.join("vocals.wav"), 22050, 1, 4000);
    std::fs::write(reference.join("bass.wav"), "text\n".repeat(30)).unwrap();
    let estimate = p("est/song");
    std::fs::create_dir_all(&estimate).unwrap();
    write_tones(&estimate.join("vocals.wav"), 22050, 1, 4000);
    saex()
        .args(["eval", "--reference"])
        .arg(p("ref"))
        .arg("--estimate")
        .arg(p("est"))
        .arg("--out")
        .arg(p("scores"))
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "ref/song/bass.wav: not a recognised audio file",
        ));

    // render: a MIDI file cut short, and one that is empty.
    let song = render_support::song_midi();
    std::fs::write(p("cut.mid"), &song[..song.len() / 2]).unwrap();
    std::fs::write(p("empty.mid"), b"").unwrap();
    std::fs::write(p("font.sf2"), render_support::test_soundfont()).unwrap();
    for name in ["cut.mid", "empty.mid"] {
        saex()
            .args(["render", "--quiet", "--midi"])
            .arg(p(name))
            .arg("--soundfont")
            .arg(p("font.sf2"))
            .arg("--out")
            .arg(p("rendered"))
            .assert()
            .failure()
            .stderr(predicate::str::contains(format!(
                "{}: not a readable MIDI file",
                p(name).display()
            )));
        assert!(tree(&p("rendered")).is_empty(), "{name}: nothing rendered");
    }
}

#[test]
fn write_errors_name_the_file_and_leave_the_old_output() {
    let s = Setup::new();
    let mix = s.path("mix.wav");
    write_tones(&mix, 22050, 2, 44_100);
    let out_dir = s.path("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("vocals.wav");
    std::fs::write(&out, OLD).unwrap();
    saex_with_write_limit(16)
        .args(s.extract_args(&mix, &out))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}: File too large",
            out.display()
        )));
    assert_eq!(std::fs::read(&out).unwrap(), OLD);
    assert_eq!(tree(&out_dir), ["vocals.wav"], "no temporary file left");

    // In a batch every file fails on its own; nothing partial appears.
    let input = s.path("mixes");
    std::fs::create_dir(&input).unwrap();
    write_tones(&input.join("a.wav"), 22050, 2, 44_100);
    write_tones(&input.join("b.wav"), 22050, 2, 44_100);
    let output = s.path("separated");
    saex_with_write_limit(16)
        .args(s.batch_args(&input, &output))
        .arg("--quiet")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("a/vocals.wav: File too large"))
        .stderr(predicate::str::contains("b/vocals.wav: File too large"))
        .stderr(predicate::str::contains("0 processed, 0 skipped, 2 failed"));
    assert!(tree(&output).is_empty(), "{:?}", tree(&output));
}

/// Waits until `ready` holds (polling), panicking after a minute.
fn wait_for(what: &str, child: &mut Child, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what}: the process ended first ({status})");
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what}: timed out"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends SIGINT, as Ctrl-C does (the process may have ended already).
fn interrupt(child: &Child) {
    send_signal(child, "-INT");
}

/// Sends a signal by `kill`'s name for it, e.g. `-TERM`.
fn send_signal(child: &Child, signal: &str) {
    std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
}

/// A long mono mixture at the tiny model's rate: seconds of work for the binary.
fn long_mix(s: &Setup) -> PathBuf {
    let mix = s.path("long.wav");
    write_tones(&mix, 22050, 1, 22050 * 240);
    mix
}

#[test]
fn kill_9_during_extract_leaves_the_old_file_then_a_rerun_writes_it_whole() {
    let s = Setup::new();
    let mix = long_mix(&s);
    let out_dir = s.path("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("vocals.wav");
    std::fs::write(&out, OLD).unwrap();
    let mut child = std::process::Command::new(BIN)
        .args(s.extract_args(&mix, &out))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("temporary output", &mut child, || {
        temp_files(&out_dir).len() == 1
    });
    std::thread::sleep(Duration::from_millis(100));
    let finished_first = child.try_wait().unwrap().is_some();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    if finished_first {
        // A machine fast enough to finish first: the other allowed outcome.
        assert_eq!(read_audio(&out).unwrap().nb_frames(), 22050 * 240);
    } else {
        let now = std::fs::read(&out).unwrap();
        assert!(
            now == OLD || read_audio(&out).unwrap().nb_frames() == 22050 * 240,
            "the old file or the complete new one"
        );
    }
    // The killed run's hidden temporary file may remain; it is never taken for output.
    s.extract(&mix, &out).assert().success();
    assert_eq!(read_audio(&out).unwrap().nb_frames(), 22050 * 240);
}

#[test]
fn ctrl_c_during_extract_writes_nothing_and_removes_its_temporary_file() {
    let s = Setup::new();
    let mix = long_mix(&s);
    let out_dir = s.path("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("vocals.wav");
    std::fs::write(&out, OLD).unwrap();
    let child = std::process::Command::new(BIN)
        .args(s.extract_args(&mix, &out))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = child;
    wait_for("temporary output", &mut child, || {
        temp_files(&out_dir).len() == 1
    });
    std::thread::sleep(Duration::from_millis(100));
    interrupt(&child);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        // A machine fast enough to finish before the signal: the other allowed outcome.
        assert_eq!(read_audio(&out).unwrap().nb_frames(), 22050 * 240);
    } else {
        assert_eq!(output.status.code(), Some(130), "{stderr}");
        assert!(
            stderr.contains("interrupted; nothing was written"),
            "{stderr}"
        );
        assert_eq!(std::fs::read(&out).unwrap(), OLD);
    }
    assert_eq!(tree(&out_dir), ["vocals.wav"], "temporary file removed");
}

/// Inputs for the batch fault tests: `nb` mono files of `seconds` each.
fn batch_inputs(s: &Setup, nb: usize, seconds: usize) -> PathBuf {
    let input = s.path("mixes");
    std::fs::create_dir(&input).unwrap();
    for i in 0..nb {
        write_tones(
            &input.join(format!("{i:02}.wav")),
            22050,
            1,
            22050 * seconds,
        );
    }
    input
}

/// Spawns a batch and returns it once its first file is done.
fn batch_until_first_done(
    s: &Setup,
    input: &Path,
    output: &Path,
) -> (Child, BufReader<std::process::ChildStderr>) {
    let mut child = std::process::Command::new(BIN)
        .args(s.batch_args(input, output))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "batch ended before finishing a file"
        );
        if line.starts_with("saex: done") {
            break;
        }
    }
    (child, stderr)
}

/// Every output that exists is complete; returns how many exist.
fn check_batch_outputs(output: &Path, nb: usize, seconds: usize) -> usize {
    let mut finished = 0;
    for i in 0..nb {
        let path = output.join(format!("{i:02}/vocals.wav"));
        if path.exists() {
            assert_eq!(
                read_audio(&path).unwrap().nb_frames(),
                22050 * seconds,
                "{}",
                path.display()
            );
            finished += 1;
        }
    }
    finished
}

#[test]
fn kill_9_during_batch_then_a_rerun_does_the_rest() {
    let s = Setup::new();
    let (nb, seconds) = (8, 30);
    let input = batch_inputs(&s, nb, seconds);
    let output = s.path("out");
    let (mut child, _stderr) = batch_until_first_done(&s, &input, &output);
    child.kill().unwrap();
    child.wait().unwrap();
    let finished = check_batch_outputs(&output, nb, seconds);
    assert!(
        finished >= 1 && finished < nb,
        "{finished} finished before the kill"
    );
    s.batch(&input, &output)
        .arg("--quiet")
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "{} processed, {finished} skipped, 0 failed",
            nb - finished
        )));
    assert_eq!(check_batch_outputs(&output, nb, seconds), nb);
}

#[test]
fn ctrl_c_during_batch_keeps_finished_files_and_a_rerun_does_the_rest() {
    stop_batch_then_rerun("-INT");
}

/// SIGTERM (what Slurm and Kubernetes send to preempt a job) stops a batch like Ctrl-C.
#[test]
fn sigterm_during_batch_keeps_finished_files_and_a_rerun_does_the_rest() {
    stop_batch_then_rerun("-TERM");
}

fn stop_batch_then_rerun(signal: &str) {
    let s = Setup::new();
    let (nb, seconds) = (8, 30);
    let input = batch_inputs(&s, nb, seconds);
    let output = s.path("out");
    let (child, mut stderr) = batch_until_first_done(&s, &input, &output);
    send_signal(&child, signal);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let mut child = child;
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(
        rest.contains("run the same command again to do the rest"),
        "{rest}"
    );
    let finished = check_batch_outputs(&output, nb, seconds);
    assert!(
        finished >= 1 && finished < nb,
        "{finished} finished before {signal}"
    );
    assert!(temp_files(&output).is_empty(), "{:?}", temp_files(&output));
    s.batch(&input, &output)
        .arg("--quiet")
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "{} processed, {finished} skipped, 0 failed",
            nb - finished
        )));
    assert_eq!(check_batch_outputs(&output, nb, seconds), nb);
}

/// The tiny network of `common::TINY_TRAIN` with more epochs, so that a kill lands in the run.
fn train_cmd(data: &Path, out: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(BIN);
    cmd.arg("train")
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(common::TINY_TRAIN)
        .args([
            "--layers",
            "2",
            "--epochs-per-stage",
            "6",
            "--finetune-epochs",
            "4",
        ])
        .args([
            "--frames-per-epoch",
            "3000",
            "--seed",
            "5",
            "--dtype",
            "f32",
            "--quiet",
        ]);
    cmd
}

#[test]
fn kill_9_during_train_then_resume_reaches_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    small_dataset(&data);
    let whole = dir.path().join("whole");
    assert!(train_cmd(&data, &whole).status().unwrap().success());

    let killed = dir.path().join("killed");
    let mut child = train_cmd(&data, &killed)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let state = killed.join("checkpoint/state.json");
    wait_for("the first checkpoint", &mut child, || state.is_file());
    let first = std::fs::read(&state).unwrap();
    wait_for("a later checkpoint", &mut child, || {
        std::fs::read(&state).is_ok_and(|now| now != first)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let resumed = train_cmd(&data, &killed).arg("--resume").output().unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(!killed.join("checkpoint").exists());
    let a = saex::Model::load(&whole, tch::Device::Cpu).unwrap();
    let b = saex::Model::load(&killed, tch::Device::Cpu).unwrap();
    for ((name, x), (_, y)) in a.named_parameters().iter().zip(b.named_parameters()) {
        let err = (x - &y).abs().max().double_value(&[]);
        assert!(
            err < 1e-5,
            "{name}: max difference {err} between whole and killed+resumed runs"
        );
    }
}

#[test]
fn a_batch_of_200_short_files_all_succeed() {
    let s = Setup::new();
    let input = s.path("many");
    for i in 0..200 {
        let dir = input.join(format!("set{}", i % 7));
        std::fs::create_dir_all(&dir).unwrap();
        write_tones(
            &dir.join(format!("{i:03}.wav")),
            22050,
            1 + i % 2,
            1000 + 37 * i,
        );
    }
    let output = s.path("out");
    s.batch(&input, &output)
        .arg("--quiet")
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "200 processed, 0 skipped, 0 failed",
        ));
    for i in 0..200 {
        let path = output.join(format!("set{}/{i:03}/vocals.wav", i % 7));
        let audio = read_audio(&path).unwrap();
        assert_eq!(
            (audio.nb_channels(), audio.nb_frames()),
            (1 + i % 2, 1000 + 37 * i),
            "{}",
            path.display()
        );
    }
}

fn small_dataset(data: &Path) {
    use saex::train::{write_dataset, SynthSpec};
    let spec = SynthSpec {
        sample_rate: 8000,
        nb_channels: 2,
        seconds: 2.0,
        nb_train: 3,
        nb_valid: 0,
        seed: 11,
    };
    write_dataset(data, &spec).unwrap();
}

#[test]
fn ctrl_c_during_train_keeps_the_checkpoint_and_resume_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    small_dataset(&data);
    let out = dir.path().join("model");
    let mut child = train_cmd(&data, &out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let state = out.join("checkpoint/state.json");
    wait_for("the first checkpoint", &mut child, || state.is_file());
    interrupt(&child);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("continue with --resume"), "{stderr}");
    assert!(state.is_file());
    assert!(temp_files(&out).is_empty(), "{:?}", temp_files(&out));
    let resumed = train_cmd(&data, &out).arg("--resume").output().unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    saex::Model::load(&out, tch::Device::Cpu).unwrap();
}

#[test]
fn a_write_error_in_train_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    small_dataset(&data);
    let out = dir.path().join("model");
    let args: Vec<_> = train_cmd(&data, &out)
        .get_args()
        .map(|a| a.to_os_string())
        .collect();
    saex_with_write_limit(8)
        .args(args)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(out.display().to_string()))
        .stderr(predicate::str::contains("File too large"));
    assert!(
        !out.join("config.json").exists(),
        "no model claims to be finished"
    );
    assert!(temp_files(&out).is_empty(), "{:?}", temp_files(&out));
}

#[test]
fn eval_output_folders_that_cannot_be_written_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    std::fs::create_dir_all(p("ref/song")).unwrap();
    std::fs::create_dir_all(p("est/song")).unwrap();
    write_tones(&p("ref/song/vocals.wav"), 8000, 1, 16000);
    // Bass: a low sawtooth, unlike the tones; the estimate: the vocals with some bass in it.
    let bass: Vec<f32> = (0..16000)
        .map(|i| (i % 100) as f32 / 400.0 - 0.125)
        .collect();
    let vocals = read_audio(p("ref/song/vocals.wav"))
        .unwrap()
        .channels
        .remove(0);
    let estimate: Vec<f32> = vocals.iter().zip(&bass).map(|(v, b)| v + 0.3 * b).collect();
    for (path, samples) in [
        ("ref/song/bass.wav", bass),
        ("est/song/vocals.wav", estimate),
    ] {
        let audio = saex::AudioBuffer::new(8000, vec![samples]).unwrap();
        saex::write_wav(p(path), &audio, saex::SampleFormat::Float32).unwrap();
    }
    let eval = |out: &Path| {
        let mut cmd = saex();
        cmd.args(["eval", "--reference"])
            .arg(p("ref"))
            .arg("--estimate")
            .arg(p("est"))
            .arg("--out")
            .arg(out);
        cmd
    };
    // The output folder would lie under a file.
    std::fs::write(p("file"), b"x").unwrap();
    eval(&p("file/scores"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("file/scores"));
    // A write fails after scoring: summary.md is taken by a folder. The message names it and
    // nothing else is left half-written.
    std::fs::create_dir_all(p("out/summary.md")).unwrap();
    eval(&p("out"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("summary.md"));
    assert!(
        temp_files(&p("out")).is_empty(),
        "{:?}",
        temp_files(&p("out"))
    );
}
