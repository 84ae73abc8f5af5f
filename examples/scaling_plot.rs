//! The model scaling study's table and figure (issue 14): for each trained model, its shape,
//! parameters, training minutes, best validation loss and the median vocals SDR of its ratio
//! mask on the test and ood splits, read from the model folder and from `saex eval`'s
//! summary.json files. Prints a Markdown table and writes the figure (SDR against minutes and
//! against parameters).
//!
//! ```text
//! cargo run --release --example scaling_plot -- OUT.png LABEL=MODEL_DIR=TEST_SUMMARY=OOD_SUMMARY ...
//! ```
//!
//! Runs with one LABEL (one shape trained for different times) form one curve.

use anyhow::Context;
use saex::model::Model;
use saex::train::{render_scaling, ScalingRun};
use serde_json::Value;
use std::path::Path;

/// The median SDR of `target` in a summary.json of `saex eval`.
fn median_sdr(summary: &Path, target: &str) -> anyhow::Result<f64> {
    let text = std::fs::read_to_string(summary).with_context(|| summary.display().to_string())?;
    let json: Value = serde_json::from_str(&text)?;
    json["targets"]
        .as_array()
        .and_then(|targets| targets.iter().find(|t| t["target"] == target))
        .and_then(|t| t["metrics"]["SDR"].as_f64())
        .with_context(|| format!("{}: no SDR of {target}", summary.display()))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        args.len() >= 2,
        "usage: scaling_plot OUT.png LABEL=MODEL_DIR=TEST_SUMMARY=OOD_SUMMARY ..."
    );
    println!(
        "| shape | model | parameters | training minutes | best valid loss | SDR test | SDR ood |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    let mut runs = Vec::new();
    for spec in &args[1..] {
        let parts: Vec<&str> = spec.split('=').collect();
        let [label, dir, test, ood] = parts[..] else {
            anyhow::bail!("expected LABEL=MODEL_DIR=TEST_SUMMARY=OOD_SUMMARY, got {spec}");
        };
        let dir = Path::new(dir);
        let model = Model::load(dir, tch::Device::Cpu)?;
        let config: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json"))?)?;
        let training = &config["training"];
        let seconds = training["seconds"]
            .as_f64()
            .context("no training seconds")?;
        let target = config["target"].as_str().context("no target")?;
        let run = ScalingRun {
            label: label.to_string(),
            parameters: model.nb_parameters(),
            minutes: seconds / 60.0,
            sdr_test: median_sdr(Path::new(test), target)?,
            sdr_ood: median_sdr(Path::new(ood), target)?,
        };
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        println!(
            "| {label} | {name} | {:.2} M | {:.1} | {:.3} | {:.2} | {:.2} |",
            run.parameters as f64 / 1e6,
            run.minutes,
            training["best_valid_loss"].as_f64().unwrap_or(f64::NAN),
            run.sdr_test,
            run.sdr_ood
        );
        runs.push(run);
    }
    let title =
        "Vocals SDR (BSS Eval v4, ratio mask, median over tracks) on corpus-v2's eval subsets";
    let png = render_scaling(title, &runs).map_err(anyhow::Error::msg)?;
    std::fs::write(&args[0], png).with_context(|| args[0].clone())?;
    Ok(())
}
