//! Output encoding flags shared by `extract` and `batch`.

use clap::Args;
use saex::{ClipMode, Container, OutputFormat, SampleFormat};

/// How outputs are encoded.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Sample encoding: 16 (PCM, default), 24 (PCM) or float (32-bit; WAV only). FLAC takes 16
    /// or 24.
    #[arg(long, value_name = "16|24|float", default_value = "16", value_parser = parse_sample)]
    pub format: SampleFormat,
    /// Samples beyond full scale: clamp (integer formats clamp them; float keeps them; either
    /// way saex warns with the count), rescale (scale each output down so that its peak is at
    /// full scale: the samples wait in a temporary file until the end), none (as clamp, no
    /// warning). Samples never wrap around.
    #[arg(long, value_name = "MODE", default_value = "clamp", value_parser = parse_clip)]
    pub clip: ClipMode,
    /// Output file type, whatever the names say: wav, flac or raw (headerless little-endian
    /// interleaved samples). Default: from each output's extension (.wav, .flac, .raw); WAV
    /// on standard output.
    #[arg(long = "type", value_name = "TYPE", value_parser = parse_container)]
    pub container: Option<Container>,
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
        }
    }
}

fn parse_sample(s: &str) -> Result<SampleFormat, String> {
    SampleFormat::parse(s).map_err(|e| e.to_string())
}

fn parse_clip(s: &str) -> Result<ClipMode, String> {
    ClipMode::parse(s).map_err(|e| e.to_string())
}

fn parse_container(s: &str) -> Result<Container, String> {
    Container::parse(s).map_err(|e| e.to_string())
}
