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
//!   least `√|z|` from the real axis, so the trapezoidal rule converges to below double
//!   precision (error `≲ e^{d² − 2πd/h}` for a strip of half-width `d < √|z|`) with step
//!   `h = 0.2` for `|z| < 7` and `h = 0.4` beyond.
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
/// Trapezoidal steps and numbers of nodes (`s` from 0 to 6.6) of the integral region: the
/// fine grid below [`COARSE_MIN_ABS`], where the singularities come closer to the real axis.
const FINE_STEP: f64 = 0.2;
const FINE_NODES: usize = 34;
const COARSE_STEP: f64 = 0.4;
const COARSE_NODES: usize = 17;
const COARSE_MIN_ABS: f64 = 7.0;
/// Independent partial sums of the trapezoidal rule (SIMD lanes).
const LANES: usize = 4;
/// Euler–Mascheroni constant γ.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

const I: Complex64 = Complex64::new(0.0, 1.0);

/// `e^{−iz} H_ν⁽¹⁾(z)`, the exponentially scaled Hankel function of the first kind.
pub fn hankel1_scaled(order: Order, z: Complex64) -> Complex64 {
    let modulus = (z.re * z.re + z.im * z.im).sqrt();
    if modulus <= SERIES_MAX_ABS {
        series(order, z) * (-I * z).exp()
    } else if modulus < ASYMPTOTIC_MIN_ABS {
        integral(order, z, modulus)
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
                if term.norm_sqr() < 1e-36 && kf * kf > t.norm_sqr() {
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
                if term.norm_sqr() < 1e-36 && kf * kf > t.norm_sqr() {
                    break;
                }
            }
            let j = z * 0.5 * j_sum;
            let y = FRAC_2_PI * log_half * j - FRAC_2_PI / z - z * (0.5 / PI) * psi_sum;
            j + I * y
        }
    }
}

/// Nodes `s_k²` and weights `h e^{−s_k²}` (halved at `s = 0`) of a trapezoidal rule.
struct Trapezoid {
    s2: Vec<f64>,
    weight: Vec<f64>,
}

impl Trapezoid {
    /// `count` nodes spaced `step`, padded with zero-weight nodes to a multiple of [`LANES`].
    fn new(step: f64, count: usize) -> Self {
        let padded = count.div_ceil(LANES) * LANES;
        let s2: Vec<f64> = (0..padded).map(|k| (k as f64 * step).powi(2)).collect();
        let weight = s2
            .iter()
            .enumerate()
            .map(|(k, &s2)| match k {
                0 => 0.5 * step,
                k if k < count => step * (-s2).exp(),
                _ => 0.0,
            })
            .collect();
        Self { s2, weight }
    }

    /// The rule suitable for `|z| = modulus`.
    fn for_modulus(modulus: f64) -> &'static Self {
        static FINE: OnceLock<Trapezoid> = OnceLock::new();
        static COARSE: OnceLock<Trapezoid> = OnceLock::new();
        if modulus < COARSE_MIN_ABS {
            FINE.get_or_init(|| Self::new(FINE_STEP, FINE_NODES))
        } else {
            COARSE.get_or_init(|| Self::new(COARSE_STEP, COARSE_NODES))
        }
    }

    /// `Σ w_k (1 + s_k² c)^{−½}` (order 0) or `Σ w_k s_k² (1 + s_k² c)^{½}` (order 1) for
    /// `Re c ≥ 0`, where `a = 1 + s² c` stays in the right half-plane and its principal
    /// root is `(t, y/2t)` with `t = √((|a| + x)/2)`: no branches, and [`LANES`] independent
    /// partial sums, so the loop vectorises.
    fn sum(&self, order: Order, c: Complex64) -> Complex64 {
        let (mut re, mut im) = ([0.0; LANES], [0.0; LANES]);
        let chunks = self
            .s2
            .chunks_exact(LANES)
            .zip(self.weight.chunks_exact(LANES));
        match order {
            Order::Zero => {
                for (s2, w) in chunks {
                    for lane in 0..LANES {
                        // 1/√a = conj(√a)/|a| = (t, −y/2t)/|a|
                        let (x, y) = (1.0 + s2[lane] * c.re, s2[lane] * c.im);
                        let modulus = (x * x + y * y).sqrt();
                        let t2 = 0.5 * (modulus + x);
                        let k = w[lane] / (t2.sqrt() * modulus);
                        re[lane] += k * t2;
                        im[lane] -= k * 0.5 * y;
                    }
                }
            }
            Order::One => {
                for (s2, w) in chunks {
                    for lane in 0..LANES {
                        let (x, y) = (1.0 + s2[lane] * c.re, s2[lane] * c.im);
                        let modulus = (x * x + y * y).sqrt();
                        let t = (0.5 * (modulus + x)).sqrt();
                        let k = w[lane] * s2[lane];
                        re[lane] += k * t;
                        im[lane] += k * y * 0.5 / t;
                    }
                }
            }
        }
        Complex64::new(re.iter().sum(), im.iter().sum())
    }

    /// The same sums for any `c` (branching square root), used when `Re c < 0`.
    fn sum_general(&self, order: Order, c: Complex64) -> Complex64 {
        let mut sum = Complex64::new(0.0, 0.0);
        for (&s2, &w) in self.s2.iter().zip(&self.weight) {
            let root = csqrt(1.0 + s2 * c);
            sum += match order {
                Order::Zero => w * root.conj() / root.norm_sqr(),
                Order::One => w * s2 * root,
            };
        }
        sum
    }
}

