//! The model families a run trains, and what a run needs of each: building the model and its
//! rule, checkpoints, and the test report.

use super::weights::{best_checkpoint, network_checkpoint, restore_network};
use super::{Experiment, ExperimentError, INIT};
use crate::error::ConfigError;
use crate::io::{Checkpoint, CheckpointError};
use crate::metrics::CostMetrics;
use crate::models::Mlp;
use crate::network::Network;
use crate::quant::Quantization;
use crate::rules::RuleKind;
use crate::rules::{InTheLoop, Rule};
use crate::training::{derive_seed, Backprop, EvalStats, Learner, Model};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// The seed purpose of a rule's random parts (e-prop's random feedback).
const RULE: u64 = 13;

/// A model's test statistics and whatever else its family measures.
pub(crate) struct TestParts {
    pub stats: EvalStats,
    pub cost: Option<CostMetrics>,
    pub fano_factor: Option<Vec<Option<f64>>>,
    pub van_rossum: Option<f64>,
}

/// What a run needs of a model family.
pub(crate) trait RunModel: Model + Sized {
    /// How its gradients are computed.
    type Rule: Learner<Self>;
    /// The experiment's model, freshly initialised from the seed, and its rule.
    fn build(exp: &Experiment) -> Result<(Self, Self::Rule), ExperimentError>;
    /// Every tensor as an f32 checkpoint (`net.NAME`).
    fn checkpoint(&self) -> Checkpoint;
    /// The best-weights checkpoint (int8 under quantization-aware training).
    fn best_checkpoint(&self, quantize: Quantization) -> Result<Checkpoint, ExperimentError>;
    /// Loads a checkpoint of [`Self::checkpoint`] or [`Self::best_checkpoint`].
    fn restore(&mut self, ckpt: &Checkpoint, path: &Path) -> Result<Quantization, CheckpointError>;
    /// Tests `self` on the experiment's test split.
    fn test(&self, exp: &Experiment, precision: Quantization)
        -> Result<TestParts, ExperimentError>;
}

impl RunModel for Network<f32> {
    type Rule = Rule;
    fn build(exp: &Experiment) -> Result<(Self, Rule), ExperimentError> {
        let net = exp.new_network()?;
        let rule_seed = derive_seed(exp.config.seed, RULE, 0);
        let rule = match &exp.config.substrate {
            None => Rule::new(exp.config.training.rule, &net, rule_seed),
            Some(substrate) if exp.config.training.rule == RuleKind::Bptt => {
                Rule::InTheLoop(InTheLoop::new(substrate, &net)?)
            }
            Some(_) => {
                return Err(ConfigError::new(
                    "substrate",
                    "training with the substrate in the loop needs `training.rule = \"bptt\"`",
                )
                .into())
            }
        };
        Ok((net, rule))
    }
    fn checkpoint(&self) -> Checkpoint {
        network_checkpoint(self)
    }
    fn best_checkpoint(&self, quantize: Quantization) -> Result<Checkpoint, ExperimentError> {
        best_checkpoint(self, quantize)
    }
    fn restore(&mut self, ckpt: &Checkpoint, path: &Path) -> Result<Quantization, CheckpointError> {
        restore_network(self, ckpt, path)
    }
    fn test(
        &self,
        exp: &Experiment,
        precision: Quantization,
    ) -> Result<TestParts, ExperimentError> {
        let (mut stats, cost) = exp.measure(self, &exp.split.test, precision)?;
        if let Some(substrate) = &exp.config.substrate {
            // A run trained in the loop is tested on its chip.
            let seeds = [substrate.chip_seed];
            stats = exp
                .measure_on_chips(self, &exp.split.test, substrate, &seeds)?
                .remove(0);
        }
        Ok(TestParts {
            stats,
            cost: Some(cost),
            fano_factor: exp.fano_factors(self)?,
            van_rossum: exp.van_rossum(self, &exp.split.test)?,
        })
    }
}

impl RunModel for Mlp<f32> {
    type Rule = Backprop;
    fn build(exp: &Experiment) -> Result<(Self, Backprop), ExperimentError> {
        Ok((exp.new_mlp()?, Backprop))
    }
    fn checkpoint(&self) -> Checkpoint {
        tensors_checkpoint(self)
    }
    fn best_checkpoint(&self, _quantize: Quantization) -> Result<Checkpoint, ExperimentError> {
        Ok(tensors_checkpoint(self))
    }
    fn restore(&mut self, ckpt: &Checkpoint, path: &Path) -> Result<Quantization, CheckpointError> {
        restore_tensors(self, ckpt, path)?;
        Ok(Quantization::None)
    }
    fn test(&self, exp: &Experiment, _: Quantization) -> Result<TestParts, ExperimentError> {
        let config = &exp.config.training;
        Ok(TestParts {
            stats: self.evaluate(config, &exp.data, &exp.split.test, exp.steps)?,
            cost: None,
            fano_factor: None,
            van_rossum: None,
        })
    }
}

impl Experiment {
    /// The experiment's dense network, freshly initialised from the seed.
    pub fn new_mlp(&self) -> Result<Mlp<f32>, ExperimentError> {
        let Some(spec) = self.config.network.mlp() else {
            return Err(not_family("mlp"));
        };
        let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(self.config.seed, INIT, 0));
        Ok(Mlp::new(spec, &mut rng)?)
    }
}

/// The error of asking a run for a family it does not have.
pub(super) fn not_family(kind: &str) -> ExperimentError {
    ConfigError::new("network.kind", format!("this run's network is not {kind}")).into()
}

/// Every tensor of `model` as `net.NAME`.
pub fn tensors_checkpoint(model: &impl Model) -> Checkpoint {
    let mut ckpt = Checkpoint::default();
    for t in model.tensors() {
        ckpt.insert(format!("net.{}", t.name), t.shape.clone(), t.data.to_vec());
    }
    ckpt
}

/// Loads every learnable tensor of `model` from `net.NAME` (lengths checked).
pub fn restore_tensors(
    model: &mut impl Model,
    ckpt: &Checkpoint,
    path: &Path,
) -> Result<(), CheckpointError> {
    let names: Vec<(String, usize)> = model
        .tensors()
        .iter()
        .filter(|t| t.learnable)
        .map(|t| (t.name.clone(), t.data.len()))
        .collect();
    for ((name, len), dst) in names.iter().zip(model.learnable_mut()) {
        dst.copy_from_slice(ckpt.get(path, &format!("net.{name}"), *len)?);
    }
    Ok(())
}
