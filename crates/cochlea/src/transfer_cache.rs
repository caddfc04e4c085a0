//! The transfer matrix `v(ω_k, x_c)` of a signal shape, cached across signals.
//!
//! The membrane filter multiplies the DFT of the input by `v(ω_k, x_c)` on a grid that
//! depends only on the number of bins `M = ⌊N/2⌋ + 1`, the sample rate and the channel count
//! (see [`super::basilar`]), not on the signal. Data sets hold many recordings of the same
//! length and rate (the Speech Commands clips are all 16 000 samples at 16 kHz), so the
//! matrix, which is most of the cost of a conversion, can be evaluated once and reused:
//! the cost per recording is then two FFTs per channel, the hair cells and the bushy cells.
//! The results are bit-for-bit those of the uncached path (the same evaluation, stored;
//! a skipped tail that a signal needs is evaluated for that signal as without the cache).
//!
//! Memory: a matrix takes `16 · channels · M` bytes (90 MB for 700 channels and a one-second
//! clip at 16 kHz, 270 MB at 48 kHz). [`TransferCache`] keeps the most recently used
//! matrices within a byte budget and evicts the least recently used; a shape whose matrix
//! alone exceeds the budget is not cached (it is evaluated per signal, as without a cache).

use super::basilar::{BasilarMembrane, BasilarParams};
use super::filter::RowSource;
use super::tail::Tail;
use realfft::num_complex::Complex64;
use std::sync::Arc;

/// What a transfer matrix depends on.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Shape {
    params: BasilarParams,
    bins: usize,
    sample_rate_hz: u32,
    channels: usize,
}

/// `v(ω_k, x_c)` for every channel `c` (rows) and bin `k` (columns), negligible tails
/// left zero (evaluated when a signal needs them).
#[derive(Debug)]
pub struct TransferMatrix {
    shape: Shape,
    values: Vec<Complex64>,
    /// The negligible tail of each row, left zero in `values` (see [`super::tail`]).
    tails: Vec<Tail>,
}

impl TransferMatrix {
    /// The matrix of `membrane` for `bins` DFT bins at `sample_rate_hz` and `channels` places.
    pub fn new(
        membrane: &BasilarMembrane,
        bins: usize,
        sample_rate_hz: u32,
        channels: usize,
    ) -> Self {
        use rayon::prelude::*;
        let mut values = vec![Complex64::new(0.0, 0.0); channels * bins];
        let mut tails = vec![Tail::none(bins); channels];
        if bins > 0 {
            let rows = membrane.transfer_rows(bins, sample_rate_hz, channels);
            values
                .par_chunks_mut(bins)
                .zip(&mut tails)
                .enumerate()
                .for_each(|(channel, (row, tail))| *tail = rows.row(channel, row));
        }
        Self {
            shape: Shape {
                params: *membrane.params(),
                bins,
                sample_rate_hz,
                channels,
            },
            values,
            tails,
        }
    }

    /// The skipped tail of `channel`'s row.
    pub(super) fn tail(&self, channel: usize) -> Tail {
        self.tails[channel].clone()
    }

    /// The transfer function of `channel` at every bin.
    pub fn row(&self, channel: usize) -> &[Complex64] {
        let bins = self.shape.bins;
        &self.values[channel * bins..(channel + 1) * bins]
    }

    /// Number of bins per row.
    pub fn bins(&self) -> usize {
        self.shape.bins
    }

    /// Number of channels (rows).
    pub fn channels(&self) -> usize {
        self.shape.channels
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.values.len() * size_of::<Complex64>()
    }
}

/// Transfer matrices kept for reuse within a byte budget, least recently used evicted.
#[derive(Debug)]
pub struct TransferCache {
    budget_bytes: usize,
    /// Most recently used last.
    entries: Vec<Arc<TransferMatrix>>,
}

impl TransferCache {
    /// An empty cache that holds at most `budget_bytes` of matrices.
    pub fn new(budget_bytes: usize) -> Self {
        Self {
            budget_bytes,
            entries: Vec::new(),
        }
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.entries.iter().map(|m| m.bytes()).sum()
    }

    /// The matrix for this shape: cached, or evaluated and cached; `None` when one matrix
    /// of this shape would exceed the budget.
    pub fn get(
        &mut self,
        membrane: &BasilarMembrane,
        bins: usize,
        sample_rate_hz: u32,
        channels: usize,
    ) -> Option<Arc<TransferMatrix>> {
        let shape = Shape {
            params: *membrane.params(),
            bins,
            sample_rate_hz,
            channels,
        };
        if let Some(at) = self.entries.iter().position(|m| m.shape == shape) {
            let matrix = self.entries.remove(at);
            self.entries.push(Arc::clone(&matrix));
            return Some(matrix);
        }
        let bytes = channels
            .checked_mul(bins)?
            .checked_mul(size_of::<Complex64>())?;
        if bytes > self.budget_bytes {
            return None;
        }
        while self.bytes() + bytes > self.budget_bytes {
            self.entries.remove(0);
        }
        let matrix = Arc::new(TransferMatrix::new(
            membrane,
            bins,
            sample_rate_hz,
            channels,
        ));
        self.entries.push(Arc::clone(&matrix));
        Some(matrix)
    }
}
