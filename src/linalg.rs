//! Products between sequences and weight matrices.
//!
//! Spike operands are consumed as row gathers (only the rows of `W` whose input is non-zero are
//! touched); dense operands go through `gemm`.

use crate::events::SpikeEvents;
use crate::real::Real;
use crate::tensor::{Matrix, Seq};
use multiversion::multiversion;
use rayon::prelude::*;

pub mod conv;
mod matmul;

pub use matmul::{gemm, gemm_serial};

/// `out[r] += Σ_i x[r, i] · W[i, :]` over the non-zero `x[r, i]` only (a row gather).
///
/// Use for spike trains (binary, or binary scaled by dropout); for dense inputs use
/// [`dense_forward`].
pub fn gather_forward<F: Real>(x: &Seq<F>, w: &Matrix<F>, out: &mut Seq<F>) {
    assert_eq!(
        x.width, w.rows,
        "gather_forward: input width != weight rows"
    );
    assert_eq!(
        out.width, w.cols,
        "gather_forward: output width != weight cols"
    );
    assert_eq!(x.rows(), out.rows(), "gather_forward: row counts differ");
    let n_in = x.width;
    out.data
        .par_chunks_mut(w.cols.max(1))
        .zip(x.data.par_chunks(n_in.max(1)))
        .for_each(|(o, xr)| add_active_rows(w, xr, o));
}

/// `out = x · W` for dense `x`.
pub fn dense_forward<F: Real>(x: &Seq<F>, w: &Matrix<F>, out: &mut Seq<F>) {
    assert_eq!(x.rows(), out.rows(), "dense_forward: row counts differ");
    gemm(
        x.rows(),
        w.cols,
        w.rows,
        &x.data,
        false,
        &w.data,
        false,
        &mut out.data,
        true,
    );
}

/// `out[r] += Σ_{i ∈ events(r)} W[i, :]` for input spikes given as events.
pub fn events_forward<F: Real>(x: &SpikeEvents, w: &Matrix<F>, out: &mut Seq<F>) {
    assert_eq!(
        x.width, w.rows,
        "events_forward: input width != weight rows"
    );
    assert_eq!(
        out.width, w.cols,
        "events_forward: output width != weight cols"
    );
    assert_eq!(x.rows(), out.rows(), "events_forward: row counts differ");
    out.data
        .par_chunks_mut(w.cols.max(1))
        .enumerate()
        .for_each(|(r, o)| add_rows(&w.data, w.cols, x.row(r), o));
}

/// `dW += xᵀ · g` for dense `x` `[R, n_in]` and `g` `[R, n_out]`.
pub fn dense_grad_weight<F: Real>(x: &Seq<F>, g: &Seq<F>, dw: &mut Matrix<F>) {
    assert_eq!(x.rows(), g.rows(), "dense_grad_weight: row counts differ");
    gemm(
        dw.rows,
        dw.cols,
        x.rows(),
        &x.data,
        true,
        &g.data,
        false,
        &mut dw.data,
        true,
    );
}

/// `dW[i, :] += Σ_r x[r, i] · g[r, :]` over the non-zero `x[r, i]` (spike inputs).
pub fn gather_grad_weight<F: Real>(x: &Seq<F>, g: &Seq<F>, dw: &mut Matrix<F>) {
    assert_eq!(x.rows(), g.rows(), "gather_grad_weight: row counts differ");
    gather_grad_weight_rows(&x.data, &g.data, x.rows(), dw);
}

/// [`gather_grad_weight`] on raw row-major slices `x` `[rows, dw.rows]`, `g` `[rows, dw.cols]`.
pub fn gather_grad_weight_rows<F: Real>(x: &[F], g: &[F], rows: usize, dw: &mut Matrix<F>) {
    let (n_in, n_out) = (dw.rows, dw.cols);
    assert_eq!(
        x.len(),
        rows * n_in,
        "gather_grad_weight: input has the wrong length"
    );
    assert_eq!(
        g.len(),
        rows * n_out,
        "gather_grad_weight: gradient has the wrong length"
    );
    // For every input channel, the rows where it is non-zero: each dW row is then owned by
    // one task, which keeps the sum deterministic.
    let mut active: Vec<Vec<u32>> = vec![Vec::new(); n_in];
    for r in 0..rows {
        for (i, &v) in x[r * n_in..(r + 1) * n_in].iter().enumerate() {
            if v != F::zero() {
                active[i].push(r as u32);
            }
        }
    }
    dw.data
        .par_chunks_mut(n_out.max(1))
        .zip(active.par_iter())
        .enumerate()
        .for_each(|(i, (dwi, rs))| {
            for &r in rs {
                let r = r as usize;
                axpy(x[r * n_in + i], &g[r * n_out..(r + 1) * n_out], dwi);
            }
        });
}

