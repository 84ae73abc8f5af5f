//! The network stage of the CPU path: each batch's input rows through the estimators, on a
//! thread of its own (the calling thread: estimators are not `Sync`), while the analysis stage
//! transforms and stacks the next batch.

use super::estimator::{run_network, Estimator};
use super::pipeline::{BatchOut, PendingBatch, Staged, ToSynthesis};
use super::stages::StageTimes;
use crate::error::Result;
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::time::Instant;
use tch::{Device, Tensor};

/// Runs every batch from `rx` through `estimators` and hands it on to `tx` as
/// [`BatchOut::Spectral`]; the other messages pass unchanged, and `progress` hears of the input
/// frames as they pass. Each input tensor goes back through `spare` once its estimates are out.
/// Returns the stage's times and the input frames seen, `None` when a neighbour ended first.
pub(crate) fn run(
    estimators: &[Box<dyn Estimator>],
    rx: Receiver<Staged<PendingBatch>>,
    tx: SyncSender<ToSynthesis>,
    spare: Sender<(usize, Tensor)>,
    progress: &mut dyn FnMut(u64),
) -> Result<Option<(StageTimes, u64)>> {
    let mut times = StageTimes::default();
    let mut frames_in = 0u64;
    loop {
        let Ok(message) = rx.recv() else {
            return Ok(None);
        };
        let out = match message {
            Staged::Mix(raw) => {
                frames_in += raw.first().map_or(0, Vec::len) as u64;
                progress(frames_in);
                Staged::Mix(raw)
            }
            Staged::Batch(batch) => Staged::Batch(estimate(estimators, batch, &spare, &mut times)?),
            Staged::End { nb_samples } => {
                if tx.send(Staged::End { nb_samples }).is_err() {
                    return Ok(None);
                }
                return Ok(Some((times, frames_in)));
            }
        };
        if tx.send(out).is_err() {
            return Ok(None);
        }
    }
}

fn estimate(
    estimators: &[Box<dyn Estimator>],
    batch: PendingBatch,
    spare: &Sender<(usize, Tensor)>,
    times: &mut StageTimes,
) -> Result<BatchOut> {
    let mut estimates = Vec::with_capacity(estimators.len());
    for (j, (estimator, input)) in estimators.iter().zip(batch.inputs).enumerate() {
        let rows = input.size()[0];
        let output = run_network(estimator.as_ref(), &input, rows, times)?;
        let clock = Instant::now();
        let output = output.to_device(Device::Cpu).contiguous();
        estimates.push(Vec::<f32>::try_from(output.view([-1]))?);
        times.network += clock.elapsed();
        // The analysis stage fills it again; it may have ended already.
        let _ = spare.send((j, input));
    }
    Ok(BatchOut::Spectral {
        count: batch.count,
        frames: batch.frames,
        estimates,
    })
}
