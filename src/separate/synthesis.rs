//! The synthesis stage: batches of estimates in, blocks of target samples (and the residual) out.
//!
//! On the CPU path it makes the masks (high band extended, Wiener or ratio) and the windowed
//! inverse frames, both in parallel over channels and blocks of frames, and overlap-adds them
//! per target and channel; on the tensor path finished samples arrive on the device and are
//! brought back here. Either way it resamples back to the input's rate, subtracts the targets
//! from the mix for the residual, and hands blocks to the encoder, never past the input's
//! length.

use super::mask::{extend_high_band, frame_masks, MaskKind};
use super::output_queue::OutputQueue;
use super::pipeline::{BatchOut, Encoded, Engine, StageResult, ToSynthesis};
use super::stages::{timed, StageTimes};
use super::wiener;
use crate::error::Result;
use crate::stft::{Complex32, Istft, StftConfig};
use rayon::prelude::*;
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::Instant;
use tch::{Device, Tensor};

/// Frames per parallel task.
const FRAMES_PER_TASK: usize = 8;

pub(crate) struct Synthesis {
    config: StftConfig,
    mask: MaskKind,
    niter: usize,
    /// Estimated bins per target.
    nb_bins_out: Vec<usize>,
    istft: Istft,
    /// Whether finished samples arrive from the device ([`BatchOut::Samples`]).
    device_ola: bool,
    output: OutputQueue,
    times: StageTimes,
}

impl Synthesis {
    pub fn new(engine: &Engine, rate: u32, nb_channels: usize, residual: bool) -> Result<Self> {
        let facts = engine.facts;
        let istft = Istft::new(facts.stft);
        Ok(Synthesis {
            config: facts.stft,
            mask: engine.mask,
            niter: engine.niter,
            nb_bins_out: facts.nb_bins_out.clone(),
            output: OutputQueue::new(facts, &istft, rate, nb_channels, residual)?,
            istft,
            device_ola: engine.overlap_add_on_device(),
            times: StageTimes::default(),
        })
    }

    /// Runs until the analysis stage's end, then flushes; `None` to the encoder ends it.
    pub fn run(
        mut self,
        rx: Receiver<ToSynthesis>,
        tx: SyncSender<Option<Encoded>>,
    ) -> StageResult {
        loop {
            let Ok(message) = rx.recv() else {
                return Ok(None);
            };
            let block = match message {
                ToSynthesis::Mix(raw) => {
                    self.output.push_mix(&raw);
                    continue;
                }
                ToSynthesis::Batch(batch) => {
                    self.batch(batch)?;
                    self.take(false)
                }
                ToSynthesis::End { nb_samples } => {
                    self.output
                        .finish(nb_samples, self.device_ola, &mut self.times)?;
                    let block = self.take(true);
                    if let Some(block) = block {
                        if tx.send(Some(block)).is_err() {
                            return Ok(None);
                        }
                    }
                    if tx.send(None).is_err() {
                        return Ok(None);
                    }
                    return Ok(Some(self.times));
                }
            };
            if let Some(block) = block {
                if tx.send(Some(block)).is_err() {
                    return Ok(None);
                }
            }
        }
    }

    fn batch(&mut self, batch: BatchOut) -> Result<()> {
        let n_fft = self.config.n_fft();
        let samples: Vec<Vec<Vec<f32>>> = match batch {
            BatchOut::Spectral {
                count,
                frames,
                estimates,
            } => {
                let windowed = self.windowed(count, &frames, &estimates);
                self.overlap_add(|j, c| windowed[c][j].chunks_exact(n_fft))?
            }
            BatchOut::Samples(samples) => timed(&mut self.times.istft, || to_host(&samples))?,
        };
        for (j, target) in samples.iter().enumerate() {
            self.output.push(j, target, &mut self.times)?;
        }
        Ok(())
    }

