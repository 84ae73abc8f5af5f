//! The trained network ([`Model`]) as the separator's [`Estimator`].

use super::estimator::{Estimator, EstimatorSpec};
use crate::error::Result;
use crate::model::{Model, Precision, ReducedNetwork};
use tch::{Device, Tensor};

/// A loaded model with the spec the separator reads.
pub struct ModelEstimator {
    model: Model,
    spec: EstimatorSpec,
    /// The layers in a lower precision, when asked for ([`ModelEstimator::with_precision`]).
    reduced: Option<ReducedNetwork>,
}

impl ModelEstimator {
    pub fn new(model: Model) -> Result<Self> {
        let c = &model.config;
        let spec = EstimatorSpec {
            target: c.target.clone(),
            sample_rate: c.sample_rate,
            stft: c.stft_config()?,
            context: c.context,
            context_stride: c.context_stride,
            nb_bins_in: c.nb_bins_in,
            nb_bins: c.nb_bins,
        };
        Ok(ModelEstimator {
            model,
            spec,
            reduced: None,
        })
    }

    /// Runs the network's matrix products in `precision` (f32: the model as loaded).
    pub fn with_precision(mut self, precision: Precision) -> Result<Self> {
        self.reduced = ReducedNetwork::new(&self.model, precision)?;
        Ok(self)
    }

    pub fn model(&self) -> &Model {
        &self.model
    }
}

impl Estimator for ModelEstimator {
    fn spec(&self) -> &EstimatorSpec {
        &self.spec
    }

    fn device(&self) -> Device {
        self.model.device()
    }

    fn estimate(&self, input: &Tensor) -> Result<Tensor> {
        match &self.reduced {
            Some(reduced) => {
                self.model.check_input(input)?;
                Ok(reduced.forward(input))
            }
            None => self.model.try_forward(input),
        }
    }
}
