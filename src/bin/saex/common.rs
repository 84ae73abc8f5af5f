//! Argument pieces shared by the subcommands that separate.

use anyhow::Context;
use clap::Args;
use saex::model::Precision;
use saex::separate::{MaskKind, Separator, SeparatorSettings, Stems};
use saex::ThreadPlan;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Models and how to run them.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model folder (config.json + model.safetensors), or the name of a shipped model (vocals,
    /// bass, drums); repeat for several targets at once. Default: the shipped `vocals` model
    /// (`saex info` shows where models are looked for).
    #[arg(long = "model", value_name = "DIR|NAME")]
    pub models: Vec<PathBuf>,
    /// A standard split with the shipped models, instead of --model: 4 (vocals, drums, bass and
    /// other, the residual, with the joint Wiener mask) or 2 (vocals and accompaniment).
    #[arg(long, value_name = "2|4", conflicts_with = "models")]
    pub stems: Option<Stems>,
    /// How estimates become masks: `ratio` (min(S/|X|, 1)), `wiener` (joint S^2 / sum S^2,
    /// targets and residual sum to the mix), or `auto`: ratio for one target, wiener for
    /// several.
    #[arg(long, default_value = "auto", value_name = "auto|ratio|wiener")]
    pub mask: MaskChoice,
    /// Iterations of the multichannel Wiener filter after the masks (expectation-maximisation
    /// of each source's spectrum and spatial covariance, as Open-Unmix's --niter); 0: the masks
    /// alone.
    #[arg(long, default_value_t = saex::separate::SeparateOptions::default().niter, value_name = "N")]
    pub niter: usize,
    /// Where the network runs: auto (the first CUDA GPU if there is one, else the CPU), cpu,
    /// cuda (gpu) or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Cores to use in all (default: every core this process may run on). The networks'
    /// LibTorch threads and the rayon pool of the signal processing share them without
    /// oversubscribing: each file in flight gets --network-threads, the pool the rest.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// LibTorch threads per file for the network (default: half of each file's share of
    /// --threads, at least 1; 1 when the network runs on a GPU).
    #[arg(long, value_name = "N")]
    pub network_threads: Option<usize>,
    /// The precision of the network's matrix products: f32, bf16 (about 3 times faster than
    /// f32 on CPUs with AMX, 2.5 times with AVX512-BF16, slower where neither exists; the
    /// outputs differ slightly), int8 (CPU only: 8-bit products, a 3-minute file about 20 %
    /// faster than bf16 on CPUs with VNNI, but measurably worse: vocals SDR 0.4 to 0.8 dB lower
    /// in median, for quick previews), or auto: bf16 on a CPU that multiplies bf16 natively,
    /// else f32 (GPUs included).
    #[arg(long, default_value = "auto", value_name = "auto|f32|bf16|int8")]
    pub network_precision: Precision,
    /// STFT frames per network batch and channel.
    #[arg(long, default_value_t = saex::separate::SeparateOptions::default().batch_frames, hide = true)]
    pub batch_frames: usize,
}

/// `--mask`: a kind, or `auto` (`None`), resolved once the number of targets is known.
#[derive(Clone, Copy, Debug)]
pub struct MaskChoice(pub Option<MaskKind>);

impl MaskChoice {
    pub fn for_targets(self, nb_targets: usize) -> MaskKind {
        self.0.unwrap_or(MaskKind::auto_for(nb_targets))
    }
}

impl std::str::FromStr for MaskChoice {
    type Err = saex::Error;
    fn from_str(s: &str) -> saex::Result<Self> {
        MaskKind::parse_or_auto(s).map(MaskChoice)
    }
}

impl ModelArgs {
    /// The cores --threads allows.
    pub fn cores(&self) -> usize {
        self.threads.unwrap_or_else(ThreadPlan::available_cores)
    }

    /// Splits the cores for `jobs` files at once and applies the split (rayon's pool, this
    /// thread's LibTorch threads); call before any other work.
    pub fn apply_threads(&self, jobs: usize) -> anyhow::Result<ThreadPlan> {
        let on_gpu = saex::parse_device(&self.device)?.is_cuda();
        let plan = ThreadPlan::new(self.cores(), jobs, self.network_threads, on_gpu)?;
        plan.apply()?;
        Ok(plan)
    }

    /// What the separator is built from.
    pub fn settings(&self) -> anyhow::Result<SeparatorSettings> {
        Ok(SeparatorSettings {
            models: match self.stems {
                Some(stems) => stems.model_paths(),
                None => self.models.clone(),
            },
            device: saex::parse_device(&self.device)?,
            mask: self.mask.0,
            niter: self.niter,
            precision: self.network_precision,
            batch_frames: self.batch_frames,
        })
    }

    /// The residual's name that --stems implies (`other` for four stems), when no other is given.
    pub fn stems_residual(&self) -> Option<&'static str> {
        self.stems.map(Stems::residual_name)
    }

    /// Loads every model (or the shipped default) and builds the separator.
    pub fn separator(&self) -> anyhow::Result<Separator> {
        let settings = self.settings()?;
        warn_if_emulated(&settings);
        Ok(settings.build()?)
    }
}

/// Says when the precision asked for is emulated by this CPU (see
/// [`Precision::slowness_warning`]).
pub fn warn_if_emulated(settings: &SeparatorSettings) {
    if let Some(warning) = settings.precision.slowness_warning(settings.device) {
        eprintln!("saex: warning: {warning}");
    }
}

/// Gives LibTorch every core, for training and evaluation, whose rayon and LibTorch work take
/// turns (separation splits the cores instead: [`ModelArgs::apply_threads`]).
pub fn set_threads() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    tch::set_num_threads(cores as i32);
}

/// Installs a Ctrl-C (SIGINT, SIGTERM, SIGHUP) handler that sets the returned flag, for
/// separators made with [`Separator::with_stop`] and for training: the work in progress is
/// abandoned (its temporary outputs are removed, nothing appears at its final paths) and
/// finished outputs are kept. `doing` says what happens now, after "saex: stopping". A second
/// Ctrl-C quits at once (still leaving nothing at the final paths, only hidden temporary files).
pub fn stop_on_ctrl_c(doing: &'static str) -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("saex: stopping{doing} (Ctrl-C again to quit at once)");
    })
    .context("cannot install the Ctrl-C handler")?;
    Ok(stop)
}
