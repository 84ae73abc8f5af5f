//! The inverse STFT's overlap-add and window normalisation as LibTorch operations, so that on the
//! tensor path (CUDA) only finished samples come back to the host instead of the windowed frames
//! (`n_fft / hop` times as many values) and no CPU thread sums them.
//!
//! It computes what [`crate::stft::IstftStream::push_windowed`] and `finish` compute, for many
//! signals that share their frame timing (every target and channel of a batch): the sums in f64
//! (exact for the few f32 terms that reach a sample, so the order in which the device adds them
//! does not matter), divided by [`Istft::window_square_sum`] in f64, then rounded to f32.
//! Given the same windowed frames it gives the CPU's samples bit for bit.

use crate::error::{Error, Result};
use crate::stft::Istft;
use tch::{Device, Kind, Tensor};

/// Streaming overlap-add of `rows` signals on one device: windowed frames in, finished samples
/// out.
pub(crate) struct TensorOverlapAdd {
    istft: Istft,
    rows: i64,
    device: Device,
    /// The periodic window-square sums [`Istft::interior_sums`], `(hop,)` f64 on the device.
    interior: Tensor,
    /// Overlap-add sums `(rows, m)` f64 for absolute samples `acc_start .. acc_start + m`.
    acc: Tensor,
    acc_start: i64,
    next_frame: usize,
    emitted: usize,
}

impl TensorOverlapAdd {
    pub fn new(istft: Istft, rows: usize, device: Device) -> Self {
        let interior = Tensor::from_slice(istft.interior_sums()).to_device(device);
        let acc_start = -((istft.config().n_fft() / 2) as i64);
        TensorOverlapAdd {
            istft,
            rows: rows as i64,
            device,
            interior,
            acc: Tensor::zeros([rows as i64, 0], (Kind::Double, device)),
            acc_start,
            next_frame: 0,
            emitted: 0,
        }
    }

    /// Adds the next windowed frames `(rows, count, n_fft)` (f32, in order, from
    /// [`super::tensor_ops::windowed_inverse`]) and returns the samples now final:
    /// `(rows, n)` f32 on the device, `n` possibly 0.
    pub fn push(&mut self, frames: &Tensor) -> Result<Tensor> {
        let (n_fft, hop) = (self.istft.config().n_fft(), self.istft.config().hop());
        let size = frames.size();
        if size.len() != 3 || size[0] != self.rows || size[2] != n_fft as i64 {
            return Err(Error::mismatch(
                "windowed frames on the device",
                format!("[{}, count, {n_fft}]", self.rows),
                format!("{size:?}"),
            ));
        }
        let count = size[1] as usize;
        if count > 0 {
            let span = ((count - 1) * hop + n_fft) as i64;
            // col2im (fold) with a 1 x n_fft kernel and a 1 x hop stride is the overlap-add:
            // input (rows, n_fft, count) -> (rows, 1, 1, span).
            let folded = frames
                .to_kind(Kind::Double)
                .transpose(1, 2)
                .col2im(
                    [1, span],
                    [1, n_fft as i64],
                    [1, 1],
                    [0, 0],
                    [1, hop as i64],
                )
                .view([self.rows, span]);
            let start = (self.next_frame * hop) as i64 - (n_fft / 2) as i64;
            let offset = start - self.acc_start;
            let old = self.acc.size()[1];
            let len = old.max(offset + span);
            let acc = folded.constant_pad_nd([offset, len - offset - span]);
            if old > 0 {
                // In place, into `acc`'s storage.
                let mut head = acc.narrow(1, 0, old);
                head += &self.acc;
            }
            self.acc = acc;
            self.next_frame += count;
        }
        // As IstftStream: samples before the next frame's start get no more contributions, and
        // samples before (frames - 2) * hop exist in any signal with this many frames.
        let t = self.next_frame as i64;
        let ready = (t * hop as i64 - (n_fft / 2) as i64).min((t - 2) * hop as i64);
        Ok(self.emit_until(ready.max(0) as usize, self.next_frame))
    }

    /// The remaining samples up to exactly `length` in all, `(rows, n)` f32 on the device; the
    /// frames pushed must be [`crate::stft::StftConfig::nb_frames`]`(length)`.
    pub fn finish(&mut self, length: usize) -> Result<Tensor> {
        let expected = self.istft.config().nb_frames(length);
        if self.next_frame != expected {
            return Err(Error::mismatch(
                format!("ISTFT frames for {length} samples"),
                expected,
                self.next_frame,
            ));
        }
        Ok(self.emit_until(length, expected))
    }

