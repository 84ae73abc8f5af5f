//! The `autoencoder` init: greedy unsupervised pretraining of a new layer, the classic stacked
//! autoencoder the paper's layer-wise training is compared with.
//!
//! The new layer is the encoder `h = relu(W z + b)` of the current representation `z` (the
//! scaled network input for layer 1, the last hidden output after); a linear decoder
//! `z' = V h + c` is trained with it to reconstruct `z` (mean squared error, Adam) for a few
//! passes over unaugmented training frames. The decoder is then dropped and the supervised stage
//! trains the stack as usual. The encoder starts from the `random` init.

use super::optim::Optimizer;
use crate::error::{Error, Result};
use crate::record::OptimizerKind;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

/// Trains an encoder of `dim_out` units and its decoder on `z (n, dim_in)` for `epochs` passes
/// in batches of `batch_size` rows in an order drawn from `seed`. `weight (dim_out, dim_in)` and
/// `bias (dim_out,)` are the encoder's start, trained in place. Returns the mean reconstruction
/// error of the last pass.
pub fn pretrain(
    z: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    epochs: usize,
    batch_size: usize,
    lr: f64,
    seed: u64,
) -> Result<f64> {
    let (n, dim_in) = match z.size()[..] {
        [n, d] => (n, d),
        _ => {
            return Err(Error::Invalid(
                "autoencoder input: expected (n, dim)".into(),
            ))
        }
    };
    let dim_out = weight.size()[0];
    let device = z.device();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let bound = 1.0 / (dim_out as f32).sqrt();
    let draws: Vec<f32> = (0..dim_in * dim_out)
        .map(|_| rng.gen_range(-bound..bound))
        .collect();
    let decoder_weight = Tensor::from_slice(&draws)
        .view([dim_in, dim_out])
        .to_device(device);
    let decoder_bias = Tensor::zeros([dim_in], (Kind::Float, device));
    let params: Vec<(String, Tensor)> = [
        ("encoder.weight", weight),
        ("encoder.bias", bias),
        ("decoder.weight", &decoder_weight),
        ("decoder.bias", &decoder_bias),
    ]
    .into_iter()
    .map(|(name, t)| (name.to_string(), t.set_requires_grad(true)))
    .collect();
    let mut optimizer = Optimizer::new(OptimizerKind::Adam, params);
    let mut last = f64::NAN;
    for epoch in 0..epochs {
        let mut order: Vec<i64> = (0..n).collect();
        order.shuffle(&mut rng);
        let order = Tensor::from_slice(&order).to_device(device);
        let mut sum = 0.0;
        for picks in order.split(batch_size as i64, 0) {
            let batch = z.index_select(0, &picks);
            let h = batch.linear(weight, Some(bias)).relu();
            let loss = (h.linear(&decoder_weight, Some(&decoder_bias)) - &batch)
                .square()
                .mean(Kind::Float);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step(lr);
            let value = loss.double_value(&[]);
            if !value.is_finite() {
                return Err(Error::Invalid(format!(
                    "autoencoder pass {}: the reconstruction error became {value}; try a lower --lr",
                    epoch + 1
                )));
            }
            sum += value * picks.size()[0] as f64;
        }
        last = sum / n.max(1) as f64;
    }
    for t in [weight, bias] {
        let _ = t.set_requires_grad(false);
    }
    Ok(last)
}

/// The error of reconstructing every row of `z` by the mean row.
#[cfg(test)]
fn mean_error(z: &Tensor) -> f64 {
    (z - z.mean_dim(0, true, Kind::Float))
        .square()
        .mean(Kind::Float)
        .double_value(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn learns_a_low_rank_representation() {
        // 400 rows of 12 non-negative values spanned by 3 factors: 6 units suffice.
        let grid = |rows: i64, cols: i64, step: f64| {
            (Tensor::arange(rows * cols, (Kind::Float, Device::Cpu)) * step)
                .sin()
                .abs()
                .view([rows, cols])
        };
        let z = grid(400, 3, 0.37).matmul(&grid(3, 12, 1.3));
        let weight = (grid(6, 12, 0.71) - 0.5) * 0.5;
        let bias = Tensor::zeros([6], (Kind::Float, Device::Cpu));
        let before = weight.copy();
        let error = pretrain(&z, &weight, &bias, 40, 50, 1e-2, 1).unwrap();
        let baseline = mean_error(&z);
        assert!(
            error < 0.05 * baseline,
            "error {error} against the mean's {baseline}"
        );
        assert!(f64::try_from((&weight - &before).abs().max()).unwrap() > 1e-3);
        assert!(!weight.requires_grad() && !bias.requires_grad());
    }

    #[test]
    fn same_seed_same_encoder() {
        let z = (Tensor::arange(320, (Kind::Float, Device::Cpu)) * 0.9)
            .cos()
            .view([64, 5]);
        let run = || {
            let weight = Tensor::ones([4, 5], (Kind::Float, Device::Cpu)) * 0.1;
            let bias = Tensor::zeros([4], (Kind::Float, Device::Cpu));
            pretrain(&z, &weight, &bias, 3, 16, 1e-2, 9).unwrap();
            weight
        };
        assert_eq!(run(), run());
    }
}
