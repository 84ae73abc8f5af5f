//! The extraction network and its files: [`ModelConfig`] (`config.json`), the stacked ReLU
//! network, and `model.safetensors` with variables `fc1.weight`, `fc1.bias`, `fc2.weight`, ...

mod config;
mod reduced;
mod sae;
mod store;

pub use config::{
    Dtype, Init, ModelConfig, Precision, TrainingSummary, Window, MODEL_FORMAT_VERSION, SCALING_EPS,
};
pub use reduced::ReducedNetwork;
pub use store::{layer_names, CONFIG_FILE, WEIGHTS_FILE};

pub(crate) use sae::Layer;
pub(crate) use store::{read_tensors, take_layers, write_tensors};

use crate::error::{Error, Result};
use rand::{Rng, SeedableRng};
use std::path::Path;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// A stacked network on one device. Weights are f32 in memory whatever the storage dtype.
pub struct Model {
    pub config: ModelConfig,
    vs: VarStore,
    layers: Vec<Layer>,
}

impl Model {
    /// A network of `config.nb_layers` layers with random weights (uniform in +-1/sqrt(fan_in),
    /// the usual linear-layer init, from a fixed seed). Fails when the config is invalid.
    pub fn new(config: ModelConfig, device: Device) -> Result<Model> {
        config.validate()?;
        let nb_layers = config.nb_layers;
        let mut model = Model::empty(config, device)?;
        for k in 1..=nb_layers {
            let (w, b) = random_layer(&model.config, k, 0, device)?;
            model.push_layer(w, b)?;
        }
        Ok(model)
    }

    /// A network with no layers yet (`config.nb_layers` becomes 0 until layers are pushed).
    pub(crate) fn empty(mut config: ModelConfig, device: Device) -> Result<Model> {
        config.nb_layers = config.nb_layers.max(1);
        config.validate()?;
        config.nb_layers = 0;
        Ok(Model {
            config,
            vs: VarStore::new(device),
            layers: Vec::new(),
        })
    }

    /// Appends layer `k = nb_layers + 1` with the given `weight (nb_bins, nb_inputs_k)` and
    /// `bias (nb_bins,)` (copied into the variable store as `fck.weight`, `fck.bias`).
    pub(crate) fn push_layer(&mut self, weight: Tensor, bias: Tensor) -> Result<()> {
        let k = self.layers.len() + 1;
        let (nb_out, nb_in) = self.config.layer_shape(k);
        let (w_name, b_name) = layer_names(k);
        for (name, t, shape) in [
            (&w_name, &weight, vec![nb_out as i64, nb_in as i64]),
            (&b_name, &bias, vec![nb_out as i64]),
        ] {
            if t.size() != shape {
                return Err(Error::mismatch(
                    format!("shape of {name}"),
                    format!("{shape:?}"),
                    format!("{:?}", t.size()),
                ));
            }
        }
        let path = self.vs.root() / format!("fc{k}");
        let weight = tch::no_grad(|| path.f_var_copy("weight", &weight.to_kind(Kind::Float)))?;
        let bias = tch::no_grad(|| path.f_var_copy("bias", &bias.to_kind(Kind::Float)))?;
        self.layers.push(Layer { weight, bias });
        self.config.nb_layers = self.layers.len();
        Ok(())
    }

    /// Loads `dir/config.json` and `dir/model.safetensors`, checking the format version and every
    /// tensor's name and shape; errors name the file and the tensor.
    pub fn load(dir: &Path, device: Device) -> Result<Model> {
        if !dir.is_dir() {
            return Err(Error::file(
                dir,
                "not a model folder (expected config.json and model.safetensors)",
            ));
        }
        let config = ModelConfig::read(&dir.join(CONFIG_FILE))?;
        let weights_path = dir.join(WEIGHTS_FILE);
        let tensors = read_tensors(&weights_path, device)?;
        let layers = store::take_model_layers(&weights_path, &config, tensors)?;
        let mut model = Model::empty(config.clone(), device)?;
        for (w, b) in layers {
            model.push_layer(w, b)?;
        }
        model.config = config;
        Ok(model)
    }

    /// Writes `dir/model.safetensors` (in `config.dtype`) and then `dir/config.json`, each
    /// atomically; creates `dir` when missing.
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.save_as(dir, &self.config)
    }

    /// [`Model::save`] with another config.json (its `dtype` says how the weights are stored),
    /// e.g. the training summary so far. `config` must describe this network's shape.
    pub(crate) fn save_as(&self, dir: &Path, config: &ModelConfig) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        write_tensors(
            &dir.join(WEIGHTS_FILE),
            &self.named_parameters(),
            config.dtype.kind(),
        )?;
        config.write(&dir.join(CONFIG_FILE))
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// Mixture magnitudes, context-stacked (see [`crate::features::context_stack`]),
    /// `(batch, (2C+1) * nb_bins_in)` f32 on the model's device -> estimated target magnitudes
    /// `(batch, nb_bins)`, all >= 0. Applies the per-frame scaling when `config.scaling`.
    /// Panics (as LibTorch does) when the input width is wrong; [`Model::try_forward`] checks.
    pub fn forward(&self, input: &Tensor) -> Tensor {
        tch::no_grad(|| sae::forward(&self.layers, input, self.config.scaling))
    }

    /// [`Model::forward`] after checking that `input` is `(batch, nb_inputs)` f32 on this device.
    pub fn try_forward(&self, input: &Tensor) -> Result<Tensor> {
        self.check_input(input)?;
        Ok(self.forward(input))
    }

    /// Checks that `input` is `(batch, nb_inputs)` f32 on this device.
    pub fn check_input(&self, input: &Tensor) -> Result<()> {
        let size = input.size();
        let nb_inputs = self.config.nb_inputs() as i64;
        if size.len() != 2 || size[1] != nb_inputs {
            return Err(Error::mismatch(
                "network input shape",
                format!("(batch, {nb_inputs})"),
                format!("{size:?}"),
            ));
        }
        if input.kind() != Kind::Float || input.device() != self.device() {
            return Err(Error::mismatch(
                "network input",
                format!("f32 on {:?}", self.device()),
                format!("{:?} on {:?}", input.kind(), input.device()),
            ));
        }
        Ok(())
    }

    /// The output with the gradient graph (training).
    pub(crate) fn forward_train(&self, input: &Tensor) -> Tensor {
        sae::forward(&self.layers, input, self.config.scaling)
    }

    /// The last hidden output in the scaled domain and the per-frame scale (see `sae::hidden`),
    /// without gradients.
    pub(crate) fn hidden(&self, input: &Tensor) -> (Tensor, Option<Tensor>) {
        tch::no_grad(|| sae::hidden(&self.layers, input, self.config.scaling))
    }

    /// Every parameter with its stable name, layer by layer: `fc1.weight`, `fc1.bias`, ...
    pub fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            let (w, b) = layer_names(i + 1);
            out.push((w, layer.weight.shallow_clone()));
            out.push((b, layer.bias.shallow_clone()));
        }
        out
    }

    /// The number of weights and biases.
    pub fn nb_parameters(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.weight.numel() + l.bias.numel())
            .sum()
    }
}

