//! The hydrodynamic basilar-membrane model: sound pressure → membrane velocity per place.
//!
//! Sieroka, Dosch & Rupp (2006), "Semirealistic models of the cochlea", JASA 120(1):297,
//! as used for the Heidelberg spiking data sets (Cramer et al. 2020; lauscher's
//! `BasilarMembrane`). The cochlea is a shallow-water duct of height `h` and fluid density
//! `ρ` over a membrane with mass `m` per area, stiffness `s(x) = c₀ e^{−αx} − a` and damping
//! `r(x) = r₀ e^{−αx/2}`, `r₀ = d_e √(c₀ m)`, at distance `x` (cm) from the oval window. For
//! angular frequency `ω` the membrane impedance is `ξ(ω, x) = s(x) − m ω² − i ω r(x)`, the
//! local wave number `g(ω, x) = ω √(ρ / (h ξ))`, and the WKB solution of the pressure wave is
//! `p(ω, x) = √(G/g) H₀⁽¹⁾(G)` with the phase integral (closed form of `∫ g dx`)
//!
//! ```text
//! G(ω, x) = 2 g(ω, 0)/α − (2i√2 ω / (α √(2h (m ω² + a)))) · ln(B(ω, 0) / B(ω, x))
//! B(ω, x) = (α/2) e^{αx/2} (−2 √ξ(ω, x) + i (2a + ω (2mω + i r(x))) / √(a + m ω²))
//! ```
//!
//! The membrane velocity at place `x` per unit input is
//! `v(ω, x) = 2ω/ξ(ω, x) · p(ω, x)/p(ω, 0) · Z(ω)` with the oval-window load
//! `Z(ω) = √(2c₀/h) (i J₀(u) + Y₀(u)) / (J₁(u) − i Y₁(u))`, `u = (2ω/α) √(2/(h c₀))`.
//!
//! Discretisation, exactly as lauscher: for `N` input samples at rate `f_s`, the first
//! `M = ⌊N/2⌋ + 1` bins of the input's DFT are multiplied by `v` evaluated on the grid
//! `ω_k = 2π (1 + k (⌊f_s/2⌋ − 1)/(M − 1))` (1 Hz to the Nyquist frequency, not the exact
//! bin frequencies), and the real part of the length-`M` inverse DFT is the channel's
//! velocity at the halved sample rate `⌊f_s/2⌋`. Channels sit at `x = linspace(0, 3.5, n)`
//! cm, from the base (high frequencies) to the apex (low frequencies).
//!
//! Numerics: the Hankel functions come from [`super::hankel`] in exponentially scaled form,
//! so `p(ω, x)/p(ω, 0)` is computed as a ratio of scaled values times `e^{i(G(x) − G(0))}`,
//! which neither underflows nor loses digits when `Im G` is large (the apical channels at
//! high frequencies, where the response is vanishingly small).
//!
//! Speed: [`TransferMethod::Fast`] (the default, the `transfer` module) evaluates `v` with
//! fewer operations than the literal [`TransferMethod::Reference`] and agrees with it to
//! about 1e-13; each channel skips the bins above its resonance where `|v|` has fallen below
//! 1e-12 of its resonant value, unless a signal makes them matter (the `tail` module); and
//! [`super::transfer_cache`] reuses the whole matrix `v(ω_k, x_c)` across signals of one
//! length and rate.

use super::filter::{filter_spectrum, MatrixRows, TransferRows};
use super::transfer::{self, FrequencyTerms, PlaceTerms};
use super::transfer_cache::TransferMatrix;
use realfft::num_complex::Complex64;
use realfft::RealFftPlanner;
use std::f64::consts::PI;

/// Parameters of the basilar-membrane model (CGS units: cm, g, s), lauscher's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BasilarParams {
    /// Stiffness offset `a` (dyn/cm³).
    pub a: f64,
    /// Exponential decay of stiffness along the membrane `α` (1/cm).
    pub alpha_per_cm: f64,
    /// Fluid density `ρ` (g/cm³).
    pub rho: f64,
    /// Length of the modelled membrane (cm): channels span `[0, length_cm]`.
    pub length_cm: f64,
    /// Stiffness at the base `c₀` (dyn/cm³).
    pub c0: f64,
    /// Damping coefficient `d_e` (dimensionless).
    pub de: f64,
    /// Height of the fluid duct `h` (cm).
    pub h_cm: f64,
    /// Membrane mass per area `m` (g/cm²).
    pub m: f64,
}

impl Default for BasilarParams {
    fn default() -> Self {
        Self {
            a: 3500.0,
            alpha_per_cm: 3.0,
            rho: 1.0,
            length_cm: 3.5,
            c0: 1e9,
            de: 0.15,
            h_cm: 0.1,
            m: 0.05,
        }
    }
}

/// The basilar-membrane model with its parameters.
#[derive(Clone, Debug)]
pub struct BasilarMembrane {
    params: BasilarParams,
    /// `r₀ = d_e √(c₀ m)`.
    r0: f64,
}

impl BasilarMembrane {
    /// The model for `params`.
    pub fn new(params: BasilarParams) -> Self {
        let r0 = params.de * (params.c0 * params.m).sqrt();
        Self { params, r0 }
    }

    /// The parameters.
    pub fn params(&self) -> &BasilarParams {
        &self.params
    }

    /// Channel places `linspace(0, length_cm, channels)` in cm.
    pub fn places_cm(&self, channels: usize) -> Vec<f64> {
        linspace(0.0, self.params.length_cm, channels)
    }

