//! Initialisation of a new layer: least squares (`ls`), `identity`, or `random`.
//!
//! `ls` solves the weighted ridge regression
//! `argmin_{W,b} sum_n w_n ||s_n - W z_n - b||^2 + lambda ||W||^2` with
//! `lambda = ridge * trace(Czz) / dim` (default ridge [`crate::record::DEFAULT_RIDGE`]; Czz the weighted, centred covariance of z). The sums are
//! accumulated in f64 in streaming batches, shifted by the first batch's means so that centring
//! after the fact loses no precision; the system is solved with LibTorch's Cholesky
//! factorisation (falling back to a general solve). The weights `w_n` make the regression
//! minimise exactly the training loss of the new layer when per-frame scaling is on (see
//! [`crate::train`](mod@crate::train)); without scaling they are all 1.

use crate::error::{Error, Result};
use crate::model::ModelConfig;
use tch::{Device, Kind, Tensor};

/// The ridge of the recovery tests: small enough that its shrinkage stays far below 1e-4.
#[cfg(test)]
const TEST_RIDGE: f64 = 1e-6;

/// Streaming sums for the least-squares fit of `s (dim_out)` from `z (dim_in)`.
pub struct LsAccumulator {
    dim_in: usize,
    dim_out: usize,
    device: Device,
    /// Shifts (the first batch's weighted means): `(dim_in,)` and `(dim_out,)` f64.
    shift: Option<(Tensor, Tensor)>,
    sum_w: f64,
    /// Sums of `w z'`, `w s'`, `w z' z'^T`, `w z' s'^T` with `z' = z - shift_z`, `s' = s - shift_s`.
    sum_z: Tensor,
    sum_s: Tensor,
    sum_zz: Tensor,
    sum_zs: Tensor,
    nb_rows: usize,
}

impl LsAccumulator {
    /// Empty sums for inputs of `dim_in` and targets of `dim_out`, kept in f64 on `device`.
    pub fn new(dim_in: usize, dim_out: usize, device: Device) -> Self {
        let opts = (Kind::Double, device);
        LsAccumulator {
            dim_in,
            dim_out,
            device,
            shift: None,
            sum_w: 0.0,
            sum_z: Tensor::zeros([dim_in as i64], opts),
            sum_s: Tensor::zeros([dim_out as i64], opts),
            sum_zz: Tensor::zeros([dim_in as i64, dim_in as i64], opts),
            sum_zs: Tensor::zeros([dim_in as i64, dim_out as i64], opts),
            nb_rows: 0,
        }
    }

    /// Rows accumulated so far.
    pub fn nb_rows(&self) -> usize {
        self.nb_rows
    }

    /// Adds a batch: `z (batch, dim_in)`, `s (batch, dim_out)`, optional weights `w (batch, 1)`
    /// (all >= 0; `None` means 1).
    pub fn add(&mut self, z: &Tensor, s: &Tensor, w: Option<&Tensor>) -> Result<()> {
        let batch = z.size()[0];
        if z.size() != [batch, self.dim_in as i64] || s.size() != [batch, self.dim_out as i64] {
            return Err(Error::mismatch(
                "least-squares batch shapes",
                format!("z (batch, {}), s (batch, {})", self.dim_in, self.dim_out),
                format!("z {:?}, s {:?}", z.size(), s.size()),
            ));
        }
        if batch == 0 {
            return Ok(());
        }
        tch::no_grad(|| -> Result<()> {
            let z = z.f_to_kind(Kind::Double)?.f_to_device(self.device)?;
            let s = s.f_to_kind(Kind::Double)?.f_to_device(self.device)?;
            let w = match w {
                Some(w) => w
                    .f_to_kind(Kind::Double)?
                    .f_to_device(self.device)?
                    .f_reshape([batch, 1])?,
                None => Tensor::ones([batch, 1], (Kind::Double, self.device)),
            };
            if self.shift.is_none() {
                let total = w.sum(Kind::Double).f_clamp_min(1e-300)?;
                let mz = (&z * &w).sum_dim_intlist([0i64].as_slice(), false, Kind::Double) / &total;
                let ms = (&s * &w).sum_dim_intlist([0i64].as_slice(), false, Kind::Double) / &total;
                self.shift = Some((mz, ms));
            }
            let (kz, ks) = self.shift.as_ref().expect("set above");
            let root_w = w.sqrt();
            let zc = (&z - kz) * &root_w;
            let sc = (&s - ks) * &root_w;
            self.sum_w += w.sum(Kind::Double).f_double_value(&[])?;
            self.sum_z += (&zc * &root_w).sum_dim_intlist([0i64].as_slice(), false, Kind::Double);
            self.sum_s += (&sc * &root_w).sum_dim_intlist([0i64].as_slice(), false, Kind::Double);
            self.sum_zz += zc.tr().f_matmul(&zc)?;
            self.sum_zs += zc.tr().f_matmul(&sc)?;
            Ok(())
        })?;
        self.nb_rows += batch as usize;
        Ok(())
    }

