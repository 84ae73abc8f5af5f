//! The settings of a training run, declared once: `saex train` takes its defaults from
//! [`TrainSettings::default`], a checkpoint's fingerprint is the settings serialised with the
//! model's shape, and the summary in config.json records them as they are.

use super::init::DEFAULT_RIDGE;
use super::loss::Loss;
use super::optim::OptimizerKind;
use super::schedule::PlateauSettings;
use crate::error::{Error, Result};
use crate::model::{Init, ModelConfig};
use serde::{Deserialize, Serialize};

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
    /// A random EQ per stem (see [`super::augment`]).
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

    /// The per-stem effects that are on.
    pub fn stem_effects(&self) -> super::augment::StemEffects {
        super::augment::StemEffects {
            eq: self.eq,
            reverb: self.reverb,
            speed: self.speed,
        }
    }

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

/// How a model is trained (its shape is its [`ModelConfig`]). Fields missing from an older
/// config.json take their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainSettings {
    pub epochs_per_stage: usize,
    /// Epochs of fine-tuning all layers after the last stage (0: none).
    pub finetune_epochs: usize,
    /// Training frames sampled per epoch: bounds memory (see
    /// [`FrameMaker::sample`](super::sampler::FrameMaker::sample)).
    pub frames_per_epoch: usize,
    /// Validation frames (fixed excerpts from the middle of each validation track).
    pub valid_frames: usize,
    /// Frames the least-squares init accumulates per layer, sampled without augmentation; also
    /// the frames the autoencoder init pretrains on.
    pub ls_frames: usize,
    /// Passes over those frames of the autoencoder init.
    pub autoencoder_epochs: usize,
    /// Relative ridge of the least-squares init (see [`super::init`]).
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
    /// multiplied by `lr_decay`; 0: never (see [`super::schedule`]).
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

impl TrainSettings {
    /// How training excerpts are drawn.
    pub fn excerpt_plan(&self) -> super::sampler::ExcerptPlan {
        super::sampler::ExcerptPlan {
            seconds: self.excerpt_seconds,
            augment: self.augment,
            mix_probability: self.mix_probability,
        }
    }

    /// The plateau part of the settings.
    pub fn plateau(&self) -> PlateauSettings {
        PlateauSettings {
            lr_patience: self.lr_patience,
            lr_decay: self.lr_decay,
            early_stop: self.early_stop,
        }
    }

    /// Checks every field against its constraint (`init` tells whether LS frames are needed);
    /// the message names the setting.
    pub fn validate(&self, init: Init) -> Result<()> {
        let positive = [
            ("frames per epoch", self.frames_per_epoch),
            ("validation frames", self.valid_frames),
            ("batch size", self.batch_size),
        ];
        for (what, value) in positive {
            if value == 0 {
                return Err(Error::Invalid(format!(
                    "{what}: expected at least 1, got 0"
                )));
            }
        }
        if matches!(init, Init::Ls | Init::Autoencoder) && self.ls_frames == 0 {
            return Err(Error::Invalid(format!(
                "ls frames: expected at least 1 with --init {init}"
            )));
        }
        if init == Init::Autoencoder && self.autoencoder_epochs == 0 {
            return Err(Error::Invalid(
                "autoencoder epochs: expected at least 1 with --init autoencoder".into(),
            ));
        }
        for (what, value) in [
            ("learning rate", self.lr),
            ("fine-tuning learning rate", self.finetune_lr),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(Error::Invalid(format!("{what}: expected > 0, got {value}")));
            }
        }
        if !(self.excerpt_seconds.is_finite() && self.excerpt_seconds > 0.0) {
            return Err(Error::Invalid(format!(
                "excerpt seconds: expected > 0, got {}",
                self.excerpt_seconds
            )));
        }
        if !(0.0..=1.0).contains(&self.mix_probability) {
            return Err(Error::Invalid(format!(
                "mix probability: expected a chance within 0..=1, got {}",
                self.mix_probability
            )));
        }
        if !(self.lr_decay > 0.0 && self.lr_decay < 1.0) {
            return Err(Error::Invalid(format!(
                "learning-rate decay: expected a factor in (0, 1), got {}",
                self.lr_decay
            )));
        }
        if !(self.ridge.is_finite() && self.ridge >= 0.0) {
            return Err(Error::Invalid(format!(
                "ridge: expected >= 0, got {}",
                self.ridge
            )));
        }
        Ok(())
    }
}

/// What a resumed run must share with its checkpoint: the model's shape and every setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The model's config without its training summary, command and scores.
    pub model: ModelConfig,
    #[serde(flatten)]
    pub settings: TrainSettings,
}

impl Fingerprint {
    pub fn new(model: &ModelConfig, settings: &TrainSettings) -> Self {
        let mut model = model.clone();
        model.training = None;
        model.command = None;
        model.scores = Default::default();
        Fingerprint {
            model,
            settings: settings.clone(),
        }
    }

