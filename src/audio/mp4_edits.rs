//! Gapless playback of AAC in MP4: the edit list (`moov/trak/edts/elst`) of each track says how
//! many priming frames the encoder put before the audio (1024 for ffmpeg's AAC encoder, 2112
//! for Apple's) and how long the audio is, which drops the padding at the end too. symphonia
//! 0.5 does not apply edit lists, so [`read_edits`] reads them from the file.

use std::io::{Read, Seek, SeekFrom};

/// The audio of one track, in units of its `timescale` (ticks per second): `skip` ticks of
/// priming to drop, then `duration` ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit {
    pub skip: u64,
    pub duration: u64,
    pub timescale: u64,
}

impl Edit {
    /// `(frames to drop, frames to keep)` at `sample_rate`.
    pub fn frames(&self, sample_rate: u32) -> (u64, u64) {
        let to_frames =
            |t: u64| (t as u128 * sample_rate as u128 / self.timescale.max(1) as u128) as u64;
        (to_frames(self.skip), to_frames(self.duration))
    }
}

/// The largest `moov` box read (the sample tables of hours of audio fit in it).
const MAX_MOOV: u64 = 64 << 20;

/// One edit per track of an MP4 file, in the order of its `trak` boxes (symphonia's track ids);
/// `None` for a track without an edit list that skips priming. An empty list when the file is
/// not MP4 or its boxes cannot be walked (then the stream is read as symphonia delivers it).
pub fn read_edits(file: &mut (impl Read + Seek)) -> Vec<Option<Edit>> {
    let moov = find_moov(file).ok().flatten();
    moov.map(|moov| {
        let movie_scale = child(&moov, b"mvhd").and_then(timescale).unwrap_or(0);
        children(&moov)
            .filter(|(kind, _)| kind == b"trak")
            .map(|(_, trak)| track_edit(trak, movie_scale))
            .collect()
    })
    .unwrap_or_default()
}

/// The payload of the top-level `moov` box, boxes before it skipped by seeking.
fn find_moov(file: &mut (impl Read + Seek)) -> std::io::Result<Option<Vec<u8>>> {
    file.seek(SeekFrom::Start(0))?;
    let mut pos = 0u64;
    loop {
        let mut header = [0u8; 8];
        if file.read_exact(&mut header).is_err() {
            return Ok(None);
        }
        let mut size = u64::from(u32::from_be_bytes(header[..4].try_into().unwrap()));
        let mut header_len = 8;
        if size == 1 {
            let mut large = [0u8; 8];
            file.read_exact(&mut large)?;
            size = u64::from_be_bytes(large);
            header_len = 16;
        }
        if pos == 0 && &header[4..] != b"ftyp" {
            return Ok(None);
        }
        if &header[4..] == b"moov" {
            let len = if size == 0 {
                MAX_MOOV
            } else {
                size - header_len
            };
            if len > MAX_MOOV {
                return Ok(None);
            }
            let mut payload = Vec::new();
            file.take(len).read_to_end(&mut payload)?;
            return Ok(Some(payload));
        }
        if size < header_len {
            return Ok(None);
        }
        pos += size;
        file.seek(SeekFrom::Start(pos))?;
    }
}

/// The child boxes of a box payload as `(type, payload)`; stops at a malformed size.
fn children(payload: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut rest = payload;
    std::iter::from_fn(move || {
        if rest.len() < 8 {
            return None;
        }
        let size = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = rest[4..8].try_into().unwrap();
        let (header, size) = match size {
            0 => (8, rest.len()),
            1 => {
                let large = u64::from_be_bytes(rest.get(8..16)?.try_into().unwrap());
                (16, usize::try_from(large).ok()?)
            }
            n => (8, n),
        };
        if size < header || size > rest.len() {
            return None;
        }
        let body = &rest[header..size];
        rest = &rest[size..];
        Some((kind, body))
    })
}

fn child<'a>(payload: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(payload).find(|(k, _)| k == kind).map(|(_, b)| b)
}

fn be_u32(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(u32::from_be_bytes(
        b.get(at..at + 4)?.try_into().ok()?,
    )))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The timescale of an `mvhd` or `mdhd` payload (after the version and creation and
/// modification times, 4 or 8 bytes each by version).
fn timescale(payload: &[u8]) -> Option<u64> {
    match payload.first()? {
        0 => be_u32(payload, 12),
        1 => be_u32(payload, 20),
        _ => None,
    }
}

/// The first edit of a track that plays media (`media_time >= 0`), with its duration converted
/// from the movie's timescale to the track's.
fn track_edit(trak: &[u8], movie_scale: u64) -> Option<Edit> {
    let media_scale = child(child(trak, b"mdia")?, b"mdhd").and_then(timescale)?;
    let elst = child(child(trak, b"edts")?, b"elst")?;
    let version = *elst.first()?;
    let count = be_u32(elst, 4)? as usize;
    let entry_len = if version == 1 { 20 } else { 12 };
    (0..count.min(elst.len() / entry_len)).find_map(|i| {
        let at = 8 + i * entry_len;
        let (duration, media_time) = if version == 1 {
            (be_u64(elst, at)?, be_u64(elst, at + 8)? as i64)
        } else {
            (
                be_u32(elst, at)?,
                be_u32(elst, at + 4)? as u32 as i32 as i64,
            )
        };
        // An empty edit (-1) delays the track; a zero duration means "to the end".
        if media_time < 0 || duration == 0 || movie_scale == 0 || media_scale == 0 {
            return None;
        }
        Some(Edit {
            skip: media_time as u64,
            duration: (duration as u128 * media_scale as u128 / movie_scale as u128) as u64,
            timescale: media_scale,
        })
    })
}
