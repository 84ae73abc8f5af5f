//! The compute limit for the default model's shapes: LibTorch f32 matmul GFLOP/s for the three
//! layers at the separator's batch size, and the model's forward pass.
//!
//! `cargo run --release --example matmul_limit [BATCH_ROWS]`

use saex::model::{Model, ModelConfig};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

fn gflops(flop: f64, f: impl Fn()) -> f64 {
    f();
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed().as_secs_f64() < 2.0 {
        f();
        n += 1;
    }
    flop * n as f64 / start.elapsed().as_secs_f64() / 1e9
}

fn main() {
    let rows: i64 = std::env::args().nth(1).map_or(1024, |s| s.parse().unwrap());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    tch::set_num_threads(threads as i32);
    let config = ModelConfig::default_for("vocals");
    let (nb_in, nb) = (config.nb_inputs() as i64, config.nb_bins as i64);
    let x = Tensor::rand([rows, nb_in], (Kind::Float, Device::Cpu));
    let h = Tensor::rand([rows, nb], (Kind::Float, Device::Cpu));
    let w1 = Tensor::rand([nb, nb_in], (Kind::Float, Device::Cpu));
    let w2 = Tensor::rand([nb, nb], (Kind::Float, Device::Cpu));
    let l1 = gflops(2.0 * (rows * nb_in * nb) as f64, || {
        let _ = x.matmul(&w1.tr());
    });
    let l2 = gflops(2.0 * (rows * nb * nb) as f64, || {
        let _ = h.matmul(&w2.tr());
    });
    let per_frame = 2.0 * (nb_in * nb + (config.nb_layers as i64 - 1) * nb * nb) as f64;
    let layer_time =
        (nb_in * nb) as f64 / l1 + ((config.nb_layers as i64 - 1) * nb * nb) as f64 / l2;
    let limit = (nb_in * nb + (config.nb_layers as i64 - 1) * nb * nb) as f64 / layer_time;
    let model = Model::new(config.clone(), Device::Cpu).unwrap();
    let forward = gflops(per_frame * rows as f64, || {
        let _ = model.forward(&x);
    });
    let frames_per_second_audio = config.sample_rate as f64 / config.hop as f64;
    println!("threads {threads}, batch rows {rows}");
    println!("layer 1 matmul ({nb_in} -> {nb}): {l1:.1} GFLOP/s");
    println!("layer 2.. matmul ({nb} -> {nb}): {l2:.1} GFLOP/s");
    println!("compute limit on the model's shapes: {limit:.1} GFLOP/s");
    println!("model forward (with scaling, ReLU, bias): {forward:.1} GFLOP/s");
    println!("model FLOPs per frame: {:.3} MFLOP", per_frame / 1e6);
    println!(
        "model FLOPs per second of stereo audio: {:.3} GFLOP",
        per_frame * frames_per_second_audio * 2.0 / 1e9
    );
}