    /// Solves for `weight (dim_out, dim_in)` and `bias (dim_out,)`, f32 on the accumulator's
    /// device. `ridge` is relative to the mean variance `trace(Czz) / dim_in`.
    pub fn solve(&self, ridge: f64) -> Result<(Tensor, Tensor)> {
        let (kz, ks) = self
            .shift
            .as_ref()
            .ok_or_else(|| Error::Invalid("least squares: no training frames were seen".into()))?;
        if self.sum_w <= 0.0 {
            return Err(Error::Invalid(
                "least squares: every frame has weight 0 (all silent?)".into(),
            ));
        }
        tch::no_grad(|| {
            let mz = &self.sum_z / self.sum_w;
            let ms = &self.sum_s / self.sum_w;
            let czz = &self.sum_zz - mz.outer(&mz) * self.sum_w;
            let czs = &self.sum_zs - mz.outer(&ms) * self.sum_w;
            let dim = self.dim_in as f64;
            let trace = czz.trace().f_double_value(&[])?;
            let lambda = (ridge * trace / dim).max(1e-12);
            let a = czz + Tensor::eye(self.dim_in as i64, (Kind::Double, self.device)) * lambda;
            let wt = solve_spd(&a, &czs)?; // (dim_in, dim_out)
            let mean_z = kz + &mz;
            let mean_s = ks + &ms;
            let bias = &mean_s - mean_z.unsqueeze(0).f_matmul(&wt)?.squeeze_dim(0);
            Ok((
                wt.tr().f_to_kind(Kind::Float)?.f_contiguous()?,
                bias.f_to_kind(Kind::Float)?,
            ))
        })
    }
}

/// Solves `a x = b` for symmetric positive definite `a`: Cholesky, or a general solve when the
/// factorisation fails.
fn solve_spd(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    match a.f_linalg_cholesky(false) {
        Ok(l) if l.isfinite().all().int64_value(&[]) != 0 => Ok(b.f_cholesky_solve(&l, false)?),
        _ => Ok(Tensor::f_linalg_solve(a, b, true)?),
    }
}

