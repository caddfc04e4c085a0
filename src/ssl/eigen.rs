//! The eigendecomposition of a small symmetric matrix by cyclic Jacobi rotations (the
//! predictor's correlation matrix, the toy's `W Wᵀ`).

use super::SslError;

/// Sweeps after which the rotations stop even if the off-diagonal mass is not negligible
/// (cyclic Jacobi converges quadratically: a few sweeps suffice for any size used here).
const MAX_SWEEPS: usize = 64;
/// The off-diagonal mass, relative to the whole matrix's, below which it counts as diagonal.
const RELATIVE_TOLERANCE: f64 = 1e-26;

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
        let mut m: Vec<f64> = (0..n * n)
            .map(|i| 0.5 * (a[i] + a[(i % n) * n + i / n]))
            .collect();
        let mut u = identity(n);
        let total: f64 = m.iter().map(|v| v * v).sum();
        for _ in 0..MAX_SWEEPS {
            if off_diagonal(&m, n) <= RELATIVE_TOLERANCE * total {
                break;
            }
            sweep(&mut m, &mut u, n);
        }
        Ok(sorted(&m, &u, n))
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

fn identity(n: usize) -> Vec<f64> {
    (0..n * n)
        .map(|i| if i % (n + 1) == 0 { 1.0 } else { 0.0 })
        .collect()
}

fn off_diagonal(m: &[f64], n: usize) -> f64 {
    (0..n * n)
        .filter(|i| i % (n + 1) != 0)
        .map(|i| m[i] * m[i])
        .sum()
}

/// One cyclic sweep: each off-diagonal pair `(p, q)` zeroed by `M ← Jᵀ M J`, `U ← U J`.
fn sweep(m: &mut [f64], u: &mut [f64], n: usize) {
    for p in 0..n {
        for q in p + 1..n {
            let apq = m[p * n + q];
            if apq == 0.0 {
                continue;
            }
            let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
            let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
            let c = 1.0 / (t * t + 1.0).sqrt();
            let s = t * c;
            rotate(m, n, p, q, c, s, Along::Columns);
            rotate(m, n, p, q, c, s, Along::Rows);
            rotate(u, n, p, q, c, s, Along::Columns);
        }
    }
}

/// Which index of a row-major matrix a rotation mixes.
#[derive(Clone, Copy)]
enum Along {
    Columns,
    Rows,
}

/// Columns (or rows) `p, q` ← `(c·p − s·q, s·p + c·q)`.
fn rotate(m: &mut [f64], n: usize, p: usize, q: usize, c: f64, s: f64, along: Along) {
    for k in 0..n {
        let (ip, iq) = match along {
            Along::Columns => (k * n + p, k * n + q),
            Along::Rows => (p * n + k, q * n + k),
        };
        let (x, y) = (m[ip], m[iq]);
        m[ip] = c * x - s * y;
        m[iq] = s * x + c * y;
    }
}

/// The diagonal of `m` ascending, with the columns of `u` in the same order.
fn sorted(m: &[f64], u: &[f64], n: usize) -> SymmetricEigen {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| m[a * n + a].total_cmp(&m[b * n + b]));
    let values = order.iter().map(|&k| m[k * n + k]).collect();
    let mut vectors = vec![0.0; n * n];
    for (new, &old) in order.iter().enumerate() {
        for i in 0..n {
            vectors[i * n + new] = u[i * n + old];
        }
    }
    SymmetricEigen { n, values, vectors }
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
