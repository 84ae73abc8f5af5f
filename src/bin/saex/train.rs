//! `saex train`: layer-wise training of a model from paired stems.

use crate::common::{set_threads, stop_on_ctrl_c};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args as ClapArgs};
use saex::model::{Dtype, Init, ModelConfig};
use saex::train::{train, Augment, Fingerprint, Loss, OptimizerKind, TrainOptions, TrainSettings};
use saex::{parse_device, Error};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(ClapArgs, Debug)]
#[command(
    override_usage = "saex train --data DIR --target NAME --out DIR [OPTIONS]\n       \
                      saex train --resume --out DIR [OPTIONS]",
    after_help = "Examples:
  saex train --data MUSDB18-HQ --target vocals --out models/my-vocals
  saex train --resume --out models/my-vocals            (continue after Ctrl-C or a kill)
  saex train --resume --out models/my-vocals --finetune-epochs 20   (train longer)"
)]
pub struct Args {
    /// Data folder in the MUSDB18-HQ layout: DATA/train/<track>/<stem>.wav (and DATA/valid/...),
    /// or MUSDB18's DATA/train/<track>.stem.mp4 (streams mixture, drums, bass, other, vocals);
    /// with --resume, taken from the checkpoint (or the finished model's config.json) unless
    /// given (e.g. after moving the data)
    #[arg(long, value_name = "DIR", required_unless_present = "resume")]
    data: Option<PathBuf>,
    /// The stem to extract, e.g. vocals (with --resume: the stored run's)
    #[arg(long, value_name = "NAME", required_unless_present = "resume")]
    target: Option<String>,
    /// Model folder to write (config.json, model.safetensors, history.csv, history.png)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Number of layers K
    #[arg(long, value_name = "K", default_value_t = model().nb_layers)]
    layers: usize,
    /// Initialisation of each new layer: ls, identity, random or autoencoder
    #[arg(long, value_name = "ls|identity|random|autoencoder", default_value_t = model().init)]
    init: Init,
    /// Context C: the input is the 2C+1 frames centred on each frame
    #[arg(long, value_name = "C", default_value_t = model().context)]
    context: usize,
    /// Context stride S: the 2C+1 input frames are S frames apart (2: every second frame, as in
    /// the paper), reaching C * S frames to each side
    #[arg(long, value_name = "S", default_value_t = model().context_stride)]
    context_stride: usize,
    /// Input bins per frame (lowest bins), at most n_fft/2+1
    #[arg(long, value_name = "N", default_value_t = model().nb_bins_in)]
    bins_in: usize,
    /// Output bins (lowest bins) = hidden width, at most n_fft/2+1
    #[arg(long, value_name = "N", default_value_t = model().nb_bins)]
    bins: usize,
    /// STFT window length in samples (a power of two is fastest)
    #[arg(long, value_name = "N", default_value_t = model().n_fft)]
    n_fft: usize,
    /// STFT hop in samples, at most n_fft
    #[arg(long, value_name = "N", default_value_t = model().hop)]
    hop: usize,
    /// The model's sample rate (stems at other rates are resampled)
    #[arg(long, value_name = "HZ", default_value_t = model().sample_rate)]
    sample_rate: u32,
    /// Epochs per layer-wise stage (one stage per layer, each adding a layer)
    #[arg(long, value_name = "N", default_value_t = settings().epochs_per_stage)]
    epochs_per_stage: usize,
    /// Epochs of fine-tuning all layers after the last stage (0: none)
    #[arg(long, value_name = "N", default_value_t = settings().finetune_epochs)]
    finetune_epochs: usize,
    /// Training frames sampled per epoch; memory is about frames x (bins-in + bins) x 4 bytes
    #[arg(long, value_name = "N", default_value_t = settings().frames_per_epoch)]
    frames_per_epoch: usize,
    /// Validation frames (fixed excerpts of the validation tracks)
    #[arg(long, value_name = "N", default_value_t = settings().valid_frames)]
    valid_frames: usize,
    /// Frames the least-squares init accumulates per layer
    #[arg(long, value_name = "N", default_value_t = settings().ls_frames)]
    ls_frames: usize,
    /// Passes over the --ls-frames frames that pretrain each layer with --init autoencoder
    #[arg(long, default_value_t = settings().autoencoder_epochs)]
    autoencoder_epochs: usize,
    /// Ridge of the least-squares init, relative to the mean input variance
    #[arg(long, value_name = "X", default_value_t = settings().ridge)]
    ridge: f64,
    /// Length of each sampled excerpt in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = settings().excerpt_seconds)]
    excerpt_seconds: f64,
    /// Learning rate of the layer-wise stages
    #[arg(long, value_name = "RATE", default_value_t = settings().lr)]
    lr: f64,
    /// Learning rate of fine-tuning [default: lr / 10]
    #[arg(long, value_name = "RATE")]
    finetune_lr: Option<f64>,
    /// adam or sgd (with momentum 0.9)
    #[arg(long, value_name = "adam|sgd", default_value = settings().optimizer.name())]
    optimizer: OptimizerKind,
    /// What training minimises: magnitude (squared error of the estimated magnitudes, the
    /// paper's) or masked (of the estimate clipped to the mixture's magnitude, which is what the
    /// ratio mask outputs)
    #[arg(long, value_name = "magnitude|masked", default_value = settings().loss.name())]
    loss: Loss,
    /// Epochs of a stage without a better validation loss before the learning rate is
    /// multiplied by --lr-decay (0: never)
    #[arg(long, value_name = "N", default_value_t = settings().lr_patience)]
    lr_patience: usize,
    /// The learning-rate factor on a plateau, in (0, 1)
    #[arg(long, value_name = "FACTOR", default_value_t = settings().lr_decay)]
    lr_decay: f64,
    /// Epochs of a stage without a better validation loss that end the stage early (0: never)
    #[arg(long, value_name = "N", default_value_t = settings().early_stop)]
    early_stop: usize,
    /// Frames per optimiser step
    #[arg(long, value_name = "N", default_value_t = settings().batch_size)]
    batch_size: usize,
    /// Seed of every random choice (init, excerpts, augmentation): the same seed and data give
    /// the same model
    #[arg(long, value_name = "N", default_value_t = settings().seed)]
    seed: u64,
    /// auto, cpu, cuda or cuda:N
    #[arg(long, value_name = "DEVICE", default_value = "auto")]
    device: String,
    /// Feed frames unscaled (no per-frame normalisation)
    #[arg(long)]
    no_scaling: bool,
    /// Turn every augmentation off
    #[arg(long)]
    no_augment: bool,
    /// No random mixing of stems across tracks
    #[arg(long)]
    no_mix: bool,
    /// The chance that a training excerpt is remixed from random tracks' stems (the mix
    /// augmentation); otherwise its own stems make a coherent mix
    #[arg(long, value_name = "P", default_value_t = 1.0)]
    mix_probability: f64,
    /// No random gains per stem
    #[arg(long)]
    no_gain: bool,
    /// No random left/right swap per stem
    #[arg(long)]
    no_swap: bool,
    /// No random EQ per stem
    #[arg(long)]
    no_eq: bool,
    /// No random short reverb per stem
    #[arg(long)]
    no_reverb: bool,
    /// No random speed (pitch and tempo) change per stem
    #[arg(long)]
    no_speed: bool,
    /// Storage precision of the saved weights: f16 or f32
    #[arg(long, value_name = "f16|f32", default_value_t = model().dtype)]
    dtype: Dtype,
    /// Continue the unfinished run in OUT/checkpoint with the settings it was started with (no
    /// need to repeat them); --epochs-per-stage and --finetune-epochs may be raised to train
    /// longer, any other setting given must match the checkpoint. On a finished model (no
    /// checkpoint), raise --finetune-epochs to fine-tune it further from its saved weights, its
    /// settings taken from its config.json (the optimizer state starts afresh)
    #[arg(long)]
    resume: bool,
    /// Replace a model or an unfinished run already in OUT
    #[arg(long)]
    force: bool,
    /// No progress bars or per-epoch lines
    #[arg(long, short)]
    quiet: bool,
    /// Stop as if interrupted after N epochs (for testing --resume)
    #[arg(long, hide = true)]
    stop_after_epochs: Option<usize>,
}

