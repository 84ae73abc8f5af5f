//! Reading a Standard MIDI File (midly) into one time-ordered list of channel events with their
//! times in seconds, resolved through the file's tempo map.
//!
//! Meta events carry no sound: tempo changes are consumed into the event times, track names are
//! kept per track (they mark vocal tracks), and the rest are dropped. System-exclusive messages
//! are dropped too (rustysynth ignores them).

use crate::error::{Error, Result};
use midly::{MetaMessage, MidiMessage, Smf, Timing, TrackEventKind};
use std::path::{Path, PathBuf};

/// The tempo a file plays at until its first tempo event: 120 quarter notes per minute.
const DEFAULT_TEMPO_US_PER_QUARTER: u32 = 500_000;

/// A channel message, in the form a synthesizer takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// A note-on with velocity 1..=127 (a note-on with velocity 0 is read as [`Message::NoteOff`]).
    NoteOn {
        key: u8,
        velocity: u8,
    },
    NoteOff {
        key: u8,
    },
    KeyPressure {
        key: u8,
        pressure: u8,
    },
    Controller {
        controller: u8,
        value: u8,
    },
    Program(u8),
    ChannelPressure(u8),
    /// The 14-bit pitch-bend value, 8192 = centre.
    PitchBend(u16),
}

impl Message {
    /// The MIDI status nibble and data bytes: `(command, data1, data2)`, e.g. `(0x90, key, velocity)`.
    pub fn raw(self) -> (u8, u8, u8) {
        match self {
            Message::NoteOff { key } => (0x80, key, 0),
            Message::NoteOn { key, velocity } => (0x90, key, velocity),
            Message::KeyPressure { key, pressure } => (0xA0, key, pressure),
            Message::Controller { controller, value } => (0xB0, controller, value),
            Message::Program(program) => (0xC0, program, 0),
            Message::ChannelPressure(pressure) => (0xD0, pressure, 0),
            Message::PitchBend(value) => (0xE0, (value & 0x7F) as u8, (value >> 7) as u8),
        }
    }

    fn from_midly(message: MidiMessage) -> Self {
        match message {
            MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => Message::NoteOn {
                key: key.as_int(),
                velocity: vel.as_int(),
            },
            MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                Message::NoteOff { key: key.as_int() }
            }
            MidiMessage::Aftertouch { key, vel } => Message::KeyPressure {
                key: key.as_int(),
                pressure: vel.as_int(),
            },
            MidiMessage::Controller { controller, value } => Message::Controller {
                controller: controller.as_int(),
                value: value.as_int(),
            },
            MidiMessage::ProgramChange { program } => Message::Program(program.as_int()),
            MidiMessage::ChannelAftertouch { vel } => Message::ChannelPressure(vel.as_int()),
            MidiMessage::PitchBend { bend } => Message::PitchBend(bend.0.as_int()),
        }
    }
}

/// One channel event of a song.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelEvent {
    /// Seconds from the start of the song.
    pub time_secs: f64,
    /// Index of the SMF track the event comes from.
    pub track: usize,
    /// MIDI channel 0..=15 (9 is the General MIDI drum channel).
    pub channel: u8,
    pub message: Message,
}

/// A parsed MIDI file: every channel event of every track, merged in time order.
#[derive(Debug, Clone)]
pub struct Song {
    pub path: PathBuf,
    /// Sorted by time; events at the same time keep their track order, then their file order.
    pub events: Vec<ChannelEvent>,
    /// Per SMF track: its name (TrackName meta event, else InstrumentName), empty when none.
    pub track_names: Vec<String>,
}

