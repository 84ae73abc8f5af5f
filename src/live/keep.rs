//! What a live run plays: each target and the residual with a gain (`--keep vocals=0.2,
//! accompaniment=1`).

use crate::error::{Error, Result};

/// Gains of the targets (in the separator's order) and of the residual (the mix minus the
/// targets: `accompaniment`, `residual` or `karaoke` by name).
#[derive(Debug, Clone, PartialEq)]
pub struct Keep {
    pub targets: Vec<f32>,
    pub residual: f32,
}

/// Names the residual answers to.
const RESIDUAL_NAMES: [&str; 3] = ["accompaniment", "residual", "karaoke"];

impl Keep {
    /// The first target alone, at gain 1.
    pub fn first_target(nb_targets: usize) -> Self {
        let mut targets = vec![0.0; nb_targets];
        if let Some(first) = targets.first_mut() {
            *first = 1.0;
        }
        Keep {
            targets,
            residual: 0.0,
        }
    }

    /// Parses `NAME=GAIN,...` (a `NAME` alone is gain 1) against the separator's `targets`;
    /// what is not named is silent. Gains are finite and between -16 and 16 (24 dB).
    pub fn parse(spec: &str, targets: &[&str]) -> Result<Self> {
        let mut keep = Keep {
            targets: vec![0.0; targets.len()],
            residual: 0.0,
        };
        let choices = || {
            targets
                .iter()
                .copied()
                .chain(RESIDUAL_NAMES)
                .collect::<Vec<_>>()
                .join(", ")
        };
        for part in spec.split(',').map(str::trim) {
            let (name, gain) = match part.split_once('=') {
                Some((name, gain)) => {
                    let value: f32 = gain.trim().parse().map_err(|_| {
                        Error::Invalid(format!("--keep {part}: the gain {gain:?} is not a number"))
                    })?;
                    (name.trim(), value)
                }
                None => (part, 1.0),
            };
            if !gain.is_finite() || gain.abs() > 16.0 {
                return Err(Error::Invalid(format!(
                    "--keep {part}: expected a gain between -16 and 16"
                )));
            }
            let slot = if RESIDUAL_NAMES.contains(&name) {
                &mut keep.residual
            } else if let Some(j) = targets.iter().position(|t| *t == name) {
                &mut keep.targets[j]
            } else {
                return Err(Error::Invalid(format!(
                    "--keep {part}: no output named {name:?}; expected one of {}",
                    choices()
                )));
            };
            *slot = gain;
        }
        Ok(keep)
    }

    /// `sum_j gain_j * targets[j] + gain_r * residual` for one channel: all `n` long.
    pub fn mix_into(&self, targets: &[&[f32]], residual: &[f32], out: &mut [f32]) {
        for (i, o) in out.iter_mut().enumerate() {
            let mut y = self.residual * residual[i];
            for (g, t) in self.targets.iter().zip(targets) {
                y += g * t[i];
            }
            *o = y;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_gains_and_refusals() {
        let targets = ["vocals", "bass"];
        let keep = Keep::parse("vocals=0.2, accompaniment=1", &targets).unwrap();
        assert_eq!(keep.targets, [0.2, 0.0]);
        assert_eq!(keep.residual, 1.0);
        assert_eq!(Keep::parse("bass", &targets).unwrap().targets, [0.0, 1.0]);
        assert_eq!(Keep::first_target(2).targets, [1.0, 0.0]);
        let err = Keep::parse("drums=1", &targets).unwrap_err().to_string();
        assert!(
            err.contains("no output named \"drums\"; expected one of vocals, bass, accompaniment"),
            "{err}"
        );
        let err = Keep::parse("vocals=loud", &targets)
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a number"), "{err}");
        assert!(Keep::parse("vocals=100", &targets).is_err());
        let mut out = [0.0; 2];
        keep.mix_into(&[&[1.0, 2.0], &[5.0, 5.0]], &[10.0, 20.0], &mut out);
        assert_eq!(out, [10.2, 20.4]);
    }
}
