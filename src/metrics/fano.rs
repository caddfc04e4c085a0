//! The Fano factor of spike counts across noisy trials (Gygax & Zenke 2025): the variability
//! of a stochastic network's response to the same input.
//!
//! For every neuron `j` and bin `k` of `bin_steps` steps, the spike count `c_{r,k,j}` of trial
//! `r` (each trial one sample of the batch, all the same input); with the mean `m_{k,j}` and the
//! unbiased variance `v_{k,j}` over trials, the Fano factor is the mean of `v/m` over the bins
//! and neurons with `m > 0` (the reference's `nanmean(var / mean)`, which skips `0/0`). A
//! trailing partial bin is dropped. Poisson spiking gives 1, deterministic spiking 0.

use crate::real::Real;
use crate::tensor::Seq;

/// The Fano factor of `spikes` `[T, trials, N]` in bins of `bin_steps` steps; `None` when no
/// neuron spiked, or with fewer than two trials or no whole bin.
pub fn fano_factor<F: Real>(spikes: &Seq<F>, bin_steps: usize) -> Option<f64> {
    let (trials, n) = (spikes.batch, spikes.width);
    let bins = spikes.steps.checked_div(bin_steps)?;
    if trials < 2 || bins == 0 {
        return None;
    }
    let mut counts = vec![0.0f64; trials * n];
    let (mut sum, mut terms) = (0.0, 0usize);
    for k in 0..bins {
        counts.iter_mut().for_each(|c| *c = 0.0);
        for t in k * bin_steps..(k + 1) * bin_steps {
            for (c, s) in counts.iter_mut().zip(spikes.step(t)) {
                *c += s.as_f64();
            }
        }
        for j in 0..n {
            let per_trial = || (0..trials).map(|r| counts[r * n + j]);
            let mean = per_trial().sum::<f64>() / trials as f64;
            if mean > 0.0 {
                let var =
                    per_trial().map(|c| (c - mean).powi(2)).sum::<f64>() / (trials - 1) as f64;
                sum += var / mean;
                terms += 1;
            }
        }
    }
    (terms > 0).then(|| sum / terms as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn spikes(steps: usize, trials: usize, n: usize, f: impl FnMut(usize) -> f64) -> Seq<f64> {
        Seq::from_vec(steps, trials, n, (0..steps * trials * n).map(f).collect()).unwrap()
    }

    #[test]
    fn bernoulli_spikes_have_the_binomial_fano_factor() {
        // Independent Bernoulli(p) spikes: a bin of 10 counts Binomial(10, p), Fano 1 − p.
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let p = 0.1;
        let s = spikes(200, 400, 5, |_| {
            f64::from(u8::from(rng.random::<f64>() < p))
        });
        let fano = fano_factor(&s, 10).unwrap();
        assert!((fano - (1.0 - p)).abs() < 0.03, "{fano}");
    }

    #[test]
    fn identical_trials_have_no_variability() {
        let s = spikes(40, 8, 3, |i| f64::from(u8::from((i / 24) % 3 == 0)));
        assert_eq!(fano_factor(&s, 10), Some(0.0));
    }

    #[test]
    fn degenerate_inputs_have_no_fano_factor() {
        assert_eq!(fano_factor(&spikes(40, 8, 3, |_| 0.0), 10), None);
        assert_eq!(fano_factor(&spikes(40, 1, 3, |_| 1.0), 10), None);
        assert_eq!(fano_factor(&spikes(5, 8, 3, |_| 1.0), 10), None);
        assert_eq!(fano_factor(&spikes(5, 8, 3, |_| 1.0), 0), None);
    }
}
