//! The network's input, one implementation for training and extraction: magnitudes of STFT
//! frames ([`magnitudes_into`]) and context stacking, where each input row is 2C+1 frames
//! `stride` frames apart (1: consecutive) centred on one frame, each cut to its lowest
//! `nb_bins_in` bins.
//!
//! Extraction writes rows straight into the network's input tensor ([`stack_rows_into`]) on the
//! CPU path, or stacks them on the device ([`stack_windows`]) on the tensor path; training
//! gathers rows of a frame store on its device ([`context_gather`]). All of them copy the values
//! that [`magnitudes_into`] computed, so the rows are bit for bit the same (tests pin it).

use crate::stft::{Complex32, Spectrogram};
use rayon::prelude::*;
use tch::{Device, Kind, Tensor};

/// Frames per parallel task.
const FRAMES_PER_TASK: usize = 32;

/// `|x|` as `sqrt(re^2 + im^2)`: every CPU path (extraction, masks, training) uses this one, so
/// their magnitudes agree bit for bit. `Complex32::norm` calls `hypot`, which guards against
/// overflow that STFT values never reach and took most of the features stage's time.
#[inline]
pub fn magnitude(x: Complex32) -> f32 {
    (x.re * x.re + x.im * x.im).sqrt()
}

/// The magnitude of each value of `frames` (`(n, nb_bins)` row-major), cut to the first `keep`
/// bins, into `out` (`(n, keep)`); in parallel over blocks of frames.
pub fn magnitudes_into(frames: &[Complex32], nb_bins: usize, keep: usize, out: &mut [f32]) {
    assert!(keep <= nb_bins && out.len() * nb_bins == frames.len() * keep);
    out.par_chunks_mut(keep * FRAMES_PER_TASK)
        .zip(frames.par_chunks(nb_bins * FRAMES_PER_TASK))
        .for_each(|(out, frames)| {
            for (o, f) in out.chunks_exact_mut(keep).zip(frames.chunks_exact(nb_bins)) {
                for (m, x) in o.iter_mut().zip(f) {
                    *m = magnitude(*x);
                }
            }
        });
}

/// Network input rows for the centre frames `centres` into `out` (`(centres.len(),
/// (2C+1) * nb_bins_in)`), the layout of [`context_stack`] with frames `stride` apart. `mags` holds frames
/// `first ..` (`nb_bins` values each, at least `nb_bins_in`); frames below 0, at or beyond
/// `nb_frames`, or outside `mags` are zeros. In parallel over blocks of rows.
#[allow(clippy::too_many_arguments)]
pub fn stack_rows_into(
    mags: &[f32],
    nb_bins: usize,
    first: i64,
    nb_frames: i64,
    context: usize,
    stride: usize,
    nb_bins_in: usize,
    centres: std::ops::Range<i64>,
    out: &mut [f32],
) {
    let width = (2 * context + 1) * nb_bins_in;
    let stored = (mags.len() / nb_bins) as i64;
    assert!(nb_bins_in <= nb_bins && out.len() == (centres.end - centres.start) as usize * width);
    out.par_chunks_mut(width * FRAMES_PER_TASK)
        .enumerate()
        .for_each(|(task, rows)| {
            for (i, row) in rows.chunks_exact_mut(width).enumerate() {
                let centre = centres.start + (task * FRAMES_PER_TASK + i) as i64;
                for (d, part) in row.chunks_exact_mut(nb_bins_in).enumerate() {
                    let frame = centre + (d as i64 - context as i64) * stride as i64;
                    let at = frame - first;
                    if frame < 0 || frame >= nb_frames || at < 0 || at >= stored {
                        part.fill(0.0);
                    } else {
                        let offset = at as usize * nb_bins;
                        part.copy_from_slice(&mags[offset..offset + nb_bins_in]);
                    }
                }
            }
        });
}

/// `padded (..., nb_frames + 2CS, nb_bins_in)` -> `(..., nb_frames, (2C+1) * nb_bins_in)`: row
/// t holds padded frames `t, t + S, ..., t + 2CS` (in that order), S = `stride`. Pure copying,
/// on any device.
pub fn stack_windows(padded: &Tensor, context: usize, stride: usize) -> Tensor {
    let dim = padded.dim() as i64;
    let span = 2 * (context * stride) as i64 + 1;
    padded
        .unfold(dim - 2, span, 1)
        .slice(-1, 0, span, stride as i64)
        .transpose(-1, -2)
        .flatten(-2, -1)
}

/// `mags (nb_frames, nb_bins_total)` -> `(nb_frames, (2C+1) * nb_bins_in)`: row t holds frames
/// `t-CS, ..., t+CS` (in that order, S = `stride`), each cut to its first `nb_bins_in` bins;
/// frames outside `[0, nb_frames)` are zeros. Pure copying, so a block with CS halo frames on
/// each side gives bit-identical rows to the whole signal. Requires `nb_bins_in <=
/// nb_bins_total`.
pub fn context_stack(mags: &Tensor, context: usize, stride: usize, nb_bins_in: usize) -> Tensor {
    let cut = mags.narrow(1, 0, nb_bins_in as i64);
    let reach = (context * stride) as i64;
    let zeros = Tensor::zeros([reach, nb_bins_in as i64], (cut.kind(), cut.device()));
    stack_windows(&Tensor::cat(&[&zeros, &cut, &zeros], 0), context, stride)
}

