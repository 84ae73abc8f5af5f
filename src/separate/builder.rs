//! The one way a front end (a subcommand of the CLI, the web page, a library caller) builds a
//! [`Separator`] from what its user gave: model names or folders, a device, a mask choice and
//! the run's options.

use super::{MaskKind, SeparateOptions, Separator};
use crate::error::Result;
use crate::locate::{find_model, resolve_model, DEFAULT_MODEL};
use crate::model::Precision;
use std::path::PathBuf;

/// What a separator is built from.
#[derive(Debug, Clone)]
pub struct SeparatorSettings {
    /// Model folders or names of shipped models (see [`resolve_model`]), one per target; empty:
    /// the shipped default model ([`DEFAULT_MODEL`]).
    pub models: Vec<PathBuf>,
    /// Where the networks run.
    pub device: tch::Device,
    /// How estimates become masks; `None`: [`MaskKind::auto_for`] the number of models.
    pub mask: Option<MaskKind>,
    /// Iterations of the multichannel Wiener filter after the masks.
    pub niter: usize,
    /// The precision of the networks' matrix products. [`Precision::Auto`] by default: what
    /// `saex extract`, `saex batch`, `saex live` and `saex serve` run. `saex eval` asks for f32
    /// unless told otherwise, so that a model scores the same on every machine (bf16 products
    /// round differently from one CPU to another).
    pub precision: Precision,
    /// Frames per network batch and channel (see [`SeparateOptions::batch_frames`]).
    pub batch_frames: usize,
}

impl Default for SeparatorSettings {
    fn default() -> Self {
        SeparatorSettings {
            models: Vec::new(),
            device: tch::Device::Cpu,
            mask: None,
            niter: SeparateOptions::default().niter,
            precision: Precision::Auto,
            batch_frames: SeparateOptions::default().batch_frames,
        }
    }
}

impl SeparatorSettings {
    /// The model folders, names resolved (errors name what was not found).
    pub fn model_dirs(&self) -> Result<Vec<PathBuf>> {
        if self.models.is_empty() {
            return Ok(vec![find_model(DEFAULT_MODEL)?]);
        }
        self.models.iter().map(|m| resolve_model(m)).collect()
    }

    /// Loads every model onto the device and builds the separator.
    pub fn build(&self) -> Result<Separator> {
        let dirs = self.model_dirs()?;
        let options = SeparateOptions {
            mask: self.mask.unwrap_or(MaskKind::auto_for(dirs.len())),
            niter: self.niter,
            batch_frames: self.batch_frames,
            precision: self.precision,
            ..SeparateOptions::default()
        };
        Separator::from_model_dirs(&dirs, self.device, options)
    }
}
