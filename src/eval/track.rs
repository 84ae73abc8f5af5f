//! Tracks on disk and the scoring of one target of one track: the target and its residual
//! (everything else in the mix, "accompaniment") are scored together as two BSS Eval sources.

use super::band::Band;
use super::bss::{bss_eval_v4_with, BssConfig, Sources};
use crate::audio::{read_audio, read_streams, AudioBuffer};
use crate::dataset::{is_residual_name, is_stems_file, residual_name, StemFile, TrackFiles};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// One stem or estimate and the file it came from (for messages).
#[derive(Debug, Clone)]
pub struct Stem {
    pub name: String,
    pub path: PathBuf,
    pub audio: AudioBuffer,
}

/// A reference track folder read whole, as [`crate::dataset`] lays it out: sources, and the
/// mixture (else the sum of the stems). A folder of one source and its residual keeps the
/// residual as the second stem, so that the target can be scored against it.
#[derive(Debug, Clone)]
pub struct ReferenceTrack {
    pub name: String,
    pub dir: PathBuf,
    pub sample_rate: u32,
    /// Sources, sorted by name, all of the same shape `(nb_channels, nb_frames)`.
    pub stems: Vec<Stem>,
    /// `(nb_channels, nb_frames)`.
    pub mixture: AudioBuffer,
}

/// Reads `path` and checks it against an expected layout, naming the file on mismatch.
pub fn read_matching(path: &Path, like: Option<(&Path, &AudioBuffer)>) -> Result<AudioBuffer> {
    check_matching(path, read_audio(path)?, like)
}

/// `audio` read from `path`, checked against an expected layout (see [`read_matching`]).
fn check_matching(
    path: &Path,
    audio: AudioBuffer,
    like: Option<(&Path, &AudioBuffer)>,
) -> Result<AudioBuffer> {
    if let Some((other, reference)) = like {
        if let Some(reason) = layout_difference(&audio, reference) {
            return Err(Error::file(
                path,
                format!("{reason} as {}", other.display()),
            ));
        }
    }
    Ok(audio)
}

impl ReferenceTrack {
    /// Loads every stem of the track folder or stems file `dir` (see [`crate::dataset`] for the
    /// layout and the accompaniment rule); all must share rate, channels and length exactly. A
    /// stems file is decoded in one pass.
    pub fn load(dir: &Path) -> Result<Self> {
        let files = TrackFiles::list(dir)?;
        let mut streams = if is_stems_file(dir) {
            read_streams(dir)?.into_iter().map(Some).collect()
        } else {
            Vec::new()
        };
        let mut read = |file: &StemFile, like: Option<(&Path, &AudioBuffer)>| match streams
            .get_mut(file.stream)
            .and_then(Option::take)
        {
            Some(audio) => check_matching(&file.path, audio, like),
            None => read_matching(&file.path, like),
        };
        let mut stems: Vec<Stem> = Vec::with_capacity(files.stems.len());
        for file in &files.stems {
            let like = stems.first().map(|s| (s.path.as_path(), &s.audio));
            let audio = read(file, like)?;
            stems.push(Stem {
                name: file.name.clone(),
                path: file.path.clone(),
                audio,
            });
        }
        let Some(first) = stems.first() else {
            return Err(Error::file(dir, "no stems: expected <stem>.wav files"));
        };
        let mixture = match &files.mixture {
            Some(file) => read(file, Some((first.path.as_path(), &first.audio)))?,
            None => sum_of(stems.iter().map(|s| &s.audio), &first.audio),
        };
        Ok(ReferenceTrack {
            name: files.name,
            dir: files.dir,
            sample_rate: first.audio.sample_rate,
            stems,
            mixture,
        })
    }

    pub fn stem(&self, name: &str) -> Option<&Stem> {
        self.stems.iter().find(|s| s.name == name)
    }

    /// The stem names, sorted.
    pub fn stem_names(&self) -> Vec<String> {
        self.stems.iter().map(|s| s.name.clone()).collect()
    }

    /// The stems that can be targets: all but a residual kept as a stem.
    pub fn target_names(&self) -> Vec<String> {
        self.stems
            .iter()
            .map(|s| s.name.clone())
            .filter(|n| !is_residual_name(n))
            .collect()
    }

