//! Training a circuit with Adam on the dis-inhibitory rule or on backpropagation through its
//! open-loop steady state.

use super::circuit::{Circuit, ControlLoss, Dynamics, Loop, Tensors};
use super::rule::InverseRate;
use crate::data::rng;
use crate::optimizers::{OptimError, Optimizer, OptimizerKind};

/// Where the weight updates come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Learning {
    /// The dis-inhibitory rule at the closed-loop steady state (the controller drives the
    /// outputs to the targets).
    Disinhibition(InverseRate),
    /// Backpropagation through the open-loop steady state.
    Backprop,
}

/// How a circuit is trained.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CircuitTraining {
    /// The updates.
    pub learning: Learning,
    /// The loss (and the controller's error).
    pub loss: ControlLoss,
    /// Adam's learning rate.
    pub lr: f64,
    /// Samples per batch.
    pub batch_size: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// Seeds the sample order.
    pub seed: u64,
    /// The circuit's dynamics.
    pub dynamics: Dynamics,
}

/// Inputs `[N, n_0]` and target outputs `[N, n_out]`.
#[derive(Clone, Copy, Debug)]
pub struct Pairs<'a> {
    /// Inputs, row-major.
    pub x: &'a [f64],
    /// Targets, row-major.
    pub targets: &'a [f64],
}

impl Pairs<'_> {
    fn gather(&self, ids: &[usize], inputs: usize, outputs: usize) -> (Vec<f64>, Vec<f64>) {
        let rows = |v: &[f64], w: usize| -> Vec<f64> {
            ids.iter()
                .flat_map(|&i| &v[i * w..(i + 1) * w])
                .copied()
                .collect()
        };
        (rows(self.x, inputs), rows(self.targets, outputs))
    }
}

/// One batch's descent direction.
pub fn batch_gradient(
    circuit: &Circuit,
    x: &[f64],
    targets: &[f64],
    settings: &CircuitTraining,
) -> Tensors {
    let batch = targets.len() / circuit.outputs();
    match settings.learning {
        Learning::Backprop => circuit.steady_gradient(x, targets, batch, settings.loss).0,
        Learning::Disinhibition(inverse) => {
            let open = circuit.open_loop_steady(x, batch);
            let feedback = circuit.feedback_weights(&open, settings.dynamics.feedback_norm);
            let mut closed = open.clone();
            let mode = Loop::Closed {
                targets,
                feedback: &feedback,
                loss: settings.loss,
            };
            circuit.settle(x, &mut closed, &settings.dynamics, mode);
            circuit.plasticity(x, &closed, &open, inverse)
        }
    }
}

/// Trains `circuit` on `data`; `after_epoch(epoch, circuit)` sees it after every epoch.
pub fn train(
    circuit: &mut Circuit,
    data: Pairs<'_>,
    settings: &CircuitTraining,
    after_epoch: &mut dyn FnMut(usize, &Circuit),
) -> Result<(), OptimError> {
    let (inputs, outputs) = (circuit.sizes[0], circuit.outputs());
    let shapes: Vec<usize> = circuit.params.all().iter().map(|t| t.len()).collect();
    let kind = OptimizerKind::Adam {
        lr: settings.lr,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    let mut adam = Optimizer::<f64>::new(kind, &shapes)?;
    let mut order: Vec<usize> = (0..data.targets.len() / outputs).collect();
    let mut order_rng = rng::seeded(settings.seed);
    for epoch in 1..=settings.epochs {
        rng::shuffle(&mut order_rng, &mut order);
        for ids in order.chunks(settings.batch_size.max(1)) {
            let (x, targets) = data.gather(ids, inputs, outputs);
            let grad = batch_gradient(circuit, &x, &targets, settings);
            let grads = grad.all();
            adam.step(&mut circuit.params.all_mut(), &grads, settings.lr)?;
        }
        after_epoch(epoch, circuit);
    }
    Ok(())
}
