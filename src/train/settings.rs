//! What the trainer does with its settings ([`TrainSettings`], declared in [`crate::record`]):
//! checks them, and fingerprints a run (the settings serialised with the model's shape) so
//! that a resume can tell what changed. `saex train` takes its defaults from
//! [`TrainSettings::default`], and the summary in config.json records them as they are.

use crate::error::{Error, Result};
use crate::model::{Init, ModelConfig};
pub use crate::record::TrainSettings;
use serde::{Deserialize, Serialize};

impl TrainSettings {
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
    use crate::record::Augment;

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
