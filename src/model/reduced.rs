//! A model's layers converted once to a lower precision for inference, so that its matrix
//! products run on the CPU's bf16 units (AMX, AVX512-BF16), its int8 dot products (VNNI) or a
//! GPU's tensor cores.
//!
//! - **bf16**: the per-frame scale is computed and applied in f32 (it spans the input's whole
//!   dynamic range); only the products and the ReLUs between them run in bf16, with the
//!   accumulation in f32 as LibTorch's bf16 matmul does.
//! - **int8** (CPU): each layer's weights are rounded to 8 bits with a step per output unit, and
//!   each frame's activations before every layer to 8 bits with a step per frame (its largest
//!   value / 127: the activations are magnitudes and ReLU outputs, never negative); the
//!   products accumulate exactly in i32 (`_int_mm`), and the steps, the bias and the ReLU are
//!   applied in f32. A step per frame makes the per-frame scale of the first layer's input
//!   cancel out: it only divides that layer's output. The trained networks are sensitive to
//!   it: magnitudes span more than 7 bits within a frame (a quarter of the first layer's inputs
//!   round to 0), and rounding only the weights, or only the hidden layers, already costs five
//!   times bf16's output error (docs/benchmarks.md), so int8 is opt-in.

use super::sae::{frame_scale, Layer};
use super::{Model, Precision};
use crate::error::Result;
use tch::{Kind, Tensor};

/// The layers of a [`Model`] in a reduced precision.
pub struct ReducedNetwork {
    layers: Layers,
    scaling: bool,
}

enum Layers {
    Bf16(Vec<Layer>),
    Int8(Vec<Int8Layer>),
}

/// One layer with 8-bit weights.
struct Int8Layer {
    /// `(nb_in, nb_out)` i8: the weights in steps of `step`.
    weight: Tensor,
    /// `(1, nb_out)` f32: each output unit's weight step.
    step: Tensor,
    /// `(nb_out,)` f32.
    bias: Tensor,
}

/// The largest 8-bit magnitude used: symmetric, so that -127..=127 all round trip.
const INT8_MAX: f64 = 127.0;

impl Int8Layer {
    fn new(layer: &Layer) -> Result<Self> {
        let weight = layer.weight.f_to_kind(Kind::Float)?;
        // A zero row keeps a tiny step (its weights round to 0 either way).
        let step = weight
            .f_abs()?
            .f_amax([1i64].as_slice(), true)?
            .f_clamp_min(f64::from(f32::MIN_POSITIVE))?
            / INT8_MAX;
        let weight = (weight / &step)
            .f_round()?
            .f_to_kind(Kind::Int8)?
            .f_t_()?
            .f_contiguous()?;
        Ok(Int8Layer {
            weight,
            step: step.f_view([1, -1])?,
            bias: layer.bias.f_to_kind(Kind::Float)?.detach(),
        })
    }

    /// `relu(x / divisor @ W^T + b)` for `x (batch, nb_in)` >= 0 (`divisor (batch, 1)`, or
    /// none), with `x` rounded to 8 bits per row.
    fn forward(&self, x: &Tensor, divisor: Option<&Tensor>) -> Tensor {
        let top = x
            .amax([1i64].as_slice(), true)
            .clamp_min(f64::from(f32::MIN_POSITIVE));
        let q = (x * (INT8_MAX / &top)).round_().to_kind(Kind::Int8);
        let mut row_step = top / INT8_MAX;
        if let Some(divisor) = divisor {
            row_step /= divisor;
        }
        let acc = q.internal_int_mm(&self.weight).to_kind(Kind::Float);
        self.bias.addcmul(&acc, &(row_step * &self.step)).relu_()
    }
}

