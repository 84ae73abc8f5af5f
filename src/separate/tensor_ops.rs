//! The tensor path's arithmetic: the same STFT, high-band extension, masks and windowed inverse
//! frames as [`crate::stft`] and `super::mask`, as LibTorch operations on whole batches, so
//! they run on the network's device (CUDA) without a round trip to the host.

use super::mask::MaskKind;
use tch::{Kind, Tensor};

/// `samples (nb_channels, (nb_frames - 1) * hop + n_fft)` -> complex frames
/// `(nb_channels, nb_frames, n_fft / 2 + 1)`: frame t is the FFT of samples
/// `t * hop .. t * hop + n_fft` times `window (n_fft,)`, unnormalised, as [`crate::stft::Stft`].
pub fn stft_frames(samples: &Tensor, window: &Tensor, n_fft: usize, hop: usize) -> Tensor {
    let last = samples.dim() as i64 - 1;
    (samples.unfold(last, n_fft as i64, hop as i64) * window).fft_rfft(None, -1, "backward")
}

/// `spectra (..., nb_bins)` complex -> windowed time frames `(..., n_fft)`: the inverse FFT
/// (scaled by `1 / n_fft`) times the window, what [`crate::stft::Istft::synthesize`] computes.
pub fn windowed_inverse(spectra: &Tensor, window: &Tensor, n_fft: usize) -> Tensor {
    spectra.fft_irfft(Some(n_fft as i64), -1, "backward") * window
}

/// [`super::extend_high_band`] on a batch: `estimate (..., nb_bins_out)`, `mix (..., nb_bins)`
/// magnitudes -> `(..., nb_bins)`.
pub fn extend_high_band(estimate: &Tensor, mix: &Tensor, nb_bins_out: usize) -> Tensor {
    let nb_bins = *mix.size().last().expect("mix has a bin axis") as usize;
    if nb_bins_out >= nb_bins {
        return estimate.shallow_clone();
    }
    let top = nb_bins_out - (nb_bins_out / 8).max(1).min(nb_bins_out);
    let width = (nb_bins_out - top) as i64;
    let mix_top = mix.narrow(-1, top as i64, width);
    let part = estimate
        .narrow(-1, top as i64, width)
        .minimum(&mix_top)
        .sum_dim_intlist([-1i64].as_slice(), true, Kind::Float);
    let whole = mix_top.sum_dim_intlist([-1i64].as_slice(), true, Kind::Float);
    let share = (&part / whole.clamp_min(f32::MIN_POSITIVE as f64))
        .where_self(&whole.gt(0.0), &part.zeros_like());
    let high = mix.narrow(-1, nb_bins_out as i64, (nb_bins - nb_bins_out) as i64) * share;
    Tensor::cat(&[estimate, &high], -1)
}

/// [`super::frame_masks`] on a batch: one estimate per target `(..., nb_bins)` and the mixture's
/// magnitudes `(..., nb_bins)` -> one mask per target, values in [0, 1].
pub fn masks(kind: MaskKind, estimates: &[Tensor], mix: &Tensor) -> Vec<Tensor> {
    match kind {
        MaskKind::Ratio => {
            let positive = mix.gt(0.0);
            let safe = mix.where_self(&positive, &mix.ones_like());
            estimates
                .iter()
                .map(|e| {
                    (e / &safe)
                        .clamp_max(1.0)
                        .where_self(&positive, &e.zeros_like())
                })
                .collect()
        }
        MaskKind::Wiener => {
            // A copy: the sums below are in place.
            let mut sum = estimates[0].copy();
            let mut power = &estimates[0] * &estimates[0];
            // Not `+=`: that adds in place, into the storage `sum` shares with estimates[0].
            #[allow(clippy::assign_op_pattern)]
            for e in &estimates[1..] {
                sum += e;
                power += e * e;
            }
            let residual = (mix - sum).clamp_min(0.0);
            let total = power + &residual * &residual;
            let positive = total.gt(0.0);
            let safe = total.where_self(&positive, &total.ones_like());
            estimates
                .iter()
                .map(|e| (e * e / &safe).where_self(&positive, &e.zeros_like()))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::separate::mask::{extend_high_band as cpu_extend, frame_masks};
    use crate::stft::{Istft, Stft, StftConfig};

    fn close(a: &[f32], b: &[f32], tolerance: f32) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= tolerance * (1.0 + y.abs()),
                "value {i}: {x} against {y}"
            );
        }
    }

    fn window(n: usize) -> Tensor {
        let w: Vec<f32> = crate::stft::hann_window(n)
            .into_iter()
            .map(|w| w as f32)
            .collect();
        Tensor::from_slice(&w)
    }

    #[test]
    fn stft_and_inverse_frames_match_the_cpu_transforms() {
        let config = StftConfig::new(64, 16).unwrap();
        let x: Vec<f32> = (0..500).map(|i| (i as f32 * 0.21).sin() + 0.1).collect();
        let spec = Stft::new(config).forward(&x);
        // Frames 3..10 start at sample 3 * 16 - 32.
        let segment = Tensor::from_slice(&x[16..16 + 6 * 16 + 64]).view([1, -1]);
        let frames = stft_frames(&segment, &window(64), 64, 16);
        assert_eq!(frames.size(), [1, 7, 33]);
        let got: Vec<f32> = Vec::try_from(frames.abs().view([-1])).unwrap();
        let want: Vec<f32> = spec.data[3 * 33..10 * 33]
            .iter()
            .map(|c| c.norm())
            .collect();
        close(&got, &want, 1e-5);
        let inverse = windowed_inverse(&frames, &window(64), 64);
        let mut cpu = vec![0.0f32; 7 * 64];
        Istft::new(config).synthesize(&spec.data[3 * 33..10 * 33], &mut cpu);
        close(
            &Vec::<f32>::try_from(inverse.view([-1])).unwrap(),
            &cpu,
            1e-5,
        );
    }

    #[test]
    fn masks_and_high_band_match_the_cpu_functions() {
        let mix: Vec<f32> = (0..16).map(|k| 1.0 + (k % 5) as f32).collect();
        let estimates = [
            (0..8).map(|k| (k as f32 * 0.3) % 2.0).collect::<Vec<f32>>(),
            (0..8).map(|k| (k as f32 * 0.7) % 3.0).collect(),
        ];
        let mix_t = Tensor::from_slice(&mix).view([1, 16]);
        for kind in [MaskKind::Ratio, MaskKind::Wiener] {
            let mut full = vec![vec![0.0f32; 16]; 2];
            for (f, e) in full.iter_mut().zip(&estimates) {
                f[..8].copy_from_slice(e);
                cpu_extend(f, &mix, 8);
            }
            let mut cpu = vec![vec![0.0f32; 16]; 2];
            frame_masks(kind, &full, &mix, &mut cpu);
            let ts: Vec<Tensor> = estimates
                .iter()
                .map(|e| extend_high_band(&Tensor::from_slice(e).view([1, 8]), &mix_t, 8))
                .collect();
            for (t, f) in ts.iter().zip(&full) {
                close(&Vec::<f32>::try_from(t.view([-1])).unwrap(), f, 1e-6);
            }
            for (m, c) in masks(kind, &ts, &mix_t).iter().zip(&cpu) {
                close(&Vec::<f32>::try_from(m.view([-1])).unwrap(), c, 1e-6);
            }
        }
    }
}
