//! Short-time Fourier transform and its inverse with a periodic Hann window and centred frames
//! (zero padding of `n_fft / 2` on both sides), computed in f32 (the round trip stays within
//! 1e-5 relative error over the grid of the tests; the overlap-add sums are kept in f64).
//!
//! Both directions are streaming at heart ([`StftStream`], [`IstftStream`]): blocks of samples
//! in, frames out, and back, with memory bounded by `n_fft` and the block. The frames of one push
//! are transformed in parallel (rayon, blocks of frames); each frame's arithmetic does not depend
//! on how frames are grouped, so a streamed run gives exactly the same samples as a one-shot run
//! ([`Stft::forward`], [`Istft::inverse`]), whatever the block sizes.
//!
//! The inverse is split in two so that other back ends can feed it: [`Istft::synthesize`] turns
//! frames into windowed, scaled time frames (`n_fft` samples each, in parallel), and
//! [`IstftStream::push_windowed`] overlap-adds them in order and normalises.

use crate::error::{Error, Result};
use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use std::sync::Arc;

pub use realfft::num_complex::Complex32;

/// The largest accepted `n_fft` (about 0.7 s at 96 kHz); beyond it a config is taken for corrupt
/// rather than letting a window of billions of samples abort the process on allocation.
const MAX_N_FFT: usize = 1 << 16;

/// Frames per parallel task: enough to amortise a task's scratch buffers.
const FRAMES_PER_TASK: usize = 16;

/// A validated STFT configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StftConfig {
    n_fft: usize,
    hop: usize,
}

impl StftConfig {
    /// `n_fft`: window and FFT length, even, 4 ..= [`MAX_N_FFT`].
    /// `hop`: frame advance, 1 ..= `n_fft / 2` (beyond that the Hann windows no longer overlap
    /// enough for the inverse to reconstruct every sample).
    pub fn new(n_fft: usize, hop: usize) -> Result<Self> {
        if !(4..=MAX_N_FFT).contains(&n_fft) || !n_fft.is_multiple_of(2) {
            return Err(Error::Invalid(format!(
                "n_fft {n_fft}: expected an even number from 4 to {MAX_N_FFT}"
            )));
        }
        if hop == 0 || hop > n_fft / 2 {
            return Err(Error::Invalid(format!(
                "hop {hop}: expected 1 ..= n_fft / 2 = {}",
                n_fft / 2
            )));
        }
        Ok(StftConfig { n_fft, hop })
    }

    pub fn n_fft(&self) -> usize {
        self.n_fft
    }

    pub fn hop(&self) -> usize {
        self.hop
    }

    /// Frequency bins per frame: `n_fft / 2 + 1`.
    pub fn nb_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Frames of a signal of `nb_samples` samples: `ceil(nb_samples / hop) + 1`. Frame `t` is
    /// centred on sample `t * hop`, so the last centre lies at or beyond the last sample and every
    /// sample is covered by the well-conditioned part of some window (the inverse then divides
    /// by a window-square sum that is never tiny).
    pub fn nb_frames(&self, nb_samples: usize) -> usize {
        nb_samples.div_ceil(self.hop) + 1
    }

    /// Frames whose whole window lies within the first `nb_samples` samples (or the leading
    /// padding): what a stream can emit before it knows the end.
    pub fn nb_frames_complete(&self, nb_samples: usize) -> usize {
        if nb_samples < self.n_fft / 2 {
            0
        } else {
            (nb_samples - self.n_fft / 2) / self.hop + 1
        }
    }
}

/// The periodic Hann window of length `n`: `0.5 - 0.5 cos(2 pi i / n)` (computed in f64).
pub fn hann_window(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos())
        .collect()
}

/// A complex spectrogram of one channel, row-major `(nb_frames, nb_bins)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrogram {
    pub nb_bins: usize,
    pub data: Vec<Complex32>,
}

impl Spectrogram {
    pub fn nb_frames(&self) -> usize {
        self.data.len() / self.nb_bins.max(1)
    }

    /// Frame `t`: `(nb_bins,)`.
    pub fn frame(&self, t: usize) -> &[Complex32] {
        &self.data[t * self.nb_bins..(t + 1) * self.nb_bins]
    }
}