/// Rows for chosen centre frames of a frame store: `frames (nb_store, nb_bins_in)`,
/// `centres (batch,)` i64 with `CS <= centre < nb_store - CS` -> `(batch, (2C+1) *
/// nb_bins_in)`, the same layout as [`context_stack`].
pub fn context_gather(frames: &Tensor, centres: &Tensor, context: usize, stride: usize) -> Tensor {
    let c = context as i64;
    let nb_bins_in = frames.size()[1];
    let batch = centres.size()[0];
    let offsets = Tensor::arange_start(-c, c + 1, (Kind::Int64, centres.device())) * stride as i64;
    let index = (centres.unsqueeze(1) + offsets.unsqueeze(0)).reshape([-1]);
    frames
        .index_select(0, &index)
        .reshape([batch, (2 * c + 1) * nb_bins_in])
}

/// Magnitudes of a row-major `(nb_frames, nb_bins)` complex spectrogram, as an f32 tensor on
/// `device` cut to its first `nb_bins_keep` bins: `(nb_frames, nb_bins_keep)`.
pub fn magnitudes(spec: &Spectrogram, nb_bins_keep: usize, device: Device) -> Tensor {
    let nb_frames = spec.nb_frames();
    let keep = nb_bins_keep.min(spec.nb_bins);
    let mut out = vec![0.0f32; nb_frames * keep];
    magnitudes_into(&spec.data, spec.nb_bins, keep, &mut out);
    Tensor::from_slice(&out)
        .reshape([nb_frames as i64, keep as i64])
        .to_device(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_hold_neighbours_with_zero_edges() {
        // Frame t, bin b holds 10 t + b.
        let mags = Tensor::from_slice(
            &(0..20)
                .map(|v| ((v / 4) * 10 + v % 4) as f32)
                .collect::<Vec<_>>(),
        )
        .reshape([5, 4]);
        let rows = context_stack(&mags, 1, 1, 2);
        assert_eq!(rows.size(), vec![5, 6]);
        let row0: Vec<f32> = Vec::try_from(rows.get(0)).unwrap();
        assert_eq!(row0, vec![0.0, 0.0, 0.0, 1.0, 10.0, 11.0]);
        let row4: Vec<f32> = Vec::try_from(rows.get(4)).unwrap();
        assert_eq!(row4, vec![30.0, 31.0, 40.0, 41.0, 0.0, 0.0]);
        // Every second frame: row t holds t-2, t, t+2.
        let rows = context_stack(&mags, 1, 2, 2);
        let row1: Vec<f32> = Vec::try_from(rows.get(1)).unwrap();
        assert_eq!(row1, vec![0.0, 0.0, 10.0, 11.0, 30.0, 31.0]);
        let row2: Vec<f32> = Vec::try_from(rows.get(2)).unwrap();
        assert_eq!(row2, vec![0.0, 1.0, 20.0, 21.0, 40.0, 41.0]);
    }

    #[test]
    fn blocks_with_halo_match_the_whole_signal() {
        let mags = Tensor::rand([40, 9], (Kind::Float, Device::Cpu));
        let (c, s) = (2, 3);
        let whole = context_stack(&mags, c, s, 7);
        // Block of frames 10..20 with c * s halo frames each side.
        let reach = (c * s) as i64;
        let block = context_stack(&mags.narrow(0, 10 - reach, 10 + 2 * reach), c, s, 7);
        let inner = block.narrow(0, reach, 10);
        assert!(inner.equal(&whole.narrow(0, 10, 10)));
    }

    #[test]
    fn rows_into_match_the_tensor_stack() {
        let spec = crate::stft::Stft::new(crate::stft::StftConfig::new(64, 16).unwrap()).forward(
            &(0..700)
                .map(|i| (i as f32 * 0.37).sin())
                .collect::<Vec<_>>(),
        );
        let (nb_bins, nb_frames) = (spec.nb_bins, spec.nb_frames());
        let mut mags = vec![0.0f32; nb_frames * nb_bins];
        magnitudes_into(&spec.data, nb_bins, nb_bins, &mut mags);
        // Centres 5..30 from a store that starts at frame 2 and ends at frame 40 (all the
        // neighbours of those centres, at stride 1 and 2), and the last centres with zeros
        // beyond the end.
        for (stride, centres, first, last) in [
            (1, 5..30i64, 2i64, 40i64),
            (1, 30..nb_frames as i64, 27, nb_frames as i64),
            (2, 8..30i64, 2i64, 40i64),
            (2, 30..nb_frames as i64, 24, nb_frames as i64),
        ] {
            let whole = context_stack(&magnitudes(&spec, nb_bins, Device::Cpu), 3, stride, 20);
            let store = &mags[first as usize * nb_bins..last as usize * nb_bins];
            let mut out = vec![1.0f32; (centres.end - centres.start) as usize * 7 * 20];
            stack_rows_into(
                store,
                nb_bins,
                first,
                nb_frames as i64,
                3,
                stride,
                20,
                centres.clone(),
                &mut out,
            );
            let expected: Vec<f32> = Vec::try_from(
                whole
                    .narrow(0, centres.start, centres.end - centres.start)
                    .reshape([-1]),
            )
            .unwrap();
            assert_eq!(out, expected, "centres {centres:?}");
        }
    }

    #[test]
    fn gather_matches_stack() {
        let mags = Tensor::rand([12, 5], (Kind::Float, Device::Cpu));
        for stride in [1, 2] {
            let stacked = context_stack(&mags, 2, stride, 5);
            let centres = Tensor::from_slice(&[4i64, 6, 7]);
            let gathered = context_gather(&mags, &centres, 2, stride);
            assert!(gathered.equal(&stacked.index_select(0, &centres)));
        }
    }
}
