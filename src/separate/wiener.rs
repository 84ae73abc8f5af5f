//! The multichannel Wiener filter refined by expectation-maximisation (EM), on one batch of frames,
//! as norbert and Open-Unmix do it (Nugraha, Liutkus and Vincent, "Multichannel audio source
//! separation with deep neural networks", 2016).
//!
//! Every target, and the residual (the mixture minus the targets), is a Gaussian source: in
//! each frequency bin `f` and frame `t` its multichannel spectrum `y_j(f, t)` has covariance
//! `v_j(f, t) R_j(f)`, a power spectral density times a spatial covariance matrix (channels x
//! channels) shared by the frames of the batch. One iteration re-estimates them from the current
//! spectra,
//!
//! ```text
//! v_j(f, t) = mean over channels |y_j(f, t)|^2
//! R_j(f)    = sum_t y_j(f, t) y_j(f, t)^H / sum_t v_j(f, t)
//! ```
//!
//! then filters the mixture `x` with the multichannel Wiener gain,
//! `y_j = v_j R_j (sum_k v_k R_k)^-1 x`. The spectra it starts from are the masked mixture
//! (ratio or Wiener masks, see [`super::MaskKind`]), so the targets and the residual still sum to
//! the mixture after any number of iterations. Covariances are estimated per batch (256 frames,
//! about 3 s at hop 512, on the CPU path; 4096 on CUDA), which keeps memory bounded on any length, as Open-Unmix's
//! `wiener_win_len` does.

use crate::stft::Complex32;
use rayon::prelude::*;
use realfft::num_complex::Complex64;

/// Frequency bins per parallel task.
const BINS_PER_TASK: usize = 16;
/// Loading of the mixture covariance's diagonal, relative to each diagonal value, so that it can
/// be inverted where the sources' spatial covariances are (nearly) singular, as for a mono
/// recording. Relative, unlike norbert's absolute `eps`, so that quiet bins and quiet channels
/// are not attenuated.
const REGULARISATION: f64 = 1e-6;
/// And relative to the mean diagonal value, for a channel silent in a bin.
const FLOOR: f64 = 1e-12;

