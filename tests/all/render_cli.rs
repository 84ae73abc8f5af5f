//! `saex render` from the command line: the track-folder layout, the exit codes and the exact
//! error messages.

use crate::common::{listing, saex};
use crate::render_support;
use predicates::prelude::*;
use render_support::{song_midi, test_soundfont};
use saex::render::{StemMap, StemTable};
use std::path::Path;

fn setup(dir: &Path) {
    std::fs::write(dir.join("font.sf2"), test_soundfont()).unwrap();
    std::fs::create_dir(dir.join("midi")).unwrap();
    std::fs::write(dir.join("midi/song one.mid"), song_midi()).unwrap();
}

#[test]
fn renders_a_file_then_skips_it_then_overwrites_it() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let args = [
        "render",
        "--midi",
        "midi/song one.mid",
        "--soundfont",
        "font.sf2",
        "--out",
        "data/train",
        "--family",
        "keys=0..7",
        "--sample-rate",
        "22050",
    ];
    saex()
        .current_dir(dir.path())
        .args(args)
        .assert()
        .success()
        .stderr("")
        .stdout(predicate::str::starts_with(
            "midi/song one.mid -> data/train/song one (bass, drums, guitar, keys, other, vocals; 3.",
        ));
    assert_eq!(
        listing(&dir.path().join("data/train/song one")),
        [
            "bass.wav",
            "drums.wav",
            "guitar.wav",
            "keys.wav",
            "mixture.wav",
            "other.wav",
            "vocals.wav"
        ]
    );
    let mixture = saex::read_audio(dir.path().join("data/train/song one/mixture.wav")).unwrap();
    assert_eq!((mixture.sample_rate, mixture.nb_channels()), (22_050, 2));
    saex()
        .current_dir(dir.path())
        .args(args)
        .assert()
        .success()
        .stdout("midi/song one.mid: skipped, data/train/song one exists (use --overwrite to replace it)\n");
    saex()
        .current_dir(dir.path())
        .args(args)
        .args(["--overwrite", "--quiet"])
        .assert()
        .success()
        .stdout("")
        .stderr("");
    assert_eq!(listing(&dir.path().join("data/train")), ["song one"]);
}

