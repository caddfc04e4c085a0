//! Mini-batch gEP training (config, optimizer steps, epoch reports) and test accuracy.

use super::dynamics::{free_phase, Relaxation};
use super::error::GepError;
use super::estimate::{neuronal_error, ErrorEstimate};
use super::homeostasis::homeostatic_loss;
use super::params::GepParams;
use super::readout::{loss, predict};
use super::state::{Planes, State};
use super::update::weight_update;
use crate::data::rng;
use crate::error::ConfigError;
use crate::optimizers::{Optimizer, OptimizerKind};
use rand_chacha::ChaCha8Rng;

/// Whether training adds the homeostatic loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Homeostasis {
    /// No homeostatic term.
    Off,
    /// Adds `coef · ∇L_homeo`, estimated with `probes_per_sample · B` probes `ε` per batch
    /// (the paper's code: 5 per sample; `jac_reg_coef` 1.0 in Fig. 4a–d, 0.1 in 4e–h).
    On {
        /// The coefficient (`jac_reg_coef`, ≥ 0).
        coef: f64,
        /// Probes per sample in the batch (≥ 1).
        probes_per_sample: usize,
    },
}

/// How [`Trainer`] learns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainConfig {
    /// Free and nudged phase lengths.
    pub relaxation: Relaxation,
    /// The neuronal error's estimator.
    pub estimate: ErrorEstimate,
    /// The homeostatic term.
    pub homeostasis: Homeostasis,
    /// Samples per mini-batch.
    pub batch_size: usize,
    /// The optimizer (the paper: SGD lr 0.01 momentum 0.9, or AdamW lr 1e-4 in Fig. 4a–d).
    pub optimizer: OptimizerKind,
}

impl TrainConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        self.estimate.validate()?;
        if self.batch_size == 0 {
            return Err(ConfigError::new("batch_size", "must be ≥ 1"));
        }
        if let Homeostasis::On {
            coef,
            probes_per_sample,
        } = self.homeostasis
        {
            crate::error::check_non_negative("homeostasis.coef", coef)?;
            if probes_per_sample == 0 {
                return Err(ConfigError::new(
                    "homeostasis.probes_per_sample",
                    "must be ≥ 1",
                ));
            }
        }
        Ok(())
    }
}

/// What one epoch measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochReport {
    /// Mean cross-entropy at the free fixed points.
    pub loss: f64,
    /// Mean homeostatic loss (0 when off).
    pub homeostatic_loss: f64,
    /// Training accuracy at the free fixed points.
    pub accuracy: f64,
}

/// Mini-batch gEP training of a [`GepParams`].
pub struct Trainer {
    /// The parameters being trained.
    pub params: GepParams,
    config: TrainConfig,
    optimizer: Optimizer<f64>,
    rng: ChaCha8Rng,
}

impl Trainer {
    /// A trainer of `params` with a fresh optimizer; `seed` draws the batch order and probes.
    pub fn new(params: GepParams, config: TrainConfig, seed: u64) -> Result<Self, GepError> {
        config.validate()?;
        let shapes: Vec<usize> = params.tensors().iter().map(|t| t.len()).collect();
        Ok(Self {
            optimizer: Optimizer::new(config.optimizer, &shapes)?,
            params,
            config,
            rng: rng::seeded(seed),
        })
    }

    /// One epoch over the images `pixels` (`[N, input]` in `[0, 1]`) in a shuffled order.
    pub fn epoch(&mut self, pixels: &[f32], labels: &[usize]) -> Result<EpochReport, GepError> {
        let size = self.params.widths.input;
        if pixels.len() != labels.len() * size {
            return Err(ConfigError::new("pixels", "expected one image per label").into());
        }
        let mut order: Vec<usize> = (0..labels.len()).collect();
        rng::shuffle(&mut self.rng, &mut order);
        let (mut loss_sum, mut homeo_sum, mut correct, mut batches) = (0.0, 0.0, 0, 0);
        for ids in order.chunks(self.config.batch_size) {
            let x: Vec<f64> = ids
                .iter()
                .flat_map(|&i| &pixels[i * size..(i + 1) * size])
                .map(|&v| f64::from(v))
                .collect();
            let y: Vec<usize> = ids.iter().map(|&i| labels[i]).collect();
            let step = self.step(&x, &y)?;
            loss_sum += step.loss;
            homeo_sum += step.homeostatic_loss;
            correct += step.correct;
            batches += 1;
        }
        let batches = batches.max(1) as f64;
        Ok(EpochReport {
            loss: loss_sum / batches,
            homeostatic_loss: homeo_sum / batches,
            accuracy: correct as f64 / labels.len().max(1) as f64,
        })
    }

    /// One update on a batch `x` `[B, input]` with classes `labels`.
    fn step(&mut self, x: &[f64], labels: &[usize]) -> Result<StepReport, GepError> {
        let (p, c) = (&self.params, self.config);
        let free = free_phase(p, x, labels, c.relaxation.free_steps)?;
        let error = neuronal_error(p, x, labels, &free, c.relaxation, c.estimate)?;
        let mut grad = weight_update(p, x, labels, &free, &error)?;
        let mut homeostatic = 0.0;
        if let Homeostasis::On {
            coef,
            probes_per_sample,
        } = c.homeostasis
        {
            let probes = probes_per_sample * labels.len();
            let mut eps = State::zeros(p.widths, probes, Planes::Real);
            for layer in [&mut eps.l1, &mut eps.l2, &mut eps.out] {
                layer
                    .iter_mut()
                    .for_each(|v| *v = rng::normal(&mut self.rng));
            }
            let (value, g) = homeostatic_loss(p, &eps)?;
            grad.add_scaled(&g, coef);
            homeostatic = value;
        }
        let predictions = predict(p, &free);
        let correct = predictions
            .iter()
            .zip(labels)
            .filter(|(a, b)| a == b)
            .count();
        let report = StepReport {
            loss: loss(p, &free, labels),
            homeostatic_loss: homeostatic,
            correct,
        };
        let lr = self.optimizer.kind().lr();
        let mut params = self.params.tensors_mut();
        let grads = grad.tensors();
        self.optimizer.step(&mut params, &grads, lr)?;
        Ok(report)
    }
}

struct StepReport {
    loss: f64,
    homeostatic_loss: f64,
    correct: usize,
}

/// Test accuracy of `p` after `free_steps` free steps, in chunks of `chunk` images.
pub fn accuracy(
    p: &GepParams,
    pixels: &[f32],
    labels: &[usize],
    free_steps: usize,
    chunk: usize,
) -> Result<f64, ConfigError> {
    let size = p.widths.input;
    if pixels.len() != labels.len() * size || labels.is_empty() || chunk == 0 {
        return Err(ConfigError::new(
            "pixels",
            "expected one image per label, at least one",
        ));
    }
    let mut correct = 0;
    for (xs, ys) in pixels.chunks(chunk * size).zip(labels.chunks(chunk)) {
        let x: Vec<f64> = xs.iter().map(|&v| f64::from(v)).collect();
        let free = free_phase(p, &x, ys, free_steps)?;
        correct += predict(p, &free)
            .iter()
            .zip(ys)
            .filter(|(a, b)| a == b)
            .count();
    }
    Ok(correct as f64 / labels.len() as f64)
}
