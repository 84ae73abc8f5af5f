//! Training-time effects on one stem excerpt: a random EQ, a random short reverb and a random
//! speed change (pitch and tempo together, by resampling). Each is switched on its own, and
//! every draw comes from the caller's random generator, so a seeded run repeats.
//!
//! Audio is `(nb_channels, nb_samples)` as `Vec<Vec<f32>>`. The speed change reads up to
//! [`MAX_SPEED_CHANGE`] more input than it writes: read [`StemEffects::read_len`] samples and
//! [`StemEffects::apply`] leaves exactly the excerpt's length.

use crate::record::Augment;
use rand::Rng;
use std::f64::consts::PI;

/// Largest relative speed change (0.06: about one semitone up or down).
const MAX_SPEED_CHANGE: f64 = 0.06;
/// Largest gain of one EQ band in dB (up or down).
const MAX_EQ_DB: f64 = 6.0;
/// Reverberation time range in seconds (short rooms: the corpus adds the long ones).
const REVERB_RT60: (f64, f64) = (0.1, 0.6);
/// The chance that an effect that is on runs on a given stem excerpt.
const APPLY_PROBABILITY: f64 = 0.5;

/// Which effects run on a training stem excerpt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StemEffects {
    /// Low shelf, one peak and high shelf with random frequencies and gains within
    /// +-[`MAX_EQ_DB`] each.
    pub eq: bool,
    /// A small stereo room (4 combs and 2 all-passes per channel) with a random decay in
    /// [`REVERB_RT60`] and a random wet level.
    pub reverb: bool,
    /// Resampling by a random ratio within 1 +- [`MAX_SPEED_CHANGE`].
    pub speed: bool,
}

impl StemEffects {
    /// The per-stem effects that `augment` turns on.
    pub fn of(augment: &Augment) -> Self {
        StemEffects {
            eq: augment.eq,
            reverb: augment.reverb,
            speed: augment.speed,
        }
    }
}

impl StemEffects {
    /// Samples per channel to read for an excerpt of `len` samples.
    pub fn read_len(&self, len: usize) -> usize {
        if self.speed {
            (len as f64 * (1.0 + MAX_SPEED_CHANGE)).ceil() as usize + 2
        } else {
            len
        }
    }

    /// Applies the effects that are on to `audio` (`(nb_channels, >= len)`, as read with
    /// [`Self::read_len`]) and leaves `(nb_channels, len)`. Each effect that is on runs with
    /// probability [`APPLY_PROBABILITY`] (clean stems stay in the training mix, and the loader
    /// does half the work). One draw per stem: every channel gets the same speed and EQ.
    pub fn apply(&self, audio: &mut [Vec<f32>], len: usize, sample_rate: u32, rng: &mut impl Rng) {
        if self.speed && rng.gen_bool(APPLY_PROBABILITY) {
            let ratio = 1.0 + rng.gen_range(-MAX_SPEED_CHANGE..=MAX_SPEED_CHANGE);
            for ch in audio.iter_mut() {
                *ch = speed_change(ch, ratio, len);
            }
        }
        for ch in audio.iter_mut() {
            ch.resize(len, 0.0);
        }
        let rate = f64::from(sample_rate);
        if self.eq && rng.gen_bool(APPLY_PROBABILITY) {
            let bands = random_eq(rng, rate);
            for ch in audio.iter_mut() {
                for band in &bands {
                    band.clone().process(ch);
                }
            }
        }
        if self.reverb && rng.gen_bool(APPLY_PROBABILITY) {
            let rt60 = rng.gen_range(REVERB_RT60.0..=REVERB_RT60.1);
            let size = rng.gen_range(0.4..=1.0);
            let wet = rng.gen_range(0.05..=0.35) as f32;
            for (c, ch) in audio.iter_mut().enumerate() {
                let tail = ShortReverb::new(rate, rt60, size, c).process(ch);
                ch.iter_mut().zip(tail).for_each(|(x, t)| *x += wet * t);
            }
        }
    }
}

/// `len` samples of `x` played `ratio` times faster (linear interpolation; zeros past the end).
/// `ratio` > 1 raises the pitch.
fn speed_change(x: &[f32], ratio: f64, len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let pos = i as f64 * ratio;
            let j = pos.floor() as usize;
            let frac = (pos - j as f64) as f32;
            match (x.get(j), x.get(j + 1)) {
                (Some(&a), Some(&b)) => a + (b - a) * frac,
                (Some(&a), None) => a * (1.0 - frac),
                _ => 0.0,
            }
        })
        .collect()
}

/// A second-order IIR section (RBJ cookbook), transposed direct form II with f64 state.
#[derive(Debug, Clone, PartialEq)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    state: [f64; 2],
}

/// The kinds of [`Biquad`] band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BandKind {
    Peak,
    LowShelf,
    HighShelf,
}

