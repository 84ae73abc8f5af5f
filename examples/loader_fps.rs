//! Measures the training loader: magnitude frames per second that `FrameMaker::sample` makes
//! from a corpus (decoding, augmentation, STFT), for docs/benchmarks.md.
//!
//! `cargo run --release --example loader_fps -- DATA TARGET NB_FRAMES [AUGMENT]`
//!
//! `AUGMENT`: `none`, `basic` (mix, gain, swap) or `all` (also eq, reverb, speed); default
//! basic. Reads DATA/train; prints one line: frames, seconds, frames per second. One thread.

use rand::SeedableRng;
use saex::dataset::discover;
use saex::model::ModelConfig;
use saex::train::Augment;
use saex::train::{ExcerptPlan, FrameMaker};
use std::path::Path;
use std::time::Instant;

fn main() -> saex::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: loader_fps DATA TARGET NB_FRAMES [none|basic|all]";
    let (data, target, nb_frames, augment) = match args.as_slice() {
        [d, t, n] => (d, t, n, "basic"),
        [d, t, n, a] => (d, t, n, a.as_str()),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let nb_frames: usize = nb_frames.parse().expect(usage);
    let augment = match augment {
        "none" => Augment::NONE,
        "basic" => Augment {
            eq: false,
            reverb: false,
            speed: false,
            ..Augment::ALL
        },
        "all" => Augment::ALL,
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    tch::set_num_threads(1);
    let dataset = discover(Path::new(data), target)?;
    let maker = FrameMaker::new(&ModelConfig::default_for(target), tch::Device::Cpu)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let started = Instant::now();
    let frames = maker.sample(
        &dataset.train,
        target,
        nb_frames,
        ExcerptPlan {
            seconds: 6.0,
            augment,
            mix_probability: 1.0,
        },
        &mut rng,
    )?;
    let secs = started.elapsed().as_secs_f64();
    let n = frames.nb_centres();
    println!(
        "{} tracks, augment {:?}: {n} frames in {secs:.2} s = {:.0} frames/s",
        dataset.train.len(),
        augment.names(),
        n as f64 / secs
    );
    Ok(())
}