/// The forward transform: plans the FFT once; cheap to clone.
#[derive(Clone)]
pub struct Stft {
    config: StftConfig,
    window: Arc<Vec<f32>>,
    fft: Arc<dyn RealToComplex<f32>>,
}

impl Stft {
    pub fn new(config: StftConfig) -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(config.n_fft);
        Stft {
            config,
            window: Arc::new(
                hann_window(config.n_fft)
                    .into_iter()
                    .map(|w| w as f32)
                    .collect(),
            ),
            fft,
        }
    }

    pub fn config(&self) -> StftConfig {
        self.config
    }

    /// The spectrogram of `signal`: `(nb_frames, nb_bins)` with
    /// `nb_frames = ceil(signal.len() / hop) + 1`.
    pub fn forward(&self, signal: &[f32]) -> Spectrogram {
        let mut stream = StftStream::new(self.clone());
        let mut data =
            Vec::with_capacity(self.config.nb_frames(signal.len()) * self.config.nb_bins());
        stream.push(signal, &mut data);
        stream.finish(&mut data);
        Spectrogram {
            nb_bins: self.config.nb_bins(),
            data,
        }
    }

    /// Transforms consecutive frames in parallel: frame `i` is `samples[i * hop ..][..n_fft]`
    /// (window applied here); `out` holds `(nb_frames, nb_bins)` and sets the frame count.
    fn frames_into(&self, samples: &[f32], out: &mut [Complex32]) {
        let StftConfig { n_fft, hop } = self.config;
        let nb_bins = self.config.nb_bins();
        out.par_chunks_mut(nb_bins * FRAMES_PER_TASK)
            .enumerate()
            .for_each(|(task, chunk)| {
                let mut input = self.fft.make_input_vec();
                let mut scratch = self.fft.make_scratch_vec();
                for (j, spectrum) in chunk.chunks_exact_mut(nb_bins).enumerate() {
                    let offset = (task * FRAMES_PER_TASK + j) * hop;
                    for ((x, s), w) in input
                        .iter_mut()
                        .zip(&samples[offset..offset + n_fft])
                        .zip(self.window.iter())
                    {
                        *x = s * w;
                    }
                    self.fft
                        .process_with_scratch(&mut input, spectrum, &mut scratch)
                        .expect("buffer sizes come from the plan");
                }
            });
    }
}

/// Streaming forward transform of one channel: samples in, complete frames out.
pub struct StftStream {
    stft: Stft,
    /// Samples from absolute index `buffer_start` on (negative indices are the leading padding).
    buffer: Vec<f32>,
    buffer_start: i64,
    next_frame: usize,
    nb_samples: usize,
}

impl StftStream {
    pub fn new(stft: Stft) -> Self {
        let n_fft = stft.config.n_fft;
        StftStream {
            stft,
            buffer: vec![0.0; n_fft / 2],
            buffer_start: -((n_fft / 2) as i64),
            next_frame: 0,
            nb_samples: 0,
        }
    }

    /// Frames emitted so far.
    pub fn nb_frames_out(&self) -> usize {
        self.next_frame
    }

    /// Samples pushed so far.
    pub fn nb_samples(&self) -> usize {
        self.nb_samples
    }

    /// Feeds samples; appends every frame now complete to `out` (`nb_bins` values per frame).
    /// Returns the number of frames appended.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<Complex32>) -> usize {
        self.buffer.extend_from_slice(samples);
        self.nb_samples += samples.len();
        let ready = self.stft.config.nb_frames_complete(self.nb_samples);
        self.emit(ready, out)
    }

    /// Pads the end with zeros and appends the remaining frames, up to [`StftConfig::nb_frames`].
    pub fn finish(&mut self, out: &mut Vec<Complex32>) -> usize {
        let total = self.stft.config.nb_frames(self.nb_samples);
        let StftConfig { n_fft, hop } = self.stft.config;
        if total > self.next_frame {
            let needed_end = ((total - 1) * hop + n_fft / 2) as i64;
            let have_end = self.buffer_start + self.buffer.len() as i64;
            if have_end < needed_end {
                self.buffer
                    .resize(self.buffer.len() + (needed_end - have_end) as usize, 0.0);
            }
        }
        self.emit(total, out)
    }

    /// Emits frames `next_frame .. end` (all of whose samples are in the buffer).
    fn emit(&mut self, end: usize, out: &mut Vec<Complex32>) -> usize {
        if end <= self.next_frame {
            return 0;
        }
        let StftConfig { n_fft, hop } = self.stft.config;
        let nb_bins = self.stft.config.nb_bins();
        let count = end - self.next_frame;
        let start = (self.next_frame * hop) as i64 - (n_fft / 2) as i64;
        let offset = (start - self.buffer_start) as usize;
        let old = out.len();
        out.resize(old + count * nb_bins, Complex32::default());
        self.stft
            .frames_into(&self.buffer[offset..], &mut out[old..]);
        self.next_frame = end;
        // Keep only what later frames still need; compact once the dead prefix is large, so
        // many small pushes do not move the buffer once each.
        let next_start = (self.next_frame * hop) as i64 - (n_fft / 2) as i64;
        let drop = (next_start - self.buffer_start).max(0) as usize;
        if drop >= n_fft.max(self.buffer.len() / 2) {
            self.buffer.drain(..drop.min(self.buffer.len()));
            self.buffer_start += drop as i64;
        }
        count
    }
}