/// `dW[i, :] += Σ_{r : i ∈ events(r)} g[r, :]` for input spikes given as events.
pub fn events_grad_weight<F: Real>(x: &SpikeEvents, g: &Seq<F>, dw: &mut Matrix<F>) {
    assert_eq!(x.rows(), g.rows(), "events_grad_weight: row counts differ");
    events_grad_weight_shifted(x, g, 0, dw);
}

/// `dW[i, :] += Σ_{r : i ∈ events(r)} g[r + shift, :]` over the rows with `r + shift < rows(g)`.
///
/// With `shift` = batch size this is the recurrent weight gradient `Σ_t S[t−1]ᵀ · g[t]`.
/// The order of the sum is fixed (it does not depend on the thread count), so the result is
/// deterministic.
pub fn events_grad_weight_shifted<F: Real>(
    x: &SpikeEvents,
    g: &Seq<F>,
    shift: usize,
    dw: &mut Matrix<F>,
) {
    assert_eq!(x.width, dw.rows, "events_grad_weight: width != weight rows");
    assert_eq!(g.width, dw.cols, "events_grad_weight: width != weight cols");
    // Rows `r` of `x` whose partner `r + shift` exists in `g`.
    let usable = x.rows().min(g.rows().saturating_sub(shift));
    // For every input channel, the rows where it spiked: each `dW` row is owned by one task
    // and summed in registers (no partial copies to clear and reduce; measured against
    // scattering each row into per-chunk partials, paired single-thread `shd-rsnn` steps at
    // B = 32: 0.94× the time, 0.84× the peak memory).
    let by_input = x.transpose();
    let w = g.width;
    dw.data
        .par_chunks_mut(dw.cols.max(1))
        .enumerate()
        .for_each(|(i, dwi)| {
            let rows = by_input.row(i);
            let usable_rows = &rows[..rows.partition_point(|&r| (r as usize) < usable)];
            add_rows(&g.data[shift * w..], w, usable_rows, dwi);
        });
}

/// `dx = g · Wᵀ`, the gradient reaching the input of a product.
///
/// `Wᵀ` is materialised first: `gemm` runs about 1.5–2× faster on a row-major right-hand
/// side than on a transposed one at these shapes, and the copy is small next to the product.
pub fn grad_input<F: Real>(g: &Seq<F>, w: &Matrix<F>) -> Seq<F> {
    let mut dx = Seq::zeros(g.steps, g.batch, w.rows);
    let w_t = w.transpose();
    gemm(
        g.rows(),
        w.rows,
        w.cols,
        &g.data,
        false,
        &w_t.data,
        false,
        &mut dx.data,
        false,
    );
    dx
}

/// Output lanes summed in registers at a time by the row-sum kernels: 128 `f32` are eight
/// AVX-512 or sixteen AVX registers, so a sum over many rows loads each source row once and
/// reads and writes `out` once instead of once per row.
const ACC_LANES: usize = 128;

/// `out += Σ_{r ∈ rows} src[r]` (`src` rows `width` wide): the product of one row of spike
/// events with a weight matrix (`src` = `W`), or a weight-gradient row gathered by input.
/// Each output entry sums its terms in the order of `rows`.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
pub fn add_rows<F: Real>(src: &[F], width: usize, rows: &[u32], out: &mut [F]) {
    for (c, chunk) in out.chunks_exact_mut(ACC_LANES).enumerate() {
        let mut acc = [F::zero(); ACC_LANES];
        acc.copy_from_slice(chunk);
        for &r in rows {
            let row = &src[r as usize * width + c * ACC_LANES..][..ACC_LANES];
            for (a, &s) in acc.iter_mut().zip(row) {
                *a += s;
            }
        }
        chunk.copy_from_slice(&acc);
    }
    let done = out.len() / ACC_LANES * ACC_LANES;
    for &r in rows {
        let row = &src[r as usize * width..(r as usize + 1) * width];
        axpy(F::one(), &row[done..], &mut out[done..]);
    }
}

