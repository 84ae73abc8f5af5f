//! BSS Eval version 4 as museval computes it (`museval.metrics.bss_eval` with
//! `framewise_filters=False`, `bsseval_sources_version=False`, `compute_permutation=False`).
//!
//! For every source `j`, the estimate is projected by least squares on
//! - the `filters_len` delayed copies of every channel of reference `j` (the "image" part `P_j`),
//! - the delayed copies of every channel of every reference (`P_all`),
//!
//! with filters solved once over the whole track from the Gram matrix of delayed references
//! (regularised by `eps * I`, eps the f64 machine epsilon, solved by LU with partial pivoting as
//! `numpy.linalg.solve` does). Each window of `window` samples, every `hop` samples, then
//! projects that window's references (zero padded by `filters_len - 1`) through the fixed
//! filters and measures, summed over channels and samples,
//! - SDR = 10 log10(|s|^2 / |e - s|^2)
//! - ISR = 10 log10(|s|^2 / |P_j - s|^2)
//! - SIR = 10 log10(|P_j|^2 / |P_all - P_j|^2)
//! - SAR = 10 log10(|P_all|^2 / |e - P_all|^2)
//!
//! where `s` is the reference and `e` the estimate. A window where any reference or estimate is
//! silent (the sum over channels is zero at every sample) gives NaN for every source; a zero
//! denominator gives +inf, a zero numerator -inf, as in museval.

use super::correlation::lagged_correlations;
use crate::error::{Error, Result};
use rayon::prelude::*;
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use std::ops::Range;
use std::sync::Arc;
use tch::Tensor;

/// museval's filter length: delays 0 ..= 511 samples.
pub const FILTERS_LEN: usize = 512;

/// Signals of several sources: `(nb_sources, nb_channels, nb_samples)`.
pub type Sources = [Vec<Vec<f64>>];

/// Per-window metrics in dB, each of shape `(nb_sources, nb_windows)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    pub sdr: Vec<Vec<f64>>,
    pub isr: Vec<Vec<f64>>,
    pub sir: Vec<Vec<f64>>,
    pub sar: Vec<Vec<f64>>,
}

impl Metrics {
    pub fn nb_sources(&self) -> usize {
        self.sdr.len()
    }

    pub fn nb_windows(&self) -> usize {
        self.sdr.first().map_or(0, Vec::len)
    }
}

/// Window and filter settings of BSS Eval v4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BssConfig {
    /// Window length in samples (museval: 1 s, i.e. the sample rate), at least 1.
    pub window: usize,
    /// Hop between windows in samples (museval: 1 s), at least 1.
    pub hop: usize,
    /// Number of filter taps (museval: 512), at least 1.
    pub filters_len: usize,
}

impl BssConfig {
    /// museval's defaults for `sample_rate`: 1 s windows, 1 s hop, 512 taps.
    pub fn museval(sample_rate: u32) -> Self {
        BssConfig {
            window: sample_rate as usize,
            hop: sample_rate as usize,
            filters_len: FILTERS_LEN,
        }
    }
}

/// The windows museval evaluates over a signal of `nb_samples` samples: `floor((nb_samples -
/// window + hop) / hop)` full windows (a shorter tail is dropped), or one window over the whole
/// signal when it is not longer than `window`.
pub fn windows(nb_samples: usize, window: usize, hop: usize) -> Vec<Range<usize>> {
    let nb_windows = if window < nb_samples {
        (nb_samples - window + hop) / hop
    } else {
        1
    };
    (0..nb_windows)
        .map(|t| t * hop..(t * hop + window).min(nb_samples))
        .collect()
}

/// BSS Eval v4 with museval's settings: 512-tap filters, windows of `window` samples every
/// `hop` samples. `references`, `estimates`: `(nb_sources, nb_channels, nb_samples)`, the same
/// shape, estimate `j` scored against reference `j`. Errors on mismatched shapes, empty input,
/// non-finite samples, or a source that is silent over the whole signal (museval refuses those).
pub fn bss_eval_v4(
    references: &Sources,
    estimates: &Sources,
    window: usize,
    hop: usize,
) -> Result<Metrics> {
    bss_eval_v4_with(
        references,
        estimates,
        BssConfig {
            window,
            hop,
            filters_len: FILTERS_LEN,
        },
    )
}