/// The inverse transform: plans the inverse FFT once; cheap to clone.
#[derive(Clone)]
pub struct Istft {
    config: StftConfig,
    window: Arc<Vec<f32>>,
    /// The window squared, in f64, for the normalisation.
    window_square: Arc<Vec<f64>>,
    /// Per `(n + n_fft / 2) % hop`: the window-square sum of a sample that every covering frame
    /// reaches, summed in the order of [`Istft::window_square_sum`] (so bit-identical).
    interior: Arc<Vec<f64>>,
    ifft: Arc<dyn ComplexToReal<f32>>,
}

impl Istft {
    pub fn new(config: StftConfig) -> Self {
        let ifft = RealFftPlanner::<f32>::new().plan_fft_inverse(config.n_fft);
        let window = hann_window(config.n_fft);
        let window_square: Vec<f64> = window.iter().map(|w| (*w as f32 as f64).powi(2)).collect();
        let (n_fft, hop) = (config.n_fft, config.hop);
        let interior = (0..hop)
            .map(|r| {
                (r..n_fft)
                    .step_by(hop)
                    .rev()
                    .map(|j| window_square[j])
                    .sum()
            })
            .collect();
        Istft {
            config,
            window: Arc::new(window.iter().map(|w| *w as f32).collect()),
            window_square: Arc::new(window_square),
            interior: Arc::new(interior),
            ifft,
        }
    }

    pub fn config(&self) -> StftConfig {
        self.config
    }

    /// The signal of exactly `length` samples whose spectrogram is `spec`
    /// (`(nb_frames, nb_bins)`; windowed overlap-add, normalised by the window-square sum).
    /// `spec` must hold [`StftConfig::nb_frames`]`(length)` frames.
    pub fn inverse(&self, spec: &Spectrogram, length: usize) -> Result<Vec<f32>> {
        let expected = self.config.nb_frames(length);
        if spec.nb_frames() != expected {
            return Err(Error::mismatch(
                format!("ISTFT frames for {length} samples"),
                expected,
                spec.nb_frames(),
            ));
        }
        let mut stream = IstftStream::new(self.clone());
        let mut out = Vec::with_capacity(length);
        stream.push(&spec.data, &mut out)?;
        stream.finish(length, &mut out)?;
        Ok(out)
    }

    /// Windowed, scaled time frames of `frames` (`(n, nb_bins)`) into `out` (`(n, n_fft)`), in
    /// parallel: what [`IstftStream::push_windowed`] overlap-adds.
    pub fn synthesize(&self, frames: &[Complex32], out: &mut [f32]) {
        let (n_fft, nb_bins) = (self.config.n_fft, self.config.nb_bins());
        out.par_chunks_mut(n_fft * FRAMES_PER_TASK)
            .zip(frames.par_chunks(nb_bins * FRAMES_PER_TASK))
            .for_each(|(out, frames)| {
                let mut spectrum = self.ifft.make_input_vec();
                let mut scratch = self.ifft.make_scratch_vec();
                for (o, f) in out
                    .chunks_exact_mut(n_fft)
                    .zip(frames.chunks_exact(nb_bins))
                {
                    spectrum.copy_from_slice(f);
                    self.synthesize_frame(&mut spectrum, o, &mut scratch);
                }
            });
    }

