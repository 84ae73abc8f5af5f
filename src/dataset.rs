//! Track folders in the MUSDB18-HQ layout, read the same way by training, evaluation and
//! rendering:
//!
//! ```text
//! DATA/<split>/<track>/mixture.wav  vocals.wav  bass.wav  ...   (any stem names; mixture optional)
//! DATA/<split>/<track>.stem.mp4                                  (MUSDB18: five AAC streams)
//! ```
//!
//! - **Stems files** (`<track>.stem.mp4`, the stems format of Native Instruments that MUSDB18
//!   ships) are tracks too: audio streams 0 to 4 are the stems of [`STEMS_FILE_LAYOUT`]
//!   (mixture, drums, bass, other, vocals), read as stems of a folder are.
//! - **Stems** are the audio files of a track folder (every format saex reads but `.mp4`, see [`is_audio_path`]),
//!   named by their file stem; two files with one stem name are an error.
//! - **The mixture** is `mixture.<ext>` ([`MIXTURE`]); without it, the mixture is the sum of the
//!   stems. A track whose stems do not make it up (the target alone, or a stem that other tracks
//!   have missing) is marked [`Track::rest_from_mixture`]: training mixes add the mixture minus
//!   its stems as one more stem.
//! - **The accompaniment rule**: residual files (`accompaniment`, `<target>_accompaniment`, see
//!   [`residual_name`]) are ignored beside other stems, so they are never summed into a mix
//!   twice; a folder of one source and its residual (`vocals` + `accompaniment`, as some
//!   datasets ship) keeps the residual as its second stem.
//! - **Agreement**: stems of one track share sample rate and channel count, and their lengths
//!   differ by at most [`MAX_LENGTH_MISMATCH`] samples ([`Track::open`] cuts to the shortest;
//!   evaluation, which compares sample by sample, asks for equal lengths).
//! - **Excerpts** are read through [`AudioReader`] with a seek ([`read_excerpt`]): one decoder for
//!   every path from disk to the network.

use crate::audio::{stream_infos, AudioReader};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The file stem of the mixture in a track folder; it is not a source, and no stem may take it.
pub const MIXTURE: &str = "mixture";

/// How the file name of a stems file ends (compared case-insensitively).
const STEMS_FILE_SUFFIX: &str = ".stem.mp4";

/// The stems of a stems file, by audio stream: MUSDB18's order.
const STEMS_FILE_LAYOUT: [&str; 5] = [MIXTURE, "drums", "bass", "other", "vocals"];

/// Whether `path` is named as a stems file (`<track>.stem.mp4`).
pub fn is_stems_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.to_ascii_lowercase().ends_with(STEMS_FILE_SUFFIX))
}

/// The name of the track at `path`: a folder's name, or a stems file's without `.stem.mp4`.
pub fn track_name(path: &Path) -> String {
    let name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    if is_stems_file(path) {
        name[..name.len() - STEMS_FILE_SUFFIX.len()].to_string()
    } else {
        name
    }
}

/// Where the track `name` of the split folder `root` is: `root/<name>/` when that folder
/// exists, else `root/<name>.stem.mp4` when that file does, else `root/<name>` (for messages).
pub fn find_track(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    let file = root.join(format!("{name}{STEMS_FILE_SUFFIX}"));
    if !dir.is_dir() && file.is_file() {
        file
    } else {
        dir
    }
}

/// Stems of one track may differ in length by at most this many samples (the track is cut to
/// the shortest); more means the stems do not belong together.
const MAX_LENGTH_MISMATCH: u64 = 64;

/// The name under which the residual of `target` is scored, looked for among estimates and
/// kept as a stem: `accompaniment` for `vocals` (MUSDB18's name), `<target>_accompaniment`
/// otherwise.
pub fn residual_name(target: &str) -> String {
    if target == "vocals" {
        "accompaniment".to_string()
    } else {
        format!("{target}_accompaniment")
    }
}

/// Whether a file stem names a residual rather than a source (`accompaniment`,
/// `<target>_accompaniment`).
pub fn is_residual_name(name: &str) -> bool {
    name == "accompaniment" || name.ends_with("_accompaniment")
}

