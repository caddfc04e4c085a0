//! Dense containers: time-major sequences `[T, B, N]` and row-major weight matrices.

use crate::real::Real;

/// A time-major sequence `[steps, batch, width]`, contiguous.
///
/// Element `(t, b, n)` lives at `(t * batch + b) * width + n`, so one time step of the whole
/// batch is one contiguous `[batch, width]` slab and one row `(t, b)` is a contiguous vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Seq<F> {
    /// Time steps `T`.
    pub steps: usize,
    /// Samples `B`.
    pub batch: usize,
    /// Values per sample and step `N`.
    pub width: usize,
    /// The values, time-major: `data[(t·B + b)·N + n]`.
    pub data: Vec<F>,
}

impl<F: Real> Seq<F> {
    /// A sequence of zeros.
    pub fn zeros(steps: usize, batch: usize, width: usize) -> Self {
        Self {
            steps,
            batch,
            width,
            data: vec![F::zero(); steps * batch * width],
        }
    }

    /// Wraps existing data; `None` if its length does not match the shape.
    pub fn from_vec(steps: usize, batch: usize, width: usize, data: Vec<F>) -> Option<Self> {
        (data.len() == steps * batch * width).then_some(Self {
            steps,
            batch,
            width,
            data,
        })
    }

    /// A copy of steps `t0..t1` (a chunk of the sequence).
    pub fn steps_range(&self, t0: usize, t1: usize) -> Self {
        let slab = self.batch * self.width;
        Self {
            steps: t1 - t0,
            batch: self.batch,
            width: self.width,
            data: self.data[t0 * slab..t1 * slab].to_vec(),
        }
    }

    /// Number of rows `(t, b)`.
    pub fn rows(&self) -> usize {
        self.steps * self.batch
    }

    /// Flat index of element `(t, b, n)`.
    #[inline(always)]
    pub fn index(&self, t: usize, b: usize, n: usize) -> usize {
        (t * self.batch + b) * self.width + n
    }

    /// Value at `(t, b, n)`.
    #[inline(always)]
    pub fn at(&self, t: usize, b: usize, n: usize) -> F {
        self.data[self.index(t, b, n)]
    }

    /// The vector of row `(t, b)`.
    #[inline(always)]
    pub fn row(&self, t: usize, b: usize) -> &[F] {
        let start = (t * self.batch + b) * self.width;
        &self.data[start..start + self.width]
    }

    /// The mutable vector of row `(t, b)`.
    #[inline(always)]
    pub fn row_mut(&mut self, t: usize, b: usize) -> &mut [F] {
        let start = (t * self.batch + b) * self.width;
        &mut self.data[start..start + self.width]
    }

    /// The `[batch, width]` slab of time step `t`.
    pub fn step(&self, t: usize) -> &[F] {
        let len = self.batch * self.width;
        &self.data[t * len..(t + 1) * len]
    }

    /// `out[b·N + j] += Σ_t x[t, b, j]`: the sum over time, into a `[B, N]` buffer.
    pub fn sum_steps_into(&self, out: &mut [f64]) {
        assert_eq!(
            out.len(),
            self.batch * self.width,
            "sum_steps_into: out is not [B, N]"
        );
        for step in self.data.chunks_exact(out.len().max(1)) {
            out.iter_mut()
                .zip(step)
                .for_each(|(o, &x)| *o += x.as_f64());
        }
    }

    /// `x[t, b, j] += v[b·N + j]` at every step `t`.
    pub fn add_to_every_step(&mut self, v: &[F]) {
        assert_eq!(
            v.len(),
            self.batch * self.width,
            "add_to_every_step: v is not [B, N]"
        );
        for step in self.data.chunks_exact_mut(v.len().max(1)) {
            step.iter_mut().zip(v).for_each(|(x, &a)| *x += a);
        }
    }

    /// Whether every element is exactly 0 or 1 (a spike train).
    pub fn is_binary(&self) -> bool {
        self.data.iter().all(|&v| v == F::zero() || v == F::one())
    }

    /// Converts the element type.
    pub fn cast<G: Real>(&self) -> Seq<G> {
        Seq {
            steps: self.steps,
            batch: self.batch,
            width: self.width,
            data: self.data.iter().map(|v| G::from_f64(v.as_f64())).collect(),
        }
    }
}

/// A row-major matrix `[rows, cols]`; weights map `rows` inputs to `cols` outputs (`y = x W`).
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix<F> {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// The values, time-major: `data[(t·B + b)·N + n]`.
    pub data: Vec<F>,
}

impl<F: Real> Matrix<F> {
    /// A matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![F::zero(); rows * cols],
        }
    }

    /// Wraps existing data; `None` if its length does not match the shape.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<F>) -> Option<Self> {
        (data.len() == rows * cols).then_some(Self { rows, cols, data })
    }

    /// Row `i` (the outgoing weights of input `i`).
    #[inline(always)]
    pub fn row(&self, i: usize) -> &[F] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Mutable row `i`.
    #[inline(always)]
    pub fn row_mut(&mut self, i: usize) -> &mut [F] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Element `(i, j)`.
    #[inline(always)]
    pub fn at(&self, i: usize, j: usize) -> F {
        self.data[i * self.cols + j]
    }

    /// The transpose `[cols, rows]`.
    pub fn transpose(&self) -> Self {
        let mut data = Vec::with_capacity(self.data.len());
        for j in 0..self.cols {
            data.extend((0..self.rows).map(|i| self.at(i, j)));
        }
        Self {
            rows: self.cols,
            cols: self.rows,
            data,
        }
    }

    /// Converts the element type.
    pub fn cast<G: Real>(&self) -> Matrix<G> {
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().map(|v| G::from_f64(v.as_f64())).collect(),
        }
    }
}
