//! Lagged cross-correlations of long signals, `sum_n x[n] * y[n + k]` for `|k| <= max_lag`,
//! computed blockwise with real FFTs (overlap-save) and summed in the frequency domain.
//!
//! This equals museval's whole-signal FFT correlation (zero padding makes it linear, not
//! circular) up to rounding, but works on blocks of a few thousand samples: cache friendly,
//! parallel over blocks, and one small inverse FFT per pair instead of one of the track's length.

use rayon::prelude::*;
use realfft::num_complex::Complex;
use realfft::RealFftPlanner;

/// Smallest block FFT length; the usable block is this minus `2 * max_lag`.
const MIN_BLOCK_FFT_LEN: usize = 8192;

/// Lagged correlations for `pairs` of signals `(x index into xs, y index into ys)`.
/// `xs` and `ys`: signals of one common length `nb_samples`.
/// Returns, per pair, `2 * max_lag + 1` values: entry `t` is `sum_n x[n] * y[n + t - max_lag]`
/// (samples outside `0..nb_samples` count as zero).
pub(crate) fn lagged_correlations(
    xs: &[&[f64]],
    ys: &[&[f64]],
    pairs: &[(usize, usize)],
    max_lag: usize,
) -> Vec<Vec<f64>> {
    let nb_samples = xs.first().map_or(0, |x| x.len());
    let fft_len = (4 * 2 * max_lag).next_power_of_two().max(MIN_BLOCK_FFT_LEN);
    let block = fft_len - 2 * max_lag;
    let nb_bins = fft_len / 2 + 1;
    let nb_blocks = nb_samples.div_ceil(block).max(1);
    let mut planner = RealFftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(fft_len);
    let inverse = planner.plan_fft_inverse(fft_len);

    let nb_chunks = (rayon::current_num_threads() * 4).min(nb_blocks);
    let chunk_len = nb_blocks.div_ceil(nb_chunks);
    let zero = Complex::new(0.0, 0.0);
    let sums = (0..nb_blocks)
        .collect::<Vec<_>>()
        .par_chunks(chunk_len)
        .map(|blocks| {
            let mut acc = vec![vec![zero; nb_bins]; pairs.len()];
            let mut time = forward.make_input_vec();
            let mut scratch = forward.make_scratch_vec();
            let mut x_spectra = vec![vec![zero; nb_bins]; xs.len()];
            let mut y_spectra = vec![vec![zero; nb_bins]; ys.len()];
            for &b in blocks {
                let start = b * block;
                for (x, spec) in xs.iter().zip(&mut x_spectra) {
                    time.fill(0.0);
                    let stop = (start + block).min(nb_samples);
                    time[..stop - start].copy_from_slice(&x[start..stop]);
                    // Lengths are planned for: the call cannot fail.
                    let _ = forward.process_with_scratch(&mut time, spec, &mut scratch);
                }
                // y is read from max_lag samples before the block to max_lag after it.
                for (y, spec) in ys.iter().zip(&mut y_spectra) {
                    time.fill(0.0);
                    let from = start as isize - max_lag as isize;
                    let to = ((start + block + max_lag).min(nb_samples)) as isize;
                    let skip = (-from).max(0) as usize;
                    let from = from.max(0) as usize;
                    let to = to.max(from as isize) as usize;
                    time[skip..skip + (to - from)].copy_from_slice(&y[from..to]);
                    let _ = forward.process_with_scratch(&mut time, spec, &mut scratch);
                }
                for (sum, &(i, j)) in acc.iter_mut().zip(pairs) {
                    for ((s, x), y) in sum.iter_mut().zip(&x_spectra[i]).zip(&y_spectra[j]) {
                        *s += x.conj() * y;
                    }
                }
            }
            acc
        })
        .reduce_with(|mut a, b| {
            for (sa, sb) in a.iter_mut().zip(&b) {
                for (x, y) in sa.iter_mut().zip(sb) {
                    *x += y;
                }
            }
            a
        })
        .unwrap_or_else(|| vec![vec![zero; nb_bins]; pairs.len()]);

    let scale = 1.0 / fft_len as f64;
    let mut out = inverse.make_output_vec();
    let mut scratch = inverse.make_scratch_vec();
    sums.into_iter()
        .map(|mut spec| {
            spec[0].im = 0.0;
            spec[nb_bins - 1].im = 0.0;
            let _ = inverse.process_with_scratch(&mut spec, &mut out, &mut scratch);
            out[..=2 * max_lag].iter().map(|v| v * scale).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(x: &[f64], y: &[f64], max_lag: usize) -> Vec<f64> {
        let n = x.len() as isize;
        (0..=2 * max_lag)
            .map(|t| {
                let k = t as isize - max_lag as isize;
                (0..n)
                    .filter(|i| (0..n).contains(&(i + k)))
                    .map(|i| x[i as usize] * y[(i + k) as usize])
                    .sum()
            })
            .collect()
    }

    #[test]
    fn matches_naive_sums_over_lengths() {
        for &(nb_samples, max_lag) in &[(5usize, 3usize), (300, 7), (20_000, 40), (9000, 511)] {
            let x: Vec<f64> = (0..nb_samples)
                .map(|i| ((i * 7919) % 101) as f64 - 50.0)
                .collect();
            let y: Vec<f64> = (0..nb_samples).map(|i| (i as f64 * 0.37).sin()).collect();
            let got = lagged_correlations(&[&x], &[&x, &y], &[(0, 0), (0, 1)], max_lag);
            for (pair, y) in [(0, &x), (1, &y)] {
                let want = naive(&x, y, max_lag);
                let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                let err = got[pair]
                    .iter()
                    .zip(&want)
                    .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
                assert!(
                    err < 1e-9 * scale,
                    "nb_samples {nb_samples} max_lag {max_lag} pair {pair}: max error {err}"
                );
            }
        }
    }
}
