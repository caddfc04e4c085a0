//! Bushy cells: firing probability → one spike train per channel.
//!
//! The last stage of the Heidelberg pipeline (Cramer et al. 2020; lauscher's `BushyCell`),
//! modelled on the spherical bushy cells of the cochlear nucleus, which sharpen the timing
//! of auditory-nerve input by convergence. Per channel:
//!
//! 1. `n = 40` auditory-nerve fibres each spike in sample `j` with the hair cell's
//!    probability `P_j`, independently, except that a fibre is silent for `τ_ref = 1 ms`
//!    after each of its spikes (a draw within `τ_ref f_s` samples of the fibre's last kept
//!    spike is dropped). The fibres are exchangeable, so only the number of spiking fibres
//!    per sample matters: with `A_j` fibres out of their refractory period, it is
//!    `Binomial(A_j, P_j)` — the same law as lauscher's 40 separate Bernoulli trains, drawn
//!    with one uniform number per sample by inversion of the binomial distribution function.
//! 2. The counts `k_j` drive one leaky integrate-and-fire neuron (forward Euler at
//!    `dt = 1/f_s`), exactly as lauscher's loop:
//!
//! ```text
//! I_j = I_{j−1} e^{−dt/τ_syn} + k_j                         (τ_syn = 0.5 ms)
//! V_j = V_{j−1} e^{−dt/τ_mem} + w dt I_j, clipped at 1       (τ_mem = 1 ms, w = 13000/40)
//! ```
//!
//! When `V_{j−1}` has reached the threshold 1, sample `j − 1` is a spike, `V` is held at 0
//! for `⌈τ_ref f_s⌉` samples (the synaptic current keeps integrating), then integrates again.
//! So two output spikes of a channel are always more than `τ_ref` apart.

use crate::rng::unit_f64;
use rand::RngCore;

/// Parameters of the bushy-cell stage.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BushyParams {
    /// Auditory-nerve fibres converging on each bushy cell.
    pub n_convergence: usize,
    /// Membrane time constant (s).
    pub tau_mem_s: f64,
    /// Synaptic time constant (s).
    pub tau_syn_s: f64,
    /// Refractory period of fibres and bushy cells (s).
    pub tau_refrac_s: f64,
    /// Total synaptic weight; each fibre has `weight_total / n_convergence` (1/s per spike).
    pub weight_total: f64,
}

impl Default for BushyParams {
    fn default() -> Self {
        Self {
            n_convergence: 40,
            tau_mem_s: 1e-3,
            tau_syn_s: 5e-4,
            tau_refrac_s: 1e-3,
            weight_total: 13e3,
        }
    }
}

impl BushyParams {
    /// Sample indices of the bushy cell's spikes for firing probabilities `prob` (per sample,
    /// clamped to `[0, 1]`) at `sample_rate_hz`, drawing from `rng`.
    pub fn spike_samples(
        &self,
        prob: &[f64],
        sample_rate_hz: f64,
        rng: &mut impl RngCore,
    ) -> Vec<u32> {
        let counts = self.fibre_counts(prob, sample_rate_hz, rng);
        self.integrate(&counts, sample_rate_hz)
    }

    /// Number of converging fibres spiking in each sample, refractoriness applied.
    pub fn fibre_counts(
        &self,
        prob: &[f64],
        sample_rate_hz: f64,
        rng: &mut impl RngCore,
    ) -> Vec<u8> {
        let n = self.n_convergence.min(usize::from(u8::MAX)) as u32;
        let refrac = refractory_samples(self.tau_refrac_s, sample_rate_hz);
        // returning[j % refrac]: fibres that spiked at sample j − refrac and are free again.
        let mut returning = vec![0u32; refrac.max(1)];
        let mut available = n;
        let mut counts = Vec::with_capacity(prob.len());
        for (j, &p) in prob.iter().enumerate() {
            let k = if refrac > 0 {
                let slot = &mut returning[j % refrac];
                available += *slot;
                let k = binomial(available, p, unit_f64(rng));
                *slot = k;
                available -= k;
                k
            } else {
                binomial(n, p, unit_f64(rng))
            };
            counts.push(k as u8);
        }
        counts
    }

