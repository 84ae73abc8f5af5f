//! `model.safetensors`: saving (f32 or f16, atomically) and loading with every name and shape
//! checked.

use super::config::ModelConfig;
use crate::atomic::write_via_path;
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// The weights file's name inside a model folder.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The config file's name inside a model folder.
pub const CONFIG_FILE: &str = "config.json";

/// The variable names of layer `k` (1-based): `fck.weight`, `fck.bias`.
pub fn layer_names(k: usize) -> (String, String) {
    (format!("fc{k}.weight"), format!("fc{k}.bias"))
}

/// Writes named tensors to `path` atomically, converted to `kind` and moved to the CPU.
pub(crate) fn write_tensors(path: &Path, tensors: &[(String, Tensor)], kind: Kind) -> Result<()> {
    let converted: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(name, t)| {
            let t = t
                .f_to_kind(kind)?
                .f_to_device(Device::Cpu)?
                .f_contiguous()?;
            Ok((name.clone(), t))
        })
        .collect::<Result<_>>()?;
    write_via_path(path, |at| {
        Tensor::write_safetensors(&converted, at)
            .map_err(|e| Error::file(path, format!("cannot write: {e}")))
    })
}

/// Reads every tensor of a safetensors file, as f32 on `device`. Errors name the file.
pub(crate) fn read_tensors(path: &Path, device: Device) -> Result<BTreeMap<String, Tensor>> {
    if !path.is_file() {
        return Err(Error::file(
            path,
            "missing (expected a safetensors weights file)",
        ));
    }
    let tensors = Tensor::read_safetensors(path)
        .map_err(|e| Error::file(path, format!("not a readable safetensors file: {e}")))?;
    let mut out = BTreeMap::new();
    for (name, t) in tensors {
        if !matches!(
            t.kind(),
            Kind::Float | Kind::Half | Kind::BFloat16 | Kind::Double
        ) {
            return Err(Error::file(
                path,
                format!(
                    "tensor {name}: expected floating-point values, found {:?}",
                    t.kind()
                ),
            ));
        }
        let t = t.f_to_kind(Kind::Float)?.f_to_device(device)?;
        out.insert(name, t);
    }
    Ok(out)
}

/// Takes the weights of layers `1 ..= nb_layers` of a network shaped as `config` out of
/// `tensors` (read from `path`), checking names, shapes and finiteness; other tensors stay.
/// Returns `(weight, bias)` per layer.
pub(crate) fn take_layers(
    path: &Path,
    config: &ModelConfig,
    nb_layers: usize,
    tensors: &mut BTreeMap<String, Tensor>,
) -> Result<Vec<(Tensor, Tensor)>> {
    let mut layers = Vec::with_capacity(nb_layers);
    for k in 1..=nb_layers {
        let (nb_out, nb_in) = config.layer_shape(k);
        let (w_name, b_name) = layer_names(k);
        let weight = take_checked(path, tensors, &w_name, &[nb_out as i64, nb_in as i64])?;
        let bias = take_checked(path, tensors, &b_name, &[nb_out as i64])?;
        layers.push((weight, bias));
    }
    Ok(layers)
}

/// Takes every layer of `config` out of the weights file's `tensors`; anything left over is an
/// error.
pub(crate) fn take_model_layers(
    path: &Path,
    config: &ModelConfig,
    mut tensors: BTreeMap<String, Tensor>,
) -> Result<Vec<(Tensor, Tensor)>> {
    let layers = take_layers(path, config, config.nb_layers, &mut tensors)?;
    if let Some(extra) = tensors.keys().next() {
        return Err(Error::file(
            path,
            format!(
                "unexpected tensor {extra}: config.json says {} layers (fc1 ..= fc{})",
                config.nb_layers, config.nb_layers
            ),
        ));
    }
    Ok(layers)
}

fn take_checked(
    path: &Path,
    tensors: &mut BTreeMap<String, Tensor>,
    name: &str,
    shape: &[i64],
) -> Result<Tensor> {
    let t = tensors
        .remove(name)
        .ok_or_else(|| Error::file(path, format!("tensor {name} is missing")))?;
    if t.size() != shape {
        return Err(Error::file(
            path,
            format!(
                "tensor {name}: expected shape {shape:?} (from config.json), found {:?}",
                t.size()
            ),
        ));
    }
    let finite: bool = t.f_isfinite()?.f_all()?.f_int64_value(&[])? != 0;
    if !finite {
        return Err(Error::file(
            path,
            format!("tensor {name} holds NaN or infinite values"),
        ));
    }
    Ok(t)
}
