//! `saex extract`: one mixture in, the target (or several) out.

use crate::common::{stop_on_ctrl_c, ModelArgs};
use crate::output::OutputArgs;
use anyhow::bail;
use clap::Args;
use saex::atomic::{is_special, is_stdio, resolve};
use saex::outputs::{check_run, OutputFiles, Template};
use saex::separate::Latency;
use saex::ClipMode;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Extract the target instrument from a mix (WAV, FLAC, MP3, Ogg Vorbis, Opus (at 48 kHz),
/// AAC/M4A, ALAC, AIFF).
/// The output keeps the input's sample rate, channel count and exact length; a file appears
/// complete or not at all; its format follows its extension (.wav, .flac, .raw, .mp3, .ogg).
/// The shipped models estimate 0 to 11 kHz; above that a target gets the mix scaled by its
/// share at the top of that band, so extracted vocals lose some sibilance and air (`saex info`
/// shows a model's band).
#[derive(Args, Debug)]
#[command(
    override_usage = "saex extract [OPTIONS] INPUT...
       saex extract [OPTIONS] --mix FILE (--out FILE | --out-dir DIR | --residual FILE)",
    after_help = "Examples:
  saex extract --mix song.mp3 --out vocals.flac
  saex extract --mix song.flac --out vocals.mp3 --bitrate 192   (MP3, constant 192 kbit/s)
  saex extract a.mp3 b.flac                 (writes a.vocals.wav, b.vocals.wav beside them)
  saex extract a.mp3 b.flac --residual accompaniment   (and a.accompaniment.wav, ...)
  saex extract *.mp3 --model bass --out-dir stems/   (stems/<name>/bass.wav + residual.wav)
  saex extract --mix song.wav --out vocals.wav --residual karaoke.wav
  saex extract --mix song.wav --out vocals.wav --plot vocals.png
  saex extract --mix song.wav --stems 4 --out-dir stems/   (vocals, drums, bass, other)
  saex extract --mix song.wav --model vocals --model bass --out-dir stems/
  ffmpeg -i song.m4a -f wav - | saex extract --mix - --out - | ffplay -
  saex extract --mix song.wav --out - --type ogg | ffplay -
  sox song.flac -t wav - | saex extract --mix - --out - --raw --format 24 > vocals.s24le
  sox song.flac -t wav - | saex extract --mix - --out - --latency low | play -t wav -"
)]
pub struct ExtractArgs {
    /// Mixtures to separate, several at once: each gives `<name>.<target>.wav` beside it, or
    /// `<DIR>/<name>/<target>.wav` and `residual.wav` with --out-dir.
    #[arg(value_name = "INPUT", conflicts_with_all = ["mix"])]
    inputs: Vec<PathBuf>,
    /// The mixture to separate; - reads standard input (WAV, FLAC, MP3 or Ogg as a stream; an
    /// MP4 is copied to a temporary file first, its index may come last). A
    /// MUSDB18 stems file (.stem.mp4) is read from its stream 0, the mixture.
    #[arg(long, value_name = "FILE", required_unless_present = "inputs")]
    mix: Option<PathBuf>,
    /// Where the target goes (one model, one input); - writes standard output (WAV with a
    /// streaming header, raw samples with --raw, or --type mp3|ogg). A FIFO or a device is written in place.
    #[arg(long, value_name = "FILE", conflicts_with = "out_dir")]
    out: Option<PathBuf>,
    /// Folder for the targets of every model plus `residual.wav`: `--mix FILE` (one mixture)
    /// writes `<DIR>/<target>.wav`; INPUT... writes `<DIR>/<name>/<target>.wav` for each input,
    /// however many there are (a glob's layout does not depend on how many files it matched).
    /// A relative `--residual FILE` goes into DIR too
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Also write the mix minus the target(s) here (what museval scores as accompaniment); alone,
    /// it is the only output (karaoke). With --out-dir, or positional inputs and no --out, a
    /// name without an extension (e.g. accompaniment) names it like the targets:
    /// <name>.accompaniment.wav beside each input, or accompaniment.wav in the output folder
    /// (instead of residual.wav).
    #[arg(long, value_name = "FILE|NAME")]
    residual: Option<PathBuf>,
    /// Write headerless little-endian interleaved samples (same as --type raw).
    #[arg(long)]
    raw: bool,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// No progress bar and no messages but errors and warnings.
    #[arg(long, short)]
    quiet: bool,
    /// Print where the time went, stage by stage (decode, resample, STFT, network, ...).
    #[arg(long)]
    timings: bool,
    /// Also draw the spectrograms of the mix, each target and the residual (log frequency, dB
    /// colour bar) to this PNG file (one input, files not pipes).
    #[arg(long, value_name = "FILE.png")]
    plot: Option<PathBuf>,
    /// batch (default: frames go through the network in large batches, fastest) or low (each
    /// hop goes through as soon as its future context exists and the output is written hop by
    /// hop: for streams, e.g. --mix - --out -). Low states its algorithmic latency (about 58 ms
    /// for the shipped vocals and bass models, 81 ms for drums); the output's samples are the
    /// same as batch's (within float rounding), not delayed. Not with --niter > 0 or --clip
    /// rescale, which need the future.
    #[arg(long, value_name = "batch|low", default_value = "batch")]
    latency: Latency,
}

