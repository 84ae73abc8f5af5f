//! Evaluation: BSS Eval v4 metrics exactly as museval computes them (`bss`), track folders
//! and the scoring of a target with its residual (`track`), estimates from folders, oracles or
//! a separation function (`estimates`, `oracle`), and museval-format reports (`report`).

mod band;
mod bss;
mod correlation;
mod estimates;
mod folder;
mod oracle;
mod report;
mod track;

pub use crate::dataset::residual_name;
pub use band::Band;
pub use bss::{bss_eval_v4, bss_eval_v4_with, windows, BssConfig, Metrics, Sources, FILTERS_LEN};
pub use estimates::{separator_source, EstimateSource, FolderEstimates, MixtureSeparation};
pub use folder::{
    evaluate_folder, score_model, split_name, today, FolderScores, MethodScores, ModelScores,
    SplitScores, SCORED_METHODS, SCORES_METRIC,
};
pub use oracle::Oracle;
pub use report::{museval_json, Summary};
pub use track::{score_sources, score_target, Estimate, ReferenceTrack, TargetScores, TrackScores};

use crate::error::{Error, Result};
use std::path::Path;

/// What scoring one track gave: the scores of every target that could be scored, an error per
/// target that could not, and the targets skipped because their reference is silent.
#[derive(Debug)]
pub struct TrackOutcome {
    pub scores: TrackScores,
    pub errors: Vec<Error>,
    /// Why each skipped target was skipped.
    pub skipped: Vec<String>,
}

/// Scores the track folder `dir` with estimates from `source`: every target the source offers,
/// or only those in `only`, over `band` of the signals. Fails as a whole only when the reference track cannot be read.
pub fn evaluate_track(
    dir: &Path,
    source: &dyn EstimateSource,
    only: Option<&[String]>,
    band: Band,
) -> Result<TrackOutcome> {
    let track = ReferenceTrack::load(dir)?;
    let mut errors = Vec::new();
    let offered = source.targets(&track)?;
    let targets: Vec<String> = match only {
        Some(wanted) => {
            for t in wanted.iter().filter(|t| !offered.contains(t)) {
                errors.push(Error::file(
                    dir,
                    format!(
                        "target {t:?}: no estimate from {} (it offers {})",
                        source.name(),
                        offered.join(", ")
                    ),
                ));
            }
            offered.into_iter().filter(|t| wanted.contains(t)).collect()
        }
        None => offered,
    };
    // A silent reference cannot be scored (BSS Eval divides by its energy): skip the target
    // before estimating it, as museval's users do with tracks that lack a source.
    let mut skipped = Vec::new();
    let targets: Vec<String> = targets
        .into_iter()
        .filter(|t| match track.stem(t) {
            Some(stem) if stem.audio.channels.iter().flatten().all(|&v| v == 0.0) => {
                skipped.push(format!(
                    "{t}: silent reference {} (all samples zero), not scored",
                    stem.path.display()
                ));
                false
            }
            _ => true,
        })
        .collect();
    let config = BssConfig::museval(track.sample_rate);
    let mut scores = TrackScores {
        name: track.name.clone(),
        window_secs: config.window as f64 / track.sample_rate as f64,
        hop_secs: config.hop as f64 / track.sample_rate as f64,
        targets: Vec::new(),
    };
    for (target, estimate) in targets.iter().zip(source.estimates(&track, &targets)) {
        match estimate.and_then(|e| score_target(&track, target, &e, band)) {
            Ok(pair) => scores.targets.extend(pair),
            Err(e) => errors.push(e),
        }
    }
    Ok(TrackOutcome {
        scores,
        errors,
        skipped,
    })
}
