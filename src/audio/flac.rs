//! Streaming FLAC encoding with flacenc (pure Rust): a block of frames is encoded and written as
//! soon as it is full, so memory stays flat whatever the length. The STREAMINFO header is
//! written first with the length and MD5 unknown (zero, which the format allows for streams)
//! and completed at the end when the output can be sought back into.

use flacenc::bitsink::ByteSink;
use flacenc::component::{BitRepr, Stream, StreamInfo};
use flacenc::config;
use flacenc::error::{Verified, Verify};
use flacenc::source::{Context, Fill, FrameBuf};

/// Frames per FLAC block (the reference encoder's default at its usual levels).
const BLOCK_SIZE: usize = 4096;

/// A FLAC stream being encoded.
pub(crate) struct FlacEncoder {
    config: Verified<config::Encoder>,
    info: StreamInfo,
    buffer: (FrameBuf, Context),
    nb_channels: usize,
    /// Interleaved samples not yet making a whole block.
    pending: Vec<i32>,
}

impl FlacEncoder {
    /// An encoder of `nb_channels` (1 to 8) of `bits` (16 or 24) at `sample_rate`.
    pub fn new(sample_rate: u32, nb_channels: usize, bits: usize) -> Result<Self, String> {
        let mut info = StreamInfo::new(sample_rate as usize, nb_channels, bits)
            .map_err(|e| format!("FLAC cannot hold this stream: {e}"))?;
        info.set_block_sizes(BLOCK_SIZE, BLOCK_SIZE)
            .map_err(|e| e.to_string())?;
        let mut encoder = config::Encoder::default();
        encoder.multithread = false;
        let config = encoder
            .into_verified()
            .map_err(|(_, e)| format!("FLAC encoder settings: {e}"))?;
        let frames = FrameBuf::with_size(nb_channels, BLOCK_SIZE)
            .map_err(|e| format!("FLAC cannot hold this stream: {e}"))?;
        Ok(FlacEncoder {
            config,
            info,
            buffer: (frames, Context::new(bits, nb_channels)),
            nb_channels,
            pending: Vec::with_capacity(BLOCK_SIZE * nb_channels),
        })
    }

    /// `fLaC` and the STREAMINFO block as they stand (the same length before and after
    /// [`FlacEncoder::finish`], so the finished header can overwrite the first).
    pub fn header(&self) -> Vec<u8> {
        let mut info = self.info.clone();
        if info.min_frame_size() > info.max_frame_size() {
            // No frame yet: the frame sizes are unknown, which FLAC writes as 0.
            info.set_frame_sizes(0, 0).expect("0 <= 0");
        }
        let stream = Stream::with_stream_info(info);
        let mut sink = ByteSink::new();
        stream
            .write(&mut sink)
            .expect("writing to memory cannot fail");
        sink.into_inner()
    }

    /// Adds interleaved samples (within the bit depth); returns the bytes of every block
    /// completed.
    pub fn push(&mut self, interleaved: &[i32]) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let block = BLOCK_SIZE * self.nb_channels;
        let mut rest = interleaved;
        while !rest.is_empty() {
            let take = (block - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == block {
                self.encode_pending(&mut out)?;
            }
        }
        Ok(out)
    }

    /// Encodes what is left; returns its bytes. The header ([`FlacEncoder::header`]) now holds
    /// the length, the frame sizes and the MD5 of the samples.
    pub fn finish(&mut self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        if !self.pending.is_empty() {
            self.encode_pending(&mut out)?;
        }
        let (_, context) = &self.buffer;
        self.info.set_md5_digest(&context.md5_digest());
        self.info.set_total_samples(context.total_samples());
        Ok(out)
    }

    fn encode_pending(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        self.buffer
            .fill_interleaved(&self.pending)
            .map_err(|e| e.to_string())?;
        self.pending.clear();
        let number = self
            .buffer
            .1
            .current_frame_number()
            .expect("a block was just filled");
        let frame =
            flacenc::encode_fixed_size_frame(&self.config, &self.buffer.0, number, &self.info)
                .map_err(|e| e.to_string())?;
        self.info.update_frame_info(&frame);
        // A fixed-blocksize stream: the minimum excludes the last, shorter block (decoders
        // such as symphonia take min != max for a variable-blocksize stream).
        self.info
            .set_block_sizes(BLOCK_SIZE, BLOCK_SIZE)
            .map_err(|e| e.to_string())?;
        let mut sink = ByteSink::new();
        frame.write(&mut sink).map_err(|e| e.to_string())?;
        out.extend_from_slice(sink.as_slice());
        Ok(())
    }
}
