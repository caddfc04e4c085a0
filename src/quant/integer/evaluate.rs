//! The integer network on a dataset beside the float network it was built from: both
//! losses and accuracies, how often they predict the same class, and the agreement of their
//! spikes (the fraction of `(step, sample, neuron)` spike decisions that are the same).
//!
//! The integer loss is the float loss function applied, after the time loop, to the integer
//! output read as real values `v / 2¹⁶`; the integer accuracy comes from integer class scores
//! ([`super::Readoff`]).

use super::score::Readoff;
use super::{IntegerError, IntegerNetwork, IntegerTrace};
use crate::data::{BatchInput, BatchTargets, Dataset};
use crate::layers::Input;
use crate::losses::{self, LossKind, Targets};
use crate::network::{Network, NetworkTrace};

/// Which samples to evaluate, and how.
#[derive(Clone, Copy, Debug)]
pub struct EvalScope<'a> {
    /// The samples.
    pub data: &'a Dataset,
    /// Indices into `data`.
    pub indices: &'a [usize],
    /// Time steps per sample.
    pub steps: usize,
    /// Samples per forward pass.
    pub batch_size: usize,
    /// The loss (and so how classes are read off the output).
    pub loss: LossKind,
}

/// The integer and the float network on the same samples.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// Samples evaluated.
    pub samples: usize,
    /// Summed per-sample loss of the integer network.
    pub loss: f64,
    /// Summed per-sample loss of the float network.
    pub float_loss: f64,
    /// Correct integer predictions (`None` unless the loss classifies with class targets).
    pub correct: Option<usize>,
    /// Correct float predictions.
    pub float_correct: Option<usize>,
    /// Samples whose integer and float predictions are the same class.
    pub same_predictions: Option<usize>,
    /// Hidden spike decisions compared (`steps · samples · neurons`, over every layer).
    pub spike_decisions: u64,
    /// Hidden spike decisions on which both networks agree (spike or no spike).
    pub spike_agreements: u64,
    /// Integer spikes per hidden layer.
    pub spikes: Vec<u64>,
    /// Neuron-seconds simulated per hidden layer (for rates).
    pub neuron_seconds: Vec<f64>,
}

impl Evaluation {
    /// Mean integer loss per sample.
    pub fn mean_loss(&self) -> f64 {
        self.loss / self.samples.max(1) as f64
    }

    /// Mean float loss per sample.
    pub fn float_mean_loss(&self) -> f64 {
        self.float_loss / self.samples.max(1) as f64
    }

    /// Integer accuracy.
    pub fn accuracy(&self) -> Option<f64> {
        self.correct.map(|c| self.fraction(c))
    }

    /// Float accuracy.
    pub fn float_accuracy(&self) -> Option<f64> {
        self.float_correct.map(|c| self.fraction(c))
    }

    /// Fraction of samples with the same predicted class.
    pub fn prediction_agreement(&self) -> Option<f64> {
        self.same_predictions.map(|c| self.fraction(c))
    }

    /// Fraction of hidden spike decisions that agree (`None` without hidden neurons).
    pub fn spike_agreement(&self) -> Option<f64> {
        (self.spike_decisions > 0)
            .then(|| self.spike_agreements as f64 / self.spike_decisions as f64)
    }

    /// Mean integer firing rate of each hidden layer in Hz.
    pub fn rates_hz(&self) -> Vec<f64> {
        self.spikes
            .iter()
            .zip(&self.neuron_seconds)
            .map(|(&s, &t)| if t > 0.0 { s as f64 / t } else { 0.0 })
            .collect()
    }

    fn fraction(&self, count: usize) -> f64 {
        count as f64 / self.samples.max(1) as f64
    }
}

/// Runs `net` and `float` (no dropout) over `scope`, `scope.batch_size` samples at a time.
pub fn evaluate(
    net: &IntegerNetwork,
    float: &Network<f32>,
    scope: EvalScope<'_>,
) -> Result<Evaluation, IntegerError> {
    let dt_s = net.dt_s();
    let layers = float.hidden.len();
    let mut eval = Evaluation {
        spikes: vec![0; layers],
        neuron_seconds: vec![0.0; layers],
        ..Evaluation::default()
    };
    for chunk in scope.indices.chunks(scope.batch_size.max(1)) {
        let batch = scope.data.batch(chunk, dt_s, scope.steps, None)?;
        let BatchInput::Events(events) = &batch.input else {
            return Err(IntegerError::Unsupported(
                "analog input: integer inference takes input spikes (events)".into(),
            ));
        };
        let trace = net.forward(events)?;
        let float_trace = float.forward::<rand_chacha::ChaCha8Rng>(Input::Events(events), None);
        let targets = targets(&batch.targets);
        let dt_ms = dt_s * 1e3;
        let int_loss = losses::compute_timed(scope.loss, dt_ms, &trace.output_real(), targets)?;
        let float_out = losses::compute_timed(scope.loss, dt_ms, float_trace.output(), targets)?;
        let n = chunk.len();
        eval.samples += n;
        eval.loss += int_loss.loss * n as f64;
        eval.float_loss += float_out.loss * n as f64;
        if let (Some(readoff), BatchTargets::Classes(classes)) =
            (Readoff::of(scope.loss, trace.steps), &batch.targets)
        {
            let predicted = readoff.predictions(&trace.output, trace.steps, n, trace.outputs);
            let correct = predicted
                .iter()
                .zip(classes)
                .filter(|(p, c)| p == c)
                .count();
            let same = (predicted.iter().zip(&float_out.predictions))
                .filter(|(p, f)| p == f)
                .count();
            *eval.correct.get_or_insert(0) += correct;
            *eval.float_correct.get_or_insert(0) += float_out.correct;
            *eval.same_predictions.get_or_insert(0) += same;
        }
        compare_spikes(&trace, &float_trace, dt_s, &mut eval);
    }
    Ok(eval)
}

/// Adds the batch's spike counts and spike agreement to `eval`.
fn compare_spikes(
    trace: &IntegerTrace,
    float: &NetworkTrace<f32>,
    dt_s: f64,
    eval: &mut Evaluation,
) {
    for (k, ((size, spikes), layer)) in trace.hidden.iter().zip(&float.hidden).enumerate() {
        let float_spikes = &layer.spikes().data;
        let agree = spikes
            .iter()
            .zip(float_spikes)
            .filter(|(&s, &f)| (s != 0) == (f > 0.0))
            .count();
        eval.spike_decisions += spikes.len() as u64;
        eval.spike_agreements += agree as u64;
        eval.spikes[k] += spikes.iter().map(|&s| u64::from(s)).sum::<u64>();
        eval.neuron_seconds[k] += (trace.steps * trace.batch * size) as f64 * dt_s;
    }
}

/// The loss's view of a batch's targets.
fn targets(targets: &BatchTargets) -> Targets<'_> {
    match targets {
        BatchTargets::Classes(classes) => Targets::Classes(classes),
        BatchTargets::Values { values, dims } => Targets::Values {
            data: values,
            dims: *dims,
        },
        BatchTargets::Trains(seq) | BatchTargets::Series(seq) => Targets::Sequence(seq),
    }
}
