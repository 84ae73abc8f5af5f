//! `saex batch`: a folder of mixtures, resumable and shardable.

use crate::common::{stop_on_ctrl_c, ModelArgs};
use crate::output::OutputArgs;
use clap::Args;
use saex::batch::{default_jobs, total_seconds, BatchJob, FileOutcome, Shard};
use saex::outputs::DEFAULT_TEMPLATE;
use std::path::PathBuf;
use std::process::ExitCode;

/// Separate every audio file under a folder (recursively). Finished outputs are skipped on a
/// re-run (unless the input is newer); a bad file is reported and the others go on (exit code 1
/// if any failed, or if there was nothing to do).
///
/// Job arrays: `--shard I/N` takes files k with k % N == I (sorted by path). Without it, Slurm's
/// SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT (minus SLURM_ARRAY_TASK_MIN) or a Kubernetes
/// Indexed Job's JOB_COMPLETION_INDEX with `--shards N` (or SAEX_SHARD_COUNT) choose the slice.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  saex batch --in albums/ --out separated/
  saex batch --in musdb/test --out est/ --include '*/mixture.wav' --filename '{folder}/{target}.wav' --residual accompaniment
  saex batch --in /data/mixes --out /data/separated --shard 3/16
  saex batch --in songs/ --out stems/ --filename '{name}.{ext}/{target}.flac' --format 24
  saex batch --in songs/ --out stems/ --plot          (and stems/<name>/vocals.png)")]
pub struct BatchArgs {
    /// Folder of mixtures (WAV, FLAC, MP3, Ogg, M4A, AIFF), searched recursively.
    #[arg(long = "in", value_name = "DIR")]
    input: PathBuf,
    /// Output folder.
    #[arg(long = "out", value_name = "DIR")]
    output: PathBuf,
    /// Output path below --out: {track} (input path below --in, no extension), {name} (file
    /// name, no extension), {folder} (the input's folder below --in), {ext} (the input's
    /// extension), {target}. It must end in .wav, .flac, .raw, .mp3 or .ogg (the format
    /// follows it) and stay below --out.
    #[arg(long, value_name = "TEMPLATE", default_value = DEFAULT_TEMPLATE)]
    filename: String,
    /// Only the inputs whose path below --in matches this glob (repeatable; `*` stays within a
    /// folder, `**` crosses folders), e.g. `*/mixture.wav` for a MUSDB-layout folder.
    #[arg(long, value_name = "GLOB")]
    include: Vec<String>,
    /// Also write the mix minus the target(s) under this target name, e.g. accompaniment (what
    /// saex eval scores as the accompaniment of vocals). With --stems: other (4) or
    /// accompaniment (2) unless given.
    #[arg(long, value_name = "NAME")]
    residual: Option<String>,
    /// This worker's slice: I/N (0-based).
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    /// The number of shards when the index comes from JOB_COMPLETION_INDEX.
    #[arg(long, value_name = "N")]
    shards: Option<usize>,
    /// Files separated at once (default: one per core of --threads on the CPU, one per 2 with
    /// --device cuda; never more than the files found); the cores are shared among them (see
    /// --threads). Each holds its own copy of the models and its own pipeline (about 200 MB).
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    jobs: Option<usize>,
    /// Separate again even where the outputs exist.
    #[arg(long)]
    overwrite: bool,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    encoding: OutputArgs,
    /// No progress bar and no per-file lines (errors are still printed).
    #[arg(long, short)]
    quiet: bool,
    /// Also draw the spectrograms of the mix, each target and the residual of every file
    /// separated, beside its first output with the extension .png (separated/song/vocals.png).
    #[arg(long)]
    plot: bool,
}

