//! Decoding: WAV (and RF64) through our chunk walk with bulk sample conversion, everything else
//! through symphonia. [`AudioReader`] streams blocks of frames so that hour-long files never sit
//! in memory whole, and reads standard input (`-`) as well as files: a WAV header on a pipe
//! may leave the length unknown (0 or 0xFFFFFFFF), and the samples then run to the end.

use super::mp4_edits::{read_edits, Edit};
use super::ogg_end::{OggEnd, OggPageWatch};
use super::wav_header::{read_wav_header, TAG_FLOAT, TAG_PCM};
use super::{check_layout, AudioBuffer};
use crate::atomic::is_stdio;
use crate::error::{Error, Result};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{Decoder, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::Track;
use symphonia::core::formats::{FormatOptions, FormatReader, Packet, SeekMode, SeekTo};
use symphonia::core::io::{MediaSource, MediaSourceStream, ReadOnlySource};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// What a stream holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioInfo {
    pub sample_rate: u32,
    pub nb_channels: usize,
    /// Frames per channel, when the container says (WAV and FLAC files do; MP3 and Ogg may not,
    /// nor a WAV stream written to a pipe).
    pub nb_frames: Option<u64>,
}

/// A streaming decoder over one file.
pub struct AudioReader {
    path: PathBuf,
    info: AudioInfo,
    source: Source,
    /// Frames delivered so far, for error messages and the length check at the end.
    frames_read: u64,
    /// A regular file, which can seek (not standard input or a FIFO).
    seekable: bool,
    /// An Ogg stream read front to back: where it ends, once its last page has been read.
    ogg_end: Option<OggEnd>,
}

enum Source {
    Wav(WavSource),
    Codec(Box<CodecSource>),
}

struct WavSource {
    /// Positioned in the data chunk.
    reader: BufReader<File>,
    encoding: WavEncoding,
    bytes_per_frame: usize,
    /// Bytes of whole frames left in the data chunk; `None`: to the end of the stream.
    remaining: Option<u64>,
    /// A regular file (which can seek), not a stream.
    seekable: bool,
    /// 1 / 2^(valid bits - 1) for integer samples.
    scale: f32,
    buffer: Vec<u8>,
}

struct CodecSource {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    /// Priming frames at the start of the stream that are not audio (an MP4 edit list's).
    offset: u64,
    /// Decoded interleaved samples not yet handed out.
    pending: VecDeque<f32>,
    buffer: Option<SampleBuffer<f32>>,
    done: bool,
}

