//! The analysis stage: model-rate samples in, network estimates out, batch by batch.
//!
//! Two paths compute the same thing:
//! - **CPU** (rayon): streaming STFT per channel, magnitudes of the network's input bins kept
//!   for the context, rows written straight into the network's input tensor
//!   ([`features::stack_rows_into`]); the batch leaves with its complex frames and the raw
//!   estimates, and the synthesis stage makes the masks.
//! - **Tensor** (LibTorch on the network's device, e.g. CUDA): the batch's samples go to the
//!   device once; STFT, magnitudes, context stacking, the network, masks, the windowed
//!   inverse FFT and the overlap-add all run there, and only finished samples come back (in
//!   the synthesis stage, so the transfer overlaps the next batch's work on the device).

use super::engine::{Decoded, Engine, ToSynthesis};
use super::stages::StageTimes;
use super::tensor_ops;
use super::tensor_overlap_add::TensorOverlapAdd;
use crate::error::{Error, Result};
use crate::features;
use crate::stft::{hann_window, Complex32, Istft, Stft, StftConfig, StftStream};
use rayon::prelude::*;
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::{Duration, Instant};
use tch::{Device, Kind, Tensor};

/// One batch of frames `start .. start + count` leaving the analysis stage.
pub(crate) enum BatchOut {
    /// CPU path: per channel the complex frames `(count, nb_bins)`, per target the estimates
    /// `(nb_channels * count, nb_bins_out)` (rows channel-major).
    Spectral {
        count: usize,
        frames: Vec<Vec<Complex32>>,
        estimates: Vec<Vec<f32>>,
    },
    /// Tensor path: the samples the batch finished, `(nb_targets, nb_channels, n)` f32 on the
    /// device (model rate, in order; `n` may be 0).
    Samples(Tensor),
}

pub(crate) struct Analysis<'a> {
    engine: &'a Engine<'a>,
    config: StftConfig,
    nb_channels: usize,
    /// Largest context over the estimators: the look-ahead a batch needs.
    context: usize,
    front: Front,
    next_frame: usize,
    times: StageTimes,
}

enum Front {
    Cpu(CpuFront),
    Tensor(TensorFront),
}

impl<'a> Analysis<'a> {
    pub fn new(engine: &'a Engine<'a>, nb_channels: usize) -> Result<Self> {
        let first = engine
            .estimators
            .first()
            .ok_or_else(|| Error::Invalid("no model to separate with".into()))?
            .spec();
        let config = first.stft;
        let context = engine
            .estimators
            .iter()
            .map(|e| e.spec().reach())
            .max()
            .unwrap_or(0);
        let keep = engine
            .estimators
            .iter()
            .map(|e| e.spec().nb_bins_in)
            .max()
            .unwrap_or(1);
        let front = match engine.tensor_device {
            None => Front::Cpu(CpuFront::new(config, nb_channels, keep)),
            Some(device) => Front::Tensor(TensorFront::new(
                config,
                nb_channels,
                device,
                engine
                    .overlap_add_on_device()
                    .then_some(engine.estimators.len()),
            )),
        };
        Ok(Analysis {
            engine,
            config,
            nb_channels,
            context,
            front,
            next_frame: 0,
            times: StageTimes::default(),
        })
    }

