//! saex as a Unix tool: special files are written through, never replaced; colliding outputs and
//! unknown extensions are refused before any work; standard input and output; FLAC output;
//! clipping; device names; eval on saex's own output.
//!
//! Special files are only ever made here, in temporary folders (a FIFO, or a private `mknod`
//! copy of the null device): never a real /dev path.

use crate::common::{listing, on_path, saex, skip, tiny_model, tones, write_tones, Setup};
use predicates::prelude::*;
use saex::{read_audio, write_wav, AudioBuffer, SampleFormat};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// Bug 1: a FIFO given as --out is streamed to and stays a FIFO; the reader gets a whole WAV.
#[test]
fn a_fifo_output_is_streamed_to_not_replaced() {
    let s = Setup::new();
    let mix = s.path("song.wav");
    write_tones(&mix, 22050, 2, 9000);
    let fifo = s.path("pipe.wav");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    s.extract(&mix, &fifo).assert().success();
    let bytes = reader.join().unwrap();
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    // A streaming header (sizes unknown), then every sample.
    assert_eq!(&bytes[0..4], b"RIFF");
    assert_eq!(&bytes[4..8], &u32::MAX.to_le_bytes());
    assert_eq!(bytes.len(), 44 + 9000 * 2 * 2);
    let copy = s.path("copy.wav");
    std::fs::write(&copy, &bytes).unwrap();
    assert_eq!(read_audio(&copy).unwrap().nb_frames(), 9000);
    assert!(!listing(s.dir.path()).iter().any(|n| n.ends_with(".tmp")));
}

/// Bug 1: a private copy of the null device (made with mknod in a temporary folder) stays a
/// character device. Needs root (mknod); skipped otherwise.
#[test]
fn a_device_output_is_written_through() {
    let s = Setup::new();
    let null = s.path("null");
    let c = std::ffi::CString::new(null.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string; makedev(1, 3) is the null device, created only in a temp dir.
    let made = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    if made != 0 {
        skip(
            "unix::a_device_output_is_written_through",
            "mknod needs root",
            false,
        );
        return;
    }
    let mix = s.path("song.wav");
    write_tones(&mix, 22050, 1, 5000);
    s.extract(&mix, &null).assert().success();
    let kind = std::fs::symlink_metadata(&null).unwrap().file_type();
    assert!(kind.is_char_device(), "the device was replaced");
    assert_eq!(std::fs::metadata(&null).unwrap().len(), 0);
}

/// Bug 1: a symbolic link is followed: the target file is replaced atomically, the link stays.
#[test]
fn a_symlink_output_writes_its_target() {
    let s = Setup::new();
    let mix = s.path("song.wav");
    write_tones(&mix, 22050, 1, 5000);
    std::fs::create_dir(s.path("real")).unwrap();
    let link = s.path("link.wav");
    std::os::unix::fs::symlink("real/vocals.wav", &link).unwrap();
    s.extract(&mix, &link).assert().success();
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        read_audio(s.path("real/vocals.wav")).unwrap().nb_frames(),
        5000
    );
}