impl AudioReader {
    /// Opens `path` and reads its header; `-` is standard input (WAV, FLAC, MP3 or Ogg are read
    /// front to back; an MP4 is first copied whole to a temporary file, see [`spool_mp4`]). Errors name the file: missing, empty, not audio,
    /// truncated, unsupported encoding, absurd channel count or sample rate. A file of several
    /// audio streams (an MP4 of the stems format) is read from its first.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_stream(path, 0)
    }

    /// Opens audio stream `stream` (counted from 0 among the file's audio streams) of `path`;
    /// see [`AudioReader::open`]. A file without that stream is an error naming the count.
    pub fn open_stream(path: impl AsRef<Path>, stream: usize) -> Result<Self> {
        let path = path.as_ref();
        let stdin = is_stdio(path);
        let (file, file_len) = if stdin {
            (stdin_file().map_err(|e| Error::io(STDIN, e))?, None)
        } else {
            let file = File::open(path).map_err(|e| Error::io(path, e))?;
            let meta = file.metadata().map_err(|e| Error::io(path, e))?;
            if meta.is_dir() {
                return Err(Error::file(path, "is a folder, expected an audio file"));
            }
            // A FIFO or a device is read as a stream, like standard input.
            (file, meta.is_file().then_some(meta.len()))
        };
        let name = if stdin { Path::new(STDIN) } else { path };
        if file_len == Some(0) {
            return Err(Error::file(name, "empty file"));
        }
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let (mut reader, file_len) = if file_len.is_none()
            && is_mp4(&peek(&mut reader, 8).map_err(|e| Error::io(name, e))?)
        {
            spool_mp4(name, reader)?
        } else {
            (reader, file_len)
        };
        let magic = peek(&mut reader, 4).map_err(|e| Error::io(name, e))?;
        if magic.is_empty() {
            return Err(Error::file(name, "empty stream"));
        }
        // symphonia 0.5 counts the 8-byte header of AIFF's SSND chunk as samples (one to four
        // frames too many, read past the samples); COMM's frame count is the file's own.
        let aiff_frames = if magic == b"FORM" {
            aiff_frames(&peek(&mut reader, 1 << 16).map_err(|e| Error::io(name, e))?)
        } else {
            None
        };
        let mut ogg_end = None;
        let (info, source) = if magic == b"RIFF" || magic == b"RF64" || magic == b"BW64" {
            if stream > 0 {
                return Err(Error::file(
                    name,
                    format!("expected {} audio streams, found 1", stream + 1),
                ));
            }
            open_wav(name, reader, file_len)?
        } else if file_len.is_some() {
            let mut file = reader.into_inner();
            let edits = read_edits(&mut file);
            file.seek(SeekFrom::Start(0))
                .map_err(|e| Error::io(name, e))?;
            open_codec(name, Box::new(file), stream, &edits)?
        } else if magic == b"OggS" {
            let watch = OggPageWatch::new(reader);
            ogg_end = Some(watch.end());
            open_codec(name, Box::new(ReadOnlySource::new(watch)), stream, &[])?
        } else {
            open_codec(name, Box::new(ReadOnlySource::new(reader)), stream, &[])?
        };
        let mut info = info;
        if let Some(frames) = aiff_frames {
            info.nb_frames = Some(frames);
        }
        check_layout(info.sample_rate, info.nb_channels)
            .map_err(|e| Error::file(name, e.to_string()))?;
        Ok(AudioReader {
            path: name.to_path_buf(),
            info,
            source,
            frames_read: 0,
            seekable: file_len.is_some(),
            ogg_end,
        })
    }

    pub fn info(&self) -> AudioInfo {
        self.info
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads up to `max_frames` frames: shape `(nb_channels, n)` with `n <= max_frames`, and
    /// `n == 0` only at the end of the stream. NaN or infinite samples are an error.
    pub fn read(&mut self, max_frames: usize) -> Result<Vec<Vec<f32>>> {
        let nb_channels = self.info.nb_channels;
        // The container's length is authoritative: Ogg and MP3 decoders hand out whole packets,
        // whose last one runs past the end by the encoder's padding.
        let max_frames = match self.info.nb_frames {
            Some(total) => max_frames.min(total.saturating_sub(self.frames_read) as usize),
            None => max_frames,
        };
        let mut out = vec![Vec::with_capacity(max_frames.min(1 << 20)); nb_channels];
        let mut got = match &mut self.source {
            Source::Wav(wav) => wav.read(&self.path, &mut out, max_frames)?,
            Source::Codec(codec) => codec.read(&self.path, &mut out, max_frames)?,
        };
        if let Some(end) = self.stream_end(got) {
            let keep = end.saturating_sub(self.frames_read).min(got as u64) as usize;
            for channel in out.iter_mut() {
                channel.truncate(keep);
            }
            got = keep;
        }
        for (c, ch) in out.iter().enumerate() {
            if let Some(i) = ch.iter().position(|x| !x.is_finite()) {
                return Err(Error::file(
                    &self.path,
                    format!(
                        "sample {} of channel {c} is {} (NaN and infinite samples are refused)",
                        self.frames_read + i as u64,
                        ch[i]
                    ),
                ));
            }
        }
        self.frames_read += got as u64;
        if got == 0 {
            if let Some(expected) = self.info.nb_frames {
                if self.frames_read < expected {
                    return Err(Error::file(
                        &self.path,
                        format!(
                            "truncated: the header announces {expected} frames, the file holds {}",
                            self.frames_read
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Where an Ogg stream read front to back ends, in frames, once its last page has been read:
    /// its final granule position less the frames dropped at the start (Opus's pre-skip). Only
    /// when that cuts within the last packets (the encoder's padding): a chained or odd stream
    /// is read to its end as before.
    /// `got`: frames just read and not yet counted.
    fn stream_end(&self, got: usize) -> Option<u64> {
        let (Some(end), Source::Codec(codec)) = (&self.ogg_end, &self.source) else {
            return None;
        };
        let total = end.final_granule()?.checked_sub(codec.offset)?;
        let decoded = self.frames_read + (got + codec.pending.len() / self.info.nb_channels) as u64;
        // The longest Vorbis block is 8192 frames, the longest Opus packet 5760.
        (total + 8192 >= decoded).then_some(total)
    }

    /// Skips up to `nb_frames` frames: a seek in WAV data; compressed streams that say their
    /// length seek in their container (FLAC: its seek table, or a search over its frames) and
    /// decode only from the packet holding the new position; others decode and drop. Returns
    /// the frames skipped (fewer only at the end of the stream).
    pub fn skip(&mut self, nb_frames: u64) -> Result<u64> {
        if let Source::Wav(wav) = &mut self.source {
            // A regular file seeks; a stream (standard input, a FIFO) reads and drops below.
            if let (true, Some(remaining)) = (wav.seekable, wav.remaining) {
                let n = nb_frames.min(remaining / wav.bytes_per_frame as u64);
                let bytes = n * wav.bytes_per_frame as u64;
                wav.reader
                    .seek_relative(bytes as i64)
                    .map_err(|e| Error::io(&self.path, e))?;
                wav.remaining = Some(remaining - bytes);
                self.frames_read += n;
                return Ok(n);
            }
        }
        // A stream (standard input, a FIFO) cannot seek: it decodes and drops below.
        if let (Source::Codec(codec), Some(total), true) =
            (&mut self.source, self.info.nb_frames, self.seekable)
        {
            let target = self.frames_read.saturating_add(nb_frames).min(total);
            let n = target - self.frames_read;
            if n == 0 {
                return Ok(0);
            }
            if target < total {
                codec.seek(&self.path, target, self.info.nb_channels)?;
            } else {
                codec.pending.clear();
                codec.done = true;
            }
            self.frames_read = target;
            return Ok(n);
        }
        let mut skipped = 0;
        while skipped < nb_frames {
            let block = self.read((nb_frames - skipped).min(1 << 16) as usize)?;
            if block[0].is_empty() {
                break;
            }
            skipped += block[0].len() as u64;
        }
        Ok(skipped)
    }

    /// Reads everything that is left into one buffer.
    pub fn read_to_end(mut self) -> Result<AudioBuffer> {
        let mut channels = vec![Vec::new(); self.info.nb_channels];
        loop {
            let block = self.read(1 << 16)?;
            if block[0].is_empty() {
                break;
            }
            for (all, part) in channels.iter_mut().zip(block) {
                all.extend_from_slice(&part);
            }
        }
        Ok(AudioBuffer {
            sample_rate: self.info.sample_rate,
            channels,
        })
    }
}

/// Decodes a whole file: shape `(nb_channels, nb_frames)`.
pub fn read_audio(path: impl AsRef<Path>) -> Result<AudioBuffer> {
    AudioReader::open(path)?.read_to_end()
}

/// How standard input is named in messages.
const STDIN: &str = "(standard input)";

/// A new handle on standard input (buffered by the caller).
fn stdin_file() -> std::io::Result<File> {
    use std::os::fd::AsFd;
    Ok(File::from(std::io::stdin().as_fd().try_clone_to_owned()?))
}

/// The most bytes of an MP4 that [`spool_mp4`] buffers from a stream.
pub const MAX_SPOOLED_MP4: u64 = 2 << 30;

/// Whether `head` (a file's first 8 bytes) starts an MP4 (ISO BMFF): an `ftyp` box.
fn is_mp4(head: &[u8]) -> bool {
    head.len() >= 8 && &head[4..8] == b"ftyp"
}

/// An MP4 (M4A, AAC or ALAC) from standard input or a FIFO, copied whole into a nameless
/// temporary file (gone when closed) and read from there: its index (`moov`) often comes after
/// the audio (ffmpeg and iTunes write it last unless asked for "fast start"), which a stream
/// read front to back cannot reach, and its edit list (the encoder's priming) is read from the
/// index too. An MP4 is compressed, so the copy is small beside the audio (about 1 MB a minute);
/// beyond [`MAX_SPOOLED_MP4`] it is refused, naming the limit.
fn spool_mp4(name: &Path, mut reader: BufReader<File>) -> Result<(BufReader<File>, Option<u64>)> {
    let mut spool = tempfile::tempfile().map_err(|e| {
        Error::file(
            name,
            format!(
                "an MP4 from a pipe is read through a temporary file, which cannot be made: {e}"
            ),
        )
    })?;
    let copied = std::io::copy(&mut (&mut reader).take(MAX_SPOOLED_MP4 + 1), &mut spool)
        .map_err(|e| Error::io(name, e))?;
    if copied > MAX_SPOOLED_MP4 {
        return Err(Error::file(
            name,
            format!(
                "an MP4 from a pipe is read through a temporary file, and this one is over {} GiB: \
                 pass it by path",
                MAX_SPOOLED_MP4 >> 30
            ),
        ));
    }
    spool
        .seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(name, e))?;
    Ok((BufReader::with_capacity(1 << 16, spool), Some(copied)))
}

/// The first `n` bytes of `reader` (fewer at the end of the stream), without consuming them.
fn peek(reader: &mut BufReader<File>, n: usize) -> std::io::Result<Vec<u8>> {
    use std::io::BufRead;
    // A pipe may deliver less than `n` bytes per read; a short first read is rare, and then the
    // stream is taken for non-WAV, which symphonia's probe still reads correctly.
    let buf = reader.fill_buf()?;
    Ok(buf[..n.min(buf.len())].to_vec())
}

fn read_up_to(file: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn open_wav(
    path: &Path,
    mut reader: BufReader<File>,
    file_len: Option<u64>,
) -> Result<(AudioInfo, Source)> {
    let header = read_wav_header(&mut reader, file_len).map_err(|r| Error::file(path, r))?;
    let nb_channels = header.nb_channels as usize;
    check_layout(header.sample_rate, nb_channels).map_err(|e| Error::file(path, e.to_string()))?;
    let float = header.format_tag == TAG_FLOAT;
    let bytes = header.block_align as usize / nb_channels;
    let bits = header.valid_bits;
    let container = header.container_bits;
    let encoding = match (header.format_tag, bytes, container, bits) {
        (TAG_PCM, 1, 8, 8) => Some(WavEncoding::U8),
        (TAG_PCM, 2, 16, 16) => Some(WavEncoding::I16),
        (TAG_PCM, 3, 24, 24) => Some(WavEncoding::I24),
        (TAG_PCM, 4, 32, 24) | (TAG_PCM, 4, 24, 24) => Some(WavEncoding::I24In32),
        (TAG_PCM, 4, 32, 32) => Some(WavEncoding::I32),
        (TAG_FLOAT, 4, 32, 32) => Some(WavEncoding::F32),
        (TAG_FLOAT, 8, 64, 64) => Some(WavEncoding::F64),
        _ => None,
    };
    let Some(encoding) = encoding else {
        // Symphonia reads some layouts saex does not (A-law, mu-law) from a file.
        let refusal = Error::file(
            path,
            format!(
                "unsupported WAV encoding: format {:#06x}, {bits}-bit {} in {bytes}-byte samples",
                header.format_tag,
                if float { "float" } else { "integer" }
            ),
        );
        if file_len.is_none() {
            return Err(refusal);
        }
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        return open_codec(path, Box::new(file), 0, &[]).map_err(|_| refusal);
    };
    let bytes_per_frame = bytes as u64 * nb_channels as u64;
    let info = AudioInfo {
        sample_rate: header.sample_rate,
        nb_channels,
        nb_frames: header.data_len.map(|len| len / bytes_per_frame),
    };
    Ok((
        info,
        Source::Wav(WavSource {
            reader,
            encoding,
            bytes_per_frame: bytes_per_frame as usize,
            remaining: header.data_len.map(|len| len - len % bytes_per_frame),
            seekable: file_len.is_some(),
            scale: 1.0 / (1u64 << (bits.clamp(1, 32) - 1)) as f32,
            buffer: Vec::new(),
        }),
    ))
}

/// Sample layouts of PCM WAV files, as hound defines them.
#[derive(Debug, Clone, Copy)]
enum WavEncoding {
    /// Unsigned 8-bit, 128 = silence.
    U8,
    I16,
    I24,
    /// 24 valid bits in a 4-byte container.
    I24In32,
    I32,
    F32,
    F64,
}

/// Frames per bulk read: bounds the byte buffer whatever the caller's block size.
const WAV_READ_FRAMES: usize = 1 << 14;

impl WavSource {
    /// Reads and converts up to `max_frames` frames in bulk (per-sample reads through hound
    /// cost about ten times more on long files).
    fn read(&mut self, path: &Path, out: &mut [Vec<f32>], max_frames: usize) -> Result<usize> {
        let mut total = 0;
        while total < max_frames && self.remaining != Some(0) {
            let mut frames = (max_frames - total).min(WAV_READ_FRAMES);
            if let Some(remaining) = self.remaining {
                frames = frames.min((remaining / self.bytes_per_frame as u64) as usize);
            }
            let want = frames * self.bytes_per_frame;
            self.buffer.resize(want, 0);
            let got =
                read_up_to(&mut self.reader, &mut self.buffer).map_err(|e| Error::io(path, e))?;
            if got % self.bytes_per_frame != 0 || (got < want && self.remaining.is_some()) {
                // The header walk refuses lying lengths up front; this is a file cut while read.
                return Err(Error::file(path, "truncated: the last frame is incomplete"));
            }
            if let Some(remaining) = &mut self.remaining {
                *remaining -= got as u64;
            }
            decode_frames(&self.buffer[..got], self.encoding, self.scale, out);
            total += got / self.bytes_per_frame;
            if got < want {
                // The end of a stream of unknown length.
                self.remaining = Some(0);
            }
        }
        Ok(total)
    }
}

/// Appends the interleaved frames in `bytes` to `out` `(nb_channels, n)` as f32 in [-1, 1).
fn decode_frames(bytes: &[u8], encoding: WavEncoding, scale: f32, out: &mut [Vec<f32>]) {
    fn each<const N: usize>(bytes: &[u8], out: &mut [Vec<f32>], f: impl Fn([u8; N]) -> f32) {
        let frame = N * out.len();
        for ch in out.iter_mut() {
            ch.reserve(bytes.len() / frame);
        }
        for chunk in bytes.chunks_exact(frame) {
            for (ch, s) in out.iter_mut().zip(chunk.chunks_exact(N)) {
                ch.push(f(s.try_into().expect("chunks_exact gives N bytes")));
            }
        }
    }
    match encoding {
        WavEncoding::U8 => each::<1>(bytes, out, |[b]| (b as i32 - 128) as f32 * scale),
        WavEncoding::I16 => each::<2>(bytes, out, |b| i16::from_le_bytes(b) as f32 * scale),
        WavEncoding::I24 => each::<3>(bytes, out, |[a, b, c]| {
            (i32::from_le_bytes([0, a, b, c]) >> 8) as f32 * scale
        }),
        WavEncoding::I24In32 => each::<4>(bytes, out, |[a, b, c, _]| {
            (i32::from_le_bytes([0, a, b, c]) >> 8) as f32 * scale
        }),
        WavEncoding::I32 => each::<4>(bytes, out, |b| i32::from_le_bytes(b) as f32 * scale),
        WavEncoding::F32 => each::<4>(bytes, out, f32::from_le_bytes),
        WavEncoding::F64 => each::<8>(bytes, out, |b| f64::from_le_bytes(b) as f32),
    }
}

/// The frame count in the `COMM` chunk (`numSampleFrames`) of an AIFF or AIFF-C file whose
/// first bytes are `head`, when `COMM` is among them.
fn aiff_frames(head: &[u8]) -> Option<u64> {
    if head.len() < 12 || &head[..4] != b"FORM" || !matches!(&head[8..12], b"AIFF" | b"AIFC") {
        return None;
    }
    let mut pos = 12;
    while pos + 8 <= head.len() {
        let size = u32::from_be_bytes(head[pos + 4..pos + 8].try_into().ok()?) as usize;
        if &head[pos..pos + 4] == b"COMM" {
            let frames = head.get(pos + 10..pos + 14)?;
            return Some(u64::from(u32::from_be_bytes(frames.try_into().ok()?)));
        }
        // Chunks are padded to an even length.
        pos = pos.checked_add(8 + size + (size & 1))?;
    }
    None
}

/// Probes `file` with symphonia; errors name `path`.
pub(super) fn probe(path: &Path, file: Box<dyn MediaSource>) -> Result<Box<dyn FormatReader>> {
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let stream = MediaSourceStream::new(file, Default::default());
    let options = FormatOptions {
        // Trims MP3 encoder delay and padding so the decoded length is the original's.
        enable_gapless: true,
        ..Default::default()
    };
    let probed = symphonia::default::get_probe()
        .format(&hint, stream, &options, &MetadataOptions::default())
        .map_err(|_| {
            Error::file(
                path,
                "not a recognised audio file (expected WAV, FLAC, MP3, Ogg Vorbis or Opus, AAC or ALAC in MP4, or AIFF)",
            )
        })?;
    Ok(probed.format)
}

/// The audio tracks of a container (those with a codec), in order.
pub(super) fn audio_tracks(format: &dyn FormatReader) -> Vec<&Track> {
    format
        .tracks()
        .iter()
        .filter(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .collect()
}

/// `(frames to drop, frames of audio)` of `track` by its MP4 edit (`edits` by track id), else
/// by Opus's pre-skip (which symphonia 0.5's Ogg reader reports but does not drop: its length
/// counts them), else `(0, the container's length)`.
pub(super) fn trimmed(
    track: &Track,
    sample_rate: u32,
    edits: &[Option<Edit>],
) -> (u64, Option<u64>) {
    let params = &track.codec_params;
    match edits.get(track.id as usize).copied().flatten() {
        Some(edit) => {
            let (skip, nb_frames) = edit.frames(sample_rate);
            (skip, Some(nb_frames))
        }
        None if params.codec == symphonia::core::codecs::CODEC_TYPE_OPUS => {
            let pre_skip = u64::from(params.delay.unwrap_or(0));
            (
                pre_skip,
                params.n_frames.map(|n| n.saturating_sub(pre_skip)),
            )
        }
        None => (0, params.n_frames),
    }
}

/// Opens audio stream `stream` of `file`, dropping the priming its MP4 edit (in `edits`)
/// names.
fn open_codec(
    path: &Path,
    file: Box<dyn MediaSource>,
    stream: usize,
    edits: &[Option<Edit>],
) -> Result<(AudioInfo, Source)> {
    let format = probe(path, file)?;
    let tracks = audio_tracks(format.as_ref());
    let track = match tracks.get(stream) {
        Some(track) => *track,
        None if tracks.is_empty() => return Err(Error::file(path, "no audio track")),
        None => {
            return Err(Error::file(
                path,
                format!(
                    "expected {} audio streams, found {}",
                    stream + 1,
                    tracks.len()
                ),
            ))
        }
    };
    let params = track.codec_params.clone();
    let track_id = track.id;
    let decoder = super::opus::codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| Error::file(path, format!("unsupported encoding: {e}")))?;
    let sample_rate = params
        .sample_rate
        .ok_or_else(|| Error::file(path, "the stream does not say its sample rate"))?;
    let (offset, nb_frames) = trimmed(track, sample_rate, edits);
    let mut source = CodecSource {
        format,
        decoder,
        track_id,
        offset,
        pending: VecDeque::new(),
        buffer: None,
        done: false,
    };
    // Some containers only tell the channel layout once the first packet is decoded.
    let nb_channels = match params.channels {
        Some(channels) => channels.count(),
        None => {
            source.decode_next(path)?;
            source
                .buffer
                .as_ref()
                .map(|_| source.decoder.last_decoded().spec().channels.count())
                .ok_or_else(|| Error::file(path, "no audio in the stream"))?
        }
    };
    source.drop_frames(path, offset, nb_channels)?;
    let info = AudioInfo {
        sample_rate,
        nb_channels,
        nb_frames,
    };
    Ok((info, Source::Codec(Box::new(source))))
}

/// The next packet of `format` (of any track), `None` at the end of the stream; errors name
/// `path`. The one place symphonia's packet errors get their meaning, for [`AudioReader`] and
/// [`super::read_streams`].
pub(super) fn next_packet(path: &Path, format: &mut dyn FormatReader) -> Result<Option<Packet>> {
    match format.next_packet() {
        Ok(packet) => Ok(Some(packet)),
        Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(SymError::ResetRequired) => {
            Err(Error::file(path, "the stream changes its format midway"))
        }
        Err(e) => Err(Error::file(path, format!("corrupt stream: {e}"))),
    }
}

/// `packet` decoded by `decoder` and copied interleaved into `buffer` (kept between calls, grown
/// when a packet needs more): the samples, or `None` for a damaged frame (skipped, as players
/// do; the length checks catch real loss) or a packet without audio.
pub(super) fn decode_interleaved<'b>(
    path: &Path,
    decoder: &mut dyn Decoder,
    packet: &Packet,
    buffer: &'b mut Option<SampleBuffer<f32>>,
) -> Result<Option<&'b [f32]>> {
    let decoded = match decoder.decode(packet) {
        Ok(decoded) => decoded,
        Err(SymError::DecodeError(_)) => return Ok(None),
        Err(e) => return Err(Error::file(path, format!("undecodable audio: {e}"))),
    };
    if decoded.frames() == 0 {
        return Ok(None);
    }
    let spec = *decoded.spec();
    let needed = decoded.frames() * spec.channels.count();
    if buffer.as_ref().is_none_or(|b| b.capacity() < needed) {
        *buffer = Some(SampleBuffer::new(decoded.capacity() as u64, spec));
    }
    let buffer = buffer.as_mut().expect("a buffer was made above");
    buffer.copy_interleaved_ref(decoded);
    Ok(Some(buffer.samples()))
}

/// Frames decoded before a seek target and dropped: two AAC packets.
const SEEK_PREROLL: u64 = 2048;

impl CodecSource {
    /// Decodes the next packet of our track into `pending`; sets `done` at the end of stream.
    fn decode_next(&mut self, path: &Path) -> Result<()> {
        loop {
            let Some(packet) = next_packet(path, self.format.as_mut())? else {
                self.done = true;
                return Ok(());
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            let decoded =
                decode_interleaved(path, self.decoder.as_mut(), &packet, &mut self.buffer)?;
            if let Some(samples) = decoded {
                self.pending.extend(samples);
                return Ok(());
            }
        }
    }

    /// Decodes and drops `nb_frames` frames (fewer at the end of the stream), those already
    /// pending first.
    fn drop_frames(&mut self, path: &Path, nb_frames: u64, nb_channels: usize) -> Result<()> {
        let mut skip = nb_frames as usize * nb_channels;
        while skip > 0 {
            if self.pending.is_empty() {
                self.decode_next(path)?;
                if self.done {
                    break;
                }
            }
            let n = skip.min(self.pending.len());
            self.pending.drain(..n);
            skip -= n;
        }
        Ok(())
    }

    /// Seeks to `frame` (of the audio, after the priming): the container to the packet holding
    /// it, then the frames before it in that packet decoded and dropped.
    fn seek(&mut self, path: &Path, frame: u64, nb_channels: usize) -> Result<()> {
        let target = frame + self.offset;
        // Transform codecs (AAC, Vorbis, MP3) need the packet before to overlap with: start
        // decoding a little earlier and drop the difference.
        let seeked = self
            .format
            .seek(
                SeekMode::Accurate,
                SeekTo::TimeStamp {
                    ts: target.saturating_sub(SEEK_PREROLL),
                    track_id: self.track_id,
                },
            )
            .map_err(|e| Error::file(path, format!("cannot seek to frame {frame}: {e}")))?;
        self.decoder.reset();
        self.pending.clear();
        self.done = false;
        self.drop_frames(path, target.saturating_sub(seeked.actual_ts), nb_channels)
    }

    fn read(&mut self, path: &Path, out: &mut [Vec<f32>], max_frames: usize) -> Result<usize> {
        let nb_channels = out.len();
        let want = max_frames * nb_channels;
        while self.pending.len() < want && !self.done {
            self.decode_next(path)?;
        }
        let take = want.min(self.pending.len() / nb_channels * nb_channels);
        for (i, s) in self.pending.drain(..take).enumerate() {
            out[i % nb_channels].push(s);
        }
        Ok(take / nb_channels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes interleaved integer samples with hound in the given container width.
    fn write_with_hound(path: &Path, bits: u16, bytes: u16, nb_channels: u16, samples: &[i32]) {
        let spec = hound::WavSpecEx {
            spec: hound::WavSpec {
                channels: nb_channels,
                sample_rate: 8000,
                bits_per_sample: bits,
                sample_format: hound::SampleFormat::Int,
            },
            bytes_per_sample: bytes,
        };
        let file = std::io::BufWriter::new(File::create(path).unwrap());
        let mut w = hound::WavWriter::new_with_spec_ex(file, spec).unwrap();
        for &s in samples {
            match bits {
                8 => w.write_sample(s as i8).unwrap(),
                16 => w.write_sample(s as i16).unwrap(),
                _ => w.write_sample(s).unwrap(),
            }
        }
        w.finalize().unwrap();
    }

    #[test]
    fn bulk_decoding_matches_hound_sample_by_sample() {
        let dir = tempfile::tempdir().unwrap();
        // Longer than one bulk read, and not a multiple of it.
        let nb_frames = WAV_READ_FRAMES + 1234;
        for (bits, bytes) in [(8u16, 1u16), (16, 2), (24, 3), (24, 4), (32, 4)] {
            for nb_channels in [1u16, 3] {
                let full = 1i64 << (bits - 1);
                let samples: Vec<i32> = (0..nb_frames * nb_channels as usize)
                    .map(|i| ((i as i64 * 7919) % (2 * full) - full) as i32)
                    .collect();
                let path = dir.path().join(format!("{bits}_{bytes}_{nb_channels}.wav"));
                write_with_hound(&path, bits, bytes, nb_channels, &samples);
                let expected: Vec<f32> = hound::WavReader::open(&path)
                    .unwrap()
                    .samples::<i32>()
                    .map(|s| s.unwrap() as f32 / full as f32)
                    .collect();
                let mut reader = AudioReader::open(&path).unwrap();
                assert_eq!(reader.info().nb_frames, Some(nb_frames as u64));
                // Odd block sizes exercise the bulk reads' boundaries.
                let mut got = vec![Vec::new(); nb_channels as usize];
                loop {
                    let block = reader.read(5000).unwrap();
                    if block[0].is_empty() {
                        break;
                    }
                    for (all, part) in got.iter_mut().zip(block) {
                        all.extend(part);
                    }
                }
                for (i, want) in expected.iter().enumerate() {
                    let c = i % nb_channels as usize;
                    assert_eq!(
                        got[c][i / nb_channels as usize],
                        *want,
                        "{bits}/{bytes} #{i}"
                    );
                }
            }
        }
    }
}
