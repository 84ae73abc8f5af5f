//! Audio in and out: decoding WAV/RF64 (our own chunk walk), FLAC/MP3/Ogg Vorbis/AAC/ALAC/
//! AIFF (symphonia) and Ogg Opus (symphonia's demuxer, opus-decoder) into f32 channels, from files or standard input, MP4 edit lists applied
//! (gapless AAC), and files of several streams (the stems format); streaming WAV, FLAC
//! (flacenc), MP3 (LAME), Ogg Vorbis (libvorbis) or raw PCM output, atomic for files; and
//! band-limited resampling (rubato).
//!
//! Buffers are planar: `channels[c][i]` is sample `i` of channel `c`, shape
//! `(nb_channels, nb_frames)`.

mod flac;
mod format;
mod lossy;
mod mp4_edits;
mod ogg_end;
mod opus;
mod read;
mod resample;
mod streams;
mod wav_header;
mod write;

pub use format::{
    read_extension, ClipMode, Container, OutputFormat, SampleFormat, READ_EXTENSIONS,
};
pub use lossy::{MP3_DEFAULT_KBPS, MP3_KBPS, MP3_RATES, VORBIS_DEFAULT_QUALITY};
pub use opus::OPUS_RATE;
pub use read::{read_audio, AudioInfo, AudioReader};
pub use resample::{resample, StreamResampler};
pub use streams::{read_streams, stream_infos};
pub use write::{write_wav, AudioWriter, WavWriter, WriteReport};

use crate::error::{Error, Result};

/// The most channels saex accepts; more is taken for a corrupt header.
const MAX_CHANNELS: usize = 64;
/// The accepted sample-rate range in Hz; outside it a header is taken for corrupt.
const SAMPLE_RATE_RANGE: std::ops::RangeInclusive<u32> = 1_000..=768_000;

/// Decoded audio: planar f32 samples of shape `(nb_channels, nb_frames)` at `sample_rate` Hz.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioBuffer {
    pub sample_rate: u32,
    pub channels: Vec<Vec<f32>>,
}

impl AudioBuffer {
    /// A buffer from planar channels. Requires at least one channel, all of the same length,
    /// and a sample rate in [`SAMPLE_RATE_RANGE`].
    pub fn new(sample_rate: u32, channels: Vec<Vec<f32>>) -> Result<Self> {
        check_layout(sample_rate, channels.len())?;
        let nb_frames = channels[0].len();
        if let Some((c, ch)) = channels
            .iter()
            .enumerate()
            .find(|(_, ch)| ch.len() != nb_frames)
        {
            return Err(Error::mismatch(
                format!("length of channel {c}"),
                nb_frames,
                ch.len(),
            ));
        }
        Ok(AudioBuffer {
            sample_rate,
            channels,
        })
    }

    /// Silence of the given layout.
    pub fn silence(sample_rate: u32, nb_channels: usize, nb_frames: usize) -> Self {
        AudioBuffer {
            sample_rate,
            channels: vec![vec![0.0; nb_frames]; nb_channels],
        }
    }

    pub fn nb_channels(&self) -> usize {
        self.channels.len()
    }

    /// Samples per channel.
    pub fn nb_frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Length in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.nb_frames() as f64 / self.sample_rate as f64
    }
}

/// Checks a sample rate and channel count against the accepted ranges.
pub(crate) fn check_layout(sample_rate: u32, nb_channels: usize) -> Result<()> {
    if nb_channels == 0 || nb_channels > MAX_CHANNELS {
        return Err(Error::Invalid(format!(
            "{nb_channels} channels: expected 1 to {MAX_CHANNELS}"
        )));
    }
    if !SAMPLE_RATE_RANGE.contains(&sample_rate) {
        return Err(Error::Invalid(format!(
            "sample rate {sample_rate} Hz: expected {} to {} Hz",
            SAMPLE_RATE_RANGE.start(),
            SAMPLE_RATE_RANGE.end()
        )));
    }
    Ok(())
}
