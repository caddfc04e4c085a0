//! Dense matrix products through `gemm`: large ones split into output tiles that idle threads
//! steal.

use crate::real::Real;
use rayon::prelude::*;

/// Tiles per thread of a large product: enough for work stealing to even out cores that run
/// at different speeds (on shared machines one core is often 10–20% slower than the other, and
/// a static split makes the fast one wait).
const TILES_PER_THREAD: usize = 8;

/// Smallest tile edge worth a product of its own. Each tile repacks `k · (rows + cols)` values
/// for `k · rows · cols` multiply-adds; with smaller tiles, packing dominates (measured on a
/// 700×256 output with k = 12 800: 140×128 tiles ran at 108 GFLOP/s, the whole product at 191).
const MIN_TILE_EDGE: usize = 512;

/// The output tiling `(row blocks, column blocks)` of an `[m, n]` product over `threads`, or
/// `None` when the product is too small or too thin to tile. The split has as many tiles as
/// possible up to `TILES_PER_THREAD · threads` (at least two per thread); each tile repacks its
/// whole row block of `a` and column block of `b`, so among those it minimizes `pn · m + pm · n`
/// (the extra packing).
fn tiling(m: usize, n: usize, k: usize, threads: usize) -> Option<(usize, usize)> {
    let most = TILES_PER_THREAD * threads;
    if threads < 2 || m * n * k < (1 << 27) {
        return None;
    }
    let (max_pm, max_pn) = ((m / MIN_TILE_EDGE).max(1), (n / MIN_TILE_EDGE).max(1));
    let splits =
        (1..=max_pm.min(most)).flat_map(|pm| (1..=max_pn.min(most / pm)).map(move |pn| (pm, pn)));
    splits
        .filter(|&(pm, pn)| pm * pn >= 2 * threads)
        .min_by_key(|&(pm, pn)| (std::cmp::Reverse(pm * pn), pn * m + pm * n))
}

/// `c = a · b (+ c if accumulate)`, with `a` `[m, k]`, `b` `[k, n]`, `c` `[m, n]`, all
/// row-major. `a_trans` reads `a` stored as `[k, m]` instead; `b_trans` reads `b` stored as
/// `[n, k]`. Large products use every thread of the rayon pool, as tiles of the output that
/// idle threads steal.
#[allow(clippy::too_many_arguments)]
pub fn gemm<F: Real>(
    m: usize,
    n: usize,
    k: usize,
    a: &[F],
    a_trans: bool,
    b: &[F],
    b_trans: bool,
    c: &mut [F],
    accumulate: bool,
) {
    let threads = rayon::current_num_threads();
    let operands = Operands::new(m, n, k, a, a_trans, b, b_trans, c);
    match tiling(m, n, k, threads) {
        Some((pm, pn)) => operands.tiled(c, accumulate, pm, pn),
        None if threads > 1 && m * n * k > 64 * 64 * 64 => {
            operands.run(c, accumulate, gemm::Parallelism::Rayon(threads))
        }
        None => operands.run(c, accumulate, gemm::Parallelism::None),
    }
}

/// [`gemm`](fn@gemm) on the calling thread only (for use inside a task that is already parallel).
#[allow(clippy::too_many_arguments)]
pub fn gemm_serial<F: Real>(
    m: usize,
    n: usize,
    k: usize,
    a: &[F],
    a_trans: bool,
    b: &[F],
    b_trans: bool,
    c: &mut [F],
    accumulate: bool,
) {
    Operands::new(m, n, k, a, a_trans, b, b_trans, c).run(c, accumulate, gemm::Parallelism::None);
}

/// The checked shapes and element strides of one product's operands.
struct Operands<'a, F> {
    m: usize,
    n: usize,
    k: usize,
    a: &'a [F],
    b: &'a [F],
    /// (row stride, column stride) of `a` as `[m, k]` and of `b` as `[k, n]`, in elements.
    a_strides: (usize, usize),
    b_strides: (usize, usize),
}

/// The output pointer, shared by tiles that write disjoint blocks of it.
#[derive(Clone, Copy)]
struct OutPtr<F>(*mut F);
// SAFETY: tiles write disjoint regions of the output (see `Operands::tiled`).
unsafe impl<F: Send> Send for OutPtr<F> {}
unsafe impl<F: Send> Sync for OutPtr<F> {}

