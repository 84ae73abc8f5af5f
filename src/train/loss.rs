//! What training minimises, per frame and bin (`saex train --loss`).
//!
//! The network estimates the target's magnitudes; extraction turns them into the ratio mask
//! `min(estimate / mixture, 1)` (one target), so the magnitude that comes out is
//! `min(estimate, mixture)`. `magnitude` (the paper's loss) compares the raw estimate with the
//! target; `masked` compares what extraction will output, so an estimate above the mixture
//! costs nothing (it is clipped anyway) and the network spends its capacity where the mask is
//! below 1.

use crate::record::Loss;
use tch::{Kind, Tensor};

impl Loss {
    /// Squared errors `(batch, nb_bins)` of `estimate (batch, nb_bins)` against `target`
    /// `(batch, nb_bins)`; `mix (batch, nb_bins_in)` holds the mixture's magnitudes of the same
    /// centre frames. With `masked`, bins the input lacks (above `nb_bins_in`) are not clipped.
    pub fn squared_errors(&self, estimate: &Tensor, target: &Tensor, mix: &Tensor) -> Tensor {
        let output = match self {
            Loss::Magnitude => estimate.shallow_clone(),
            Loss::Masked => {
                let nb_bins = estimate.size()[1];
                let shared = nb_bins.min(mix.size()[1]);
                let clipped = estimate
                    .narrow(1, 0, shared)
                    .minimum(&mix.narrow(1, 0, shared));
                if shared == nb_bins {
                    clipped
                } else {
                    Tensor::cat(&[clipped, estimate.narrow(1, shared, nb_bins - shared)], 1)
                }
            }
        };
        (output - target).square()
    }

    /// The mean of [`Loss::squared_errors`]: the scalar a training step minimises.
    pub fn mean(&self, estimate: &Tensor, target: &Tensor, mix: &Tensor) -> Tensor {
        self.squared_errors(estimate, target, mix).mean(Kind::Float)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_clips_the_estimate_to_the_mixture_and_magnitude_does_not() {
        let estimate = Tensor::from_slice(&[3.0f32, 1.0, 5.0]).view([1, 3]);
        let target = Tensor::from_slice(&[2.0f32, 2.0, 2.0]).view([1, 3]);
        // Two input bins: the third is above the input's band and stays unclipped.
        let mix = Tensor::from_slice(&[2.0f32, 4.0]).view([1, 2]);
        let errors = |loss: Loss| -> Vec<f32> {
            Vec::try_from(loss.squared_errors(&estimate, &target, &mix).view([-1])).unwrap()
        };
        assert_eq!(errors(Loss::Magnitude), vec![1.0, 1.0, 9.0]);
        assert_eq!(errors(Loss::Masked), vec![0.0, 1.0, 9.0]);
    }

    #[test]
    fn masked_passes_no_gradient_through_a_clipped_bin() {
        let estimate = Tensor::from_slice(&[3.0f32, 1.0])
            .view([1, 2])
            .set_requires_grad(true);
        let target = Tensor::from_slice(&[0.0f32, 0.0]).view([1, 2]);
        let mix = Tensor::from_slice(&[2.0f32, 4.0]).view([1, 2]);
        Loss::Masked.mean(&estimate, &target, &mix).backward();
        let grad = Vec::<f32>::try_from(estimate.grad().view([-1])).unwrap();
        // d/d estimate of mean((min(e, m) - 0)^2): 0 where e > m, e where e < m (2 e / 2 bins).
        assert_eq!(grad, vec![0.0, 1.0]);
    }

    #[test]
    fn names_round_trip() {
        for loss in [Loss::Magnitude, Loss::Masked] {
            assert_eq!(Loss::parse(loss.name()).unwrap(), loss);
        }
        assert!(Loss::parse("l1")
            .unwrap_err()
            .to_string()
            .contains("magnitude or masked"));
    }
}
