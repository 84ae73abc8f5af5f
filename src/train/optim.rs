//! Adam and SGD with momentum over a model's parameters, with their state exposed as named
//! tensors so that checkpoints can hold it (tch's optimizers keep theirs inside LibTorch).

use crate::error::{Error, Result};
use crate::record::OptimizerKind;
use std::collections::BTreeMap;
use tch::Tensor;

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const ADAM_EPS: f64 = 1e-8;
const MOMENTUM: f64 = 0.9;

/// An optimizer over named parameters (leaf tensors that require grad).
pub(crate) struct Optimizer {
    kind: OptimizerKind,
    params: Vec<(String, Tensor)>,
    /// First moments (Adam) or momentum buffers (SGD), one per parameter.
    first: Vec<Tensor>,
    /// Second moments (Adam only).
    second: Vec<Tensor>,
    step: u64,
}

impl Optimizer {
    pub fn new(kind: OptimizerKind, params: Vec<(String, Tensor)>) -> Self {
        let zeros = |ps: &[(String, Tensor)]| ps.iter().map(|(_, p)| p.zeros_like()).collect();
        let first = zeros(&params);
        let second = if kind == OptimizerKind::Adam {
            zeros(&params)
        } else {
            Vec::new()
        };
        Optimizer {
            kind,
            params,
            first,
            second,
            step: 0,
        }
    }

    pub fn step_count(&self) -> u64 {
        self.step
    }

    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            p.zero_grad();
        }
    }

    /// One update at learning rate `lr` from the gradients of the last backward pass.
    pub fn step(&mut self, lr: f64) {
        self.step += 1;
        let t = self.step as i32;
        tch::no_grad(|| {
            for (i, (_, p)) in self.params.iter_mut().enumerate() {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                match self.kind {
                    OptimizerKind::Adam => {
                        let m = &mut self.first[i];
                        let _ = m.g_mul_scalar_(BETA1).g_add_(&(&g * (1.0 - BETA1)));
                        let v = &mut self.second[i];
                        let _ = v.g_mul_scalar_(BETA2).g_add_(&(g.square() * (1.0 - BETA2)));
                        let bias1 = 1.0 - BETA1.powi(t);
                        let bias2 = 1.0 - BETA2.powi(t);
                        let denom = (&*v / bias2).sqrt() + ADAM_EPS;
                        let update = &*m / denom * (lr / bias1);
                        let _ = p.g_sub_(&update);
                    }
                    OptimizerKind::Sgd => {
                        let buf = &mut self.first[i];
                        let _ = buf.g_mul_scalar_(MOMENTUM).g_add_(&g);
                        let _ = p.g_sub_(&(&*buf * lr));
                    }
                }
            }
        });
    }

    /// The state as named tensors: `opt.first.<param>`, `opt.second.<param>`.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (i, (name, _)) in self.params.iter().enumerate() {
            out.push((format!("opt.first.{name}"), self.first[i].shallow_clone()));
            if let Some(v) = self.second.get(i) {
                out.push((format!("opt.second.{name}"), v.shallow_clone()));
            }
        }
        out
    }

    /// Restores the state written by [`Optimizer::state`] and the step count.
    pub fn restore(&mut self, tensors: &mut BTreeMap<String, Tensor>, step: u64) -> Result<()> {
        for (i, (name, p)) in self.params.iter().enumerate() {
            let mut take = |key: String| -> Result<Tensor> {
                let t = tensors.remove(&key).ok_or_else(|| {
                    Error::Invalid(format!("checkpoint: optimizer tensor {key} is missing"))
                })?;
                if t.size() != p.size() {
                    return Err(Error::mismatch(
                        format!("checkpoint tensor {key}"),
                        format!("{:?}", p.size()),
                        format!("{:?}", t.size()),
                    ));
                }
                Ok(t.to_device(p.device()))
            };
            self.first[i] = take(format!("opt.first.{name}"))?;
            if self.kind == OptimizerKind::Adam {
                self.second[i] = take(format!("opt.second.{name}"))?;
            }
        }
        self.step = step;
        Ok(())
    }
}
