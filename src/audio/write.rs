//! Streaming output in WAV, FLAC, raw PCM, MP3 or Ogg Vorbis, to a file (written atomically, see
//! [`crate::atomic`]), a FIFO, a device or standard output (`-`).

use super::flac::FlacEncoder;
use super::format::{ClipMode, Container, OutputFormat, SampleFormat};
use super::lossy::{check_mp3, Mp3Encoder, VorbisStream, MP3_DEFAULT_KBPS};
use super::wav_header::wav_header;
use super::{check_layout, AudioBuffer};
use crate::atomic::{is_stdio, resolve, AtomicFile};
use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// What a finished output holds, for warnings about clipping.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteReport {
    pub path: PathBuf,
    /// Frames written.
    pub nb_frames: u64,
    /// The largest |sample| given to the writer (before any rescaling).
    pub peak: f32,
    /// Samples beyond full scale that were clamped (integer formats), or kept beyond it (float).
    pub nb_clipped: u64,
    /// The gain applied by [`ClipMode::Rescale`] (1 when nothing was scaled).
    pub gain: f32,
    /// Whether the output holds samples beyond full scale unclamped (32-bit float).
    pub kept_beyond_full_scale: bool,
    /// Whether clipping is worth a warning ([`ClipMode::None`] asks for silence).
    pub warn: bool,
}

impl WriteReport {
    /// A one-line warning when samples were clamped or kept beyond full scale, else `None`.
    pub fn clipping_warning(&self) -> Option<String> {
        if self.nb_clipped == 0 || !self.warn {
            return None;
        }
        let db = 20.0 * self.peak.max(f32::MIN_POSITIVE).log10();
        let what = if self.kept_beyond_full_scale {
            "are beyond full scale (kept: float output)"
        } else {
            "were clipped to full scale"
        };
        Some(format!(
            "{}: {} samples {what} (peak {:.3} = {db:+.1} dBFS); --clip rescale scales the \
             output down instead",
            self.path.display(),
            self.nb_clipped,
            self.peak
        ))
    }
}

/// An audio file being written block by block. For a regular file nothing appears at the final
/// path until [`AudioWriter::finish`] succeeds, and dropping the writer discards what was
/// written; a stream gets its bytes as they come.
pub struct AudioWriter {
    file: AtomicFile,
    out: BufWriter<File>,
    encoder: Encoder,
    sample: SampleFormat,
    clip: ClipMode,
    nb_channels: usize,
    /// Bytes before the first sample.
    header_len: u64,
    nb_frames: u64,
    data_bytes: u64,
    peak: f32,
    nb_clipped: u64,
    /// With [`ClipMode::Rescale`]: the float samples, held until the peak is known.
    spool: Option<BufWriter<File>>,
    bytes: Vec<u8>,
    ints: Vec<i32>,
    /// Planar samples within full scale, for the lossy encoders.
    planar: Vec<Vec<f32>>,
}

enum Encoder {
    Wav,
    Raw,
    Flac(Box<FlacEncoder>),
    Mp3(Box<Mp3Encoder>),
    Ogg(Box<VorbisStream>),
}

impl Encoder {
    fn is_lossy(&self) -> bool {
        matches!(self, Encoder::Mp3(_) | Encoder::Ogg(_))
    }
}

/// The old name of [`AudioWriter`], which now writes every output format.
pub type WavWriter = AudioWriter;

