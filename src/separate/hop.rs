//! The low-latency path: one thread, one hop at a time, each frame through the networks as soon
//! as its future context exists.
//!
//! [`HopProcessor`] computes, frame by frame, what the batched stages compute for a batch
//! (the same per-frame functions in the same order: STFT, magnitudes, context rows, network,
//! high band, masks, inverse frame, overlap-add, resampling, residual), so the samples are the
//! same; it runs every step on the calling thread (rayon's per-frame calls split nothing), so
//! a hop never waits for another thread to wake up, and its thread's CPU time is its cost.
//! [`run`] drives it from a source to sinks for an [`Engine`] in low-latency mode; a live
//! audio loop can drive it block by block.

use super::estimator::{run_network, Estimator};
use super::hop_times::thread_cpu_time;
use super::mask::{extend_high_band, frame_masks, MaskKind};
use super::output_queue::OutputQueue;
use super::pipeline::{BlockSink, BlockSource, Engine, ModelFacts};
use super::stages::{timed, StageTimes};
use crate::audio::StreamResampler;
use crate::error::{Error, Result};
use crate::features;
use crate::stft::{Complex32, Istft, Stft, StftConfig, StftStream};
use std::sync::atomic::Ordering;
use std::time::Instant;
use tch::{Device, Tensor};

/// Output samples ready after a push: `[target](nb_channels, n)` and the residual
/// `(nb_channels, n)` (the mix minus the targets), all `n` long (maybe 0).
#[derive(Debug, Clone, PartialEq)]
pub struct HopOutput {
    pub targets: Vec<Vec<Vec<f32>>>,
    pub residual: Vec<Vec<f32>>,
}

impl HopOutput {
    /// Frames per channel.
    pub fn len(&self) -> usize {
        self.residual.first().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The streaming separation of one input, a block at a time, on the calling thread.
pub struct HopProcessor<'a> {
    estimators: &'a [Box<dyn Estimator>],
    mask: MaskKind,
    config: StftConfig,
    nb_channels: usize,
    /// Largest context reach `C * S` over the estimators.
    reach: usize,
    /// Magnitude bins kept per frame (the largest `nb_bins_in`).
    keep: usize,
    resample_in: StreamResampler,
    stfts: Vec<StftStream>,
    /// Per channel, complex frames from `next_frame` on.
    frames: Vec<Vec<Complex32>>,
    /// Per channel, magnitudes (`keep` bins) of frames from `mags_start` on.
    mags: Vec<Vec<f32>>,
    mags_start: usize,
    next_frame: usize,
    istft: Istft,
    output: OutputQueue,
    finished: bool,
    times: StageTimes,
}

impl<'a> HopProcessor<'a> {
    /// A processor for input at `rate` Hz with `nb_channels` channels; `facts` are
    /// `estimators`' (see [`ModelFacts::of`]).
    pub(crate) fn new(
        estimators: &'a [Box<dyn Estimator>],
        facts: &ModelFacts,
        mask: MaskKind,
        rate: u32,
        nb_channels: usize,
    ) -> Result<Self> {
        let config = facts.stft;
        let istft = Istft::new(config);
        let stft = Stft::new(config);
        Ok(HopProcessor {
            estimators,
            mask,
            config,
            nb_channels,
            reach: facts.reach,
            keep: facts.band,
            resample_in: StreamResampler::new(rate, facts.sample_rate, nb_channels)?,
            stfts: (0..nb_channels)
                .map(|_| StftStream::new(stft.clone()))
                .collect(),
            frames: vec![Vec::new(); nb_channels],
            mags: vec![Vec::new(); nb_channels],
            mags_start: 0,
            next_frame: 0,
            output: OutputQueue::new(facts, &istft, rate, nb_channels, true)?,
            istft,
            finished: false,
            times: StageTimes::default(),
        })
    }

    /// Where the time went so far (decode and encode are the caller's).
    pub fn times(&self) -> StageTimes {
        self.times
    }

    /// Feeds `block` `(nb_channels, n)` at the input's rate; returns the output now final
    /// (the latency of [`super::algorithmic_latency`] behind the input at the model's rate).
    pub fn push(&mut self, block: &[Vec<f32>]) -> Result<HopOutput> {
        if self.finished {
            return Err(Error::Invalid("a block pushed after the end".into()));
        }
        if block.len() != self.nb_channels {
            return Err(Error::mismatch(
                "channels of a block",
                self.nb_channels,
                block.len(),
            ));
        }
        self.output.push_mix(block);
        let model_rate = timed(&mut self.times.resample, || self.resample_in.push(block))?;
        self.analyse(&model_rate, false)?;
        self.frames_through(false)?;
        Ok(self.take(false))
    }

