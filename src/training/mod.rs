//! Mini-batch training: a gradient rule's gradients (BPTT by default, see [`crate::rules`]),
//! weight penalties, gradient clipping, optimizer steps.
//!
//! Every random draw of an epoch (batch order, dropout, stochastic neurons) is derived from the
//! run's seed and the epoch number, so an epoch's result does not depend on how the run got
//! there (uninterrupted or resumed from a checkpoint), nor on the number of threads.
//!
//! With `quantize = "int8"` (quantization-aware training) the trainer keeps f32 master weights
//! and runs every forward and backward pass on a copy whose weight matrices are quantized and
//! dequantized ([`Trainer::forward_network`]); the gradient with respect to those fake-quantized
//! weights is applied to the master weights as it is (straight-through estimator, see
//! [`crate::quant`]). The neuron kernels are unchanged.

mod batch;
mod dense;
mod model;

pub use batch::{
    batch_input, evaluate, evaluate_observed, evaluate_on_device, rule_gradients, BatchObserver,
    BatchView, EvalScope, EvalStats,
};
pub use dense::Backprop;
pub use model::{BatchContext, Learner, Model};

use crate::config::TrainingConfig;
use crate::consolidation::Consolidation;
use crate::data::{batches, AugmentConfig, Augmentation, DataError, Dataset};
use crate::losses::LossError;
use crate::network::{Gradients, NamedTensor, Network};
use crate::neurons::NoiseStream;
use crate::optimizers::{clip_grad_norm, OptimError, Optimizer};
use crate::quant::QuantError;
use crate::regularizers::{add_weight_penalty, RegularizerError};
use crate::rules::{Rule, RuleError};
use crate::synapses::Metaplasticity;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::borrow::Cow;

