//! The paper's linear Siamese toy (Halvagal, Laborieux & Zenke, NeurIPS 2023, Fig. 2;
//! `notebooks/toy_networks.ipynb` of `fmi-basel/implicit-var-reg`).
//!
//! `z = W x` with `x ~ N(0, I)` and two views `x₁ = x + σ n₁`, `x₂ = x + σ n₂`. The predictor
//! is the closed form of the weights, `W_P = U diag(|λ|^α) Uᵀ` with `W Wᵀ = U diag(λ) Uᵀ`,
//! and the target is the second view through the same weights (stop-gradient). Each step
//! averages over a batch of `B` samples:
//!
//! ```text
//! ΔW = −η (1/B) Σ_b (∂ℓ/∂z)_b x₁,bᵀ      (∂ℓ/∂z from `losses::sample_gradient`)
//! Euclidean IsoLoss:  ΔW = −η (W_P z₁ − z₂) x₁ᵀ
//! BYOL-L2:            ΔW = −η W_Pᵀ (W_P z₁ − z₂) x₁ᵀ
//! ```
//!
//! For the Euclidean losses the expected update is `−η M (W_P W (1 + σ²) − W)` (`M = W_P` for
//! BYOL, `I` for IsoLoss), so every non-zero eigenvalue of `W Wᵀ` settles at
//! `λ* = (1 + σ²)^(−1/α)`, at a rate scaled by `λ^α` under BYOL and not under IsoLoss.

use super::eigen::SymmetricEigen;
use super::losses::{sample_gradient, Distance, Objective};
use super::SslError;
use crate::error::{check_non_negative, check_positive, ConfigError};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// The toy's setting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ToyConfig {
    /// Input dimension (paper: 15, or 6).
    pub inputs: usize,
    /// Output dimension (paper: 10, or 2).
    pub outputs: usize,
    /// `σ_aug`, the standard deviation of each view's noise (paper: 0.1).
    pub augmentation_std: f64,
    /// `η` (paper: 1e-2 for the Euclidean losses, 0.1 for the cosine ones).
    pub learning_rate: f64,
    /// Updates (paper: 1500).
    pub steps: usize,
    /// Samples averaged per update (paper: 50 000).
    pub batch: usize,
    /// `α`, the predictor's power of the eigenvalues (notebook: 1).
    pub exponent: f64,
    /// The initial weights' standard deviation (notebook: 1/4).
    pub init_std: f64,
    /// Seeds the initial weights and the samples.
    pub seed: u64,
}

impl ToyConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, count) in [
            ("toy.inputs", self.inputs),
            ("toy.outputs", self.outputs),
            ("toy.batch", self.batch),
        ] {
            if count == 0 {
                return Err(ConfigError::new(name, "must be at least 1"));
            }
        }
        check_non_negative("toy.augmentation_std", self.augmentation_std)?;
        check_positive("toy.learning_rate", self.learning_rate)?;
        check_positive("toy.exponent", self.exponent)?;
        check_positive("toy.init_std", self.init_std)
    }
}

/// `W_P = U diag(|λ|^α) Uᵀ` of `W Wᵀ = U diag(λ) Uᵀ` (`W` row-major `[outputs, inputs]`).
pub fn predictor_of_weights(
    w: &[f64],
    outputs: usize,
    inputs: usize,
    exponent: f64,
) -> Result<Vec<f64>, SslError> {
    Ok(SymmetricEigen::of(&gram(w, outputs, inputs), outputs)?.compose(|l| l.abs().powf(exponent)))
}

/// `W Wᵀ`, row-major `[outputs, outputs]`.
fn gram(w: &[f64], outputs: usize, inputs: usize) -> Vec<f64> {
    let mut g = vec![0.0; outputs * outputs];
    for i in 0..outputs {
        for j in 0..outputs {
            let (a, b) = (&w[i * inputs..][..inputs], &w[j * inputs..][..inputs]);
            g[i * outputs + j] = a.iter().zip(b).map(|(x, y)| x * y).sum();
        }
    }
    g
}

/// The eigenvalues of `W Wᵀ`, ascending.
pub fn weight_eigenvalues(w: &[f64], outputs: usize, inputs: usize) -> Result<Vec<f64>, SslError> {
    Ok(SymmetricEigen::of(&gram(w, outputs, inputs), outputs)?.values)
}

