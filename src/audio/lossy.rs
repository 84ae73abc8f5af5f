//! Lossy outputs: MP3 (LAME, through mp3lame-encoder) and Ogg Vorbis (libvorbis, through
//! vorbis_rs), both from bundled C sources. Each takes planar float blocks within full scale
//! (the writer has clamped or rescaled them) and returns the bytes completed so far, so that a
//! stream gets them as they come.

use mp3lame_encoder::{Bitrate, DualPcm, FlushGap, MonoPcm};
use std::io::Write;
use std::num::{NonZeroU32, NonZeroU8};
use std::sync::{Arc, Mutex};
use vorbis_rs::{VorbisBitrateManagementStrategy, VorbisEncoder, VorbisEncoderBuilder};

/// The MP3 bit rate without `--bitrate`, in kbit/s: MPEG-1's highest, constant. CBR because a
/// stream (a pipe, standard output) cannot be given the Xing/LAME header that a player needs
/// to know a VBR file's duration or to seek in it, and the highest rate because the output is
/// often processed further (mixed, re-encoded): the codec should add as little as it can.
pub const MP3_DEFAULT_KBPS: u32 = 320;

/// The bit rates MP3 offers (mp3lame-encoder's list: MPEG-1 adds 56 and MPEG-2 144, which it
/// lacks), in kbit/s.
pub const MP3_KBPS: [u32; 16] = [
    8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];

/// The sample rates MP3 holds (MPEG-1, 2 and 2.5), in Hz.
pub const MP3_RATES: [u32; 9] = [
    8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000,
];

/// The highest bit rate of MPEG-2 and 2.5 (sample rates below 32 kHz), in kbit/s.
const MPEG2_MAX_KBPS: u32 = 160;

/// The Vorbis quality without `--bitrate` (libvorbis's scale, -0.1 to 1; 0.8 is `oggenc -q 8`,
/// about 256 kbit/s for stereo at 44.1 kHz): as for MP3, well above transparency, so the codec
/// adds as little as it can to what the separation left.
pub const VORBIS_DEFAULT_QUALITY: f32 = 0.8;

/// Checks that MP3 can hold `sample_rate` Hz and `nb_channels` channels at `kbps` (one of
/// [`MP3_KBPS`]); the message says what is accepted.
pub(crate) fn check_mp3(sample_rate: u32, nb_channels: usize, kbps: u32) -> Result<(), String> {
    if !MP3_RATES.contains(&sample_rate) {
        return Err(format!(
            "MP3 cannot hold {sample_rate} Hz (it holds 8, 11.025, 12, 16, 22.05, 24, 32, 44.1 \
             and 48 kHz): write .flac or .wav, or .ogg"
        ));
    }
    if !(1..=2).contains(&nb_channels) {
        return Err(format!(
            "MP3 holds 1 or 2 channels, not {nb_channels}: write .flac, .wav or .ogg"
        ));
    }
    if !MP3_KBPS.contains(&kbps) {
        return Err(format!(
            "MP3 bit rate {kbps} kbit/s: expected one of {}",
            MP3_KBPS.map(|k| k.to_string()).join(", ")
        ));
    }
    Ok(())
}

/// An MP3 stream being encoded by LAME.
pub(crate) struct Mp3Encoder {
    lame: mp3lame_encoder::Encoder,
    nb_channels: usize,
    out: Vec<u8>,
}

