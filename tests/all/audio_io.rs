//! Decoding and encoding against known content: every WAV encoding, FLAC, MP3, Ogg Vorbis, and
//! the refusals (missing, empty, truncated, not audio, NaN).

use crate::common::data;
use saex::{read_audio, write_wav, AudioBuffer, SampleFormat};
use std::path::Path;

/// A ramp that exercises the full range: `(nb_channels, nb_frames)` in [-1, 1).
fn ramp(nb_channels: usize, nb_frames: usize) -> Vec<Vec<f32>> {
    (0..nb_channels)
        .map(|c| {
            (0..nb_frames)
                .map(|i| ((i * 37 + c * 11) % 200) as f32 / 100.0 - 1.0)
                .collect()
        })
        .collect()
}

fn write_int_wav(path: &Path, bits: u16, nb_channels: u16, rate: u32, frames: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels: nb_channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let full = (1i64 << (bits - 1)) as f32;
    for i in 0..frames[0].len() {
        for ch in frames {
            let v = (ch[i] * full) as i32;
            match bits {
                8 => w.write_sample(v as i8).unwrap(),
                16 => w.write_sample(v as i16).unwrap(),
                _ => w.write_sample(v).unwrap(),
            }
        }
    }
    w.finalize().unwrap();
}

#[test]
fn reads_every_pcm_width() {
    let dir = tempfile::tempdir().unwrap();
    for bits in [8u16, 16, 24, 32] {
        for nb_channels in [1u16, 2, 6] {
            let frames = ramp(nb_channels as usize, 1001);
            let path = dir.path().join(format!("pcm{bits}_{nb_channels}.wav"));
            write_int_wav(&path, bits, nb_channels, 22050, &frames);
            let audio = read_audio(&path).unwrap();
            assert_eq!(audio.sample_rate, 22050);
            assert_eq!(audio.nb_channels(), nb_channels as usize, "{bits}-bit");
            assert_eq!(audio.nb_frames(), 1001, "{bits}-bit {nb_channels} channels");
            let tolerance = 1.0 / (1u64 << (bits - 1)) as f32 + 1e-7;
            for (got, want) in audio.channels.iter().zip(&frames) {
                for (g, w) in got.iter().zip(want) {
                    assert!((g - w).abs() <= tolerance, "{bits}-bit: {g} vs {w}");
                }
            }
        }
    }
}

#[test]
fn float_and_pcm_round_trip_through_our_writer() {
    let dir = tempfile::tempdir().unwrap();
    let audio = AudioBuffer::new(48000, ramp(2, 4096)).unwrap();
    for (format, tolerance) in [
        (SampleFormat::Pcm16, 1.0 / 32768.0),
        (SampleFormat::Pcm24, 1.0 / 8_388_608.0),
        (SampleFormat::Float32, 0.0),
    ] {
        let path = dir.path().join(format!("{format:?}.wav"));
        write_wav(&path, &audio, format).unwrap();
        let back = read_audio(&path).unwrap();
        assert_eq!(back.sample_rate, 48000);
        assert_eq!(back.nb_frames(), 4096);
        let err = back
            .channels
            .iter()
            .flatten()
            .zip(audio.channels.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err <= tolerance, "{format:?}: max error {err}");
    }
}

