//! saex extracts one instrument from a music mix with the stacked deep neural network of
//! Uhlich, Giron and Mitsufuji, "Deep neural network based instrument extraction from music"
//! (ICASSP 2015), running on LibTorch.

pub mod atomic;
pub mod audio;
pub mod batch;
mod device;
mod error;
pub mod eval;
pub mod features;
pub mod locate;
pub mod model;
pub mod progress;
pub mod render;
pub mod separate;
pub mod stft;
pub mod train;

pub use audio::{
    read_audio, write_wav, AudioBuffer, AudioReader, AudioWriter, ClipMode, Container,
    OutputFormat, SampleFormat, WavWriter,
};
pub use device::{device_name, parse_device};
pub use error::{Error, Result};
pub use model::{Model, ModelConfig};
pub use stft::{Istft, Stft, StftConfig};
