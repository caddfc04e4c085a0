//! The layered energy-based network for training: a batch of samples, and all the nudged
//! phases of each, relaxed side by side with matrix products.
//!
//! Row `r` of a state holds sample `r mod B` in phase `⌊r / B⌋`; each phase has its own
//! nudging `β` (complex for holomorphic EP). The dynamics are [`super::energy`]'s, batched:
//! `h_l ← σ(W_{l−1} h_{l−1} + b_{l−1} + W_lᵀ h_{l+1})`, the top layer driven from above by the
//! teaching signal `W_Kᵀ(−β ∂ℓ/∂o)`, optionally with Gaussian noise on the pre-activations
//! (the paper's state noise).

use super::energy::{EnergyNet, EqLoss, Params};
use super::rows::{sigmoid, Parts, Rows};
use crate::linalg::gemm;
use crate::real::Real;
use num_complex::Complex64 as C;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// A layered energy-based network (`sizes`: input, hidden layers, readout).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNet<F> {
    /// Layer widths.
    pub sizes: Vec<usize>,
    /// `weights[l]` maps layer `l` to `l + 1` (`[n_{l+1}, n_l]`, row-major); the last is the
    /// readout.
    pub params: Params<F>,
    /// The readout's loss.
    pub loss: EqLoss,
}

/// A batch: inputs `[B, n_0]` and their classes.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a, F> {
    /// Inputs, row-major.
    pub x: &'a [F],
    /// Classes.
    pub labels: &'a [usize],
}

impl<F> Batch<'_, F> {
    /// Samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether it holds no sample.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Gaussian state noise: its standard deviation and its generator.
pub struct Noise<'a> {
    /// Standard deviation added to every pre-activation at every step.
    pub std: f64,
    /// The generator.
    pub rng: &'a mut ChaCha8Rng,
}

impl<F: Real> BatchNet<F> {
    /// A network with weights drawn from a normal of standard deviation `1/√fan_in`
    /// truncated at two deviations (the reference code's initialiser) and zero biases.
    pub fn new(sizes: &[usize], loss: EqLoss, rng: &mut ChaCha8Rng) -> Self {
        let weights = sizes
            .windows(2)
            .map(|pair| {
                let std = 1.0 / (pair[0] as f64).sqrt();
                (0..pair[0] * pair[1])
                    .map(|_| F::from_f64(std * truncated_normal(rng)))
                    .collect()
            })
            .collect();
        let biases = sizes[1..].iter().map(|&n| vec![F::zero(); n]).collect();
        Self {
            sizes: sizes.to_vec(),
            params: Params { weights, biases },
            loss,
        }
    }

    /// The per-sample network of [`super::energy`] with the same parameters (in `f64`).
    pub fn to_energy(&self) -> EnergyNet {
        fn cast<F: Real>(v: &[Vec<F>]) -> Vec<Vec<f64>> {
            v.iter()
                .map(|t| t.iter().map(|x| x.as_f64()).collect())
                .collect()
        }
        EnergyNet {
            sizes: self.sizes.clone(),
            params: Params {
                weights: cast(&self.params.weights),
                biases: cast(&self.params.biases),
            },
            loss: self.loss,
        }
    }

    /// The batched network with `net`'s parameters.
    pub fn from_energy(net: &EnergyNet) -> Self {
        fn cast<F: Real>(v: &[Vec<f64>]) -> Vec<Vec<F>> {
            v.iter()
                .map(|t| t.iter().map(|&x| F::from_f64(x)).collect())
                .collect()
        }
        Self {
            sizes: net.sizes.clone(),
            params: Params {
                weights: cast(&net.params.weights),
                biases: cast(&net.params.biases),
            },
            loss: net.loss,
        }
    }

    /// Hidden layers `K`.
    pub fn hidden(&self) -> usize {
        self.sizes.len() - 2
    }

