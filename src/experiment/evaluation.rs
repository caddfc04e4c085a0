//! Test results and cost metrics of a network on an experiment's data.

use super::{Experiment, ExperimentError};
use crate::data::{spike_timing_correct, BatchTargets};
use crate::losses::{DistanceSums, LossKind, VanRossumKernel};
use crate::metrics::{CostMetrics, MetricsAccumulator};
use crate::network::Network;
use crate::quant::Quantization;
use crate::real::Real;
use crate::substrate::{Chip, SubstrateConfig};
use crate::tensor::Seq;
use crate::training::{evaluate_observed, evaluate_on_device, EvalStats, TrainError};
use serde::{Deserialize, Serialize};

/// Test results of one model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// Test accuracy (classification).
    pub test_accuracy: Option<f64>,
    /// Mean test loss.
    pub test_loss: f64,
    /// Cost metrics on the test split.
    pub cost: CostMetrics,
}

impl Experiment {
    /// Evaluates `net` on `indices` and measures its cost metrics ([`crate::metrics`]), with
    /// its weight matrices stored as `precision`.
    pub fn measure(
        &self,
        net: &Network<f32>,
        indices: &[usize],
        precision: Quantization,
    ) -> Result<(EvalStats, CostMetrics), ExperimentError> {
        let mut acc = MetricsAccumulator::new(net);
        let stats = evaluate_observed(
            net,
            &self.config.training,
            &self.data,
            indices,
            self.steps,
            &mut |b| acc.add(b.input, b.trace, b.targets),
        )?;
        Ok((stats, acc.finish(net, precision)?))
    }

    /// Evaluates `net` on `indices` as it runs on each emulated chip of `chip_seeds` with the
    /// settings `substrate` ([`crate::substrate`]): one result per chip.
    pub fn measure_on_chips(
        &self,
        net: &Network<f32>,
        indices: &[usize],
        substrate: &SubstrateConfig,
        chip_seeds: &[u64],
    ) -> Result<Vec<EvalStats>, ExperimentError> {
        chip_seeds
            .iter()
            .map(|&chip_seed| {
                let config = SubstrateConfig {
                    chip_seed,
                    ..*substrate
                };
                let device = Chip::draw(&config, net)?.device(net)?;
                let training = &self.config.training;
                Ok(evaluate_on_device(
                    net, &device, training, &self.data, indices, self.steps,
                )?)
            })
            .collect()
    }

    /// With target spike trains, the normalised van Rossum distance of `net`'s outputs on
    /// `indices` ([`crate::losses::normalized_distance`], summed over the samples), with the
    /// loss's kernel or the default one; `None` for other targets or silent targets.
    pub fn van_rossum(
        &self,
        net: &Network<f32>,
        indices: &[usize],
    ) -> Result<Option<f64>, ExperimentError> {
        let kernel = match self.config.training.loss {
            LossKind::VanRossum(kernel) => kernel,
            _ => VanRossumKernel::default(),
        };
        let dt_ms = net.spec.dt_ms;
        let mut sums = DistanceSums::default();
        let mut failed = None;
        let observed = self.observe_trains(net, indices, |output, target| {
            if failed.is_none() {
                failed = sums.add(kernel, dt_ms, output, target).err();
            }
        })?;
        if !observed {
            return Ok(None);
        }
        match failed {
            Some(e) => Err(TrainError::from(e).into()),
            None => Ok(sums.normalized()),
        }
    }

    /// With target spike trains, the fraction of samples on `indices` whose output spikes
    /// all match their target's within `tolerance_ms` ([`crate::data::spike_timing_correct`],
    /// every channel, on the time grid); `None` for other targets.
    pub fn spike_timing_accuracy(
        &self,
        net: &Network<f32>,
        indices: &[usize],
        tolerance_ms: f64,
    ) -> Result<Option<f64>, ExperimentError> {
        let dt_ms = net.spec.dt_ms;
        let (mut correct, mut total) = (0usize, 0usize);
        self.observe_trains(net, indices, |output, target| {
            for sample in 0..output.batch {
                total += 1;
                let matches = (0..output.width).all(|c| {
                    let out = spike_times_ms(output, sample, c, dt_ms);
                    let want = spike_times_ms(target, sample, c, dt_ms);
                    spike_timing_correct(&out, &want, tolerance_ms)
                });
                correct += usize::from(matches);
            }
        })?;
        Ok((total > 0).then(|| correct as f64 / total as f64))
    }

    /// Evaluates `net` on `indices`, showing each batch's output and target trains to
    /// `observe`; `false` (nothing evaluated) when the targets are not spike trains.
    fn observe_trains(
        &self,
        net: &Network<f32>,
        indices: &[usize],
        mut observe: impl FnMut(&Seq<f32>, &Seq<f32>),
    ) -> Result<bool, ExperimentError> {
        if !self.data.events().is_some_and(|d| d.has_target_trains()) {
            return Ok(false);
        }
        evaluate_observed(
            net,
            &self.config.training,
            &self.data,
            indices,
            self.steps,
            &mut |b| {
                if let BatchTargets::Trains(target) = b.targets {
                    observe(b.trace.output(), target);
                }
            },
        )?;
        Ok(true)
    }

    /// Accuracy, loss and cost metrics of `net` on the test split.
    pub fn test_result(
        &self,
        net: &Network<f32>,
        precision: Quantization,
    ) -> Result<TestResult, ExperimentError> {
        let (stats, cost) = self.measure(net, &self.split.test, precision)?;
        Ok(self.result_of(&stats, cost))
    }

    /// The [`TestResult`] of evaluated statistics and measured costs.
    pub(super) fn result_of(&self, stats: &EvalStats, cost: CostMetrics) -> TestResult {
        let classify = self.config.training.loss.is_classification();
        TestResult {
            test_accuracy: classify.then(|| stats.accuracy()),
            test_loss: stats.mean_loss(),
            cost,
        }
    }
}

/// The steps (in ms) at which channel `c` of sample `b` of `[T, B, C]` spikes.
fn spike_times_ms<F: Real>(spikes: &Seq<F>, b: usize, c: usize, dt_ms: f64) -> Vec<f64> {
    (0..spikes.steps)
        .filter(|&t| spikes.row(t, b)[c].as_f64() > 0.5)
        .map(|t| t as f64 * dt_ms)
        .collect()
}
