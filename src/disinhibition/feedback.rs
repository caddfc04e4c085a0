//! The controller's feedback weights: for each sample and hidden layer `l`, the readout's
//! Jacobian along the feed-forward path with respect to the excitatory states,
//! `J_l = W_out D_L W_{L−1} D_{L−1} ⋯ W_l D_l` with `D = diag(φ'(u_E))`, times `φ'(u_I)` per
//! column, scaled to a fixed Frobenius norm per sample (the reference code's `get_fb_weights`
//! with `norm_fb_weights`).

use super::circuit::{Circuit, CircuitState};
use super::softplus_slope;

impl Circuit {
    /// `B_l` of every sample, `[B, n_out, n_l]` per hidden layer, at `state`, each of
    /// Frobenius norm `norm`.
    pub fn feedback_weights(&self, state: &CircuitState, norm: f64) -> Vec<Vec<f64>> {
        let (l_count, k, b) = (self.hidden(), self.outputs(), state.batch);
        let mut out: Vec<Vec<f64>> = (1..=l_count)
            .map(|l| vec![0.0; b * k * self.sizes[l]])
            .collect();
        for s in 0..b {
            // J starts as W_out [k, n_L] and moves down one layer at a time.
            let mut jac = self.params.weights[l_count].clone();
            for l in (0..l_count).rev() {
                let n = self.sizes[l + 1];
                let exc = &state.exc[l][s * n..(s + 1) * n];
                for row in jac.chunks_exact_mut(n) {
                    row.iter_mut()
                        .zip(exc)
                        .for_each(|(v, &u)| *v *= softplus_slope(u));
                }
                let inh = &state.inh[l][s * n..(s + 1) * n];
                let block = &mut out[l][s * k * n..(s + 1) * k * n];
                for (dst, src) in block.chunks_exact_mut(n).zip(jac.chunks_exact(n)) {
                    for ((d, &j), &u) in dst.iter_mut().zip(src).zip(inh) {
                        *d = j * softplus_slope(u);
                    }
                }
                normalise(block, norm);
                if l > 0 {
                    jac = times_weights(&jac, &self.params.weights[l], k, n, self.sizes[l]);
                }
            }
        }
        out
    }
}

/// `J W` for `J` `[k, n]` and `W` `[n, m]`.
fn times_weights(jac: &[f64], w: &[f64], k: usize, n: usize, m: usize) -> Vec<f64> {
    let mut out = vec![0.0; k * m];
    for r in 0..k {
        for i in 0..n {
            let a = jac[r * n + i];
            let row = &w[i * m..(i + 1) * m];
            out[r * m..(r + 1) * m]
                .iter_mut()
                .zip(row)
                .for_each(|(o, &v)| *o += a * v);
        }
    }
    out
}

/// Scales `block` to Frobenius norm `target` (left as is where it is zero).
fn normalise(block: &mut [f64], target: f64) {
    let norm = block.iter().map(|v| v * v).sum::<f64>().sqrt();
    if norm > 0.0 {
        block.iter_mut().for_each(|v| *v *= target / norm);
    }
}