/// Whether `path` is a stem: one of the formats saex reads
/// ([`READ_EXTENSIONS`](crate::audio::READ_EXTENSIONS)) but the MP4 of a stems file (`.mp4`
/// beside stems would be ambiguous; a `<track>.stem.mp4` is a track of its own).
fn is_audio_path(path: &Path) -> bool {
    crate::audio::read_extension(path).is_some_and(|ext| ext != "mp4")
}

/// The audio files of a folder as `(file stem, path)`, sorted by name; a file stem that appears
/// twice (`vocals.wav` and `vocals.flac`) is an error naming both files.
pub fn audio_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if is_audio_path(&path) && path.is_file() {
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                files.push((stem.to_string(), path));
            }
        }
    }
    files.sort();
    for pair in files.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(Error::file(
                &pair[1].1,
                format!(
                    "stem {:?} appears twice (also {})",
                    pair[0].0,
                    pair[0].1.display()
                ),
            ));
        }
    }
    Ok(files)
}

/// The tracks of the split folder `dir` (sub-folders and stems files), sorted by name; none
/// is an error naming `dir`.
pub fn track_paths(dir: &Path) -> Result<Vec<PathBuf>> {
    let tracks = tracks_in(dir)?;
    let splits: Vec<String> = tracks
        .iter()
        .filter(|t| is_split_folder(t))
        .map(|t| track_name(t))
        .collect();
    if !splits.is_empty() {
        return Err(Error::file(
            dir,
            format!(
                "a dataset root: {} hold tracks, they are not tracks themselves; give one split, \
                 e.g. {}",
                splits.join(", "),
                dir.join(&splits[splits.len() - 1]).display()
            ),
        ));
    }
    if tracks.is_empty() {
        return Err(Error::file(
            dir,
            "no tracks: expected <track>/<stem>.wav or <track>.stem.mp4",
        ));
    }
    Ok(tracks)
}

/// The folder names of a dataset's splits.
const SPLITS: [&str; 4] = ["train", "valid", "test", "ood"];

/// `path` is a split of a dataset, not a track: a folder named like one of [`SPLITS`] that holds
/// track folders or stems files and no audio of its own.
fn is_split_folder(path: &Path) -> bool {
    SPLITS.contains(&track_name(path).as_str())
        && path.is_dir()
        && audio_files(path).is_ok_and(|files| files.is_empty())
        && tracks_in(path).is_ok_and(|tracks| !tracks.is_empty())
}

/// The sub-folders and stems files of `dir`, sorted by name (none when `dir` is not a folder).
fn tracks_in(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut tracks = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() || (is_stems_file(&path) && path.is_file()) {
            tracks.push(path);
        }
    }
    tracks.sort();
    Ok(tracks)
}

/// One stem: a file, or one audio stream of a stems file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StemFile {
    pub name: String,
    pub path: PathBuf,
    /// The audio stream of `path` (0 for a file of one stream).
    pub stream: usize,
}

impl StemFile {
    /// A reader of this stem's audio.
    pub fn open(&self) -> Result<AudioReader> {
        AudioReader::open_stream(&self.path, self.stream)
    }
}

/// The files of a track folder after the naming and accompaniment rules (see the module docs),
/// before any audio is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackFiles {
    pub name: String,
    /// The track folder, or the stems file.
    pub dir: PathBuf,
    /// The sources sorted by name, then the residual kept by the accompaniment rule, if any.
    pub stems: Vec<StemFile>,
    pub mixture: Option<StemFile>,
}

impl TrackFiles {
    /// Lists the stems of the track folder or stems file `dir`.
    pub fn list(dir: &Path) -> Result<Self> {
        let found = if is_stems_file(dir) {
            stems_file_streams(dir)?
        } else {
            audio_files(dir)?
                .into_iter()
                .map(|(name, path)| StemFile {
                    name,
                    path,
                    stream: 0,
                })
                .collect()
        };
        let mut stems = Vec::new();
        let mut mixture = None;
        let mut residuals = Vec::new();
        for stem in found {
            if stem.name == MIXTURE {
                mixture = Some(stem);
            } else if is_residual_name(&stem.name) {
                residuals.push(stem);
            } else {
                stems.push(stem);
            }
        }
        stems.sort_by(|a, b| a.name.cmp(&b.name));
        if let [only] = stems.as_slice() {
            let wanted = residual_name(&only.name);
            if let Some(residual) = residuals.into_iter().find(|r| r.name == wanted) {
                stems.push(residual);
            }
        }
        Ok(TrackFiles {
            name: track_name(dir),
            dir: dir.to_path_buf(),
            stems,
            mixture,
        })
    }

