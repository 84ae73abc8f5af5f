//! The streaming extraction engine: blocks of samples in, blocks of target samples out, with
//! memory bounded by the block and batch sizes whatever the input's length.
//!
//! ```text
//! source --resample--> STFT per channel --|X|, context--> estimators (batches of frames)
//!   --masks--> ISTFT per target and channel --resample back--> sinks (+ residual = mix - targets)
//! ```
//!
//! Frames go through the networks in batches aligned on multiples of `batch_frames` from the
//! first frame, whatever the read block size, so a streamed run computes exactly what a one-shot
//! run computes and gives the same samples.

use super::estimator::Estimator;
use super::mask::{extend_high_band, frame_masks, MaskKind};
use super::stages::{timed, StageTimes};
use crate::audio::StreamResampler;
use crate::error::{Error, Result};
use crate::stft::{Complex32, Istft, IstftStream, Stft, StftConfig, StftStream};
use rayon::prelude::*;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Where blocks of input come from.
pub(crate) trait BlockSource {
    fn sample_rate(&self) -> u32;
    fn nb_channels(&self) -> usize;
    /// Up to `max_frames` frames, shape `(nb_channels, n)`; `n == 0` only at the end.
    fn read(&mut self, max_frames: usize) -> Result<Vec<Vec<f32>>>;
}

/// Where blocks of output go.
pub(crate) trait BlockSink {
    /// A block of shape `(nb_channels, n)`.
    fn write(&mut self, block: &[Vec<f32>]) -> Result<()>;
}

/// Settings of one run.
pub(crate) struct Engine<'a> {
    pub estimators: &'a [Box<dyn Estimator>],
    pub mask: MaskKind,
    /// Frames per network batch (per channel).
    pub batch_frames: usize,
    /// Frames read from the source per step.
    pub block_frames: usize,
    /// Checked before every block: once set, the run ends with [`Error::Interrupted`].
    pub stop: Option<&'a AtomicBool>,
}

/// Per-run state.
struct Run<'a> {
    engine: &'a Engine<'a>,
    stft_config: StftConfig,
    nb_channels: usize,
    /// Largest context over the estimators: the look-ahead a batch needs.
    context: usize,
    resample_in: StreamResampler,
    stfts: Vec<StftStream>,
    /// Per channel, complex frames from index `frames_start` on, `nb_bins_total` values each.
    frames: Vec<Vec<Complex32>>,
    frames_start: usize,
    nb_frames_ready: usize,
    next_frame: usize,
    /// `[target][channel]`.
    istfts: Vec<Vec<IstftStream>>,
    resample_out: Vec<StreamResampler>,
    /// `[target][channel]`: output samples not yet written.
    pending_out: Vec<Vec<VecDeque<f32>>>,
    /// Per channel: input samples not yet paired with output (for the residual).
    pending_mix: Option<Vec<VecDeque<f32>>>,
    frames_in: u64,
    frames_written: u64,
    times: StageTimes,
}

