//! `config.json`: every shape and setting needed to rebuild a network, plus what it was trained
//! on and how.

use crate::choice::named_choice;
use crate::error::{Error, Result};
use crate::record::{SplitScores, TrainSettings};
use crate::stft::StftConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The model folder format this build writes; loading a newer one is refused with a clear error.
pub const MODEL_FORMAT_VERSION: u32 = 1;

/// Added to the per-frame norm before dividing (and multiplying back), so silent frames stay 0.
pub const SCALING_EPS: f64 = 1e-6;

named_choice!(
    /// How a new layer is initialised when training adds it (see `crate::train::init`).
    Init, "init" {
        /// Least squares on the current stack's outputs.
        Ls = "ls",
        /// The identity on the lowest bins (layer 1) or on every unit (later layers).
        Identity = "identity",
        /// Uniform in +-1/sqrt(fan_in).
        Random = "random",
        /// The encoder of an autoencoder of the current representation, pretrained from the
        /// random init (see `crate::train::autoencoder`).
        Autoencoder = "autoencoder",
    }
);

named_choice!(
    /// The storage precision of `model.safetensors` (weights are f32 in memory).
    Dtype, "dtype" {
        F32 = "f32",
        F16 = "f16",
    }
);

named_choice!(
    /// The precision of the network's matrix products at inference (see
    /// [`crate::model::ReducedNetwork`]); weights and outputs stay f32.
    Precision, "network precision" {
        /// bf16 where the network runs on a CPU with native bf16 products
        /// ([`Precision::cpu_has_bf16`]), else f32 (on GPUs too, so that CUDA keeps matching
        /// an f32 CPU run).
        Auto = "auto",
        /// f32 throughout.
        F32 = "f32",
        /// bfloat16 products with f32 accumulation: about 3 times LibTorch's f32 rate on CPUs
        /// with AMX, 2.5 times with AVX512-BF16; the outputs differ slightly.
        Bf16 = "bf16",
        /// 8-bit products with exact i32 accumulation (the CPU's VNNI or AMX-INT8 units; f32
        /// elsewhere than on the CPU): weights rounded per output unit, activations per frame.
        /// Faster than bf16 but measurably worse (the shipped vocals model: SDR 0.44 and 0.84
        /// dB lower in median on corpus-v2's test and ood splits), so never picked by `auto`.
        Int8 = "int8",
    }
);

impl Precision {
    /// What `self` means for a network on `device`: [`Precision::F32`], [`Precision::Bf16`] or
    /// (on the CPU) [`Precision::Int8`].
    pub fn resolve(self, device: tch::Device) -> Precision {
        match self {
            Precision::Int8 if device != tch::Device::Cpu => Precision::F32,
            Precision::Auto if device == tch::Device::Cpu && Precision::cpu_has_bf16() => {
                Precision::Bf16
            }
            Precision::Auto => Precision::F32,
            other => other,
        }
    }

    /// Whether this CPU multiplies bf16 natively: AVX512-BF16 on x86-64 (CPUs with AMX have
    /// it too), the BF16 extension on 64-bit Arm. Elsewhere LibTorch emulates bf16 products,
    /// slower than f32.
    pub fn cpu_has_bf16() -> bool {
        native_bf16()
    }

    /// Whether this CPU has 8-bit dot products (VNNI: AVX512-VNNI or AVX-VNNI on x86-64, the
    /// dot-product extension on 64-bit Arm); without them int8 products are emulated.
    fn cpu_has_int8_dot() -> bool {
        native_int8_dot()
    }

    /// A warning for a precision asked for on a CPU that only emulates it (measured on one
    /// without: int8 17 times and bf16 4 times slower than f32 on a 3-minute file), `None`
    /// when it runs natively, elsewhere than on the CPU, or for `auto` (which chooses well).
    pub fn slowness_warning(self, device: tch::Device) -> Option<String> {
        Self::slowness_for(self, device, Self::cpu_has_bf16(), Self::cpu_has_int8_dot())
    }

