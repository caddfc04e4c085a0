//! A dense ReLU multilayer perceptron with biases (e.g. LeNet-300-100, `784-300-100-10`), the
//! network that neural tangent transfer sparsifies.
//!
//! Layer `k` computes `z_k = h_k W_kᵀ + b_k` on a batch (`h_0 = x`, row-major `[B, n_in]`,
//! `W_k` stored `[n_out, n_in]`); hidden layers apply `h_{k+1} = relu(z_k)` and the last layer is
//! linear (`f = z_{L-1}`, `[B, C]`).

use crate::linalg::gemm;
use crate::real::Real;
use rand::Rng;
use rand_distr::StandardNormal;

/// One fully connected layer: weights `[n_out, n_in]` (row-major) and biases `[n_out]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dense<F> {
    /// Input width.
    pub n_in: usize,
    /// Output width.
    pub n_out: usize,
    /// Weights, row-major `[n_out, n_in]`.
    pub w: Vec<F>,
    /// Biases, `[n_out]`.
    pub b: Vec<F>,
}

impl<F: Real> Dense<F> {
    /// A layer of zeros.
    pub fn zeros(n_in: usize, n_out: usize) -> Self {
        Self {
            n_in,
            n_out,
            w: vec![F::zero(); n_in * n_out],
            b: vec![F::zero(); n_out],
        }
    }
}

/// A ReLU MLP (every layer but the last is followed by a ReLU). The same type holds gradients.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp<F> {
    /// The layers, input first.
    pub layers: Vec<Dense<F>>,
}

/// The activations of one forward pass on a batch, kept for the backward passes.
#[derive(Clone, Debug)]
pub struct Forward<F> {
    /// Batch size `B`.
    pub batch: usize,
    /// `inputs[k]` is the input `h_k` of layer `k`, `[B, n_in_k]` (`inputs[0]` is `x`).
    pub inputs: Vec<Vec<F>>,
    /// `pre[k]` is the pre-activation `z_k` of layer `k`, `[B, n_out_k]`; the last is the output.
    pub pre: Vec<Vec<F>>,
}

impl<F: Real> Forward<F> {
    /// The network output `f`, `[B, C]`.
    pub fn output(&self) -> &[F] {
        self.pre.last().expect("a network has at least one layer")
    }
}

impl<F: Real> Mlp<F> {
    /// A network of zeros with layer widths `sizes` (input first, at least two entries).
    pub fn zeros(sizes: &[usize]) -> Self {
        assert!(
            sizes.len() >= 2,
            "an MLP needs an input and an output width"
        );
        Self {
            layers: sizes.windows(2).map(|s| Dense::zeros(s[0], s[1])).collect(),
        }
    }

    /// A network of the same shape, all zeros.
    pub fn zeros_like(&self) -> Self {
        Self {
            layers: self
                .layers
                .iter()
                .map(|l| Dense::zeros(l.n_in, l.n_out))
                .collect(),
        }
    }

    /// The initialisation of the reference code (`stax.Dense` with `glorot_normal()` weights and
    /// `normal()` biases): weights `N(0, 2/(n_in + n_out))`, biases `N(0, bias_std²)` (the
    /// reference's `normal()` uses `bias_std = 0.01`). Draws in `f64`, row-major, layer by layer.
    pub fn glorot_normal<R: Rng + ?Sized>(sizes: &[usize], bias_std: f64, rng: &mut R) -> Self {
        let mut net = Self::zeros(sizes);
        for l in &mut net.layers {
            let std = (2.0 / (l.n_in + l.n_out) as f64).sqrt();
            for w in &mut l.w {
                *w = F::from_f64(std * rng.sample::<f64, _>(StandardNormal));
            }
            for b in &mut l.b {
                *b = F::from_f64(bias_std * rng.sample::<f64, _>(StandardNormal));
            }
        }
        net
    }

    /// Input width.
    pub fn n_in(&self) -> usize {
        self.layers[0].n_in
    }

    /// Output width `C`.
    pub fn n_out(&self) -> usize {
        self.layers.last().expect("non-empty").n_out
    }

    /// Number of parameters (weights and biases).
    pub fn num_params(&self) -> usize {
        self.layers.iter().map(|l| l.w.len() + l.b.len()).sum()
    }

    /// All parameters in one vector: per layer, weights (row-major) then biases.
    pub fn flatten(&self) -> Vec<F> {
        let mut v = Vec::with_capacity(self.num_params());
        for l in &self.layers {
            v.extend_from_slice(&l.w);
            v.extend_from_slice(&l.b);
        }
        v
    }

    /// Overwrites every parameter from `v`, in the order of [`Mlp::flatten`].
    pub fn set_flat(&mut self, v: &[F]) {
        assert_eq!(v.len(), self.num_params(), "set_flat: wrong length");
        let mut at = 0;
        for l in &mut self.layers {
            let (nw, nb) = (l.w.len(), l.b.len());
            l.w.copy_from_slice(&v[at..at + nw]);
            l.b.copy_from_slice(&v[at + nw..at + nw + nb]);
            at += nw + nb;
        }
    }

