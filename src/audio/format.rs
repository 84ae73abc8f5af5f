//! What an output file is: its container (from the file name's extension, or asked for), its
//! sample encoding, and what happens to samples beyond full scale.

use crate::atomic::is_stdio;
use crate::choice::named_choice;
use crate::error::{Error, Result};
use std::path::Path;

named_choice!(
    /// The encoding of written samples: `16`, `24` or `float` (also `pcm16`, `pcm24`, `f32`,
    /// ...).
    #[derive(Default)]
    SampleFormat, "sample format" {
        /// 16-bit integer PCM (the default; samples beyond [-1, 1) are clipped).
        #[default]
        Pcm16 = "16" | "pcm16" | "s16",
        /// 24-bit integer PCM.
        Pcm24 = "24" | "pcm24" | "s24",
        /// 32-bit IEEE float (never clips; FLAC cannot hold it).
        Float32 = "float" | "f32" | "32f" | "float32",
    }
);

impl SampleFormat {
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

named_choice!(
    /// A file format saex writes, named by its usual extension (`--type`).
    Container, "output type" {
        /// RIFF/WAVE (`.wav`, `.wave`, and standard output by default). On a pipe the header
        /// carries 0xFFFFFFFF sizes, as ffmpeg and sox write it.
        Wav = "wav" | "wave",
        /// FLAC (`.flac`), 16 or 24 bit.
        Flac = "flac",
        /// Headerless little-endian interleaved samples (`.raw`, `.pcm`, or `--raw`).
        Raw = "raw" | "pcm",
        /// MP3 (`.mp3`, LAME): constant bit rate, 320 kbit/s unless asked; 1 or 2 channels at
        /// 8 to 48 kHz (MPEG's nine rates).
        Mp3 = "mp3",
        /// Ogg Vorbis (`.ogg`, `.oga`, libvorbis): variable bit rate, quality 8 unless a bit
        /// rate is asked.
        Ogg = "ogg" | "oga" | "vorbis",
    }
);

/// The extensions of the formats saex reads (compared case-insensitively): what `saex batch`
/// and a dataset folder take for audio and what `saex serve` accepts as an upload. The reader
/// probes the content; the extension is its hint.
pub const READ_EXTENSIONS: [&str; 15] = [
    "wav", "wave", "rf64", "flac", "mp3", "ogg", "oga", "opus", "m4a", "mp4", "aac", "alac", "aif",
    "aiff", "aifc",
];

/// The extension of `path` as one of [`READ_EXTENSIONS`], if it is one.
pub fn read_extension(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?;
    READ_EXTENSIONS
        .iter()
        .find(|known| known.eq_ignore_ascii_case(ext))
        .copied()
}

/// Extensions of formats saex reads but cannot write.
const NOT_WRITTEN: [&str; 6] = ["opus", "m4a", "mp4", "aac", "aif", "aiff"];

impl Container {
    /// The format a path's extension names: `.wav`/`.wave`, `.flac`, `.raw`/`.pcm`, `.mp3`,
    /// `.ogg`/`.oga`; `-` (standard output), and a FIFO or device without an extension, are
    /// WAV. Anything else is refused, naming the path: a path without an extension, or one
    /// saex reads but does not write (Opus, AAC/M4A, AIFF; write `.flac` or `.wav` and
    /// convert).
    fn from_path(path: &Path) -> Result<Self> {
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
                "has no extension: name the output .wav, .flac, .mp3 or .ogg (the format follows the extension)",
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
                format!(
                    "unknown output extension .{ext}: expected .wav, .flac, .raw, .mp3 or .ogg"
                ),
            )
        })
    }

    /// The usual extension.
    pub fn extension(self) -> &'static str {
        self.name()
    }

    /// Whether the format is lossy (MP3, Ogg Vorbis): it encodes float samples at a bit rate,
    /// and `--format` (16, 24, float) does not apply.
    pub fn is_lossy(self) -> bool {
        matches!(self, Container::Mp3 | Container::Ogg)
    }
}

named_choice!(
    /// What to do with samples beyond full scale ([-1, 1]). Samples never wrap around.
    #[derive(Default)]
    ClipMode, "clip mode" {
        /// Integer outputs (16/24-bit WAV, FLAC) and lossy ones (MP3, Ogg Vorbis, whose
        /// encoders take samples within full scale) clamp each sample to full scale; 32-bit
        /// float keeps it. Either way they are counted and saex warns with the count (the
        /// default).
        #[default]
        Clamp = "clamp",
        /// Scale the whole output down so that its peak is at full scale: nothing clips. Needs
        /// the whole output's peak, so the samples are held in a temporary file (32-bit float
        /// beside the output, or in the temporary folder for a stream) until the end.
        Rescale = "rescale",
        /// As `clamp`, without the warning.
        None = "none",
    }
);

/// Everything that decides how an output is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputFormat {
    /// `None`: from each path's extension ([`Container::from_path`]).
    pub container: Option<Container>,
    pub sample: SampleFormat,
    pub clip: ClipMode,
    /// The bit rate of lossy outputs in kbit/s (MP3: constant, one of
    /// [`super::lossy::MP3_KBPS`]; Ogg Vorbis: the average aimed at). `None`: MP3 at
    /// [`super::lossy::MP3_DEFAULT_KBPS`], Vorbis at quality
    /// [`super::lossy::VORBIS_DEFAULT_QUALITY`]. Lossless outputs ignore it.
    pub bitrate: Option<u32>,
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
    /// The container for `path`, checked against the sample format (FLAC holds 16 or 24 bit;
    /// MP3 and Ogg Vorbis have none: only the default, 16, is accepted) and the bit rate.
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
        if container.is_lossy() && self.sample != SampleFormat::Pcm16 {
            return Err(Error::file(
                path,
                format!(
                    "{} has no bit depth (--format 24 or float is for .wav, .flac and .raw): \
                     leave --format out (--bitrate sets its quality)",
                    container.extension().to_uppercase()
                ),
            ));
        }
        match (container, self.bitrate) {
            (Container::Mp3, Some(kbps)) if !super::lossy::MP3_KBPS.contains(&kbps) => {
                return Err(Error::file(
                    path,
                    format!(
                        "MP3 bit rate {kbps} kbit/s: expected one of {}",
                        super::lossy::MP3_KBPS.map(|k| k.to_string()).join(", ")
                    ),
                ))
            }
            (Container::Ogg, Some(kbps)) if !(32..=500).contains(&kbps) => {
                return Err(Error::file(
                    path,
                    format!("Ogg Vorbis bit rate {kbps} kbit/s: expected 32 to 500"),
                ))
            }
            _ => {}
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
        assert_eq!(
            Container::from_path(Path::new("a.mp3")).unwrap(),
            Container::Mp3
        );
        assert_eq!(
            Container::from_path(Path::new("a.Ogg")).unwrap(),
            Container::Ogg
        );
        for (name, says) in [
            ("v.opus", "does not write"),
            ("v.m4a", "does not write"),
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
        assert!(float_flac.container_for(Path::new("a.mp3")).is_err());
        let odd_rate = OutputFormat {
            bitrate: Some(300),
            ..OutputFormat::default()
        };
        let err = odd_rate.container_for(Path::new("a.mp3")).unwrap_err();
        assert!(err.to_string().contains("320"), "{err}");
        assert!(odd_rate.container_for(Path::new("a.ogg")).is_ok());
        assert!(odd_rate.container_for(Path::new("a.wav")).is_ok());
    }
}
