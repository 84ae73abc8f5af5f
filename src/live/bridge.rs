//! From an audio input callback to an audio output callback through the separation, without
//! ever blocking the audio threads.
//!
//! ```text
//! input callback --[input ring]--> worker thread: HopProcessor, gains --[output ring]--> output callback
//! ```
//!
//! The callbacks only copy into and out of lock-free single-producer rings (bounded) and count
//! what did not fit: an input block the worker had no room for is an overrun (dropped), an
//! output block the worker had not made in time is an underrun (silence). The worker then
//! drops as many output frames as were played as silence, so the delay stays what it was.

use crate::error::{Error, Result};
use crate::separate::{HopProcessor, HopTimes};
use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::keep::Keep;

/// Counters and times shared by the callbacks, the worker and the readout.
#[derive(Debug, Default)]
pub struct LiveStats {
    /// Output callbacks that found too little output, and the frames played as silence.
    pub underruns: AtomicU64,
    pub underrun_frames: AtomicU64,
    /// Input frames dropped because the input ring was full (the worker fell behind).
    pub overrun_frames: AtomicU64,
    /// Output frames the worker still owes the timeline (played as silence, to drop).
    owed_frames: AtomicU64,
    /// Compute time per hop of the worker.
    pub hops: HopTimes,
    /// Set to end the worker.
    pub stop: AtomicBool,
    /// The worker's thread, woken by the input callback when input arrives (a worker that
    /// polled on a timer woke thousands of times a second and took its hop up to a poll late).
    waker: OnceLock<std::thread::Thread>,
}

/// The input callback's end: interleaved frames in.
pub struct InputEnd {
    ring: HeapProd<f32>,
    nb_channels: usize,
    stats: Arc<LiveStats>,
}

impl InputEnd {
    /// Copies `interleaved` (whole frames) into the ring; what does not fit is dropped and
    /// counted. Never blocks or allocates.
    pub fn push(&mut self, interleaved: &[f32]) {
        let room = self.ring.vacant_len() / self.nb_channels * self.nb_channels;
        let n = interleaved.len().min(room);
        self.ring.push_slice(&interleaved[..n]);
        if n < interleaved.len() {
            let dropped = (interleaved.len() - n) / self.nb_channels;
            self.stats
                .overrun_frames
                .fetch_add(dropped as u64, Ordering::Relaxed);
        }
        if let Some(worker) = self.stats.waker.get() {
            worker.unpark();
        }
    }
}

/// The output callback's end: interleaved frames out.
pub struct OutputEnd {
    ring: HeapCons<f32>,
    nb_channels: usize,
    stats: Arc<LiveStats>,
}

impl OutputEnd {
    /// Fills `interleaved` (whole frames) from the ring; what is missing is silence, counted
    /// as an underrun. Never blocks or allocates.
    pub fn pop(&mut self, interleaved: &mut [f32]) {
        let n = self.ring.pop_slice(interleaved);
        if n < interleaved.len() {
            interleaved[n..].fill(0.0);
            let missing = ((interleaved.len() - n) / self.nb_channels) as u64;
            self.stats.underruns.fetch_add(1, Ordering::Relaxed);
            self.stats
                .underrun_frames
                .fetch_add(missing, Ordering::Relaxed);
            self.stats.owed_frames.fetch_add(missing, Ordering::Relaxed);
        }
    }
}

/// The longest the worker sleeps without input before it looks at `stop` again.
const WAKE_AT_LEAST: Duration = Duration::from_millis(20);

/// The worker's side: pops hops of input, separates them, mixes the kept outputs and pushes
/// them to the output ring. `Send`, so that it can go to its own thread (with the separator
/// its [`HopProcessor`] borrows from).
pub struct Worker {
    keep: Keep,
    input: HeapCons<f32>,
    output: HeapProd<f32>,
    nb_in: usize,
    nb_out: usize,
    /// Frames per step: one model hop at the device's rate.
    block: usize,
    stats: Arc<LiveStats>,
}

/// The three ends of a live bridge.
pub struct Bridge {
    pub input: InputEnd,
    pub output: OutputEnd,
    pub worker: Worker,
    pub stats: Arc<LiveStats>,
}

/// Sizes of a bridge, in frames at the device's rate.
#[derive(Debug, Clone, Copy)]
pub struct BridgeSizes {
    /// Input channels (separated as they are) and output channels (channel `c` plays the
    /// separated channel `c % nb_in`).
    pub nb_in: usize,
    pub nb_out: usize,
    /// Frames per worker step (one model hop at the device's rate).
    pub block: usize,
    /// Silence the output starts with: the delay from input to output.
    pub delay: usize,
    /// Capacity of each ring beyond the delay (room for the worker's jitter).
    pub slack: usize,
}

