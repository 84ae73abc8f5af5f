//! How a model was trained, as its config.json and its checkpoints record it: the settings of
//! a run ([`TrainSettings`]) and the named choices they hold. The trainer (`crate::train`) gives
//! them their meaning; this file only declares them, so that the model's config can store them
//! without importing the trainer.

use crate::choice::named_choice;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The default relative ridge of the least-squares init (`crate::train::init`): `lambda = 1e-2 * trace(Czz) / dim`. Stronger than a numerical
/// safeguard on purpose: layer 1 has `(2C+1) * nb_bins_in` strongly correlated inputs, and on
/// held-out tracks a 1e-2 ridge gave a third of the validation loss of 1e-5 (docs/training.md).
pub const DEFAULT_RIDGE: f64 = 1e-2;

named_choice!(
    /// The training loss (see `crate::train::loss`).
    #[derive(Default)]
    Loss, "loss" {
        /// Squared error of the estimated magnitudes.
        #[default]
        Magnitude = "magnitude",
        /// Squared error of the estimate clipped to the mixture's magnitude (the ratio mask's
        /// output).
        Masked = "masked",
    }
);

named_choice!(
    /// Which update rule.
    OptimizerKind, "optimizer" {
        /// Adam (beta1 0.9, beta2 0.999, eps 1e-8).
        Adam = "adam",
        /// SGD with momentum 0.9.
        Sgd = "sgd",
    }
);

/// Which augmentations run on training excerpts (validation and LS frames never augment).
/// Serialised as the list of those that are on, e.g. `["mix", "gain", "swap"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Vec<String>", try_from = "Vec<String>")]
pub struct Augment {
    /// The target of one track over the other stems of random other tracks, each at its own
    /// random offset.
    pub mix: bool,
    /// A random gain in 0.25 ..= 1.25 per stem.
    pub gain: bool,
    /// Swap left and right of a stereo stem with probability 1/2, per stem.
    pub swap: bool,
    /// A random EQ per stem (see `crate::train::augment`).
    pub eq: bool,
    /// A random short reverb per stem.
    pub reverb: bool,
    /// A random speed change (pitch and tempo) per stem.
    pub speed: bool,
}

impl Augment {
    pub const NONE: Augment = Augment {
        mix: false,
        gain: false,
        swap: false,
        eq: false,
        reverb: false,
        speed: false,
    };
    pub const ALL: Augment = Augment {
        mix: true,
        gain: true,
        swap: true,
        eq: true,
        reverb: true,
        speed: true,
    };

    /// The names of those that are on.
    pub fn names(&self) -> Vec<String> {
        [
            (self.mix, "mix"),
            (self.gain, "gain"),
            (self.swap, "swap"),
            (self.eq, "eq"),
            (self.reverb, "reverb"),
            (self.speed, "speed"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| n.to_string())
        .collect()
    }
}

impl From<Augment> for Vec<String> {
    fn from(augment: Augment) -> Self {
        augment.names()
    }
}

impl TryFrom<Vec<String>> for Augment {
    type Error = Error;
    fn try_from(names: Vec<String>) -> Result<Self> {
        let mut augment = Augment::NONE;
        for name in names {
            match name.as_str() {
                "mix" => augment.mix = true,
                "gain" => augment.gain = true,
                "swap" => augment.swap = true,
                "eq" => augment.eq = true,
                "reverb" => augment.reverb = true,
                "speed" => augment.speed = true,
                other => {
                    return Err(Error::mismatch(
                        "augmentation",
                        "mix, gain, swap, eq, reverb or speed",
                        other,
                    ))
                }
            }
        }
        Ok(augment)
    }
}

/// How a model is trained (its shape is its `ModelConfig`). Fields missing from an older
/// config.json take their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainSettings {
    pub epochs_per_stage: usize,
    /// Epochs of fine-tuning all layers after the last stage (0: none).
    pub finetune_epochs: usize,
    /// Training frames sampled per epoch: bounds memory (see
    /// `crate::train::sampler::FrameMaker::sample`).
    pub frames_per_epoch: usize,
    /// Validation frames (fixed excerpts from the middle of each validation track).
    pub valid_frames: usize,
    /// Frames the least-squares init accumulates per layer, sampled without augmentation; also
    /// the frames the autoencoder init pretrains on.
    pub ls_frames: usize,
    /// Passes over those frames of the autoencoder init.
    pub autoencoder_epochs: usize,
    /// Relative ridge of the least-squares init (see `crate::train::init`).
    pub ridge: f64,
    /// Length of each sampled excerpt in seconds.
    pub excerpt_seconds: f64,
    pub optimizer: OptimizerKind,
    pub lr: f64,
    pub finetune_lr: f64,
    pub batch_size: usize,
    pub seed: u64,
    pub augment: Augment,
    /// With `augment.mix`: the chance that a training excerpt's other stems come from random
    /// other tracks; otherwise they are the excerpt's own track at the same offset, a coherent
    /// mix as in the test data (other augmentations still apply). 1: always remix.
    pub mix_probability: f64,
    /// Epochs of a stage without a better validation loss before its learning rate is
    /// multiplied by `lr_decay`; 0: never (see `super::schedule`).
    pub lr_patience: usize,
    /// The learning-rate decay factor on a plateau, in (0, 1).
    pub lr_decay: f64,
    /// Epochs of a stage without a better validation loss that end the stage early; 0: never.
    pub early_stop: usize,
    /// What the epochs minimise (and the validation loss measures); the inits are unchanged.
    pub loss: Loss,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            epochs_per_stage: 10,
            finetune_epochs: 10,
            frames_per_epoch: 32_768,
            valid_frames: 8192,
            ls_frames: 32_768,
            autoencoder_epochs: 3,
            ridge: DEFAULT_RIDGE,
            excerpt_seconds: 6.0,
            optimizer: OptimizerKind::Adam,
            lr: 1e-3,
            finetune_lr: 1e-4,
            batch_size: 256,
            seed: 0,
            augment: Augment::ALL,
            mix_probability: 1.0,
            lr_patience: 0,
            lr_decay: 0.3,
            early_stop: 0,
            loss: Loss::Magnitude,
        }
    }
}
