//! One mini-batch: bin, forward, loss and regularizers, and (when training) backward.

use super::TrainError;
use crate::config::{EvalSpikes, TrainingConfig};
use crate::data::{BatchInput, BatchTargets, Dataset};
use crate::layers::Input;
use crate::losses::Targets;
use crate::network::{Gradients, Network, NetworkTrace};
use crate::neurons::NoiseStream;
use crate::rules::{self, Batch, GradientRule, RuleError};
use crate::substrate::Device;
use rand_chacha::ChaCha8Rng;

/// Loss, accuracy and activity summed over the samples seen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalStats {
    /// Task loss summed over samples (each batch's mean times its size).
    pub loss: f64,
    /// Regularizer penalties summed likewise.
    pub reg_loss: f64,
    /// Correct predictions (classification).
    pub correct: usize,
    /// Samples seen.
    pub samples: usize,
    /// Per hidden layer: spikes emitted.
    pub spikes: Vec<f64>,
    /// Per hidden layer: neuron-seconds simulated (neurons × samples × duration).
    pub neuron_seconds: Vec<f64>,
    /// Noisy trials per sample (stochastic spikes): every sum above, `samples` included,
    /// counts each trial of a sample, so means are over samples and trials.
    pub trials: usize,
}

impl EvalStats {
    /// Empty statistics for `layers` hidden layers.
    pub fn new(layers: usize) -> Self {
        Self {
            spikes: vec![0.0; layers],
            neuron_seconds: vec![0.0; layers],
            trials: 1,
            ..Self::default()
        }
    }

    /// Adds another batch's statistics.
    pub fn merge(&mut self, other: &EvalStats) {
        self.loss += other.loss;
        self.reg_loss += other.reg_loss;
        self.correct += other.correct;
        self.samples += other.samples;
        for (a, b) in self.spikes.iter_mut().zip(&other.spikes) {
            *a += b;
        }
        for (a, b) in self.neuron_seconds.iter_mut().zip(&other.neuron_seconds) {
            *a += b;
        }
    }

    /// Mean task loss per sample.
    pub fn mean_loss(&self) -> f64 {
        self.loss / self.samples.max(1) as f64
    }

    /// Mean regularizer penalty per sample.
    pub fn mean_reg_loss(&self) -> f64 {
        self.reg_loss / self.samples.max(1) as f64
    }

    /// Fraction of correct predictions.
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.samples.max(1) as f64
    }

    /// Mean firing rate of each hidden layer in Hz.
    pub fn rates_hz(&self) -> Vec<f64> {
        self.spikes
            .iter()
            .zip(&self.neuron_seconds)
            .map(|(s, t)| if *t > 0.0 { s / t } else { 0.0 })
            .collect()
    }
}

/// A failure inside a batch, before it is located in an epoch.
#[derive(Debug)]
pub(super) enum BatchFailure {
    NonFinite(String),
    Other(TrainError),
}

impl BatchFailure {
    pub(super) fn at(self, epoch: usize, batch: usize) -> TrainError {
        match self {
            BatchFailure::NonFinite(place) => TrainError::NonFinite {
                place,
                epoch,
                batch,
            },
            BatchFailure::Other(e) => e,
        }
    }
}

macro_rules! batch_failure_from {
    ($($error:ty),*) => {$(
        impl From<$error> for BatchFailure {
            fn from(e: $error) -> Self {
                BatchFailure::Other(e.into())
            }
        }
    )*};
}

batch_failure_from!(
    crate::data::DataError,
    crate::losses::LossError,
    crate::regularizers::RegularizerError
);

impl From<RuleError> for BatchFailure {
    fn from(e: RuleError) -> Self {
        match e {
            RuleError::NonFinite(place) => BatchFailure::NonFinite(place),
            RuleError::Loss(e) => BatchFailure::Other(e.into()),
            RuleError::Regularizer(e) => BatchFailure::Other(e.into()),
            other => BatchFailure::Other(TrainError::Rule(other)),
        }
    }
}

/// What an evaluation observer sees of one batch: the input, the forward pass and the targets.
#[derive(Clone, Copy)]
pub struct BatchView<'a> {
    /// The network input.
    pub input: Input<'a, f32>,
    /// The forward pass (no dropout).
    pub trace: &'a NetworkTrace<f32>,
    /// The batch's targets.
    pub targets: &'a BatchTargets,
}

/// Receives every batch of an evaluation (e.g. [`crate::metrics::MetricsAccumulator`]).
pub type BatchObserver<'o> = &'o mut dyn FnMut(&BatchView<'_>);

/// The network input of a batch.
pub fn batch_input(input: &BatchInput) -> Input<'_, f32> {
    match input {
        BatchInput::Events(e) => Input::Events(e),
        BatchInput::Analog(x) => Input::Dense { x, sparse: false },
    }
}