pub fn run(args: BatchArgs) -> anyhow::Result<ExitCode> {
    let stop = stop_on_ctrl_c("")?;
    let shard = match args.shard {
        Some(shard) => shard,
        None => {
            Shard::from_env(|name| std::env::var(name).ok(), args.shards)?.unwrap_or(Shard::ALL)
        }
    };
    let job = BatchJob {
        input_dir: args.input.clone(),
        output_dir: args.output.clone(),
        template: args.filename.clone(),
        residual: args
            .residual
            .clone()
            .or_else(|| args.model.stems_residual().map(String::from)),
        shard,
        overwrite: args.overwrite,
        format: args.encoding.output_format(false),
        include: args.include.clone(),
    };
    let found = job.discover()?;
    for path in &found.unsupported {
        if !args.quiet {
            eprintln!(
                "saex: skipped {} (not a supported audio file)",
                path.display()
            );
        }
    }
    for path in &found.repeated {
        if !args.quiet {
            eprintln!(
                "saex: skipped {} (a link to a folder already read: each folder is read once)",
                path.display()
            );
        }
    }
    let mixtures = found.mixture_folders();
    if mixtures > 0 && args.include.is_empty() && !args.quiet {
        eprintln!(
            "saex: hint: {mixtures} folder(s) under {} hold a mixture beside its stems (a dataset \
             such as MUSDB18): every stem is separated too; to separate the mixtures alone, add \
             --include '**/mixture.*'",
            args.input.display()
        );
    }
    if found.audio.is_empty() {
        eprintln!(
            "saex: no audio files under {}{} ({} other file(s) skipped)",
            args.input.display(),
            if args.include.is_empty() {
                String::new()
            } else {
                format!(" matching {}", args.include.join(" or "))
            },
            found.unsupported.len()
        );
        return Ok(ExitCode::from(1));
    }
    // More jobs than files would only hold more models and give each network fewer threads.
    let on_gpu = saex::parse_device(&args.model.device)?.is_cuda();
    let jobs = args
        .jobs
        .unwrap_or_else(|| default_jobs(args.model.cores(), on_gpu))
        .clamp(1, found.audio.len().max(1));
    args.model.apply_threads(jobs)?;
    let mut separators = (0..jobs)
        .map(|_| Ok(args.model.separator()?.with_stop(stop.clone())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let plan = job.plan(&separators[0].targets())?;
    std::fs::create_dir_all(&args.output).map_err(|e| saex::Error::io(&args.output, e))?;
    let total = total_seconds(&plan);
    let bar = saex::progress::audio_bar(Some(total.round() as u64), 1.0, args.quiet);
    bar.set_message(if shard == Shard::ALL {
        format!("{} files", plan.len())
    } else {
        format!(
            "shard {}/{}: {} files",
            shard.index,
            shard.count,
            plan.len()
        )
    });
    let mut done_seconds = 0.0;
    let mut plots_failed = 0;
    let targets: Vec<String> = separators[0]
        .targets()
        .iter()
        .map(|t| t.to_string())
        .collect();
    let started = std::time::Instant::now();
    let summary = job.run_parallel(&mut separators, &plan, &mut |file, outcome| {
        match outcome {
            FileOutcome::Done {
                seconds_audio,
                warnings,
                ..
            } => {
                done_seconds += seconds_audio;
                let plotted = args.plot.then(|| plot(file, &targets));
                bar.suspend(|| {
                    for warning in warnings {
                        eprintln!("saex: warning: {warning}");
                    }
                    if !args.quiet {
                        eprintln!("saex: done {}", file.input.display());
                    }
                    match &plotted {
                        Some(Err(err)) => {
                            plots_failed += 1;
                            eprintln!("saex: error: {err}");
                        }
                        Some(Ok(path)) if !args.quiet => {
                            eprintln!("saex: wrote {}", path.display())
                        }
                        _ => {}
                    }
                });
            }
            FileOutcome::Skipped => {
                if !args.quiet {
                    bar.suspend(|| eprintln!("saex: skipped {} (finished)", file.input.display()));
                }
            }
            FileOutcome::Failed(saex::Error::Interrupted) => {}
            FileOutcome::Failed(err) => bar.suspend(|| eprintln!("saex: error: {err}")),
        }
        bar.set_position(done_seconds.round() as u64);
    });
    let wall = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let mut line = format!(
        "saex: {} processed, {} skipped, {} failed",
        summary.processed, summary.skipped, summary.failed
    );
    if !found.unsupported.is_empty() {
        line += &format!(", {} unsupported", found.unsupported.len());
    }
    if summary.processed > 0 && wall > 0.0 {
        line += &format!(
            "; {} of audio at {:.1}x real time ({jobs} at once)",
            duration(summary.seconds_audio),
            summary.seconds_audio / wall
        );
    }
    eprintln!("{line}");
    if summary.interrupted {
        eprintln!(
            "saex: interrupted; finished outputs are kept, the file in progress was not written; \
             run the same command again to do the rest"
        );
        return Ok(ExitCode::from(130));
    }
    Ok(if summary.failed > 0 || plots_failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Draws the spectrogram figure of a separated file beside its first output (`.png`).
fn plot(file: &saex::batch::PlannedFile, targets: &[String]) -> saex::Result<PathBuf> {
    let first = file
        .outputs
        .paths()
        .next()
        .ok_or_else(|| saex::Error::Invalid("no output to draw".into()))?;
    let path = first.with_extension("png");
    let named: Vec<(String, PathBuf)> = targets
        .iter()
        .cloned()
        .zip(file.outputs.targets.iter().cloned())
        .collect();
    let title = file.input.display().to_string();
    saex::spectrogram::write_separation_png(
        &path,
        &title,
        &file.input,
        &named,
        file.outputs.residual.as_deref(),
    )?;
    Ok(path)
}

/// Seconds as `1 h 02 min`, `3 min 20 s` or `12.5 s`.
fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{} h {:02} min", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{seconds:.1} s")
    }
}
