//! The van Rossum distance between output and target spike trains (van Rossum 2001, Neural
//! Comput. 13:751), the loss of SuperSpike (Zenke & Ganguli 2018, Neural Comput. 30:1514).
//!
//! The difference `d = y − y*` is filtered by a double-exponential kernel
//! ([`DoubleExponential`]), a rise then a decay:
//!
//! ```text
//! r[t] = a r[t−1] + d[t]             a = exp(−dt/τ_rise)
//! f[t] = b f[t−1] + (1 − b) r[t]     b = exp(−dt/τ_decay)
//! L = (dt / 2B) Σ_{t,b,c} f[t,b,c]²  (dt in ms; the mean over the batch)
//! ```
//!
//! The gradient runs the same filter backward in time:
//!
//! ```text
//! g_f[t] = (dt/B) f[t] + b g_f[t+1]
//! ∂L/∂y[t] = g_r[t] = (1 − b) g_f[t] + a g_r[t+1]
//! ```

use super::LossError;
use crate::filters::{DoubleExponential, FilterState};
use crate::real::Real;
use crate::tensor::Seq;
use serde::{Deserialize, Serialize};

fn default_tau_rise_ms() -> f64 {
    5.0
}
fn default_tau_decay_ms() -> f64 {
    10.0
}

/// The kernel of the van Rossum distance: a rise then a decay (SuperSpike's 5 ms and 10 ms).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VanRossumKernel {
    /// Rise time constant (default 5 ms).
    #[serde(default = "default_tau_rise_ms")]
    pub tau_rise_ms: f64,
    /// Decay time constant (default 10 ms).
    #[serde(default = "default_tau_decay_ms")]
    pub tau_decay_ms: f64,
}

impl Default for VanRossumKernel {
    fn default() -> Self {
        Self {
            tau_rise_ms: default_tau_rise_ms(),
            tau_decay_ms: default_tau_decay_ms(),
        }
    }
}

impl VanRossumKernel {
    /// Checks both time constants are finite and > 0.
    pub fn validate(self) -> Result<(), LossError> {
        for (field, tau) in [
            ("tau_rise_ms", self.tau_rise_ms),
            ("tau_decay_ms", self.tau_decay_ms),
        ] {
            if !(tau.is_finite() && tau > 0.0) {
                return Err(LossError::InvalidKernel { field, value: tau });
            }
        }
        Ok(())
    }

    /// The filter at time step `dt_ms`.
    pub fn filter_at<F: Real>(self, dt_ms: f64) -> DoubleExponential<F> {
        DoubleExponential::new(self.tau_rise_ms, self.tau_decay_ms, dt_ms)
    }

    /// The filtered difference `f[t]` of one output of one sample, for every step.
    fn filter(self, dt_ms: f64, diff: impl Iterator<Item = f64>) -> Vec<f64> {
        let filter = self.filter_at::<f64>(dt_ms);
        let mut state = FilterState::default();
        diff.map(|d| filter.step(&mut state, d)).collect()
    }

    /// `Σ_t f[t]² · dt`, the squared distance between one output train and its target.
    fn distance(self, dt_ms: f64, diff: impl Iterator<Item = f64>) -> f64 {
        let filter = self.filter_at::<f64>(dt_ms);
        let mut state = FilterState::default();
        diff.map(|d| filter.step(&mut state, d).powi(2))
            .sum::<f64>()
            * dt_ms
    }
}

/// The loss and its gradient into `grad` (shaped like `y`, zeroed); `target` is checked.
pub(super) fn loss<F: Real>(
    kernel: VanRossumKernel,
    dt_ms: f64,
    y: &Seq<F>,
    target: &Seq<f32>,
    grad: &mut Seq<F>,
) -> f64 {
    let DoubleExponential { rise: a, decay: b } = kernel.filter_at::<f64>(dt_ms);
    let scale = dt_ms / y.batch as f64;
    let mut sum = 0.0;
    for sample in 0..y.batch {
        for c in 0..y.width {
            let diff =
                (0..y.steps).map(|t| y.at(t, sample, c).as_f64() - target.at(t, sample, c) as f64);
            let f = kernel.filter(dt_ms, diff);
            sum += f.iter().map(|f| f * f).sum::<f64>();
            let (mut g_f, mut g_r) = (0.0, 0.0);
            for t in (0..y.steps).rev() {
                g_f = scale * f[t] + b * g_f;
                g_r = (1.0 - b) * g_f + a * g_r;
                grad.row_mut(t, sample)[c] = F::from_f64(g_r);
            }
        }
    }
    0.5 * scale * sum
}

/// The van Rossum distance of `y` to `target` (both `[T, B, C]`) divided by the distance of a
/// silent output to `target`: 0 for a perfect match, 1 for an output as far as silence (the
/// figure SuperSpike reports). `None` when the target is silent too. Fails on a bad kernel,
/// differing shapes or non-finite values.
pub fn normalized_distance<F: Real>(
    kernel: VanRossumKernel,
    dt_ms: f64,
    y: &Seq<F>,
    target: &Seq<f32>,
) -> Result<Option<f64>, LossError> {
    let mut sums = DistanceSums::default();
    sums.add(kernel, dt_ms, y, target)?;
    Ok(sums.normalized())
}

/// Van Rossum distances summed over batches, for [`normalized_distance`] over a whole split.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DistanceSums {
    ours: f64,
    silent: f64,
}

