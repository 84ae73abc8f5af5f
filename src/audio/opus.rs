//! Opus input: symphonia 0.5 demuxes Ogg Opus (its `OpusHead`, the pre-skip and the end
//! trimming of the last page's granule position) but has no Opus decoder; this adapter decodes
//! its packets with libopus, the reference decoder (its C sources bundled by opusic-sys and built
//! with cmake; linked statically). The pure-Rust opus-decoder it replaced ran at 1.5x real time. Opus always decodes at
//! 48 kHz (the input rate in `OpusHead` is only a note of the original's), so a `.opus` input
//! is read, and separated, at 48 kHz. Mono and stereo (channel mapping family 0) only.

use std::sync::OnceLock;
use symphonia::core::audio::{AsAudioBufferRef, AudioBuffer, AudioBufferRef, Signal, SignalSpec};
use symphonia::core::codecs::{
    CodecDescriptor, CodecParameters, CodecRegistry, Decoder, DecoderOptions, FinalizeResult,
    CODEC_TYPE_OPUS,
};
use symphonia::core::errors::{decode_error, unsupported_error, Result};
use symphonia::core::formats::Packet;

/// The rate Opus decodes at, in Hz.
pub const OPUS_RATE: u32 = 48_000;

/// The longest Opus packet: 120 ms at 48 kHz, per channel.
const MAX_FRAMES: usize = 5760;

/// symphonia's codecs (those of saex's features) plus Opus.
pub(crate) fn codecs() -> &'static CodecRegistry {
    static REGISTRY: OnceLock<CodecRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut registry);
        registry.register_all::<OpusAdapter>();
        registry
    })
}

/// A libopus decoder state, destroyed with it.
struct LibOpus(std::ptr::NonNull<opusic_sys::OpusDecoder>);

// SAFETY: libopus decoder states hold no thread-local data; the adapter only touches its state
// through `&mut self`, so it is never used from two threads at once.
unsafe impl Send for LibOpus {}
unsafe impl Sync for LibOpus {}

impl LibOpus {
    fn new(nb_channels: usize) -> Option<Self> {
        let mut error = 0;
        // SAFETY: plain constructor; a null result (or an error code) means failure.
        let state = unsafe {
            opusic_sys::opus_decoder_create(OPUS_RATE as i32, nb_channels as i32, &mut error)
        };
        match std::ptr::NonNull::new(state) {
            Some(state) if error == opusic_sys::OPUS_OK => Some(LibOpus(state)),
            Some(state) => {
                // SAFETY: made above, not used again.
                unsafe { opusic_sys::opus_decoder_destroy(state.as_ptr()) };
                None
            }
            None => None,
        }
    }

    /// Decodes `packet` into `interleaved` (room for [`MAX_FRAMES`] frames): frames per
    /// channel, or `None` for an invalid packet.
    fn decode(
        &mut self,
        packet: &[u8],
        interleaved: &mut [f32],
        nb_channels: usize,
    ) -> Option<usize> {
        let max_frames = interleaved.len() / nb_channels;
        // SAFETY: the state is live; `packet` and `interleaved` are valid for the lengths given
        // (libopus writes at most `max_frames * nb_channels` samples).
        let frames = unsafe {
            opusic_sys::opus_decode_float(
                self.0.as_ptr(),
                packet.as_ptr(),
                i32::try_from(packet.len()).ok()?,
                interleaved.as_mut_ptr(),
                max_frames as i32,
                0,
            )
        };
        usize::try_from(frames).ok()
    }

    fn reset(&mut self) {
        // SAFETY: the state is live; OPUS_RESET_STATE takes no argument.
        unsafe {
            opusic_sys::opus_decoder_ctl(self.0.as_ptr(), opusic_sys::OPUS_RESET_STATE);
        }
    }
}

impl Drop for LibOpus {
    fn drop(&mut self) {
        // SAFETY: made by opus_decoder_create, destroyed once.
        unsafe { opusic_sys::opus_decoder_destroy(self.0.as_ptr()) };
    }
}

/// A symphonia [`Decoder`] of Opus packets.
struct OpusAdapter {
    params: CodecParameters,
    decoder: LibOpus,
    nb_channels: usize,
    /// `OpusHead`'s output gain as a factor.
    gain: f32,
    interleaved: Vec<f32>,
    buf: AudioBuffer<f32>,
}

impl Decoder for OpusAdapter {
    fn try_new(params: &CodecParameters, _: &DecoderOptions) -> Result<Self> {
        let Some(channels) = params.channels else {
            return unsupported_error("Opus without a channel count");
        };
        let nb_channels = channels.count();
        // OpusHead: magic (8), version, channels, pre-skip (2), input rate (4), output gain
        // (2, Q7.8 dB), mapping family.
        let head = params.extra_data.as_deref().unwrap_or_default();
        if head.len() >= 19 && head[18] != 0 {
            return unsupported_error(
                "Opus with a channel mapping family other than 0 (surround): only mono and stereo",
            );
        }
        if !(1..=2).contains(&nb_channels) {
            return unsupported_error("Opus with more than 2 channels: only mono and stereo");
        }
        let gain_db = if head.len() >= 18 {
            i16::from_le_bytes([head[16], head[17]]) as f32 / 256.0
        } else {
            0.0
        };
        let Some(decoder) = LibOpus::new(nb_channels) else {
            return unsupported_error("Opus decoder settings");
        };
        Ok(OpusAdapter {
            params: params.clone(),
            decoder,
            nb_channels,
            gain: 10f32.powf(gain_db / 20.0),
            interleaved: vec![0.0; MAX_FRAMES * nb_channels],
            buf: AudioBuffer::new(MAX_FRAMES as u64, SignalSpec::new(OPUS_RATE, channels)),
        })
    }

    fn supported_codecs() -> &'static [CodecDescriptor] {
        &[CodecDescriptor {
            codec: CODEC_TYPE_OPUS,
            short_name: "opus",
            long_name: "Opus (libopus)",
            inst_func: |params, options| Ok(Box::new(OpusAdapter::try_new(params, options)?)),
        }]
    }

    fn reset(&mut self) {
        self.decoder.reset();
    }

    fn codec_params(&self) -> &CodecParameters {
        &self.params
    }

    fn decode(&mut self, packet: &Packet) -> Result<AudioBufferRef<'_>> {
        self.buf.clear();
        let Some(frames) =
            self.decoder
                .decode(&packet.data, &mut self.interleaved, self.nb_channels)
        else {
            return decode_error("opus: invalid packet");
        };
        let frames = frames.min(MAX_FRAMES);
        self.buf.render_reserved(Some(frames));
        for c in 0..self.nb_channels {
            let out = self.buf.chan_mut(c);
            for (i, x) in out.iter_mut().enumerate() {
                *x = self.interleaved[i * self.nb_channels + c] * self.gain;
            }
        }
        self.buf
            .trim(packet.trim_start() as usize, packet.trim_end() as usize);
        Ok(self.buf.as_audio_buffer_ref())
    }

    fn finalize(&mut self) -> FinalizeResult {
        FinalizeResult::default()
    }

    fn last_decoded(&self) -> AudioBufferRef<'_> {
        self.buf.as_audio_buffer_ref()
    }
}
