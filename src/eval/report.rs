//! Reports: one JSON per track in museval's format, and a summary over tracks (median over
//! windows per track, then median over tracks, as museval's `EvalStore`) as JSON and markdown.

use super::track::TrackScores;
pub use crate::record::Aggregate;
use serde::Serialize;
use std::fmt::Write;

/// The museval version whose metrics and JSON layout saex reproduces.
const MUSEVAL_VERSION: &str = "0.4.1";

/// A track's scores as museval's `TrackStore.json`: `{"targets": [{"name", "frames": [{"time",
/// "duration", "metrics": {"SDR", "SIR", "SAR", "ISR"}}]}], "museval_version"}`, indented by 2,
/// values rounded to 5 decimals, infinite and NaN values written as `NaN` (as museval does).
pub fn museval_json(track: &TrackScores) -> String {
    let mut out = String::from("{\n  \"targets\": [");
    for (i, target) in track.targets.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        let _ = write!(
            out,
            "    {{\n      \"name\": {},\n      \"frames\": [",
            serde_json::to_string(&target.name).unwrap_or_default()
        );
        for t in 0..target.sdr.len() {
            out.push_str(if t == 0 { "\n" } else { ",\n" });
            let _ = write!(
                out,
                "        {{\n          \"time\": {},\n          \"duration\": {},\n          \
                 \"metrics\": {{\n            \"SDR\": {},\n            \"SIR\": {},\n            \
                 \"SAR\": {},\n            \"ISR\": {}\n          }}\n        }}",
                seconds(t as f64 * track.hop_secs),
                seconds(track.window_secs),
                quantized(target.sdr[t]),
                quantized(target.sir[t]),
                quantized(target.sar[t]),
                quantized(target.isr[t]),
            );
        }
        out.push_str(if target.sdr.is_empty() {
            "]\n    }"
        } else {
            "\n      ]\n    }"
        });
    }
    out.push_str(if track.targets.is_empty() {
        "],\n"
    } else {
        "\n  ],\n"
    });
    let _ = write!(
        out,
        "  \"museval_version\": \"{MUSEVAL_VERSION}\",\n  \"saex_version\": \"{}\"\n}}",
        env!("CARGO_PKG_VERSION")
    );
    out
}

/// A float as Python prints it (`1.0`, `2.5`).
fn seconds(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// museval's `_q`: 5 decimals, NaN for NaN and infinities.
fn quantized(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.5}")
    } else {
        "NaN".to_string()
    }
}

/// The median of the finite values (infinities count as missing, as in museval's JSON), or NaN.
fn nan_median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// One target's per-track median over windows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackTargetSummary {
    pub track: String,
    pub target: String,
    pub metrics: Aggregate,
}

/// One target's median over tracks of the per-track medians.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetSummary {
    pub target: String,
    pub nb_tracks: usize,
    pub metrics: Aggregate,
}

/// A track that could not be scored (wholly or for some targets), and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub track: String,
    pub error: String,
}

/// The summary of one method over tracks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub method: String,
    /// The band scored ([`super::Band::label`]): empty for the whole signal.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub band: String,
    pub museval_version: &'static str,
    pub window_secs: f64,
    pub hop_secs: f64,
    pub frames_aggregation: &'static str,
    pub tracks_aggregation: &'static str,
    pub targets: Vec<TargetSummary>,
    pub tracks: Vec<TrackTargetSummary>,
    pub failures: Vec<Failure>,
    /// Targets left out because their reference is silent (BSS Eval cannot score them; museval
    /// skips them too). Not failures.
    pub skipped: Vec<Failure>,
}

