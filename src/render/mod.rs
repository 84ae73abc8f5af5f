//! MIDI + SoundFont -> paired stems: renders a MIDI file through a SoundFont with the pure-Rust
//! synthesizer rustysynth into a track folder of the MUSDB18-HQ layout, one WAV per instrument
//! family plus `mixture.wav`, the sample-wise sum of the stems.
//!
//! ```text
//! <out>/<midi file stem>/bass.wav drums.wav guitar.wav other.wav piano.wav vocals.wav mixture.wav
//! ```
//!
//! For a folder of MIDI files, the track folder keeps the file's subfolder below it
//! (`midi/train/a.mid` -> `<out>/train/a/`), so a folder with `train/` and `valid/` renders
//! into a data folder that `saex train` reads as is.
//!
//! Every stem of the map is written ([`StemMap::stem_names`]), silent where the song has no
//! notes for it, so every track has the same stems; all files have the same length, the chosen sample rate
//! (44.1 kHz by default), two channels and 32-bit float samples, so the mixture is the exact
//! float sum of the stems (added in stem-name order). Which notes go to which stem is
//! [`StemMap`]'s job (see `families` for the default General MIDI families); each stem is
//! rendered by its own synthesizer that sees every non-note event of the song (see `synth`).
//! The same inputs give the same bytes.

mod families;
mod midi;
mod soundfont;
mod synth;
mod track;

pub use families::{NoteAssignment, StemMap, StemTable};
pub use midi::Song;
pub use soundfont::load_soundfont;
pub use synth::{Part, PartRenderer, RenderSettings};
pub use track::{
    find_midi_files, render_song, render_track, render_track_into, render_tracks, track_name,
    track_path, RenderedSong, TrackOutcome,
};
