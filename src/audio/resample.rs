//! Band-limited resampling with rubato's synchronous FFT resampler, wrapped so that it streams
//! block by block, compensates the resampler's delay, and returns exactly
//! `round(nb_frames * to / from)` frames in total.

use super::AudioBuffer;
use crate::error::{Error, Result};
use rubato::{FftFixedInOut, Resampler};

/// A streaming resampler from `from` Hz to `to` Hz over `nb_channels` channels.
pub struct StreamResampler {
    /// `None` when the rates are equal: samples pass through untouched.
    inner: Option<FftFixedInOut<f32>>,
    from: u32,
    to: u32,
    /// Input not yet handed to rubato, shape `(nb_channels, < chunk)`.
    pending: Vec<Vec<f32>>,
    /// Output frames still to drop at the start (the resampler's delay).
    to_skip: usize,
    frames_in: u64,
    frames_out: u64,
}

impl StreamResampler {
    /// A resampler between two rates in Hz (both > 0) for `nb_channels` >= 1 channels.
    pub fn new(from: u32, to: u32, nb_channels: usize) -> Result<Self> {
        if from == 0 || to == 0 || nb_channels == 0 {
            return Err(Error::Invalid(format!(
                "resampling {from} Hz -> {to} Hz over {nb_channels} channels: rates and channels must be > 0"
            )));
        }
        let inner = if from == to {
            None
        } else {
            // rubato's delay is half its output chunk; an even number of FFT sub-chunks makes that
            // a whole number of samples, so compensation leaves no half-sample shift.
            let min_chunk_in = (from / gcd(from, to)) as usize;
            let sub_chunks = 1024usize.div_ceil(min_chunk_in).next_multiple_of(2);
            Some(
                FftFixedInOut::new(
                    from as usize,
                    to as usize,
                    sub_chunks * min_chunk_in,
                    nb_channels,
                )
                .map_err(|e| Error::Invalid(format!("resampling {from} -> {to} Hz: {e}")))?,
            )
        };
        let to_skip = inner.as_ref().map_or(0, |r| r.output_delay());
        Ok(StreamResampler {
            inner,
            from,
            to,
            pending: vec![Vec::new(); nb_channels],
            to_skip,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// The longest a sample waits in the resampler, in input frames, from its push until the
    /// output it makes is returned: a chunk of input must fill before rubato runs, and rubato's
    /// own delay (compensated in the samples, so they stay aligned) is real time in a stream.
    /// 0 when the rates are equal.
    pub fn latency(&self) -> usize {
        self.inner.as_ref().map_or(0, |inner| {
            let delay = inner.output_delay() as u64 * self.from as u64;
            inner.input_frames_max() - 1 + delay.div_ceil(self.to as u64) as usize
        })
    }

    /// Output frames for `nb_frames` input frames.
    fn output_len(&self, nb_frames: u64) -> u64 {
        (nb_frames * self.to as u64 + self.from as u64 / 2) / self.from as u64
    }

    /// Feeds a block of shape `(nb_channels, n)`; returns the output that is ready.
    pub fn push(&mut self, block: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        self.frames_in += block.first().map_or(0, Vec::len) as u64;
        let Some(inner) = &mut self.inner else {
            self.frames_out += block.first().map_or(0, Vec::len) as u64;
            return Ok(block.to_vec());
        };
        for (p, b) in self.pending.iter_mut().zip(block) {
            p.extend_from_slice(b);
        }
        let mut out = vec![Vec::new(); self.pending.len()];
        let chunk = inner.input_frames_next();
        let mut start = 0;
        while self.pending[0].len() - start >= chunk {
            let slices: Vec<&[f32]> = self
                .pending
                .iter()
                .map(|p| &p[start..start + chunk])
                .collect();
            let part = inner
                .process(&slices, None)
                .map_err(|e| Error::Invalid(format!("resampling: {e}")))?;
            Self::append(&mut out, part, &mut self.to_skip);
            start += chunk;
        }
        for p in &mut self.pending {
            p.drain(..start);
        }
        self.frames_out += out[0].len() as u64;
        Ok(out)
    }

    /// Flushes the tail; afterwards the total output is exactly [`Self::output_len`] of the input.
    /// The stream is then complete: a later `finish` returns nothing more.
    pub fn finish(&mut self) -> Result<Vec<Vec<f32>>> {
        let total = self.output_len(self.frames_in);
        let nb_channels = self.pending.len();
        let mut out = vec![Vec::new(); nb_channels];
        if self.frames_out >= total {
            return Ok(out);
        }
        if let Some(inner) = &mut self.inner {
            let mut pending = std::mem::take(&mut self.pending);
            while self.frames_out + (out[0].len() as u64) < total {
                // rubato pads a partial chunk with zeros; `None` is a chunk of zeros.
                let input = (!pending[0].is_empty()).then_some(pending.as_slice());
                let part = inner
                    .process_partial(input, None)
                    .map_err(|e| Error::Invalid(format!("resampling: {e}")))?;
                Self::append(&mut out, part, &mut self.to_skip);
                pending = vec![Vec::new(); nb_channels];
            }
            let keep = total.saturating_sub(self.frames_out) as usize;
            for ch in &mut out {
                ch.truncate(keep);
            }
            self.frames_out += keep as u64;
        }
        Ok(out)
    }

    fn append(out: &mut [Vec<f32>], part: Vec<Vec<f32>>, to_skip: &mut usize) {
        let skip = (*to_skip).min(part[0].len());
        *to_skip -= skip;
        for (o, p) in out.iter_mut().zip(part) {
            o.extend_from_slice(&p[skip..]);
        }
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Resamples a whole buffer to `to` Hz (a copy when the rate is already `to`).
pub fn resample(audio: &AudioBuffer, to: u32) -> Result<AudioBuffer> {
    let mut r = StreamResampler::new(audio.sample_rate, to, audio.nb_channels())?;
    let mut channels = r.push(&audio.channels)?;
    for (c, tail) in channels.iter_mut().zip(r.finish()?) {
        c.extend(tail);
    }
    AudioBuffer::new(to, channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    /// The first push after which the output holds frame `at` of the input (an impulse there).
    fn pushes_until_out(from: u32, to: u32, at: usize) -> usize {
        let mut r = StreamResampler::new(from, to, 1).unwrap();
        let target = (at as u64 * to as u64 / from as u64) as usize;
        let mut out = 0;
        for pushed in 0.. {
            let x = if pushed == at { 1.0 } else { 0.0 };
            out += r.push(&[vec![x]]).unwrap()[0].len();
            if out > target + 1 {
                return pushed;
            }
        }
        unreachable!()
    }

    #[test]
    fn latency_is_the_longest_wait_of_a_sample() {
        assert_eq!(StreamResampler::new(48000, 48000, 2).unwrap().latency(), 0);
        for (from, to) in [(48000u32, 44100u32), (44100, 48000), (22050, 44100)] {
            let latency = StreamResampler::new(from, to, 1).unwrap().latency();
            let waits: Vec<usize> = (0..1500)
                .step_by(37)
                .map(|at| pushes_until_out(from, to, at) - at)
                .collect();
            let longest = *waits.iter().max().unwrap();
            // The output two frames past the impulse's position: within 3 frames of the bound.
            assert!(
                longest <= latency + 3,
                "{from}->{to}: waited {longest} > {latency}"
            );
            assert!(
                longest + 40 >= latency,
                "{from}->{to}: bound {latency}, longest wait {longest}"
            );
        }
    }

    #[test]
    fn length_and_content_are_kept() {
        for (from, to, n) in [
            (44100, 22050, 44100),
            (22050, 44100, 12345),
            (48000, 44100, 9999),
        ] {
            let audio = AudioBuffer::new(from, vec![sine(from, 440.0, n); 2]).unwrap();
            let out = resample(&audio, to).unwrap();
            let expected = ((n as u64 * to as u64 + from as u64 / 2) / from as u64) as usize;
            assert_eq!(out.nb_frames(), expected, "{from} -> {to}, {n} frames");
            // Away from the edges the output is the same sine at the new rate (delay compensated).
            let reference = sine(to, 440.0, expected);
            let (a, b) = (expected / 4, 3 * expected / 4);
            let err = out.channels[1][a..b]
                .iter()
                .zip(&reference[a..b])
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(err < 1e-3, "{from} -> {to}: max error {err}");
        }
    }

    #[test]
    fn streaming_equals_whole() {
        let n = 30_000;
        let audio = AudioBuffer::new(44100, vec![sine(44100, 1000.0, n)]).unwrap();
        let whole = resample(&audio, 32000).unwrap();
        let mut r = StreamResampler::new(44100, 32000, 1).unwrap();
        let mut out = Vec::new();
        for block in audio.channels[0].chunks(777) {
            out.extend(r.push(&[block.to_vec()]).unwrap().remove(0));
        }
        out.extend(r.finish().unwrap().remove(0));
        assert_eq!(out, whole.channels[0]);
    }
}
