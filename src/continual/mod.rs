//! The continual-learning protocol: a sequence of tasks trained one after another, with an
//! optional consolidation penalty ([`crate::consolidation`]), and after each task the accuracy
//! on every task seen so far.
//!
//! The network is the experiment's, spiking or dense, trained on each task with the
//! experiment's training settings (the learning-rate schedule restarting with every task).
//! Tasks come from one experiment's data and split:
//! - [`TaskSequence::SplitClasses`]: task `k` holds classes `k·m … (k+1)·m − 1` and is scored
//!   on its own head (the outputs of its classes; Split MNIST: 0/1, 2/3, …);
//! - [`TaskSequence::Permuted`]: task `k` is every sample with its inputs permuted by a fixed
//!   random permutation (task 0 unpermuted), one head for all (Permuted MNIST).
//!
//! The report holds the accuracy matrix `R[i][j]` (after task `i`, on task `j ≤ i`), the mean
//! accuracy after the last task, the forgetting (mean over earlier tasks of their best accuracy
//! minus their final one; Chaudhry et al. 2018) and the backward transfer
//! (`mean_j R[T−1][j] − R[j][j]`; Lopez-Paz & Ranzato 2017).

mod directory;

use crate::config::NetworkConfig;
pub use crate::config::{ContinualConfig, TaskSequence};
use crate::consolidation::{Consolidation, ConsolidationKind};
use crate::data::{shuffled_indices, Dataset};
use crate::error::ConfigError;
use crate::experiment::{Experiment, ExperimentError, RunModel};
use crate::models::Mlp;
use crate::network::Network;
use crate::rules::RuleKind;
use crate::training::{derive_seed, learnable_views, BatchReport, EvalScope, EvalStats, Trainer};
pub use directory::{task_count, train, ContinualFinal};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::time::Instant;

/// The seed purpose of the task permutations.
const PERMUTE: u64 = 15;
/// The seed purpose of EWC's Fisher samples.
const FISHER: u64 = 16;
/// The seed purpose of each task's training draws.
const TASK: u64 = 17;

/// What a continual run found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContinualReport {
    /// `accuracy[i][j]`: test accuracy on task `j` after training task `i` (`j ≤ i`).
    pub accuracy: Vec<Vec<f64>>,
    /// Mean test accuracy over all tasks after the last.
    pub mean_accuracy: f64,
    /// Mean over all but the last task of its best accuracy minus its final one.
    pub forgetting: f64,
    /// Mean over all but the last task of its final accuracy minus its accuracy right after
    /// it was trained.
    pub backward_transfer: f64,
}

impl ContinualReport {
    /// The summaries of an accuracy matrix.
    pub fn from_matrix(accuracy: Vec<Vec<f64>>) -> Self {
        let last = accuracy.last().cloned().unwrap_or_default();
        let mean = |v: &mut dyn Iterator<Item = f64>, n: usize| v.sum::<f64>() / n.max(1) as f64;
        let earlier = last.len().saturating_sub(1);
        let best = |j: usize| {
            accuracy[j..accuracy.len() - 1]
                .iter()
                .map(|row| row[j])
                .fold(f64::MIN, f64::max)
        };
        Self {
            mean_accuracy: mean(&mut last.iter().copied(), last.len()),
            forgetting: mean(&mut (0..earlier).map(|j| best(j) - last[j]), earlier),
            backward_transfer: mean(&mut (0..earlier).map(|j| last[j] - accuracy[j][j]), earlier),
            accuracy,
        }
    }
}

/// One task: its data (the experiment's own, or a permuted copy), training and test samples,
/// and head.
struct Task<'a> {
    data: Cow<'a, Dataset>,
    train: Vec<usize>,
    test: Vec<usize>,
    head: Option<Vec<usize>>,
}

/// Runs the protocol on `exp`'s data and network (spiking or dense; its training settings per
/// task), reporting every task's progress to `progress`.
pub fn run(
    exp: &Experiment,
    continual: &ContinualConfig,
    progress: &mut dyn FnMut(usize, BatchReport),
) -> Result<ContinualReport, ExperimentError> {
    let tasks = checked_tasks(exp, continual)?;
    run_tasks(exp, continual, &tasks, progress)
}

/// The reference of training every task alone: for each task, a fresh network (the same
/// initialisation) trained `epochs_per_task` epochs on it, and its test accuracy.
pub fn from_scratch(
    exp: &Experiment,
    continual: &ContinualConfig,
    progress: &mut dyn FnMut(usize, BatchReport),
) -> Result<Vec<f64>, ExperimentError> {
    let tasks = checked_tasks(exp, continual)?;
    let alone = ContinualConfig {
        consolidation: ConsolidationKind::Finetune,
        ..*continual
    };
    let accuracy = |task: &Task| {
        let report = run_tasks(exp, &alone, std::slice::from_ref(task), progress)?;
        Ok(report.mean_accuracy)
    };
    tasks.iter().map(accuracy).collect()
}

