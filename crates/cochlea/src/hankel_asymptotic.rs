//! Hankel's asymptotic series for `H₀⁽¹⁾` with a fixed number of terms per `|z|`.
//!
//! DLMF 10.17.5: `e^{−iz} H₀⁽¹⁾(z) = √(2/(πz)) e^{−iπ/4} S(z)` with
//! `S(z) ~ Σ_k a_k (i/z)^k`, `a_0 = 1`, `a_k = a_{k−1} (−(2k−1)²)/(8k)`.
//! [`super::transfer::fast`] needs only `S`: the prefactor cancels against `√(G/g)` there.
//!
//! The general routine in [`super::hankel`] sums until the terms stop shrinking (a branch
//! and a modulus per term, to 1e-16). Here the number of terms `n(|z|)` comes from a table
//! built once: the smallest `n` with `|a_n| / r^n <` [`TOLERANCE`] for `r = ⌊|z|⌋`, which
//! also bounds the first neglected term for every `|z| ≥ r`. For `|arg z| ≤ π/2` the remainder
//! of the series is bounded by a small multiple of the first neglected term (DLMF 10.17(iii)),
//! so the relative error of `S` is about [`TOLERANCE`]. Below [`MIN_ABS`] the smallest term
//! of the divergent series exceeds the tolerance and the series must not be used. The sum
//! is then one Horner recurrence in `t = i/z` without branches.

use realfft::num_complex::Complex64;
use std::sync::OnceLock;

/// The smallest `|z|` for which the series reaches [`TOLERANCE`] (its smallest term is
/// 1.4e-14 at `|z| = 15`, but 1.04e-13 at `|z| = 14`).
pub const MIN_ABS: f64 = 15.0;
/// Target size of the first neglected term, relative to `S ≈ 1`.
pub const TOLERANCE: f64 = 1e-13;
/// Moduli beyond this use the term count of this one (7 terms).
const TABLE_MAX_ABS: usize = 200;

/// The coefficients `a_k(0)` and the term counts per `⌊|z|⌋`.
struct Table {
    coefficients: Vec<f64>,
    terms: Vec<usize>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut coefficients = vec![1.0];
        for k in 1..64 {
            let odd = (2 * k - 1) as f64;
            let last = coefficients[k - 1];
            coefficients.push(-last * odd * odd / (8.0 * k as f64));
        }
        let terms = (0..=TABLE_MAX_ABS)
            .map(|r| {
                let r = (r as f64).max(MIN_ABS);
                let term = |n: usize| coefficients[n].abs() / r.powi(n as i32);
                (1..coefficients.len())
                    .find(|&n| term(n) < TOLERANCE)
                    .expect("MIN_ABS is large enough for the tolerance")
            })
            .collect();
        Table {
            coefficients,
            terms,
        }
    })
}

/// `S(z) = Σ_{k<n} a_k (i/z)^k` for `|z| ≥` [`MIN_ABS`] (see the module documentation).
#[inline]
pub fn series_h0(z: Complex64) -> Complex64 {
    let table = table();
    let modulus_sq = z.norm_sqr();
    let index = (modulus_sq.sqrt() as usize).min(TABLE_MAX_ABS);
    let n = table.terms[index];
    // t = i/z = i z̄/|z|²
    let t = Complex64::new(z.im, z.re) / modulus_sq;
    let mut sum = Complex64::new(table.coefficients[n - 1], 0.0);
    for &a in table.coefficients[..n - 1].iter().rev() {
        sum = Complex64::new(
            a + sum.re * t.re - sum.im * t.im,
            sum.re * t.im + sum.im * t.re,
        );
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hankel::{csqrt, hankel1_scaled, Order};
    use std::f64::consts::{FRAC_2_PI, FRAC_PI_4};

    /// `√(2/(πz)) e^{−iπ/4} S(z)` against the full-accuracy Hankel function (itself checked
    /// against SciPy), across the first quadrant and the table's moduli.
    #[test]
    fn matches_the_full_accuracy_hankel_function() {
        let mut worst = 0.0f64;
        for radius in [
            15.0, 15.5, 15.99, 17.99, 18.0, 25.0, 60.0, 199.0, 250.0, 1e4,
        ] {
            for angle in [0.0, 0.2, 0.7, 1.1, 1.5, std::f64::consts::FRAC_PI_2] {
                let z = Complex64::from_polar(radius, angle);
                let prefactor = csqrt(FRAC_2_PI / z) * Complex64::from_polar(1.0, -FRAC_PI_4);
                let ours = prefactor * series_h0(z);
                let want = hankel1_scaled(Order::Zero, z);
                let err = (ours - want).norm() / want.norm();
                assert!(
                    err < 5.0 * TOLERANCE,
                    "z = {z}: {ours} vs {want} ({err:.1e})"
                );
                worst = worst.max(err);
            }
        }
        println!("asymptotic H0: largest relative error {worst:.1e}");
    }

    /// `t = i/z` written out: the first two terms `1 − i/(8z)` for a large argument.
    #[test]
    fn leading_terms_are_one_minus_i_over_8z() {
        let z = Complex64::new(150.0, 40.0);
        let want = 1.0 - Complex64::new(0.0, 1.0) / (8.0 * z);
        let got = series_h0(z);
        // the next term is a_2/z² = (9/128)/|z|² ≈ 3e-6
        assert!((got - want).norm() < 4e-6, "{got} vs {want}");
        assert!((got - want).norm() > 1e-7);
    }
}
