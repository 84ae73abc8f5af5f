//! `saex eval`: BSS Eval v4 (museval-exact) of estimates against reference stems, or of the
//! oracle baselines computed from the stems; with `--save-scores`, a model's scores recorded in
//! its config.json.

use crate::common::MaskChoice;
use anyhow::bail;
use clap::Args as ClapArgs;
use saex::eval::{
    evaluate_folder, score_model, separator_source, today, Band, EstimateSource, FolderEstimates,
    FolderScores, MethodScores, ModelScores, Oracle, SCORES_METRIC,
};
use saex::model::Precision;
use saex::model::{ModelConfig, CONFIG_FILE};
use saex::separate::{MaskKind, SeparateOptions, Separator, SeparatorSettings};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(ClapArgs)]
#[command(
    about = "Score estimates with BSS Eval v4 (museval-compatible SDR, SIR, ISR, SAR)",
    override_usage = "saex eval --reference DIR --estimate DIR [OPTIONS]
       saex eval --data DIR (--model DIR|NAME ... | --oracle irm|irm1|mixture) [OPTIONS]",
    after_help = "Folders hold <track>/<target>.wav. Each target is scored together with its \
                  residual (accompaniment = the other stems; the estimate's residual is \
                  <residual>.wav when present (accompaniment.wav for vocals), or residual.wav \
                  beside a single target as saex extract --out-dir writes it, else the mixture \
                  minus the target estimate).\n\n\
                  Examples:\n  \
                  saex batch --in DATA/test --out separated/ --include '*/mixture.wav' \
                  --filename '{folder}/{target}.wav' --residual accompaniment\n  \
                  saex eval --reference DATA/test --estimate separated/ --out eval/\n  \
                  saex eval --data DATA/test --oracle irm --out eval-irm/\n  \
                  saex eval --data DATA/test --model vocals --out eval-vocals/\n  \
                  saex eval --data DATA/test --model models/my-vocals --save-scores"
)]
pub struct Args {
    /// Reference folder: <track>/<stem>.wav (and optionally mixture.wav), or MUSDB18's
    /// <track>.stem.mp4.
    #[arg(long, value_name = "DIR", requires = "estimate", conflicts_with_all = ["data", "oracle", "models"])]
    reference: Option<PathBuf>,
    /// Estimates folder: <track>/<target>.wav, matched to the references by file name.
    #[arg(long, value_name = "DIR", requires = "reference")]
    estimate: Option<PathBuf>,
    /// Data folder (e.g. DATA/test): its mixtures are separated with --model (or the oracle)
    /// and scored against its stems; <track>/<stem>.wav folders or MUSDB18's <track>.stem.mp4.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Oracle baseline: irm (ideal ratio mask of power 2; irm1 for power 1) or mixture.
    #[arg(
        long,
        value_name = "irm|irm1|mixture",
        requires = "data",
        conflicts_with = "models"
    )]
    oracle: Option<String>,
    /// Model folder (or a shipped model's name) to extract with before scoring (repeat for
    /// several targets).
    #[arg(long = "model", value_name = "DIR|NAME", requires = "data")]
    models: Vec<PathBuf>,
    /// How estimates become masks (with --model): auto (ratio for one target, wiener for
    /// several), ratio or wiener.
    #[arg(long, value_name = "MASK", default_value = "auto", requires = "models")]
    mask: MaskChoice,
    /// Multichannel Wiener iterations after the masks (with --model), as in `saex extract`.
    #[arg(long, default_value_t = SeparateOptions::default().niter, value_name = "N")]
    niter: usize,
    /// The precision of the network's matrix products (with --model): f32 by default, unlike
    /// `saex extract`'s auto, so that a model scores the same on every machine (bf16 products
    /// round differently from one CPU to another); auto, bf16 or int8 score what extraction
    /// runs on this one.
    #[arg(
        long,
        default_value = "f32",
        value_name = "auto|f32|bf16|int8",
        requires = "models"
    )]
    network_precision: Precision,
    /// Where the network runs (with --model): auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Score only the band above HZ (every reference and estimate high-passed alike): e.g.
    /// 11025 for what the shipped models do not estimate themselves (sibilants, cymbals).
    #[arg(long, value_name = "HZ", conflicts_with = "save_scores")]
    above: Option<f64>,
    /// Only these targets (comma-separated); default: every target found.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    targets: Option<Vec<String>>,
    /// Folder for <subset>/<track>.json (museval format), summary.md and summary.json (with
    /// --save-scores: one such folder per method, <target>-<method>).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Score one --model on --data with both masks, beside the IRM oracle and the mixture, and
    /// record the medians under "scores" in the model's config.json.
    #[arg(long, requires = "models", conflicts_with_all = ["mask", "targets"])]
    save_scores: bool,
    /// With --save-scores: write into a shipped or installed model's config.json too (the
    /// maintainers' scripts/score-default-models.sh does); without it such a model is refused.
    #[arg(long, requires = "save_scores")]
    force: bool,
}

