//! Gradient rules: how the gradients of one batch are computed.
//!
//! A rule receives the network and one binned batch and returns the batch's loss, its
//! statistics and one gradient per learnable tensor ([`crate::network::Network::tensors`]
//! order). The trainer is generic over the rule ([`GradientRule`]); [`Rule`] is the rule a
//! config chooses (`[training] rule = { kind = "bptt" }`).
//!
//! - [`Bptt`]: backpropagation through time with surrogate gradients (the default).
//! - [`Rtrl`]: exact forward-mode gradients (real-time recurrent learning), for small networks.
//! - [`Eprop`]: e-prop, the online diagonal approximation (symmetric or random feedback).
//! - [`LocalBptt`]: BPTT without the recurrent Jacobian's cross-neuron terms, e-prop's exact
//!   reference.

mod bptt;
mod eprop;
mod in_the_loop;
mod rtrl;
mod superspike;

pub use bptt::{Bptt, LocalBptt};
pub use eprop::{Eprop, Feedback, DEFAULT_EPROP_CHUNK_STEPS};
pub use in_the_loop::InTheLoop;
pub use rtrl::{Rtrl, DEFAULT_RTRL_MEMORY_MB};
pub use superspike::{Homeostasis, SuperSpike, SuperSpikeFeedback, SuperSpikeTraces};

