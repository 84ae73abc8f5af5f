//! What the separator needs of a network: its STFT set-up, its input layout, and a forward pass;
//! and the one place every path calls it ([`run_network`]).

use super::stages::StageTimes;
use crate::error::{Error, Result};
use crate::stft::StftConfig;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// The shapes and settings of one target's estimator.
#[derive(Debug, Clone, PartialEq)]
pub struct EstimatorSpec {
    /// The stem it estimates, e.g. "vocals"; names the output file.
    pub target: String,
    /// The rate the network's STFT runs at; input is resampled to it and back.
    pub sample_rate: u32,
    pub stft: StftConfig,
    /// C: each input row holds the 2C+1 frames t-CS, t-(C-1)S, ..., t+CS.
    pub context: usize,
    /// S: the distance in frames between them (1: adjacent).
    pub context_stride: usize,
    /// Bins of each input frame (the lowest ones).
    pub nb_bins_in: usize,
    /// Bins estimated (the lowest ones); the mask above is extended from the top of this band.
    pub nb_bins: usize,
}

impl EstimatorSpec {
    /// The frames an input row reaches to each side of its centre: `C * S`.
    pub fn reach(&self) -> usize {
        self.context * self.context_stride
    }
}

/// A network that maps context-stacked mixture magnitudes to target magnitudes. `Send`, so a
/// separator can move to (or be locked by) another thread; never shared without a lock, since
/// tensors are not `Sync`.
pub trait Estimator: Send {
    fn spec(&self) -> &EstimatorSpec;

    /// Where [`Estimator::estimate`] wants its input.
    fn device(&self) -> Device;

    /// `input`: `(batch, (2C+1) * nb_bins_in)` mixture magnitudes (row t = frames t-CS, ...,
    /// t+CS, each cut to `nb_bins_in`) -> `(batch, nb_bins)` non-negative target magnitudes.
    fn estimate(&self, input: &Tensor) -> Result<Tensor>;
}

/// Runs one estimator on `input` `(rows, width)` and checks the output's shape:
/// `(rows, nb_bins_out)` on the estimator's device, f32.
pub(crate) fn run_network(
    estimator: &dyn Estimator,
    input: &Tensor,
    rows: i64,
    times: &mut StageTimes,
) -> Result<Tensor> {
    let clock = Instant::now();
    let spec = estimator.spec();
    let output = tch::no_grad(|| estimator.estimate(&input.to_device(estimator.device())))?;
    let output = output.to_kind(Kind::Float);
    if output.size() != [rows, spec.nb_bins as i64] {
        return Err(Error::mismatch(
            format!("estimate shape of the {} model", spec.target),
            format!("[{rows}, {}]", spec.nb_bins),
            format!("{:?}", output.size()),
        ));
    }
    times.network += clock.elapsed();
    Ok(output)
}