/// `out += Σ_i x_i W[i]` over the non-zero `x_i` only, in ascending `i` (the same sums as the
/// dense product's, term for term). The active indices of each block of inputs are collected
/// without branches first (at the rates of a trained network, 10–30%, a branch per input
/// mispredicts often enough to cost as much as the additions), then summed in registers.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
pub fn add_active_rows<F: Real>(w: &Matrix<F>, x: &[F], out: &mut [F]) {
    const BLOCK: usize = 256;
    let mut active = [0u8; BLOCK];
    for (c, xs) in x.chunks(BLOCK).enumerate() {
        let mut count = 0;
        for (j, &v) in xs.iter().enumerate() {
            active[count] = j as u8;
            count += usize::from(v != F::zero());
        }
        let active = &active[..count];
        let row = |j: u8| w.row(c * BLOCK + usize::from(j));
        for (l, chunk) in out.chunks_exact_mut(ACC_LANES).enumerate() {
            let mut acc = [F::zero(); ACC_LANES];
            acc.copy_from_slice(chunk);
            for &j in active {
                let src = &row(j)[l * ACC_LANES..][..ACC_LANES];
                let a = xs[usize::from(j)];
                for (acc, &s) in acc.iter_mut().zip(src) {
                    *acc += a * s;
                }
            }
            chunk.copy_from_slice(&acc);
        }
        let done = out.len() / ACC_LANES * ACC_LANES;
        for &j in active {
            axpy(xs[usize::from(j)], &row(j)[done..], &mut out[done..]);
        }
    }
}

