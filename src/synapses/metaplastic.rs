//! Metaplastic binarized synapses (Laborieux, Ernoult, Hirtzlin & Querlioz 2021, "Synaptic
//! metaplasticity in binarized neural networks", Nat. Commun. 12:2549).
//!
//! A synapse keeps a hidden weight `W_h`; its efficacy is the binary `sign(W_h)` (see
//! [`crate::models::DenseWeights::Binary`]). `|W_h|` is the synapse's consolidation: the
//! larger it is, the harder it becomes to flip the sign. An optimizer's update `Δ` of `W_h`
//! is applied in full when it grows `|W_h|` and attenuated when it shrinks it:
//!
//! ```text
//! Δ ← Δ · f_meta(W_h)   if Δ · W_h < 0,   f_meta(W) = 1 − tanh²(m · W)
//! ```
//!
//! with the metaplasticity strength `m ≥ 0` (`m = 0`: the plain optimizer). For Adam this is
//! the paper's `Adam_meta` (its condition `sign(W_h) · m_t > 0` is `Δ · W_h < 0`, as Adam's
//! step is `−lr · m̂/(√v̂ + ε)`); written on the step rather than inside one optimizer, it
//! applies to any of them. As in the paper, only weight matrices are metaplastic, not biases
//! or neuron parameters.

use crate::real::Real;

/// The metaplastic attenuation of updates that shrink a hidden weight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metaplasticity {
    /// The strength `m ≥ 0`.
    pub strength: f64,
}

impl Metaplasticity {
    /// `f_meta(W) = 1 − tanh²(m · W)`, the factor of a shrinking update at hidden weight `w`.
    pub fn attenuation<F: Real>(&self, w: F) -> F {
        let t = (F::from_f64(self.strength) * w).tanh();
        F::one() - t * t
    }

    /// Attenuates the update `after − before` of one tensor element-wise, where it shrinks
    /// `|before|`; `after` holds the optimizer's result and receives the metaplastic one.
    pub fn modulate<F: Real>(&self, before: &[F], after: &mut [F]) {
        for (&w, new) in before.iter().zip(after.iter_mut()) {
            let (delta, factor) = (*new - w, self.attenuation(w));
            // factor = 1 (m = 0, or w = 0) leaves the optimizer's value bit for bit.
            if delta * w < F::zero() && factor < F::one() {
                *new = w + delta * factor;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinking_updates_are_attenuated_growing_ones_kept() {
        let meta = Metaplasticity { strength: 1.35 };
        let before = [0.5f64, 0.5, -2.0, -2.0, 0.0, 0.1];
        let mut after = [0.4, 0.7, -1.0, -2.5, -0.3, -0.2];
        meta.modulate(&before, &mut after);
        let f = |w: f64| 1.0 - (1.35 * w).tanh().powi(2);
        let expected = [
            0.5 - 0.1 * f(0.5), // shrinks |W|: attenuated
            0.7,                // grows |W|: unchanged
            -2.0 + 1.0 * f(2.0),
            -2.5,
            -0.3,               // at W = 0 nothing shrinks
            0.1 - 0.3 * f(0.1), // crosses zero: the whole step is attenuated
        ];
        for (a, e) in after.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{a} vs {e}");
        }
        // Consolidated weights barely move towards zero.
        assert!(f(2.0) < 0.02 && f(0.0) == 1.0);
    }

    #[test]
    fn zero_strength_is_the_plain_update() {
        let meta = Metaplasticity { strength: 0.0 };
        let before = [0.3f32, -0.2, 4.0];
        let mut after = [0.1f32, 0.5, 3.0];
        let plain = after;
        meta.modulate(&before, &mut after);
        assert_eq!(after, plain);
    }

    /// The paper's Adam_meta on one element, written out: `m_t = (1 − β1) g` after the first
    /// step, and the attenuated step when `sign(W) · m_t > 0`.
    #[test]
    fn matches_adam_meta_on_a_first_step() {
        use crate::optimizers::{Optimizer, OptimizerKind};
        let meta = Metaplasticity { strength: 2.0 };
        let w0 = [0.8f64, -0.8, 0.8];
        let grads = [0.5f64, 0.5, -0.5];
        let mut opt = Optimizer::<f64>::new(OptimizerKind::adam(), &[3]).unwrap();
        let mut w = w0;
        opt.step(&mut [&mut w[..]], &[&grads[..]], 0.01).unwrap();
        meta.modulate(&w0, &mut w);
        for ((&w, &w0), &g) in w.iter().zip(&w0).zip(&grads) {
            // Adam's first step is −lr · sign(g) (up to ε); Adam_meta scales it by f_meta
            // where sign(W) = sign(g).
            let consolidating = w0 * g > 0.0;
            let factor = if consolidating {
                1.0 - (2.0 * w0).tanh().powi(2)
            } else {
                1.0
            };
            let expected = w0 - 0.01 * g.signum() * factor;
            assert!((w - expected).abs() < 1e-9, "{w} vs {expected}");
        }
    }
}
