//! The network's forward pass on one separator batch, and the least-squares initialisation of
//! layer 1 (accumulating one batch, solving the system), on the default model's shapes.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use saex::model::{Model, ModelConfig};
use saex::separate::SeparateOptions;
use saex::train::LsAccumulator;
use std::hint::black_box;
use std::time::Duration;
use tch::{Device, Kind, Tensor};

fn bench(c: &mut Criterion) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    tch::set_num_threads(threads as i32);
    let config = ModelConfig::default_for("vocals");
    let (nb_in, nb) = (config.nb_inputs() as i64, config.nb_bins as i64);
    // The separator's batch: frames per batch times two channels, `(rows, nb_inputs)`.
    let rows = 2 * SeparateOptions::default().batch_frames as i64;
    let opts = (Kind::Float, Device::Cpu);
    let x = Tensor::rand([rows, nb_in], opts);
    let s = Tensor::rand([rows, nb], opts);
    let model = Model::new(config, Device::Cpu).unwrap();

    let mut group = c.benchmark_group("network");
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function(format!("forward {rows} frames"), |b| {
        b.iter(|| model.forward(black_box(&x)))
    });
    group.finish();

    let mut group = c.benchmark_group("least squares");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function(format!("accumulate {rows} frames ({nb_in} -> {nb})"), |b| {
        let mut acc = LsAccumulator::new(nb_in as usize, nb as usize, Device::Cpu);
        b.iter(|| acc.add(black_box(&x), black_box(&s), None).unwrap())
    });
    let mut acc = LsAccumulator::new(nb_in as usize, nb as usize, Device::Cpu);
    acc.add(&x, &s, None).unwrap();
    group.throughput(Throughput::Elements(1));
    group.bench_function(format!("solve ({nb_in} -> {nb})"), |b| {
        b.iter(|| acc.solve(black_box(1e-2)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