    /// Ends the input: returns the rest of the output, up to exactly the input's length.
    pub fn finish(&mut self) -> Result<HopOutput> {
        if self.finished {
            return Err(Error::Invalid("the end given twice".into()));
        }
        self.finished = true;
        let tail = timed(&mut self.times.resample, || self.resample_in.finish())?;
        self.analyse(&tail, true)?;
        self.frames_through(true)?;
        let nb_samples = self.stfts[0].nb_samples();
        self.output.finish(nb_samples, false, &mut self.times)?;
        Ok(self.take(true))
    }

    /// STFT and magnitudes of model-rate samples `(nb_channels, n)` (the end's padding too
    /// when `last`).
    fn analyse(&mut self, samples: &[Vec<f32>], last: bool) -> Result<()> {
        let clock = Instant::now();
        let nb_bins = self.config.nb_bins();
        let mut new_frames = 0;
        for ((stft, frames), ch) in self.stfts.iter_mut().zip(&mut self.frames).zip(samples) {
            let before = frames.len();
            stft.push(ch, frames);
            if last {
                stft.finish(frames);
            }
            new_frames = (frames.len() - before) / nb_bins;
        }
        self.times.stft += clock.elapsed();
        let clock = Instant::now();
        let keep = self.keep;
        for (mags, frames) in self.mags.iter_mut().zip(&self.frames) {
            let new = &frames[frames.len() - new_frames * nb_bins..];
            let old = mags.len();
            mags.resize(old + new_frames * keep, 0.0);
            features::magnitudes_into(new, nb_bins, keep, &mut mags[old..]);
        }
        self.times.features += clock.elapsed();
        Ok(())
    }

    /// Sends every frame whose context exists (every frame left when `last`) through the
    /// networks, the masks and the inverse STFT.
    fn frames_through(&mut self, last: bool) -> Result<()> {
        let ready = self.stfts[0].nb_frames_out();
        while self.next_frame < ready && (last || self.next_frame + self.reach < ready) {
            // Frames beyond what is ready are zeros only at the very end of the signal.
            let nb_frames = if last { ready as i64 } else { i64::MAX };
            let estimates = self.estimate(self.next_frame, nb_frames)?;
            self.synthesize(&estimates)?;
            self.next_frame += 1;
            let keep_from = self.next_frame.saturating_sub(self.reach);
            if keep_from > self.mags_start {
                let drop = (keep_from - self.mags_start) * self.keep;
                for m in &mut self.mags {
                    m.drain(..drop.min(m.len()));
                }
                self.mags_start = keep_from;
            }
        }
        Ok(())
    }

    /// Frame `t` through every estimator: per target `(nb_channels, nb_bins_out)` estimates.
    fn estimate(&mut self, t: usize, nb_frames: i64) -> Result<Vec<Vec<f32>>> {
        let rows = self.nb_channels;
        let mut estimates = Vec::with_capacity(self.estimators.len());
        for estimator in self.estimators {
            let clock = Instant::now();
            let spec = estimator.spec();
            let width = (2 * spec.context + 1) * spec.nb_bins_in;
            let mut input = vec![0.0f32; rows * width];
            for (out, mags) in input.chunks_exact_mut(width).zip(&self.mags) {
                features::stack_rows_into(
                    mags,
                    self.keep,
                    self.mags_start as i64,
                    nb_frames,
                    spec.context,
                    spec.context_stride,
                    spec.nb_bins_in,
                    t as i64..t as i64 + 1,
                    out,
                );
            }
            let input = Tensor::from_slice(&input).view([rows as i64, width as i64]);
            self.times.features += clock.elapsed();
            let output = run_network(estimator.as_ref(), &input, rows as i64, &mut self.times)?;
            let clock = Instant::now();
            let output = output.to_device(Device::Cpu).contiguous();
            estimates.push(Vec::<f32>::try_from(output.view([-1]))?);
            self.times.network += clock.elapsed();
        }
        Ok(estimates)
    }

