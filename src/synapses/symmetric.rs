//! Small dense symmetric matrices (row-major `n × n`): the eigen-decomposition and Cholesky
//! factor the Benna–Fusi chain needs for its exact flow and its equilibrium (the eigenvalues
//! also serve the closed-form predictor of `ssl`).

/// The eigenvalues (ascending) and eigenvectors (the columns of a row-major `n × n` matrix,
/// in the same order) of the symmetric matrix `a`, by cyclic Jacobi rotations.
///
/// Jacobi keeps small eigenvalues accurate relative to their size on graded matrices like the
/// chain's, whose entries span many powers of two.
pub(crate) fn eigen(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0; n * n];
    for k in 0..n {
        v[k * n + k] = 1.0;
    }
    for _ in 0..64 {
        let mut rotated = false;
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                let scale = (a[p * n + p] * a[q * n + q]).abs().sqrt();
                if apq == 0.0 || apq.abs() <= 1e-17 * scale {
                    continue;
                }
                rotated = true;
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                rotate_columns(&mut a, n, p, q, c, s);
                rotate_rows(&mut a, n, p, q, c, s);
                rotate_columns(&mut v, n, p, q, c, s);
                // Exactly zero, not its rounding.
                a[p * n + q] = 0.0;
                a[q * n + p] = 0.0;
            }
        }
        if !rotated {
            break;
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[i * n + i].total_cmp(&a[j * n + j]));
    let values = order.iter().map(|&k| a[k * n + k]).collect();
    let mut vectors = vec![0.0; n * n];
    for (new, &old) in order.iter().enumerate() {
        for row in 0..n {
            vectors[row * n + new] = v[row * n + old];
        }
    }
    (values, vectors)
}

fn rotate_columns(m: &mut [f64], n: usize, p: usize, q: usize, c: f64, s: f64) {
    for k in 0..n {
        let (mp, mq) = (m[k * n + p], m[k * n + q]);
        m[k * n + p] = c * mp - s * mq;
        m[k * n + q] = s * mp + c * mq;
    }
}

fn rotate_rows(m: &mut [f64], n: usize, p: usize, q: usize, c: f64, s: f64) {
    for k in 0..n {
        let (mp, mq) = (m[p * n + k], m[q * n + k]);
        m[p * n + k] = c * mp - s * mq;
        m[q * n + k] = s * mp + c * mq;
    }
}

/// The lower Cholesky factor `L` (`a = L Lᵀ`) of a symmetric positive definite `a`; none
/// when a pivot is not positive.
pub(super) fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            let value = a[i * n + j] - dot;
            if i == j {
                if value.is_nan() || value <= 0.0 {
                    return None;
                }
                l[i * n + i] = value.sqrt();
            } else {
                l[i * n + j] = value / l[j * n + j];
            }
        }
    }
    Some(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                c[i * n + j] = (0..n).map(|k| a[i * n + k] * b[k * n + j]).sum();
            }
        }
        c
    }

    fn transpose(a: &[f64], n: usize) -> Vec<f64> {
        let mut t = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                t[j * n + i] = a[i * n + j];
            }
        }
        t
    }

    #[test]
    fn eigen_decomposes_a_graded_tridiagonal_matrix() {
        let n = 6;
        let mut a = vec![0.0; n * n];
        for k in 0..n {
            a[k * n + k] = 4f64.powi(-(k as i32)) * 3.0;
            if k + 1 < n {
                let off = -(4f64.powi(-(k as i32))) * 0.9;
                a[k * n + k + 1] = off;
                a[(k + 1) * n + k] = off;
            }
        }
        let (values, vectors) = eigen(a.clone(), n);
        assert!(values.windows(2).all(|w| w[0] <= w[1]));
        let mut lambda = vec![0.0; n * n];
        for k in 0..n {
            lambda[k * n + k] = values[k];
        }
        let back = product(&product(&vectors, &lambda, n), &transpose(&vectors, n), n);
        for (x, y) in back.iter().zip(&a) {
            assert!((x - y).abs() < 1e-14, "{x} vs {y}");
        }
        let identity = product(&transpose(&vectors, n), &vectors, n);
        for i in 0..n {
            for j in 0..n {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((identity[i * n + j] - want).abs() < 1e-13);
            }
        }
        // The smallest eigenvalue, far below the largest, keeps its relative accuracy:
        // A v = λ v componentwise.
        let v0: Vec<f64> = (0..n).map(|r| vectors[r * n]).collect();
        for r in 0..n {
            let av: f64 = (0..n).map(|c| a[r * n + c] * v0[c]).sum();
            assert!((av - values[0] * v0[r]).abs() < 1e-15);
        }
    }

    #[test]
    fn cholesky_factors_and_refuses_indefinite_matrices() {
        let a = [4.0, 2.0, 2.0, 3.0];
        let l = cholesky(&a, 2).unwrap();
        assert_eq!(l, vec![2.0, 0.0, 1.0, 2f64.sqrt()]);
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
        assert!(cholesky(&[f64::NAN], 1).is_none());
    }
}
