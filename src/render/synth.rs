//! Rendering one song through several rustysynth synthesizers in lockstep, one per part (a stem,
//! or all notes). Every synthesizer receives every controller, program, pitch-bend and note-off
//! event of every channel at the same sample; only the note-ons of other parts are withheld. So
//! tempo, sustain pedals and volumes are identical in every part, and the parts sum to the full
//! render up to float rounding (rustysynth is linear once reverb and chorus are off).
//!
//! Where parts can differ from the full render: a song that needs more than [`MAX_POLYPHONY`]
//! voices at once (voices are stolen differently per part); two stems sharing one channel
//! and one SoundFont exclusive class (e.g. hi-hats cutting each other, normally within drums);
//! and reverb/chorus, whose reverb flushes tiny values to zero. Events act at rustysynth's
//! 64-frame block boundaries, the same ones in every part.

use super::families::NoteAssignment;
use super::midi::Song;
use crate::error::{Error, Result};
use rayon::prelude::*;
use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};
use std::sync::Arc;

/// rustysynth's largest voice count. Stems sum exactly to the full render only while the full
/// render never needs more voices than this (voice stealing differs between parts otherwise).
const MAX_POLYPHONY: usize = 256;
/// Frames rendered per block and per part.
const BLOCK_FRAMES: usize = 4096;

/// How to render.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderSettings {
    /// Output rate in Hz, 16000..=192000 (rustysynth's range). Default 44100.
    pub sample_rate: u32,
    /// rustysynth's reverb and chorus (default off; with them on, parts still sum to the full
    /// render only approximately).
    pub reverb_and_chorus: bool,
    /// After the last event, rendering stops at the first silent block or after this many
    /// seconds (release tails). Default 5.
    pub max_tail_secs: f64,
    /// Songs whose last event is later than this are refused (a guard against corrupt files
    /// that would render hours of silence). Default 3600.
    pub max_duration_secs: f64,
}

impl Default for RenderSettings {
    fn default() -> Self {
        RenderSettings {
            sample_rate: 44_100,
            reverb_and_chorus: false,
            max_tail_secs: 5.0,
            max_duration_secs: 3600.0,
        }
    }
}

impl RenderSettings {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<()> {
        if !(16_000..=192_000).contains(&self.sample_rate) {
            return Err(Error::Invalid(format!(
                "sample rate {}: expected 16000 to 192000 Hz",
                self.sample_rate
            )));
        }
        if !(self.max_tail_secs >= 0.0 && self.max_tail_secs.is_finite()) {
            return Err(Error::Invalid(format!(
                "tail {} s: expected a finite number >= 0",
                self.max_tail_secs
            )));
        }
        if self.max_duration_secs.is_nan() || self.max_duration_secs <= 0.0 {
            return Err(Error::Invalid(format!(
                "maximum duration {} s: expected > 0",
                self.max_duration_secs
            )));
        }
        Ok(())
    }
}

/// What one synthesizer plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The note-ons of stem `i` of the [`NoteAssignment`].
    Stem(usize),
    /// Every note-on (the full render).
    All,
}

/// A channel event at its output frame, with the stem of a note-on.
#[derive(Debug, Clone, Copy)]
struct ScheduledEvent {
    frame: u64,
    channel: i32,
    command: i32,
    data1: i32,
    data2: i32,
    stem: Option<usize>,
}

struct Lane {
    part: Part,
    synth: Synthesizer,
    next_event: usize,
    frame: u64,
}

impl Lane {
    fn plays(&self, event: &ScheduledEvent) -> bool {
        match (event.stem, self.part) {
            (None, _) | (Some(_), Part::All) => true,
            (Some(stem), Part::Stem(part)) => stem == part,
        }
    }

    /// Applies the events before `end_frame` at their frames and renders up to `end_frame` into
    /// `left` and `right` (each `end_frame - self.frame` long).
    fn render_until(
        &mut self,
        events: &[ScheduledEvent],
        end_frame: u64,
        left: &mut [f32],
        right: &mut [f32],
    ) {
        let mut written = 0usize;
        while let Some(event) = events.get(self.next_event).filter(|e| e.frame < end_frame) {
            let gap = (event.frame.saturating_sub(self.frame)) as usize;
            if gap > 0 {
                self.synth.render(
                    &mut left[written..written + gap],
                    &mut right[written..written + gap],
                );
                written += gap;
                self.frame += gap as u64;
            }
            if self.plays(event) {
                self.synth.process_midi_message(
                    event.channel,
                    event.command,
                    event.data1,
                    event.data2,
                );
            }
            self.next_event += 1;
        }
        self.synth
            .render(&mut left[written..], &mut right[written..]);
        self.frame = end_frame;
    }
}

