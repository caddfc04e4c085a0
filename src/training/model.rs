//! What the trainer needs of a model family and of the rule that computes its gradients, so
//! that one trainer (optimizers, schedules, clipping, penalties, consolidation, checkpoints)
//! serves spiking networks and dense ones alike.

use super::batch::{self, BatchFailure, EvalScope};
use super::{BatchError, EvalStats, TrainError};
use crate::config::TrainingConfig;
use crate::data::{Augmentation, Dataset};
use crate::network::{Gradients, NamedTensor, Network};
use crate::neurons::NoiseStream;
use crate::quant::{QuantError, Quantization, QuantizedNetwork};
use crate::rules::Rule;
use rand_chacha::ChaCha8Rng;
use std::borrow::Cow;

/// A trainable model: named tensors, constraints, evaluation.
pub trait Model: Clone + Send + Sync {
    /// Every parameter tensor, in a fixed order.
    fn tensors(&self) -> Vec<NamedTensor<'_, f32>>;
    /// Mutable views of the learnable tensors, in the order gradients come.
    fn learnable_mut(&mut self) -> Vec<&mut Vec<f32>>;
    /// Restores what an optimizer step may violate (e.g. τ ≥ dt).
    fn apply_constraints(&mut self);
    /// Clips every synaptic weight into `[−bound, bound]`.
    fn bound_weights(&mut self, bound: f32);
    /// The model the forward and backward passes run: itself, or a fake-quantized copy.
    fn forward_model(&self, quantize: Quantization) -> Result<Cow<'_, Self>, QuantError>;
    /// Hidden layers whose activity [`EvalStats`] counts.
    fn hidden_layers(&self) -> usize;
    /// Loss, accuracy and activity on a scope's samples and head (no gradients, no dropout).
    fn evaluate_scope(&self, scope: EvalScope<'_>) -> Result<EvalStats, TrainError>;
    /// Loss, accuracy and activity on `indices`, every output scored.
    fn evaluate(
        &self,
        config: &TrainingConfig,
        data: &Dataset,
        indices: &[usize],
        steps: usize,
    ) -> Result<EvalStats, TrainError> {
        self.evaluate_scope(EvalScope {
            config,
            data,
            indices,
            steps,
            head: None,
        })
    }
}

/// One training batch as a rule sees it.
pub struct BatchContext<'a> {
    /// The training settings (loss, regularizers).
    pub config: &'a TrainingConfig,
    /// The samples.
    pub data: &'a Dataset,
    /// The batch's sample indices.
    pub indices: &'a [usize],
    /// Time steps per sample.
    pub steps: usize,
    /// Dropout's random numbers (none: no dropout).
    pub dropout: Option<&'a mut ChaCha8Rng>,
    /// Augmentation of the samples (none: as stored).
    pub augment: Option<Augmentation<'a>>,
    /// Stochastic neurons' noise.
    pub noise: NoiseStream,
    /// The outputs the loss scores (`None`: all; one task's head in multi-head continual
    /// learning).
    pub head: Option<&'a [usize]>,
}

/// Computes a model's gradients on a batch (BPTT, RTRL, e-prop, … for spiking networks;
/// backpropagation for dense ones) and keeps whatever state the rule carries.
pub trait Learner<M>: Clone + Send + Sync {
    /// The batch's statistics and one gradient per learnable tensor.
    fn batch_gradients(
        &self,
        model: &M,
        batch: BatchContext<'_>,
    ) -> Result<(EvalStats, Gradients<f32>), BatchError>;
    /// Tensors the rule keeps between batches (saved in checkpoints as `rule.NAME`).
    fn state_tensors(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        Vec::new()
    }
    /// Restores a tensor of [`Self::state_tensors`].
    fn load_state(&mut self, name: &str, _shape: &[usize], _values: &[f32]) -> Result<(), String> {
        Err(format!("this rule keeps no tensor `{name}`"))
    }
}

impl Model for Network<f32> {
    fn tensors(&self) -> Vec<NamedTensor<'_, f32>> {
        Network::tensors(self)
    }
    fn learnable_mut(&mut self) -> Vec<&mut Vec<f32>> {
        Network::learnable_mut(self)
    }
    fn apply_constraints(&mut self) {
        Network::apply_constraints(self)
    }
    fn bound_weights(&mut self, bound: f32) {
        Network::bound_weights(self, bound)
    }
    fn forward_model(&self, quantize: Quantization) -> Result<Cow<'_, Self>, QuantError> {
        Ok(match quantize {
            Quantization::None => Cow::Borrowed(self),
            Quantization::Int8 => Cow::Owned(QuantizedNetwork::quantize(self)?.net),
        })
    }
    fn hidden_layers(&self) -> usize {
        self.hidden.len()
    }
    fn evaluate_scope(&self, scope: EvalScope<'_>) -> Result<EvalStats, TrainError> {
        batch::evaluate_scope(self, scope, &mut |_| {})
    }
}

/// The rule a spiking config chooses (BPTT, RTRL, e-prop, SuperSpike).
impl Learner<Network<f32>> for Rule {
    fn batch_gradients(
        &self,
        net: &Network<f32>,
        b: BatchContext<'_>,
    ) -> Result<(EvalStats, Gradients<f32>), BatchError> {
        batch::train_batch(self, net, b).map_err(BatchError)
    }
    fn state_tensors(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        Rule::state_tensors(self)
    }
    fn load_state(&mut self, name: &str, shape: &[usize], values: &[f32]) -> Result<(), String> {
        Rule::load_state(self, name, shape, values)
    }
}

impl From<BatchFailure> for BatchError {
    fn from(e: BatchFailure) -> Self {
        BatchError(e)
    }
}
