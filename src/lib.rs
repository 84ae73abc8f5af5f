//! saex extracts one instrument from a music mix with the stacked deep neural network of
//! Uhlich, Giron and Mitsufuji, "Deep neural network based instrument extraction from music"
//! (ICASSP 2015), running on LibTorch.

pub mod atomic;
pub mod audio;
mod device;
mod error;
pub mod progress;
pub mod render;
pub mod stft;

pub use audio::{read_audio, write_wav, AudioBuffer, AudioReader, SampleFormat, WavWriter};
pub use device::{device_name, parse_device};
pub use error::{Error, Result};
pub use stft::{Istft, Stft, StftConfig};