    /// The LIF neuron driven by fibre spike counts; returns the sample indices of its spikes.
    pub fn integrate(&self, counts: &[u8], sample_rate_hz: f64) -> Vec<u32> {
        let dt = 1.0 / sample_rate_hz;
        let weight = self.weight_total / self.n_convergence as f64;
        let mem_decay = (-dt / self.tau_mem_s).exp();
        let syn_decay = (-dt / self.tau_syn_s).exp();
        let refrac = self.tau_refrac_s * sample_rate_hz;
        let (mut v_prev, mut current, mut refrac_left) = (0.0f64, 0.0f64, 0.0f64);
        let mut spikes = Vec::new();
        for (step, &k) in counts.iter().enumerate() {
            let mut v = 0.0;
            if step > 0 {
                if refrac_left <= 0.0 {
                    if v_prev < 1.0 {
                        v = v_prev * mem_decay;
                    } else {
                        refrac_left = refrac;
                        spikes.push((step - 1) as u32);
                    }
                }
                current *= syn_decay;
            }
            current += f64::from(k);
            if refrac_left <= 0.0 {
                v += current * weight * dt;
            }
            v = v.min(1.0);
            refrac_left -= 1.0;
            v_prev = v;
        }
        spikes
    }
}

/// Safety margin of the shortcut for `k = 0` in [`binomial`], well above the rounding error
/// of `(1−p)ⁿ` (a few ulps for `n ≤ 255`).
const ZERO_MARGIN: f64 = 1e-12;

/// Samples a fibre stays silent after a spike: the smallest whole number `≥ τ f_s`
/// (lauscher drops draws closer than `τ f_s` samples to the last kept spike).
pub fn refractory_samples(tau_refrac_s: f64, sample_rate_hz: f64) -> usize {
    (tau_refrac_s * sample_rate_hz).ceil().max(0.0) as usize
}