impl Biquad {
    /// A band of `kind` at `freq` Hz (clamped below 0.45 of the rate) with quality `q` and
    /// gain `gain_db`.
    pub fn new(kind: BandKind, freq: f64, q: f64, gain_db: f64, rate: f64) -> Self {
        let w0 = 2.0 * PI * freq.min(0.45 * rate) / rate;
        let (cos, sin) = (w0.cos(), w0.sin());
        let alpha = sin / (2.0 * q);
        let a = 10f64.powf(gain_db / 40.0);
        let (b, den) = match kind {
            BandKind::Peak => (
                [1.0 + alpha * a, -2.0 * cos, 1.0 - alpha * a],
                [1.0 + alpha / a, -2.0 * cos, 1.0 - alpha / a],
            ),
            BandKind::LowShelf | BandKind::HighShelf => {
                let s = if kind == BandKind::LowShelf {
                    1.0
                } else {
                    -1.0
                };
                let sq = 2.0 * a.sqrt() * alpha;
                (
                    [
                        a * ((a + 1.0) - s * (a - 1.0) * cos + sq),
                        s * 2.0 * a * ((a - 1.0) - s * (a + 1.0) * cos),
                        a * ((a + 1.0) - s * (a - 1.0) * cos - sq),
                    ],
                    [
                        (a + 1.0) + s * (a - 1.0) * cos + sq,
                        -s * 2.0 * ((a - 1.0) + s * (a + 1.0) * cos),
                        (a + 1.0) + s * (a - 1.0) * cos - sq,
                    ],
                )
            }
        };
        Biquad {
            b: [b[0] / den[0], b[1] / den[0], b[2] / den[0]],
            a: [den[1] / den[0], den[2] / den[0]],
            state: [0.0; 2],
        }
    }

    /// Filters `x` in place.
    pub fn process(&mut self, x: &mut [f32]) {
        let [b0, b1, b2] = self.b;
        let [a1, a2] = self.a;
        let [mut s1, mut s2] = self.state;
        for v in x.iter_mut() {
            let input = f64::from(*v);
            let out = b0 * input + s1;
            s1 = b1 * input - a1 * out + s2;
            s2 = b2 * input - a2 * out;
            *v = out as f32;
        }
        self.state = [s1, s2];
    }
}

/// A random three-band EQ: a low shelf (60..400 Hz), a peak (200..6000 Hz, Q 0.5..2) and a
/// high shelf (2..10 kHz), each within +-[`MAX_EQ_DB`].
fn random_eq(rng: &mut impl Rng, rate: f64) -> Vec<Biquad> {
    let mut gain = || rng.gen_range(-MAX_EQ_DB..=MAX_EQ_DB);
    let (g_low, g_peak, g_high) = (gain(), gain(), gain());
    let log_uniform = |rng: &mut dyn rand::RngCore, lo: f64, hi: f64| {
        (lo.ln() + rng.gen::<f64>() * (hi.ln() - lo.ln())).exp()
    };
    let f_low = log_uniform(rng, 60.0, 400.0);
    let f_peak = log_uniform(rng, 200.0, 6000.0);
    let q = rng.gen_range(0.5..=2.0);
    let f_high = log_uniform(rng, 2000.0, 10000.0);
    vec![
        Biquad::new(BandKind::LowShelf, f_low, 0.707, g_low, rate),
        Biquad::new(BandKind::Peak, f_peak, q, g_peak, rate),
        Biquad::new(BandKind::HighShelf, f_high, 0.707, g_high, rate),
    ]
}

/// A Schroeder reverb: four parallel feedback combs (29.7..43.7 ms times `size`, each channel
/// a few samples apart so that the two channels decorrelate) into two all-passes. The combs'
/// feedback gives a decay of 60 dB in `rt60` seconds. Returns the wet signal only.
struct ShortReverb {
    combs: Vec<(Vec<f32>, f32)>,
    allpasses: Vec<Vec<f32>>,
}

const COMB_MS: [f64; 4] = [29.7, 37.1, 41.1, 43.7];
const ALLPASS_MS: [f64; 2] = [5.0, 1.7];
const ALLPASS_GAIN: f32 = 0.7;

impl ShortReverb {
    /// `channel` shifts the delays by 7 samples per channel.
    pub fn new(rate: f64, rt60: f64, size: f64, channel: usize) -> Self {
        let spread = 7 * channel;
        let combs = COMB_MS
            .iter()
            .map(|ms| {
                let delay = ((ms * size * rate / 1000.0) as usize).max(1) + spread;
                let feedback = 10f64.powf(-3.0 * delay as f64 / rate / rt60) as f32;
                (vec![0.0; delay], feedback)
            })
            .collect();
        let allpasses = ALLPASS_MS
            .iter()
            .map(|ms| vec![0.0; ((ms * rate / 1000.0) as usize).max(1) + spread])
            .collect();
        ShortReverb { combs, allpasses }
    }