impl AudioWriter {
    /// Starts writing `path` in `format` (its container from the extension unless given; see
    /// [`OutputFormat::container_for`]). The folder must exist and be writable.
    pub fn create(
        path: impl AsRef<Path>,
        sample_rate: u32,
        nb_channels: usize,
        format: impl Into<OutputFormat>,
    ) -> Result<Self> {
        let path = path.as_ref();
        let format = format.into();
        check_layout(sample_rate, nb_channels).map_err(|e| Error::file(path, e.to_string()))?;
        let container = format.container_for(path)?;
        let mp3_kbps = format.bitrate.unwrap_or(MP3_DEFAULT_KBPS);
        let mut encoder = match container {
            Container::Wav => Encoder::Wav,
            // A placeholder: LAME is started below, once the output is open.
            Container::Mp3 => Encoder::Raw,
            Container::Raw => Encoder::Raw,
            Container::Flac => Encoder::Flac(Box::new(
                FlacEncoder::new(sample_rate, nb_channels, format.sample.bits() as usize)
                    .map_err(|e| Error::file(path, e))?,
            )),
            Container::Ogg => Encoder::Ogg(Box::new(
                VorbisStream::new(sample_rate, nb_channels, format.bitrate)
                    .map_err(|e| Error::file(path, e))?,
            )),
        };
        if container == Container::Mp3 {
            // Checked before the file is opened; LAME starts once the output is known to be
            // seekable or not (whether it can be given the Xing/LAME frame at the end).
            check_mp3(sample_rate, nb_channels, mp3_kbps).map_err(|e| Error::file(path, e))?;
        }
        let spool = match format.clip {
            ClipMode::Rescale => Some(spool_file(path)?),
            _ => None,
        };
        let (file, mut out) = AtomicFile::create(path)?;
        let streaming = !file.is_seekable();
        if container == Container::Mp3 {
            encoder = Encoder::Mp3(Box::new(
                Mp3Encoder::new(sample_rate, nb_channels, mp3_kbps, !streaming)
                    .map_err(|e| Error::file(path, e))?,
            ));
        }
        let head = match &encoder {
            // On a stream the sizes cannot be filled in later: 0xFFFFFFFF says "to the end".
            Encoder::Wav => wav_header(
                sample_rate,
                nb_channels as u16,
                format.sample,
                streaming.then_some(u32::MAX),
            ),
            Encoder::Raw | Encoder::Mp3(_) => Vec::new(),
            Encoder::Flac(flac) => flac.header(),
            Encoder::Ogg(ogg) => ogg.take(),
        };
        let header_len = head.len() as u64;
        out.write_all(&head).map_err(|e| Error::io(path, e))?;
        Ok(AudioWriter {
            file,
            out,
            encoder,
            sample: format.sample,
            clip: format.clip,
            nb_channels,
            header_len,
            nb_frames: 0,
            data_bytes: 0,
            peak: 0.0,
            nb_clipped: 0,
            spool,
            bytes: Vec::new(),
            ints: Vec::new(),
            planar: Vec::new(),
        })
    }

    /// The path given at creation.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Appends a block of shape `(nb_channels, n)`.
    pub fn write(&mut self, block: &[Vec<f32>]) -> Result<()> {
        if block.len() != self.nb_channels {
            return Err(Error::mismatch(
                format!("channels written to {}", self.path().display()),
                self.nb_channels,
                block.len(),
            ));
        }
        let n = block[0].len();
        for ch in block {
            self.peak = ch.iter().fold(self.peak, |p, x| p.max(x.abs()));
        }
        self.nb_frames += n as u64;
        if let Some(spool) = &mut self.spool {
            self.bytes.clear();
            for i in 0..n {
                for ch in block {
                    self.bytes.extend_from_slice(&ch[i].to_le_bytes());
                }
            }
            let path = self.file.path();
            return spool.write_all(&self.bytes).map_err(|e| Error::io(path, e));
        }
        self.encode(block, n, 1.0)
    }

    /// Hands the bytes encoded so far to the file or stream (a live consumer of standard
    /// output gets them now, not when a buffer fills). FLAC frames and samples held for
    /// [`ClipMode::Rescale`] still wait for their block or the end.
    pub fn flush(&mut self) -> Result<()> {
        let path = self.file.path();
        self.out.flush().map_err(|e| Error::io(path, e))
    }

