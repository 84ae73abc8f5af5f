//! What a stage does when its validation loss stops improving: decay the learning rate after
//! `lr_patience` epochs without improvement (as PyTorch's `ReduceLROnPlateau`, which Open-Unmix
//! uses), and end the stage early after `early_stop` such epochs (the next layer, or the end of
//! training after fine-tuning). Both are off at 0.
//!
//! The state lives in the checkpoint, so a resumed run decays and stops exactly where an
//! uninterrupted one would.

use crate::record::TrainSettings;
use serde::{Deserialize, Serialize};

/// A loss counts as an improvement when it is below the stage's best by more than this fraction
/// of it (PyTorch's default relative threshold), so float noise on a flat curve is no progress.
const REL_THRESHOLD: f64 = 1e-4;

/// The plateau settings of a run (part of [`TrainSettings`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlateauSettings {
    /// Epochs without improvement before the learning rate is multiplied by `lr_decay`; 0: never.
    pub lr_patience: usize,
    /// The factor, in (0, 1).
    pub lr_decay: f64,
    /// Epochs without improvement that end the stage; 0: never.
    pub early_stop: usize,
}

impl PlateauSettings {
    /// The plateau part of `settings`.
    pub fn of(settings: &TrainSettings) -> Self {
        PlateauSettings {
            lr_patience: settings.lr_patience,
            lr_decay: settings.lr_decay,
            early_stop: settings.early_stop,
        }
    }
}

/// Where one stage stands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Plateau {
    /// The stage's best validation loss so far (the loss after its layer was added counts).
    pub best: Option<f64>,
    /// Epochs since the last improvement.
    pub bad_epochs: usize,
    /// Epochs since the last improvement or decay (what `lr_patience` counts).
    pub bad_since_decay: usize,
    /// The stage's learning rate is its base rate times this.
    pub lr_scale: f64,
    /// The stage ended early: a resumed run goes on with the next stage.
    pub stopped: bool,
}

impl Default for Plateau {
    fn default() -> Self {
        Plateau {
            best: None,
            bad_epochs: 0,
            bad_since_decay: 0,
            lr_scale: 1.0,
            stopped: false,
        }
    }
}

/// What [`Plateau::observe`] decided after an epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    Improved,
    /// No improvement; the learning rate was left alone.
    NoImprovement,
    /// No improvement for `lr_patience` epochs: the learning rate scale is now this.
    Decayed(f64),
    /// No improvement for `early_stop` epochs: the stage ends.
    Stop,
}

impl Plateau {
    /// The learning rate of the next epoch for a stage whose base rate is `base`.
    pub fn lr(&self, base: f64) -> f64 {
        base * self.lr_scale
    }

    /// Records the loss the stage starts from (after its layer was added) without judging it.
    pub fn start_from(&mut self, loss: f64) {
        if loss.is_finite() {
            self.best = Some(loss);
        }
    }

    /// Judges the validation loss of the epoch just finished.
    pub fn observe(&mut self, loss: f64, settings: &PlateauSettings) -> Verdict {
        let improved = loss.is_finite()
            && self
                .best
                .is_none_or(|best| loss < best - REL_THRESHOLD * best.abs());
        if improved {
            self.best = Some(loss);
            self.bad_epochs = 0;
            self.bad_since_decay = 0;
            return Verdict::Improved;
        }
        self.bad_epochs += 1;
        self.bad_since_decay += 1;
        if settings.early_stop > 0 && self.bad_epochs >= settings.early_stop {
            self.stopped = true;
            return Verdict::Stop;
        }
        if settings.lr_patience > 0 && self.bad_since_decay >= settings.lr_patience {
            self.bad_since_decay = 0;
            self.lr_scale *= settings.lr_decay;
            return Verdict::Decayed(self.lr_scale);
        }
        Verdict::NoImprovement
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(losses: &[f64], settings: PlateauSettings) -> (Vec<Verdict>, Plateau) {
        let mut plateau = Plateau::default();
        plateau.start_from(1.0);
        let verdicts = losses
            .iter()
            .map(|&l| plateau.observe(l, &settings))
            .collect();
        (verdicts, plateau)
    }

    #[test]
    fn off_by_default_values_never_decay_or_stop() {
        let off = PlateauSettings {
            lr_patience: 0,
            lr_decay: 0.5,
            early_stop: 0,
        };
        let (verdicts, plateau) = run(&[2.0; 20], off);
        assert!(verdicts.iter().all(|v| *v == Verdict::NoImprovement));
        assert_eq!(plateau.lr_scale, 1.0);
        assert!(!plateau.stopped);
    }

    #[test]
    fn decays_after_patience_and_counts_afresh() {
        let settings = PlateauSettings {
            lr_patience: 2,
            lr_decay: 0.5,
            early_stop: 0,
        };
        let (verdicts, plateau) = run(&[0.9, 0.95, 0.9, 0.92, 0.91, 0.8], settings);
        use Verdict::*;
        assert_eq!(
            verdicts,
            vec![
                Improved,
                NoImprovement,
                Decayed(0.5),
                NoImprovement,
                Decayed(0.25),
                Improved
            ]
        );
        assert_eq!(plateau.lr(1e-3), 2.5e-4);
        assert_eq!(plateau.bad_epochs, 0);
    }

    #[test]
    fn stops_after_early_stop_epochs_without_improvement() {
        let settings = PlateauSettings {
            lr_patience: 1,
            lr_decay: 0.1,
            early_stop: 3,
        };
        // The loss after the layer was added (1.0) is the bar: 1.0 again is no improvement, and
        // neither is a change within the relative threshold.
        let (verdicts, plateau) = run(&[1.0, 1.0 - 1e-5, f64::NAN], settings);
        assert_eq!(verdicts[2], Verdict::Stop, "{verdicts:?}");
        assert!(plateau.stopped);
        assert!(
            (plateau.lr_scale - 0.01).abs() < 1e-12,
            "{}",
            plateau.lr_scale
        );
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut plateau = Plateau::default();
        plateau.start_from(0.5);
        plateau.observe(
            0.6,
            &PlateauSettings {
                lr_patience: 1,
                lr_decay: 0.3,
                early_stop: 0,
            },
        );
        let text = serde_json::to_string(&plateau).unwrap();
        let back: Plateau = serde_json::from_str(&text).unwrap();
        assert_eq!(back, plateau);
    }
}
