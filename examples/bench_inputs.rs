//! Makes the inputs of the extraction benchmark (scripts/bench-extract.sh): a model of the
//! shipped default model's shape (models/vocals, what `saex extract` uses without --model) with
//! random weights (speed does not depend on the weights) and a generated stereo 44.1 kHz
//! mixture of the given length, streamed to disk.
//!
//! `cargo run --release --example bench_inputs -- OUT_DIR SECONDS [SECONDS ...]`

use saex::model::{Model, ModelConfig};
use saex::{SampleFormat, WavWriter};
use std::path::Path;

/// The shipped default model's config, compiled in, so that a binary carried to another machine
/// measures the same shape.
const SHIPPED_VOCALS: &str = include_str!("../models/vocals/config.json");

/// What the extraction's cost depends on.
fn shape(c: &ModelConfig) -> [usize; 8] {
    let rate = c.sample_rate as usize;
    let scaling = c.scaling as usize;
    [
        rate,
        c.n_fft,
        c.hop,
        c.context,
        c.nb_bins_in,
        c.nb_bins,
        c.nb_layers,
        scaling,
    ]
}

/// The shape of the shipped vocals model, without its training record and scores.
fn bench_config() -> ModelConfig {
    let shipped: ModelConfig =
        serde_json::from_str(SHIPPED_VOCALS).expect("models/vocals/config.json is a model config");
    ModelConfig {
        training: None,
        command: None,
        scores: Default::default(),
        ..shipped
    }
}

fn main() -> saex::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = Path::new(
        args.first()
            .expect("usage: bench_inputs OUT_DIR SECONDS..."),
    );
    std::fs::create_dir_all(out).map_err(|e| saex::Error::io(out, e))?;
    let model_dir = out.join("model");
    let config = bench_config();
    let cached = ModelConfig::read(&model_dir.join("config.json")).ok();
    // A model left by an earlier benchmark of another shape is replaced.
    if cached.is_none_or(|c| shape(&c) != shape(&config)) {
        tch::manual_seed(0);
        Model::new(config, tch::Device::Cpu)?.save(&model_dir)?;
    }
    for seconds in &args[1..] {
        let seconds: usize = seconds.parse().expect("SECONDS must be a whole number");
        let path = out.join(format!("mix-{seconds}s.wav"));
        if path.exists() {
            continue;
        }
        let rate = 44_100;
        let mut writer = WavWriter::create(&path, rate, 2, SampleFormat::Pcm16)?;
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for block in 0..seconds {
            let block: Vec<Vec<f32>> = (0..2)
                .map(|c| {
                    (0..rate as usize)
                        .map(|i| {
                            state ^= state << 13;
                            state ^= state >> 7;
                            state ^= state << 17;
                            let t = (block * rate as usize + i) as f32 / rate as f32;
                            let noise = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                            0.3 * (2.0 * std::f32::consts::PI * (220.0 + 110.0 * c as f32) * t)
                                .sin()
                                + 0.1 * noise
                        })
                        .collect()
                })
                .collect();
            writer.write(&block)?;
        }
        writer.finish()?;
    }
    Ok(())
}
