//! The tensor path's analysis front (LibTorch on the network's device, e.g. CUDA): the
//! batch's samples go to the device once; STFT, magnitudes, context stacking, the network,
//! masks, the windowed inverse FFT and the overlap-add all run there, and only finished samples
//! come back (in the synthesis stage, so the transfer overlaps the next batch's work on the
//! device).

use super::analysis::Front;
use super::estimator::run_network;
use super::pipeline::{BatchOut, Engine};
use super::stages::StageTimes;
use super::tensor_ops;
use super::tensor_overlap_add::TensorOverlapAdd;
use crate::error::Result;
use crate::features;
use crate::stft::{hann_window, Complex32, Istft, StftConfig};
use std::time::{Duration, Instant};
use tch::{Device, Kind, Tensor};

/// The tensor path's state: model-rate samples per channel from absolute index `samples_start`
/// on (negative indices are the leading zero padding).
pub(crate) struct TensorFront<'a> {
    engine: &'a Engine<'a>,
    config: StftConfig,
    /// Largest reach over the estimators.
    context: usize,
    device: Device,
    window: Tensor,
    /// The overlap-add of every target and channel (rows target-major), when the masks are the
    /// last step (no Wiener iterations, which run on the CPU).
    ola: Option<TensorOverlapAdd>,
    nb_channels: usize,
    samples: Vec<Vec<f32>>,
    samples_start: i64,
    nb_samples: usize,
    finished: bool,
}

impl<'a> TensorFront<'a> {
    /// The tensor path for `engine`'s estimators over `nb_channels` channels on `device`; the
    /// masks and the overlap-add run there too unless the Wiener iterations need the spectra
    /// on the CPU.
    pub fn new(engine: &'a Engine<'a>, nb_channels: usize, device: Device) -> Self {
        let config = engine.facts.stft;
        let overlap_add = engine
            .overlap_add_on_device()
            .then_some(engine.estimators.len());
        let window: Vec<f32> = hann_window(config.n_fft())
            .into_iter()
            .map(|w| w as f32)
            .collect();
        let pad = config.n_fft() / 2;
        TensorFront {
            engine,
            config,
            context: engine.facts.reach,
            device,
            window: Tensor::from_slice(&window).to_device(device),
            ola: overlap_add.map(|nb_targets| {
                TensorOverlapAdd::new(Istft::new(config), nb_targets * nb_channels, device)
            }),
            nb_channels,
            samples: vec![vec![0.0; pad]; nb_channels],
            samples_start: -(pad as i64),
            nb_samples: 0,
            finished: false,
        }
    }

    /// Drops the samples before the first context frame (`context` frames before `end`) of the
    /// next batch.
    fn keep_samples_from(&mut self, end: usize, context: usize, hop: usize, n_fft: usize) {
        let keep_from = (end.saturating_sub(context) * hop) as i64 - (n_fft / 2) as i64;
        let drop = (keep_from - self.samples_start).max(0) as usize;
        if drop > 0 {
            for s in &mut self.samples {
                s.drain(..drop.min(s.len()));
            }
            self.samples_start += drop as i64;
        }
    }
}