    /// Masks and windowed inverse frames of a CPU-path batch: `[channel][target]`
    /// `(count, n_fft)`, in parallel over channels and blocks of frames.
    fn windowed(
        &mut self,
        count: usize,
        frames: &[Vec<Complex32>],
        estimates: &[Vec<f32>],
    ) -> Vec<Vec<Vec<f32>>> {
        let nb_bins = self.config.nb_bins();
        let n_fft = self.config.n_fft();
        let nb_targets = estimates.len();
        let (kind, nb_bins_out, istft) = (self.mask, &self.nb_bins_out, &self.istft);
        // masked[channel]: (count, nb_targets, nb_bins).
        let clock = Instant::now();
        let masked: Vec<Vec<Complex32>> = frames
            .par_iter()
            .enumerate()
            .map(|(c, x)| {
                let mut masked = vec![Complex32::default(); count * nb_targets * nb_bins];
                masked
                    .par_chunks_mut(nb_targets * nb_bins * FRAMES_PER_TASK)
                    .enumerate()
                    .for_each(|(task, out)| {
                        let mut mix = vec![0.0f32; nb_bins];
                        let mut est = vec![vec![0.0f32; nb_bins]; nb_targets];
                        let mut masks = vec![vec![0.0f32; nb_bins]; nb_targets];
                        for (k, out) in out.chunks_exact_mut(nb_targets * nb_bins).enumerate() {
                            let i = task * FRAMES_PER_TASK + k;
                            let x = &x[i * nb_bins..(i + 1) * nb_bins];
                            for (m, v) in mix.iter_mut().zip(x) {
                                *m = crate::features::magnitude(*v);
                            }
                            for ((e, raw), &nb_out) in
                                est.iter_mut().zip(estimates).zip(nb_bins_out)
                            {
                                let row = (c * count + i) * nb_out;
                                e[..nb_out].copy_from_slice(&raw[row..row + nb_out]);
                                extend_high_band(e, &mix, nb_out);
                            }
                            frame_masks(kind, &est, &mix, &mut masks);
                            for (o, m) in out.chunks_exact_mut(nb_bins).zip(&masks) {
                                for ((o, x), m) in o.iter_mut().zip(x).zip(m) {
                                    *o = x * *m;
                                }
                            }
                        }
                    });
                masked
            })
            .collect();
        let mut masked = masked;
        wiener::refine(frames, &mut masked, count, nb_targets, nb_bins, self.niter);
        self.times.mask += clock.elapsed();
        let clock = Instant::now();
        let windowed = masked
            .par_iter()
            .map(|masked| {
                let mut per_target = vec![vec![0.0f32; count * n_fft]; nb_targets];
                per_target.par_iter_mut().enumerate().for_each(|(j, out)| {
                    out.par_chunks_mut(n_fft * FRAMES_PER_TASK)
                        .enumerate()
                        .for_each(|(task, out)| {
                            let mut spectrum = vec![Complex32::default(); nb_bins];
                            let mut scratch = istft.make_scratch();
                            for (k, o) in out.chunks_exact_mut(n_fft).enumerate() {
                                let i = task * FRAMES_PER_TASK + k;
                                let at = (i * nb_targets + j) * nb_bins;
                                spectrum.copy_from_slice(&masked[at..at + nb_bins]);
                                istft.synthesize_frame(&mut spectrum, o, &mut scratch);
                            }
                        });
                });
                per_target
            })
            .collect();
        self.times.istft += clock.elapsed();
        windowed
    }

    /// Overlap-adds windowed frames per target and channel: `[target](nb_channels, n)` samples.
    fn overlap_add<'f, I>(
        &mut self,
        frames: impl Fn(usize, usize) -> I + Sync,
    ) -> Result<Vec<Vec<Vec<f32>>>>
    where
        I: Iterator<Item = &'f [f32]>,
    {
        let clock = Instant::now();
        let out = self
            .output
            .istfts
            .par_iter_mut()
            .enumerate()
            .map(|(j, per_channel)| {
                per_channel
                    .par_iter_mut()
                    .enumerate()
                    .map(|(c, istft)| {
                        let mut out = Vec::new();
                        istft.push_windowed(frames(j, c), &mut out)?;
                        Ok(out)
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<_>>();
        self.times.istft += clock.elapsed();
        out
    }

    /// What every target has ready (see [`OutputQueue::take`]); `None` when that is nothing.
    fn take(&mut self, last: bool) -> Option<Encoded> {
        let block = self.output.take(last);
        (block.nb_frames() > 0).then_some(block)
    }
}

/// Samples `(nb_targets, nb_channels, n)` on any device -> `[target](nb_channels, n)` on the host.
fn to_host(samples: &Tensor) -> Result<Vec<Vec<Vec<f32>>>> {
    let size = samples.size();
    let (nb_targets, nb_channels, n) = (size[0] as usize, size[1] as usize, size[2] as usize);
    if n == 0 {
        return Ok(vec![vec![Vec::new(); nb_channels]; nb_targets]);
    }
    let flat = Vec::<f32>::try_from(samples.to_device(Device::Cpu).contiguous().view([-1]))?;
    Ok(flat
        .chunks_exact(nb_channels * n)
        .map(|target| target.chunks_exact(n).map(<[f32]>::to_vec).collect())
        .collect())
}
