//! The eigendecomposition of a small symmetric matrix (the predictor's correlation matrix, the
//! toy's `W Wᵀ`), checked and held with its reconstruction; the cyclic Jacobi rotations are
//! those of `synapses::symmetric::eigen`.

use super::SslError;
use crate::synapses::symmetric::eigen;

/// `A = U diag(values) Uᵀ`.
#[derive(Clone, Debug, PartialEq)]
pub struct SymmetricEigen {
    /// The size `n`.
    pub n: usize,
    /// The eigenvalues, ascending.
    pub values: Vec<f64>,
    /// The eigenvectors `U`: column `k` (of a row-major `n × n` matrix) belongs to `values[k]`.
    pub vectors: Vec<f64>,
}

impl SymmetricEigen {
    /// Decomposes the symmetric row-major `n × n` matrix `a` (its upper and lower triangles
    /// are averaged first). Errors if `a` does not have `n²` entries or has a non-finite one.
    pub fn of(a: &[f64], n: usize) -> Result<Self, SslError> {
        if a.len() != n * n {
            return Err(SslError::shape("matrix", n * n, a.len()));
        }
        if a.iter().any(|v| !v.is_finite()) {
            return Err(SslError::NonFinite("matrix"));
        }
        let symmetric: Vec<f64> = (0..n * n)
            .map(|i| 0.5 * (a[i] + a[(i % n) * n + i / n]))
            .collect();
        let (values, vectors) = eigen(symmetric, n);
        Ok(Self { n, values, vectors })
    }

    /// `U diag(f(values)) Uᵀ`, row-major.
    pub fn compose(&self, f: impl Fn(f64) -> f64) -> Vec<f64> {
        let n = self.n;
        let scaled: Vec<f64> = self.values.iter().map(|&v| f(v)).collect();
        let mut out = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                out[i * n + j] = (0..n)
                    .map(|k| self.vectors[i * n + k] * scaled[k] * self.vectors[j * n + k])
                    .sum();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decomposes_a_random_symmetric_matrix_into_orthonormal_eigenvectors() {
        let n = 7;
        // A pseudo-random symmetric matrix with a repeated-ish spectrum.
        let b: Vec<f64> = (0..n * n)
            .map(|i| ((i * 37 % 11) as f64 - 5.0) / 3.0)
            .collect();
        let a: Vec<f64> = (0..n * n)
            .map(|i| 0.5 * (b[i] + b[(i % n) * n + i / n]))
            .collect();
        let e = SymmetricEigen::of(&a, n).unwrap();
        assert!(e.values.windows(2).all(|w| w[0] <= w[1]));
        // U diag(λ) Uᵀ reproduces A, and Uᵀ U = I.
        let back = e.compose(|v| v);
        for (x, y) in back.iter().zip(&a) {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
        let ones = e.compose(|_| 1.0);
        for (i, v) in ones.iter().enumerate() {
            let expected = if i % (n + 1) == 0 { 1.0 } else { 0.0 };
            assert!((v - expected).abs() < 1e-12);
        }
        // The trace is the sum of the eigenvalues.
        let trace: f64 = (0..n).map(|i| a[i * n + i]).sum();
        assert!((trace - e.values.iter().sum::<f64>()).abs() < 1e-12);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(SymmetricEigen::of(&[1.0, 2.0, 3.0], 2).is_err());
        assert!(SymmetricEigen::of(&[1.0, f64::NAN, f64::NAN, 1.0], 2).is_err());
    }
}
