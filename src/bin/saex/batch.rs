//! `saex batch`: a folder of mixtures, resumable and shardable.

use crate::common::{set_threads, stop_on_ctrl_c, FormatArgs, ModelArgs};
use clap::Args;
use saex::batch::{total_seconds, BatchJob, FileOutcome, Shard, DEFAULT_TEMPLATE};
use std::path::PathBuf;
use std::process::ExitCode;

/// Separate every audio file under a folder (recursively). Finished outputs are skipped on a
/// re-run; a bad file is reported and the others go on (exit code 1 if any failed).
///
/// Job arrays: `--shard I/N` takes files k with k % N == I (sorted by path). Without it, Slurm's
/// SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT (minus SLURM_ARRAY_TASK_MIN) or a Kubernetes
/// Indexed Job's JOB_COMPLETION_INDEX with `--shards N` (or SAEX_SHARD_COUNT) choose the slice.
#[derive(Args, Debug)]
pub struct BatchArgs {
    /// Folder of mixtures (WAV, FLAC, MP3, Ogg), searched recursively.
    #[arg(long = "in", value_name = "DIR")]
    input: PathBuf,
    /// Output folder.
    #[arg(long = "out", value_name = "DIR")]
    output: PathBuf,
    /// Output path below --out: {track} (input path below --in, no extension), {name} (file
    /// name, no extension), {target}.
    #[arg(long, default_value = DEFAULT_TEMPLATE)]
    filename: String,
    /// Also write the mix minus the target(s) under this target name.
    #[arg(long, value_name = "NAME")]
    residual: Option<String>,
    /// This worker's slice: I/N (0-based).
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<Shard>,
    /// The number of shards when the index comes from JOB_COMPLETION_INDEX.
    #[arg(long, value_name = "N")]
    shards: Option<usize>,
    /// Separate again even where the outputs exist.
    #[arg(long)]
    overwrite: bool,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    format: FormatArgs,
    /// No progress bar and no per-file lines (errors are still printed).
    #[arg(long, short)]
    quiet: bool,
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    Shard::parse(s).map_err(|e| e.to_string())
}

pub fn run(args: BatchArgs) -> anyhow::Result<ExitCode> {
    set_threads();
    let stop = stop_on_ctrl_c("")?;
    let shard = match args.shard {
        Some(shard) => shard,
        None => {
            Shard::from_env(|name| std::env::var(name).ok(), args.shards)?.unwrap_or(Shard::ALL)
        }
    };
    let separator = args.model.separator()?.with_stop(stop);
    let job = BatchJob {
        input_dir: args.input.clone(),
        output_dir: args.output.clone(),
        template: args.filename.clone(),
        residual: args.residual.clone(),
        shard,
        overwrite: args.overwrite,
        format: args.format.format,
    };
    let plan = job.plan(&separator.targets())?;
    std::fs::create_dir_all(&args.output).map_err(|e| saex::Error::io(&args.output, e))?;
    let total = total_seconds(&plan);
    let bar = saex::progress::bar(total.round() as u64, "s of audio", args.quiet);
    bar.set_message(format!(
        "shard {}/{}: {} files",
        shard.index,
        shard.count,
        plan.len()
    ));
    let mut done_seconds = 0.0;
    let summary = job.run(
        &separator,
        &plan,
        &mut |file, outcome| {
            match outcome {
                FileOutcome::Done { seconds_audio, .. } => {
                    done_seconds += seconds_audio;
                    if !args.quiet {
                        bar.suspend(|| eprintln!("saex: done {}", file.input.display()));
                    }
                }
                FileOutcome::Skipped => {
                    if !args.quiet {
                        bar.suspend(|| {
                            eprintln!("saex: skipped {} (finished)", file.input.display())
                        });
                    }
                }
                FileOutcome::Failed(saex::Error::Interrupted) => {}
                FileOutcome::Failed(err) => bar.suspend(|| eprintln!("saex: error: {err}")),
            }
            bar.set_position(done_seconds.round() as u64);
        },
        &mut |_| {},
    );
    bar.finish_and_clear();
    eprintln!(
        "saex: {} processed, {} skipped, {} failed; {:.3} h of audio at {:.1}x real time",
        summary.processed,
        summary.skipped,
        summary.failed,
        summary.seconds_audio / 3600.0,
        summary.realtime_factor()
    );
    if summary.interrupted {
        eprintln!(
            "saex: interrupted; finished outputs are kept, the file in progress was not written; \
             run the same command again to do the rest"
        );
        return Ok(ExitCode::from(130));
    }
    Ok(if summary.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
