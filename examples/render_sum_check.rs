//! Renders MIDI files through a SoundFont into memory only (no WAV output) and reports, per
//! file, how well the stems sum to the full render and how fast rendering runs:
//!
//! ```text
//! cargo run --release --example render_sum_check -- FILE.sf2 A.mid [B.mid ...]
//! ```
//!
//! Stems and the full render go through one `PartRenderer` in lockstep, block by block, so
//! memory stays flat however long the song is.

use saex::render::{load_soundfont, Part, PartRenderer, RenderSettings, Song, StemMap};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((soundfont, midis)) = args.split_first() else {
        anyhow::bail!("usage: render_sum_check FILE.sf2 A.mid [B.mid ...]");
    };
    let soundfont = load_soundfont(soundfont)?;
    let settings = RenderSettings::default();
    let map = StemMap::general_midi();
    println!("file\tstems\taudio_s\tstems_render_s\tstems_rtf\tsum_snr_db");
    for midi in midis {
        let song = Song::load(midi)?;
        let assignment = map.assign(&song);
        let nb_stems = assignment.stems.len();

        // Stems alone first, for the speed of what `saex render` does (without the disk).
        let parts: Vec<Part> = (0..nb_stems).map(Part::Stem).collect();
        let started = Instant::now();
        let mut renderer = PartRenderer::new(&song, &assignment, &soundfont, &parts, &settings)?;
        let mut nb_frames = 0usize;
        while let Some(block) = renderer.next_block() {
            nb_frames += block[0][0].len();
        }
        let render_secs = started.elapsed().as_secs_f64();

        // Then stems and the full render together, for the sum check.
        let mut parts = parts;
        parts.push(Part::All);
        let mut renderer = PartRenderer::new(&song, &assignment, &soundfont, &parts, &settings)?;
        let (mut signal, mut noise) = (0f64, 0f64);
        while let Some(block) = renderer.next_block() {
            let (full, stems) = block
                .split_last()
                .expect("the full render is the last part");
            for ch in 0..2 {
                for i in 0..full[ch].len() {
                    let sum: f32 = stems.iter().map(|s| s[ch][i]).sum();
                    signal += f64::from(full[ch][i]).powi(2);
                    noise += f64::from(full[ch][i] - sum).powi(2);
                }
            }
        }
        let audio_secs = nb_frames as f64 / f64::from(settings.sample_rate);
        println!(
            "{midi}\t{}\t{audio_secs:.1}\t{render_secs:.2}\t{:.0}\t{:.1}",
            assignment.stems.join(","),
            audio_secs / render_secs,
            10.0 * (signal / noise.max(1e-300)).log10()
        );
    }
    Ok(())
}