impl Song {
    /// Reads and parses the MIDI file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&bytes, path)
    }

    /// Parses the bytes of a MIDI file; `path` names it in errors. Accepts formats 0 and 1 (one
    /// or several simultaneous tracks) with metrical or SMPTE timing; rejects format 2, and a
    /// file cut short (a chunk that claims more bytes than the file holds), which midly would
    /// otherwise read up to the cut.
    pub fn parse(bytes: &[u8], path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let smf = Smf::parse(bytes)
            .map_err(|e| Error::file(path, format!("not a readable MIDI file: {e}")))?;
        check_chunks(bytes)
            .map_err(|reason| Error::file(path, format!("not a readable MIDI file: {reason}")))?;
        if smf.header.format == midly::Format::Sequential {
            return Err(Error::file(
                path,
                "MIDI format 2 (independent sequential tracks) is not supported: expected format 0 or 1",
            ));
        }

        // (tick, track, index in track, message) for channel events; (tick, µs per quarter) for tempi.
        let mut timed: Vec<(u64, usize, usize, u8, Message)> = Vec::new();
        let mut tempi: Vec<(u64, usize, u32)> = Vec::new();
        let mut track_names = Vec::with_capacity(smf.tracks.len());
        for (track, events) in smf.tracks.iter().enumerate() {
            let mut tick = 0u64;
            let mut track_name: Option<String> = None;
            let mut instrument_name: Option<String> = None;
            for (index, event) in events.iter().enumerate() {
                tick += u64::from(event.delta.as_int());
                match event.kind {
                    TrackEventKind::Midi { channel, message } => timed.push((
                        tick,
                        track,
                        index,
                        channel.as_int(),
                        Message::from_midly(message),
                    )),
                    TrackEventKind::Meta(MetaMessage::Tempo(us)) => {
                        tempi.push((tick, track, us.as_int().max(1)))
                    }
                    TrackEventKind::Meta(MetaMessage::TrackName(name)) if track_name.is_none() => {
                        track_name = Some(String::from_utf8_lossy(name).trim().to_string())
                    }
                    TrackEventKind::Meta(MetaMessage::InstrumentName(name))
                        if instrument_name.is_none() =>
                    {
                        instrument_name = Some(String::from_utf8_lossy(name).trim().to_string())
                    }
                    _ => {}
                }
            }
            track_names.push(track_name.or(instrument_name).unwrap_or_default());
        }
        timed.sort_by_key(|&(tick, track, index, ..)| (tick, track, index));
        tempi.sort_by_key(|&(tick, track, _)| (tick, track));

        let clock = TickClock::new(smf.header.timing, tempi.iter().map(|&(t, _, us)| (t, us)));
        let events = timed
            .into_iter()
            .map(|(tick, track, _, channel, message)| ChannelEvent {
                time_secs: clock.seconds_at(tick),
                track,
                channel,
                message,
            })
            .collect();
        Ok(Song {
            path: path.to_path_buf(),
            events,
            track_names,
        })
    }

    /// Time of the last channel event in seconds (0 for an empty song).
    pub fn duration_secs(&self) -> f64 {
        self.events.last().map_or(0.0, |e| e.time_secs)
    }

    /// How many note-ons the song has.
    pub fn nb_notes(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e.message, Message::NoteOn { .. }))
            .count()
    }
}

/// Converts ticks to seconds through a tempo map.
struct TickClock {
    /// Seconds per tick under SMPTE timing (tempo events are then ignored).
    smpte_secs_per_tick: Option<f64>,
    ticks_per_quarter: f64,
    /// Tempo segments: (start tick, seconds at the start tick, µs per quarter), by start tick.
    segments: Vec<(u64, f64, u32)>,
}

impl TickClock {
    fn new(timing: Timing, tempi: impl Iterator<Item = (u64, u32)>) -> Self {
        let (smpte_secs_per_tick, ticks_per_quarter) = match timing {
            Timing::Metrical(tpq) => (None, f64::from(tpq.as_int().max(1))),
            Timing::Timecode(fps, subframes) => (
                Some(1.0 / (f64::from(fps.as_f32()) * f64::from(subframes.max(1)))),
                1.0,
            ),
        };
        let mut segments = vec![(0u64, 0.0f64, DEFAULT_TEMPO_US_PER_QUARTER)];
        for (tick, us) in tempi {
            let &(start, secs, current) = segments.last().expect("one segment at least");
            let at = secs + (tick - start) as f64 * f64::from(current) * 1e-6 / ticks_per_quarter;
            if tick == start {
                // Several tempi at one tick: the last one wins.
                segments.last_mut().expect("one segment at least").2 = us;
            } else {
                segments.push((tick, at, us));
            }
        }
        TickClock {
            smpte_secs_per_tick,
            ticks_per_quarter,
            segments,
        }
    }

    fn seconds_at(&self, tick: u64) -> f64 {
        if let Some(secs_per_tick) = self.smpte_secs_per_tick {
            return tick as f64 * secs_per_tick;
        }
        let i = self.segments.partition_point(|&(start, ..)| start <= tick) - 1;
        let (start, secs, us) = self.segments[i];
        secs + (tick - start) as f64 * f64::from(us) * 1e-6 / self.ticks_per_quarter
    }
}

