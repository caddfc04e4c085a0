//! One mini-batch: bin, forward, loss and regularizers, and (when training) backward.

use super::TrainError;
use crate::config::TrainingConfig;
use crate::data::{Augmentation, BatchInput, BatchTargets, Dataset};
use crate::layers::Input;
use crate::losses::{self, Targets};
use crate::network::{Gradients, Network, NetworkTrace};
use crate::regularizers::activity_count_penalties;
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
}

impl EvalStats {
    /// Empty statistics for `layers` hidden layers.
    pub fn new(layers: usize) -> Self {
        Self {
            spikes: vec![0.0; layers],
            neuron_seconds: vec![0.0; layers],
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

/// Runs one batch. With `dropout_rng` (training), also runs the backward pass and returns one
/// gradient per learnable tensor, in [`Network::learnable_mut`] order. `augment` transforms
/// the samples first (training only).
#[allow(clippy::too_many_arguments)]
pub(super) fn forward_backward(
    net: &Network<f32>,
    config: &TrainingConfig,
    data: &Dataset,
    indices: &[usize],
    steps: usize,
    dropout_rng: Option<&mut ChaCha8Rng>,
    augment: Option<Augmentation>,
    observe: Option<BatchObserver<'_>>,
) -> Result<(EvalStats, Option<Gradients<f32>>), BatchFailure> {
    let train = dropout_rng.is_some();
    let dt_s = net.spec.dt_ms * 1e-3;
    let batch = data.batch(indices, dt_s, steps, augment)?;
    let input = batch_input(&batch.input);
    let trace = net.forward(input, dropout_rng);
    check_forward(&trace)?;
    if let Some(observe) = observe {
        observe(&BatchView {
            input,
            trace: &trace,
            targets: &batch.targets,
        });
    }
    let targets = match &batch.targets {
        BatchTargets::Classes(c) => Targets::Classes(c),
        BatchTargets::Values { values, dims } => Targets::Values {
            data: values,
            dims: *dims,
        },
    };
    let out = losses::compute(config.loss, trace.output(), targets)?;
    if !out.loss.is_finite() {
        return Err(BatchFailure::NonFinite("the loss".into()));
    }
    let n = indices.len();
    let mut eval = EvalStats::new(net.hidden.len());
    eval.loss = out.loss * n as f64;
    eval.correct = if config.loss.is_classification() {
        out.correct
    } else {
        0
    };
    eval.samples = n;
    let duration_s = steps as f64 * dt_s;
    let mut g_counts = Vec::with_capacity(net.hidden.len());
    for (k, layer) in trace.hidden.iter().enumerate() {
        let (_, _, width) = layer.shape();
        eval.spikes[k] = layer.spike_count();
        eval.neuron_seconds[k] = (width * n) as f64 * duration_s;
        if train && !config.activity.is_empty() {
            // The penalties depend on the spike counts only (taken from the layer's events).
            let mut g = Vec::new();
            let counts = layer.spike_counts();
            eval.reg_loss +=
                n as f64 * activity_count_penalties(&config.activity, &counts, width, &mut g)?;
            g_counts.push(Some(g));
        }
    }
    let grads = train.then(|| net.backward(input, &trace, &out.grad, &g_counts));
    Ok((eval, grads))
}

/// Names the first layer whose state is not finite. (A NaN membrane emits no spikes, so it
/// would not show in the output: every layer is checked.)
fn check_forward(trace: &NetworkTrace<f32>) -> Result<(), BatchFailure> {
    if trace.encoder.as_ref().is_some_and(|e| !e.is_finite()) {
        return Err(BatchFailure::NonFinite("the state of the encoder".into()));
    }
    for (k, layer) in trace.hidden.iter().enumerate() {
        if !layer.is_finite() {
            return Err(BatchFailure::NonFinite(format!(
                "the state of hidden layer {k}"
            )));
        }
    }
    if trace.output().data.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(BatchFailure::NonFinite("the readout output".into()))
    }
}

/// Evaluates `net` on `indices` in batches of `batch_size` (no dropout, no gradients).
pub fn evaluate(
    net: &Network<f32>,
    config: &TrainingConfig,
    data: &Dataset,
    indices: &[usize],
    steps: usize,
) -> Result<EvalStats, TrainError> {
    evaluate_observed(net, config, data, indices, steps, &mut |_| {})
}

/// [`evaluate`], showing every batch's forward pass to `observe` (e.g. to measure costs).
pub fn evaluate_observed(
    net: &Network<f32>,
    config: &TrainingConfig,
    data: &Dataset,
    indices: &[usize],
    steps: usize,
    observe: BatchObserver<'_>,
) -> Result<EvalStats, TrainError> {
    let mut stats = EvalStats::new(net.hidden.len());
    for (b, chunk) in indices.chunks(config.batch_size.max(1)).enumerate() {
        let (eval, _) = forward_backward(
            net,
            config,
            data,
            chunk,
            steps,
            None,
            None,
            Some(&mut *observe),
        )
        .map_err(|e| e.at(0, b))?;
        stats.merge(&eval);
    }
    Ok(stats)
}
