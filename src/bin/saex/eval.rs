//! `saex eval`: BSS Eval v4 (museval-exact) of estimates against reference stems, or of the
//! oracle baselines computed from the stems.

use anyhow::{bail, Context};
use clap::Args as ClapArgs;
use saex::eval::report::Failure;
use saex::eval::track::track_dirs;
use saex::eval::{
    evaluate_track, museval_json, EstimateSource, FolderEstimates, MixtureSeparation, Oracle,
    Summary, TrackScores,
};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(ClapArgs)]
#[command(
    about = "Score estimates with BSS Eval v4 (museval-compatible SDR, SIR, ISR, SAR)",
    after_help = "Folders hold <track>/<target>.wav. Each target is scored together with its \
                  residual (accompaniment = the other stems; the estimate's residual is \
                  <residual>.wav when present (accompaniment.wav for vocals), or residual.wav \
                  beside a single target as saex extract --out-dir writes it, else the mixture \
                  minus the target estimate).\n\
                  Examples:\n  \
                  saex batch --in DATA/test --out separated/ --include '*/mixture.wav' \
                  --filename '{folder}/{target}.wav' --residual accompaniment\n  \
                  saex eval --reference DATA/test --estimate separated/ --out eval/\n  \
                  saex eval --data DATA/test --oracle irm --out eval-irm/"
)]
pub struct Args {
    /// Reference folder: <track>/<stem>.wav (and optionally mixture.wav).
    #[arg(long, requires = "estimate", conflicts_with_all = ["data", "oracle", "models"])]
    reference: Option<PathBuf>,
    /// Estimates folder: <track>/<target>.wav, matched to the references by file name.
    #[arg(long, requires = "reference")]
    estimate: Option<PathBuf>,
    /// Data folder (e.g. DATA/test): its mixtures are separated with --model (or the oracle)
    /// and scored against its stems.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Oracle baseline: irm (ideal ratio mask of power 2; irm1 for power 1) or mixture.
    #[arg(long, requires = "data", conflicts_with = "models")]
    oracle: Option<String>,
    /// Model folder to extract with before scoring (repeat for several targets).
    #[arg(long = "model", value_name = "DIR", requires = "data")]
    models: Vec<PathBuf>,
    /// How estimates become masks (with --model): ratio or wiener.
    #[arg(long, default_value = "wiener", requires = "models")]
    mask: String,
    /// Where the network runs (with --model): auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Only these targets (comma-separated); default: every target found.
    #[arg(long, value_delimiter = ',')]
    targets: Option<Vec<String>>,
    /// Folder for <subset>/<track>.json (museval format), summary.md and summary.json.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (reference_root, source): (PathBuf, Box<dyn EstimateSource>) =
        match (&args.reference, &args.estimate, &args.data, &args.oracle) {
            (Some(r), Some(e), None, None) => (r.clone(), Box::new(FolderEstimates::new(e))),
            (None, None, Some(d), Some(o)) => (d.clone(), Box::new(Oracle::parse(o)?)),
            (None, None, Some(d), None) if !args.models.is_empty() => {
                (d.clone(), model_source(&args)?)
            }
            _ => bail!(
                "give --reference DIR --estimate DIR, --data DIR --oracle irm|mixture, or --data DIR --model DIR"
            ),
        };
    // Tracks: those the estimates folder holds, or every track of the data folder.
    let track_names: Vec<PathBuf> = match &args.estimate {
        Some(e) => track_dirs(e)?,
        None => track_dirs(&reference_root)?,
    };
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    }
    let subset = reference_root
        .file_name()
        .map_or_else(|| "test".into(), |n| n.to_string_lossy().into_owned());

    let mut tracks: Vec<TrackScores> = Vec::new();
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    for dir in &track_names {
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let reference_dir = reference_root.join(&name);
        let started = std::time::Instant::now();
        match evaluate_track(&reference_dir, source.as_ref(), args.targets.as_deref()) {
            Ok(outcome) => {
                for reason in &outcome.skipped {
                    eprintln!("saex: {name}: {reason}");
                    skipped.push(Failure {
                        track: name.clone(),
                        error: reason.clone(),
                    });
                }
                for e in &outcome.errors {
                    eprintln!("saex: {name}: {e}");
                    failures.push(Failure {
                        track: name.clone(),
                        error: e.to_string(),
                    });
                }
                if !outcome.scores.targets.is_empty() {
                    if let Some(out) = &args.out {
                        write_track_json(out, &subset, &outcome.scores)?;
                    }
                    eprintln!(
                        "scored {name}: {} ({:.1} s)",
                        outcome
                            .scores
                            .targets
                            .iter()
                            .map(|t| t.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        started.elapsed().as_secs_f64()
                    );
                    tracks.push(outcome.scores);
                }
            }
            Err(e) => {
                eprintln!("saex: {name}: {e}");
                failures.push(Failure {
                    track: name,
                    error: e.to_string(),
                });
            }
        }
    }

    let mut summary = Summary::new(&source.name(), &tracks, failures);
    summary.skipped = skipped;
    let markdown = summary.to_markdown();
    if let Some(out) = &args.out {
        saex::atomic::write_bytes(&out.join("summary.md"), markdown.as_bytes())?;
        saex::atomic::write_bytes(&out.join("summary.json"), summary.to_json().as_bytes())?;
    }
    print!("{markdown}");
    if tracks.is_empty() {
        bail!("no track could be scored");
    }
    Ok(if summary.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Extraction with the given models as the estimate source (one separation per track).
fn model_source(args: &Args) -> anyhow::Result<Box<dyn EstimateSource>> {
    crate::common::set_threads();
    let model_args = crate::common::ModelArgs {
        models: args.models.clone(),
        mask: saex::separate::MaskKind::parse(&args.mask)?,
        device: args.device.clone(),
        batch_frames: saex::separate::SeparateOptions::default().batch_frames,
    };
    let separator = model_args.separator()?;
    let targets: Vec<String> = separator.targets().iter().map(|t| t.to_string()).collect();
    let name = format!("saex {} ({} mask)", targets.join("+"), args.mask);
    // Tensors are not Sync: the lock lets the scorer call the separator from any thread.
    let separator = std::sync::Mutex::new(separator);
    Ok(Box::new(MixtureSeparation::new(
        name,
        targets,
        move |mix| {
            let separator = separator.lock().map_err(|_| {
                saex::Error::Invalid("the separator failed on another track".into())
            })?;
            Ok(separator.separate(mix)?.targets)
        },
    )))
}

fn write_track_json(out: &Path, subset: &str, scores: &TrackScores) -> anyhow::Result<()> {
    let dir = out.join(subset);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{}.json", scores.name));
    saex::atomic::write_bytes(&path, museval_json(scores).as_bytes())?;
    Ok(())
}