use crate::layers::Input;
use crate::losses::{self, LossError, LossKind, LossOutput, Targets};
use crate::network::{Gradients, Network, NetworkTrace};
use crate::neurons::NoiseStream;
use crate::real::Real;
use crate::regularizers::{activity_count_penalties, ActivityRegularizer, RegularizerError};
use crate::tensor::Seq;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The gradient rule of a config (`[training] rule = { kind = ... }`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleKind {
    /// Backpropagation through time ([`Bptt`]).
    #[default]
    Bptt,
    /// Real-time recurrent learning ([`Rtrl`]).
    Rtrl {
        /// The most memory a batch may take, in MB.
        #[serde(default = "default_rtrl_memory_mb")]
        max_memory_mb: f64,
    },
    /// e-prop ([`Eprop`]).
    Eprop {
        /// Symmetric (`W_outᵀ`) or fixed random feedback.
        #[serde(default)]
        feedback: Feedback,
        /// Steps per chunk of the online pass.
        #[serde(default = "default_eprop_chunk_steps")]
        chunk_steps: usize,
    },
    /// SuperSpike ([`SuperSpike`]): spiking outputs, the van Rossum loss.
    #[serde(rename = "superspike")]
    SuperSpike {
        /// Symmetric, random or uniform feedback to hidden layers.
        #[serde(default)]
        feedback: SuperSpikeFeedback,
        /// The hidden weights' decay under random feedback.
        #[serde(default)]
        homeostasis: Homeostasis,
    },
}

fn default_rtrl_memory_mb() -> f64 {
    DEFAULT_RTRL_MEMORY_MB
}

fn default_eprop_chunk_steps() -> usize {
    DEFAULT_EPROP_CHUNK_STEPS
}

/// The longest chunk e-prop runs at once.
pub const MAX_EPROP_CHUNK_STEPS: usize = 100_000;

impl RuleKind {
    /// Checks that the rule applies to networks of `spec` (before any training): forward-mode
    /// rules run no encoder and no dropout, and e-prop needs one hidden layer and a readout
    /// with one pair of time constants. Errors name the config field.
    pub fn check_network(
        &self,
        spec: &crate::network::NetworkSpec,
    ) -> Result<(), (String, String)> {
        let name = match self {
            RuleKind::Bptt => return Ok(()),
            RuleKind::Rtrl { .. } => "rtrl",
            RuleKind::Eprop { .. } => "eprop",
            RuleKind::SuperSpike { .. } => "superspike",
        };
        let refuse = |field: &str, what: &str| Err((field.to_string(), format!("{name} {what}")));
        if spec.encoder.is_some() {
            return refuse("network.encoder", "does not run an encoder");
        }
        if let Some((k, s)) = spec.first_structured() {
            return refuse(
                &format!("network.hidden[{k}].{}", s.field()),
                &format!("does not run {} (they train with bptt)", s.layers()),
            );
        }
        let spiking_output = spec.readout.kind == crate::layers::ReadoutKind::Spikes;
        if let RuleKind::SuperSpike { .. } = self {
            if !spiking_output {
                return refuse(
                    "network.readout.kind",
                    "trains spiking outputs: set it to \"spikes\"",
                );
            }
            if let Some(k) = spec
                .hidden
                .iter()
                .position(|l| !superspike::knows_psp(l.neuron))
            {
                return refuse(
                    &format!("network.hidden[{k}].neuron"),
                    "needs LIF or spiking prospective neurons",
                );
            }
            if let Some(k) = spec
                .hidden
                .iter()
                .position(|l| l.tau_spread != 0.0 || l.learn_tau)
            {
                return refuse(
                    &format!("network.hidden[{k}]"),
                    "uses one PSP kernel per layer: tau_spread = 0 and learn_tau = false",
                );
            }
        } else if spiking_output {
            return refuse(
                "network.readout.kind",
                "needs a leaky readout (spiking outputs train with bptt or superspike)",
            );
        }
        if let Some(k) = spec.hidden.iter().position(|l| l.bias) {
            return refuse(
                &format!("network.hidden[{k}].bias"),
                "has no bias gradient: biases train with bptt",
            );
        }
        if spec.readout.bias {
            return refuse(
                "network.readout.bias",
                "has no bias gradient: biases train with bptt",
            );
        }
        if spec.readout.head_count() > 1 {
            return refuse(
                "network.readout.heads",
                "keeps one leaky unit per output: several readout heads train with bptt",
            );
        }
        if let Some(k) = spec.hidden.iter().position(|l| l.dropout > 0.0) {
            return refuse(
                &format!("network.hidden[{k}].dropout"),
                "does not support dropout",
            );
        }
        if let RuleKind::Eprop { .. } = self {
            if spec.hidden.len() != 1 {
                return refuse("network.hidden", "needs exactly one hidden layer");
            }
            if spec.readout.tau_spread != 0.0 || spec.readout.learn_tau {
                return refuse(
                    "network.readout",
                    "filters its traces with one readout kernel: tau_spread = 0 and learn_tau = false",
                );
            }
        }
        Ok(())
    }

    /// Checks the rule's settings; errors name the field (`max_memory_mb`, ...).
    pub fn validate(&self) -> Result<(), (String, String)> {
        match *self {
            RuleKind::Bptt => Ok(()),
            RuleKind::Rtrl { max_memory_mb } => {
                if max_memory_mb > 0.0 && max_memory_mb.is_finite() {
                    Ok(())
                } else {
                    let e = format!("must be positive and finite, got {max_memory_mb}");
                    Err(("max_memory_mb".into(), e))
                }
            }
            RuleKind::Eprop { chunk_steps, .. } => {
                if (1..=MAX_EPROP_CHUNK_STEPS).contains(&chunk_steps) {
                    Ok(())
                } else {
                    let e =
                        format!("must be between 1 and {MAX_EPROP_CHUNK_STEPS}, got {chunk_steps}");
                    Err(("chunk_steps".into(), e))
                }
            }
            RuleKind::SuperSpike { homeostasis, .. } => {
                let Homeostasis { rho, tau_ms } = homeostasis;
                if !(rho.is_finite() && rho >= 0.0) {
                    Err((
                        "homeostasis.rho".into(),
                        format!("must be finite and ≥ 0, got {rho}"),
                    ))
                } else if !(tau_ms.is_finite() && tau_ms > 0.0) {
                    Err((
                        "homeostasis.tau_ms".into(),
                        format!("must be positive, got {tau_ms}"),
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// Why a rule could not compute a batch's gradients.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// A value became NaN or infinite; the string names where.
    #[error("non-finite values in {0}")]
    NonFinite(String),
    /// The network cannot run on the emulated substrate.
    #[error(transparent)]
    Substrate(#[from] crate::substrate::SubstrateError),
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
    /// The rule would need more memory than allowed.
    #[error("{rule} needs {needed_mb:.1} MB for this batch, more than its limit of {limit_mb} MB ({detail})")]
    MemoryLimit {
        /// The rule's name.
        rule: &'static str,
        /// What it would need.
        needed_mb: f64,
        /// The limit.
        limit_mb: f64,
        /// Where the memory goes, and what to change.
        detail: String,
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
    /// Real-time recurrent learning.
    Rtrl(Rtrl),
    /// e-prop.
    Eprop(Eprop),
    /// SuperSpike.
    SuperSpike(SuperSpike),
    /// BPTT with an emulated substrate in the loop (chosen by a run's `[substrate]`).
    InTheLoop(InTheLoop),
}

impl Rule {
    /// The rule of `kind` for `net`; rules with random parts (random feedback) draw them from
    /// `seed`.
    pub fn new<F: Real>(kind: RuleKind, net: &Network<F>, seed: u64) -> Self {
        match kind {
            RuleKind::Bptt => Rule::Bptt,
            RuleKind::Rtrl { max_memory_mb } => Rule::Rtrl(Rtrl { max_memory_mb }),
            RuleKind::Eprop {
                feedback,
                chunk_steps,
            } => Rule::Eprop(Eprop::new(feedback, chunk_steps, net, seed)),
            RuleKind::SuperSpike {
                feedback,
                homeostasis,
            } => Rule::SuperSpike(SuperSpike::new(feedback, homeostasis, net, seed)),
        }
    }
}

impl Rule {
    /// The rule's name in configs and reports.
    pub fn name(&self) -> &'static str {
        match self {
            Rule::Bptt => "bptt",
            Rule::Rtrl(_) => "rtrl",
            Rule::Eprop(Eprop {
                feedback: Feedback::Random,
                ..
            }) => "eprop_random",
            Rule::Eprop(_) => "eprop",
            Rule::SuperSpike(SuperSpike { feedback, .. }) => match feedback {
                SuperSpikeFeedback::Symmetric => "superspike",
                SuperSpikeFeedback::Random => "superspike_random",
                SuperSpikeFeedback::Uniform => "superspike_uniform",
            },
            Rule::InTheLoop(_) => "bptt_in_the_loop",
        }
    }

    /// What the rule keeps between batches, saved in checkpoints: `(name, shape, values)`
    /// (e-prop's random feedback matrix).
    pub fn state_tensors(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        match self {
            Rule::Eprop(Eprop {
                random: Some(b), ..
            }) => {
                let values = b.data.iter().map(|&v| v as f32).collect();
                vec![("eprop.feedback".into(), vec![b.rows, b.cols], values)]
            }
            _ => Vec::new(),
        }
    }

    /// Restores the tensor `name` of [`Self::state_tensors`] from a checkpoint.
    pub fn load_state(
        &mut self,
        name: &str,
        shape: &[usize],
        values: &[f32],
    ) -> Result<(), String> {
        match self {
            Rule::Eprop(Eprop {
                random: Some(b), ..
            }) if name == "eprop.feedback" => {
                if shape != [b.rows, b.cols] || values.len() != b.data.len() {
                    return Err(format!(
                        "{name} has shape {shape:?}, the network needs [{}, {}]",
                        b.rows, b.cols
                    ));
                }
                b.data = values.iter().map(|&v| f64::from(v)).collect();
                Ok(())
            }
            _ => Err(format!("the rule keeps no tensor `{name}`")),
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
            Rule::Rtrl(rule) => rule.gradients(net, batch),
            Rule::Eprop(rule) => rule.gradients(net, batch),
            Rule::SuperSpike(rule) => rule.gradients(net, batch),
            Rule::InTheLoop(rule) => rule.gradients(net, batch),
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
    evaluate_trace(trace, net.spec.dt_ms, targets, loss)
}

/// Checks that every state of `trace` (a forward pass at time step `dt_ms`) is finite and
/// evaluates the loss on its output.
pub fn evaluate_trace<F: Real>(
    trace: NetworkTrace<F>,
    dt_ms: f64,
    targets: Targets<'_>,
    loss: LossKind,
) -> Result<Evaluated<F>, RuleError> {
    check_forward(&trace)?;
    let loss = losses::compute_timed(loss, dt_ms, trace.output(), targets)?;
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

/// Refuses what forward-mode rules do not run: an encoder, and dropout during training.
fn check_online_rule<F: Real>(
    rule: &'static str,
    net: &Network<F>,
    batch: &Batch<'_, F>,
) -> Result<(), RuleError> {
    let unsupported = |what: &str| RuleError::Unsupported {
        rule,
        what: what.into(),
    };
    if net.encoder.is_some() {
        return Err(unsupported("a network with an encoder"));
    }
    if batch.dropout.is_some() && net.hidden.iter().any(|l| l.spec.dropout > 0.0) {
        return Err(unsupported("dropout"));
    }
    Ok(())
}

/// The activity regularizers' penalty and, per hidden layer, `∂R/∂cnt` `[B, N]` (none
/// without regularizers), from each layer's spikes `[T, B, N]`.
fn activity_penalties<F: Real>(
    activity: &[ActivityRegularizer],
    spikes: &[Seq<F>],
) -> Result<(f64, Vec<Vec<F>>), RuleError> {
    if activity.is_empty() {
        return Ok((0.0, Vec::new()));
    }
    let mut total = 0.0;
    let mut grads = Vec::with_capacity(spikes.len());
    for s in spikes {
        let mut counts = vec![0.0; s.batch * s.width];
        s.sum_steps_into(&mut counts);
        let mut g = Vec::new();
        total += activity_count_penalties(activity, &counts, s.width, &mut g)?;
        grads.push(g);
    }
    Ok((total, grads))
}

/// The flat gradient of every learnable tensor, split (`sizes` in [`Network::tensors`] order),
/// with pruned connections' gradients zeroed as BPTT zeroes them.
fn masked_tensors<F: Real>(net: &Network<F>, sizes: &[usize], flat: Vec<F>) -> Gradients<F> {
    let mut rest = &flat[..];
    let mut tensors: Vec<Vec<F>> = sizes
        .iter()
        .map(|&n| {
            let (head, tail) = rest.split_at(n);
            rest = tail;
            head.to_vec()
        })
        .collect();
    let mut k = 0;
    for layer in &net.hidden {
        crate::layers::apply_mask(&mut tensors[k], layer.mask_in.as_deref());
        k += 1;
        if layer.w_rec.is_some() {
            crate::layers::apply_mask(&mut tensors[k], layer.mask_rec.as_deref());
            k += 1;
        }
        k += layer.neurons.slot_chains().len();
    }
    if net.readout.has_weights() {
        crate::layers::apply_mask(&mut tensors[k], net.readout.mask.as_deref());
    }
    tensors
}
