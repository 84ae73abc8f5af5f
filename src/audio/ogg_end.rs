//! The end of an Ogg stream read front to back (standard input, a FIFO). symphonia 0.5 learns an
//! Ogg file's length by seeking to its last page; a stream cannot seek, so its last packet
//! would be handed out whole, with the encoder's padding (hundreds of frames too many). This
//! reader passes the bytes through unchanged and notes the granule position of every page of
//! the first logical stream as it goes by, so that once the page marked end-of-stream has been
//! read, its granule position says where the audio ends.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// What the watch has seen: the final granule position once the end-of-stream page of the
/// first logical stream has gone by.
#[derive(Debug, Clone, Default)]
pub struct OggEnd(Arc<AtomicU64>);

/// No end-of-stream page seen (yet).
const UNKNOWN: u64 = u64::MAX;

impl OggEnd {
    /// The granule position of the end-of-stream page (the frame count at the end of the
    /// stream, pre-skip included), once it has been read.
    pub fn final_granule(&self) -> Option<u64> {
        match self.0.load(Ordering::Acquire) {
            UNKNOWN => None,
            granule => Some(granule),
        }
    }
}

/// A reader that hands out `inner`'s bytes unchanged while parsing the Ogg page headers in
/// them. Anything that does not parse as Ogg pages stops the watch (nothing is learnt).
pub struct OggPageWatch<R> {
    inner: R,
    end: OggEnd,
    /// The header of the page being read (27 bytes, then its segment table).
    header: Vec<u8>,
    /// Body bytes of the current page still to pass.
    body_left: usize,
    /// The serial number of the first logical stream.
    serial: Option<u32>,
    broken: bool,
}

/// The fixed part of a page header: capture pattern, version, flags, granule position (8),
/// serial (4), sequence (4), CRC (4), segment count.
const FIXED: usize = 27;
const END_OF_STREAM: u8 = 0x04;

impl<R: Read> OggPageWatch<R> {
    pub fn new(inner: R) -> Self {
        let end = OggEnd(Arc::new(AtomicU64::new(UNKNOWN)));
        OggPageWatch {
            inner,
            end,
            header: Vec::with_capacity(FIXED + 255),
            body_left: 0,
            serial: None,
            broken: false,
        }
    }

    /// The handle through which the end is learnt.
    pub fn end(&self) -> OggEnd {
        self.end.clone()
    }

    fn watch(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.broken {
            if self.body_left > 0 {
                let n = self.body_left.min(bytes.len());
                self.body_left -= n;
                bytes = &bytes[n..];
                continue;
            }
            let wanted = if self.header.len() < FIXED {
                FIXED
            } else {
                FIXED + self.header[26] as usize
            };
            let n = (wanted - self.header.len()).min(bytes.len());
            self.header.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.header.len() == FIXED && &self.header[..4] != b"OggS" {
                self.broken = true;
            } else if self.header.len() >= FIXED
                && self.header.len() == FIXED + self.header[26] as usize
            {
                self.page_done();
            }
        }
    }

    /// Notes the page whose header (segment table included) is complete, and starts on its
    /// body.
    fn page_done(&mut self) {
        let table_len = self.header[26] as usize;
        let h = &self.header;
        let flags = h[5];
        let granule = u64::from_le_bytes(h[6..14].try_into().expect("8 bytes"));
        let serial = u32::from_le_bytes(h[14..18].try_into().expect("4 bytes"));
        let first = *self.serial.get_or_insert(serial);
        // A page that ends no packet has granule position -1.
        if serial == first && flags & END_OF_STREAM != 0 && granule != u64::MAX {
            self.end.0.store(granule, Ordering::Release);
        }
        self.body_left = h[FIXED..FIXED + table_len]
            .iter()
            .map(|&s| s as usize)
            .sum();
        self.header.clear();
    }
}

impl<R: Read> Read for OggPageWatch<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.watch(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page: flags, granule position, serial and body.
    fn page(flags: u8, granule: u64, serial: u32, body: &[u8]) -> Vec<u8> {
        let mut p = b"OggS".to_vec();
        p.extend([0, flags]);
        p.extend(granule.to_le_bytes());
        p.extend(serial.to_le_bytes());
        p.extend([0; 8]);
        let mut segments = vec![255u8; body.len() / 255];
        segments.push((body.len() % 255) as u8);
        p.push(segments.len() as u8);
        p.extend(segments);
        p.extend(body);
        p
    }

    fn read_through(bytes: &[u8], chunk: usize) -> (Vec<u8>, Option<u64>) {
        let mut watch = OggPageWatch::new(bytes);
        let end = watch.end();
        let mut out = Vec::new();
        let mut buf = vec![0; chunk];
        loop {
            let n = watch.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        (out, end.final_granule())
    }

    #[test]
    fn the_end_of_stream_page_gives_the_final_granule_in_any_chunking() {
        let mut stream = page(0x02, 0, 7, b"head");
        stream.extend(page(0, 960, 7, &[1; 300]));
        stream.extend(page(0, 5000, 9, &[2; 10])); // another logical stream
        stream.extend(page(END_OF_STREAM, 1234, 7, &[3; 600]));
        for chunk in [1, 5, 27, 64, 4096] {
            let (out, end) = read_through(&stream, chunk);
            assert_eq!(out, stream, "chunk {chunk}: bytes pass unchanged");
            assert_eq!(end, Some(1234), "chunk {chunk}");
        }
    }

    #[test]
    fn no_end_page_or_not_ogg_tells_nothing() {
        let stream = page(0, 960, 7, &[1; 20]);
        assert_eq!(read_through(&stream, 16).1, None);
        let mut bad = b"RIFF".to_vec();
        bad.extend([0; 200]);
        bad.extend(page(END_OF_STREAM, 10, 1, &[0; 4]));
        assert_eq!(read_through(&bad, 16).1, None);
    }
}
