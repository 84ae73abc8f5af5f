//! `history.png`: the staircase loss plot. Drawn without text (no system fonts are needed):
//! x is the epoch count (a new layer's init shares the x of the epoch before it, so its drop is
//! vertical), y is the loss on a log scale with a light line at every power of ten.
//! Blue: training loss; red: validation loss; grey verticals: a layer was added (or
//! fine-tuning began).

use super::trainer::HistoryRow;
use crate::error::{Error, Result};
use plotters::prelude::*;
use std::path::Path;

const WIDTH: u32 = 800;
const HEIGHT: u32 = 480;
pub const TRAIN_COLOR: RGBColor = RGBColor(31, 119, 180);
pub const VALID_COLOR: RGBColor = RGBColor(214, 39, 40);

/// Renders `history` to a PNG at `path` (atomically).
pub fn write_history_png(path: &Path, history: &[HistoryRow]) -> Result<()> {
    let png =
        render(history).map_err(|e| Error::file(path, format!("cannot draw the plot: {e}")))?;
    crate::atomic::write_bytes(path, &png)
}

/// The plot as PNG bytes.
pub fn render(history: &[HistoryRow]) -> std::result::Result<Vec<u8>, String> {
    let mut pixels = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    draw(history, &mut pixels).map_err(|e| e.to_string())?;
    let mut png = Vec::new();
    encode_png(&pixels, &mut png).map_err(|e| e.to_string())?;
    Ok(png)
}

fn encode_png(
    rgb: &[u8],
    out: &mut Vec<u8>,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let image =
        image::RgbImage::from_raw(WIDTH, HEIGHT, rgb.to_vec()).ok_or("pixel buffer size")?;
    image.write_to(&mut std::io::Cursor::new(out), image::ImageFormat::Png)?;
    Ok(())
}

fn draw(
    history: &[HistoryRow],
    pixels: &mut [u8],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    // x position of each row: trained epochs so far.
    let mut xs = Vec::with_capacity(history.len());
    let mut x = 0.0f64;
    for row in history {
        if row.epoch > 0 {
            x += 1.0;
        }
        xs.push(x);
    }
    let losses: Vec<f64> = history
        .iter()
        .flat_map(|r| [Some(r.valid_loss), r.train_loss])
        .flatten()
        .filter(|l| l.is_finite() && *l > 0.0)
        .collect();
    let (lo, hi) = if losses.is_empty() {
        (0.1, 1.0)
    } else {
        let lo = losses.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = losses.iter().cloned().fold(0.0, f64::max);
        (lo.log10() - 0.05, hi.log10().max(lo.log10() + 0.1) + 0.05)
    };
    let x_max = x.max(1.0);
    let mut chart = ChartBuilder::on(&root)
        .margin(16)
        .build_cartesian_2d(-0.02 * x_max..x_max * 1.02, lo..hi)?;
    // Frame and decade lines.
    let frame = [
        (-0.02 * x_max, lo),
        (x_max * 1.02, lo),
        (x_max * 1.02, hi),
        (-0.02 * x_max, hi),
        (-0.02 * x_max, lo),
    ];
    chart.draw_series(std::iter::once(PathElement::new(
        frame.to_vec(),
        BLACK.stroke_width(1),
    )))?;
    let mut decade = lo.ceil();
    while decade <= hi {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(-0.02 * x_max, decade), (x_max * 1.02, decade)],
            RGBColor(210, 210, 210).stroke_width(1),
        )))?;
        decade += 1.0;
    }
    // Stage boundaries.
    for (row, &x) in history.iter().zip(&xs) {
        if row.epoch == 0 || (row.stage == "finetune" && row.epoch == 1) {
            let x = if row.epoch == 0 { x } else { x - 1.0 };
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x, lo), (x, hi)],
                RGBColor(150, 150, 150).stroke_width(2),
            )))?;
        }
    }
    let series = |pick: &dyn Fn(&HistoryRow) -> Option<f64>| -> Vec<(f64, f64)> {
        history
            .iter()
            .zip(&xs)
            .filter_map(|(r, &x)| {
                pick(r)
                    .filter(|l| l.is_finite() && *l > 0.0)
                    .map(|l| (x, l.log10()))
            })
            .collect()
    };
    let train = series(&|r| r.train_loss);
    let valid = series(&|r| Some(r.valid_loss));
    chart.draw_series(LineSeries::new(train.clone(), TRAIN_COLOR.stroke_width(2)))?;
    chart.draw_series(
        train
            .iter()
            .map(|&p| Circle::new(p, 3, TRAIN_COLOR.filled())),
    )?;
    chart.draw_series(LineSeries::new(valid.clone(), VALID_COLOR.stroke_width(2)))?;
    chart.draw_series(
        valid
            .iter()
            .map(|&p| Circle::new(p, 3, VALID_COLOR.filled())),
    )?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_png_without_fonts() {
        let mut history = Vec::new();
        for stage in 1..=3 {
            history.push(HistoryRow {
                stage: stage.to_string(),
                nb_layers: stage,
                epoch: 0,
                train_loss: None,
                valid_loss: 1.0 / stage as f64,
                seconds: 0.1,
            });
            for epoch in 1..=4 {
                let l = 1.0 / (stage as f64 + 0.1 * epoch as f64);
                history.push(HistoryRow {
                    stage: stage.to_string(),
                    nb_layers: stage,
                    epoch,
                    train_loss: Some(l * 0.9),
                    valid_loss: l,
                    seconds: 0.1,
                });
            }
        }
        let png = render(&history).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let image = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(image.dimensions(), (WIDTH, HEIGHT));
        let red = image.pixels().filter(|p| p.0 == [214, 39, 40]).count();
        assert!(
            red > 100,
            "the validation curve is missing ({red} red pixels)"
        );
        assert!(render(&[]).is_ok());
    }
}