/// Runs `niter` EM iterations on one batch. `mix`: `[channel]` `(count, nb_bins)` spectra;
/// `targets`: `[channel]` `(count, nb_targets, nb_bins)` spectra (the masked mixture), replaced
/// by the refined ones. Does nothing for `niter == 0`.
pub fn refine(
    mix: &[Vec<Complex32>],
    targets: &mut [Vec<Complex32>],
    count: usize,
    nb_targets: usize,
    nb_bins: usize,
    niter: usize,
) {
    let nb_channels = mix.len();
    if niter == 0 || count == 0 || nb_channels == 0 {
        return;
    }
    let refined: Vec<Vec<Complex64>> = (0..nb_bins)
        .into_par_iter()
        .chunks(BINS_PER_TASK)
        .flat_map_iter(|bins| {
            let mut work = BinWork::new(count, nb_channels, nb_targets + 1);
            bins.into_iter()
                .map(|f| {
                    work.load(mix, targets, f, nb_targets, nb_bins);
                    for _ in 0..niter {
                        work.iterate();
                    }
                    work.targets(nb_targets)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    // refined[f]: (nb_targets, count, nb_channels).
    for (f, bin) in refined.iter().enumerate() {
        for j in 0..nb_targets {
            for t in 0..count {
                for (c, out) in targets.iter_mut().enumerate() {
                    let y = bin[(j * count + t) * nb_channels + c];
                    out[(t * nb_targets + j) * nb_bins + f] =
                        Complex32::new(y.re as f32, y.im as f32);
                }
            }
        }
    }
}

/// One frequency bin's sources, in f64: `y[s]` `(count, nb_channels)` for the targets and, last,
/// the residual.
struct BinWork {
    count: usize,
    nb_channels: usize,
    x: Vec<Complex64>,
    y: Vec<Vec<Complex64>>,
    /// `v[s]`: `(count,)`.
    v: Vec<Vec<f64>>,
    /// `r[s]`: `(nb_channels, nb_channels)`, row-major.
    r: Vec<Vec<Complex64>>,
    cxx: Vec<Complex64>,
    inverse: Vec<Complex64>,
    gain: Vec<Complex64>,
}

impl BinWork {
    fn new(count: usize, nb_channels: usize, nb_sources: usize) -> Self {
        let square = nb_channels * nb_channels;
        BinWork {
            count,
            nb_channels,
            x: vec![Complex64::default(); count * nb_channels],
            y: vec![vec![Complex64::default(); count * nb_channels]; nb_sources],
            v: vec![vec![0.0; count]; nb_sources],
            r: vec![vec![Complex64::default(); square]; nb_sources],
            cxx: vec![Complex64::default(); square],
            inverse: vec![Complex64::default(); square],
            gain: vec![Complex64::default(); square],
        }
    }

    /// Bin `f` of the mixture and targets; the residual is what the targets leave of the
    /// mixture.
    fn load(
        &mut self,
        mix: &[Vec<Complex32>],
        targets: &[Vec<Complex32>],
        f: usize,
        nb_targets: usize,
        nb_bins: usize,
    ) {
        let nb_channels = self.nb_channels;
        let to64 = |z: Complex32| Complex64::new(f64::from(z.re), f64::from(z.im));
        for t in 0..self.count {
            for c in 0..nb_channels {
                let x = to64(mix[c][t * nb_bins + f]);
                self.x[t * nb_channels + c] = x;
                let mut rest = x;
                for j in 0..nb_targets {
                    let y = to64(targets[c][(t * nb_targets + j) * nb_bins + f]);
                    self.y[j][t * nb_channels + c] = y;
                    rest -= y;
                }
                self.y[nb_targets][t * nb_channels + c] = rest;
            }
        }
    }

    /// One EM iteration: `v` and `R` from the current spectra, then the spectra from them.
    fn iterate(&mut self) {
        let (count, n) = (self.count, self.nb_channels);
        for ((y, v), r) in self.y.iter().zip(&mut self.v).zip(&mut self.r) {
            let mut weight = 0.0;
            r.fill(Complex64::default());
            for t in 0..count {
                let frame = &y[t * n..(t + 1) * n];
                let power = frame.iter().map(|z| z.norm_sqr()).sum::<f64>() / n as f64;
                v[t] = power;
                weight += power;
                for a in 0..n {
                    for b in 0..n {
                        r[a * n + b] += frame[a] * frame[b].conj();
                    }
                }
            }
            // A source silent over the whole batch keeps R = 0.
            if weight > 0.0 {
                for value in r.iter_mut() {
                    *value /= weight;
                }
            }
        }
        for t in 0..count {
            self.cxx.fill(Complex64::default());
            for (v, r) in self.v.iter().zip(&self.r) {
                for (c, r) in self.cxx.iter_mut().zip(r) {
                    *c += r * v[t];
                }
            }
            let trace: f64 = (0..n).map(|a| self.cxx[a * n + a].re).sum();
            if trace <= 0.0 {
                // Every source is silent here, so is every spectrum.
                for y in &mut self.y {
                    y[t * n..(t + 1) * n].fill(Complex64::default());
                }
                continue;
            }
            for a in 0..n {
                let diagonal = self.cxx[a * n + a].re;
                self.cxx[a * n + a] += REGULARISATION * diagonal + FLOOR * trace / n as f64;
            }
            invert(&mut self.cxx, &mut self.inverse, n);
            let x = &self.x[t * n..(t + 1) * n];
            for s in 0..self.y.len() {
                // gain = v_s(t) R_s Cxx^-1, then y_s(t) = gain x(t).
                let (r, vt) = (&self.r[s], self.v[s][t]);
                for a in 0..n {
                    for b in 0..n {
                        let mut sum = Complex64::default();
                        for k in 0..n {
                            sum += r[a * n + k] * self.inverse[k * n + b];
                        }
                        self.gain[a * n + b] = sum * vt;
                    }
                }
                let y = &mut self.y[s][t * n..(t + 1) * n];
                for (y, gain) in y.iter_mut().zip(self.gain.chunks_exact(n)) {
                    *y = gain.iter().zip(x).map(|(g, x)| g * x).sum();
                }
            }
        }
    }

    /// The targets' spectra: `(nb_targets, count, nb_channels)`.
    fn targets(&self, nb_targets: usize) -> Vec<Complex64> {
        self.y[..nb_targets].iter().flatten().copied().collect()
    }
}

/// `inverse` = `m`^-1 for an `n` x `n` row-major matrix (closed form up to 2 x 2, else
/// Gauss-Jordan with partial pivoting); `m` is overwritten. The regularised covariances it gets
/// are Hermitian positive definite, so a pivot is never zero.
fn invert(m: &mut [Complex64], inverse: &mut [Complex64], n: usize) {
    match n {
        1 => inverse[0] = m[0].inv(),
        2 => {
            let det = m[0] * m[3] - m[1] * m[2];
            let inv_det = det.inv();
            inverse[0] = m[3] * inv_det;
            inverse[1] = -m[1] * inv_det;
            inverse[2] = -m[2] * inv_det;
            inverse[3] = m[0] * inv_det;
        }
        _ => {
            inverse.fill(Complex64::default());
            for a in 0..n {
                inverse[a * n + a] = Complex64::new(1.0, 0.0);
            }
            for col in 0..n {
                let pivot = (col..n)
                    .max_by(|&a, &b| m[a * n + col].norm().total_cmp(&m[b * n + col].norm()))
                    .unwrap_or(col);
                if pivot != col {
                    for k in 0..n {
                        m.swap(pivot * n + k, col * n + k);
                        inverse.swap(pivot * n + k, col * n + k);
                    }
                }
                let scale = m[col * n + col].inv();
                for k in 0..n {
                    m[col * n + k] *= scale;
                    inverse[col * n + k] *= scale;
                }
                for row in 0..n {
                    if row == col {
                        continue;
                    }
                    let factor = m[row * n + col];
                    if factor == Complex64::default() {
                        continue;
                    }
                    for k in 0..n {
                        let (mv, iv) = (m[col * n + k], inverse[col * n + k]);
                        m[row * n + k] -= factor * mv;
                        inverse[row * n + k] -= factor * iv;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(re: f32, im: f32) -> Complex32 {
        Complex32::new(re, im)
    }

    /// A stereo batch: a target panned hard left, the rest of the mixture panned right.
    /// `targets` starts at 70% of the left channel and 30% of the right one.
    fn panned_batch(count: usize, nb_bins: usize) -> (Vec<Vec<Complex32>>, Vec<Vec<Complex32>>) {
        let mut mix = vec![vec![Complex32::default(); count * nb_bins]; 2];
        for t in 0..count {
            for f in 0..nb_bins {
                let phase = (t * 7 + f * 3) as f32 * 0.37;
                let target = c(phase.cos(), phase.sin()) * (1.0 + (t % 3) as f32);
                let other = c((phase * 1.3).sin(), (phase * 0.7).cos()) * (0.5 + (t % 5) as f32);
                mix[0][t * nb_bins + f] = target;
                mix[1][t * nb_bins + f] = other;
            }
        }
        let targets = mix
            .iter()
            .zip([0.7, 0.3])
            .map(|(ch, share)| ch.iter().map(|z| z * share).collect())
            .collect();
        (mix, targets)
    }

    #[test]
    fn no_iteration_changes_nothing() {
        let (mix, mut targets) = panned_batch(6, 4);
        let before = targets.clone();
        refine(&mix, &mut targets, 6, 1, 4, 0);
        assert_eq!(targets, before);
    }

    #[test]
    fn spatial_covariance_pulls_a_panned_source_apart() {
        // The target lives only in the left channel and the residual only in the right one: EM
        // finds that from the spectra alone, starting from a vague guess.
        let (count, nb_bins) = (40, 3);
        let (mix, mut targets) = panned_batch(count, nb_bins);
        // Relative squared errors of the target's left and right channels.
        let errors = |targets: &[Vec<Complex32>]| -> (f32, f32) {
            let error = |c: usize, want: &dyn Fn(usize) -> Complex32| {
                (0..count * nb_bins)
                    .map(|i| (targets[c][i] - want(i)).norm_sqr())
                    .sum::<f32>()
                    / (0..count * nb_bins)
                        .map(|i| mix[c][i].norm_sqr())
                        .sum::<f32>()
            };
            (
                error(0, &|i| mix[0][i]),
                error(1, &|_| Complex32::default()),
            )
        };
        let before = errors(&targets);
        assert!(before.0 > 0.05 && before.1 > 0.05, "{before:?}");
        refine(&mix, &mut targets, count, 1, nb_bins, 4);
        let after = errors(&targets);
        assert!(after.0 < 5e-3 && after.1 < 5e-3, "{after:?}");
    }

    #[test]
    fn mono_refinement_keeps_a_share_of_the_mixture() {
        // One channel: every gain is real in [0, 1] and the target stays in phase with the mix.
        let (count, nb_bins) = (12, 5);
        let mix: Vec<Vec<Complex32>> = vec![(0..count * nb_bins)
            .map(|i| c((i as f32).cos() * 3.0, (i as f32 * 0.5).sin()))
            .collect()];
        let mut targets: Vec<Vec<Complex32>> = vec![(0..count * 2 * nb_bins)
            .map(|i| {
                let (t, j, f) = (i / (2 * nb_bins), (i / nb_bins) % 2, i % nb_bins);
                mix[0][t * nb_bins + f] * if j == 0 { 0.6 } else { 0.1 }
            })
            .collect()];
        refine(&mix, &mut targets, count, 2, nb_bins, 2);
        for t in 0..count {
            for f in 0..nb_bins {
                let x = mix[0][t * nb_bins + f];
                let mut sum = Complex32::default();
                for j in 0..2 {
                    let y = targets[0][(t * 2 + j) * nb_bins + f];
                    let gain = y / x;
                    assert!(gain.im.abs() < 1e-4 && (-1e-5..=1.0 + 1e-5).contains(&gain.re));
                    sum += y;
                }
                assert!((sum - x).norm() <= x.norm() + 1e-5);
            }
        }
    }

    #[test]
    fn general_inverse_matches_the_closed_form() {
        let m = [
            Complex64::new(2.0, 0.0),
            Complex64::new(0.5, 0.3),
            Complex64::new(0.5, -0.3),
            Complex64::new(1.5, 0.0),
        ];
        let mut closed = [Complex64::default(); 4];
        invert(&mut m.clone(), &mut closed, 2);
        // The same matrix inside a 3 x 3 block-diagonal one, through Gauss-Jordan.
        let mut big = [Complex64::default(); 9];
        big[0] = m[0];
        big[1] = m[1];
        big[3] = m[2];
        big[4] = m[3];
        big[8] = Complex64::new(4.0, 0.0);
        let mut general = [Complex64::default(); 9];
        invert(&mut big, &mut general, 3);
        for (a, b) in [(0, 0), (1, 1), (3, 2), (4, 3)] {
            assert!((general[a] - closed[b]).norm() < 1e-12);
        }
        assert!((general[8] - Complex64::new(0.25, 0.0)).norm() < 1e-12);
    }
}
