//! Where estimates come from: a folder of files, an oracle ([`super::oracle`]), or a
//! separation function run on each track's mixture (how trained models are scored).

use super::track::{read_matching, Estimate, ReferenceTrack};
use crate::audio::AudioBuffer;
use crate::dataset::{audio_files, is_residual_name, residual_name, MIXTURE};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The file stem of the residual that `saex extract --out-dir` writes: the mix minus every
/// target (the accompaniment when there is one target).
const SAEX_RESIDUAL: &str = "residual";

/// A provider of estimates for the targets of a track.
pub trait EstimateSource: Sync {
    /// The method's name in summaries (e.g. the estimates folder, `oracle-irm`, a model).
    fn name(&self) -> String;

    /// The targets this source can estimate for `track`, in order.
    fn targets(&self, track: &ReferenceTrack) -> Result<Vec<String>>;

    /// One estimate per target in `targets` (the same order), each of which may fail alone.
    fn estimates(&self, track: &ReferenceTrack, targets: &[String]) -> Vec<Result<Estimate>>;
}

/// Estimates stored as `<root>/<track>/<target>.<ext>` in any format saex reads (what
/// `saex batch` writes: WAV, FLAC, MP3, ...), with the residual optionally stored as
/// `<root>/<track>/<residual name>.<ext>` (see [`residual_name`]), or as saex's own
/// `residual.<ext>` (what `saex extract --out-dir` writes) beside a single target.
pub struct FolderEstimates {
    root: PathBuf,
}

impl FolderEstimates {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FolderEstimates { root: root.into() }
    }

    fn track_dir(&self, track: &ReferenceTrack) -> PathBuf {
        self.root.join(&track.name)
    }
}

impl EstimateSource for FolderEstimates {
    fn name(&self) -> String {
        self.root.file_name().map_or_else(
            || self.root.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    fn targets(&self, track: &ReferenceTrack) -> Result<Vec<String>> {
        let dir = self.track_dir(track);
        if !dir.is_dir() {
            return Err(Error::file(dir, "missing estimates folder for this track"));
        }
        let targets: Vec<String> = audio_files(&dir)?
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| !is_residual_name(name) && name != MIXTURE && name != SAEX_RESIDUAL)
            .collect();
        if targets.is_empty() {
            return Err(Error::file(
                dir,
                "no estimates: expected <target>.wav (or .flac, .mp3, ...) files",
            ));
        }
        Ok(targets)
    }

    fn estimates(&self, track: &ReferenceTrack, targets: &[String]) -> Vec<Result<Estimate>> {
        let dir = self.track_dir(track);
        let like = track.stems.first().map(|s| (s.path.as_path(), &s.audio));
        let files = match audio_files(&dir) {
            Ok(files) => files,
            Err(e) => {
                return targets
                    .iter()
                    .map(|_| Err(Error::Invalid(e.to_string())))
                    .collect()
            }
        };
        let file = |name: &str| {
            files
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, p)| p.clone())
        };
        targets
            .iter()
            .map(|target| {
                let path = file(target)
                    .ok_or_else(|| Error::file(dir.join(target), "no estimate file"))?;
                let audio = read_matching(&path, like)?;
                // The mix minus the only target is that target's residual.
                let residual_path = file(&residual_name(target))
                    .or_else(|| (targets.len() == 1).then(|| file(SAEX_RESIDUAL)).flatten());
                let residual = match residual_path {
                    Some(p) => Some((p.clone(), read_matching(&p, like)?)),
                    None => None,
                };
                Ok(Estimate {
                    label: path,
                    target: audio,
                    residual,
                })
            })
            .collect()
    }
}

/// Estimates computed from each track's mixture by a separation function
/// `(mixture (nb_channels, nb_frames)) -> [(target, estimate shaped like the mixture)]`,
/// run once per track. This is how a trained model is scored: wrap its separator, e.g.
/// `MixtureSeparation::new("vocals-model", targets, |mix| Ok(separator.separate(mix)?.targets))`.
pub struct MixtureSeparation<F> {
    name: String,
    targets: Vec<String>,
    separate: F,
}

impl<F> MixtureSeparation<F>
where
    F: Fn(&AudioBuffer) -> Result<Vec<(String, AudioBuffer)>> + Sync,
{
    /// `targets`: what `separate` returns, in order.
    pub fn new(name: impl Into<String>, targets: Vec<String>, separate: F) -> Self {
        MixtureSeparation {
            name: name.into(),
            targets,
            separate,
        }
    }
}

impl<F> EstimateSource for MixtureSeparation<F>
where
    F: Fn(&AudioBuffer) -> Result<Vec<(String, AudioBuffer)>> + Sync,
{
    fn name(&self) -> String {
        self.name.clone()
    }

    fn targets(&self, _track: &ReferenceTrack) -> Result<Vec<String>> {
        Ok(self.targets.clone())
    }

    fn estimates(&self, track: &ReferenceTrack, targets: &[String]) -> Vec<Result<Estimate>> {
        let label = |t: &str| Path::new(&track.dir).join(format!("{}:{t}", self.name));
        match (self.separate)(&track.mixture) {
            Ok(separated) => targets
                .iter()
                .map(|t| {
                    separated
                        .iter()
                        .find(|(name, _)| name == t)
                        .map(|(_, audio)| Estimate {
                            label: label(t),
                            target: audio.clone(),
                            residual: None,
                        })
                        .ok_or_else(|| {
                            Error::file(
                                label(t),
                                format!("{} gave no estimate for {t:?}", self.name),
                            )
                        })
                })
                .collect(),
            Err(e) => {
                let message = e.to_string();
                targets
                    .iter()
                    .map(|t| Err(Error::file(label(t), message.clone())))
                    .collect()
            }
        }
    }
}

/// The estimates of a [`Separator`](crate::separate::Separator) run on each track's mixture,
/// named `saex <targets> (<mask> mask)` in summaries. The separator is locked per track
/// (tensors are not `Sync`), so tracks are separated one at a time.
pub fn separator_source(separator: crate::separate::Separator, mask: &str) -> impl EstimateSource {
    let targets: Vec<String> = separator.targets().iter().map(|t| t.to_string()).collect();
    let name = format!("saex {} ({mask} mask)", targets.join("+"));
    let separator = std::sync::Mutex::new(separator);
    MixtureSeparation::new(name, targets, move |mix: &AudioBuffer| {
        let separator = separator
            .lock()
            .map_err(|_| Error::Invalid("the separator failed on another track".into()))?;
        Ok(separator.separate(mix)?.targets)
    })
}
