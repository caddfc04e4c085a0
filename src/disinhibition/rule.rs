//! The plasticity rule at the closed-loop steady state: each weight moves with its
//! presynaptic rate times its unit's dis-inhibition,
//! `Δw_ij ∝ (φ(u_E,i) − φ⁻¹(r_I,i)) φ'(u_E,i) r_{l−1,j}`; the readout with `c r_Lᵀ`.

use super::circuit::{Circuit, CircuitState, Tensors};
use super::{softplus, softplus_inverse, softplus_slope};
use crate::linalg::gemm;

/// How a unit reads its interneuron's drive `φ⁻¹(r_I)` from the interneuron's rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InverseRate {
    /// Exactly: `φ⁻¹(r_I) = u_I`.
    Exact,
    /// Linearised around each interneuron's mean open-loop rate over the batch (the
    /// reference code's `lin-thresh` trainer, λ = 1): a threshold-linear read-out.
    LinearThreshold,
}

/// `(intercept, slope)` of the tangent of `φ⁻¹` at rate `r0`.
fn tangent_of_inverse(r0: f64) -> (f64, f64) {
    let u0 = softplus_inverse(r0);
    let slope = 1.0 / softplus_slope(u0);
    (u0 - slope * r0, slope)
}

impl Circuit {
    /// The descent direction of every parameter (batch mean; Adam steps against it):
    /// hidden layers `(φ⁻¹(r_I) − φ(u_E)) φ'(u_E) ⊗ r_{l−1}` at the closed-loop state, the
    /// readout `(W_out r_L − y) ⊗ r_L`. `open` (the open-loop steady state) sets the
    /// linearisation points of [`InverseRate::LinearThreshold`].
    pub fn plasticity(
        &self,
        x: &[f64],
        closed: &CircuitState,
        open: &CircuitState,
        inverse: InverseRate,
    ) -> Tensors {
        let (b, l_count) = (closed.batch, self.hidden());
        let mut grad = self.params.zeros_like();
        let rates: Vec<Vec<f64>> = closed
            .exc
            .iter()
            .map(|u| u.iter().map(|&v| softplus(v)).collect())
            .collect();
        for l in 0..l_count {
            let n = self.sizes[l + 1];
            let centres = mean_rates(&open.inh[l], b, n);
            let errors: Vec<f64> = (0..b * n)
                .map(|i| {
                    let (u_e, u_i) = (closed.exc[l][i], closed.inh[l][i]);
                    let drive = match inverse {
                        InverseRate::Exact => u_i,
                        InverseRate::LinearThreshold => {
                            let (a, s) = tangent_of_inverse(centres[i % n]);
                            a + s * softplus(u_i)
                        }
                    };
                    (drive - rates[l][i]) * softplus_slope(u_e)
                })
                .collect();
            let below = if l == 0 { x } else { &rates[l - 1] };
            self.outer_mean(l, &errors, below, b, &mut grad);
        }
        let ff = self.feedforward(l_count, &rates[l_count - 1], b);
        let errors: Vec<f64> = ff.iter().zip(&closed.readout).map(|(f, y)| f - y).collect();
        self.outer_mean(l_count, &errors, &rates[l_count - 1], b, &mut grad);
        grad
    }

    /// `grad W_l += mean_b e ⊗ r`, `grad b_l += mean_b e` (hidden layers).
    pub(super) fn outer_mean(&self, l: usize, e: &[f64], r: &[f64], b: usize, grad: &mut Tensors) {
        let (n, m) = (self.sizes[l + 1], self.sizes[l]);
        let scaled: Vec<f64> = e.iter().map(|v| v / b as f64).collect();
        gemm(n, m, b, &scaled, true, r, false, &mut grad.weights[l], true);
        if let Some(db) = grad.biases.get_mut(l) {
            for row in scaled.chunks_exact(n) {
                db.iter_mut().zip(row).for_each(|(g, &v)| *g += v);
            }
        }
    }
}

/// The mean over the batch of each interneuron's rate, from `u_I` `[B, n]`.
fn mean_rates(inh: &[f64], b: usize, n: usize) -> Vec<f64> {
    let mut mean = vec![0.0; n];
    for row in inh.chunks_exact(n) {
        mean.iter_mut()
            .zip(row)
            .for_each(|(m, &u)| *m += softplus(u) / b as f64);
    }
    mean
}
