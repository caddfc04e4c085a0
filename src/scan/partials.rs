//! Weight gradients of spike operands summed by the backward scan as it goes: each block of
//! samples keeps the `∂L/∂x` rows of its last [`WINDOW_STEPS`] steps, then adds them into its
//! own partial `∂L/∂W` grouped by spike id, each id's rows summed in registers, so a row of
//! the partial is read and written once per id and window instead of once per spike; the
//! partials are then added in block order.

use crate::events::SpikeEvents;
use crate::real::Real;
use crate::tensor::Matrix;
use multiversion::multiversion;
use rayon::prelude::*;

/// Steps of gradient rows a block keeps before summing them by id: 32 steps of a 16-sample,
/// 256-neuron block are 512 KiB, in the second-level cache beside the partials (paired
/// one-thread `shd-rsnn` runs: 0.97–0.985× the time of 16 steps).
pub(super) const WINDOW_STEPS: usize = 32;

/// Layers narrower than this add each step's rows straight into their partials: those stay
/// in the first-level cache, and grouping by id costs more than it saves (the 20-unit readout
/// of `shd-rsnn`, one thread: 1.3 ms of a step grouped, 0.6 ms added spike by spike).
const MIN_GROUPED_WIDTH: usize = 64;

/// Narrow layers' partial rows are padded to a multiple of this many entries (one AVX-512
/// vector of `f32`).
const NARROW_ALIGN: usize = 16;

/// The spike operands whose weight gradients the backward scan gathers.
pub(super) struct WeightEvents<'a> {
    /// The layer's spike input (`x[t] = input[t] · W_in`): `∂L/∂W_in[i] += ∂L/∂x[t]`.
    pub(super) input: Option<&'a SpikeEvents>,
    /// The layer's own outputs (`x[t] += o[t−1] · W_rec`): `∂L/∂W_rec[j] += ∂L/∂x[t]`.
    pub(super) recurrent: Option<&'a SpikeEvents>,
}

impl WeightEvents<'_> {
    fn any(&self) -> bool {
        self.input.is_some() || self.recurrent.is_some()
    }

    /// Ids of the inputs that spiked at step `t` of `sample`.
    fn input_ids(&self, t: usize, sample: usize) -> &[u32] {
        self.input.map_or(&[], |x| x.row(t * x.batch + sample))
    }

    /// Ids of the outputs that spiked at step `t − 1` of `sample` (none at `t = 0`).
    fn recurrent_ids(&self, t: usize, sample: usize) -> &[u32] {
        match (self.recurrent, t) {
            (Some(o), 1..) => o.row((t - 1) * o.batch + sample),
            _ => &[],
        }
    }
}

/// One block's partial sums (no rows for an operand that is not gathered), and the window of
/// gradient rows not yet added.
pub(super) struct WeightPartials<F> {
    /// Neurons of the layer (the width of every gradient row).
    n: usize,
    /// Entries per row of the partials: `n`, or for narrow layers `n` padded to whole vectors
    /// (zeros), so that a row is added with whole-vector loads and stores, which the next
    /// load of the same row can take straight from the store (masked stores cannot pass on
    /// their data: the readout's row adds measured 5.7% of a one-thread step with masks).
    stride: usize,
    /// Samples in the block.
    rows: usize,
    /// Whether any weight gradient is gathered.
    gathers: bool,
    /// One past the last step of the window being filled (the scan runs backward: windows
    /// end at `steps`, `steps − window_steps`, …, and the earliest is the partial one).
    window_end: usize,
    /// Steps the window holds: [`WINDOW_STEPS`] when rows are grouped by id, 1 when each
    /// step's rows are added as they come (narrow layers).
    window_steps: usize,
    /// Input ids (numbered first; output ids follow).
    width_in: usize,
    /// Each id's row in `sums`, or [`NO_ROW`] until a spike of it is added: grouped layers
    /// create a row (zeros) when they first add to it instead of clearing every row up front
    /// (8 MB per `shd-rsnn` step, 1.7% of its profile); narrow layers have every row from the
    /// start, at its id.
    row_of: Vec<u32>,
    /// The partial sums' rows, `stride` entries each.
    sums: Vec<F>,
    /// `∂L/∂x` of the window's steps, `[window_steps, rows, n]`: step `t` in slot
    /// `window_end − 1 − t`, so slots fill in order and each is cleared just before its
    /// first use (in cache) instead of all up front.
    window: Vec<F>,
    /// Where each id's entries start (input ids, then output ids), and one past the last.
    starts: Vec<u32>,
    /// The next free entry of each id while they are filled.
    cursor: Vec<u32>,
    /// Window rows (`slot · rows + r`), grouped by id.
    entries: Vec<u32>,
}