/// Trains `tasks` in order on a fresh network of `exp`'s family.
fn run_tasks(
    exp: &Experiment,
    continual: &ContinualConfig,
    tasks: &[Task<'_>],
    progress: &mut dyn FnMut(usize, BatchReport),
) -> Result<ContinualReport, ExperimentError> {
    match exp.config.network {
        NetworkConfig::Spiking(_) => run_family::<Network<f32>>(exp, continual, tasks, progress),
        NetworkConfig::Mlp(_) => run_family::<Mlp<f32>>(exp, continual, tasks, progress),
    }
}

/// The tasks of a valid protocol for `exp`.
fn checked_tasks<'a>(
    exp: &'a Experiment,
    continual: &ContinualConfig,
) -> Result<Vec<Task<'a>>, ExperimentError> {
    continual.validate()?;
    let heads = matches!(continual.tasks, TaskSequence::SplitClasses { .. });
    let online = matches!(
        exp.config.training.rule,
        RuleKind::Eprop { .. } | RuleKind::SuperSpike { .. }
    );
    if heads && online && exp.config.network.spiking().is_some() {
        return Err(ConfigError::new(
            "training.rule",
            "a task split by classes scores each task on its own head, which the online rules \
             (e-prop, SuperSpike) do not support; use bptt or rtrl, or permuted tasks",
        )
        .into());
    }
    make_tasks(exp, continual.tasks)
}

fn run_family<M: RunModel>(
    exp: &Experiment,
    continual: &ContinualConfig,
    tasks: &[Task<'_>],
    progress: &mut dyn FnMut(usize, BatchReport),
) -> Result<ContinualReport, ExperimentError> {
    let mut trainer = new_trainer::<M>(exp, continual)?;
    let mut accuracy = Vec::with_capacity(tasks.len());
    for i in 0..tasks.len() {
        let mut batches = Batches(&mut *progress);
        accuracy.push(learn_task(
            &mut trainer,
            exp,
            continual,
            tasks,
            i,
            &mut batches,
        )?);
    }
    Ok(ContinualReport::from_matrix(accuracy))
}

/// What the protocol reports while it trains.
trait TaskProgress {
    /// After every batch of (1-based, counted over all tasks) `epoch`.
    fn batch(&mut self, epoch: usize, report: BatchReport);
    /// After every epoch, with its training statistics and duration.
    fn epoch(&mut self, _epoch: usize, _stats: &EvalStats, _seconds: f64) {}
}

/// Batch reports passed on to a closure.
struct Batches<'a>(&'a mut dyn FnMut(usize, BatchReport));

impl TaskProgress for Batches<'_> {
    fn batch(&mut self, epoch: usize, report: BatchReport) {
        (self.0)(epoch, report)
    }
}

/// A fresh network of `exp`'s family in a trainer carrying `continual`'s consolidation.
fn new_trainer<M: RunModel>(
    exp: &Experiment,
    continual: &ContinualConfig,
) -> Result<Trainer<M::Rule, M>, ExperimentError> {
    let (model, rule) = M::build(exp)?;
    let config = exp.config.training.clone();
    let mut trainer = Trainer::with_rule(model, rule, config, exp.steps)?;
    trainer.augment = exp.config.data.augment.clone();
    let tensors = trainer.net.tensors();
    trainer.consolidation = Consolidation::new(continual.consolidation, &learnable_views(&tensors));
    Ok(trainer)
}