    /// One frame: `spectrum` (`nb_bins`, overwritten) -> `out` (`n_fft` windowed samples).
    /// `scratch` comes from [`Istft::make_scratch`].
    pub fn synthesize_frame(
        &self,
        spectrum: &mut [Complex32],
        out: &mut [f32],
        scratch: &mut [Complex32],
    ) {
        let n = spectrum.len();
        // A real signal's DC and Nyquist bins are real; drop rounding residue.
        spectrum[0].im = 0.0;
        spectrum[n - 1].im = 0.0;
        self.ifft
            .process_with_scratch(spectrum, out, scratch)
            .expect("buffer sizes come from the plan");
        let scale = 1.0 / self.config.n_fft as f32;
        for (y, w) in out.iter_mut().zip(self.window.iter()) {
            *y *= scale * w;
        }
    }

    /// Scratch space for [`Istft::synthesize_frame`].
    pub fn make_scratch(&self) -> Vec<Complex32> {
        self.ifft.make_scratch_vec()
    }

    /// Per `(n + n_fft / 2) % hop`: the window-square sum of an interior sample `n` (one that
    /// every covering frame reaches), as [`Istft::window_square_sum`] gives it: `(hop,)`.
    pub fn interior_sums(&self) -> &[f64] {
        &self.interior
    }

    /// The first sample at or after which [`Istft::window_square_sum`] is no longer the
    /// periodic interior sum for a signal of `nb_frames` frames: frame `nb_frames` would reach
    /// it. Samples before `n_fft / 2 - 1` are the other edge.
    pub fn interior_end(&self, nb_frames: usize) -> usize {
        (nb_frames * self.config.hop).saturating_sub(self.config.n_fft / 2)
    }

    /// Sum over the frames `< nb_frames` covering sample `n` of the squared window value there.
    ///
    /// The overlap-add's normalisation: a streamed inverse divides sample `n` by this sum over
    /// the frames pushed so far, which equals the sum over all frames once no later frame
    /// reaches `n`.
    pub fn window_square_sum(&self, n: usize, nb_frames: usize) -> f64 {
        let StftConfig { n_fft, hop } = self.config;
        // Frame t covers [t*hop - n_fft/2, t*hop + n_fft/2).
        let shifted = n + n_fft / 2;
        if shifted + 1 >= n_fft && shifted / hop < nb_frames {
            // Every covering frame exists: the periodic sum (the same terms in the same order).
            return self.interior[shifted % hop];
        }
        let first = (shifted + 1).saturating_sub(n_fft).div_ceil(hop);
        let last = (shifted / hop).min(nb_frames.saturating_sub(1));
        (first..=last)
            .map(|t| self.window_square[shifted - t * hop])
            .sum()
    }
}

/// Streaming inverse transform of one channel: frames in, finished samples out. The length is
/// only needed at the end ([`IstftStream::finish`]), so a decoder that learns its length late
/// (MP3 without a header) still streams.
pub struct IstftStream {
    istft: Istft,
    /// Overlap-add sums for absolute samples from `acc_start` on.
    acc: Vec<f64>,
    acc_start: i64,
    next_frame: usize,
    emitted: usize,
    windowed: Vec<f32>,
}

impl IstftStream {
    pub fn new(istft: Istft) -> Self {
        let n_fft = istft.config.n_fft;
        IstftStream {
            istft,
            acc: Vec::new(),
            acc_start: -((n_fft / 2) as i64),
            next_frame: 0,
            emitted: 0,
            windowed: Vec::new(),
        }
    }

    /// One stream per target and channel, `[target][channel]`, as the separators keep them.
    pub fn grid(istft: &Istft, nb_targets: usize, nb_channels: usize) -> Vec<Vec<IstftStream>> {
        (0..nb_targets)
            .map(|_| {
                (0..nb_channels)
                    .map(|_| IstftStream::new(istft.clone()))
                    .collect()
            })
            .collect()
    }

