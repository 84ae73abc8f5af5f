//! Output encoding flags shared by `extract` and `batch`.

use clap::Args;
use saex::{ClipMode, Container, OutputFormat, SampleFormat};

/// How outputs are encoded.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Sample encoding: 16 (PCM, default), 24 (PCM) or float (32-bit; WAV only). FLAC takes 16
    /// or 24; MP3 and Ogg Vorbis have no bit depth (see --bitrate).
    #[arg(long, value_name = "16|24|float", default_value = "16")]
    pub format: SampleFormat,
    /// Samples beyond full scale: clamp (integer formats clamp them; float keeps them; either
    /// way saex warns with the count), rescale (scale each output down so that its peak is at
    /// full scale: the samples wait in a temporary file until the end), none (as clamp, no
    /// warning). Samples never wrap around.
    #[arg(long, value_name = "MODE", default_value = "clamp")]
    pub clip: ClipMode,
    /// Output file type, whatever the names say: wav, flac, raw (headerless little-endian
    /// interleaved samples), mp3 or ogg (Vorbis). Default: from each output's extension (.wav,
    /// .flac, .raw, .mp3, .ogg); WAV on standard output.
    #[arg(long = "type", value_name = "TYPE")]
    pub container: Option<Container>,
    /// Bit rate of MP3 and Ogg Vorbis outputs in kbit/s. MP3: constant, one of 8, 16, 24, 32,
    /// 40, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320; default 320 (MPEG-1's highest:
    /// the codec adds as little as it can to the separation's own artefacts; constant so that
    /// a stream, which gets no Xing header, still has a known duration and can be sought);
    /// capped at 160 below 32 kHz. Vorbis: the average aimed at (32 to 500); default quality 8
    /// (about 256 kbit/s for stereo at 44.1 kHz). Lossless outputs ignore it.
    #[arg(long, value_name = "KBPS")]
    pub bitrate: Option<u32>,
}

impl OutputArgs {
    /// The output format, with `raw` forcing headerless samples.
    pub fn output_format(&self, raw: bool) -> OutputFormat {
        OutputFormat {
            container: if raw {
                Some(Container::Raw)
            } else {
                self.container
            },
            sample: self.format,
            clip: self.clip,
            bitrate: self.bitrate,
        }
    }
}
