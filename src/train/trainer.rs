//! The training loop: stages, epochs, validation, the best model, and the calls that keep the
//! history ([`super::history`]) and the checkpoint ([`super::checkpoint`]) up to date.

use super::autoencoder;
use super::checkpoint::{self, RunState};
use super::history::{self, HistoryRow, HISTORY_CSV};
use super::init::{identity_layer, LsAccumulator};
use super::optim::Optimizer;
use super::plot;
use super::sampler::{ExcerptPlan, FrameMaker, FrameSet};
use super::schedule::{Plateau, PlateauSettings, Verdict};
use super::settings::Fingerprint;
use crate::dataset::{self, Dataset};
use crate::error::{Error, Result};
use crate::model::{self, Init, Model, ModelConfig, TrainingSummary, CONFIG_FILE};
use crate::record::{Augment, Loss, TrainSettings};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

pub const HISTORY_PNG: &str = "history.png";

/// The frames of one epoch and the generator as sampling left them (training shuffles with it).
type Sampled = (FrameSet, ChaCha8Rng);

/// Samples the frames of `epoch` of `stage`: each epoch draws from its own stream of the seed,
/// so the frames do not depend on which thread samples them, nor when.
fn sample_epoch(
    maker: &FrameMaker,
    data: &Dataset,
    options: &TrainOptions,
    stage: usize,
    epoch: usize,
) -> Result<Sampled> {
    let mut rng = ChaCha8Rng::seed_from_u64(options.settings.seed);
    rng.set_stream((stage as u64) << 32 | epoch as u64);
    let frames = maker.sample(
        &data.train,
        &data.target,
        options.settings.frames_per_epoch,
        ExcerptPlan::of(&options.settings),
        &mut rng,
    )?;
    Ok((frames, rng))
}

/// An epoch's frames being sampled on a thread of its own, beside the previous epoch's training
/// steps (on a GPU the steps took a tenth of an epoch and sampling the rest). Dropped unjoined
/// when training stops first: the thread ends on its own and its frames are freed.
struct Sampling {
    epoch: usize,
    handle: std::thread::JoinHandle<Result<Sampled>>,
}

impl Sampling {
    fn start(
        maker: &FrameMaker,
        data: &Dataset,
        options: &TrainOptions,
        stage: usize,
        epoch: usize,
    ) -> Self {
        let (maker, data, options) = (maker.clone(), data.clone(), options.clone());
        Sampling {
            epoch,
            handle: std::thread::spawn(move || sample_epoch(&maker, &data, &options, stage, epoch)),
        }
    }

