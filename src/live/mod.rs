//! Live separation: an audio input, the low-latency separation, an audio output, with the
//! audio threads never waiting on the network (see `bridge`). The device side (cpal: ALSA,
//! JACK) is the binary's (`saex live`, cargo feature `live`); everything here runs without
//! sound hardware.

mod bridge;
mod keep;
mod priority;

pub use bridge::{Bridge, BridgeSizes, InputEnd, LiveStats, OutputEnd, Worker};
pub use keep::Keep;
pub use priority::{raise_current_thread, Priority};

/// The device buffer the delay is stated for: the host's own period where it has only one
/// (JACK: the server's, whatever was asked), else the size asked for, else 1024 frames.
pub fn stated_buffer(requested: Option<u32>, host_range: Option<(u32, u32)>) -> usize {
    match (requested, host_range) {
        (_, Some((min, max))) if min == max && min > 0 => min as usize,
        (Some(frames), _) => frames as usize,
        _ => 1024,
    }
}

#[cfg(test)]
mod tests {
    use super::stated_buffer;

    /// JACK's period of 512 is the buffer stated, not the 1024 assumed or another size asked.
    #[test]
    fn the_stated_buffer_follows_the_hosts_period() {
        assert_eq!(stated_buffer(None, Some((512, 512))), 512);
        assert_eq!(stated_buffer(Some(256), Some((512, 512))), 512);
        assert_eq!(stated_buffer(Some(256), Some((64, 8192))), 256);
        assert_eq!(stated_buffer(Some(256), None), 256);
        assert_eq!(stated_buffer(None, Some((64, 8192))), 1024);
        assert_eq!(stated_buffer(None, None), 1024);
    }
}
