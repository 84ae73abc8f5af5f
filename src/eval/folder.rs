//! Scoring a whole data folder with one estimate source, and the scores a model keeps in its
//! config.json ([`ModelScores`]).

use super::estimates::EstimateSource;
use super::report::{museval_json, Failure, Summary};
use super::track::TrackScores;
use super::{evaluate_track, Band, Oracle};
use crate::dataset::{find_track, residual_name, track_name, track_paths};
use crate::error::{Error, Result};
pub use crate::record::{split_name, MethodScores, ModelScores, SplitScores, SCORES_METRIC};
use std::collections::BTreeMap;
use std::path::Path;

/// What scoring a folder gave: the summary over tracks (failures and skipped targets
/// included) and every track's scores.
#[derive(Debug, Clone)]
pub struct FolderScores {
    pub summary: Summary,
    pub tracks: Vec<TrackScores>,
}

/// Scores the tracks of `reference_root` (`<track>/<stem>.wav` or `<track>.stem.mp4`, see
/// [`crate::dataset`]) with estimates from `source`: every track of `tracks_from` (the estimates
/// folder, or the references themselves), every target the source offers or only those in
/// `only`, over `band` of the signals. With `out`, writes `out/<subset>/<track>.json` (museval's
/// format; the subset is the reference folder's name), `out/summary.md` and `out/summary.json`.
/// `log` receives one line per track scored, failed or skipped. A track that fails is reported
/// in the summary and the others go on.
pub fn evaluate_folder(
    reference_root: &Path,
    tracks_from: &Path,
    source: &dyn EstimateSource,
    only: Option<&[String]>,
    band: Band,
    out: Option<&Path>,
    log: &mut dyn FnMut(&str),
) -> Result<FolderScores> {
    let dirs = track_paths(tracks_from)?;
    if let Some(out) = out {
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    }
    let subset = reference_root
        .file_name()
        .map_or_else(|| "test".into(), |n| n.to_string_lossy().into_owned());
    let mut tracks: Vec<TrackScores> = Vec::new();
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    for dir in &dirs {
        let name = track_name(dir);
        let started = std::time::Instant::now();
        match evaluate_track(&find_track(reference_root, &name), source, only, band) {
            Ok(outcome) => {
                for reason in outcome.skipped {
                    log(&format!("saex: {name}: {reason}"));
                    skipped.push(Failure {
                        track: name.clone(),
                        error: reason,
                    });
                }
                for e in &outcome.errors {
                    log(&format!("saex: {name}: {e}"));
                    failures.push(Failure {
                        track: name.clone(),
                        error: e.to_string(),
                    });
                }
                if !outcome.scores.targets.is_empty() {
                    if let Some(out) = out {
                        let dir = out.join(&subset);
                        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                        let path = dir.join(format!("{}.json", outcome.scores.name));
                        crate::atomic::write_bytes(
                            &path,
                            museval_json(&outcome.scores).as_bytes(),
                        )?;
                    }
                    let names: Vec<&str> = outcome
                        .scores
                        .targets
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect();
                    log(&format!(
                        "scored {name}: {} ({:.1} s)",
                        names.join(", "),
                        started.elapsed().as_secs_f64()
                    ));
                    tracks.push(outcome.scores);
                }
            }
            Err(e) => {
                log(&format!("saex: {name}: {e}"));
                failures.push(Failure {
                    track: name,
                    error: e.to_string(),
                });
            }
        }
    }
    if tracks_from != reference_root {
        // A reference track the estimates folder lacks is said, not silently left out.
        let scored: std::collections::HashSet<String> =
            dirs.iter().map(|d| track_name(d)).collect();
        for reference in track_paths(reference_root)? {
            let name = track_name(&reference);
            if !scored.contains(&name) {
                let reason = format!("no estimates for this track in {}", tracks_from.display());
                log(&format!("saex: {name}: {reason}"));
                skipped.push(Failure {
                    track: name,
                    error: reason,
                });
            }
        }
    }
    let mut summary = Summary::new(&source.name(), &tracks, failures);
    summary.skipped = skipped;
    summary.band = band.label();
    if let Some(out) = out {
        crate::atomic::write_bytes(&out.join("summary.md"), summary.to_markdown().as_bytes())?;
        crate::atomic::write_bytes(&out.join("summary.json"), summary.to_json().as_bytes())?;
    }
    Ok(FolderScores { summary, tracks })
}

