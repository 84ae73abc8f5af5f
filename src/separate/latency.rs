//! The low-latency mode: how the engine is set up for it and the latency it promises.
//!
//! In [`Latency::Low`] the engine reads one hop of input at a time and sends every frame through
//! the network as soon as its `C * S` future frames exist, on one thread
//! ([`super::hop::HopProcessor`]), and the outputs are flushed hop by hop. Every per-frame
//! computation is the batched CPU path's, so the samples are the same (the network's matrix
//! products may round differently for one row than for many); only *when* they come out
//! changes. The signal processing runs on the CPU whatever the compute path (the network on
//! its model's device). The output stays aligned with the input
//! (sample `n` of a file is sample `n` of the batched engine's file); on a stream, output sample
//! `n` is written once input sample `n + D - 1` has been read, where `D` is
//! [`algorithmic_latency`].

use crate::choice::named_choice;
use crate::stft::StftConfig;

named_choice!(
    /// When frames go through the network.
    #[derive(Default)]
    Latency, "latency" {
        /// Batches of many frames, read in large blocks: the fastest, latency of seconds.
        #[default]
        Batch = "batch",
        /// One frame as soon as its future context exists, one hop read at a time: the
        /// algorithmic latency of [`algorithmic_latency`] (about 58 ms for n_fft 2048, hop 512,
        /// C = 1 at 44.1 kHz, the shipped vocals and bass models; 81 ms for C = 3, drums). The
        /// multichannel Wiener filter (`niter > 0`), which estimates covariances over a batch
        /// of future frames, is refused in this mode.
        Low = "low",
    }
);

/// The latency of the low-latency mode, in samples at the model's rate: output sample `n` is
/// final once input samples `0 .. n + D` have been read, for every `n` (the worst case over
/// the samples of a hop). `reach`: the future frames a frame's network input needs (`C * S`,
/// the largest over the models).
///
/// Derivation (frame `t` covers samples `t * hop - n_fft / 2 .. t * hop + n_fft / 2`): once
/// `m = k * hop + n_fft / 2` samples are in, frames `0 ..= k` exist, frames `0 ..= k - reach`
/// have their context and go through the network, and the overlap-add has every frame covering
/// the samples before `(k - reach + 1) * hop - n_fft / 2` (but emits none from
/// `(k - reach - 1) * hop` on, see [`crate::stft::IstftStream`]); the first of the hop of
/// samples this step finalises waited `n_fft + reach * hop` samples (or `n_fft / 2 + (reach + 2) * hop` when
/// `hop > n_fft / 4`). Input is read one hop at a time from sample 0, so when `n_fft / 2` is
/// not a multiple of `hop` a frame completes part way through a read, which adds the rest of
/// that read.
pub fn algorithmic_latency(stft: StftConfig, reach: usize) -> usize {
    let (n_fft, hop) = (stft.n_fft(), stft.hop());
    let misalign = (hop - (n_fft / 2) % hop) % hop;
    (n_fft + reach * hop).max(n_fft / 2 + (reach + 2) * hop) + misalign
}

#[cfg(test)]
mod tests {
    use super::super::pipeline::{BlockSink, BlockSource};
    use super::super::{Estimator, EstimatorSpec, SeparateOptions, Separator};
    use super::*;
    use crate::error::Result;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    use tch::{Device, Tensor};

    /// Half the centre frame: every row on its own, so any batching gives the same samples.
    struct HalfCentre(EstimatorSpec);

    impl Estimator for HalfCentre {
        fn spec(&self) -> &EstimatorSpec {
            &self.0
        }
        fn device(&self) -> Device {
            Device::Cpu
        }
        fn estimate(&self, input: &Tensor) -> Result<Tensor> {
            let (c, l) = (self.0.context as i64, self.0.nb_bins_in as i64);
            Ok(input.narrow(1, c * l, self.0.nb_bins as i64) * 0.5)
        }
    }

    /// Hands out a mono signal read by read, each time first waiting (up to 10 s) until the
    /// sink holds every sample the latency promises for the input read so far, and records
    /// `(input read, output written, output promised)` at every read.
    struct Gated {
        signal: Vec<f32>,
        position: usize,
        latency: usize,
        hop: usize,
        written: Arc<AtomicUsize>,
        log: Vec<(usize, usize, usize)>,
    }