impl<'a> Engine<'a> {
    /// Runs the whole source through; `sinks` has one sink per estimator, in order. Returns the
    /// number of frames processed (= frames written to every sink) and where the time went.
    pub fn run(
        &'a self,
        source: &mut dyn BlockSource,
        sinks: &mut [&mut dyn BlockSink],
        mut residual: Option<&mut dyn BlockSink>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(u64, StageTimes)> {
        let mut run = Run::new(
            self,
            source.sample_rate(),
            source.nb_channels(),
            residual.is_some(),
        )?;
        loop {
            if self.stop.is_some_and(|stop| stop.load(Ordering::SeqCst)) {
                return Err(Error::Interrupted);
            }
            let block = timed(&mut run.times.decode, || source.read(self.block_frames))?;
            if block.first().is_none_or(Vec::is_empty) {
                break;
            }
            run.frames_in += block[0].len() as u64;
            if let Some(mix) = &mut run.pending_mix {
                for (q, ch) in mix.iter_mut().zip(&block) {
                    q.extend(ch);
                }
            }
            let resampled = timed(&mut run.times.resample, || run.resample_in.push(&block))?;
            run.push_samples(&resampled);
            run.process(false)?;
            run.write(sinks, &mut residual, false)?;
            progress(run.frames_in);
        }
        if run.frames_in == 0 {
            return Err(Error::Invalid("the input holds no samples".into()));
        }
        let tail = timed(&mut run.times.resample, || run.resample_in.finish())?;
        run.push_samples(&tail);
        run.finish_stft();
        run.process(true)?;
        run.write(sinks, &mut residual, true)?;
        Ok((run.frames_in, run.times))
    }
}

impl<'a> Run<'a> {
    fn new(
        engine: &'a Engine<'a>,
        sample_rate: u32,
        nb_channels: usize,
        residual: bool,
    ) -> Result<Self> {
        let first = engine
            .estimators
            .first()
            .ok_or_else(|| Error::Invalid("no model to separate with".into()))?
            .spec();
        let stft_config = first.stft;
        let model_rate = first.sample_rate;
        let context = engine
            .estimators
            .iter()
            .map(|e| e.spec().context)
            .max()
            .unwrap_or(0);
        let nb_targets = engine.estimators.len();
        let stft = Stft::new(stft_config);
        let istft = Istft::new(stft_config);
        Ok(Run {
            engine,
            stft_config,
            nb_channels,
            context,
            resample_in: StreamResampler::new(sample_rate, model_rate, nb_channels)?,
            stfts: (0..nb_channels)
                .map(|_| StftStream::new(stft.clone()))
                .collect(),
            frames: vec![Vec::new(); nb_channels],
            frames_start: 0,
            nb_frames_ready: 0,
            next_frame: 0,
            istfts: (0..nb_targets)
                .map(|_| {
                    (0..nb_channels)
                        .map(|_| IstftStream::new(istft.clone()))
                        .collect()
                })
                .collect(),
            resample_out: (0..nb_targets)
                .map(|_| StreamResampler::new(model_rate, sample_rate, nb_channels))
                .collect::<Result<_>>()?,
            pending_out: vec![vec![VecDeque::new(); nb_channels]; nb_targets],
            pending_mix: residual.then(|| vec![VecDeque::new(); nb_channels]),
            frames_in: 0,
            frames_written: 0,
            times: StageTimes::default(),
        })
    }

    /// STFT of a block of model-rate samples `(nb_channels, n)`, in parallel over channels.
    fn push_samples(&mut self, block: &[Vec<f32>]) {
        let start = Instant::now();
        self.stfts
            .par_iter_mut()
            .zip(self.frames.par_iter_mut())
            .zip(block.par_iter())
            .for_each(|((stft, frames), samples)| {
                stft.push(samples, frames);
            });
        self.nb_frames_ready = self.stfts[0].nb_frames_out();
        self.times.stft += start.elapsed();
    }

    fn finish_stft(&mut self) {
        let start = Instant::now();
        self.stfts
            .par_iter_mut()
            .zip(self.frames.par_iter_mut())
            .for_each(|(stft, frames)| {
                stft.finish(frames);
            });
        self.nb_frames_ready = self.stfts[0].nb_frames_out();
        self.times.stft += start.elapsed();
    }

    /// Masks and inverts every batch whose frames and look-ahead are ready (all that is left
    /// when `last`).
    fn process(&mut self, last: bool) -> Result<()> {
        let batch = self.engine.batch_frames;
        loop {
            let start = self.next_frame;
            let end = if last {
                (start + batch).min(self.nb_frames_ready)
            } else if start + batch + self.context <= self.nb_frames_ready {
                start + batch
            } else {
                break;
            };
            if end <= start {
                break;
            }
            self.process_batch(start, end, last)?;
            self.next_frame = end;
            self.drop_used_frames();
        }
        Ok(())
    }

