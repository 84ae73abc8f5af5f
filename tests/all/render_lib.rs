//! `saex::render` against a SoundFont and a MIDI file made in the test: stems sum to the full
//! render, program changes move notes between stems, same inputs give the same bytes, and bad
//! inputs give errors that name the file.

use crate::render_support;
use render_support::{silent_midi, song_midi, test_soundfont, CHANGE_SECS};
use saex::render::{
    load_soundfont, render_song, render_track, render_tracks, RenderSettings, Song, StemMap,
    TrackOutcome,
};
use saex::AudioBuffer;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn soundfont() -> Arc<rustysynth::SoundFont> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.sf2");
    std::fs::write(&path, test_soundfont()).unwrap();
    load_soundfont(&path).unwrap()
}

fn song() -> Song {
    Song::parse(&song_midi(), "song.mid").unwrap()
}

fn settings(sample_rate: u32) -> RenderSettings {
    RenderSettings {
        sample_rate,
        ..RenderSettings::default()
    }
}

/// 10 log10(|reference|^2 / |reference - estimate|^2) over all channels.
fn snr_db(reference: &AudioBuffer, estimate: &AudioBuffer) -> f64 {
    let (mut signal, mut noise) = (0f64, 0f64);
    for (r, e) in reference.channels.iter().zip(&estimate.channels) {
        for (&r, &e) in r.iter().zip(e) {
            signal += f64::from(r) * f64::from(r);
            noise += (f64::from(r) - f64::from(e)).powi(2);
        }
    }
    10.0 * (signal / noise.max(1e-300)).log10()
}

fn energy(audio: &AudioBuffer, from_secs: f64, to_secs: f64) -> f64 {
    let rate = f64::from(audio.sample_rate);
    let (from, to) = ((from_secs * rate) as usize, (to_secs * rate) as usize);
    audio
        .channels
        .iter()
        .map(|ch| {
            ch[from..to.min(ch.len())]
                .iter()
                .map(|&x| f64::from(x).powi(2))
                .sum::<f64>()
        })
        .sum()
}

#[test]
fn stems_sum_to_the_full_render() {
    let sf = soundfont();
    let song = song();
    for sample_rate in [44_100, 32_000] {
        let rendered = render_song(
            &song,
            &sf,
            &StemMap::general_midi(),
            &settings(sample_rate),
            true,
        )
        .unwrap();
        let names: Vec<&str> = rendered.stems.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["bass", "drums", "guitar", "other", "piano", "vocals"]
        );
        let full = rendered.full.as_ref().unwrap();
        let mixture = rendered.mixture().unwrap();
        assert_eq!(full.nb_channels(), 2);
        assert_eq!(full.sample_rate, sample_rate);
        assert_eq!(mixture.nb_frames(), full.nb_frames());
        let seconds = full.duration_secs();
        assert!(
            (3.5..10.0).contains(&seconds),
            "rate {sample_rate}: {seconds} s"
        );
        for (name, stem) in &rendered.stems {
            assert!(
                energy(stem, 0.0, seconds) > 1e-3,
                "rate {sample_rate}: stem {name} is silent"
            );
        }
        let snr = snr_db(full, &mixture);
        eprintln!(
            "rate {sample_rate}: {seconds:.2} s, stems sum to the full render at {snr:.1} dB"
        );
        assert!(
            snr > 100.0,
            "rate {sample_rate}: stems sum to the full render at {snr:.1} dB"
        );
    }
}

#[test]
fn stems_sum_to_the_full_render_with_reverb_and_chorus() {
    let reverb = RenderSettings {
        reverb_and_chorus: true,
        ..settings(44_100)
    };
    let rendered = render_song(
        &song(),
        &soundfont(),
        &StemMap::general_midi(),
        &reverb,
        true,
    )
    .unwrap();
    let dry = render_song(
        &song(),
        &soundfont(),
        &StemMap::general_midi(),
        &settings(44_100),
        true,
    )
    .unwrap();
    let (full, dry_full) = (rendered.full.as_ref().unwrap(), dry.full.as_ref().unwrap());
    assert_ne!(
        full.channels, dry_full.channels,
        "reverb changes the render"
    );
    let snr = snr_db(full, &rendered.mixture().unwrap());
    eprintln!("with reverb and chorus: stems sum to the full render at {snr:.1} dB");
    // 83 dB measured: rustysynth's reverb flushes values below 1e-6 to zero (against
    // denormals), which is not linear; keep a margin.
    assert!(snr > 60.0, "with reverb and chorus: {snr:.1} dB");
}

