//! Backpropagation through time with surrogate gradients: the forward pass keeps what each
//! neuron model's adjoint needs, and the backward pass runs every layer's adjoint scan from
//! the readout down (the exact gradient of the relaxed network; with binary spikes, the
//! surrogate gradient of Neftci, Mostafa & Zenke 2019).

use super::{forward_loss, Batch, BatchGradients, Evaluated, GradientRule, RuleError};
use crate::layers::Input;
use crate::layers::RecurrentPath;
use crate::network::Network;
use crate::real::Real;
use crate::regularizers::activity_count_penalties;
use crate::regularizers::ActivityRegularizer;

/// Backpropagation through time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bptt;

impl<F: Real> GradientRule<F> for Bptt {
    fn gradients(
        &self,
        net: &Network<F>,
        batch: Batch<'_, F>,
    ) -> Result<BatchGradients<F>, RuleError> {
        backpropagate(net, batch, RecurrentPath::Followed)
    }
}

/// BPTT with a stop-gradient on the recurrent input (every cross-neuron term of the
/// recurrent Jacobian removed, [`RecurrentPath::Stopped`]): the exact gradient that e-prop
/// computes online with symmetric feedback, its reference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocalBptt;

impl<F: Real> GradientRule<F> for LocalBptt {
    fn gradients(
        &self,
        net: &Network<F>,
        batch: Batch<'_, F>,
    ) -> Result<BatchGradients<F>, RuleError> {
        backpropagate(net, batch, RecurrentPath::Stopped)
    }
}

fn backpropagate<F: Real>(
    net: &Network<F>,
    batch: Batch<'_, F>,
    path: RecurrentPath,
) -> Result<BatchGradients<F>, RuleError> {
    let Batch {
        input,
        targets,
        loss,
        activity,
        dropout,
        noise,
    } = batch;
    let evaluated = forward_loss(net, input, targets, loss, dropout, noise)?;
    gradients_from(net, input, &evaluated, activity, path)
}

/// The backward pass of `net` through a forward pass `evaluated` on `input` — `net`'s own, or
/// another network's of the same shape (an emulated device's, whose recorded trajectory the
/// nominal adjoint then runs on) — with the activity regularizers' gradients.
pub(crate) fn gradients_from<F: Real>(
    net: &Network<F>,
    input: Input<'_, F>,
    evaluated: &Evaluated<F>,
    activity: &[ActivityRegularizer],
    path: RecurrentPath,
) -> Result<BatchGradients<F>, RuleError> {
    let trace = &evaluated.trace;
    let mut reg_loss = 0.0;
    let mut g_counts = Vec::with_capacity(net.hidden.len());
    for layer in &trace.hidden {
        if !activity.is_empty() {
            // The penalties depend on the spike counts only (taken from the layer's events).
            let (_, _, width) = layer.shape();
            let mut g = Vec::new();
            let counts = layer.spike_counts();
            reg_loss += activity_count_penalties(activity, &counts, width, &mut g)?;
            g_counts.push(Some(g));
        }
    }
    let grads = net.backward_through(input, trace, &evaluated.loss.grad, &g_counts, path);
    Ok(BatchGradients {
        loss: evaluated.loss.loss,
        correct: evaluated.loss.correct,
        reg_loss,
        spikes: trace.hidden.iter().map(|l| l.spike_count()).collect(),
        grads,
    })
}
