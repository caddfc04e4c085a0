//! The double-exponential filter of spike trains: a rise then a decay, in discrete time
//! exactly as a current-based LIF filters its input (rise = τ_syn, decay = τ_mem).
//!
//! ```text
//! r[t] = a r[t−1] + x[t]             a = exp(−dt/τ_rise)
//! f[t] = b f[t−1] + (1 − b) r[t]     b = exp(−dt/τ_decay)
//! ```
//!
//! Its response to one unit input at step 0 is `k[n] = (1 − b)(b^(n+1) − a^(n+1))/(b − a)`
//! (`(1 − b)(n + 1) bⁿ` when `a = b`). The van Rossum loss filters spike-train differences
//! with it, and SuperSpike filters its error, presynaptic traces and eligibilities.

use crate::real::Real;

/// Per-step decays of a double-exponential filter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DoubleExponential<F> {
    /// `a = exp(−dt/τ_rise)`.
    pub rise: F,
    /// `b = exp(−dt/τ_decay)`.
    pub decay: F,
}

/// The state `(r, f)` of one filtered train.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FilterState<F> {
    /// The rising stage `r`.
    pub rise: F,
    /// The output `f`.
    pub out: F,
}

impl<F: Real> DoubleExponential<F> {
    /// The filter of time constants `tau_rise_ms`, `tau_decay_ms` at step `dt_ms`.
    pub fn new(tau_rise_ms: f64, tau_decay_ms: f64, dt_ms: f64) -> Self {
        Self {
            rise: F::from_f64((-dt_ms / tau_rise_ms).exp()),
            decay: F::from_f64((-dt_ms / tau_decay_ms).exp()),
        }
    }

    /// Advances `state` by one step with input `x`; returns the output `f[t]`.
    #[inline(always)]
    pub fn step(&self, state: &mut FilterState<F>, x: F) -> F {
        state.rise = self.rise * state.rise + x;
        state.out = self.decay * state.out + (F::one() - self.decay) * state.rise;
        state.out
    }

    /// The response `k[n]` to one unit input `n` steps earlier (the closed form above).
    pub fn impulse_response(&self, n: usize) -> F {
        let (a, b) = (self.rise.as_f64(), self.decay.as_f64());
        let m = n as i32 + 1;
        let k = if (b - a).abs() < 1e-12 {
            m as f64 * b.powi(m - 1)
        } else {
            (b.powi(m) - a.powi(m)) / (b - a)
        };
        F::from_f64((1.0 - b) * k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_impulse_response_has_its_closed_form_and_is_linear() {
        for (rise, decay) in [(5.0, 10.0), (10.0, 5.0), (7.0, 7.0)] {
            let filter = DoubleExponential::<f64>::new(rise, decay, 0.5);
            let mut state = FilterState::default();
            let inputs: Vec<f64> = (0..300)
                .map(|t| [1.0, 0.0, -0.5][t % 3] * (t < 40) as u8 as f64)
                .collect();
            for (t, &x) in inputs.iter().enumerate() {
                let got = filter.step(&mut state, x);
                let convolved: f64 = (0..=t)
                    .map(|s| inputs[s] * filter.impulse_response(t - s))
                    .sum();
                assert!(
                    (got - convolved).abs() < 1e-12,
                    "τ {rise}/{decay} step {t}: {got} vs {convolved}"
                );
            }
        }
    }
}
