//! Training a layered energy-based network with plain SGD on EP estimates or on the exact
//! gradient of the relaxed loss (backpropagation through the relaxation), as in the hEP paper's Table 1.

use super::batch::{Batch, BatchNet};
use super::batch_gradient::EpSettings;
use super::energy::Params;
use crate::data::rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Where a batch's gradient comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GradientSource {
    /// Equilibrium propagation.
    Ep(EpSettings),
    /// Backpropagation through the layers without feedback (a feed-forward network; predict
    /// with [`Inference::FeedForward`]).
    FeedForward,
    /// Backpropagation through the free relaxation (the reference code's baseline).
    Bptt {
        /// Updates of the free phase.
        free_steps: usize,
    },
}

/// How a network is trained.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EqTraining {
    /// The gradient.
    pub source: GradientSource,
    /// SGD learning rate (the same for every layer, as in the paper's Table 1).
    pub lr: f64,
    /// Samples per batch.
    pub batch_size: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// Seeds the sample order and the state noise.
    pub seed: u64,
}

/// Images `[N, size]` and their classes.
#[derive(Clone, Copy, Debug)]
pub struct Samples<'a> {
    /// Pixels, row-major.
    pub x: &'a [f32],
    /// Classes.
    pub labels: &'a [usize],
    /// Values per sample.
    pub size: usize,
}

impl Samples<'_> {
    /// Samples `ids` gathered into one batch's arrays.
    fn gather(&self, ids: &[usize]) -> (Vec<f32>, Vec<usize>) {
        let x = ids
            .iter()
            .flat_map(|&i| &self.x[i * self.size..(i + 1) * self.size])
            .copied()
            .collect();
        (x, ids.iter().map(|&i| self.labels[i]).collect())
    }
}

/// Separates the state noise's generator from the sample order's.
const NOISE_STREAM: u64 = 0x006e_6f69_7365;

/// Samples predicted together when testing.
const EVAL_CHUNK: usize = 500;

/// How a trained network predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inference {
    /// The largest readout at the free fixed point after `steps` updates.
    Relaxed {
        /// Updates from zero.
        steps: usize,
    },
    /// The largest readout of the layers without feedback.
    FeedForward,
}

/// The fraction of `samples` predicted right.
pub fn accuracy(net: &BatchNet<f32>, samples: Samples<'_>, inference: Inference) -> f64 {
    let n = samples.labels.len();
    let mut correct = 0;
    for start in (0..n).step_by(EVAL_CHUNK) {
        let end = (start + EVAL_CHUNK).min(n);
        let x = &samples.x[start * samples.size..end * samples.size];
        let labels = &samples.labels[start..end];
        let batch = Batch { x, labels };
        let predicted = match inference {
            Inference::Relaxed { steps } => net.predict(batch, steps),
            Inference::FeedForward => net.predict_feedforward(batch),
        };
        correct += predicted.iter().zip(labels).filter(|(p, y)| p == y).count();
    }
    correct as f64 / n.max(1) as f64
}

/// Trains `net` on `train`; `after_epoch(epoch, net)` sees it after every epoch (1-based).
pub fn train(
    net: &mut BatchNet<f32>,
    train: Samples<'_>,
    settings: &EqTraining,
    after_epoch: &mut dyn FnMut(usize, &BatchNet<f32>),
) {
    let mut order: Vec<usize> = (0..train.labels.len()).collect();
    let mut shuffle_rng = rng::seeded(settings.seed);
    let mut noise_rng = ChaCha8Rng::seed_from_u64(settings.seed ^ NOISE_STREAM);
    for epoch in 1..=settings.epochs {
        rng::shuffle(&mut shuffle_rng, &mut order);
        for ids in order.chunks(settings.batch_size.max(1)) {
            let (x, labels) = train.gather(ids);
            let batch = Batch {
                x: &x,
                labels: &labels,
            };
            let grad = match settings.source {
                GradientSource::Ep(ep) => net.ep_gradient(batch, &ep, &mut noise_rng),
                GradientSource::Bptt { free_steps } => net.bptt_gradient(batch, free_steps).0,
                GradientSource::FeedForward => net.feedforward_gradient(batch).0,
            };
            sgd_step(&mut net.params, &grad, settings.lr as f32);
        }
        after_epoch(epoch, net);
    }
}

/// `θ ← θ − lr · g`.
fn sgd_step(params: &mut Params<f32>, grad: &Params<f32>, lr: f32) {
    let tensors = params.weights.iter_mut().chain(params.biases.iter_mut());
    let grads = grad.weights.iter().chain(&grad.biases);
    for (p, g) in tensors.zip(grads) {
        p.iter_mut().zip(g).for_each(|(p, &g)| *p -= lr * g);
    }
}
