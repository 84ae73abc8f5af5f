//! What every picture saex draws shares (the training plots, the spectrograms of a
//! separation): the bundled font, registered with plotters once, and PNG encoding.

use plotters::style::FontStyle;
use std::sync::OnceLock;

/// The font family every text of the plots uses (plotters' default for labels).
pub(crate) const FAMILY: &str = "sans-serif";
const FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

/// Registers the bundled font with plotters, once per process.
pub(crate) fn register_font() -> std::result::Result<(), String> {
    static REGISTERED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
                .map_err(|_| "the bundled font cannot be read".to_string())
        })
        .clone()
}

/// An RGB pixel buffer (`width * height * 3` bytes, rows top down) as PNG bytes, with the
/// settings the `image` crate's PNG encoder uses (fast compression, adaptive filters), so the
/// files are byte for byte what saex wrote through `image` before.
pub(crate) fn encode_png(
    width: u32,
    height: u32,
    pixels: Vec<u8>,
) -> std::result::Result<Vec<u8>, String> {
    if pixels.len() != width as usize * height as usize * 3 {
        return Err("pixel buffer size".to_string());
    }
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::FilterType::Sub);
    encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer
        .write_image_data(&pixels)
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(png)
}