/// Correlation of a decoded channel, from sample `offset` on, with a sine of `freq` Hz.
fn matches_tone(channel: &[f32], offset: usize, freq: f64) -> f64 {
    let reference: Vec<f64> = (offset..offset + channel.len())
        .map(|i| (2.0 * std::f64::consts::PI * freq * i as f64 / 44100.0).sin())
        .collect();
    let dot: f64 = channel
        .iter()
        .zip(&reference)
        .map(|(a, b)| *a as f64 * b)
        .sum();
    let na: f64 = channel
        .iter()
        .map(|a| (*a as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    let nb: f64 = reference.iter().map(|b| b * b).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn compressed_formats_decode_to_the_right_length() {
    for name in ["tone.flac", "tone.mp3", "tone.ogg"] {
        let audio = read_audio(data(name)).unwrap();
        assert_eq!(audio.sample_rate, 44100, "{name}");
        assert_eq!(audio.nb_channels(), 2, "{name}");
        assert_eq!(audio.nb_frames(), 44100, "{name}: frames");
        // Lossy codecs shift nothing: the content lines up with the original sines.
        for (channel, freq) in audio.channels.iter().zip([440.0, 660.0]) {
            let corr = matches_tone(&channel[4410..39690], 4410, freq);
            assert!(corr > 0.95, "{name} {freq} Hz: correlation {corr}");
        }
    }
}

fn error_of(path: &Path) -> String {
    read_audio(path).unwrap_err().to_string()
}

#[test]
fn refuses_bad_files_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.wav");
    assert!(error_of(&missing).contains("missing.wav"));

    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let err = error_of(&empty);
    assert!(
        err.contains("empty.wav") && err.contains("empty file"),
        "{err}"
    );

    let text = dir.path().join("notes.wav");
    std::fs::write(&text, "these are my notes, not audio\n".repeat(20)).unwrap();
    let err = error_of(&text);
    assert!(
        err.contains("notes.wav") && err.contains("not a recognised audio file"),
        "{err}"
    );

    let good = dir.path().join("good.wav");
    write_int_wav(&good, 24, 2, 44100, &ramp(2, 10_000));
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.wav");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = error_of(&truncated);
    assert!(
        err.contains("truncated.wav") && err.contains("truncated"),
        "{err}"
    );

    let nan = dir.path().join("nan.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&nan, spec).unwrap();
    for x in [0.0f32, 0.5, f32::NAN, 0.1] {
        w.write_sample(x).unwrap();
    }
    w.finalize().unwrap();
    let err = error_of(&nan);
    assert!(err.contains("nan.wav") && err.contains("NaN"), "{err}");
}

#[test]
fn writing_into_a_missing_folder_fails_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/folder/out.wav");
    let audio = AudioBuffer::new(44100, ramp(1, 100)).unwrap();
    let err = write_wav(&path, &audio, SampleFormat::Pcm16)
        .unwrap_err()
        .to_string();
    assert!(err.contains("out.wav"), "{err}");
}

#[test]
fn skipping_in_a_flac_file_reads_the_same_frames_as_decoding_from_the_start() {
    let whole = read_audio(data("tone.flac")).unwrap();
    for start in [0u64, 1, 4095, 4096, 4097, 30_000, 44_000] {
        let mut reader = saex::audio::AudioReader::open(data("tone.flac")).unwrap();
        assert_eq!(reader.skip(start).unwrap(), start);
        let block = reader.read(100).unwrap();
        let end = (start as usize + 100).min(44_100);
        for (got, all) in block.iter().zip(&whole.channels) {
            assert_eq!(
                got.as_slice(),
                &all[start as usize..end],
                "from frame {start}"
            );
        }
    }
    // At the end: nothing left, no error.
    let mut reader = saex::audio::AudioReader::open(data("tone.flac")).unwrap();
    reader.skip(30_000).unwrap();
    assert_eq!(reader.skip(20_000).unwrap(), 14_100);
    assert!(reader.read(10).unwrap()[0].is_empty());
}

/// An AIFF file written by hand: `COMM` (channels, frames, 16 bits, the rate as an 80-bit
/// extended float) and `SSND` (big-endian interleaved samples).
fn aiff_bytes(rate: u32, channels: &[Vec<i16>]) -> Vec<u8> {
    let nb_frames = channels[0].len();
    let mut comm = Vec::new();
    comm.extend((channels.len() as i16).to_be_bytes());
    comm.extend((nb_frames as u32).to_be_bytes());
    comm.extend(16i16.to_be_bytes());
    let exponent = 31 - rate.leading_zeros(); // floor(log2(rate))
    comm.extend((16383 + exponent as u16).to_be_bytes());
    comm.extend((u64::from(rate) << (63 - exponent)).to_be_bytes());
    let mut ssnd = vec![0u8; 8]; // offset and block size
    for i in 0..nb_frames {
        for ch in channels {
            ssnd.extend(ch[i].to_be_bytes());
        }
    }
    let mut form = b"AIFF".to_vec();
    for (id, body) in [(b"COMM", comm), (b"SSND", ssnd)] {
        form.extend(id);
        form.extend((body.len() as u32).to_be_bytes());
        form.extend(&body);
    }
    let mut bytes = b"FORM".to_vec();
    bytes.extend((form.len() as u32).to_be_bytes());
    bytes.extend(form);
    bytes
}

/// AIFF (read by symphonia): the exact samples, rate, channels and length (symphonia 0.5 alone
/// announces one to four frames more, from SSND's header); extract keeps them, from a file or
/// standard input.
#[test]
fn aiff_is_read_sample_for_sample() {
    let dir = tempfile::tempdir().unwrap();
    let channels: Vec<Vec<i16>> = (0..2)
        .map(|c| {
            (0..3001)
                .map(|i| ((i * 97 + c * 5000) % 60_000 - 30_000) as i16)
                .collect()
        })
        .collect();
    let path = dir.path().join("song.aiff");
    std::fs::write(&path, aiff_bytes(22_050, &channels)).unwrap();
    let audio = read_audio(&path).unwrap();
    assert_eq!(
        (audio.sample_rate, audio.nb_channels(), audio.nb_frames()),
        (22_050, 2, 3001)
    );
    for (c, (got, want)) in audio.channels.iter().zip(&channels).enumerate() {
        for (i, (&x, &y)) in got.iter().zip(want).enumerate() {
            assert_eq!(x, f32::from(y) / 32768.0, "channel {c}, frame {i}");
        }
    }
    let s = crate::common::Setup::new();
    let aif = s.path("song.aif");
    std::fs::copy(&path, &aif).unwrap();
    s.extract(&aif, &s.path("vocals.wav")).assert().success();
    // And from standard input (was: "truncated: the header announces 3003 frames").
    s.extract(Path::new("-"), &s.path("piped.wav"))
        .pipe_stdin(&aif)
        .unwrap()
        .assert()
        .success();
    for name in ["vocals.wav", "piped.wav"] {
        let out = read_audio(s.path(name)).unwrap();
        assert_eq!(
            (out.sample_rate, out.nb_channels(), out.nb_frames()),
            (22_050, 2, 3001),
            "{name}"
        );
    }
}

/// The peak amplitude of a channel's component at `freq` (a single-bin DFT over whole cycles
/// of 1/100 s), and the fraction of its energy that lies there.
fn tone_level(channel: &[f32], freq: f64) -> (f64, f64) {
    let n = channel.len() / 441 * 441;
    let (mut re, mut im) = (0.0f64, 0.0f64);
    for (i, &x) in channel[..n].iter().enumerate() {
        let phase = 2.0 * std::f64::consts::PI * freq * i as f64 / 44100.0;
        re += x as f64 * phase.cos();
        im += x as f64 * phase.sin();
    }
    let amplitude = 2.0 * (re * re + im * im).sqrt() / n as f64;
    let energy: f64 = channel[..n]
        .iter()
        .map(|&x| (x as f64).powi(2))
        .sum::<f64>()
        / n as f64;
    (amplitude, amplitude * amplitude / 2.0 / energy)
}

#[test]
fn aac_in_mp4_decodes_gapless_to_the_original_length() {
    // tests/data/tone.m4a: ffmpeg's AAC encoder, 1 s (44100 frames) of 440 Hz left and 660 Hz
    // right at 0.5 (scripts/make-test-media.sh). The encoder puts 1024 frames of priming before
    // the audio and pads the last packet; the MP4 edit list says both, and saex drops them.
    let mut reader = saex::audio::AudioReader::open(data("tone.m4a")).unwrap();
    assert_eq!(reader.info().nb_frames, Some(44100));
    let audio = read_audio(data("tone.m4a")).unwrap();
    assert_eq!((audio.sample_rate, audio.nb_channels()), (44100, 2));
    assert_eq!(audio.nb_frames(), 44100);
    for (channel, freq) in audio.channels.iter().zip([440.0, 660.0]) {
        // In phase with the original: the priming is gone.
        let corr = matches_tone(&channel[4410..39690], 4410, freq);
        assert!(corr > 0.95, "{freq} Hz: correlation {corr}");
        let (amplitude, share) = tone_level(&channel[4410..39690], freq);
        assert!(
            (amplitude - 0.5).abs() < 0.05,
            "{freq} Hz: amplitude {amplitude}"
        );
        assert!(share > 0.95, "{freq} Hz: {share} of the energy");
    }
    // Seeking lands on the same samples as decoding from the start (up to the codec's noise).
    for start in [1000u64, 20_000] {
        reader = saex::audio::AudioReader::open(data("tone.m4a")).unwrap();
        reader.skip(start).unwrap();
        let block = reader.read(2000).unwrap();
        for (got, all) in block.iter().zip(&audio.channels) {
            let want = &all[start as usize..start as usize + 2000];
            let err = got
                .iter()
                .zip(want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(err < 1e-3, "from frame {start}: max difference {err}");
        }
    }
}

/// tests/data/tiny.stem.mp4 (scripts/make-test-media.sh): the stems layout of MUSDB18, 1 s of
/// 44.1 kHz stereo AAC per stream; the sources are sines at 0.2, the mixture their sum.
const STEM_TONES: [(&str, &[f64]); 5] = [
    ("mixture", &[200.0, 300.0, 500.0, 700.0]),
    ("drums", &[200.0]),
    ("bass", &[300.0]),
    ("other", &[500.0]),
    ("vocals", &[700.0]),
];

#[test]
fn every_stream_of_a_stems_file_decodes_to_its_own_tones() {
    let path = data("tiny.stem.mp4");
    let infos = saex::audio::stream_infos(&path).unwrap();
    assert_eq!(infos.len(), 5);
    let streams = saex::read_streams(&path).unwrap();
    for (i, ((name, freqs), audio)) in STEM_TONES.iter().zip(&streams).enumerate() {
        assert_eq!(
            (audio.sample_rate, audio.nb_channels()),
            (44100, 2),
            "{name}"
        );
        assert_eq!(audio.nb_frames(), 44100, "{name}: the edit list's length");
        assert_eq!(infos[i].nb_frames, Some(44100), "{name}");
        for channel in &audio.channels {
            let mut share = 0.0;
            for freq in [200.0, 300.0, 500.0, 700.0] {
                let (amplitude, part) = tone_level(&channel[4410..39690], freq);
                if freqs.contains(&freq) {
                    assert!(
                        (amplitude - 0.2).abs() < 0.03,
                        "{name} {freq} Hz: {amplitude}"
                    );
                } else {
                    assert!(amplitude < 0.01, "{name}: {freq} Hz at {amplitude}");
                }
                share += part;
            }
            assert!(share > 0.95, "{name}: {share} of the energy in the tones");
        }
        // One stream alone, as training reads excerpts, gives the same samples.
        let alone = saex::audio::AudioReader::open_stream(&path, i)
            .unwrap()
            .read_to_end()
            .unwrap();
        assert_eq!(&alone, audio, "{name}");
    }
    let err = saex::audio::AudioReader::open_stream(&path, 5)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("tiny.stem.mp4") && err.contains("expected 6 audio streams, found 5"),
        "{err}"
    );
}

/// Issue 16, item 4: `.m4a` and `.aiff` stems make a track folder like `.wav` ones (training
/// and evaluation read folders the same way).
#[test]
fn m4a_and_aiff_stems_make_a_track() {
    let dir = tempfile::tempdir().unwrap();
    let track = dir.path().join("song");
    std::fs::create_dir(&track).unwrap();
    // tone.m4a: 44100 frames of stereo at 44.1 kHz once its edit list is applied.
    std::fs::copy(data("tone.m4a"), track.join("vocals.m4a")).unwrap();
    let bass: Vec<Vec<i16>> = (0..2)
        .map(|c| (0..44_100).map(|i| ((i * (c + 3)) % 2000) as i16).collect())
        .collect();
    std::fs::write(track.join("bass.aiff"), aiff_bytes(44_100, &bass)).unwrap();
    let opened = saex::Track::open(&track, "vocals").unwrap();
    let mut names: Vec<&str> = opened.stems().iter().map(|s| s.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["bass", "vocals"]);
    let bass = opened.stem("bass").unwrap();
    assert!(bass.path.ends_with("bass.aiff"), "{}", bass.path.display());
}

/// Issue 16, item 3: Ogg Opus (libopus through ffmpeg, 312 frames of pre-skip) decodes at
/// 48 kHz, Opus's only rate, to the original 48000 frames (the pre-skip and the last page's
/// padding dropped by the granule positions), in phase with the original sines.
#[test]
fn opus_decodes_at_48_khz_to_the_original_length() {
    let audio = read_audio(data("tone.opus")).unwrap();
    assert_eq!(audio.sample_rate, 48_000);
    assert_eq!(audio.nb_channels(), 2);
    assert_eq!(audio.nb_frames(), 48_000);
    for (c, freq) in [(0, 440.0f32), (1, 660.0)] {
        let expected: Vec<f32> = (0..48_000)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * freq * i as f32 / 48_000.0).sin())
            .collect();
        // Away from the edges, where the codec's window starts and ends.
        let range = 2_000..46_000;
        let err: f32 = range
            .clone()
            .map(|i| (audio.channels[c][i] - expected[i]).powi(2))
            .sum::<f32>()
            / range.len() as f32;
        let power = 0.125; // 0.5^2 / 2
        let snr = 10.0 * (power / err).log10();
        assert!(snr > 20.0, "channel {c}: SNR {snr:.1} dB");
    }
    // A truncated Opus file is an error naming it, never a panic.
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(data("tone.opus")).unwrap();
    let cut = dir.path().join("cut.opus");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    match read_audio(&cut) {
        Ok(audio) => assert!(audio.nb_frames() < 48_000),
        Err(e) => assert!(e.to_string().contains("cut.opus"), "{e}"),
    }
}
