//! The open-loop steady state in closed form and backpropagation through it (the reference
//! the dis-inhibitory rule is compared with).
//!
//! Without control each unit settles where `u_E = a − φ(φ(u_E))`, `u_I = φ(u_E)`, with
//! `a = W r_{l−1} + b` its feed-forward drive: one monotone scalar equation per unit, solved
//! by Newton's method. Its slope `du_E/da = 1/(1 + φ'(u_I) φ'(u_E))` is the only non-standard
//! factor of the backward pass.

use super::circuit::{Circuit, CircuitState, ControlLoss, Tensors};
use super::{softplus, softplus_slope};
use crate::linalg::gemm;

/// `u` with `u + φ(φ(u)) = a`.
fn settle_unit(a: f64) -> f64 {
    let mut u = a;
    for _ in 0..50 {
        let r = softplus(u);
        let f = u + softplus(r) - a;
        let slope = 1.0 + softplus_slope(r) * softplus_slope(u);
        let next = u - f / slope;
        if (next - u).abs() < 1e-14 * (1.0 + u.abs()) {
            return next;
        }
        u = next;
    }
    u
}

impl Circuit {
    /// The open-loop steady state of a batch `x` `[B, n_0]`.
    pub fn open_loop_steady(&self, x: &[f64], batch: usize) -> CircuitState {
        let mut state = self.zero_state(batch);
        let mut rates = x.to_vec();
        for l in 0..self.hidden() {
            let drive = self.feedforward(l, &rates, batch);
            state.exc[l] = drive.into_iter().map(settle_unit).collect();
            state.inh[l] = state.exc[l].iter().map(|&u| softplus(u)).collect();
            rates = state.inh[l].clone();
        }
        state.readout = self.feedforward(self.hidden(), &rates, batch);
        state
    }

    /// The batch mean of `dℓ/dθ` of the open-loop steady output, and the mean loss.
    pub fn steady_gradient(
        &self,
        x: &[f64],
        targets: &[f64],
        batch: usize,
        loss: ControlLoss,
    ) -> (Tensors, f64) {
        let (l_count, k) = (self.hidden(), self.outputs());
        let state = self.open_loop_steady(x, batch);
        let mut grad = self.params.zeros_like();
        let (mut delta, mut total) = (Vec::with_capacity(batch * k), 0.0);
        for (y, t) in state.readout.chunks_exact(k).zip(targets.chunks_exact(k)) {
            total += loss.value(y, t);
            delta.extend(loss.error(y, t).iter().map(|e| -e));
        }
        let rates: Vec<&[f64]> = state.inh.iter().map(Vec::as_slice).collect();
        self.outer_mean(l_count, &delta, rates[l_count - 1], batch, &mut grad);
        for l in (0..l_count).rev() {
            let (n, above) = (self.sizes[l + 1], self.sizes[l + 2]);
            let mut back = vec![0.0; batch * n];
            gemm(
                batch,
                n,
                above,
                &delta,
                false,
                &self.params.weights[l + 1],
                false,
                &mut back,
                false,
            );
            for (i, d) in back.iter_mut().enumerate() {
                let (u_e, u_i) = (state.exc[l][i], state.inh[l][i]);
                let (s_e, s_i) = (softplus_slope(u_e), softplus_slope(u_i));
                *d *= s_e / (1.0 + s_i * s_e);
            }
            let below = if l == 0 { x } else { rates[l - 1] };
            self.outer_mean(l, &back, below, batch, &mut grad);
            delta = back;
        }
        (grad, total / batch.max(1) as f64)
    }
}