    /// The path a stem named `name` has or would have (a stems file's own path).
    pub fn stem_path(&self, name: &str) -> PathBuf {
        match self.stem(name) {
            Some(s) => s.path.clone(),
            None if is_stems_file(&self.dir) => self.dir.clone(),
            None => self.dir.join(format!("{name}.wav")),
        }
    }
}

/// How `a`'s layout differs from `b`'s, if it does.
fn layout_difference(a: &AudioBuffer, b: &AudioBuffer) -> Option<String> {
    if a.sample_rate != b.sample_rate {
        Some(format!(
            "sample rate {} Hz, expected {} Hz",
            a.sample_rate, b.sample_rate
        ))
    } else if a.nb_channels() != b.nb_channels() {
        Some(format!(
            "{} channels, expected {}",
            a.nb_channels(),
            b.nb_channels()
        ))
    } else if a.nb_frames() != b.nb_frames() {
        Some(format!(
            "{} frames, expected {}",
            a.nb_frames(),
            b.nb_frames()
        ))
    } else {
        None
    }
}

/// The sample-wise sum of buffers shaped like `like` (in f64, stored as f32).
fn sum_of<'a>(buffers: impl Iterator<Item = &'a AudioBuffer>, like: &AudioBuffer) -> AudioBuffer {
    let mut acc = vec![vec![0.0f64; like.nb_frames()]; like.nb_channels()];
    for b in buffers {
        for (a, c) in acc.iter_mut().zip(&b.channels) {
            for (x, &y) in a.iter_mut().zip(c) {
                *x += y as f64;
            }
        }
    }
    AudioBuffer {
        sample_rate: like.sample_rate,
        channels: acc
            .into_iter()
            .map(|c| c.into_iter().map(|v| v as f32).collect())
            .collect(),
    }
}

/// An estimate of one target: the target signal and optionally its residual (else the residual
/// is the mixture minus the target). `label` names where it came from (a file, an oracle) in
/// messages.
#[derive(Debug, Clone)]
pub struct Estimate {
    pub label: PathBuf,
    /// `(nb_channels, nb_frames)`, shaped like the track's stems.
    pub target: AudioBuffer,
    pub residual: Option<(PathBuf, AudioBuffer)>,
}

/// The per-window scores of one scored source, each `(nb_windows,)`, in dB.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetScores {
    pub name: String,
    pub sdr: Vec<f64>,
    pub isr: Vec<f64>,
    pub sir: Vec<f64>,
    pub sar: Vec<f64>,
}

/// The scores of one track: window and hop in seconds, and the scored sources.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackScores {
    pub name: String,
    pub window_secs: f64,
    pub hop_secs: f64,
    pub targets: Vec<TargetScores>,
}

