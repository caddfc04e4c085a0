//! Spike trains as events: for every row `(t, b)` the list of active channel ids.

use crate::real::Real;
use crate::tensor::Seq;
use multiversion::multiversion;
use rayon::prelude::*;
use std::ops::Range;

/// Compressed rows of active channel ids, one row per `(t, b)` (time-major, like [`Seq`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpikeEvents {
    /// Time steps.
    pub steps: usize,
    /// Samples.
    pub batch: usize,
    /// Neurons (ids are below it).
    pub width: usize,
    /// `offsets[r]..offsets[r + 1]` indexes the ids of row `r`; length `steps * batch + 1`.
    pub offsets: Vec<u32>,
    /// Active channel ids, ascending within a row.
    pub ids: Vec<u32>,
}

impl SpikeEvents {
    /// An event list with no spikes.
    pub fn empty(steps: usize, batch: usize, width: usize) -> Self {
        Self {
            steps,
            batch,
            width,
            offsets: vec![0; steps * batch + 1],
            ids: Vec::new(),
        }
    }

    /// Builds events from `(row, id)` pairs in any order; duplicates are kept once.
    ///
    /// Panics if a row or id is out of range (callers validate ids against `width`).
    pub fn from_pairs(steps: usize, batch: usize, width: usize, pairs: &[(u32, u32)]) -> Self {
        // A counting sort by row, then each row sorted and deduplicated in place:
        // linear in the number of pairs (a sort of all pairs was a sixth of a whole training
        // run on dense SHD-like input).
        let rows = steps * batch;
        let mut offsets = vec![0u32; rows + 1];
        for &(r, i) in pairs {
            assert!(
                (r as usize) < rows && (i as usize) < width,
                "event out of range"
            );
            offsets[r as usize + 1] += 1;
        }
        for r in 0..rows {
            offsets[r + 1] += offsets[r];
        }
        let mut fill = offsets.clone();
        let mut ids = vec![0u32; pairs.len()];
        for &(r, i) in pairs {
            let slot = &mut fill[r as usize];
            ids[*slot as usize] = i;
            *slot += 1;
        }
        let mut kept = 0;
        let mut seen = vec![0u64; width.div_ceil(64)];
        for r in 0..rows {
            let row = offsets[r] as usize..offsets[r + 1] as usize;
            offsets[r] = kept as u32;
            kept = sorted_unique(&mut ids, row, kept, &mut seen);
        }
        offsets[rows] = kept as u32;
        ids.truncate(kept);
        Self {
            steps,
            batch,
            width,
            offsets,
            ids,
        }
    }

    /// One batch of the single-sample event lists `samples` (each `[steps, 1, width]`):
    /// row `(t, b)` is row `t` of `samples[b]`.
    ///
    /// # Panics
    /// If a sample has another number of steps, more than one sample or another width.
    pub fn interleave(steps: usize, width: usize, samples: &[&SpikeEvents]) -> Self {
        for s in samples {
            assert!(
                s.steps == steps && s.batch == 1 && s.width == width,
                "interleave: a sample of shape [{}, {}, {}], expected [{steps}, 1, {width}]",
                s.steps,
                s.batch,
                s.width
            );
        }
        let batch = samples.len();
        let total: usize = samples.iter().map(|s| s.ids.len()).sum();
        let mut offsets = Vec::with_capacity(steps * batch + 1);
        let mut ids = Vec::with_capacity(total);
        offsets.push(0);
        for t in 0..steps {
            for s in samples {
                ids.extend_from_slice(&s.ids[s.offsets[t] as usize..s.offsets[t + 1] as usize]);
                offsets.push(ids.len() as u32);
            }
        }
        Self {
            steps,
            batch,
            width,
            offsets,
            ids,
        }
    }

    /// The rows of steps `t0..t1` (a chunk of the sequence).
    pub fn steps_range(&self, t0: usize, t1: usize) -> Self {
        let (r0, r1) = (t0 * self.batch, t1 * self.batch);
        let base = self.offsets[r0];
        let ids = self.ids[base as usize..self.offsets[r1] as usize].to_vec();
        Self {
            steps: t1 - t0,
            batch: self.batch,
            width: self.width,
            offsets: self.offsets[r0..=r1].iter().map(|&o| o - base).collect(),
            ids,
        }
    }

    /// Independent Bernoulli spikes: every channel of every row `(t, b)` is active with
    /// probability `p` (the standard synthetic input of benchmarks and tests).
    pub fn bernoulli<R: rand::Rng>(
        steps: usize,
        batch: usize,
        width: usize,
        p: f64,
        rng: &mut R,
    ) -> Self {
        let mut pairs = Vec::new();
        for row in 0..(steps * batch) as u32 {
            for unit in 0..width as u32 {
                if rng.random::<f64>() < p {
                    pairs.push((row, unit));
                }
            }
        }
        Self::from_pairs(steps, batch, width, &pairs)
    }

