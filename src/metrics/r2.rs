//! R² of regression outputs (NeuroBench's `R2`, for any number of outputs).

use crate::data::BatchTargets;
use crate::losses::{r2_per_output, LossError};
use crate::tensor::Seq;
use serde::{Deserialize, Serialize};

/// Coefficient of determination per output and their mean.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct R2Report {
    /// `R²_d = 1 − SSE_d / (N · Var_d)` per output `d` ([`r2_per_output`]).
    pub per_output: Vec<f64>,
    /// The mean over outputs (NeuroBench averages its two outputs the same way).
    pub mean: f64,
}

/// Collects readout outputs and their targets over batches.
///
/// R² is taken over the pairs the MSE loss compares, one per step and sample
/// (`N = steps × samples`): a regression sample's target vector is held over every step; a
/// per-step series (a decoded velocity) gives each step its own row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct R2Collector {
    pred: Vec<f64>,
    target: Vec<f64>,
    dims: usize,
}

impl R2Collector {
    /// Adds one batch's readout output `[T, B, C]` and targets (class targets and target
    /// spike trains are ignored).
    pub fn add(&mut self, output: &Seq<f32>, targets: &BatchTargets) {
        match targets {
            BatchTargets::Values { values, dims } => {
                self.dims = *dims;
                for t in 0..output.steps {
                    for b in 0..output.batch {
                        self.push(output.row(t, b), &values[b * dims..(b + 1) * dims]);
                    }
                }
            }
            BatchTargets::Series(series) => {
                self.dims = series.width;
                let steps = output.steps.min(series.steps);
                for t in 0..steps {
                    for b in 0..output.batch.min(series.batch) {
                        self.push(output.row(t, b), series.row(t, b));
                    }
                }
            }
            BatchTargets::Classes(_) | BatchTargets::Trains(_) => {}
        }
    }

    fn push(&mut self, prediction: &[f32], target: &[f32]) {
        self.pred.extend(prediction.iter().map(|&v| f64::from(v)));
        self.target.extend(target.iter().map(|&v| f64::from(v)));
    }

    /// R² of everything added; `None` if no regression targets were seen.
    pub fn report(&self) -> Result<Option<R2Report>, LossError> {
        if self.pred.is_empty() {
            return Ok(None);
        }
        let per_output = r2_per_output(&self.pred, &self.target, self.dims)?;
        let mean = per_output.iter().sum::<f64>() / per_output.len() as f64;
        Ok(Some(R2Report { per_output, mean }))
    }
}
