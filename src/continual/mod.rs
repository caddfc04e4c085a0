//! The continual-learning protocol: a sequence of tasks trained one after another, with an
//! optional consolidation penalty ([`crate::consolidation`]), and after each task the accuracy
//! on every task seen so far.
//!
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

use crate::consolidation::{Consolidation, ConsolidationKind};
use crate::data::{shuffled_indices, Dataset};
use crate::error::{check_count, ConfigError};
use crate::experiment::{Experiment, ExperimentError};
use crate::models::Mlp;
use crate::training::{derive_seed, learnable_views, Backprop, BatchReport, Learner, Trainer};
use serde::{Deserialize, Serialize};

/// The seed purpose of the task permutations.
const PERMUTE: u64 = 15;
/// The seed purpose of EWC's Fisher samples.
const FISHER: u64 = 16;

/// How the tasks are made from the experiment's data.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TaskSequence {
    /// Consecutive groups of `classes_per_task` classes, a head each.
    SplitClasses {
        /// Classes per task.
        classes_per_task: usize,
    },
    /// `tasks` fixed random input permutations (the first the identity), one head.
    Permuted {
        /// Number of tasks.
        tasks: usize,
    },
}

/// The protocol's settings (`[continual]`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContinualConfig {
    /// The tasks.
    pub tasks: TaskSequence,
    /// Passes over each task's training samples.
    pub epochs_per_task: usize,
    /// Whether the optimizer's state starts afresh with every task.
    pub reset_optimizer: bool,
    /// The penalty protecting earlier tasks.
    pub consolidation: ConsolidationKind,
}

impl ContinualConfig {
    /// Checks the values; errors name the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_count("continual.epochs_per_task", self.epochs_per_task)?;
        match self.tasks {
            TaskSequence::SplitClasses { classes_per_task } => {
                check_count("continual.tasks.classes_per_task", classes_per_task)?
            }
            TaskSequence::Permuted { tasks } => check_count("continual.tasks.tasks", tasks)?,
        }
        self.consolidation
            .validate()
            .map_err(|(field, e)| ConfigError::new(format!("continual.consolidation.{field}"), e))
    }
}

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

/// One task: its data, training and test samples, and head.
struct Task {
    data: Dataset,
    train: Vec<usize>,
    test: Vec<usize>,
    head: Option<Vec<usize>>,
}

/// Runs the protocol on `exp`'s data and dense network (its training settings per task),
/// reporting every task's progress to `progress`.
pub fn run(
    exp: &Experiment,
    continual: &ContinualConfig,
    progress: &mut dyn FnMut(usize, BatchReport),
) -> Result<ContinualReport, ExperimentError> {
    continual.validate()?;
    if exp.config.network.mlp().is_none() {
        return Err(ConfigError::new(
            "network.kind",
            "the continual protocol runs dense networks (kind = \"mlp\") so far",
        )
        .into());
    }
    let tasks = make_tasks(exp, continual.tasks)?;
    let mut trainer = Trainer::with_rule(
        exp.new_mlp()?,
        Backprop::default(),
        exp.config.training.clone(),
        exp.steps,
    )?;
    let tensors = trainer.net.tensors();
    trainer.consolidation = Consolidation::new(continual.consolidation, &learnable_views(&tensors));
    let mut accuracy = Vec::with_capacity(tasks.len());
    for (i, task) in tasks.iter().enumerate() {
        train_task(&mut trainer, exp, continual, i, task, progress)?;
        consolidate(&mut trainer, exp, continual, task)?;
        let row = tasks[..=i]
            .iter()
            .map(|t| task_accuracy(&trainer, t))
            .collect::<Result<Vec<_>, _>>()?;
        tracing::info!(task = i, ?row, "accuracy after task");
        accuracy.push(row);
    }
    Ok(ContinualReport::from_matrix(accuracy))
}

fn train_task(
    trainer: &mut Trainer<Backprop, Mlp<f32>>,
    exp: &Experiment,
    continual: &ContinualConfig,
    index: usize,
    task: &Task,
    progress: &mut dyn FnMut(usize, BatchReport),
) -> Result<(), ExperimentError> {
    trainer.rule.head = task.head.clone();
    if continual.reset_optimizer && index > 0 {
        trainer.reset_optimizer()?;
    }
    for e in 0..continual.epochs_per_task {
        let epoch = index * continual.epochs_per_task + e + 1;
        trainer.train_epoch(&task.data, &task.train, epoch, exp.config.seed, &mut |r| {
            progress(epoch, r)
        })?;
    }
    Ok(())
}

/// The end of a task: the consolidation takes the task's importance and anchor.
fn consolidate(
    trainer: &mut Trainer<Backprop, Mlp<f32>>,
    exp: &Experiment,
    continual: &ContinualConfig,
    task: &Task,
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

fn task_accuracy(
    trainer: &Trainer<Backprop, Mlp<f32>>,
    task: &Task,
) -> Result<f64, ExperimentError> {
    let rule = Backprop {
        head: task.head.clone(),
    };
    let stats = rule.evaluate(&trainer.net, &trainer.config, &task.data, &task.test, 1)?;
    Ok(stats.accuracy())
}

fn make_tasks(exp: &Experiment, sequence: TaskSequence) -> Result<Vec<Task>, ExperimentError> {
    let Dataset::Analog(analog) = &exp.data else {
        return Err(ConfigError::new("data.source", "needs dense (analog) samples").into());
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
                    0 => analog.clone(),
                    k => analog.permuted_channels(&shuffled_indices(
                        analog.channels,
                        derive_seed(exp.config.seed, PERMUTE, k as u64),
                    ))?,
                };
                Ok(Task {
                    data: data.into(),
                    train: train.clone(),
                    test: exp.split.test.clone(),
                    head: None,
                })
            })
            .collect(),
        TaskSequence::SplitClasses { classes_per_task } => {
            let tasks = analog.num_classes.div_ceil(classes_per_task);
            let of = |indices: &[usize], classes: &[usize]| -> Vec<usize> {
                let wanted = |&&i: &&usize| classes.contains(&analog.samples[i].class);
                indices.iter().filter(wanted).copied().collect()
            };
            Ok((0..tasks)
                .map(|k| {
                    let end = ((k + 1) * classes_per_task).min(analog.num_classes);
                    let classes: Vec<usize> = (k * classes_per_task..end).collect();
                    Task {
                        data: exp.data.clone(),
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
