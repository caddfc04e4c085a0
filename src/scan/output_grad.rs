//! The gradient reaching a scan's outputs, `∂L/∂o` `[T, B, N]`: given whole, or the input
//! gradient of the product downstream through its weights (`g · Wᵀ`), computed one block of
//! rows at a time as the backward scan reaches it (a spiking layer below a readout then never
//! writes, clears or reads back the `[T, B, N]` gradient).

use crate::real::Real;
use crate::tensor::{Matrix, Seq};
use std::borrow::Cow;

/// `∂L/∂o` of a scan's outputs.
#[derive(Clone, Copy, Debug)]
pub enum OutputGrad<'a, F> {
    /// Given whole, `[T, B, N]`.
    Given(&'a Seq<F>),
    /// `g · Wᵀ`: `g` `[T, B, M]` is the gradient of the current `o · W` that the outputs
    /// drive, `W` `[N, M]` its weights.
    Through {
        /// `∂L/∂(o · W)`, `[T, B, M]`.
        g: &'a Seq<F>,
        /// `W`, `[N, M]`.
        w: &'a Matrix<F>,
    },
}

impl<'a, F> From<&'a Seq<F>> for OutputGrad<'a, F> {
    fn from(g: &'a Seq<F>) -> Self {
        OutputGrad::Given(g)
    }
}

impl<'a, F: Real> OutputGrad<'a, F> {
    /// `(steps, batch, width)` of `∂L/∂o`.
    pub fn shape(&self) -> (usize, usize, usize) {
        match self {
            OutputGrad::Given(g) => (g.steps, g.batch, g.width),
            OutputGrad::Through { g, w } => (g.steps, g.batch, w.rows),
        }
    }

    /// The whole `[T, B, N]` gradient (computed now, if it was not given whole).
    pub fn to_dense(&self) -> Cow<'a, Seq<F>> {
        match *self {
            OutputGrad::Given(g) => Cow::Borrowed(g),
            OutputGrad::Through { g, w } => Cow::Owned(crate::linalg::grad_input(g, w)),
        }
    }
}

/// An [`OutputGrad`] ready for the backward scan's blocks: `Wᵀ` row-major, once.
pub(super) enum BlockGrad<'a, F> {
    Given(&'a Seq<F>),
    Through { g: &'a Seq<F>, w_t: Matrix<F> },
}

impl<'a, F: Real> BlockGrad<'a, F> {
    pub(super) fn new(g: OutputGrad<'a, F>) -> Self {
        match g {
            OutputGrad::Given(g) => BlockGrad::Given(g),
            OutputGrad::Through { g, w } => BlockGrad::Through {
                g,
                w_t: w.transpose(),
            },
        }
    }

    /// Whether rows are computed (into a buffer of the caller's).
    pub(super) fn computed(&self) -> bool {
        matches!(self, BlockGrad::Through { .. })
    }

    /// Rows `first_sample..first_sample + rows` of step `t` (`n` wide); computed ones are
    /// written into `buf` (`rows · n` long).
    pub(super) fn rows<'b>(
        &'b self,
        t: usize,
        (first_sample, rows): (usize, usize),
        n: usize,
        buf: &'b mut [F],
    ) -> &'b [F] {
        match self {
            BlockGrad::Given(g) => &g.step(t)[first_sample * n..(first_sample + rows) * n],
            BlockGrad::Through { g, w_t } => {
                let m = g.width;
                let g_rows = &g.step(t)[first_sample * m..(first_sample + rows) * m];
                crate::linalg::gemm_serial(rows, n, m, g_rows, false, &w_t.data, false, buf, false);
                buf
            }
        }
    }
}
