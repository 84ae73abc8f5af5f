//! Property tests: arbitrary and mutated bytes given to the audio decoders (WAV, FLAC, MP3, Ogg
//! through `AudioReader`), the MIDI reader, the SoundFont loader and the model loaders always
//! end in `Ok` or a typed error: never a panic, never a hang. Case counts are kept modest so that
//! each property runs in seconds.

use crate::common;
use crate::common::data;
use crate::render_support;
use proptest::prelude::*;
use saex::model::{Model, ModelConfig};
use saex::render::{load_soundfont, Song};
use saex::AudioReader;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::OnceLock;
use std::time::Duration;

/// Longer than any sound input takes; a case beyond it counts as a hang.
const CASE_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `f` on its own thread: the case fails when `f` panics or runs past [`CASE_TIMEOUT`].
fn bounded<T: Send + 'static>(what: String, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(CASE_TIMEOUT) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => panic!("{what}: no answer after {CASE_TIMEOUT:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what}: panicked"),
    }
}

/// Valid files of every decoded format: (extension, bytes).
fn audio_fixtures() -> &'static [(&'static str, Vec<u8>)] {
    static FIXTURES: OnceLock<Vec<(&'static str, Vec<u8>)>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        for (ext, format) in [
            ("wav", saex::SampleFormat::Pcm16),
            ("wav", saex::SampleFormat::Pcm24),
            ("wav", saex::SampleFormat::Float32),
        ] {
            let path = dir.path().join("fixture.wav");
            saex::write_wav(&path, &common::tones(22050, 2, 3000), format).unwrap();
            out.push((ext, std::fs::read(&path).unwrap()));
        }
        for ext in ["flac", "mp3", "ogg", "opus"] {
            out.push((ext, std::fs::read(data(&format!("tone.{ext}"))).unwrap()));
        }
        out
    })
}

/// Decodes `bytes` as a file named `input.<ext>` to the end (at most 10^7 frames): `Ok` with
/// the number of frames, or the error's message. The message must name the file.
fn decode(bytes: Vec<u8>, ext: &str) -> Result<u64, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("input.{ext}"));
    std::fs::write(&path, &bytes).unwrap();
    let what = format!("{} bytes as .{ext}", bytes.len());
    let result = bounded(what, move || -> saex::Result<u64> {
        let mut reader = AudioReader::open(&path)?;
        let mut frames = 0u64;
        while frames < 10_000_000 {
            let block = reader.read(1 << 14)?;
            if block[0].is_empty() {
                break;
            }
            assert_eq!(block.len(), reader.info().nb_channels);
            assert!(block.iter().all(|c| c.len() == block[0].len()));
            frames += block[0].len() as u64;
        }
        Ok(frames)
    });
    result.map_err(|e| {
        let message = e.to_string();
        assert!(
            message.contains("input."),
            "the error names the file: {message}"
        );
        message
    })
}

/// Applies `edits` (position as a fraction of the length, new byte) and an optional cut (as a
/// fraction) to `bytes`.
fn mutate(mut bytes: Vec<u8>, edits: &[(f64, u8)], cut: Option<f64>) -> Vec<u8> {
    if bytes.is_empty() {
        return bytes;
    }
    for &(at, byte) in edits {
        let i = ((at * bytes.len() as f64) as usize).min(bytes.len() - 1);
        bytes[i] = byte;
    }
    if let Some(cut) = cut {
        bytes.truncate((cut * bytes.len() as f64) as usize);
    }
    bytes
}

