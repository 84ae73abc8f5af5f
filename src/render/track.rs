//! Track folders: rendering a song's stems in memory or into `<out>/<name>/` (atomically: the
//! folder appears whole or not at all), and rendering many MIDI files into one output folder.

use super::families::{StemMap, MIXTURE};
use super::midi::Song;
use super::synth::{Part, PartRenderer, RenderSettings};
use crate::audio::{AudioBuffer, SampleFormat, WavWriter};
use crate::error::{Error, Result};
use rayon::prelude::*;
use rustysynth::SoundFont;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The stems of a song rendered in memory.
#[derive(Debug, Clone)]
pub struct RenderedSong {
    /// `(stem name, audio of shape (2, nb_frames))` in name order, stems with notes only.
    pub stems: Vec<(String, AudioBuffer)>,
    /// The full render (every note through one synthesizer), when asked for.
    pub full: Option<AudioBuffer>,
}

impl RenderedSong {
    /// The sample-wise sum of the stems, added in name order (as `mixture.wav` is), shape
    /// `(2, nb_frames)`.
    pub fn mixture(&self) -> Option<AudioBuffer> {
        let (_, first) = self.stems.first()?;
        let mut sum = first.clone();
        for (_, stem) in &self.stems[1..] {
            for (acc, ch) in sum.channels.iter_mut().zip(&stem.channels) {
                acc.iter_mut().zip(ch).for_each(|(a, &x)| *a += x);
            }
        }
        Some(sum)
    }
}

/// What happened to one MIDI file.
#[derive(Debug, Clone, PartialEq)]
pub enum TrackOutcome {
    /// The track folder was written.
    Rendered {
        dir: PathBuf,
        /// The stems with notes, in name order.
        stems: Vec<String>,
        /// The stems of the map written as silence (no notes in this song), in name order.
        silent: Vec<String>,
        /// Length of the written audio in seconds.
        audio_secs: f64,
        /// Wall-clock seconds the rendering took.
        render_secs: f64,
    },
    /// The track folder already existed and overwriting was not asked for.
    Skipped { dir: PathBuf },
}

/// Renders `song` into memory: one buffer per stem with notes (and the full render when
/// `with_full` is set). For tests and small songs; [`render_track`] streams to disk instead.
pub fn render_song(
    song: &Song,
    soundfont: &Arc<SoundFont>,
    map: &StemMap,
    settings: &RenderSettings,
    with_full: bool,
) -> Result<RenderedSong> {
    let assignment = map.assign(song);
    let mut parts: Vec<Part> = (0..assignment.stems.len()).map(Part::Stem).collect();
    if with_full {
        parts.push(Part::All);
    }
    let mut renderer = PartRenderer::new(song, &assignment, soundfont, &parts, settings)?;
    let mut channels: Vec<[Vec<f32>; 2]> = vec![[Vec::new(), Vec::new()]; parts.len()];
    while let Some(block) = renderer.next_block() {
        for (acc, [left, right]) in channels.iter_mut().zip(block) {
            acc[0].extend_from_slice(&left);
            acc[1].extend_from_slice(&right);
        }
    }
    let mut buffers = channels
        .into_iter()
        .map(|[l, r]| AudioBuffer::new(settings.sample_rate, vec![l, r]))
        .collect::<Result<Vec<_>>>()?;
    let full = if with_full { buffers.pop() } else { None };
    Ok(RenderedSong {
        stems: assignment.stems.into_iter().zip(buffers).collect(),
        full,
    })
}

/// The track folder name of a MIDI file: its file name without the extension.
pub fn track_name(midi: &Path) -> Result<String> {
    midi.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty() && s != "." && s != "..")
        .ok_or_else(|| Error::file(midi, "has no file name to name its track folder"))
}