    /// Encodes `(nb_channels, n)` samples times `gain` and writes them out.
    fn encode(&mut self, block: &[Vec<f32>], n: usize, gain: f32) -> Result<()> {
        if self.encoder.is_lossy() {
            return self.encode_lossy(block, n, gain);
        }
        let path = self.file.path().to_path_buf();
        let mut clipped = 0u64;
        // One pass per channel and format (no per-sample dispatch): interleaved bytes for WAV and
        // raw output, interleaved integers for the FLAC encoder.
        match (&self.encoder, self.sample) {
            (_, SampleFormat::Float32) => interleave(&mut self.bytes, block, n, 4, |x, slot| {
                let x = x * gain;
                clipped += (x.abs() > 1.0) as u64;
                slot.copy_from_slice(&x.to_le_bytes());
            }),
            (Encoder::Flac(_), sample) => {
                let full = full_scale(sample);
                interleave(&mut self.ints, block, n, 1, |x, slot| {
                    let (v, clip) = quantize(x * gain, full);
                    clipped += clip as u64;
                    slot[0] = v;
                })
            }
            (_, sample) => {
                let full = full_scale(sample);
                let width = if sample == SampleFormat::Pcm16 { 2 } else { 3 };
                interleave(&mut self.bytes, block, n, width, |x, slot| {
                    let (v, clip) = quantize(x * gain, full);
                    clipped += clip as u64;
                    slot.copy_from_slice(&v.to_le_bytes()[..width]);
                })
            }
        }
        self.nb_clipped += clipped;
        if let Encoder::Flac(flac) = &mut self.encoder {
            let encoded = flac.push(&self.ints).map_err(|e| Error::file(&path, e))?;
            self.bytes = encoded;
        } else {
            self.data_bytes += self.bytes.len() as u64;
        }
        self.out
            .write_all(&self.bytes)
            .map_err(|e| Error::io(&path, e))
    }

    /// Encodes `(nb_channels, n)` samples times `gain`, clamped to [-1, 1], as MP3 or Vorbis.
    fn encode_lossy(&mut self, block: &[Vec<f32>], n: usize, gain: f32) -> Result<()> {
        let path = self.file.path();
        self.planar.resize_with(self.nb_channels, Vec::new);
        let mut clipped = 0u64;
        for (out, ch) in self.planar.iter_mut().zip(block) {
            out.clear();
            out.extend(ch[..n].iter().map(|&x| {
                let x = x * gain;
                if x.abs() > 1.0 {
                    clipped += 1;
                }
                x.clamp(-1.0, 1.0)
            }));
        }
        self.nb_clipped += clipped;
        let bytes = match &mut self.encoder {
            Encoder::Mp3(mp3) => mp3.push(&self.planar).map_err(|e| Error::file(path, e))?,
            Encoder::Ogg(ogg) => {
                self.bytes = ogg.push(&self.planar).map_err(|e| Error::file(path, e))?;
                &self.bytes
            }
            _ => unreachable!("encode_lossy is only called for MP3 and Ogg"),
        };
        self.out.write_all(bytes).map_err(|e| Error::io(path, e))
    }

