//! Per-layer batch values (real or complex) and the holomorphic sigmoid activation.

use super::params::Widths;
use num_complex::Complex64;

/// Whether a [`State`] holds real or complex numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Planes {
    /// `[B, width]` real parts.
    Real,
    /// `[2B, width]`: real parts in rows `0..B`, imaginary parts in rows `B..2B`.
    Complex,
}

impl Planes {
    pub(super) fn count(self) -> usize {
        match self {
            Planes::Real => 1,
            Planes::Complex => 2,
        }
    }
}

/// Per-layer values of a batch (neuron states, activations, errors), row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// Layer l1, `[rows, hidden1]`.
    pub l1: Vec<f64>,
    /// Layer l2, `[rows, hidden2]`.
    pub l2: Vec<f64>,
    /// Output layer, `[rows, output]`.
    pub out: Vec<f64>,
    /// Samples `B`.
    pub batch: usize,
    /// Real or complex (`rows = B` or `2B`).
    pub planes: Planes,
}

impl State {
    /// Zeros for `batch` samples.
    pub fn zeros(widths: Widths, batch: usize, planes: Planes) -> Self {
        let rows = batch * planes.count();
        Self {
            l1: vec![0.0; rows * widths.hidden1],
            l2: vec![0.0; rows * widths.hidden2],
            out: vec![0.0; rows * widths.output],
            batch,
            planes,
        }
    }

    pub(super) fn rows(&self) -> usize {
        self.batch * self.planes.count()
    }

    /// The same values as complex numbers with zero imaginary parts.
    pub(super) fn to_complex(&self) -> Self {
        let widen = |v: &[f64]| [v, &vec![0.0; v.len()][..]].concat();
        debug_assert_eq!(self.planes, Planes::Real);
        Self {
            l1: widen(&self.l1),
            l2: widen(&self.l2),
            out: widen(&self.out),
            batch: self.batch,
            planes: Planes::Complex,
        }
    }

    /// `f(self)` elementwise, layer by layer.
    pub(super) fn map(&self, f: impl Fn(f64) -> f64) -> State {
        self.zip_map(self, |a, _| f(a))
    }

    /// `f(self, other)` elementwise, layer by layer.
    pub(super) fn zip_map(&self, other: &State, f: impl Fn(f64, f64) -> f64) -> State {
        let zip = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(&a, &b)| f(a, b)).collect();
        State {
            l1: zip(&self.l1, &other.l1),
            l2: zip(&self.l2, &other.l2),
            out: zip(&self.out, &other.out),
            batch: self.batch,
            planes: self.planes,
        }
    }

    pub(super) fn layers(&self) -> [&[f64]; 3] {
        [&self.l1, &self.l2, &self.out]
    }
}

/// The sigmoid, holomorphic on complex states.
fn sigmoid_layer(u: &[f64], planes: Planes) -> Vec<f64> {
    match planes {
        Planes::Real => u.iter().map(|&v| 1.0 / (1.0 + (-v).exp())).collect(),
        Planes::Complex => {
            let half = u.len() / 2;
            let mut out = vec![0.0; u.len()];
            for i in 0..half {
                let z = Complex64::new(u[i], u[half + i]);
                let s = (Complex64::new(1.0, 0.0) + (-z).exp()).inv();
                out[i] = s.re;
                out[half + i] = s.im;
            }
            out
        }
    }
}

/// `act(u)` layer by layer.
pub fn activate(u: &State) -> State {
    State {
        l1: sigmoid_layer(&u.l1, u.planes),
        l2: sigmoid_layer(&u.l2, u.planes),
        out: sigmoid_layer(&u.out, u.planes),
        batch: u.batch,
        planes: u.planes,
    }
}

/// `act'(u) = act(u)(1 − act(u))` of real states.
pub(super) fn slope(a: &State) -> State {
    a.map(|s| s * (1.0 - s))
}