    /// The place whose local resonance `s(x) = m ω²` is at `frequency_hz`:
    /// `x = ln(c₀ / (m ω² + a)) / α` (cm). The response peaks close to it.
    pub fn resonance_place_cm(&self, frequency_hz: f64) -> f64 {
        let p = &self.params;
        let omega = 2.0 * PI * frequency_hz;
        (p.c0 / (p.m * omega * omega + p.a)).ln() / p.alpha_per_cm
    }

    /// The velocity transfer function `v(ω, x)` at angular frequency `omega_rad_s > 0` and
    /// place `place_cm`, evaluated by `method`.
    pub fn transfer(&self, omega_rad_s: f64, place_cm: f64, method: TransferMethod) -> Complex64 {
        let freq = self.frequency_terms(omega_rad_s);
        method.evaluate(&freq, &self.place_terms(place_cm))
    }

    /// Membrane velocity of every channel for `samples` at `sample_rate_hz`: `channels`
    /// rows of `⌊N/2⌋ + 1` samples at the output rate `⌊sample_rate_hz/2⌋`, computed by
    /// `each(channel, velocity)` in parallel over channels (see the module documentation).
    pub fn filter_channels<T: Send>(
        &self,
        samples: &[f64],
        sample_rate_hz: u32,
        channels: usize,
        each: impl Fn(usize, &[f64]) -> T + Sync,
    ) -> Vec<T> {
        self.filter_channels_with(
            TransferMethod::Fast,
            samples,
            sample_rate_hz,
            channels,
            each,
        )
    }

    /// [`Self::filter_channels`] with the transfer function evaluated by `method`.
    pub fn filter_channels_with<T: Send>(
        &self,
        method: TransferMethod,
        samples: &[f64],
        sample_rate_hz: u32,
        channels: usize,
        each: impl Fn(usize, &[f64]) -> T + Sync,
    ) -> Vec<T> {
        let spectrum = half_spectrum(samples);
        let rows = self.transfer_rows_with(method, spectrum.len(), sample_rate_hz, channels);
        filter_spectrum(&spectrum, channels, &rows, each)
    }

    /// [`Self::filter_channels`] with the transfer function taken from `matrix`, which must
    /// have been made for this membrane, `⌊samples.len()/2⌋ + 1` bins, `sample_rate_hz` and
    /// the channel count wanted (the cache guarantees it).
    pub(super) fn filter_with_matrix<T: Send>(
        &self,
        matrix: &TransferMatrix,
        samples: &[f64],
        sample_rate_hz: u32,
        each: impl Fn(usize, &[f64]) -> T + Sync,
    ) -> Vec<T> {
        let spectrum = half_spectrum(samples);
        assert_eq!(
            spectrum.len(),
            matrix.bins(),
            "transfer matrix of another shape"
        );
        let rows = MatrixRows::new(matrix, || {
            self.transfer_rows(matrix.bins(), sample_rate_hz, matrix.channels())
        });
        filter_spectrum(&spectrum, matrix.channels(), &rows, each)
    }

    /// The rows `v(ω_k, x_c)` of `channels` places on the grid of `bins` bins at
    /// `sample_rate_hz` (fast evaluation).
    pub(super) fn transfer_rows(
        &self,
        bins: usize,
        sample_rate_hz: u32,
        channels: usize,
    ) -> TransferRows<'_> {
        self.transfer_rows_with(TransferMethod::Fast, bins, sample_rate_hz, channels)
    }

    fn transfer_rows_with(
        &self,
        method: TransferMethod,
        bins: usize,
        sample_rate_hz: u32,
        channels: usize,
    ) -> TransferRows<'_> {
        use rayon::prelude::*;
        let nyquist = f64::from(sample_rate_hz / 2);
        let freq = linspace(1.0, nyquist, bins)
            .into_par_iter()
            .map(|f| self.frequency_terms(2.0 * PI * f))
            .collect();
        TransferRows::new(self, method, freq, self.places_cm(channels), nyquist)
    }

    fn frequency_terms(&self, omega: f64) -> FrequencyTerms {
        FrequencyTerms::new(&self.params, self.r0, omega)
    }

    pub(super) fn place_terms(&self, place_cm: f64) -> PlaceTerms {
        PlaceTerms::new(&self.params, self.r0, place_cm)
    }
}

/// How the transfer function is evaluated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TransferMethod {
    /// Literally from the definition; the reference the fast path is tested against.
    Reference,
    /// With fewer operations and a fixed-length asymptotic series (about 1e-13 relative).
    #[default]
    Fast,
}

impl TransferMethod {
    pub(super) fn evaluate(self, f: &FrequencyTerms, x: &PlaceTerms) -> Complex64 {
        match self {
            Self::Reference => transfer::reference(f, x),
            Self::Fast => transfer::fast(f, x),
        }
    }
}

/// The first `⌊N/2⌋ + 1` bins of the DFT of `samples` (unnormalised, as NumPy's `fft`).
pub fn half_spectrum(samples: &[f64]) -> Vec<Complex64> {
    if samples.is_empty() {
        return vec![Complex64::new(0.0, 0.0)];
    }
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(samples.len());
    let mut input = samples.to_vec();
    let mut output = fft.make_output_vec();
    fft.process(&mut input, &mut output)
        .expect("buffer lengths come from the plan");
    output
}

/// NumPy's `linspace(start, stop, n)` (the last point exactly `stop`).
pub fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let step = (stop - start) / (n - 1) as f64;
            let mut v: Vec<f64> = (0..n).map(|k| start + k as f64 * step).collect();
            v[n - 1] = stop;
            v
        }
    }
}
