//! `history.png`: the staircase loss plot. Drawn without text (no system fonts are needed):
//! x is the epoch count (a new layer's init shares the x of the epoch before it, so its drop is
//! vertical), y is the loss on a log scale with a light line at every power of ten.
//! Blue: training loss; red: validation loss; grey verticals: a layer was added (or
//! fine-tuning began).

use super::history::HistoryRow;
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
    let xs = positions(history);
    let curves = vec![
        (points(history, &xs, |r| r.train_loss), TRAIN_COLOR),
        (points(history, &xs, |r| Some(r.valid_loss)), VALID_COLOR),
    ];
    to_png(&curves, &boundaries(history, &xs))
}

/// The validation curves of several runs in one plot (stage boundaries of the first run),
/// each in its colour: for comparing initialisations.
pub fn render_comparison(
    runs: &[(&[HistoryRow], RGBColor)],
) -> std::result::Result<Vec<u8>, String> {
    let curves: Vec<Curve> = runs
        .iter()
        .map(|(history, color)| {
            (
                points(history, &positions(history), |r| Some(r.valid_loss)),
                *color,
            )
        })
        .collect();
    let bounds = runs
        .first()
        .map(|(h, _)| boundaries(h, &positions(h)))
        .unwrap_or_default();
    to_png(&curves, &bounds)
}

/// Points `(x, log10 loss)` and their colour.
type Curve = (Vec<(f64, f64)>, RGBColor);

/// x of each row: epochs trained so far (an init row shares the x of the epoch before it).
fn positions(history: &[HistoryRow]) -> Vec<f64> {
    let mut x = 0.0f64;
    history
        .iter()
        .map(|row| {
            if row.epoch > 0 {
                x += 1.0;
            }
            x
        })
        .collect()
}

fn points(
    history: &[HistoryRow],
    xs: &[f64],
    pick: impl Fn(&HistoryRow) -> Option<f64>,
) -> Vec<(f64, f64)> {
    history
        .iter()
        .zip(xs)
        .filter_map(|(r, &x)| {
            pick(r)
                .filter(|l| l.is_finite() && *l > 0.0)
                .map(|l| (x, l.log10()))
        })
        .collect()
}

/// x of every layer addition and of the start of fine-tuning.
fn boundaries(history: &[HistoryRow], xs: &[f64]) -> Vec<f64> {
    history
        .iter()
        .zip(xs)
        .filter(|(row, _)| row.epoch == 0 || (row.stage == "finetune" && row.epoch == 1))
        .map(|(row, &x)| if row.epoch == 0 { x } else { x - 1.0 })
        .collect()
}

fn to_png(curves: &[Curve], bounds: &[f64]) -> std::result::Result<Vec<u8>, String> {
    let mut pixels = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    draw(curves, bounds, &mut pixels).map_err(|e| e.to_string())?;
    let image = image::RgbImage::from_raw(WIDTH, HEIGHT, pixels).ok_or("pixel buffer size")?;
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(png)
}

fn draw(
    curves: &[Curve],
    bounds: &[f64],
    pixels: &mut [u8],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let ys: Vec<f64> = curves
        .iter()
        .flat_map(|(p, _)| p.iter().map(|&(_, y)| y))
        .collect();
    let (lo, hi) = if ys.is_empty() {
        (-1.0, 0.0)
    } else {
        let lo = ys.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = ys.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        (lo - 0.05, hi.max(lo + 0.1) + 0.05)
    };
    let x_max = curves
        .iter()
        .flat_map(|(p, _)| p.iter().map(|&(x, _)| x))
        .fold(1.0f64, f64::max);
    let (x0, x1) = (-0.02 * x_max, 1.02 * x_max);
    let mut chart = ChartBuilder::on(&root)
        .margin(16)
        .build_cartesian_2d(x0..x1, lo..hi)?;
    let line = |points: Vec<(f64, f64)>, color: RGBColor, width: u32| {
        std::iter::once(PathElement::new(points, color.stroke_width(width)))
    };
    chart.draw_series(line(
        vec![(x0, lo), (x1, lo), (x1, hi), (x0, hi), (x0, lo)],
        BLACK,
        1,
    ))?;
    let mut decade = lo.ceil();
    while decade <= hi {
        chart.draw_series(line(
            vec![(x0, decade), (x1, decade)],
            RGBColor(210, 210, 210),
            1,
        ))?;
        decade += 1.0;
    }
    for &x in bounds {
        chart.draw_series(line(vec![(x, lo), (x, hi)], RGBColor(150, 150, 150), 2))?;
    }
    for (points, color) in curves {
        chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?;
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
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
