//! Integer inference: int8 weights, fixed-point state and integer decays, with no floating
//! point in the time loop, as edge processors and neuromorphic chips run a network.
//!
//! An [`IntegerNetwork`] is built from a float [`Network`] through its post-training int8
//! quantization ([`QuantizedNetwork`]: one symmetric scale per weight matrix). It supports
//! hidden layers of current-based LIF neurons (feed-forward and recurrent weights, per-neuron
//! time constants) with binary deterministic spikes (`network.spike` of kind `"heaviside"`),
//! and a leaky readout or the last layer's spikes as the output; input is spikes. Any other
//! neuron model, spike function, an encoder or analog input is an error naming it.
//!
//! # The fixed-point format
//!
//! Every state value (synaptic current `I`, membrane `U`) is an `i32` in **`Q15.16`**: the
//! integer `v` stands for `v / 2¹⁶` ([`FRAC_BITS`]). A hidden layer's states are in units of
//! its threshold `θ` (`v = U/θ · 2¹⁶`, so the threshold is [`STATE_ONE`] `= 2¹⁶`); the
//! readout's are in the float model's own units. Results saturate to
//! `[−(2³¹ − 1), 2³¹ − 1]`. Intermediate products are `i64`.
//!
//! **Rounding**: `round_shift(v, n) = (v + 2ⁿ⁻¹) >> n` (arithmetic shift): to the nearest
//! integer, ties toward `+∞`.
//!
//! **Weights and requantisation**: a matrix stores `q = round(w / s)` in `[−127, 127]`. The
//! input of neuron `j` at step `t` accumulates `acc_j = Σ_{i spiking} q[i, j]` in `i32`
//! (event-driven: one row per input spike), and enters the state format through the matrix's
//! multiplier `m = s · 2¹⁶ / θ` (`θ = 1` for the readout), represented as TFLite and CMSIS-NN
//! do by an integer `2³⁰ ≤ M < 2³¹` and a shift `n` with `m ≈ M · 2⁻ⁿ`
//! ([`Requant`]): `x_j = round_shift(acc_j · M, n)`. A recurrent layer adds its `W_rec`
//! term, requantised with its own `M, n`, from the previous step's spikes.
//!
//! **Decays**: `α = round(exp(−dt/τ_syn) · 2¹⁶)`, `β = round(exp(−dt/τ_mem) · 2¹⁶)` per neuron
//! (`Q0.16`, [`DECAY_BITS`]; computed once from the float model's `f32` decays), and
//! `1 − β` is the integer `2¹⁶ − β`.
//!
//! **One step** of a hidden neuron (`S` its spike, `S[t−1]` the previous one):
//!
//! ```text
//! I[t] = sat(round_shift(α · I[t−1], 16) + x[t])
//! U[t] = sat(round_shift(β · K[t−1] + (2¹⁶ − β) · I[t], 16))
//! S[t] = U[t] > 2¹⁶                       (U > θ)
//! ```
//!
//! with `K[t−1]` the membrane after the reset, as the float model's: `U[t−1] · (1 − S[t−1])`
//! (reset to zero) or `U[t−1] − 2¹⁶ S[t−1]` (by subtraction of `θ`); subtracting after the
//! leak, `K[t−1] = U[t−1]` and `sat(U[t] − 2¹⁶ S[t−1])` replaces `U[t]`.
//!
//! The readout is the same without threshold and reset; its membranes `U[t, c]` are the
//! output. The class scores are read off them in integers as the loss reads its logits
//! ([`Readoff`]: maximum over time, a sum over steps, or the last step), the prediction being
//! the first class of the largest score. Everything starts from zero.
//!
//! The float model computes the same equations in `f32` ([`crate::neurons::lif`]); the
//! differences are the int8 weights, the rounding of every step and of the decays. `run`
//! and `eval` report the integer output as reals `v / 2¹⁶` (and the loss of those), outside
//! the time loop.
//!
//! A straightforward scalar reference in the tests (dense sums in `i64`, rounding by Euclidean
//! division) checks [`IntegerNetwork::forward`] bit for bit.

mod evaluate;
mod fixed;
mod forward;
mod layer;
mod neuron;
mod record;
mod score;

pub use evaluate::{evaluate, EvalScope, Evaluation};
pub use fixed::{
    decay_multiplier, round_shift, saturate, Requant, DECAY_BITS, DECAY_ONE, FRAC_BITS, STATE_MAX,
    STATE_ONE,
};
pub use forward::IntegerTrace;
pub use layer::{IntegerDecays, IntegerLayer, IntegerReadout, IntegerWeights};
pub use neuron::step;
pub use record::infer;
pub use score::Readoff;

use super::{QuantError, QuantizedNetwork};
use crate::data::DataError;
use crate::layers::ReadoutKind;
use crate::losses::LossError;
use crate::network::Network;
use crate::surrogates::SpikeFn;

