//! `saex train`: layer-wise training of a model from paired stems.

use crate::common::{set_threads, stop_on_ctrl_c};
use clap::Args as ClapArgs;
use saex::train::{train, Augment, OptimizerKind, TrainOptions};
use saex::{parse_device, Error};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// Data folder in the MUSDB18-HQ layout: DATA/train/<track>/<stem>.wav (and DATA/valid/...)
    #[arg(long)]
    data: PathBuf,
    /// The stem to extract, e.g. vocals
    #[arg(long)]
    target: String,
    /// Model folder to write (config.json, model.safetensors, history.csv, history.png)
    #[arg(long)]
    out: PathBuf,
    /// Number of layers K
    #[arg(long, default_value_t = 3)]
    layers: usize,
    /// Initialisation of each new layer: ls, identity or random
    #[arg(long, default_value = "ls")]
    init: String,
    /// Context C: the input is the 2C+1 frames centred on each frame
    #[arg(long, default_value_t = 3)]
    context: usize,
    /// Input bins per frame (lowest bins), at most n_fft/2+1
    #[arg(long, default_value_t = 513)]
    bins_in: usize,
    /// Output bins (lowest bins) = hidden width, at most n_fft/2+1
    #[arg(long, default_value_t = 513)]
    bins: usize,
    /// STFT window length in samples (a power of two is fastest)
    #[arg(long, default_value_t = 2048)]
    n_fft: usize,
    /// STFT hop in samples, at most n_fft
    #[arg(long, default_value_t = 512)]
    hop: usize,
    /// The model's sample rate (stems at other rates are resampled)
    #[arg(long, default_value_t = 44_100)]
    sample_rate: u32,
    /// Epochs per layer-wise stage (one stage per layer, each adding a layer)
    #[arg(long, default_value_t = 10)]
    epochs_per_stage: usize,
    /// Epochs of fine-tuning all layers after the last stage (0: none)
    #[arg(long, default_value_t = 10)]
    finetune_epochs: usize,
    /// Training frames sampled per epoch; memory is about frames x (bins-in + bins) x 4 bytes
    #[arg(long, default_value_t = 32_768)]
    frames_per_epoch: usize,
    /// Validation frames (fixed excerpts of the validation tracks)
    #[arg(long, default_value_t = 8192)]
    valid_frames: usize,
    /// Frames the least-squares init accumulates per layer
    #[arg(long, default_value_t = 32_768)]
    ls_frames: usize,
    /// Ridge of the least-squares init, relative to the mean input variance
    #[arg(long, default_value_t = saex::train::init::DEFAULT_RIDGE)]
    ridge: f64,
    /// Length of each sampled excerpt in seconds
    #[arg(long, default_value_t = 6.0)]
    excerpt_seconds: f64,
    /// Learning rate of the layer-wise stages
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Learning rate of fine-tuning [default: lr / 10]
    #[arg(long)]
    finetune_lr: Option<f64>,
    /// adam or sgd (with momentum 0.9)
    #[arg(long, default_value = "adam")]
    optimizer: String,
    /// Frames per optimiser step
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    /// Seed of every random choice (init, excerpts, augmentation): the same seed and data give
    /// the same model
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// auto, cpu, cuda or cuda:N
    #[arg(long, default_value = "auto")]
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
    /// No random gains per stem
    #[arg(long)]
    no_gain: bool,
    /// No random left/right swap per stem
    #[arg(long)]
    no_swap: bool,
    /// Storage precision of the saved weights: f16 or f32
    #[arg(long, default_value = "f16")]
    dtype: String,
    /// Continue the unfinished run in OUT/checkpoint
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

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let device = parse_device(&args.device)?;
    let mut options = TrainOptions::new(args.data.clone(), args.out.clone(), &args.target);
    let model = &mut options.model;
    model.nb_layers = args.layers;
    model.init = args.init.clone();
    model.context = args.context;
    model.nb_bins_in = args.bins_in;
    model.nb_bins = args.bins;
    model.n_fft = args.n_fft;
    model.hop = args.hop;
    model.sample_rate = args.sample_rate;
    model.scaling = !args.no_scaling;
    model.dtype = args.dtype.clone();
    options.epochs_per_stage = args.epochs_per_stage;
    options.finetune_epochs = args.finetune_epochs;
    options.frames_per_epoch = args.frames_per_epoch;
    options.valid_frames = args.valid_frames;
    options.ls_frames = args.ls_frames;
    options.ridge = args.ridge;
    options.excerpt_seconds = args.excerpt_seconds;
    options.lr = args.lr;
    options.finetune_lr = args.finetune_lr.unwrap_or(args.lr / 10.0);
    options.optimizer = OptimizerKind::parse(&args.optimizer)?;
    options.batch_size = args.batch_size;
    options.seed = args.seed;
    options.augment = if args.no_augment {
        Augment::NONE
    } else {
        Augment {
            mix: !args.no_mix,
            gain: !args.no_gain,
            swap: !args.no_swap,
        }
    };
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

/// The command line as typed (arguments with spaces quoted).
fn command_line() -> String {
    std::env::args()
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
