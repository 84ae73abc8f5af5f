//! Test data for the renderer, made in code: a tiny SoundFont 2 file (a few synthetic waveforms,
//! one preset per program used plus a drum kit on bank 128) and a tiny multi-track MIDI file.

#![allow(dead_code)]

pub mod sf2;

use midly::num::{u14, u15, u24, u28, u4, u7};
use midly::{
    Format, Header, MetaMessage, MidiMessage, PitchBend, Smf, Timing, TrackEvent, TrackEventKind,
};

/// Ticks per quarter note of [`song_midi`].
pub const TPQ: u32 = 480;
/// When the program changes of [`song_midi`] happen: tick 1920 = 2.0 s (120 bpm before it).
pub const CHANGE_SECS: f64 = 2.0;
/// The GM programs [`song_midi`] uses on melodic channels.
pub const PROGRAMS: [u8; 6] = [0, 25, 33, 48, 53, 73];

/// Events at absolute ticks, turned into a track with delta times.
struct TrackBuilder {
    events: Vec<(u32, usize, TrackEventKind<'static>)>,
}

impl TrackBuilder {
    fn new(name: &'static str) -> Self {
        let mut t = TrackBuilder { events: Vec::new() };
        t.at(
            0,
            TrackEventKind::Meta(MetaMessage::TrackName(name.as_bytes())),
        );
        t
    }

    fn at(&mut self, tick: u32, kind: TrackEventKind<'static>) -> &mut Self {
        let order = self.events.len();
        self.events.push((tick, order, kind));
        self
    }

    fn midi(&mut self, tick: u32, channel: u8, message: MidiMessage) -> &mut Self {
        self.at(
            tick,
            TrackEventKind::Midi {
                channel: u4::new(channel),
                message,
            },
        )
    }

    fn note(&mut self, channel: u8, key: u8, velocity: u8, on: u32, off: u32) -> &mut Self {
        self.midi(
            on,
            channel,
            MidiMessage::NoteOn {
                key: u7::new(key),
                vel: u7::new(velocity),
            },
        );
        self.midi(
            off,
            channel,
            MidiMessage::NoteOff {
                key: u7::new(key),
                vel: u7::new(64),
            },
        )
    }

    fn program(&mut self, tick: u32, channel: u8, program: u8) -> &mut Self {
        self.midi(
            tick,
            channel,
            MidiMessage::ProgramChange {
                program: u7::new(program),
            },
        )
    }

    fn controller(&mut self, tick: u32, channel: u8, controller: u8, value: u8) -> &mut Self {
        self.midi(
            tick,
            channel,
            MidiMessage::Controller {
                controller: u7::new(controller),
                value: u7::new(value),
            },
        )
    }

    fn build(mut self) -> Vec<TrackEvent<'static>> {
        self.events.sort_by_key(|&(tick, order, _)| (tick, order));
        let mut last = 0;
        let mut track: Vec<TrackEvent<'static>> = self
            .events
            .into_iter()
            .map(|(tick, _, kind)| {
                let delta = tick - last;
                last = tick;
                TrackEvent {
                    delta: u28::new(delta),
                    kind,
                }
            })
            .collect();
        track.push(TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
        });
        track
    }
}