    /// Adds frames (`nb_bins` values each) and appends the samples now final to `out`.
    /// Returns the number of samples appended.
    pub fn push(&mut self, frames: &[Complex32], out: &mut Vec<f32>) -> Result<usize> {
        let (n_fft, nb_bins) = (self.istft.config.n_fft, self.istft.config.nb_bins());
        if !frames.len().is_multiple_of(nb_bins) {
            return Err(Error::mismatch(
                "ISTFT input length (a multiple of nb_bins)",
                nb_bins,
                frames.len(),
            ));
        }
        let mut windowed = std::mem::take(&mut self.windowed);
        windowed.resize(frames.len() / nb_bins * n_fft, 0.0);
        self.istft.synthesize(frames, &mut windowed);
        let result = self.push_windowed(windowed.chunks_exact(n_fft), out);
        self.windowed = windowed;
        result
    }

    /// Overlap-adds windowed time frames (from [`Istft::synthesize`] or another back end that
    /// computes the same thing: `n_fft` samples each, in order) and appends the samples now final
    /// to `out`. Returns the number of samples appended.
    pub fn push_windowed<'f>(
        &mut self,
        frames: impl IntoIterator<Item = &'f [f32]>,
        out: &mut Vec<f32>,
    ) -> Result<usize> {
        let StftConfig { n_fft, hop } = self.istft.config;
        for frame in frames {
            if frame.len() != n_fft {
                return Err(Error::mismatch("windowed frame length", n_fft, frame.len()));
            }
            let start = (self.next_frame * hop) as i64 - (n_fft / 2) as i64;
            let offset = (start - self.acc_start) as usize;
            if self.acc.len() < offset + n_fft {
                self.acc.resize(offset + n_fft, 0.0);
            }
            for (a, y) in self.acc[offset..offset + n_fft].iter_mut().zip(frame) {
                *a += *y as f64;
            }
            self.next_frame += 1;
        }
        // Samples before the next frame's start get no more contributions; samples before
        // (frames - 2) * hop exist in any signal that has this many frames (see nb_frames).
        let t = self.next_frame as i64;
        let ready = (t * hop as i64 - (n_fft / 2) as i64).min((t - 2) * hop as i64);
        Ok(self.emit_until(ready.max(0) as usize, None, out))
    }

    /// Appends the remaining samples up to exactly `length` in all; the frames pushed must be
    /// [`StftConfig::nb_frames`]`(length)`.
    pub fn finish(&mut self, length: usize, out: &mut Vec<f32>) -> Result<usize> {
        let expected = self.istft.config.nb_frames(length);
        if self.next_frame != expected {
            return Err(Error::mismatch(
                format!("ISTFT frames for {length} samples"),
                expected,
                self.next_frame,
            ));
        }
        Ok(self.emit_until(length, Some(expected), out))
    }

    /// Emits samples up to `end` (exclusive). `nb_frames` is the total frame count once known;
    /// before that, only samples whose covering frames have all been pushed are emitted.
    fn emit_until(&mut self, end: usize, nb_frames: Option<usize>, out: &mut Vec<f32>) -> usize {
        let begin = self.emitted;
        let nb_frames = nb_frames.unwrap_or(self.next_frame);
        let StftConfig { n_fft, hop } = self.istft.config;
        out.reserve(end.saturating_sub(begin));
        // Samples that every covering frame reaches take the periodic sum, stepped through in
        // order here instead of a division by `hop` per sample; the edges ask for theirs.
        let interior = (n_fft / 2).saturating_sub(1)..self.istft.interior_end(nb_frames);
        let mut n = begin;
        while n < end {
            let i = (n as i64 - self.acc_start) as usize;
            if interior.contains(&n) {
                let stop = end.min(interior.end);
                let sums = self.istft.interior_sums();
                let mut phase = (n + n_fft / 2) % hop;
                out.extend(self.acc[i..i + (stop - n)].iter().map(|&a| {
                    let sum = sums[phase];
                    phase = if phase + 1 == hop { 0 } else { phase + 1 };
                    normalised(a, sum)
                }));
                n = stop;
            } else {
                out.push(normalised(
                    self.acc[i],
                    self.istft.window_square_sum(n, nb_frames),
                ));
                n += 1;
            }
        }
        self.emitted = end.max(begin);
        // Drop the accumulated samples that are out, but none that the next frame adds to: in
        // the zero padding before sample 0, it starts before the first sample emitted.
        let next_start = (self.next_frame * hop) as i64 - (n_fft / 2) as i64;
        let keep_from = (self.emitted as i64).min(next_start);
        let drop = (keep_from - self.acc_start).max(0) as usize;
        let drop = drop.min(self.acc.len());
        self.acc.drain(..drop);
        self.acc_start += drop as i64;
        end.saturating_sub(begin)
    }
}

