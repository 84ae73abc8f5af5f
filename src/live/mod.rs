//! Live separation: an audio input, the low-latency separation, an audio output, with the
//! audio threads never waiting on the network (see `bridge`). The device side (cpal: ALSA,
//! JACK) is the binary's (`saex live`, cargo feature `live`); everything here runs without
//! sound hardware.

mod bridge;
mod keep;

pub use bridge::{Bridge, BridgeSizes, InputEnd, LiveStats, OutputEnd, Worker};
pub use keep::Keep;