    /// The lengths of the parameter tensors, per layer weights then biases (the order of
    /// [`Mlp::tensors`] and [`Mlp::tensors_mut`]).
    pub fn shapes(&self) -> Vec<usize> {
        self.layers
            .iter()
            .flat_map(|l| [l.w.len(), l.b.len()])
            .collect()
    }

    /// The parameter tensors, per layer weights then biases.
    pub fn tensors(&self) -> Vec<&[F]> {
        self.layers
            .iter()
            .flat_map(|l| [l.w.as_slice(), l.b.as_slice()])
            .collect()
    }

    /// The parameter tensors, mutable, in the order of [`Mlp::tensors`].
    pub fn tensors_mut(&mut self) -> Vec<&mut [F]> {
        self.layers
            .iter_mut()
            .flat_map(|l| [l.w.as_mut_slice(), l.b.as_mut_slice()])
            .collect()
    }

    /// The name of the first layer with a parameter that is not finite (`layer k weights` or
    /// `layer k biases`), if any.
    pub fn first_non_finite(&self) -> Option<String> {
        self.layers.iter().enumerate().find_map(|(k, l)| {
            if l.w.iter().any(|v| !v.is_finite()) {
                Some(format!("layer {k} weights"))
            } else if l.b.iter().any(|v| !v.is_finite()) {
                Some(format!("layer {k} biases"))
            } else {
                None
            }
        })
    }

    /// `self += a · other` on every parameter.
    pub fn axpy(&mut self, a: F, other: &Self) {
        for (l, o) in self.layers.iter_mut().zip(&other.layers) {
            for (x, &y) in l.w.iter_mut().zip(&o.w) {
                *x += a * y;
            }
            for (x, &y) in l.b.iter_mut().zip(&o.b) {
                *x += a * y;
            }
        }
    }

    /// The forward pass on a batch `x` (`[batch, n_in]`, row-major).
    pub fn forward(&self, x: &[F], batch: usize) -> Forward<F> {
        assert_eq!(
            x.len(),
            batch * self.n_in(),
            "forward: input has the wrong length"
        );
        let last = self.layers.len() - 1;
        let mut inputs = Vec::with_capacity(self.layers.len());
        let mut pre = Vec::with_capacity(self.layers.len());
        let mut h = x.to_vec();
        for (k, l) in self.layers.iter().enumerate() {
            let mut z = vec![F::zero(); batch * l.n_out];
            gemm(batch, l.n_out, l.n_in, &h, false, &l.w, true, &mut z, false);
            for row in z.chunks_exact_mut(l.n_out) {
                for (v, &b) in row.iter_mut().zip(&l.b) {
                    *v += b;
                }
            }
            let next = if k < last {
                z.iter().map(|&v| v.max(F::zero())).collect()
            } else {
                Vec::new()
            };
            inputs.push(std::mem::replace(&mut h, next));
            pre.push(z);
        }
        Forward { batch, inputs, pre }
    }

    /// The network output on a batch, `[batch, C]`.
    pub fn predict(&self, x: &[F], batch: usize) -> Vec<F> {
        let mut fwd = self.forward(x, batch);
        fwd.pre.pop().expect("non-empty")
    }

    /// Reverse-mode pass: adds to `grads` the gradient of `Σ gout ⊙ f` with respect to every
    /// parameter, and adds to `gh[k]` (when given, `[B, n_in_k]` for `k ≥ 1`) extra adjoints of
    /// the hidden activations `h_k` before they are propagated. `gout` is `[B, C]`.
    pub fn backward(
        &self,
        fwd: &Forward<F>,
        gout: &[F],
        extra_gh: Option<&[Vec<F>]>,
        grads: &mut Self,
    ) {
        let batch = fwd.batch;
        let last = self.layers.len() - 1;
        assert_eq!(
            gout.len(),
            batch * self.n_out(),
            "backward: gout has the wrong length"
        );
        let mut gz = gout.to_vec();
        for k in (0..=last).rev() {
            let l = &self.layers[k];
            let g = &mut grads.layers[k];
            gemm(
                l.n_out,
                l.n_in,
                batch,
                &gz,
                true,
                &fwd.inputs[k],
                false,
                &mut g.w,
                true,
            );
            for row in gz.chunks_exact(l.n_out) {
                for (b, &v) in g.b.iter_mut().zip(row) {
                    *b += v;
                }
            }
            if k == 0 {
                break;
            }
            // gh_k = gz_k W_k (+ extra), then gz_{k-1} = gh_k ⊙ relu'(z_{k-1}).
            let mut gh = match extra_gh {
                Some(e) => e[k].clone(),
                None => vec![F::zero(); batch * l.n_in],
            };
            gemm(
                batch, l.n_in, l.n_out, &gz, false, &l.w, false, &mut gh, true,
            );
            for (v, &z) in gh.iter_mut().zip(&fwd.pre[k - 1]) {
                if z <= F::zero() {
                    *v = F::zero();
                }
            }
            gz = gh;
        }
    }
}
