//! Gradient rules: how the gradients of one batch are computed.
//!
//! A rule receives the network and one binned batch and returns the batch's loss, its
//! statistics and one gradient per learnable tensor ([`crate::network::Network::tensors`]
//! order). The trainer is generic over the rule ([`GradientRule`]); [`Rule`] is the rule a
//! config chooses (`[training] rule = { kind = "bptt" }`).
//!
//! - [`Bptt`]: backpropagation through time with surrogate gradients (the default).

mod bptt;

pub use bptt::Bptt;

use crate::layers::Input;
use crate::losses::{self, LossError, LossKind, LossOutput, Targets};
use crate::network::{Gradients, Network, NetworkTrace};
use crate::neurons::NoiseStream;
use crate::real::Real;
use crate::regularizers::{ActivityRegularizer, RegularizerError};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The gradient rule of a config (`[training] rule = { kind = ... }`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleKind {
    /// Backpropagation through time ([`Bptt`]).
    #[default]
    Bptt,
}

/// Why a rule could not compute a batch's gradients.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// A value became NaN or infinite; the string names where.
    #[error("non-finite values in {0}")]
    NonFinite(String),
    /// The loss could not be evaluated.
    #[error(transparent)]
    Loss(#[from] LossError),
    /// A regularizer is invalid.
    #[error(transparent)]
    Regularizer(#[from] RegularizerError),
    /// The rule does not apply to this network or setting.
    #[error("{rule} does not support {what}")]
    Unsupported {
        /// The rule's name.
        rule: &'static str,
        /// What it does not support.
        what: String,
    },
}

/// One binned batch as a rule sees it.
pub struct Batch<'a, F> {
    /// The network input.
    pub input: Input<'a, F>,
    /// The targets.
    pub targets: Targets<'a>,
    /// The loss.
    pub loss: LossKind,
    /// Activity regularizers on every hidden layer's spike counts.
    pub activity: &'a [ActivityRegularizer],
    /// Dropout's random numbers (dropout is off without them).
    pub dropout: Option<&'a mut ChaCha8Rng>,
    /// The noise stream of stochastic neurons.
    pub noise: NoiseStream,
}

/// What a rule computes for one batch.
#[derive(Clone, Debug)]
pub struct BatchGradients<F> {
    /// The batch's mean task loss.
    pub loss: f64,
    /// Correct predictions (classification; 0 for regression).
    pub correct: usize,
    /// The activity regularizers' penalty (a mean over the batch).
    pub reg_loss: f64,
    /// Spikes emitted by each hidden layer.
    pub spikes: Vec<f64>,
    /// One gradient per learnable tensor, in [`Network::tensors`] order.
    pub grads: Gradients<F>,
}

/// A way of computing the gradients of a batch.
pub trait GradientRule<F: Real> {
    /// The loss, statistics and gradients of one batch.
    fn gradients(
        &self,
        net: &Network<F>,
        batch: Batch<'_, F>,
    ) -> Result<BatchGradients<F>, RuleError>;
}

/// The rule a config chooses.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Rule {
    /// Backpropagation through time.
    #[default]
    Bptt,
}

impl Rule {
    /// The rule of `kind`.
    pub fn new(kind: RuleKind) -> Self {
        match kind {
            RuleKind::Bptt => Rule::Bptt,
        }
    }
}

impl<F: Real> GradientRule<F> for Rule {
    fn gradients(
        &self,
        net: &Network<F>,
        batch: Batch<'_, F>,
    ) -> Result<BatchGradients<F>, RuleError> {
        match self {
            Rule::Bptt => Bptt.gradients(net, batch),
        }
    }
}

/// A forward pass with its loss: what every evaluation and BPTT start from.
pub struct Evaluated<F: Real> {
    /// The forward pass.
    pub trace: NetworkTrace<F>,
    /// The loss, its gradient and the predictions.
    pub loss: LossOutput<F>,
}

/// Runs `net` on `input` (dropout with `dropout`), checks that every state is finite and
/// evaluates the loss.
pub fn forward_loss<F: Real>(
    net: &Network<F>,
    input: Input<'_, F>,
    targets: Targets<'_>,
    loss: LossKind,
    dropout: Option<&mut ChaCha8Rng>,
    noise: NoiseStream,
) -> Result<Evaluated<F>, RuleError> {
    let trace = net.forward_in(input, dropout, noise);
    check_forward(&trace)?;
    let loss = losses::compute(loss, trace.output(), targets)?;
    if !loss.loss.is_finite() {
        return Err(RuleError::NonFinite("the loss".into()));
    }
    Ok(Evaluated { trace, loss })
}

/// Names the first layer whose state is not finite. (A NaN membrane emits no spikes, so it
/// would not show in the output: every layer is checked.)
fn check_forward<F: Real>(trace: &NetworkTrace<F>) -> Result<(), RuleError> {
    if trace.encoder.as_ref().is_some_and(|e| !e.is_finite()) {
        return Err(RuleError::NonFinite("the state of the encoder".into()));
    }
    for (k, layer) in trace.hidden.iter().enumerate() {
        if !layer.is_finite() {
            return Err(RuleError::NonFinite(format!(
                "the state of hidden layer {k}"
            )));
        }
    }
    if trace.output().data.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(RuleError::NonFinite("the readout output".into()))
    }
}
