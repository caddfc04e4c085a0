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
/// A regression sample's target vector is held over every step, and the MSE loss compares it
/// with the readout at every step; R² is taken over the same pairs, one per step and sample:
/// `N = steps × samples`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct R2Collector {
    pred: Vec<f64>,
    target: Vec<f64>,
    dims: usize,
}

impl R2Collector {
    /// Adds one batch's readout output `[T, B, C]` and targets (class targets are ignored).
    pub fn add(&mut self, output: &Seq<f32>, targets: &BatchTargets) {
        let BatchTargets::Values { values, dims } = targets else {
            return;
        };
        self.dims = *dims;
        for t in 0..output.steps {
            for b in 0..output.batch {
                let row = output.row(t, b);
                self.pred.extend(row.iter().map(|&v| v as f64));
                let target = &values[b * dims..(b + 1) * dims];
                self.target.extend(target.iter().map(|&v| v as f64));
            }
        }
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