/// Scores `estimate` of `target` in `track` with museval's settings (1 s windows and hop, 512
/// taps): the target against its stem, and the residual against the sum of the other stems,
/// over `band` of every signal. Returns the target's and the residual's scores ([`residual_name`]).
pub fn score_target(
    track: &ReferenceTrack,
    target: &str,
    estimate: &Estimate,
    band: Band,
) -> Result<[TargetScores; 2]> {
    let reference = track.stem(target).ok_or_else(|| {
        Error::file(
            track.stem_path(target),
            format!(
                "missing reference for target {target:?} (the track has {})",
                track.stem_names().join(", ")
            ),
        )
    })?;
    if let Some(reason) = layout_difference(&estimate.target, &reference.audio) {
        return Err(Error::file(
            &estimate.label,
            format!("{reason} as {}", reference.path.display()),
        ));
    }
    if let Some((path, residual)) = &estimate.residual {
        if let Some(reason) = layout_difference(residual, &reference.audio) {
            return Err(Error::file(
                path,
                format!("{reason} as {}", reference.path.display()),
            ));
        }
    }
    let silent = |b: &AudioBuffer| b.channels.iter().flatten().all(|&v| v == 0.0);
    if silent(&reference.audio) {
        return Err(Error::file(
            &reference.path,
            "silent reference (all samples zero): BSS Eval cannot score a silent target",
        ));
    }
    if silent(&estimate.target) {
        return Err(Error::file(
            &estimate.label,
            "silent estimate (all samples zero): BSS Eval cannot score a silent estimate",
        ));
    }

    let to_f64 = |b: &AudioBuffer| -> Vec<Vec<f64>> {
        b.channels
            .iter()
            .map(|c| c.iter().map(|&v| v as f64).collect())
            .collect()
    };
    let reference_target = to_f64(&reference.audio);
    let mut reference_residual =
        vec![vec![0.0; reference.audio.nb_frames()]; reference_target.len()];
    for stem in track.stems.iter().filter(|s| s.name != target) {
        for (acc, c) in reference_residual.iter_mut().zip(&stem.audio.channels) {
            for (a, &v) in acc.iter_mut().zip(c) {
                *a += v as f64;
            }
        }
    }
    if reference_residual.iter().flatten().all(|&v| v == 0.0) {
        return Err(Error::file(
            &track.dir,
            format!(
                "the stems other than {target:?} are silent or absent: the residual cannot be scored"
            ),
        ));
    }
    let estimate_target = to_f64(&estimate.target);
    let estimate_residual = match &estimate.residual {
        Some((_, residual)) => to_f64(residual),
        None => track
            .mixture
            .channels
            .iter()
            .zip(&estimate_target)
            .map(|(m, t)| m.iter().zip(t).map(|(&m, &t)| m as f64 - t).collect())
            .collect(),
    };
    if estimate_residual.iter().flatten().all(|&v| v == 0.0) {
        let label = estimate
            .residual
            .as_ref()
            .map_or(estimate.label.clone(), |(p, _)| p.clone());
        return Err(Error::file(
            label,
            format!(
                "the estimated residual of {target:?} is silent: BSS Eval cannot score a silent estimate"
            ),
        ));
    }

    let mut signals = [
        reference_target,
        reference_residual,
        estimate_target,
        estimate_residual,
    ];
    for s in signals.iter_mut() {
        band.apply(track.sample_rate, s)?;
    }
    let [reference_target, reference_residual, estimate_target, estimate_residual] = signals;
    let scores = score_sources(
        &[target.to_string(), residual_name(target)],
        &[reference_target, reference_residual],
        &[estimate_target, estimate_residual],
        track.sample_rate,
        BssConfig::museval(track.sample_rate),
    )
    .map_err(|e| Error::file(&estimate.label, e.to_string()))?;
    let [target, residual]: [TargetScores; 2] = scores
        .targets
        .try_into()
        .expect("two sources in, two scored");
    Ok([target, residual])
}

/// Scores the sources `names` jointly with BSS Eval v4 (`references` and `estimates`:
/// `(nb_sources, nb_channels, nb_samples)` at `sample_rate` Hz, estimate `j` against reference
/// `j`, in the order of `names`) and packs the metrics as a track's scores (unnamed; window and
/// hop in seconds), ready for [`super::museval_json`]. Errors as [`bss_eval_v4_with`] does, and
/// when `names` does not name every source once.
pub fn score_sources(
    names: &[String],
    references: &Sources,
    estimates: &Sources,
    sample_rate: u32,
    config: BssConfig,
) -> Result<TrackScores> {
    if names.len() != references.len() {
        return Err(Error::Invalid(format!(
            "{} source names for {} references",
            names.len(),
            references.len()
        )));
    }
    if let Some((i, name)) = names
        .iter()
        .enumerate()
        .find(|(i, name)| names[..*i].contains(name))
    {
        return Err(Error::Invalid(format!(
            "the source name {name:?} is given twice (sources {} and {i})",
            names[..i].iter().position(|n| n == name).unwrap_or(0)
        )));
    }
    if sample_rate == 0 {
        return Err(Error::Invalid("a sample rate of 0 Hz".into()));
    }
    let metrics = bss_eval_v4_with(references, estimates, config)?;
    Ok(TrackScores {
        name: String::new(),
        window_secs: config.window as f64 / sample_rate as f64,
        hop_secs: config.hop as f64 / sample_rate as f64,
        targets: names
            .iter()
            .enumerate()
            .map(|(j, name)| TargetScores {
                name: name.clone(),
                sdr: metrics.sdr[j].clone(),
                isr: metrics.isr[j].clone(),
                sir: metrics.sir[j].clone(),
                sar: metrics.sar[j].clone(),
            })
            .collect(),
    })
}
