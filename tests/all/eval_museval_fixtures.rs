//! Every window's SDR, ISR, SIR and SAR against museval's, on the fixtures that
//! scripts/make-museval-fixtures.sh builds with museval itself.

use saex::eval::bss_eval_v4;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Largest accepted difference from museval, in dB.
const TOLERANCE_DB: f64 = 0.05;

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/museval");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("metrics.json").is_file())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 6,
        "expected the museval fixtures in {}",
        root.display()
    );
    cases
}

/// A WAV of `nb_sources * nb_channels` channels as `(nb_sources, nb_channels, nb_samples)`.
fn read_sources(path: &Path, nb_sources: usize, nb_channels: usize) -> Vec<Vec<Vec<f64>>> {
    let audio = saex::read_audio(path).unwrap();
    assert_eq!(
        audio.nb_channels(),
        nb_sources * nb_channels,
        "{}",
        path.display()
    );
    audio
        .channels
        .chunks(nb_channels)
        .map(|source| {
            source
                .iter()
                .map(|c| c.iter().map(|&v| v as f64).collect())
                .collect()
        })
        .collect()
}

fn value(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) if s == "NaN" => f64::NAN,
        Value::String(s) if s == "Infinity" => f64::INFINITY,
        Value::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
        other => panic!("unexpected metric value {other}"),
    }
}

fn matrix(v: &Value) -> Vec<Vec<f64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(value).collect())
        .collect()
}

#[test]
fn every_window_matches_museval() {
    let mut nb_checked = 0;
    let mut failures = Vec::new();
    let mut max_diff = 0.0f64;
    for case in fixtures() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(case.join("metrics.json")).unwrap())
                .unwrap();
        let nb_sources = json["nb_sources"].as_u64().unwrap() as usize;
        let nb_channels = json["nb_channels"].as_u64().unwrap() as usize;
        let window = json["window"].as_u64().unwrap() as usize;
        let hop = json["hop"].as_u64().unwrap() as usize;
        let references = read_sources(&case.join("references.wav"), nb_sources, nb_channels);
        let estimates = read_sources(&case.join("estimates.wav"), nb_sources, nb_channels);
        let got = bss_eval_v4(&references, &estimates, window, hop).unwrap();
        for (metric, ours) in [
            ("sdr", &got.sdr),
            ("isr", &got.isr),
            ("sir", &got.sir),
            ("sar", &got.sar),
        ] {
            let want = matrix(&json[metric]);
            assert_eq!(ours.len(), want.len(), "{name} {metric}: nb_sources");
            for (j, (ours, want)) in ours.iter().zip(&want).enumerate() {
                assert_eq!(
                    ours.len(),
                    want.len(),
                    "{name} {metric} source {j}: nb_windows"
                );
                for (t, (&a, &b)) in ours.iter().zip(want).enumerate() {
                    let ok = if b.is_finite() {
                        max_diff = max_diff.max((a - b).abs());
                        (a - b).abs() <= TOLERANCE_DB
                    } else if b.is_nan() {
                        a.is_nan()
                    } else {
                        a == b
                    };
                    if !ok {
                        failures.push(format!(
                            "{name} {metric} source {j} window {t}: saex {a}, museval {b}"
                        ));
                    }
                    nb_checked += 1;
                }
            }
        }
    }
    eprintln!("{nb_checked} values compared, largest difference {max_diff:.2e} dB");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(nb_checked > 100, "only {nb_checked} values compared");
}
