//! A RIFF/WAVE chunk walk that runs before hound decodes, so that truncated files and lying
//! headers are refused up front with a precise message instead of failing mid-stream.

use std::io::{Read, Seek, SeekFrom};

/// What the chunk walk learned: where the sample data starts, how many bytes it holds, and the
/// bytes per frame that the fmt chunk declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DataChunk {
    pub offset: u64,
    pub len: u64,
    pub block_align: u16,
}

/// Walks the chunks of a RIFF/WAVE stream of `file_len` bytes. Returns the data chunk, or the
/// reason the file cannot be a complete WAV file.
pub(crate) fn find_data_chunk<R: Read + Seek>(
    reader: &mut R,
    file_len: u64,
) -> Result<DataChunk, String> {
    let mut head = [0u8; 12];
    reader
        .read_exact(&mut head)
        .map_err(|_| format!("truncated WAV header ({file_len} bytes)"))?;
    if &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err("not a WAV file (no RIFF/WAVE header)".into());
    }
    let mut pos = 12u64;
    let mut block_align = None;
    loop {
        let mut chunk = [0u8; 8];
        if reader.read_exact(&mut chunk).is_err() {
            return Err(if block_align.is_some() {
                "truncated: no data chunk".into()
            } else {
                "truncated: no fmt chunk".into()
            });
        }
        let id = &chunk[0..4];
        let len = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]) as u64;
        pos += 8;
        if id == b"data" {
            let Some(block_align) = block_align else {
                return Err("data chunk before fmt chunk".into());
            };
            let available = file_len.saturating_sub(pos);
            // 0xFFFFFFFF is what streaming writers leave when they never came back to the header.
            if len > available && len != u32::MAX as u64 {
                return Err(format!(
                    "truncated: the header announces {len} bytes of samples, the file holds {available}"
                ));
            }
            return Ok(DataChunk {
                offset: pos,
                len: len.min(available),
                block_align,
            });
        }
        if id == b"fmt " {
            // format tag, channels, rate, byte rate, then the block align.
            let mut fmt = [0u8; 14];
            if len < 14 || reader.read_exact(&mut fmt).is_err() {
                return Err("truncated fmt chunk".into());
            }
            block_align = Some(u16::from_le_bytes([fmt[12], fmt[13]]));
        }
        // Chunks are padded to an even size.
        let next = pos + len + (len & 1);
        if next > file_len {
            return Err(format!(
                "truncated: chunk {:?} runs past the end of the file",
                String::from_utf8_lossy(id)
            ));
        }
        reader
            .seek(SeekFrom::Start(next))
            .map_err(|e| format!("unreadable: {e}"))?;
        pos = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let chunk = find_data_chunk(&mut Cursor::new(bytes), n).unwrap();
        assert_eq!(
            chunk,
            DataChunk {
                offset: 44,
                len: 100,
                block_align: 2
            }
        );
    }

    #[test]
    fn refuses_short_data() {
        let bytes = wav_bytes(1000, 100);
        let n = bytes.len() as u64;
        let err = find_data_chunk(&mut Cursor::new(bytes), n).unwrap_err();
        assert!(err.contains("1000") && err.contains("100"), "{err}");
    }

    #[test]
    fn refuses_text() {
        let bytes = b"hello, this is not audio at all".to_vec();
        let n = bytes.len() as u64;
        let err = find_data_chunk(&mut Cursor::new(bytes), n).unwrap_err();
        assert!(err.contains("not a WAV"), "{err}");
    }
}