/// Layer `k` of `config` with weights and bias uniform in `+-1/sqrt(fan_in)`, drawn from a
/// ChaCha generator seeded by `(seed, k)`: the same on every device and platform.
/// Shapes: `weight (nb_bins, nb_inputs_k)`, `bias (nb_bins,)`.
pub(crate) fn random_layer(
    config: &ModelConfig,
    k: usize,
    seed: u64,
    device: Device,
) -> Result<(Tensor, Tensor)> {
    let (nb_out, nb_in) = config.layer_shape(k);
    let bound = 1.0 / (nb_in as f32).sqrt();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ (0x5ae0_0000 + k as u64));
    let mut draw =
        |n: usize| -> Vec<f32> { (0..n).map(|_| rng.gen_range(-bound..bound)).collect() };
    let w = Tensor::from_slice(&draw(nb_out * nb_in))
        .f_reshape([nb_out as i64, nb_in as i64])?
        .f_to_device(device)?;
    let b = Tensor::from_slice(&draw(nb_out)).f_to_device(device)?;
    Ok((w, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_config() -> ModelConfig {
        ModelConfig {
            n_fft: 32,
            hop: 8,
            context: 1,
            context_stride: 1,
            nb_bins_in: 9,
            nb_bins: 7,
            nb_layers: 2,
            ..ModelConfig::default_for("vocals")
        }
    }

    #[test]
    fn forward_shape_and_non_negative() {
        let model = Model::new(tiny_config(), Device::Cpu).unwrap();
        let input = Tensor::rand([5, 27], (Kind::Float, Device::Cpu));
        let out = model.forward(&input);
        assert_eq!(out.size(), vec![5, 7]);
        assert!(out.min().double_value(&[]) >= 0.0);
        assert!(model
            .try_forward(&Tensor::rand([5, 26], (Kind::Float, Device::Cpu)))
            .is_err());
        assert_eq!(model.nb_parameters(), 7 * 27 + 7 + 7 * 7 + 7);
    }

    #[test]
    fn save_load_round_trip_f32_and_f16() {
        for dtype in [Dtype::F32, Dtype::F16] {
            let dir = tempfile::tempdir().unwrap();
            let config = ModelConfig {
                dtype,
                ..tiny_config()
            };
            let model = Model::new(config, Device::Cpu).unwrap();
            model.save(dir.path()).unwrap();
            let loaded = Model::load(dir.path(), Device::Cpu).unwrap();
            assert_eq!(loaded.config, model.config);
            let tol = if dtype == Dtype::F16 { 1e-3 } else { 0.0 };
            for ((name, a), (_, b)) in model
                .named_parameters()
                .iter()
                .zip(loaded.named_parameters())
            {
                let err = (a - b).abs().max().double_value(&[]);
                assert!(err <= tol, "dtype {dtype} {name}: max error {err}");
            }
        }
    }

    #[test]
    fn load_names_the_wrong_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let model = Model::new(tiny_config(), Device::Cpu).unwrap();
        model.save(dir.path()).unwrap();
        // A config that claims a wider output than the weights hold.
        let mut config = model.config.clone();
        config.nb_bins = 8;
        config.write(&dir.path().join(CONFIG_FILE)).unwrap();
        let err = Model::load(dir.path(), Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("model.safetensors")
                && err.contains("fc1.weight")
                && err.contains("[8, 27]"),
            "{err}"
        );
        // A config with more layers than the file.
        let mut config = model.config.clone();
        config.nb_layers = 3;
        config.write(&dir.path().join(CONFIG_FILE)).unwrap();
        let err = Model::load(dir.path(), Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("fc3.weight is missing"), "{err}");
        // Fewer layers than the file.
        let mut config = model.config.clone();
        config.nb_layers = 1;
        config.write(&dir.path().join(CONFIG_FILE)).unwrap();
        let err = Model::load(dir.path(), Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("unexpected tensor fc2"), "{err}");
        // A corrupt weights file.
        std::fs::write(dir.path().join(WEIGHTS_FILE), b"not safetensors").unwrap();
        model.config.write(&dir.path().join(CONFIG_FILE)).unwrap();
        let err = Model::load(dir.path(), Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("model.safetensors"), "{err}");
    }
}
