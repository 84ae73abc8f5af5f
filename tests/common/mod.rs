//! Helpers shared by the CLI tests: tiny model folders and generated audio.

#![allow(dead_code)]

use saex::model::{Model, ModelConfig, MODEL_FORMAT_VERSION};
use saex::{write_wav, AudioBuffer, SampleFormat};
use std::path::Path;

/// A tiny random model for `target` (n_fft 256 at 22.05 kHz, 2 layers of 48 units): enough
/// to run the pipeline end to end in milliseconds.
pub fn tiny_model(dir: &Path, target: &str) {
    let config = ModelConfig {
        format_version: MODEL_FORMAT_VERSION,
        target: target.to_string(),
        sample_rate: 22050,
        n_fft: 256,
        hop: 64,
        window: "hann".into(),
        context: 1,
        nb_bins_in: 48,
        nb_bins: 48,
        nb_layers: 2,
        scaling: true,
        init: "random".into(),
        dtype: "f32".into(),
        training: None,
        command: None,
        scores: None,
    };
    tch::manual_seed(7);
    let model = Model::new(config, tch::Device::Cpu).unwrap();
    model.save(dir).unwrap();
}

/// `(nb_channels, nb_frames)` of tones and deterministic noise at `sample_rate`.
pub fn tones(sample_rate: u32, nb_channels: usize, nb_frames: usize) -> AudioBuffer {
    let channels = (0..nb_channels)
        .map(|c| {
            (0..nb_frames)
                .map(|i| {
                    let t = i as f32 / sample_rate as f32;
                    0.3 * (2.0 * std::f32::consts::PI * (330.0 + 50.0 * c as f32) * t).sin()
                        + 0.05 * (((i * 7919 + c * 13) % 2003) as f32 / 1001.5 - 1.0)
                })
                .collect()
        })
        .collect();
    AudioBuffer::new(sample_rate, channels).unwrap()
}

/// Writes [`tones`] as a 16-bit WAV.
pub fn write_tones(path: &Path, sample_rate: u32, nb_channels: usize, nb_frames: usize) {
    write_wav(
        path,
        &tones(sample_rate, nb_channels, nb_frames),
        SampleFormat::Pcm16,
    )
    .unwrap();
}
