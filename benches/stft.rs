//! STFT and ISTFT throughput on 10 s of mono 44.1 kHz audio (seconds of audio per second of
//! compute = 10 / the reported time).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use saex::stft::{Istft, Stft, StftConfig};
use std::hint::black_box;

fn signal(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (i as f32 * 0.031).sin() * 0.5 + ((i * 7919) % 1013) as f32 / 4052.0)
        .collect()
}

fn bench(c: &mut Criterion) {
    let x = signal(441_000);
    let mut group = c.benchmark_group("stft");
    group.throughput(Throughput::Elements(x.len() as u64));
    for (n_fft, hop) in [(2048, 512), (4096, 1024)] {
        let config = StftConfig::new(n_fft, hop).unwrap();
        let (stft, istft) = (Stft::new(config), Istft::new(config));
        let spec = stft.forward(&x);
        group.bench_function(format!("forward n_fft {n_fft} hop {hop}"), |b| {
            b.iter(|| stft.forward(black_box(&x)))
        });
        group.bench_function(format!("inverse n_fft {n_fft} hop {hop}"), |b| {
            b.iter(|| istft.inverse(black_box(&spec), x.len()).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