/// The `identity` init of layer `k` (1-based): layer 1 copies the centre frame's lowest
/// `min(nb_bins, nb_bins_in)` bins, layers 2..K are the identity; the bias is 0.
/// Shapes: `weight (nb_bins, nb_inputs_k)`, `bias (nb_bins,)`, f32 on `device`.
pub fn identity_layer(config: &ModelConfig, k: usize, device: Device) -> (Tensor, Tensor) {
    let (nb_out, nb_in) = config.layer_shape(k);
    let weight = Tensor::zeros([nb_out as i64, nb_in as i64], (Kind::Float, device));
    let offset = if k == 1 {
        config.context * config.nb_bins_in
    } else {
        0
    };
    let nb_copied = if k == 1 {
        nb_out.min(config.nb_bins_in)
    } else {
        nb_out
    };
    let _ = weight
        .narrow(1, offset as i64, nb_copied as i64)
        .narrow(0, 0, nb_copied as i64)
        .fill_diagonal_(1.0, false);
    let bias = Tensor::zeros([nb_out as i64], (Kind::Float, device));
    (weight, bias)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Model;

    #[test]
    fn ls_recovers_a_linear_map() {
        tch::manual_seed(3);
        let (dim_in, dim_out, n) = (12i64, 5i64, 4000i64);
        let w_true = Tensor::randn([dim_out, dim_in], (Kind::Double, Device::Cpu));
        let b_true = Tensor::randn([dim_out], (Kind::Double, Device::Cpu)) * 3.0 + 10.0;
        let mut acc = LsAccumulator::new(dim_in as usize, dim_out as usize, Device::Cpu);
        for weighted in [false, true] {
            let mut acc_case = LsAccumulator::new(dim_in as usize, dim_out as usize, Device::Cpu);
            // Streaming batches, offset far from 0 to exercise the shift.
            for _ in 0..8 {
                let z = Tensor::rand([n / 8, dim_in], (Kind::Double, Device::Cpu)) + 100.0;
                let s = z.matmul(&w_true.tr()) + &b_true;
                let w = Tensor::rand([n / 8, 1], (Kind::Double, Device::Cpu)) * 4.0;
                let zf = z.to_kind(Kind::Float);
                let sf = s.to_kind(Kind::Float);
                acc_case.add(&zf, &sf, weighted.then_some(&w)).unwrap();
                if !weighted {
                    acc.add(&zf, &sf, None).unwrap();
                }
            }
            let (w, b) = acc_case.solve(TEST_RIDGE).unwrap();
            let w_err = (w.to_kind(Kind::Double) - &w_true)
                .abs()
                .max()
                .double_value(&[]);
            // b is checked in the next test: here the offset 100 multiplies the ridge's
            // (relative 1e-6) shrinkage of W into b.
            assert!(w_err < 1e-4, "weighted {weighted}: max W error {w_err}");
            assert_eq!(b.size(), vec![dim_out]);
        }
        assert_eq!(acc.nb_rows(), n as usize);
    }

    #[test]
    fn ls_recovers_bias_exactly_representable() {
        // Small values so f32 rounding of s is far below the tolerance for b too.
        tch::manual_seed(4);
        let w_true = Tensor::randn([3, 6], (Kind::Double, Device::Cpu)) * 0.5;
        let b_true = Tensor::from_slice(&[0.25f64, -0.5, 1.0]);
        let mut acc = LsAccumulator::new(6, 3, Device::Cpu);
        for _ in 0..4 {
            let z = Tensor::rand([500, 6], (Kind::Double, Device::Cpu));
            let s = z.matmul(&w_true.tr()) + &b_true;
            acc.add(&z.to_kind(Kind::Float), &s.to_kind(Kind::Float), None)
                .unwrap();
        }
        let (w, b) = acc.solve(TEST_RIDGE).unwrap();
        let w_err = (w.to_kind(Kind::Double) - &w_true)
            .abs()
            .max()
            .double_value(&[]);
        let b_err = (b.to_kind(Kind::Double) - &b_true)
            .abs()
            .max()
            .double_value(&[]);
        assert!(
            w_err < 1e-4 && b_err < 1e-4,
            "max W error {w_err}, max b error {b_err}"
        );
    }

    #[test]
    fn identity_returns_the_centre_frame() {
        for scaling in [false, true] {
            let config = ModelConfig {
                n_fft: 32,
                hop: 8,
                context: 2,
                context_stride: 1,
                nb_bins_in: 17,
                nb_bins: 17,
                nb_layers: 1,
                scaling,
                ..ModelConfig::default_for("vocals")
            };
            let mut model = Model::empty(config.clone(), Device::Cpu).unwrap();
            let (w, b) = identity_layer(&config, 1, Device::Cpu);
            model.push_layer(w, b).unwrap();
            let input = Tensor::rand([64, 5 * 17], (Kind::Float, Device::Cpu)) * 50.0;
            let centre = input.narrow(1, 2 * 17, 17);
            let out = model.forward(&input);
            if scaling {
                // (x / s) * s rounds twice: at most one unit in the last place apart.
                let rel = ((&out - &centre).abs() / centre.clamp_min(1e-30))
                    .max()
                    .double_value(&[]);
                assert!(
                    rel <= f32::EPSILON as f64,
                    "scaling on: max relative error {rel}"
                );
            } else {
                assert!(
                    out.equal(&centre),
                    "scaling off: output differs from the centre frame"
                );
            }
            // Layers above the first are the identity too.
            let (w2, b2) = identity_layer(
                &ModelConfig {
                    nb_layers: 2,
                    ..config.clone()
                },
                2,
                Device::Cpu,
            );
            model.push_layer(w2, b2).unwrap();
            let out2 = model.forward(&input);
            assert!(
                out2.equal(&out),
                "scaling {scaling}: identity layer 2 changed the output"
            );
        }
    }
}
