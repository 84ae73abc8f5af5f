//! The batched path: blocks of samples in, blocks of target samples out, with memory bounded
//! by the block and batch sizes whatever the input's length.
//!
//! Five stages run at once on their own threads, joined by bounded queues (so memory stays
//! flat), each splitting its own work over blocks of frames with rayon:
//!
//! ```text
//! decode: source --resample--> ........................................ (queue of 2 blocks)
//! analysis: STFT per channel --|X|, context--> network input tensor    (queue of 2 batches)
//! network (calling thread): estimators (batches of frames)             (queue of 2 batches)
//! synthesis: masks --> inverse STFT (windowed frames, overlap-add) --resample back-->
//!   residual = mix - targets                                             (queue of 2 blocks)
//! encode: sinks
//! ```
//!
//! On the tensor path (see [`TensorFront`]), the analysis stage runs on the calling thread and
//! also computes the network, the masks, the inverse FFT and the overlap-add on the network's
//! device (four stages, no network stage); synthesis then only brings the finished samples
//! back, resamples and subtracts.
//!
//! Frames go through the networks in batches aligned on multiples of `batch_frames` from the
//! first frame, whatever the read block size, and every per-frame computation is independent of
//! how frames are grouped into parallel tasks, so a streamed run computes exactly what a one-shot
//! run computes and gives the same samples.

use super::analysis::Analysis;
use super::cpu_front::CpuFront;
use super::network_stage;
use super::pipeline::{BlockSink, BlockSource, Decoded, Encoded, Engine, StageResult, ToSynthesis};
use super::stages::{timed, StageTimes};
use super::synthesis::Synthesis;
use super::tensor_front::TensorFront;
use crate::audio::StreamResampler;
use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::thread::Scope;

/// Messages a queue holds at most: two in flight per stage keeps every stage fed.
const QUEUE: usize = 2;

/// Runs the whole source through `engine`'s stages; `sinks` has one sink per estimator, in
/// order. Returns the number of frames processed (= frames written to every sink) and where the
/// time went (each stage's busy time; stages overlap, so the sum exceeds the wall time).
pub(crate) fn run(
    engine: &Engine,
    source: &mut dyn BlockSource,
    sinks: &mut [&mut dyn BlockSink],
    residual: Option<&mut dyn BlockSink>,
    progress: &mut dyn FnMut(u64),
) -> Result<(u64, StageTimes)> {
    let (rate, model_rate) = (source.sample_rate(), engine.facts.sample_rate);
    let nb_channels = source.nb_channels();
    let resample_in = StreamResampler::new(rate, model_rate, nb_channels)?;
    let synthesis = Synthesis::new(engine, rate, nb_channels, residual.is_some())?;
    let (decoded_tx, decoded_rx) = sync_channel(QUEUE);
    let (synth_tx, synth_rx) = sync_channel(QUEUE);
    let (encode_tx, encode_rx) = sync_channel(QUEUE);
    let block_frames = engine.block_frames;
    let stop = engine.stop;
    let (decode, (analysed, counted), synthesised, encoded) = std::thread::scope(|scope| {
        let decode =
            scope.spawn(move || decode_stage(source, resample_in, block_frames, stop, decoded_tx));
        let synthesised = scope.spawn(move || synthesis.run(synth_rx, encode_tx));
        let encoded = scope.spawn(move || encode_stage(sinks, residual, encode_rx));
        let analysed = analyse(engine, scope, nb_channels, decoded_rx, synth_tx, progress);
        (
            joined(decode),
            analysed,
            joined(synthesised),
            joined(encoded),
        )
    });
    let mut total = StageTimes::default();
    let mut ended_early = false;
    for result in [decode, synthesised, encoded].into_iter().chain(analysed) {
        match result? {
            Some(times) => total += times,
            None => ended_early = true,
        }
    }
    if ended_early {
        return Err(Error::Invalid(
            "a stage of the separation ended early".into(),
        ));
    }
    Ok((counted, total))
}