impl Mp3Encoder {
    /// An encoder of `nb_channels` (1 or 2) at `sample_rate` (one of [`MP3_RATES`]), constant
    /// `kbps` (one of [`MP3_KBPS`]; capped at 160 below 32 kHz, MPEG-2's highest). With
    /// `tag`, the first frame is LAME's Xing/Info frame, to be completed at the end with
    /// [`Mp3Encoder::tag`] (it tells decoders the encoder delay and padding, so the decoded
    /// length is the original's); without it (a stream, which cannot be sought back into) the
    /// decoded audio starts with LAME's delay (1105 frames of near-silence) and ends padded.
    pub fn new(sample_rate: u32, nb_channels: usize, kbps: u32, tag: bool) -> Result<Self, String> {
        check_mp3(sample_rate, nb_channels, kbps)?;
        let kbps = if sample_rate < 32_000 {
            kbps.min(MPEG2_MAX_KBPS)
        } else {
            kbps
        };
        let bitrate = match kbps {
            8 => Bitrate::Kbps8,
            16 => Bitrate::Kbps16,
            24 => Bitrate::Kbps24,
            32 => Bitrate::Kbps32,
            40 => Bitrate::Kbps40,
            48 => Bitrate::Kbps48,
            64 => Bitrate::Kbps64,
            80 => Bitrate::Kbps80,
            96 => Bitrate::Kbps96,
            112 => Bitrate::Kbps112,
            128 => Bitrate::Kbps128,
            160 => Bitrate::Kbps160,
            192 => Bitrate::Kbps192,
            224 => Bitrate::Kbps224,
            256 => Bitrate::Kbps256,
            _ => Bitrate::Kbps320,
        };
        let fail = |e: mp3lame_encoder::BuildError| format!("MP3 encoder settings: {e}");
        let mut builder =
            mp3lame_encoder::Builder::new().ok_or("MP3 encoder: LAME could not allocate")?;
        builder.set_num_channels(nb_channels as u8).map_err(fail)?;
        builder.set_sample_rate(sample_rate).map_err(fail)?;
        builder
            .set_output_sample_rate(NonZeroU32::new(sample_rate))
            .map_err(fail)?;
        builder.set_brate(bitrate).map_err(fail)?;
        builder
            .set_vbr_mode(mp3lame_encoder::VbrMode::Off)
            .map_err(fail)?;
        // LAME's `-q 3`, its command line's default: `-q 2` took 2.2 times as long here (12
        // against 28 times real time for stereo at 44.1 kHz, on a loaded machine) for a
        // difference that 320 kbit/s leaves inaudible.
        builder
            .set_quality(mp3lame_encoder::Quality::VeryNice)
            .map_err(fail)?;
        builder.set_to_write_vbr_tag(tag).map_err(fail)?;
        let lame = builder.build().map_err(fail)?;
        Ok(Mp3Encoder {
            lame,
            nb_channels,
            out: Vec::new(),
        })
    }

    /// Encodes a block of shape `(nb_channels, n)` within [-1, 1]; returns the bytes of the
    /// frames completed.
    pub fn push(&mut self, block: &[Vec<f32>]) -> Result<&[u8], String> {
        let n = block.first().map_or(0, Vec::len);
        self.out.clear();
        // LAME's own bound on the output of n samples.
        self.out.reserve(n + n / 4 + 7200);
        let written = if self.nb_channels == 1 {
            self.lame
                .encode_to_vec(MonoPcm(&block[0][..]), &mut self.out)
        } else {
            self.lame.encode_to_vec(
                DualPcm {
                    left: &block[0][..],
                    right: &block[1][..],
                },
                &mut self.out,
            )
        };
        written.map_err(|e| format!("MP3 encoder: {e}"))?;
        Ok(&self.out)
    }

    /// Encodes what LAME holds (the last frames, padded with silence: `lame_encode_flush`; the
    /// "no gap" flush keeps the end back for a following track); returns their bytes.
    pub fn finish(&mut self) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(7200);
        self.lame
            .flush_to_vec::<FlushGap>(&mut out)
            .map_err(|e| format!("MP3 encoder: {e}"))?;
        Ok(out)
    }

    /// The completed Xing/Info frame to write over the first frame (after
    /// [`Mp3Encoder::finish`]), when the encoder was made with `tag`.
    pub fn tag(&self) -> Option<Vec<u8>> {
        if !self.lame.is_lame_tag_written() {
            return None;
        }
        let mut out = Vec::with_capacity(self.lame.lame_tag_size());
        self.lame.lame_tag_encode_to_vec(&mut out).map(|_| out)
    }
}

