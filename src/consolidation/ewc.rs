//! Elastic weight consolidation (Kirkpatrick et al., "Overcoming catastrophic forgetting in
//! neural networks", PNAS 2017), with the diagonal of the empirical Fisher information.
//!
//! At the end of a task, `F_i = (1/N) Σ_n (∂ℓ_n/∂θ_i)²` over `N` of its training samples (the
//! loss of each sample at its own label: the empirical Fisher, which the synaptic-intelligence
//! code's Fisher protocol also uses) is added to the importance, the anchor moves to the
//! current parameters, and later tasks minimise `L + (λ/2) Σ F (θ − θ*)²`.

use super::QuadraticPenalty;

/// EWC's accumulated Fisher diagonal and anchor.
#[derive(Clone, Debug, PartialEq)]
pub struct ElasticWeights {
    /// `Ω = F` summed over tasks, `θ*` and the strength `λ/2`.
    pub penalty: QuadraticPenalty,
}

impl ElasticWeights {
    /// No importance yet, anchored at `params`.
    pub fn new(lambda: f64, params: &[&[f32]]) -> Self {
        Self {
            penalty: QuadraticPenalty::new(0.5 * lambda, params),
        }
    }

    /// The end of a task at `params` with Fisher diagonal `fisher`: `Ω += F`, `θ* ← θ`.
    pub fn end_task(&mut self, params: &[&[f32]], fisher: &[Vec<f32>]) {
        let p = &mut self.penalty;
        for (k, theta) in params.iter().enumerate() {
            p.importance[k]
                .iter_mut()
                .zip(&fisher[k])
                .for_each(|(o, &f)| *o += f);
            p.anchor[k].copy_from_slice(theta);
        }
    }
}
