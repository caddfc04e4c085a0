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
use crate::surrogates::{SpikeFn, SpikeKernel, WithSpikeKernel};

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

impl<F: Real> Lif<F> {
    /// The forward update of one neuron (shared by [`NeuronModel::step`] and the row kernel).
    #[inline(always)]
    fn update(alpha: F, beta: F, prev: &LifState<F>, prev_out: F, input: F) -> LifState<F> {
        let syn = alpha * prev.syn + input;
        let mem = beta * prev.mem * (F::one() - prev_out) + (F::one() - beta) * syn;
        LifState { syn, mem }
    }

    /// The adjoint of one neuron given `σ'(U[t] − θ)`; accumulates `[∂L/∂α, ∂L/∂β]` into
    /// `grads`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn adjoint_with(
        &self,
        alpha: F,
        beta: F,
        prev: &LifState<F>,
        prev_out: F,
        state: &LifState<F>,
        carry: &LifState<F>,
        g_out: F,
        surrogate: F,
        grads: &mut [F],
    ) -> StepAdjoint<F, LifState<F>> {
        let one = F::one();
        let keep = one - prev_out;
        let lam_mem = carry.mem + g_out * surrogate;
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
        let state = Self::update(self.alpha[j], self.beta[j], prev, prev_out, input);
        (state, self.spike.value(state.mem - self.threshold))
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
        let surrogate = self.spike.derivative(state.mem - self.threshold);
        let (alpha, beta) = (self.alpha[j], self.beta[j]);
        self.adjoint_with(
            alpha, beta, prev, prev_out, state, carry, g_out, surrogate, grads,
        )
    }

    fn step_row(
        &self,
        prev: &[Self::State],
        prev_outs: &[F],
        input: &[F],
        states: &mut [Self::State],
        outs: &mut [F],
    ) {
        self.spike.dispatch(StepRow {
            lif: self,
            prev,
            prev_outs,
            input,
            states,
            outs,
        });
    }

    fn adjoint_row(
        &self,
        prev: &[Self::State],
        prev_outs: &[F],
        states: &[Self::State],
        g_ext: &[F],
        lam: &mut [Self::State],
        g_prev_out: &mut [F],
        g_input: &mut [F],
        grads: &mut [F],
    ) {
        self.spike.dispatch(AdjointRow {
            lif: self,
            prev,
            prev_outs,
            states,
            g_ext,
            lam,
            g_prev_out,
            g_input,
            grads,
        });
    }
}

/// The forward row kernel: one branch-free loop per spike kind.
struct StepRow<'a, F> {
    lif: &'a Lif<F>,
    prev: &'a [LifState<F>],
    prev_outs: &'a [F],
    input: &'a [F],
    states: &'a mut [LifState<F>],
    outs: &'a mut [F],
}

impl<F: Real> WithSpikeKernel<F> for StepRow<'_, F> {
    #[inline(always)]
    fn run<K: SpikeKernel<F>>(self, kernel: K) {
        let theta = self.lif.threshold;
        let params = self.lif.alpha.iter().zip(&self.lif.beta);
        let inputs = self.prev.iter().zip(self.prev_outs).zip(self.input);
        let outputs = self.states.iter_mut().zip(self.outs.iter_mut());
        for (((&a, &b), ((p, &po), &x)), (s, o)) in params.zip(inputs).zip(outputs) {
            *s = Lif::update(a, b, p, po, x);
            *o = kernel.value(s.mem - theta);
        }
    }
}

/// The adjoint row kernel.
struct AdjointRow<'a, F> {
    lif: &'a Lif<F>,
    prev: &'a [LifState<F>],
    prev_outs: &'a [F],
    states: &'a [LifState<F>],
    g_ext: &'a [F],
    lam: &'a mut [LifState<F>],
    g_prev_out: &'a mut [F],
    g_input: &'a mut [F],
    grads: &'a mut [F],
}

impl<F: Real> WithSpikeKernel<F> for AdjointRow<'_, F> {
    #[inline(always)]
    fn run<K: SpikeKernel<F>>(self, kernel: K) {
        let lif = self.lif;
        let params = lif.alpha.iter().zip(&lif.beta);
        let forward = self
            .prev
            .iter()
            .zip(self.prev_outs)
            .zip(self.states)
            .zip(self.g_ext);
        let adjoints = self
            .lam
            .iter_mut()
            .zip(self.g_prev_out.iter_mut())
            .zip(self.g_input.iter_mut());
        let grads = self.grads.chunks_exact_mut(2);
        for ((((&a, &b), (((p, &po), s), &ge)), ((lam, gpo), gx)), g) in
            params.zip(forward).zip(adjoints).zip(grads)
        {
            let surrogate = kernel.derivative(s.mem - lif.threshold);
            let adj = lif.adjoint_with(a, b, p, po, s, lam, ge + *gpo, surrogate, g);
            *lam = adj.prev_state;
            *gx = adj.input;
            *gpo = adj.prev_out;
        }
    }
}