impl Summary {
    /// Aggregates `tracks` (targets in order of first appearance).
    pub fn new(method: &str, tracks: &[TrackScores], failures: Vec<Failure>) -> Self {
        let mut per_track = Vec::new();
        for track in tracks {
            for t in &track.targets {
                per_track.push((
                    t.name.clone(),
                    [
                        nan_median(&t.sdr),
                        nan_median(&t.sir),
                        nan_median(&t.isr),
                        nan_median(&t.sar),
                    ],
                    track.name.clone(),
                ));
            }
        }
        let mut names: Vec<String> = Vec::new();
        for (name, _, _) in &per_track {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        let targets = names
            .iter()
            .map(|name| {
                let rows: Vec<&[f64; 4]> = per_track
                    .iter()
                    .filter(|(n, _, _)| n == name)
                    .map(|(_, m, _)| m)
                    .collect();
                let m = |k: usize| nan_median(&rows.iter().map(|r| r[k]).collect::<Vec<_>>());
                TargetSummary {
                    target: name.clone(),
                    nb_tracks: rows.len(),
                    metrics: Aggregate::new(m(0), m(1), m(2), m(3)),
                }
            })
            .collect();
        let first = tracks.first();
        Summary {
            method: method.to_string(),
            band: String::new(),
            museval_version: MUSEVAL_VERSION,
            window_secs: first.map_or(1.0, |t| t.window_secs),
            hop_secs: first.map_or(1.0, |t| t.hop_secs),
            frames_aggregation: "median",
            tracks_aggregation: "median",
            targets,
            tracks: per_track
                .into_iter()
                .map(|(target, m, track)| TrackTargetSummary {
                    track,
                    target,
                    metrics: Aggregate::new(m[0], m[1], m[2], m[3]),
                })
                .collect(),
            failures,
            skipped: Vec::new(),
        }
    }

    /// The summary as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A markdown table: one row per target, the four metrics in dB and the track count.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "{}{}: BSS Eval v4 (museval {}), median over {} s windows per track, median over tracks, dB\n\n\
             | target | SDR | SIR | ISR | SAR | tracks |\n|---|---:|---:|---:|---:|---:|\n",
            self.method,
            if self.band.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.band)
            },
            self.museval_version,
            self.window_secs
        );
        for t in &self.targets {
            let _ = write!(out, "| {} |", t.target);
            for v in t.metrics.values() {
                let _ = match v {
                    Some(v) => write!(out, " {v:.2} |"),
                    None => write!(out, " - |"),
                };
            }
            let _ = writeln!(out, " {} |", t.nb_tracks);
        }
        if !self.skipped.is_empty() {
            let _ = writeln!(out, "\n{} target(s) skipped:\n", self.skipped.len());
            for f in &self.skipped {
                let _ = writeln!(out, "- {}: {}", f.track, f.error);
            }
        }
        if !self.failures.is_empty() {
            let _ = writeln!(out, "\n{} failure(s):\n", self.failures.len());
            for f in &self.failures {
                let _ = writeln!(out, "- {}: {}", f.track, f.error);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::TargetScores;

    #[test]
    fn median_ignores_nan_and_infinities() {
        assert_eq!(nan_median(&[3.0, f64::NAN, 1.0, f64::INFINITY, 2.0]), 2.0);
        assert_eq!(nan_median(&[4.0, 1.0]), 2.5);
        assert!(nan_median(&[f64::NAN]).is_nan());
    }

    fn track(name: &str, sdr: Vec<f64>) -> TrackScores {
        TrackScores {
            name: name.into(),
            window_secs: 1.0,
            hop_secs: 1.0,
            targets: vec![TargetScores {
                name: "vocals".into(),
                isr: sdr.clone(),
                sir: sdr.clone(),
                sar: sdr.clone(),
                sdr,
            }],
        }
    }

    #[test]
    fn museval_json_layout() {
        let json = museval_json(&track("a", vec![1.234567, f64::NAN, f64::INFINITY]));
        assert!(
            json.contains("\"time\": 1.0,\n          \"duration\": 1.0,"),
            "{json}"
        );
        assert!(json.contains("\"SDR\": 1.23457,"), "{json}");
        assert_eq!(json.matches("NaN").count(), 8, "{json}");
        assert!(json.starts_with("{\n  \"targets\": [\n    {\n      \"name\": \"vocals\",\n"));
    }

    #[test]
    fn summary_is_median_of_track_medians() {
        let tracks = [
            track("a", vec![1.0, 2.0, 3.0]),
            track("b", vec![10.0, f64::NAN]),
            track("c", vec![5.0, 7.0]),
        ];
        let summary = Summary::new("m", &tracks, vec![]);
        assert_eq!(summary.targets[0].metrics.SDR, Some(6.0));
        assert_eq!(summary.targets[0].nb_tracks, 3);
        let md = summary.to_markdown();
        assert!(
            md.contains("| vocals | 6.00 | 6.00 | 6.00 | 6.00 | 3 |"),
            "{md}"
        );
    }
}
