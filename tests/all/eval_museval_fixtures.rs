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

/// One fixture: museval's metrics and settings, and the signals it scored.
struct Fixture {
    json: Value,
    window: usize,
    hop: usize,
    rate: u32,
    references: Vec<Vec<Vec<f64>>>,
    estimates: Vec<Vec<Vec<f64>>>,
}

impl Fixture {
    fn load(case: &Path) -> Self {
        let text = std::fs::read_to_string(case.join("metrics.json")).unwrap();
        let json: Value = serde_json::from_str(&text).unwrap();
        let count = |key: &str| json[key].as_u64().unwrap() as usize;
        let (nb_sources, nb_channels) = (count("nb_sources"), count("nb_channels"));
        let (window, hop) = (count("window"), count("hop"));
        let (references, rate) =
            read_sources(&case.join("references.wav"), nb_sources, nb_channels);
        let (estimates, _) = read_sources(&case.join("estimates.wav"), nb_sources, nb_channels);
        Fixture {
            window,
            hop,
            rate,
            references,
            estimates,
            json,
        }
    }
}

/// A WAV of `nb_sources * nb_channels` channels as `(nb_sources, nb_channels, nb_samples)`,
/// and its sample rate.
fn read_sources(path: &Path, nb_sources: usize, nb_channels: usize) -> (Vec<Vec<Vec<f64>>>, u32) {
    let audio = saex::read_audio(path).unwrap();
    assert_eq!(
        audio.nb_channels(),
        nb_sources * nb_channels,
        "{}",
        path.display()
    );
    let sources = audio
        .channels
        .chunks(nb_channels)
        .map(|source| {
            source
                .iter()
                .map(|c| c.iter().map(|&v| v as f64).collect())
                .collect()
        })
        .collect();
    (sources, audio.sample_rate)
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
        let Fixture {
            json,
            window,
            hop,
            references,
            estimates,
            ..
        } = Fixture::load(&case);
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

/// `score_sources` (what `saex.evaluate` in Python calls) packs exactly `bss_eval_v4`'s
/// numbers, named in order, with the window and hop in seconds, into museval's JSON.
#[test]
fn score_sources_packs_bss_eval_for_museval_json() {
    use saex::eval::{museval_json, score_sources, BssConfig, FILTERS_LEN};
    for case in fixtures() {
        let Fixture {
            window,
            hop,
            rate,
            references,
            estimates,
            ..
        } = Fixture::load(&case);
        let nb_sources = references.len();
        let names: Vec<String> = (0..nb_sources).map(|j| format!("source{j}")).collect();
        let config = BssConfig {
            window,
            hop,
            filters_len: FILTERS_LEN,
        };
        let scores = score_sources(&names, &references, &estimates, rate, config).unwrap();
        let want = bss_eval_v4(&references, &estimates, window, hop).unwrap();
        assert_eq!(scores.window_secs, window as f64 / rate as f64);
        assert_eq!(scores.hop_secs, hop as f64 / rate as f64);
        assert_eq!(scores.targets.len(), nb_sources);
        let same = |a: &[f64], b: &[f64]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
        };
        for (j, target) in scores.targets.iter().enumerate() {
            assert_eq!(target.name, names[j]);
            assert!(same(&target.sdr, &want.sdr[j]), "{}", case.display());
            assert!(same(&target.isr, &want.isr[j]), "{}", case.display());
            assert!(same(&target.sir, &want.sir[j]), "{}", case.display());
            assert!(same(&target.sar, &want.sar[j]), "{}", case.display());
        }
        // museval writes NaN and infinities bare (Python's json reads them; serde_json not).
        let text = museval_json(&scores)
            .replace("-Infinity", "null")
            .replace("Infinity", "null")
            .replace("NaN", "null");
        let packed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            packed["targets"][0]["frames"].as_array().unwrap().len(),
            want.sdr[0].len()
        );
        // Names that do not name every source once are refused.
        let err = score_sources(&names[1..], &references, &estimates, rate, config).unwrap_err();
        assert!(err.to_string().contains("source names"), "{err}");
        if nb_sources > 1 {
            let twice = vec![names[0].clone(); nb_sources];
            let err = score_sources(&twice, &references, &estimates, rate, config).unwrap_err();
            assert!(err.to_string().contains("given twice"), "{err}");
        }
    }
}
