//! Progress bars (indicatif) that stay hidden when stderr is not a terminal or when asked to be
//! quiet, so logs and CI output carry no control characters.
//!
//! The speed and the time left are the averages since the bar started, shown once
//! [`WARMUP`] has passed: indicatif's own estimate follows the last few steps, which for a
//! pipeline that reports in large blocks can read absurd values at the start (a first block
//! decoded in milliseconds), and frames per second say less than a multiple of real time.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
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

/// The widest line a bar draws: the terminal's usual width. A bar's message is cut to what is
/// left beside the rest of its text (at its widest) and a bar of at least [`MIN_BAR`] columns,
/// so that a line never wraps on an 80-column terminal.
const LINE_WIDTH: usize = 80;

/// Columns of the narrowest bar drawn beside the longest message.
const MIN_BAR: usize = 6;

/// The widest `(speed, time left)` of a bar in multiples of real time:
/// `(1234x real time, 1:02:03 left)`.
const REAL_TIME_SPEED_WIDTH: usize = 31;

/// The widest `(speed, time left)` of a bar in units per second, less the unit's name:
/// `(1,234,567 frames/s, 1:02:03 left)`.
const PER_SECOND_SPEED_WIDTH: usize = 28;

/// A progress bar whose message is cut to fit [`LINE_WIDTH`] (`...` at the end); everything
/// else is [`ProgressBar`]'s.
pub struct Bar {
    inner: ProgressBar,
    max_message: usize,
}

impl std::ops::Deref for Bar {
    type Target = ProgressBar;
    fn deref(&self) -> &ProgressBar {
        &self.inner
    }
}

impl Bar {
    /// Sets the message, cut to the columns the line has room for.
    pub fn set_message(&self, message: impl Into<String>) {
        self.inner
            .set_message(fit(&message.into(), self.max_message));
    }
}

/// `text` cut to at most `width` characters, ending in `...` when cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width.saturating_sub(3)).collect();
    kept + "..."
}

/// A bar over `len` units named `unit` (e.g. "files"): `3/10 files`, with the speed in units
/// per second and the time left; hidden unless [`enabled`].
pub fn bar(len: u64, unit: &str, quiet: bool) -> Bar {
    with_target(
        Some(len),
        unit,
        Rate::PerSecond,
        Position::Count,
        draw_target(quiet),
    )
}

/// A bar over `len` units named `unit` (e.g. "frames") shown as a percentage, with the speed in
/// units per second and the time left: for counts too large to show whole (a training epoch's
/// frames); hidden unless [`enabled`].
pub fn percent_bar(len: u64, unit: &str, quiet: bool) -> Bar {
    with_target(
        Some(len),
        unit,
        Rate::PerSecond,
        Position::Percent,
        draw_target(quiet),
    )
}

/// A bar over `len` units of audio (`None`: unknown, e.g. a stream), its position shown as
/// audio time (`0:28/3:05`) and its speed as a multiple of real time; `units_per_second` units
/// make one second of audio (the sample rate for frames, 1 for seconds).
pub fn audio_bar(len: Option<u64>, units_per_second: f64, quiet: bool) -> Bar {
    let rate = Rate::RealTime { units_per_second };
    with_target(len, "", rate, Position::AudioTime, draw_target(quiet))
}

/// How a bar shows where it is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Position {
    /// `3/10 files`.
    Count,
    /// ` 37%`.
    Percent,
    /// `0:28/3:05` (audio time).
    AudioTime,
}

fn with_target(
    len: Option<u64>,
    unit: &str,
    rate: Rate,
    position: Position,
    target: ProgressDrawTarget,
) -> Bar {
    let bar = ProgressBar::with_draw_target(len, target);
    let template = match (len.is_some(), position) {
        (true, Position::Count) => {
            format!("{{msg}} {{wide_bar}} {{human_pos}}/{{human_len}} {unit} ({{speed}}, {{left}})")
        }
        (true, Position::Percent) => "{msg} {wide_bar} {percent:>3}% ({speed}, {left})".into(),
        (true, Position::AudioTime) => {
            "{msg} {wide_bar} {time}/{total_time} ({speed}, {left})".into()
        }
        (false, Position::AudioTime) => "{msg} {time} ({speed})".into(),
        (false, _) => format!("{{msg}} {{human_pos}} {unit} ({{speed}})"),
    };
    let seconds = move |units: u64| match rate {
        Rate::RealTime { units_per_second } => {
            (units as f64 / units_per_second.max(f64::MIN_POSITIVE)) as u64
        }
        Rate::PerSecond => units,
    };
    let unit_name = unit.to_string();
    bar.set_style(
        ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "speed",
                move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ =
                        w.write_str(&speed_text(state.pos(), state.elapsed(), rate, &unit_name));
                },
            )
            .with_key(
                "left",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&time_left_text(state.pos(), state.len(), state.elapsed()));
                },
            )
            .with_key(
                "time",
                move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&clock(seconds(state.pos())));
                },
            )
            .with_key(
                "total_time",
                move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&clock(seconds(state.len().unwrap_or(0))));
                },
            )
            .progress_chars("=> "),
    );
    // The widest text beside the message and the bar: the spaces around the bar, the
    // position at its end, the speed and the time left.
    let position_width = match position {
        Position::Count => {
            let count = indicatif::HumanCount(len.unwrap_or(0)).to_string().len();
            2 * count + 2 + unit.len()
        }
        Position::Percent => 4,
        Position::AudioTime => 2 * clock(seconds(len.unwrap_or(0))).len() + 1,
    };
    let speed_width = match rate {
        Rate::RealTime { .. } => REAL_TIME_SPEED_WIDTH,
        Rate::PerSecond => PER_SECOND_SPEED_WIDTH + unit.len(),
    };
    let fixed = 3 + position_width + speed_width;
    Bar {
        inner: bar,
        max_message: LINE_WIDTH.saturating_sub(fixed + MIN_BAR).max(8),
    }
}

