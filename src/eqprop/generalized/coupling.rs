//! Dense products with the network's matrices: the recurrent coupling `J_G` and its
//! transpose in row form, bias addition, and the batch outer products and column sums that
//! build gradients.

use super::params::GepParams;
use super::state::State;
use crate::linalg::gemm;

/// `rows · w` for `rows` `[m, k]`, `w` `[k, n]` (`w_trans`: `w` stored `[n, k]`).
pub(super) fn product(
    rows: &[f64],
    m: usize,
    k: usize,
    w: &[f64],
    n: usize,
    w_trans: bool,
) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    gemm(m, n, k, rows, false, w, w_trans, &mut c, false);
    c
}

pub(super) fn add_into(a: &mut [f64], b: &[f64]) {
    a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
}

/// The recurrent part of `G` (linear in `r`): row form of `J_G r`.
pub(super) fn couple(p: &GepParams, r: &State) -> State {
    let w = p.widths;
    let m = r.rows();
    let l1 = product(&r.l2, m, w.hidden2, &p.l2_l1, w.hidden1, false);
    let mut l2 = product(&r.l1, m, w.hidden1, &p.l1_l2, w.hidden2, false);
    add_into(
        &mut l2,
        &product(&r.out, m, w.output, &p.out_l2, w.hidden2, false),
    );
    let out = product(&r.l2, m, w.hidden2, &p.l2_out, w.output, false);
    State {
        l1,
        l2,
        out,
        batch: r.batch,
        planes: r.planes,
    }
}

/// Row form of `J_Gᵀ c` (each matrix's transpose carries `c` back to the presynaptic layer).
pub(super) fn couple_transposed(p: &GepParams, c: &State) -> State {
    let w = p.widths;
    let m = c.rows();
    let l1 = product(&c.l2, m, w.hidden2, &p.l1_l2, w.hidden1, true);
    let mut l2 = product(&c.l1, m, w.hidden1, &p.l2_l1, w.hidden2, true);
    add_into(
        &mut l2,
        &product(&c.out, m, w.output, &p.l2_out, w.hidden2, true),
    );
    let out = product(&c.l2, m, w.hidden2, &p.out_l2, w.output, true);
    State {
        l1,
        l2,
        out,
        batch: c.batch,
        planes: c.planes,
    }
}

/// Adds `bias` to the first `batch` rows (the real parts).
pub(super) fn add_bias(a: &mut [f64], bias: &[f64], batch: usize) {
    for row in a.chunks_mut(bias.len()).take(batch) {
        add_into(row, bias);
    }
}

/// `Σ_b pre[b]ᵀ post[b] · scale`, `[pre_width, post_width]`, added to `into`.
pub(super) fn accumulate_outer(
    into: &mut [f64],
    pre: &[f64],
    post: &[f64],
    rows: usize,
    scale: f64,
) {
    let (m, n) = (pre.len() / rows, post.len() / rows);
    let mut c = vec![0.0; m * n];
    gemm(m, n, rows, pre, true, post, false, &mut c, false);
    into.iter_mut().zip(c).for_each(|(a, c)| *a += scale * c);
}

pub(super) fn accumulate_column_sums(into: &mut [f64], rows_values: &[f64], scale: f64) {
    for row in rows_values.chunks(into.len()) {
        into.iter_mut().zip(row).for_each(|(a, v)| *a += scale * v);
    }
}