/// Walks the chunks of a Standard MIDI File (`MThd`, `MTrk`, ...: a 4-byte id and a big-endian
/// 4-byte length each): refuses a chunk that runs past the end of the file. Other layouts (a RIFF
/// `RMID` wrapper) are left to midly.
fn check_chunks(bytes: &[u8]) -> std::result::Result<(), String> {
    if !bytes.starts_with(b"MThd") {
        return Ok(());
    }
    let mut pos = 0usize;
    while pos + 8 <= bytes.len() {
        let id = String::from_utf8_lossy(&bytes[pos..pos + 4]);
        let len = u32::from_be_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]);
        let available = bytes.len() - pos - 8;
        if len as usize > available {
            return Err(format!(
                "truncated: chunk {id:?} at byte {pos} claims {len} bytes, the file holds {available}"
            ));
        }
        pos += 8 + len as usize;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use midly::num::{u15, u24, u28, u4, u7};
    use midly::{Format, Header, TrackEvent};

    fn event(delta: u32, kind: TrackEventKind<'static>) -> TrackEvent<'static> {
        TrackEvent {
            delta: u28::new(delta),
            kind,
        }
    }

    fn note_on(channel: u8, key: u8, vel: u8) -> TrackEventKind<'static> {
        TrackEventKind::Midi {
            channel: u4::new(channel),
            message: MidiMessage::NoteOn {
                key: u7::new(key),
                vel: u7::new(vel),
            },
        }
    }

    fn to_bytes(smf: &Smf) -> Vec<u8> {
        let mut bytes = Vec::new();
        smf.write_std(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn a_file_cut_short_is_refused() {
        let mut smf = Smf::new(Header::new(
            Format::SingleTrack,
            Timing::Metrical(u15::new(480)),
        ));
        smf.tracks.push(vec![
            event(0, note_on(0, 60, 100)),
            event(480, note_on(0, 60, 0)),
            event(0, TrackEventKind::Meta(MetaMessage::EndOfTrack)),
        ]);
        let bytes = to_bytes(&smf);
        assert_eq!(Song::parse(&bytes, "a.mid").unwrap().nb_notes(), 1);
        let err = Song::parse(&bytes[..bytes.len() - 3], "a.mid")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "a.mid: not a readable MIDI file: truncated: chunk \"MTrk\" at byte 14 claims 12 bytes, the file holds 9"
        );
    }

    #[test]
    fn tempo_changes_in_another_track_set_the_times() {
        let mut smf = Smf::new(Header::new(
            Format::Parallel,
            Timing::Metrical(u15::new(100)),
        ));
        // Track 0: 120 bpm (0.5 s per quarter) until tick 200, then 60 bpm (1 s per quarter).
        smf.tracks.push(vec![
            event(
                0,
                TrackEventKind::Meta(MetaMessage::TrackName(b"conductor")),
            ),
            event(
                200,
                TrackEventKind::Meta(MetaMessage::Tempo(u24::new(1_000_000))),
            ),
            event(0, TrackEventKind::Meta(MetaMessage::EndOfTrack)),
        ]);
        smf.tracks.push(vec![
            event(100, note_on(2, 60, 90)),
            event(200, note_on(2, 60, 0)),
            event(0, TrackEventKind::Meta(MetaMessage::EndOfTrack)),
        ]);
        let song = Song::parse(&to_bytes(&smf), "t.mid").unwrap();
        assert_eq!(
            song.track_names,
            vec!["conductor".to_string(), String::new()]
        );
        let times: Vec<f64> = song.events.iter().map(|e| e.time_secs).collect();
        // tick 100 -> 0.5 s; tick 300 -> 1.0 s + 100 ticks at 1 s per quarter = 2.0 s.
        assert!((times[0] - 0.5).abs() < 1e-12, "{times:?}");
        assert!((times[1] - 2.0).abs() < 1e-12, "{times:?}");
        assert_eq!(
            song.events[1].message,
            Message::NoteOff { key: 60 },
            "velocity-0 note-on is a note-off"
        );
        assert_eq!(song.nb_notes(), 1);
    }

    #[test]
    fn pitch_bend_splits_into_lsb_and_msb() {
        assert_eq!(Message::PitchBend(8192).raw(), (0xE0, 0, 64));
        assert_eq!(Message::PitchBend(16383).raw(), (0xE0, 127, 127));
    }

    #[test]
    fn garbage_is_rejected_naming_the_file() {
        let err = Song::parse(b"RIFF not midi at all", "x/bad.mid")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("x/bad.mid: not a readable MIDI file"),
            "{err}"
        );
    }
}