impl Bridge {
    /// A bridge of `sizes`, playing `keep`'s mix of the outputs.
    pub fn new(keep: Keep, sizes: BridgeSizes) -> Result<Self> {
        if sizes.nb_in == 0 || sizes.nb_out == 0 || sizes.block == 0 {
            return Err(Error::Invalid(format!(
                "a live bridge needs channels and a block size: got {sizes:?}"
            )));
        }
        let stats = Arc::new(LiveStats::default());
        let (input_prod, input_cons) =
            HeapRb::<f32>::new((sizes.delay + sizes.slack + sizes.block) * sizes.nb_in).split();
        let (mut output_prod, output_cons) =
            HeapRb::<f32>::new((sizes.delay + sizes.slack + sizes.block) * sizes.nb_out).split();
        output_prod.push_slice(&vec![0.0; sizes.delay * sizes.nb_out]);
        Ok(Bridge {
            input: InputEnd {
                ring: input_prod,
                nb_channels: sizes.nb_in,
                stats: Arc::clone(&stats),
            },
            output: OutputEnd {
                ring: output_cons,
                nb_channels: sizes.nb_out,
                stats: Arc::clone(&stats),
            },
            worker: Worker {
                keep,
                input: input_cons,
                output: output_prod,
                nb_in: sizes.nb_in,
                nb_out: sizes.nb_out,
                block: sizes.block,
                stats: Arc::clone(&stats),
            },
            stats,
        })
    }
}

impl Worker {
    /// Runs until `stats.stop` is set: each hop of input is separated by `processor` (made for
    /// `nb_in` channels at the device's rate) as soon as it is in the ring, and its output
    /// (maybe none, maybe more than a hop) mixed and queued.
    /// The worker sleeps until the input callback wakes it (or `WAKE_AT_LEAST`, to see `stop`).
    pub fn run(&mut self, processor: &mut HopProcessor) -> Result<()> {
        let _ = self.stats.waker.set(std::thread::current());
        let mut interleaved = vec![0.0f32; self.block * self.nb_in];
        let mut block = vec![vec![0.0f32; self.block]; self.nb_in];
        while !self.stats.stop.load(Ordering::Relaxed) {
            if self.input.occupied_len() < interleaved.len() {
                std::thread::park_timeout(WAKE_AT_LEAST);
                continue;
            }
            let (clock, cpu) = (Instant::now(), crate::separate::thread_cpu_time());
            self.input.pop_slice(&mut interleaved);
            for (i, frame) in interleaved.chunks_exact(self.nb_in).enumerate() {
                for (ch, x) in block.iter_mut().zip(frame) {
                    ch[i] = *x;
                }
            }
            let out = processor.push(&block)?;
            if !out.is_empty() {
                self.emit(&out);
                self.stats.hops.record(
                    clock.elapsed(),
                    crate::separate::thread_cpu_time().saturating_sub(cpu),
                );
            }
        }
        Ok(())
    }

