//! The CPU path's analysis front: streaming STFT per channel (rayon), magnitudes of the
//! network's input bins kept for the context, rows written straight into the network's input
//! tensor ([`features::stack_rows_into`]); a batch leaves with its complex frames and its
//! network inputs, the network stage runs the estimators, and the synthesis stage makes the
//! masks.

use super::analysis::Front;
use super::estimator::EstimatorSpec;
use super::pipeline::{Engine, PendingBatch};
use super::stages::StageTimes;
use crate::error::Result;
use crate::features;
use crate::stft::{Complex32, Stft, StftStream};
use rayon::prelude::*;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};
use tch::{Device, Kind, Tensor};

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
    /// The CPU path for `engine`'s estimators over `nb_channels` channels: batches leave as
    /// network inputs for [`super::network_stage`], which hands each input tensor back through
    /// `returned` once it is done with it.
    pub fn new(engine: &Engine, nb_channels: usize, returned: Receiver<(usize, Tensor)>) -> Self {
        let facts = engine.facts;
        let specs: Vec<EstimatorSpec> =
            engine.estimators.iter().map(|e| e.spec().clone()).collect();
        let stft = Stft::new(facts.stft);
        CpuFront {
            nb_bins: facts.stft.nb_bins(),
            spare: specs.iter().map(|_| Vec::new()).collect(),
            specs,
            context: facts.reach,
            stfts: (0..nb_channels)
                .map(|_| StftStream::new(stft.clone()))
                .collect(),
            frames: vec![Vec::new(); nb_channels],
            frames_start: 0,
            mags: vec![Vec::new(); nb_channels],
            mags_start: 0,
            keep: facts.band,
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
