//! Synaptic intelligence (Zenke, Poole & Ganguli, "Continual learning through synaptic
//! intelligence", ICML 2017; reference code `ganguli-lab/pathint`, `protocols.py`).
//!
//! Along the trajectory of a task each parameter accumulates its contribution to the drop of
//! the loss, `ω += −g·Δθ` per optimizer step, with `g` the gradient of the task loss alone (not
//! of the penalty) and `Δθ` the step taken. At the end of the task its importance grows by
//! that contribution per squared distance travelled,
//! `Ω ← max(0, Ω + ω / ((θ − θ*)² + ξ))`, the anchor moves, `θ* ← θ`, and `ω ← 0`. The loss of
//! later tasks is `L + c Σ Ω (θ − θ*)²`.

use super::QuadraticPenalty;

/// Synaptic intelligence's per-parameter path integral, importance and anchor.
#[derive(Clone, Debug, PartialEq)]
pub struct SynapticIntelligence {
    /// `Ω`, `θ*` and the strength `c`.
    pub penalty: QuadraticPenalty,
    /// `ω`, the path integral of the current task.
    pub path: Vec<Vec<f32>>,
    /// `ξ`.
    pub xi: f64,
}

impl SynapticIntelligence {
    /// No importance yet, anchored at `params`.
    pub fn new(c: f64, xi: f64, params: &[&[f32]]) -> Self {
        Self {
            penalty: QuadraticPenalty::new(c, params),
            path: params.iter().map(|p| vec![0.0; p.len()]).collect(),
            xi,
        }
    }

    /// `ω += −g·Δθ` for one step from `before` to `after`.
    pub fn accumulate(&mut self, task: &[Vec<f32>], before: &[Vec<f32>], after: &[&[f32]]) {
        for (((w, g), b), a) in self.path.iter_mut().zip(task).zip(before).zip(after) {
            for (((w, &g), &b), &a) in w.iter_mut().zip(g).zip(b).zip(a.iter()) {
                *w -= g * (a - b);
            }
        }
    }

    /// The end of a task at `params`: `Ω` grows, `θ*` moves to `params`, `ω` restarts.
    pub fn end_task(&mut self, params: &[&[f32]]) {
        let xi = self.xi as f32;
        let p = &mut self.penalty;
        let tensors = params.iter().zip(&mut self.path).zip(&mut p.importance);
        for (((theta, w), omega), anchor) in tensors.zip(&mut p.anchor) {
            for (((&t, w), om), star) in theta.iter().zip(w.iter_mut()).zip(omega).zip(anchor) {
                let d = t - *star;
                *om = (*om + *w / (d * d + xi)).max(0.0);
                *star = t;
                *w = 0.0;
            }
        }
    }
}
