//! Compares training runs from their history.csv files: prints a Markdown table of the
//! validation loss after each layer's init and at the end of each stage, and the time (training
//! seconds, init included) until the validation loss first reached THRESHOLD; draws the
//! validation curves into one PNG (colours in order: red, blue, green, orange, purple).
//!
//! ```text
//! cargo run --release --example compare_histories -- [--seconds] OUT.png THRESHOLD LABEL=MODEL_DIR ...
//! ```
//!
//! `--seconds`: the curves against wall-clock seconds (inits included) instead of epochs.

use anyhow::Context;
use plotters::style::RGBColor;
use saex::train::{render_comparison, HistoryRow, XAxis, HISTORY_CSV, PALETTE};
use std::path::Path;

fn read_history(dir: &Path) -> anyhow::Result<Vec<HistoryRow>> {
    Ok(saex::train::read_history(&dir.join(HISTORY_CSV))?)
}

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let x = if args.first().is_some_and(|a| a == "--seconds") {
        args.remove(0);
        XAxis::Seconds
    } else {
        XAxis::Epochs
    };
    anyhow::ensure!(
        args.len() >= 3,
        "usage: compare_histories [--seconds] OUT.png THRESHOLD LABEL=MODEL_DIR ..."
    );
    let threshold: f64 = args[1].parse()?;
    let mut runs = Vec::new();
    for spec in &args[2..] {
        let (label, dir) = spec.split_once('=').context("expected LABEL=MODEL_DIR")?;
        runs.push((label.to_string(), read_history(Path::new(dir))?));
    }
    let stages: Vec<String> = {
        let mut s: Vec<String> = Vec::new();
        for row in &runs[0].1 {
            if !s.contains(&row.stage) {
                s.push(row.stage.clone());
            }
        }
        s
    };
    let mut header = String::from("| init |");
    let mut rule = String::from("|---|");
    for stage in &stages {
        if stage != "finetune" {
            header.push_str(&format!(" layer {stage} init | stage {stage} end |"));
            rule.push_str("---:|---:|");
        } else {
            header.push_str(" fine-tuned |");
            rule.push_str("---:|");
        }
    }
    header.push_str(&format!(
        " best | epochs to valid loss <= {threshold} | seconds to it | total seconds |"
    ));
    rule.push_str("---:|---:|---:|---:|");
    println!("{header}\n{rule}");
    for (label, history) in &runs {
        let mut line = format!("| {label} |");
        for stage in &stages {
            let rows: Vec<&HistoryRow> = history.iter().filter(|r| &r.stage == stage).collect();
            if stage != "finetune" {
                let init = rows.iter().find(|r| r.epoch == 0).map(|r| r.valid_loss);
                line.push_str(&format!(
                    " {} |",
                    init.map_or("-".into(), |l| format!("{l:.4}"))
                ));
            }
            let end = rows.last().map(|r| r.valid_loss);
            line.push_str(&format!(
                " {} |",
                end.map_or("-".into(), |l| format!("{l:.4}"))
            ));
        }
        let best = history
            .iter()
            .map(|r| r.valid_loss)
            .fold(f64::INFINITY, f64::min);
        let mut elapsed = 0.0;
        let mut epochs = 0;
        let mut reached = None;
        for row in history {
            elapsed += row.seconds;
            epochs += usize::from(row.epoch > 0);
            if row.valid_loss <= threshold {
                reached = Some((epochs, elapsed));
                break;
            }
        }
        let total: f64 = history.iter().map(|r| r.seconds).sum();
        let (epochs, seconds) = match reached {
            Some((e, s)) => (e.to_string(), format!("{s:.1}")),
            None => ("not reached".to_string(), "-".to_string()),
        };
        line.push_str(&format!(" {best:.4} | {epochs} | {seconds} | {total:.1} |"));
        println!("{line}");
    }
    let curves: Vec<(&[HistoryRow], RGBColor, &str)> = runs
        .iter()
        .zip(PALETTE.iter().cycle())
        .map(|((label, h), c)| (h.as_slice(), *c, label.as_str()))
        .collect();
    let png = render_comparison(&curves, x).map_err(anyhow::Error::msg)?;
    std::fs::write(&args[0], png).with_context(|| args[0].clone())?;
    Ok(())
}
