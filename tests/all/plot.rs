//! `saex extract --plot` and `saex batch --plot`: the spectrogram figure of a separation.

use crate::common::{saex, write_tones, Setup};
use predicates::prelude::*;
use saex::spectrogram::{height, panel_top, PANEL_HEIGHT, PLOT_LEFT, PLOT_WIDTH, WIDTH};

/// The share of a panel's pixels that are not the colour map's darkest colour (energy shown).
fn lit_share(image: &image::RgbImage, panel: usize) -> f64 {
    let dark = saex::spectrogram::colour(0.0);
    let top = panel_top(panel);
    let mut lit = 0usize;
    for y in top..top + PANEL_HEIGHT {
        for x in PLOT_LEFT..PLOT_LEFT + PLOT_WIDTH {
            let p = image.get_pixel(x, y).0;
            if p.iter().zip(dark).any(|(a, b)| a.abs_diff(b) > 30) {
                lit += 1;
            }
        }
    }
    lit as f64 / f64::from(PANEL_HEIGHT * PLOT_WIDTH)
}

#[test]
fn extract_plot_draws_mix_target_and_residual() {
    let s = Setup::new();
    let mix = s.path("song.wav");
    write_tones(&mix, 22050, 2, 22050);
    let plot = s.path("figure.png");
    s.extract(&mix, &s.path("vocals.wav"))
        .arg("--plot")
        .arg(&plot)
        .assert()
        .success();
    let image = image::open(&plot).unwrap().to_rgb8();
    // Three panels: mix, vocals, residual.
    assert_eq!(image.dimensions(), (WIDTH, height(3)));
    // The mix has energy (tones and noise) over most of its panel.
    let mix_lit = lit_share(&image, 0);
    assert!(mix_lit > 0.3, "mix panel lit {mix_lit:.2}");
}

#[test]
fn extract_plot_of_silence_is_dark_and_the_residual_is_the_rest() {
    let s = Setup::new();
    let mix = s.path("silence.wav");
    let silence = saex::AudioBuffer::silence(22050, 1, 11025);
    saex::write_wav(&mix, &silence, saex::SampleFormat::Pcm16).unwrap();
    let plot = s.path("silence.png");
    s.extract(&mix, &s.path("vocals.wav"))
        .arg("--residual")
        .arg(s.path("rest.wav"))
        .arg("--plot")
        .arg(&plot)
        .assert()
        .success();
    let image = image::open(&plot).unwrap().to_rgb8();
    for panel in 0..3 {
        assert!(
            lit_share(&image, panel) < 0.01,
            "panel {panel} of silence is lit"
        );
    }
}

#[test]
fn extract_plot_refusals_name_the_problem() {
    let s = Setup::new();
    let mix = s.path("song.wav");
    write_tones(&mix, 22050, 1, 4000);
    s.extract(&mix, &s.path("vocals.wav"))
        .arg("--plot")
        .arg(s.path("figure.jpg"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("figure.jpg: the figure is a PNG"));
    s.extract(&mix, "-".as_ref())
        .arg("--plot")
        .arg(s.path("figure.png"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "standard output is not a regular file",
        ));
    let other = s.path("other.wav");
    write_tones(&other, 22050, 1, 4000);
    saex()
        .args(["extract", "--quiet", "--device", "cpu", "--model"])
        .arg(s.path("vocals"))
        .arg(&mix)
        .arg(&other)
        .arg("--plot")
        .arg(s.path("figure.png"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "names one figure, for one input (2 given)",
        ));
    assert!(!s.path("figure.png").exists());
    assert!(
        !s.path("vocals.wav").exists(),
        "nothing separated before the checks"
    );
}

#[test]
fn batch_plot_draws_one_figure_per_file() {
    let s = Setup::new();
    let input = s.path("in");
    std::fs::create_dir(&input).unwrap();
    write_tones(&input.join("a.wav"), 22050, 2, 8000);
    write_tones(&input.join("b.wav"), 22050, 1, 6000);
    let out = s.path("out");
    s.batch(&input, &out)
        .arg("--plot")
        .arg("--quiet")
        .assert()
        .success();
    for name in ["a", "b"] {
        let figure = out.join(name).join("vocals.png");
        let image = image::open(&figure)
            .unwrap_or_else(|e| panic!("{}: {e}", figure.display()))
            .to_rgb8();
        // mix, vocals, residual (computed: this batch writes no residual file).
        assert_eq!(image.dimensions(), (WIDTH, height(3)), "{name}");
    }
}
