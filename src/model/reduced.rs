//! A model's layers converted once to a lower precision for inference, so that its matrix
//! products run on the CPU's bf16 units (AMX, AVX512-BF16) or a GPU's tensor cores.
//!
//! The per-frame scale is computed and applied in f32 (it spans the input's whole dynamic
//! range); only the products and the ReLUs between them run in the lower precision, with the
//! accumulation in f32 as LibTorch's bf16 matmul does.

use super::sae::{frame_scale, Layer};
use super::{Model, Precision};
use crate::error::Result;
use tch::{Kind, Tensor};

/// The layers of a [`Model`] in a reduced precision.
pub struct ReducedNetwork {
    layers: Vec<Layer>,
    kind: Kind,
    scaling: bool,
}

impl ReducedNetwork {
    /// `model`'s layers in `precision` (resolved for the model's device, see
    /// [`Precision::resolve`]); `None` when that is f32 (use the model itself).
    pub fn new(model: &Model, precision: Precision) -> Result<Option<Self>> {
        let kind = match precision.resolve(model.device()) {
            Precision::Bf16 => Kind::BFloat16,
            _ => return Ok(None),
        };
        let layers = model
            .layers
            .iter()
            .map(|l| {
                Ok(Layer {
                    weight: l.weight.f_to_kind(kind)?.detach(),
                    bias: l.bias.f_to_kind(kind)?.detach(),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Some(ReducedNetwork {
            layers,
            kind,
            scaling: model.config.scaling,
        }))
    }

    /// As [`Model::forward`]: `input (batch, nb_inputs)` f32 -> `(batch, nb_bins)` f32, >= 0.
    pub fn forward(&self, input: &Tensor) -> Tensor {
        tch::no_grad(|| {
            let (x, scale) = if self.scaling {
                let scale = frame_scale(input);
                (input / &scale, Some(scale))
            } else {
                (input.shallow_clone(), None)
            };
            let mut x = x.to_kind(self.kind);
            for layer in &self.layers {
                x = x.linear(&layer.weight, Some(&layer.bias)).relu();
            }
            let x = x.to_kind(Kind::Float);
            match scale {
                Some(scale) => x * scale,
                None => x,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;
    use tch::Device;

    #[test]
    fn bf16_follows_f32_within_its_precision() {
        let config = ModelConfig {
            n_fft: 64,
            hop: 16,
            context: 1,
            context_stride: 1,
            nb_bins_in: 33,
            nb_bins: 33,
            nb_layers: 3,
            ..ModelConfig::default_for("vocals")
        };
        let model = Model::new(config, Device::Cpu).unwrap();
        assert!(ReducedNetwork::new(&model, Precision::F32)
            .unwrap()
            .is_none());
        assert_eq!(
            ReducedNetwork::new(&model, Precision::Auto)
                .unwrap()
                .is_some(),
            Precision::cpu_has_bf16()
        );
        assert_eq!(Precision::Auto.resolve(Device::Cuda(0)), Precision::F32);
        assert_eq!(Precision::Bf16.resolve(Device::Cuda(0)), Precision::Bf16);
        let reduced = ReducedNetwork::new(&model, Precision::Bf16)
            .unwrap()
            .unwrap();
        // Magnitudes over a wide range of loudness: the scale keeps them in f32.
        let input = Tensor::rand([64, 99], (Kind::Float, Device::Cpu))
            * Tensor::logspace(-4.0, 2.0, 64, 10.0, (Kind::Float, Device::Cpu)).view([64, 1]);
        let want = model.forward(&input);
        let got = reduced.forward(&input);
        assert_eq!(got.kind(), Kind::Float);
        assert_eq!(got.size(), want.size());
        assert!(got.min().double_value(&[]) >= 0.0);
        // Relative to each frame's output size: bf16 keeps 8 significant bits per step.
        let err = ((&got - &want).abs().amax([1i64].as_slice(), false)
            / (want.abs().amax([1i64].as_slice(), false) + 1e-12))
            .max()
            .double_value(&[]);
        assert!(err < 0.05, "largest relative error {err}");
        assert!(
            err > 0.0,
            "bf16 gave exactly the f32 output: it did not run in bf16"
        );
    }
}
