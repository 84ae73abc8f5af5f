//! RIFF/WAVE headers. Reading: a chunk walk over a stream (no seeking, so it also reads a pipe)
//! that refuses truncated files and lying headers up front with a precise message, and knows
//! WAVE_FORMAT_EXTENSIBLE, RF64 (the ds64 chunk) and the "size unknown" data lengths that
//! streaming writers leave (0 or 0xFFFFFFFF, as ffmpeg and sox write to a pipe). Writing: the
//! header of a PCM or float file, as hound writes it.

use super::format::SampleFormat;
use std::io::Read;

/// WAVE_FORMAT_PCM.
pub(crate) const TAG_PCM: u16 = 1;
/// WAVE_FORMAT_IEEE_FLOAT.
pub(crate) const TAG_FLOAT: u16 = 3;
const TAG_EXTENSIBLE: u16 = 0xFFFE;
/// The GUID tail of KSDATAFORMAT_SUBTYPE_PCM and _IEEE_FLOAT (their first two bytes are the tag).
const SUBTYPE_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
];

/// The data size sox writes on a pipe, where it cannot come back to fill it in.
const SOX_STREAM_LEN: u64 = 0x7FFF_F000;

/// What the chunk walk learned from a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WavHeader {
    /// [`TAG_PCM`], [`TAG_FLOAT`] or another WAVE format tag (from the sub-format when
    /// extensible).
    pub format_tag: u16,
    pub nb_channels: u16,
    pub sample_rate: u32,
    /// The sample container's bits (`wBitsPerSample`).
    pub container_bits: u16,
    /// The valid bits of each sample (`wValidBitsPerSample` when extensible).
    pub valid_bits: u16,
    pub block_align: u16,
    /// Where the samples start.
    pub data_offset: u64,
    /// Bytes of samples; `None` when the header does not say (a stream: read to its end).
    pub data_len: Option<u64>,
}

fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
}

/// Reads a RIFF/WAVE (or RF64) header from `reader` up to the first sample, leaving the reader
/// there. `file_len` is the length of a regular file (`None` for a pipe): with it, lengths
/// that run past the end are refused, and a data chunk of unknown size is the rest of the file.
pub(crate) fn read_wav_header<R: Read>(
    reader: &mut R,
    file_len: Option<u64>,
) -> Result<WavHeader, String> {
    let mut head = [0u8; 12];
    reader.read_exact(&mut head).map_err(|_| match file_len {
        Some(n) => format!("truncated WAV header ({n} bytes)"),
        None => "truncated WAV header".to_string(),
    })?;
    let rf64 = match &head[0..4] {
        b"RIFF" => false,
        b"RF64" | b"BW64" => true,
        _ => return Err("not a WAV file (no RIFF/WAVE header)".into()),
    };
    if &head[8..12] != b"WAVE" {
        return Err("not a WAV file (no RIFF/WAVE header)".into());
    }
    let mut pos = 12u64;
    let mut ds64_data_len = None;
    let mut fmt: Option<WavHeader> = None;
    loop {
        let mut chunk = [0u8; 8];
        if reader.read_exact(&mut chunk).is_err() {
            return Err(if fmt.is_some() {
                "truncated: no data chunk".into()
            } else {
                "truncated: no fmt chunk".into()
            });
        }
        let id = &chunk[0..4];
        let len = le32(&chunk[4..8]) as u64;
        pos += 8;
        if id == b"data" {
            let Some(mut header) = fmt else {
                return Err("data chunk before fmt chunk".into());
            };
            let available = file_len.map(|n| n.saturating_sub(pos));
            // ffmpeg leaves 0xFFFFFFFF (or 0) on a pipe, sox 0x7FFFF000: "as long as it goes".
            let unknown =
                len == 0 || len == u32::MAX as u64 || (file_len.is_none() && len == SOX_STREAM_LEN);
            let len = match (rf64 && len == u32::MAX as u64, ds64_data_len) {
                (true, Some(n)) => Some(n),
                _ if unknown => None,
                _ => Some(len),
            };
            header.data_offset = pos;
            header.data_len = match (len, available) {
                (Some(len), Some(available)) if len > available => {
                    return Err(format!(
                        "truncated: the header announces {len} bytes of samples, the file holds {available}"
                    ))
                }
                (Some(len), _) => Some(len),
                (None, available) => available,
            };
            return Ok(header);
        }
        // Chunks are padded to an even size.
        let padded = len + (len & 1);
        if let Some(file_len) = file_len {
            if pos + padded > file_len {
                return Err(format!(
                    "truncated: chunk {:?} runs past the end of the file",
                    String::from_utf8_lossy(id)
                ));
            }
        }
        let mut body = Vec::new();
        let keep = if id == b"fmt " || id == b"ds64" {
            padded.min(1 << 16)
        } else {
            0
        };
        reader
            .by_ref()
            .take(keep)
            .read_to_end(&mut body)
            .map_err(|e| format!("unreadable: {e}"))?;
        let skipped = std::io::copy(
            &mut reader.by_ref().take(padded - keep),
            &mut std::io::sink(),
        )
        .map_err(|e| format!("unreadable: {e}"))?;
        if body.len() as u64 + skipped < padded {
            return Err(format!(
                "truncated: chunk {:?} runs past the end of the stream",
                String::from_utf8_lossy(id)
            ));
        }
        pos += padded;
        if id == b"fmt " {
            fmt = Some(parse_fmt(&body[..len.min(body.len() as u64) as usize])?);
        } else if id == b"ds64" {
            if body.len() < 24 {
                return Err("truncated ds64 chunk".into());
            }
            ds64_data_len = Some(le64(&body[8..16]));
        }
    }
}

