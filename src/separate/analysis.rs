//! The analysis stage: model-rate samples in, batches out, each sent once its frames and their
//! look-ahead exist.
//!
//! Two fronts compute a batch: the CPU path's [`super::cpu_front::CpuFront`] (rayon; batches
//! leave as network inputs for the network stage) and the tensor path's
//! [`super::tensor_front::TensorFront`] (LibTorch on the network's device, network included;
//! batches leave as finished samples). This file holds what both share: the loop that cuts
//! frames into batches aligned on multiples of `batch_frames`.

use super::pipeline::{Decoded, Engine, Staged};
use super::stages::StageTimes;
use crate::error::Result;
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::{Duration, Instant};

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

impl<F: Front> Analysis<F> {
    /// The stage over `front`, with `engine`'s batch size and the models' largest reach.
    pub fn new(front: F, engine: &Engine) -> Self {
        Analysis {
            front,
            batch_frames: engine.batch_frames,
            context: engine.facts.reach,
            next_frame: 0,
            times: StageTimes::default(),
        }
    }

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
