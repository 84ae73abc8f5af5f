//! saex extracts one instrument from a music mix with the stacked deep neural network of
//! Uhlich, Giron and Mitsufuji, "Deep neural network based instrument extraction from music"
//! (ICASSP 2015), running on LibTorch.
//!
//! The data path (docs/architecture.md draws it): track folders on disk ([`dataset`]) are read
//! through one decoder ([`AudioReader`]) by training ([`train`](mod@train)), evaluation ([`eval`]) and the
//! corpus renderer ([`render`]); a [`Separator`] runs the STFT, the network of each
//! [`Model`] and the masks over a mixture, streaming.
//!
//! Extracting the vocals of a file with the shipped model:
//!
//! ```
//! use saex::{OutputFiles, SampleFormat, SeparateOptions, Separator};
//! # fn main() -> saex::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let out = dir.path();
//! let separator = Separator::from_model_dirs(
//!     &["models/vocals"],
//!     tch::Device::Cpu,
//!     SeparateOptions::default(),
//! )?;
//! let outputs = OutputFiles {
//!     targets: vec![out.join("vocals.wav")],
//!     residual: Some(out.join("accompaniment.wav")),
//!     format: SampleFormat::Pcm16.into(), // WAV by extension; or FLAC for a .flac name
//! };
//! let report = separator.separate_file(
//!     "audio/demo/mixture.wav".as_ref(),
//!     &outputs,
//!     &mut |_frames_done| {},
//! )?;
//! assert_eq!(report.nb_channels, 2);
//! # assert!(out.join("vocals.wav").is_file());
//! # Ok(())
//! # }
//! ```
//!
//! Training a (tiny) model on a data folder in the MUSDB18-HQ layout, here generated:
//!
//! ```
//! use saex::train::{write_dataset, SynthSpec};
//! use saex::{Model, TrainOptions, TrainSettings};
//! # fn main() -> saex::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! let (data, out) = (dir.path().join("data"), dir.path().join("model"));
//! let spec = SynthSpec { sample_rate: 8000, nb_channels: 1, seconds: 2.0, nb_train: 2, nb_valid: 1, seed: 1 };
//! write_dataset(&data, &spec)?;
//!
//! let mut options = TrainOptions::new(data, out.clone(), "vocals");
//! options.model.sample_rate = 8000;
//! options.model.n_fft = 256;
//! options.model.hop = 64;
//! options.model.nb_bins_in = 64;
//! options.model.nb_bins = 48;
//! options.model.nb_layers = 1;
//! options.settings = TrainSettings {
//!     epochs_per_stage: 1,
//!     finetune_epochs: 0,
//!     frames_per_epoch: 500,
//!     valid_frames: 200,
//!     ls_frames: 500,
//!     excerpt_seconds: 0.5,
//!     ..TrainSettings::default()
//! };
//! options.quiet = true;
//! let report = saex::train::train(&options, &Default::default())?;
//! assert!(report.best_valid_loss.is_finite());
//! let model = Model::load(&out, tch::Device::Cpu)?;
//! assert_eq!(model.config.nb_layers, 1);
//! # Ok(())
//! # }
//! ```

pub mod atomic;
pub mod audio;
pub mod batch;
mod choice;
pub mod dataset;
mod device;
mod drawing;
mod error;
pub mod eval;
pub mod features;
pub mod live;
pub mod locate;
pub mod model;
pub mod outputs;
pub mod progress;
pub mod record;
pub mod render;
pub mod separate;
pub mod serve;
pub mod spectrogram;
pub mod stft;
pub mod threads;
pub mod train;

pub use audio::{
    read_audio, read_streams, write_wav, AudioBuffer, AudioReader, AudioWriter, ClipMode,
    Container, OutputFormat, SampleFormat, WavWriter,
};
pub use dataset::{Dataset, Track, TrackFiles};
pub use device::{device_name, parse_device};
pub use error::{Error, Result};
pub use eval::{evaluate_folder, ModelScores};
pub use model::{Model, ModelConfig};
pub use separate::{MaskKind, OutputFiles, SeparateOptions, Separation, Separator};
pub use stft::{Istft, Stft, StftConfig};
pub use threads::ThreadPlan;
pub use train::{train, TrainOptions, TrainSettings};