impl Front for TensorFront<'_> {
    type Batch = BatchOut;

    fn push(&mut self, block: &[Vec<f32>]) -> Duration {
        for (s, b) in self.samples.iter_mut().zip(block) {
            s.extend_from_slice(b);
        }
        self.nb_samples += block.first().map_or(0, Vec::len);
        Duration::ZERO
    }

    fn finish(&mut self) -> Duration {
        self.finished = true;
        Duration::ZERO
    }

    fn nb_frames_ready(&self) -> usize {
        if self.finished {
            self.config.nb_frames(self.nb_samples)
        } else {
            self.config.nb_frames_complete(self.nb_samples)
        }
    }

    fn nb_samples(&self) -> usize {
        self.nb_samples
    }

    fn batch(
        &mut self,
        start: usize,
        end: usize,
        ready: usize,
        _last: bool,
        times: &mut StageTimes,
    ) -> Result<BatchOut> {
        let (engine, config, nb_channels) = (self.engine, self.config, self.nb_channels);
        let context_max = self.context;
        let (n_fft, hop) = (config.n_fft(), config.hop());
        let count = end - start;
        let c = context_max;
        // Frames lo .. hi exist; the rest of start - C .. end + C are zeros.
        let lo = start.saturating_sub(c);
        let hi = (end + c).min(ready);
        let nb = hi - lo;
        let clock = Instant::now();
        let first_sample = (lo * hop) as i64 - (n_fft / 2) as i64;
        let length = (nb - 1) * hop + n_fft;
        let mut host = vec![0.0f32; nb_channels * length];
        for (dst, src) in host.chunks_exact_mut(length).zip(&self.samples) {
            let from = (first_sample - self.samples_start) as usize;
            let to = (from + length).min(src.len());
            if to > from {
                dst[..to - from].copy_from_slice(&src[from..to]);
            }
        }
        let x = Tensor::from_slice(&host)
            .view([nb_channels as i64, length as i64])
            .to_device(self.device);
        let spectra = tensor_ops::stft_frames(&x, &self.window, n_fft, hop);
        times.stft += clock.elapsed();
        let clock = Instant::now();
        let mags = spectra.abs();
        let nb_bins = config.nb_bins() as i64;
        let before = (lo + c - start) as i64;
        let after = (end + c - hi) as i64;
        let padded = Tensor::cat(
            &[
                Tensor::zeros(
                    [nb_channels as i64, before, nb_bins],
                    (Kind::Float, self.device),
                ),
                mags.shallow_clone(),
                Tensor::zeros(
                    [nb_channels as i64, after, nb_bins],
                    (Kind::Float, self.device),
                ),
            ],
            1,
        );
        times.features += clock.elapsed();
        let rows = (nb_channels * count) as i64;
        let mix = mags.narrow(1, (start - lo) as i64, count as i64);
        let mut estimates = Vec::with_capacity(engine.estimators.len());
        let mut raw_estimates = Vec::new();
        for estimator in engine.estimators {
            let clock = Instant::now();
            let spec = estimator.spec();
            let input = features::stack_windows(
                &padded
                    .narrow(
                        1,
                        (c - spec.reach()) as i64,
                        (count + 2 * spec.reach()) as i64,
                    )
                    .narrow(2, 0, spec.nb_bins_in as i64),
                spec.context,
                spec.context_stride,
            )
            .reshape([rows, -1]);
            times.features += clock.elapsed();
            let output = run_network(estimator.as_ref(), &input, rows, times)?
                .to_device(self.device)
                .reshape([nb_channels as i64, count as i64, spec.nb_bins as i64]);
            if engine.niter > 0 {
                raw_estimates.push(output);
                continue;
            }
            let clock = Instant::now();
            estimates.push(tensor_ops::extend_high_band(&output, &mix, spec.nb_bins));
            times.mask += clock.elapsed();
        }
        let x_batch = spectra.narrow(1, (start - lo) as i64, count as i64);
        self.keep_samples_from(end, c, hop, n_fft);
        if engine.niter > 0 {
            // The multichannel Wiener filter runs on the CPU, in the synthesis stage.
            let clock = Instant::now();
            let estimates = raw_estimates
                .iter()
                .map(|e| Vec::<f32>::try_from(e.to_device(Device::Cpu).contiguous().view([-1])))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let pairs = Vec::<f32>::try_from(
                x_batch
                    .view_as_real()
                    .to_device(Device::Cpu)
                    .contiguous()
                    .view([-1]),
            )?;
            let frames = pairs
                .chunks_exact(count * config.nb_bins() * 2)
                .map(|ch| {
                    ch.chunks_exact(2)
                        .map(|z| Complex32::new(z[0], z[1]))
                        .collect()
                })
                .collect();
            times.network += clock.elapsed();
            return Ok(BatchOut::Spectral {
                count,
                frames,
                estimates,
            });
        }
        let clock = Instant::now();
        let masks = tensor_ops::masks(engine.mask, &estimates, &mix);
        let masked = Tensor::stack(&masks.iter().map(|m| &x_batch * m).collect::<Vec<_>>(), 0);
        times.mask += clock.elapsed();
        let clock = Instant::now();
        let nb_targets = masks.len() as i64;
        let windowed = tensor_ops::windowed_inverse(&masked, &self.window, n_fft).reshape([
            nb_targets * nb_channels as i64,
            count as i64,
            n_fft as i64,
        ]);
        let ola = self
            .ola
            .as_mut()
            .expect("the tensor path overlap-adds on the device without Wiener iterations");
        let samples = ola
            .push(&windowed)?
            .view([nb_targets, nb_channels as i64, -1]);
        times.istft += clock.elapsed();
        Ok(BatchOut::Samples(samples))
    }

    /// The overlap-add's last samples once all `nb_samples` model-rate samples are in (`None`
    /// when the overlap-add runs on the CPU).
    fn tail(&mut self, nb_samples: usize, times: &mut StageTimes) -> Result<Option<BatchOut>> {
        let nb_channels = self.nb_channels as i64;
        let Some(ola) = self.ola.as_mut() else {
            return Ok(None);
        };
        let clock = Instant::now();
        let tail = ola.finish(nb_samples)?;
        let nb_targets = tail.size()[0] / nb_channels;
        times.istft += clock.elapsed();
        Ok(Some(BatchOut::Samples(tail.view([
            nb_targets,
            nb_channels,
            -1,
        ]))))
    }
}

/// Whether the tensor path runs by default for estimators on `device`.
pub(crate) fn tensor_path_by_default(device: Device) -> bool {
    device.is_cuda()
}
