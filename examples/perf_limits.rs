//! The machine's limits on the default model's shapes, for `scripts/bench-performance.sh`:
//! LibTorch f32 matmul GFLOP/s per layer shape at the separator's batch, the model's forward
//! pass, and the least-squares initialisation's accumulation and solve. Each rate is the best of
//! several one-second windows (the best is the least disturbed by other work on the machine).
//!
//! `cargo run --release --example perf_limits [BATCH_ROWS]`
//!
//! Prints `key value` lines.

use saex::model::{Model, ModelConfig};
use saex::separate::SeparateOptions;
use saex::train::LsAccumulator;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

const WINDOWS: usize = 3;

/// The best rate of `work` units per second of `f` over a few one-second windows.
fn best_rate(work: f64, f: impl Fn()) -> f64 {
    f();
    (0..WINDOWS)
        .map(|_| {
            let start = Instant::now();
            let mut n = 0;
            while start.elapsed().as_secs_f64() < 1.0 {
                f();
                n += 1;
            }
            work * n as f64 / start.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

fn main() -> anyhow::Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    tch::set_num_threads(threads as i32);
    // The separator's batch: its frames per batch times two channels.
    let rows: i64 = match std::env::args().nth(1) {
        Some(s) => s.parse()?,
        None => 2 * SeparateOptions::default().batch_frames as i64,
    };
    let config = ModelConfig::default_for("vocals");
    let (nb_in, nb) = (config.nb_inputs() as i64, config.nb_bins as i64);
    let nb_hidden = config.nb_layers as i64 - 1;
    let opts = (Kind::Float, Device::Cpu);
    let x = Tensor::rand([rows, nb_in], opts);
    let h = Tensor::rand([rows, nb], opts);
    let w1 = Tensor::rand([nb, nb_in], opts);
    let w2 = Tensor::rand([nb, nb], opts);
    let b = Tensor::rand([nb], opts);
    let flop1 = 2.0 * (rows * nb_in * nb) as f64;
    let flop2 = 2.0 * (rows * nb * nb) as f64;
    let l1 = best_rate(flop1, || {
        let _ = x.linear(&w1, Some(&b));
    });
    let l2 = best_rate(flop2, || {
        let _ = h.linear(&w2, Some(&b));
    });
    // The limit for the model's mix of shapes: its FLOPs over the time the layers take at
    // those rates.
    let per_row = flop1 / rows as f64 + nb_hidden as f64 * flop2 / rows as f64;
    let limit = per_row / (flop1 / rows as f64 / l1 + nb_hidden as f64 * flop2 / rows as f64 / l2);
    let model = Model::new(config.clone(), Device::Cpu)?;
    let forward = best_rate(per_row * rows as f64, || {
        let _ = model.forward(&x);
    });
    let frames_per_second = config.sample_rate as f64 / config.hop as f64;

    // Least squares for layer 1 (the largest system), rows of the same batch.
    let s = Tensor::rand([rows, nb], opts);
    let mut acc = LsAccumulator::new(nb_in as usize, nb as usize, Device::Cpu);
    let start = Instant::now();
    let mut added = 0;
    while start.elapsed().as_secs_f64() < 2.0 {
        acc.add(&x, &s, None)?;
        added += rows;
    }
    let ls_rows_per_second = added as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let _ = acc.solve(1e-2)?;
    let ls_solve = start.elapsed().as_secs_f64();

    println!("threads {threads}");
    println!("batch_rows {rows}");
    println!("layer1_shape {nb_in}x{nb}");
    println!("layer1_gflops {:.1}", l1 / 1e9);
    println!("layer2_shape {nb}x{nb}");
    println!("layer2_gflops {:.1}", l2 / 1e9);
    println!("limit_gflops {:.1}", limit / 1e9);
    println!("forward_gflops {:.1}", forward / 1e9);
    println!("mflop_per_frame {:.3}", per_row / 1e6);
    println!(
        "gflop_per_stereo_second {:.4}",
        per_row * frames_per_second * 2.0 / 1e9
    );
    println!("ls_rows_per_second {ls_rows_per_second:.0}");
    println!("ls_solve_seconds {ls_solve:.3}");
    Ok(())
}