    /// Runs until the decode stage's end; returns its times and the input frames seen.
    pub fn run(
        &mut self,
        rx: Receiver<Decoded>,
        tx: SyncSender<ToSynthesis>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Option<(StageTimes, u64)>> {
        let mut frames_in = 0u64;
        loop {
            let Ok(message) = rx.recv() else {
                return Ok(None);
            };
            match message {
                Decoded::Block { raw, model_rate } => {
                    frames_in += raw.first().map_or(0, Vec::len) as u64;
                    if tx.send(ToSynthesis::Mix(raw)).is_err() {
                        return Ok(None);
                    }
                    self.push(&model_rate);
                    if self.process(false, &tx)?.is_none() {
                        return Ok(None);
                    }
                    progress(frames_in);
                }
                Decoded::End { model_rate } => {
                    self.push(&model_rate);
                    self.finish();
                    if self.process(true, &tx)?.is_none() {
                        return Ok(None);
                    }
                    let nb_samples = self.nb_samples();
                    if let Front::Tensor(f) = &mut self.front {
                        if let Some(tail) = f.finish_overlap_add(nb_samples, &mut self.times)? {
                            if tx.send(ToSynthesis::Batch(tail)).is_err() {
                                return Ok(None);
                            }
                        }
                    }
                    if tx.send(ToSynthesis::End { nb_samples }).is_err() {
                        return Ok(None);
                    }
                    return Ok(Some((self.times, frames_in)));
                }
            }
        }
    }

    fn push(&mut self, block: &[Vec<f32>]) {
        let start = Instant::now();
        let features = match &mut self.front {
            Front::Cpu(f) => f.push(block),
            Front::Tensor(f) => f.push(block),
        };
        self.times.stft += start.elapsed().saturating_sub(features);
        self.times.features += features;
    }

    fn finish(&mut self) {
        let start = Instant::now();
        let features = match &mut self.front {
            Front::Cpu(f) => f.finish(),
            Front::Tensor(f) => f.finish(),
        };
        self.times.stft += start.elapsed().saturating_sub(features);
        self.times.features += features;
    }

    fn nb_frames_ready(&self) -> usize {
        match &self.front {
            Front::Cpu(f) => f.nb_frames_ready(),
            Front::Tensor(f) => f.nb_frames_ready(self.config),
        }
    }

    fn nb_samples(&self) -> usize {
        match &self.front {
            Front::Cpu(f) => f.stfts[0].nb_samples(),
            Front::Tensor(f) => f.nb_samples,
        }
    }

    /// Sends every batch whose frames and look-ahead are ready (all that is left when `last`).
    /// `None` when the synthesis stage has gone.
    fn process(&mut self, last: bool, tx: &SyncSender<ToSynthesis>) -> Result<Option<()>> {
        let batch = self.engine.batch_frames;
        let ready = self.nb_frames_ready();
        loop {
            let start = self.next_frame;
            let end = if last {
                (start + batch).min(ready)
            } else if start + batch + self.context <= ready {
                start + batch
            } else {
                break;
            };
            if end <= start {
                break;
            }
            // Frames beyond what is ready are zeros only at the very end of the signal.
            let nb_frames = if last { ready as i64 } else { i64::MAX };
            let out = match &mut self.front {
                Front::Cpu(f) => f.batch(
                    self.engine,
                    self.context,
                    start,
                    end,
                    nb_frames,
                    &mut self.times,
                )?,
                Front::Tensor(f) => f.batch(
                    self.engine,
                    self.config,
                    self.nb_channels,
                    self.context,
                    start,
                    end,
                    ready,
                    &mut self.times,
                )?,
            };
            self.next_frame = end;
            if tx.send(ToSynthesis::Batch(out)).is_err() {
                return Ok(None);
            }
        }
        Ok(Some(()))
    }
}

/// Runs one estimator on `input` `(rows, width)` and checks the output's shape:
/// `(rows, nb_bins_out)` on the estimator's device, f32.
pub(crate) fn run_network(
    estimator: &dyn super::Estimator,
    input: &Tensor,
    rows: i64,
    times: &mut StageTimes,
) -> Result<Tensor> {
    let clock = Instant::now();
    let spec = estimator.spec();
    let output = tch::no_grad(|| estimator.estimate(&input.to_device(estimator.device())))?;
    let output = output.to_kind(Kind::Float);
    if output.size() != [rows, spec.nb_bins as i64] {
        return Err(Error::mismatch(
            format!("estimate shape of the {} model", spec.target),
            format!("[{rows}, {}]", spec.nb_bins),
            format!("{:?}", output.size()),
        ));
    }
    times.network += clock.elapsed();
    Ok(output)
}

/// The CPU path's state.
struct CpuFront {
    nb_bins: usize,
    stfts: Vec<StftStream>,
    /// Per channel, complex frames from index `frames_start` on, `nb_bins` values each.
    frames: Vec<Vec<Complex32>>,
    frames_start: usize,
    /// Per channel, magnitudes of the lowest `keep` bins of frames from `mags_start` on.
    mags: Vec<Vec<f32>>,
    mags_start: usize,
    keep: usize,
    /// Per estimator, the network input tensor of the last batch, reused by the next batch of
    /// the same shape: a new tensor per batch cost a page fault per 4 KiB written (about a fifth
    /// of a 2-core extraction's time went to first touches of these 15 MB, at 512 frames a batch).
    inputs: Vec<Option<Tensor>>,
}

impl CpuFront {
    fn new(config: StftConfig, nb_channels: usize, keep: usize) -> Self {
        let stft = Stft::new(config);
        CpuFront {
            nb_bins: config.nb_bins(),
            stfts: (0..nb_channels)
                .map(|_| StftStream::new(stft.clone()))
                .collect(),
            frames: vec![Vec::new(); nb_channels],
            frames_start: 0,
            mags: vec![Vec::new(); nb_channels],
            mags_start: 0,
            keep,
            inputs: Vec::new(),
        }
    }

    /// The input tensor `(rows, width)` f32 for estimator `j`: last batch's when it has that
    /// shape (its values are all overwritten), else a new one.
    fn input_tensor(&mut self, j: usize, rows: i64, width: i64) -> Tensor {
        if self.inputs.len() <= j {
            self.inputs.resize_with(j + 1, || None);
        }
        match &self.inputs[j] {
            Some(t) if t.size() == [rows, width] => t.shallow_clone(),
            _ => {
                let t = Tensor::empty([rows, width], (Kind::Float, Device::Cpu));
                self.inputs[j] = Some(t.shallow_clone());
                t
            }
        }
    }

    fn nb_frames_ready(&self) -> usize {
        self.stfts[0].nb_frames_out()
    }

    /// Returns the time spent on magnitudes.
    fn push(&mut self, block: &[Vec<f32>]) -> Duration {
        self.transform(block, |stft, samples, frames| {
            stft.push(samples, frames);
        })
    }

