//! Weight gradients of spike operands summed by the backward scan as it goes: each block of
//! samples adds the `∂L/∂x` rows it has just computed into its own partial `∂L/∂W`, rows of
//! the gradient read once and in cache; the partials are then added in block order.

use crate::events::SpikeEvents;
use crate::real::Real;
use crate::tensor::Matrix;
use multiversion::multiversion;
use rayon::prelude::*;

/// The spike operands whose weight gradients the backward scan gathers.
pub(super) struct WeightEvents<'a> {
    /// The layer's spike input (`x[t] = input[t] · W_in`): `∂L/∂W_in[i] += ∂L/∂x[t]`.
    pub(super) input: Option<&'a SpikeEvents>,
    /// The layer's own outputs (`x[t] += o[t−1] · W_rec`): `∂L/∂W_rec[j] += ∂L/∂x[t]`.
    pub(super) recurrent: Option<&'a SpikeEvents>,
}

/// One block's partial sums (empty for an operand that is not gathered).
pub(super) struct WeightPartials<F> {
    /// Neurons of the layer (the width of every row).
    n: usize,
    pub(super) w_in: Vec<F>,
    pub(super) w_rec: Vec<F>,
}

impl<F: Real> WeightPartials<F> {
    /// Zero partials for layers of `n` neurons.
    pub(super) fn new(events: &WeightEvents<'_>, n: usize) -> Self {
        let zeros = |x: Option<&SpikeEvents>, rows: usize| match x {
            Some(_) => vec![F::zero(); rows * n],
            None => Vec::new(),
        };
        Self {
            n,
            w_in: zeros(events.input, events.input.map_or(0, |x| x.width)),
            w_rec: zeros(events.recurrent, n),
        }
    }

    /// Adds step `t`'s gradient rows `g` (`[rows, n]`, samples from `first_sample` on) to the
    /// rows of every input that spiked at `t` and every output that spiked at `t − 1`.
    pub(super) fn add_step(
        &mut self,
        events: &WeightEvents<'_>,
        t: usize,
        first_sample: usize,
        g: &[F],
    ) {
        if self.w_in.is_empty() && self.w_rec.is_empty() {
            return;
        }
        let n = self.n;
        for (r, g_row) in g.chunks_exact(n).enumerate() {
            let sample = first_sample + r;
            if let Some(x) = events.input {
                add_to_rows(&mut self.w_in, n, x.row(t * x.batch + sample), g_row);
            }
            if let (Some(o), true) = (events.recurrent, t > 0) {
                add_to_rows(&mut self.w_rec, n, o.row((t - 1) * o.batch + sample), g_row);
            }
        }
    }

    /// `Σ_blocks part(block)` (`[rows, cols]`), each entry summed in block order.
    pub(super) fn sum(
        partials: &[Self],
        rows: usize,
        cols: usize,
        part: impl Fn(&Self) -> &Vec<F> + Sync,
    ) -> Matrix<F> {
        let mut total = Matrix::zeros(rows, cols);
        total
            .data
            .par_chunks_mut(cols.max(1))
            .enumerate()
            .for_each(|(i, row)| {
                for p in partials {
                    add_row(row, &part(p)[i * cols..(i + 1) * cols]);
                }
            });
        total
    }
}

/// `dst[i] += g` for every `i` in `ids` (`dst` rows `n` wide). Compiled per instruction set
/// as a whole, so the row add is inlined instead of dispatched once per spike.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
fn add_to_rows<F: Real>(dst: &mut [F], n: usize, ids: &[u32], g: &[F]) {
    for (k, &i) in ids.iter().enumerate() {
        if let Some(&next) = ids.get(k + 1) {
            prefetch_row(&dst[next as usize * n..(next as usize + 1) * n]);
        }
        let i = i as usize;
        for (d, &s) in dst[i * n..(i + 1) * n].iter_mut().zip(g) {
            *d += s;
        }
    }
}

/// Asks for `row`'s cache lines ahead of its use.
#[inline(always)]
fn prefetch_row<F>(row: &[F]) {
    #[cfg(target_arch = "x86_64")]
    {
        let bytes = size_of_val(row);
        let base = row.as_ptr().cast::<i8>();
        for offset in (0..bytes).step_by(64) {
            // SAFETY: a prefetch is a hint; the address lies inside `row`.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    base.add(offset),
                )
            };
        }
    }
}

/// `dst += src`.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
fn add_row<F: Real>(dst: &mut [F], src: &[F]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}