#[test]
fn a_folder_with_a_bad_file_renders_the_others_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(dir.path().join("midi/broken.mid"), b"not midi").unwrap();
    std::fs::write(dir.path().join("map.json"), r#"{"everything": "0..127"}"#).unwrap();
    saex()
        .current_dir(dir.path())
        .args(["render", "--midi", "midi", "--soundfont", "font.sf2", "--out", "out"])
        .args(["--map", "map.json", "--vocals-track", "nothing", "--quiet"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            "saex: error: midi/broken.mid: not a readable MIDI file: invalid midi: not a midi file\n\
             saex: 1 of 2 MIDI files failed\n",
        );
    assert_eq!(listing(&dir.path().join("out")), ["song one"]);
    assert_eq!(
        listing(&dir.path().join("out/song one")),
        // Vocals has no notes here (no vocal track, no program of its own): written silent.
        ["drums.wav", "everything.wav", "mixture.wav", "vocals.wav"]
    );
}

#[test]
fn a_folder_keeps_its_subfolders_and_every_stem_so_it_trains_as_is() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    for sub in ["train", "valid"] {
        std::fs::create_dir(dir.path().join("midi").join(sub)).unwrap();
    }
    std::fs::rename(
        dir.path().join("midi/song one.mid"),
        dir.path().join("midi/train/song one.mid"),
    )
    .unwrap();
    std::fs::write(dir.path().join("midi/train/two.mid"), song_midi()).unwrap();
    std::fs::write(dir.path().join("midi/valid/three.mid"), song_midi()).unwrap();
    // Every program is keys and no track is vocal: vocals is silent in every song.
    saex()
        .current_dir(dir.path())
        .args([
            "render",
            "--midi",
            "midi",
            "--soundfont",
            "font.sf2",
            "--out",
            "data",
        ])
        .args(["--family", "keys=0..127", "--vocals-track", "nothing"])
        .args(["--sample-rate", "16000"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "midi/train/song one.mid -> data/train/song one (drums, keys; silent: vocals; 3.",
        ))
        .stdout(predicate::str::contains(
            "midi/valid/three.mid -> data/valid/three (drums, keys; silent: vocals; 3.",
        ));
    let data = dir.path().join("data");
    assert_eq!(listing(&data), ["train", "valid"]);
    assert_eq!(listing(&data.join("train")), ["song one", "two"]);
    assert_eq!(listing(&data.join("valid")), ["three"]);
    assert_eq!(
        listing(&data.join("valid/three")),
        ["drums.wav", "keys.wav", "mixture.wav", "vocals.wav"]
    );
    let vocals = saex::read_audio(data.join("valid/three/vocals.wav")).unwrap();
    let mixture = saex::read_audio(data.join("valid/three/mixture.wav")).unwrap();
    assert_eq!(vocals.nb_frames(), mixture.nb_frames());
    assert!(vocals.channels.iter().flatten().all(|&x| x == 0.0));

    // The rendered folder trains as is, for a stem that is silent in it too.
    saex()
        .args(["train", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(dir.path().join("model"))
        .args(crate::common::TINY_TRAIN)
        .args([
            "--layers",
            "1",
            "--epochs-per-stage",
            "1",
            "--finetune-epochs",
            "0",
        ])
        .args(["--frames-per-epoch", "300", "--quiet"])
        .assert()
        .success();
    assert!(dir.path().join("model/model.safetensors").is_file());
}

#[test]
fn fatal_errors_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    std::fs::write(dir.path().join("bad.sf2"), b"RIFF\x04\x00\x00\x00sfbk").unwrap();
    std::fs::write(dir.path().join("a file"), b"").unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["--midi", "nope.mid", "--soundfont", "font.sf2", "--out", "out"],
            "saex: error: nope.mid: No such file or directory (os error 2)\n",
        ),
        (
            &["--midi", "midi", "--soundfont", "bad.sf2", "--out", "out"],
            "saex: error: bad.sf2: not a usable SoundFont (SF2): expected the lists INFO, sdta and pdta in that order, found []\n",
        ),
        (
            &["--midi", "midi", "--soundfont", "font.sf2", "--out", "a file/out"],
            // The OS's reason follows.
            "saex: error: a file/out: cannot create the output folder: ",
        ),
        (
            &["--midi", "midi", "--soundfont", "font.sf2", "--out", "out", "--family", "bass=40..30"],
            "saex: error: family bass=40..30: range \"40..30\": expected lo <= hi\n",
        ),
        (
            &["--midi", "midi", "--soundfont", "font.sf2", "--out", "out", "--sample-rate", "8000"],
            "saex: error: sample rate 8000: expected 16000 to 192000 Hz\n",
        ),
    ];
    for (args, stderr) in cases {
        let assert = saex()
            .current_dir(dir.path())
            .arg("render")
            .args(args)
            .assert()
            .code(2)
            .stdout("");
        if stderr.ends_with('\n') {
            assert.stderr(stderr);
        } else {
            assert.stderr(predicate::str::starts_with(stderr));
        }
    }
    assert!(
        !dir.path().join("out").exists(),
        "nothing written on fatal errors"
    );
}

/// The stem map printed by `saex render --print-stem-map` (the table the corpus builders read).
fn printed_stem_map(args: &[&str]) -> StemTable {
    let output = saex()
        .args(["render", "--print-stem-map"])
        .args(args)
        .assert()
        .success()
        .stderr("")
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&output).expect("the printed stem map is a StemTable in JSON")
}

#[test]
fn print_stem_map_prints_the_general_midi_map_and_the_overrides() {
    let gm = StemMap::general_midi();
    let table = printed_stem_map(&[]);
    assert_eq!(table, gm.table());
    assert_eq!(table.drum_channel, 9);
    assert_eq!(
        table.stems,
        ["drums", "bass", "piano", "guitar", "vocals", "other"]
    );
    for program in 0..=127u8 {
        assert_eq!(
            table.programs[usize::from(program)],
            gm.program_stem(program),
            "program {program}"
        );
    }

    let mut map = StemMap::general_midi();
    map.set_family("keys=0..7").unwrap();
    map.set_vocal_tracks(&["lead"]);
    let table = printed_stem_map(&["--family", "keys=0..7", "--vocals-track", "lead"]);
    assert_eq!(table, map.table());
    assert_eq!(table.vocal_tracks, ["lead"]);
    assert_eq!(
        table.stems,
        ["drums", "bass", "guitar", "vocals", "keys", "other"]
    );

    // Nothing to render with it.
    saex()
        .args(["render", "--print-stem-map", "--midi", "song.mid"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "the argument '--print-stem-map' cannot be used with",
        ));
}
