//! `checkpoint/` inside a training run's output folder: where the run stands (`state.json`) and
//! its weights and optimizer state (one safetensors file), written after every epoch so that a
//! killed run resumes to the same weights as an uninterrupted one.

use super::history::{self, HistoryRow, HISTORY_CSV};
use super::optim::Optimizer;
use super::schedule::Plateau;
use super::settings::{resume_conflicts, Fingerprint, TrainSettings};
use crate::error::{Error, Result};
use crate::model::{self, Model, ModelConfig, TrainingSummary};
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
    /// The data folder as an absolute path, so that `--resume` alone finds it (absent in
    /// checkpoints of older versions).
    #[serde(default)]
    pub data: Option<PathBuf>,
    /// The command line of each session of the run, first to last.
    #[serde(default)]
    pub commands: Vec<String>,
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
            data: None,
            commands: Vec::new(),
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

/// `dir/state.json`.
fn read_state(dir: &Path) -> Result<RunState> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::file(&path, format!("not a saex checkpoint: {e}")))
}

/// What the run in an output folder was started with: enough to resume it without repeating
/// its flags (an unfinished run from its checkpoint, a finished one from its config.json).
#[derive(Debug, Clone)]
pub struct StoredRun {
    /// The file the settings came from (checkpoint/state.json, or the model's config.json).
    pub source: PathBuf,
    /// The data folder (absolute), if the checkpoint records it (older ones do not).
    pub data: Option<PathBuf>,
    /// The model's shape (target, layers, STFT, ...).
    pub model: ModelConfig,
    pub settings: TrainSettings,
}

/// The settings of the run in the output folder `out`: an unfinished one's from
/// `out/checkpoint/state.json`, else a finished model's from `out/config.json` (its training
/// summary); an error names the file when there is neither or it is unreadable.
pub fn stored_run(out: &Path) -> Result<StoredRun> {
    let dir = self::dir(out);
    if !dir.join(STATE_FILE).is_file() {
        let (config, summary) = finished_model(out)?;
        let data = crate::locate::resolve_portable(&summary.data).filter(|d| d.is_dir());
        return Ok(StoredRun {
            source: out.join(model::CONFIG_FILE),
            data: data.map(|d| std::path::absolute(&d).unwrap_or(d)),
            model: config,
            settings: summary.settings,
        });
    }
    let state = read_state(&dir)?;
    let fingerprint = Fingerprint::from_value(state.fingerprint)
        .map_err(|e| Error::file(dir.join(STATE_FILE), e.to_string()))?;
    Ok(StoredRun {
        source: dir.join(STATE_FILE),
        data: state.data,
        model: fingerprint.model,
        settings: fingerprint.settings,
    })
}

/// The finished model in `out`: its config.json and training summary; an error when there is
/// no model or it was not trained by `saex train` (no summary).
fn finished_model(out: &Path) -> Result<(ModelConfig, TrainingSummary)> {
    let path = out.join(model::CONFIG_FILE);
    if !path.is_file() {
        return Err(Error::file(out, NOTHING_TO_RESUME));
    }
    let config = ModelConfig::read(&path)?;
    let summary = config.training.clone().ok_or_else(|| {
        Error::file(
            &path,
            "has no training summary (not a finished `saex train` run): nothing to resume",
        )
    })?;
    Ok((config, summary))
}