impl<'a, F: Real> Operands<'a, F> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        m: usize,
        n: usize,
        k: usize,
        a: &'a [F],
        a_trans: bool,
        b: &'a [F],
        b_trans: bool,
        c: &[F],
    ) -> Self {
        assert_eq!(a.len(), m * k, "gemm: lhs has the wrong length");
        assert_eq!(b.len(), k * n, "gemm: rhs has the wrong length");
        assert_eq!(c.len(), m * n, "gemm: output has the wrong length");
        let a_strides = if a_trans { (1, m) } else { (k, 1) };
        let b_strides = if b_trans { (1, k) } else { (n, 1) };
        Self {
            m,
            n,
            k,
            a,
            b,
            a_strides,
            b_strides,
        }
    }

    /// The whole product, with `gemm`'s own threading.
    fn run(&self, c: &mut [F], accumulate: bool, threads: gemm::Parallelism) {
        if self.m == 0 || self.n == 0 {
            return;
        }
        if self.k == 0 {
            if !accumulate {
                c.fill(F::zero());
            }
            return;
        }
        // SAFETY: `c` is the whole `[m, n]` output, borrowed mutably.
        unsafe {
            self.block(
                OutPtr(c.as_mut_ptr()),
                0..self.m,
                0..self.n,
                accumulate,
                threads,
            )
        }
    }

    /// The product as `pm × pn` output tiles, each a serial product, taken by idle threads.
    fn tiled(&self, c: &mut [F], accumulate: bool, pm: usize, pn: usize) {
        let (rows, cols) = (self.m.div_ceil(pm), self.n.div_ceil(pn));
        let out = OutPtr(c.as_mut_ptr());
        (0..pm * pn).into_par_iter().for_each(|tile| {
            let (r0, c0) = ((tile / pn) * rows, (tile % pn) * cols);
            let (r1, c1) = ((r0 + rows).min(self.m), (c0 + cols).min(self.n));
            if r0 < r1 && c0 < c1 {
                // SAFETY: the tiles partition `c`, which is borrowed mutably for the whole call.
                unsafe { self.block(out, r0..r1, c0..c1, accumulate, gemm::Parallelism::None) }
            }
        });
    }

    /// `c[rows, cols] (+)= a[rows, :] · b[:, cols]`.
    ///
    /// # Safety
    /// `out` points to the `[m, n]` row-major output, and no other thread touches the block.
    unsafe fn block(
        &self,
        out: OutPtr<F>,
        rows: std::ops::Range<usize>,
        cols: std::ops::Range<usize>,
        accumulate: bool,
        threads: gemm::Parallelism,
    ) {
        let (a_rs, a_cs) = self.a_strides;
        let (b_rs, b_cs) = self.b_strides;
        // SAFETY: the offsets stay inside the operands whose lengths `new` checked; the caller
        // guarantees the output block is exclusively ours.
        unsafe {
            gemm::gemm(
                rows.len(),
                cols.len(),
                self.k,
                out.0.add(rows.start * self.n + cols.start),
                1,
                self.n as isize,
                accumulate,
                self.a.as_ptr().add(rows.start * a_rs),
                a_cs as isize,
                a_rs as isize,
                self.b.as_ptr().add(cols.start * b_cs),
                b_cs as isize,
                b_rs as isize,
                F::one(),
                F::one(),
                false,
                false,
                false,
                threads,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(m: usize, n: usize, k: usize, a: &[f64], b: &[f64]) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for l in 0..k {
                let x = a[i * k + l];
                for j in 0..n {
                    c[i * n + j] += x * b[l * n + j];
                }
            }
        }
        c
    }

    fn transpose(rows: usize, cols: usize, a: &[f64]) -> Vec<f64> {
        let mut t = vec![0.0; a.len()];
        for i in 0..rows {
            for j in 0..cols {
                t[j * rows + i] = a[i * cols + j];
            }
        }
        t
    }

    #[test]
    fn gemm_matches_naive_in_every_transpose_mode() {
        let (m, n, k) = (7, 5, 9);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.11).cos()).collect();
        let expect = naive(m, n, k, &a, &b);
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let aa = if ta { transpose(m, k, &a) } else { a.clone() };
            let bb = if tb { transpose(k, n, &b) } else { b.clone() };
            let mut c = vec![1.0; m * n];
            gemm(m, n, k, &aa, ta, &bb, tb, &mut c, true);
            for (x, y) in c.iter().zip(&expect) {
                assert!((x - (y + 1.0)).abs() < 1e-12, "mode {ta} {tb}");
            }
        }
    }

    #[test]
    fn tiling_splits_large_products_into_stealable_tiles() {
        assert_eq!(tiling(8000, 4096, 4096, 1), None, "one thread: no tiles");
        assert_eq!(tiling(64, 64, 64, 2), None, "small products stay whole");
        // The split into 16 tiles that repacks least.
        assert_eq!(tiling(8000, 4096, 4096, 2), Some((4, 4)));
        assert_eq!(tiling(4096, 4096, 8000, 2), Some((4, 4)));
        // A thin output is split along its long side only (edges stay ≥ MIN_TILE_EDGE).
        assert_eq!(tiling(100_000, 64, 4096, 2), Some((16, 1)));
        // Too few edges for 8 tiles per thread: as many as fit.
        assert_eq!(tiling(1100, 1030, 130, 2), Some((2, 2)));
        assert_eq!(
            tiling(1100, 1030, 130, 3),
            None,
            "fewer than two tiles per thread"
        );
        assert_eq!(
            tiling(700, 256, 12_800, 2),
            None,
            "a small output stays whole"
        );
    }

    #[test]
    fn tiled_products_match_naive_in_every_transpose_mode() {
        // Above the tiling threshold, with edges that do not divide into the tiles.
        let (m, n, k) = (1100, 1030, 130);
        assert!(tiling(m, n, k, 2).is_some());
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.11).cos()).collect();
        let expect = naive(m, n, k, &a, &b);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let aa = if ta { transpose(m, k, &a) } else { a.clone() };
            let bb = if tb { transpose(k, n, &b) } else { b.clone() };
            for accumulate in [false, true] {
                let mut c = vec![1.0; m * n];
                pool.install(|| gemm(m, n, k, &aa, ta, &bb, tb, &mut c, accumulate));
                let offset = if accumulate { 1.0 } else { 0.0 };
                for (x, y) in c.iter().zip(&expect) {
                    assert!(
                        (x - (y + offset)).abs() < 1e-9,
                        "mode {ta} {tb} {accumulate}"
                    );
                }
            }
        }
    }
}