/// [`bss_eval_v4`] with every setting explicit.
pub fn bss_eval_v4_with(
    references: &Sources,
    estimates: &Sources,
    config: BssConfig,
) -> Result<Metrics> {
    let (nb_sources, nb_channels, nb_samples) = check_inputs(references, estimates, config)?;
    let filters = ProjectionFilters::solve(references, estimates, config.filters_len)?;
    let ranges = windows(nb_samples, config.window, config.hop);
    let max_len = ranges.iter().map(|r| r.len()).max().unwrap_or(0);
    let projector = WindowProjector::new(&filters, nb_channels, max_len + config.filters_len - 1);

    let per_window: Vec<Vec<[f64; 4]>> = ranges
        .par_iter()
        .map_init(
            || projector.scratch(),
            |scratch, range| {
                if any_source_silent(references, range.clone())
                    || any_source_silent(estimates, range.clone())
                {
                    vec![[f64::NAN; 4]; nb_sources]
                } else {
                    projector.window_metrics(references, estimates, range.clone(), scratch)
                }
            },
        )
        .collect();

    let pick = |m: usize| -> Vec<Vec<f64>> {
        (0..nb_sources)
            .map(|j| per_window.iter().map(|w| w[j][m]).collect())
            .collect()
    };
    Ok(Metrics {
        sdr: pick(0),
        isr: pick(1),
        sir: pick(2),
        sar: pick(3),
    })
}

/// Validates shapes and content; returns `(nb_sources, nb_channels, nb_samples)`.
fn check_inputs(
    references: &Sources,
    estimates: &Sources,
    config: BssConfig,
) -> Result<(usize, usize, usize)> {
    if config.window == 0 || config.hop == 0 || config.filters_len == 0 {
        return Err(Error::Invalid(format!(
            "BSS Eval window {}, hop {}, filters_len {}: expected each at least 1",
            config.window, config.hop, config.filters_len
        )));
    }
    let nb_sources = references.len();
    let nb_channels = references.first().map_or(0, Vec::len);
    let nb_samples = references
        .first()
        .and_then(|s| s.first())
        .map_or(0, Vec::len);
    if nb_sources == 0 || nb_channels == 0 || nb_samples == 0 {
        return Err(Error::Invalid(format!(
            "BSS Eval references of shape ({nb_sources}, {nb_channels}, {nb_samples}): expected \
             at least one source, one channel and one sample"
        )));
    }
    let expected = format!("({nb_sources}, {nb_channels}, {nb_samples})");
    for (what, sources) in [("references", references), ("estimates", estimates)] {
        if sources.len() != nb_sources {
            return Err(Error::mismatch(
                format!("number of {what} (nb_sources)"),
                nb_sources,
                sources.len(),
            ));
        }
        for (j, source) in sources.iter().enumerate() {
            let bad_len = source.iter().find(|c| c.len() != nb_samples);
            if source.len() != nb_channels || bad_len.is_some() {
                let len = bad_len.map_or(nb_samples, Vec::len);
                return Err(Error::mismatch(
                    format!(
                        "shape of {what} source {j} within (nb_sources, nb_channels, nb_samples)"
                    ),
                    &expected,
                    format!("({nb_sources}, {}, {len})", source.len()),
                ));
            }
            if source.iter().flatten().any(|v| !v.is_finite()) {
                return Err(Error::Invalid(format!(
                    "{what} source {j} has NaN or infinite samples"
                )));
            }
        }
        if let Some(j) = (0..nb_sources).find(|&j| source_silent(&sources[j], 0..nb_samples)) {
            return Err(Error::Invalid(format!(
                "{what} source {j} is silent (all samples zero): BSS Eval cannot score a silent \
                 source"
            )));
        }
    }
    Ok((nb_sources, nb_channels, nb_samples))
}

/// museval's `_any_source_silent`: a source whose sum over channels is zero at every sample.
fn source_silent(source: &[Vec<f64>], range: Range<usize>) -> bool {
    range
        .into_iter()
        .all(|n| source.iter().map(|c| c[n]).sum::<f64>() == 0.0)
}

fn any_source_silent(sources: &Sources, range: Range<usize>) -> bool {
    sources.iter().any(|s| source_silent(s, range.clone()))
}

/// The least-squares distortion filters, fixed over the whole track.
struct ProjectionFilters {
    nb_sources: usize,
    nb_channels: usize,
    filters_len: usize,
    /// Per estimate `j`: its projection on all references, `(nb_sources * nb_channels *
    /// filters_len, nb_channels)`: row `(q, cq, a)`, column output channel `c`.
    all: Vec<RowMajor>,
    /// Per estimate `j`: its projection on reference `j` alone, `(nb_channels * filters_len,
    /// nb_channels)`: row `(cq, a)`, column `c`.
    own: Vec<RowMajor>,
}