    pub fn stem(&self, name: &str) -> Option<&StemFile> {
        self.stems.iter().find(|s| s.name == name)
    }

    /// The stem names in order.
    pub fn stem_names(&self) -> Vec<&str> {
        self.stems.iter().map(|s| s.name.as_str()).collect()
    }

    /// The path the stem `name` has, or would have as a WAV file (for messages; a stems
    /// file's own path).
    pub fn stem_path(&self, name: &str) -> PathBuf {
        match self.stem(name) {
            Some(s) => s.path.clone(),
            None if is_stems_file(&self.dir) => self.dir.clone(),
            None => self.dir.join(format!("{name}.wav")),
        }
    }
}

/// The stems of a stems file, one per audio stream ([`STEMS_FILE_LAYOUT`]); another number of
/// streams is an error naming the file.
fn stems_file_streams(path: &Path) -> Result<Vec<StemFile>> {
    let nb_streams = stream_infos(path)?.len();
    if nb_streams != STEMS_FILE_LAYOUT.len() {
        return Err(Error::file(
            path,
            format!(
                "expected {} audio streams ({}), found {nb_streams}",
                STEMS_FILE_LAYOUT.len(),
                STEMS_FILE_LAYOUT.join(", ")
            ),
        ));
    }
    Ok(STEMS_FILE_LAYOUT
        .iter()
        .enumerate()
        .map(|(stream, name)| StemFile {
            name: name.to_string(),
            path: path.to_path_buf(),
            stream,
        })
        .collect())
}

/// A track folder whose stems agree in sample rate, channels and length (read from the headers;
/// no audio is decoded where the container states its length).
#[derive(Debug, Clone)]
pub struct Track {
    pub files: TrackFiles,
    pub sample_rate: u32,
    pub nb_channels: usize,
    /// Samples per channel (the shortest stem's length).
    pub nb_samples: u64,
    /// Its stems do not make up its mixture file (a stem that other tracks have is missing,
    /// or it has the target alone beside `mixture`): augmented training mixes add the rest,
    /// the mixture minus its stems, as one more stem. Set by [`discover`].
    pub rest_from_mixture: bool,
}

impl Track {
    /// Lists the track folder `dir` and checks that it holds `target` and that its stems and
    /// mixture agree (lengths at most [`MAX_LENGTH_MISMATCH`] apart). Errors name the track and
    /// the file.
    pub fn open(dir: &Path, target: &str) -> Result<Track> {
        let files = TrackFiles::list(dir)?;
        let Some(target_file) = files.stem(target) else {
            let found = files.stem_names();
            return Err(Error::file(
                dir,
                format!(
                    "no target stem {target:?} (stems found: {})",
                    if found.is_empty() {
                        "none".to_string()
                    } else {
                        found.join(", ")
                    }
                ),
            ));
        };
        // The target first, so that messages compare the other files with it.
        let others = files.stems.iter().filter(|s| s.name != target);
        let mut reference: Option<(&StemFile, u32, usize, u64)> = None;
        let mut nb_samples = u64::MAX;
        for stem in std::iter::once(target_file)
            .chain(others)
            .chain(files.mixture.iter())
        {
            let (rate, channels, len) = header_info(stem)?;
            let path = &stem.path;
            // Streams of one stems file are told apart by stream.
            let subject = if is_stems_file(path) {
                format!("stream {} ({}): ", stem.stream, stem.name)
            } else {
                String::new()
            };
            match reference {
                None => reference = Some((stem, rate, channels, len)),
                Some((first, r0, c0, l0)) => {
                    let first_name = if is_stems_file(&first.path) {
                        format!("stream {} ({})", first.stream, first.name)
                    } else {
                        first
                            .path
                            .file_name()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .into_owned()
                    };
                    if rate != r0 {
                        return Err(Error::file(
                            path,
                            format!("{subject}sample rate {rate} Hz, expected {r0} Hz like {first_name}"),
                        ));
                    }
                    if channels != c0 {
                        return Err(Error::file(
                            path,
                            format!(
                                "{subject}{channels} channels, expected {c0} like {first_name}"
                            ),
                        ));
                    }
                    if len.abs_diff(l0) > MAX_LENGTH_MISMATCH {
                        return Err(Error::file(
                            path,
                            format!("{subject}{len} samples, expected {l0} like {first_name} (at most {MAX_LENGTH_MISMATCH} apart)"),
                        ));
                    }
                }
            }
            nb_samples = nb_samples.min(len);
        }
        let (_, sample_rate, nb_channels, _) = reference.expect("the target stem exists");
        Ok(Track {
            files,
            sample_rate,
            nb_channels,
            nb_samples,
            rest_from_mixture: false,
        })
    }

