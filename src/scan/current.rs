//! The feed-forward input current of a forward scan: a whole `[T, B, N]` sequence, or spike
//! events times a weight matrix computed one row at a time as the scan reaches it (the
//! `[T, B, N]` current of a spiking layer is then never written, cleared or read back).

use crate::events::SpikeEvents;
use crate::real::Real;
use crate::tensor::{Matrix, Seq};
use rayon::prelude::*;

/// The input current `x[t, b, :]` of a forward scan.
#[derive(Debug)]
pub enum Current<'a, F> {
    /// Given whole, `[T, B, N]`.
    Dense(Seq<F>),
    /// `x[t, b] = Σ_{i ∈ events(t, b)} W[i, :] + bias`, computed row by row.
    Projected(ProjectedEvents<'a, F>),
}

/// Spike events through a weight matrix, plus an optional bias: the current of a layer whose
/// input is spikes.
#[derive(Clone, Copy, Debug)]
pub struct ProjectedEvents<'a, F> {
    /// The input spikes, `[T, B, n_in]`.
    pub events: &'a SpikeEvents,
    /// The weights, `[n_in, N]`.
    pub w: &'a Matrix<F>,
    /// The bias, `[N]`.
    pub bias: Option<&'a [F]>,
}

impl<F> From<Seq<F>> for Current<'_, F> {
    fn from(x: Seq<F>) -> Self {
        Current::Dense(x)
    }
}

impl<'a, F> From<ProjectedEvents<'a, F>> for Current<'a, F> {
    fn from(x: ProjectedEvents<'a, F>) -> Self {
        Current::Projected(x)
    }
}

impl<F: Real> Current<'_, F> {
    /// `(steps, batch, width)`.
    pub fn shape(&self) -> (usize, usize, usize) {
        match self {
            Current::Dense(x) => (x.steps, x.batch, x.width),
            Current::Projected(p) => (p.events.steps, p.events.batch, p.w.cols),
        }
    }

    /// The whole `[T, B, N]` current (projected now, if it was not given whole).
    pub fn into_dense(self) -> Seq<F> {
        match self {
            Current::Dense(x) => x,
            Current::Projected(_) => {
                let (steps, batch, width) = self.shape();
                let mut x = Seq::zeros(steps, batch, width);
                x.data
                    .par_chunks_mut(width.max(1))
                    .enumerate()
                    .for_each(|(r, row)| self.write_row(r, row));
                x
            }
        }
    }

    /// The given row (`r = t · B + b`), when the current is given whole.
    pub(super) fn given_row(&self, r: usize) -> Option<&[F]> {
        match self {
            Current::Dense(x) => Some(&x.data[r * x.width..(r + 1) * x.width]),
            Current::Projected(_) => None,
        }
    }

    /// Writes row `r` into `out`: the same sums, in the same order, as projecting the whole
    /// input first ([`crate::linalg::events_forward`], then the bias).
    pub(super) fn write_row(&self, r: usize, out: &mut [F]) {
        match self {
            Current::Dense(_) => out.copy_from_slice(self.given_row(r).expect("dense")),
            Current::Projected(p) => {
                out.fill(F::zero());
                crate::linalg::add_rows(&p.w.data, p.w.cols, p.events.row(r), out);
                if let Some(bias) = p.bias {
                    out.iter_mut().zip(bias).for_each(|(v, &b)| *v += b);
                }
            }
        }
    }
}
