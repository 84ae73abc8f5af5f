//! The synthesis stage: batches of estimates in, blocks of target samples (and the residual) out.
//!
//! On the CPU path it makes the masks (high band extended, Wiener or ratio) and the windowed
//! inverse frames, both in parallel over channels and blocks of frames, and overlap-adds them
//! per target and channel; on the tensor path finished samples arrive on the device and are
//! brought back here. Either way it resamples back to the input's rate, subtracts the targets
//! from the mix for the residual, and hands blocks to the encoder, never past the input's
//! length.

use super::analysis::BatchOut;
use super::engine::{Encoded, Engine, StageResult, ToSynthesis};
use super::mask::{extend_high_band, frame_masks, MaskKind};
use super::stages::{timed, StageTimes};
use super::wiener;
use crate::audio::StreamResampler;
use crate::error::Result;
use crate::stft::{Complex32, Istft, IstftStream, StftConfig};
use rayon::prelude::*;
use std::collections::VecDeque;
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
    nb_channels: usize,
    istft: Istft,
    /// `[target][channel]`; unused when the overlap-add runs on the device.
    istfts: Vec<Vec<IstftStream>>,
    /// Whether finished samples arrive from the device ([`BatchOut::Samples`]).
    device_ola: bool,
    resample_out: Vec<StreamResampler>,
    /// `[target][channel]`: output samples not yet handed on.
    pending_out: Vec<Vec<VecDeque<f32>>>,
    /// Per channel: input samples not yet paired with output (for the residual).
    pending_mix: Option<Vec<VecDeque<f32>>>,
    frames_in: u64,
    frames_out: u64,
    times: StageTimes,
}

impl Synthesis {
    pub fn new(engine: &Engine, rate: u32, nb_channels: usize, residual: bool) -> Result<Self> {
        let first = engine.estimators[0].spec();
        let nb_targets = engine.estimators.len();
        let istft = Istft::new(first.stft);
        Ok(Synthesis {
            config: first.stft,
            mask: engine.mask,
            niter: engine.niter,
            nb_bins_out: engine.estimators.iter().map(|e| e.spec().nb_bins).collect(),
            nb_channels,
            istfts: IstftStream::grid(&istft, nb_targets, nb_channels),
            istft,
            device_ola: engine.overlap_add_on_device(),
            resample_out: (0..nb_targets)
                .map(|_| StreamResampler::new(first.sample_rate, rate, nb_channels))
                .collect::<Result<_>>()?,
            pending_out: vec![vec![VecDeque::new(); nb_channels]; nb_targets],
            pending_mix: residual.then(|| vec![VecDeque::new(); nb_channels]),
            frames_in: 0,
            frames_out: 0,
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
                    self.frames_in += raw.first().map_or(0, Vec::len) as u64;
                    if let Some(mix) = &mut self.pending_mix {
                        for (q, ch) in mix.iter_mut().zip(&raw) {
                            q.extend(ch);
                        }
                    }
                    continue;
                }
                ToSynthesis::Batch(batch) => {
                    self.batch(batch)?;
                    self.take(false)
                }
                ToSynthesis::End { nb_samples } => {
                    self.flush(nb_samples)?;
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
        for (j, target) in samples.into_iter().enumerate() {
            self.queue_output(j, target)?;
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

    /// Resamples target `j`'s model-rate samples `(nb_channels, n)` back and queues them.
    fn queue_output(&mut self, j: usize, samples: Vec<Vec<f32>>) -> Result<()> {
        let back = timed(&mut self.times.resample, || {
            self.resample_out[j].push(&samples)
        })?;
        for (q, ch) in self.pending_out[j].iter_mut().zip(back) {
            q.extend(ch);
        }
        Ok(())
    }

    /// The inverse STFTs' and resamplers' last samples, once `nb_samples` model-rate samples
    /// are known to be all.
    fn flush(&mut self, nb_samples: usize) -> Result<()> {
        for j in 0..self.istfts.len() {
            let clock = Instant::now();
            // With the overlap-add on the device, its tail came as the last batch.
            let tails = self.istfts[j]
                .iter_mut()
                .map(|istft| {
                    let mut out = Vec::new();
                    if !self.device_ola {
                        istft.finish(nb_samples, &mut out)?;
                    }
                    Ok(out)
                })
                .collect::<Result<Vec<_>>>()?;
            self.times.istft += clock.elapsed();
            self.queue_output(j, tails)?;
            let rest = timed(&mut self.times.resample, || self.resample_out[j].finish())?;
            for (q, ch) in self.pending_out[j].iter_mut().zip(rest) {
                q.extend(ch);
            }
        }
        Ok(())
    }

    /// What every target has ready, never past the input's length; at the end, exactly up to
    /// the input's length (padded with zeros if a resampler came up short).
    fn take(&mut self, last: bool) -> Option<Encoded> {
        let n = nb_to_take(&self.pending_out, self.frames_in - self.frames_out, last);
        if n == 0 {
            return None;
        }
        let (targets, sum) = drain_targets(&mut self.pending_out, n, self.nb_channels);
        let residual = self.pending_mix.as_mut().map(|mix| {
            mix.iter_mut()
                .zip(sum)
                .map(|(q, s)| q.drain(..n).zip(s).map(|(x, y)| x - y).collect())
                .collect()
        });
        self.frames_out += n as u64;
        Some(Encoded { targets, residual })
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

/// How many samples to take from `pending[target][channel]`: what every target has ready, never
/// past the input's `room` samples not yet given out; at the `last` call, all of `room` (a
/// resampler that came up short is padded by [`drain_targets`]).
pub(crate) fn nb_to_take(pending: &[Vec<VecDeque<f32>>], room: u64, last: bool) -> usize {
    let ready = pending.iter().map(|t| t[0].len()).min().unwrap_or(0) as u64;
    (if last { room } else { ready.min(room) }) as usize
}

/// Takes the first `n` samples of every target's channel queues (`pending[target][channel]`),
/// zero-padded where a queue holds fewer: `(targets [target][channel][n], their sum
/// [channel][n])`, the sum being what the residual subtracts from the mix.
pub(crate) fn drain_targets(
    pending: &mut [Vec<VecDeque<f32>>],
    n: usize,
    nb_channels: usize,
) -> (Vec<Vec<Vec<f32>>>, Vec<Vec<f32>>) {
    let mut sum = vec![vec![0.0f32; n]; nb_channels];
    let targets = pending
        .iter_mut()
        .map(|queues| {
            let block: Vec<Vec<f32>> = queues
                .iter_mut()
                .map(|q| {
                    let take = n.min(q.len());
                    let mut ch: Vec<f32> = q.drain(..take).collect();
                    ch.resize(n, 0.0);
                    ch
                })
                .collect();
            for (s, ch) in sum.iter_mut().zip(&block) {
                for (a, b) in s.iter_mut().zip(ch) {
                    *a += b;
                }
            }
            block
        })
        .collect();
    (targets, sum)
}
