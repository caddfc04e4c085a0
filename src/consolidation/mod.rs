//! Consolidation: quadratic penalties that keep the parameters important for earlier tasks
//! near their values after those tasks, for continual learning.
//!
//! Each method keeps, per parameter, an anchor `θ*` (the value after the last task) and an
//! importance `Ω`, and adds `c Σ Ω (θ − θ*)²` to the loss (its gradient `2cΩ(θ − θ*)` to the
//! task gradient). They differ in how `Ω` is measured: along the training trajectory
//! ([`si`], synaptic intelligence) or from the curvature of the loss at the end of a task
//! ([`ewc`], the diagonal Fisher information). Fine-tuning is no penalty at all.

pub mod ewc;
pub mod si;

pub use ewc::ElasticWeights;
pub use si::SynapticIntelligence;

use serde::{Deserialize, Serialize};

/// The consolidation a continual run uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConsolidationKind {
    /// No penalty: every task simply continues from the last (the baseline).
    #[default]
    Finetune,
    /// Synaptic intelligence (Zenke, Poole & Ganguli, ICML 2017).
    Si {
        /// Strength `c` of the penalty.
        c: f64,
        /// Damping `ξ` of the importance's denominator.
        xi: f64,
    },
    /// Elastic weight consolidation (Kirkpatrick et al., PNAS 2017), diagonal Fisher.
    Ewc {
        /// Strength `λ`: the penalty is `(λ/2) Σ F (θ − θ*)²`.
        lambda: f64,
        /// Training samples of a task whose squared per-sample gradients estimate `F`.
        fisher_samples: usize,
    },
}

impl ConsolidationKind {
    /// Checks the values; the error names the field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let non_negative = |field, v: f64| {
            (v.is_finite() && v >= 0.0)
                .then_some(())
                .ok_or((field, format!("must be finite and ≥ 0, got {v}")))
        };
        match *self {
            Self::Finetune => Ok(()),
            Self::Si { c, xi } => {
                non_negative("c", c)?;
                non_negative("xi", xi)?;
                (xi > 0.0)
                    .then_some(())
                    .ok_or(("xi", "must be > 0 (it keeps Ω finite)".to_string()))
            }
            Self::Ewc {
                lambda,
                fisher_samples,
            } => {
                non_negative("lambda", lambda)?;
                (fisher_samples > 0)
                    .then_some(())
                    .ok_or(("fisher_samples", "must be at least 1".to_string()))
            }
        }
    }
}

/// The state of a consolidation method over a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Consolidation {
    /// No penalty.
    #[default]
    None,
    /// Synaptic intelligence.
    Si(SynapticIntelligence),
    /// Elastic weight consolidation.
    Ewc(ElasticWeights),
}

impl Consolidation {
    /// The state of `kind` for parameters `params` (anchored at their current values).
    pub fn new(kind: ConsolidationKind, params: &[&[f32]]) -> Self {
        match kind {
            ConsolidationKind::Finetune => Self::None,
            ConsolidationKind::Si { c, xi } => Self::Si(SynapticIntelligence::new(c, xi, params)),
            ConsolidationKind::Ewc { lambda, .. } => Self::Ewc(ElasticWeights::new(lambda, params)),
        }
    }

    /// The importance and anchor, the whole state between tasks (SI's path integral is zero
    /// there); `None` for fine-tuning.
    pub fn penalty(&self) -> Option<&QuadraticPenalty> {
        match self {
            Self::None => None,
            Self::Si(si) => Some(&si.penalty),
            Self::Ewc(ewc) => Some(&ewc.penalty),
        }
    }

    /// [`Self::penalty`], mutably (to restore it from a checkpoint).
    pub fn penalty_mut(&mut self) -> Option<&mut QuadraticPenalty> {
        match self {
            Self::None => None,
            Self::Si(si) => Some(&mut si.penalty),
            Self::Ewc(ewc) => Some(&mut ewc.penalty),
        }
    }

    /// Whether [`Self::after_step`] needs the task gradients and parameters of each step.
    pub fn tracks_steps(&self) -> bool {
        matches!(self, Self::Si(_))
    }

    /// Adds the penalty's gradient at `params` to `grads`; returns the penalty.
    pub fn add_penalty(&self, params: &[&[f32]], grads: &mut [Vec<f32>]) -> f64 {
        match self {
            Self::None => 0.0,
            Self::Si(si) => si.penalty.add(params, grads),
            Self::Ewc(ewc) => ewc.penalty.add(params, grads),
        }
    }

    /// After an optimizer step from `before` to `after` driven by the task gradient `task`.
    pub fn after_step(&mut self, task: &[Vec<f32>], before: &[Vec<f32>], after: &[&[f32]]) {
        if let Self::Si(si) = self {
            si.accumulate(task, before, after);
        }
    }
}

/// `c Σ Ω (θ − θ*)²` over every parameter tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct QuadraticPenalty {
    /// Strength `c`.
    pub strength: f64,
    /// Importance `Ω` per parameter.
    pub importance: Vec<Vec<f32>>,
    /// Anchor `θ*` per parameter.
    pub anchor: Vec<Vec<f32>>,
}

impl QuadraticPenalty {
    /// Zero importance, anchored at `params`.
    pub fn new(strength: f64, params: &[&[f32]]) -> Self {
        Self {
            strength,
            importance: params.iter().map(|p| vec![0.0; p.len()]).collect(),
            anchor: params.iter().map(|p| p.to_vec()).collect(),
        }
    }

    /// The penalty at `params`, its gradient added to `grads`.
    pub fn add(&self, params: &[&[f32]], grads: &mut [Vec<f32>]) -> f64 {
        let c = self.strength as f32;
        let mut total = 0.0;
        let tensors = params
            .iter()
            .zip(grads)
            .zip(&self.importance)
            .zip(&self.anchor);
        for (((p, g), omega), anchor) in tensors {
            for (((&theta, g), &om), &star) in p.iter().zip(g.iter_mut()).zip(omega).zip(anchor) {
                let d = theta - star;
                *g += 2.0 * c * om * d;
                total += f64::from(om * d * d);
            }
        }
        self.strength * total
    }
}

#[cfg(test)]
mod tests;