    /// `W_0 x + b_0` `[B, n_1]`: the input's constant drive of the first hidden layer.
    pub fn input_drive(&self, batch: Batch<'_, F>) -> Vec<F> {
        let (n_in, n_1) = (self.sizes[0], self.sizes[1]);
        let mut drive: Vec<F> = self.params.biases[0].repeat(batch.len());
        let w = &self.params.weights[0];
        gemm(
            batch.len(),
            n_1,
            n_in,
            batch.x,
            false,
            w,
            true,
            &mut drive,
            true,
        );
        drive
    }

    /// Zero states of every hidden layer for `rows` rows.
    pub fn zero_state(&self, rows: usize, parts: Parts) -> Vec<Rows<F>> {
        let widths = &self.sizes[1..=self.hidden()];
        widths
            .iter()
            .map(|&n| Rows::zeros(rows, n, parts))
            .collect()
    }

    /// The readout `o = W_K h_K + b_K` of every row.
    pub fn readout(&self, top: &Rows<F>) -> Rows<F> {
        let k = self.hidden();
        let classes = self.sizes[k + 1];
        let mut out = Rows::zeros(top.rows, classes, top.parts);
        for row in out.data[..top.rows * classes].chunks_exact_mut(classes) {
            row.copy_from_slice(&self.params.biases[k]);
        }
        let (w, stacked) = (&self.params.weights[k], top.stacked());
        gemm(
            stacked,
            classes,
            top.width,
            &top.data,
            false,
            w,
            true,
            &mut out.data,
            true,
        );
        out
    }

    /// The teaching signal `∂Φ/∂o = −β ∂ℓ/∂o` of every row (row `r`: class `labels[r mod B]`,
    /// nudging `betas[⌊r / B⌋]`).
    pub fn teaching(&self, top: &Rows<F>, labels: &[usize], betas: &[C]) -> Rows<F> {
        let o = self.readout(top);
        let mut out = Rows::zeros(o.rows, o.width, o.parts);
        let b = labels.len();
        let mut logits = vec![C::new(0.0, 0.0); o.width];
        for r in 0..o.rows {
            let beta = betas[r / b];
            if beta == C::new(0.0, 0.0) {
                continue;
            }
            logits
                .iter_mut()
                .enumerate()
                .for_each(|(j, v)| *v = o.get(r, j));
            for (j, g) in self.loss.grad(&logits, labels[r % b]).iter().enumerate() {
                out.set(r, j, -beta * g);
            }
        }
        out
    }

    /// One synchronous update `h ← σ(∂Φ/∂h)` of every row.
    pub fn step(
        &self,
        drive: &[F],
        state: &mut [Rows<F>],
        labels: &[usize],
        betas: &[C],
        noise: Option<&mut Noise<'_>>,
    ) {
        let k = self.hidden();
        let teaching = self.teaching(&state[k - 1], labels, betas);
        let mut next: Vec<Rows<F>> = (1..=k)
            .map(|l| self.pre_activation(l, drive, state, &teaching, labels.len()))
            .collect();
        if let Some(noise) = noise {
            for u in &mut next {
                let n = u.rows * u.width;
                for v in &mut u.data[..n] {
                    let e: f64 = noise.rng.sample(StandardNormal);
                    *v += F::from_f64(noise.std * e);
                }
            }
        }
        next.iter_mut().for_each(activate);
        state.iter_mut().zip(next).for_each(|(s, n)| *s = n);
    }

