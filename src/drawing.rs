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

/// An RGB pixel buffer (`width * height * 3` bytes, rows top down) as PNG bytes.
pub(crate) fn encode_png(
    width: u32,
    height: u32,
    pixels: Vec<u8>,
) -> std::result::Result<Vec<u8>, String> {
    let image = image::RgbImage::from_raw(width, height, pixels).ok_or("pixel buffer size")?;
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(png)
}
