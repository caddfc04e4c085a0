//! Training dense networks: their batches (one analog step per sample), backpropagation, and
//! evaluation.

use super::batch::{loss_targets, BatchFailure, EvalScope};
use super::model::{BatchContext, Learner, Model};
use super::{BatchError, EvalStats, TrainError};
use crate::config::TrainingConfig;
use crate::data::{BatchTargets, DataError, Dataset};
use crate::losses::{self, LossOutput};
use crate::models::{Mlp, MlpTrace};
use crate::network::{Gradients, NamedTensor};
use crate::quant::{QuantError, Quantization};
use crate::tensor::Seq;
use std::borrow::Cow;

/// Backpropagation through a dense network (the gradient of the batch's mean loss).
///
/// With a head ([`BatchContext::head`]), only those output units take part (a multi-head
/// network whose heads share one output layer, as the synaptic-intelligence code's output
/// masking; see [`crate::losses::Targets::ClassesInHead`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backprop;

/// A dense batch: the samples' first analog step `[1, B, inputs]` and their targets.
fn dense_batch(data: &Dataset, indices: &[usize]) -> Result<(Seq<f32>, BatchTargets), DataError> {
    let Dataset::Analog(analog) = data else {
        return Err(DataError::InvalidEncoding(
            "a dense network takes analog samples (an images source with a dense encoding)".into(),
        ));
    };
    let (x, classes) = analog.batch(indices, analog.sample_period_s, 1)?;
    Ok((x, BatchTargets::Classes(classes)))
}

/// Forward pass and loss of one batch.
fn forward_loss(
    net: &Mlp<f32>,
    config: &TrainingConfig,
    data: &Dataset,
    indices: &[usize],
    head: Option<&[usize]>,
) -> Result<(MlpTrace<f32>, LossOutput<f32>), BatchFailure> {
    let (x, targets) = dense_batch(data, indices)?;
    let trace = net.forward(&x);
    if let Some(place) = non_finite(&trace) {
        return Err(BatchFailure::NonFinite(place));
    }
    let out = losses::compute(config.loss, &trace.output, loss_targets(&targets, head))?;
    Ok((trace, out))
}

/// Names the first layer whose values are not finite.
fn non_finite(trace: &MlpTrace<f32>) -> Option<String> {
    let bad = |s: &Seq<f32>| s.data.iter().any(|v| !v.is_finite());
    let last = trace.pre.len() - 1;
    trace.pre.iter().enumerate().find_map(|(l, z)| {
        bad(z).then(|| match l {
            l if l == last => "output".to_string(),
            l => format!("hidden.{l} activations"),
        })
    })
}

fn stats(loss: &LossOutput<f32>, samples: usize, classify: bool) -> EvalStats {
    let mut eval = EvalStats::new(0);
    eval.loss = loss.loss * samples as f64;
    eval.correct = if classify { loss.correct } else { 0 };
    eval.samples = samples;
    eval
}

impl Learner<Mlp<f32>> for Backprop {
    fn batch_gradients(
        &self,
        net: &Mlp<f32>,
        b: BatchContext<'_>,
    ) -> Result<(EvalStats, Gradients<f32>), BatchError> {
        let (trace, out) = forward_loss(net, b.config, b.data, b.indices, b.head)?;
        let grads = net.backward(&trace, &out.grad);
        let classify = b.config.loss.is_classification();
        Ok((stats(&out, b.indices.len(), classify), grads))
    }
}

/// Loss and accuracy of `net` on a scope (its head's units only when it has one).
fn evaluate_scope(net: &Mlp<f32>, scope: EvalScope<'_>) -> Result<EvalStats, TrainError> {
    let EvalScope {
        config,
        data,
        indices,
        head,
        ..
    } = scope;
    let mut total = EvalStats::new(0);
    let classify = config.loss.is_classification();
    for (b, chunk) in indices.chunks(config.eval_batch()).enumerate() {
        let (_, out) = forward_loss(net, config, data, chunk, head).map_err(|e| e.at(0, b))?;
        total.merge(&stats(&out, chunk.len(), classify));
    }
    Ok(total)
}

impl Model for Mlp<f32> {
    fn tensors(&self) -> Vec<NamedTensor<'_, f32>> {
        Mlp::tensors(self)
    }
    fn learnable_mut(&mut self) -> Vec<&mut Vec<f32>> {
        self.tensors_mut()
    }
    fn apply_constraints(&mut self) {}
    fn bound_weights(&mut self, bound: f32) {
        Mlp::bound_weights(self, bound)
    }
    fn forward_model(&self, quantize: Quantization) -> Result<Cow<'_, Self>, QuantError> {
        match quantize {
            Quantization::None => Ok(Cow::Borrowed(self)),
            Quantization::Int8 => Err(QuantError::Unsupported(
                "int8 training of dense networks".into(),
            )),
        }
    }
    fn hidden_layers(&self) -> usize {
        0
    }
    fn evaluate_scope(&self, scope: EvalScope<'_>) -> Result<EvalStats, TrainError> {
        evaluate_scope(self, scope)
    }
}