/// A 5-track format-1 MIDI file of 3.5 s (plus tails):
/// - track 0 "conductor": 120 bpm, then 160 bpm from tick 1920 (2.0 s);
/// - track 1 "Keys", channel 0: piano (program 0) chords under the sustain pedal for 2 s, then
///   program 33 (bass) notes with a pitch bend, pedal up at the change;
/// - track 2 "Strings", channel 1: guitar (25) notes, then strings (48, family `other`);
/// - track 3 "Kit", channel 10: kick, snare and hi-hat eighths throughout;
/// - track 4 "Melody", channel 2: flute (73) notes, a vocal track by its name; and channel 3
///   with program 53 (voice oohs, vocals by program) in the same track.
pub fn song_midi() -> Vec<u8> {
    let q = TPQ;
    let mut conductor = TrackBuilder::new("conductor");
    conductor.at(
        0,
        TrackEventKind::Meta(MetaMessage::Tempo(u24::new(500_000))),
    );
    conductor.at(
        4 * q,
        TrackEventKind::Meta(MetaMessage::Tempo(u24::new(375_000))),
    );

    let mut keys = TrackBuilder::new("Keys");
    keys.program(0, 0, 0)
        .controller(0, 0, 7, 110)
        .controller(0, 0, 64, 127);
    for (beat, key) in [(0, 60), (1, 64), (2, 67), (3, 72)] {
        keys.note(0, key, 90, beat * q, beat * q + q / 2);
    }
    keys.controller(4 * q, 0, 64, 0).program(4 * q, 0, 33);
    for (beat, key) in [(4, 36), (5, 43), (6, 41), (7, 36)] {
        keys.note(0, key, 100, beat * q, beat * q + q - 10);
    }
    keys.midi(
        5 * q + q / 2,
        0,
        MidiMessage::PitchBend {
            bend: PitchBend(u14::new(10_000)),
        },
    );
    keys.midi(
        6 * q,
        0,
        MidiMessage::PitchBend {
            bend: PitchBend(u14::new(8192)),
        },
    );

    let mut strings = TrackBuilder::new("Strings");
    strings.program(0, 1, 25).controller(0, 1, 10, 30);
    for beat in 0..4 {
        strings.note(1, 52, 80, beat * q, beat * q + q / 3);
        strings.note(1, 55, 80, beat * q + q / 2, beat * q + q);
    }
    strings.program(4 * q, 1, 48);
    strings.note(1, 60, 70, 4 * q, 8 * q);
    strings.note(1, 64, 70, 4 * q, 8 * q);

    let mut kit = TrackBuilder::new("Kit");
    for eighth in 0..16 {
        let tick = eighth * q / 2;
        let key = if eighth % 4 == 0 {
            36
        } else if eighth % 4 == 2 {
            38
        } else {
            42
        };
        kit.note(9, key, 100, tick, tick + q / 4);
    }

    let mut melody = TrackBuilder::new("Melody");
    melody.program(0, 2, 73).program(0, 3, 53);
    for (beat, key) in [(1, 76), (2, 74), (3, 72), (5, 71), (6, 72)] {
        melody.note(2, key, 95, beat * q, beat * q + q - 40);
    }
    melody.note(3, 67, 70, 4 * q, 6 * q);

    let mut smf = Smf::new(Header::new(
        Format::Parallel,
        Timing::Metrical(u15::new(q as u16)),
    ));
    smf.tracks = vec![
        conductor.build(),
        keys.build(),
        strings.build(),
        kit.build(),
        melody.build(),
    ];
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes).expect("write MIDI");
    bytes
}

/// A valid MIDI file with a tempo and a track name but no notes.
pub fn silent_midi() -> Vec<u8> {
    let mut track = TrackBuilder::new("empty");
    track.at(
        0,
        TrackEventKind::Meta(MetaMessage::Tempo(u24::new(500_000))),
    );
    track.controller(10, 0, 7, 100);
    let mut smf = Smf::new(Header::new(
        Format::SingleTrack,
        Timing::Metrical(u15::new(96)),
    ));
    smf.tracks = vec![track.build()];
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes).expect("write MIDI");
    bytes
}

/// The test SoundFont: a sine, a saw, a square and a triangle voice spread over [`PROGRAMS`],
/// and a noise-burst drum kit (bank 128, preset 0).
pub fn test_soundfont() -> Vec<u8> {
    use sf2::{Sf2Builder, Waveform};
    let mut sf = Sf2Builder::new();
    let sine = sf.looped_instrument("sine", Waveform::Sine, 0.3);
    let saw = sf.looped_instrument("saw", Waveform::Saw, 0.2);
    let square = sf.looped_instrument("square", Waveform::Square, 0.25);
    let triangle = sf.looped_instrument("triangle", Waveform::Triangle, 0.4);
    let kit = sf.drum_instrument("noise kit");
    for (program, instrument) in [
        (0, sine),
        (25, saw),
        (33, square),
        (48, triangle),
        (53, sine),
        (73, triangle),
    ] {
        sf.preset(&format!("program {program}"), 0, program, instrument);
    }
    sf.preset("standard kit", 128, 0, kit);
    sf.build()
}
