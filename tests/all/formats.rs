//! Lossy outputs (issue 16): MP3 and Ogg Vorbis written by saex and read back by saex's own
//! reader, from the library and from the CLI, to files and streams; and their refusals.

use crate::common::{listing, saex, tones, write_tones, Setup};
use predicates::prelude::*;
use saex::{
    read_audio, write_wav, AudioBuffer, AudioWriter, ClipMode, Container, OutputFormat,
    SampleFormat,
};
use std::path::Path;

/// Pearson correlation of `a[lag..]` with `b` over their common length.
fn correlation(a: &[f32], b: &[f32], lag: usize) -> f64 {
    let a = &a[lag.min(a.len())..];
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mean = |x: &[f32]| x.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    let (ma, mb) = (mean(a), mean(b));
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64 - ma, y as f64 - mb);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa * bb).sqrt().max(f64::MIN_POSITIVE)
}

/// Signal-to-noise ratio in dB of `decoded` against `original` (same alignment).
fn snr_db(original: &[f32], decoded: &[f32]) -> f64 {
    let n = original.len().min(decoded.len());
    let signal: f64 = original[..n].iter().map(|&x| (x as f64).powi(2)).sum();
    let noise: f64 = original[..n]
        .iter()
        .zip(&decoded[..n])
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum();
    10.0 * (signal / noise.max(f64::MIN_POSITIVE)).log10()
}

fn no_temp_files(dir: &Path) {
    let names = listing(dir);
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with('.') || n.ends_with(".tmp")),
        "temporary files left: {names:?}"
    );
}

/// Library round trip of every lossy format over rates and channel counts: the layout and the
/// length come back (MP3: exact, from LAME's Xing/Info frame, which symphonia's gapless mode
/// reads; Vorbis: exact, from Ogg's granule positions), and the signal is close. The bound:
/// these tones plus white noise measured 25.6 to 35.3 dB of SNR as MP3 (320 kbit/s; 160
/// below 32 kHz) and 32.1 to 39.7 dB as Vorbis (quality 8); 20 dB leaves room for other
/// encoder builds while failing on any misalignment (one sample shifts the noise and the
/// tones by 14 dB or more at every rate tested) or a wrong channel order.
#[test]
fn mp3_and_ogg_round_trip_in_length_layout_and_signal() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["mp3", "ogg"] {
        for (rate, channels) in [(44_100, 2), (48_000, 1), (22_050, 2), (8_000, 1)] {
            let case = format!("{ext} {rate} Hz {channels} ch");
            let audio = tones(rate, channels, 3 * rate as usize / 2 + 77);
            let path = dir.path().join(format!("t{rate}_{channels}.{ext}"));
            let report = write_wav(&path, &audio, OutputFormat::default()).unwrap();
            assert_eq!(report.nb_frames, audio.nb_frames() as u64, "{case}");
            assert_eq!(report.nb_clipped, 0, "{case}");
            let back = read_audio(&path).unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(back.sample_rate, rate, "{case}");
            assert_eq!(back.nb_channels(), channels, "{case}");
            assert_eq!(back.nb_frames(), audio.nb_frames(), "{case}: length");
            for c in 0..channels {
                let snr = snr_db(&audio.channels[c], &back.channels[c]);
                let r = correlation(&back.channels[c], &audio.channels[c], 0);
                eprintln!("{case}, channel {c}: SNR {snr:.1} dB, correlation {r:.4}");
                assert!(
                    snr > 20.0 && r > 0.99,
                    "{case}, channel {c}: SNR {snr:.1} dB, correlation {r:.4}"
                );
            }
        }
    }
    no_temp_files(dir.path());
}

