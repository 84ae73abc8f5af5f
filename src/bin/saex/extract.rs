//! `saex extract`: one mixture in, the target (or several) out.

use crate::common::{set_threads, stop_on_ctrl_c, FormatArgs, ModelArgs};
use anyhow::bail;
use clap::Args;
use saex::separate::OutputFiles;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Extract the target instrument from a mix (WAV, FLAC, MP3 or Ogg Vorbis). The output keeps the
/// input's sample rate, channel count and exact length, and appears complete or not at all.
#[derive(Args, Debug)]
pub struct ExtractArgs {
    /// The mixture to separate.
    #[arg(long, value_name = "FILE")]
    mix: PathBuf,
    /// Where the target goes (one model).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "out_dir",
        conflicts_with = "out_dir"
    )]
    out: Option<PathBuf>,
    /// Folder for `<target>.wav` of every model plus `residual.wav` (several models).
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Also write the mix minus the target(s) here (what museval scores as accompaniment).
    #[arg(long, value_name = "FILE")]
    residual: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    format: FormatArgs,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Print where the time went, stage by stage (decode, resample, STFT, network, ...).
    #[arg(long)]
    timings: bool,
}

pub fn run(args: ExtractArgs) -> anyhow::Result<ExitCode> {
    set_threads();
    let stop = stop_on_ctrl_c("")?;
    let separator = args.model.separator()?.with_stop(stop);
    let targets = separator.targets();
    let outputs = match (&args.out, &args.out_dir) {
        (Some(out), None) => {
            if targets.len() > 1 {
                bail!(
                    "{} models give {} targets: use --out-dir DIR instead of --out",
                    targets.len(),
                    targets.len()
                );
            }
            OutputFiles {
                targets: vec![out.clone()],
                residual: args.residual.clone(),
                format: args.format.format,
            }
        }
        (None, Some(dir)) => {
            if !dir.is_dir() {
                std::fs::create_dir_all(dir).map_err(|e| saex::Error::io(dir, e))?;
            }
            OutputFiles {
                targets: targets
                    .iter()
                    .map(|t| dir.join(format!("{t}.wav")))
                    .collect(),
                residual: Some(
                    args.residual
                        .clone()
                        .unwrap_or_else(|| dir.join("residual.wav")),
                ),
                format: args.format.format,
            }
        }
        _ => bail!("give either --out FILE or --out-dir DIR"),
    };
    let started = std::time::Instant::now();
    let reader = saex::AudioReader::open(&args.mix)?;
    let length = reader.info();
    let bar = saex::progress::bar(length.nb_frames.unwrap_or(0), "frames", args.quiet);
    bar.set_message(format!("extracting {}", targets.join(", ")));
    let result = separator.separate_reader(reader, &outputs, &mut |done| bar.set_position(done));
    bar.finish_and_clear();
    let report = match result {
        Err(saex::Error::Interrupted) => {
            eprintln!("saex: interrupted; nothing was written");
            return Ok(ExitCode::from(130));
        }
        other => other?,
    };
    if !args.quiet {
        for path in outputs.targets.iter().chain(&outputs.residual) {
            eprintln!("saex: wrote {}", path.display());
        }
        eprintln!(
            "saex: {:.1} s of audio, {} Hz, {} channel(s)",
            report.duration_secs(),
            report.sample_rate,
            report.nb_channels
        );
    }
    if args.timings {
        print_timings(&report.stages, started.elapsed(), report.duration_secs());
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per stage with its share of the separation's wall time, then the total.
fn print_timings(stages: &saex::separate::StageTimes, wall: Duration, audio_secs: f64) {
    let wall = wall.as_secs_f64();
    eprintln!("saex: time per stage ({audio_secs:.1} s of audio)");
    for (name, time) in stages.stages() {
        let secs = time.as_secs_f64();
        eprintln!("  {name:<9} {secs:8.3} s {:5.1} %", 100.0 * secs / wall);
    }
    let other = (wall - stages.total().as_secs_f64()).max(0.0);
    eprintln!(
        "  {:<9} {other:8.3} s {:5.1} %",
        "other",
        100.0 * other / wall
    );
    eprintln!(
        "  {:<9} {wall:8.3} s ({:.1}x real time, model loading not included)",
        "total",
        audio_secs / wall
    );
}
