//! DirectPred's closed-form linear predictor (Tian, Chen & Ganguli 2021), as IsoLoss uses it
//! (Halvagal, Laborieux & Zenke, NeurIPS 2023, `solo/methods/directpred.py`):
//!
//! ```text
//! C ← τ C + (1 − τ) zᵀz / B          (z: the online projections [B, D], not differentiated)
//! C = U diag(s) Uᵀ,  s ← max(s, 0) / max(s) + ε
//! W_P = U diag(s^α) Uᵀ,   p = z W_P
//! ```

use super::eigen::SymmetricEigen;
use super::SslError;
use crate::error::{check_non_negative, check_positive, ConfigError};

/// The predictor's constants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PredictorConfig {
    /// `τ`, the decay of the running correlation per update, in `[0, 1)` (paper: 0.998).
    pub correlation_decay: f64,
    /// `α`, the power of the normalised eigenvalues (paper: 0.5; DirectCopy: 1).
    pub exponent: f64,
    /// `ε`, added to the normalised eigenvalues (paper's IsoLoss runs: 0).
    pub eigenvalue_offset: f64,
}

impl Default for PredictorConfig {
    fn default() -> Self {
        Self {
            correlation_decay: 0.998,
            exponent: 0.5,
            eigenvalue_offset: 0.0,
        }
    }
}

impl PredictorConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(0.0..1.0).contains(&self.correlation_decay) {
            return Err(ConfigError::new(
                "predictor.correlation_decay",
                format!("must lie in [0, 1), got {}", self.correlation_decay),
            ));
        }
        check_positive("predictor.exponent", self.exponent)?;
        check_non_negative("predictor.eigenvalue_offset", self.eigenvalue_offset)
    }
}

/// `W_P = U diag(s^α) Uᵀ` of a correlation matrix `C = U diag(s) Uᵀ` (row-major `dim × dim`),
/// with `s` normalised to `max(s, 0) / max(s) + ε`; also returns the powered eigenvalues `s^α`
/// (ascending). A correlation without a positive eigenvalue (all zero: no update yet) gives
/// the identity.
pub fn predictor_matrix(
    correlation: &[f64],
    dim: usize,
    config: &PredictorConfig,
) -> Result<(Vec<f64>, Vec<f64>), SslError> {
    config.validate()?;
    let eigen = SymmetricEigen::of(correlation, dim)?;
    let largest = eigen.values.last().copied().unwrap_or(0.0);
    if largest <= 0.0 {
        let identity = SymmetricEigen {
            n: dim,
            values: vec![1.0; dim],
            vectors: eigen.vectors,
        };
        return Ok((identity.compose(|_| 1.0), vec![1.0; dim]));
    }
    let power = |s: f64| (s.max(0.0) / largest + config.eigenvalue_offset).powf(config.exponent);
    let powered = eigen.values.iter().map(|&s| power(s)).collect();
    Ok((eigen.compose(power), powered))
}

/// The running correlation of the projections and the predictor computed from it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedFormPredictor {
    config: PredictorConfig,
    dim: usize,
    correlation: Vec<f64>,
    matrix: Vec<f64>,
    eigenvalues: Vec<f64>,
}

impl ClosedFormPredictor {
    /// A predictor over `dim` features with `C = 0` (so `W_P = I` until the first update).
    pub fn new(dim: usize, config: PredictorConfig) -> Result<Self, SslError> {
        config.validate()?;
        if dim == 0 {
            return Err(ConfigError::new("predictor.dim", "must be at least 1").into());
        }
        let (matrix, eigenvalues) = predictor_matrix(&vec![0.0; dim * dim], dim, &config)?;
        Ok(Self {
            config,
            dim,
            correlation: vec![0.0; dim * dim],
            matrix,
            eigenvalues,
        })
    }