/// `--bitrate` sets the MP3's constant bit rate (the file size follows it) and Vorbis's target.
#[test]
fn the_bitrate_sets_the_size() {
    let dir = tempfile::tempdir().unwrap();
    let audio = tones(44_100, 2, 44_100 * 2);
    let size = |ext: &str, kbps: Option<u32>| {
        let path = dir.path().join(format!("b{kbps:?}.{ext}"));
        let format = OutputFormat {
            bitrate: kbps,
            ..OutputFormat::default()
        };
        write_wav(&path, &audio, format).unwrap();
        let back = read_audio(&path).unwrap();
        assert_eq!(back.nb_frames(), audio.nb_frames(), "{ext} {kbps:?}");
        std::fs::metadata(&path).unwrap().len() as f64
    };
    // 2 s at 320 kbit/s is 80 kB; at 128, 32 kB (plus a frame or two of delay and padding).
    let mp3_320 = size("mp3", None);
    let mp3_128 = size("mp3", Some(128));
    assert!((80_000.0..84_000.0).contains(&mp3_320), "{mp3_320}");
    assert!((32_000.0..34_000.0).contains(&mp3_128), "{mp3_128}");
    let ogg_q8 = size("ogg", None);
    let ogg_64 = size("ogg", Some(64));
    assert!(
        ogg_64 < ogg_q8 / 2.0,
        "ogg: 64 kbit/s {ogg_64} B, q8 {ogg_q8} B"
    );
}

/// What MP3 cannot hold is refused naming the file, before anything is written; so are a bit
/// depth and an MP3 bit rate that do not exist.
#[test]
fn lossy_refusals_name_the_file_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.mp3");
    let cases: [(u32, usize, OutputFormat, &str); 5] = [
        (
            96_000,
            2,
            OutputFormat::default(),
            "MP3 cannot hold 96000 Hz",
        ),
        (
            44_100,
            3,
            OutputFormat::default(),
            "MP3 holds 1 or 2 channels, not 3",
        ),
        (
            44_100,
            2,
            OutputFormat {
                bitrate: Some(300),
                ..OutputFormat::default()
            },
            "MP3 bit rate 300 kbit/s: expected one of",
        ),
        (
            44_100,
            2,
            OutputFormat::from(SampleFormat::Pcm24),
            "MP3 has no bit depth",
        ),
        (
            44_100,
            2,
            OutputFormat {
                container: Some(Container::Ogg),
                bitrate: Some(5),
                ..OutputFormat::default()
            },
            "Ogg Vorbis bit rate 5 kbit/s: expected 32 to 500",
        ),
    ];
    for (rate, channels, format, says) in cases {
        let err = AudioWriter::create(&path, rate, channels, format)
            .err()
            .unwrap_or_else(|| panic!("{says}: accepted"))
            .to_string();
        assert!(err.contains("v.mp3") && err.contains(says), "{says}: {err}");
        assert!(listing(dir.path()).is_empty(), "{says}: wrote something");
    }
}

/// An MP3 or Ogg output dropped before `finish` (an error midway) leaves nothing: no file at
/// the final path, no temporary file, and the old file untouched.
#[test]
fn an_unfinished_lossy_output_leaves_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let audio = tones(44_100, 2, 20_000);
    for ext in ["mp3", "ogg"] {
        let path = dir.path().join(format!("v.{ext}"));
        std::fs::write(&path, b"old").unwrap();
        let mut writer = AudioWriter::create(&path, 44_100, 2, OutputFormat::default()).unwrap();
        writer.write(&audio.channels).unwrap();
        drop(writer);
        assert_eq!(std::fs::read(&path).unwrap(), b"old", "{ext}");
    }
    no_temp_files(dir.path());
}

/// --clip applies before encoding: clamp counts and clamps (the report warns), rescale scales
/// the whole output to full scale, so the decoded peak is near 1 and the shape kept.
#[test]
fn clipping_applies_before_lossy_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let quiet = tones(44_100, 2, 30_000);
    let loud = AudioBuffer::new(
        44_100,
        quiet
            .channels
            .iter()
            .map(|ch| ch.iter().map(|x| 4.0 * x).collect())
            .collect(),
    )
    .unwrap();
    for ext in ["mp3", "ogg"] {
        let clamped = dir.path().join(format!("clamp.{ext}"));
        let report = write_wav(&clamped, &loud, OutputFormat::default()).unwrap();
        assert!(report.nb_clipped > 0, "{ext}");
        assert!(!report.kept_beyond_full_scale, "{ext}");
        let warning = report.clipping_warning().expect("a warning");
        assert!(
            warning.contains("clipped to full scale"),
            "{ext}: {warning}"
        );

        let rescaled = dir.path().join(format!("rescale.{ext}"));
        let format = OutputFormat {
            clip: ClipMode::Rescale,
            ..OutputFormat::default()
        };
        let report = write_wav(&rescaled, &loud, format).unwrap();
        assert!(
            report.gain < 1.0 && report.gain > 0.0,
            "{ext}: {}",
            report.gain
        );
        let back = read_audio(&rescaled).unwrap();
        let peak = back.channels[0].iter().fold(0f32, |p, x| p.max(x.abs()));
        assert!((0.8..1.2).contains(&peak), "{ext}: decoded peak {peak}");
        let r = correlation(&back.channels[0], &quiet.channels[0], 0);
        assert!(r > 0.97, "{ext}: correlation {r:.4}");
    }
}

