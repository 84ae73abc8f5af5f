//! Which stem a note belongs to: drums by channel, vocals by track name, every other note by the
//! General MIDI program its channel plays at that moment.
//!
//! The default map ([`StemMap::general_midi`]), with 0-based GM program numbers:
//!
//! | stem     | notes                                                                  |
//! |----------|------------------------------------------------------------------------|
//! | `drums`  | every note on MIDI channel 10 (index 9), whatever the program          |
//! | `vocals` | every note of a track whose name matches a vocal pattern, and programs 52..54 (choir aahs, voice oohs, synth voice) |
//! | `piano`  | programs 0..7                                                          |
//! | `guitar` | programs 24..31                                                        |
//! | `bass`   | programs 32..39                                                        |
//! | `other`  | every other program                                                    |
//!
//! The vocal track patterns are matched case-insensitively as substrings of the track's name
//! (its TrackName meta event, else its InstrumentName); the defaults are [`DEFAULT_VOCAL_TRACKS`].
//!
//! The stems of the default map, in listing order ([`StemMap::stems`]), are `drums`, `bass`,
//! `piano`, `guitar`, `vocals`, `other`. Tools outside the crate (the corpus builders under
//! `scripts/corpus/`) read the map as data, [`StemMap::table`], printed by
//! `saex render --print-stem-map`, rather than keeping a copy of it.

use super::midi::{Message, Song};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The stem of every note on MIDI channel 10.
const DRUMS: &str = "drums";
/// The stem of every note of a vocal track.
const VOCALS: &str = "vocals";
/// The stem of the programs no family claims.
const OTHER: &str = "other";
/// The name of the sum of the stems in a track folder; no stem may take it.
pub use crate::dataset::MIXTURE;
/// The index of the General MIDI drum channel (channel 10).
const DRUM_CHANNEL: u8 = 9;
/// Track-name patterns that make a track the vocal line by default.
const DEFAULT_VOCAL_TRACKS: [&str; 4] = ["vocal", "voice", "melody", "singer"];
/// The program families of [`StemMap::general_midi`] as (stem, first program, last program),
/// 0-based and inclusive, in listing order.
const GENERAL_MIDI_FAMILIES: [(&str, u8, u8); 4] = [
    ("bass", 32, 39),
    ("piano", 0, 7),
    ("guitar", 24, 31),
    (VOCALS, 52, 54),
];

/// The program -> stem table and the vocal-track patterns.
#[derive(Debug, Clone, PartialEq)]
pub struct StemMap {
    /// Stem name of each GM program 0..=127.
    programs: Vec<String>,
    /// Lower-case substrings that mark a vocal track.
    vocal_tracks: Vec<String>,
    /// The stems that claimed programs, in the order they first did (the listing order).
    claimed: Vec<String>,
}

impl Default for StemMap {
    fn default() -> Self {
        Self::general_midi()
    }
}

impl StemMap {
    /// The default General MIDI families (see the module docs).
    pub fn general_midi() -> Self {
        let mut map = StemMap {
            programs: vec![OTHER.to_string(); 128],
            vocal_tracks: DEFAULT_VOCAL_TRACKS.iter().map(|s| s.to_string()).collect(),
            claimed: Vec::new(),
        };
        for (name, lo, hi) in GENERAL_MIDI_FAMILIES {
            map.claim_programs(name, lo..=hi);
        }
        map
    }