/// `ΔW = −η (1/B) Σ_b (∂ℓ/∂z)_b x₁,bᵀ` for views `x₁`, `x₂` `[B, inputs]`, with `z = W x`,
/// the target `W x₂` and the predictor `wp`.
#[allow(clippy::too_many_arguments)]
pub fn weight_update(
    objective: Objective,
    distance: Distance,
    w: &[f64],
    wp: &[f64],
    x1: &[f64],
    x2: &[f64],
    shape: (usize, usize),
    learning_rate: f64,
) -> Vec<f64> {
    let (outputs, inputs) = shape;
    let batch = x1.len() / inputs;
    let project = |x: &[f64]| -> Vec<f64> {
        (0..outputs)
            .map(|o| {
                w[o * inputs..][..inputs]
                    .iter()
                    .zip(x)
                    .map(|(a, b)| a * b)
                    .sum()
            })
            .collect()
    };
    let mut delta = vec![0.0; outputs * inputs];
    for (a, b) in x1.chunks_exact(inputs).zip(x2.chunks_exact(inputs)) {
        let g = sample_gradient(objective, distance, wp, &project(a), &project(b));
        for (o, &go) in g.iter().enumerate() {
            let row = &mut delta[o * inputs..][..inputs];
            row.iter_mut()
                .zip(a)
                .for_each(|(d, &xi)| *d -= learning_rate * go * xi / batch as f64);
        }
    }
    delta
}

/// Trains the toy and returns the eigenvalues of `W Wᵀ` (ascending) before every update and
/// after the last (`steps + 1` rows). The same seed gives every objective the same initial
/// weights and samples.
pub fn simulate(
    config: &ToyConfig,
    objective: Objective,
    distance: Distance,
) -> Result<Vec<Vec<f64>>, SslError> {
    config.validate()?;
    let (outputs, inputs) = (config.outputs, config.inputs);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut normal =
        move |n: usize| -> Vec<f64> { (0..n).map(|_| StandardNormal.sample(&mut rng)).collect() };
    let mut w: Vec<f64> = normal(outputs * inputs)
        .iter()
        .map(|v| v * config.init_std)
        .collect();
    let mut trajectory = vec![weight_eigenvalues(&w, outputs, inputs)?];
    let n = config.batch * inputs;
    for _ in 0..config.steps {
        let x = normal(n);
        let (n1, n2) = (normal(n), normal(n));
        let view = |noise: &[f64]| -> Vec<f64> {
            x.iter()
                .zip(noise)
                .map(|(a, e)| a + config.augmentation_std * e)
                .collect()
        };
        let (x1, x2) = (view(&n1), view(&n2));
        let wp = predictor_of_weights(&w, outputs, inputs, config.exponent)?;
        let delta = weight_update(
            objective,
            distance,
            &w,
            &wp,
            &x1,
            &x2,
            (outputs, inputs),
            config.learning_rate,
        );
        w.iter_mut().zip(&delta).for_each(|(a, d)| *a += d);
        if w.iter().any(|v| !v.is_finite()) {
            return Err(SslError::NonFinite(
                "toy weights (learning rate too large?)",
            ));
        }
        trajectory.push(weight_eigenvalues(&w, outputs, inputs)?);
    }
    Ok(trajectory)
}

/// The Euclidean losses' non-trivial fixed point of the eigenvalues, `(1 + σ²)^(−1/α)`.
pub fn euclidean_fixed_point(augmentation_std: f64, exponent: f64) -> f64 {
    (1.0 + augmentation_std * augmentation_std).powf(-1.0 / exponent)
}

