//! The empirical neural tangent kernel of an [`Mlp`] on a batch, and its hand-written adjoint.
//!
//! As in the reference code (`empirical_ntk_fn(x1, x2, params)` in `nt_transfer/utils.py`),
//! the batch is split into a first half `x1` (`n1 = ⌊B/2⌋` samples) and a second half `x2`
//! (`n2 = B − n1`), and the kernel is the cross kernel `Θ = J(x1) J(x2)ᵀ`, `[n1·C, n2·C]`
//! (row `i·C + c`, column `j·C + d`), with `J = ∂f/∂θ` over **every** weight entry and bias
//! of the network it is evaluated at (for a sparse student: at `m ⊙ θ`, pruned entries
//! included, as JAX differentiates the masked parameter tree).
//!
//! `J` is never materialised. With `Δ_k[a] = ∂f_a/∂z_k` (the output row `a = (i, c)` back-
//! propagated to layer `k`'s pre-activation), `∂f_a/∂W_k = Δ_k[a] ⊗ h_k[i]` and
//! `∂f_a/∂b_k = Δ_k[a]`, so
//! `Θ[(i,c),(j,d)] = Σ_k (Δ_k[i,c] · Δ_k[j,d]) (h_k[i] · h_k[j] + 1)`: one small product of
//! `Δ`s and one of activations per layer. The adjoint differentiates this expression: through
//! the `Δ` recursion `Δ_{k−1} = (Δ_k W_k) ⊙ relu'(z_{k−1})` and through the forward
//! activations `h_k`; `relu'' = 0` almost everywhere, so the ReLU gates are constants.

use super::mlp::{Forward, Mlp};
use crate::linalg::gemm;
use crate::real::Real;

/// An empirical NTK `Θ = J(x1) J(x2)ᵀ`, row-major `[n1·C, n2·C]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ntk<F> {
    /// Samples in the first half `x1`.
    pub n1: usize,
    /// Samples in the second half `x2`.
    pub n2: usize,
    /// Outputs per sample `C`.
    pub outputs: usize,
    /// The entries, row `i·C + c` (sample `i` of `x1`, output `c`), column `j·C + d`.
    pub values: Vec<F>,
}

/// The number of samples of the first half of a batch of `batch` (`⌊batch/2⌋`, as the
/// reference's `x[:int(len(x)/2)]`).
pub fn first_half(batch: usize) -> usize {
    batch / 2
}

/// One forward pass plus the back-propagated output rows `Δ_k`, shared by the kernel and its
/// adjoint.
#[derive(Clone, Debug)]
pub struct KernelPass<F> {
    /// The forward activations.
    pub fwd: Forward<F>,
    /// `deltas[k]` is `Δ_k = ∂f/∂z_k`, `[B·C, n_out_k]` (row `i·C + c`).
    pub deltas: Vec<Vec<F>>,
    /// Samples in the first half.
    pub n1: usize,
}

impl<F: Real> KernelPass<F> {
    /// Runs `net` on the batch `x` (`[batch, n_in]`) and back-propagates every output.
    pub fn new(net: &Mlp<F>, x: &[F], batch: usize) -> Self {
        assert!(batch >= 2, "the kernel needs at least two samples");
        let fwd = net.forward(x, batch);
        let nl = net.layers.len();
        let c = net.n_out();
        let rows = batch * c;
        let mut deltas = vec![Vec::new(); nl];
        let mut top = vec![F::zero(); rows * c];
        for a in 0..rows {
            top[a * c + a % c] = F::one();
        }
        deltas[nl - 1] = top;
        for k in (1..nl).rev() {
            let l = &net.layers[k];
            let mut d = vec![F::zero(); rows * l.n_in];
            gemm(
                rows, l.n_in, l.n_out, &deltas[k], false, &l.w, false, &mut d, false,
            );
            gate_rows(&mut d, &fwd.pre[k - 1], l.n_in, c);
            deltas[k - 1] = d;
        }
        Self {
            fwd,
            deltas,
            n1: first_half(batch),
        }
    }

    /// The per-layer factors `(G_k, H_k)`: `G_k = Δ_k(x1) Δ_k(x2)ᵀ` (`[n1·C, n2·C]`) and
    /// `H_k = h_k(x1) h_k(x2)ᵀ + 1` (`[n1, n2]`).
    fn factors(&self, net: &Mlp<F>, k: usize) -> (Vec<F>, Vec<F>) {
        let l = &net.layers[k];
        let c = net.n_out();
        let (n1, n2) = (self.n1, self.fwd.batch - self.n1);
        let (d1, d2) = self.deltas[k].split_at(n1 * c * l.n_out);
        let mut g = vec![F::zero(); n1 * c * n2 * c];
        gemm(n1 * c, n2 * c, l.n_out, d1, false, d2, true, &mut g, false);
        let (h1, h2) = self.fwd.inputs[k].split_at(n1 * l.n_in);
        let mut h = vec![F::one(); n1 * n2];
        gemm(n1, n2, l.n_in, h1, false, h2, true, &mut h, true);
        (g, h)
    }

    /// The kernel `Θ` of `net` (the network this pass was run with).
    pub fn ntk(&self, net: &Mlp<F>) -> Ntk<F> {
        let c = net.n_out();
        let (n1, n2) = (self.n1, self.fwd.batch - self.n1);
        let mut values = vec![F::zero(); n1 * c * n2 * c];
        for k in 0..net.layers.len() {
            let (g, h) = self.factors(net, k);
            for (r, row) in values.chunks_exact_mut(n2 * c).enumerate() {
                let i = r / c;
                let grow = &g[r * n2 * c..(r + 1) * n2 * c];
                for (col, v) in row.iter_mut().enumerate() {
                    *v += grow[col] * h[i * n2 + col / c];
                }
            }
        }
        Ntk {
            n1,
            n2,
            outputs: c,
            values,
        }
    }

