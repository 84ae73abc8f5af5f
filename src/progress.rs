//! Progress bars (indicatif) that stay hidden when stderr is not a terminal or when asked to be
//! quiet, so logs and CI output carry no control characters.
//!
//! The speed and the time left are the averages since the bar started, shown once
//! [`WARMUP`] has passed: indicatif's own estimate follows the last few steps, which for a
//! pipeline that reports in large blocks can read absurd values at the start (a first block
//! decoded in milliseconds), and frames per second say less than a multiple of real time.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::fmt::Write;
use std::io::IsTerminal;
use std::time::Duration;

/// Before this much time has passed, no speed or time left is shown (`--`).
const WARMUP: Duration = Duration::from_secs(1);

/// How a bar shows its speed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rate {
    /// Units per second, e.g. `1,234 frames/s`.
    PerSecond,
    /// As a multiple of real time, for units of audio (`units_per_second` of them make a second
    /// of audio: the sample rate for frames, 1 for seconds), e.g. `65x real time`.
    RealTime { units_per_second: f64 },
}

/// Whether progress bars should be drawn: stderr is a terminal and `quiet` is off.
fn enabled(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A bar over `len` units named `unit` (e.g. "frames", "files"), with the speed in units per
/// second and the time left; hidden unless [`enabled`].
pub fn bar(len: u64, unit: &str, quiet: bool) -> ProgressBar {
    bar_with_rate(Some(len), unit, Rate::PerSecond, quiet)
}

/// A bar over `len` units of audio (`None`: unknown, e.g. a stream) shown as a multiple of
/// real time; `units_per_second` units make one second of audio.
pub fn audio_bar(len: Option<u64>, unit: &str, units_per_second: f64, quiet: bool) -> ProgressBar {
    bar_with_rate(len, unit, Rate::RealTime { units_per_second }, quiet)
}

/// A bar over `len` units (`None`: unknown) with `rate`; hidden unless [`enabled`].
fn bar_with_rate(len: Option<u64>, unit: &str, rate: Rate, quiet: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(len, draw_target(quiet));
    let template = if len.is_some() {
        format!("{{msg}} [{{elapsed_precise}}] {{wide_bar}} {{human_pos}}/{{human_len}} {unit} ({{speed}}, {{left}})")
    } else {
        format!("{{msg}} [{{elapsed_precise}}] {{human_pos}} {unit} ({{speed}})")
    };
    let unit = unit.to_string();
    bar.set_style(
        ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "speed",
                move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&speed_text(state.pos(), state.elapsed(), rate, &unit));
                },
            )
            .with_key(
                "left",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&time_left_text(state.pos(), state.len(), state.elapsed()));
                },
            )
            .progress_chars("=> "),
    );
    bar
}

/// The average speed after `pos` units in `elapsed`: `12,345 frames/s` or `65x real time`;
/// `--` during the [`WARMUP`] or before any progress.
fn speed_text(pos: u64, elapsed: Duration, rate: Rate, unit: &str) -> String {
    let secs = elapsed.as_secs_f64();
    if elapsed < WARMUP || pos == 0 {
        return match rate {
            Rate::PerSecond => format!("-- {unit}/s"),
            Rate::RealTime { .. } => "--x real time".to_string(),
        };
    }
    let per_sec = pos as f64 / secs;
    match rate {
        Rate::PerSecond if per_sec >= 10.0 => {
            format!("{} {unit}/s", indicatif::HumanCount(per_sec.round() as u64))
        }
        Rate::PerSecond => format!("{per_sec:.1} {unit}/s"),
        Rate::RealTime { units_per_second } => {
            let factor = per_sec / units_per_second.max(f64::MIN_POSITIVE);
            if factor >= 10.0 {
                format!("{factor:.0}x real time")
            } else {
                format!("{factor:.1}x real time")
            }
        }
    }
}

/// The time left at the average speed so far: `0:42 left`, `1:02:03 left`; `-- left` during
/// the [`WARMUP`], before any progress or when the length is unknown.
fn time_left_text(pos: u64, len: Option<u64>, elapsed: Duration) -> String {
    let Some(len) = len.filter(|_| elapsed >= WARMUP && pos > 0) else {
        return "-- left".to_string();
    };
    let left = (len.saturating_sub(pos) as f64 * elapsed.as_secs_f64() / pos as f64).round() as u64;
    let (h, m, s) = (left / 3600, left / 60 % 60, left % 60);
    let mut text = String::new();
    if h > 0 {
        let _ = write!(text, "{h}:{m:02}:{s:02}");
    } else {
        let _ = write!(text, "{m}:{s:02}");
    }
    text + " left"
}

fn draw_target(quiet: bool) -> ProgressDrawTarget {
    if enabled(quiet) {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_and_time_left_are_averages_shown_after_the_warmup() {
        let ms = Duration::from_millis;
        let audio = Rate::RealTime {
            units_per_second: 44_100.0,
        };
        // A first block done in 2 ms would read 1 billion frames/s: not shown.
        assert_eq!(
            speed_text(2_000_000, ms(2), audio, "frames"),
            "--x real time"
        );
        assert_eq!(time_left_text(2_000_000, Some(8_000_000), ms(2)), "-- left");
        assert_eq!(speed_text(0, ms(5000), audio, "frames"), "--x real time");
        // 3 minutes of audio in 2.5 s; 10 s of audio in 2 s.
        assert_eq!(
            speed_text(180 * 44_100, ms(2500), audio, "frames"),
            "72x real time"
        );
        assert_eq!(
            speed_text(10 * 44_100, ms(2000), audio, "frames"),
            "5.0x real time"
        );
        let seconds = Rate::RealTime {
            units_per_second: 1.0,
        };
        assert_eq!(speed_text(600, ms(8000), seconds, "s"), "75x real time");
        assert_eq!(
            speed_text(123_456, ms(2000), Rate::PerSecond, "frames"),
            "61,728 frames/s"
        );
        assert_eq!(
            speed_text(3, ms(2000), Rate::PerSecond, "files"),
            "1.5 files/s"
        );
        assert_eq!(
            speed_text(3, ms(20), Rate::PerSecond, "files"),
            "-- files/s"
        );
        // A quarter done in 10 s: 30 s left; unknown length: nothing to say.
        assert_eq!(time_left_text(25, Some(100), ms(10_000)), "0:30 left");
        assert_eq!(time_left_text(1, Some(400), ms(10_000)), "1:06:30 left");
        assert_eq!(time_left_text(100, Some(100), ms(10_000)), "0:00 left");
        assert_eq!(time_left_text(25, None, ms(10_000)), "-- left");
    }
}
