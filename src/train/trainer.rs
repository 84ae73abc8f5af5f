//! The training loop: stages, epochs, validation, best model, checkpoints, history.

use super::data::{self, Augment, Dataset, FrameMaker, FrameSet};
use super::init::{identity_layer, LsAccumulator};
use super::optim::{Optimizer, OptimizerKind};
use super::plot;
use crate::error::{Error, Result};
use crate::model::{self, Model, ModelConfig, TrainingSummary, CONFIG_FILE};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// The checkpoint folder inside the output folder.
pub const CHECKPOINT_DIR: &str = "checkpoint";
pub const HISTORY_CSV: &str = "history.csv";
pub const HISTORY_PNG: &str = "history.png";
const STATE_FILE: &str = "state.json";
/// Frames per forward pass in validation and least-squares accumulation.
const EVAL_BATCH: i64 = 4096;

/// Everything `saex train` needs.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The data folder (`DATA/train/<track>/<stem>.wav`, ...).
    pub data: PathBuf,
    /// The model folder to write.
    pub out: PathBuf,
    /// Target, shapes, number of layers K, init and storage dtype of the model to train.
    pub model: ModelConfig,
    pub epochs_per_stage: usize,
    pub finetune_epochs: usize,
    /// Training frames sampled per epoch: bounds memory (see [`data::FrameMaker::sample`]).
    pub frames_per_epoch: usize,
    /// Validation frames (fixed excerpts from the middle of each validation track).
    pub valid_frames: usize,
    /// Frames the least-squares init accumulates, sampled without augmentation.
    pub ls_frames: usize,
    /// Relative ridge of the least-squares init (see [`super::init`]).
    pub ridge: f64,
    pub excerpt_seconds: f64,
    pub optimizer: OptimizerKind,
    pub lr: f64,
    pub finetune_lr: f64,
    pub batch_size: usize,
    pub seed: u64,
    pub augment: Augment,
    pub device: Device,
    /// Continue from `out/checkpoint`.
    pub resume: bool,
    /// Replace an existing model or checkpoint in `out`.
    pub force: bool,
    pub quiet: bool,
    /// The command line, recorded in config.json.
    pub command: Option<String>,
    /// Stop (as on Ctrl-C) after this many epochs of this session (for tests of resuming).
    pub stop_after_epochs: Option<usize>,
}

impl TrainOptions {
    /// Defaults for `target` on `data` into `out`.
    pub fn new(data: PathBuf, out: PathBuf, target: &str) -> Self {
        TrainOptions {
            data,
            out,
            model: ModelConfig::default_for(target),
            epochs_per_stage: 10,
            finetune_epochs: 10,
            frames_per_epoch: 32_768,
            valid_frames: 8192,
            ls_frames: 32_768,
            ridge: super::init::DEFAULT_RIDGE,
            excerpt_seconds: 6.0,
            optimizer: OptimizerKind::Adam,
            lr: 1e-3,
            finetune_lr: 1e-4,
            batch_size: 256,
            seed: 0,
            augment: Augment::ALL,
            device: Device::Cpu,
            resume: false,
            force: false,
            quiet: false,
            command: None,
            stop_after_epochs: None,
        }
    }

