//! The model scaling study's figure: SDR against training time (left) and against the
//! network's size (right), one colour per network shape, filled dots for the `ood` split and
//! hollow ones for `test`. Runs of one shape (e.g. trained for 1, 20 and 35 minutes) are joined
//! by a line, so the time panel shows each shape's curve.

use super::plot::PALETTE;
use crate::drawing::{encode_png, register_font, FAMILY};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 480;
/// The title's and the legend's rows above the panels.
const HEADER: u32 = 84;

/// One trained model of the study and its median SDRs (dB) on the two splits.
#[derive(Clone, Debug)]
pub struct ScalingRun {
    /// The network's shape, e.g. `C3 K5`: runs with one label form one curve.
    pub label: String,
    pub parameters: usize,
    /// Wall-clock training time, inits and validation included.
    pub minutes: f64,
    pub sdr_test: f64,
    pub sdr_ood: f64,
}

/// The figure as PNG bytes; `title` goes above both panels.
pub fn render_scaling(title: &str, runs: &[ScalingRun]) -> std::result::Result<Vec<u8>, String> {
    register_font()?;
    let mut pixels = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    draw(title, runs, &mut pixels).map_err(|e| e.to_string())?;
    encode_png(WIDTH, HEIGHT, pixels)
}

/// The labels in order of first appearance, each with its colour: the palette, then the
/// palette darkened, so that up to twice its length of shapes stay apart.
fn shapes(runs: &[ScalingRun]) -> Vec<(&str, RGBColor)> {
    let mut shapes: Vec<(&str, RGBColor)> = Vec::new();
    for run in runs {
        if !shapes.iter().any(|(l, _)| *l == run.label) {
            let i = shapes.len();
            let RGBColor(r, g, b) = PALETTE[i % PALETTE.len()];
            let color = if (i / PALETTE.len()).is_multiple_of(2) {
                RGBColor(r, g, b)
            } else {
                RGBColor(r / 2, g / 2, b / 2)
            };
            shapes.push((&run.label, color));
        }
    }
    shapes
}

/// `lo..hi` of `values` with a tenth of the span (at least 0.5) as margin on both sides.
fn padded(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let margin = ((hi - lo) * 0.1).max(0.5);
    (lo - margin, hi + margin)
}

fn draw(
    title: &str,
    runs: &[ScalingRun],
    pixels: &mut [u8],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let shapes = shapes(runs);
    let (header, body) = root.split_vertically(HEADER);
    header.draw(&Text::new(
        title.to_string(),
        (WIDTH as i32 / 2, 16),
        (FAMILY, 18)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    // The legend: each shape's colour, then what filled and hollow dots mean.
    let text = (FAMILY, 13)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let (mut x, mut y) = (70, 44);
    for (label, color) in &shapes {
        let advance = 16 + header.estimate_text_size(label, &text)?.0 as i32 + 22;
        // A second row when this entry (and the split's key after the last) would not fit.
        if x + advance > WIDTH as i32 - 130 {
            (x, y) = (70, y + 22);
        }
        header.draw(&Circle::new((x + 6, y), 5, color.filled()))?;
        header.draw(&Text::new(label.to_string(), (x + 16, y), text.clone()))?;
        x += advance;
    }
    header.draw(&Circle::new((x + 6, y), 5, BLACK.filled()))?;
    header.draw(&Text::new("ood", (x + 16, y), text.clone()))?;
    x += 60;
    header.draw(&Circle::new((x + 6, y), 5, BLACK.stroke_width(1)))?;
    header.draw(&Text::new("test", (x + 16, y), text.clone()))?;

    let (sdr_lo, sdr_hi) = padded(runs.iter().flat_map(|r| [r.sdr_test, r.sdr_ood]));
    let panels = body.split_evenly((1, 2));
    // Left: minutes on a log axis (a one-minute model beside half-hour ones).
    let minutes = |r: &ScalingRun| r.minutes.max(0.1);
    let t_lo = runs.iter().map(minutes).fold(1.0, f64::min) * 0.7;
    let t_hi = runs.iter().map(minutes).fold(10.0, f64::max) * 1.4;
    let mut time = ChartBuilder::on(&panels[0])
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(52)
        .build_cartesian_2d((t_lo..t_hi).log_scale(), sdr_lo..sdr_hi)?;
    time.configure_mesh()
        .x_desc("training minutes (log scale)")
        .y_desc("vocals SDR (dB)")
        .x_labels(6)
        .x_label_formatter(&|m| format!("{m}"))
        .axis_desc_style((FAMILY, 14))
        .label_style((FAMILY, 12))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;
    // Right: parameters in millions.
    let millions = |r: &ScalingRun| r.parameters as f64 / 1e6;
    let (p_lo, p_hi) = padded(runs.iter().map(millions));
    let mut size = ChartBuilder::on(&panels[1])
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(52)
        .build_cartesian_2d(p_lo.max(0.0)..p_hi, sdr_lo..sdr_hi)?;
    size.configure_mesh()
        .x_desc("parameters (millions)")
        .y_desc("vocals SDR (dB)")
        .x_label_formatter(&|v| format!("{v:.1}"))
        .axis_desc_style((FAMILY, 14))
        .label_style((FAMILY, 12))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;
    for (label, color) in &shapes {
        let mut own: Vec<&ScalingRun> = runs.iter().filter(|r| r.label == *label).collect();
        own.sort_by(|a, b| a.minutes.total_cmp(&b.minutes));
        for (sdr, filled) in [
            (
                Box::new(|r: &ScalingRun| r.sdr_ood) as Box<dyn Fn(&ScalingRun) -> f64>,
                true,
            ),
            (Box::new(|r: &ScalingRun| r.sdr_test), false),
        ] {
            let style = if filled {
                color.filled()
            } else {
                color.stroke_width(2)
            };
            let line = color.mix(if filled { 1.0 } else { 0.5 }).stroke_width(2);
            let at_time: Vec<(f64, f64)> = own.iter().map(|r| (minutes(r), sdr(r))).collect();
            time.draw_series(LineSeries::new(at_time.clone(), line))?;
            time.draw_series(at_time.into_iter().map(|p| Circle::new(p, 5, style)))?;
            size.draw_series(
                own.iter()
                    .map(|r| Circle::new((millions(r), sdr(r)), 5, style)),
            )?;
        }
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_both_panels_to_a_png() {
        let run = |label: &str, parameters, minutes, sdr_test, sdr_ood| ScalingRun {
            label: label.into(),
            parameters,
            minutes,
            sdr_test,
            sdr_ood,
        };
        let png = render_scaling(
            "study",
            &[
                run("C3 K3", 2_370_060, 1.0, 2.8, 3.0),
                run("C3 K3", 2_370_060, 35.0, 2.8, 3.2),
                run("C3 K5", 2_896_000, 30.0, 3.1, 3.6),
            ],
        )
        .unwrap();
        let image = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(image.dimensions(), (WIDTH, HEIGHT));
        // Both shapes' colours were drawn.
        for color in &PALETTE[..2] {
            assert!(image.pixels().any(|p| p.0 == [color.0, color.1, color.2]));
        }
        assert_eq!(shapes(&[]).len(), 0);
        assert_eq!(padded([1.0, 3.0].into_iter()), (0.5, 3.5));
    }
}
