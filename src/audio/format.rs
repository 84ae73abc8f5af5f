//! What an output file is: its container (from the file name's extension, or asked for), its
//! sample encoding, and what happens to samples beyond full scale.

use crate::atomic::is_stdio;
use crate::error::{Error, Result};
use std::path::Path;

/// The encoding of written samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SampleFormat {
    /// 16-bit integer PCM (the default; samples beyond [-1, 1) are clipped).
    #[default]
    Pcm16,
    /// 24-bit integer PCM.
    Pcm24,
    /// 32-bit IEEE float (never clips; FLAC cannot hold it).
    Float32,
}

impl SampleFormat {
    /// Parses `16`, `24` or `float` (also `pcm16`, `pcm24`, `f32`, `32f`).
    pub fn parse(name: &str) -> Result<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "16" | "pcm16" | "s16" => Ok(SampleFormat::Pcm16),
            "24" | "pcm24" | "s24" => Ok(SampleFormat::Pcm24),
            "float" | "f32" | "32f" | "float32" => Ok(SampleFormat::Float32),
            other => Err(Error::Invalid(format!(
                "sample format {other:?}: expected 16, 24 or float"
            ))),
        }
    }

    /// Bytes per sample.
    pub fn bytes(self) -> usize {
        match self {
            SampleFormat::Pcm16 => 2,
            SampleFormat::Pcm24 => 3,
            SampleFormat::Float32 => 4,
        }
    }

    /// Bits per sample.
    pub fn bits(self) -> u16 {
        8 * self.bytes() as u16
    }
}

/// A file format saex writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// RIFF/WAVE (`.wav`, `.wave`, and standard output by default). On a pipe the header
    /// carries 0xFFFFFFFF sizes, as ffmpeg and sox write it.
    Wav,
    /// FLAC (`.flac`), 16 or 24 bit.
    Flac,
    /// Headerless little-endian interleaved samples (`.raw`, `.pcm`, or `--raw`).
    Raw,
}

/// Extensions of formats saex reads but cannot write, with the reason.
const NOT_WRITTEN: [&str; 9] = [
    "mp3", "ogg", "oga", "opus", "m4a", "mp4", "aac", "aif", "aiff",
];

impl Container {
    /// Parses `wav`, `flac` or `raw`.
    pub fn parse(name: &str) -> Result<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "wav" | "wave" => Ok(Container::Wav),
            "flac" => Ok(Container::Flac),
            "raw" | "pcm" => Ok(Container::Raw),
            other => Err(Error::Invalid(format!(
                "output type {other:?}: expected wav, flac or raw"
            ))),
        }
    }

    /// The format a path's extension names: `.wav`/`.wave`, `.flac`, `.raw`/`.pcm`; `-`
    /// (standard output), and a FIFO or device without an extension, are WAV. Anything else is refused, naming the path: a path without an
    /// extension, or one saex reads but does not write (MP3, Ogg, Opus, AAC, AIFF: no
    /// well-kept pure-Rust encoder; write `.flac` or `.wav` and convert).
    pub fn from_path(path: &Path) -> Result<Self> {
        if is_stdio(path) {
            return Ok(Container::Wav);
        }
        if path.is_dir() {
            return Err(Error::file(path, "is a folder, expected a file path"));
        }
        let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
            // A pipe or a device (e.g. a FIFO named `pipe`) gets WAV, as standard output does.
            if crate::atomic::resolve(path).is_ok_and(|t| crate::atomic::is_special(&t)) {
                return Ok(Container::Wav);
            }
            return Err(Error::file(
                path,
                "has no extension: name the output .wav or .flac (the format follows the extension)",
            ));
        };
        let ext = ext.to_ascii_lowercase();
        if NOT_WRITTEN.contains(&ext.as_str()) {
            return Err(Error::file(
                path,
                format!(
                    "saex reads .{ext} but does not write it (no well-kept encoder it can bundle): \
                     write .flac or .wav and convert, e.g. `ffmpeg -i out.flac out.{ext}`"
                ),
            ));
        }
        Container::parse(&ext).map_err(|_| {
            Error::file(
                path,
                format!("unknown output extension .{ext}: expected .wav, .flac or .raw"),
            )
        })
    }

    /// The usual extension.
    pub fn extension(self) -> &'static str {
        match self {
            Container::Wav => "wav",
            Container::Flac => "flac",
            Container::Raw => "raw",
        }
    }
}

/// What to do with samples beyond full scale ([-1, 1]). Samples never wrap around.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClipMode {
    /// Integer outputs (16/24-bit WAV, FLAC) clamp each sample to full scale; 32-bit float
    /// keeps it. Either way they are counted and saex warns with the count (the default).
    #[default]
    Clamp,
    /// Scale the whole output down so that its peak is at full scale: nothing clips. Needs the
    /// whole output's peak, so the samples are held in a temporary file (32-bit float beside
    /// the output, or in the temporary folder for a stream) until the end.
    Rescale,
    /// As `clamp`, without the warning.
    None,
}

impl ClipMode {
    /// Parses `clamp`, `rescale` or `none`.
    pub fn parse(name: &str) -> Result<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "clamp" => Ok(ClipMode::Clamp),
            "rescale" => Ok(ClipMode::Rescale),
            "none" => Ok(ClipMode::None),
            other => Err(Error::Invalid(format!(
                "clip mode {other:?}: expected clamp, rescale or none"
            ))),
        }
    }
}

/// Everything that decides how an output is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputFormat {
    /// `None`: from each path's extension ([`Container::from_path`]).
    pub container: Option<Container>,
    pub sample: SampleFormat,
    pub clip: ClipMode,
}

impl From<SampleFormat> for OutputFormat {
    fn from(sample: SampleFormat) -> Self {
        OutputFormat {
            sample,
            ..OutputFormat::default()
        }
    }
}

impl OutputFormat {
    /// The container for `path`, checked against the sample format (FLAC holds 16 or 24 bit).
    pub fn container_for(&self, path: &Path) -> Result<Container> {
        let container = match self.container {
            Some(c) => c,
            None => Container::from_path(path)?,
        };
        if container == Container::Flac && self.sample == SampleFormat::Float32 {
            return Err(Error::file(
                path,
                "FLAC holds 16- or 24-bit integers, not float: use --format 16 or 24, or a .wav name",
            ));
        }
        Ok(container)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_decides() {
        assert_eq!(
            Container::from_path(Path::new("a.wav")).unwrap(),
            Container::Wav
        );
        assert_eq!(
            Container::from_path(Path::new("a.WAV")).unwrap(),
            Container::Wav
        );
        assert_eq!(
            Container::from_path(Path::new("a.flac")).unwrap(),
            Container::Flac
        );
        assert_eq!(
            Container::from_path(Path::new("-")).unwrap(),
            Container::Wav
        );
        for (name, says) in [
            ("v.mp3", "does not write"),
            ("v.ogg", "does not write"),
            ("v", "no extension"),
            ("v.txt", "unknown output extension"),
        ] {
            let err = Container::from_path(Path::new(name))
                .unwrap_err()
                .to_string();
            assert!(err.contains(name) && err.contains(says), "{name}: {err}");
        }
        let float_flac = OutputFormat::from(SampleFormat::Float32);
        assert!(float_flac.container_for(Path::new("a.flac")).is_err());
    }
}
