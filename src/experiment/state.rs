//! The resumable state of a run and its checkpoints.

use super::family::RunModel;
use super::{file_error, EpochRecord, Experiment, ExperimentError, RunDir};
use crate::io::{write_atomic_str, Checkpoint};
use crate::training::{Learner, Trainer};
use std::path::Path;

/// Everything a run needs to continue after its last finished epoch.
pub(super) struct Progress<M: RunModel> {
    pub trainer: Trainer<M::Rule, M>,
    /// Epochs finished.
    pub epoch: usize,
    pub best_epoch: usize,
    pub best_valid_accuracy: Option<f64>,
    pub best_valid_loss: Option<f64>,
    pub train_seconds: f64,
    pub history: Vec<EpochRecord>,
}

impl<M: RunModel> Progress<M> {
    /// A new run.
    pub fn fresh(exp: &Experiment) -> Result<Self, ExperimentError> {
        let (net, rule) = M::build(exp)?;
        let training = &exp.config.training;
        let mut trainer = Trainer::with_rule(net, rule, training.clone(), exp.steps)?;
        trainer.augment = exp.config.data.augment.clone();
        Ok(Self {
            trainer,
            epoch: 0,
            best_epoch: 0,
            best_valid_accuracy: None,
            best_valid_loss: None,
            train_seconds: 0.0,
            history: Vec::new(),
        })
    }

    /// The state saved in `dir`'s checkpoint; `metrics.jsonl` is cut back to match it.
    pub fn restore(exp: &Experiment, dir: &RunDir) -> Result<Self, ExperimentError> {
        let path = dir.checkpoint();
        let ckpt = Checkpoint::load(&path)?;
        let mut progress = Self::fresh(exp)?;
        progress.trainer.net.restore(&ckpt, &path)?;
        let number = |key: &str| metadata_number(&ckpt, &path, key);
        let optional = |key: &str| -> Result<Option<f64>, ExperimentError> {
            Ok(match metadata(&ckpt, &path, key)? {
                "none" => None,
                _ => Some(number(key)?),
            })
        };
        progress.epoch = number("epoch")? as usize;
        progress.best_epoch = number("best_epoch")? as usize;
        progress.best_valid_accuracy = optional("best_valid_accuracy")?;
        progress.best_valid_loss = optional("best_valid_loss")?;
        progress.train_seconds = number("train_seconds")?;
        restore_trainer_state(&mut progress.trainer, &ckpt, &path)?;
        progress.history = read_history(&dir.metrics(), progress.epoch)?;
        tracing::info!(epoch = progress.epoch, "resuming from {}", path.display());
        Ok(progress)
    }

    /// Records a finished epoch: metrics, best weights, then the checkpoint (in that order, so
    /// a crash at any point leaves a checkpoint whose epoch the metrics cover).
    pub fn record_epoch(
        &mut self,
        exp: &Experiment,
        dir: &RunDir,
        record: EpochRecord,
    ) -> Result<(), ExperimentError> {
        self.epoch = record.epoch;
        self.train_seconds += record.seconds;
        if self.is_improvement(&record, exp.split.valid.is_empty()) {
            self.best_epoch = record.epoch;
            self.best_valid_accuracy = record.valid_accuracy;
            self.best_valid_loss = record.valid_loss;
            let best = self
                .trainer
                .net
                .best_checkpoint(exp.config.training.quantize)?;
            best.save(&dir.best())?;
            tracing::info!(epoch = record.epoch, "new best on validation");
        }
        self.history.push(record);
        write_history(&dir.metrics(), &self.history)?;
        self.checkpoint().save(&dir.checkpoint())?;
        Ok(())
    }

    /// Higher validation accuracy wins, then lower validation loss; without a validation
    /// split the latest epoch is kept.
    fn is_improvement(&self, r: &EpochRecord, no_validation: bool) -> bool {
        if no_validation || self.best_epoch == 0 {
            return true;
        }
        let loss_better =
            r.valid_loss.unwrap_or(f64::INFINITY) < self.best_valid_loss.unwrap_or(f64::INFINITY);
        match (r.valid_accuracy, self.best_valid_accuracy) {
            (Some(a), Some(b)) if a != b => a > b,
            _ => loss_better,
        }
    }