    /// A map with the vocal-track defaults where only `families` claim programs; every program
    /// they leave out goes to `other`. Each family is a stem name and a range spec (see
    /// [`StemMap::set_family`]).
    fn from_families<'a>(families: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let mut map = StemMap {
            programs: vec![OTHER.to_string(); 128],
            claimed: Vec::new(),
            ..Self::general_midi()
        };
        for (name, ranges) in families {
            map.claim(name, ranges)?;
        }
        Ok(map)
    }

    /// Reads a JSON object of stem name -> program ranges, e.g.
    /// `{"bass": "32..39", "piano": "0..7", "strings": "40..51,88"}` (a range may also be a
    /// number or a list of specs); programs not named go to `other`.
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::file(path, format!("not valid JSON: {e}")))?;
        let object = value.as_object().ok_or_else(|| {
            Error::file(
                path,
                "expected a JSON object of stem name -> program ranges",
            )
        })?;
        let mut families = Vec::with_capacity(object.len());
        for (name, ranges) in object {
            let spec = json_ranges(ranges).ok_or_else(|| {
                Error::file(
                    path,
                    format!("family {name:?}: expected a range string like \"32..39,87\", a number or a list of them, found {ranges}"),
                )
            })?;
            families.push((name.clone(), spec));
        }
        Self::from_families(families.iter().map(|(n, s)| (n.as_str(), s.as_str())))
            .map_err(|e| Error::file(path, e.to_string()))
    }

    /// Applies one `name=ranges` spec, e.g. `strings=40..51` or `other=0..7,16`: the listed
    /// programs (0-based, inclusive ranges `lo..hi`, also `lo..=hi`, or single numbers) now go to
    /// stem `name`. Stem names are letters, digits, `_` and `-`, and not `mixture`.
    pub fn set_family(&mut self, spec: &str) -> Result<()> {
        let (name, ranges) = spec.split_once('=').ok_or_else(|| {
            Error::Invalid(format!(
                "family {spec:?}: expected name=ranges, e.g. bass=32..39"
            ))
        })?;
        self.claim(name.trim(), ranges)
    }

    /// Replaces the vocal-track patterns (matched case-insensitively as substrings of track
    /// names). An empty list marks no track as vocal.
    pub fn set_vocal_tracks<S: AsRef<str>>(&mut self, patterns: &[S]) {
        self.vocal_tracks = patterns
            .iter()
            .map(|p| p.as_ref().trim().to_lowercase())
            .filter(|p| !p.is_empty())
            .collect();
    }

    /// Every stem this map can give a note, in name order: drums, vocals, and the stem of each
    /// program. A rendered track folder holds all of them (silence where a song has no notes),
    /// so every track of a data folder has the same stems.
    pub fn stem_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.programs.clone();
        names.extend([DRUMS.to_string(), VOCALS.to_string()]);
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The stem of GM program `program` (0..=127) on a melodic channel.
    pub fn program_stem(&self, program: u8) -> &str {
        &self.programs[usize::from(program & 0x7F)]
    }

    /// Every stem a note can go to, in listing order: `DRUMS` (the drum channel), then the
    /// stems that own programs in the order they first claimed some ([`StemMap::general_midi`]:
    /// `bass`, `piano`, `guitar`, `vocals`; [`StemMap::from_json_file`]: name order; then each
    /// [`StemMap::set_family`]), then `VOCALS` when vocal-track patterns are set, and `OTHER`
    /// when some program is left to it. Each name appears once.
    pub fn stems(&self) -> Vec<&str> {
        let mut stems = vec![DRUMS];
        let owned = self
            .claimed
            .iter()
            .map(String::as_str)
            .filter(|name| self.programs.iter().any(|p| p == name));
        let vocals = (!self.vocal_tracks.is_empty()).then_some(VOCALS);
        let other = self.programs.iter().any(|p| p == OTHER).then_some(OTHER);
        for name in owned.chain(vocals).chain(other) {
            if !stems.contains(&name) {
                stems.push(name);
            }
        }
        stems
    }

    /// The whole map as data (see [`StemTable`]); `saex render --print-stem-map` prints it as
    /// JSON.
    pub fn table(&self) -> StemTable {
        StemTable {
            drum_channel: DRUM_CHANNEL,
            drum_stem: DRUMS.to_string(),
            vocal_stem: VOCALS.to_string(),
            vocal_tracks: self.vocal_tracks.clone(),
            stems: self.stems().into_iter().map(str::to_string).collect(),
            programs: self.programs.clone(),
        }
    }

    /// Whether a track of this name is a vocal track.
    fn is_vocal_track(&self, track_name: &str) -> bool {
        let name = track_name.to_lowercase();
        self.vocal_tracks.iter().any(|p| name.contains(p.as_str()))
    }

    /// Assigns every note-on of `song` to its stem, following program changes in time order.
    pub fn assign(&self, song: &Song) -> NoteAssignment {
        let vocal_track: Vec<bool> = song
            .track_names
            .iter()
            .map(|name| self.is_vocal_track(name))
            .collect();
        let mut program = [0u8; 16];
        let mut stem_names: Vec<&str> = Vec::new();
        let mut note_stem = vec![None; song.events.len()];
        for (i, event) in song.events.iter().enumerate() {
            let channel = usize::from(event.channel & 0x0F);
            match event.message {
                Message::Program(p) => program[channel] = p,
                Message::NoteOn { .. } => {
                    let stem = if event.channel == DRUM_CHANNEL {
                        DRUMS
                    } else if vocal_track[event.track] {
                        VOCALS
                    } else {
                        self.program_stem(program[channel])
                    };
                    let index = stem_names
                        .iter()
                        .position(|&s| s == stem)
                        .unwrap_or_else(|| {
                            stem_names.push(stem);
                            stem_names.len() - 1
                        });
                    note_stem[i] = Some(index);
                }
                _ => {}
            }
        }
        // Renumber so that stems are in name order.
        let mut sorted: Vec<&str> = stem_names.clone();
        sorted.sort_unstable();
        let renumber: Vec<usize> = stem_names
            .iter()
            .map(|s| sorted.iter().position(|t| t == s).expect("same names"))
            .collect();
        NoteAssignment {
            stems: sorted.into_iter().map(str::to_string).collect(),
            note_stem: note_stem
                .into_iter()
                .map(|s| s.map(|i| renumber[i]))
                .collect(),
        }
    }

    fn claim(&mut self, name: &str, ranges: &str) -> Result<()> {
        check_stem_name(name)?;
        let programs = parse_program_ranges(ranges)
            .map_err(|reason| Error::Invalid(format!("family {name}={ranges}: {reason}")))?;
        self.claim_programs(name, programs);
        Ok(())
    }

    /// Sends `programs` (each <= 127) to stem `name`, a valid stem name.
    fn claim_programs(&mut self, name: &str, programs: impl IntoIterator<Item = u8>) {
        for program in programs {
            self.programs[usize::from(program)] = name.to_string();
        }
        if !self.claimed.iter().any(|c| c == name) {
            self.claimed.push(name.to_string());
        }
    }
}

