//! Makes the inputs of the batch load test (scripts/load-batch.sh): a model of the default shape
//! with random weights and a folder of short generated stereo 44.1 kHz mixtures.
//!
//! `cargo run --release --example load_inputs -- OUT_DIR NB_FILES SECONDS`
//!
//! Writes `OUT_DIR/model` and `OUT_DIR/mixes/NNNN.wav` (files already there are kept).

use saex::model::{Model, ModelConfig};
use saex::{write_wav, AudioBuffer, SampleFormat};
use std::path::Path;

fn main() -> saex::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: load_inputs OUT_DIR NB_FILES SECONDS";
    let [out, nb_files, seconds] = args.as_slice() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let out = Path::new(out);
    let nb_files: usize = nb_files.parse().expect(usage);
    let seconds: f64 = seconds.parse().expect(usage);
    let model_dir = out.join("model");
    if !model_dir.join("config.json").exists() {
        tch::manual_seed(0);
        Model::new(ModelConfig::default_for("vocals"), tch::Device::Cpu)?.save(&model_dir)?;
    }
    let mixes = out.join("mixes");
    std::fs::create_dir_all(&mixes).map_err(|e| saex::Error::io(&mixes, e))?;
    let rate = 44_100u32;
    let nb_frames = (seconds * rate as f64) as usize;
    for k in 0..nb_files {
        let path = mixes.join(format!("{k:04}.wav"));
        if path.exists() {
            continue;
        }
        let channels = (0..2)
            .map(|c| {
                let freq = 110.0 * (1.0 + ((k * 7 + c * 3) % 24) as f32 / 12.0);
                (0..nb_frames)
                    .map(|i| {
                        let t = i as f32 / rate as f32;
                        let noise = ((i * 7919 + k * 104_729 + c) % 2003) as f32 / 1001.5 - 1.0;
                        0.3 * (2.0 * std::f32::consts::PI * freq * t).sin() + 0.05 * noise
                    })
                    .collect()
            })
            .collect();
        write_wav(
            &path,
            &AudioBuffer::new(rate, channels)?,
            SampleFormat::Pcm16,
        )?;
    }
    Ok(())
}