/// An overlap-added sample divided by its window-square sum; zero where no window reaches.
fn normalised(acc: f64, window_square_sum: f64) -> f32 {
    let y = if window_square_sum > 1e-10 {
        acc / window_square_sum
    } else {
        0.0
    };
    y as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic test signal: a few sines plus a chirp, with no DC.
    fn signal(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f32 / 44100.0;
                0.5 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()
                    + 0.25 * (2.0 * std::f32::consts::PI * 3000.0 * t * (1.0 + t)).sin()
                    + 0.1 * ((i * 7919 % 1000) as f32 / 500.0 - 1.0)
            })
            .collect()
    }

    fn relative_error(a: &[f32], b: &[f32]) -> f64 {
        let num: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
        let den: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
        (num / den.max(1e-30)).sqrt()
    }

    #[test]
    fn rejects_bad_configs() {
        assert!(StftConfig::new(1024, 0).is_err());
        assert!(StftConfig::new(1024, 513).is_err());
        assert!(StftConfig::new(1023, 256).is_err());
        assert!(StftConfig::new(2, 1).is_err());
        assert!(StftConfig::new(1 << 40, 256).is_err());
        assert!(StftConfig::new(1024, 512).is_ok());
    }

    #[test]
    fn round_trip_over_grid() {
        for n_fft in [256, 1024, 2048, 4096] {
            for hop in [n_fft / 2, n_fft / 4] {
                let config = StftConfig::new(n_fft, hop).unwrap();
                let (stft, istft) = (Stft::new(config), Istft::new(config));
                for len in [1, 17, n_fft / 2 - 1, n_fft - 1, 3 * n_fft + 7, 20_011] {
                    let x = signal(len);
                    let spec = stft.forward(&x);
                    assert_eq!(
                        spec.nb_frames(),
                        len.div_ceil(hop) + 1,
                        "n_fft {n_fft} hop {hop} len {len}"
                    );
                    let y = istft.inverse(&spec, len).unwrap();
                    assert_eq!(y.len(), len);
                    let err = relative_error(&y, &x);
                    assert!(
                        err < 1e-5,
                        "n_fft {n_fft} hop {hop} len {len}: relative error {err}"
                    );
                }
            }
        }
    }

    #[test]
    fn fft_matches_naive_dft() {
        let config = StftConfig::new(64, 16).unwrap();
        let x = signal(300);
        let spec = Stft::new(config).forward(&x);
        let w = hann_window(64);
        for t in [0, 3, 10, spec.nb_frames() - 1] {
            for k in 0..config.nb_bins() {
                let (mut re, mut im) = (0.0f64, 0.0f64);
                for (m, wm) in w.iter().enumerate() {
                    let i = (t * 16 + m) as i64 - 32;
                    let s = if i >= 0 && (i as usize) < x.len() {
                        x[i as usize] as f64
                    } else {
                        0.0
                    };
                    let phase = -2.0 * std::f64::consts::PI * (k * m) as f64 / 64.0;
                    re += s * wm * phase.cos();
                    im += s * wm * phase.sin();
                }
                let got = spec.frame(t)[k];
                let err = ((got.re as f64 - re).powi(2) + (got.im as f64 - im).powi(2)).sqrt();
                assert!(err < 1e-5, "frame {t} bin {k}: error {err}");
            }
        }
    }

    #[test]
    fn streaming_equals_one_shot() {
        // (256, 32): the first frames reach further back than one push of frames covers.
        for (n_fft, hop) in [(1024, 256), (2048, 1024), (256, 64), (256, 32)] {
            let config = StftConfig::new(n_fft, hop).unwrap();
            let (stft, istft) = (Stft::new(config), Istft::new(config));
            let len = 12_345;
            let x = signal(len);
            let spec = stft.forward(&x);
            let whole = istft.inverse(&spec, len).unwrap();
            for block in [1, 100, 1000, 5000] {
                let mut stream = StftStream::new(stft.clone());
                let mut frames = Vec::new();
                for part in x.chunks(block) {
                    stream.push(part, &mut frames);
                }
                stream.finish(&mut frames);
                assert_eq!(
                    frames, spec.data,
                    "n_fft {n_fft} hop {hop} block {block}: STFT"
                );
                let mut inverse = IstftStream::new(istft.clone());
                let mut y = Vec::new();
                // 1, 2, 6 and 2 frames per push.
                for part in frames.chunks(config.nb_bins() * (block % 7)) {
                    inverse.push(part, &mut y).unwrap();
                    assert!(
                        y.len() <= len,
                        "n_fft {n_fft} hop {hop}: emitted past the end"
                    );
                }
                inverse.finish(len, &mut y).unwrap();
                assert_eq!(y, whole, "n_fft {n_fft} hop {hop} block {block}: ISTFT");
            }
        }
    }

    /// The stream's output, pushed a frame at a time and all at once, against the definition
    /// sample by sample: the overlap-add of the windowed frames divided by
    /// [`Istft::window_square_sum`] over every frame, bit for bit.
    #[test]
    fn emitted_samples_are_the_overlap_add_over_the_window_square_sum() {
        for (n_fft, hop) in [(64, 16), (64, 24), (256, 100), (2048, 512)] {
            let config = StftConfig::new(n_fft, hop).unwrap();
            let (stft, istft) = (Stft::new(config), Istft::new(config));
            let len = 5_000;
            let spec = stft.forward(&signal(len));
            let nb_frames = spec.nb_frames();
            let mut windowed = vec![0.0; nb_frames * n_fft];
            istft.synthesize(&spec.data, &mut windowed);
            let mut acc = vec![0.0f64; nb_frames * hop + n_fft];
            for (t, frame) in windowed.chunks_exact(n_fft).enumerate() {
                // Frame t starts at t * hop - n_fft / 2; acc[0] is sample -n_fft / 2.
                for (a, y) in acc[t * hop..t * hop + n_fft].iter_mut().zip(frame) {
                    *a += *y as f64;
                }
            }
            let expected: Vec<f32> = (0..len)
                .map(|n| normalised(acc[n + n_fft / 2], istft.window_square_sum(n, nb_frames)))
                .collect();
            assert_eq!(
                istft.inverse(&spec, len).unwrap(),
                expected,
                "n_fft {n_fft} hop {hop}"
            );
            let mut stream = IstftStream::new(istft.clone());
            let mut y = Vec::new();
            for frame in spec.data.chunks(config.nb_bins()) {
                stream.push(frame, &mut y).unwrap();
            }
            stream.finish(len, &mut y).unwrap();
            assert_eq!(y, expected, "n_fft {n_fft} hop {hop}, one frame per push");
        }
    }

    #[test]
    fn periodic_normalisation_equals_the_sum() {
        for (n_fft, hop) in [(64, 16), (64, 24), (256, 100), (4096, 1024)] {
            let config = StftConfig::new(n_fft, hop).unwrap();
            let istft = Istft::new(config);
            let nb_frames = 40;
            for n in 0..(nb_frames * hop) {
                let shifted = n + n_fft / 2;
                let first = (shifted + 1).saturating_sub(n_fft).div_ceil(hop);
                let last = (shifted / hop).min(nb_frames - 1);
                let direct: f64 = (first..=last)
                    .map(|t| istft.window_square[shifted - t * hop])
                    .sum();
                let interior = n + 1 + n_fft / 2 >= n_fft && n < istft.interior_end(nb_frames);
                if interior {
                    let periodic = istft.interior_sums()[(n + n_fft / 2) % hop];
                    assert_eq!(periodic.to_bits(), direct.to_bits(), "sample {n}");
                }
                assert_eq!(
                    istft.window_square_sum(n, nb_frames).to_bits(),
                    direct.to_bits(),
                    "n_fft {n_fft} hop {hop} sample {n}"
                );
            }
        }
    }

    #[test]
    fn istft_refuses_wrong_frame_count() {
        let config = StftConfig::new(256, 64).unwrap();
        let spec = Stft::new(config).forward(&signal(1000));
        assert!(Istft::new(config).inverse(&spec, 2000).is_err());
        assert!(Istft::new(config).inverse(&spec, 500).is_err());
    }
}