    /// Mixes the kept outputs, drops the frames owed for earlier underruns, and queues the
    /// rest (waiting for room: the output callback drains the ring in real time).
    fn emit(&mut self, out: &crate::separate::HopOutput) {
        let n = out.len();
        let mut mixed = vec![vec![0.0f32; n]; self.nb_in];
        for (c, m) in mixed.iter_mut().enumerate() {
            let targets: Vec<&[f32]> = out.targets.iter().map(|t| t[c].as_slice()).collect();
            self.keep.mix_into(&targets, &out.residual[c], m);
        }
        let owed = self.stats.owed_frames.load(Ordering::Relaxed);
        let skip = (owed as usize).min(n);
        if skip > 0 {
            self.stats
                .owed_frames
                .fetch_sub(skip as u64, Ordering::Relaxed);
        }
        // Interleaved output frames: output channel c plays separated channel c % nb_in.
        let (nb_in, nb_out, mixed) = (self.nb_in, self.nb_out, &mixed);
        let frames: Vec<f32> = (skip..n)
            .flat_map(|i| (0..nb_out).map(move |c| mixed[c % nb_in][i]))
            .collect();
        let mut at = 0;
        while at < frames.len() && !self.stats.stop.load(Ordering::Relaxed) {
            let room = self.output.vacant_len() / self.nb_out * self.nb_out;
            if room == 0 {
                std::thread::sleep(Duration::from_micros(500));
                continue;
            }
            let end = (at + room).min(frames.len());
            at += self.output.push_slice(&frames[at..end]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::separate::{Estimator, EstimatorSpec, SeparateOptions, Separator};
    use crate::stft::StftConfig;
    use crate::AudioBuffer;
    use tch::{Device, Tensor};

    struct Half(EstimatorSpec);

    impl Estimator for Half {
        fn spec(&self) -> &EstimatorSpec {
            &self.0
        }
        fn device(&self) -> Device {
            Device::Cpu
        }
        fn estimate(&self, input: &Tensor) -> Result<Tensor> {
            let (c, l) = (self.0.context as i64, self.0.nb_bins_in as i64);
            Ok(input.narrow(1, c * l, self.0.nb_bins as i64).relu() * 0.6)
        }
    }

    /// Callbacks and worker on their own threads, with no sound hardware: the output is the
    /// kept mix of the offline separation, `delay` frames late, on every output channel, and
    /// nothing underran or overran (the feeder waits for room as a device would not, but the
    /// worker keeps up with it here).
    #[test]
    fn the_bridge_plays_the_kept_separation_delay_frames_late() {
        let (rate, nb_frames) = (8000, 6000);
        let spec = EstimatorSpec {
            target: "vocals".into(),
            sample_rate: rate,
            stft: StftConfig::new(256, 64).unwrap(),
            context: 2,
            context_stride: 1,
            nb_bins_in: 40,
            nb_bins: 30,
        };
        let separator =
            Separator::new(vec![Box::new(Half(spec))], SeparateOptions::default()).unwrap();
        let channels: Vec<Vec<f32>> = (0..2)
            .map(|c| {
                (0..nb_frames)
                    .map(|i| ((i * (c + 3)) as f32 * 0.013).sin() * 0.5)
                    .collect()
            })
            .collect();
        let mix = AudioBuffer::new(rate, channels.clone()).unwrap();
        let offline = separator.separate(&mix).unwrap();
        let keep = Keep::parse("vocals=0.5,accompaniment=2", &["vocals"]).unwrap();
        let delay = separator.algorithmic_latency() + 128;
        let sizes = BridgeSizes {
            nb_in: 2,
            nb_out: 3,
            block: 64,
            delay,
            slack: 512,
        };
        let latency = separator.algorithmic_latency();
        let Bridge {
            mut input,
            mut output,
            mut worker,
            stats,
        } = Bridge::new(keep, sizes).unwrap();
        let played = std::thread::scope(|scope| {
            // The separator moves to the worker's thread: its models are not Sync.
            let worker = scope.spawn(move || {
                let mut processor = separator.hop_processor(rate, 2)?;
                worker.run(&mut processor)
            });
            let feeder = scope.spawn(|| {
                for i in (0..nb_frames).step_by(100) {
                    let end = (i + 100).min(nb_frames);
                    let block: Vec<f32> = (i..end)
                        .flat_map(|t| [channels[0][t], channels[1][t]])
                        .collect();
                    // A device pushes on its clock; here, wait until the ring has room.
                    while input.ring.vacant_len() < block.len() {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    input.push(&block);
                }
            });
            // Everything that can come out before the end of the input: nb_frames - latency.
            let want = delay + nb_frames - latency;
            let mut played = Vec::with_capacity(want * 3);
            let mut buf = vec![0.0f32; 48 * 3];
            while played.len() < want * 3 {
                if output.ring.occupied_len() >= buf.len() {
                    output.pop(&mut buf);
                    played.extend_from_slice(&buf);
                } else {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            feeder.join().unwrap();
            stats.stop.store(true, Ordering::Relaxed);
            worker.join().unwrap().unwrap();
            played
        });
        assert_eq!(stats.underruns.load(Ordering::Relaxed), 0);
        assert_eq!(stats.overrun_frames.load(Ordering::Relaxed), 0);
        assert!(stats.hops.len() > 50, "{} hops timed", stats.hops.len());
        let (target, residual) = (&offline.targets[0].1, &offline.residual);
        for (i, frame) in played.chunks_exact(3).enumerate() {
            for (c, y) in frame.iter().enumerate() {
                let expected = match i.checked_sub(delay) {
                    None => 0.0,
                    Some(t) => 0.5 * target.channels[c % 2][t] + 2.0 * residual.channels[c % 2][t],
                };
                assert!(
                    (y - expected).abs() < 1e-6,
                    "frame {i} channel {c}: {y} instead of {expected}"
                );
            }
        }
    }
}