    fn slowness_for(self, device: tch::Device, bf16: bool, int8_dot: bool) -> Option<String> {
        let (name, unit, times) = match self {
            _ if device != tch::Device::Cpu => return None,
            Precision::Bf16 if !bf16 => ("bf16", "bf16 products (AVX512-BF16 or AMX)", 4),
            Precision::Int8 if !int8_dot => ("int8", "8-bit dot products (VNNI)", 17),
            _ => return None,
        };
        Some(format!(
            "--network-precision {name}: this CPU has no {unit}, so LibTorch emulates them: \
             about {times} times slower than f32 here; auto chooses the fastest precision"
        ))
    }
}

#[cfg(target_arch = "x86_64")]
fn native_int8_dot() -> bool {
    std::arch::is_x86_feature_detected!("avx512vnni")
        || std::arch::is_x86_feature_detected!("avxvnni")
}

#[cfg(target_arch = "aarch64")]
fn native_int8_dot() -> bool {
    std::arch::is_aarch64_feature_detected!("dotprod")
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn native_int8_dot() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
fn native_bf16() -> bool {
    std::arch::is_x86_feature_detected!("avx512bf16")
}

#[cfg(target_arch = "aarch64")]
fn native_bf16() -> bool {
    std::arch::is_aarch64_feature_detected!("bf16")
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn native_bf16() -> bool {
    false
}

named_choice!(
    /// The STFT analysis and synthesis window.
    Window, "window" {
        Hann = "hann",
    }
);

impl Dtype {
    /// The tensor kind weights are stored in.
    pub fn kind(self) -> tch::Kind {
        match self {
            Dtype::F32 => tch::Kind::Float,
            Dtype::F16 => tch::Kind::Half,
        }
    }
}

/// A network's shapes and settings (`config.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub format_version: u32,
    /// The stem the network extracts, e.g. `vocals`.
    pub target: String,
    pub sample_rate: u32,
    pub n_fft: usize,
    pub hop: usize,
    /// The STFT window; only `hann` exists.
    pub window: Window,
    /// C: the input is the 2C+1 frames centred on frame t, `context_stride` frames apart.
    pub context: usize,
    /// S: the distance in frames between the stacked frames (1: adjacent; the paper takes every
    /// second frame). The input reaches C * S frames to each side. Missing in older files: 1.
    #[serde(default = "adjacent")]
    pub context_stride: usize,
    /// L_in <= n_fft/2+1: the lowest bins of each input frame.
    pub nb_bins_in: usize,
    /// L <= n_fft/2+1: the lowest output bins, also the width of every hidden layer.
    pub nb_bins: usize,
    /// K: the number of `relu(W x + b)` layers.
    pub nb_layers: usize,
    /// Per-frame scaling: input / (norm + eps), output * (norm + eps).
    pub scaling: bool,
    /// How each layer was initialised in training.
    pub init: Init,
    /// Storage precision of `model.safetensors` (always f32 in memory).
    pub dtype: Dtype,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainingSummary>,
    /// The command line that trained the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Evaluation results per data split (`test`, `ood`, ...), filled in by
    /// `saex eval --model DIR --data DATA/SPLIT --save-scores`.
    #[serde(default, skip_serializing_if = "SplitScores::is_empty")]
    pub scores: SplitScores,
}

/// What a model was trained on, how (the [`TrainSettings`] as they were), and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// The data folder as given on the command line.
    pub data: String,
    pub nb_tracks_train: usize,
    pub nb_tracks_valid: usize,
    /// `valid` when DATA/valid exists, else how the validation tracks were chosen.
    pub valid_source: String,
    #[serde(flatten)]
    pub settings: TrainSettings,
    /// Epochs actually run (all stages).
    pub epochs: usize,
    /// Training frames per second (forward + backward + update).
    pub frames_per_second: f64,
    pub best_valid_loss: f64,
    /// Where the best validation loss was reached, e.g. `3/12` or `finetune/4`.
    pub best_at: String,
    /// Seconds spent in least-squares initialisation (accumulation and solve), all stages.
    pub init_seconds: f64,
    /// Wall-clock seconds of the whole run (all sessions when resumed).
    pub seconds: f64,
    pub device: String,
    pub saex_version: String,
}