fn parse_fmt(body: &[u8]) -> Result<WavHeader, String> {
    if body.len() < 16 {
        return Err("truncated fmt chunk".into());
    }
    let mut format_tag = le16(&body[0..2]);
    let container_bits = le16(&body[14..16]);
    let mut valid_bits = container_bits;
    if format_tag == TAG_EXTENSIBLE {
        if body.len() < 40 {
            return Err("truncated fmt chunk (WAVE_FORMAT_EXTENSIBLE)".into());
        }
        let valid = le16(&body[18..20]);
        if valid != 0 {
            valid_bits = valid;
        }
        if body[26..40] != SUBTYPE_TAIL {
            return Err("unsupported WAV sub-format".into());
        }
        format_tag = le16(&body[24..26]);
    }
    Ok(WavHeader {
        format_tag,
        nb_channels: le16(&body[2..4]),
        sample_rate: le32(&body[4..8]),
        container_bits,
        valid_bits,
        block_align: le16(&body[12..14]),
        data_offset: 0,
        data_len: None,
    })
}

/// The header of a WAV file of `nb_channels` at `sample_rate` in `sample`, byte for byte as
/// hound writes it (a 16-byte PCMWAVEFORMAT for 16-bit mono and stereo, WAVE_FORMAT_EXTENSIBLE
/// otherwise), with `data_len` bytes of samples: `None` leaves 0 (filled in at the end),
/// `Some(u32::MAX)` is the "to the end of the stream" of streaming writers.
pub(crate) fn wav_header(
    sample_rate: u32,
    nb_channels: u16,
    sample: SampleFormat,
    data_len: Option<u32>,
) -> Vec<u8> {
    let bytes = sample.bytes() as u16;
    let bits = sample.bits();
    let tag = if sample == SampleFormat::Float32 {
        TAG_FLOAT
    } else {
        TAG_PCM
    };
    let extensible = nb_channels > 2 || bits > 16;
    let mut fmt = Vec::with_capacity(40);
    fmt.extend_from_slice(&(if extensible { TAG_EXTENSIBLE } else { tag }).to_le_bytes());
    fmt.extend_from_slice(&nb_channels.to_le_bytes());
    fmt.extend_from_slice(&sample_rate.to_le_bytes());
    let block_align = bytes * nb_channels;
    fmt.extend_from_slice(&(sample_rate * block_align as u32).to_le_bytes());
    fmt.extend_from_slice(&block_align.to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    if extensible {
        fmt.extend_from_slice(&22u16.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        let mask = (0..nb_channels.min(18) as u32).fold(0u32, |m, c| m | 1 << c);
        fmt.extend_from_slice(&mask.to_le_bytes());
        fmt.extend_from_slice(&tag.to_le_bytes());
        fmt.extend_from_slice(&SUBTYPE_TAIL);
    }
    let data_len = data_len.unwrap_or(0);
    let riff_len = if data_len == u32::MAX {
        u32::MAX
    } else {
        data_len.saturating_add(4 + 8 + fmt.len() as u32 + 8)
    };
    let mut head = Vec::with_capacity(12 + 8 + fmt.len() + 8);
    head.extend_from_slice(b"RIFF");
    head.extend_from_slice(&riff_len.to_le_bytes());
    head.extend_from_slice(b"WAVE");
    head.extend_from_slice(b"fmt ");
    head.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    head.extend_from_slice(&fmt);
    head.extend_from_slice(b"data");
    head.extend_from_slice(&data_len.to_le_bytes());
    head
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::SampleFormat;
    use std::io::Cursor;

    fn wav_bytes(data_claim: u32, data_len: usize) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(b"RIFF");
        v.extend_from_slice(&(36 + data_claim).to_le_bytes());
        v.extend_from_slice(b"WAVE");
        v.extend_from_slice(b"fmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&[1, 0, 1, 0]);
        v.extend_from_slice(&8000u32.to_le_bytes());
        v.extend_from_slice(&16000u32.to_le_bytes());
        v.extend_from_slice(&[2, 0, 16, 0]);
        v.extend_from_slice(b"data");
        v.extend_from_slice(&data_claim.to_le_bytes());
        v.extend(std::iter::repeat_n(0u8, data_len));
        v
    }

    #[test]
    fn finds_complete_data() {
        let bytes = wav_bytes(100, 100);
        let n = bytes.len() as u64;
        let header = read_wav_header(&mut Cursor::new(bytes), Some(n)).unwrap();
        assert_eq!(
            (header.data_offset, header.data_len, header.block_align),
            (44, Some(100), 2)
        );
    }

    #[test]
    fn refuses_short_data() {
        let bytes = wav_bytes(1000, 100);
        let n = bytes.len() as u64;
        let err = read_wav_header(&mut Cursor::new(bytes), Some(n)).unwrap_err();
        assert!(err.contains("1000") && err.contains("100"), "{err}");
    }

    /// A pipe from ffmpeg or sox says 0 or 0xFFFFFFFF: the samples run to the end.
    #[test]
    fn unknown_sizes_run_to_the_end() {
        for claim in [0, u32::MAX, 0x7FFF_F000] {
            let bytes = wav_bytes(claim, 100);
            let n = bytes.len() as u64;
            let header = read_wav_header(&mut Cursor::new(bytes.clone()), None).unwrap();
            assert_eq!(header.data_len, None, "{claim}");
            if claim != 0x7FFF_F000 {
                let header = read_wav_header(&mut Cursor::new(bytes), Some(n)).unwrap();
                assert_eq!(header.data_len, Some(100), "{claim}");
            }
        }
    }

    /// The header written is hound's, byte for byte.
    #[test]
    fn headers_match_hound() {
        for (sample, bits, float) in [
            (SampleFormat::Pcm16, 16, false),
            (SampleFormat::Pcm24, 24, false),
            (SampleFormat::Float32, 32, true),
        ] {
            for nb_channels in [1u16, 2, 3] {
                let mut bytes = Vec::new();
                let spec = hound::WavSpec {
                    channels: nb_channels,
                    sample_rate: 44100,
                    bits_per_sample: bits,
                    sample_format: if float {
                        hound::SampleFormat::Float
                    } else {
                        hound::SampleFormat::Int
                    },
                };
                let mut w = hound::WavWriter::new(Cursor::new(&mut bytes), spec).unwrap();
                for _ in 0..nb_channels {
                    if float {
                        w.write_sample(0.5f32).unwrap();
                    } else {
                        w.write_sample(7i32).unwrap();
                    }
                }
                w.finalize().unwrap();
                let data = (nb_channels as u32) * sample.bytes() as u32;
                let head = wav_header(44100, nb_channels, sample, Some(data));
                assert_eq!(head[..], bytes[..head.len()], "{sample:?} x{nb_channels}");
                let parsed = read_wav_header(&mut Cursor::new(&bytes), None).unwrap();
                assert_eq!(parsed.format_tag, if float { TAG_FLOAT } else { TAG_PCM });
                assert_eq!(parsed.valid_bits, bits);
            }
        }
    }

    #[test]
    fn refuses_text() {
        let bytes = b"hello, this is not audio at all".to_vec();
        let n = bytes.len() as u64;
        let err = read_wav_header(&mut Cursor::new(bytes), Some(n)).unwrap_err();
        assert!(err.contains("not a WAV"), "{err}");
    }
}