/// The stages from decoded blocks to batches for the synthesis stage: on the CPU path the
/// analysis on a thread of its own and the network stage on this one, on the tensor path
/// the analysis (network included) on this one. Returns their results and the input frames
/// they counted (0 when one failed).
fn analyse<'scope>(
    engine: &'scope Engine<'scope>,
    scope: &'scope Scope<'scope, '_>,
    nb_channels: usize,
    decoded: Receiver<Decoded>,
    synth_tx: SyncSender<ToSynthesis>,
    progress: &mut dyn FnMut(u64),
) -> (Vec<StageResult>, u64) {
    let counted = |r: Result<Option<(StageTimes, u64)>>| match r {
        Ok(Some((times, frames))) => (Ok(Some(times)), frames),
        Ok(None) => (Ok(None), 0),
        Err(e) => (Err(e), 0),
    };
    match engine.tensor_device {
        Some(device) => {
            let front = TensorFront::new(engine, nb_channels, device);
            let analysed = Analysis::new(front, engine).run(decoded, synth_tx, progress);
            let (result, frames) = counted(analysed);
            (vec![result], frames)
        }
        None => {
            let (spare_tx, spare_rx) = channel();
            let analysis = Analysis::new(CpuFront::new(engine, nb_channels, spare_rx), engine);
            let (network_tx, network_rx) = sync_channel(QUEUE);
            let analysed = scope.spawn(move || {
                let mut analysis = analysis;
                analysis
                    .run(decoded, network_tx, &mut |_| {})
                    .map(|r| r.map(|(times, _)| times))
            });
            let estimated =
                network_stage::run(engine.estimators, network_rx, synth_tx, spare_tx, progress);
            let (result, frames) = counted(estimated);
            (vec![joined(analysed), result], frames)
        }
    }
}

/// A stage's result; a stage's panic goes on in the caller.
fn joined(handle: std::thread::ScopedJoinHandle<'_, StageResult>) -> StageResult {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Reads and resamples the source into `tx` until it ends.
fn decode_stage(
    source: &mut dyn BlockSource,
    mut resampler: StreamResampler,
    block_frames: usize,
    stop: Option<&AtomicBool>,
    tx: SyncSender<Decoded>,
) -> StageResult {
    let mut times = StageTimes::default();
    let mut frames_in = 0u64;
    loop {
        if stop.is_some_and(|stop| stop.load(Ordering::SeqCst)) {
            return Err(Error::Interrupted);
        }
        let raw = timed(&mut times.decode, || source.read(block_frames))?;
        if raw.first().is_none_or(Vec::is_empty) {
            break;
        }
        frames_in += raw[0].len() as u64;
        let model_rate = timed(&mut times.resample, || resampler.push(&raw))?;
        if tx.send(Decoded::Block { raw, model_rate }).is_err() {
            return Ok(None);
        }
    }
    if frames_in == 0 {
        return Err(Error::Invalid("the input holds no samples".into()));
    }
    let model_rate = timed(&mut times.resample, || resampler.finish())?;
    if tx.send(Decoded::End { model_rate }).is_err() {
        return Ok(None);
    }
    Ok(Some(times))
}

/// Writes every block to its sink.
fn encode_stage(
    sinks: &mut [&mut dyn BlockSink],
    mut residual: Option<&mut dyn BlockSink>,
    rx: Receiver<Option<Encoded>>,
) -> StageResult {
    let mut times = StageTimes::default();
    loop {
        match rx.recv() {
            Ok(Some(block)) => timed(&mut times.encode, || -> Result<()> {
                for (sink, target) in sinks.iter_mut().zip(&block.targets) {
                    sink.write(target)?;
                }
                if let (Some(sink), Some(r)) = (residual.as_mut(), &block.residual) {
                    sink.write(r)?;
                }
                Ok(())
            })?,
            Ok(None) => return Ok(Some(times)),
            Err(_) => return Ok(None),
        }
    }
}