impl DistanceSums {
    /// Adds the distances of one batch's output `y` and of silence to `target`.
    pub fn add<F: Real>(
        &mut self,
        kernel: VanRossumKernel,
        dt_ms: f64,
        y: &Seq<F>,
        target: &Seq<f32>,
    ) -> Result<(), LossError> {
        kernel.validate()?;
        super::check_output(y)?;
        super::check_sequence(y, target)?;
        for sample in 0..y.batch {
            for c in 0..y.width {
                let at = |t: usize| target.at(t, sample, c) as f64;
                self.ours += kernel.distance(
                    dt_ms,
                    (0..y.steps).map(|t| y.at(t, sample, c).as_f64() - at(t)),
                );
                self.silent += kernel.distance(dt_ms, (0..y.steps).map(|t| -at(t)));
            }
        }
        Ok(())
    }

    /// The summed distance over the summed distance of silence (`None` for silent targets).
    pub fn normalized(&self) -> Option<f64> {
        (self.silent > 0.0).then(|| self.ours / self.silent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random_trains(seed: u64, steps: usize, batch: usize, width: usize, p: f64) -> Seq<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut s = Seq::zeros(steps, batch, width);
        s.data
            .iter_mut()
            .for_each(|v| *v = f32::from(rng.random_bool(p)));
        s
    }

    #[test]
    fn a_single_spike_is_the_double_exponential() {
        // One spike at step 0: f[t] = (1 − b) Σ_{k ≤ t} b^(t−k) a^k
        //                           = (1 − b)(b^(t+1) − a^(t+1))/(b − a).
        let kernel = VanRossumKernel::default();
        let dt = 0.5;
        let DoubleExponential { rise: a, decay: b } = kernel.filter_at::<f64>(dt);
        let f = kernel.filter(dt, (0..200).map(|t| f64::from(u8::from(t == 0))));
        for (t, &v) in f.iter().enumerate() {
            let n = t as i32 + 1;
            let closed = (1.0 - b) * (b.powi(n) - a.powi(n)) / (b - a);
            assert!((v - closed).abs() < 1e-14, "step {t}: {v} vs {closed}");
        }
    }

    #[test]
    fn distance_of_one_spike_has_its_closed_form() {
        // Σ_t f[t]² = (1 − b)²/(b − a)² Σ_{n ≥ 1} (b^2n − 2(ab)^n + a^2n)
        //           = (1 − b)²/(b − a)² (b²/(1 − b²) − 2ab/(1 − ab) + a²/(1 − a²)).
        let kernel = VanRossumKernel::default();
        let dt = 0.25;
        let DoubleExponential { rise: a, decay: b } = kernel.filter_at::<f64>(dt);
        let spike = (0..4000).map(|t| f64::from(u8::from(t == 0)));
        let got = kernel.distance(dt, spike);
        let sum = b * b / (1.0 - b * b) - 2.0 * a * b / (1.0 - a * b) + a * a / (1.0 - a * a);
        let closed = dt * (1.0 - b).powi(2) / (b - a).powi(2) * sum;
        assert!((got - closed).abs() < 1e-12 * closed, "{got} vs {closed}");
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let kernel = VanRossumKernel {
            tau_rise_ms: 3.0,
            tau_decay_ms: 7.0,
        };
        let (steps, batch, width, dt) = (40, 3, 2, 1.0);
        let target = random_trains(1, steps, batch, width, 0.1);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut y = Seq::<f64>::zeros(steps, batch, width);
        y.data
            .iter_mut()
            .for_each(|v| *v = rng.random_range(0.0..1.0));
        let mut grad = Seq::zeros(steps, batch, width);
        let l0 = loss(kernel, dt, &y, &target, &mut grad);
        let h = 1e-6;
        for i in (0..y.data.len()).step_by(7) {
            let mut scratch = Seq::zeros(steps, batch, width);
            let mut plus = y.clone();
            plus.data[i] += h;
            let mut minus = y.clone();
            minus.data[i] -= h;
            let fd = (loss(kernel, dt, &plus, &target, &mut scratch)
                - loss(kernel, dt, &minus, &target, &mut scratch))
                / (2.0 * h);
            assert!(
                (fd - grad.data[i]).abs() < 1e-8 * (1.0 + fd.abs()),
                "entry {i}: analytic {} vs finite difference {fd}",
                grad.data[i]
            );
        }
        assert!(l0 > 0.0);
    }

    #[test]
    fn normalized_distance_is_zero_on_target_and_one_when_silent() {
        let kernel = VanRossumKernel::default();
        let target = random_trains(3, 100, 2, 3, 0.05);
        let exact = Seq::<f64> {
            steps: 100,
            batch: 2,
            width: 3,
            data: target.data.iter().map(|&v| f64::from(v)).collect(),
        };
        let silent = Seq::<f64>::zeros(100, 2, 3);
        assert_eq!(
            normalized_distance(kernel, 1.0, &exact, &target),
            Ok(Some(0.0))
        );
        let one = normalized_distance(kernel, 1.0, &silent, &target)
            .unwrap()
            .unwrap();
        assert!((one - 1.0).abs() < 1e-12);
        let other = random_trains(4, 100, 2, 3, 0.05);
        let d = normalized_distance(kernel, 1.0, &exact, &other)
            .unwrap()
            .unwrap();
        assert!(d > 0.5, "independent trains are far apart: {d}");
        assert_eq!(
            normalized_distance(kernel, 1.0, &exact, &Seq::zeros(100, 2, 3)),
            Ok(None)
        );
        assert!(matches!(
            normalized_distance(kernel, 1.0, &exact, &Seq::zeros(99, 2, 3)),
            Err(LossError::SequenceShape { .. })
        ));
    }

    #[test]
    fn invalid_kernels_are_refused_naming_the_field() {
        let bad = VanRossumKernel {
            tau_rise_ms: 5.0,
            tau_decay_ms: 0.0,
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("tau_decay_ms"));
    }
}