/// A solved block of filters, row-major.
struct RowMajor {
    values: Vec<f64>,
    nb_cols: usize,
}

impl RowMajor {
    /// Copies a 2-D f64 tensor.
    fn of(t: &Tensor) -> Result<Self> {
        let nb_cols = t.size()[1] as usize;
        let values = Vec::<f64>::try_from(t.contiguous().view(-1))
            .map_err(|e| Error::Invalid(format!("BSS Eval filters: {e}")))?;
        Ok(RowMajor { values, nb_cols })
    }

    fn at(&self, row: usize, col: usize) -> f64 {
        self.values[row * self.nb_cols + col]
    }
}

impl ProjectionFilters {
    fn solve(references: &Sources, estimates: &Sources, filters_len: usize) -> Result<Self> {
        let nb_sources = references.len();
        let nb_channels = references[0].len();
        let nb_signals = nb_sources * nb_channels;
        let max_lag = filters_len - 1;
        let refs: Vec<&[f64]> = references.iter().flatten().map(Vec::as_slice).collect();
        let ests: Vec<&[f64]> = estimates.iter().flatten().map(Vec::as_slice).collect();
        let ys: Vec<&[f64]> = refs.iter().chain(&ests).copied().collect();

        // Pairs: references with references (u <= v), then references with estimates.
        let mut pairs = Vec::new();
        for u in 0..nb_signals {
            for v in u..nb_signals {
                pairs.push((u, v));
            }
        }
        let nb_ref_pairs = pairs.len();
        for u in 0..nb_signals {
            for w in 0..nb_signals {
                pairs.push((u, nb_signals + w));
            }
        }
        let corr = lagged_correlations(&refs, &ys, &pairs, max_lag);
        let ref_corr = |u: usize, v: usize, lag: isize| -> f64 {
            // corr(x_u, x_v)[k] = sum_n x_u[n] x_v[n + k]; corr(v, u)[k] = corr(u, v)[-k].
            let (p, k) = if u <= v {
                ((u, v), lag)
            } else {
                ((v, u), -lag)
            };
            let index = pair_index(p.0, p.1, nb_signals);
            corr[index][(k + max_lag as isize) as usize]
        };

        // Gram matrix of delayed references: G[(u, a), (v, b)] = corr(x_u, x_v)[a - b].
        let dim = nb_signals * filters_len;
        let eps = f64::EPSILON;
        let mut gram = vec![0.0; dim * dim];
        for (r, row) in gram.chunks_exact_mut(dim).enumerate() {
            let (u, a) = (r / filters_len, r % filters_len);
            for (c, g) in row.iter_mut().enumerate() {
                let (v, b) = (c / filters_len, c % filters_len);
                *g = ref_corr(u, v, a as isize - b as isize) + if r == c { eps } else { 0.0 };
            }
        }
        let gram = Tensor::from_slice(&gram).view([dim as i64, dim as i64]);
        // D[(u, a), (j, c)] = sum_n x_u[n] e_{j,c}[n + a].
        let mut cross = vec![0.0; dim * nb_signals];
        for (r, row) in cross.chunks_exact_mut(nb_signals).enumerate() {
            let (u, a) = (r / filters_len, r % filters_len);
            for (col, d) in row.iter_mut().enumerate() {
                *d = corr[nb_ref_pairs + u * nb_signals + col][a + max_lag];
            }
        }
        let cross = Tensor::from_slice(&cross).view([dim as i64, nb_signals as i64]);
        let solution = solve_regularised(&gram, &cross)?;
        let all = (0..nb_sources)
            .map(|j| {
                RowMajor::of(&solution.narrow(1, (j * nb_channels) as i64, nb_channels as i64))
            })
            .collect::<Result<Vec<_>>>()?;

        let block = (nb_channels * filters_len) as i64;
        let own = (0..nb_sources as i64)
            .map(|j| {
                let g = gram.narrow(0, j * block, block).narrow(1, j * block, block);
                let d = cross.narrow(0, j * block, block).narrow(
                    1,
                    j * nb_channels as i64,
                    nb_channels as i64,
                );
                RowMajor::of(&solve_regularised(&g, &d)?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ProjectionFilters {
            nb_sources,
            nb_channels,
            filters_len,
            all,
            own,
        })
    }

    /// Filter `(from signal u, to channel c)` of estimate `j`'s projection on all references.
    fn all_taps(&self, j: usize, u: usize, c: usize) -> Vec<f64> {
        let l = self.filters_len;
        (0..l).map(|a| self.all[j].at(u * l + a, c)).collect()
    }

    /// Filter `(from channel cq of reference j, to channel c)` of estimate `j`'s projection on
    /// reference `j`.
    fn own_taps(&self, j: usize, cq: usize, c: usize) -> Vec<f64> {
        let l = self.filters_len;
        (0..l).map(|a| self.own[j].at(cq * l + a, c)).collect()
    }
}

/// Index of pair `(u, v)`, `u <= v`, in the row-major upper triangle of `n` signals.
fn pair_index(u: usize, v: usize, n: usize) -> usize {
    u * n - u * (u + 1) / 2 + v
}

/// Solves `a x = b` (f64 tensors) by LU with partial pivoting (LAPACK's `getrf`/`getrs` through
/// LibTorch, as `numpy.linalg.solve` calls them); where that breaks down (an exactly singular
/// matrix), the minimum-norm least-squares solution through the SVD (`gelsd`, singular values
/// under `eps * max(rows, cols)` of the largest dropped), as museval falls back to
/// `numpy.linalg.lstsq`.
///
/// On one LibTorch thread: the eval's rayon work comes next, and LibTorch's threads would still
/// be spinning beside it (on 2 cores: 1.7x the CPU time of a whole `saex eval`, 1.3x its wall
/// time). LibTorch's thread count is per calling thread (OpenMP and MKL alike), so this sets
/// and restores only this thread's.
fn solve_regularised(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let threads = tch::get_num_threads();
    tch::set_num_threads(1);
    let solved = solve_on_this_thread(a, b);
    tch::set_num_threads(threads);
    solved
}

fn solve_on_this_thread(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let failed = |e: tch::TchError| Error::Invalid(format!("BSS Eval filter solve: {e}"));
    let (x, info) = Tensor::f_linalg_solve_ex(a, b, true, false).map_err(failed)?;
    let solved = info.int64_value(&[]) == 0 && x.isfinite().all().int64_value(&[]) == 1;
    if solved {
        return Ok(x);
    }
    let rcond = f64::EPSILON * a.size().iter().copied().max().unwrap_or(1) as f64;
    let (x, _, _, _) = a.f_linalg_lstsq(b, rcond, "gelsd").map_err(failed)?;
    Ok(x)
}

/// Projects windows of references through the fixed filters in the frequency domain.
struct WindowProjector {
    nb_sources: usize,
    nb_channels: usize,
    fft_len: usize,
    forward: Arc<dyn RealToComplex<f64>>,
    inverse: Arc<dyn ComplexToReal<f64>>,
    /// Spectra of [`ProjectionFilters::all_taps`], indexed `[j][u][c]`.
    all: Vec<Vec<Vec<Vec<Complex<f64>>>>>,
    /// Spectra of [`ProjectionFilters::own_taps`], indexed `[j][cq][c]`.
    own: Vec<Vec<Vec<Vec<Complex<f64>>>>>,
    filters_len: usize,
}

/// Per-thread buffers of a [`WindowProjector`].
struct Scratch {
    time: Vec<f64>,
    fft: Vec<Complex<f64>>,
    /// Spectra of the window's references, `(nb_sources * nb_channels, nb_bins)`.
    spectra: Vec<Vec<Complex<f64>>>,
    sum: Vec<Complex<f64>>,
    /// `P_all` and `P_j` of the current source, `(nb_channels, fft_len)`.
    p_all: Vec<Vec<f64>>,
    p_own: Vec<Vec<f64>>,
}

impl WindowProjector {
    /// `min_len`: the longest window plus `filters_len - 1`.
    fn new(filters: &ProjectionFilters, nb_channels: usize, min_len: usize) -> Self {
        let fft_len = fast_fft_len(min_len);
        let mut planner = RealFftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(fft_len);
        let inverse = planner.plan_fft_inverse(fft_len);
        let nb_signals = filters.nb_sources * nb_channels;
        let spectrum = |taps: Vec<f64>| -> Vec<Complex<f64>> {
            let mut time = forward.make_input_vec();
            time[..taps.len()].copy_from_slice(&taps);
            let mut spec = forward.make_output_vec();
            let _ = forward.process(&mut time, &mut spec);
            spec
        };
        let all = (0..filters.nb_sources)
            .map(|j| {
                (0..nb_signals)
                    .map(|u| {
                        (0..nb_channels)
                            .map(|c| spectrum(filters.all_taps(j, u, c)))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let own = (0..filters.nb_sources)
            .map(|j| {
                (0..nb_channels)
                    .map(|cq| {
                        (0..nb_channels)
                            .map(|c| spectrum(filters.own_taps(j, cq, c)))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        WindowProjector {
            nb_sources: filters.nb_sources,
            nb_channels: filters.nb_channels,
            fft_len,
            forward,
            inverse,
            all,
            own,
            filters_len: filters.filters_len,
        }
    }

    fn scratch(&self) -> Scratch {
        let nb_bins = self.fft_len / 2 + 1;
        let zero = Complex::new(0.0, 0.0);
        Scratch {
            time: vec![0.0; self.fft_len],
            fft: vec![
                zero;
                self.forward
                    .get_scratch_len()
                    .max(self.inverse.get_scratch_len())
            ],
            spectra: vec![vec![zero; nb_bins]; self.nb_sources * self.nb_channels],
            sum: vec![zero; nb_bins],
            p_all: vec![vec![0.0; self.fft_len]; self.nb_channels],
            p_own: vec![vec![0.0; self.fft_len]; self.nb_channels],
        }
    }

    /// `[SDR, ISR, SIR, SAR]` per source for one window of non-silent signals.
    fn window_metrics(
        &self,
        references: &Sources,
        estimates: &Sources,
        range: Range<usize>,
        s: &mut Scratch,
    ) -> Vec<[f64; 4]> {
        let len = range.len();
        let out_len = len + self.filters_len - 1;
        let scale = 1.0 / self.fft_len as f64;
        for (spec, signal) in s.spectra.iter_mut().zip(references.iter().flatten()) {
            s.time.fill(0.0);
            s.time[..len].copy_from_slice(&signal[range.clone()]);
            let _ = self
                .forward
                .process_with_scratch(&mut s.time, spec, &mut s.fft);
        }
        (0..self.nb_sources)
            .map(|j| {
                for c in 0..self.nb_channels {
                    s.sum.fill(Complex::new(0.0, 0.0));
                    for (u, spec) in s.spectra.iter().enumerate() {
                        multiply_add(&mut s.sum, spec, &self.all[j][u][c]);
                    }
                    inverse_into(&*self.inverse, &mut s.sum, &mut s.p_all[c], &mut s.fft);
                    s.sum.fill(Complex::new(0.0, 0.0));
                    for cq in 0..self.nb_channels {
                        let spec = &s.spectra[j * self.nb_channels + cq];
                        multiply_add(&mut s.sum, spec, &self.own[j][cq][c]);
                    }
                    inverse_into(&*self.inverse, &mut s.sum, &mut s.p_own[c], &mut s.fft);
                }
                let mut e = Energies::default();
                for c in 0..self.nb_channels {
                    let reference = &references[j][c][range.clone()];
                    let estimate = &estimates[j][c][range.clone()];
                    for n in 0..out_len {
                        let (r, est) = if n < len {
                            (reference[n], estimate[n])
                        } else {
                            (0.0, 0.0)
                        };
                        let p_all = s.p_all[c][n] * scale;
                        let p_own = s.p_own[c][n] * scale;
                        let e_spat = p_own - r;
                        let e_interf = p_all - r - e_spat;
                        let e_artif = est - r - e_spat - e_interf;
                        e.target += r * r;
                        e.distortion += (e_spat + e_interf + e_artif).powi(2);
                        e.spatial += e_spat * e_spat;
                        e.image += (r + e_spat).powi(2);
                        e.interference += e_interf * e_interf;
                        e.projection += (r + e_spat + e_interf).powi(2);
                        e.artifacts += e_artif * e_artif;
                    }
                }
                [
                    safe_db(e.target, e.distortion),
                    safe_db(e.target, e.spatial),
                    safe_db(e.image, e.interference),
                    safe_db(e.projection, e.artifacts),
                ]
            })
            .collect()
    }
}

/// Energies of the decomposition of one source's window, summed over channels and samples.
#[derive(Default)]
struct Energies {
    target: f64,
    distortion: f64,
    spatial: f64,
    image: f64,
    interference: f64,
    projection: f64,
    artifacts: f64,
}

fn multiply_add(sum: &mut [Complex<f64>], a: &[Complex<f64>], b: &[Complex<f64>]) {
    for ((s, x), y) in sum.iter_mut().zip(a).zip(b) {
        *s += x * y;
    }
}

fn inverse_into(
    inverse: &dyn ComplexToReal<f64>,
    spectrum: &mut [Complex<f64>],
    out: &mut [f64],
    scratch: &mut [Complex<f64>],
) {
    // The DC and (even length) Nyquist bins of a real signal's spectrum are real.
    let last = spectrum.len() - 1;
    spectrum[0].im = 0.0;
    spectrum[last].im = 0.0;
    let _ = inverse.process_with_scratch(spectrum, out, scratch);
}

/// museval's `_safe_db`: +inf when the denominator is zero.
fn safe_db(num: f64, den: f64) -> f64 {
    if den == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (num / den).log10()
    }
}

/// The smallest even length >= `min_len` whose only prime factors are 2, 3, 5 and 7 (fast real
/// FFTs; even, so that the last bin is the real Nyquist bin).
fn fast_fft_len(min_len: usize) -> usize {
    (min_len.max(2)..)
        .find(|&n| {
            if n % 2 != 0 {
                return false;
            }
            let mut m = n;
            for p in [2, 3, 5, 7] {
                while m % p == 0 {
                    m /= p;
                }
            }
            m == 1
        })
        .unwrap_or(min_len.next_power_of_two())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: &[&[f64]]) -> Tensor {
        let flat: Vec<f64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_slice(&flat).view([rows.len() as i64, -1])
    }

    #[test]
    fn solves_by_lu_and_falls_back_to_the_minimum_norm_solution() {
        let assert_solves = |a: &[&[f64]], b: &[&[f64]], expected: [f64; 2]| {
            let x = solve_regularised(&matrix(a), &matrix(b)).unwrap();
            let x = Vec::<f64>::try_from(x.view(-1)).unwrap();
            let close = x.iter().zip(expected).all(|(v, e)| (v - e).abs() < 1e-12);
            assert!(close, "{x:?}, expected {expected:?}");
        };
        assert_solves(&[&[2.0, 1.0], &[1.0, 3.0]], &[&[3.0], &[5.0]], [0.8, 1.4]);
        // Exactly singular: LU has a zero pivot; numpy.linalg.lstsq gives [1, 1].
        assert_solves(&[&[1.0, 1.0], &[1.0, 1.0]], &[&[2.0], &[2.0]], [1.0, 1.0]);
        // The caller's LibTorch thread count is restored.
        let threads = tch::get_num_threads();
        let _ = solve_regularised(&matrix(&[&[1.0]]), &matrix(&[&[1.0]])).unwrap();
        assert_eq!(tch::get_num_threads(), threads);
    }

    #[test]
    fn windows_follow_museval_framing() {
        assert_eq!(windows(10, 4, 4), vec![0..4, 4..8]);
        assert_eq!(windows(8, 4, 4), vec![0..4, 4..8]);
        assert_eq!(windows(10, 4, 2), vec![0..4, 2..6, 4..8, 6..10]);
        assert_eq!(windows(3, 4, 4), vec![0..3]);
        assert_eq!(windows(4, 4, 4), vec![0..4]);
    }

    #[test]
    fn fast_lengths_have_small_factors() {
        assert_eq!(fast_fft_len(44_611), 44_800);
        assert_eq!(fast_fft_len(8511), 8640);
        assert_eq!(fast_fft_len(11), 12);
        assert_eq!(fast_fft_len(1), 2);
    }

    #[test]
    fn pair_indices_enumerate_the_upper_triangle() {
        let n = 5;
        let mut k = 0;
        for u in 0..n {
            for v in u..n {
                assert_eq!(pair_index(u, v, n), k, "pair ({u}, {v})");
                k += 1;
            }
        }
    }

    #[test]
    fn rejects_bad_shapes_and_silence() {
        let good = vec![vec![vec![1.0, -1.0, 0.5, 0.25]]];
        let longer = vec![vec![vec![1.0, -1.0, 0.5, 0.25, 0.0]]];
        let err = bss_eval_v4(&good, &longer, 2, 2).unwrap_err().to_string();
        assert!(err.contains("expected (1, 1, 4), got (1, 1, 5)"), "{err}");
        let silent = vec![vec![vec![0.0; 4]]];
        let err = bss_eval_v4(&good, &silent, 2, 2).unwrap_err().to_string();
        assert!(err.contains("estimates source 0 is silent"), "{err}");
        let err = bss_eval_v4(&good, &good, 0, 2).unwrap_err().to_string();
        assert!(err.contains("window 0"), "{err}");
    }
}