    /// The events of a dense sequence's non-zero entries (blocks of rows in parallel).
    pub fn from_nonzero<F: Real>(x: &Seq<F>) -> Self {
        let (rows, width) = (x.rows(), x.width);
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0u32);
        let mut ids = Vec::new();
        if width == 0 {
            offsets.resize(rows + 1, 0);
        } else {
            let per_block = rows.div_ceil(4 * rayon::current_num_threads()).max(1);
            let parts: Vec<(Vec<u32>, Vec<u32>)> = x
                .data
                .par_chunks(per_block * width)
                .map(|block| nonzero_rows(block, width))
                .collect();
            for (counts, block_ids) in parts {
                for c in counts {
                    offsets.push(offsets[offsets.len() - 1] + c);
                }
                ids.extend(block_ids);
            }
        }
        Self {
            steps: x.steps,
            batch: x.batch,
            width,
            offsets,
            ids,
        }
    }

    /// Number of rows `(t, b)`.
    pub fn rows(&self) -> usize {
        self.steps * self.batch
    }

    /// Active ids of row `r`.
    #[inline(always)]
    pub fn row(&self, r: usize) -> &[u32] {
        &self.ids[self.offsets[r] as usize..self.offsets[r + 1] as usize]
    }

    /// Total number of spikes.
    pub fn count(&self) -> usize {
        self.ids.len()
    }

    /// The dense 0/1 sequence.
    pub fn to_dense<F: Real>(&self) -> Seq<F> {
        let mut x = Seq::zeros(self.steps, self.batch, self.width);
        for r in 0..self.rows() {
            for &i in self.row(r) {
                x.data[r * self.width + i as usize] = F::one();
            }
        }
        x
    }

    /// The transposed index: for every channel, the rows where it is active (ascending).
    pub fn transpose(&self) -> Transposed {
        let mut offsets = vec![0u32; self.width + 1];
        for &i in &self.ids {
            offsets[i as usize + 1] += 1;
        }
        for i in 0..self.width {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut rows = vec![0u32; self.ids.len()];
        for r in 0..self.rows() {
            for &i in self.row(r) {
                rows[fill[i as usize] as usize] = r as u32;
                fill[i as usize] += 1;
            }
        }
        Transposed { offsets, rows }
    }
}

/// Writes the indices of `row`'s non-zero entries, in order, to the front of `slots` (at
/// least as long as `row`) and returns their number. `f32` rows on AVX-512 machines are
/// compressed sixteen entries at a time ([`nonzero_ids_avx512`]); otherwise
/// [`nonzero_ids_portable`].
pub(crate) fn nonzero_ids<F: Real>(row: &[F], slots: &mut [u32]) -> usize {
    assert!(slots.len() >= row.len(), "nonzero_ids: too few slots");
    #[cfg(target_arch = "x86_64")]
    if let (Some(row), true) = (
        crate::real::as_f32(row),
        std::arch::is_x86_feature_detected!("avx512f"),
    ) {
        // SAFETY: AVX-512F is available; `slots` is long enough (asserted).
        return unsafe { nonzero_ids_avx512(row, slots) };
    }
    nonzero_ids_portable(row, slots)
}

/// [`nonzero_ids`] for any element type: every index is written and the end moves on by
/// whether its entry is non-zero (at the rates of trained layers, 5–30%, a branch per entry
/// mispredicts often). Compiled per instruction set; visiting only the set bits of 16-entry
/// masks instead measured slower (5.4% of a step's profile against 4.7%).
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
fn nonzero_ids_portable<F: Real>(row: &[F], slots: &mut [u32]) -> usize {
    let mut count = 0;
    for (i, &v) in row.iter().enumerate() {
        slots[count] = i as u32;
        count += usize::from(v != F::zero());
    }
    count
}

/// [`nonzero_ids`] of an `f32` row with AVX-512: per sixteen entries, one compare gives the
/// mask of non-zero ones (NaN counts as non-zero, as `!=` does) and one compress packs their
/// indices to the front of a register, stored whole at the current end (the lanes past the
/// count are overwritten by the next store or left unused).
///
/// # Safety
/// AVX-512F must be available, and `slots` at least as long as `row`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn nonzero_ids_avx512(row: &[f32], slots: &mut [u32]) -> usize {
    use std::arch::x86_64::*;
    let mut count = 0;
    let mut ids = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let chunks = row.chunks_exact(16);
    let rest = chunks.remainder();
    for chunk in chunks {
        // SAFETY: `chunk` holds 16 `f32`.
        let v = unsafe { _mm512_loadu_ps(chunk.as_ptr()) };
        let mask = _mm512_cmp_ps_mask::<_CMP_NEQ_UQ>(v, _mm512_setzero_ps());
        let packed = _mm512_maskz_compress_epi32(mask, ids);
        // SAFETY: `count` ≤ this chunk's first index, so `count + 16` ≤ `row.len()` ≤
        // `slots.len()`.
        unsafe { _mm512_storeu_si512(slots.as_mut_ptr().add(count).cast(), packed) };
        count += mask.count_ones() as usize;
        ids = _mm512_add_epi32(ids, _mm512_set1_epi32(16));
    }
    let done = row.len() - rest.len();
    for (i, &v) in rest.iter().enumerate() {
        slots[count] = (done + i) as u32;
        count += usize::from(v != 0.0);
    }
    count
}

