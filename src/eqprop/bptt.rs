//! Backpropagation through the free relaxation: the gradient of the loss after `T` synchronous
//! updates from zero, the reference code's `BPTT` baseline. It needs no convergence (it is
//! the exact gradient of the unrolled map); where the relaxation has converged it equals the
//! gradient at the fixed point that EP estimates.

use super::batch::{Batch, BatchNet};
use super::energy::Params;
use super::rows::{Parts, Rows};
use crate::linalg::gemm;
use crate::real::Real;
use num_complex::Complex64 as C;

impl<F: Real> BatchNet<F> {
    /// The batch mean of `dL/dθ` for the loss of the readout after `steps` free updates from
    /// zero, and the mean loss.
    pub fn bptt_gradient(&self, batch: Batch<'_, F>, steps: usize) -> (Params<F>, f64) {
        let (k, b) = (self.hidden(), batch.len());
        let drive = self.input_drive(batch);
        let free = [C::new(0.0, 0.0)];
        let mut states = vec![self.zero_state(b, Parts::Real)];
        for _ in 0..steps {
            let mut next = states[states.len() - 1].clone();
            self.step(&drive, &mut next, batch.labels, &free, None);
            states.push(next);
        }
        let last = &states[steps];
        let (dl_do, loss) = self.loss_gradient(&last[k - 1], batch.labels);
        let mut grad = self.zero_params();
        let classes = self.sizes[k + 1];
        let top = last[k - 1].re();
        gemm(
            classes,
            self.sizes[k],
            b,
            &dl_do,
            true,
            top,
            false,
            &mut grad.weights[k],
            true,
        );
        for row in dl_do.chunks_exact(classes) {
            let db = &mut grad.biases[k];
            db.iter_mut().zip(row).for_each(|(g, &v)| *g += v);
        }
        // ∂L/∂h at the last step: the readout's, on the top layer only.
        let mut adjoint: Vec<Vec<F>> = (1..=k)
            .map(|l| vec![F::zero(); b * self.sizes[l]])
            .collect();
        let w_k = &self.params.weights[k];
        gemm(
            b,
            self.sizes[k],
            classes,
            &dl_do,
            false,
            w_k,
            false,
            &mut adjoint[k - 1],
            false,
        );
        for t in (1..=steps).rev() {
            // δ_l = σ'(u_l) ⊙ ∂L/∂h_l at step t, from h_l = σ(u_l).
            let delta: Vec<Vec<F>> = adjoint
                .iter()
                .zip(&states[t])
                .map(|(a, h)| a.iter().zip(h.re()).map(|(&a, &h)| a * slope(h)).collect())
                .collect();
            self.add_step_gradient(batch, &states[t - 1], &delta, &mut grad);
            adjoint = (1..=k)
                .map(|l| {
                    let mut a = vec![F::zero(); b * self.sizes[l]];
                    self.adjoint_inflow(l, &delta, &mut a, b);
                    a
                })
                .collect();
        }
        let inv_b = F::from_f64(1.0 / b as f64);
        let all = grad.weights.iter_mut().chain(grad.biases.iter_mut());
        all.flatten().for_each(|g| *g *= inv_b);
        (grad, loss)
    }

    /// `∂L/∂h_l` at the previous step from the pre-activations' adjoints `δ`:
    /// `W_lᵀ δ_{l+1} + W_{l−1} δ_{l−1}` (row form), what layer `l` feeds its neighbours.
    fn adjoint_inflow(&self, l: usize, delta: &[Vec<F>], out: &mut [F], b: usize) {
        let (k, n) = (self.hidden(), self.sizes[l]);
        if l < k {
            let w = &self.params.weights[l];
            gemm(
                b,
                n,
                self.sizes[l + 1],
                &delta[l],
                false,
                w,
                false,
                out,
                true,
            );
        }
        if l > 1 {
            let w = &self.params.weights[l - 1];
            gemm(
                b,
                n,
                self.sizes[l - 1],
                &delta[l - 2],
                false,
                w,
                true,
                out,
                true,
            );
        }
    }

    /// One step's parameter gradients: `W_{l−1}` enters `u_l` as `W_{l−1} h_{l−1}` and
    /// `u_{l−1}` as `W_{l−1}ᵀ h_l`, both at the previous step's states `before`.
    fn add_step_gradient(
        &self,
        batch: Batch<'_, F>,
        before: &[Rows<F>],
        delta: &[Vec<F>],
        grad: &mut Params<F>,
    ) {
        let b = batch.len();
        for l in 1..=self.hidden() {
            let (n, m) = (self.sizes[l], self.sizes[l - 1]);
            let below = if l == 1 { batch.x } else { before[l - 2].re() };
            let dw = &mut grad.weights[l - 1];
            gemm(n, m, b, &delta[l - 1], true, below, false, dw, true);
            if l > 1 {
                gemm(
                    n,
                    m,
                    b,
                    before[l - 1].re(),
                    true,
                    &delta[l - 2],
                    false,
                    dw,
                    true,
                );
            }
            for row in delta[l - 1].chunks_exact(n) {
                let db = &mut grad.biases[l - 1];
                db.iter_mut().zip(row).for_each(|(g, &v)| *g += v);
            }
        }
    }

    /// `∂ℓ/∂o` `[B, C]` of real top states and the mean loss.
    fn loss_gradient(&self, top: &Rows<F>, labels: &[usize]) -> (Vec<F>, f64) {
        let o = self.readout(top);
        let mut grad = Vec::with_capacity(o.re().len());
        let mut loss = 0.0;
        for (row, &y) in o.re().chunks_exact(o.width).zip(labels) {
            let real: Vec<f64> = row.iter().map(|v| v.as_f64()).collect();
            loss += self.loss.value(&real, y);
            let logits: Vec<C> = real.iter().map(|&v| C::new(v, 0.0)).collect();
            let g = self.loss.grad(&logits, y);
            grad.extend(g.iter().map(|v| F::from_f64(v.re)));
        }
        (grad, loss / labels.len().max(1) as f64)
    }
}

/// `σ'(u) = 4 σ (1 − σ)` from `h = σ(u)`.
fn slope<F: Real>(h: F) -> F {
    F::from_f64(4.0) * h * (F::one() - h)
}