    pub fn name(&self) -> &str {
        &self.files.name
    }

    pub fn stems(&self) -> &[StemFile] {
        &self.files.stems
    }

    pub fn stem(&self, name: &str) -> Option<&StemFile> {
        self.files.stem(name)
    }

    pub fn mixture(&self) -> Option<&StemFile> {
        self.files.mixture.as_ref()
    }

    /// The stems other than `target`.
    pub fn others<'a>(&'a self, target: &'a str) -> impl Iterator<Item = &'a StemFile> + 'a {
        self.files.stems.iter().filter(move |s| s.name != target)
    }
}

/// The training and validation tracks of a data folder for one target.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub target: String,
    pub train: Vec<Track>,
    pub valid: Vec<Track>,
    /// `valid` (DATA/valid), `held out from train` (every 8th), or `train` (one track only).
    pub valid_source: String,
    /// One line per track that lacks a stem other tracks have (see [`missing_stems`]).
    pub warnings: Vec<String>,
}

impl Dataset {
    /// What was found, for the log before training: tracks and audio time per split, sample
    /// rates and channels, the stems:
    ///
    /// ```text
    /// data/train: 7 tracks, 21:03 of audio; validation: 1 track, 3:00 (held out from train ...)
    /// 44100 Hz, stereo; stems: bass, drums, other, vocals (target vocals)
    /// ```
    pub fn summary(&self, root: &Path) -> String {
        let tracks = |n: usize| format!("{n} track{}", if n == 1 { "" } else { "s" });
        let mut all: Vec<&Track> = self.train.iter().collect();
        for track in &self.valid {
            if !all.iter().any(|t| t.files.dir == track.files.dir) {
                all.push(track);
            }
        }
        let mut rates: Vec<(u32, usize)> = Vec::new();
        let mut channels: Vec<(usize, usize)> = Vec::new();
        let mut stems: Vec<&str> = Vec::new();
        for track in &all {
            match rates.iter_mut().find(|(r, _)| *r == track.sample_rate) {
                Some((_, n)) => *n += 1,
                None => rates.push((track.sample_rate, 1)),
            }
            match channels.iter_mut().find(|(c, _)| *c == track.nb_channels) {
                Some((_, n)) => *n += 1,
                None => channels.push((track.nb_channels, 1)),
            }
            for stem in track.stems() {
                if !stems.contains(&stem.name.as_str()) {
                    stems.push(&stem.name);
                }
            }
        }
        rates.sort();
        channels.sort();
        stems.sort();
        let counted = |parts: Vec<String>, counts: Vec<usize>| {
            if parts.len() == 1 {
                parts[0].clone()
            } else {
                parts
                    .iter()
                    .zip(counts)
                    .map(|(p, n)| format!("{p} ({})", tracks(n)))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let rate_text = counted(
            rates.iter().map(|(r, _)| format!("{r} Hz")).collect(),
            rates.iter().map(|(_, n)| *n).collect(),
        );
        let channel_text = counted(
            channels
                .iter()
                .map(|(c, _)| match c {
                    1 => "mono".to_string(),
                    2 => "stereo".to_string(),
                    c => format!("{c} channels"),
                })
                .collect(),
            channels.iter().map(|(_, n)| *n).collect(),
        );
        let valid = if self.valid_source == "valid" {
            format!("{}: ", root.join("valid").display())
        } else {
            "validation: ".to_string()
        };
        let valid_note = if self.valid_source == "valid" {
            String::new()
        } else {
            format!(" ({})", self.valid_source)
        };
        format!(
            "{}: {}, {} of audio; {valid}{}, {}{valid_note}\n{rate_text}, {channel_text}; stems: {} (target {})",
            root.join("train").display(),
            tracks(self.train.len()),
            duration(&self.train),
            tracks(self.valid.len()),
            duration(&self.valid),
            stems.join(", "),
            self.target
        )
    }
}

/// The audio time of `tracks` as `m:ss` or `h:mm:ss`.
fn duration(tracks: &[Track]) -> String {
    let seconds: f64 = tracks
        .iter()
        .map(|t| t.nb_samples as f64 / t.sample_rate as f64)
        .sum();
    let s = seconds.round() as u64;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The folders of the tracks whose stems do not make up the whole mix: those that lack a stem
/// which other tracks have, and those with the target alone (`mixture` + `vocals`). A track
/// of one source and its residual (`vocals` + `accompaniment`) lacks nothing.
fn incomplete_tracks(tracks: &[&Track], target: &str) -> Vec<PathBuf> {
    let complete = |t: &Track| t.stems().iter().any(|s| is_residual_name(&s.name));
    let names = stem_union(tracks);
    tracks
        .iter()
        .filter(|t| !complete(t))
        .filter(|t| {
            t.others(target).next().is_none()
                || names.iter().any(|n| *n != target && t.stem(n).is_none())
        })
        .map(|t| t.files.dir.clone())
        .collect()
}

/// The stem names of the tracks that do not hold a residual, sorted.
fn stem_union<'a>(tracks: &[&'a Track]) -> Vec<&'a str> {
    let mut names: Vec<&str> = Vec::new();
    for track in tracks
        .iter()
        .filter(|t| !t.stems().iter().any(|s| is_residual_name(&s.name)))
    {
        for stem in track.stems() {
            if !names.contains(&stem.name.as_str()) {
                names.push(&stem.name);
            }
        }
    }
    names.sort();
    names
}