/// `y += a · x`.
#[inline(always)]
pub fn axpy<F: Real>(a: F, x: &[F], y: &mut [F]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// `Σ x_i y_i`.
#[inline(always)]
pub fn dot<F: Real>(x: &[F], y: &[F]) -> F {
    x.iter().zip(y).fold(F::zero(), |acc, (&a, &b)| acc + a * b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_weight_gradient_equals_the_dense_sum() {
        // Rows narrower than a register block of the gather and wider ones.
        for n_out in [5, 130] {
            event_weight_gradient_equals_the_dense_sum(n_out);
        }
    }

    fn event_weight_gradient_equals_the_dense_sum(n_out: usize) {
        // Shifted by the batch (the recurrent weight gradient), so the last step has no partner.
        let (t, b, n_in) = (9, 3, 7);
        let x_data: Vec<f64> = (0..t * b * n_in)
            .map(|i| if (i * 7) % 5 == 0 { 1.0 } else { 0.0 })
            .collect();
        let x = Seq::from_vec(t, b, n_in, x_data).unwrap();
        let events = SpikeEvents::from_nonzero(&x);
        let g_data = (0..t * b * n_out).map(|i| (i as f64 * 0.3).sin()).collect();
        let g = Seq::from_vec(t, b, n_out, g_data).unwrap();
        let mut expect = Matrix::<f64>::zeros(n_in, n_out);
        for r in 0..(t - 1) * b {
            for i in 0..n_in {
                for j in 0..n_out {
                    expect.data[i * n_out + j] +=
                        x.data[r * n_in + i] * g.data[(r + b) * n_out + j];
                }
            }
        }
        let mut public = Matrix::zeros(n_in, n_out);
        events_grad_weight_shifted(&events, &g, b, &mut public);
        for (e, p) in expect.data.iter().zip(&public.data) {
            assert!((e - p).abs() < 1e-12);
        }
        assert!(expect.data.iter().any(|&v| v != 0.0));
    }

    #[test]
    fn the_event_weight_gradient_is_the_same_on_any_thread_count() {
        let (t, b, n_in, n_out) = (40, 5, 30, 20);
        let ids = |r: usize| {
            (0..n_in as u32).filter(move |i| (r * 31 + *i as usize * 7).is_multiple_of(9))
        };
        let pairs: Vec<(u32, u32)> = (0..t * b)
            .flat_map(|r| ids(r).map(move |i| (r as u32, i)))
            .collect();
        let events = SpikeEvents::from_pairs(t, b, n_in, &pairs);
        let g_data = (0..t * b * n_out)
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        let g = Seq::from_vec(t, b, n_out, g_data).unwrap();
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut dw = Matrix::from_vec(n_in, n_out, vec![0.25f32; n_in * n_out]).unwrap();
            pool.install(|| events_grad_weight_shifted(&events, &g, b, &mut dw));
            dw.data
        };
        let one = on(1);
        assert_eq!(one, on(2));
        assert_eq!(one, on(3));
        assert!(one.iter().any(|&v| v != 0.25));
    }

    /// `out[j] + Σ_k a_k · rows[k][j]`, term by term in the order of `rows`.
    fn naive_row_sum(out: &[f32], rows: &[(f32, &[f32])]) -> Vec<f32> {
        let mut sum = out.to_vec();
        for (a, row) in rows {
            for (s, &v) in sum.iter_mut().zip(*row) {
                *s += a * v;
            }
        }
        sum
    }

    #[test]
    fn register_row_sums_equal_the_sums_in_order_bit_for_bit() {
        // 300 columns: two full register blocks of 128 lanes and a remainder of 44; 600 inputs:
        // two full blocks of collected indices and a partial one; values with many bits set.
        let (n_in, n_out) = (600, 300);
        let w_data = (0..n_in * n_out)
            .map(|i| (i as f32 * 0.37).sin() * 1.3)
            .collect();
        let w = Matrix::from_vec(n_in, n_out, w_data).unwrap();
        let x: Vec<f32> = (0..n_in)
            .map(|i| match i % 7 {
                0 => 1.0,
                3 => 0.7,
                _ => 0.0,
            })
            .collect();
        let out0: Vec<f32> = (0..n_out).map(|j| (j as f32 * 0.11).cos()).collect();
        let active: Vec<(f32, &[f32])> = (0..n_in)
            .filter(|&i| x[i] != 0.0)
            .map(|i| (x[i], w.row(i)))
            .collect();
        let mut gathered = out0.clone();
        add_active_rows(&w, &x, &mut gathered);
        assert_eq!(gathered, naive_row_sum(&out0, &active));

        let rows: Vec<u32> = vec![5, 17, 17, 299, 400, 599];
        let picked: Vec<(f32, &[f32])> = rows.iter().map(|&r| (1.0, w.row(r as usize))).collect();
        let mut summed = out0.clone();
        add_rows(&w.data, n_out, &rows, &mut summed);
        assert_eq!(summed, naive_row_sum(&out0, &picked));
        assert_ne!(summed, out0);
    }

    #[test]
    fn gather_and_events_products_equal_dense_products() {
        let (t, b, n_in, n_out) = (3, 2, 6, 4);
        let x_data: Vec<f64> = (0..t * b * n_in)
            .map(|i| if i % 3 == 0 { 1.0 } else { 0.0 })
            .collect();
        let x = Seq::from_vec(t, b, n_in, x_data).unwrap();
        let w =
            Matrix::from_vec(n_in, n_out, (0..24).map(|i| i as f64 * 0.5 - 3.0).collect()).unwrap();
        let mut dense = Seq::zeros(t, b, n_out);
        dense_forward(&x, &w, &mut dense);
        let mut gathered = Seq::zeros(t, b, n_out);
        gather_forward(&x, &w, &mut gathered);
        let mut from_events = Seq::zeros(t, b, n_out);
        events_forward(&SpikeEvents::from_nonzero(&x), &w, &mut from_events);
        assert_eq!(dense, gathered);
        assert_eq!(dense, from_events);

        let g = Seq::from_vec(t, b, n_out, (0..24).map(|i| (i as f64).sin()).collect()).unwrap();
        let mut dw_dense = Matrix::zeros(n_in, n_out);
        dense_grad_weight(&x, &g, &mut dw_dense);
        let mut dw_gather = Matrix::zeros(n_in, n_out);
        gather_grad_weight(&x, &g, &mut dw_gather);
        let mut dw_events = Matrix::zeros(n_in, n_out);
        events_grad_weight(&SpikeEvents::from_nonzero(&x), &g, &mut dw_events);
        for ((a, b2), c) in dw_dense
            .data
            .iter()
            .zip(&dw_gather.data)
            .zip(&dw_events.data)
        {
            assert!((a - b2).abs() < 1e-12 && (a - c).abs() < 1e-12);
        }
    }
}