/// Per row of `block` (rows of `width`): the number of non-zero entries, and their ids.
fn nonzero_rows<F: Real>(block: &[F], width: usize) -> (Vec<u32>, Vec<u32>) {
    let mut counts = Vec::with_capacity(block.len() / width);
    let mut ids = Vec::new();
    for row in block.chunks(width) {
        let before = ids.len();
        ids.resize(before + row.len(), 0);
        let count = nonzero_ids(row, &mut ids[before..]);
        ids.truncate(before + count);
        counts.push(count as u32);
    }
    (counts, ids)
}

/// For every channel, the rows `(t, b)` in which it spikes.
#[derive(Clone, Debug)]
pub struct Transposed {
    offsets: Vec<u32>,
    rows: Vec<u32>,
}

impl Transposed {
    /// Rows in which channel `i` is active.
    #[inline(always)]
    pub fn row(&self, i: usize) -> &[u32] {
        &self.rows[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

/// Writes the ids of `ids[row]` ascending and once each to `ids[kept..]` (`kept ≤ row.start`)
/// and returns the new end. A row with at least one id per 64 channels goes through the bit set
/// `seen` (one pass over its words, left cleared), a sparser one is sorted.
fn sorted_unique(ids: &mut [u32], row: Range<usize>, mut kept: usize, seen: &mut [u64]) -> usize {
    if row.len() >= seen.len() {
        for k in row {
            seen[ids[k] as usize / 64] |= 1 << (ids[k] % 64);
        }
        for (w, word) in seen.iter_mut().enumerate() {
            while *word != 0 {
                ids[kept] = (w * 64) as u32 + word.trailing_zeros();
                kept += 1;
                *word &= *word - 1;
            }
        }
        return kept;
    }
    let start = kept;
    ids[row.clone()].sort_unstable();
    for k in row {
        if kept == start || ids[kept - 1] != ids[k] {
            ids[kept] = ids[k];
            kept += 1;
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_dense_and_transpose_agree() {
        let pairs = vec![(3, 1), (0, 2), (3, 1), (1, 0), (0, 0)];
        let ev = SpikeEvents::from_pairs(2, 2, 3, &pairs);
        assert_eq!(ev.count(), 4);
        assert_eq!(ev.row(0), &[0, 2]);
        let dense: Seq<f32> = ev.to_dense();
        assert_eq!(SpikeEvents::from_nonzero(&dense), ev);
        let tr = ev.transpose();
        assert_eq!(tr.row(0), &[0, 1]);
        assert_eq!(tr.row(1), &[3]);
        assert_eq!(tr.row(2), &[0]);
    }

    #[test]
    fn nonzero_ids_finds_every_non_zero_entry_in_order() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        // Widths around the 16-entry blocks, densities from empty to full, NaN counted, in
        // f64 and f32.
        for width in [0, 1, 15, 16, 17, 31, 33, 256, 700] {
            for density in [0.0, 0.05, 0.5, 1.0] {
                let row: Vec<f64> = (0..width)
                    .map(|i| match rng.random_bool(density) {
                        true if i % 7 == 3 => f64::NAN,
                        true => -1.5,
                        false => 0.0,
                    })
                    .collect();
                let expected: Vec<u32> = (0..width as u32)
                    .filter(|&i| row[i as usize] != 0.0)
                    .collect();
                let mut slots = vec![u32::MAX; width];
                let count = nonzero_ids(&row, &mut slots);
                assert_eq!(&slots[..count], &expected[..], "width {width}, {density}");
                // f32 rows take the vector kernel on AVX-512 machines.
                let row: Vec<f32> = row.iter().map(|&v| v as f32).collect();
                let count = nonzero_ids(&row, &mut slots);
                assert_eq!(
                    &slots[..count],
                    &expected[..],
                    "f32, width {width}, {density}"
                );
            }
        }
    }

    #[test]
    fn dense_and_sparse_rows_are_sorted_and_deduplicated_alike() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (steps, batch, width) = (3, 4, 1000);
        // Rows with 2, 20, 200 and 2000 candidate ids: both paths of `from_pairs`.
        let mut pairs = Vec::new();
        for row in 0..(steps * batch) as u32 {
            for _ in 0..2 * 10usize.pow(row % 4) {
                pairs.push((row, rng.random_range(0..width as u32)));
            }
        }
        let events = SpikeEvents::from_pairs(steps, batch, width, &pairs);
        for row in 0..steps * batch {
            let expected: std::collections::BTreeSet<u32> = pairs
                .iter()
                .filter(|&&(r, _)| r as usize == row)
                .map(|&(_, i)| i)
                .collect();
            let expected: Vec<u32> = expected.into_iter().collect();
            assert_eq!(events.row(row), &expected[..]);
        }
    }
}
