//! A continual run in a run directory: what `spikegrad train` does with a config that has a
//! `[continual]` section.
//!
//! ```text
//! RUN/config.toml              the resolved config
//! RUN/metrics.jsonl            one EpochRecord per epoch, numbered over all tasks
//! RUN/checkpoint.safetensors   after the last finished task: weights, optimizer and rule
//!                              state, the consolidation's importance and anchor
//!                              (`consolidation.importance.NAME`, `consolidation.anchor.NAME`),
//!                              the accuracy rows so far (metadata `accuracy`)
//! RUN/best.safetensors         the weights after the last finished task (for eval and plot)
//! RUN/final.json               the accuracy matrix and its summaries (ContinualFinal)
//! ```
//!
//! A run resumes at the start of the task after its last finished one; every draw of a
//! task derives from the seed and the task's index, so a resumed run ends exactly where an
//! uninterrupted one does.

use super::{
    checked_tasks, learn_task, new_trainer, ContinualConfig, ContinualReport, TaskProgress,
};
use crate::config::{NetworkConfig, TrainingConfig};
use crate::error::ConfigError;
use crate::experiment::{
    file_error, metadata, metadata_number, read_history, restore_trainer_state, trainer_checkpoint,
    write_history, EpochRecord, Experiment, ExperimentError, Observer, RunDir, RunModel,
};
use crate::io::{write_atomic_str, Checkpoint};
use crate::models::Mlp;
use crate::network::Network;
use crate::training::{BatchReport, EvalStats, Model, Trainer};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The outcome of a continual run (`final.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContinualFinal {
    /// The protocol.
    pub continual: ContinualConfig,
    /// The accuracy matrix and its summaries.
    pub report: ContinualReport,
    /// Epochs trained over all tasks.
    pub epochs: usize,
    /// Seconds spent training and testing (summed over resumed sessions).
    pub train_seconds: f64,
}

/// Trains `exp`'s task sequence into `dir` (created if needed), or continues the run there
/// with `resume`.
pub fn train(
    exp: &Experiment,
    dir: &RunDir,
    resume: bool,
    observer: &mut dyn Observer,
) -> Result<ContinualFinal, ExperimentError> {
    let Some(continual) = exp.config.continual else {
        return Err(ConfigError::new("continual", "this config has no [continual] section").into());
    };
    match exp.config.network {
        NetworkConfig::Spiking(_) => {
            train_family::<Network<f32>>(exp, &continual, dir, resume, observer)
        }
        NetworkConfig::Mlp(_) => train_family::<Mlp<f32>>(exp, &continual, dir, resume, observer),
    }
}

/// The number of tasks of `exp`'s sequence (0 without `[continual]`).
pub fn task_count(exp: &Experiment) -> usize {
    let classes = exp.data.num_classes().unwrap_or(0);
    exp.config.continual.map_or(0, |c| c.tasks.count(classes))
}

/// Everything a run needs to continue after its last finished task.
struct State<M: RunModel> {
    trainer: Trainer<M::Rule, M>,
    accuracy: Vec<Vec<f64>>,
    history: Vec<EpochRecord>,
    train_seconds: f64,
}

fn train_family<M: RunModel>(
    exp: &Experiment,
    continual: &ContinualConfig,
    dir: &RunDir,
    resume: bool,
    observer: &mut dyn Observer,
) -> Result<ContinualFinal, ExperimentError> {
    std::fs::create_dir_all(&dir.path).map_err(|e| file_error(&dir.path, e))?;
    let tasks = checked_tasks(exp, continual)?;
    let mut state = if resume {
        restore::<M>(exp, continual, dir, tasks.len())?
    } else {
        exp.write_config(dir)?;
        State {
            trainer: new_trainer::<M>(exp, continual)?,
            accuracy: Vec::new(),
            history: Vec::new(),
            train_seconds: 0.0,
        }
    };
    while state.accuracy.len() < tasks.len() {
        let index = state.accuracy.len();
        let mut recorder = Recorder {
            observer: &mut *observer,
            config: &exp.config.training,
            epochs_per_task: continual.epochs_per_task,
            records: Vec::new(),
        };
        let row = learn_task(
            &mut state.trainer,
            exp,
            continual,
            &tasks,
            index,
            &mut recorder,
        )?;
        let records = recorder.records;
        state.train_seconds += records.iter().map(|r| r.seconds).sum::<f64>();
        state.history.extend(records);
        state.accuracy.push(row);
        save(exp, dir, &state)?;
        let epoch = state.history.len();
        if state.accuracy.len() < tasks.len() && observer.stop_requested() {
            return Err(ExperimentError::Interrupted { epoch });
        }
    }
    let result = ContinualFinal {
        continual: *continual,
        report: ContinualReport::from_matrix(state.accuracy),
        epochs: state.history.len(),
        train_seconds: state.train_seconds,
    };
    let text = serde_json::to_string_pretty(&result).expect("the report serializes");
    write_atomic_str(&dir.final_report(), &text).map_err(|e| file_error(&dir.final_report(), e))?;
    Ok(result)
}

/// Epoch records for `metrics.jsonl`, passed on to the observer as they come.
struct Recorder<'a> {
    observer: &'a mut dyn Observer,
    config: &'a TrainingConfig,
    epochs_per_task: usize,
    records: Vec<EpochRecord>,
}

impl TaskProgress for Recorder<'_> {
    fn batch(&mut self, epoch: usize, report: BatchReport) {
        self.observer.batch(epoch, report);
    }

    fn epoch(&mut self, epoch: usize, stats: &EvalStats, seconds: f64) {
        let classify = self.config.loss.is_classification();
        let record = EpochRecord {
            epoch,
            // The schedule restarts with every task.
            lr: self.config.lr_at((epoch - 1) % self.epochs_per_task + 1),
            train_loss: stats.mean_loss(),
            train_reg_loss: stats.mean_reg_loss(),
            train_accuracy: classify.then(|| stats.accuracy()),
            valid_loss: None,
            valid_accuracy: None,
            rates_hz: stats.rates_hz(),
            seconds,
        };
        self.observer.epoch(&record);
        self.records.push(record);
    }
}

/// Writes the metrics, the weights, then the checkpoint (so that a crash at any point leaves
/// a checkpoint whose tasks the metrics cover).
fn save<M: RunModel>(
    exp: &Experiment,
    dir: &RunDir,
    state: &State<M>,
) -> Result<(), ExperimentError> {
    write_history(&dir.metrics(), &state.history)?;
    let quantize = exp.config.training.quantize;
    state
        .trainer
        .net
        .best_checkpoint(quantize)?
        .save(&dir.best())?;
    let mut ckpt = trainer_checkpoint(&state.trainer);
    if let Some(penalty) = state.trainer.consolidation.penalty() {
        let tensors = learnable_tensors(&state.trainer.net);
        let stored = tensors.iter().zip(&penalty.importance).zip(&penalty.anchor);
        for (((name, shape), importance), anchor) in stored {
            let entry = |kind: &str| format!("consolidation.{kind}.{name}");
            ckpt.insert(entry("importance"), shape.clone(), importance.clone());
            ckpt.insert(entry("anchor"), shape.clone(), anchor.clone());
        }
    }
    let accuracy = serde_json::to_string(&state.accuracy).expect("numbers serialize");
    let meta = [
        ("tasks_done", state.accuracy.len().to_string()),
        ("accuracy", accuracy),
        ("train_seconds", format!("{:e}", state.train_seconds)),
    ];
    ckpt.metadata
        .extend(meta.into_iter().map(|(k, v)| (k.to_string(), v)));
    ckpt.save(&dir.checkpoint())?;
    Ok(())
}

/// The name and shape of every learnable tensor, in gradient order.
fn learnable_tensors(model: &impl Model) -> Vec<(String, Vec<usize>)> {
    let tensors = model.tensors();
    let learnable = tensors.iter().filter(|t| t.learnable);
    learnable
        .map(|t| (t.name.clone(), t.shape.clone()))
        .collect()
}

/// The state of `dir`'s checkpoint; `metrics.jsonl` is cut back to match it.
fn restore<M: RunModel>(
    exp: &Experiment,
    continual: &ContinualConfig,
    dir: &RunDir,
    tasks: usize,
) -> Result<State<M>, ExperimentError> {
    let path = dir.checkpoint();
    let ckpt = Checkpoint::load(&path)?;
    let mut trainer = new_trainer::<M>(exp, continual)?;
    trainer.net.restore(&ckpt, &path)?;
    restore_trainer_state(&mut trainer, &ckpt, &path)?;
    let names = learnable_tensors(&trainer.net);
    if let Some(penalty) = trainer.consolidation.penalty_mut() {
        let stored = names
            .iter()
            .zip(&mut penalty.importance)
            .zip(&mut penalty.anchor);
        for (((name, _), importance), anchor) in stored {
            let entry = |kind: &str| format!("consolidation.{kind}.{name}");
            for (kind, values) in [("importance", importance), ("anchor", anchor)] {
                let len = values.len();
                values.copy_from_slice(ckpt.get(&path, &entry(kind), len)?);
            }
        }
    }
    let accuracy = accuracy_rows(&ckpt, &path, tasks)?;
    let epochs = accuracy.len() * continual.epochs_per_task;
    tracing::info!(tasks = accuracy.len(), "resuming from {}", path.display());
    Ok(State {
        trainer,
        history: read_history(&dir.metrics(), epochs)?,
        train_seconds: metadata_number(&ckpt, &path, "train_seconds")?,
        accuracy,
    })
}

/// The accuracy rows of a checkpoint, checked: row `i` holds `i + 1` accuracies in [0, 1],
/// at most `tasks` rows, as many as `tasks_done` says.
fn accuracy_rows(
    ckpt: &Checkpoint,
    path: &Path,
    tasks: usize,
) -> Result<Vec<Vec<f64>>, ExperimentError> {
    let rows: Vec<Vec<f64>> = serde_json::from_str(metadata(ckpt, path, "accuracy")?)
        .map_err(|e| file_error(path, format!("metadata `accuracy`: {e}")))?;
    let done = metadata_number(ckpt, path, "tasks_done")?;
    let shaped = rows
        .iter()
        .enumerate()
        .all(|(i, row)| row.len() == i + 1 && row.iter().all(|a| (0.0..=1.0).contains(a)));
    if !shaped || rows.len() > tasks || done != rows.len() as f64 {
        return Err(file_error(
            path,
            format!("metadata `accuracy` is not the accuracy matrix of {done} of {tasks} tasks"),
        ));
    }
    Ok(rows)
}
