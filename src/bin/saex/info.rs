//! `saex info`: a model's configuration and training summary, after loading (and so checking)
//! its weights.

use clap::Args as ClapArgs;
use saex::eval::{ModelScores, SCORED_METHODS};
use saex::Model;
use std::path::PathBuf;
use std::process::ExitCode;

/// Print a model's configuration and training summary. Without --model: the default model,
/// the shipped models, and where they are looked for.
#[derive(ClapArgs, Debug)]
pub struct Args {
    /// The model folder (config.json + model.safetensors), or a shipped model's name
    /// (default: the shipped vocals model).
    #[arg(long, value_name = "DIR|NAME")]
    model: Option<PathBuf>,
    /// Print config.json as JSON instead
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = match &args.model {
        Some(arg) => saex::locate::resolve_model(arg)?,
        None => {
            if !args.json {
                print_search_path();
            }
            saex::locate::find_model(saex::locate::DEFAULT_MODEL)?
        }
    };
    let model = Model::load(&dir, tch::Device::Cpu)?;
    let c = &model.config;
    if args.json {
        println!("{}", serde_json::to_string_pretty(c)?);
        return Ok(ExitCode::SUCCESS);
    }
    let weights_bytes = std::fs::metadata(dir.join(saex::model::WEIGHTS_FILE))
        .map(|m| m.len())
        .unwrap_or(0);
    println!("model: {}", dir.display());
    println!("target: {}", c.target);
    println!("format version: {}", c.format_version);
    println!("sample rate: {} Hz", c.sample_rate);
    println!(
        "stft: n_fft {}, hop {}, {} window",
        c.n_fft, c.hop, c.window
    );
    println!(
        "input: {} frames (context {}{}) x {} bins = {} values",
        2 * c.context + 1,
        c.context,
        if c.context_stride == 1 {
            String::new()
        } else {
            format!(", every {} frames", c.context_stride)
        },
        c.nb_bins_in,
        c.nb_inputs()
    );
    println!(
        "output: {} bins (0 to {:.0} Hz)",
        c.nb_bins,
        (c.nb_bins - 1) as f64 * c.sample_rate as f64 / c.n_fft as f64
    );
    println!("layers: {} (relu, {} units each)", c.nb_layers, c.nb_bins);
    println!("scaling: {}", if c.scaling { "per frame" } else { "off" });
    println!("init: {}", c.init);
    println!(
        "weights: {} parameters, {} ({:.2} MB), all finite",
        model.nb_parameters(),
        c.dtype,
        weights_bytes as f64 / 1e6
    );
    match &c.training {
        Some(t) => {
            let s = &t.settings;
            println!("training:");
            println!(
                "  data: {} ({} train tracks, {} valid tracks: {})",
                t.data, t.nb_tracks_train, t.nb_tracks_valid, t.valid_source
            );
            println!(
                "  epochs: {} ({} per stage, {} fine-tuning), {} frames each, excerpts of {} s",
                t.epochs,
                s.epochs_per_stage,
                s.finetune_epochs,
                s.frames_per_epoch,
                s.excerpt_seconds
            );
            println!(
                "  optimizer: {} lr {} (fine-tuning {}), batch {}, seed {}",
                s.optimizer.name(),
                s.lr,
                s.finetune_lr,
                s.batch_size,
                s.seed
            );
            println!(
                "  augmentation: {}",
                if s.augment.names().is_empty() {
                    "none".to_string()
                } else {
                    s.augment.names().join(", ")
                }
            );
            if c.init == saex::model::Init::Ls && s.ls_frames > 0 {
                println!("  least-squares init: {} frames per layer", s.ls_frames);
            }
            println!(
                "  best valid loss: {:.6} at stage/epoch {}",
                t.best_valid_loss, t.best_at
            );
            println!(
                "  time: {:.1} s on {} ({:.0} frames/s, {:.1} s of init)",
                t.seconds, t.device, t.frames_per_second, t.init_seconds
            );
            println!("  saex version: {}", t.saex_version);
        }
        None => println!("training: no summary"),
    }
    if let Some(command) = &c.command {
        println!("command: {command}");
    }
    for (_, scores) in c.scores.iter() {
        print_scores(&c.target, scores);
    }
    Ok(ExitCode::SUCCESS)
}

/// The default model, the shipped models, those of `SAEX_MODELS`, and the folders searched.
fn print_search_path() {
    use saex::locate::{model_search_path, models_env, names_in, shipped_models, DEFAULT_MODEL};
    println!("default model: {DEFAULT_MODEL}");
    println!("shipped models: {}", shipped_models().join(", "));
    if let Some(root) = models_env() {
        let names = names_in(&root);
        println!(
            "models in SAEX_MODELS ({}): {}",
            root.display(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
    }
    println!("search order (--model NAME, and the default; SAEX_MODELS first when set):");
    for place in model_search_path(DEFAULT_MODEL) {
        let found = place.join("config.json").is_file();
        println!("  {} {}", if found { "*" } else { " " }, place.display());
    }
    println!();
}

/// The target's median SDR per method.
fn print_scores(target: &str, scores: &ModelScores) {
    println!("scores on {}:", scores.data);
    let known = SCORED_METHODS.iter().map(|m| m.to_string());
    let others = scores
        .methods
        .keys()
        .filter(|m| !SCORED_METHODS.contains(&m.as_str()))
        .cloned();
    for method in known.chain(others) {
        if let Some(m) = scores.methods.get(&method) {
            match m.sdr(target) {
                Some(v) => println!(
                    "  {method:<10} {target} SDR {v:6.2} dB ({} tracks)",
                    m.nb_tracks
                ),
                None => println!("  {method:<10} {target} SDR n/a ({} tracks)", m.nb_tracks),
            }
        }
    }
}
