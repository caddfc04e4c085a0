//! Stochastic spikes with escape noise (Gygax & Zenke 2025, "Elucidating the theoretical
//! underpinnings of surrogate gradient learning in spiking neural networks", Neural
//! Computation 37(5); code `fmi-basel/surrogate-gradient-theory`).
//!
//! A neuron at distance `x = U − θ` from threshold spikes with probability `f(x)`:
//! `S = 1` when its uniform random number `u` of this step (see
//! [`crate::neurons::StepContext`]) satisfies `u < f(x)`, so that `E[S] = min(f(x), 1)`.
//!
//! ```text
//! sigmoid:      f(x) = 1 / (1 + exp(−β x))            f'(x) = β f (1 − f)
//! exponential:  f(x) = p0 exp(x / Δu)                 f'(x) = (p0 / Δu) exp(x / Δu)  (f < 1)
//! ```
//!
//! The backward pass uses the derivative of the expected output, `f'` (the surrogate matched to
//! the noise), unless a surrogate is given (e.g. SuperSpike with sigmoid noise: the paper's
//! "stochastic SuperSpike"). For the exponential, `E[S]` saturates at 1 where `f > 1`, and so
//! does its derivative here (0 there; the reference code keeps the unbounded `f'`).

use super::Surrogate;
use crate::real::Real;
use serde::{Deserialize, Serialize};

/// The escape-noise function `f` of stochastic spikes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EscapeNoise {
    /// `f(x) = 1 / (1 + exp(−β x))` (the paper's classification runs: β = 10).
    Sigmoid {
        /// Steepness `β` (per unit of membrane potential).
        beta: f64,
    },
    /// `f(x) = p0 exp(x / Δu)` (the paper's spike-train matching: p0 = 0.01, Δu = 0.133).
    Exponential {
        /// Firing probability at threshold.
        p0: f64,
        /// Softness `Δu` (units of membrane potential).
        delta_u: f64,
    },
}

impl EscapeNoise {
    /// The firing probability `f(x)` (the exponential may exceed 1: it then always fires).
    #[inline(always)]
    pub fn probability<F: Real>(&self, x: F) -> F {
        match *self {
            EscapeNoise::Sigmoid { beta } => F::one() / (F::one() + (-F::from_f64(beta) * x).exp()),
            EscapeNoise::Exponential { p0, delta_u } => {
                F::from_f64(p0) * (x / F::from_f64(delta_u)).exp()
            }
        }
    }

    /// `d/dx E[S] = d/dx min(f(x), 1)`.
    #[inline(always)]
    pub fn derivative<F: Real>(&self, x: F) -> F {
        match *self {
            EscapeNoise::Sigmoid { beta } => Surrogate::Sigmoid { beta }.derivative(x),
            EscapeNoise::Exponential { delta_u, .. } => {
                let f = self.probability(x);
                if f < F::one() {
                    f / F::from_f64(delta_u)
                } else {
                    F::zero()
                }
            }
        }
    }

    /// The spike of a neuron with uniform random number `u`: `u < f(x)`.
    #[inline(always)]
    pub fn fire<F: Real>(&self, x: F, u: F) -> F {
        if u < self.probability(x) {
            F::one()
        } else {
            F::zero()
        }
    }

    /// Checks the parameters; returns the offending one.
    pub fn validate(&self) -> Result<(), String> {
        let positive = |name: &str, v: f64| {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(format!("{name} must be positive and finite, got {v}"))
            }
        };
        match *self {
            EscapeNoise::Sigmoid { beta } => positive("beta", beta),
            EscapeNoise::Exponential { p0, delta_u } => {
                positive("p0", p0)?;
                positive("delta_u", delta_u)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neurons::NoiseStream;

    const NOISES: [EscapeNoise; 2] = [
        EscapeNoise::Sigmoid { beta: 10.0 },
        EscapeNoise::Exponential {
            p0: 0.01,
            delta_u: 0.133,
        },
    ];

    /// The empirical firing frequency at fixed `x` equals `f(x)` within five binomial
    /// standard errors (a wrong `f`, e.g. another β, fails by many).
    #[test]
    fn sampled_firing_frequency_equals_the_escape_function() {
        let n = 40_000;
        for noise in NOISES {
            for x in [-0.4, -0.1, 0.0, 0.05, 0.2, 0.5] {
                let stream = NoiseStream::derive(3, &[(x * 100.0) as u64]);
                let spikes: f64 = (0..n)
                    .map(|i| noise.fire(x, stream.uniform(i % 200, i / 200, 7)))
                    .sum();
                let p = noise.probability(x).min(1.0);
                let rate = spikes / n as f64;
                let se = (p * (1.0 - p) / n as f64).sqrt().max(1e-4);
                assert!(
                    (rate - p).abs() < 5.0 * se,
                    "{noise:?} at {x}: {rate} vs {p}"
                );
            }
        }
        // The sigmoid with β = 10 is not the one with β = 12: the test can fail.
        let other = EscapeNoise::Sigmoid { beta: 12.0 };
        let (a, b) = (NOISES[0].probability(0.2f64), other.probability(0.2f64));
        assert!((a - b).abs() > 5.0 * (a * (1.0 - a) / n as f64).sqrt());
    }

    /// The derivative is the derivative of `E[S] = min(f, 1)` (central differences).
    #[test]
    fn derivative_is_that_of_the_expected_spike() {
        for noise in NOISES {
            for x in [-0.5, -0.2, 0.0, 0.1, 0.3, 0.55, 0.7, 1.0] {
                let h = 1e-6;
                let expected = |x: f64| noise.probability(x).min(1.0);
                let fd = (expected(x + h) - expected(x - h)) / (2.0 * h);
                let got = noise.derivative(x);
                assert!((got - fd).abs() < 1e-5 * fd.abs().max(1.0), "{noise:?} {x}");
            }
        }
    }

    #[test]
    fn bad_parameters_are_named() {
        let bad = [
            EscapeNoise::Sigmoid { beta: 0.0 },
            EscapeNoise::Exponential {
                p0: -1.0,
                delta_u: 0.1,
            },
            EscapeNoise::Exponential {
                p0: 0.1,
                delta_u: f64::NAN,
            },
        ];
        for (noise, name) in bad.iter().zip(["beta", "p0", "delta_u"]) {
            assert!(noise.validate().unwrap_err().starts_with(name));
        }
    }
}