#[test]
fn program_changes_move_notes_between_stems() {
    let rendered = render_song(
        &song(),
        &soundfont(),
        &StemMap::general_midi(),
        &settings(44_100),
        false,
    )
    .unwrap();
    let stem = |name: &str| &rendered.stems.iter().find(|(n, _)| n == name).unwrap().1;
    let (piano, bass) = (stem("piano"), stem("bass"));
    // Channel 0 plays piano (held by the pedal) until 2.0 s, then bass.
    assert!(energy(piano, 0.0, CHANGE_SECS) > 1.0);
    assert_eq!(
        energy(bass, 0.0, CHANGE_SECS - 0.01),
        0.0,
        "bass before the change"
    );
    assert!(energy(bass, CHANGE_SECS, CHANGE_SECS + 0.2) > 0.1);
    // Pedal up at the change; the 0.3 s release is over well before 2.0 + 0.6 s.
    assert_eq!(
        energy(piano, CHANGE_SECS + 0.6, 10.0),
        0.0,
        "piano after the change"
    );
    // Channel 1: guitar, then strings (family `other`).
    let (guitar, other) = (stem("guitar"), stem("other"));
    assert!(energy(guitar, 0.0, CHANGE_SECS) > 0.1);
    assert_eq!(energy(guitar, CHANGE_SECS + 0.6, 10.0), 0.0);
    assert_eq!(energy(other, 0.0, CHANGE_SECS - 0.01), 0.0);
    assert!(energy(other, CHANGE_SECS, 10.0) > 0.1);
}

#[test]
fn families_are_configurable() {
    let mut map = StemMap::general_midi();
    map.set_family("keys=0..7,33").unwrap();
    map.set_vocal_tracks(&["nothing matches this"]);
    let rendered = render_song(&song(), &soundfont(), &map, &settings(44_100), false).unwrap();
    let names: Vec<&str> = rendered.stems.iter().map(|(n, _)| n.as_str()).collect();
    // Flute (73) goes to `other` now that the melody track is no vocal track; voice oohs (53)
    // stay `vocals` by program.
    assert_eq!(names, ["drums", "guitar", "keys", "other", "vocals"]);
}

fn read_dir_sorted(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
}

#[test]
fn track_folder_is_deterministic_and_mixture_is_the_sum() {
    let dir = tempfile::tempdir().unwrap();
    let midi = dir.path().join("tune.mid");
    std::fs::write(&midi, song_midi()).unwrap();
    let sf = soundfont();
    let map = StemMap::general_midi();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        std::fs::create_dir(out).unwrap();
        let outcome = render_track(&midi, &sf, &map, &settings(44_100), out, false).unwrap();
        let TrackOutcome::Rendered {
            dir,
            stems,
            silent,
            audio_secs,
            ..
        } = outcome
        else {
            panic!("not rendered: {outcome:?}");
        };
        assert_eq!(dir, out.join("tune"));
        assert_eq!(
            stems,
            ["bass", "drums", "guitar", "other", "piano", "vocals"]
        );
        assert!(silent.is_empty(), "{silent:?}");
        assert!(audio_secs > 3.5);
    }
    // Only the track folder, no leftovers.
    assert_eq!(read_dir_sorted(&a), [a.join("tune")]);
    let names: Vec<String> = read_dir_sorted(&a.join("tune"))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "bass.wav",
            "drums.wav",
            "guitar.wav",
            "mixture.wav",
            "other.wav",
            "piano.wav",
            "vocals.wav"
        ]
    );
    for name in &names {
        let (x, y) = (
            std::fs::read(a.join("tune").join(name)).unwrap(),
            std::fs::read(b.join("tune").join(name)).unwrap(),
        );
        assert!(x == y, "{name} differs between two renders");
    }
    let mixture = saex::read_audio(a.join("tune/mixture.wav")).unwrap();
    assert_eq!((mixture.sample_rate, mixture.nb_channels()), (44_100, 2));
    let mut sum = AudioBuffer::silence(44_100, 2, mixture.nb_frames());
    for name in ["bass", "drums", "guitar", "other", "piano", "vocals"] {
        let stem = saex::read_audio(a.join("tune").join(format!("{name}.wav"))).unwrap();
        assert_eq!(stem.nb_frames(), mixture.nb_frames(), "{name}");
        for (acc, ch) in sum.channels.iter_mut().zip(&stem.channels) {
            acc.iter_mut().zip(ch).for_each(|(a, &x)| *a += x);
        }
    }
    assert_eq!(
        sum, mixture,
        "mixture.wav is the float sum of the stems in name order"
    );
}

#[test]
fn existing_tracks_are_skipped_unless_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let midi = dir.path().join("tune.mid");
    std::fs::write(&midi, song_midi()).unwrap();
    let out = dir.path().join("out");
    let track = out.join("tune");
    std::fs::create_dir_all(&track).unwrap();
    std::fs::write(track.join("stale.txt"), b"old").unwrap();
    let (sf, map) = (soundfont(), StemMap::general_midi());
    let outcome = render_track(&midi, &sf, &map, &settings(44_100), &out, false).unwrap();
    assert_eq!(outcome, TrackOutcome::Skipped { dir: track.clone() });
    assert!(track.join("stale.txt").exists());
    let outcome = render_track(&midi, &sf, &map, &settings(44_100), &out, true).unwrap();
    assert!(matches!(outcome, TrackOutcome::Rendered { .. }));
    assert!(
        !track.join("stale.txt").exists(),
        "the old folder is replaced whole"
    );
    assert!(track.join("mixture.wav").exists());
    assert_eq!(read_dir_sorted(&out), [track], "no hidden leftovers");
}