    impl BlockSource for Gated {
        fn sample_rate(&self) -> u32 {
            8000
        }
        fn nb_channels(&self) -> usize {
            1
        }
        fn read(&mut self, max_frames: usize) -> Result<Vec<Vec<f32>>> {
            assert_eq!(max_frames, self.hop, "the low-latency mode reads one hop");
            let m = self.position;
            let end = (m + max_frames).min(self.signal.len());
            if !m.is_multiple_of(self.hop) {
                // The read after the short last one: the end flushes the rest.
                self.position = end;
                return Ok(vec![self.signal[m..end].to_vec()]);
            }
            // After `m` samples read, the hop of samples ending `D - hop` earlier is out.
            let promised = (m + self.hop).saturating_sub(self.latency).min(m);
            let start = Instant::now();
            while self.written.load(Ordering::SeqCst) < promised
                && start.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_micros(200));
            }
            self.log
                .push((m, self.written.load(Ordering::SeqCst), promised));
            self.position = end;
            Ok(vec![self.signal[m..end].to_vec()])
        }
    }

    struct Counter(Arc<AtomicUsize>);

    impl BlockSink for Counter {
        fn write(&mut self, block: &[Vec<f32>]) -> Result<()> {
            self.0.fetch_add(block[0].len(), Ordering::SeqCst);
            Ok(())
        }
    }

    /// The engine in low-latency mode writes each output sample exactly when the stated
    /// latency says: never later (the source waits for it), never earlier (else the statement
    /// overstates it), over a grid of STFT set-ups and contexts.
    #[test]
    fn output_comes_out_exactly_the_stated_latency_after_the_input() {
        for (n_fft, hop, context, stride) in [
            (256, 64, 2, 1),
            (256, 128, 1, 1),
            (240, 48, 2, 1),
            (256, 64, 1, 3),
            (2048, 512, 3, 1),
        ] {
            let stft = StftConfig::new(n_fft, hop).unwrap();
            let spec = EstimatorSpec {
                target: "vocals".into(),
                sample_rate: 8000,
                stft,
                context,
                context_stride: stride,
                nb_bins_in: 20,
                nb_bins: 16,
            };
            let separator =
                Separator::new(vec![Box::new(HalfCentre(spec))], SeparateOptions::default())
                    .unwrap()
                    .with_latency(Latency::Low)
                    .unwrap();
            let latency = separator.algorithmic_latency();
            assert_eq!(latency, algorithmic_latency(stft, context * stride));
            let written = Arc::new(AtomicUsize::new(0));
            let nb_samples = 40 * hop + 17;
            let mut source = Gated {
                signal: (0..nb_samples).map(|i| (i as f32 * 0.01).sin()).collect(),
                position: 0,
                latency,
                hop,
                written: Arc::clone(&written),
                log: Vec::new(),
            };
            let mut sink = Counter(Arc::clone(&written));
            let (frames, _) = separator
                .run(&mut source, &mut [&mut sink], None, &mut |_| {}, None)
                .unwrap();
            let case = format!("n_fft {n_fft} hop {hop} C {context} S {stride}");
            assert_eq!(frames, nb_samples as u64, "{case}");
            assert_eq!(written.load(Ordering::SeqCst), nb_samples, "{case}");
            for &(read, out, promised) in &source.log {
                assert_eq!(
                    out, promised,
                    "{case}: after {read} samples read, {out} written, {promised} promised \
                         (latency {latency})"
                );
            }
        }
    }

    #[test]
    fn the_paper_setting_is_81_ms() {
        let stft = StftConfig::new(2048, 512).unwrap();
        let d = algorithmic_latency(stft, 3);
        assert_eq!(d, 3584);
        let ms = 1000.0 * d as f64 / 44100.0;
        assert!((ms - 81.27).abs() < 0.01, "{ms} ms");
        // hop n_fft / 2: the overlap-add waits for the frame after the next.
        assert_eq!(
            algorithmic_latency(StftConfig::new(256, 128).unwrap(), 1),
            128 + 3 * 128
        );
        // n_fft / 2 = 120 is not a multiple of hop 48: frames complete 24 samples into a read.
        assert_eq!(
            algorithmic_latency(StftConfig::new(240, 48).unwrap(), 2),
            240 + 2 * 48 + 24
        );
    }

    #[test]
    fn parse_names_both_modes() {
        assert_eq!(Latency::parse("low").unwrap(), Latency::Low);
        assert_eq!(Latency::parse("batch").unwrap(), Latency::Batch);
        let err = Latency::parse("fast").unwrap_err().to_string();
        assert!(err.contains("expected batch or low"), "{err}");
    }
}