impl ReducedNetwork {
    /// `model`'s layers in `precision` (resolved for the model's device, see
    /// [`Precision::resolve`]); `None` when that is f32 (use the model itself).
    pub fn new(model: &Model, precision: Precision) -> Result<Option<Self>> {
        let layers = match precision.resolve(model.device()) {
            Precision::Bf16 => Layers::Bf16(
                model
                    .layers
                    .iter()
                    .map(|l| {
                        Ok(Layer {
                            weight: l.weight.f_to_kind(Kind::BFloat16)?.detach(),
                            bias: l.bias.f_to_kind(Kind::BFloat16)?.detach(),
                        })
                    })
                    .collect::<Result<_>>()?,
            ),
            Precision::Int8 => Layers::Int8(tch::no_grad(|| {
                model
                    .layers
                    .iter()
                    .map(Int8Layer::new)
                    .collect::<Result<_>>()
            })?),
            _ => return Ok(None),
        };
        Ok(Some(ReducedNetwork {
            layers,
            scaling: model.config.scaling,
        }))
    }

    /// As [`Model::forward`]: `input (batch, nb_inputs)` f32, >= 0 -> `(batch, nb_bins)` f32,
    /// >= 0.
    pub fn forward(&self, input: &Tensor) -> Tensor {
        tch::no_grad(|| {
            let scale = self.scaling.then(|| frame_scale(input));
            let x = match &self.layers {
                Layers::Bf16(layers) => {
                    let mut x = match &scale {
                        Some(scale) => input / scale,
                        None => input.shallow_clone(),
                    }
                    .to_kind(Kind::BFloat16);
                    for layer in layers {
                        x = x.linear(&layer.weight, Some(&layer.bias)).relu();
                    }
                    x.to_kind(Kind::Float)
                }
                Layers::Int8(layers) => {
                    let mut x = input.shallow_clone();
                    for (i, layer) in layers.iter().enumerate() {
                        x = layer.forward(&x, scale.as_ref().filter(|_| i == 0));
                    }
                    x
                }
            };
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

    fn small_model() -> Model {
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
        Model::new(config, Device::Cpu).unwrap()
    }

    /// The largest error of `precision` against f32 relative to each frame's largest output, on
    /// magnitudes over a wide range of loudness (and one silent frame).
    fn largest_relative_error(model: &Model, precision: Precision) -> f64 {
        let reduced = ReducedNetwork::new(model, precision).unwrap().unwrap();
        let input = Tensor::rand([64, 99], (Kind::Float, Device::Cpu))
            * Tensor::logspace(-4.0, 2.0, 64, 10.0, (Kind::Float, Device::Cpu)).view([64, 1]);
        let _ = input.get(0).fill_(0.0);
        let want = model.forward(&input);
        let got = reduced.forward(&input);
        assert_eq!(got.kind(), Kind::Float);
        assert_eq!(got.size(), want.size());
        assert!(got.min().double_value(&[]) >= 0.0);
        ((&got - &want).abs().amax([1i64].as_slice(), false)
            / (want.abs().amax([1i64].as_slice(), false) + 1e-12))
            .max()
            .double_value(&[])
    }

    #[test]
    fn reduced_precisions_resolve_per_device() {
        let model = small_model();
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
        assert_eq!(Precision::Int8.resolve(Device::Cuda(0)), Precision::F32);
        assert_eq!(Precision::Int8.resolve(Device::Cpu), Precision::Int8);
    }

    #[test]
    fn bf16_follows_f32_within_its_precision() {
        // bf16 keeps 8 significant bits per step.
        let err = largest_relative_error(&small_model(), Precision::Bf16);
        assert!(err < 0.05, "largest relative error {err}");
        assert!(
            err > 0.0,
            "bf16 gave exactly the f32 output: it did not run in bf16"
        );
    }

    #[test]
    fn int8_follows_f32_within_its_precision() {
        // 7 bits per frame's activations and per unit's weights, exact sums.
        let err = largest_relative_error(&small_model(), Precision::Int8);
        assert!(err < 0.05, "largest relative error {err}");
        assert!(
            err > 0.0,
            "int8 gave exactly the f32 output: it did not run in int8"
        );
    }
}