/// Edits biased to the start of the file, where the headers are.
fn edits() -> impl Strategy<Value = Vec<(f64, u8)>> {
    prop::collection::vec((prop_oneof![0.0..0.02f64, 0.0..1.0f64], any::<u8>()), 0..8)
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Shrinking a hang would wait for the timeout on every step.
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(
        bytes in prop::collection::vec(any::<u8>(), 0..4096),
        ext in prop::sample::select(vec!["wav", "flac", "mp3", "ogg", "bin"]),
    ) {
        let _ = decode(bytes, ext);
    }

    #[test]
    fn arbitrary_bytes_behind_a_real_magic_never_panic_the_decoders(
        index in 0..7usize,
        tail in prop::collection::vec(any::<u8>(), 0..2048),
        keep in 4..64usize,
    ) {
        let (ext, fixture) = &audio_fixtures()[index];
        let mut bytes = fixture[..keep.min(fixture.len())].to_vec();
        bytes.extend(tail);
        let _ = decode(bytes, ext);
    }

    #[test]
    fn mutated_audio_files_never_panic_the_decoders(
        index in 0..7usize,
        edits in edits(),
        cut in prop::option::of(0.0..1.0f64),
    ) {
        let (ext, fixture) = &audio_fixtures()[index];
        let _ = decode(mutate(fixture.clone(), &edits, cut), ext);
    }
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn arbitrary_and_mutated_bytes_never_panic_the_midi_reader(
        bytes in prop::collection::vec(any::<u8>(), 0..1024),
        edits in edits(),
        cut in prop::option::of(0.0..1.0f64),
        mutated in any::<bool>(),
    ) {
        let bytes = if mutated {
            mutate(render_support::song_midi(), &edits, cut)
        } else {
            bytes
        };
        let what = format!("{} bytes of MIDI", bytes.len());
        let result = bounded(what, move || {
            Song::parse(&bytes, "song.mid").map(|song| (song.nb_notes(), song.duration_secs()))
        });
        if let Err(e) = result {
            prop_assert!(e.to_string().starts_with("song.mid: "), "{e}");
        }
    }
}

fn soundfont_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(render_support::test_soundfont)
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn mutated_soundfonts_never_panic_the_loader(
        edits in edits(),
        cut in prop::option::of(0.0..1.0f64),
    ) {
        let bytes = mutate(soundfont_bytes().to_vec(), &edits, cut);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("font.sf2");
        std::fs::write(&path, &bytes).unwrap();
        let result = bounded("SoundFont".into(), move || load_soundfont(&path).map(|_| ()));
        if let Err(e) = result {
            prop_assert!(e.to_string().contains("font.sf2"), "{e}");
        }
    }
}

/// The tiny model's files: (config.json, model.safetensors).
fn model_files() -> &'static (String, Vec<u8>) {
    static FILES: OnceLock<(String, Vec<u8>)> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        common::tiny_model(dir.path(), "vocals");
        (
            std::fs::read_to_string(dir.path().join("config.json")).unwrap(),
            std::fs::read(dir.path().join("model.safetensors")).unwrap(),
        )
    })
}

/// Loads a model folder made of `config` and `weights`; the error must name a file of it.
fn load_model(config: Vec<u8>, weights: Vec<u8>) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    std::fs::write(dir.path().join("model.safetensors"), weights).unwrap();
    let path = dir.path().to_path_buf();
    let result = bounded("model".into(), move || {
        Model::load(&path, tch::Device::Cpu).map(|m| m.nb_parameters())
    });
    result.map(|_| ()).map_err(|e| {
        let message = e.to_string();
        assert!(
            message.contains("config.json") || message.contains("model.safetensors"),
            "the error names the file: {message}"
        );
        message
    })
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(Into::into),
        any::<u64>().prop_map(Into::into),
        any::<i64>().prop_map(Into::into),
        (0..70u64).prop_map(Into::into),
        any::<f64>().prop_map(
            |x| serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, Into::into)
        ),
        ".{0,12}".prop_map(Into::into),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Into::into),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

const CONFIG_FIELDS: [&str; 14] = [
    "format_version",
    "target",
    "sample_rate",
    "n_fft",
    "hop",
    "window",
    "context",
    "nb_bins_in",
    "nb_bins",
    "nb_layers",
    "scaling",
    "init",
    "dtype",
    "training",
];

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_and_mutated_configs_never_panic_the_loader(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        changes in prop::collection::vec((prop::sample::select(CONFIG_FIELDS.to_vec()), json_value()), 1..4),
        edits in edits(),
        kind in 0..3u8,
    ) {
        let (config, weights) = model_files();
        let config = match kind {
            0 => bytes,
            1 => {
                let mut value: serde_json::Value = serde_json::from_str(config).unwrap();
                for (field, new) in changes {
                    value[field] = new;
                }
                value.to_string().into_bytes()
            }
            _ => mutate(config.clone().into_bytes(), &edits, None),
        };
        let _ = load_model(config.clone(), weights.clone());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, &config).unwrap();
        if let Ok(parsed) = ModelConfig::read(&path) {
            parsed.validate().unwrap();
            parsed.stft_config().unwrap();
        }
    }

    #[test]
    fn mutated_weights_never_panic_the_loader(
        edits in edits(),
        cut in prop::option::of(0.0..1.0f64),
    ) {
        let (config, weights) = model_files();
        let _ = load_model(config.clone().into_bytes(), mutate(weights.clone(), &edits, cut));
    }
}