    /// Adds to `grads` the gradient, with respect to every parameter of `net`, of
    /// `Σ y ⊙ Θ + Σ gout ⊙ f`: `y` is `∂L/∂Θ` (`[n1·C, n2·C]`) and `gout` (optional) is
    /// `∂L/∂f` (`[B, C]`).
    pub fn backward(&self, net: &Mlp<F>, y: &[F], gout: Option<&[F]>, grads: &mut Mlp<F>) {
        let nl = net.layers.len();
        let c = net.n_out();
        let batch = self.fwd.batch;
        let (n1, n2) = (self.n1, batch - self.n1);
        assert_eq!(y.len(), n1 * c * n2 * c, "backward: y has the wrong length");
        let mut gdelta: Vec<Vec<F>> = net
            .layers
            .iter()
            .map(|l| vec![F::zero(); batch * c * l.n_out])
            .collect();
        let mut gh: Vec<Vec<F>> = net
            .layers
            .iter()
            .map(|l| vec![F::zero(); batch * l.n_in])
            .collect();
        for k in 0..nl {
            let l = &net.layers[k];
            let (g, h) = self.factors(net, k);
            // A = y ⊙ H (expanded over outputs), Bm[i, j] = Σ_{c,d} y ⊙ G.
            let mut a = vec![F::zero(); y.len()];
            let mut bm = vec![F::zero(); n1 * n2];
            for r in 0..n1 * c {
                let i = r / c;
                for col in 0..n2 * c {
                    let at = r * n2 * c + col;
                    a[at] = y[at] * h[i * n2 + col / c];
                    bm[i * n2 + col / c] += y[at] * g[at];
                }
            }
            if k + 1 < nl {
                let (d1, d2) = self.deltas[k].split_at(n1 * c * l.n_out);
                let (g1, g2) = gdelta[k].split_at_mut(n1 * c * l.n_out);
                gemm(n1 * c, l.n_out, n2 * c, &a, false, d2, false, g1, true);
                gemm(n2 * c, l.n_out, n1 * c, &a, true, d1, false, g2, true);
            }
            if k > 0 {
                let (h1, h2) = self.fwd.inputs[k].split_at(n1 * l.n_in);
                let (g1, g2) = gh[k].split_at_mut(n1 * l.n_in);
                gemm(n1, l.n_in, n2, &bm, false, h2, false, g1, true);
                gemm(n2, l.n_in, n1, &bm, true, h1, false, g2, true);
            }
        }
        // Through the Δ recursion Δ_{k−1} = (Δ_k W_k) ⊙ S_{k−1}, lowest layer first so that
        // each adjoint is complete before it is propagated upwards.
        for k in 1..nl {
            let l = &net.layers[k];
            let mut gm = std::mem::take(&mut gdelta[k - 1]);
            gate_rows(&mut gm, &self.fwd.pre[k - 1], l.n_in, c);
            let rows = batch * c;
            if k + 1 < nl {
                gemm(
                    rows,
                    l.n_out,
                    l.n_in,
                    &gm,
                    false,
                    &l.w,
                    true,
                    &mut gdelta[k],
                    true,
                );
            }
            gemm(
                l.n_out,
                l.n_in,
                rows,
                &self.deltas[k],
                true,
                &gm,
                false,
                &mut grads.layers[k].w,
                true,
            );
        }
        let zeros;
        let gout = match gout {
            Some(g) => g,
            None => {
                zeros = vec![F::zero(); batch * c];
                &zeros
            }
        };
        net.backward(&self.fwd, gout, Some(&gh), grads);
    }
}

/// Zeroes entries of the `[B·C, width]` rows `d` where the ReLU of their sample is off:
/// row `i·C + c` is gated by `relu'(pre[i])` (`pre` is `[B, width]`).
fn gate_rows<F: Real>(d: &mut [F], pre: &[F], width: usize, c: usize) {
    for (r, row) in d.chunks_exact_mut(width).enumerate() {
        let z = &pre[(r / c) * width..(r / c + 1) * width];
        for (v, &zv) in row.iter_mut().zip(z) {
            if zv <= F::zero() {
                *v = F::zero();
            }
        }
    }
}

/// The empirical NTK of `net` on the batch `x` (`[batch, n_in]`), split into halves.
pub fn empirical_ntk<F: Real>(net: &Mlp<F>, x: &[F], batch: usize) -> Ntk<F> {
    KernelPass::new(net, x, batch).ntk(net)
}

/// The squared kernel distance `‖Θ − Θ_target‖²` of `net` on `x` and its gradient with
/// respect to every parameter of `net` (unmasked, unnormalised).
pub fn kernel_distance_grad<F: Real>(
    net: &Mlp<F>,
    x: &[F],
    batch: usize,
    target: &Ntk<F>,
) -> (f64, Mlp<F>) {
    let pass = KernelPass::new(net, x, batch);
    let theta = pass.ntk(net);
    assert_eq!(
        theta.values.len(),
        target.values.len(),
        "kernel sizes differ"
    );
    let two = F::from_f64(2.0);
    let mut dist = 0.0;
    let y: Vec<F> = theta
        .values
        .iter()
        .zip(&target.values)
        .map(|(&s, &t)| {
            let d = s - t;
            dist += d.as_f64() * d.as_f64();
            two * d
        })
        .collect();
    let mut grads = net.zeros_like();
    pass.backward(net, &y, None, &mut grads);
    (dist, grads)
}
