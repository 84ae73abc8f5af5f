//! `history.png`: the staircase loss plot, and the comparison of several runs. x is the
//! number of epochs trained (a new layer's init shares the x of the epoch before it, so its
//! drop is vertical), y the loss on a log scale. Blue: training loss; red: validation loss;
//! grey verticals: a layer was added (or fine-tuning began). Axes carry their names, units and
//! tick labels, and a legend names each line, in DejaVu Sans compiled into the binary
//! (`assets/fonts/`), so no system font is needed.

use super::history::HistoryRow;
use crate::drawing::{encode_png, register_font, FAMILY};
use crate::error::{Error, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

const WIDTH: u32 = 800;
const HEIGHT: u32 = 480;
const TRAIN_COLOR: RGBColor = RGBColor(31, 119, 180);
/// Colours for series told apart by colour alone (several runs in one figure), in order.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
    RGBColor(188, 189, 34),
    RGBColor(127, 127, 127),
];
const VALID_COLOR: RGBColor = RGBColor(214, 39, 40);
const BOUNDARY_COLOR: RGBColor = RGBColor(150, 150, 150);
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
        Curve {
            points: points(history, &xs, |r| r.train_loss),
            color: TRAIN_COLOR,
            label: "training loss".to_string(),
        },
        Curve {
            points: points(history, &xs, |r| Some(r.valid_loss)),
            color: VALID_COLOR,
            label: "validation loss".to_string(),
        },
    ];
    to_png(
        "Training history",
        XAxis::Epochs,
        &curves,
        &boundaries(history, &xs),
    )
}

/// What the x axis of a comparison counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Epochs trained, all stages (an init shares the x of the epoch before it).
    Epochs,
    /// Wall-clock seconds since the start of the run, least-squares or autoencoder inits and
    /// validation included: for comparing runs at equal time.
    Seconds,
}

impl XAxis {
    fn positions(self, history: &[HistoryRow]) -> Vec<f64> {
        match self {
            XAxis::Epochs => positions(history),
            XAxis::Seconds => history
                .iter()
                .scan(0.0, |t, row| {
                    *t += row.seconds;
                    Some(*t)
                })
                .collect(),
        }
    }

    fn description(self) -> &'static str {
        match self {
            XAxis::Epochs => "epochs trained (all stages)",
            XAxis::Seconds => "seconds (inits, training and validation)",
        }
    }
}

/// The validation curves of several runs in one plot, each in its colour and named in the
/// legend, against epochs (with the stage boundaries of the first run) or seconds: for
/// comparing initialisations.
pub fn render_comparison(
    runs: &[(&[HistoryRow], RGBColor, &str)],
    x: XAxis,
) -> std::result::Result<Vec<u8>, String> {
    let curves: Vec<Curve> = runs
        .iter()
        .map(|(history, color, label)| Curve {
            points: points(history, &x.positions(history), |r| Some(r.valid_loss)),
            color: *color,
            label: label.to_string(),
        })
        .collect();
    // Stages end at different times in different runs: boundaries only on the epoch axis.
    let bounds = match (x, runs.first()) {
        (XAxis::Epochs, Some((h, _, _))) => boundaries(h, &positions(h)),
        _ => Vec::new(),
    };
    to_png("Validation loss", x, &curves, &bounds)
}

/// One line of the plot: points `(x, log10 loss)`, its colour and its legend entry.
struct Curve {
    points: Vec<(f64, f64)>,
    color: RGBColor,
    label: String,
}

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

fn to_png(
    title: &str,
    x: XAxis,
    curves: &[Curve],
    bounds: &[f64],
) -> std::result::Result<Vec<u8>, String> {
    register_font()?;
    let mut pixels = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    draw(title, x, curves, bounds, &mut pixels).map_err(|e| e.to_string())?;
    encode_png(WIDTH, HEIGHT, pixels)
}

/// A loss as a tick label: `0.05`, `1`, `2.5`; `2e-4` below 0.001 and `1e4` from 10000.
fn format_loss(v: f64) -> String {
    if v != 0.0 && !(1e-3..1e4).contains(&v.abs()) {
        return format!("{v:.0e}");
    }
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The losses that get a tick on a log axis from `lo` to `hi` (both > 0): every 1..9 x 10^k
/// within a decade or less, 1, 2 and 5 x 10^k within two decades, else the powers of ten.
fn loss_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let decades = (hi / lo).log10();
    let multiples: &[f64] = if decades <= 1.0 {
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    } else if decades <= 2.0 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let mut ticks = Vec::new();
    let mut k = lo.log10().floor() as i32;
    while 10f64.powi(k) <= hi {
        for m in multiples {
            // Rounded so that 0.3 prints as 0.3, not 0.30000000000000004.
            let v: f64 = format!("{:.0e}", m * 10f64.powi(k)).parse().unwrap_or(0.0);
            if v >= lo && v <= hi {
                ticks.push(v);
            }
        }
        k += 1;
    }
    ticks
}