    fn validate(&self) -> Result<()> {
        let mut config = self.model.clone();
        config.training = None;
        config.validate()?;
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
        if self.model.init == "ls" && self.ls_frames == 0 {
            return Err(Error::Invalid(
                "ls frames: expected at least 1 with --init ls".into(),
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
        if !(self.ridge.is_finite() && self.ridge >= 0.0) {
            return Err(Error::Invalid(format!(
                "ridge: expected >= 0, got {}",
                self.ridge
            )));
        }
        Ok(())
    }

    /// The settings a resumed run must share with the checkpoint.
    fn fingerprint(&self) -> serde_json::Value {
        let mut model = self.model.clone();
        model.training = None;
        model.command = None;
        model.scores = None;
        serde_json::json!({
            "model": model,
            "epochs_per_stage": self.epochs_per_stage,
            "finetune_epochs": self.finetune_epochs,
            "frames_per_epoch": self.frames_per_epoch,
            "valid_frames": self.valid_frames,
            "ls_frames": self.ls_frames,
            "ridge": self.ridge,
            "excerpt_seconds": self.excerpt_seconds,
            "optimizer": self.optimizer,
            "lr": self.lr,
            "finetune_lr": self.finetune_lr,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "augment": self.augment,
        })
    }

    fn nb_stages(&self) -> usize {
        self.model.nb_layers + usize::from(self.finetune_epochs > 0)
    }
}

/// One line of history.csv. Epoch 0 of a stage is the model right after the new layer's init
/// (no training loss).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRow {
    /// `1` ..= `K`, or `finetune`.
    pub stage: String,
    pub nb_layers: usize,
    pub epoch: usize,
    pub train_loss: Option<f64>,
    pub valid_loss: f64,
    pub seconds: f64,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct TrainReport {
    pub out: PathBuf,
    pub best_valid_loss: f64,
    pub best_at: String,
    pub epochs: usize,
    pub frames_per_second: f64,
    pub init_seconds: f64,
    pub seconds: f64,
    pub history: Vec<HistoryRow>,
    pub nb_tracks_train: usize,
    pub nb_tracks_valid: usize,
}

/// Where a run stands; saved in `checkpoint/state.json` after every epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RunState {
    fingerprint: serde_json::Value,
    /// 1-based; `K + 1` is fine-tuning.
    stage: usize,
    /// Epochs finished in `stage`.
    epochs_done: usize,
    nb_layers: usize,
    optimizer_steps: u64,
    history: Vec<HistoryRow>,
    best_valid_loss: Option<f64>,
    best_at: String,
    best_nb_layers: usize,
    epochs: usize,
    seconds: f64,
    train_seconds: f64,
    train_frames: u64,
    init_seconds: f64,
    /// The checkpoint's tensor file inside `checkpoint/`.
    tensors_file: String,
}

/// Trains a model as `options` say. `stop` is polled between batches (Ctrl-C): when it is set,
/// the partial epoch is dropped, the checkpoint of the last finished epoch stays, and the call
/// returns [`Error::Interrupted`].
pub fn train(options: &TrainOptions, stop: &AtomicBool) -> Result<TrainReport> {
    options.validate()?;
    let session_start = Instant::now();
    let data = data::discover(&options.data, &options.model.target)?;
    prepare_out(options)?;
    let maker = FrameMaker::new(&options.model, options.device)?;
    let valid = maker.fixed(&data.valid, &data.target, options.valid_frames)?;

    let mut model = Model::empty(options.model.clone(), options.device)?;
    model.config.training = None;
    let mut state = if options.resume {
        load_checkpoint(options, &mut model)?
    } else {
        RunState {
            fingerprint: options.fingerprint(),
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
        }
    };
    let seconds_before = state.seconds;
    let mut session_epochs = 0;
    let k_max = options.model.nb_layers;
    let stage_start = state.stage;

    for stage in stage_start..=options.nb_stages() {
        let stage_name = if stage > k_max {
            "finetune".to_string()
        } else {
            stage.to_string()
        };
        let (nb_epochs, lr) = if stage > k_max {
            (options.finetune_epochs, options.finetune_lr)
        } else {
            (options.epochs_per_stage, options.lr)
        };
        let resumed_mid_stage =
            stage == stage_start && (state.epochs_done > 0 || state.nb_layers >= stage.min(k_max));
        if state.stage != stage {
            state.stage = stage;
            state.epochs_done = 0;
            state.optimizer_steps = 0;
        }
        if model.config.nb_layers < stage.min(k_max) {
            let start = Instant::now();
            add_layer(options, &data, &maker, &mut model)?;
            state.init_seconds += start.elapsed().as_secs_f64();
            state.nb_layers = model.config.nb_layers;
            let valid_loss = validation_loss(&model, &valid, options.model.context)?;
            log(
                options,
                format_args!(
                "stage {stage_name}: added layer {} ({} init, {:.1} s): valid loss {valid_loss:.6}",
                model.config.nb_layers,
                options.model.init,
                start.elapsed().as_secs_f64()
            ),
            );
            let row = HistoryRow {
                stage: stage_name.clone(),
                nb_layers: model.config.nb_layers,
                epoch: 0,
                train_loss: None,
                valid_loss,
                seconds: start.elapsed().as_secs_f64(),
            };
            record(
                options,
                &data,
                &model,
                &mut state,
                row,
                seconds_before,
                &session_start,
            )?;
            save_checkpoint(options, &model, None, &state)?;
        }
        let mut optimizer = Optimizer::new(options.optimizer, model.named_parameters());
        if resumed_mid_stage && state.epochs_done > 0 {
            let mut tensors = model::read_tensors(
                &checkpoint_dir(options).join(&state.tensors_file),
                options.device,
            )?;
            optimizer.restore(&mut tensors, state.optimizer_steps)?;
        }
        for epoch in state.epochs_done + 1..=nb_epochs {
            let epoch_start = Instant::now();
            let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
            rng.set_stream((stage as u64) << 32 | epoch as u64);
            let frames = maker.sample(
                &data.train,
                &data.target,
                options.frames_per_epoch,
                options.excerpt_seconds,
                options.augment,
                &mut rng,
            )?;
            let bar_label = format!("stage {stage_name} epoch {epoch}/{nb_epochs}");
            let (train_loss, train_secs) = run_epoch(
                options,
                &model,
                &mut optimizer,
                &frames,
                lr,
                &mut rng,
                stop,
                &bar_label,
            )?;
            let valid_loss = validation_loss(&model, &valid, options.model.context)?;
            let seconds = epoch_start.elapsed().as_secs_f64();
            state.train_seconds += train_secs;
            state.train_frames += frames.nb_centres() as u64;
            state.epochs += 1;
            state.epochs_done = epoch;
            state.optimizer_steps = optimizer.step_count();
            log(options, format_args!(
                "{bar_label}: train loss {train_loss:.6}, valid loss {valid_loss:.6} ({:.0} frames/s, {seconds:.1} s)",
                frames.nb_centres() as f64 / train_secs.max(1e-9)
            ));
            let row = HistoryRow {
                stage: stage_name.clone(),
                nb_layers: model.config.nb_layers,
                epoch,
                train_loss: Some(train_loss),
                valid_loss,
                seconds,
            };
            record(
                options,
                &data,
                &model,
                &mut state,
                row,
                seconds_before,
                &session_start,
            )?;
            save_checkpoint(options, &model, Some(&optimizer), &state)?;
            session_epochs += 1;
            if options
                .stop_after_epochs
                .is_some_and(|n| session_epochs >= n)
            {
                return Err(Error::Interrupted);
            }
        }
    }

    // Final summary into the best model's config.json; the checkpoint is no longer needed.
    let best_valid_loss = state.best_valid_loss.unwrap_or(f64::NAN);
    state.seconds = seconds_before + session_start.elapsed().as_secs_f64();
    let config_path = options.out.join(CONFIG_FILE);
    let mut config = ModelConfig::read(&config_path)?;
    config.training = Some(summary(options, &data, &state));
    config.command = options.command.clone();
    config.write(&config_path)?;
    write_history(options, &state.history)?;
    let dir = checkpoint_dir(options);
    std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(TrainReport {
        out: options.out.clone(),
        best_valid_loss,
        best_at: state.best_at.clone(),
        epochs: state.epochs,
        frames_per_second: frames_per_second(&state),
        init_seconds: state.init_seconds,
        seconds: state.seconds,
        history: state.history,
        nb_tracks_train: data.train.len(),
        nb_tracks_valid: data.valid.len(),
    })
}

fn log(options: &TrainOptions, message: std::fmt::Arguments) {
    if !options.quiet {
        eprintln!("{message}");
    }
}

fn frames_per_second(state: &RunState) -> f64 {
    if state.train_seconds > 0.0 {
        state.train_frames as f64 / state.train_seconds
    } else {
        0.0
    }
}

fn checkpoint_dir(options: &TrainOptions) -> PathBuf {
    options.out.join(CHECKPOINT_DIR)
}

/// Creates the output folder and refuses to clobber a model or an unfinished run by accident.
fn prepare_out(options: &TrainOptions) -> Result<()> {
    let out = &options.out;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let state = checkpoint_dir(options).join(STATE_FILE);
    if options.resume {
        if !state.is_file() {
            return Err(Error::file(
                out,
                "nothing to resume: no checkpoint/state.json (run without --resume)",
            ));
        }
        return Ok(());
    }
    if state.is_file() && !options.force {
        return Err(Error::file(
            out,
            "holds the checkpoint of an unfinished run: continue it with --resume, or replace it with --force",
        ));
    }
    if out.join(CONFIG_FILE).is_file() && !options.force {
        return Err(Error::file(
            out,
            "already holds a model: choose another --out, or replace it with --force",
        ));
    }
    let dir = checkpoint_dir(options);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    Ok(())
}

/// Adds the next layer, initialised as `options.model.init` says.
fn add_layer(
    options: &TrainOptions,
    data: &Dataset,
    maker: &FrameMaker,
    model: &mut Model,
) -> Result<()> {
    let k = model.config.nb_layers + 1;
    let mut shape_config = options.model.clone();
    shape_config.nb_layers = k;
    let (weight, bias) = match options.model.init.as_str() {
        "identity" => identity_layer(&shape_config, k, options.device),
        "random" => model::random_layer(&shape_config, k, options.seed, options.device)?,
        _ => least_squares_layer(options, data, maker, model)?,
    };
    model.push_layer(weight, bias)
}

/// The `ls` init of the next layer from the current stack's outputs over `ls_frames` frames
/// (excerpts without augmentation, streamed in sets of at most `frames_per_epoch` frames).
fn least_squares_layer(
    options: &TrainOptions,
    data: &Dataset,
    maker: &FrameMaker,
    model: &Model,
) -> Result<(Tensor, Tensor)> {
    let k = model.config.nb_layers + 1;
    let dim_in = if k == 1 {
        options.model.nb_inputs()
    } else {
        options.model.nb_bins
    };
    let start = Instant::now();
    let mut acc = LsAccumulator::new(dim_in, options.model.nb_bins, options.device);
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    rng.set_stream(u64::MAX - k as u64);
    let mut remaining = options.ls_frames;
    while remaining > 0 {
        let chunk = remaining.min(options.frames_per_epoch);
        let frames = maker.sample(
            &data.train,
            &data.target,
            chunk,
            options.excerpt_seconds,
            Augment::NONE,
            &mut rng,
        )?;
        for picks in batches(frames.nb_centres(), EVAL_BATCH, options.device) {
            let (x, s) = frames.batch(&picks, options.model.context);
            let (z, scale) = model.hidden(&x);
            match scale {
                Some(scale) => acc.add(&z, &(s / &scale), Some(&scale.square()))?,
                None => acc.add(&z, &s, None)?,
            }
        }
        remaining -= chunk;
    }
    let accumulated = start.elapsed().as_secs_f64();
    let solved = acc.solve(options.ridge)?;
    log(options, format_args!(
        "layer {k}: least squares over {} frames of {dim_in} inputs: {accumulated:.2} s sampling and accumulating, {:.2} s solving",
        acc.nb_rows(),
        start.elapsed().as_secs_f64() - accumulated
    ));
    Ok(solved)
}

/// Consecutive index batches `0..n` of at most `size`: `(batch,)` i64 each.
fn batches(n: usize, size: i64, device: Device) -> Vec<Tensor> {
    let all = Tensor::arange(n as i64, (Kind::Int64, device));
    all.split(size, 0)
}

/// One epoch over `frames` in a random order; returns the mean training loss and the seconds
/// spent in forward, backward and update.
#[allow(clippy::too_many_arguments)]
fn run_epoch(
    options: &TrainOptions,
    model: &Model,
    optimizer: &mut Optimizer,
    frames: &FrameSet,
    lr: f64,
    rng: &mut ChaCha8Rng,
    stop: &AtomicBool,
    label: &str,
) -> Result<(f64, f64)> {
    let n = frames.nb_centres();
    let mut order: Vec<i64> = (0..n as i64).collect();
    order.shuffle(rng);
    let order = Tensor::from_slice(&order).to_device(options.device);
    let bar = crate::progress::bar(n as u64, "frames", options.quiet);
    bar.set_message(label.to_string());
    let start = Instant::now();
    let mut loss_sum = 0.0;
    for picks in order.split(options.batch_size as i64, 0) {
        if stop.load(Ordering::SeqCst) {
            bar.abandon();
            return Err(Error::Interrupted);
        }
        let (x, s) = frames.batch(&picks, options.model.context);
        let loss = (model.forward_train(&x) - s).square().mean(Kind::Float);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step(lr);
        let value = loss.double_value(&[]);
        if !value.is_finite() {
            bar.abandon();
            return Err(Error::Invalid(format!(
                "{label}: the training loss became {value}; try a lower --lr"
            )));
        }
        let batch = picks.size()[0] as u64;
        loss_sum += value * batch as f64;
        bar.inc(batch);
        let seconds = start.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!(
            "{label} loss {:.5} ({:.0} frames/s)",
            loss_sum / bar.position() as f64,
            bar.position() as f64 / seconds
        ));
    }
    bar.finish_and_clear();
    Ok((loss_sum / n.max(1) as f64, start.elapsed().as_secs_f64()))
}

/// Mean squared error over every validation centre and bin.
fn validation_loss(model: &Model, valid: &FrameSet, context: usize) -> Result<f64> {
    let mut sum = 0.0;
    let mut count = 0.0;
    for picks in batches(valid.nb_centres(), EVAL_BATCH, model.device()) {
        let (x, s) = valid.batch(&picks, context);
        let err = (model.forward(&x) - &s)
            .square()
            .sum(Kind::Double)
            .double_value(&[]);
        sum += err;
        count += s.numel() as f64;
    }
    Ok(sum / count.max(1.0))
}

/// Adds `row` (the epoch just finished) to the history, writes the model when it is the best of
/// the deepest stack so far, writes the history, and brings the run's seconds up to date.
fn record(
    options: &TrainOptions,
    data: &Dataset,
    model: &Model,
    state: &mut RunState,
    row: HistoryRow,
    seconds_before: f64,
    session_start: &Instant,
) -> Result<()> {
    let valid_loss = row.valid_loss;
    let best_at = format!("{}/{}", row.stage, row.epoch);
    state.history.push(row);
    let deeper = model.config.nb_layers > state.best_nb_layers;
    let better = deeper || state.best_valid_loss.is_none_or(|b| b > valid_loss);
    if valid_loss.is_finite() && better {
        state.best_valid_loss = Some(valid_loss);
        state.best_at = best_at;
        state.best_nb_layers = model.config.nb_layers;
        state.seconds = seconds_before + session_start.elapsed().as_secs_f64();
        let mut config = model.config.clone();
        config.training = Some(summary(options, data, state));
        config.command = options.command.clone();
        Snapshot { config, model }.save(&options.out)?;
    }
    write_history(options, &state.history)?;
    state.seconds = seconds_before + session_start.elapsed().as_secs_f64();
    Ok(())
}

/// A model with a different config.json (the training summary so far).
struct Snapshot<'a> {
    config: ModelConfig,
    model: &'a Model,
}