/// Why training stopped.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A value became NaN or infinite; `place` names the layer or tensor.
    #[error("non-finite values in {place} at epoch {epoch}, batch {batch}")]
    NonFinite {
        /// Where (e.g. `hidden.0 membrane`, `readout output`, `gradient of hidden.1.w_rec`).
        place: String,
        /// 1-based epoch.
        epoch: usize,
        /// 0-based batch within the epoch.
        batch: usize,
    },
    /// The data could not be batched.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The loss could not be evaluated.
    #[error(transparent)]
    Loss(#[from] LossError),
    /// A regularizer is invalid.
    #[error(transparent)]
    Regularizer(#[from] RegularizerError),
    /// The optimizer rejected a step.
    #[error(transparent)]
    Optimizer(#[from] OptimError),
    /// The weights could not be quantized (quantization-aware training).
    #[error(transparent)]
    Quantization(#[from] QuantError),
    /// The gradient rule could not run.
    #[error(transparent)]
    Rule(#[from] RuleError),
}

/// Derives an independent seed for `(seed, purpose, index)` (SplitMix64 finalizer).
pub fn derive_seed(seed: u64, purpose: u64, index: u64) -> u64 {
    let mut z = seed
        ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const SHUFFLE: u64 = 1;
const DROPOUT: u64 = 2;
const AUGMENT: u64 = 3;
const NOISE: u64 = 4;

/// A model with its gradient rule, optimizer and training settings.
#[derive(Clone, Debug)]
pub struct Trainer<R = Rule, M = Network<f32>> {
    /// The model being trained.
    pub net: M,
    /// How each batch's gradients are computed.
    pub rule: R,
    /// The optimizer over the network's learnable tensors.
    pub optimizer: Optimizer<f32>,
    /// The settings.
    pub config: TrainingConfig,
    /// Time steps per sample.
    pub steps: usize,
    /// Augmentation of the training samples (off by default).
    pub augment: AugmentConfig,
    /// A continual-learning penalty on moving parameters important to earlier tasks (none by
    /// default; see [`crate::continual`]).
    pub consolidation: Consolidation,
    /// The outputs the loss scores (all by default; the current task's head in multi-head
    /// continual learning).
    pub head: Option<Vec<usize>>,
}

/// Progress of one batch, for a progress display.
#[derive(Clone, Copy, Debug)]
pub struct BatchReport {
    /// Batches done in this epoch.
    pub done: usize,
    /// Batches in this epoch.
    pub total: usize,
    /// Task loss of the batch.
    pub loss: f64,
}

impl Trainer {
    /// A trainer for `net` with the config's rule (random parts drawn from seed 0) and a fresh
    /// optimizer.
    pub fn new(
        net: Network<f32>,
        config: TrainingConfig,
        steps: usize,
    ) -> Result<Self, OptimError> {
        let rule = Rule::new(config.rule, &net, 0);
        Trainer::with_rule(net, rule, config, steps)
    }
}

impl<M: Model, R: Learner<M>> Trainer<R, M> {
    /// A trainer for `net` that computes gradients with `rule`, with a fresh optimizer.
    pub fn with_rule(
        net: M,
        rule: R,
        config: TrainingConfig,
        steps: usize,
    ) -> Result<Self, OptimError> {
        let optimizer = fresh_optimizer(&config, &net)?;
        Ok(Self {
            net,
            rule,
            optimizer,
            config,
            steps,
            augment: AugmentConfig::default(),
            consolidation: Consolidation::None,
            head: None,
        })
    }

    /// One pass over `train` (indices into `data`); `epoch` is 1-based. Training samples are
    /// augmented with draws seeded by `seed` and `epoch` (see [`crate::data::augment`]).
    pub fn train_epoch(
        &mut self,
        data: &Dataset,
        train: &[usize],
        epoch: usize,
        seed: u64,
        progress: &mut dyn FnMut(BatchReport),
    ) -> Result<EvalStats, TrainError> {
        let order = batches(
            train,
            self.config.batch_size,
            Some(derive_seed(seed, SHUFFLE, epoch as u64)),
        )?;
        let lr = self.config.lr_at(epoch) as f32;
        let mut stats = EvalStats::new(self.net.hidden_layers());
        let augment = Augmentation {
            config: &self.augment,
            seed: derive_seed(seed, AUGMENT, epoch as u64),
        };
        for (b, indices) in order.iter().enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(
                seed,
                DROPOUT,
                ((epoch as u64) << 32) | b as u64,
            ));
            let noise = NoiseStream::derive(seed, &[NOISE, epoch as u64, b as u64]);
            let (eval, grads, reg, task) = self
                .augmented_gradients(data, indices, &mut rng, Some(augment), noise)
                .map_err(|e| e.at(epoch, b))?;
            let metaplastic = self
                .config
                .metaplasticity
                .map(|m| Metaplasticity { strength: m });
            let before = (task.is_some() || metaplastic.is_some()).then(|| self.learnable_values());
            let grad_views: Vec<&[f32]> = grads.iter().map(|g| g.as_slice()).collect();
            let mut params = self.net.learnable_mut();
            let mut param_views: Vec<&mut [f32]> =
                params.iter_mut().map(|p| p.as_mut_slice()).collect();
            self.optimizer.step(&mut param_views, &grad_views, lr)?;
            if let (Some(meta), Some(before)) = (metaplastic, &before) {
                modulate_weight_updates(&mut self.net, meta, before);
            }
            self.net.apply_constraints();
            if let Some(bound) = self.config.weight_bound {
                self.net.bound_weights(bound as f32);
            }
            if let (Some(task), Some(before)) = (task, before) {
                let tensors = self.net.tensors();
                let after = learnable_views(&tensors);
                self.consolidation.after_step(&task, &before, &after);
            }
            progress(BatchReport {
                done: b + 1,
                total: order.len(),
                loss: eval.loss / eval.samples as f64,
            });
            stats.merge(&eval);
            stats.reg_loss += reg * indices.len() as f64;
        }
        Ok(stats)
    }

    /// The network the forward and backward passes run: the master weights, or under
    /// quantization-aware training a copy with every weight matrix quantized and dequantized.
    /// Validation and test of a quantization-aware run evaluate this network.
    pub fn forward_network(&self) -> Result<Cow<'_, M>, QuantError> {
        self.net.forward_model(self.config.quantize)
    }

    /// One batch's statistics, the gradients the optimizer applies to the (master) weights —
    /// task and regularizer gradients at the [`Self::forward_network`] weights, weight
    /// penalties at the master weights, clipped — and the weight penalty.
    pub fn gradients(
        &self,
        data: &Dataset,
        indices: &[usize],
        dropout_rng: &mut ChaCha8Rng,
    ) -> Result<(EvalStats, Gradients<f32>, f64), BatchError> {
        let (eval, grads, reg, _) =
            self.augmented_gradients(data, indices, dropout_rng, None, NoiseStream::default())?;
        Ok((eval, grads, reg))
    }

    /// Starts the optimizer afresh (its moments and step count).
    pub fn reset_optimizer(&mut self) -> Result<(), OptimError> {
        self.optimizer = fresh_optimizer(&self.config, &self.net)?;
        Ok(())
    }

    /// The learnable tensors' values (a copy).
    pub fn learnable_values(&self) -> Vec<Vec<f32>> {
        let tensors = self.net.tensors();
        let learnable = tensors.iter().filter(|t| t.learnable);
        learnable.map(|t| t.data.to_vec()).collect()
    }

    /// The diagonal of the empirical Fisher information on `indices`: the mean over those
    /// samples of each learnable parameter's squared gradient of the sample's task loss (one
    /// sample per pass, no dropout, no penalties).
    pub fn fisher_diagonal(
        &self,
        data: &Dataset,
        indices: &[usize],
    ) -> Result<Gradients<f32>, TrainError> {
        let net = self.forward_network()?;
        let mut fisher: Gradients<f32> = Vec::new();
        for (i, &sample) in indices.iter().enumerate() {
            let context = BatchContext {
                config: &self.config,
                data,
                indices: &[sample],
                steps: self.steps,
                dropout: None,
                augment: None,
                noise: NoiseStream::default(),
                head: self.head.as_deref(),
            };
            let (_, grads) = self
                .rule
                .batch_gradients(&net, context)
                .map_err(|e| e.at(0, i))?;
            if fisher.is_empty() {
                fisher = grads.iter().map(|g| vec![0.0; g.len()]).collect();
            }
            for (f, g) in fisher.iter_mut().zip(&grads) {
                f.iter_mut().zip(g).for_each(|(f, &g)| *f += g * g);
            }
        }
        let n = indices.len().max(1) as f32;
        fisher.iter_mut().flatten().for_each(|f| *f /= n);
        Ok(fisher)
    }

    /// [`Self::gradients`] of the samples transformed by `augment` first, with stochastic
    /// neurons drawing from `noise`; also the task gradient alone (before penalties) when the
    /// consolidation tracks steps.
    #[allow(clippy::type_complexity)]
    fn augmented_gradients(
        &self,
        data: &Dataset,
        indices: &[usize],
        dropout_rng: &mut ChaCha8Rng,
        augment: Option<Augmentation>,
        noise: NoiseStream,
    ) -> Result<(EvalStats, Gradients<f32>, f64, Option<Gradients<f32>>), BatchError> {
        let net = self.forward_network()?;
        let context = BatchContext {
            config: &self.config,
            data,
            indices,
            steps: self.steps,
            dropout: Some(dropout_rng),
            augment,
            noise,
            head: self.head.as_deref(),
        };
        let (eval, mut grads) = self.rule.batch_gradients(&net, context)?;
        let task = self.consolidation.tracks_steps().then(|| grads.clone());
        let tensors = self.net.tensors();
        let mut reg = self
            .consolidation
            .add_penalty(&learnable_views(&tensors), &mut grads);
        reg += self.weight_penalties(&mut grads)?;
        self.check_gradients(&grads)?;
        if self.config.clip_grad_norm > 0.0 {
            let mut views: Vec<&mut [f32]> = grads.iter_mut().map(|g| g.as_mut_slice()).collect();
            clip_grad_norm(&mut views, self.config.clip_grad_norm)?;
        }
        Ok((eval, grads, reg, task))
    }

    /// Adds weight-regularizer gradients; returns the penalty.
    fn weight_penalties(&self, grads: &mut [Vec<f32>]) -> Result<f64, TrainError> {
        if self.config.weights.is_empty() {
            return Ok(0.0);
        }
        let tensors = self.net.tensors();
        let learnable = tensors.iter().filter(|t| t.learnable);
        let mut total = 0.0;
        for (t, g) in learnable.zip(grads.iter_mut()) {
            // Weight matrices and convolution kernels.
            if t.shape.len() >= 2 {
                for reg in &self.config.weights {
                    total += add_weight_penalty(reg, t.data, g)?;
                }
            }
        }
        Ok(total)
    }

    /// Names the first learnable tensor whose gradient is not finite.
    fn check_gradients(&self, grads: &[Vec<f32>]) -> Result<(), BatchError> {
        let tensors = self.net.tensors();
        let names = tensors.iter().filter(|t| t.learnable).map(|t| &t.name);
        for (name, g) in names.zip(grads) {
            if g.iter().any(|v| !v.is_finite()) {
                let place = format!("the gradient of {name}");
                return Err(BatchError(batch::BatchFailure::NonFinite(place)));
            }
        }
        Ok(())
    }
}

/// A new optimizer of `config` over the learnable tensors of `net`.
fn fresh_optimizer<M: Model>(
    config: &TrainingConfig,
    net: &M,
) -> Result<Optimizer<f32>, OptimError> {
    let tensors = net.tensors();
    let shapes: Vec<usize> = learnable_views(&tensors).iter().map(|t| t.len()).collect();
    Optimizer::new(config.optimizer, &shapes)
}

/// Metaplasticity on the step just taken: each weight matrix's update is attenuated where
/// it shrinks a weight (biases and neuron parameters are left alone, as in the paper).
fn modulate_weight_updates<M: Model>(net: &mut M, meta: Metaplasticity, before: &[Vec<f32>]) {
    let matrices: Vec<bool> = net
        .tensors()
        .iter()
        .filter(|t| t.learnable)
        .map(|t| t.shape.len() == 2)
        .collect();
    let params = net.learnable_mut();
    for ((after, before), matrix) in params.into_iter().zip(before).zip(matrices) {
        if matrix {
            meta.modulate(before, after);
        }
    }
}

/// The values of the learnable tensors among `tensors`, in gradient order.
pub fn learnable_views<'a>(tensors: &[NamedTensor<'a, f32>]) -> Vec<&'a [f32]> {
    tensors
        .iter()
        .filter(|t| t.learnable)
        .map(|t| t.data)
        .collect()
}

/// A failure in one batch of [`Trainer::gradients`]; [`BatchError::at`] locates it.
#[derive(Debug)]
pub struct BatchError(batch::BatchFailure);

impl BatchError {
    /// The error of batch `batch` (0-based) of epoch `epoch` (1-based).
    pub fn at(self, epoch: usize, batch: usize) -> TrainError {
        self.0.at(epoch, batch)
    }
}

macro_rules! batch_error_from {
    ($($error:ty),*) => {$(
        impl From<$error> for BatchError {
            fn from(e: $error) -> Self {
                BatchError(batch::BatchFailure::Other(e.into()))
            }
        }
    )*};
}

batch_error_from!(QuantError, RegularizerError, OptimError, TrainError);

#[cfg(test)]
mod tests;