/// A [`StemMap`] as plain data, the form tools outside the crate read (as JSON, from
/// `saex render --print-stem-map`): the corpus builders take the GM families and the stem list
/// from it instead of keeping their own copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StemTable {
    /// The 0-based MIDI channel every note of which goes to `drum_stem` (`DRUM_CHANNEL`).
    pub drum_channel: u8,
    /// The stem of the drum channel (`DRUMS`).
    pub drum_stem: String,
    /// The stem of the notes of vocal tracks (`VOCALS`).
    pub vocal_stem: String,
    /// Lower-case substrings of track names that make a track's notes `vocal_stem`.
    pub vocal_tracks: Vec<String>,
    /// Every stem a note can go to, in listing order ([`StemMap::stems`]).
    pub stems: Vec<String>,
    /// The stem of each GM program 0..=127 (0-based) on a melodic channel: 128 names.
    pub programs: Vec<String>,
}

/// The stems of one song and the stem of each of its note-ons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteAssignment {
    /// The stems that have at least one note, in name order.
    pub stems: Vec<String>,
    /// Per song event: the index into `stems` of a note-on, `None` for every other event.
    pub note_stem: Vec<Option<usize>>,
}

fn json_ranges(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Array(items) => items
            .iter()
            .map(json_ranges)
            .collect::<Option<Vec<_>>>()
            .map(|parts| parts.join(",")),
        _ => None,
    }
}

fn check_stem_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(Error::Invalid(format!(
            "stem name {name:?}: expected letters, digits, '_' or '-'"
        )));
    }
    if name.eq_ignore_ascii_case(MIXTURE) {
        return Err(Error::Invalid(format!(
            "stem name {name:?} is reserved for the sum of the stems"
        )));
    }
    Ok(())
}