    /// Masks frame `next_frame` of every channel with `estimates` (per target `(nb_channels,
    /// nb_bins_out)`), inverts it and overlap-adds it; queues the samples now final.
    fn synthesize(&mut self, estimates: &[Vec<f32>]) -> Result<()> {
        let nb_bins = self.config.nb_bins();
        let n_fft = self.config.n_fft();
        let nb_targets = estimates.len();
        let mut mix = vec![0.0f32; nb_bins];
        let mut est = vec![vec![0.0f32; nb_bins]; nb_targets];
        let mut masks = vec![vec![0.0f32; nb_bins]; nb_targets];
        let mut spectrum = vec![Complex32::default(); nb_bins];
        let mut windowed = vec![0.0f32; n_fft];
        let mut scratch = self.istft.make_scratch();
        // [target](nb_channels, n) samples now final.
        let mut samples = vec![Vec::with_capacity(self.nb_channels); nb_targets];
        for c in 0..self.nb_channels {
            let clock = Instant::now();
            let x: Vec<Complex32> = self.frames[c].drain(..nb_bins).collect();
            for (m, v) in mix.iter_mut().zip(&x) {
                *m = features::magnitude(*v);
            }
            for (j, (e, raw)) in est.iter_mut().zip(estimates).enumerate() {
                let nb_out = self.estimators[j].spec().nb_bins;
                e[..nb_out].copy_from_slice(&raw[c * nb_out..(c + 1) * nb_out]);
                extend_high_band(e, &mix, nb_out);
            }
            frame_masks(self.mask, &est, &mix, &mut masks);
            self.times.mask += clock.elapsed();
            let clock = Instant::now();
            for (j, mask) in masks.iter().enumerate() {
                for ((o, x), m) in spectrum.iter_mut().zip(&x).zip(mask) {
                    *o = x * *m;
                }
                self.istft
                    .synthesize_frame(&mut spectrum, &mut windowed, &mut scratch);
                let mut out = Vec::new();
                self.output.istfts[j][c].push_windowed(std::iter::once(&windowed[..]), &mut out)?;
                samples[j].push(out);
            }
            self.times.istft += clock.elapsed();
        }
        for (j, target) in samples.iter().enumerate() {
            self.output.push(j, target, &mut self.times)?;
        }
        Ok(())
    }

    /// What every target has ready, never past the input's length; at the end, exactly up to
    /// it (see [`OutputQueue::take`]).
    fn take(&mut self, last: bool) -> HopOutput {
        let out = self.output.take(last);
        HopOutput {
            targets: out.targets,
            residual: out
                .residual
                .expect("the processor keeps the mix for the residual"),
        }
    }
}

/// The low-latency engine: reads one hop at a time from `source` (one model hop at the
/// input's rate), pushes it through a [`HopProcessor`], writes and flushes whatever is final,
/// and records each hop's compute time in `engine.hop_times`. Returns the frames processed and
/// where the time went.
pub(crate) fn run(
    engine: &Engine,
    source: &mut dyn BlockSource,
    sinks: &mut [&mut dyn BlockSink],
    mut residual: Option<&mut dyn BlockSink>,
    progress: &mut dyn FnMut(u64),
) -> Result<(u64, StageTimes)> {
    let (rate, nb_channels) = (source.sample_rate(), source.nb_channels());
    let mut processor = HopProcessor::new(
        engine.estimators,
        engine.facts,
        engine.mask,
        rate,
        nb_channels,
    )?;
    let facts = engine.facts;
    let block =
        ((facts.stft.hop() as u64 * rate as u64 / facts.sample_rate as u64) as usize).max(1);
    let mut times = StageTimes::default();
    let mut frames_in = 0u64;
    let mut write = |out: &HopOutput, times: &mut StageTimes| -> Result<()> {
        if out.is_empty() {
            return Ok(());
        }
        timed(&mut times.encode, || {
            for (sink, target) in sinks.iter_mut().zip(&out.targets) {
                sink.write(target)?;
                sink.flush()?;
            }
            if let Some(sink) = residual.as_mut() {
                sink.write(&out.residual)?;
                sink.flush()?;
            }
            Ok(())
        })
    };
    loop {
        if engine.stop.is_some_and(|stop| stop.load(Ordering::SeqCst)) {
            return Err(Error::Interrupted);
        }
        let input = timed(&mut times.decode, || source.read(block))?;
        if input.first().is_none_or(Vec::is_empty) {
            break;
        }
        let (clock, cpu) = (Instant::now(), thread_cpu_time());
        frames_in += input[0].len() as u64;
        let out = processor.push(&input)?;
        write(&out, &mut times)?;
        if let (Some(hops), false) = (engine.hop_times, out.is_empty()) {
            hops.record(clock.elapsed(), thread_cpu_time().saturating_sub(cpu));
        }
        progress(frames_in);
    }
    if frames_in == 0 {
        return Err(Error::Invalid("the input holds no samples".into()));
    }
    let out = processor.finish()?;
    write(&out, &mut times)?;
    times += processor.times();
    Ok((frames_in, times))
}
