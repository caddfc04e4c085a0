//! The velocity transfer function `v(ω, x)` of the basilar membrane, two ways.
//!
//! With the notation of [`super::basilar`] (`ξ` the membrane impedance, `g` the local wave
//! number, `G` the phase integral, `B` the term of its logarithm, `Z` the oval-window load),
//!
//! ```text
//! v(ω, x) = 2ω Z(ω) / ξ(ω, x) · √(G/g) H₀⁽¹⁾(G) / (√(G₀/g₀) H₀⁽¹⁾(G₀)),   G = G₀ − iκ ln(B₀/B)
//! ```
//!
//! with `κ = 2ω / (α √h √(a + mω²))`. [`reference`] evaluates this literally (it is the
//! definition the fast path is tested against). [`fast`] evaluates the same expression with
//! fewer operations:
//!
//! * `ln(B₀/B) = ½ ln(|B₀|²/|B|²) + i arg(B₀ B̄)`: one real logarithm and one `atan2`, no
//!   complex division; `|B₀|²` is per frequency.
//! * `e^{i(G − G₀)} = e^{κ Re L} (cos κ Im L + i sin κ Im L)` with `L = ln(B₀/B)`.
//! * `1/ξ = ξ̄/|ξ|²`.
//! * Where `|G| ≥` [`super::hankel_asymptotic::MIN_ABS`], Hankel's expansion
//!   `e^{−iG} H₀⁽¹⁾(G) = √(2/(πG)) e^{−iπ/4} S(G)` makes `√(G/g) e^{−iG} H₀⁽¹⁾(G) =
//!   √(2/(πg)) e^{−iπ/4} S(G)`, and `√(1/g) = √(√ξ) / √(ω √(ρ/h))`: the square root of `G/g`
//!   and the one inside the expansion cancel, leaving one complex square root of `√ξ`.
//!   (Both roots are principal: `arg G ∈ [0, π/2]` and `arg g ∈ (−π/2, π/2]`, so the
//!   products of principal roots are principal.)
//!
//! Elsewhere the fast path uses the full-accuracy [`hankel1_scaled`].

use super::basilar::BasilarParams;
use super::hankel::{cln, csqrt, hankel1_scaled, Order};
use super::hankel_asymptotic;
use realfft::num_complex::Complex64;
use std::f64::consts::{FRAC_PI_4, PI};

const I: Complex64 = Complex64::new(0.0, 1.0);

/// The quantities of `v(ω, x)` that depend on `ω` only.
#[derive(Clone, Copy, Debug)]
pub(super) struct FrequencyTerms {
    pub omega: f64,
    /// `√(a + m ω²)`.
    q: f64,
    /// `ω / √(a + m ω²)`.
    omega_over_q: f64,
    /// `m ω²`.
    m_omega2: f64,
    /// `B(ω, 0)`.
    b0: Complex64,
    /// `ln |B(ω, 0)|²`.
    ln_b0_sq: f64,
    /// `G(ω, 0)`.
    g_phase0: Complex64,
    /// `2 ω Z(ω) / (√(G₀/g₀) e^{−iG₀} H₀⁽¹⁾(G₀))`: everything but the place-dependent part.
    scale: Complex64,
    /// `scale · √(2/π) e^{−iπ/4} / √(ω √(ρ/h))`: the same for the asymptotic form.
    scale_asymptotic: Complex64,
    /// `ω √(ρ/h)`, so that `g = ω √(ρ/h) / √ξ`.
    wave_number_scale: f64,
    /// `2ω / (α √h √(a + m ω²))`, the factor of `−i ln(B₀/B)` in `G`.
    kappa: f64,
}

/// The quantities of `v(ω, x)` that depend on the place only.
#[derive(Clone, Copy, Debug)]
pub(super) struct PlaceTerms {
    /// `s(x) = c₀ e^{−αx} − a`.
    stiffness: f64,
    /// `r(x) = r₀ e^{−αx/2}`.
    damping: f64,
    /// `(α/2) e^{αx/2}`.
    b_scale: f64,
    /// `ln((α/2) e^{αx/2})`.
    ln_b_scale: f64,
}

impl PlaceTerms {
    /// The terms at `place_cm`, with `r₀ = d_e √(c₀ m)`.
    pub fn new(p: &BasilarParams, r0: f64, place_cm: f64) -> Self {
        let b_scale = 0.5 * p.alpha_per_cm * (p.alpha_per_cm * place_cm / 2.0).exp();
        Self {
            stiffness: p.c0 * (-p.alpha_per_cm * place_cm).exp() - p.a,
            damping: r0 * (-p.alpha_per_cm * place_cm / 2.0).exp(),
            b_scale,
            ln_b_scale: b_scale.ln(),
        }
    }
}

