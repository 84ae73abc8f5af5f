//! Redraws `history.png` of model folders from their `history.csv` (e.g. after an upgrade of
//! the plot), atomically, as `saex train` draws it.
//!
//! ```text
//! cargo run --release --example plot_history -- MODEL_DIR ...
//! ```

use saex::train::{read_history, write_history_png, HISTORY_CSV, HISTORY_PNG};
use std::path::Path;

fn main() -> anyhow::Result<()> {
    let dirs: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(!dirs.is_empty(), "usage: plot_history MODEL_DIR ...");
    for dir in &dirs {
        let dir = Path::new(dir);
        let rows = read_history(&dir.join(HISTORY_CSV))?;
        write_history_png(&dir.join(HISTORY_PNG), &rows)?;
        println!("{}", dir.join(HISTORY_PNG).display());
    }
    Ok(())
}