impl ModelConfig {
    /// The defaults of `saex train` for `target`: 44.1 kHz, n_fft 2048, hop 512, context 3,
    /// 513 input and output bins, 3 layers, scaling on, `ls` init, f16 storage.
    pub fn default_for(target: &str) -> Self {
        ModelConfig {
            format_version: MODEL_FORMAT_VERSION,
            target: target.to_string(),
            sample_rate: 44_100,
            n_fft: 2048,
            hop: 512,
            window: Window::Hann,
            context: 3,
            context_stride: 1,
            nb_bins_in: 513,
            nb_bins: 513,
            nb_layers: 3,
            scaling: true,
            init: Init::Ls,
            dtype: Dtype::F16,
            training: None,
            command: None,
            scores: SplitScores::default(),
        }
    }

    /// The STFT this model was trained with.
    pub fn stft_config(&self) -> Result<StftConfig> {
        StftConfig::new(self.n_fft, self.hop)
    }

    /// The frames the input reaches to each side of its centre: `C * S`.
    pub fn reach(&self) -> usize {
        self.context * self.context_stride
    }

    /// Input width of layer 1: `(2C+1) * nb_bins_in`.
    pub fn nb_inputs(&self) -> usize {
        (2 * self.context + 1) * self.nb_bins_in
    }

    /// `(nb_outputs, nb_inputs)` of layer `k` (1-based).
    pub fn layer_shape(&self, k: usize) -> (usize, usize) {
        if k == 1 {
            (self.nb_bins, self.nb_inputs())
        } else {
            (self.nb_bins, self.nb_bins)
        }
    }

    /// Checks every field against its constraint; the message names the field.
    pub fn validate(&self) -> Result<()> {
        if self.format_version > MODEL_FORMAT_VERSION {
            return Err(Error::Invalid(format!(
                "model format version {}: this saex reads versions up to {MODEL_FORMAT_VERSION}; \
                 a newer saex wrote it",
                self.format_version
            )));
        }
        if self.format_version == 0 {
            return Err(Error::Invalid(
                "model format version 0: expected >= 1".into(),
            ));
        }
        if self.target.trim().is_empty() {
            return Err(Error::Invalid(
                "target: expected a stem name, got \"\"".into(),
            ));
        }
        crate::audio::check_layout(self.sample_rate, 1)?;
        let stft = self.stft_config()?;
        let max_bins = stft.nb_bins();
        if self.nb_bins_in == 0 || self.nb_bins_in > max_bins {
            return Err(Error::mismatch(
                "nb_bins_in",
                format!("1 ..= n_fft/2+1 = {max_bins}"),
                self.nb_bins_in,
            ));
        }
        if self.nb_bins == 0 || self.nb_bins > max_bins {
            return Err(Error::mismatch(
                "nb_bins",
                format!("1 ..= n_fft/2+1 = {max_bins}"),
                self.nb_bins,
            ));
        }
        if self.context > 64 {
            return Err(Error::mismatch("context", "0 ..= 64", self.context));
        }
        if self.context_stride == 0 || self.context_stride > 16 {
            return Err(Error::mismatch(
                "context_stride",
                "1 ..= 16",
                self.context_stride,
            ));
        }
        if self.nb_layers == 0 || self.nb_layers > 64 {
            return Err(Error::mismatch("nb_layers", "1 ..= 64", self.nb_layers));
        }
        Ok(())
    }

