//! The stacked network: K layers of `relu(W x + b)` with optional per-frame scaling. Layer 1 maps
//! `(2C+1) * nb_bins_in -> nb_bins`, layers 2..K map `nb_bins -> nb_bins`.

use super::config::SCALING_EPS;
use tch::Tensor;

/// One layer's parameters: `weight (nb_outputs, nb_inputs)`, `bias (nb_outputs,)`.
pub(crate) struct Layer {
    pub weight: Tensor,
    pub bias: Tensor,
}

/// The per-frame scale of `input (batch, nb_inputs)`: `(batch, 1)` holding `norm + eps`.
pub(crate) fn frame_scale(input: &Tensor) -> Tensor {
    input
        .norm_scalaropt_dim(2, [1i64].as_slice(), true)
        .g_add_scalar(SCALING_EPS)
}

/// Runs `input (batch, nb_inputs)` through `layers` in the scaled domain: returns the last hidden
/// output `(batch, nb_bins)` and, when scaling, the `(batch, 1)` scale to multiply it by.
pub(crate) fn hidden(layers: &[Layer], input: &Tensor, scaling: bool) -> (Tensor, Option<Tensor>) {
    let (mut x, scale) = if scaling {
        let scale = frame_scale(input);
        (input / &scale, Some(scale))
    } else {
        (input.shallow_clone(), None)
    };
    for layer in layers {
        x = x.linear(&layer.weight, Some(&layer.bias)).relu();
    }
    (x, scale)
}

/// The network output `(batch, nb_bins)` for `input (batch, nb_inputs)`, with the gradient graph.
pub(crate) fn forward(layers: &[Layer], input: &Tensor, scaling: bool) -> Tensor {
    match hidden(layers, input, scaling) {
        (x, Some(scale)) => x * scale,
        (x, None) => x,
    }
}
