//! The end of both paths: each target's overlap-add and resampling back to the input's rate, the
//! input kept for the residual, and blocks handed out that every target has ready, never past
//! the input's length.
//!
//! The batched synthesis stage and the low-latency [`super::HopProcessor`] both end here, so a
//! file comes out the same, sample for sample, whichever path made it.

use super::pipeline::{Encoded, ModelFacts};
use super::stages::{timed, StageTimes};
use crate::audio::StreamResampler;
use crate::error::Result;
use crate::stft::{Istft, IstftStream};
use std::collections::VecDeque;
use std::time::Instant;

/// Output samples on their way out, for `nb_targets` targets of `nb_channels` channels.
pub(crate) struct OutputQueue {
    nb_channels: usize,
    /// `[target][channel]`: the inverse STFTs' overlap-add (unused when the tensor path
    /// overlap-adds on its device).
    pub istfts: Vec<Vec<IstftStream>>,
    /// Per target, model rate -> the input's rate.
    resample_out: Vec<StreamResampler>,
    /// `[target][channel]`: output at the input's rate not yet handed out.
    pending_out: Vec<Vec<VecDeque<f32>>>,
    /// Per channel: input not yet paired with output (for the residual), when one is wanted.
    pending_mix: Option<Vec<VecDeque<f32>>>,
    frames_in: u64,
    frames_out: u64,
}

impl OutputQueue {
    /// Output at `rate` Hz for the targets of `facts`; `residual`: whether the mix is kept to
    /// give it.
    pub fn new(
        facts: &ModelFacts,
        istft: &Istft,
        rate: u32,
        nb_channels: usize,
        residual: bool,
    ) -> Result<Self> {
        let nb_targets = facts.nb_bins_out.len();
        Ok(OutputQueue {
            nb_channels,
            istfts: IstftStream::grid(istft, nb_targets, nb_channels),
            resample_out: (0..nb_targets)
                .map(|_| StreamResampler::new(facts.sample_rate, rate, nb_channels))
                .collect::<Result<_>>()?,
            pending_out: vec![vec![VecDeque::new(); nb_channels]; nb_targets],
            pending_mix: residual.then(|| vec![VecDeque::new(); nb_channels]),
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// Input frames `(nb_channels, n)` as read: they count towards the output's length and
    /// wait for their targets to give the residual.
    pub fn push_mix(&mut self, raw: &[Vec<f32>]) {
        self.frames_in += raw.first().map_or(0, Vec::len) as u64;
        if let Some(mix) = &mut self.pending_mix {
            for (q, ch) in mix.iter_mut().zip(raw) {
                q.extend(ch);
            }
        }
    }

    /// Resamples target `j`'s model-rate samples `(nb_channels, n)` back and queues them.
    pub fn push(&mut self, j: usize, samples: &[Vec<f32>], times: &mut StageTimes) -> Result<()> {
        let back = timed(&mut times.resample, || self.resample_out[j].push(samples))?;
        for (q, ch) in self.pending_out[j].iter_mut().zip(back) {
            q.extend(ch);
        }
        Ok(())
    }

    /// Once all `nb_samples` model-rate samples are known: the inverse STFTs' last samples
    /// (unless `overlap_added_elsewhere`: the tensor path sent its tail as its last batch) and
    /// the resamplers' last samples.
    pub fn finish(
        &mut self,
        nb_samples: usize,
        overlap_added_elsewhere: bool,
        times: &mut StageTimes,
    ) -> Result<()> {
        for j in 0..self.istfts.len() {
            let clock = Instant::now();
            let tails = self.istfts[j]
                .iter_mut()
                .map(|istft| {
                    let mut out = Vec::new();
                    if !overlap_added_elsewhere {
                        istft.finish(nb_samples, &mut out)?;
                    }
                    Ok(out)
                })
                .collect::<Result<Vec<_>>>()?;
            times.istft += clock.elapsed();
            self.push(j, &tails, times)?;
            let rest = timed(&mut times.resample, || self.resample_out[j].finish())?;
            for (q, ch) in self.pending_out[j].iter_mut().zip(rest) {
                q.extend(ch);
            }
        }
        Ok(())
    }

    /// What every target has ready, never past the input's length; at the `last` call,
    /// exactly up to the input's length (padded with zeros if a resampler came up short).
    /// May be empty.
    pub fn take(&mut self, last: bool) -> Encoded {
        let n = nb_to_take(&self.pending_out, self.frames_in - self.frames_out, last);
        let (targets, sum) = drain_targets(&mut self.pending_out, n, self.nb_channels);
        let residual = self.pending_mix.as_mut().map(|mix| {
            mix.iter_mut()
                .zip(sum)
                .map(|(q, s)| q.drain(..n).zip(s).map(|(x, y)| x - y).collect())
                .collect()
        });
        self.frames_out += n as u64;
        Encoded { targets, residual }
    }
}

/// How many samples to take from `pending[target][channel]`: what every target has ready, never
/// past the input's `room` samples not yet given out; at the `last` call, all of `room` (a
/// resampler that came up short is padded by [`drain_targets`]).
fn nb_to_take(pending: &[Vec<VecDeque<f32>>], room: u64, last: bool) -> usize {
    let ready = pending.iter().map(|t| t[0].len()).min().unwrap_or(0) as u64;
    (if last { room } else { ready.min(room) }) as usize
}

/// Takes the first `n` samples of every target's channel queues (`pending[target][channel]`),
/// zero-padded where a queue holds fewer: `(targets [target][channel][n], their sum
/// [channel][n])`, the sum being what the residual subtracts from the mix.
fn drain_targets(
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