pub fn run(mut args: Args) -> anyhow::Result<ExitCode> {
    args.models = args
        .models
        .iter()
        .map(|m| saex::locate::resolve_model(m))
        .collect::<saex::Result<_>>()?;
    if args.save_scores {
        return save_scores(&args);
    }
    let (reference_root, source): (PathBuf, Box<dyn EstimateSource>) =
        match (&args.reference, &args.estimate, &args.data, &args.oracle) {
            (Some(r), Some(e), None, None) => (r.clone(), Box::new(FolderEstimates::new(e))),
            (None, None, Some(d), Some(o)) => (d.clone(), Box::new(Oracle::parse(o)?)),
            (None, None, Some(d), None) if !args.models.is_empty() => {
                let mask = args.mask.for_targets(args.models.len());
                let name = format!("{mask:?}").to_lowercase();
                (
                    d.clone(),
                    Box::new(separator_source(separator(&args, mask)?, &name)),
                )
            }
            _ => bail!(
                "give --reference DIR --estimate DIR, --data DIR --oracle irm|mixture, or --data DIR --model DIR"
            ),
        };
    // Tracks: those the estimates folder holds, or every track of the data folder.
    let tracks_from = args.estimate.as_ref().unwrap_or(&reference_root);
    let scores = evaluate_folder(
        &reference_root,
        tracks_from,
        source.as_ref(),
        args.targets.as_deref(),
        Band::above(args.above)?,
        args.out.as_deref(),
        &mut |line| eprintln!("{line}"),
    )?;
    finish(&scores)
}

/// Prints the summary; the exit code says whether anything failed.
fn finish(scores: &FolderScores) -> anyhow::Result<ExitCode> {
    print!("{}", scores.summary.to_markdown());
    if scores.tracks.is_empty() {
        bail!("no track could be scored");
    }
    Ok(if scores.summary.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The separator of every --model with `mask`.
fn separator(args: &Args, mask: MaskKind) -> anyhow::Result<Separator> {
    crate::common::set_threads();
    let settings = SeparatorSettings {
        models: args.models.clone(),
        device: saex::parse_device(&args.device)?,
        mask: Some(mask),
        niter: args.niter,
        precision: args.network_precision,
        ..SeparatorSettings::default()
    };
    crate::common::warn_if_emulated(&settings);
    Ok(settings.build()?)
}

/// `--save-scores`: every method of the model's target, recorded in its config.json.
fn save_scores(args: &Args) -> anyhow::Result<ExitCode> {
    let (Some(data), [model_dir]) = (&args.data, args.models.as_slice()) else {
        bail!("--save-scores scores one model: give --data DIR and one --model DIR");
    };
    if saex::locate::is_shipped(model_dir) && !args.force {
        bail!(
            "{}: a shipped or installed model; --save-scores would rewrite its config.json. Copy \
             the folder and score the copy, or add --force to update the shipped scores",
            model_dir.display()
        );
    }
    let config_path = model_dir.join(CONFIG_FILE);
    let mut config = ModelConfig::read(&config_path)?;
    // Recorded absolute (or `$SAEX_CACHE/...`): a relative path means nothing elsewhere.
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (data_text, model_text) = (
        saex::locate::portable_path(&absolute(data)),
        saex::locate::portable_path(&absolute(model_dir)),
    );
    let target = config.target.clone();
    let mut separations: Vec<(&str, Box<dyn EstimateSource>)> = Vec::new();
    for (name, mask) in [("wiener", MaskKind::Wiener), ("ratio", MaskKind::Ratio)] {
        separations.push((
            name,
            Box::new(separator_source(separator(args, mask)?, name)),
        ));
    }
    let results = score_model(
        data,
        &target,
        separations,
        args.out.as_deref(),
        &mut |line| eprintln!("{line}"),
    )?;
    let mut methods = BTreeMap::new();
    for (method, scores) in &results {
        print!("{method}: {}", scores.summary.to_markdown());
        let Some(m) = MethodScores::from_summary(&scores.summary, &target) else {
            bail!("{method}: no track of {} could be scored", data.display());
        };
        methods.insert(method.clone(), m);
    }
    config.scores.insert(
        data,
        ModelScores {
            data: data_text.clone(),
            metric: SCORES_METRIC.to_string(),
            date: today(),
            methods,
            command: format!("saex eval --data {data_text} --model {model_text} --save-scores"),
        },
    );
    config.write(&config_path)?;
    eprintln!("scores of {target} saved in {}", config_path.display());
    Ok(ExitCode::SUCCESS)
}
