//! The frequency band a score covers: the whole signal, as museval scores it, or only what lies
//! above a frequency (`saex eval --above 11025` scores the band that the shipped models do not
//! estimate themselves, where sibilants and cymbals live).
//!
//! Every signal of a scored pair (references and estimates alike) goes through the same
//! zero-phase brick-wall high-pass, so BSS Eval compares like with like and a band-limited
//! estimate is not rewarded or punished for what the filter removed.

use realfft::num_complex::Complex;
use realfft::RealFftPlanner;

/// The band of the signals that a score covers.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Band {
    /// The whole signal (museval's scores).
    #[default]
    Full,
    /// Only the content above this frequency in Hz.
    Above(f64),
}

impl Band {
    /// `--above HZ`: `None` is the full band. Refuses a frequency that is not positive.
    pub fn above(hz: Option<f64>) -> crate::error::Result<Self> {
        match hz {
            None => Ok(Band::Full),
            Some(hz) if hz.is_finite() && hz > 0.0 => Ok(Band::Above(hz)),
            Some(hz) => Err(crate::error::Error::Invalid(format!(
                "--above {hz}: expected a frequency above 0 Hz"
            ))),
        }
    }

    /// How reports name the band: `""` for the full band, else `"above 11025 Hz"`.
    pub fn label(&self) -> String {
        match self {
            Band::Full => String::new(),
            Band::Above(hz) => format!("above {hz} Hz"),
        }
    }

    /// Keeps only this band of every channel of `signals` (`(nb_channels, nb_samples)` at
    /// `rate`). The full band leaves them untouched. Fails when the band lies at or above the
    /// Nyquist frequency, where nothing would be left to score.
    pub fn apply(&self, rate: u32, signals: &mut [Vec<f64>]) -> crate::error::Result<()> {
        let Band::Above(hz) = *self else {
            return Ok(());
        };
        if hz >= rate as f64 / 2.0 {
            return Err(crate::error::Error::Invalid(format!(
                "--above {hz}: at or above the Nyquist frequency of {rate} Hz audio"
            )));
        }
        for channel in signals.iter_mut() {
            high_pass(channel, hz / rate as f64);
        }
        Ok(())
    }
}

/// Zero-phase brick-wall high-pass of `signal` at `cutoff` (a fraction of the sample rate):
/// one real FFT over the whole signal, zero-padded to an even length twice as long so that the
/// filter's circular wrap-around falls in the padding rather than on the other end.
fn high_pass(signal: &mut [f64], cutoff: f64) {
    let n = signal.len();
    if n == 0 {
        return;
    }
    let len = (2 * n).next_power_of_two().max(2);
    let mut planner = RealFftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(len);
    let inverse = planner.plan_fft_inverse(len);
    let mut buffer = vec![0.0f64; len];
    buffer[..n].copy_from_slice(signal);
    let mut spectrum = forward.make_output_vec();
    forward
        .process(&mut buffer, &mut spectrum)
        .expect("buffer lengths come from the plan");
    // Bin k is k / len of the rate; bins strictly below the cutoff go.
    let first_kept = (cutoff * len as f64).ceil() as usize;
    for bin in spectrum.iter_mut().take(first_kept) {
        *bin = Complex::new(0.0, 0.0);
    }
    // The inverse needs real DC and Nyquist bins; both are zero or untouched and real.
    if let Some(last) = spectrum.last_mut() {
        last.im = 0.0;
    }
    inverse
        .process(&mut spectrum, &mut buffer)
        .expect("buffer lengths come from the plan");
    let scale = 1.0 / len as f64;
    for (s, &b) in signal.iter_mut().zip(&buffer[..n]) {
        *s = b * scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f64, rate: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * hz * i as f64 / rate).sin())
            .collect()
    }

    fn energy(s: &[f64]) -> f64 {
        s.iter().map(|v| v * v).sum()
    }

    #[test]
    fn keeps_the_high_tone_and_removes_the_low_one() {
        let rate = 44100;
        let n = 44100;
        let (low, high) = (tone(1000.0, rate as f64, n), tone(15000.0, rate as f64, n));
        let mut signals = vec![low
            .iter()
            .zip(&high)
            .map(|(a, b)| a + b)
            .collect::<Vec<_>>()];
        Band::Above(11025.0).apply(rate, &mut signals).unwrap();
        // Away from the ends (where the brick wall rings), the high tone is all that is left.
        let middle = 4410..n - 4410;
        let error: Vec<f64> = signals[0][middle.clone()]
            .iter()
            .zip(&high[middle.clone()])
            .map(|(a, b)| a - b)
            .collect();
        assert!(
            energy(&error) < 1e-4 * energy(&high[middle]),
            "residual energy {}",
            energy(&error)
        );
    }

    #[test]
    fn the_full_band_is_left_alone_and_nyquist_is_refused() {
        let mut signals = vec![vec![0.5, -0.25, 1.0]];
        Band::Full.apply(8000, &mut signals).unwrap();
        assert_eq!(signals[0], vec![0.5, -0.25, 1.0]);
        assert!(Band::Above(4000.0).apply(8000, &mut signals).is_err());
        assert!(Band::above(Some(-1.0)).is_err());
        assert_eq!(Band::above(None).unwrap(), Band::Full);
    }
}