    /// Reads and validates `config.json`; errors name the file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::file(path, format!("not valid JSON: {e}")))?;
        // Check the version before the fields, so a newer format is reported as such.
        if let Some(version) = value.get("format_version").and_then(|v| v.as_u64()) {
            if version > MODEL_FORMAT_VERSION as u64 {
                return Err(Error::file(
                    path,
                    format!(
                        "model format version {version}: this saex reads versions up to \
                         {MODEL_FORMAT_VERSION}; a newer saex wrote it"
                    ),
                ));
            }
        }
        let config: ModelConfig = serde_json::from_value(value)
            .map_err(|e| Error::file(path, format!("not a saex model config: {e}")))?;
        config
            .validate()
            .map_err(|e| Error::file(path, e.to_string()))?;
        Ok(config)
    }

    /// Writes `config.json` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::file(path, format!("cannot serialise the config: {e}")))?;
        text.push('\n');
        crate::atomic::write_bytes(path, text.as_bytes())
    }
}

/// The default context stride: adjacent frames.
fn adjacent() -> usize {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// int8 without VNNI ran 17 times and bf16 without AVX512-BF16 4 times slower than f32,
    /// with no word; `auto` chose well.
    #[test]
    fn emulated_precisions_are_warned_about() {
        let cpu = tch::Device::Cpu;
        let warn = |p: Precision, bf16, vnni| p.slowness_for(cpu, bf16, vnni);
        assert!(warn(Precision::Int8, true, false).unwrap().contains("VNNI"));
        assert!(warn(Precision::Bf16, false, true)
            .unwrap()
            .contains("AVX512-BF16"));
        assert_eq!(warn(Precision::Int8, false, true), None);
        assert_eq!(warn(Precision::Bf16, true, false), None);
        for p in [Precision::Auto, Precision::F32] {
            assert_eq!(warn(p, false, false), None);
        }
        assert_eq!(
            Precision::Int8.slowness_for(tch::Device::Cuda(0), false, false),
            None
        );
    }

    #[test]
    fn defaults_are_valid_and_sized() {
        let config = ModelConfig::default_for("vocals");
        config.validate().unwrap();
        assert_eq!(config.nb_inputs(), 7 * 513);
        assert_eq!(config.layer_shape(1), (513, 3591));
        assert_eq!(config.layer_shape(2), (513, 513));
    }

    #[test]
    fn rejects_each_bad_field_by_name() {
        let good = ModelConfig::default_for("vocals");
        type Breaks = Box<dyn Fn(&mut ModelConfig)>;
        let cases: Vec<(&str, Breaks)> = vec![
            ("nb_bins_in", Box::new(|c| c.nb_bins_in = 1026)),
            ("nb_bins", Box::new(|c| c.nb_bins = 0)),
            ("nb_layers", Box::new(|c| c.nb_layers = 0)),
            ("hop", Box::new(|c| c.hop = 0)),
            ("format version", Box::new(|c| c.format_version = 2)),
        ];
        for (field, breaks) in cases {
            let mut config = good.clone();
            breaks(&mut config);
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
    }

    #[test]
    fn unknown_names_are_refused_with_the_choices() {
        let err = Init::parse("xavier").unwrap_err().to_string();
        assert!(
            err.contains("init") && err.contains("ls, identity, random"),
            "{err}"
        );
        assert_eq!("f16".parse::<Dtype>().unwrap(), Dtype::F16);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        for (field, value) in [("init", "xavier"), ("dtype", "bf16"), ("window", "hamming")] {
            let mut json = serde_json::to_value(ModelConfig::default_for("bass")).unwrap();
            json[field] = value.into();
            std::fs::write(&path, json.to_string()).unwrap();
            let err = ModelConfig::read(&path).unwrap_err().to_string();
            assert!(err.contains(value), "{field}: {err}");
        }
    }

    #[test]
    fn newer_version_is_reported_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let mut value = serde_json::to_value(ModelConfig::default_for("bass")).unwrap();
        value["format_version"] = 7.into();
        value["new_field"] = "x".into();
        std::fs::write(&path, value.to_string()).unwrap();
        let err = ModelConfig::read(&path).unwrap_err().to_string();
        assert!(
            err.contains("config.json") && err.contains("version 7"),
            "{err}"
        );
    }
}