impl MethodScores {
    /// `target`'s and its residual's medians in `summary`; `None` when `target` was not scored.
    pub fn from_summary(summary: &Summary, target: &str) -> Option<Self> {
        let found = summary.targets.iter().find(|t| t.target == target)?;
        let residual = residual_name(target);
        let mut sources = BTreeMap::from([(target.to_string(), found.metrics)]);
        if let Some(r) = summary.targets.iter().find(|t| t.target == residual) {
            sources.insert(residual, r.metrics);
        }
        Some(MethodScores {
            nb_tracks: found.nb_tracks,
            skipped: summary
                .skipped
                .iter()
                .filter(|s| s.error.starts_with(&format!("{target}:")))
                .count(),
            sources,
        })
    }
}

/// The methods a model is scored with, in the order they are reported: the model with each
/// mask, then the oracle ceiling and the mixture floor.
pub const SCORED_METHODS: [&str; 4] = ["wiener", "ratio", "irm_oracle", "mixture"];

/// Every method of [`SCORED_METHODS`] for the target of a model: its separation with each mask
/// (`separations`: `(mask name, source)`) and the two oracles.
pub fn score_model(
    data: &Path,
    target: &str,
    separations: Vec<(&str, Box<dyn EstimateSource>)>,
    out: Option<&Path>,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<(String, FolderScores)>> {
    let mut sources = separations;
    sources.push(("irm_oracle", Box::new(Oracle::Irm { power: 2.0 })));
    sources.push(("mixture", Box::new(Oracle::Mixture)));
    let only = [target.to_string()];
    let mut results = Vec::new();
    for (method, source) in sources {
        let method_out = out.map(|o| o.join(format!("{target}-{method}")));
        let scores = evaluate_folder(
            data,
            data,
            source.as_ref(),
            Some(&only),
            Band::Full,
            method_out.as_deref(),
            log,
        )?;
        results.push((method.to_string(), scores));
    }
    Ok(results)
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_are_named_with_their_corpus() {
        assert_eq!(
            split_name(Path::new("/data/corpus-v2/test")),
            "corpus-v2/test"
        );
        assert_eq!(
            split_name(Path::new("$SAEX_CACHE/corpus-v2/ood/")),
            "corpus-v2/ood"
        );
        assert_eq!(split_name(Path::new("test")), "test");
        assert_eq!(split_name(Path::new("../musdb/test")), "musdb/test");
    }

    #[test]
    fn the_shipped_scores_read_as_typed_scores() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("models/vocals/config.json"),
        )
        .unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let splits: SplitScores = serde_json::from_value(value["scores"].clone()).unwrap();
        assert!(!splits.is_empty());
        for (split, scores) in splits.iter() {
            for method in SCORED_METHODS {
                let m = &scores.methods[method];
                assert!(m.sdr("vocals").is_some(), "{split} {method}");
                assert!(m.sources.contains_key("accompaniment"), "{split} {method}");
            }
        }
        // Written back, they are what was read (the keyed form).
        let again = serde_json::to_value(&splits).unwrap();
        let reread: SplitScores = serde_json::from_value(again).unwrap();
        assert_eq!(reread, splits);
    }

    #[test]
    fn a_single_split_object_reads_as_its_folders_entry() {
        let legacy = serde_json::json!({
            "data": "$SAEX_CACHE/corpus-v1/test (make-corpus.sh --seed 1 --hours 3)",
            "metric": SCORES_METRIC,
            "date": "2026-11-23",
            "mixture": {"nb_tracks": 5, "skipped": 8, "vocals": {"SDR": 6.76}},
            "command": "saex eval --data $SAEX_CACHE/corpus-v1/test --model models/vocals --save-scores",
        });
        let splits: SplitScores = serde_json::from_value(legacy).unwrap();
        let names: Vec<&String> = splits.iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["corpus-v1/test"]);
        let scores = splits.get("corpus-v1/test").unwrap();
        assert_eq!(scores.methods["mixture"].sdr("vocals"), Some(6.76));
        assert_eq!(scores.date, "2026-11-23");
    }

    #[test]
    fn today_is_a_date() {
        let d = today();
        assert_eq!(d.len(), 10, "{d}");
        assert!(d.starts_with("20"), "{d}");
    }
}
