//! `checkpoint/` inside a training run's output folder: where the run stands (`state.json`) and
//! its weights and optimizer state (one safetensors file), written after every epoch so that a
//! killed run resumes to the same weights as an uninterrupted one.

use super::history::HistoryRow;
use super::optim::Optimizer;
use super::schedule::Plateau;
use crate::error::{Error, Result};
use crate::model::{self, Model};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// The checkpoint folder inside the output folder.
pub const CHECKPOINT_DIR: &str = "checkpoint";
/// The run's position inside the checkpoint folder.
pub const STATE_FILE: &str = "state.json";

/// The checkpoint folder of the output folder `out`.
pub fn dir(out: &Path) -> PathBuf {
    out.join(CHECKPOINT_DIR)
}

/// Where a run stands; saved in `checkpoint/state.json` after every epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunState {
    /// The run's [`Fingerprint`](super::settings::Fingerprint) as JSON.
    pub fingerprint: serde_json::Value,
    /// 1-based; `K + 1` is fine-tuning.
    pub stage: usize,
    /// Epochs finished in `stage`.
    pub epochs_done: usize,
    pub nb_layers: usize,
    pub optimizer_steps: u64,
    pub history: Vec<HistoryRow>,
    pub best_valid_loss: Option<f64>,
    pub best_at: String,
    pub best_nb_layers: usize,
    pub epochs: usize,
    pub seconds: f64,
    pub train_seconds: f64,
    pub train_frames: u64,
    pub init_seconds: f64,
    /// The checkpoint's tensor file inside `checkpoint/`.
    pub tensors_file: String,
    /// The current stage's plateau state (learning-rate scale, epochs without improvement).
    #[serde(default)]
    pub plateau: Plateau,
}

impl RunState {
    /// A run that has done nothing yet.
    pub fn new(fingerprint: serde_json::Value) -> Self {
        RunState {
            fingerprint,
            stage: 1,
            epochs_done: 0,
            nb_layers: 0,
            optimizer_steps: 0,
            history: Vec::new(),
            best_valid_loss: None,
            best_at: String::new(),
            best_nb_layers: 0,
            epochs: 0,
            seconds: 0.0,
            train_seconds: 0.0,
            train_frames: 0,
            init_seconds: 0.0,
            tensors_file: String::new(),
            plateau: Plateau::default(),
        }
    }

    /// Training frames per second so far (0 before any training).
    pub fn frames_per_second(&self) -> f64 {
        if self.train_seconds > 0.0 {
            self.train_frames as f64 / self.train_seconds
        } else {
            0.0
        }
    }
}

/// Writes the tensors (weights and optimizer state) under a new name, then `state.json`
/// pointing at them, then removes older tensor files: a kill at any point leaves a consistent
/// checkpoint in `dir`.
pub fn save(
    dir: &Path,
    model: &Model,
    optimizer: Option<&Optimizer>,
    state: &RunState,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut state = state.clone();
    state.tensors_file = format!(
        "tensors-{:04}-{:04}-{:04}.safetensors",
        state.stage, state.epochs_done, state.epochs
    );
    let mut tensors = model.named_parameters();
    if let Some(optimizer) = optimizer {
        tensors.extend(optimizer.state());
    }
    model::write_tensors(&dir.join(&state.tensors_file), &tensors, Kind::Float)?;
    let text = serde_json::to_string_pretty(&state)
        .map_err(|e| Error::Invalid(format!("checkpoint state: {e}")))?;
    crate::atomic::write_bytes(&dir.join(STATE_FILE), text.as_bytes())?;
    for entry in std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("tensors-") && name != state.tensors_file {
            std::fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
        }
    }
    Ok(())
}

/// Reads `dir/state.json`, checks that it was made with `fingerprint`, and pushes its layers
/// onto the empty `model` (checked through the model store like any weights file).
pub fn load(dir: &Path, fingerprint: &serde_json::Value, model: &mut Model) -> Result<RunState> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let state: RunState = serde_json::from_str(&text)
        .map_err(|e| Error::file(&path, format!("not a saex checkpoint: {e}")))?;
    if &state.fingerprint != fingerprint {
        let differing = differing_keys(&state.fingerprint, fingerprint);
        return Err(Error::file(
            &path,
            format!("was made with other settings ({}); resume with the same flags or start over with --force", differing.join("; ")),
        ));
    }
    let tensors_path = dir.join(&state.tensors_file);
    let mut tensors = model::read_tensors(&tensors_path, model.device())?;
    let config = model.config.clone();
    for (w, b) in model::take_layers(&tensors_path, &config, state.nb_layers, &mut tensors)? {
        model
            .push_layer(w, b)
            .map_err(|e| Error::file(&tensors_path, e.to_string()))?;
    }
    Ok(state)
}

/// Every tensor of the checkpoint `state` points at (weights and optimizer state).
pub fn tensors(dir: &Path, state: &RunState, device: Device) -> Result<BTreeMap<String, Tensor>> {
    model::read_tensors(&dir.join(&state.tensors_file), device)
}

/// The keys (dotted into objects) whose values differ, as `key: checkpoint A, now B`.
fn differing_keys(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return vec!["format".into()];
    };
    let mut out = Vec::new();
    for (key, va) in a {
        let vb = b.get(key).unwrap_or(&serde_json::Value::Null);
        if va != vb {
            if let (Some(_), Some(_)) = (va.as_object(), vb.as_object()) {
                out.extend(
                    differing_keys(va, vb)
                        .into_iter()
                        .map(|k| format!("{key}.{k}")),
                );
            } else {
                out.push(format!("{key}: checkpoint {va}, now {vb}"));
            }
        }
    }
    out
}