    fn join(self) -> Result<Sampled> {
        self.handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// Frames per forward pass in validation and least-squares accumulation.
const EVAL_BATCH: i64 = 4096;

/// Everything `saex train` needs: what to read and write, the model's shape, the settings, and
/// how to run.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The data folder (`DATA/train/<track>/<stem>.wav`, ...; see [`crate::dataset`]).
    pub data: PathBuf,
    /// The model folder to write.
    pub out: PathBuf,
    /// Target, shapes, number of layers K, init and storage dtype of the model to train.
    pub model: ModelConfig,
    pub settings: TrainSettings,
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
    /// Called with each row of the history as it is recorded (after a new layer's init and
    /// after every epoch, once that epoch's checkpoint is saved), on the training thread, for a
    /// caller's own progress display (the Python binding's callback). An error from it stops
    /// the training at once, as Ctrl-C does (the checkpoint of the row's epoch stays), and
    /// is what [`train`] returns.
    pub progress: Option<Progress>,
}

/// A progress callback of [`TrainOptions::progress`].
#[derive(Clone)]
pub struct Progress(Arc<ProgressFn>);

type ProgressFn = dyn Fn(&HistoryRow) -> Result<()> + Send + Sync;

impl Progress {
    pub fn new(f: impl Fn(&HistoryRow) -> Result<()> + Send + Sync + 'static) -> Self {
        Progress(Arc::new(f))
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// Gives the history's last row, just recorded and saved, to the progress callback.
fn report_progress(options: &TrainOptions, state: &RunState) -> Result<()> {
    match (&options.progress, state.history.last()) {
        (Some(progress), Some(row)) => (progress.0)(row),
        _ => Ok(()),
    }
}

impl TrainOptions {
    /// Default model and settings for `target` on `data` into `out`.
    pub fn new(data: PathBuf, out: PathBuf, target: &str) -> Self {
        TrainOptions {
            data,
            out,
            model: ModelConfig::default_for(target),
            settings: TrainSettings::default(),
            device: Device::Cpu,
            resume: false,
            force: false,
            quiet: false,
            command: None,
            stop_after_epochs: None,
            progress: None,
        }
    }

    fn validate(&self) -> Result<()> {
        let mut config = self.model.clone();
        config.training = None;
        config.validate()?;
        self.settings.validate(self.model.init)
    }

    /// The settings a resumed run must share with the checkpoint.
    fn fingerprint(&self) -> serde_json::Value {
        Fingerprint::new(&self.model, &self.settings).to_value()
    }

    fn nb_stages(&self) -> usize {
        self.model.nb_layers + usize::from(self.settings.finetune_epochs > 0)
    }

    fn checkpoint_dir(&self) -> PathBuf {
        checkpoint::dir(&self.out)
    }
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

/// Trains a model as `options` say. `stop` is polled between batches (Ctrl-C): when it is set,
/// the partial epoch is dropped, the checkpoint of the last finished epoch stays, and the call
/// returns [`Error::Interrupted`].
pub fn train(options: &TrainOptions, stop: &AtomicBool) -> Result<TrainReport> {
    options.validate()?;
    let session_start = Instant::now();
    let data = dataset::discover(&options.data, &options.model.target)?;
    log(options, format_args!("{}", data.summary(&options.data)));
    for warning in &data.warnings {
        eprintln!("saex: warning: {warning}");
    }
    prepare_out(options)?;
    let maker = FrameMaker::new(&options.model, options.device)?;
    let valid = maker.fixed(&data.valid, &data.target, options.settings.valid_frames)?;

    let mut model = Model::empty(options.model.clone(), options.device)?;
    model.config.training = None;
    let mut state = if options.resume
        && !options
            .checkpoint_dir()
            .join(checkpoint::STATE_FILE)
            .is_file()
    {
        let state = checkpoint::load_finished(&options.out, &options.fingerprint(), &mut model)?;
        log(
            options,
            format_args!(
                "training the finished model in {} longer: fine-tuning from epoch {} to {}, with a fresh optimizer state",
                options.out.display(),
                state.epochs_done + 1,
                options.settings.finetune_epochs
            ),
        );
        state
    } else if options.resume {
        let dir = options.checkpoint_dir();
        let state = checkpoint::load(&dir, &options.fingerprint(), &mut model)?;
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
        state
    } else {
        RunState::new(options.fingerprint())
    };
    state.data = Some(std::path::absolute(&options.data).map_err(|e| Error::io(&options.data, e))?);
    state.commands.extend(options.command.clone());
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
        let (nb_epochs, base_lr) = if stage > k_max {
            (
                options.settings.finetune_epochs,
                options.settings.finetune_lr,
            )
        } else {
            (options.settings.epochs_per_stage, options.settings.lr)
        };
        let resumed_mid_stage =
            stage == stage_start && (state.epochs_done > 0 || state.nb_layers >= stage.min(k_max));
        if state.stage != stage {
            state.stage = stage;
            state.epochs_done = 0;
            state.optimizer_steps = 0;
            state.plateau = Plateau::default();
            // Fine-tuning adds no layer: it starts from where the last stage ended.
            if let Some(last) = state.history.last() {
                state.plateau.start_from(last.valid_loss);
            }
        }
        if model.config.nb_layers < stage.min(k_max) {
            let start = Instant::now();
            add_layer(options, &data, &maker, &mut model)?;
            state.init_seconds += start.elapsed().as_secs_f64();
            state.nb_layers = model.config.nb_layers;
            let valid_loss = validation_loss(&model, &valid, options.settings.loss)?;
            state.plateau.start_from(valid_loss);
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
            checkpoint::save(&options.checkpoint_dir(), &model, None, &state)?;
            report_progress(options, &state)?;
        }
        let mut optimizer = Optimizer::new(options.settings.optimizer, model.named_parameters());
        // A finished model taken up again has no optimizer state (`tensors_file` is empty).
        if resumed_mid_stage && state.epochs_done > 0 && !state.tensors_file.is_empty() {
            let mut tensors =
                checkpoint::tensors(&options.checkpoint_dir(), &state, options.device)?;
            optimizer.restore(&mut tensors, state.optimizer_steps)?;
        }
        let mut next_epoch: Option<Sampling> = None;
        for epoch in state.epochs_done + 1..=nb_epochs {
            if state.plateau.stopped {
                break;
            }
            let lr = state.plateau.lr(base_lr);
            let epoch_start = Instant::now();
            let (frames, mut rng) = match next_epoch.take() {
                Some(sampling) if sampling.epoch == epoch => sampling.join()?,
                _ => sample_epoch(&maker, &data, options, stage, epoch)?,
            };
            // The next epoch's frames are sampled while this one trains.
            if epoch < nb_epochs {
                next_epoch = Some(Sampling::start(&maker, &data, options, stage, epoch + 1));
            }
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
            let valid_loss = validation_loss(&model, &valid, options.settings.loss)?;
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
            match state.plateau.observe(valid_loss, &PlateauSettings::of(&options.settings)) {
                Verdict::Decayed(_) => log(
                    options,
                    format_args!(
                        "stage {stage_name}: no better validation loss in {} epoch(s): learning rate now {:.3e}",
                        options.settings.lr_patience,
                        state.plateau.lr(base_lr)
                    ),
                ),
                Verdict::Stop => log(
                    options,
                    format_args!(
                        "stage {stage_name}: no better validation loss in {} epoch(s): stage ends early",
                        options.settings.early_stop
                    ),
                ),
                Verdict::Improved | Verdict::NoImprovement => {}
            }
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
            checkpoint::save(&options.checkpoint_dir(), &model, Some(&optimizer), &state)?;
            report_progress(options, &state)?;
            session_epochs += 1;
            if options
                .stop_after_epochs
                .is_some_and(|n| session_epochs >= n)
            {
                return Err(Error::Interrupted);
            }
        }
    }

    // The best model is a new layer's initialisation: no gradient epoch of the deepest stack
    // improved on it. Say so, with what usually helps.
    if state.best_at.ends_with("/0") && state.epochs > 0 {
        log(
            options,
            format_args!(
                "saex: note: no training epoch of the {}-layer stack beat its initialisation \
                 (valid loss {:.6} at {}): the saved model is that initialisation. With little \
                 data ({} training track(s)), try a smaller step (--lr {:e} --finetune-lr {:e}), \
                 --no-augment, --early-stop 2, or more tracks",
                model.config.nb_layers,
                state.best_valid_loss.unwrap_or(f64::NAN),
                state.best_at,
                data.train.len(),
                options.settings.lr / 10.0,
                options.settings.finetune_lr / 10.0,
            ),
        );
    }
    // Final summary into the best model's config.json; the checkpoint is no longer needed.
    let best_valid_loss = state.best_valid_loss.unwrap_or(f64::NAN);
    state.seconds = seconds_before + session_start.elapsed().as_secs_f64();
    let config_path = options.out.join(CONFIG_FILE);
    let mut config = ModelConfig::read(&config_path)?;
    config.training = Some(summary(options, &data, &state));
    config.command = command(&state);
    config.write(&config_path)?;
    write_history(options, &state.history)?;
    let dir = options.checkpoint_dir();
    std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(TrainReport {
        out: options.out.clone(),
        best_valid_loss,
        best_at: state.best_at.clone(),
        epochs: state.epochs,
        frames_per_second: state.frames_per_second(),
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

/// Creates the output folder and refuses to clobber a model or an unfinished run by accident.
fn prepare_out(options: &TrainOptions) -> Result<()> {
    let out = &options.out;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let state = options.checkpoint_dir().join(checkpoint::STATE_FILE);
    if options.resume {
        // Without a checkpoint, a finished model is trained longer (checked when it loads).
        if !state.is_file() && !out.join(CONFIG_FILE).is_file() {
            return Err(Error::file(out, checkpoint::NOTHING_TO_RESUME));
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
    let dir = options.checkpoint_dir();
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
    let (weight, bias) = match options.model.init {
        Init::Identity => identity_layer(&shape_config, k, options.device),
        Init::Random => {
            model::random_layer(&shape_config, k, options.settings.seed, options.device)?
        }
        Init::Ls => least_squares_layer(options, data, maker, model)?,
        Init::Autoencoder => autoencoder_layer(options, data, maker, model, &shape_config)?,
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
    for_each_init_set(options, data, maker, k, |frames, _| {
        for picks in batches(frames.nb_centres(), EVAL_BATCH, options.device) {
            let (x, s) = frames.batch(&picks, options.model.context, options.model.context_stride);
            let (z, scale) = model.hidden(&x);
            match scale {
                Some(scale) => acc.add(&z, &(s / &scale), Some(&scale.square()))?,
                None => acc.add(&z, &s, None)?,
            }
        }
        Ok(())
    })?;
    let accumulated = start.elapsed().as_secs_f64();
    let solved = acc.solve(options.settings.ridge)?;
    log(options, format_args!(
        "layer {k}: least squares over {} frames of {dim_in} inputs: {accumulated:.2} s sampling and accumulating, {:.2} s solving",
        acc.nb_rows(),
        start.elapsed().as_secs_f64() - accumulated
    ));
    Ok(solved)
}

/// The `autoencoder` init of the next layer: the random init, pretrained as the encoder of the
/// current representation over `ls_frames` unaugmented frames (in sets of at most
/// `frames_per_epoch`), `autoencoder_epochs` passes over each set.
fn autoencoder_layer(
    options: &TrainOptions,
    data: &Dataset,
    maker: &FrameMaker,
    model: &Model,
    shape_config: &ModelConfig,
) -> Result<(Tensor, Tensor)> {
    let k = model.config.nb_layers + 1;
    let settings = &options.settings;
    let (weight, bias) = model::random_layer(shape_config, k, settings.seed, options.device)?;
    let start = Instant::now();
    let mut error = f64::NAN;
    for_each_init_set(options, data, maker, k, |frames, remaining| {
        let z = tch::no_grad(|| {
            let parts: Vec<Tensor> = batches(frames.nb_centres(), EVAL_BATCH, options.device)
                .iter()
                .map(|picks| {
                    model
                        .hidden(
                            &frames
                                .batch(picks, options.model.context, options.model.context_stride)
                                .0,
                        )
                        .0
                })
                .collect();
            Tensor::cat(&parts, 0)
        });
        error = autoencoder::pretrain(
            &z,
            &weight,
            &bias,
            settings.autoencoder_epochs,
            settings.batch_size,
            settings.lr,
            settings.seed ^ ((k as u64) << 32 | remaining as u64),
        )?;
        Ok(())
    })?;
    log(options, format_args!(
        "layer {k}: autoencoder pretraining over {} frames, {} pass(es): reconstruction error {error:.6} ({:.1} s)",
        settings.ls_frames,
        settings.autoencoder_epochs,
        start.elapsed().as_secs_f64()
    ));
    Ok((weight, bias))
}

/// The frames a new layer `k`'s init learns from: `ls_frames` frames sampled without
/// augmentation, in sets of at most `frames_per_epoch` (bounded memory), from a generator
/// stream of their own. `f` gets each set and the frames still to come, this set included.
fn for_each_init_set(
    options: &TrainOptions,
    data: &Dataset,
    maker: &FrameMaker,
    k: usize,
    mut f: impl FnMut(&FrameSet, usize) -> Result<()>,
) -> Result<()> {
    let settings = &options.settings;
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    rng.set_stream(u64::MAX - k as u64);
    let mut remaining = settings.ls_frames;
    while remaining > 0 {
        let chunk = remaining.min(settings.frames_per_epoch);
        let frames = maker.sample(
            &data.train,
            &data.target,
            chunk,
            ExcerptPlan {
                augment: Augment::NONE,
                ..ExcerptPlan::of(settings)
            },
            &mut rng,
        )?;
        f(&frames, remaining)?;
        remaining -= chunk;
    }
    Ok(())
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
    let bar = crate::progress::percent_bar(n as u64, "frames", options.quiet);
    // `finetune epoch 3/10 loss 0.01234`: short enough for the bar's line.
    let short_label = label.replace("stage finetune", "finetune");
    bar.set_message(short_label.clone());
    let start = Instant::now();
    let mut loss_sum = 0.0;
    for picks in order.split(options.settings.batch_size as i64, 0) {
        if stop.load(Ordering::SeqCst) {
            bar.abandon();
            return Err(Error::Interrupted);
        }
        let (x, s) = frames.batch(&picks, options.model.context, options.model.context_stride);
        let loss =
            options
                .settings
                .loss
                .mean(&model.forward_train(&x), &s, &frames.centre_mix(&picks));
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
        bar.set_message(format!(
            "{short_label} loss {:.5}",
            loss_sum / bar.position() as f64
        ));
    }
    bar.finish_and_clear();
    Ok((loss_sum / n.max(1) as f64, start.elapsed().as_secs_f64()))
}

/// The training loss's mean over every validation centre and bin.
fn validation_loss(model: &Model, valid: &FrameSet, loss: Loss) -> Result<f64> {
    let (context, stride) = (model.config.context, model.config.context_stride);
    let mut sum = 0.0;
    let mut count = 0.0;
    for picks in batches(valid.nb_centres(), EVAL_BATCH, model.device()) {
        let (x, s) = valid.batch(&picks, context, stride);
        let err = loss
            .squared_errors(&model.forward(&x), &s, &valid.centre_mix(&picks))
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
        config.command = command(state);
        model.save_as(&options.out, &config)?;
    }
    write_history(options, &state.history)?;
    state.seconds = seconds_before + session_start.elapsed().as_secs_f64();
    Ok(())
}

/// The command of config.json: every session's command line, first to last.
fn command(state: &RunState) -> Option<String> {
    (!state.commands.is_empty()).then(|| state.commands.join("; "))
}

/// The training summary of config.json: the settings as they are, and the run so far.
fn summary(options: &TrainOptions, data: &Dataset, state: &RunState) -> TrainingSummary {
    TrainingSummary {
        // Absolute (or `$SAEX_CACHE/...`), so that `--resume` finds it from any folder.
        data: crate::locate::portable_path(
            &std::path::absolute(&options.data).unwrap_or_else(|_| options.data.clone()),
        ),
        nb_tracks_train: data.train.len(),
        nb_tracks_valid: data.valid.len(),
        valid_source: data.valid_source.clone(),
        settings: options.settings.clone(),
        epochs: state.epochs,
        frames_per_second: (state.frames_per_second() * 10.0).round() / 10.0,
        best_valid_loss: state.best_valid_loss.unwrap_or(f64::NAN),
        best_at: state.best_at.clone(),
        init_seconds: (state.init_seconds * 1000.0).round() / 1000.0,
        seconds: (state.seconds * 1000.0).round() / 1000.0,
        device: crate::device_name(options.device),
        saex_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

fn write_history(options: &TrainOptions, rows: &[HistoryRow]) -> Result<()> {
    history::write(&options.out.join(HISTORY_CSV), rows)?;
    plot::write_history_png(&options.out.join(HISTORY_PNG), rows)
}