    fn process_batch(&mut self, start: usize, end: usize, last: bool) -> Result<()> {
        let nb_bins_total = self.stft_config.nb_bins();
        let count = end - start;
        let c_max = self.context;
        // Frames beyond what is ready are zeros only at the very end of the signal.
        let nb_frames = if last {
            self.nb_frames_ready
        } else {
            usize::MAX
        };
        let clock = Instant::now();
        // Per channel: magnitudes of frames start - C .. end + C.
        let span = count + 2 * c_max;
        let first = start as i64 - c_max as i64;
        let frames_start = self.frames_start;
        let mags: Vec<Vec<f32>> = self
            .frames
            .par_iter()
            .map(|f| magnitudes(f, frames_start, nb_bins_total, first, span, nb_frames))
            .collect();

        // estimates[target][channel]: (count, nb_bins_total), high band extended.
        let mut estimates = Vec::with_capacity(self.engine.estimators.len());
        for estimator in self.engine.estimators {
            let spec = estimator.spec();
            let (context, nb_in, nb_out) = (spec.context, spec.nb_bins_in, spec.nb_bins);
            let width = (2 * context + 1) * nb_in;
            let mut input = vec![0.0f32; self.nb_channels * count * width];
            input
                .par_chunks_mut(count * width)
                .zip(mags.par_iter())
                .for_each(|(channel_rows, m)| {
                    for (i, row) in channel_rows.chunks_exact_mut(width).enumerate() {
                        for d in 0..2 * context + 1 {
                            // Frame (start + i) + d - context sits at index i + d + (c_max - context).
                            let src = (i + d + c_max - context) * nb_bins_total;
                            row[d * nb_in..(d + 1) * nb_in].copy_from_slice(&m[src..src + nb_in]);
                        }
                    }
                });
            let rows = (self.nb_channels * count) as i64;
            self.times.features += clock.elapsed();
            let clock = Instant::now();
            let input = Tensor::from_slice(&input)
                .view([rows, width as i64])
                .to_device(estimator.device());
            let output = tch::no_grad(|| estimator.estimate(&input))?;
            let output = output
                .to_device(Device::Cpu)
                .to_kind(Kind::Float)
                .contiguous();
            if output.size() != [rows, nb_out as i64] {
                return Err(Error::mismatch(
                    format!("estimate shape of the {} model", spec.target),
                    format!("[{rows}, {nb_out}]"),
                    format!("{:?}", output.size()),
                ));
            }
            let flat = Vec::<f32>::try_from(output.view([-1]))?;
            self.times.network += clock.elapsed();
            let clock = Instant::now();
            let per_channel: Vec<Vec<f32>> = (0..self.nb_channels)
                .map(|c| {
                    let mut full = vec![0.0f32; count * nb_bins_total];
                    for i in 0..count {
                        let est = &mut full[i * nb_bins_total..(i + 1) * nb_bins_total];
                        let row = (c * count + i) * nb_out;
                        est[..nb_out].copy_from_slice(&flat[row..row + nb_out]);
                        let mix =
                            &mags[c][(i + c_max) * nb_bins_total..(i + c_max + 1) * nb_bins_total];
                        extend_high_band(est, mix, nb_out);
                    }
                    full
                })
                .collect();
            estimates.push(per_channel);
            self.times.mask += clock.elapsed();
        }

        // Masks, masked spectra and inverse STFT, in parallel over channels.
        let clock = Instant::now();
        let nb_targets = estimates.len();
        let kind = self.engine.mask;
        let frames_start = self.frames_start;
        let channel_outputs: Vec<Vec<Vec<Complex32>>> = (0..self.nb_channels)
            .into_par_iter()
            .map(|c| {
                let mut masked = vec![Vec::with_capacity(count * nb_bins_total); nb_targets];
                let mut frame_est = vec![vec![0.0f32; nb_bins_total]; nb_targets];
                let mut masks = vec![vec![0.0f32; nb_bins_total]; nb_targets];
                for i in 0..count {
                    let range = i * nb_bins_total..(i + 1) * nb_bins_total;
                    for (fe, e) in frame_est.iter_mut().zip(&estimates) {
                        fe.copy_from_slice(&e[c][range.clone()]);
                    }
                    let mix =
                        &mags[c][(i + c_max) * nb_bins_total..(i + c_max + 1) * nb_bins_total];
                    frame_masks(kind, &frame_est, mix, &mut masks);
                    let offset = (start + i - frames_start) * nb_bins_total;
                    let x = &self.frames[c][offset..offset + nb_bins_total];
                    for (out, mask) in masked.iter_mut().zip(&masks) {
                        out.extend(x.iter().zip(mask).map(|(x, m)| x * *m));
                    }
                }
                masked
            })
            .collect();
        self.times.mask += clock.elapsed();
        let clock = Instant::now();
        let istfts = &mut self.istfts;
        let samples: Vec<Vec<Vec<f32>>> = istfts
            .par_iter_mut()
            .enumerate()
            .map(|(j, per_channel)| {
                per_channel
                    .par_iter_mut()
                    .enumerate()
                    .map(|(c, istft)| {
                        let mut out = Vec::new();
                        istft.push(&channel_outputs[c][j], &mut out)?;
                        Ok(out)
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<_>>()?;
        self.times.istft += clock.elapsed();
        for (j, target) in samples.into_iter().enumerate() {
            self.queue_output(j, target)?;
        }
        Ok(())
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

    /// Forgets frames that no later batch needs for context.
    fn drop_used_frames(&mut self) {
        let keep_from = self.next_frame.saturating_sub(self.context);
        if keep_from > self.frames_start {
            let nb_bins = self.stft_config.nb_bins();
            let drop = (keep_from - self.frames_start) * nb_bins;
            for f in &mut self.frames {
                f.drain(..drop.min(f.len()));
            }
            self.frames_start = keep_from;
        }
    }

    /// Writes what every target has ready, never past the input's length; at the end, flushes
    /// the inverse STFTs and resamplers and pads or trims to exactly the input's length.
    fn write(
        &mut self,
        sinks: &mut [&mut dyn BlockSink],
        residual: &mut Option<&mut dyn BlockSink>,
        last: bool,
    ) -> Result<()> {
        if last {
            self.flush_targets()?;
        }
        let ready = self
            .pending_out
            .iter()
            .map(|t| t[0].len())
            .min()
            .unwrap_or(0) as u64;
        let room = self.frames_in - self.frames_written;
        let n = if last { room } else { ready.min(room) } as usize;
        if n == 0 {
            return Ok(());
        }
        let clock = Instant::now();
        let mut sum = vec![vec![0.0f32; n]; self.nb_channels];
        for (queues, sink) in self.pending_out.iter_mut().zip(sinks.iter_mut()) {
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
            sink.write(&block)?;
        }
        if let (Some(sink), Some(mix)) = (residual.as_mut(), &mut self.pending_mix) {
            let block: Vec<Vec<f32>> = mix
                .iter_mut()
                .zip(sum)
                .map(|(q, s)| q.drain(..n).zip(s).map(|(x, y)| x - y).collect())
                .collect();
            sink.write(&block)?;
        }
        self.frames_written += n as u64;
        self.times.encode += clock.elapsed();
        Ok(())
    }

    fn flush_targets(&mut self) -> Result<()> {
        let length = self.stfts[0].nb_samples();
        for j in 0..self.istfts.len() {
            let mut tails = Vec::with_capacity(self.nb_channels);
            let clock = Instant::now();
            for istft in &mut self.istfts[j] {
                let mut out = Vec::new();
                istft.finish(length, &mut out)?;
                tails.push(out);
            }
            self.times.istft += clock.elapsed();
            self.queue_output(j, tails)?;
            let rest = timed(&mut self.times.resample, || self.resample_out[j].finish())?;
            for (q, ch) in self.pending_out[j].iter_mut().zip(rest) {
                q.extend(ch);
            }
        }
        Ok(())
    }
}

/// Magnitudes of frames `first .. first + count` of one channel's `frames` (which start at frame
/// `frames_start`, `nb_bins` values each), zeros outside `0 .. nb_frames`: `(count, nb_bins)`.
fn magnitudes(
    frames: &[Complex32],
    frames_start: usize,
    nb_bins: usize,
    first: i64,
    count: usize,
    nb_frames: usize,
) -> Vec<f32> {
    let mut mags = vec![0.0f32; count * nb_bins];
    for (i, out) in mags.chunks_exact_mut(nb_bins).enumerate() {
        let t = first + i as i64;
        if t < 0 || t as usize >= nb_frames {
            continue;
        }
        let offset = (t as usize - frames_start) * nb_bins;
        for (m, x) in out.iter_mut().zip(&frames[offset..offset + nb_bins]) {
            *m = x.norm();
        }
    }
    mags
}