/// Per eigenmode (a column of `trajectory`), the first step at which it has closed
/// `fraction` of its initial distance to `target` in log space:
/// `|ln λ(t) − ln λ*| ≤ (1 − fraction)·|ln λ(0) − ln λ*|`; `None` if it never does.
pub fn convergence_steps(
    trajectory: &[Vec<f64>],
    target: f64,
    fraction: f64,
) -> Vec<Option<usize>> {
    let Some(first) = trajectory.first() else {
        return Vec::new();
    };
    let distance = |l: f64| (l.max(f64::MIN_POSITIVE).ln() - target.ln()).abs();
    (0..first.len())
        .map(|m| {
            let allowed = (1.0 - fraction) * distance(first[m]);
            trajectory
                .iter()
                .position(|row| distance(row[m]) <= allowed)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights() -> (Vec<f64>, usize, usize) {
        let (outputs, inputs) = (2, 3);
        (vec![0.4, -0.3, 0.8, 0.1, 0.5, -0.2], outputs, inputs)
    }

    /// (iii) One sample: the Euclidean IsoLoss update is `−η(W_P z₁ − z₂)x₁ᵀ`, BYOL-L2's is
    /// `−η W_Pᵀ(W_P z₁ − z₂)x₁ᵀ`, and BYOL-L2's is minus η times the finite-difference
    /// gradient of `½‖W_P W x₁ − sg(W x₂)‖²` with respect to `W` (W_P held fixed).
    #[test]
    fn euclidean_toy_updates_follow_the_paper() {
        let (w, outputs, inputs) = weights();
        let wp = predictor_of_weights(&w, outputs, inputs, 1.0).unwrap();
        let (x1, x2) = (vec![1.0, -0.5, 0.3], vec![0.9, -0.4, 0.2]);
        let eta = 0.1;
        let z = |w: &[f64], x: &[f64]| -> Vec<f64> {
            (0..outputs)
                .map(|o| (0..inputs).map(|i| w[o * inputs + i] * x[i]).sum())
                .collect()
        };
        let (z1, z2) = (z(&w, &x1), z(&w, &x2));
        let error: Vec<f64> = (0..outputs)
            .map(|o| {
                (0..outputs)
                    .map(|k| wp[o * outputs + k] * z1[k])
                    .sum::<f64>()
                    - z2[o]
            })
            .collect();
        let back: Vec<f64> = (0..outputs)
            .map(|o| (0..outputs).map(|k| wp[k * outputs + o] * error[k]).sum())
            .collect();
        let shape = (outputs, inputs);
        let iso = weight_update(
            Objective::IsoLoss,
            Distance::Euclidean,
            &w,
            &wp,
            &x1,
            &x2,
            shape,
            eta,
        );
        let byol = weight_update(
            Objective::Byol,
            Distance::Euclidean,
            &w,
            &wp,
            &x1,
            &x2,
            shape,
            eta,
        );
        for o in 0..outputs {
            for i in 0..inputs {
                assert!((iso[o * inputs + i] + eta * error[o] * x1[i]).abs() < 1e-12);
                assert!((byol[o * inputs + i] + eta * back[o] * x1[i]).abs() < 1e-12);
            }
        }
        let loss = |w: &[f64]| -> f64 {
            let z1 = z(w, &x1);
            (0..outputs)
                .map(|o| {
                    let p: f64 = (0..outputs).map(|k| wp[o * outputs + k] * z1[k]).sum();
                    0.5 * (p - z2[o]).powi(2)
                })
                .sum()
        };
        let h = 1e-6;
        for j in 0..w.len() {
            let (mut up, mut down) = (w.clone(), w.clone());
            up[j] += h;
            down[j] -= h;
            let numeric = (loss(&up) - loss(&down)) / (2.0 * h);
            assert!(
                (byol[j] + eta * numeric).abs() < 1e-8,
                "{j}: {} vs {}",
                byol[j],
                -eta * numeric
            );
        }
        // The IsoLoss update differs from BYOL's by the factor W_P.
        let gap: f64 = iso.iter().zip(&byol).map(|(a, b)| (a - b).abs()).sum();
        assert!(gap > 1e-3);
    }

    /// The predictor of the weights has the eigenvalues `λ^α` of `W Wᵀ`.
    #[test]
    fn toy_predictor_powers_the_weight_eigenvalues() {
        let (w, outputs, inputs) = weights();
        let wp = predictor_of_weights(&w, outputs, inputs, 0.5).unwrap();
        let of_wp = SymmetricEigen::of(&wp, outputs).unwrap().values;
        let of_w = weight_eigenvalues(&w, outputs, inputs).unwrap();
        for (p, l) in of_wp.iter().zip(&of_w) {
            assert!((p - l.sqrt()).abs() < 1e-12);
        }
    }

    /// A short Euclidean IsoLoss run moves every eigenvalue towards `(1 + σ²)^(−1/α)`.
    #[test]
    fn isoloss_toy_approaches_the_fixed_point() {
        let config = ToyConfig {
            inputs: 6,
            outputs: 2,
            augmentation_std: 0.1,
            learning_rate: 0.05,
            steps: 400,
            batch: 256,
            exponent: 1.0,
            init_std: 0.25,
            seed: 3,
        };
        let run = simulate(&config, Objective::IsoLoss, Distance::Euclidean).unwrap();
        let target = euclidean_fixed_point(0.1, 1.0);
        for (&start, &end) in run[0].iter().zip(run.last().unwrap()) {
            assert!((end.ln() - target.ln()).abs() < 0.2 * (start.ln() - target.ln()).abs());
        }
        let steps = convergence_steps(&run, target, 0.9);
        assert!(steps.iter().all(|s| s.is_some()));
        let bad = ToyConfig { batch: 0, ..config };
        assert!(simulate(&bad, Objective::IsoLoss, Distance::Euclidean).is_err());
    }
}
