//! How a model scores, as its config.json records it (`scores`): per data split, per method,
//! the median BSS Eval metrics of the target and its residual. `saex eval --save-scores`
//! computes them (`crate::eval`); this file only declares them, so that the model's config can
//! store them without importing the evaluation.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Aggregated metrics in dB (NaN where nothing was finite), serialised with `null` for NaN.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(non_snake_case)]
pub struct Aggregate {
    pub SDR: Option<f64>,
    pub SIR: Option<f64>,
    pub ISR: Option<f64>,
    pub SAR: Option<f64>,
}

impl Aggregate {
    pub(crate) fn new(sdr: f64, sir: f64, isr: f64, sar: f64) -> Self {
        let finite = |v: f64| v.is_finite().then_some(v);
        Aggregate {
            SDR: finite(sdr),
            SIR: finite(sir),
            ISR: finite(isr),
            SAR: finite(sar),
        }
    }

    pub(crate) fn values(&self) -> [Option<f64>; 4] {
        [self.SDR, self.SIR, self.ISR, self.SAR]
    }
}

/// One method's scores of one target: the median over tracks of the target and of its
/// residual (keyed by their names), the tracks scored, and the tracks skipped because the
/// target is silent in them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodScores {
    pub nb_tracks: usize,
    #[serde(default)]
    pub skipped: usize,
    #[serde(flatten)]
    pub sources: BTreeMap<String, Aggregate>,
}

impl MethodScores {
    /// The target's median SDR.
    pub fn sdr(&self, target: &str) -> Option<f64> {
        self.sources.get(target).and_then(|m| m.SDR)
    }
}

/// How a model scores on a data folder (`scores` in config.json), written by
/// `saex eval --data DIR --model MODEL --save-scores`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelScores {
    /// The data folder (see [`crate::locate::portable_path`]).
    pub data: String,
    /// What the numbers are.
    #[serde(default)]
    pub metric: String,
    /// The day the scores were computed, `YYYY-MM-DD` (UTC).
    #[serde(default)]
    pub date: String,
    /// One entry per method of `crate::eval::SCORED_METHODS`.
    #[serde(flatten)]
    pub methods: BTreeMap<String, MethodScores>,
    /// The command that computed them.
    #[serde(default)]
    pub command: String,
}

/// A model's scores per data split, keyed by the data folder's last two components
/// (`corpus-v2/test`, `corpus-v2/ood`, ...): `scores` in config.json. Models scored before
/// splits were keyed hold one [`ModelScores`] object there; it reads as the entry of its
/// folder.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct SplitScores(pub BTreeMap<String, ModelScores>);

impl SplitScores {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scores on `split`, if recorded.
    pub fn get(&self, split: &str) -> Option<&ModelScores> {
        self.0.get(split)
    }

    /// Records (or replaces) the scores of the split `data` names (see [`split_name`]).
    pub fn insert(&mut self, data: &Path, scores: ModelScores) {
        self.0.insert(split_name(data), scores);
    }

    /// `(split, scores)` in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &ModelScores)> {
        self.0.iter()
    }
}

/// The split a data folder holds, with the corpus it belongs to: its last two components
/// (`$SAEX_CACHE/corpus-v2/test` -> `corpus-v2/test`; `test` alone stays `test`).
pub fn split_name(data: &Path) -> String {
    let mut names = data
        .components()
        .rev()
        .filter_map(|c| match c {
            std::path::Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
            _ => None,
        })
        .take(2)
        .collect::<Vec<_>>();
    names.reverse();
    names.join("/")
}

impl<'de> Deserialize<'de> for SplitScores {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let value = serde_json::Value::deserialize(deserializer)?;
        if value.get("data").is_some_and(|d| d.is_string()) {
            // The single-split form: `data` names the folder, maybe followed by how it was made
            // ("$SAEX_CACHE/corpus-v1/test (make-corpus.sh ...)" -> "corpus-v1/test").
            let scores: ModelScores = serde_json::from_value(value).map_err(D::Error::custom)?;
            let folder = scores.data.split(" (").next().unwrap_or_default();
            let mut map = BTreeMap::new();
            map.insert(split_name(Path::new(folder)), scores);
            return Ok(SplitScores(map));
        }
        serde_json::from_value(value)
            .map(SplitScores)
            .map_err(D::Error::custom)
    }
}

/// The metric description recorded with [`ModelScores`].
pub const SCORES_METRIC: &str = "BSS Eval v4 as museval 0.4.1 computes it: median over 1 s windows per track, median over tracks, dB; tracks whose target is silent are skipped";
