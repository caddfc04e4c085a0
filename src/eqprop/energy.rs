//! The layered energy-based network: its parameters, the relaxation to the fixed point
//! `h = σ(∂Φ/∂h)` (real or complex nudging), and `∂Φ/∂θ` at a state.

use num_complex::Complex64 as C;

/// The loss `ℓ(o, y)` of the readout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EqLoss {
    /// Softmax cross-entropy against class `y`.
    CrossEntropy,
    /// `½‖o − onehot(y)‖²`.
    SquaredError,
}

impl EqLoss {
    /// `ℓ(o, y)` for real outputs.
    pub fn value(self, o: &[f64], y: usize) -> f64 {
        match self {
            Self::CrossEntropy => {
                let max = o.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = o.iter().map(|v| (v - max).exp()).sum();
                max + sum.ln() - o[y]
            }
            Self::SquaredError => {
                let target = |i: usize| if i == y { 1.0 } else { 0.0 };
                0.5 * o
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (v - target(i)).powi(2))
                    .sum::<f64>()
            }
        }
    }

    /// `∂ℓ/∂o`, continued holomorphically to complex outputs.
    pub fn grad(self, o: &[C], y: usize) -> Vec<C> {
        let onehot = |i: usize| if i == y { 1.0 } else { 0.0 };
        match self {
            Self::CrossEntropy => {
                // Shifting by a real constant leaves the softmax unchanged and keeps exp finite.
                let max = o.iter().map(|v| v.re).fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<C> = o.iter().map(|v| (v - max).exp()).collect();
                let sum: C = e.iter().sum();
                e.iter()
                    .enumerate()
                    .map(|(i, v)| v / sum - onehot(i))
                    .collect()
            }
            Self::SquaredError => o.iter().enumerate().map(|(i, v)| v - onehot(i)).collect(),
        }
    }
}

/// A real input as complex states.
pub fn complex(x: &[f64]) -> Vec<C> {
    x.iter().map(|&v| C::new(v, 0.0)).collect()
}

/// `σ(z) = 1/(1 + e^{−(4z−2)})`.
pub fn activation(z: C) -> C {
    1.0 / (1.0 + (-(4.0 * z - 2.0)).exp())
}

/// `σ'(z) = 4 σ(z)(1 − σ(z))`.
pub fn activation_derivative(z: C) -> C {
    let s = activation(z);
    4.0 * s * (1.0 - s)
}

/// The parameters: `weights[l]` maps layer `l` to `l + 1` (`[n_{l+1}, n_l]`, row-major),
/// the last one is the readout.
#[derive(Clone, Debug, PartialEq)]
pub struct Params<T> {
    /// `W_0 … W_K`.
    pub weights: Vec<Vec<T>>,
    /// `b_0 … b_K`.
    pub biases: Vec<Vec<T>>,
}

/// A layered energy-based network.
#[derive(Clone, Debug, PartialEq)]
pub struct EnergyNet {
    /// Layer widths: input, hidden layers, readout.
    pub sizes: Vec<usize>,
    /// Its parameters.
    pub params: Params<f64>,
    /// The readout's loss.
    pub loss: EqLoss,
}

impl EnergyNet {
    /// Hidden layers `K`.
    pub fn hidden(&self) -> usize {
        self.sizes.len() - 2
    }

    /// `W_l v` (`v` of width `n_l`).
    fn forward(&self, l: usize, v: &[C]) -> Vec<C> {
        let (rows, cols) = (self.sizes[l + 1], self.sizes[l]);
        let w = &self.params.weights[l];
        (0..rows)
            .map(|i| {
                let row = &w[i * cols..(i + 1) * cols];
                row.iter().zip(v).map(|(&a, &b)| a * b).sum::<C>() + self.params.biases[l][i]
            })
            .collect()
    }

    /// `W_lᵀ v` (`v` of width `n_{l+1}`), without bias.
    fn backward(&self, l: usize, v: &[C]) -> Vec<C> {
        let (rows, cols) = (self.sizes[l + 1], self.sizes[l]);
        let w = &self.params.weights[l];
        let mut out = vec![C::new(0.0, 0.0); cols];
        for (i, &vi) in v.iter().enumerate().take(rows) {
            for (o, &a) in out.iter_mut().zip(&w[i * cols..(i + 1) * cols]) {
                *o += a * vi;
            }
        }
        out
    }

    /// The readout `o = W_K h_K + b_K`.
    pub fn readout(&self, h: &[Vec<C>]) -> Vec<C> {
        let k = self.hidden();
        self.forward(k, &h[k - 1])
    }

    /// `∂Φ/∂o = −β ∂ℓ/∂o`: the teaching signal at the readout.
    fn nudge(&self, h: &[Vec<C>], y: usize, beta: C) -> Vec<C> {
        let grad = self.loss.grad(&self.readout(h), y);
        grad.iter().map(|g| -beta * g).collect()
    }

    /// `u = ∂Φ/∂h` of every hidden layer at state `h` (the pre-activations).
    pub fn drive(&self, x: &[C], h: &[Vec<C>], y: usize, beta: C) -> Vec<Vec<C>> {
        let k = self.hidden();
        (1..=k)
            .map(|layer| {
                let below = if layer == 1 { x } else { &h[layer - 2] };
                let mut u = self.forward(layer - 1, below);
                let above = if layer < k {
                    self.backward(layer, &h[layer])
                } else {
                    self.backward(layer, &self.nudge(h, y, beta))
                };
                u.iter_mut().zip(above).for_each(|(a, b)| *a += b);
                u
            })
            .collect()
    }

    /// Relaxes from `start` (zeros if `None`) for `steps` synchronous updates
    /// `h ← σ(∂Φ/∂h)`; returns the hidden states.
    pub fn relax(
        &self,
        x: &[f64],
        y: usize,
        beta: C,
        steps: usize,
        start: Option<&[Vec<C>]>,
    ) -> Vec<Vec<C>> {
        let x = complex(x);
        let zeros = || {
            self.sizes[1..=self.hidden()]
                .iter()
                .map(|&n| vec![C::new(0.0, 0.0); n])
                .collect()
        };
        let mut h: Vec<Vec<C>> = start.map_or_else(zeros, <[Vec<C>]>::to_vec);
        for _ in 0..steps {
            let u = self.drive(&x, &h, y, beta);
            h = u
                .iter()
                .map(|layer| layer.iter().map(|&z| activation(z)).collect())
                .collect();
        }
        h
    }

    /// `∂Φ/∂θ` at state `h` with nudging `beta`.
    pub fn dphi_dtheta(&self, x: &[f64], h: &[Vec<C>], y: usize, beta: C) -> Params<C> {
        let k = self.hidden();
        let x = complex(x);
        let outer = |a: &[C], b: &[C]| -> Vec<C> {
            a.iter()
                .flat_map(|&ai| b.iter().map(move |&bj| ai * bj))
                .collect()
        };
        let mut weights = Vec::with_capacity(k + 1);
        let mut biases = Vec::with_capacity(k + 1);
        for l in 0..k {
            let below = if l == 0 { &x[..] } else { &h[l - 1][..] };
            weights.push(outer(&h[l], below));
            biases.push(h[l].clone());
        }
        let nudge = self.nudge(h, y, beta);
        weights.push(outer(&nudge, &h[k - 1]));
        biases.push(nudge);
        Params { weights, biases }
    }
}
