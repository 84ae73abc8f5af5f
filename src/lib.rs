//! saex extracts one instrument from a music mix with the stacked deep neural network of
//! Uhlich, Giron and Mitsufuji, "Deep neural network based instrument extraction from music"
//! (ICASSP 2015), running on LibTorch.

mod device;
mod error;

pub use device::{device_name, parse_device};
pub use error::{Error, Result};
