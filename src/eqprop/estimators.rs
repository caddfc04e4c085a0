//! Equilibrium propagation's estimators of `dL/dθ = −d/dβ ∂Φ/∂θ(h*_β)|_{β=0}`, each phase
//! relaxed from the free fixed point.

use super::energy::{EnergyNet, Params};
use num_complex::Complex64 as C;

/// How the derivative in `β` is estimated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Estimator {
    /// Classic EP: one nudged phase, `(∂Φ/∂θ(β) − ∂Φ/∂θ(0))/β` (bias `O(β)`).
    OneSided {
        /// The nudging strength.
        beta: f64,
    },
    /// Symmetric EP: `(∂Φ/∂θ(β) − ∂Φ/∂θ(−β))/(2β)` (bias `O(β²)`).
    Symmetric {
        /// The nudging strength.
        beta: f64,
    },
    /// Holomorphic EP: `(1/N) Σ_k ∂Φ/∂θ(β_k)/β_k`, `β_k = |β| e^{2πik/N}` (bias `O(|β|^N)`).
    Holomorphic {
        /// The radius `|β|`.
        beta: f64,
        /// Phases on the circle.
        phases: usize,
    },
}

impl Estimator {
    /// The nudging strengths and the weight of each phase's `∂Φ/∂θ` in the derivative.
    pub(super) fn phases(self) -> Vec<(C, C)> {
        let real = |b: f64| C::new(b, 0.0);
        match self {
            Self::OneSided { beta } => vec![
                (real(beta), real(1.0 / beta)),
                (real(0.0), real(-1.0 / beta)),
            ],
            Self::Symmetric { beta } => vec![
                (real(beta), real(0.5 / beta)),
                (real(-beta), real(-0.5 / beta)),
            ],
            Self::Holomorphic { beta, phases } => (0..phases)
                .map(|k| {
                    let b = C::from_polar(beta, std::f64::consts::TAU * k as f64 / phases as f64);
                    (b, 1.0 / (b * phases as f64))
                })
                .collect(),
        }
    }

    /// [`Self::phases`] with each conjugate pair of holomorphic phases folded into one of
    /// twice the weight: without noise the states of `β̄` are the conjugates of those of `β`,
    /// so their terms have equal real parts (the reference code's shortcut; about half the
    /// work).
    pub(super) fn folded_phases(self) -> Vec<(C, C)> {
        match self {
            Self::Holomorphic { phases, .. } => {
                let all = self.phases();
                (0..=phases / 2)
                    .map(|k| {
                        let pair = k != 0 && 2 * k != phases;
                        let (beta, weight) = all[k];
                        (beta, if pair { 2.0 * weight } else { weight })
                    })
                    .collect()
            }
            _ => self.phases(),
        }
    }

    /// The estimate of `dL/dθ` for one sample: free phase of `free_steps`, each nudged phase
    /// `nudged_steps` from the free fixed point.
    pub fn gradient(
        self,
        net: &EnergyNet,
        x: &[f64],
        y: usize,
        free_steps: usize,
        nudged_steps: usize,
    ) -> Params<f64> {
        let free = net.relax(x, y, C::new(0.0, 0.0), free_steps, None);
        let mut sum: Option<Params<C>> = None;
        for (beta, weight) in self.phases() {
            let h = if beta == C::new(0.0, 0.0) {
                free.clone()
            } else {
                net.relax(x, y, beta, nudged_steps, Some(&free))
            };
            let d = net.dphi_dtheta(x, &h, y, beta);
            let acc = sum.get_or_insert_with(|| Params {
                weights: zeros(&d.weights),
                biases: zeros(&d.biases),
            });
            accumulate(acc, &d, weight);
        }
        let total = sum.expect("at least one phase");
        // dL/dθ = −d/dβ ∂Φ/∂θ; the real part (the imaginary part vanishes as the estimate
        // converges).
        let real = |v: &Vec<Vec<C>>| -> Vec<Vec<f64>> {
            v.iter()
                .map(|t| t.iter().map(|c| -c.re).collect())
                .collect()
        };
        Params {
            weights: real(&total.weights),
            biases: real(&total.biases),
        }
    }
}

/// Zeros shaped like `v`.
fn zeros(v: &[Vec<C>]) -> Vec<Vec<C>> {
    v.iter().map(|t| vec![C::new(0.0, 0.0); t.len()]).collect()
}

/// `acc += w · d`, entry by entry.
fn accumulate(acc: &mut Params<C>, d: &Params<C>, w: C) {
    let weights = acc.weights.iter_mut().zip(&d.weights);
    for (a, b) in weights.chain(acc.biases.iter_mut().zip(&d.biases)) {
        a.iter_mut().zip(b).for_each(|(a, &b)| *a += w * b);
    }
}