/// The track folder, relative to the output folder, of `midi` found by [`find_midi_files`] at
/// `root`: its path below `root` without the extension (`root/train/a.mid` -> `train/a`), or its
/// [`track_name`] when `root` is the file itself.
pub fn track_path(root: &Path, midi: &Path) -> Result<PathBuf> {
    let name = track_name(midi)?;
    let folder = midi
        .parent()
        .and_then(|parent| parent.strip_prefix(root).ok())
        .unwrap_or(Path::new(""));
    Ok(folder.join(name))
}

/// Renders the MIDI file `midi` into `<out_dir>/<track name>/` ([`render_track_into`] with
/// [`track_name`]).
pub fn render_track(
    midi: &Path,
    soundfont: &Arc<SoundFont>,
    map: &StemMap,
    settings: &RenderSettings,
    out_dir: &Path,
    overwrite: bool,
) -> Result<TrackOutcome> {
    let track = PathBuf::from(track_name(midi)?);
    render_track_into(midi, soundfont, map, settings, out_dir, &track, overwrite)
}

/// Renders the MIDI file `midi` into `<out_dir>/<track>/` (`track` relative, e.g. from
/// [`track_path`]; missing folders above it are made): one float32 stereo WAV per stem of the
/// map ([`StemMap::stem_names`], silent where the song has none of its notes), plus
/// `mixture.wav`. An existing track folder is kept ([`TrackOutcome::Skipped`]) unless
/// `overwrite`; it is then replaced whole once the new one is complete. `out_dir` must exist.
/// Fails, naming the file, on a missing or unreadable MIDI file, a song without notes, or an
/// unwritable output folder; nothing is left in `out_dir` then.
pub fn render_track_into(
    midi: &Path,
    soundfont: &Arc<SoundFont>,
    map: &StemMap,
    settings: &RenderSettings,
    out_dir: &Path,
    track: &Path,
    overwrite: bool,
) -> Result<TrackOutcome> {
    let started = Instant::now();
    let name = track_name(midi)?;
    let dir = out_dir.join(track);
    if dir.exists() && !overwrite {
        return Ok(TrackOutcome::Skipped { dir });
    }
    let song = Song::load(midi)?;
    let assignment = map.assign(&song);
    if assignment.stems.is_empty() {
        return Err(Error::file(midi, "has no notes to render"));
    }
    let parts: Vec<Part> = (0..assignment.stems.len()).map(Part::Stem).collect();
    let mut renderer = PartRenderer::new(&song, &assignment, soundfont, &parts, settings)?;

    // Written in `out_dir` itself (one file system with the final folder), moved in place whole.
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".partial")
        .tempdir_in(out_dir)
        .map_err(|e| Error::io(out_dir, e))?;
    let create = |stem: &str| {
        WavWriter::create(
            partial.path().join(format!("{stem}.wav")),
            settings.sample_rate,
            2,
            SampleFormat::Float32,
        )
    };
    // Each stem of the layout with the index of its rendered part, if it has notes.
    let layout: Vec<(String, Option<usize>)> = map
        .stem_names()
        .into_iter()
        .map(|stem| {
            let part = assignment.stems.iter().position(|s| *s == stem);
            (stem, part)
        })
        .collect();
    let mut stem_writers = layout
        .iter()
        .map(|(stem, _)| create(stem))
        .collect::<Result<Vec<_>>>()?;
    let mut mixture_writer = create(MIXTURE)?;
    let mut nb_frames = 0usize;
    while let Some(block) = renderer.next_block() {
        let mut mixture = block[0].clone();
        for stem in &block[1..] {
            for (acc, ch) in mixture.iter_mut().zip(stem) {
                acc.iter_mut().zip(ch).for_each(|(a, &x)| *a += x);
            }
        }
        let silence = vec![vec![0.0f32; mixture[0].len()]; 2];
        for (writer, (_, part)) in stem_writers.iter_mut().zip(&layout) {
            writer.write(part.map_or(&silence, |i| &block[i]))?;
        }
        mixture_writer.write(&mixture)?;
        nb_frames += mixture[0].len();
    }
    for writer in stem_writers {
        writer.finish()?;
    }
    mixture_writer.finish()?;
    publish(partial, &dir, out_dir, &name)?;
    let silent = layout
        .into_iter()
        .filter(|(_, part)| part.is_none())
        .map(|(stem, _)| stem)
        .collect();
    Ok(TrackOutcome::Rendered {
        dir,
        stems: assignment.stems,
        silent,
        audio_secs: nb_frames as f64 / f64::from(settings.sample_rate),
        render_secs: started.elapsed().as_secs_f64(),
    })
}