/// Trains task `index` of `tasks`, consolidates it, and returns the test accuracy on every
/// task up to it (a row of the accuracy matrix).
fn learn_task<M: RunModel>(
    trainer: &mut Trainer<M::Rule, M>,
    exp: &Experiment,
    continual: &ContinualConfig,
    tasks: &[Task<'_>],
    index: usize,
    progress: &mut dyn TaskProgress,
) -> Result<Vec<f64>, ExperimentError> {
    train_task(trainer, exp, continual, index, &tasks[index], progress)?;
    consolidate(trainer, exp, continual, &tasks[index])?;
    let row = tasks[..=index]
        .iter()
        .map(|t| task_accuracy(trainer, t))
        .collect::<Result<Vec<_>, _>>()?;
    tracing::info!(task = index, ?row, "accuracy after task");
    Ok(row)
}

fn train_task<M: RunModel>(
    trainer: &mut Trainer<M::Rule, M>,
    exp: &Experiment,
    continual: &ContinualConfig,
    index: usize,
    task: &Task<'_>,
    progress: &mut dyn TaskProgress,
) -> Result<(), ExperimentError> {
    trainer.head = task.head.clone();
    if continual.reset_optimizer && index > 0 {
        trainer.reset_optimizer()?;
    }
    // Each task's epochs count from 1 (the learning-rate schedule restarts with every task)
    // and draw from the task's own seed.
    let seed = derive_seed(exp.config.seed, TASK, index as u64);
    for e in 1..=continual.epochs_per_task {
        let epoch = index * continual.epochs_per_task + e;
        let start = Instant::now();
        let stats = trainer.train_epoch(&task.data, &task.train, e, seed, &mut |r| {
            progress.batch(epoch, r)
        })?;
        progress.epoch(epoch, &stats, start.elapsed().as_secs_f64());
    }
    Ok(())
}

/// The end of a task: the consolidation takes the task's importance and anchor.
fn consolidate<M: RunModel>(
    trainer: &mut Trainer<M::Rule, M>,
    exp: &Experiment,
    continual: &ContinualConfig,
    task: &Task<'_>,
) -> Result<(), ExperimentError> {
    let fisher = match continual.consolidation {
        ConsolidationKind::Ewc { fisher_samples, .. } => {
            let order = shuffled_indices(task.train.len(), derive_seed(exp.config.seed, FISHER, 0));
            let samples: Vec<usize> = order
                .iter()
                .take(fisher_samples)
                .map(|&k| task.train[k])
                .collect();
            Some(trainer.fisher_diagonal(&task.data, &samples)?)
        }
        _ => None,
    };
    let tensors = trainer.net.tensors();
    let views = learnable_views(&tensors);
    match (&mut trainer.consolidation, fisher) {
        (Consolidation::Si(si), _) => si.end_task(&views),
        (Consolidation::Ewc(ewc), Some(fisher)) => ewc.end_task(&views, &fisher),
        _ => {}
    }
    Ok(())
}

/// Test accuracy on a task, scored on its head.
fn task_accuracy<M: RunModel>(
    trainer: &Trainer<M::Rule, M>,
    task: &Task<'_>,
) -> Result<f64, ExperimentError> {
    let net = trainer.forward_network()?;
    let stats = net.evaluate_scope(EvalScope {
        config: &trainer.config,
        data: &task.data,
        indices: &task.test,
        steps: trainer.steps,
        head: task.head.as_deref(),
    })?;
    Ok(stats.accuracy())
}

fn make_tasks(exp: &Experiment, sequence: TaskSequence) -> Result<Vec<Task<'_>>, ExperimentError> {
    let data = &exp.data;
    let Some(labels) = data.class_labels() else {
        return Err(ConfigError::new("data.source", "continual tasks need class labels").into());
    };
    // Validation samples train too: the protocol trains a fixed number of epochs per task.
    let train: Vec<usize> = exp
        .split
        .train
        .iter()
        .chain(&exp.split.valid)
        .copied()
        .collect();
    match sequence {
        TaskSequence::Permuted { tasks } => (0..tasks)
            .map(|k| {
                let data = match k {
                    0 => Cow::Borrowed(data),
                    k => Cow::Owned(data.permuted_channels(&shuffled_indices(
                        data.channels(),
                        derive_seed(exp.config.seed, PERMUTE, k as u64),
                    ))?),
                };
                Ok(Task {
                    data,
                    train: train.clone(),
                    test: exp.split.test.clone(),
                    head: None,
                })
            })
            .collect(),
        TaskSequence::SplitClasses { classes_per_task } => {
            let num_classes = data.num_classes().unwrap_or(0);
            let of = |indices: &[usize], classes: &[usize]| -> Vec<usize> {
                let wanted = |&&i: &&usize| classes.contains(&labels[i]);
                indices.iter().filter(wanted).copied().collect()
            };
            Ok((0..sequence.count(num_classes))
                .map(|k| {
                    let end = ((k + 1) * classes_per_task).min(num_classes);
                    let classes: Vec<usize> = (k * classes_per_task..end).collect();
                    Task {
                        data: Cow::Borrowed(data),
                        train: of(&train, &classes),
                        test: of(&exp.split.test, &classes),
                        head: Some(classes),
                    }
                })
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_of_an_accuracy_matrix() {
        let r =
            ContinualReport::from_matrix(vec![vec![0.9], vec![0.7, 0.95], vec![0.6, 0.9, 0.99]]);
        assert!((r.mean_accuracy - (0.6 + 0.9 + 0.99) / 3.0).abs() < 1e-12);
        // Best minus final: task 0: 0.9 − 0.6, task 1: 0.95 − 0.9.
        assert!((r.forgetting - (0.3 + 0.05) / 2.0).abs() < 1e-12);
        assert!((r.backward_transfer - (-0.3 - 0.05) / 2.0).abs() < 1e-12);
        let one = ContinualReport::from_matrix(vec![vec![0.8]]);
        assert_eq!((one.mean_accuracy, one.forgetting), (0.8, 0.0));
    }
}
