//! Network inputs from magnitude frames: each input row is 2C+1 consecutive frames centred on
//! one frame, each cut to its lowest `nb_bins_in` bins.

use tch::{Device, Kind, Tensor};

/// `mags (nb_frames, nb_bins_total)` -> `(nb_frames, (2C+1) * nb_bins_in)`: row t holds frames
/// `t-C ..= t+C` (in that order), each cut to its first `nb_bins_in` bins; frames outside
/// `[0, nb_frames)` are zeros. Pure copying, so a block with C halo frames on each side gives
/// bit-identical rows to the whole signal. Requires `nb_bins_in <= nb_bins_total`.
pub fn context_stack(mags: &Tensor, context: usize, nb_bins_in: usize) -> Tensor {
    let nb_frames = mags.size()[0];
    let cut = mags.narrow(1, 0, nb_bins_in as i64);
    let c = context as i64;
    let zeros = Tensor::zeros([c, nb_bins_in as i64], (cut.kind(), cut.device()));
    let padded = Tensor::cat(&[&zeros, &cut, &zeros], 0);
    // (nb_frames, nb_bins_in, 2C+1) -> (nb_frames, 2C+1, nb_bins_in) -> rows.
    padded
        .unfold(0, 2 * c + 1, 1)
        .permute([0, 2, 1])
        .reshape([nb_frames, (2 * c + 1) * nb_bins_in as i64])
}

/// Rows for chosen centre frames of a frame store: `frames (nb_store, nb_bins_in)`,
/// `centres (batch,)` i64 with `C <= centre < nb_store - C` -> `(batch, (2C+1) * nb_bins_in)`,
/// the same layout as [`context_stack`].
pub fn context_gather(frames: &Tensor, centres: &Tensor, context: usize) -> Tensor {
    let c = context as i64;
    let nb_bins_in = frames.size()[1];
    let batch = centres.size()[0];
    let offsets = Tensor::arange_start(-c, c + 1, (Kind::Int64, centres.device()));
    let index = (centres.unsqueeze(1) + offsets.unsqueeze(0)).reshape([-1]);
    frames
        .index_select(0, &index)
        .reshape([batch, (2 * c + 1) * nb_bins_in])
}

/// Magnitudes of a row-major `(nb_frames, nb_bins)` complex spectrogram, as an f32 tensor on
/// `device` cut to its first `nb_bins_keep` bins: `(nb_frames, nb_bins_keep)`.
pub fn magnitudes(spec: &crate::stft::Spectrogram, nb_bins_keep: usize, device: Device) -> Tensor {
    let nb_frames = spec.nb_frames();
    let keep = nb_bins_keep.min(spec.nb_bins);
    let mut out = Vec::with_capacity(nb_frames * keep);
    for t in 0..nb_frames {
        out.extend(spec.frame(t)[..keep].iter().map(|c| c.norm()));
    }
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
        let rows = context_stack(&mags, 1, 2);
        assert_eq!(rows.size(), vec![5, 6]);
        let row0: Vec<f32> = Vec::try_from(rows.get(0)).unwrap();
        assert_eq!(row0, vec![0.0, 0.0, 0.0, 1.0, 10.0, 11.0]);
        let row4: Vec<f32> = Vec::try_from(rows.get(4)).unwrap();
        assert_eq!(row4, vec![30.0, 31.0, 40.0, 41.0, 0.0, 0.0]);
    }

    #[test]
    fn blocks_with_halo_match_the_whole_signal() {
        let mags = Tensor::rand([40, 9], (Kind::Float, Device::Cpu));
        let c = 2;
        let whole = context_stack(&mags, c, 7);
        // Block of frames 10..20 with c halo frames each side.
        let block = context_stack(&mags.narrow(0, 10 - c as i64, 10 + 2 * c as i64), c, 7);
        let inner = block.narrow(0, c as i64, 10);
        assert!(inner.equal(&whole.narrow(0, 10, 10)));
    }

    #[test]
    fn gather_matches_stack() {
        let mags = Tensor::rand([12, 5], (Kind::Float, Device::Cpu));
        let stacked = context_stack(&mags, 2, 5);
        let centres = Tensor::from_slice(&[2i64, 7, 9]);
        let gathered = context_gather(&mags, &centres, 2);
        assert!(gathered.equal(&stacked.index_select(0, &centres)));
    }
}