/// The loss's view of a batch's targets, class targets scored on the outputs `head` alone
/// when one is given.
pub(super) fn loss_targets<'a>(
    targets: &'a BatchTargets,
    head: Option<&'a [usize]>,
) -> Targets<'a> {
    match (targets, head) {
        (BatchTargets::Classes(classes), Some(head)) => Targets::ClassesInHead { classes, head },
        (BatchTargets::Classes(c), None) => Targets::Classes(c),
        (BatchTargets::Values { values, dims }, _) => Targets::Values {
            data: values,
            dims: *dims,
        },
        (BatchTargets::Trains(seq) | BatchTargets::Series(seq), _) => Targets::Sequence(seq),
    }
}

/// What a batch contributes to an epoch's statistics.
struct BatchSummary<'a> {
    net: &'a Network<f32>,
    config: &'a TrainingConfig,
    steps: usize,
    samples: usize,
}

impl BatchSummary<'_> {
    fn stats(&self, loss: f64, correct: usize, reg_loss: f64, spikes: &[f64]) -> EvalStats {
        let n = self.samples;
        let dt_s = self.net.spec.dt_ms * 1e-3;
        let duration_s = self.steps as f64 * dt_s;
        let mut eval = EvalStats::new(self.net.hidden.len());
        eval.loss = loss * n as f64;
        eval.reg_loss = reg_loss * n as f64;
        eval.correct = if self.config.loss.is_classification() {
            correct
        } else {
            0
        };
        eval.samples = n;
        for (k, layer) in self.net.hidden.iter().enumerate() {
            eval.spikes[k] = spikes[k];
            eval.neuron_seconds[k] = (layer.size() * n) as f64 * duration_s;
        }
        eval
    }
}

/// One training batch: bins it, transformed by `augment` first, and runs `rule` on it.
/// Returns the batch's statistics and one gradient per learnable tensor, in
/// [`Network::learnable_mut`] order.
pub(super) fn train_batch<R: GradientRule<f32>>(
    rule: &R,
    net: &Network<f32>,
    b: super::BatchContext<'_>,
) -> Result<(EvalStats, Gradients<f32>), BatchFailure> {
    let dt_s = net.spec.dt_ms * 1e-3;
    let batch = b.data.batch(b.indices, dt_s, b.steps, b.augment)?;
    let out = rule.gradients(
        net,
        Batch {
            input: batch_input(&batch.input),
            targets: loss_targets(&batch.targets, b.head),
            loss: b.config.loss,
            activity: &b.config.activity,
            dropout: b.dropout,
            noise: b.noise,
        },
    )?;
    let summary = BatchSummary {
        net,
        config: b.config,
        steps: b.steps,
        samples: b.indices.len(),
    };
    let stats = summary.stats(out.loss, out.correct, out.reg_loss, &out.spikes);
    Ok((stats, out.grads))
}

/// The statistics and gradients `rule` computes for the batch `indices`, without dropout or
/// augmentation (e.g. to compare rules on the same batches).
#[allow(clippy::too_many_arguments)]
pub fn rule_gradients<R: GradientRule<f32>>(
    rule: &R,
    net: &Network<f32>,
    config: &TrainingConfig,
    data: &Dataset,
    indices: &[usize],
    steps: usize,
    noise: NoiseStream,
) -> Result<(EvalStats, Gradients<f32>), TrainError> {
    let context = super::BatchContext {
        config,
        data,
        indices,
        steps,
        dropout: None,
        augment: None,
        noise,
        head: None,
    };
    train_batch(rule, net, context).map_err(|e| e.at(0, 0))
}

/// What an evaluation runs on: the samples and the outputs scored.
#[derive(Clone, Copy)]
pub struct EvalScope<'a> {
    /// The settings (loss, batch size, evaluation of stochastic spikes).
    pub config: &'a TrainingConfig,
    /// The samples.
    pub data: &'a Dataset,
    /// The samples evaluated.
    pub indices: &'a [usize],
    /// Time steps per sample.
    pub steps: usize,
    /// The outputs of the head scored (`None`: all; see [`crate::losses::Targets`]).
    pub head: Option<&'a [usize]>,
}

