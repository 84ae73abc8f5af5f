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

use super::engine::{Decoded, Engine, Staged};
use super::estimator::EstimatorSpec;
use super::network_stage::PendingBatch;
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

/// One batch of frames `start .. start + count` leaving for the synthesis stage.
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

/// What the analysis stage's loop drives: the CPU path or the tensor path.
pub(crate) trait Front {
    /// What one batch leaves as.
    type Batch;

    /// Takes the next block of model-rate samples `(nb_channels, n)`; returns the part of its
    /// time that went to magnitudes (the rest is the STFT's).
    fn push(&mut self, block: &[Vec<f32>]) -> Duration;

    /// The input has ended: the frames over its last samples become ready.
    fn finish(&mut self) -> Duration;

    fn nb_frames_ready(&self) -> usize;

    /// Model-rate samples taken so far.
    fn nb_samples(&self) -> usize;

    /// Frames `start .. end` of the `ready` ones (`last`: no more will come, so frames beyond
    /// `ready` are the zeros past the signal's end).
    fn batch(
        &mut self,
        start: usize,
        end: usize,
        ready: usize,
        last: bool,
        times: &mut StageTimes,
    ) -> Result<Self::Batch>;

    /// What is left to send after the last batch.
    fn tail(&mut self, _nb_samples: usize, _times: &mut StageTimes) -> Result<Option<Self::Batch>> {
        Ok(None)
    }
}

/// The analysis stage over a [`Front`]: cuts the frames into batches aligned on multiples of
/// `batch_frames`, each sent once its look-ahead (`context` frames) is ready.
pub(crate) struct Analysis<F> {
    front: F,
    batch_frames: usize,
    /// Largest reach over the estimators: the look-ahead a batch needs.
    context: usize,
    next_frame: usize,
    times: StageTimes,
}

/// Largest reach (look-ahead) and largest input band over `specs`.
fn reach_and_band<'s>(specs: impl Iterator<Item = &'s EstimatorSpec> + Clone) -> (usize, usize) {
    let reach = specs.clone().map(EstimatorSpec::reach).max().unwrap_or(0);
    let band = specs.map(|s| s.nb_bins_in).max().unwrap_or(1);
    (reach, band)
}

impl Analysis<CpuFront> {
    /// The CPU path: the batches leave as network inputs for [`super::network_stage`], which
    /// hands each input tensor back through `spare` once it is done with it.
    pub fn cpu(
        engine: &Engine,
        nb_channels: usize,
        spare: Receiver<(usize, Tensor)>,
    ) -> Result<Self> {
        let specs: Vec<EstimatorSpec> =
            engine.estimators.iter().map(|e| e.spec().clone()).collect();
        let config = specs
            .first()
            .ok_or_else(|| Error::Invalid("no model to separate with".into()))?
            .stft;
        let (context, keep) = reach_and_band(specs.iter());
        Ok(Analysis {
            front: CpuFront::new(config, nb_channels, keep, context, specs, spare),
            batch_frames: engine.batch_frames,
            context,
            next_frame: 0,
            times: StageTimes::default(),
        })
    }
}

impl<'a> Analysis<TensorFront<'a>> {
    /// The tensor path on `device`: everything up to finished samples runs there.
    pub fn tensor(engine: &'a Engine<'a>, nb_channels: usize, device: Device) -> Result<Self> {
        let config = engine
            .estimators
            .first()
            .ok_or_else(|| Error::Invalid("no model to separate with".into()))?
            .spec()
            .stft;
        let (context, _) = reach_and_band(engine.estimators.iter().map(|e| e.spec()));
        Ok(Analysis {
            front: TensorFront::new(engine, config, nb_channels, context, device),
            batch_frames: engine.batch_frames,
            context,
            next_frame: 0,
            times: StageTimes::default(),
        })
    }
}

