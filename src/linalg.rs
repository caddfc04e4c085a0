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
    if dw.data.len() * SCATTER_CHUNKS <= SCATTER_MAX_PARTIAL {
        scatter_grad_weight(x, g, shift, usable, dw);
    } else {
        gather_grad_weight_by_input(x, g, shift, usable, dw);
    }
}

/// Row chunks of [`scatter_grad_weight`]: a constant, not the thread count, so that the order
/// of the sum (and with it the result) does not depend on the number of threads.
const SCATTER_CHUNKS: usize = 8;

/// Largest total size of the per-chunk partial gradients (elements) worth scattering into.
const SCATTER_MAX_PARTIAL: usize = 1 << 22;

/// Small `dW`: each chunk of rows reads its rows of `g` in order and adds each into a partial
/// `dW` of its own (which stays in cache), then the partials are summed in chunk order.
fn scatter_grad_weight<F: Real>(
    x: &SpikeEvents,
    g: &Seq<F>,
    shift: usize,
    usable: usize,
    dw: &mut Matrix<F>,
) {
    let w = g.width;
    let per_chunk = usable.div_ceil(SCATTER_CHUNKS).max(1);
    let partials: Vec<Vec<F>> = (0..usable.div_ceil(per_chunk))
        .into_par_iter()
        .map(|c| {
            let mut part = vec![F::zero(); dw.data.len()];
            let rows = c * per_chunk..((c + 1) * per_chunk).min(usable);
            scatter_rows(x, rows, &g.data[shift * w..], w, &mut part);
            part
        })
        .collect();
    dw.data
        .par_chunks_mut(w.max(1))
        .enumerate()
        .for_each(|(i, dwi)| {
            for part in &partials {
                axpy(F::one(), &part[i * w..(i + 1) * w], dwi);
            }
        });
}

/// Large `dW`: for every input channel, the rows where it spiked; each `dW` row is owned by one
/// task, so the sum is deterministic without partial copies.
fn gather_grad_weight_by_input<F: Real>(
    x: &SpikeEvents,
    g: &Seq<F>,
    shift: usize,
    usable: usize,
    dw: &mut Matrix<F>,
) {
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

/// `out += Σ_{r ∈ rows} src[r]` (`src` rows `width` wide): the product of one row of spike
/// events with a weight matrix (`src` = `W`), or a weight-gradient row gathered by input.
#[multiversion(targets("x86_64+avx2+fma", "x86_64+avx"))]
pub fn add_rows<F: Real>(src: &[F], width: usize, rows: &[u32], out: &mut [F]) {
    for &r in rows {
        let r = r as usize;
        axpy(F::one(), &src[r * width..(r + 1) * width], out);
    }
}

/// `out += Σ_i x_i W[i]` over the non-zero `x_i` only, in ascending `i` (the same sums as the
/// dense product's, term for term). The active indices of each block of 64 are collected
/// without branches first: at the rates of a trained network (10–30%) a branch per input
/// mispredicts often enough to cost as much as the additions.
#[multiversion(targets("x86_64+avx2+fma", "x86_64+avx"))]
pub fn add_active_rows<F: Real>(w: &Matrix<F>, x: &[F], out: &mut [F]) {
    const BLOCK: usize = 64;
    let mut active = [0u8; BLOCK];
    for (c, xs) in x.chunks(BLOCK).enumerate() {
        let mut count = 0;
        for (j, &v) in xs.iter().enumerate() {
            active[count] = j as u8;
            count += usize::from(v != F::zero());
        }
        for &j in &active[..count] {
            let j = usize::from(j);
            axpy(xs[j], w.row(c * BLOCK + j), out);
        }
    }
}

/// `dst[i] += src[r]` for every event `i` of every row `r` in `rows` (`src` and each `dst` row
/// `width` wide): the scatter of an event weight gradient.
#[multiversion(targets("x86_64+avx2+fma", "x86_64+avx"))]
fn scatter_rows<F: Real>(
    x: &SpikeEvents,
    rows: std::ops::Range<usize>,
    src: &[F],
    width: usize,
    dst: &mut [F],
) {
    for r in rows {
        let src_row = &src[r * width..(r + 1) * width];
        for &i in x.row(r) {
            let i = i as usize;
            axpy(F::one(), src_row, &mut dst[i * width..(i + 1) * width]);
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
    fn both_event_weight_gradients_equal_the_dense_sum() {
        // Shifted by the batch (the recurrent weight gradient), so the last step has no partner.
        let (t, b, n_in, n_out) = (9, 3, 7, 5);
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
        let usable = (t - 1) * b;
        let mut scattered = Matrix::zeros(n_in, n_out);
        scatter_grad_weight(&events, &g, b, usable, &mut scattered);
        let mut gathered = Matrix::zeros(n_in, n_out);
        gather_grad_weight_by_input(&events, &g, b, usable, &mut gathered);
        let mut public = Matrix::zeros(n_in, n_out);
        events_grad_weight_shifted(&events, &g, b, &mut public);
        for (((e, s), gt), p) in expect
            .data
            .iter()
            .zip(&scattered.data)
            .zip(&gathered.data)
            .zip(&public.data)
        {
            assert!((e - s).abs() < 1e-12 && (e - gt).abs() < 1e-12 && (e - p).abs() < 1e-12);
        }
        assert!(expect.data.iter().any(|&v| v != 0.0));
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
