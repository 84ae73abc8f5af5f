//! The edges a new-user trial found (issue 32), each reproduced in a temporary folder: paths
//! never leave the folders they were given. Rows in docs/reliability.md.

use crate::common::{listing, write_tones, Setup};
use saex::audio::OutputFormat;
use saex::batch::{BatchJob, Shard};

/// `--filename '{folder}/{target}.wav'` (the README's MUSDB template) with a mix directly under
/// `--in`: `{folder}` is empty, and the outputs once went to `/vocals.wav` and
/// `/accompaniment.wav`. The plan is checked first, so that a regression fails here without
/// writing anywhere but the temporary folder.
#[test]
fn an_empty_folder_placeholder_stays_below_the_output_folder() {
    let s = Setup::new();
    let (input, out) = (s.path("in"), s.path("out"));
    std::fs::create_dir(&input).unwrap();
    write_tones(&input.join("mixture.wav"), 22050, 1, 4000);
    for (template, expected) in [
        ("{folder}/{target}.wav", ["accompaniment.wav", "vocals.wav"]),
        (
            "{folder}/{name}/{target}.wav",
            ["mixture/accompaniment.wav", "mixture/vocals.wav"],
        ),
    ] {
        let job = BatchJob {
            input_dir: input.clone(),
            output_dir: out.clone(),
            template: template.into(),
            residual: Some("accompaniment".into()),
            shard: Shard::ALL,
            overwrite: true,
            format: OutputFormat::default(),
            include: vec!["mixture.wav".into()],
        };
        let plan = job.plan(&["vocals"]).unwrap();
        for path in plan[0].outputs.paths() {
            assert!(path.starts_with(&out), "{template}: {}", path.display());
        }
        s.batch(&input, &out)
            .args(["--filename", template, "--residual", "accompaniment"])
            .args(["--include", "mixture.wav", "--overwrite"])
            .assert()
            .success();
        for name in expected {
            assert!(
                out.join(name).is_file(),
                "{template}: no {name} in {:?}",
                listing(&out)
            );
        }
        std::fs::remove_dir_all(&out).unwrap();
    }
}