/// Parses `"32..39,87,0..=7"` into the listed programs.
fn parse_program_ranges(spec: &str) -> std::result::Result<Vec<u8>, String> {
    let mut programs = Vec::new();
    for part in spec.split(',').map(str::trim) {
        let (lo, hi) = match part.split_once("..") {
            Some((lo, hi)) => (lo, hi.strip_prefix('=').unwrap_or(hi)),
            None => (part, part),
        };
        let parse = |s: &str| -> std::result::Result<u8, String> {
            s.trim()
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= 127)
                .ok_or_else(|| format!("program {s:?}: expected a number 0..=127"))
        };
        let (lo, hi) = (parse(lo)?, parse(hi)?);
        if lo > hi {
            return Err(format!("range {part:?}: expected lo <= hi"));
        }
        programs.extend(lo..=hi);
    }
    Ok(programs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::midi::ChannelEvent;

    fn song(events: &[(usize, u8, Message)], track_names: &[&str]) -> Song {
        Song {
            path: "t.mid".into(),
            events: events
                .iter()
                .enumerate()
                .map(|(i, &(track, channel, message))| ChannelEvent {
                    time_secs: i as f64,
                    track,
                    channel,
                    message,
                })
                .collect(),
            track_names: track_names.iter().map(|s| s.to_string()).collect(),
        }
    }

    const ON: Message = Message::NoteOn {
        key: 60,
        velocity: 100,
    };

    #[test]
    fn default_map_follows_program_changes_channels_and_track_names() {
        let s = song(
            &[
                (0, 0, ON),                   // program 0: piano
                (0, 0, Message::Program(33)), // -> bass
                (0, 0, ON),
                (0, 9, ON), // drum channel
                (1, 1, Message::Program(0)),
                (1, 1, ON),                   // vocal track, piano program: vocals
                (0, 2, Message::Program(53)), // voice oohs
                (0, 2, ON),
                (0, 3, Message::Program(40)), // violin: other
                (0, 3, ON),
                (0, 4, Message::Program(26)), // guitar
                (0, 4, ON),
            ],
            &["band", "Lead Vocals"],
        );
        let a = StemMap::general_midi().assign(&s);
        assert_eq!(
            a.stems,
            ["bass", "drums", "guitar", "other", "piano", "vocals"]
        );
        let names: Vec<Option<&str>> = a
            .note_stem
            .iter()
            .map(|i| i.map(|i| a.stems[i].as_str()))
            .collect();
        assert_eq!(
            names,
            [
                Some("piano"),
                None,
                Some("bass"),
                Some("drums"),
                None,
                Some("vocals"),
                None,
                Some("vocals"),
                None,
                Some("other"),
                None,
                Some("guitar"),
            ]
        );
    }

    #[test]
    fn families_override_and_validate() {
        let mut map = StemMap::general_midi();
        map.set_family("strings=40..=51, 88").unwrap();
        map.set_family("other=0..7").unwrap();
        assert_eq!(map.program_stem(45), "strings");
        assert_eq!(map.program_stem(88), "strings");
        assert_eq!(map.program_stem(3), "other");
        assert_eq!(map.program_stem(33), "bass");
        for bad in [
            "bass",
            "bass=39..32",
            "bass=128",
            "mixture=1",
            "a/b=1",
            "x=1..y",
        ] {
            assert!(map.set_family(bad).is_err(), "{bad} accepted");
        }
        let only = StemMap::from_families([("keys", "0..7")]).unwrap();
        assert_eq!(only.program_stem(0), "keys");
        assert_eq!(only.program_stem(33), OTHER);
    }

    #[test]
    fn stems_are_listed_in_claim_order_and_the_table_is_the_map() {
        let gm = StemMap::general_midi();
        assert_eq!(
            gm.stems(),
            ["drums", "bass", "piano", "guitar", "vocals", "other"]
        );
        let table = gm.table();
        assert_eq!((table.drum_channel, table.drum_stem.as_str()), (9, DRUMS));
        assert_eq!(table.vocal_stem, VOCALS);
        assert_eq!(table.vocal_tracks, DEFAULT_VOCAL_TRACKS);
        assert_eq!(table.stems, gm.stems());
        assert_eq!(table.programs.len(), 128);
        for program in 0..=127u8 {
            assert_eq!(
                table.programs[usize::from(program)],
                gm.program_stem(program),
                "program {program}"
            );
        }

        // A family that takes every program of one stem removes that stem from the list; a new
        // stem is listed after the defaults, before vocals and other.
        let mut map = StemMap::general_midi();
        map.set_family("keys=0..7").unwrap();
        map.set_family("strings=40..51").unwrap();
        assert_eq!(
            map.stems(),
            ["drums", "bass", "guitar", "vocals", "keys", "strings", "other"]
        );
        map.set_vocal_tracks::<&str>(&[]);
        map.set_family("bass=52..54").unwrap();
        assert_eq!(
            map.stems(),
            ["drums", "bass", "guitar", "keys", "strings", "other"]
        );
        let all = StemMap::from_families([("everything", "0..127")]).unwrap();
        assert_eq!(all.stems(), ["drums", "everything", "vocals"]);
    }

    #[test]
    fn vocal_track_patterns_are_replaceable() {
        let mut map = StemMap::general_midi();
        assert!(map.is_vocal_track("MELODY line"));
        assert!(!map.is_vocal_track("Soprano"));
        map.set_vocal_tracks(&["soprano"]);
        assert!(map.is_vocal_track("Soprano"));
        assert!(!map.is_vocal_track("melody"));
    }

    #[test]
    fn json_map_reads_strings_numbers_and_lists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("map.json");
        std::fs::write(
            &path,
            r#"{"bass": "32..39", "keys": ["0..7", 16], "fx": 99}"#,
        )
        .unwrap();
        let map = StemMap::from_json_file(&path).unwrap();
        assert_eq!(map.program_stem(16), "keys");
        assert_eq!(map.program_stem(99), "fx");
        assert_eq!(map.program_stem(25), OTHER);
        std::fs::write(&path, r#"{"bass": true}"#).unwrap();
        let err = StemMap::from_json_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("map.json") && err.contains("family \"bass\""),
            "{err}"
        );
    }
}
