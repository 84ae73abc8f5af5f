//! Writes synthetic paired stems (vocals, bass, drums) in the MUSDB18-HQ layout, for trying
//! `saex train` without a corpus:
//!
//! ```text
//! cargo run --release --example synth_stems -- OUT_DIR [SECONDS] [NB_TRAIN] [NB_VALID] [RATE] [SEED]
//! ```

use saex::train::{write_dataset, SynthSpec};
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first() else {
        anyhow::bail!("usage: synth_stems OUT_DIR [SECONDS] [NB_TRAIN] [NB_VALID] [RATE] [SEED]");
    };
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let spec = SynthSpec {
        seconds: arg(1, "20").parse()?,
        nb_train: arg(2, "8").parse()?,
        nb_valid: arg(3, "2").parse()?,
        sample_rate: arg(4, "44100").parse()?,
        nb_channels: 2,
        seed: arg(5, "0").parse()?,
    };
    write_dataset(&PathBuf::from(out), &spec)?;
    eprintln!(
        "wrote {} train and {} valid tracks of {} s at {} Hz to {out}",
        spec.nb_train, spec.nb_valid, spec.seconds, spec.sample_rate
    );
    Ok(())
}