/// Where vorbis_rs writes: bytes shared with the writer, which takes them after each block.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// An Ogg Vorbis stream being encoded by libvorbis.
pub(crate) struct VorbisStream {
    encoder: Option<VorbisEncoder<Shared>>,
    sink: Shared,
}

// SAFETY: libvorbis's and libogg's states are plain heap memory owned by this value alone (no
// thread-local state, no sharing): moving them to another thread is sound. `VorbisEncoder` is
// not `Send` only because it holds raw pointers.
unsafe impl Send for VorbisStream {}

impl VorbisStream {
    /// An encoder of `nb_channels` at `sample_rate`: VBR aiming at `kbps` on average, or at
    /// [`VORBIS_DEFAULT_QUALITY`] without it. The Ogg headers are written at once (see
    /// [`VorbisStream::take`]).
    pub fn new(sample_rate: u32, nb_channels: usize, kbps: Option<u32>) -> Result<Self, String> {
        let channels = u8::try_from(nb_channels)
            .ok()
            .and_then(NonZeroU8::new)
            .ok_or_else(|| format!("Ogg Vorbis holds 1 to 255 channels, not {nb_channels}"))?;
        let rate = NonZeroU32::new(sample_rate).ok_or("Ogg Vorbis: sample rate 0")?;
        let sink = Shared::default();
        // One stream per file: its serial only needs to differ from other streams chained or
        // multiplexed with it, which saex never does; the clock makes files differ anyway.
        let serial = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos() as i32 ^ std::process::id() as i32);
        let mut builder =
            VorbisEncoderBuilder::new_with_serial(rate, channels, sink.clone(), serial);
        builder.bitrate_management_strategy(match kbps {
            Some(kbps) => VorbisBitrateManagementStrategy::Vbr {
                target_bitrate: NonZeroU32::new(kbps.saturating_mul(1000))
                    .ok_or("Ogg Vorbis: bit rate 0")?,
            },
            None => VorbisBitrateManagementStrategy::QualityVbr {
                target_quality: VORBIS_DEFAULT_QUALITY,
            },
        });
        let encoder = builder.build().map_err(|e| {
            format!(
                "Ogg Vorbis cannot encode {nb_channels} channels at {sample_rate} Hz{}: {e}",
                kbps.map(|k| format!(", {k} kbit/s")).unwrap_or_default()
            )
        })?;
        Ok(VorbisStream {
            encoder: Some(encoder),
            sink,
        })
    }

    /// The bytes completed so far (the headers, then whole Ogg pages).
    pub fn take(&self) -> Vec<u8> {
        self.sink.take()
    }

    /// Encodes a block of shape `(nb_channels, n)` within [-1, 1]; returns the bytes completed.
    pub fn push(&mut self, block: &[Vec<f32>]) -> Result<Vec<u8>, String> {
        // libvorbis suggests blocks of about 1024 frames; much longer ones are slow.
        let n = block.first().map_or(0, Vec::len);
        let encoder = self
            .encoder
            .as_mut()
            .ok_or("Ogg Vorbis: already finished")?;
        let mut start = 0;
        while start < n {
            let end = (start + 4096).min(n);
            let part: Vec<&[f32]> = block.iter().map(|ch| &ch[start..end]).collect();
            encoder
                .encode_audio_block(&part)
                .map_err(|e| format!("Ogg Vorbis encoder: {e}"))?;
            start = end;
        }
        Ok(self.take())
    }

    /// Ends the stream; returns the last pages.
    pub fn finish(&mut self) -> Result<Vec<u8>, String> {
        if let Some(encoder) = self.encoder.take() {
            encoder
                .finish()
                .map_err(|e| format!("Ogg Vorbis encoder: {e}"))?;
        }
        Ok(self.take())
    }
}