    /// `C ← τC + (1 − τ) zᵀz / B` for projections `z` `[B, dim]`, then `W_P` anew.
    pub fn update(&mut self, z: &[f32]) -> Result<(), SslError> {
        let d = self.dim;
        if z.is_empty() || !z.len().is_multiple_of(d) {
            return Err(SslError::shape("projections", d, z.len()));
        }
        let batch = (z.len() / d) as f64;
        let tau = self.config.correlation_decay;
        let mut outer = vec![0.0f64; d * d];
        for row in z.chunks_exact(d) {
            for (i, &a) in row.iter().enumerate() {
                let line = &mut outer[i * d..(i + 1) * d];
                line.iter_mut()
                    .zip(row)
                    .for_each(|(o, &b)| *o += a as f64 * b as f64);
            }
        }
        for (c, o) in self.correlation.iter_mut().zip(&outer) {
            *c = tau * *c + (1.0 - tau) * o / batch;
        }
        let (matrix, eigenvalues) = predictor_matrix(&self.correlation, d, &self.config)?;
        self.matrix = matrix;
        self.eigenvalues = eigenvalues;
        Ok(())
    }

    /// `W_P`, row-major `dim × dim` (symmetric).
    pub fn matrix(&self) -> &[f64] {
        &self.matrix
    }

    /// The eigenvalues of `W_P` (`s^α`, ascending).
    pub fn eigenvalues(&self) -> &[f64] {
        &self.eigenvalues
    }

    /// The running correlation `C`, row-major.
    pub fn correlation(&self) -> &[f64] {
        &self.correlation
    }

    /// The feature count `D`.
    pub fn dim(&self) -> usize {
        self.dim
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// W_P is symmetric, its eigenvalues are `(s/max s)^α` of the correlation, and it shares
    /// the correlation's eigenvectors (so it commutes with C).
    #[test]
    fn predictor_is_symmetric_with_powered_normalised_eigenvalues() {
        let d = 5;
        let z: Vec<f32> = (0..40 * d)
            .map(|i| (((i * 7919) % 23) as f32 - 11.0) / 7.0 * (1.0 + (i % d) as f32))
            .collect();
        let config = PredictorConfig {
            correlation_decay: 0.5,
            exponent: 0.5,
            eigenvalue_offset: 0.0,
        };
        let mut predictor = ClosedFormPredictor::new(d, config).unwrap();
        predictor.update(&z).unwrap();
        let (wp, c) = (predictor.matrix(), predictor.correlation());
        for i in 0..d {
            for j in 0..d {
                assert!((wp[i * d + j] - wp[j * d + i]).abs() < 1e-12);
            }
        }
        // C = 0.5 · zᵀz / B after one update from zero.
        let expected_c01: f64 = z
            .chunks_exact(d)
            .map(|r| r[0] as f64 * r[1] as f64)
            .sum::<f64>()
            * 0.5
            / 40.0;
        assert!((c[1] - expected_c01).abs() < 1e-9);
        let s = SymmetricEigen::of(c, d).unwrap().values;
        let largest = s[d - 1];
        let of_wp = SymmetricEigen::of(wp, d).unwrap().values;
        for (k, (&sk, &pk)) in s.iter().zip(&of_wp).enumerate() {
            let expected = (sk.max(0.0) / largest).sqrt();
            assert!((pk - expected).abs() < 1e-9, "mode {k}: {pk} vs {expected}");
            assert!((predictor.eigenvalues()[k] - expected).abs() < 1e-9);
        }
        // W_P² ∝ C (α = 1/2, ε = 0): W_P² · max(s) = C.
        for i in 0..d {
            for j in 0..d {
                let sq: f64 = (0..d).map(|k| wp[i * d + k] * wp[k * d + j]).sum();
                assert!((sq * largest - c[i * d + j]).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn starts_at_identity_and_rejects_bad_input() {
        let predictor = ClosedFormPredictor::new(3, PredictorConfig::default()).unwrap();
        assert_eq!(predictor.matrix()[0], 1.0);
        assert_eq!(predictor.matrix()[1], 0.0);
        let mut p = predictor.clone();
        assert!(p.update(&[1.0; 4]).is_err());
        let bad = PredictorConfig {
            correlation_decay: 1.0,
            ..PredictorConfig::default()
        };
        assert!(ClosedFormPredictor::new(3, bad).is_err());
        assert!(ClosedFormPredictor::new(0, PredictorConfig::default()).is_err());
    }
}