/// One warning per track that lacks a stem which other tracks have (a MUSDB18 track without
/// its `bass.wav`, say), saying how its training mixes are formed: with a `mixture` file, the
/// missing part is taken from it (the mixture minus the stems there are); without one, the
/// mixes are the sum of the stems it has, and the missing instrument is never in them. A track
/// of one source and its residual (`vocals` + `accompaniment`) lacks nothing.
pub fn missing_stems(tracks: &[&Track], target: &str) -> Vec<String> {
    let complete = |t: &Track| t.stems().iter().any(|s| is_residual_name(&s.name));
    let names = stem_union(tracks);
    let mut warnings = Vec::new();
    for track in tracks.iter().filter(|t| !complete(t)) {
        let missing: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| *n != target && track.stem(n).is_none())
            .collect();
        if missing.is_empty() {
            continue;
        }
        let holders = tracks
            .iter()
            .filter(|t| missing.iter().any(|n| t.stem(n).is_some()))
            .count();
        let own: Vec<&str> = track.stems().iter().map(|s| s.name.as_str()).collect();
        let how = match track.mixture() {
            Some(m) => format!(
                "its training mixes take {} from its {}, as that file minus its own stems ({})",
                missing.join(" and "),
                m.path.file_name().unwrap_or_default().to_string_lossy(),
                own.join(", ")
            ),
            None => format!(
                "its training mixes are the sum of its own stems ({}), without {}",
                own.join(", "),
                missing.join(" or ")
            ),
        };
        warnings.push(format!(
            "{}: no {} stem, which {holders} other track{} {}: {how}; add the missing file \
             (silent if the track has no such part) or remove the track",
            track.files.dir.display(),
            missing.join(", "),
            if holders == 1 { "" } else { "s" },
            if holders == 1 { "has" } else { "have" },
        ));
    }
    warnings
}