/// One evaluation batch: forward pass (no dropout, stochastic spikes drawing from `noise`) and
/// loss, shown to `observe`.
fn eval_batch(
    net: &Network<f32>,
    scope: EvalScope<'_>,
    observe: Option<&mut dyn FnMut(&BatchView<'_>)>,
    noise: NoiseStream,
) -> Result<EvalStats, BatchFailure> {
    eval_batch_on(net, None, scope, observe, noise)
}

/// [`eval_batch`], the forward pass running on `device` (the device version of `net` on an
/// emulated chip) when one is given.
fn eval_batch_on(
    net: &Network<f32>,
    device: Option<&Device<f32>>,
    scope: EvalScope<'_>,
    observe: Option<&mut dyn FnMut(&BatchView<'_>)>,
    noise: NoiseStream,
) -> Result<EvalStats, BatchFailure> {
    let EvalScope {
        config,
        data,
        indices,
        steps,
        head,
    } = scope;
    let dt_s = net.spec.dt_ms * 1e-3;
    let batch = data.batch(indices, dt_s, steps, None)?;
    let input = batch_input(&batch.input);
    let targets = loss_targets(&batch.targets, head);
    let evaluated = match device {
        None => rules::forward_loss(net, input, targets, config.loss, None, noise)?,
        Some(d) => {
            let trace = d.forward_in::<ChaCha8Rng>(input, None, noise);
            rules::evaluate_trace(trace, net.spec.dt_ms, targets, config.loss)?
        }
    };
    if let Some(observe) = observe {
        observe(&BatchView {
            input,
            trace: &evaluated.trace,
            targets: &batch.targets,
        });
    }
    let spikes: Vec<f64> = evaluated
        .trace
        .hidden
        .iter()
        .map(|l| l.spike_count())
        .collect();
    let summary = BatchSummary {
        net,
        config,
        steps,
        samples: indices.len(),
    };
    let loss = &evaluated.loss;
    Ok(summary.stats(loss.loss, loss.correct, 0.0, &spikes))
}

/// The seed of evaluation noise (the same trials for every evaluation of a run).
const EVAL_NOISE: u64 = 0x6576_616c;

/// Evaluates `net` on `indices` in batches of `config.eval_batch()` (no dropout, no gradients).
///
/// Stochastic spikes are evaluated as `config.eval_spikes` says: sampled, over
/// `config.eval_trials` trials of every batch, or deterministically.
pub fn evaluate(
    net: &Network<f32>,
    config: &TrainingConfig,
    data: &Dataset,
    indices: &[usize],
    steps: usize,
) -> Result<EvalStats, TrainError> {
    evaluate_observed(net, config, data, indices, steps, &mut |_| {})
}

/// [`evaluate`], showing every batch's forward pass (its first trial) to `observe` (e.g. to
/// measure costs).
pub fn evaluate_observed(
    net: &Network<f32>,
    config: &TrainingConfig,
    data: &Dataset,
    indices: &[usize],
    steps: usize,
    observe: BatchObserver<'_>,
) -> Result<EvalStats, TrainError> {
    let scope = EvalScope {
        config,
        data,
        indices,
        steps,
        head: None,
    };
    evaluate_scope(net, scope, observe)
}

/// Evaluates `net` as it runs on an emulated chip (`device`, see [`crate::substrate`]) on
/// `indices` in batches of `config.eval_batch()`: one trial, deterministic spikes, the chip's
/// current noise drawn per batch from a fixed stream (the same for every evaluation).
pub fn evaluate_on_device(
    net: &Network<f32>,
    device: &Device<f32>,
    config: &TrainingConfig,
    data: &Dataset,
    indices: &[usize],
    steps: usize,
) -> Result<EvalStats, TrainError> {
    let mut stats = EvalStats::new(net.hidden.len());
    for (b, chunk) in indices.chunks(config.eval_batch()).enumerate() {
        let scope = EvalScope {
            config,
            data,
            indices: chunk,
            steps,
            head: None,
        };
        let noise = NoiseStream::derive(EVAL_NOISE, &[b as u64, 0]);
        let eval = eval_batch_on(net, Some(device), scope, None, noise).map_err(|e| e.at(0, b))?;
        stats.merge(&eval);
    }
    Ok(stats)
}

/// [`evaluate_observed`] on a scope (e.g. one head of the outputs).
pub(super) fn evaluate_scope(
    net: &Network<f32>,
    scope: EvalScope<'_>,
    observe: BatchObserver<'_>,
) -> Result<EvalStats, TrainError> {
    let config = scope.config;
    let stochastic = net.spec.spike.is_stochastic();
    let deterministic;
    let (net, trials) = match config.eval_spikes {
        EvalSpikes::Deterministic if stochastic => {
            deterministic = net.with_spike(net.spec.spike.deterministic());
            (&deterministic, 1)
        }
        _ if stochastic => (net, config.eval_trials),
        _ => (net, 1),
    };
    let mut stats = EvalStats::new(net.hidden.len());
    stats.trials = trials;
    for (b, chunk) in scope.indices.chunks(config.eval_batch()).enumerate() {
        let scope = EvalScope {
            indices: chunk,
            ..scope
        };
        for trial in 0..trials {
            let noise = NoiseStream::derive(EVAL_NOISE, &[b as u64, trial as u64]);
            // Cost metrics are measured on the first trial of every sample.
            let observer: Option<&mut dyn FnMut(&BatchView<'_>)> = match trial {
                0 => Some(&mut *observe),
                _ => None,
            };
            let eval = eval_batch(net, scope, observer, noise).map_err(|e| e.at(0, b))?;
            stats.merge(&eval);
        }
    }
    Ok(stats)
}
