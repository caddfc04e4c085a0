//! Current-based leaky integrate-and-fire neuron, reset by multiplication.
//!
//! The reference discrete-time model of the SuperSpike/SpyTorch/stork line of work
//! (Zenke & Ganguli 2018; Neftci, Mostafa & Zenke 2019), with `α = exp(−dt/τ_syn)`,
//! `β = exp(−dt/τ_mem)` per neuron and threshold `θ`:
//!
//! ```text
//! I[t] = α I[t−1] + x[t]
//! U[t] = β U[t−1] (1 − S[t−1]) + (1 − β) I[t]
//! S[t] = H(U[t] − θ)            (backward: the surrogate derivative)
//! ```
//!
//! Adjoint (with `λ` the state adjoints carried from step `t+1` and `g` = ∂L/∂S[t]):
//!
//! ```text
//! λU* = λU + g σ'(U[t] − θ)         λI* = λI + (1 − β) λU*
//! ∂L/∂I[t−1] = α λI*                ∂L/∂U[t−1] = β (1 − S[t−1]) λU*
//! ∂L/∂x[t]   = λI*                  ∂L/∂S[t−1] = −β U[t−1] λU*   (differentiable reset only)
//! ∂L/∂α += λI* I[t−1]               ∂L/∂β += λU* (U[t−1](1 − S[t−1]) − I[t])
//! ```

use super::{NeuronModel, ResetGrad, StepAdjoint};
use crate::real::Real;
use crate::surrogates::SpikeFn;

/// Per-neuron state of [`Lif`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LifState<F> {
    /// Synaptic current `I`.
    pub syn: F,
    /// Membrane potential `U`.
    pub mem: F,
}

/// Parameters of a layer of current-based LIF neurons.
#[derive(Clone, Debug)]
pub struct Lif<F> {
    /// Synaptic decay `α = exp(−dt/τ_syn)` per neuron.
    pub alpha: Vec<F>,
    /// Membrane decay `β = exp(−dt/τ_mem)` per neuron.
    pub beta: Vec<F>,
    /// Firing threshold `θ`.
    pub threshold: F,
    /// Spike non-linearity and its surrogate.
    pub spike: SpikeFn,
    /// Whether the reset is differentiated.
    pub reset: ResetGrad,
}

impl<F: Real> NeuronModel<F> for Lif<F> {
    type State = LifState<F>;
    /// `[∂L/∂α, ∂L/∂β]`.
    const GRADS_PER_NEURON: usize = 2;

    fn width(&self) -> usize {
        self.alpha.len()
    }

    fn initial_state(&self, _j: usize) -> Self::State {
        LifState::default()
    }

    #[inline(always)]
    fn step(&self, j: usize, prev: &Self::State, prev_out: F, input: F) -> (Self::State, F) {
        let (alpha, beta) = (self.alpha[j], self.beta[j]);
        let syn = alpha * prev.syn + input;
        let mem = beta * prev.mem * (F::one() - prev_out) + (F::one() - beta) * syn;
        (
            LifState { syn, mem },
            self.spike.value(mem - self.threshold),
        )
    }

    #[inline(always)]
    fn adjoint(
        &self,
        j: usize,
        prev: &Self::State,
        prev_out: F,
        state: &Self::State,
        carry: &Self::State,
        g_out: F,
        grads: &mut [F],
    ) -> StepAdjoint<F, Self::State> {
        let (alpha, beta) = (self.alpha[j], self.beta[j]);
        let one = F::one();
        let keep = one - prev_out;
        let lam_mem = carry.mem + g_out * self.spike.derivative(state.mem - self.threshold);
        let lam_syn = carry.syn + (one - beta) * lam_mem;
        grads[0] += lam_syn * prev.syn;
        grads[1] += lam_mem * (prev.mem * keep - state.syn);
        let prev_out_grad = match self.reset {
            ResetGrad::Detached => F::zero(),
            ResetGrad::Differentiable => -beta * prev.mem * lam_mem,
        };
        StepAdjoint {
            prev_state: LifState {
                syn: alpha * lam_syn,
                mem: beta * keep * lam_mem,
            },
            input: lam_syn,
            prev_out: prev_out_grad,
        }
    }
}