    /// Completes the stream (for [`ClipMode::Rescale`], encodes the held samples scaled to full
    /// scale), fills in the header where the output can be sought back into, syncs, and moves a
    /// regular file to its final path.
    pub fn finish(mut self) -> Result<WriteReport> {
        let path = self.file.path().to_path_buf();
        let mut gain = 1.0;
        if let Some(spool) = self.spool.take() {
            // The largest value each format holds: 1 - 1 LSB for integers.
            let top = match self.sample {
                _ if self.encoder.is_lossy() => 1.0,
                SampleFormat::Pcm16 => 32767.0 / 32768.0,
                SampleFormat::Pcm24 => 8_388_607.0 / 8_388_608.0,
                SampleFormat::Float32 => 1.0,
            };
            if self.peak > top {
                gain = top / self.peak;
            }
            self.replay(spool, gain)?;
        }
        let tail = match &mut self.encoder {
            Encoder::Flac(flac) => flac.finish().map_err(|e| Error::file(&path, e))?,
            Encoder::Mp3(mp3) => mp3.finish().map_err(|e| Error::file(&path, e))?,
            Encoder::Ogg(ogg) => ogg.finish().map_err(|e| Error::file(&path, e))?,
            _ => Vec::new(),
        };
        self.out.write_all(&tail).map_err(|e| Error::io(&path, e))?;
        if self.file.is_seekable() {
            // Where the header needs the final sizes: (offset, bytes) pairs.
            let patches: Vec<(u64, Vec<u8>)> = match &self.encoder {
                Encoder::Wav => {
                    let riff_len = self.data_bytes + self.header_len - 8;
                    if riff_len > u32::MAX as u64 {
                        return Err(Error::file(
                            &path,
                            "over 4 GiB: too long for WAV; write .flac, or a lower bit depth",
                        ));
                    }
                    vec![
                        (4, (riff_len as u32).to_le_bytes().to_vec()),
                        (
                            self.header_len - 4,
                            (self.data_bytes as u32).to_le_bytes().to_vec(),
                        ),
                    ]
                }
                Encoder::Flac(flac) => vec![(0, flac.header())],
                // LAME's Xing/Info frame, now with the length, delay and padding.
                Encoder::Mp3(mp3) => mp3.tag().map(|tag| (0, tag)).into_iter().collect(),
                Encoder::Raw | Encoder::Ogg(_) => Vec::new(),
            };
            let out = &mut self.out;
            let result = (|| {
                out.flush()?;
                let file = out.get_mut();
                for (offset, bytes) in &patches {
                    file.seek(SeekFrom::Start(*offset))?;
                    file.write_all(bytes)?;
                }
                Ok(())
            })();
            result.map_err(|e: std::io::Error| Error::io(&path, e))?;
        }
        let report = WriteReport {
            path,
            nb_frames: self.nb_frames,
            peak: self.peak,
            nb_clipped: self.nb_clipped,
            gain,
            kept_beyond_full_scale: self.sample == SampleFormat::Float32
                && !self.encoder.is_lossy(),
            warn: self.clip != ClipMode::None,
        };
        self.file.commit(self.out)?;
        Ok(report)
    }

    /// Encodes the spooled float samples times `gain`.
    fn replay(&mut self, spool: BufWriter<File>, gain: f32) -> Result<()> {
        let path = self.file.path().to_path_buf();
        let mut file = spool
            .into_inner()
            .map_err(|e| Error::io(&path, e.into_error()))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(&path, e))?;
        let mut reader = std::io::BufReader::new(file);
        let frame_bytes = 4 * self.nb_channels;
        let mut raw = vec![0u8; frame_bytes * (1 << 14)];
        let mut block = vec![Vec::new(); self.nb_channels];
        loop {
            let got = read_full(&mut reader, &mut raw).map_err(|e| Error::io(&path, e))?;
            if got == 0 {
                return Ok(());
            }
            for ch in &mut block {
                ch.clear();
            }
            for frame in raw[..got].chunks_exact(frame_bytes) {
                for (ch, s) in block.iter_mut().zip(frame.chunks_exact(4)) {
                    ch.push(f32::from_le_bytes(s.try_into().expect("4 bytes")));
                }
            }
            let n = got / frame_bytes;
            let taken = std::mem::take(&mut block);
            self.encode(&taken, n, gain)?;
            block = taken;
        }
    }
}

/// Fills `out` with the first `n` samples of every channel of `block`, interleaved, `width`
/// items per sample, each slot written by `write(sample, slot)`.
fn interleave<T: Copy + Default>(
    out: &mut Vec<T>,
    block: &[Vec<f32>],
    n: usize,
    width: usize,
    mut write: impl FnMut(f32, &mut [T]),
) {
    let stride = block.len() * width;
    out.resize(n * stride, T::default());
    for (c, ch) in block.iter().enumerate() {
        for (frame, &x) in out.chunks_exact_mut(stride).zip(&ch[..n]) {
            write(x, &mut frame[c * width..(c + 1) * width]);
        }
    }
}