/// The CLI writes MP3 and Ogg by extension (extract, its residual, batch templates) and by
/// `--type` to standard output; a stream's MP3 has no Xing frame, so it decodes longer by
/// LAME's delay and padding (at most 1105 + 1152 + 1152 frames here), and Ogg's is exact.
#[test]
fn the_cli_writes_mp3_and_ogg_to_files_and_streams() {
    let s = Setup::new();
    let mix = s.path("song.wav");
    write_tones(&mix, 22050, 2, 9000);
    s.extract(&mix, &s.path("v.mp3"))
        .arg("--residual")
        .arg(s.path("acc.ogg"))
        .assert()
        .success();
    for name in ["v.mp3", "acc.ogg"] {
        let back = read_audio(s.path(name)).unwrap();
        assert_eq!(
            (back.sample_rate, back.nb_channels(), back.nb_frames()),
            (22050, 2, 9000),
            "{name}"
        );
    }
    assert_eq!(&std::fs::read(s.path("acc.ogg")).unwrap()[..4], b"OggS");

    // Standard output: --type names the format.
    for (kind, magic_ok) in [
        (
            "mp3",
            (|b: &[u8]| b[0] == 0xFF && b[1] & 0xE0 == 0xE0) as fn(&[u8]) -> bool,
        ),
        ("ogg", |b: &[u8]| &b[..4] == b"OggS"),
    ] {
        let out = saex()
            .args(s.extract_args(&mix, Path::new("-")))
            .args(["--type", kind])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(magic_ok(&out.stdout), "{kind}: {:?}", &out.stdout[..8]);
        let copy = s.path(&format!("stdout.{kind}"));
        std::fs::write(&copy, &out.stdout).unwrap();
        let back = read_audio(&copy).unwrap();
        assert_eq!((back.sample_rate, back.nb_channels()), (22050, 2), "{kind}");
        let n = back.nb_frames();
        match kind {
            "ogg" => assert_eq!(n, 9000, "ogg on a stream"),
            _ => assert!((9000..=9000 + 1105 + 2304).contains(&n), "mp3 stream: {n}"),
        }
    }

    // batch: the template's extension.
    let input = s.path("mixes");
    std::fs::create_dir(&input).unwrap();
    write_tones(&input.join("a.wav"), 22050, 1, 4000);
    s.batch(&input, &s.path("sep"))
        .args(["--filename", "{name}/{target}.mp3", "--bitrate", "128"])
        .assert()
        .success();
    let back = read_audio(s.path("sep").join("a").join("vocals.mp3")).unwrap();
    assert_eq!((back.nb_channels(), back.nb_frames()), (1, 4000));
    no_temp_files(s.dir.path());
}

/// The CLI refuses what MP3 cannot hold naming the file, and leaves nothing behind.
#[test]
fn the_cli_refuses_rates_mp3_cannot_hold() {
    let s = Setup::new();
    let mix = s.path("song96.wav");
    write_tones(&mix, 96_000, 2, 9000);
    s.extract(&mix, &s.path("v.mp3")).assert().failure().stderr(
        predicate::str::contains("v.mp3").and(predicate::str::contains("MP3 cannot hold 96000 Hz")),
    );
    assert!(!s.path("v.mp3").exists());
    s.extract(&s.path("song96.wav"), &s.path("v.mp3"))
        .args(["--format", "24"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("MP3 has no bit depth"));
    no_temp_files(s.dir.path());
}