    fn finish(&mut self) -> Duration {
        let empty = vec![Vec::new(); self.stfts.len()];
        self.transform(&empty, |stft, _, frames| {
            stft.finish(frames);
        })
    }

    /// STFT of a block per channel (channels and blocks of frames in parallel), then the
    /// magnitudes of the new frames; returns the time the magnitudes took.
    fn transform(
        &mut self,
        block: &[Vec<f32>],
        step: impl Fn(&mut StftStream, &[f32], &mut Vec<Complex32>) + Sync,
    ) -> Duration {
        let before = self.frames[0].len();
        self.stfts
            .par_iter_mut()
            .zip(self.frames.par_iter_mut())
            .zip(block.par_iter())
            .for_each(|((stft, frames), samples)| step(stft, samples, frames));
        let clock = Instant::now();
        let (nb_bins, keep) = (self.nb_bins, self.keep);
        self.mags
            .par_iter_mut()
            .zip(self.frames.par_iter())
            .for_each(|(mags, frames)| {
                let new = &frames[before..];
                let old = mags.len();
                mags.resize(old + new.len() / nb_bins * keep, 0.0);
                features::magnitudes_into(new, nb_bins, keep, &mut mags[old..]);
            });
        clock.elapsed()
    }

    fn batch(
        &mut self,
        engine: &Engine,
        context_max: usize,
        start: usize,
        end: usize,
        nb_frames: i64,
        times: &mut StageTimes,
    ) -> Result<BatchOut> {
        let count = end - start;
        let nb_channels = self.frames.len();
        let rows = (nb_channels * count) as i64;
        let mut estimates = Vec::with_capacity(engine.estimators.len());
        for (j, estimator) in engine.estimators.iter().enumerate() {
            let clock = Instant::now();
            let spec = estimator.spec();
            let width = (2 * spec.context + 1) * spec.nb_bins_in;
            // Rows written straight into the tensor's memory.
            let input = self.input_tensor(j, rows, width as i64);
            {
                // SAFETY: `input` is a contiguous f32 CPU tensor of rows * width values that
                // only this front holds between batches (the estimator's output is computed,
                // copied out and its input released before the next batch writes here), and
                // nothing else reads or writes it while this slice lives.
                let data = unsafe {
                    std::slice::from_raw_parts_mut(
                        input.data_ptr() as *mut f32,
                        rows as usize * width,
                    )
                };
                data.par_chunks_mut(count * width)
                    .zip(self.mags.par_iter())
                    .for_each(|(out, mags)| {
                        features::stack_rows_into(
                            mags,
                            self.keep,
                            self.mags_start as i64,
                            nb_frames,
                            spec.context,
                            spec.context_stride,
                            spec.nb_bins_in,
                            start as i64..end as i64,
                            out,
                        )
                    });
            }
            times.features += clock.elapsed();
            let output = run_network(estimator.as_ref(), &input, rows, times)?;
            let clock = Instant::now();
            let output = output.to_device(Device::Cpu).contiguous();
            estimates.push(Vec::<f32>::try_from(output.view([-1]))?);
            times.network += clock.elapsed();
        }
        // This batch's complex frames leave; the magnitudes stay for the next batch's context.
        debug_assert_eq!(self.frames_start, start);
        let frames = self
            .frames
            .iter_mut()
            .map(|f| f.drain(..count * self.nb_bins).collect())
            .collect();
        self.frames_start = end;
        let keep_from = end.saturating_sub(context_max);
        if keep_from > self.mags_start {
            let drop = (keep_from - self.mags_start) * self.keep;
            for m in &mut self.mags {
                m.drain(..drop.min(m.len()));
            }
            self.mags_start = keep_from;
        }
        Ok(BatchOut::Spectral {
            count,
            frames,
            estimates,
        })
    }
}

/// The tensor path's state: model-rate samples per channel from absolute index `samples_start`
/// on (negative indices are the leading zero padding).
struct TensorFront {
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

impl TensorFront {
    /// `overlap_add`: `Some(nb_targets)` to overlap-add on the device.
    fn new(
        config: StftConfig,
        nb_channels: usize,
        device: Device,
        overlap_add: Option<usize>,
    ) -> Self {
        let window: Vec<f32> = hann_window(config.n_fft())
            .into_iter()
            .map(|w| w as f32)
            .collect();
        let pad = config.n_fft() / 2;
        TensorFront {
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

    fn nb_frames_ready(&self, config: StftConfig) -> usize {
        if self.finished {
            config.nb_frames(self.nb_samples)
        } else {
            config.nb_frames_complete(self.nb_samples)
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn batch(
        &mut self,
        engine: &Engine,
        config: StftConfig,
        nb_channels: usize,
        context_max: usize,
        start: usize,
        end: usize,
        ready: usize,
        times: &mut StageTimes,
    ) -> Result<BatchOut> {
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
    fn finish_overlap_add(
        &mut self,
        nb_samples: usize,
        times: &mut StageTimes,
    ) -> Result<Option<BatchOut>> {
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

/// Whether the tensor path runs by default for estimators on `device`.
pub(crate) fn tensor_path_by_default(device: Device) -> bool {
    device.is_cuda()
}
