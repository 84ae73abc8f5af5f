//! Oracle baselines computed from the true stems: the ideal ratio mask (the ceiling for
//! mask-based methods on the mixture STFT) and the mixture itself as every estimate (the floor).

use super::estimates::EstimateSource;
use super::track::{Estimate, ReferenceTrack};
use crate::audio::AudioBuffer;
use crate::error::{Error, Result};
use crate::stft::{Complex32, Istft, Stft, StftConfig};
use rayon::prelude::*;

/// The STFT of the IRM oracle: 4096-sample Hann windows, hop 1024 (open-unmix's defaults).
const IRM_N_FFT: usize = 4096;
const IRM_HOP: usize = 1024;

/// An oracle estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Oracle {
    /// Ideal ratio mask of power `power`, as sigsep's oracle `IRM`: per bin,
    /// `mask_target = |S_target|^power / (sum_i |S_i|^power + eps)` over all stems `i`, applied to
    /// the mixture's STFT and inverted. `power` 2 is sigsep's default ("IRM2"), 1 is "IRM1".
    Irm { power: f32 },
    /// The mixture as the estimate of every target.
    Mixture,
}

impl Oracle {
    /// `irm` (power 2), `irm1`, `irm2`, or `mixture`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "irm" | "irm2" => Ok(Oracle::Irm { power: 2.0 }),
            "irm1" => Ok(Oracle::Irm { power: 1.0 }),
            "mixture" | "mix" => Ok(Oracle::Mixture),
            other => Err(Error::Invalid(format!(
                "oracle {other:?}: expected irm (= irm2), irm1 or mixture"
            ))),
        }
    }
}

impl EstimateSource for Oracle {
    fn name(&self) -> String {
        match self {
            Oracle::Irm { power } if *power == 2.0 => "oracle-irm2".to_string(),
            Oracle::Irm { power } => format!("oracle-irm{power}"),
            Oracle::Mixture => "oracle-mixture".to_string(),
        }
    }

    fn targets(&self, track: &ReferenceTrack) -> Result<Vec<String>> {
        Ok(track.target_names())
    }

    fn estimates(&self, track: &ReferenceTrack, targets: &[String]) -> Vec<Result<Estimate>> {
        let label = |t: &str| track.dir.join(format!("{}:{t}", self.name()));
        match self {
            Oracle::Mixture => targets
                .iter()
                .map(|t| {
                    Ok(Estimate {
                        label: label(t),
                        target: track.mixture.clone(),
                        residual: Some((label(t), track.mixture.clone())),
                    })
                })
                .collect(),
            Oracle::Irm { power } => targets
                .iter()
                .map(|t| {
                    let index = track
                        .stems
                        .iter()
                        .position(|s| &s.name == t)
                        .ok_or_else(|| {
                            Error::file(
                                track.stem_path(t),
                                format!("missing reference for target {t:?}: the IRM needs it"),
                            )
                        })?;
                    Ok(Estimate {
                        label: label(t),
                        target: ideal_ratio_mask(track, index, *power)?,
                        residual: None,
                    })
                })
                .collect(),
        }
    }
}

/// The IRM estimate of stem `target` of `track`: `(nb_channels, nb_frames)`.
fn ideal_ratio_mask(track: &ReferenceTrack, target: usize, power: f32) -> Result<AudioBuffer> {
    let config = StftConfig::new(IRM_N_FFT, IRM_HOP)?;
    let stft = Stft::new(config);
    let istft = Istft::new(config);
    let nb_frames = track.mixture.nb_frames();
    let channels = (0..track.mixture.nb_channels())
        .into_par_iter()
        .map(|c| {
            let mut mix = stft.forward(&track.mixture.channels[c]);
            let powers: Vec<Vec<f32>> = track
                .stems
                .iter()
                .map(|s| {
                    stft.forward(&s.audio.channels[c])
                        .data
                        .iter()
                        .map(|v: &Complex32| v.norm().powf(power))
                        .collect()
                })
                .collect();
            for (k, x) in mix.data.iter_mut().enumerate() {
                let total: f32 = powers.iter().map(|p| p[k]).sum::<f32>() + f32::EPSILON;
                *x *= powers[target][k] / total;
            }
            istft.inverse(&mix, nb_frames)
        })
        .collect::<Result<Vec<_>>>()?;
    AudioBuffer::new(track.mixture.sample_rate, channels)
}