    /// `u_l = ∂Φ/∂h_l` (hidden layer `l`, 1-based) at the current state.
    fn pre_activation(
        &self,
        l: usize,
        drive: &[F],
        state: &[Rows<F>],
        teaching: &Rows<F>,
        batch: usize,
    ) -> Rows<F> {
        let (k, n) = (self.hidden(), self.sizes[l]);
        let own = &state[l - 1];
        let mut u = Rows::zeros(own.rows, n, own.parts);
        let stacked = own.stacked();
        if l == 1 {
            // The input drive is real and the same in every phase.
            let re = &mut u.data[..own.rows * n];
            for (row, d) in re.chunks_exact_mut(n).zip(drive.chunks_exact(n).cycle()) {
                row.copy_from_slice(d);
            }
            debug_assert_eq!(drive.len(), batch * n);
        } else {
            let below = &state[l - 2];
            for row in u.data[..own.rows * n].chunks_exact_mut(n) {
                row.copy_from_slice(&self.params.biases[l - 1]);
            }
            let w = &self.params.weights[l - 1];
            let m = below.width;
            gemm(
                stacked,
                n,
                m,
                &below.data,
                false,
                w,
                true,
                &mut u.data,
                true,
            );
        }
        let above = if l < k { &state[l] } else { teaching };
        let w = &self.params.weights[l];
        gemm(
            stacked,
            n,
            above.width,
            &above.data,
            false,
            w,
            false,
            &mut u.data,
            true,
        );
        u
    }

    /// Relaxes `state` (rows `P · B`) for `steps` updates with phase `p` nudged by
    /// `betas[p]`; complex nudging turns real states complex first.
    pub fn relax(
        &self,
        batch: Batch<'_, F>,
        drive: &[F],
        state: &mut Vec<Rows<F>>,
        betas: &[C],
        steps: usize,
        mut noise: Option<&mut Noise<'_>>,
    ) {
        if betas.iter().any(|b| b.im != 0.0) && state[0].parts == Parts::Real {
            *state = std::mem::take(state)
                .into_iter()
                .map(Rows::into_complex)
                .collect();
        }
        for _ in 0..steps {
            self.step(drive, state, batch.labels, betas, noise.as_deref_mut());
        }
    }

    /// The free fixed point of a batch after `steps` updates from zero (real states).
    pub fn free_state(&self, batch: Batch<'_, F>, steps: usize) -> Vec<Rows<F>> {
        let drive = self.input_drive(batch);
        let mut state = self.zero_state(batch.len(), Parts::Real);
        let free = [C::new(0.0, 0.0)];
        self.relax(batch, &drive, &mut state, &free, steps, None);
        state
    }

    /// The predicted class of each sample: the largest readout at the free fixed point.
    pub fn predict(&self, batch: Batch<'_, F>, steps: usize) -> Vec<usize> {
        let state = self.free_state(batch, steps);
        let o = self.readout(&state[self.hidden() - 1]);
        argmax_rows(o.re(), o.width)
    }
}

/// The index of the largest value of each row of `values` `[rows, width]` (NaN counts as
/// largest, so a diverged network scores nothing).
pub fn argmax_rows<F: Real>(values: &[F], width: usize) -> Vec<usize> {
    values
        .chunks_exact(width)
        .map(|row| {
            let best = (0..width).max_by(|&a, &b| row[a].as_f64().total_cmp(&row[b].as_f64()));
            best.unwrap_or(0)
        })
        .collect()
}

/// `h = σ(u)` in place, complex where the states are.
fn activate<F: Real>(u: &mut Rows<F>) {
    let n = u.rows * u.width;
    match u.parts {
        Parts::Real => u
            .data
            .iter_mut()
            .for_each(|v| *v = sigmoid(*v, F::zero()).0),
        Parts::Complex => {
            let (re, im) = u.data.split_at_mut(n);
            for (x, y) in re.iter_mut().zip(im.iter_mut()) {
                (*x, *y) = sigmoid(*x, *y);
            }
        }
    }
}

/// A standard normal draw truncated to `[−2, 2]` (redrawn outside), rescaled to unit
/// variance as the reference initialiser does.
fn truncated_normal(rng: &mut ChaCha8Rng) -> f64 {
    // The standard deviation of a standard normal truncated at ±2.
    const TRUNCATED_STD: f64 = 0.879_626_0;
    loop {
        let z: f64 = rng.sample(StandardNormal);
        if z.abs() <= 2.0 {
            return z / TRUNCATED_STD;
        }
    }
}