impl<F: Front> Analysis<F> {
    /// Runs until the decode stage's end; returns its times and the input frames seen.
    pub fn run(
        &mut self,
        rx: Receiver<Decoded>,
        tx: SyncSender<Staged<F::Batch>>,
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
                    if tx.send(Staged::Mix(raw)).is_err() {
                        return Ok(None);
                    }
                    self.push(&model_rate, false);
                    if self.process(false, &tx)?.is_none() {
                        return Ok(None);
                    }
                    progress(frames_in);
                }
                Decoded::End { model_rate } => {
                    self.push(&model_rate, true);
                    if self.process(true, &tx)?.is_none() {
                        return Ok(None);
                    }
                    let nb_samples = self.front.nb_samples();
                    if let Some(tail) = self.front.tail(nb_samples, &mut self.times)? {
                        if tx.send(Staged::Batch(tail)).is_err() {
                            return Ok(None);
                        }
                    }
                    if tx.send(Staged::End { nb_samples }).is_err() {
                        return Ok(None);
                    }
                    return Ok(Some((self.times, frames_in)));
                }
            }
        }
    }

    /// Takes `block`, then (when `last`) the end of the input.
    fn push(&mut self, block: &[Vec<f32>], last: bool) {
        let start = Instant::now();
        let mut features = self.front.push(block);
        if last {
            features += self.front.finish();
        }
        self.times.stft += start.elapsed().saturating_sub(features);
        self.times.features += features;
    }

    /// Sends every batch whose frames and look-ahead are ready (all that is left when `last`).
    /// `None` when the next stage has gone.
    fn process(&mut self, last: bool, tx: &SyncSender<Staged<F::Batch>>) -> Result<Option<()>> {
        let batch = self.batch_frames;
        let ready = self.front.nb_frames_ready();
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
            let out = self.front.batch(start, end, ready, last, &mut self.times)?;
            self.next_frame = end;
            if tx.send(Staged::Batch(out)).is_err() {
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
pub(crate) struct CpuFront {
    nb_bins: usize,
    specs: Vec<EstimatorSpec>,
    /// Largest reach over the estimators: the magnitudes a batch's context needs before it.
    context: usize,
    stfts: Vec<StftStream>,
    /// Per channel, complex frames from index `frames_start` on, `nb_bins` values each.
    frames: Vec<Vec<Complex32>>,
    frames_start: usize,
    /// Per channel, magnitudes of the lowest `keep` bins of frames from `mags_start` on.
    mags: Vec<Vec<f32>>,
    mags_start: usize,
    keep: usize,
    /// Input tensors the network stage has finished with, by estimator, to be filled again: a
    /// new tensor per batch cost a page fault per 4 KiB written (about a fifth of a 2-core
    /// extraction's time went to first touches of these 15 MB, at 512 frames a batch).
    spare: Vec<Vec<Tensor>>,
    returned: Receiver<(usize, Tensor)>,
}

impl CpuFront {
    fn new(
        config: StftConfig,
        nb_channels: usize,
        keep: usize,
        context: usize,
        specs: Vec<EstimatorSpec>,
        returned: Receiver<(usize, Tensor)>,
    ) -> Self {
        let stft = Stft::new(config);
        CpuFront {
            nb_bins: config.nb_bins(),
            spare: specs.iter().map(|_| Vec::new()).collect(),
            specs,
            context,
            stfts: (0..nb_channels)
                .map(|_| StftStream::new(stft.clone()))
                .collect(),
            frames: vec![Vec::new(); nb_channels],
            frames_start: 0,
            mags: vec![Vec::new(); nb_channels],
            mags_start: 0,
            keep,
            returned,
        }
    }

    /// An input tensor `(rows, width)` f32 for estimator `j`, whose values the caller overwrites
    /// all: one the network stage handed back when it has that shape, else a new one.
    fn input_tensor(&mut self, j: usize, rows: i64, width: i64) -> Tensor {
        while let Ok((k, t)) = self.returned.try_recv() {
            self.spare[k].push(t);
        }
        let spare = &mut self.spare[j];
        match spare.iter().position(|t| t.size() == [rows, width]) {
            Some(i) => spare.swap_remove(i),
            None => Tensor::empty([rows, width], (Kind::Float, Device::Cpu)),
        }
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
}

impl Front for CpuFront {
    type Batch = PendingBatch;

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

    fn nb_frames_ready(&self) -> usize {
        self.stfts[0].nb_frames_out()
    }

    fn nb_samples(&self) -> usize {
        self.stfts[0].nb_samples()
    }

    fn batch(
        &mut self,
        start: usize,
        end: usize,
        ready: usize,
        last: bool,
        times: &mut StageTimes,
    ) -> Result<PendingBatch> {
        let clock = Instant::now();
        let count = end - start;
        let nb_channels = self.frames.len();
        let rows = (nb_channels * count) as i64;
        // Frames beyond what is ready are zeros only at the very end of the signal.
        let nb_frames = if last { ready as i64 } else { i64::MAX };
        let mut inputs = Vec::with_capacity(self.specs.len());
        for j in 0..self.specs.len() {
            let spec = &self.specs[j];
            let (context, stride, nb_bins_in) =
                (spec.context, spec.context_stride, spec.nb_bins_in);
            let width = (2 * context + 1) * nb_bins_in;
            // Rows written straight into the tensor's memory.
            let input = self.input_tensor(j, rows, width as i64);
            {
                // SAFETY: `input` is a contiguous f32 CPU tensor of rows * width values whose only
                // handle is this one (new, or handed back by the network stage, which keeps no
                // handle on it nor on a view of it), and nothing else reads or writes it while
                // this slice lives.
                let data = unsafe {
                    std::slice::from_raw_parts_mut(
                        input.data_ptr() as *mut f32,
                        rows as usize * width,
                    )
                };
                let (keep, mags_start) = (self.keep, self.mags_start as i64);
                data.par_chunks_mut(count * width)
                    .zip(self.mags.par_iter())
                    .for_each(|(out, mags)| {
                        features::stack_rows_into(
                            mags,
                            keep,
                            mags_start,
                            nb_frames,
                            context,
                            stride,
                            nb_bins_in,
                            start as i64..end as i64,
                            out,
                        )
                    });
            }
            inputs.push(input);
        }
        // This batch's complex frames leave; the magnitudes stay for the next batch's context.
        debug_assert_eq!(self.frames_start, start);
        let frames = self
            .frames
            .iter_mut()
            .map(|f| f.drain(..count * self.nb_bins).collect())
            .collect();
        self.frames_start = end;
        let keep_from = end.saturating_sub(self.context);
        if keep_from > self.mags_start {
            let drop = (keep_from - self.mags_start) * self.keep;
            for m in &mut self.mags {
                m.drain(..drop.min(m.len()));
            }
            self.mags_start = keep_from;
        }
        times.features += clock.elapsed();
        Ok(PendingBatch {
            count,
            frames,
            inputs,
        })
    }
}

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
    /// The masks and the overlap-add run on `device` too unless the Wiener iterations need the
    /// spectra on the CPU.
    fn new(
        engine: &'a Engine<'a>,
        config: StftConfig,
        nb_channels: usize,
        context: usize,
        device: Device,
    ) -> Self {
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
            context,
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