#[test]
fn bad_inputs_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let sf_path = dir.path().join("broken.sf2");
    let good = test_soundfont();
    // Truncated: chunks claim more bytes than the file has.
    std::fs::write(&sf_path, &good[..good.len() / 2]).unwrap();
    let err = load_soundfont(&sf_path).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: not a usable SoundFont", sf_path.display())),
        "{err}"
    );
    // Not RIFF at all.
    std::fs::write(&sf_path, b"this is a text file, not a SoundFont").unwrap();
    let err = load_soundfont(&sf_path).unwrap_err().to_string();
    assert!(err.contains("broken.sf2: not a usable SoundFont"), "{err}");
    // RIFF sfbk whose lists are not what rustysynth expects.
    let mut wrong = good.clone();
    let at = wrong.windows(4).position(|w| w == b"pdta").unwrap();
    wrong[at..at + 4].copy_from_slice(b"xdta");
    std::fs::write(&sf_path, &wrong).unwrap();
    let err = load_soundfont(&sf_path).unwrap_err().to_string();
    assert!(err.contains("broken.sf2: not a usable SoundFont"), "{err}");
    let err = load_soundfont(dir.path().join("missing.sf2"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.sf2"), "{err}");

    let (sf, map, out) = (soundfont(), StemMap::general_midi(), dir.path().join("out"));
    std::fs::create_dir(&out).unwrap();
    let text = dir.path().join("notes.mid");
    std::fs::write(&text, b"not a MIDI file").unwrap();
    let err = render_track(&text, &sf, &map, &settings(44_100), &out, false)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("{}: not a readable MIDI file", text.display())),
        "{err}"
    );
    let silent = dir.path().join("silent.mid");
    std::fs::write(&silent, silent_midi()).unwrap();
    let err = render_track(&silent, &sf, &map, &settings(44_100), &out, false)
        .unwrap_err()
        .to_string();
    assert_eq!(err, format!("{}: has no notes to render", silent.display()));
    let missing = dir.path().join("missing.mid");
    let err = render_track(&missing, &sf, &map, &settings(44_100), &out, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.mid"), "{err}");
    assert_eq!(
        read_dir_sorted(&out),
        Vec::<PathBuf>::new(),
        "nothing written for bad inputs"
    );
    let bad_rate = RenderSettings {
        sample_rate: 8_000,
        ..RenderSettings::default()
    };
    let err = render_song(&song(), &sf, &map, &bad_rate, false)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "sample rate 8000: expected 16000 to 192000 Hz");
}

#[test]
fn a_folder_run_renders_the_good_files_and_reports_the_bad() {
    let dir = tempfile::tempdir().unwrap();
    let midi = dir.path().join("midi");
    std::fs::create_dir_all(midi.join("sub")).unwrap();
    std::fs::write(midi.join("a.mid"), song_midi()).unwrap();
    std::fs::write(midi.join("sub/b.MIDI"), song_midi()).unwrap();
    std::fs::write(midi.join("sub/b.mid"), song_midi()).unwrap();
    std::fs::write(midi.join("sub/a.mid"), song_midi()).unwrap();
    std::fs::write(midi.join("bad.mid"), b"MThd garbage").unwrap();
    std::fs::write(midi.join("readme.txt"), b"skipped").unwrap();
    let files = saex::render::find_midi_files(&midi).unwrap();
    assert_eq!(
        files,
        [
            midi.join("a.mid"),
            midi.join("bad.mid"),
            midi.join("sub/a.mid"),
            midi.join("sub/b.MIDI"),
            midi.join("sub/b.mid")
        ]
    );
    let out = dir.path().join("out/train");
    let done = std::sync::Mutex::new(Vec::new());
    let results = render_tracks(
        &midi,
        &files,
        &soundfont(),
        &StemMap::general_midi(),
        &settings(22_050),
        &out,
        false,
        |f, r| done.lock().unwrap().push((f.to_path_buf(), r.is_ok())),
    )
    .unwrap();
    assert_eq!(done.lock().unwrap().len(), 5);
    for i in [0, 2, 3] {
        assert!(
            matches!(results[i], Ok(TrackOutcome::Rendered { .. })),
            "{:?}",
            results[i]
        );
    }
    assert!(results[1]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("bad.mid: not a readable MIDI file"));
    // Subfolders are kept: sub/a.mid is not a.mid; sub/b.mid and sub/b.MIDI are one track.
    let dup = results[4].as_ref().unwrap_err().to_string();
    assert_eq!(
        dup,
        format!(
            "{}: its track folder sub/b is taken by {}: rename one of them",
            midi.join("sub/b.mid").display(),
            midi.join("sub/b.MIDI").display()
        )
    );
    assert_eq!(read_dir_sorted(&out), [out.join("a"), out.join("sub")]);
    assert_eq!(
        read_dir_sorted(&out.join("sub")),
        [out.join("sub/a"), out.join("sub/b")]
    );
}