    fn checkpoint(&self) -> Checkpoint {
        let mut ckpt = trainer_checkpoint(&self.trainer);
        let opt = |v: Option<f64>| v.map_or("none".to_string(), |v| format!("{v:e}"));
        let meta = [
            ("epoch", self.epoch.to_string()),
            ("best_epoch", self.best_epoch.to_string()),
            ("best_valid_accuracy", opt(self.best_valid_accuracy)),
            ("best_valid_loss", opt(self.best_valid_loss)),
            ("train_seconds", format!("{:e}", self.train_seconds)),
        ];
        ckpt.metadata
            .extend(meta.into_iter().map(|(k, v)| (k.to_string(), v)));
        ckpt
    }
}

/// The model (`net.NAME`), optimizer (`optim.NAME`, metadata `optimizer_step`) and rule
/// (`rule.NAME`) of `trainer` as one checkpoint.
pub(crate) fn trainer_checkpoint<M: RunModel>(trainer: &Trainer<M::Rule, M>) -> Checkpoint {
    let mut ckpt = trainer.net.checkpoint();
    let optimizer = &trainer.optimizer;
    for (name, data) in optimizer.state_tensors() {
        let len = data.len();
        ckpt.insert(format!("optim.{name}"), vec![len], data);
    }
    for (name, shape, data) in trainer.rule.state_tensors() {
        ckpt.insert(format!("rule.{name}"), shape, data);
    }
    let step = optimizer.step_count().to_string();
    ckpt.metadata.insert("optimizer_step".to_string(), step);
    ckpt
}

/// Restores the optimizer and rule state of [`trainer_checkpoint`] (the model is restored by
/// its family).
pub(crate) fn restore_trainer_state<M: RunModel>(
    trainer: &mut Trainer<M::Rule, M>,
    ckpt: &Checkpoint,
    path: &Path,
) -> Result<(), ExperimentError> {
    let step = metadata_number(ckpt, path, "optimizer_step")? as u64;
    let optimizer = &mut trainer.optimizer;
    let names: Vec<String> = optimizer
        .state_tensors()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let stored = ckpt
            .tensors
            .get(&format!("optim.{name}"))
            .ok_or_else(|| file_error(path, format!("optimizer tensor `{name}` is missing")))?;
        tensors.push((name, stored.data.clone()));
    }
    optimizer.load_state(tensors, step)?;
    let rule = &mut trainer.rule;
    for (name, _, _) in rule.state_tensors() {
        let stored = ckpt
            .tensors
            .get(&format!("rule.{name}"))
            .ok_or_else(|| file_error(path, format!("rule tensor `{name}` is missing")))?;
        rule.load_state(&name, &stored.shape, &stored.data)
            .map_err(|e| file_error(path, e))?;
    }
    Ok(())
}

/// A checkpoint's metadata entry `key`.
pub(crate) fn metadata<'c>(
    ckpt: &'c Checkpoint,
    path: &Path,
    key: &str,
) -> Result<&'c str, ExperimentError> {
    ckpt.metadata
        .get(key)
        .map(String::as_str)
        .ok_or_else(|| file_error(path, format!("metadata `{key}` is missing")))
}

/// A checkpoint's metadata entry `key` as a number.
pub(crate) fn metadata_number(
    ckpt: &Checkpoint,
    path: &Path,
    key: &str,
) -> Result<f64, ExperimentError> {
    metadata(ckpt, path, key)?
        .parse::<f64>()
        .map_err(|e| file_error(path, format!("metadata `{key}`: {e}")))
}

/// The first `epochs` records of `metrics.jsonl` (an error if it holds fewer).
pub(crate) fn read_history(
    path: &Path,
    epochs: usize,
) -> Result<Vec<EpochRecord>, ExperimentError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e))?;
    let records: Vec<EpochRecord> = text
        .lines()
        .take(epochs)
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| file_error(path, format!("line {}: {e}", i + 1)))
        })
        .collect::<Result<_, _>>()?;
    if records.len() != epochs {
        return Err(file_error(
            path,
            format!("has {} epochs, the checkpoint {epochs}", records.len()),
        ));
    }
    Ok(records)
}

pub(crate) fn write_history(path: &Path, history: &[EpochRecord]) -> Result<(), ExperimentError> {
    let mut text = String::new();
    for r in history {
        text.push_str(&serde_json::to_string(r).expect("records serialize"));
        text.push('\n');
    }
    write_atomic_str(path, &text).map_err(|e| file_error(path, e))
}