    /// The wet signal for `x` (same length), scaled to about the input's level.
    pub fn process(mut self, x: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0f32; x.len()];
        let scale = 1.0 / self.combs.len() as f32;
        for (buffer, feedback) in &mut self.combs {
            let n = buffer.len();
            let mut pos = 0;
            for (o, &v) in out.iter_mut().zip(x) {
                let delayed = buffer[pos];
                *o += delayed * scale;
                buffer[pos] = v + delayed * *feedback;
                pos = if pos + 1 == n { 0 } else { pos + 1 };
            }
        }
        for buffer in &mut self.allpasses {
            let n = buffer.len();
            let mut pos = 0;
            for o in out.iter_mut() {
                let delayed = buffer[pos];
                let input = *o;
                buffer[pos] = input + delayed * ALLPASS_GAIN;
                *o = delayed - input * ALLPASS_GAIN;
                pos = if pos + 1 == n { 0 } else { pos + 1 };
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const RATE: f64 = 8000.0;

    fn sine(freq: f64, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (2.0 * PI * freq * i as f64 / RATE).sin() as f32 * 0.5)
            .collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    fn rising_zero_crossings(x: &[f32]) -> usize {
        x.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count()
    }

    #[test]
    fn speed_change_scales_the_frequency_and_keeps_the_length() {
        let x = sine(100.0, 9000);
        let y = speed_change(&x, 1.05, 8000);
        assert_eq!(y.len(), 8000);
        // One second at 105 Hz.
        let n = rising_zero_crossings(&y);
        assert!((104..=106).contains(&n), "{n} crossings");
        // Past the input's end: zeros.
        assert!(speed_change(&x[..100], 2.0, 200)[60..]
            .iter()
            .all(|&v| v == 0.0));
    }

    #[test]
    fn peak_band_gain_at_its_centre_and_shelves_far_from_it() {
        let gain_at = |kind, freq_band, freq_test| {
            let mut x = sine(freq_test, 16000);
            Biquad::new(kind, freq_band, 1.0, 6.0, RATE).process(&mut x);
            20.0 * (rms(&x[8000..]) / rms(&sine(freq_test, 16000)[8000..])).log10()
        };
        assert!((gain_at(BandKind::Peak, 1000.0, 1000.0) - 6.0).abs() < 0.1);
        assert!(gain_at(BandKind::Peak, 1000.0, 100.0).abs() < 0.5);
        assert!((gain_at(BandKind::LowShelf, 500.0, 50.0) - 6.0).abs() < 0.3);
        assert!((gain_at(BandKind::HighShelf, 500.0, 3000.0) - 6.0).abs() < 0.5);
        assert!(gain_at(BandKind::HighShelf, 500.0, 50.0).abs() < 0.5);
    }

    #[test]
    fn random_eq_is_seeded_and_bounded() {
        let draw = |seed| {
            let mut x = sine(440.0, 8000);
            for mut band in random_eq(&mut ChaCha8Rng::seed_from_u64(seed), RATE) {
                band.process(&mut x);
            }
            x
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
        for seed in 0..20 {
            let y = draw(seed);
            let gain = 20.0 * (rms(&y[4000..]) / rms(&sine(440.0, 8000)[4000..])).log10();
            assert!(gain.abs() <= 3.0 * MAX_EQ_DB, "seed {seed}: {gain} dB");
        }
    }

    #[test]
    fn short_reverb_decays_within_its_rt60() {
        let mut impulse = vec![0.0f32; 16000];
        impulse[0] = 1.0;
        let tail = ShortReverb::new(RATE, 0.3, 1.0, 0).process(&impulse);
        assert!(tail.iter().all(|v| v.is_finite()));
        let early = rms(&tail[..800]);
        let late = rms(&tail[3200..4000]); // 0.4 to 0.5 s: past the 0.3 s decay
        assert!(early > 0.0);
        assert!(late < early * 1e-2, "early {early}, late {late}");
        let left = ShortReverb::new(RATE, 0.3, 1.0, 0).process(&impulse);
        let right = ShortReverb::new(RATE, 0.3, 1.0, 1).process(&impulse);
        assert_ne!(left, right);
    }

    #[test]
    fn apply_is_seeded_and_leaves_the_excerpt_length() {
        let all = StemEffects {
            eq: true,
            reverb: true,
            speed: true,
        };
        let len = 4000;
        let run = |effects: StemEffects, seed| {
            let mut audio = vec![sine(300.0, effects.read_len(len)); 2];
            effects.apply(&mut audio, len, 8000, &mut ChaCha8Rng::seed_from_u64(seed));
            audio
        };
        let out = run(all, 1);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|ch| ch.len() == len));
        assert_eq!(out, run(all, 1));
        assert!((2..6).any(|seed| run(all, seed) != out));
        assert!(out.iter().flatten().all(|v| v.is_finite()));
        // Everything off: the excerpt as read.
        let none = StemEffects::default();
        assert_eq!(none.read_len(len), len);
        assert_eq!(run(none, 1), vec![sine(300.0, len); 2]);
        // Each effect alone changes the audio.
        for one in [
            StemEffects { eq: true, ..none },
            StemEffects {
                reverb: true,
                ..none
            },
            StemEffects {
                speed: true,
                ..none
            },
        ] {
            let clean = vec![sine(300.0, len); 2];
            let changed = (0..16).filter(|&seed| run(one, seed) != clean).count();
            // About half of the excerpts (APPLY_PROBABILITY), never none or all.
            assert!(
                (3..=13).contains(&changed),
                "{one:?}: {changed} of 16 changed"
            );
        }
    }
}