/// The integer value of 1.0 in an integer sample format.
fn full_scale(sample: SampleFormat) -> f32 {
    match sample {
        SampleFormat::Pcm16 => 32768.0,
        SampleFormat::Pcm24 => 8_388_608.0,
        SampleFormat::Float32 => 1.0,
    }
}

/// `x * full` rounded half away from zero and clamped to `[-full, full - 1]`, with whether the
/// clamp changed it; NaN gives 0. The same values as `f32::round` then `clamp`, without
/// `round`'s libm call per sample (about 2 % of a 3-minute extraction's CPU samples in perf):
/// truncation is one instruction, and `v - trunc(v)` is exact in f32.
#[inline]
fn quantize(x: f32, full: f32) -> (i32, bool) {
    let (lo, hi) = (-full as i32, full as i32 - 1);
    // Within one step beyond either end, so that the integers below cannot overflow.
    let v = (x * full).clamp(lo as f32 - 1.0, hi as f32 + 1.0);
    let t = v as i32;
    let frac = v - t as f32;
    let r = t + (frac >= 0.5) as i32 - (frac <= -0.5) as i32;
    (r.clamp(lo, hi), r < lo || r > hi)
}

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// An anonymous temporary file for [`ClipMode::Rescale`]: beside a regular output (same disk,
/// which has room for it), in the temporary folder for a stream.
fn spool_file(path: &Path) -> Result<BufWriter<File>> {
    let target = if is_stdio(path) {
        None
    } else {
        Some(resolve(path)?)
    };
    let dir = match &target {
        Some(target) if !crate::atomic::is_special(target) => match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        },
        _ => std::env::temp_dir(),
    };
    let file = tempfile::tempfile_in(&dir).map_err(|e| Error::io(path, e))?;
    Ok(BufWriter::with_capacity(1 << 16, file))
}

/// Writes a whole buffer to `path` (format from the extension, see [`AudioWriter::create`]).
pub fn write_wav(
    path: impl AsRef<Path>,
    audio: &AudioBuffer,
    format: impl Into<OutputFormat>,
) -> Result<WriteReport> {
    let mut writer = AudioWriter::create(path, audio.sample_rate, audio.nb_channels(), format)?;
    writer.write(&audio.channels)?;
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `quantize` against the rounding it replaces, on every kind of value near its edges.
    #[test]
    fn quantize_matches_round_then_clamp() {
        for full in [32768.0f32, 8_388_608.0] {
            let (lo, hi) = (-full, full - 1.0);
            let mut xs = vec![
                0.0f32,
                -0.0,
                1.0,
                -1.0,
                2.0,
                -7.5,
                f32::MAX,
                f32::MIN,
                f32::NAN,
            ];
            xs.extend([
                f32::INFINITY,
                f32::NEG_INFINITY,
                f32::EPSILON,
                -f32::EPSILON,
            ]);
            // Halves, and the floats just beside them, across the whole range.
            for k in (-(full as i64) - 3..full as i64 + 3).step_by(997) {
                let half = (k as f32 + 0.5) / full;
                xs.extend([half, f32::from_bits(half.to_bits() + 1)]);
                xs.extend([f32::from_bits(half.to_bits().saturating_sub(1))]);
            }
            let mut state = 12345u32;
            for _ in 0..100_000 {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                xs.push((state as f32 / u32::MAX as f32 - 0.5) * 2.2);
            }
            for x in xs {
                let v = (x * full).round();
                let want = (v.clamp(lo, hi) as i32, v < lo || v > hi);
                assert_eq!(quantize(x, full), want, "x = {x:e}, full = {full}");
            }
        }
    }
}
