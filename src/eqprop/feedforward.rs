//! The same layers without feedback, `h_l = σ(W_{l−1} h_{l−1} + b_{l−1})`, trained by plain
//! backpropagation: the feed-forward reference an EP-trained network is compared with.

use super::batch::{argmax_rows, Batch, BatchNet};
use super::energy::Params;
use super::rows::sigmoid;
use crate::linalg::gemm;
use crate::real::Real;
use num_complex::Complex64 as C;

impl<F: Real> BatchNet<F> {
    /// The feed-forward activations `h_1 … h_K` `[B, n_l]` and the readout `[B, C]`.
    pub fn feedforward(&self, batch: Batch<'_, F>) -> (Vec<Vec<F>>, Vec<F>) {
        let (k, b) = (self.hidden(), batch.len());
        let mut hidden: Vec<Vec<F>> = Vec::with_capacity(k);
        for l in 0..=k {
            let below = if l == 0 { batch.x } else { &hidden[l - 1] };
            let (n, m) = (self.sizes[l + 1], self.sizes[l]);
            let mut u = self.params.biases[l].repeat(b);
            gemm(
                b,
                n,
                m,
                below,
                false,
                &self.params.weights[l],
                true,
                &mut u,
                true,
            );
            if l == k {
                return (hidden, u);
            }
            u.iter_mut().for_each(|v| *v = sigmoid(*v, F::zero()).0);
            hidden.push(u);
        }
        unreachable!("the loop returns at the readout")
    }

    /// The batch mean of `dL/dθ` of the feed-forward network, and the mean loss.
    pub fn feedforward_gradient(&self, batch: Batch<'_, F>) -> (Params<F>, f64) {
        let (k, b) = (self.hidden(), batch.len());
        let (hidden, o) = self.feedforward(batch);
        let classes = self.sizes[k + 1];
        let (mut delta, mut loss) = (Vec::with_capacity(o.len()), 0.0);
        for (row, &y) in o.chunks_exact(classes).zip(batch.labels) {
            let real: Vec<f64> = row.iter().map(|v| v.as_f64()).collect();
            loss += self.loss.value(&real, y);
            let logits: Vec<C> = real.iter().map(|&v| C::new(v, 0.0)).collect();
            let g = self.loss.grad(&logits, y);
            delta.extend(g.iter().map(|v| F::from_f64(v.re / b as f64)));
        }
        let mut grad = self.zero_params();
        for l in (0..=k).rev() {
            let (n, m) = (self.sizes[l + 1], self.sizes[l]);
            let below = if l == 0 { batch.x } else { &hidden[l - 1] };
            gemm(
                n,
                m,
                b,
                &delta,
                true,
                below,
                false,
                &mut grad.weights[l],
                true,
            );
            for row in delta.chunks_exact(n) {
                let db = &mut grad.biases[l];
                db.iter_mut().zip(row).for_each(|(g, &v)| *g += v);
            }
            if l > 0 {
                // δ_{l−1} = σ'(u) ⊙ (δ_l W_l), σ' = 4h(1 − h).
                let mut back = vec![F::zero(); b * m];
                gemm(
                    b,
                    m,
                    n,
                    &delta,
                    false,
                    &self.params.weights[l],
                    false,
                    &mut back,
                    false,
                );
                let four = F::from_f64(4.0);
                for (d, &h) in back.iter_mut().zip(&hidden[l - 1]) {
                    *d *= four * h * (F::one() - h);
                }
                delta = back;
            }
        }
        (grad, loss / b.max(1) as f64)
    }

    /// The predicted class of each sample by the feed-forward network.
    pub fn predict_feedforward(&self, batch: Batch<'_, F>) -> Vec<usize> {
        let (_, o) = self.feedforward(batch);
        argmax_rows(&o, self.sizes[self.hidden() + 1])
    }
}