fn draw(
    title: &str,
    x: XAxis,
    curves: &[Curve],
    bounds: &[f64],
    pixels: &mut [u8],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    // y is log10 of the loss.
    let ys: Vec<f64> = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|&(_, y)| y))
        .collect();
    let (lo, hi) = if ys.is_empty() {
        (-1.0, 0.0)
    } else {
        let lo = ys.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = ys.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        // At least a factor of 2 from bottom to top, with a margin on both.
        let hi = hi.max(lo + 2f64.log10());
        (lo - 0.05, hi + 0.05)
    };
    let x_max = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|&(x, _)| x))
        .fold(1.0f64, f64::max);
    let (x0, x1) = (-0.02 * x_max, 1.02 * x_max);
    // The title and, under it, the legend: a row above the plot, where it hides no data.
    let (header, body) = root.split_vertically(56);
    header.draw(&Text::new(
        title,
        (WIDTH as i32 / 2, 16),
        (FAMILY, 20)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    let mut chart = ChartBuilder::on(&body)
        .margin(14)
        .margin_top(4)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, lo..hi)?;
    // The y ticks are drawn below, at round losses; the mesh draws x, the axes and their names.
    chart
        .configure_mesh()
        .x_desc(x.description())
        .y_desc("loss: MSE of magnitudes (log scale)")
        .x_labels((x_max as usize + 1).min(12))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_labels(0)
        .disable_y_mesh()
        .axis_desc_style((FAMILY, 14))
        .label_style((FAMILY, 12))
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;
    let label = (FAMILY, 12)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Right, VPos::Center));
    for tick in loss_ticks(10f64.powf(lo), 10f64.powf(hi)) {
        let y = tick.log10();
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x0, y), (x1, y)],
            RGBColor(225, 225, 225),
        )))?;
        let (px, py) = chart.backend_coord(&(x0, y));
        root.draw(&PathElement::new(vec![(px - 5, py), (px, py)], BLACK))?;
        root.draw(&Text::new(format_loss(tick), (px - 8, py), label.clone()))?;
    }
    for &x in bounds {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, lo), (x, hi)],
            BOUNDARY_COLOR.stroke_width(2),
        )))?;
    }
    for curve in curves {
        let color = curve.color;
        chart.draw_series(LineSeries::new(curve.points.clone(), color.stroke_width(2)))?;
        chart.draw_series(
            curve
                .points
                .iter()
                .map(|&p| Circle::new(p, 3, color.filled())),
        )?;
    }
    // The legend: one row of samples and names, from above the plot's left edge.
    let (left, _) = chart.backend_coord(&(x0, hi));
    let text = (FAMILY, 13)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let y = 44;
    let mut x = left;
    let mut entries: Vec<(&str, RGBColor, bool)> = curves
        .iter()
        .map(|c| (c.label.as_str(), c.color, false))
        .collect();
    if !bounds.is_empty() {
        entries.push(("layer added / fine-tuning begins", BOUNDARY_COLOR, true));
    }
    for (name, color, vertical) in entries {
        let sample = if vertical {
            vec![(x + 10, y - 7), (x + 10, y + 7)]
        } else {
            vec![(x, y), (x + 22, y)]
        };
        root.draw(&PathElement::new(sample, color.stroke_width(2)))?;
        root.draw(&Text::new(name, (x + 28, y), text.clone()))?;
        let (width, _) = root.estimate_text_size(name, &text)?;
        x += 28 + width as i32 + 24;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_read_as_losses() {
        for (v, text) in [(0.05, "0.05"), (1.0, "1"), (2.5, "2.5"), (0.125, "0.125")] {
            assert_eq!(format_loss(v), text);
        }
        assert_eq!(format_loss(2e-4), "2e-4");
        assert_eq!(format_loss(20_000.0), "2e4");
        assert_eq!(
            loss_ticks(0.18, 1.1),
            [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
        );
        assert_eq!(loss_ticks(0.004, 0.3), [0.005, 0.01, 0.02, 0.05, 0.1, 0.2]);
        assert_eq!(loss_ticks(2e-5, 3.0), [1e-4, 1e-3, 1e-2, 0.1, 1.0]);
    }

    #[test]
    fn renders_a_png_with_labels_and_a_legend_from_the_bundled_font() {
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
        // Text is drawn (antialiased grey and black pixels): the title above the chart, tick
        // labels and the y axis' name left of it, the x axis' name below it.
        let dark = |x0: u32, x1: u32, y0: u32, y1: u32| {
            (x0..x1)
                .flat_map(|x| (y0..y1).map(move |y| (x, y)))
                .filter(|&(x, y)| image.get_pixel(x, y).0.iter().all(|&c| c < 128))
                .count()
        };
        assert!(dark(250, 550, 0, 30) > 50, "no title");
        assert!(dark(0, 75, 60, 420) > 200, "no y labels");
        assert!(dark(200, 600, HEIGHT - 30, HEIGHT) > 100, "no x axis name");
        // The legend, a row above the plot, names each line.
        assert!(dark(90, 700, 34, 54) > 100, "no legend");
        let blue = image.pixels().filter(|p| p.0 == [31, 119, 180]).count();
        assert!(blue > 100, "{blue} blue pixels");
        assert!(render(&[]).is_ok());
    }
}