    /// As JSON, for storing and comparing key by key.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("settings serialise to JSON")
    }

    /// Back from [`Fingerprint::to_value`]'s JSON; an error names the bad field.
    pub fn from_value(value: serde_json::Value) -> Result<Self> {
        serde_json::from_value(value).map_err(|e| Error::Invalid(format!("training settings: {e}")))
    }
}

/// The settings a resumed run may raise, to train longer; every other setting must stay as the
/// checkpoint has it (the trained layers, optimizer state and random streams depend on them).
pub const RAISABLE_ON_RESUME: [&str; 2] = ["epochs_per_stage", "finetune_epochs"];

/// What keeps a run with fingerprint `now` from resuming a checkpoint made with `stored` (both
/// [`Fingerprint::to_value`]), one entry per setting as `key: checkpoint A, now B` (keys dotted
/// into objects, e.g. `model.nb_layers`); empty when it may resume. Raising a setting of
/// [`RAISABLE_ON_RESUME`] is allowed, lowering it is not.
pub fn resume_conflicts(stored: &serde_json::Value, now: &serde_json::Value) -> Vec<String> {
    let (Some(a), Some(b)) = (stored.as_object(), now.as_object()) else {
        return vec!["format".into()];
    };
    let mut out = Vec::new();
    for (key, va) in a {
        let vb = b.get(key).unwrap_or(&serde_json::Value::Null);
        if va == vb {
            continue;
        }
        if va.is_object() && vb.is_object() {
            out.extend(
                resume_conflicts(va, vb)
                    .into_iter()
                    .map(|k| format!("{key}.{k}")),
            );
        } else if RAISABLE_ON_RESUME.contains(&key.as_str()) {
            if let (Some(x), Some(y)) = (va.as_u64(), vb.as_u64()) {
                if y < x {
                    out.push(format!(
                        "{key}: checkpoint {va}, now {vb} (it may only be raised on resume)"
                    ));
                }
            } else {
                out.push(format!("{key}: checkpoint {va}, now {vb}"));
            }
        } else {
            out.push(format!("{key}: checkpoint {va}, now {vb}"));
        }
    }
    for key in b.keys().filter(|k| !a.contains_key(*k)) {
        out.push(format!("{key}: not in the checkpoint, now {}", b[key]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_old_summaries_take_defaults() {
        let settings = TrainSettings {
            augment: Augment {
                mix: true,
                gain: false,
                swap: true,
                eq: false,
                reverb: true,
                speed: false,
            },
            seed: 7,
            ..TrainSettings::default()
        };
        let json = serde_json::to_value(&settings).unwrap();
        assert_eq!(
            json["augment"],
            serde_json::json!(["mix", "swap", "reverb"])
        );
        let back: TrainSettings = serde_json::from_value(json).unwrap();
        assert_eq!(back, settings);
        let old: TrainSettings = serde_json::from_str(r#"{"lr": 0.01, "augment": []}"#).unwrap();
        assert_eq!(old.lr, 0.01);
        assert_eq!(old.augment, Augment::NONE);
        assert_eq!(old.batch_size, TrainSettings::default().batch_size);
        let err = serde_json::from_str::<TrainSettings>(r#"{"augment": ["pitch"]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("pitch"), "{err}");
    }

    #[test]
    fn a_resume_may_raise_the_epochs_and_nothing_else() {
        let model = ModelConfig::default_for("vocals");
        let stored = TrainSettings::default();
        let fp = |s: &TrainSettings| Fingerprint::new(&model, s).to_value();
        let back = Fingerprint::from_value(fp(&stored)).unwrap();
        assert_eq!((back.model, back.settings), (model.clone(), stored.clone()));
        let longer = TrainSettings {
            epochs_per_stage: stored.epochs_per_stage + 5,
            finetune_epochs: stored.finetune_epochs + 1,
            ..stored.clone()
        };
        assert!(resume_conflicts(&fp(&stored), &fp(&longer)).is_empty());
        let shorter = TrainSettings {
            finetune_epochs: stored.finetune_epochs - 1,
            lr: 0.5,
            ..stored.clone()
        };
        assert_eq!(
            resume_conflicts(&fp(&stored), &fp(&shorter)),
            [
                "finetune_epochs: checkpoint 10, now 9 (it may only be raised on resume)",
                "lr: checkpoint 0.001, now 0.5"
            ]
        );
        let mut deeper = model.clone();
        deeper.nb_layers += 1;
        assert_eq!(
            resume_conflicts(&fp(&stored), &Fingerprint::new(&deeper, &stored).to_value()),
            ["model.nb_layers: checkpoint 3, now 4"]
        );
    }
}
