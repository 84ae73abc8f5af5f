//! `saex batch`: a folder of mixtures, resumable and shardable.

use crate::common::{set_threads, stop_on_ctrl_c, FormatArgs, ModelArgs};
use clap::Args;
use saex::batch::{default_jobs, total_seconds, BatchJob, FileOutcome, Shard, DEFAULT_TEMPLATE};
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
    /// Files separated at once (default: one per 4 cores, at least 1); the cores are shared
    /// among them. Each holds its own copy of the models.
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
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
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = args.jobs.unwrap_or_else(|| default_jobs(cores)).max(1);
    // LibTorch's threads are per calling thread: share the cores among the jobs.
    tch::set_num_threads((cores / jobs).max(1) as i32);
    let mut separators = (0..jobs)
        .map(|_| Ok(args.model.separator()?.with_stop(stop.clone())))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let job = BatchJob {
        input_dir: args.input.clone(),
        output_dir: args.output.clone(),
        template: args.filename.clone(),
        residual: args.residual.clone(),
        shard,
        overwrite: args.overwrite,
        format: args.format.format,
    };
    let plan = job.plan(&separators[0].targets())?;
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
    let started = std::time::Instant::now();
    let summary = job.run_parallel(&mut separators, &plan, &mut |file, outcome| {
        match outcome {
            FileOutcome::Done { seconds_audio, .. } => {
                done_seconds += seconds_audio;
                if !args.quiet {
                    bar.suspend(|| eprintln!("saex: done {}", file.input.display()));
                }
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
    eprintln!(
        "saex: {} processed, {} skipped, {} failed; {:.3} h of audio at {:.1}x real time \
         ({jobs} at once)",
        summary.processed,
        summary.skipped,
        summary.failed,
        summary.seconds_audio / 3600.0,
        if wall > 0.0 {
            summary.seconds_audio / wall
        } else {
            0.0
        }
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