/// The defaults of the model's shape (the target does not change them).
fn model() -> ModelConfig {
    ModelConfig::default_for("")
}

/// The defaults of the settings.
fn settings() -> TrainSettings {
    TrainSettings::default()
}

pub fn run(args: Args, matches: &ArgMatches) -> anyhow::Result<ExitCode> {
    let device = parse_device(&args.device)?;
    let mut options = TrainOptions::new(
        args.data.clone().unwrap_or_default(),
        args.out.clone(),
        args.target.as_deref().unwrap_or_default(),
    );
    let model = &mut options.model;
    model.nb_layers = args.layers;
    model.init = args.init;
    model.context = args.context;
    model.context_stride = args.context_stride;
    model.nb_bins_in = args.bins_in;
    model.nb_bins = args.bins;
    model.n_fft = args.n_fft;
    model.hop = args.hop;
    model.sample_rate = args.sample_rate;
    model.scaling = !args.no_scaling;
    model.dtype = args.dtype;
    options.settings = TrainSettings {
        epochs_per_stage: args.epochs_per_stage,
        finetune_epochs: args.finetune_epochs,
        frames_per_epoch: args.frames_per_epoch,
        valid_frames: args.valid_frames,
        ls_frames: args.ls_frames,
        autoencoder_epochs: args.autoencoder_epochs,
        ridge: args.ridge,
        excerpt_seconds: args.excerpt_seconds,
        optimizer: args.optimizer,
        lr: args.lr,
        finetune_lr: args.finetune_lr.unwrap_or(args.lr / 10.0),
        batch_size: args.batch_size,
        seed: args.seed,
        augment: if args.no_augment {
            Augment::NONE
        } else {
            Augment {
                mix: !args.no_mix,
                gain: !args.no_gain,
                swap: !args.no_swap,
                eq: !args.no_eq,
                reverb: !args.no_reverb,
                speed: !args.no_speed,
            }
        },
        mix_probability: args.mix_probability,
        lr_patience: args.lr_patience,
        lr_decay: args.lr_decay,
        early_stop: args.early_stop,
        loss: args.loss,
    };
    if args.resume {
        take_stored_settings(&mut options, matches)?;
    }
    options.device = device;
    options.resume = args.resume;
    options.force = args.force;
    options.quiet = args.quiet;
    options.stop_after_epochs = args.stop_after_epochs;
    options.command = Some(command_line());

    // Training runs one network at a time: LibTorch gets every core.
    set_threads();
    let stop = stop_on_ctrl_c(" after saving the checkpoint")?;

    match train(&options, &stop) {
        Ok(report) => {
            if !args.quiet {
                eprintln!(
                    "trained {} epochs in {:.1} s ({:.0} frames/s, {:.1} s of init): best valid loss {:.6} at {}; model in {}",
                    report.epochs,
                    report.seconds,
                    report.frames_per_second,
                    report.init_seconds,
                    report.best_valid_loss,
                    report.best_at,
                    report.out.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(Error::Interrupted) => {
            eprintln!(
                "saex: interrupted; the checkpoint of the last finished epoch is in {}; continue with --resume",
                args.out.join(saex::train::CHECKPOINT_DIR).display()
            );
            Ok(ExitCode::from(130))
        }
        Err(e) => Err(e.into()),
    }
}

/// Each key of the training fingerprint (a JSON pointer into
/// [`Fingerprint::to_value`]) with the flags that set it.
const SETTING_FLAGS: &[(&str, &[&str])] = &[
    ("/model/target", &["target"]),
    ("/model/nb_layers", &["layers"]),
    ("/model/init", &["init"]),
    ("/model/context", &["context"]),
    ("/model/context_stride", &["context_stride"]),
    ("/model/nb_bins_in", &["bins_in"]),
    ("/model/nb_bins", &["bins"]),
    ("/model/n_fft", &["n_fft"]),
    ("/model/hop", &["hop"]),
    ("/model/sample_rate", &["sample_rate"]),
    ("/model/scaling", &["no_scaling"]),
    ("/model/dtype", &["dtype"]),
    ("/epochs_per_stage", &["epochs_per_stage"]),
    ("/finetune_epochs", &["finetune_epochs"]),
    ("/frames_per_epoch", &["frames_per_epoch"]),
    ("/valid_frames", &["valid_frames"]),
    ("/ls_frames", &["ls_frames"]),
    ("/autoencoder_epochs", &["autoencoder_epochs"]),
    ("/ridge", &["ridge"]),
    ("/excerpt_seconds", &["excerpt_seconds"]),
    ("/optimizer", &["optimizer"]),
    ("/lr", &["lr"]),
    ("/finetune_lr", &["finetune_lr"]),
    ("/batch_size", &["batch_size"]),
    ("/seed", &["seed"]),
    (
        "/augment",
        &[
            "no_augment",
            "no_mix",
            "no_gain",
            "no_swap",
            "no_eq",
            "no_reverb",
            "no_speed",
        ],
    ),
    ("/mix_probability", &["mix_probability"]),
    ("/lr_patience", &["lr_patience"]),
    ("/lr_decay", &["lr_decay"]),
    ("/early_stop", &["early_stop"]),
    ("/loss", &["loss"]),
];

/// For `--resume`: the model's shape and settings become the checkpoint's, except those whose
/// flags were given on the command line, which must match it (the epochs may be raised); the
/// data folder is the checkpoint's unless `--data` is given.
fn take_stored_settings(options: &mut TrainOptions, matches: &ArgMatches) -> anyhow::Result<()> {
    let stored = saex::train::stored_run(&options.out)?;
    let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    let now = Fingerprint::new(&options.model, &options.settings).to_value();
    let mut merged = Fingerprint::new(&stored.model, &stored.settings).to_value();
    let checkpoint = stored.source.clone();
    for (key, flags) in SETTING_FLAGS {
        if !flags.iter().any(|f| given(f)) {
            continue;
        }
        let (Some(old), Some(new)) = (merged.pointer(key), now.pointer(key)) else {
            continue;
        };
        if old == new {
            continue;
        }
        let flags: Vec<String> = flags
            .iter()
            .filter(|f| given(f))
            .map(|f| format!("--{}", f.replace('_', "-")))
            .collect();
        let name = key.rsplit('/').next().unwrap_or(key);
        let raised = matches!((old.as_u64(), new.as_u64()), (Some(a), Some(b)) if b > a);
        if !saex::train::RAISABLE_ON_RESUME.contains(&name) {
            anyhow::bail!(
                "{}: {} gives {name} {new}, the run was started with {old}; a resumed run keeps its settings \
                 (leave the flag out, or start over with --force)",
                checkpoint.display(),
                flags.join(" ")
            );
        }
        if !raised {
            anyhow::bail!(
                "{}: {} gives {name} {new}, the run was started with {old}; on resume it may only be raised",
                checkpoint.display(),
                flags.join(" ")
            );
        }
        *merged.pointer_mut(key).expect("the key was just read") = new.clone();
    }
    let fingerprint = Fingerprint::from_value(merged)?;
    options.model = fingerprint.model;
    options.settings = fingerprint.settings;
    if matches.value_source("data") != Some(ValueSource::CommandLine) {
        options.data = stored.data.ok_or_else(|| {
            anyhow::anyhow!(
                "{}: does not record a data folder that is here (an older saex, or another machine): give --data",
                checkpoint.display()
            )
        })?;
    }
    Ok(())
}

/// The command line as typed (arguments with spaces quoted, paths under saex's cache written
/// `$SAEX_CACHE/...`).
fn command_line() -> String {
    std::env::args()
        .map(|a| saex::locate::portable_path(std::path::Path::new(&a)))
        .map(|a| {
            if a.contains(char::is_whitespace) {
                format!("{a:?}")
            } else {
                a
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    /// Every setting of the fingerprint has its flags in [`SETTING_FLAGS`], and they exist.
    #[test]
    fn every_setting_has_its_flags() {
        let command = Cli::command();
        let ids: Vec<&str> = command
            .get_arguments()
            .map(|a| a.get_id().as_str())
            .collect();
        for (_, flags) in SETTING_FLAGS {
            for flag in *flags {
                assert!(ids.contains(flag), "no argument {flag}");
            }
        }
        let fingerprint =
            Fingerprint::new(&ModelConfig::default_for("x"), &TrainSettings::default()).to_value();
        let mut keys = Vec::new();
        for (key, value) in fingerprint.as_object().unwrap() {
            match value.as_object() {
                Some(inner) => keys.extend(inner.keys().map(|k| format!("/{key}/{k}"))),
                None => keys.push(format!("/{key}")),
            }
        }
        for key in keys {
            // The format version and the window are not chosen on the command line.
            if key == "/model/format_version" || key == "/model/window" {
                continue;
            }
            assert!(
                SETTING_FLAGS.iter().any(|(k, _)| *k == key),
                "{key} has no flags in SETTING_FLAGS"
            );
        }
    }
}