pub fn run(args: ExtractArgs) -> anyhow::Result<ExitCode> {
    // Inputs are separated one after the other.
    args.model.apply_threads(1)?;
    if args.latency == Latency::Low {
        // One frame's products are too small to share: on one thread the network runs on the
        // hop's own thread, with no pool to wake per hop (and its CPU time counts there).
        tch::set_num_threads(1);
    }
    let format = args.output.output_format(args.raw);
    if args.latency == Latency::Low && format.clip == ClipMode::Rescale {
        bail!("--latency low cannot --clip rescale: rescaling holds every sample until the end");
    }
    let stop = stop_on_ctrl_c("")?;
    let separator = args
        .model
        .separator()?
        .with_stop(stop)
        .with_latency(args.latency)?;
    let targets = separator.targets();
    let ext = format.container.map_or("wav", |c| c.extension());
    // extract's layouts, as filename templates over each input's own folder (where `{folder}`
    // is empty): --out-dir DIR with --mix, --out-dir DIR with inputs, inputs alone.
    let in_dir = Template::new(&format!("{{folder}}/{{target}}.{ext}"))?;
    let per_input = Template::new(&format!("{{name}}/{{target}}.{ext}"))?;
    let beside = Template::new(&format!("{{name}}.{{target}}.{ext}"))?;
    // Every target of `input` and the residual (`residual`: a file; else `residual_name` or
    // `residual` under `template`) below `dir`.
    let outputs = |template: &Template,
                   dir: &Path,
                   input: &Path,
                   residual: Option<&str>,
                   residual_file: Option<PathBuf>|
     -> saex::Result<OutputFiles> {
        let root = input.parent().unwrap_or(Path::new(""));
        let fill = |target: &str| template.fill(dir, root, input, target);
        Ok(OutputFiles {
            targets: targets
                .iter()
                .map(|t| fill(t))
                .collect::<saex::Result<_>>()?,
            residual: match residual_file {
                Some(file) => Some(file),
                None => residual.map(fill).transpose()?,
            },
            format,
        })
    };
    // With --out-dir, or positional inputs and no --out, `--residual NAME` (a name without an
    // extension) names the residual as the targets are named; otherwise it names one file.
    let residual_name = args
        .residual
        .as_deref()
        .and_then(template_name)
        .or(args
            .model
            .stems_residual()
            .filter(|_| args.residual.is_none()))
        .filter(|_| args.out_dir.is_some() || (args.mix.is_none() && args.out.is_none()));
    // A relative `--residual FILE` beside `--out-dir DIR` lies in DIR, as the targets do (it
    // landed in the current folder).
    let residual_file = args
        .residual
        .clone()
        .filter(|_| residual_name.is_none())
        .map(|file| match &args.out_dir {
            Some(dir) if file.is_relative() && !is_stdio(&file) => dir.join(file),
            _ => file,
        });
    let single = match (&args.mix, args.inputs.as_slice()) {
        (Some(mix), _) => Some(mix.clone()),
        (None, [one])
            if args.out.is_some() || (args.out_dir.is_none() && residual_file.is_some()) =>
        {
            Some(one.clone())
        }
        _ => None,
    };
    // (input, outputs) for every input.
    let jobs: Vec<(PathBuf, OutputFiles)> = match single {
        Some(mix) => {
            let outputs = match (&args.out, &args.out_dir) {
                (_, Some(dir)) => outputs(
                    &in_dir,
                    dir,
                    &mix,
                    Some(residual_name.unwrap_or("residual")),
                    residual_file.clone(),
                )?,
                (None, None) if args.residual.is_none() => {
                    bail!("give --out FILE, --out-dir DIR or --residual FILE")
                }
                (out, None) => {
                    if targets.len() > 1 {
                        bail!(
                            "{} models give {} targets: use --out-dir DIR instead of --out",
                            targets.len(),
                            targets.len()
                        );
                    }
                    OutputFiles {
                        targets: out.iter().cloned().collect(),
                        residual: args.residual.clone(),
                        format,
                    }
                }
            };
            vec![(mix, outputs)]
        }
        None => {
            if args.out.is_some() {
                bail!(
                    "--out names one file: with several inputs leave it out (each gets \
                     <name>.<target>.{ext} beside it) or use --out-dir DIR"
                );
            }
            let nb_inputs = args.inputs.len();
            if let (Some(residual), true) = (&residual_file, nb_inputs > 1) {
                bail!(
                    "--residual {}: names one file, for one input: with several, give a name \
                     (--residual accompaniment writes <name>.accompaniment.{ext} beside each \
                     input, or <DIR>/<name>/accompaniment.{ext} with --out-dir)",
                    residual.display()
                );
            }
            args.inputs
                .iter()
                .map(|input| {
                    let outputs = match &args.out_dir {
                        Some(dir) => outputs(
                            &per_input,
                            dir,
                            input,
                            Some(residual_name.unwrap_or("residual")),
                            residual_file.clone(),
                        ),
                        None => outputs(
                            &beside,
                            input.parent().unwrap_or(Path::new("")),
                            input,
                            residual_name,
                            None,
                        ),
                    };
                    Ok((input.clone(), outputs?))
                })
                .collect::<saex::Result<_>>()?
        }
    };
    // Everything about the outputs is checked before any work: formats, collisions (within an
    // input and across inputs), the inputs themselves.
    check_run(jobs.iter().map(|(input, o)| (input.as_path(), o)))?;
    let to_stdout = jobs
        .iter()
        .flat_map(|(_, o)| o.paths())
        .any(|p| is_stdio(p));
    if to_stdout && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        bail!(
            "--out - writes audio to standard output, which is a terminal here: redirect it \
             (> song.wav, | aplay) or give --out FILE"
        );
    }
    if let Some(plot) = &args.plot {
        check_plot(plot, &jobs)?;
    }
    if !args.quiet {
        eprintln!(
            "saex: extracting {}{} with {}",
            targets.join(", "),
            args.model
                .stems_residual()
                .map_or(String::new(), |r| format!(" (and {r}, the residual)")),
            match args.model.stems {
                Some(stems) => format!("the shipped models ({stems} stems)"),
                None => describe_models(&args.model.models),
            }
        );
        if args.latency == Latency::Low {
            eprintln!("saex: {}", describe_latency(&separator));
        }
    }
    let mut failed = 0;
    for (input, outputs) in &jobs {
        match extract_one(&separator, input, outputs, &args) {
            Ok(()) => {}
            Err(e) if matches!(e.downcast_ref(), Some(saex::Error::Interrupted)) => {
                eprintln!(
                    "saex: interrupted; nothing was written for {}",
                    input.display()
                );
                return Ok(ExitCode::from(130));
            }
            Err(e) if jobs.len() > 1 => {
                eprintln!("saex: error: {e:#}");
                failed += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Separates one input into its outputs, with progress and messages.
fn extract_one(
    separator: &saex::Separator,
    input: &Path,
    outputs: &OutputFiles,
    args: &ExtractArgs,
) -> anyhow::Result<()> {
    for path in outputs.paths() {
        make_folder_for(path)?;
    }
    let started = std::time::Instant::now();
    let reader = saex::AudioReader::open(input)?;
    let length = reader.info();
    if args.latency == Latency::Low && !args.quiet && length.sample_rate != separator.sample_rate()
    {
        eprintln!(
            "saex: note: {} is at {} Hz, the model at {} Hz: resampling in and out adds its \
             own latency to the one stated",
            input.display(),
            length.sample_rate,
            separator.sample_rate()
        );
    }
    let bar =
        saex::progress::audio_bar(length.nb_frames, f64::from(length.sample_rate), args.quiet);
    bar.set_message(format!("extracting {}", separator.targets().join(", ")));
    let result = separator.separate_reader(reader, outputs, &mut |done| bar.set_position(done));
    bar.finish_and_clear();
    let report = result?;
    for written in &report.outputs {
        if let Some(warning) = written.clipping_warning() {
            eprintln!("saex: warning: {warning}");
        }
    }
    if !args.quiet {
        for written in &report.outputs {
            eprintln!("saex: wrote {}", shown(&written.path));
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
        if args.latency == Latency::Low {
            print_hop_times(separator, "wall", &report.hop_wall);
            print_hop_times(separator, "CPU", &report.hop_cpu);
        }
    }
    if let Some(plot) = &args.plot {
        let targets: Vec<(String, PathBuf)> = separator
            .targets()
            .iter()
            .map(|t| t.to_string())
            .zip(outputs.targets.iter().cloned())
            .collect();
        let title = input.file_name().map_or_else(
            || input.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        saex::spectrogram::write_separation_png(
            plot,
            &title,
            input,
            &targets,
            outputs.residual.as_deref(),
        )?;
        if !args.quiet {
            eprintln!("saex: wrote {}", plot.display());
        }
    }
    Ok(())
}

/// `--plot FILE.png` needs one input, read from a file, outputs written to files (the figure
/// reads them back), and a .png name that is none of them.
fn check_plot(plot: &Path, jobs: &[(PathBuf, OutputFiles)]) -> anyhow::Result<()> {
    let [(input, outputs)] = jobs else {
        bail!(
            "--plot {}: names one figure, for one input ({} given); saex batch --plot draws \
             one per input",
            plot.display(),
            jobs.len()
        );
    };
    if !plot
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        bail!(
            "--plot {}: the figure is a PNG: give a name ending in .png",
            plot.display()
        );
    }
    for path in std::iter::once(input).chain(outputs.paths()) {
        if is_stdio(path) || is_special(&resolve(path)?) {
            bail!(
                "--plot {}: the figure is drawn from the files, and {} is not a regular file",
                plot.display(),
                shown(path)
            );
        }
        if saex::atomic::identity(path) == saex::atomic::identity(plot) {
            bail!("--plot {}: is also the input or an output", plot.display());
        }
    }
    Ok(())
}

/// The low-latency mode's compute time per hop (`what`: wall or CPU) against the hop's
/// duration (the first 10 hops, which warm up, left out).
fn print_hop_times(separator: &saex::Separator, what: &str, hops: &[Duration]) {
    let hop_ms = 1000.0 * separator.hop() as f64 / f64::from(separator.sample_rate());
    let Some(s) = saex::separate::summarize(hops.get(10..).unwrap_or_default()) else {
        eprintln!("saex: too few hops to time");
        return;
    };
    let ms = |d: Duration| 1000.0 * d.as_secs_f64();
    eprintln!(
        "saex: compute per hop, {what} ({} hops): median {:.2} ms, 99th percentile {:.2} ms, max {:.2} \
         ms; a hop lasts {hop_ms:.2} ms (99th percentile {:.0} % of it)",
        s.count,
        ms(s.median),
        ms(s.p99),
        ms(s.max),
        100.0 * ms(s.p99) / hop_ms
    );
}

/// The low-latency mode's promise, in samples and milliseconds.
fn describe_latency(separator: &saex::Separator) -> String {
    let samples = separator.algorithmic_latency();
    let rate = separator.sample_rate();
    format!(
        "low latency: algorithmic latency {samples} samples at {rate} Hz = {:.1} ms (output \
         sample n is written once input sample n + {} has been read)",
        1000.0 * samples as f64 / f64::from(rate),
        samples - 1
    )
}

/// The value of `--residual` as a name for the template (`accompaniment`): a single file name
/// without an extension; `None` for a file path (`acc.wav`, `out/acc.wav`, `-`).
fn template_name(value: &Path) -> Option<&str> {
    value
        .to_str()
        .filter(|v| !v.is_empty() && *v != "-" && !v.contains(['/', '.']))
}

/// Which models run: the folders given, or the shipped default and where it was found.
fn describe_models(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return match saex::locate::find_model(saex::locate::DEFAULT_MODEL) {
            Ok(dir) => format!(
                "the default {} model ({})",
                saex::locate::DEFAULT_MODEL,
                dir.display()
            ),
            Err(_) => format!("the default {} model", saex::locate::DEFAULT_MODEL),
        };
    }
    let list: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    format!("the model(s) in {}", list.join(", "))
}

/// `path` as messages show it: `-` is standard output.
fn shown(path: &Path) -> String {
    if is_stdio(path) {
        "standard output".to_string()
    } else {
        path.display().to_string()
    }
}

/// Creates the missing folders of an output file (as --out-dir does for its folder).
fn make_folder_for(path: &Path) -> anyhow::Result<()> {
    if is_stdio(path) {
        return Ok(());
    }
    let target = resolve(path)?;
    if is_special(&target) {
        return Ok(());
    }
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            std::fs::create_dir_all(dir).map_err(|e| {
                saex::Error::file(
                    path,
                    format!("cannot create its folder {}: {e}", dir.display()),
                )
            })?;
        }
    }
    Ok(())
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