/// Finds and checks every track of `root/train` (and `root/valid` when present) for `target`.
/// Without `root/valid`, every 8th training track validates. Errors say which track and which
/// stem is wrong.
pub fn discover(root: &Path, target: &str) -> Result<Dataset> {
    if !root.is_dir() {
        return Err(Error::file(
            root,
            "not a folder (expected DATA/train/<track>/<stem>.wav or DATA/train/<track>.stem.mp4)",
        ));
    }
    let train_dir = root.join("train");
    let mut train = open_split(&train_dir, target)?;
    if train.is_empty() {
        return Err(Error::file(
            &train_dir,
            "no tracks (expected train/<track>/<stem>.wav or train/<track>.stem.mp4)",
        ));
    }
    let valid = open_split(&root.join("valid"), target)?;
    let (mut valid, valid_source) = if !valid.is_empty() {
        (valid, "valid".to_string())
    } else if train.len() >= 2 {
        // Every 8th track (at least one) validates; the rest train.
        let mut valid = Vec::new();
        let mut kept = Vec::new();
        let nb_valid = train.len().div_ceil(8);
        let step = train.len() / nb_valid;
        for (i, track) in train.into_iter().enumerate() {
            if (i + 1) % step == 0 && valid.len() < nb_valid {
                valid.push(track);
            } else {
                kept.push(track);
            }
        }
        train = kept;
        (valid, "held out from train (every 8th track)".to_string())
    } else {
        (
            train.clone(),
            "train (only one track: validation is not independent)".to_string(),
        )
    };
    let mut all: Vec<&Track> = train.iter().collect();
    for track in &valid {
        if !all.iter().any(|t| t.files.dir == track.files.dir) {
            all.push(track);
        }
    }
    let warnings = missing_stems(&all, target);
    let incomplete = incomplete_tracks(&all, target);
    for track in train.iter_mut().chain(valid.iter_mut()) {
        track.rest_from_mixture =
            track.mixture().is_some() && incomplete.contains(&track.files.dir);
    }
    Ok(Dataset {
        target: target.to_string(),
        train,
        valid,
        valid_source,
        warnings,
    })
}

/// Every track (folder or stems file) of `dir` (none when `dir` does not exist), checked for
/// `target`.
fn open_split(dir: &Path, target: &str) -> Result<Vec<Track>> {
    tracks_in(dir)?
        .iter()
        .map(|d| Track::open(d, target))
        .collect()
}

/// `(sample rate, channels, samples per channel)` of a stem; decodes it to count when the
/// container does not say. An empty stream is an error.
fn header_info(stem: &StemFile) -> Result<(u32, usize, u64)> {
    let path = &stem.path;
    let reader = stem.open()?;
    let info = reader.info();
    let len = match info.nb_frames {
        Some(n) => n,
        None => reader.read_to_end()?.nb_frames() as u64,
    };
    if len == 0 {
        return Err(Error::file(path, "holds no samples"));
    }
    Ok((info.sample_rate, info.nb_channels, len))
}

/// Reads `len` samples per channel of `stem` from sample `start` on: `(nb_channels, len)`,
/// zero-padded past the end. WAV data, FLAC and AAC in MP4 (any stream that says its length)
/// are seeked to (see [`AudioReader::skip`]); other formats are decoded up to `start`.
pub fn read_excerpt(stem: &StemFile, start: u64, len: usize) -> Result<Vec<Vec<f32>>> {
    let mut reader = stem.open()?;
    reader.skip(start)?;
    let mut out = vec![Vec::with_capacity(len); reader.info().nb_channels];
    while out[0].len() < len {
        let block = reader.read(len - out[0].len())?;
        if block[0].is_empty() {
            break;
        }
        for (o, b) in out.iter_mut().zip(block) {
            o.extend_from_slice(&b);
        }
    }
    for ch in &mut out {
        ch.resize(len, 0.0);
    }
    Ok(out)
}

