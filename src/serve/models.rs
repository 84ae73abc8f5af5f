//! The models a page may choose: the shipped ones and every model folder directly under the
//! `--models` folders, each known to requests only by its index in [`Catalog::entries`], so no
//! path from a request reaches the file system.

use crate::error::{Error, Result};
use crate::model::ModelConfig;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One model the page offers.
#[derive(Debug, Clone, Serialize)]
pub struct ModelEntry {
    /// The index a request names it by.
    pub id: usize,
    /// The folder's name (`vocals`).
    pub name: String,
    /// What it extracts (`config.json`'s target).
    pub target: String,
    /// `shipped`, or the `--models` folder it lies in, as given on the command line.
    pub source: String,
    pub sample_rate: u32,
    #[serde(skip)]
    pub n_fft: usize,
    #[serde(skip)]
    pub hop: usize,
    #[serde(skip)]
    pub dir: PathBuf,
}

/// Every model found at start-up.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub entries: Vec<ModelEntry>,
}

impl Catalog {
    /// The models found by name (see [`crate::locate::models_by_name`]) and the model folders under
    /// each of `dirs` (sorted by name). A folder of `dirs` that cannot be read is an error; a
    /// model whose config.json is unusable is left out with a warning in `warnings`.
    pub fn discover(dirs: &[PathBuf], warnings: &mut Vec<String>) -> Result<Self> {
        let mut found: Vec<(PathBuf, String)> = Vec::new();
        for name in crate::locate::models_by_name() {
            if let Ok(dir) = crate::locate::find_model(&name) {
                let from_env = crate::locate::models_env()
                    .and_then(|root| root.canonicalize().ok())
                    .is_some_and(|root| dir.starts_with(root));
                let origin = if from_env { "SAEX_MODELS" } else { "shipped" };
                found.push((dir, origin.to_string()));
            }
        }
        for root in dirs {
            let mut children: Vec<PathBuf> = std::fs::read_dir(root)
                .map_err(|e| Error::io(root, e))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join("config.json").is_file())
                .collect();
            children.sort();
            if children.is_empty() {
                warnings.push(format!(
                    "{}: no model folders (folders holding config.json) in it",
                    root.display()
                ));
            }
            found.extend(
                children
                    .into_iter()
                    .map(|c| (c, root.display().to_string())),
            );
        }
        let mut entries = Vec::new();
        for (dir, source) in found {
            match ModelConfig::read(&dir.join("config.json")) {
                Ok(config) => entries.push(ModelEntry {
                    id: entries.len(),
                    name: folder_name(&dir),
                    target: config.target.clone(),
                    source,
                    sample_rate: config.sample_rate,
                    n_fft: config.n_fft,
                    hop: config.hop,
                    dir,
                }),
                Err(e) => warnings.push(format!("left out: {e}")),
            }
        }
        Ok(Catalog { entries })
    }

    /// The models of `ids`, checked to run together: known ids, no repeats, distinct targets,
    /// one sample rate and STFT. The error says what is wrong, for the page to show.
    pub fn select(&self, ids: &[usize]) -> std::result::Result<Vec<&ModelEntry>, String> {
        if ids.is_empty() {
            return Err("choose at least one model".into());
        }
        let mut chosen: Vec<&ModelEntry> = Vec::with_capacity(ids.len());
        for &id in ids {
            let entry = self
                .entries
                .get(id)
                .ok_or_else(|| format!("no model {id} (there are {})", self.entries.len()))?;
            if let Some(other) = chosen.iter().find(|o| o.target == entry.target) {
                return Err(format!(
                    "{} and {} both extract {}: choose one of them",
                    other.name, entry.name, entry.target
                ));
            }
            if let Some(first) = chosen.first() {
                if (first.sample_rate, first.n_fft, first.hop)
                    != (entry.sample_rate, entry.n_fft, entry.hop)
                {
                    return Err(format!(
                        "{} ({} Hz, n_fft {}, hop {}) and {} ({} Hz, n_fft {}, hop {}) cannot \
                         run together: they need the same sample rate and STFT",
                        first.name,
                        first.sample_rate,
                        first.n_fft,
                        first.hop,
                        entry.name,
                        entry.sample_rate,
                        entry.n_fft,
                        entry.hop
                    ));
                }
            }
            chosen.push(entry);
        }
        Ok(chosen)
    }
}

fn folder_name(dir: &Path) -> String {
    dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
