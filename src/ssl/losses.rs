//! BYOL's loss through the closed-form predictor and IsoLoss (Halvagal, Laborieux & Zenke,
//! NeurIPS 2023), as gradients with respect to the online projection `z`.
//!
//! Per sample, with `p = z W_P` (`W_P` symmetric) and `z_t` the target projection of the other
//! view (not differentiated), and `g = ∂ℓ/∂p`:
//!
//! ```text
//! cosine:     ℓ = −cos(p, z_t),   g = −[z_t/(‖p‖‖z_t‖) − (p·z_t) p/(‖p‖³‖z_t‖)]
//! Euclidean:  ℓ = ½‖p − z_t‖²,    g = p − z_t
//! BYOL:       ∂ℓ/∂z = W_P g       (the chain rule through the predictor)
//! IsoLoss:    ∂ℓ/∂z := g          (BYOL's gradient with the leading W_P removed)
//! ```
//!
//! IsoLoss is defined by its gradient (the paper writes a surrogate loss whose gradient this
//! is); removing `W_P` removes the predictor's eigenvalues as per-mode learning-rate factors.

use super::SslError;

/// How the online branch is pulled towards the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Objective {
    /// The chain rule through the predictor: `∂ℓ/∂z = W_P ∂ℓ/∂p`.
    Byol,
    /// IsoLoss: `∂ℓ/∂z = ∂ℓ/∂p`.
    IsoLoss,
}

/// The distance between prediction and target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distance {
    /// `ℓ = −cos(p, z_t)` (BYOL, DirectPred, the paper's deep networks).
    Cosine,
    /// `ℓ = ½‖p − z_t‖²` (the paper's Euclidean toy variants).
    Euclidean,
}

/// Norms below this count as zero: such a sample's cosine gradient is set to zero.
const NORM_FLOOR: f64 = 1e-12;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `p = z W_P` of one sample (`W_P` row-major `D × D`).
pub fn predict(wp: &[f64], z: &[f64]) -> Vec<f64> {
    let d = z.len();
    (0..d)
        .map(|j| (0..d).map(|i| z[i] * wp[i * d + j]).sum())
        .collect()
}

/// The per-sample loss `ℓ(p, z_t)`.
pub fn sample_loss(distance: Distance, p: &[f64], zt: &[f64]) -> f64 {
    match distance {
        Distance::Cosine => {
            let norms = dot(p, p).sqrt() * dot(zt, zt).sqrt();
            if norms < NORM_FLOOR {
                return 0.0;
            }
            -dot(p, zt) / norms
        }
        Distance::Euclidean => 0.5 * p.iter().zip(zt).map(|(a, b)| (a - b).powi(2)).sum::<f64>(),
    }
}

/// `g = ∂ℓ/∂p` of one sample (zero for a cosine with a vanishing norm).
pub fn gradient_wrt_prediction(distance: Distance, p: &[f64], zt: &[f64]) -> Vec<f64> {
    match distance {
        Distance::Cosine => {
            let (np, nt) = (dot(p, p).sqrt(), dot(zt, zt).sqrt());
            if np < NORM_FLOOR || nt < NORM_FLOOR {
                return vec![0.0; p.len()];
            }
            let along = dot(p, zt) / (np.powi(3) * nt);
            p.iter()
                .zip(zt)
                .map(|(&pi, &ti)| -(ti / (np * nt) - along * pi))
                .collect()
        }
        Distance::Euclidean => p.iter().zip(zt).map(|(a, b)| a - b).collect(),
    }
}

/// The per-sample gradient with respect to `z` under `objective` (see the module's equations).
pub fn sample_gradient(
    objective: Objective,
    distance: Distance,
    wp: &[f64],
    z: &[f64],
    zt: &[f64],
) -> Vec<f64> {
    let p = predict(wp, z);
    let g = gradient_wrt_prediction(distance, &p, zt);
    match objective {
        // W_P symmetric: g W_Pᵀ = W_P g.
        Objective::Byol => predict(wp, &g),
        Objective::IsoLoss => g,
    }
}