impl<F: Real> WeightPartials<F> {
    /// Zero partials for a block of `rows` samples of layers of `n` neurons over `steps`.
    pub(super) fn new(events: &WeightEvents<'_>, n: usize, rows: usize, steps: usize) -> Self {
        let narrow = n < MIN_GROUPED_WIDTH;
        let stride = if narrow {
            n.next_multiple_of(NARROW_ALIGN)
        } else {
            n
        };
        let width_in = events.input.map_or(0, |x| x.width);
        let window_steps = if narrow { 1 } else { WINDOW_STEPS };
        let gathers = events.any();
        let ids = if gathers { width_in + n } else { 0 };
        let (row_of, sums) = match narrow {
            true => ((0..ids as u32).collect(), vec![F::zero(); ids * stride]),
            // Room for every row, reserved but not written.
            false => (vec![NO_ROW; ids], Vec::with_capacity(ids * n)),
        };
        Self {
            n,
            stride,
            rows,
            gathers,
            window_end: steps,
            window_steps,
            width_in,
            row_of,
            sums,
            window: Vec::with_capacity(if gathers { window_steps * rows * n } else { 0 }),
            starts: Vec::new(),
            cursor: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// Whether any weight gradient is gathered (else there is no window).
    pub(super) fn gathers(&self) -> bool {
        self.gathers
    }

    /// The window slot where step `t`'s gradient rows `[rows, n]` are to be written.
    pub(super) fn slot(&mut self, t: usize) -> &mut [F] {
        let len = self.rows * self.n;
        let s = self.window_end - 1 - t;
        if self.window.len() < (s + 1) * len {
            self.window.resize((s + 1) * len, F::zero());
        }
        &mut self.window[s * len..(s + 1) * len]
    }

    /// After step `t`'s rows are in their slot (samples from `first_sample` on): once the
    /// scan (running backward) has filled a window, adds its rows to the rows of every input
    /// that spiked at their step and every output that spiked the step before.
    pub(super) fn after_step(&mut self, events: &WeightEvents<'_>, t: usize, first_sample: usize) {
        if !self.gathers || (t > 0 && self.window_end - t < self.window_steps) {
            return;
        }
        if self.window_steps == 1 {
            self.add_rows_of(events, t, first_sample);
        } else {
            self.group(events, t..self.window_end, first_sample);
            self.add_groups();
        }
        self.window_end = t;
    }

    /// Adds step `t`'s rows (slot 0) to the rows of its spikes, one spike at a time (narrow
    /// layers: every row exists, at its id).
    fn add_rows_of(&mut self, events: &WeightEvents<'_>, t: usize, first_sample: usize) {
        let stride = self.stride;
        let (w_in, w_rec) = self.sums.split_at_mut(self.width_in * stride);
        for (r, g) in self.window.chunks_exact(self.n).enumerate() {
            let sample = first_sample + r;
            add_to_rows(w_in, stride, events.input_ids(t, sample), g);
            add_to_rows(w_rec, stride, events.recurrent_ids(t, sample), g);
        }
    }

    /// Groups the window rows of `steps` by id (a counting sort; within an id, rows in step
    /// and sample order). Ids are numbered inputs first, then outputs.
    fn group(&mut self, events: &WeightEvents<'_>, steps: std::ops::Range<usize>, first: usize) {
        let (w_in, rows) = (self.width_in, self.rows);
        let last = steps.end - 1;
        let spikes = |t: usize, r: usize| {
            let sample = first + r;
            [
                (0, events.input_ids(t, sample)),
                (w_in, events.recurrent_ids(t, sample)),
            ]
        };
        self.starts.clear();
        self.starts.resize(w_in + self.n + 1, 0);
        let counts = &mut self.starts[1..];
        for t in steps.clone() {
            for r in 0..rows {
                for (base, ids) in spikes(t, r) {
                    ids.iter().for_each(|&i| counts[base + i as usize] += 1);
                }
            }
        }
        for id in 0..w_in + self.n {
            self.starts[id + 1] += self.starts[id];
        }
        self.entries.resize(self.starts[w_in + self.n] as usize, 0);
        self.cursor.clone_from(&self.starts);
        for t in steps {
            for r in 0..rows {
                let row = ((last - t) * rows + r) as u32;
                for (base, ids) in spikes(t, r) {
                    for &i in ids {
                        let next = &mut self.cursor[base + i as usize];
                        self.entries[*next as usize] = row;
                        *next += 1;
                    }
                }
            }
        }
    }

    /// Adds each id's grouped window rows into its row of the partial (created on first use).
    fn add_groups(&mut self) {
        let n = self.n;
        for (id, bounds) in self.starts.windows(2).enumerate() {
            let rows = &self.entries[bounds[0] as usize..bounds[1] as usize];
            if rows.is_empty() {
                continue;
            }
            if self.row_of[id] == NO_ROW {
                self.row_of[id] = (self.sums.len() / n) as u32;
                self.sums.resize(self.sums.len() + n, F::zero());
            }
            let at = self.row_of[id] as usize * n;
            crate::linalg::add_rows(&self.window, n, rows, &mut self.sums[at..at + n]);
        }
    }

    /// Partial row of id `id`, if any spike of it was added.
    fn row(&self, id: usize) -> Option<&[F]> {
        let at = *self.row_of.get(id).filter(|&&r| r != NO_ROW)? as usize * self.stride;
        Some(&self.sums[at..at + self.n])
    }

    /// `∂L/∂W_in` (`[width_in, n]`): the blocks' partials summed in block order.
    pub(super) fn sum_input(partials: &[Self], width_in: usize, n: usize) -> Matrix<F> {
        Self::sum(partials, 0, width_in, n)
    }

    /// `∂L/∂W_rec` (`[n, n]`): the blocks' partials summed in block order.
    pub(super) fn sum_recurrent(partials: &[Self], width_in: usize, n: usize) -> Matrix<F> {
        Self::sum(partials, width_in, n, n)
    }

    /// Rows `first_id..first_id + rows` of every block's partial (`cols` wide), each entry
    /// summed in block order (rows a block never added to count as zeros and are skipped).
    fn sum(partials: &[Self], first_id: usize, rows: usize, cols: usize) -> Matrix<F> {
        let mut total = Matrix::zeros(rows, cols);
        total
            .data
            .par_chunks_mut(cols.max(1))
            .enumerate()
            .for_each(|(i, row)| {
                for part in partials.iter().filter_map(|p| p.row(first_id + i)) {
                    add_row(row, part);
                }
            });
        total
    }
}

/// The `row_of` entry of an id no spike of which has been added yet.
const NO_ROW: u32 = u32::MAX;

/// `dst += src`.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
fn add_row<F: Real>(dst: &mut [F], src: &[F]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

/// `dst[i] += g` for every `i` in `ids` (`dst` rows `stride` ≥ `g.len()` wide). Rows of
/// 16 or 32 `f32` on AVX-512 machines keep `g` in registers and add it with whole-vector
/// loads and stores ([`add_to_narrow_rows_avx512`]; the portable loop spends most of a spike
/// on loop control at such widths: 6.1% of a one-thread `shd-rsnn` profile for the 20-unit
/// readout).
fn add_to_rows<F: Real>(dst: &mut [F], stride: usize, ids: &[u32], g: &[F]) {
    assert!(
        g.len() <= stride,
        "a gradient row wider than the partial's rows"
    );
    #[cfg(target_arch = "x86_64")]
    if (stride == 16 || stride == 32) && std::arch::is_x86_feature_detected!("avx512f") {
        if let (Some(dst), Some(g)) = (crate::real::as_f32_mut(dst), crate::real::as_f32(g)) {
            // SAFETY: AVX-512F is available, the stride is 16 or 32 and `g` no wider.
            unsafe { add_to_narrow_rows_avx512(dst, stride, ids, g) };
            return;
        }
    }
    add_to_rows_portable(dst, stride, ids, g);
}

/// [`add_to_rows`] for any width and element type.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
fn add_to_rows_portable<F: Real>(dst: &mut [F], stride: usize, ids: &[u32], g: &[F]) {
    for &i in ids {
        let i = i as usize;
        for (d, &s) in dst[i * stride..][..g.len()].iter_mut().zip(g) {
            *d += s;
        }
    }
}

/// [`add_to_rows`] for rows of 16 or 32 `f32` (`g` zero-padded to the stride in registers).
///
/// # Safety
/// AVX-512F must be available and `stride` 16 or 32, with `g.len()` ≤ `stride`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn add_to_narrow_rows_avx512(dst: &mut [f32], stride: usize, ids: &[u32], g: &[f32]) {
    use std::arch::x86_64::*;
    let n = g.len();
    let lanes = |from: usize| ((1u32 << n.saturating_sub(from).min(16)) - 1) as __mmask16;
    // SAFETY: the masks cover `g`'s entries only.
    let parts = unsafe {
        [
            _mm512_maskz_loadu_ps(lanes(0), g.as_ptr()),
            _mm512_maskz_loadu_ps(lanes(16), g.as_ptr().wrapping_add(16)),
        ]
    };
    for &i in ids {
        let row = &mut dst[i as usize * stride..][..stride];
        for (k, part) in parts.iter().take(stride / 16).enumerate() {
            let p = row[16 * k..][..16].as_mut_ptr();
            // SAFETY: `p` points at 16 entries of `row`.
            unsafe { _mm512_storeu_ps(p, _mm512_add_ps(_mm512_loadu_ps(p), *part)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn narrow_row_adds_equal_the_portable_loop() {
        // The vector kernel (f32 on AVX-512 machines) against the portable loop, bit for bit:
        // both strides it takes, rows shorter than the stride, ids repeated across calls.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for (n, stride) in [(3, 16), (16, 16), (17, 32), (20, 32), (32, 32), (20, 20)] {
            let ids: Vec<Vec<u32>> = (0..6)
                .map(|_| (0..9u32).filter(|_| rng.random_bool(0.5)).collect())
                .collect();
            let mut fast = vec![0f32; 9 * stride];
            let mut portable = fast.clone();
            for row_ids in &ids {
                let g: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
                add_to_rows(&mut fast, stride, row_ids, &g);
                add_to_rows_portable(&mut portable, stride, row_ids, &g);
            }
            assert_eq!(fast, portable, "n {n}, stride {stride}");
            assert!(fast.iter().any(|&v| v != 0.0));
            let padding = fast.chunks(stride).flat_map(|row| &row[n..]);
            assert!(padding.into_iter().all(|&v| v == 0.0), "padding stays zero");
        }
    }
}