/// Why a network cannot run in integers, or an integer run failed.
#[derive(Debug, thiserror::Error)]
pub enum IntegerError {
    /// Something the integer path does not support (named: layer and kind, spike function...).
    #[error("integer inference: {0}")]
    Unsupported(String),
    /// A requantisation multiplier out of range.
    #[error("integer inference: {tensor}: requantisation multiplier {multiplier}: {reason}")]
    Requant {
        /// The weight matrix.
        tensor: String,
        /// The real multiplier `scale · 2¹⁶ / θ`.
        multiplier: f64,
        /// What is wrong with it.
        reason: String,
    },
    /// The input's width is not the network's.
    #[error("integer inference: the input has {got} channels, the network {expected}")]
    InputWidth {
        /// The network's inputs.
        expected: usize,
        /// The input's channels.
        got: usize,
    },
    /// Malformed input spikes.
    #[error("integer inference: bad input: {0}")]
    BadInput(String),
    /// The weights could not be quantized.
    #[error(transparent)]
    Quant(#[from] QuantError),
    /// The data could not be read or binned.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The loss could not be evaluated.
    #[error(transparent)]
    Loss(#[from] LossError),
}

/// A network in integers (see the [module documentation](self) for the arithmetic).
#[derive(Clone, Debug, PartialEq)]
pub struct IntegerNetwork {
    inputs: usize,
    dt_s: f64,
    hidden: Vec<IntegerLayer>,
    readout: Option<IntegerReadout>,
}

impl IntegerNetwork {
    /// The integer form of `net`: its weights quantized to int8 (post-training; a run stored
    /// as int8 quantizes to the same integers), its decays and requantisation multipliers.
    pub fn from_network(net: &Network<f32>) -> Result<Self, IntegerError> {
        check_supported(net)?;
        let quantized = QuantizedNetwork::quantize(net)?;
        let hidden = net
            .hidden
            .iter()
            .enumerate()
            .map(|(k, layer)| IntegerLayer::new(k, layer, &quantized))
            .collect::<Result<Vec<_>, _>>()?;
        let readout = match net.readout.has_weights() {
            true => Some(IntegerReadout::new(&net.readout, &quantized)?),
            false => None,
        };
        Ok(Self {
            inputs: net.spec.inputs,
            dt_s: net.spec.dt_ms * 1e-3,
            hidden,
            readout,
        })
    }

    /// Input channels.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// The time step in seconds.
    pub fn dt_s(&self) -> f64 {
        self.dt_s
    }

    /// The hidden layers, input side first.
    pub fn hidden(&self) -> &[IntegerLayer] {
        &self.hidden
    }

    /// The leaky readout (`None`: the last hidden layer's spikes are the output).
    pub fn readout(&self) -> Option<&IntegerReadout> {
        self.readout.as_ref()
    }

    /// Output units.
    pub fn outputs(&self) -> usize {
        match (&self.readout, self.hidden.last()) {
            (Some(r), _) => r.size(),
            (None, Some(last)) => last.size(),
            (None, None) => 0,
        }
    }
}

/// What the integer path refuses before looking at any layer.
fn check_supported(net: &Network<f32>) -> Result<(), IntegerError> {
    let unsupported = |what: &str| Err(IntegerError::Unsupported(what.to_string()));
    match net.spec.spike {
        SpikeFn::Heaviside { .. } => {}
        SpikeFn::Relaxed { .. } => {
            return unsupported(
                "network.spike is \"relaxed\" (smooth spikes); integer inference needs binary \
                 spikes",
            )
        }
        SpikeFn::EscapeNoise { .. } => {
            return unsupported(
                "network.spike is \"escape_noise\" (stochastic spikes); integer inference is \
                 deterministic",
            )
        }
    }
    if net.encoder.is_some() {
        return unsupported(
            "the network has a LIF encoder of analog input; integer inference takes input spikes",
        );
    }
    if net.readout.spec.kind == ReadoutKind::Integrator {
        return unsupported("an integrator readout (the integer readout is leaky)");
    }
    if net.hidden.is_empty() && !net.readout.has_weights() {
        return unsupported("the network has no hidden layer and no leaky readout");
    }
    if let Some((k, s)) = net.spec.first_structured() {
        return unsupported(&format!(
            "network.hidden[{k}].{}: integer inference does not run {}",
            s.field(),
            s.layers()
        ));
    }
    if let Some(k) = net.hidden.iter().position(|l| l.b_in.is_some()) {
        return unsupported(&format!("network.hidden[{k}].bias: biased projections"));
    }
    if net.readout.b.is_some() {
        return unsupported("network.readout.bias: a biased readout projection");
    }
    Ok(())
}

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