/// Moves the complete `partial` folder to `dir` (making the folders above it), replacing an
/// existing `dir` only once the new one is in place (the old one is first moved aside into a
/// hidden folder of `out_dir`).
fn publish(partial: tempfile::TempDir, dir: &Path, out_dir: &Path, name: &str) -> Result<()> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let aside = if dir.exists() {
        let aside = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".old")
            .tempdir_in(out_dir)
            .map_err(|e| Error::io(out_dir, e))?;
        std::fs::rename(dir, aside.path().join(name)).map_err(|e| Error::io(dir, e))?;
        Some(aside)
    } else {
        None
    };
    let partial = partial.keep();
    if let Err(e) = std::fs::rename(&partial, dir) {
        let _ = std::fs::remove_dir_all(&partial);
        if let Some(aside) = &aside {
            let _ = std::fs::rename(aside.path().join(name), dir);
        }
        return Err(Error::io(dir, e));
    }
    // Dropping `aside` deletes the old track folder.
    Ok(())
}

/// The MIDI files at `path`: the file itself, or every `.mid`/`.midi` file (any case) under the
/// folder, recursively, in path order. Fails, naming the path, when it does not exist.
pub fn find_midi_files(path: &Path) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).map_err(|e| Error::io(&folder, e))? {
            let entry = entry.map_err(|e| Error::io(&folder, e))?;
            let entry_path = entry.path();
            if entry_path.is_dir() {
                pending.push(entry_path);
            } else if entry_path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("mid") || e.eq_ignore_ascii_case("midi"))
            {
                files.push(entry_path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Renders each of `files`, found at `root` by [`find_midi_files`], into its [`track_path`]
/// under `out_dir` (created when missing) with [`render_track_into`], files in parallel.
/// Results come in the order of `files`; `on_done` is called as each one finishes. A file whose
/// track folder an earlier file already took (`a.mid` and `a.midi`) fails without being
/// rendered.
#[allow(clippy::too_many_arguments)]
pub fn render_tracks(
    root: &Path,
    files: &[PathBuf],
    soundfont: &Arc<SoundFont>,
    map: &StemMap,
    settings: &RenderSettings,
    out_dir: &Path,
    overwrite: bool,
    on_done: impl Fn(&Path, &Result<TrackOutcome>) + Sync,
) -> Result<Vec<Result<TrackOutcome>>> {
    settings.validate()?;
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let mut first_of_track: HashMap<PathBuf, &Path> = HashMap::new();
    let tracks: Vec<Result<PathBuf>> = files
        .iter()
        .map(|file| {
            let track = track_path(root, file)?;
            match first_of_track.get(&track) {
                Some(&first) => Err(Error::file(
                    file,
                    format!(
                        "its track folder {} is taken by {}: rename one of them",
                        track.display(),
                        first.display()
                    ),
                )),
                None => {
                    first_of_track.insert(track.clone(), file);
                    Ok(track)
                }
            }
        })
        .collect();
    Ok(files
        .par_iter()
        .zip(tracks)
        .map(|(file, track)| {
            let result = track.and_then(|track| {
                render_track_into(file, soundfont, map, settings, out_dir, &track, overwrite)
            });
            on_done(file, &result);
            result
        })
        .collect())
}