/// A `Binomial(n, p)` draw by inversion with the uniform `u ∈ [0, 1)`: the smallest `k`
/// with `F(k) > u`, stepping `P(k+1) = P(k) (n−k)/(k+1) · p/(1−p)` from `P(0) = (1−p)ⁿ`.
///
/// Most samples have a small `p` and draw `k = 0`. Bernoulli's inequality
/// `(1−p)ⁿ ≥ 1 − np` decides those without the power: `u < 1 − np −` `ZERO_MARGIN` implies
/// `u < P(0)` also for the rounded `P(0)` (its rounding error is far below the margin), so
/// the draw is exactly the one the full inversion gives.
pub fn binomial(n: u32, p: f64, u: f64) -> u32 {
    if n == 0 || p.is_nan() || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    if u < 1.0 - f64::from(n) * p - ZERO_MARGIN {
        return 0;
    }
    let odds = p / (1.0 - p);
    let mut pk = (1.0 - p).powi(n as i32);
    let mut cdf = pk;
    let mut k = 0;
    while u >= cdf && k < n {
        pk *= f64::from(n - k) / f64::from(k + 1) * odds;
        k += 1;
        cdf += pk;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::seeded;

    #[test]
    fn binomial_has_the_right_mean_and_variance() {
        let mut rng = seeded(11);
        for (n, p) in [(40u32, 0.002), (40, 0.3), (7, 0.9), (1, 0.5)] {
            let draws: Vec<f64> = (0..200_000)
                .map(|_| f64::from(binomial(n, p, unit_f64(&mut rng))))
                .collect();
            let mean = draws.iter().sum::<f64>() / draws.len() as f64;
            let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / draws.len() as f64;
            let (m, v) = (f64::from(n) * p, f64::from(n) * p * (1.0 - p));
            // 6 standard errors of the mean; variance within 3%.
            assert!(
                (mean - m).abs() < 6.0 * (v / draws.len() as f64).sqrt(),
                "{n} {p}: {mean}"
            );
            assert!((var - v).abs() < 0.03 * v, "{n} {p}: {var} vs {v}");
        }
        assert_eq!(binomial(40, 0.0, 0.99), 0);
        assert_eq!(binomial(40, 1.0, 0.0), 40);
        assert_eq!(binomial(40, 0.5, 0.0), 0); // u = 0 < P(0): no spikes
    }

    /// The shortcut for `k = 0` gives exactly the draws of the plain inversion.
    #[test]
    fn zero_shortcut_agrees_with_plain_inversion() {
        let plain = |n: u32, p: f64, u: f64| {
            let odds = p / (1.0 - p);
            let (mut pk, mut k) = ((1.0 - p).powi(n as i32), 0);
            let mut cdf = pk;
            while u >= cdf && k < n {
                pk *= f64::from(n - k) / f64::from(k + 1) * odds;
                k += 1;
                cdf += pk;
            }
            k
        };
        let mut rng = seeded(4);
        for _ in 0..200_000 {
            let n = 1 + (rng.next_u32() % 255);
            let p = unit_f64(&mut rng).powi(4) * 0.2;
            let u = unit_f64(&mut rng);
            if p > 0.0 {
                assert_eq!(binomial(n, p, u), plain(n, p, u), "n={n} p={p} u={u}");
            }
        }
        // At the border: u just below (1−p)ⁿ is 0, just above is 1.
        let p0 = (1.0f64 - 0.01).powi(40);
        assert_eq!(binomial(40, 0.01, p0 * (1.0 - 1e-15)), 0);
        assert_eq!(binomial(40, 0.01, p0 * (1.0 + 1e-15)), 1);
    }

    /// Each fibre alone is a renewal process: after a spike, `R` silent samples, then a
    /// geometric wait with success probability `p`. Its mean rate is `1/(R − 1 + 1/p)` per
    /// sample; the `n` fibres together give `n` times that.
    #[test]
    fn fibre_rate_matches_the_renewal_closed_form() {
        let params = BushyParams::default();
        let fs = 20_000.0; // R = 20 samples
        let p = 0.01;
        let prob = vec![p; 400_000];
        let counts = params.fibre_counts(&prob, fs, &mut seeded(5));
        let rate = counts.iter().map(|&c| f64::from(c)).sum::<f64>() / prob.len() as f64;
        let r = refractory_samples(params.tau_refrac_s, fs) as f64;
        let want = 40.0 / (r - 1.0 + 1.0 / p);
        assert!((rate - want).abs() < 0.01 * want, "{rate} vs {want}");
    }

    #[test]
    fn lif_spikes_are_more_than_a_refractory_period_apart() {
        let params = BushyParams::default();
        let fs = 24_000.0;
        let counts = vec![40u8; 2400]; // saturating drive: the cell fires as fast as it can
        let spikes = params.integrate(&counts, fs);
        assert!(spikes.len() > 50);
        for pair in spikes.windows(2) {
            // held at 0 for 24 samples, then at least one sample to cross threshold
            assert!(pair[1] - pair[0] > 24, "{pair:?}");
        }
    }

    /// One isolated fibre spike: `I_j = e^{−j dt/τ_syn}` and, below threshold,
    /// `V_j = Σ_{i ≤ j} e^{−(j−i) dt/τ_mem} w dt I_i` — too small to fire (hand-derived sum).
    #[test]
    fn single_input_gives_the_expected_subthreshold_trace() {
        let params = BushyParams::default();
        let fs = 10_000.0;
        let dt = 1.0 / fs;
        let w = 13e3 / 40.0;
        let mut counts = vec![0u8; 40];
        counts[3] = 1;
        assert!(params.integrate(&counts, fs).is_empty());
        let (a, b) = ((-dt / 5e-4f64).exp(), (-dt / 1e-3f64).exp());
        let peak: f64 = (0..40)
            .map(|j: i32| {
                (0..=j)
                    .map(|i| {
                        if i >= 3 {
                            b.powi(j - i) * w * dt * a.powi(i - 3)
                        } else {
                            0.0
                        }
                    })
                    .sum::<f64>()
            })
            .fold(0.0, f64::max);
        assert!(peak < 1.0 && peak > 0.05, "{peak}");
        // Six coincident spikes: 6 × the single-spike peak ≥ 1 means a spike, else none.
        let mut six = vec![0u8; 40];
        six[3] = 6;
        assert_eq!(params.integrate(&six, fs).is_empty(), 6.0 * peak < 1.0);
    }
}
