//! Layers: parameters plus `forward` and `backward` over whole sequences.
//!
//! A [`SpikingLayer`] projects its input through `W_in` (and optionally its own previous spikes
//! through `W_rec`) into a population of spiking neurons; a [`Readout`] does the same into
//! non-spiking leaky integrators. A [`LifEncoder`] turns analog input into spikes through a
//! learnable gain and bias per neuron. All run the generic scan of [`crate::scan`].

pub mod conv;
pub mod dale;
pub mod delay;
mod encoder;
mod population;
mod readout;
mod spec;
mod spiking;

pub use crate::neurons::NeuronKind;
pub use encoder::{EncoderCurrent, EncoderSpec, EncoderTrace, LifEncoder};
pub use population::{population, Carry, ModelRun, Neurons, Population, SlotChain, StateRun};
pub use readout::{Readout, ReadoutGrad, ReadoutTrace};
pub use spec::{DaleSpec, ReadoutHead, ReadoutKind, ReadoutSpec, SpikingLayerSpec, Structure};
pub use spiking::{LayerTrace, RecurrentPath, SpikingLayer};

use crate::events::SpikeEvents;
use crate::linalg;
use crate::real::Real;
use crate::tensor::{Matrix, Seq};

/// What a layer receives: input spikes as events, or a dense sequence.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a, F> {
    /// Binary spikes as per-row channel lists (the data's input spikes).
    Events(&'a SpikeEvents),
    /// A dense sequence; zeros are skipped when `sparse` (spike trains from a layer).
    Dense {
        /// The sequence.
        x: &'a Seq<F>,
        /// Whether zeros are skipped.
        sparse: bool,
    },
}

/// An input chunk owned apart from the whole input (see [`Input::steps_range`]).
#[derive(Clone, Debug)]
pub enum OwnedInput<F> {
    /// Events.
    Events(SpikeEvents),
    /// A dense sequence, and whether its zeros are skipped.
    Dense(Seq<F>, bool),
}

impl<F: Real> OwnedInput<F> {
    /// The chunk as an input.
    pub fn as_input(&self) -> Input<'_, F> {
        match self {
            OwnedInput::Events(e) => Input::Events(e),
            OwnedInput::Dense(x, sparse) => Input::Dense { x, sparse: *sparse },
        }
    }
}

impl<F: Real> Input<'_, F> {
    /// A copy of steps `t0..t1`.
    pub fn steps_range(&self, t0: usize, t1: usize) -> OwnedInput<F> {
        match *self {
            Input::Events(e) => OwnedInput::Events(e.steps_range(t0, t1)),
            Input::Dense { x, sparse } => OwnedInput::Dense(x.steps_range(t0, t1), sparse),
        }
    }

    /// The non-zero values `(channel, value)` of row `(t, b)`.
    pub fn active(&self, t: usize, b: usize) -> Vec<(usize, F)> {
        match *self {
            Input::Events(e) => e
                .row(t * e.batch + b)
                .iter()
                .map(|&i| (i as usize, F::one()))
                .collect(),
            Input::Dense { x, .. } => {
                let row = x.row(t, b).iter().enumerate();
                row.filter(|(_, &v)| v != F::zero())
                    .map(|(i, &v)| (i, v))
                    .collect()
            }
        }
    }

    /// The input as a dense sequence (borrowed when it is one).
    pub fn to_dense(&self) -> std::borrow::Cow<'_, Seq<F>> {
        match *self {
            Input::Events(e) => std::borrow::Cow::Owned(e.to_dense()),
            Input::Dense { x, .. } => std::borrow::Cow::Borrowed(x),
        }
    }

    /// `(steps, batch, width)`.
    pub fn shape(&self) -> (usize, usize, usize) {
        match self {
            Input::Events(e) => (e.steps, e.batch, e.width),
            Input::Dense { x, .. } => (x.steps, x.batch, x.width),
        }
    }

    /// `x · W` as a new sequence.
    pub fn project(&self, w: &Matrix<F>) -> Seq<F> {
        let (steps, batch, _) = self.shape();
        let mut out = Seq::zeros(steps, batch, w.cols);
        match *self {
            Input::Events(e) => linalg::events_forward(e, w, &mut out),
            Input::Dense { x, sparse: true } => linalg::gather_forward(x, w, &mut out),
            Input::Dense { x, sparse: false } => linalg::dense_forward(x, w, &mut out),
        }
        out
    }

    /// `xᵀ · g`, the gradient of the weights of [`Self::project`].
    pub fn grad_weight(&self, g: &Seq<F>, rows: usize) -> Matrix<F> {
        let mut dw = Matrix::zeros(rows, g.width);
        match *self {
            Input::Events(e) => linalg::events_grad_weight(e, g, &mut dw),
            Input::Dense { x, sparse: true } => linalg::gather_grad_weight(x, g, &mut dw),
            Input::Dense { x, sparse: false } => linalg::dense_grad_weight(x, g, &mut dw),
        }
        dw
    }
}

/// A named parameter tensor of a layer.
#[derive(Debug)]
pub struct Param<'a, F> {
    /// Name within the layer, e.g. `w_in`.
    pub name: &'static str,
    /// Shape (`[rows, cols]` for weights, `[N]` for per-neuron values).
    pub shape: Vec<usize>,
    /// The values.
    pub data: &'a [F],
    /// Whether the optimizer updates it.
    pub learnable: bool,
}

/// Decays `exp(−dt/τ)` of per-neuron time constants.
fn decays<F: Real>(tau_s: &[F], dt_s: F) -> Vec<F> {
    tau_s.iter().map(|&tau| (-dt_s / tau).exp()).collect()
}

/// `x[t, b, j] += bias[j]`: a projection's bias at every step and sample.
pub(crate) fn add_bias<F: Real>(x: &mut Seq<F>, bias: Option<&[F]>) {
    if let Some(bias) = bias {
        for row in x.data.chunks_exact_mut(x.width.max(1)) {
            row.iter_mut().zip(bias).for_each(|(v, &b)| *v += b);
        }
    }
}

/// `∂L/∂b[j] = Σ_{t, b} g[t, b, j]`: a bias's gradient from its projection's.
pub(crate) fn bias_grad<F: Real>(g: &Seq<F>) -> Vec<F> {
    let mut sum = vec![F::zero(); g.width];
    for row in g.data.chunks_exact(g.width.max(1)) {
        sum.iter_mut().zip(row).for_each(|(s, &v)| *s += v);
    }
    sum
}

/// Zeroes the entries of `g` where `mask` is zero (pruned connections stay pruned).
pub(crate) fn apply_mask<F: Real>(g: &mut [F], mask: Option<&[F]>) {
    if let Some(mask) = mask {
        for (g, &m) in g.iter_mut().zip(mask) {
            *g *= m;
        }
    }
}