/// Pipes: `--mix -` and `--out -` give the same samples as files do; the header on standard
/// output says "size unknown"; nothing but the audio goes to standard output.
#[test]
fn standard_input_and_output() {
    let s = Setup::new();
    let mix = s.path("song.wav");
    write_tones(&mix, 22050, 2, 12_345);
    let file_out = s.path("vocals.wav");
    s.extract(&mix, &file_out).assert().success();
    let expected = read_audio(&file_out).unwrap();

    // A WAV as ffmpeg and sox write it to a pipe: the data size is unknown.
    let mut piped = std::fs::read(&mix).unwrap();
    piped[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    piped[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    for (input, label) in [(piped.clone(), "0xFFFFFFFF"), (zero_sizes(&piped), "0")] {
        let out = saex()
            .args(["extract", "--device", "cpu", "--model"])
            .arg(s.path("vocals"))
            .args(["--mix", "-", "--out", "-"])
            .write_stdin(input)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{label}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(&out.stdout[40..44], &u32::MAX.to_le_bytes(), "{label}");
        let copy = s.path("from-stdout.wav");
        std::fs::write(&copy, &out.stdout).unwrap();
        assert_eq!(read_audio(&copy).unwrap(), expected, "{label}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("wrote standard output"), "{stderr}");
    }

    // --raw: the samples alone.
    let out = saex()
        .args(["extract", "--quiet", "--device", "cpu", "--model"])
        .arg(s.path("vocals"))
        .args(["--mix", "-", "--out", "-", "--raw"])
        .write_stdin(piped)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), 12_345 * 2 * 2);
    let first = i16::from_le_bytes([out.stdout[0], out.stdout[1]]) as f32 / 32768.0;
    assert_eq!(first, expected.channels[0][0]);
}

fn zero_sizes(wav: &[u8]) -> Vec<u8> {
    let mut v = wav.to_vec();
    v[40..44].copy_from_slice(&0u32.to_le_bytes());
    v
}

/// Pipes are read as they come: a FIFO as --mix works like standard input.
#[test]
fn a_fifo_input_is_read_as_a_stream() {
    let s = Setup::new();
    let mix = s.path("song.wav");
    write_tones(&mix, 22050, 1, 7000);
    let fifo = s.path("in.fifo");
    mkfifo(&fifo);
    let bytes = std::fs::read(&mix).unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, bytes).unwrap())
    };
    s.extract(&fifo, &s.path("out.wav")).assert().success();
    writer.join().unwrap();
    assert_eq!(read_audio(s.path("out.wav")).unwrap().nb_frames(), 7000);
}