/// Renders the parts of one song block by block, all of the same length.
pub struct PartRenderer {
    events: Vec<ScheduledEvent>,
    lanes: Vec<Lane>,
    frame: u64,
    last_event_frame: u64,
    end_limit: u64,
    finished: bool,
}

impl PartRenderer {
    /// A renderer for `parts` of `song`, whose note-ons `assignment` maps to stems.
    /// Fails when the settings are out of range or the song is longer than allowed.
    pub fn new(
        song: &Song,
        assignment: &NoteAssignment,
        soundfont: &Arc<SoundFont>,
        parts: &[Part],
        settings: &RenderSettings,
    ) -> Result<Self> {
        settings.validate()?;
        if assignment.note_stem.len() != song.events.len() {
            return Err(Error::mismatch(
                "note assignment length",
                song.events.len(),
                assignment.note_stem.len(),
            ));
        }
        let duration = song.duration_secs();
        if duration > settings.max_duration_secs {
            return Err(Error::file(
                &song.path,
                format!(
                    "lasts {duration:.0} s: expected at most {:.0} s",
                    settings.max_duration_secs
                ),
            ));
        }
        let rate = f64::from(settings.sample_rate);
        let events: Vec<ScheduledEvent> = song
            .events
            .iter()
            .zip(&assignment.note_stem)
            .map(|(e, &stem)| {
                let (command, data1, data2) = e.message.raw();
                ScheduledEvent {
                    frame: (e.time_secs * rate).round() as u64,
                    channel: i32::from(e.channel),
                    command: i32::from(command),
                    data1: i32::from(data1),
                    data2: i32::from(data2),
                    stem,
                }
            })
            .collect();
        let mut synth_settings = SynthesizerSettings::new(settings.sample_rate as i32);
        synth_settings.maximum_polyphony = MAX_POLYPHONY;
        synth_settings.enable_reverb_and_chorus = settings.reverb_and_chorus;
        let lanes = parts
            .iter()
            .map(|&part| {
                let synth = Synthesizer::new(soundfont, &synth_settings)
                    .map_err(|e| Error::Invalid(format!("synthesizer settings: {e}")))?;
                Ok(Lane {
                    part,
                    synth,
                    next_event: 0,
                    frame: 0,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let last_event_frame = events.last().map_or(0, |e| e.frame);
        let end_limit = last_event_frame + 1 + (settings.max_tail_secs * rate).round() as u64;
        Ok(PartRenderer {
            events,
            lanes,
            frame: 0,
            last_event_frame,
            end_limit,
            finished: false,
        })
    }

    /// The next block, one stereo buffer per part in the order given to [`PartRenderer::new`]:
    /// shape `(nb_parts, 2, nb_frames)`, `nb_frames` at most 4096 and the same for every part.
    /// `None` once the song and its tails are done.
    pub fn next_block(&mut self) -> Option<Vec<[Vec<f32>; 2]>> {
        if self.finished || self.frame >= self.end_limit {
            self.finished = true;
            return None;
        }
        let start = self.frame;
        let end = (start + BLOCK_FRAMES as u64).min(self.end_limit);
        let nb_frames = (end - start) as usize;
        let events = &self.events;
        let block: Vec<[Vec<f32>; 2]> = self
            .lanes
            .par_iter_mut()
            .map(|lane| {
                let mut left = vec![0.0f32; nb_frames];
                let mut right = vec![0.0f32; nb_frames];
                lane.render_until(events, end, &mut left, &mut right);
                [left, right]
            })
            .collect();
        self.frame = end;
        let silent = block
            .iter()
            .all(|[l, r]| l.iter().chain(r).all(|&x| x == 0.0));
        if start > self.last_event_frame && silent {
            self.finished = true;
            return None;
        }
        Some(block)
    }
}