impl FrequencyTerms {
    /// The terms at angular frequency `omega > 0`, with `r₀ = d_e √(c₀ m)`.
    pub fn new(p: &BasilarParams, r0: f64, omega: f64) -> Self {
        let q = (p.a + p.m * omega * omega).sqrt();
        let base = PlaceTerms::new(p, r0, 0.0);
        let xi0 = Complex64::new(base.stiffness - p.m * omega * omega, -omega * base.damping);
        let sqrt_xi0 = csqrt(xi0);
        let wave_number_scale = omega * (p.rho / p.h_cm).sqrt();
        let g0 = wave_number_scale / sqrt_xi0;
        let b0 = b_term(base.b_scale, sqrt_xi0, q, omega, base.damping);
        let g_phase0 = 2.0 * g0 / p.alpha_per_cm;
        let p0 = csqrt(g_phase0 / g0) * hankel1_scaled(Order::Zero, g_phase0);
        let scale = 2.0 * omega * window_load(p, omega) / p0;
        let asym = (2.0 / PI).sqrt() / wave_number_scale.sqrt();
        Self {
            omega,
            q,
            omega_over_q: omega / q,
            m_omega2: p.m * omega * omega,
            b0,
            ln_b0_sq: b0.norm_sqr().ln(),
            g_phase0,
            scale,
            scale_asymptotic: scale * Complex64::from_polar(asym, -FRAC_PI_4),
            wave_number_scale,
            kappa: 2.0 * omega / (p.alpha_per_cm * p.h_cm.sqrt() * q),
        }
    }
}

/// `v(ω, x)` evaluated literally from its definition (the reference for [`fast`]).
pub(super) fn reference(f: &FrequencyTerms, x: &PlaceTerms) -> Complex64 {
    let xi = Complex64::new(x.stiffness - f.m_omega2, -f.omega * x.damping);
    let sqrt_xi = csqrt(xi);
    let g = f.wave_number_scale / sqrt_xi;
    let b = b_term(x.b_scale, sqrt_xi, f.q, f.omega, x.damping);
    let phase = f.g_phase0 - I * f.kappa * cln(f.b0 / b);
    let px = csqrt(phase / g) * hankel1_scaled(Order::Zero, phase);
    f.scale * px * (I * (phase - f.g_phase0)).exp() / xi
}

/// `v(ω, x)` with fewer operations (see the module documentation); agrees with
/// [`reference`] to about 1e-13 relative.
#[inline]
pub(super) fn fast(f: &FrequencyTerms, x: &PlaceTerms) -> Complex64 {
    let xi = Complex64::new(x.stiffness - f.m_omega2, -f.omega * x.damping);
    let sqrt_xi = csqrt(xi);
    // B / ((α/2) e^{αx/2}) = −2√ξ + (−ω r/q, 2q)
    let w = Complex64::new(
        -2.0 * sqrt_xi.re - f.omega_over_q * x.damping,
        -2.0 * sqrt_xi.im + 2.0 * f.q,
    );
    // L = ln(B₀/B): modulus from logs, argument of B₀ B̄ (the positive scale drops out).
    let cross = f.b0 * w.conj();
    let log_re = 0.5 * (f.ln_b0_sq - w.norm_sqr().ln()) - x.ln_b_scale;
    let log_im = cross.im.atan2(cross.re);
    let phase = Complex64::new(
        f.g_phase0.re + f.kappa * log_im,
        f.g_phase0.im - f.kappa * log_re,
    );
    let xi_norm_sq = xi.norm_sqr();
    let (sin, cos) = (f.kappa * log_im).sin_cos();
    let turn = Complex64::new(cos, sin) * ((f.kappa * log_re).exp() / xi_norm_sq);
    let wave = if phase.norm_sqr() >= hankel_asymptotic::MIN_ABS * hankel_asymptotic::MIN_ABS {
        f.scale_asymptotic * csqrt(sqrt_xi) * hankel_asymptotic::series_h0(phase)
    } else {
        let ratio = phase * sqrt_xi / f.wave_number_scale; // G/g
        f.scale * csqrt(ratio) * hankel1_scaled(Order::Zero, phase)
    };
    wave * turn * xi.conj()
}

/// `B(ω, x) = (α/2) e^{αx/2} (−2√ξ + i (2a + 2mω² + iωr(x)) / √(a + mω²))`.
fn b_term(b_scale: f64, sqrt_xi: Complex64, q: f64, omega: f64, damping: f64) -> Complex64 {
    let load = Complex64::new(-omega * damping, 2.0 * q * q) / q;
    b_scale * (-2.0 * sqrt_xi + load)
}

/// The oval-window load `Z(ω)`; with `H⁽²⁾ = conj H⁽¹⁾` on the real axis it is
/// `√(2c₀/h) · i · conj(H₀⁽¹⁾(u) / H₁⁽¹⁾(u))`.
fn window_load(p: &BasilarParams, omega: f64) -> Complex64 {
    let u = 2.0 * omega / p.alpha_per_cm * (2.0 / (p.h_cm * p.c0)).sqrt();
    let u = Complex64::new(u, 0.0);
    let ratio = hankel1_scaled(Order::Zero, u) / hankel1_scaled(Order::One, u);
    (2.0 * p.c0 / p.h_cm).sqrt() * I * ratio.conj()
}
