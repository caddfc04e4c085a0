//! What a run writes: one record per epoch and the final report.

use crate::metrics::CostMetrics;
use serde::{Deserialize, Serialize};

/// Metrics of one epoch (one line of `metrics.jsonl`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Learning rate of this epoch.
    pub lr: f64,
    /// Mean task loss over the training samples (with dropout, while the weights changed).
    pub train_loss: f64,
    /// Mean regularizer penalty over the training samples.
    pub train_reg_loss: f64,
    /// Training accuracy (classification).
    pub train_accuracy: Option<f64>,
    /// Mean loss on the validation split.
    pub valid_loss: Option<f64>,
    /// Accuracy on the validation split (classification).
    pub valid_accuracy: Option<f64>,
    /// Mean firing rate of each hidden layer during training, in Hz.
    pub rates_hz: Vec<f64>,
    /// Wall-clock seconds of the epoch (training and validation).
    pub seconds: f64,
}

/// The outcome of a run (`final.json`): the best-on-validation weights on the test split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinalReport {
    /// Test accuracy (classification).
    pub test_accuracy: Option<f64>,
    /// Mean test loss.
    pub test_loss: f64,
    /// Mean firing rate of each hidden layer on the test split, in Hz.
    pub test_rates_hz: Vec<f64>,
    /// Number of test samples.
    pub test_samples: usize,
    /// Epoch whose weights were kept (1-based).
    pub best_epoch: usize,
    /// Validation accuracy of that epoch.
    pub best_valid_accuracy: Option<f64>,
    /// Validation loss of that epoch.
    pub best_valid_loss: Option<f64>,
    /// Epochs trained.
    pub epochs: usize,
    /// Seconds spent training and validating (summed over resumed sessions).
    pub train_seconds: f64,
    /// Footprint, sparsities, synaptic operations (and R² for regression) of the best weights
    /// on the test split ([`crate::metrics`]); absent in reports written before they existed.
    #[serde(default)]
    pub cost: Option<CostMetrics>,
    /// Stochastic spikes only: the Fano factor of each hidden layer's spike counts in bins of
    /// 10 steps over noisy trials of one test sample ([`crate::metrics::fano_factor`]; `null`
    /// for a silent layer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fano_factor: Option<Vec<Option<f64>>>,
    /// Target spike trains only: the van Rossum distance of the test outputs to their
    /// targets divided by that of a silent output (0: the pattern exactly, 1: no better than
    /// silence; the loss's kernel, or the default rise 5 ms / decay 10 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub van_rossum: Option<f64>,
}