/// The principal square root, computed algebraically (no trigonometry), exact to a few
/// ulps for `|z| < 1e150`.
#[inline]
pub fn csqrt(z: Complex64) -> Complex64 {
    let (x, y) = (z.re, z.im);
    let modulus = (x * x + y * y).sqrt();
    if modulus == 0.0 {
        return Complex64::new(0.0, y);
    }
    let t = (0.5 * (modulus + x.abs())).sqrt();
    if x >= 0.0 {
        Complex64::new(t, y / (2.0 * t))
    } else {
        Complex64::new(y.abs() / (2.0 * t), t.copysign(y))
    }
}

/// The principal logarithm `ln|z| + i arg z`.
#[inline]
pub fn cln(z: Complex64) -> Complex64 {
    Complex64::new(0.5 * (z.re * z.re + z.im * z.im).ln(), z.im.atan2(z.re))
}

/// `e^{−iz} H_ν⁽¹⁾(z)` from the integral representation (trapezoidal rule in `s = √t`).
fn integral(order: Order, z: Complex64, modulus: f64) -> Complex64 {
    let w = -I * z;
    let c = 0.5 / w; // Re c = Im z / (2|z|²)
    let rule = Trapezoid::for_modulus(modulus);
    let sum = if c.re >= 0.0 {
        rule.sum(order, c)
    } else {
        rule.sum_general(order, c)
    };
    match order {
        // ∫₀^∞ e^{−t} t^{−½} (1 + t/2w)^{−½} dt = 2 ∫₀^∞ e^{−s²} (1 + s²/2w)^{−½} ds;
        // 2K₀/(πi) with K₀ = (π/2w)^{½} e^{−w} · 2Σ / Γ(½), Γ(½) = √π.
        Order::Zero => -I * (4.0 / PI) * sum / csqrt(2.0 * w),
        // ∫₀^∞ e^{−t} t^{½} (1 + t/2w)^{½} dt = 2 ∫₀^∞ s² e^{−s²} (1 + s²/2w)^{½} ds;
        // 2K₁/(π i²) with K₁ = (π/2w)^{½} e^{−w} · 2Σ / Γ(3/2), Γ(3/2) = √π/2.
        Order::One => -(8.0 / PI) * sum / csqrt(2.0 * w),
    }
}

/// `e^{−iz} H_ν⁽¹⁾(z)` from Hankel's asymptotic expansion.
fn asymptotic(order: Order, z: Complex64) -> Complex64 {
    let (nu, ratios) = match order {
        Order::Zero => (0.0, asymptotic_ratios(0)),
        Order::One => (1.0, asymptotic_ratios(1)),
    };
    let step = I / z;
    let mut term = Complex64::new(1.0, 0.0);
    let mut sum = term;
    let mut last = f64::INFINITY;
    for &ratio in ratios {
        term = term * step * ratio;
        let size = term.norm_sqr();
        if size >= last || size < 1e-33 {
            break;
        }
        sum += term;
        last = size;
    }
    let phase = Complex64::from_polar(1.0, -(nu * FRAC_PI_2 + FRAC_PI_4));
    csqrt(FRAC_2_PI / z) * phase * sum
}

/// `a_k(ν)/a_{k−1}(ν) = (4ν² − (2k−1)²)/(8k)` for `k = 1..80`.
fn asymptotic_ratios(nu: u8) -> &'static [f64] {
    static TABLES: [OnceLock<Vec<f64>>; 2] = [OnceLock::new(), OnceLock::new()];
    TABLES[usize::from(nu)].get_or_init(|| {
        let mu = 4.0 * f64::from(nu).powi(2);
        (1..80)
            .map(|k| {
                let odd = (2 * k - 1) as f64;
                (mu - odd * odd) / (8.0 * k as f64)
            })
            .collect()
    })
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

    #[test]
    fn algebraic_sqrt_and_log_agree_with_the_polar_forms() {
        for z in [
            Complex64::new(4.0, 0.0),
            Complex64::new(-4.0, 1e-3),
            Complex64::new(-4.0, -1e-3),
            Complex64::new(3.0, -4.0),
            Complex64::new(1e9, -3e6),
            Complex64::new(-2e-7, 5e-9),
        ] {
            let (a, b) = (csqrt(z), z.sqrt());
            assert!((a - b).norm() <= 1e-15 * b.norm(), "{z}: {a} vs {b}");
            let (a, b) = (cln(z), z.ln());
            assert!(
                (a - b).norm() <= 1e-15 * b.norm().max(1.0),
                "{z}: {a} vs {b}"
            );
        }
        assert_eq!(csqrt(Complex64::new(0.0, 0.0)), Complex64::new(0.0, 0.0));
    }

    #[test]
    fn vectorised_and_general_sums_agree() {
        let rule = Trapezoid::new(FINE_STEP, FINE_NODES);
        for order in [Order::Zero, Order::One] {
            for c in [Complex64::new(0.0, -0.2), Complex64::new(0.07, 0.01)] {
                let (a, b) = (rule.sum(order, c), rule.sum_general(order, c));
                assert!(
                    (a - b).norm() < 1e-15 * b.norm(),
                    "{order:?} {c}: {a} vs {b}"
                );
            }
        }
    }

    /// Each region is accurate on its own, so two regions evaluated at their common border
    /// must agree to near double precision.
    #[test]
    fn regions_agree_at_their_borders() {
        for order in [Order::Zero, Order::One] {
            for angle in [0.0, 0.3, 0.8, 1.2, FRAC_PI_2] {
                for radius in [SERIES_MAX_ABS, COARSE_MIN_ABS, ASYMPTOTIC_MIN_ABS] {
                    let z = Complex64::from_polar(radius, angle);
                    let a = if radius == SERIES_MAX_ABS {
                        series(order, z) * (-I * z).exp()
                    } else if radius == COARSE_MIN_ABS {
                        integral(order, z, radius * 0.999_999)
                    } else {
                        asymptotic(order, z)
                    };
                    let b = integral(order, z, radius);
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