impl Snapshot<'_> {
    fn save(&self, dir: &Path) -> Result<()> {
        let kind = if self.config.dtype == "f16" {
            Kind::Half
        } else {
            Kind::Float
        };
        model::write_tensors(
            &dir.join(model::WEIGHTS_FILE),
            &self.model.named_parameters(),
            kind,
        )?;
        self.config.write(&dir.join(CONFIG_FILE))
    }
}

fn summary(options: &TrainOptions, data: &Dataset, state: &RunState) -> TrainingSummary {
    TrainingSummary {
        data: options.data.display().to_string(),
        nb_tracks_train: data.train.len(),
        nb_tracks_valid: data.valid.len(),
        valid_source: data.valid_source.clone(),
        epochs_per_stage: options.epochs_per_stage,
        finetune_epochs: options.finetune_epochs,
        frames_per_epoch: options.frames_per_epoch,
        ls_frames: if options.model.init == "ls" {
            options.ls_frames
        } else {
            0
        },
        excerpt_seconds: options.excerpt_seconds,
        optimizer: options.optimizer.name().to_string(),
        lr: options.lr,
        finetune_lr: options.finetune_lr,
        batch_size: options.batch_size,
        seed: options.seed,
        augment: options.augment.names(),
        epochs: state.epochs,
        frames_per_second: (frames_per_second(state) * 10.0).round() / 10.0,
        best_valid_loss: state.best_valid_loss.unwrap_or(f64::NAN),
        best_at: state.best_at.clone(),
        init_seconds: (state.init_seconds * 1000.0).round() / 1000.0,
        seconds: (state.seconds * 1000.0).round() / 1000.0,
        device: crate::device_name(options.device),
        saex_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

fn write_history(options: &TrainOptions, history: &[HistoryRow]) -> Result<()> {
    let mut csv = String::from("stage,nb_layers,epoch,train_loss,valid_loss,seconds\n");
    for row in history {
        let train = row
            .train_loss
            .map(|l| format!("{l:.8e}"))
            .unwrap_or_default();
        csv.push_str(&format!(
            "{},{},{},{train},{:.8e},{:.3}\n",
            row.stage, row.nb_layers, row.epoch, row.valid_loss, row.seconds
        ));
    }
    crate::atomic::write_bytes(&options.out.join(HISTORY_CSV), csv.as_bytes())?;
    plot::write_history_png(&options.out.join(HISTORY_PNG), history)
}

/// Writes the tensors (weights and optimizer state) under a new name, then `state.json`
/// pointing at them, then removes older tensor files: a kill at any point leaves a consistent
/// checkpoint.
fn save_checkpoint(
    options: &TrainOptions,
    model: &Model,
    optimizer: Option<&Optimizer>,
    state: &RunState,
) -> Result<()> {
    let dir = checkpoint_dir(options);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
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
    for entry in std::fs::read_dir(&dir)
        .map_err(|e| Error::io(&dir, e))?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("tensors-") && name != state.tensors_file {
            std::fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
        }
    }
    Ok(())
}

/// Reads `checkpoint/state.json`, checks that it matches `options`, and restores the layers.
fn load_checkpoint(options: &TrainOptions, model: &mut Model) -> Result<RunState> {
    let dir = checkpoint_dir(options);
    let path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let state: RunState = serde_json::from_str(&text)
        .map_err(|e| Error::file(&path, format!("not a saex checkpoint: {e}")))?;
    let now = options.fingerprint();
    if state.fingerprint != now {
        let differing = differing_keys(&state.fingerprint, &now);
        return Err(Error::file(
            &path,
            format!("was made with other settings ({}); resume with the same flags or start over with --force", differing.join("; ")),
        ));
    }
    let tensors_path = dir.join(&state.tensors_file);
    let mut tensors = model::read_tensors(&tensors_path, options.device)?;
    for k in 1..=state.nb_layers {
        let (w_name, b_name) = model::layer_names(k);
        let mut take = |name: &str| {
            tensors
                .remove(name)
                .ok_or_else(|| Error::file(&tensors_path, format!("tensor {name} is missing")))
        };
        let (w, b) = (take(&w_name)?, take(&b_name)?);
        model
            .push_layer(w, b)
            .map_err(|e| Error::file(&tensors_path, e.to_string()))?;
    }
    log(
        options,
        format_args!(
            "resuming from {}: stage {}, {} epoch(s) done in it, {} layer(s)",
            dir.display(),
            state.stage,
            state.epochs_done,
            state.nb_layers
        ),
    );
    Ok(state)
}

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