/// 64-bit float and RF64 inputs.
#[test]
fn float64_and_rf64_inputs() {
    let s = Setup::new();
    let audio = tones(22050, 2, 3000);
    let mut data = Vec::new();
    for i in 0..3000 {
        for ch in &audio.channels {
            data.extend_from_slice(&(ch[i] as f64).to_le_bytes());
        }
    }
    let fmt = {
        let mut f = Vec::new();
        f.extend_from_slice(&3u16.to_le_bytes());
        f.extend_from_slice(&2u16.to_le_bytes());
        f.extend_from_slice(&22050u32.to_le_bytes());
        f.extend_from_slice(&(22050u32 * 16).to_le_bytes());
        f.extend_from_slice(&16u16.to_le_bytes());
        f.extend_from_slice(&64u16.to_le_bytes());
        f
    };
    let riff = |magic: &[u8], ds64: bool| {
        let mut v = Vec::new();
        v.extend_from_slice(magic);
        v.extend_from_slice(&u32::MAX.to_le_bytes());
        v.extend_from_slice(b"WAVE");
        if ds64 {
            v.extend_from_slice(b"ds64");
            v.extend_from_slice(&28u32.to_le_bytes());
            v.extend_from_slice(&0u64.to_le_bytes());
            v.extend_from_slice(&(data.len() as u64).to_le_bytes());
            v.extend_from_slice(&3000u64.to_le_bytes());
            v.extend_from_slice(&0u32.to_le_bytes());
        }
        v.extend_from_slice(b"fmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&fmt);
        v.extend_from_slice(b"data");
        v.extend_from_slice(&(if ds64 { u32::MAX } else { data.len() as u32 }).to_le_bytes());
        v.extend_from_slice(&data);
        v
    };
    for (name, bytes) in [
        ("f64.wav", riff(b"RIFF", false)),
        ("rf64.wav", riff(b"RF64", true)),
    ] {
        let path = s.path(name);
        std::fs::write(&path, bytes).unwrap();
        let read = read_audio(&path).unwrap();
        assert_eq!(read.nb_frames(), 3000, "{name}");
        assert_eq!(read.channels[1][17], audio.channels[1][17], "{name}");
    }
}

/// Bug 2: two outputs that are one file are refused before any work, also through a link.
#[test]
fn colliding_outputs_are_refused_before_any_work() {
    let s = Setup::new();
    let mix = s.path("song.wav");
    write_tones(&mix, 22050, 1, 5000);
    let before = listing(s.dir.path());
    let same = s.path("same.wav");
    s.extract(&mix, &same)
        .arg("--residual")
        .arg(&same)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("named for two outputs"));
    std::os::unix::fs::symlink("same.wav", s.path("alias.wav")).unwrap();
    s.extract(&mix, &same)
        .arg("--residual")
        .arg(s.path("alias.wav"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("named for two outputs"));
    let mut after = before.clone();
    after.push("alias.wav".into());
    after.sort();
    assert_eq!(listing(s.dir.path()), after, "nothing written");

    // batch: a residual named like the target.
    let input = s.path("mixes");
    std::fs::create_dir(&input).unwrap();
    write_tones(&input.join("a.wav"), 22050, 1, 4000);
    s.batch(&input, &s.path("sep"))
        .args(["--residual", "vocals"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("vocals.wav"));
    assert!(!s.path("sep").join("a").exists());
}

/// Bug 3: the extension chooses the format, or the run is refused naming the file.
#[test]
fn the_extension_chooses_the_format() {
    let s = Setup::new();
    let mix = s.path("song.wav");
    write_tones(&mix, 22050, 2, 6000);
    s.extract(&mix, &s.path("v.opus"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("v.opus").and(predicate::str::contains("does not write")));
    s.extract(&mix, &s.path("v"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no extension"));
    assert!(!s.path("v.opus").exists() && !s.path("v").exists());

    // FLAC, 16 and 24 bit: lossless against the WAV of the same run.
    for bits in ["16", "24"] {
        let wav = s.path(format!("v{bits}.wav").as_str());
        let flac = s.path(format!("acc{bits}.flac").as_str());
        s.extract(&mix, &wav)
            .args(["--format", bits, "--residual"])
            .arg(&flac)
            .assert()
            .success();
        let bytes = std::fs::read(&flac).unwrap();
        assert_eq!(&bytes[0..4], b"fLaC", "{bits}");
        let wav_residual = s.path(format!("acc{bits}.wav").as_str());
        s.extract(&mix, &wav)
            .args(["--format", bits, "--residual"])
            .arg(&wav_residual)
            .assert()
            .success();
        assert_eq!(
            read_audio(&flac).unwrap(),
            read_audio(&wav_residual).unwrap(),
            "{bits}-bit FLAC"
        );
    }

    // batch: a template without an extension is refused.
    let input = s.path("mixes");
    std::fs::create_dir(&input).unwrap();
    write_tones(&input.join("a.wav"), 22050, 1, 4000);
    s.batch(&input, &s.path("sep"))
        .args(["--filename", "{track}/{target}"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("extension"));
}

/// Bug 5: wrong device names name the valid choices.
#[test]
fn wrong_device_names_name_the_choices() {
    let s = Setup::new();
    let mix = s.path("song.wav");
    write_tones(&mix, 22050, 1, 3000);
    for name in ["mps", "tpu"] {
        saex()
            .args(["extract", "--quiet", "--device", name, "--model"])
            .arg(s.path("vocals"))
            .arg("--mix")
            .arg(&mix)
            .arg("--out")
            .arg(s.path("o.wav"))
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains("auto, cpu, cuda")
                    .and(predicate::str::contains("NVIDIA").not()),
            );
    }
}

/// Item 8: samples beyond full scale are counted and reported; --clip rescale avoids them.
#[test]
fn clipping_is_reported_and_rescale_avoids_it() {
    let s = Setup::new();
    let loud = s.path("loud.wav");
    let mut audio = tones(22050, 1, 8000);
    for x in &mut audio.channels[0] {
        *x *= 8.0;
    }
    write_wav(&loud, &audio, SampleFormat::Float32).unwrap();
    s.extract(&loud, &s.path("v.wav"))
        .arg("--residual")
        .arg(s.path("r.wav"))
        .assert()
        .success()
        .stderr(predicate::str::contains("clipped to full scale"));
    s.extract(&loud, &s.path("v2.wav"))
        .args(["--clip", "rescale", "--residual"])
        .arg(s.path("r2.wav"))
        .assert()
        .success()
        .stderr(predicate::str::contains("clipped").not());
    // Each output is scaled alone: one that went beyond full scale now peaks just below it.
    let peaks: Vec<f32> = ["v2.wav", "r2.wav"]
        .iter()
        .map(|name| {
            let out = read_audio(s.path(name)).unwrap();
            out.channels[0].iter().fold(0f32, |p, x| p.max(x.abs()))
        })
        .collect();
    assert!(peaks.iter().all(|p| *p < 1.0), "{peaks:?}");
    assert!(peaks.iter().any(|p| *p > 0.999), "{peaks:?}");
}

/// Bug 4: eval scores what `extract --out-dir` wrote (residual.wav is the accompaniment).
#[test]
fn eval_reads_saex_output() {
    let s = Setup::new();
    let track = s.path("data/test/song");
    std::fs::create_dir_all(&track).unwrap();
    let vocals = tones(22050, 1, 22050);
    let mut other = tones(22050, 1, 22050);
    other.channels[0].reverse();
    let mix = AudioBuffer::new(
        22050,
        vec![vocals.channels[0]
            .iter()
            .zip(&other.channels[0])
            .map(|(a, b)| a + b)
            .collect()],
    )
    .unwrap();
    write_wav(track.join("vocals.wav"), &vocals, SampleFormat::Float32).unwrap();
    write_wav(track.join("other.wav"), &other, SampleFormat::Float32).unwrap();
    write_wav(track.join("mixture.wav"), &mix, SampleFormat::Float32).unwrap();
    saex()
        .args(["extract", "--quiet", "--device", "cpu", "--model"])
        .arg(s.path("vocals"))
        .arg("--mix")
        .arg(track.join("mixture.wav"))
        .arg("--out-dir")
        .arg(s.path("est/song"))
        .assert()
        .success();
    saex()
        .arg("eval")
        .arg("--reference")
        .arg(s.path("data/test"))
        .arg("--estimate")
        .arg(s.path("est"))
        .assert()
        .success();

    // batch over the MUSDB layout with --include separates the mixtures only.
    saex()
        .args(["batch", "--quiet", "--device", "cpu", "--model"])
        .arg(s.path("vocals"))
        .arg("--in")
        .arg(s.path("data/test"))
        .arg("--out")
        .arg(s.path("sep"))
        .args([
            "--include",
            "*/mixture.wav",
            "--filename",
            "{folder}/{target}.wav",
            "--residual",
            "accompaniment",
        ])
        .assert()
        .success();
    assert_eq!(
        listing(&s.path("sep/song")),
        ["accompaniment.wav", "vocals.wav"]
    );
    saex()
        .arg("eval")
        .arg("--reference")
        .arg(s.path("data/test"))
        .arg("--estimate")
        .arg(s.path("sep"))
        .assert()
        .success();
}

/// Item 10 and 11: --out folders are made; batch names unsupported files and refuses an empty
/// folder; redo an input newer than its outputs.
#[test]
fn folders_unsupported_files_and_stale_outputs() {
    let s = Setup::new();
    let mix = s.path("song.wav");
    write_tones(&mix, 22050, 1, 3000);
    s.extract(&mix, &s.path("new/deep/v.wav"))
        .assert()
        .success();
    assert!(s.path("new/deep/v.wav").is_file());

    let input = s.path("mixes");
    std::fs::create_dir(&input).unwrap();
    s.batch(&input, &s.path("sep"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no audio files"));
    write_tones(&input.join("a.wav"), 22050, 1, 3000);
    std::fs::write(input.join("notes.txt"), "hello").unwrap();
    s.batch(&input, &s.path("sep")).assert().success().stderr(
        predicate::str::contains("notes.txt").and(predicate::str::contains("1 unsupported")),
    );
    s.batch(&input, &s.path("sep"))
        .assert()
        .success()
        .stderr(predicate::str::contains("0 processed, 1 skipped"));
    // A newer input is done again.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(input.join("a.wav"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    s.batch(&input, &s.path("sep"))
        .assert()
        .success()
        .stderr(predicate::str::contains("1 processed, 0 skipped"));
}

/// Karaoke: --residual alone writes only the accompaniment.
#[test]
fn residual_alone_is_karaoke() {
    let s = Setup::new();
    tiny_model(&s.path("other"), "other");
    let mix = s.path("song.wav");
    write_tones(&mix, 22050, 1, 4000);
    saex()
        .args(["extract", "--quiet", "--device", "cpu", "--model"])
        .arg(s.path("vocals"))
        .arg("--mix")
        .arg(&mix)
        .arg("--residual")
        .arg(s.path("karaoke.wav"))
        .assert()
        .success();
    assert_eq!(read_audio(s.path("karaoke.wav")).unwrap().nb_frames(), 4000);
    let mut names = listing(s.dir.path());
    names.retain(|n| n.ends_with(".wav"));
    assert_eq!(names, ["karaoke.wav", "song.wav"]);
}

/// Real pipes with sox on both ends (skipped, saying so, where sox is not installed): sox's streaming
/// header (data size 0x7FFFF000) is read to the end, and sox reads what saex writes.
#[test]
fn sox_pipes_in_and_out() {
    if on_path(&["sox"]).is_none() {
        // scripts/setup-audio.sh installs sox.
        skip(
            "unix::sox_pipes_in_and_out",
            "no sox (apt-get install sox)",
            true,
        );
        return;
    }
    let s = Setup::new();
    let script = format!(
        "sox -n -r 22050 -c 2 -b 16 -t wav - synth 3 sine 440 | {} extract --quiet --device cpu \
         --model {} --mix - --out - | sox -t wav - {}",
        env!("CARGO_BIN_EXE_saex"),
        s.path("vocals").display(),
        s.path("out.wav").display()
    );
    let status = std::process::Command::new("sh")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(status.success());
    let out = read_audio(s.path("out.wav")).unwrap();
    assert_eq!((out.nb_channels(), out.nb_frames()), (2, 3 * 22050));
}

/// Item 14: completions and a man page from the same definitions as --help.
#[test]
fn completions_and_man_page() {
    for (shell, needle) in [("bash", "--mix"), ("zsh", "--clip"), ("fish", "-l include")] {
        let out = saex().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(needle), "{shell}: no {needle}");
    }
    let out = saex().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.starts_with(".ie") && page.contains(".TH saex 1"),
        "{}",
        &page[..200]
    );
    for needle in [
        "saex\\-extract",
        "\\-\\-clip",
        "\\-\\-include",
        "\\-\\-n\\-fft",
    ] {
        assert!(page.contains(needle), "the man page lacks {needle}");
    }
}

/// Item 9: positional inputs, several at once, named beside them or under --out-dir; a shipped
/// model by name.
#[test]
fn positional_inputs_and_models_by_name() {
    let s = Setup::new();
    let a = s.path("a.wav");
    let b = s.path("b.flac");
    write_tones(&a, 22050, 1, 3000);
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tone.flac"),
        &b,
    )
    .unwrap();
    saex()
        .args(["extract", "--quiet", "--device", "cpu", "--model"])
        .arg(s.path("vocals"))
        .arg(&a)
        .arg(&b)
        .assert()
        .success();
    assert!(s.path("a.vocals.wav").is_file() && s.path("b.vocals.wav").is_file());
    saex()
        .args(["extract", "--quiet", "--device", "cpu", "--model"])
        .arg(s.path("vocals"))
        .arg(&a)
        .arg(&b)
        .arg("--out-dir")
        .arg(s.path("stems"))
        .assert()
        .success();
    assert_eq!(listing(&s.path("stems/a")), ["residual.wav", "vocals.wav"]);
    assert_eq!(listing(&s.path("stems/b")), ["residual.wav", "vocals.wav"]);
    // Two inputs with one name collide before any work.
    let c = s.path("a.flac");
    std::fs::copy(&b, &c).unwrap();
    saex()
        .args(["extract", "--quiet", "--device", "cpu", "--model"])
        .arg(s.path("vocals"))
        .arg(&a)
        .arg(&c)
        .arg("--out-dir")
        .arg(s.path("again"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("would both write"));
    assert!(!s.path("again").exists());
    // A shipped model by name.
    saex()
        .args([
            "extract", "--quiet", "--device", "cpu", "--model", "vocals", "--mix",
        ])
        .arg(&a)
        .arg("--out")
        .arg(s.path("shipped.wav"))
        .assert()
        .success();
    assert!(s.path("shipped.wav").is_file());
}

/// Item 9: with positional inputs, `--residual NAME` names the residual as the targets are
/// named (beside each input, or in its --out-dir folder); `--residual FILE` is for one input.
#[test]
fn positional_inputs_name_the_residual_by_the_template() {
    let s = Setup::new();
    let (a, b) = (s.path("a.wav"), s.path("b.wav"));
    write_tones(&a, 22050, 1, 3000);
    write_tones(&b, 22050, 2, 2500);
    let extract = || {
        let mut cmd = saex();
        cmd.args(["extract", "--quiet", "--device", "cpu", "--model"])
            .arg(s.path("vocals"))
            .arg(&a)
            .arg(&b);
        cmd
    };
    extract()
        .args(["--residual", "accompaniment"])
        .assert()
        .success();
    for (name, nb_frames) in [("a", 3000), ("b", 2500)] {
        for output in ["vocals", "accompaniment"] {
            let path = s.path(&format!("{name}.{output}.wav"));
            assert_eq!(
                read_audio(&path).unwrap().nb_frames(),
                nb_frames,
                "{path:?}"
            );
        }
    }
    extract()
        .args(["--residual", "accompaniment", "--out-dir"])
        .arg(s.path("stems"))
        .assert()
        .success();
    assert_eq!(
        listing(&s.path("stems/b")),
        ["accompaniment.wav", "vocals.wav"]
    );
    // A file name with several inputs: refused before any work, saying what to give.
    extract()
        .args(["--residual", "acc.wav"])
        .assert()
        .code(2)
        .stderr(
            "saex: error: --residual acc.wav: names one file, for one input: with several, give \
             a name (--residual accompaniment writes <name>.accompaniment.wav beside each input, \
             or <DIR>/<name>/accompaniment.wav with --out-dir)\n",
        );
    // One input and a file: karaoke, that file only.
    let before = listing(s.dir.path());
    saex()
        .args(["extract", "--quiet", "--device", "cpu", "--model"])
        .arg(s.path("vocals"))
        .arg(&a)
        .arg("--residual")
        .arg(s.path("karaoke.wav"))
        .assert()
        .success();
    let mut after = listing(s.dir.path());
    after.retain(|n| !before.contains(n));
    assert_eq!(after, ["karaoke.wav"]);
    // A name that is a target's collides with it.
    saex()
        .args(["extract", "--quiet", "--device", "cpu", "--model"])
        .arg(s.path("vocals"))
        .arg(&a)
        .args(["--residual", "vocals"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is named for two outputs"));
}

#[test]
fn a_missing_saex_models_folder_is_an_error_not_a_fallback() {
    let s = Setup::new();
    let a = s.path("a.wav");
    write_tones(&a, 22050, 1, 3000);
    let missing = s.path("no-such-models");
    for args in [
        vec!["extract", "--quiet", "--device", "cpu", "--mix"],
        vec![],
    ] {
        let mut cmd = saex();
        cmd.env("SAEX_MODELS", &missing);
        if args.is_empty() {
            cmd.arg("info");
        } else {
            cmd.args(&args).arg(&a).arg("--out").arg(s.path("v.wav"));
        }
        cmd.assert()
            .code(2)
            .stderr(predicate::str::contains(format!(
                "SAEX_MODELS={}: no such folder",
                missing.display()
            )));
    }
    assert!(!s.path("v.wav").exists());
    // A folder that exists is searched first: a model found there is used by name.
    std::fs::create_dir(&missing).unwrap();
    std::fs::rename(s.path("vocals"), missing.join("vocals")).unwrap();
    saex()
        .env("SAEX_MODELS", &missing)
        .args(["extract", "--device", "cpu", "--mix"])
        .arg(&a)
        .arg("--out")
        .arg(s.path("v.wav"))
        .assert()
        .success()
        .stderr(predicate::str::contains("no-such-models"));
    assert!(s.path("v.wav").is_file());
}

/// Text commands whose reader has gone (`saex info | head -1`) end quietly, as Unix text tools
/// do: no panic about a broken pipe (there was one in `println!` and in clap_complete).
#[test]
fn text_commands_end_quietly_when_the_reader_is_gone() {
    use std::io::Read;
    use std::process::Stdio;
    for args in [&["info"][..], &["man"], &["completions", "bash"]] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_saex"))
            .args(args)
            .env_remove("SAEX_MODELS")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before saex has started to write.
        drop(child.stdout.take());
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(stderr.is_empty(), "saex {args:?}: {stderr}");
        assert_ne!(status.code(), Some(101), "saex {args:?} panicked");
    }
}

/// `--mask auto` (the default) is the ratio mask for one target and the joint Wiener mask for
/// several, where the targets and the residual must add up to the mix.
#[test]
fn the_default_mask_is_ratio_for_one_target_and_wiener_for_several() {
    let s = Setup::new();
    let mix = s.path("song.wav");
    write_tones(&mix, 22050, 2, 9000);
    let run = |name: &str, extra: &[&str]| {
        let out = s.path(name);
        s.extract(&mix, &out).args(extra).assert().success();
        std::fs::read(out).unwrap()
    };
    let default = run("default.wav", &[]);
    assert_eq!(default, run("ratio.wav", &["--mask", "ratio"]));
    assert_ne!(default, run("wiener.wav", &["--mask", "wiener"]));

    // Two targets: the default is Wiener.
    let model = s.path("vocals");
    let bass = s.path("bass");
    crate::common::tiny_model(&bass, "bass");
    let two = |name: &str, extra: &[&str]| {
        let dir = s.path(name);
        saex()
            .args(["extract", "--quiet", "--device", "cpu", "--mix"])
            .arg(&mix)
            .arg("--model")
            .arg(&model)
            .arg("--model")
            .arg(&bass)
            .arg("--out-dir")
            .arg(&dir)
            .args(extra)
            .assert()
            .success();
        std::fs::read(dir.join("residual.wav")).unwrap()
    };
    assert_eq!(two("auto2", &[]), two("wiener2", &["--mask", "wiener"]));
}

/// Ogg Vorbis and Ogg Opus read from standard input keep their exact length: the last page's
/// granule position trims the encoder's padding, as it does for a file (a pipe gave 508 and
/// 648 frames too many).
#[test]
fn ogg_and_opus_from_a_pipe_are_as_long_as_from_a_file() {
    let s = Setup::new();
    for name in ["tone.ogg", "tone.opus"] {
        assert_piped_is_as_by_path(&s, name);
    }
}

/// Extracts the test data file `name` by its path and through standard input and output, and
/// asserts the same samples and length.
fn assert_piped_is_as_by_path(s: &Setup, name: &str) {
    let by_path = s.path(&format!("{name}.wav"));
    s.extract(&crate::common::data(name), &by_path)
        .assert()
        .success();
    let expected = read_audio(&by_path).unwrap();
    let out = saex()
        .args(["extract", "--quiet", "--device", "cpu", "--model"])
        .arg(s.path("vocals"))
        .args(["--mix", "-", "--out", "-"])
        .write_stdin(std::fs::read(crate::common::data(name)).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copy = s.path(&format!("{name}.piped.wav"));
    std::fs::write(&copy, &out.stdout).unwrap();
    let piped = read_audio(&copy).unwrap();
    assert_eq!(piped.nb_frames(), expected.nb_frames(), "{name}");
    assert_eq!(piped, expected, "{name}");
}

/// An M4A whose index (`moov`) comes after its audio, as ffmpeg writes it, and a stems file,
/// on standard input: buffered to a nameless temporary file and read as from their paths, the
/// same samples and length, priming dropped (was: a misleading error about the stream).
#[test]
fn an_mp4_with_its_index_last_is_read_from_a_pipe() {
    let s = Setup::new();
    let m4a = crate::common::data("tone.m4a");
    let bytes = std::fs::read(&m4a).unwrap();
    let moov = bytes.windows(4).position(|w| w == b"moov").unwrap();
    let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap();
    assert!(moov > mdat, "the fixture should have its index last");
    for name in ["tone.m4a", "tiny.stem.mp4"] {
        assert_piped_is_as_by_path(&s, name);
    }
}
