//! From magnitude estimates to masks on the mixture's STFT, one frame at a time.

use crate::choice::named_choice;
use crate::error::Result;

named_choice!(
    /// How estimates become masks.
    MaskKind, "mask" {
        /// `min(S / |X|, 1)` per target.
        Ratio = "ratio",
        /// `S_j^2 / (sum_k S_k^2 + R^2)` with the residual `R = max(|X| - sum_k S_k, 0)`: the
        /// targets and the residual share the mixture exactly.
        Wiener = "wiener",
    }
);

impl MaskKind {
    /// The command line's `--mask auto`: the ratio mask for one target, the joint Wiener mask
    /// for several (so that the targets and the residual add up to the mix). With the
    /// corpus-v2 models, one target scores 0.2 to 0.5 dB higher SDR with the ratio mask on both
    /// the test and the ood split (docs/results.md).
    pub fn auto_for(nb_targets: usize) -> Self {
        if nb_targets > 1 {
            MaskKind::Wiener
        } else {
            MaskKind::Ratio
        }
    }

    /// A `--mask` value: `auto` is `None` (resolved by [`MaskKind::auto_for`] once the
    /// number of targets is known), else [`MaskKind::parse`].
    pub fn parse_or_auto(name: &str) -> Result<Option<Self>> {
        if name.trim().eq_ignore_ascii_case("auto") {
            return Ok(None);
        }
        Self::parse(name).map(Some)
    }
}

/// Extends a target's estimate above the modelled band: bins `nb_bins..` get the mixture's
/// magnitude times the target's share of the mixture over the top eighth of the modelled band.
/// `estimate`, `mix`: `(nb_bins_total,)` for one frame; `estimate[..nb_bins]` is filled.
pub fn extend_high_band(estimate: &mut [f32], mix: &[f32], nb_bins: usize) {
    if nb_bins >= estimate.len() {
        return;
    }
    let top = nb_bins - (nb_bins / 8).max(1).min(nb_bins);
    let (mut part, mut whole) = (0.0f32, 0.0f32);
    for k in top..nb_bins {
        part += estimate[k].min(mix[k]);
        whole += mix[k];
    }
    let share = if whole > 0.0 { part / whole } else { 0.0 };
    for k in nb_bins..estimate.len() {
        estimate[k] = share * mix[k];
    }
}

/// Masks for one frame. `estimates`: `(nb_targets, nb_bins_total)`, `mix`: `(nb_bins_total,)`
/// magnitudes; `masks` gets `(nb_targets, nb_bins_total)` values in [0, 1].
pub fn frame_masks(kind: MaskKind, estimates: &[Vec<f32>], mix: &[f32], masks: &mut [Vec<f32>]) {
    match kind {
        MaskKind::Ratio => {
            for (estimate, mask) in estimates.iter().zip(masks.iter_mut()) {
                for ((m, s), x) in mask.iter_mut().zip(estimate).zip(mix) {
                    *m = if *x > 0.0 { (s / x).min(1.0) } else { 0.0 };
                }
            }
        }
        MaskKind::Wiener => {
            for k in 0..mix.len() {
                let (mut sum, mut power) = (0.0f32, 0.0f32);
                for estimate in estimates {
                    sum += estimate[k];
                    power += estimate[k] * estimate[k];
                }
                let residual = (mix[k] - sum).max(0.0);
                let total = power + residual * residual;
                for (estimate, mask) in estimates.iter().zip(masks.iter_mut()) {
                    mask[k] = if total > 0.0 {
                        estimate[k] * estimate[k] / total
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_mask_is_clipped_share() {
        let mix = [2.0, 1.0, 0.0];
        let mut masks = vec![vec![0.0; 3]];
        frame_masks(MaskKind::Ratio, &[vec![1.0, 3.0, 1.0]], &mix, &mut masks);
        assert_eq!(masks[0], vec![0.5, 1.0, 0.0]);
    }

    #[test]
    fn wiener_masks_and_residual_sum_to_one() {
        let mix = [2.0, 1.0, 5.0, 0.0];
        let estimates = vec![vec![1.0, 0.2, 3.0, 0.0], vec![0.5, 0.9, 1.0, 0.0]];
        let mut masks = vec![vec![0.0; 4]; 2];
        frame_masks(MaskKind::Wiener, &estimates, &mix, &mut masks);
        for k in 0..3 {
            let sum: f32 = estimates.iter().map(|e| e[k]).sum();
            let r = (mix[k] - sum).max(0.0);
            let residual_mask =
                r * r / (estimates.iter().map(|e| e[k] * e[k]).sum::<f32>() + r * r);
            let total = masks[0][k] + masks[1][k] + residual_mask;
            assert!((total - 1.0).abs() < 1e-6, "bin {k}: {total}");
        }
        assert_eq!(masks[0][3], 0.0);
    }

    #[test]
    fn high_band_follows_the_top_of_the_modelled_band() {
        let mix = vec![1.0f32; 16];
        let mut estimate = vec![0.0f32; 16];
        estimate[..8].copy_from_slice(&[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.25]);
        extend_high_band(&mut estimate, &mix, 8);
        assert!(
            estimate[8..].iter().all(|&e| (e - 0.25).abs() < 1e-6),
            "{estimate:?}"
        );
    }
}
