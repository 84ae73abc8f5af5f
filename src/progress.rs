//! Progress bars (indicatif) that stay hidden when stderr is not a terminal or when asked to be
//! quiet, so logs and CI output carry no control characters.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Whether progress bars should be drawn: stderr is a terminal and `quiet` is off.
pub fn enabled(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A bar over `len` units named `unit` (e.g. "frames", "files"), with rate and ETA; hidden
/// unless [`enabled`].
pub fn bar(len: u64, unit: &str, quiet: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), draw_target(quiet));
    let template = format!(
        "{{msg}} [{{elapsed_precise}}] {{wide_bar}} {{human_pos}}/{{human_len}} {unit} ({{per_sec}}, ETA {{eta}})"
    );
    bar.set_style(
        ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

fn draw_target(quiet: bool) -> ProgressDrawTarget {
    if enabled(quiet) {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}