/// The batch loss and its gradient with respect to the projections `z` `[B, D]`, given the
/// targets `z_t` `[B, D]`: `L = (2/B) Σ ℓ` for the cosine (BYOL's `2 − 2 cos` up to a
/// constant) and `L = (1/B) Σ ℓ` for the Euclidean distance. Errors on mismatched shapes.
pub fn batch_gradient(
    objective: Objective,
    distance: Distance,
    wp: &[f64],
    z: &[f32],
    zt: &[f32],
) -> Result<(f64, Vec<f32>), SslError> {
    let d = (wp.len() as f64).sqrt() as usize;
    if d == 0 || d * d != wp.len() {
        return Err(SslError::shape("predictor (square)", d * d, wp.len()));
    }
    if z.len() != zt.len() || z.is_empty() || !z.len().is_multiple_of(d) {
        return Err(SslError::shape(
            "projections and targets",
            z.len(),
            zt.len(),
        ));
    }
    let batch = z.len() / d;
    let scale = match distance {
        Distance::Cosine => 2.0 / batch as f64,
        Distance::Euclidean => 1.0 / batch as f64,
    };
    let mut loss = 0.0;
    let mut grad = Vec::with_capacity(z.len());
    for (zr, tr) in z.chunks_exact(d).zip(zt.chunks_exact(d)) {
        let zr: Vec<f64> = zr.iter().map(|&v| v as f64).collect();
        let tr: Vec<f64> = tr.iter().map(|&v| v as f64).collect();
        loss += scale * sample_loss(distance, &predict(wp, &zr), &tr);
        let g = sample_gradient(objective, distance, wp, &zr, &tr);
        grad.extend(g.iter().map(|&v| (v * scale) as f32));
    }
    Ok((loss, grad))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symmetric positive-definite W_P with distinct eigenvalues, a z and a z_t (D = 4).
    fn setting() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let d = 4;
        let b: Vec<f64> = (0..d * d)
            .map(|i| ((i * 5 % 7) as f64 - 3.0) / 4.0)
            .collect();
        // W_P = BᵀB + 0.3 I
        let wp: Vec<f64> = (0..d * d)
            .map(|ij| {
                let (i, j) = (ij / d, ij % d);
                (0..d).map(|k| b[k * d + i] * b[k * d + j]).sum::<f64>()
                    + if i == j { 0.3 } else { 0.0 }
            })
            .collect();
        (wp, vec![0.7, -1.2, 0.4, 2.0], vec![1.5, 0.3, -0.8, 0.9])
    }

    /// `∂ℓ(z W_P, z_t)/∂z` by central differences.
    fn numeric(distance: Distance, wp: &[f64], z: &[f64], zt: &[f64]) -> Vec<f64> {
        let h = 1e-6;
        (0..z.len())
            .map(|i| {
                let (mut up, mut down) = (z.to_vec(), z.to_vec());
                up[i] += h;
                down[i] -= h;
                let f = |v: &[f64]| sample_loss(distance, &predict(wp, v), zt);
                (f(&up) - f(&down)) / (2.0 * h)
            })
            .collect()
    }

    /// (i) BYOL's hand-written gradient is the derivative of its loss through the predictor.
    #[test]
    fn byol_gradient_matches_finite_differences() {
        let (wp, z, zt) = setting();
        for distance in [Distance::Cosine, Distance::Euclidean] {
            let analytic = sample_gradient(Objective::Byol, distance, &wp, &z, &zt);
            let numeric = numeric(distance, &wp, &z, &zt);
            for (a, n) in analytic.iter().zip(&numeric) {
                assert!((a - n).abs() < 1e-7, "{distance:?}: {a} vs {n}");
            }
        }
    }

    /// (ii) IsoLoss is BYOL without the leading W_P: `W_P g_iso = g_byol`, and with the
    /// paper's explicit formula; it is not BYOL's gradient itself (W_P ≠ I).
    #[test]
    fn isoloss_gradient_is_byol_without_the_predictor_factor() {
        let (wp, z, zt) = setting();
        for distance in [Distance::Cosine, Distance::Euclidean] {
            let iso = sample_gradient(Objective::IsoLoss, distance, &wp, &z, &zt);
            let byol = sample_gradient(Objective::Byol, distance, &wp, &z, &zt);
            let back = predict(&wp, &iso);
            for (a, b) in back.iter().zip(&byol) {
                assert!((a - b).abs() < 1e-12);
            }
            let gap: f64 = iso.iter().zip(&byol).map(|(a, b)| (a - b).abs()).sum();
            assert!(gap > 1e-2, "{distance:?}: W_P must matter here");
        }
        // The paper's formula: −[z_t/(‖p‖‖z_t‖) − (p·z_t) p/(‖p‖³‖z_t‖)].
        let p = predict(&wp, &z);
        let (np, nt) = (dot(&p, &p).sqrt(), dot(&zt, &zt).sqrt());
        let iso = sample_gradient(Objective::IsoLoss, Distance::Cosine, &wp, &z, &zt);
        for i in 0..4 {
            let paper = -(zt[i] / (np * nt) - dot(&p, &zt) * p[i] / (np.powi(3) * nt));
            assert!((iso[i] - paper).abs() < 1e-12);
        }
        // The cosine gradient is orthogonal to p (the loss is scale-invariant in p).
        assert!(dot(&gradient_wrt_prediction(Distance::Cosine, &p, &zt), &p).abs() < 1e-12);
    }

    /// The batch version scales by 2/B and matches the per-sample gradients; bad shapes fail.
    #[test]
    fn batch_gradient_averages_samples() {
        let (wp, z, zt) = setting();
        let zb: Vec<f32> = z.iter().chain(&zt).map(|&v| v as f32).collect();
        let tb: Vec<f32> = zt.iter().chain(&z).map(|&v| v as f32).collect();
        let (loss, grad) =
            batch_gradient(Objective::Byol, Distance::Cosine, &wp, &zb, &tb).unwrap();
        let single = sample_gradient(Objective::Byol, Distance::Cosine, &wp, &z, &zt);
        for (g, s) in grad.iter().zip(&single) {
            assert!((*g as f64 - s).abs() < 1e-5);
        }
        assert!((-2.0..=2.0).contains(&loss));
        assert!(batch_gradient(Objective::Byol, Distance::Cosine, &wp, &zb, &tb[..4]).is_err());
        assert!(batch_gradient(Objective::Byol, Distance::Cosine, &wp[..3], &zb, &tb).is_err());
    }
}
