//! Streaming WAV output, written atomically (see [`crate::atomic`]).

use super::{check_layout, AudioBuffer};
use crate::atomic::AtomicFile;
use crate::error::{Error, Result};
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// The encoding of written WAV files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SampleFormat {
    /// 16-bit integer PCM (the default; samples beyond [-1, 1) are clipped).
    #[default]
    Pcm16,
    /// 24-bit integer PCM.
    Pcm24,
    /// 32-bit IEEE float (never clips).
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

    fn spec(self, sample_rate: u32, nb_channels: usize) -> hound::WavSpec {
        let (bits_per_sample, sample_format) = match self {
            SampleFormat::Pcm16 => (16, hound::SampleFormat::Int),
            SampleFormat::Pcm24 => (24, hound::SampleFormat::Int),
            SampleFormat::Float32 => (32, hound::SampleFormat::Float),
        };
        hound::WavSpec {
            channels: nb_channels as u16,
            sample_rate,
            bits_per_sample,
            sample_format,
        }
    }
}

/// A WAV file being written block by block. Nothing appears at the final path until
/// [`WavWriter::finish`] succeeds; dropping the writer discards what was written.
pub struct WavWriter {
    file: AtomicFile,
    inner: hound::WavWriter<BufWriter<File>>,
    format: SampleFormat,
    nb_channels: usize,
}

impl WavWriter {
    /// Starts writing `path` (the folder must exist and be writable).
    pub fn create(
        path: impl AsRef<Path>,
        sample_rate: u32,
        nb_channels: usize,
        format: SampleFormat,
    ) -> Result<Self> {
        let path = path.as_ref();
        check_layout(sample_rate, nb_channels).map_err(|e| Error::file(path, e.to_string()))?;
        let (file, writer) = AtomicFile::create(path)?;
        let inner = hound::WavWriter::new(writer, format.spec(sample_rate, nb_channels))
            .map_err(|e| hound_error(path, e))?;
        Ok(WavWriter {
            file,
            inner,
            format,
            nb_channels,
        })
    }

    /// Appends a block of shape `(nb_channels, n)`.
    pub fn write(&mut self, block: &[Vec<f32>]) -> Result<()> {
        if block.len() != self.nb_channels {
            return Err(Error::mismatch(
                format!("channels written to {}", self.file.path().display()),
                self.nb_channels,
                block.len(),
            ));
        }
        let n = block[0].len();
        let path = self.file.path().to_path_buf();
        let err = |e| hound_error(&path, e);
        if self.format == SampleFormat::Pcm16 {
            // hound's buffered 16-bit writer: one write per chunk instead of one per sample.
            for start in (0..n).step_by(1 << 14) {
                let end = (start + (1 << 14)).min(n);
                let mut writer = self
                    .inner
                    .get_i16_writer(((end - start) * self.nb_channels) as u32);
                for i in start..end {
                    for ch in block {
                        let v = (ch[i] * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
                        writer.write_sample(v);
                    }
                }
                writer.flush().map_err(err)?;
            }
            return Ok(());
        }
        for i in 0..n {
            for ch in block {
                let x = ch[i];
                match self.format {
                    SampleFormat::Pcm16 => {
                        let v = (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
                        self.inner.write_sample(v).map_err(err)?;
                    }
                    SampleFormat::Pcm24 => {
                        let v = (x * 8_388_608.0).round().clamp(-8_388_608.0, 8_388_607.0) as i32;
                        self.inner.write_sample(v).map_err(err)?;
                    }
                    SampleFormat::Float32 => self.inner.write_sample(x).map_err(err)?,
                }
            }
        }
        Ok(())
    }

    /// Completes the header, syncs, and moves the file to its final path.
    pub fn finish(self) -> Result<()> {
        let path = self.file.path().to_path_buf();
        self.inner.finalize().map_err(|e| hound_error(&path, e))?;
        File::open(self.file.temp_path())
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&path, e))?;
        self.file.commit_closed()
    }
}

fn hound_error(path: &Path, e: hound::Error) -> Error {
    match e {
        hound::Error::IoError(io) => Error::io(path, io),
        other => Error::file(path, other.to_string()),
    }
}

/// Writes a whole buffer to `path` atomically.
pub fn write_wav(path: impl AsRef<Path>, audio: &AudioBuffer, format: SampleFormat) -> Result<()> {
    let mut writer = WavWriter::create(path, audio.sample_rate, audio.nb_channels(), format)?;
    writer.write(&audio.channels)?;
    writer.finish()
}