/// `m:ss` or `h:mm:ss`.
fn clock(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
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
    clock(left) + " left"
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

    /// What a bar draws, line by line, on a terminal [`LINE_WIDTH`] columns wide.
    #[derive(Debug, Default, Clone)]
    struct Screen(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            LINE_WIDTH as u16
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.0.lock().unwrap().push(s.to_string());
            Ok(())
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.write_line(s)
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The widest line of each bar as it is used, at its longest (an hour of audio at half real
    /// time, four stems, a training epoch of a million frames on a fast GPU), fits 80 columns
    /// (was: 82 for `extract` on a 3-minute file, 118 for `train`).
    #[test]
    fn every_bar_fits_80_columns() {
        let hour = 3_700 * 44_100;
        type Case = (
            Option<u64>,
            u64,
            Duration,
            &'static str,
            Rate,
            Position,
            String,
        );
        let cases: Vec<Case> = vec![
            (
                Some(hour),
                hour / 3,
                Duration::from_secs(2_500),
                "",
                Rate::RealTime {
                    units_per_second: 44_100.0,
                },
                Position::AudioTime,
                "extracting vocals, drums, bass, other".into(),
            ),
            (
                Some(180 * 44_100),
                44_100,
                Duration::from_millis(1_500),
                "",
                Rate::RealTime {
                    units_per_second: 44_100.0,
                },
                Position::AudioTime,
                "extracting vocals".into(),
            ),
            (
                Some(1_000),
                10,
                Duration::from_secs(1),
                "",
                Rate::RealTime {
                    units_per_second: 0.001,
                },
                Position::AudioTime,
                "extracting vocals".into(),
            ),
            (
                None,
                hour,
                Duration::from_secs(5),
                "",
                Rate::RealTime {
                    units_per_second: 44_100.0,
                },
                Position::AudioTime,
                "extracting vocals, drums, bass, other and more".into(),
            ),
            (
                Some(36_000),
                1_200,
                Duration::from_secs(30),
                "",
                Rate::RealTime {
                    units_per_second: 1.0,
                },
                Position::AudioTime,
                "shard 12/16: 12,345 files".into(),
            ),
            (
                Some(1_000_000),
                990_000,
                Duration::from_secs(1),
                "frames",
                Rate::PerSecond,
                Position::Percent,
                "stage finetune epoch 100/100 loss 0.12345".into(),
            ),
            (
                Some(100_000),
                5,
                Duration::from_secs(20_000),
                "frames",
                Rate::PerSecond,
                Position::Percent,
                "stage 3 epoch 3/10 loss 0.12345".into(),
            ),
            (
                Some(12_345),
                12,
                Duration::from_secs(3),
                "files",
                Rate::PerSecond,
                Position::Count,
                "render".into(),
            ),
        ];
        for (len, pos, elapsed, unit, rate, position, message) in cases {
            let screen = Screen::default();
            let target = ProgressDrawTarget::term_like(Box::new(screen.clone()));
            let bar = with_target(len, unit, rate, position, target);
            bar.set_message(message.clone());
            bar.set_position(pos);
            // The speed shows once the warm-up has passed.
            bar.set_elapsed(elapsed);
            bar.tick();
            let lines = screen.0.lock().unwrap().clone();
            assert!(!lines.is_empty(), "{message}: nothing drawn");
            for line in &lines {
                let width = line.chars().count();
                assert!(width <= LINE_WIDTH, "{message}: {width} columns: {line:?}");
            }
            let drawn = lines.iter().rev().find(|l| !l.is_empty()).expect("a line");
            assert!(
                drawn.contains("left") || len.is_none(),
                "{message}: {lines:?}"
            );
        }
        assert_eq!(fit("extracting vocals", 20), "extracting vocals");
        assert_eq!(fit("extracting vocals, drums", 20), "extracting vocals...");
    }
}
