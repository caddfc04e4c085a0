//! Applying the membrane filter to a signal, channel by channel.
//!
//! For each channel `c` the velocity is `Re(IDFT_M(v_c · X))` (see [`super::basilar`]),
//! where the row `v_c` comes from a [`RowSource`]: evaluated on the fly
//! ([`TransferRows`]) or copied from a cached matrix ([`MatrixRows`]). Rows may leave a
//! negligible high-frequency tail zero; [`filter_spectrum`] checks per signal that it is
//! negligible and evaluates it otherwise (see [`super::tail`]).

use super::basilar::{BasilarMembrane, TransferMethod};
use super::tail::{self, Tail};
use super::transfer::FrequencyTerms;
use super::transfer_cache::TransferMatrix;
use realfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};
use std::f64::consts::PI;
use std::sync::{Arc, OnceLock};

/// A source of transfer-function rows for [`filter_spectrum`].
pub(super) trait RowSource: Sync {
    /// Writes `v(ω_k, x_channel)` into `row`, possibly leaving a negligible tail zero.
    fn row(&self, channel: usize, row: &mut [Complex64]) -> Tail;
    /// Writes the bins from `start` on, which [`Self::row`] left zero.
    fn complete(&self, channel: usize, row: &mut [Complex64], start: usize);
}

/// The transfer function on a frequency grid, row by row.
pub(super) struct TransferRows<'m> {
    membrane: &'m BasilarMembrane,
    method: TransferMethod,
    freq: Vec<FrequencyTerms>,
    places: Vec<f64>,
    nyquist_hz: f64,
}

impl<'m> TransferRows<'m> {
    /// Rows of `membrane` at the places `places_cm` on the grid whose frequency terms are
    /// `freq` (1 Hz to `nyquist_hz`, evenly spaced), evaluated by `method`.
    pub fn new(
        membrane: &'m BasilarMembrane,
        method: TransferMethod,
        freq: Vec<FrequencyTerms>,
        places_cm: Vec<f64>,
        nyquist_hz: f64,
    ) -> Self {
        Self {
            membrane,
            method,
            freq,
            places: places_cm,
            nyquist_hz,
        }
    }

    /// The grid bin nearest to the local resonance `√(s(x)/m)` of `place_cm`.
    fn resonance_bin(&self, place_cm: f64) -> usize {
        let bins = self.freq.len();
        let p = self.membrane.params();
        let stiffness = p.c0 * (-p.alpha_per_cm * place_cm).exp() - p.a;
        let freq_hz = (stiffness.max(0.0) / p.m).sqrt() / (2.0 * PI);
        let step = (self.nyquist_hz - 1.0) / (bins.max(2) - 1) as f64;
        let bin = ((freq_hz - 1.0) / step).round().max(0.0);
        (bin as usize).min(bins.saturating_sub(1))
    }
}

impl RowSource for TransferRows<'_> {
    fn row(&self, channel: usize, row: &mut [Complex64]) -> Tail {
        let place = self.membrane.place_terms(self.places[channel]);
        let bins = row.len();
        let found = match self.method {
            TransferMethod::Reference => Tail::none(bins),
            TransferMethod::Fast => {
                let resonance = self.resonance_bin(self.places[channel]);
                tail::find(bins, resonance, |k| {
                    self.method.evaluate(&self.freq[k], &place).norm()
                })
            }
        };
        for (y, f) in row[..found.start].iter_mut().zip(&self.freq) {
            *y = self.method.evaluate(f, &place);
        }
        row[found.start..].fill(Complex64::new(0.0, 0.0));
        found
    }

    fn complete(&self, channel: usize, row: &mut [Complex64], start: usize) {
        let place = self.membrane.place_terms(self.places[channel]);
        for (y, f) in row[start..].iter_mut().zip(&self.freq[start..]) {
            *y = self.method.evaluate(f, &place);
        }
    }
}

/// Rows from a cached matrix; a tail that is not negligible for a signal is evaluated then.
pub(super) struct MatrixRows<'a, F> {
    matrix: &'a TransferMatrix,
    evaluate: OnceLock<TransferRows<'a>>,
    make: F,
}

impl<'a, F> MatrixRows<'a, F> {
    /// Rows of `matrix`; `make` gives the evaluator for tails a signal needs.
    pub fn new(matrix: &'a TransferMatrix, make: F) -> Self {
        Self {
            matrix,
            evaluate: OnceLock::new(),
            make,
        }
    }
}

impl<'a, F: Fn() -> TransferRows<'a> + Sync> RowSource for MatrixRows<'a, F> {
    fn row(&self, channel: usize, row: &mut [Complex64]) -> Tail {
        row.copy_from_slice(self.matrix.row(channel));
        self.matrix.tail(channel)
    }

    fn complete(&self, channel: usize, row: &mut [Complex64], start: usize) {
        self.evaluate
            .get_or_init(&self.make)
            .complete(channel, row, start);
    }
}

/// `each(c, Re(IDFT_M(v_c · X)))` for every channel `c`, in parallel, with the rows `v_c`
/// from `rows`; a skipped tail is evaluated after all when the signal makes it matter
/// (see [`super::tail`]).
pub(super) fn filter_spectrum<T: Send>(
    spectrum: &[Complex64],
    channels: usize,
    rows: &impl RowSource,
    each: impl Fn(usize, &[f64]) -> T + Sync,
) -> Vec<T> {
    use rayon::prelude::*;
    let ifft = FftPlanner::<f64>::new().plan_fft_inverse(spectrum.len());
    let suffix = tail::suffix_sums(spectrum);
    (0..channels)
        .into_par_iter()
        .map_init(
            || ChannelBuffers::new(&ifft),
            |buf, channel| {
                let found = rows.row(channel, &mut buf.spectrum);
                let peak = buf.inverse(spectrum, &ifft);
                if !found.is_negligible(&suffix, peak) {
                    rows.row(channel, &mut buf.spectrum);
                    rows.complete(channel, &mut buf.spectrum, found.start);
                    buf.inverse(spectrum, &ifft);
                }
                each(channel, &buf.velocity)
            },
        )
        .collect()
}

/// Per-thread work space of [`filter_spectrum`].
struct ChannelBuffers {
    spectrum: Vec<Complex64>,
    scratch: Vec<Complex64>,
    velocity: Vec<f64>,
}

impl ChannelBuffers {
    /// `velocity = Re(IDFT_M(row · X))` for the row in `spectrum`; returns `max |velocity|`.
    fn inverse(&mut self, input: &[Complex64], ifft: &Arc<dyn Fft<f64>>) -> f64 {
        for (y, x) in self.spectrum.iter_mut().zip(input) {
            *y *= x;
        }
        ifft.process_with_scratch(&mut self.spectrum, &mut self.scratch);
        let norm = 1.0 / self.spectrum.len() as f64;
        let mut peak = 0.0f64;
        for (v, y) in self.velocity.iter_mut().zip(&self.spectrum) {
            *v = y.re * norm;
            peak = peak.max(v.abs());
        }
        peak
    }

    fn new(ifft: &Arc<dyn Fft<f64>>) -> Self {
        let bins = ifft.len();
        Self {
            spectrum: vec![Complex64::new(0.0, 0.0); bins],
            scratch: vec![Complex64::new(0.0, 0.0); ifft.get_inplace_scratch_len()],
            velocity: vec![0.0; bins],
        }
    }
}
