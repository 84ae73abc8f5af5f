//! The spectrogram figure of a separation: one panel per signal (the mix, each target, the
//! residual), stacked, on a shared log-frequency axis and one dB colour scale, so what leaked
//! into a stem shows as energy where the mix has it and the stem should not. Time in seconds
//! below, frequency in Hz on the left, the colour bar on the right; text in the bundled DejaVu
//! Sans (see `crate::train::plot`).
//!
//! Each panel is drawn column by column: one Hann-windowed FFT of the channels' mean centred on
//! each pixel column, so the cost is a few hundred FFTs whatever the length of the song.

use crate::audio::AudioBuffer;
use crate::drawing::{encode_png, register_font, FAMILY};
use crate::error::{Error, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use realfft::RealFftPlanner;
use std::path::Path;

/// Width of the figure in pixels.
pub const WIDTH: u32 = 1000;
/// Left of the panels: frequency labels and the axis name.
const LEFT: u32 = 78;
/// Right of the panels: the colour bar and its labels.
const RIGHT: u32 = 96;
/// The overall title.
const HEADER: u32 = 34;
/// Each panel's name above it.
const PANEL_TITLE: u32 = 22;
/// Height of each panel's image.
pub const PANEL_HEIGHT: u32 = 150;
const PANEL_GAP: u32 = 6;
/// Time labels and the axis name below the last panel.
const FOOTER: u32 = 46;
/// The dB range shown: from the loudest bin of all panels down this far.
const DYNAMIC_RANGE_DB: f32 = 80.0;
/// The lowest top of the dB scale.
const QUIETEST_TOP_DB: f32 = -40.0;
/// The lowest frequency shown (Hz), unless the FFT's bin spacing is coarser.
const LOWEST_HZ: f64 = 30.0;

/// The x (pixels from the left) of the first column of the panels and their width.
pub const PLOT_LEFT: u32 = LEFT;
pub const PLOT_WIDTH: u32 = WIDTH - LEFT - RIGHT;

/// Height of a figure of `nb_panels` panels.
pub fn height(nb_panels: usize) -> u32 {
    HEADER + nb_panels as u32 * (PANEL_TITLE + PANEL_HEIGHT + PANEL_GAP) + FOOTER
}

/// The y of the first pixel row of panel `index` (its highest frequency).
pub fn panel_top(index: usize) -> u32 {
    HEADER + index as u32 * (PANEL_TITLE + PANEL_HEIGHT + PANEL_GAP) + PANEL_TITLE
}

/// Renders the figure to `path` (atomically), PNG. See [`render`].
fn write_png(path: &Path, title: &str, panels: &[(&str, &AudioBuffer)]) -> Result<()> {
    let png = render(title, panels)
        .map_err(|e| Error::file(path, format!("cannot draw the spectrogram: {e}")))?;
    crate::atomic::write_bytes(path, &png)
}

/// The figure of a separation written to files, titled `title`: the mixture at `mix`, each `(name, file)` of
/// `targets`, and the residual (read from `residual`, or else the mix minus the targets), to
/// `path` (PNG, atomically). The outputs must have the mixture's rate and length, as saex
/// writes them. Errors name the file that cannot be read or does not fit.
pub fn write_separation_png(
    path: &Path,
    title: &str,
    mix: &Path,
    targets: &[(String, std::path::PathBuf)],
    residual: Option<&Path>,
) -> Result<()> {
    let mix_audio = crate::audio::read_audio(mix)?;
    let mut stems = Vec::with_capacity(targets.len() + 1);
    for (name, file) in targets {
        stems.push((name.clone(), read_like(file, &mix_audio)?));
    }
    let residual = match residual {
        Some(file) => read_like(file, &mix_audio)?,
        None => {
            let mut rest = mix_audio.clone();
            for (_, stem) in &stems {
                for (r, s) in rest.channels.iter_mut().zip(&stem.channels) {
                    r.iter_mut().zip(s).for_each(|(r, s)| *r -= s);
                }
            }
            rest
        }
    };
    stems.push(("residual".to_string(), residual));
    let mut panels: Vec<(&str, &AudioBuffer)> = vec![("mix", &mix_audio)];
    panels.extend(stems.iter().map(|(n, a)| (n.as_str(), a)));
    write_png(path, title, &panels)
}

/// Reads an output of a separation of `mix`: it must have the mix's layout and length.
fn read_like(file: &Path, mix: &AudioBuffer) -> Result<AudioBuffer> {
    let audio = crate::audio::read_audio(file)?;
    if audio.sample_rate != mix.sample_rate
        || audio.nb_channels() != mix.nb_channels()
        || audio.nb_frames() != mix.nb_frames()
    {
        return Err(Error::file(
            file,
            format!(
                "{} channel(s), {} frames at {} Hz: expected the mixture's {} channel(s), {} frames at {} Hz",
                audio.nb_channels(),
                audio.nb_frames(),
                audio.sample_rate,
                mix.nb_channels(),
                mix.nb_frames(),
                mix.sample_rate
            ),
        ));
    }
    Ok(audio)
}

/// The figure as PNG bytes: `title` on top, then one panel per `(name, audio)`, each audio of
/// shape `(nb_channels, nb_frames)`. Every panel shares the first one's sample rate and length
/// (a separation's outputs do); at least one panel.
pub fn render(
    title: &str,
    panels: &[(&str, &AudioBuffer)],
) -> std::result::Result<Vec<u8>, String> {
    let (_, first) = panels.first().ok_or("no signal to draw")?;
    for (name, audio) in panels {
        if audio.sample_rate != first.sample_rate || audio.nb_frames() != first.nb_frames() {
            return Err(format!(
                "{name}: {} frames at {} Hz, expected {} frames at {} Hz as the {}",
                audio.nb_frames(),
                audio.sample_rate,
                first.nb_frames(),
                first.sample_rate,
                panels[0].0
            ));
        }
    }
    register_font()?;
    let sample_rate = first.sample_rate;
    let n_fft = fft_size(sample_rate);
    let images: Vec<Vec<f32>> = panels
        .iter()
        .map(|(_, audio)| panel_db(&mono(audio), sample_rate, n_fft))
        .collect();
    let top_db = images
        .iter()
        .flatten()
        .cloned()
        .fold(f32::NEG_INFINITY, f32::max);
    // The top of the scale is at least -40 dB, so that silence (or near silence) is drawn
    // dark rather than stretched over the colour map.
    let top_db = if top_db.is_finite() {
        top_db.max(QUIETEST_TOP_DB)
    } else {
        QUIETEST_TOP_DB
    };
    let scale = (top_db - DYNAMIC_RANGE_DB, top_db);
    let height = height(panels.len());
    let mut pixels = vec![255u8; (WIDTH * height * 3) as usize];
    for (index, image) in images.iter().enumerate() {
        paint_panel(&mut pixels, panel_top(index), image, scale);
    }
    paint_colour_bar(&mut pixels, height);
    let names: Vec<&str> = panels.iter().map(|(n, _)| *n).collect();
    let duration = first.duration_secs();
    let (f_lo, f_hi) = frequency_range(sample_rate, n_fft);
    draw_text(
        &mut pixels,
        height,
        title,
        &names,
        duration,
        (f_lo, f_hi),
        scale,
    )
    .map_err(|e| e.to_string())?;
    encode_png(WIDTH, height, pixels)
}

/// About 46 ms of audio, a power of two: 2048 at 44.1 kHz, 256 at 8 kHz.
fn fft_size(sample_rate: u32) -> usize {
    (sample_rate as usize * 46 / 1000)
        .next_power_of_two()
        .max(256)
}

/// The frequencies at the bottom and the top of a panel.
fn frequency_range(sample_rate: u32, n_fft: usize) -> (f64, f64) {
    let nyquist = f64::from(sample_rate) / 2.0;
    let bin = f64::from(sample_rate) / n_fft as f64;
    (LOWEST_HZ.max(bin), nyquist)
}

/// The mean of the channels: `(nb_channels, nb_frames)` -> `(nb_frames)`.
fn mono(audio: &AudioBuffer) -> Vec<f32> {
    let scale = 1.0 / audio.nb_channels() as f32;
    let mut out = vec![0.0f32; audio.nb_frames()];
    for channel in &audio.channels {
        for (o, &s) in out.iter_mut().zip(channel) {
            *o += s * scale;
        }
    }
    out
}

/// The panel's levels in dB, row-major from the top (highest frequency) row:
/// `(PANEL_HEIGHT, PLOT_WIDTH)`. Column `x` is the spectrum of `n_fft` samples centred at
/// time `(x + 0.5) / PLOT_WIDTH` of the signal (zeros beyond its ends); row `y` the
/// log-spaced frequency between [`frequency_range`]'s ends, interpolated between bins.
fn panel_db(signal: &[f32], sample_rate: u32, n_fft: usize) -> Vec<f32> {
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
    let window = crate::stft::hann_window(n_fft);
    let mut frame = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let (f_lo, f_hi) = frequency_range(sample_rate, n_fft);
    let bin_of_row: Vec<f64> = (0..PANEL_HEIGHT)
        .map(|y| {
            let up = 1.0 - f64::from(y) / f64::from(PANEL_HEIGHT - 1);
            f_lo * (f_hi / f_lo).powf(up) * n_fft as f64 / f64::from(sample_rate)
        })
        .collect();
    let width = PLOT_WIDTH as usize;
    let mut out = vec![0.0f32; PANEL_HEIGHT as usize * width];
    let mut magnitudes = vec![0.0f32; n_fft / 2 + 1];
    // Window energy, so that a full-scale sine reads about 0 dB.
    let norm = 2.0 / window.iter().sum::<f64>() as f32;
    for x in 0..width {
        let centre = ((x as f64 + 0.5) / width as f64 * signal.len() as f64) as isize;
        let start = centre - (n_fft / 2) as isize;
        for (i, v) in frame.iter_mut().enumerate() {
            let t = start + i as isize;
            let s = if t >= 0 && (t as usize) < signal.len() {
                signal[t as usize]
            } else {
                0.0
            };
            *v = s * window[i] as f32;
        }
        // Sizes come from the plan itself, so this cannot fail.
        fft.process_with_scratch(&mut frame, &mut spectrum, &mut scratch)
            .expect("buffers made by the plan");
        for (m, c) in magnitudes.iter_mut().zip(&spectrum) {
            *m = c.norm() * norm;
        }
        for (y, &bin) in bin_of_row.iter().enumerate() {
            let lo = (bin.floor() as usize).min(magnitudes.len() - 1);
            let hi = (lo + 1).min(magnitudes.len() - 1);
            let frac = (bin - lo as f64) as f32;
            let m = magnitudes[lo] * (1.0 - frac) + magnitudes[hi] * frac;
            out[y * width + x] = 20.0 * (m + 1e-10).log10();
        }
    }
    out
}

/// The colour map (viridis, by its control points): `t` in 0..=1, dark to bright.
pub fn colour(t: f32) -> [u8; 3] {
    const STOPS: [[f32; 3]; 6] = [
        [68.0, 1.0, 84.0],
        [65.0, 68.0, 135.0],
        [42.0, 120.0, 142.0],
        [34.0, 168.0, 132.0],
        [122.0, 209.0, 81.0],
        [253.0, 231.0, 37.0],
    ];
    let t = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f32;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f32;
    let mut rgb = [0u8; 3];
    for (k, v) in rgb.iter_mut().enumerate() {
        *v = (STOPS[i][k] * (1.0 - f) + STOPS[i + 1][k] * f).round() as u8;
    }
    rgb
}

fn put(pixels: &mut [u8], x: u32, y: u32, rgb: [u8; 3]) {
    let at = ((y * WIDTH + x) * 3) as usize;
    pixels[at..at + 3].copy_from_slice(&rgb);
}

/// Paints one panel's levels `(PANEL_HEIGHT, PLOT_WIDTH)` at row `top`, `scale` = (low, high) dB.
fn paint_panel(pixels: &mut [u8], top: u32, image: &[f32], scale: (f32, f32)) {
    for y in 0..PANEL_HEIGHT {
        for x in 0..PLOT_WIDTH {
            let db = image[(y * PLOT_WIDTH + x) as usize];
            let t = (db - scale.0) / (scale.1 - scale.0);
            put(pixels, LEFT + x, top + y, colour(t));
        }
    }
}

/// The colour bar's box: x from, x to, y from (top = loudest), y to.
fn colour_bar_box(height: u32) -> (u32, u32, u32, u32) {
    let x0 = WIDTH - RIGHT + 14;
    (x0, x0 + 16, panel_top(0), height - FOOTER - PANEL_GAP)
}

fn paint_colour_bar(pixels: &mut [u8], height: u32) {
    let (x0, x1, y0, y1) = colour_bar_box(height);
    for y in y0..y1 {
        let t = 1.0 - (y - y0) as f32 / (y1 - y0 - 1).max(1) as f32;
        for x in x0..x1 {
            put(pixels, x, y, colour(t));
        }
    }
}

/// Round frequencies for the axis between `lo` and `hi` Hz.
fn frequency_ticks(lo: f64, hi: f64) -> Vec<f64> {
    [
        50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0, 20000.0,
    ]
    .into_iter()
    .filter(|f| (lo..=hi).contains(f))
    .collect()
}

/// A tick step for a time axis of `duration` seconds: at most about 10 ticks.
fn time_step(duration: f64) -> f64 {
    [
        0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    ]
    .into_iter()
    .find(|step| duration / step <= 10.0)
    .unwrap_or(1200.0)
}

fn format_hz(f: f64) -> String {
    if f >= 1000.0 {
        format!("{}k", f / 1000.0)
    } else {
        format!("{f}")
    }
}

/// The title, the panels' names and frames, the axes' ticks, labels and names, and the colour
/// bar's labels, drawn over the painted pixels.
fn draw_text(
    pixels: &mut [u8],
    height: u32,
    title: &str,
    names: &[&str],
    duration: f64,
    (f_lo, f_hi): (f64, f64),
    scale: (f32, f32),
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(pixels, (WIDTH, height)).into_drawing_area();
    let style =
        |size: u32, h: HPos, v: VPos| (FAMILY, size).into_font().color(&BLACK).pos(Pos::new(h, v));
    root.draw(&Text::new(
        title.to_string(),
        (WIDTH as i32 / 2, HEADER as i32 / 2),
        style(18, HPos::Center, VPos::Center),
    ))?;
    let (left, right) = (LEFT as i32, (LEFT + PLOT_WIDTH) as i32);
    let log_span = (f_hi / f_lo).ln();
    for (index, name) in names.iter().enumerate() {
        let top = panel_top(index) as i32;
        let bottom = top + PANEL_HEIGHT as i32 - 1;
        root.draw(&Text::new(
            name.to_string(),
            (left, top - PANEL_TITLE as i32 / 2),
            style(14, HPos::Left, VPos::Center),
        ))?;
        root.draw(&Rectangle::new(
            [(left - 1, top - 1), (right, bottom + 1)],
            BLACK,
        ))?;
        for f in frequency_ticks(f_lo, f_hi) {
            let y = bottom - ((f / f_lo).ln() / log_span * f64::from(PANEL_HEIGHT - 1)) as i32;
            root.draw(&PathElement::new(vec![(left - 5, y), (left - 1, y)], BLACK))?;
            root.draw(&Text::new(
                format_hz(f),
                (left - 8, y),
                style(11, HPos::Right, VPos::Center),
            ))?;
        }
    }
    // Time ticks under the last panel, and light marks under the others.
    let bottom = panel_top(names.len().saturating_sub(1)) as i32 + PANEL_HEIGHT as i32;
    let step = time_step(duration);
    let mut t = 0.0;
    while t <= duration + 1e-9 && duration > 0.0 {
        let x = left + (t / duration * f64::from(PLOT_WIDTH - 1)) as i32;
        root.draw(&PathElement::new(vec![(x, bottom), (x, bottom + 5)], BLACK))?;
        let label = if step < 1.0 {
            format!("{t:.1}")
        } else {
            format!("{t:.0}")
        };
        root.draw(&Text::new(
            label,
            (x, bottom + 8),
            style(11, HPos::Center, VPos::Top),
        ))?;
        t += step;
    }
    root.draw(&Text::new(
        "time (s)",
        ((left + right) / 2, height as i32 - 12),
        style(13, HPos::Center, VPos::Center),
    ))?;
    let middle = (panel_top(0) as i32 + bottom) / 2;
    root.draw(&Text::new(
        "frequency (Hz, log scale)",
        (16, middle),
        (FAMILY, 13)
            .into_font()
            .transform(FontTransform::Rotate270)
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    // The colour bar: a frame, dB labels every 20 dB, its name.
    let (x0, x1, y0, y1) = colour_bar_box(height);
    let (x0, x1, y0, y1) = (x0 as i32, x1 as i32, y0 as i32, y1 as i32);
    root.draw(&Rectangle::new([(x0 - 1, y0 - 1), (x1, y1)], BLACK))?;
    let mut level = (scale.1 / 20.0).floor() * 20.0;
    while level >= scale.0 {
        let y = y0 + ((scale.1 - level) / (scale.1 - scale.0) * (y1 - y0 - 1) as f32) as i32;
        root.draw(&PathElement::new(vec![(x1, y), (x1 + 4, y)], BLACK))?;
        root.draw(&Text::new(
            format!("{level:.0}"),
            (x1 + 7, y),
            style(11, HPos::Left, VPos::Center),
        ))?;
        level -= 20.0;
    }
    root.draw(&Text::new(
        "dB",
        ((x0 + x1) / 2, y0 - 12),
        style(12, HPos::Center, VPos::Center),
    ))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f32, seconds: f32, sample_rate: u32) -> AudioBuffer {
        let n = (seconds * sample_rate as f32) as usize;
        let s: Vec<f32> = (0..n)
            .map(|i| {
                0.5 * (2.0 * std::f32::consts::PI * freq * i as f32 / sample_rate as f32).sin()
            })
            .collect();
        AudioBuffer::new(sample_rate, vec![s.clone(), s]).unwrap()
    }

    /// The row of a panel where frequency `f` is drawn.
    fn row_of(f: f64, sample_rate: u32) -> u32 {
        let (lo, hi) = frequency_range(sample_rate, fft_size(sample_rate));
        PANEL_HEIGHT - 1 - ((f / lo).ln() / (hi / lo).ln() * f64::from(PANEL_HEIGHT - 1)) as u32
    }

    #[test]
    fn a_tone_is_bright_at_its_frequency_and_silence_is_dark() {
        let rate = 16000;
        let tone = sine(1000.0, 2.0, rate);
        let silence = AudioBuffer::silence(rate, 2, tone.nb_frames());
        let png = render("test", &[("tone", &tone), ("silence", &silence)]).unwrap();
        let image = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(image.dimensions(), (WIDTH, height(2)));
        let bright = colour(0.95);
        let near = |p: [u8; 3], q: [u8; 3]| p.iter().zip(q).all(|(a, b)| a.abs_diff(b) < 40);
        let x = PLOT_LEFT + PLOT_WIDTH / 2;
        let y = panel_top(0) + row_of(1000.0, rate);
        assert!(
            near(image.get_pixel(x, y).0, bright),
            "1 kHz row of the tone: {:?}",
            image.get_pixel(x, y).0
        );
        // Far from 1 kHz the tone's panel is dark, and the silent panel is dark everywhere.
        let dark = colour(0.0);
        let y_far = panel_top(0) + row_of(100.0, rate);
        assert!(near(image.get_pixel(x, y_far).0, dark));
        assert!(near(
            image.get_pixel(x, panel_top(1) + row_of(1000.0, rate)).0,
            dark
        ));
        // Labels are drawn left of the panels and below the last one.
        let dark_text = |x0: u32, x1: u32, y0: u32, y1: u32| {
            (x0..x1)
                .flat_map(|x| (y0..y1).map(move |y| (x, y)))
                .filter(|&(x, y)| image.get_pixel(x, y).0.iter().all(|&c| c < 100))
                .count()
        };
        assert!(dark_text(20, PLOT_LEFT - 6, panel_top(0), panel_top(0) + PANEL_HEIGHT) > 30);
        assert!(dark_text(PLOT_LEFT, WIDTH - 100, height(2) - 40, height(2)) > 50);
    }

    #[test]
    fn panels_of_other_lengths_are_refused() {
        let a = sine(440.0, 1.0, 8000);
        let b = sine(440.0, 0.5, 8000);
        let err = render("t", &[("mix", &a), ("vocals", &b)]).unwrap_err();
        assert!(err.contains("vocals"), "{err}");
        assert!(render("t", &[]).is_err());
    }
}
