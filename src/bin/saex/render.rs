//! `saex render`: MIDI file(s) + SoundFont -> MUSDB18-HQ-style track folders of stems.

use anyhow::Context;
use clap::Args as ClapArgs;
use saex::render::{self, RenderSettings, StemMap, TrackOutcome};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Render MIDI through a SoundFont into one WAV per instrument family plus mixture.wav.
///
/// Writes <OUT>/<midi file stem>/{drums,bass,piano,guitar,vocals,other}.wav (every stem of the
/// map, silent where the song has no notes for it) and mixture.wav, their sample-wise sum:
/// stereo, 32-bit float. Drums = channel 10; vocals = tracks named like --vocals-track and GM
/// programs 52..54; piano = programs 0..7, guitar = 24..31, bass = 32..39 (0-based); other =
/// the rest. MIDI files in subfolders of a --midi folder keep them: midi/train/a.mid ->
/// <OUT>/train/a/, so a folder with train/ and valid/ renders into a data folder for saex train.
/// --print-stem-map prints this map (with --map, --family and --vocals-track applied) as JSON
/// instead of rendering.
#[derive(ClapArgs)]
#[command(after_help = "Examples:
  saex render --midi song.mid --soundfont FluidR3_GM.sf2 --out DATA/train
  saex render --midi midi/ --soundfont FluidR3_GM.sf2 --out DATA   (midi/train/*.mid -> DATA/train/...)
  saex render --midi midi/ --soundfont FluidR3_GM.sf2 --out DATA --family strings=40..51 --vocals-track lead")]
pub struct Args {
    /// A MIDI file, or a folder searched recursively for .mid/.midi files.
    #[arg(long, value_name = "PATH", required_unless_present = "print_stem_map")]
    midi: Option<PathBuf>,
    /// The SoundFont 2 file to render with.
    #[arg(
        long,
        value_name = "FILE.sf2",
        required_unless_present = "print_stem_map"
    )]
    soundfont: Option<PathBuf>,
    /// The folder that receives one track folder per MIDI file (created when missing).
    #[arg(long, value_name = "DIR", required_unless_present = "print_stem_map")]
    out: Option<PathBuf>,
    /// A JSON object of stem name -> GM programs replacing the default families, e.g.
    /// {"bass": "32..39", "keys": "0..7,16"}; programs not named go to "other".
    #[arg(long, value_name = "FILE.json")]
    map: Option<PathBuf>,
    /// Sends programs to a stem, applied after --map (repeatable): NAME=LO..HI[,N...],
    /// e.g. --family strings=40..51 --family other=0..7.
    #[arg(long, value_name = "NAME=RANGES")]
    family: Vec<String>,
    /// Tracks whose name contains this text (any case) are the vocals stem (repeatable;
    /// default: vocal, voice, melody, singer).
    #[arg(long, value_name = "NAME")]
    vocals_track: Vec<String>,
    /// Output sample rate in Hz (16000 to 192000).
    #[arg(long, value_name = "HZ", default_value_t = 44_100)]
    sample_rate: u32,
    /// Turn on rustysynth's reverb and chorus (stems then sum to the full render only approximately).
    #[arg(long)]
    reverb: bool,
    /// Replace existing track folders (by default they are skipped).
    #[arg(long)]
    overwrite: bool,
    /// No progress bar and no per-file lines (errors are still printed).
    #[arg(long, short)]
    quiet: bool,
    /// Print the stem map as JSON and render nothing: {"drum_channel": 9, "drum_stem",
    /// "vocal_stem", "vocal_tracks", "stems" (every stem, in listing order), "programs" (the
    /// stem of each GM program 0..127)}. The corpus builders read the GM families from it.
    #[arg(long, conflicts_with_all = ["midi", "soundfont", "out"])]
    pub print_stem_map: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    run_inner(args).map_err(|e| match e.downcast::<saex::Error>() {
        // saex::Error's message already holds its source; keep `{:#}` from repeating it.
        Ok(e) => anyhow::Error::msg(e.to_string()),
        Err(e) => e,
    })
}

fn run_inner(args: Args) -> anyhow::Result<ExitCode> {
    let mut map = match &args.map {
        Some(path) => StemMap::from_json_file(path)?,
        None => StemMap::general_midi(),
    };
    for spec in &args.family {
        map.set_family(spec)?;
    }
    if !args.vocals_track.is_empty() {
        map.set_vocal_tracks(&args.vocals_track);
    }
    if args.print_stem_map {
        let json = serde_json::to_string_pretty(&map.table())?;
        // Not println!: a closed pipe is an error message, not a panic.
        writeln!(std::io::stdout().lock(), "{json}").context("cannot write the stem map")?;
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(midi), Some(soundfont), Some(out)) = (&args.midi, &args.soundfont, &args.out) else {
        anyhow::bail!("--midi, --soundfont and --out are needed to render");
    };
    let settings = RenderSettings {
        sample_rate: args.sample_rate,
        reverb_and_chorus: args.reverb,
        ..RenderSettings::default()
    };
    settings.validate()?;
    let files = render::find_midi_files(midi)?;
    if files.is_empty() {
        anyhow::bail!("{}: no .mid or .midi files in this folder", midi.display());
    }
    let soundfont = render::load_soundfont(soundfont)?;
    check_writable(out)?;

    let bar = saex::progress::bar(files.len() as u64, "files", args.quiet);
    bar.set_message("render");
    // A hidden bar drops println; print directly then.
    let say = |line: String| {
        if bar.is_hidden() {
            println!("{line}");
        } else {
            bar.println(line);
        }
    };
    let report = |file: &Path, result: &saex::Result<TrackOutcome>| {
        match result {
            Ok(TrackOutcome::Rendered {
                dir,
                stems,
                silent,
                audio_secs,
                render_secs,
            }) if !args.quiet => say(format!(
                "{} -> {} ({}{}; {audio_secs:.1} s of audio in {render_secs:.1} s, {:.0}x real time)",
                file.display(),
                dir.display(),
                stems.join(", "),
                if silent.is_empty() {
                    String::new()
                } else {
                    format!("; silent: {}", silent.join(", "))
                },
                audio_secs / render_secs.max(1e-9),
            )),
            Ok(TrackOutcome::Skipped { dir }) if !args.quiet => say(format!(
                "{}: skipped, {} exists (use --overwrite to replace it)",
                file.display(),
                dir.display()
            )),
            Ok(_) => {}
            Err(err) => bar.suspend(|| eprintln!("saex: error: {err}")),
        }
        bar.inc(1);
    };
    let results = render::render_tracks(
        midi,
        &files,
        &soundfont,
        &map,
        &settings,
        out,
        args.overwrite,
        report,
    )?;
    bar.finish_and_clear();
    let nb_failed = results.iter().filter(|r| r.is_err()).count();
    if nb_failed > 0 {
        eprintln!("saex: {nb_failed} of {} MIDI files failed", files.len());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Creates `out` and checks that files can be made in it, before any rendering.
fn check_writable(out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("{}: cannot create the output folder", out.display()))?;
    tempfile::Builder::new()
        .prefix(".saex-write-test")
        .tempfile_in(out)
        .with_context(|| format!("{}: cannot write in the output folder", out.display()))?;
    Ok(())
}