/// The sum of stems as `nb_channels` channels `(nb_channels, len)`, in the order given; a stem
/// with other channels contributes its channel `c % its channels` to channel `c`.
pub fn sum_stems(stems: &[Vec<Vec<f32>>], nb_channels: usize) -> Vec<Vec<f32>> {
    let len = stems[0][0].len();
    let mut out = vec![vec![0.0f32; len]; nb_channels];
    for stem in stems {
        for (c, o) in out.iter_mut().enumerate() {
            for (x, s) in o.iter_mut().zip(&stem[c % stem.len()]) {
                *x += s;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{read_audio, write_wav, AudioBuffer, SampleFormat};

    fn tone(freq: f32, rate: u32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| 0.3 * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    fn write(dir: &Path, name: &str, len: usize) {
        std::fs::create_dir_all(dir).unwrap();
        let audio = AudioBuffer::new(8000, vec![tone(300.0, 8000, len); 2]).unwrap();
        write_wav(dir.join(name), &audio, SampleFormat::Pcm16).unwrap();
    }

    #[test]
    fn accompaniment_is_ignored_beside_stems_and_kept_beside_one_source() {
        let dir = tempfile::tempdir().unwrap();
        let track = dir.path().join("t");
        for name in ["vocals.wav", "bass.wav", "accompaniment.wav", "mixture.wav"] {
            write(&track, name, 800);
        }
        let files = TrackFiles::list(&track).unwrap();
        assert_eq!(files.stem_names(), ["bass", "vocals"]);
        assert_eq!(files.mixture.unwrap().path, track.join("mixture.wav"));

        std::fs::remove_file(track.join("bass.wav")).unwrap();
        let files = TrackFiles::list(&track).unwrap();
        assert_eq!(files.stem_names(), ["vocals", "accompaniment"]);
        let opened = Track::open(&track, "vocals").unwrap();
        assert_eq!(opened.others("vocals").count(), 1);
    }

    #[test]
    fn a_stem_in_two_formats_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "vocals.wav", 100);
        std::fs::copy(dir.path().join("vocals.wav"), dir.path().join("vocals.WAV")).unwrap();
        let err = audio_files(dir.path()).unwrap_err().to_string();
        assert!(err.contains("appears twice"), "{err}");
    }

    #[test]
    fn excerpts_match_the_whole_file_and_pad_with_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wav");
        let audio =
            AudioBuffer::new(8000, vec![tone(300.0, 8000, 1000), tone(500.0, 8000, 1000)]).unwrap();
        for format in [
            SampleFormat::Pcm16,
            SampleFormat::Pcm24,
            SampleFormat::Float32,
        ] {
            write_wav(&path, &audio, format).unwrap();
            let whole = read_audio(&path).unwrap();
            let stem = StemFile {
                name: "x".into(),
                path: path.clone(),
                stream: 0,
            };
            let part = read_excerpt(&stem, 900, 200).unwrap();
            assert_eq!(part[1][..100], whole.channels[1][900..], "{format:?}");
            assert!(part[0][100..].iter().all(|&x| x == 0.0), "{format:?}");
            let past = read_excerpt(&stem, 5000, 10).unwrap();
            assert_eq!(past, vec![vec![0.0; 10]; 2], "{format:?}");
        }
    }

    fn write_track(dir: &Path, stems: &[(&str, u32, usize, usize)]) {
        std::fs::create_dir_all(dir).unwrap();
        for (i, (name, rate, channels, len)) in stems.iter().enumerate() {
            let ch = (0..*channels)
                .map(|c| tone(200.0 * (i + c + 1) as f32, *rate, *len))
                .collect();
            write_wav(
                dir.join(format!("{name}.wav")),
                &AudioBuffer::new(*rate, ch).unwrap(),
                SampleFormat::Float32,
            )
            .unwrap();
        }
    }

    #[test]
    fn discovery_names_the_wrong_track_and_stem() {
        let root = tempfile::tempdir().unwrap();
        write_track(
            &root.path().join("train/a"),
            &[("vocals", 8000, 2, 4000), ("bass", 8000, 2, 4010)],
        );
        write_track(
            &root.path().join("train/b"),
            &[("vocals", 8000, 2, 4000), ("bass", 8000, 1, 4000)],
        );
        let err = discover(root.path(), "vocals").unwrap_err().to_string();
        assert!(
            err.contains("train/b/bass.wav") && err.contains("1 channels, expected 2"),
            "{err}"
        );

        write_track(
            &root.path().join("train/b"),
            &[("vocals", 8000, 2, 4000), ("bass", 16000, 2, 4000)],
        );
        let err = discover(root.path(), "vocals").unwrap_err().to_string();
        assert!(
            err.contains("train/b/bass.wav")
                && err.contains("sample rate 16000 Hz, expected 8000 Hz like vocals.wav"),
            "{err}"
        );

        write_track(
            &root.path().join("train/b"),
            &[("vocals", 8000, 2, 4000), ("bass", 8000, 2, 3000)],
        );
        let err = discover(root.path(), "vocals").unwrap_err().to_string();
        assert!(err.contains("3000 samples, expected"), "{err}");

        write_track(&root.path().join("train/b"), &[("bass", 8000, 2, 4000)]);
        std::fs::remove_file(root.path().join("train/b/vocals.wav")).unwrap();
        let err = discover(root.path(), "vocals").unwrap_err().to_string();
        assert!(
            err.contains("train/b")
                && err.contains("no target stem \"vocals\" (stems found: bass)"),
            "{err}"
        );

        write_track(&root.path().join("train/b"), &[("vocals", 8000, 2, 4000)]);
        let data = discover(root.path(), "vocals").unwrap();
        assert_eq!((data.train.len(), data.valid.len()), (1, 1));
        assert_eq!(data.train[0].nb_samples, 4000);
    }

    /// A track without a stem the others have is named with the stem, and how its mixes are
    /// then formed (was: accepted without a word); the summary says what was found.
    #[test]
    fn a_track_missing_a_stem_is_named_and_the_data_summarised() {
        let root = tempfile::tempdir().unwrap();
        let full = [
            ("mixture", 8000, 2, 8000),
            ("vocals", 8000, 2, 8000),
            ("bass", 8000, 2, 8000),
            ("drums", 8000, 2, 8000),
        ];
        for name in ["a", "b", "c"] {
            write_track(&root.path().join("train").join(name), &full);
        }
        write_track(&root.path().join("valid/v"), &full);
        let data = discover(root.path(), "vocals").unwrap();
        assert!(data.warnings.is_empty(), "{:?}", data.warnings);
        let summary = data.summary(root.path());
        assert!(
            summary.contains("train: 3 tracks, 0:03 of audio;")
                && summary.contains("valid: 1 track, 0:01")
                && summary.contains("8000 Hz, stereo; stems: bass, drums, vocals (target vocals)"),
            "{summary}"
        );

        std::fs::remove_file(root.path().join("train/b/bass.wav")).unwrap();
        let data = discover(root.path(), "vocals").unwrap();
        assert_eq!(data.warnings.len(), 1, "{:?}", data.warnings);
        let rest: Vec<bool> = data.train.iter().map(|t| t.rest_from_mixture).collect();
        assert_eq!(rest, [false, true, false]);
        let warning = &data.warnings[0];
        assert!(
            warning.contains("train/b: no bass stem, which 3 other tracks have")
                && warning.contains(
                    "its training mixes take bass from its mixture.wav, as that file minus its \
                     own stems (drums, vocals)"
                ),
            "{warning}"
        );

        // The target alone beside the mixture: no stem is missing, the rest is in the mixture.
        let only = tempfile::tempdir().unwrap();
        for name in ["a", "b"] {
            write_track(
                &only.path().join("train").join(name),
                &[("mixture", 8000, 2, 8000), ("vocals", 8000, 2, 8000)],
            );
        }
        let data = discover(only.path(), "vocals").unwrap();
        assert!(data.warnings.is_empty(), "{:?}", data.warnings);
        assert!(data
            .train
            .iter()
            .chain(&data.valid)
            .all(|t| t.rest_from_mixture));

        // A source beside its residual lacks nothing, and its residual is no missing stem.
        let c = root.path().join("train/c");
        std::fs::remove_dir_all(&c).unwrap();
        write_track(
            &c,
            &[("vocals", 8000, 2, 8000), ("accompaniment", 8000, 2, 8000)],
        );
        let data = discover(root.path(), "vocals").unwrap();
        assert_eq!(data.warnings.len(), 1, "{:?}", data.warnings);
        assert!(
            data.warnings[0].contains("train/b: no bass stem"),
            "{:?}",
            data.warnings
        );
        assert!(
            data.summary(root.path())
                .contains("stems: accompaniment, bass, drums, vocals"),
            "{}",
            data.summary(root.path())
        );
    }
}