    /// Samples `emitted .. end` of a signal of `nb_frames` frames (so far), normalised; then
    /// drops the sums that no later frame adds to.
    fn emit_until(&mut self, end: usize, nb_frames: usize) -> Tensor {
        let begin = self.emitted;
        let n = end.saturating_sub(begin);
        let out = if n == 0 {
            Tensor::zeros([self.rows, 0], (Kind::Float, self.device))
        } else {
            let sums = self.acc.narrow(1, begin as i64 - self.acc_start, n as i64);
            let norm = self.normalisation(begin, end, nb_frames);
            let positive = norm.gt(1e-10);
            let safe = norm.where_self(&positive, &norm.ones_like());
            (sums / safe)
                .where_self(&positive, &norm.zeros_like())
                .to_kind(Kind::Float)
        };
        self.emitted = end.max(begin);
        let (n_fft, hop) = (self.istft.config().n_fft(), self.istft.config().hop());
        let next_start = (self.next_frame * hop) as i64 - (n_fft / 2) as i64;
        let keep_from = (self.emitted as i64).min(next_start);
        let len = self.acc.size()[1];
        let drop = (keep_from - self.acc_start).clamp(0, len);
        self.acc = self.acc.narrow(1, drop, len - drop);
        self.acc_start += drop;
        out
    }

    /// [`Istft::window_square_sum`] of samples `begin .. end` (`end > begin`): `(end - begin,)`
    /// f64 on the device; the periodic interior sums there, the edges (at most `n_fft` samples
    /// at each end of the signal) from the host.
    fn normalisation(&self, begin: usize, end: usize, nb_frames: usize) -> Tensor {
        let (n_fft, hop) = (self.istft.config().n_fft(), self.istft.config().hop());
        let len = end - begin;
        let phase = (begin + n_fft / 2) % hop;
        let norm = self
            .interior
            .repeat([(phase + len).div_ceil(hop) as i64])
            .narrow(0, phase as i64, len as i64);
        let front = begin..end.min(n_fft / 2 - 1);
        let back = begin.max(self.istft.interior_end(nb_frames))..end;
        for edge in [front, back] {
            if edge.is_empty() {
                continue;
            }
            let sums: Vec<f64> = edge
                .clone()
                .map(|i| self.istft.window_square_sum(i, nb_frames))
                .collect();
            let mut part = norm.narrow(0, (edge.start - begin) as i64, edge.len() as i64);
            part.copy_(&Tensor::from_slice(&sums).to_device(self.device));
        }
        norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stft::{IstftStream, StftConfig};

    /// Windowed frames with few significant bits, so every f64 sum is exact and the two
    /// overlap-adds must agree bit for bit: `(rows, nb_frames, n_fft)`.
    fn frames(rows: usize, nb_frames: usize, n_fft: usize) -> Vec<f32> {
        (0..rows * nb_frames * n_fft)
            .map(|i| ((i * 7919) % 2001) as f32 / 1024.0 - 0.97)
            .collect()
    }

    #[test]
    fn matches_the_cpu_overlap_add_over_a_grid() {
        let rows = 3;
        for (n_fft, hop) in [(64, 16), (64, 24), (64, 32), (256, 100)] {
            let config = StftConfig::new(n_fft, hop).unwrap();
            let istft = Istft::new(config);
            for length in [1, hop - 1, n_fft, 7 * hop + 5, 40 * hop] {
                let nb_frames = config.nb_frames(length);
                let data = frames(rows, nb_frames, n_fft);
                let want: Vec<Vec<f32>> = data
                    .chunks_exact(nb_frames * n_fft)
                    .map(|row| {
                        let mut stream = IstftStream::new(istft.clone());
                        let mut out = Vec::new();
                        stream
                            .push_windowed(row.chunks_exact(n_fft), &mut out)
                            .unwrap();
                        stream.finish(length, &mut out).unwrap();
                        out
                    })
                    .collect();
                let all = Tensor::from_slice(&data).view([rows as i64, -1, n_fft as i64]);
                for batch in [1, 3, nb_frames] {
                    let mut ola = TensorOverlapAdd::new(istft.clone(), rows, Device::Cpu);
                    let mut parts = Vec::new();
                    for start in (0..nb_frames).step_by(batch) {
                        let count = batch.min(nb_frames - start);
                        let part = all.narrow(1, start as i64, count as i64);
                        parts.push(ola.push(&part).unwrap());
                    }
                    parts.push(ola.finish(length).unwrap());
                    let got = Tensor::cat(&parts, 1);
                    for (r, want) in want.iter().enumerate() {
                        let got = Vec::<f32>::try_from(got.get(r as i64)).unwrap();
                        let case = format!("n_fft {n_fft} hop {hop} length {length} batch {batch}");
                        assert_eq!(got.len(), want.len(), "{case}");
                        for (i, (a, b)) in got.iter().zip(want).enumerate() {
                            assert_eq!(a.to_bits(), b.to_bits(), "{case} row {r} sample {i}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn refuses_wrong_shapes_and_frame_counts() {
        let istft = Istft::new(StftConfig::new(64, 16).unwrap());
        let mut ola = TensorOverlapAdd::new(istft, 2, Device::Cpu);
        let wrong = Tensor::zeros([2, 3, 32], (Kind::Float, Device::Cpu));
        assert!(ola.push(&wrong).is_err());
        let right = Tensor::zeros([2, 3, 64], (Kind::Float, Device::Cpu));
        assert_eq!(ola.push(&right).unwrap().size()[0], 2);
        // 3 frames are not the frames of 1000 samples.
        assert!(ola.finish(1000).is_err());
    }
}
