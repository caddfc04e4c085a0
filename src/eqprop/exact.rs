//! The exact gradient of the loss at the free fixed point, by implicit differentiation: the
//! reference every EP estimator is tested against.
//!
//! At the fixed point `F(h, θ) = σ(u(h, θ)) − h = 0` (`u = ∂Φ/∂h` at `β = 0`),
//! `dL/dθ = ∂ℓ/∂θ − λᵀ ∂F/∂θ` with `(∂F/∂h)ᵀ λ = ∂ℓ/∂h`, `∂F/∂h = D J − I`,
//! `D = diag σ'(u)`, `J = ∂u/∂h` (the blocks `W_{k−1}` and `W_kᵀ`), `∂F/∂θ = D ∂u/∂θ`.

use super::energy::{activation_derivative, complex, EnergyNet, Params};
use num_complex::Complex64 as C;

/// `dL/dθ` and `L` at the free fixed point reached after `steps` updates; `None` if the
/// fixed point's Jacobian is singular.
pub fn gradient(net: &EnergyNet, x: &[f64], y: usize, steps: usize) -> Option<(Params<f64>, f64)> {
    let zero = C::new(0.0, 0.0);
    let h = net.relax(x, y, zero, steps, None);
    let u = net.drive(&complex(x), &h, y, zero);
    let k = net.hidden();
    let sizes = &net.sizes[1..=k];
    let offsets: Vec<usize> = sizes
        .iter()
        .scan(0, |acc, &n| {
            let at = *acc;
            *acc += n;
            Some(at)
        })
        .collect();
    let n: usize = sizes.iter().sum();
    let slope: Vec<f64> = u
        .iter()
        .flatten()
        .map(|&z| activation_derivative(z).re)
        .collect();
    let state = |layer: usize| -> Vec<f64> {
        // layer 0 is the input, 1..=k the hidden layers
        if layer == 0 {
            x.to_vec()
        } else {
            h[layer - 1].iter().map(|c| c.re).collect()
        }
    };
    // A = ∂F/∂h = D J − I.
    let mut a = vec![0.0; n * n];
    for layer in 1..=k {
        let (row0, rows) = (offsets[layer - 1], sizes[layer - 1]);
        if layer >= 2 {
            // ∂u_layer/∂h_{layer−1} = W_{layer−1}: [rows, n_{layer−1}]
            let (col0, cols) = (offsets[layer - 2], sizes[layer - 2]);
            let w = &net.params.weights[layer - 1];
            for i in 0..rows {
                for j in 0..cols {
                    a[(row0 + i) * n + col0 + j] += slope[row0 + i] * w[i * cols + j];
                }
            }
        }
        if layer < k {
            // ∂u_layer/∂h_{layer+1} = W_layerᵀ, W_layer: [n_{layer+1}, rows]
            let (col0, cols) = (offsets[layer], sizes[layer]);
            let w = &net.params.weights[layer];
            for i in 0..rows {
                for j in 0..cols {
                    a[(row0 + i) * n + col0 + j] += slope[row0 + i] * w[j * rows + i];
                }
            }
        }
    }
    (0..n).for_each(|i| a[i * n + i] -= 1.0);
    // ∂ℓ/∂h: only through the readout of the last hidden layer.
    let o: Vec<C> = net.readout(&h);
    let g_o: Vec<f64> = net.loss.grad(&o, y).iter().map(|c| c.re).collect();
    let last = state(k);
    let mut rhs = vec![0.0; n];
    let w_out = &net.params.weights[k];
    for (i, &g) in g_o.iter().enumerate() {
        for (j, r) in rhs[offsets[k - 1]..].iter_mut().enumerate() {
            *r += w_out[i * last.len() + j] * g;
        }
    }
    let lambda = solve_transposed(&a, n, rhs)?;
    let mu: Vec<f64> = lambda.iter().zip(&slope).map(|(l, s)| l * s).collect();
    let mu_of = |layer: usize| &mu[offsets[layer - 1]..offsets[layer - 1] + sizes[layer - 1]];
    let mut weights = Vec::with_capacity(k + 1);
    let mut biases = Vec::with_capacity(k + 1);
    for l in 0..k {
        let (below, above) = (state(l), state(l + 1));
        let mu_above = mu_of(l + 1);
        let mut dw = vec![0.0; above.len() * below.len()];
        for i in 0..above.len() {
            for j in 0..below.len() {
                let mut d = mu_above[i] * below[j];
                if l >= 1 {
                    d += mu_of(l)[j] * above[i];
                }
                dw[i * below.len() + j] = -d;
            }
        }
        weights.push(dw);
        biases.push(mu_above.iter().map(|m| -m).collect());
    }
    weights.push(
        g_o.iter()
            .flat_map(|&g| last.iter().map(move |&v| g * v))
            .collect(),
    );
    biases.push(g_o);
    let loss = net
        .loss
        .value(&o.iter().map(|c| c.re).collect::<Vec<_>>(), y);
    Some((Params { weights, biases }, loss))
}

/// Solves `Aᵀ z = b` for the `n × n` row-major `A` by Gaussian elimination with partial
/// pivoting; `None` if `A` is singular.
fn solve_transposed(a: &[f64], n: usize, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let mut m: Vec<f64> = (0..n * n).map(|idx| a[(idx % n) * n + idx / n]).collect();
    for col in 0..n {
        let pivot =
            (col..n).max_by(|&p, &q| m[p * n + col].abs().total_cmp(&m[q * n + col].abs()))?;
        if m[pivot * n + col].abs() < 1e-300 {
            return None;
        }
        if pivot != col {
            for j in 0..n {
                m.swap(col * n + j, pivot * n + j);
            }
            b.swap(col, pivot);
        }
        for r in col + 1..n {
            let f = m[r * n + col] / m[col * n + col];
            for j in col..n {
                m[r * n + j] -= f * m[col * n + j];
            }
            b[r] -= f * b[col];
        }
    }
    for col in (0..n).rev() {
        let s: f64 = (col + 1..n).map(|j| m[col * n + j] * b[j]).sum();
        b[col] = (b[col] - s) / m[col * n + col];
    }
    Some(b)
}