/// Takes up the finished model in `out` to train it longer: checks that `fingerprint` keeps
/// its settings and raises `finetune_epochs` (its layer-wise stages are over), pushes the
/// model's layers onto the empty `model`, and returns a state at the end of its fine-tuning,
/// with its history and best validation loss. The optimizer state is not kept with a finished
/// model, so fine-tuning goes on with a fresh one, from the stored weights (rounded to the
/// model's storage dtype) and at the fine-tuning learning rate.
pub fn load_finished(
    out: &Path,
    fingerprint: &serde_json::Value,
    model: &mut Model,
) -> Result<RunState> {
    let (config, summary) = finished_model(out)?;
    let path = out.join(model::CONFIG_FILE);
    let stored = Fingerprint::new(&config, &summary.settings).to_value();
    let conflicts = resume_conflicts(&stored, fingerprint);
    if !conflicts.is_empty() {
        return Err(Error::file(
            &path,
            format!("was trained with other settings ({}); resume with the same settings (--resume alone takes them from the model) or start over with --force", conflicts.join("; ")),
        ));
    }
    let wanted = Fingerprint::from_value(fingerprint.clone())?.settings;
    let before = &summary.settings;
    if wanted.epochs_per_stage != before.epochs_per_stage {
        return Err(Error::file(
            &path,
            format!(
                "is a finished model: its layer-wise stages are over, so --epochs-per-stage ({}) cannot be raised; raise --finetune-epochs (it was {}) to train it longer",
                before.epochs_per_stage, before.finetune_epochs
            ),
        ));
    }
    if wanted.finetune_epochs <= before.finetune_epochs {
        return Err(Error::file(
            &path,
            format!(
                "is a finished model: raise --finetune-epochs (it was {}) to train it longer",
                before.finetune_epochs
            ),
        ));
    }
    let history = history::read(&out.join(HISTORY_CSV))?;
    let nb_layers = config.nb_layers;
    push_stored_layers(&out.join(model::WEIGHTS_FILE), &config, nb_layers, model)?;
    // Fine-tuning epochs done (it may have stopped early on a plateau).
    let epochs_done = history
        .iter()
        .filter(|row| row.stage == "finetune")
        .map(|row| row.epoch)
        .max()
        .unwrap_or(0);
    let mut plateau = Plateau::default();
    plateau.start_from(summary.best_valid_loss);
    let train_seconds = (summary.seconds - summary.init_seconds).max(0.0);
    let mut state = RunState::new(fingerprint.clone());
    state.stage = nb_layers + 1;
    state.epochs_done = epochs_done;
    state.nb_layers = nb_layers;
    state.history = history;
    state.best_valid_loss = Some(summary.best_valid_loss).filter(|l| l.is_finite());
    state.best_at = summary.best_at.clone();
    state.best_nb_layers = nb_layers;
    state.epochs = summary.epochs;
    state.seconds = summary.seconds;
    // The summary keeps the rate, not the frames: enough for the next summary's rate.
    state.train_seconds = train_seconds;
    state.train_frames = (summary.frames_per_second * train_seconds).round() as u64;
    state.init_seconds = summary.init_seconds;
    state.plateau = plateau;
    state.commands = config.command.into_iter().collect();
    Ok(state)
}

/// Reads `dir/state.json`, checks that `fingerprint` may resume it (the same settings, or
/// epochs raised: [`resume_conflicts`]), and pushes its layers onto the empty `model` (checked
/// through the model store like any weights file). The returned state carries `fingerprint`.
pub fn load(dir: &Path, fingerprint: &serde_json::Value, model: &mut Model) -> Result<RunState> {
    let path = dir.join(STATE_FILE);
    let mut state = read_state(dir)?;
    let conflicts = resume_conflicts(&state.fingerprint, fingerprint);
    if !conflicts.is_empty() {
        return Err(Error::file(
            &path,
            format!("was made with other settings ({}); resume with the same settings (--resume alone takes them from the checkpoint) or start over with --force", conflicts.join("; ")),
        ));
    }
    state.fingerprint = fingerprint.clone();
    let config = model.config.clone();
    push_stored_layers(
        &dir.join(&state.tensors_file),
        &config,
        state.nb_layers,
        model,
    )?;
    Ok(state)
}

/// Pushes the first `nb_layers` layers stored in the tensor file `path` (a checkpoint's or a
/// model's, shapes checked against `config`) onto `model`.
fn push_stored_layers(
    path: &Path,
    config: &ModelConfig,
    nb_layers: usize,
    model: &mut Model,
) -> Result<()> {
    let mut tensors = model::read_tensors(path, model.device())?;
    for (w, b) in model::take_layers(path, config, nb_layers, &mut tensors)? {
        model
            .push_layer(w, b)
            .map_err(|e| Error::file(path, e.to_string()))?;
    }
    Ok(())
}

/// Every tensor of the checkpoint `state` points at (weights and optimizer state).
pub fn tensors(dir: &Path, state: &RunState, device: Device) -> Result<BTreeMap<String, Tensor>> {
    model::read_tensors(&dir.join(&state.tensors_file), device)
}

/// Why there is nothing to resume in an output folder.
pub const NOTHING_TO_RESUME: &str =
    "nothing to resume: no checkpoint/state.json and no model (start the run without --resume)";
