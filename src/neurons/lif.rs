//! Current-based leaky integrate-and-fire neuron, reset to zero or by subtraction.
//!
//! The reference discrete-time model of the SuperSpike/SpyTorch/stork line of work
//! (Zenke & Ganguli 2018; Neftci, Mostafa & Zenke 2019), with `α = exp(−dt/τ_syn)`,
//! `β = exp(−dt/τ_mem)` per neuron and threshold `θ`:
//!
//! ```text
//! I[t] = α I[t−1] + x[t]
//! U[t] = β K[t−1] − c S[t−1] + (1 − β) I[t]
//! S[t] = H(U[t] − θ)            (backward: the surrogate derivative)
//! ```
//!
//! where the previous step's reset ([`ResetMode`], [`ResetTerms`]) sets `K = U' − S'(a U' + b)`
//! and `c`: `(a, b, c) = (1, 0, 0)` resets to zero (`U'(1 − S')`, stork's and SpyTorch's
//! multiplication); `(0, θ, 0)` subtracts `θ` before the leak (the overshoot is kept and
//! decays with the membrane: NIR's instantaneous reset followed by the leak, SpikingJelly's
//! soft reset, snnTorch's `reset_delay=False`); `(0, 0, θ)` subtracts it after the leak
//! (snnTorch's default `reset_delay=True`):
//!
//! Adjoint (with `λ` the state adjoints carried from step `t+1` and `g = ∂L/∂S[t]`):
//!
//! ```text
//! λU* = λU + g σ'(U[t] − θ)         λI* = λI + (1 − β) λU*
//! ∂L/∂I[t−1] = α λI*                ∂L/∂U[t−1] = β (1 − a S[t−1]) λU*
//! ∂L/∂x[t]   = λI*                  ∂L/∂S[t−1] = −(β (a U[t−1] + b) + c) λU*   (differentiable reset only)
//! ∂L/∂α += λI* I[t−1]               ∂L/∂β += λU* (K[t−1] − I[t])
//! ```
//!
//! Jacobians (state order `(I, U)`, slots `(β, α)`): `∂I/∂I' = α`, `∂U/∂I' = (1 − β) α`,
//! `∂U/∂U' = β (1 − a S')`, `∂U/∂S' = −β (a U' + b) − c` (differentiable reset only),
//! `∂I/∂x = 1`, `∂U/∂x = 1 − β`, `∂U/∂β = K' − I`, `∂I/∂α = I'`, `∂U/∂α = (1 − β) I'`,
//! `∂S/∂U = σ'(U − θ)` (primes: step `t−1`).
//!
//! Only the parameter gradients need `I`; the rest of the adjoint needs `U[t]`, `U[t−1]` and
//! `S[t−1] = H(U[t−1] − θ)`, recomputed from `U[t−1]`. So the LIF has two storage forms, which
//! [`LifFamily`] chooses between: [`Lif`] (decays learned) keeps the whole state per step for
//! the backward pass, while [`FixedLif`] (decays constant, the usual case) keeps `U` alone:
//! half the memory, and no stored spikes.

use super::{
    state_vector, ModelVisitor, NeuronFamily, NeuronModel, NeuronSettings, ParamDef, ParamValues,
    ResetGrad, ResetMode, ResetTerms, SavedState, StepAdjoint, StepContext, StepJacobian,
};
use crate::real::Real;
use crate::surrogates::SpikeFn;

mod rows;

/// The LIF as a config names it (`neuron = { kind = "lif" }`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LifFamily;

impl NeuronFamily for LifFamily {
    const PARAMS: &'static [ParamDef<Self>] = &[ParamDef::TAU_MEM, ParamDef::TAU_SYN];

    fn with_model<F: Real, V: ModelVisitor<F>>(
        &self,
        values: ParamValues<'_, F>,
        settings: &NeuronSettings<F>,
        visitor: V,
    ) -> V::Out {
        let lif = Lif {
            alpha: values.decays("tau_syn_s", settings.dt_s),
            beta: values.decays("tau_mem_s", settings.dt_s),
            threshold: settings.threshold,
            spike: settings.spike,
            reset: settings.reset,
            reset_mode: settings.reset_mode,
        };
        if settings.learn_tau {
            visitor.visit(lif)
        } else {
            visitor.visit(FixedLif(lif))
        }
    }
}

/// Per-neuron state of [`Lif`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LifState<F> {
    /// Synaptic current `I`.
    pub syn: F,
    /// Membrane potential `U`.
    pub mem: F,
}

state_vector!(LifState { syn, mem });

impl<F: Real> SavedState<F> for LifState<F> {
    fn membrane(&self) -> F {
        self.mem
    }
    fn is_finite(&self) -> bool {
        self.syn.is_finite() && self.mem.is_finite()
    }
}

/// Parameters of a layer of current-based LIF neurons whose decays are learned (the backward
/// pass computes `∂L/∂β` and `∂L/∂α`, in [`LifFamily::PARAMS`] order).
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
    /// What a spike does to the membrane.
    pub reset_mode: ResetMode,
}

/// The LIF's storage form for constant decays: no parameter gradients, and only `U` is kept
/// per step for the backward pass.
#[derive(Clone, Debug)]
pub struct FixedLif<F>(pub Lif<F>);

/// The state adjoints of one step, before they are propagated to step `t−1`.
struct Adjoints<F> {
    /// `λU* = λU + g σ'(U[t] − θ)`.
    mem: F,
    /// `λI* = λI + (1 − β) λU*`.
    syn: F,
}

impl<F: Real> Lif<F> {
    /// The reset's terms at this layer's threshold.
    #[inline(always)]
    pub(crate) fn reset_terms(&self) -> ResetTerms<F> {
        ResetTerms::new(self.reset_mode, self.threshold)
    }

    /// The forward update of one neuron (shared by [`NeuronModel::step`] and the row kernel).
    #[inline(always)]
    fn update(
        (alpha, beta): (F, F),
        reset: ResetTerms<F>,
        prev: &LifState<F>,
        prev_out: F,
        input: F,
    ) -> LifState<F> {
        let syn = alpha * prev.syn + input;
        let mem = reset.leaked(beta, prev.mem, prev_out) + (F::one() - beta) * syn;
        LifState { syn, mem }
    }

    /// `λU*` and `λI*` of one neuron given `σ'(U[t] − θ)`.
    #[inline(always)]
    fn adjoints(beta: F, carry: &LifState<F>, g_out: F, surrogate: F) -> Adjoints<F> {
        let mem = carry.mem + g_out * surrogate;
        Adjoints {
            mem,
            syn: carry.syn + (F::one() - beta) * mem,
        }
    }

    /// What one adjoint step hands back, given the neuron's decays and reset terms (the
    /// row kernels build the terms once per row), `U[t−1]`, `S[t−1]` and the step's adjoints.
    #[inline(always)]
    fn propagate(
        &self,
        (alpha, beta, reset): (F, F, ResetTerms<F>),
        prev_mem: F,
        prev_out: F,
        lam: &Adjoints<F>,
    ) -> StepAdjoint<F, LifState<F>> {
        let prev_out_grad = match self.reset {
            ResetGrad::Detached => F::zero(),
            ResetGrad::Differentiable => reset.d_spike(beta, prev_mem) * lam.mem,
        };
        StepAdjoint {
            prev_state: LifState {
                syn: alpha * lam.syn,
                mem: beta * reset.d_mem(prev_out) * lam.mem,
            },
            input: lam.syn,
            prev_out: prev_out_grad,
        }
    }

    /// The Jacobians of one step of neuron `j`; with `decay_slots` also those of the decays.
    fn jacobian_with(
        &self,
        j: usize,
        prev: &LifState<F>,
        prev_out: F,
        state: &LifState<F>,
        jac: &mut StepJacobian<F>,
        decay_slots: bool,
    ) {
        let (one, alpha, beta) = (F::one(), self.alpha[j], self.beta[j]);
        let reset = self.reset_terms();
        let (syn, mem) = (0, 1);
        jac.set_prev(syn, syn, alpha);
        jac.set_prev(mem, syn, (one - beta) * alpha);
        jac.set_prev(mem, mem, beta * reset.d_mem(prev_out));
        if self.reset == ResetGrad::Differentiable {
            jac.prev_out[mem] = reset.d_spike(beta, prev.mem);
        }
        jac.input[syn] = one;
        jac.input[mem] = one - beta;
        if decay_slots {
            jac.set_param(mem, 0, reset.kept(prev.mem, prev_out) - state.syn);
            jac.set_param(syn, 1, prev.syn);
            jac.set_param(mem, 1, (one - beta) * prev.syn);
        }
        jac.out[mem] = self.spike.derivative(state.mem - self.threshold);
    }

    /// The full adjoint of one neuron; accumulates `[∂L/∂β, ∂L/∂α]` into `grads`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn adjoint_with(
        &self,
        (alpha, beta, reset): (F, F, ResetTerms<F>),
        prev: &LifState<F>,
        prev_out: F,
        state: &LifState<F>,
        carry: &LifState<F>,
        g_out: F,
        surrogate: F,
        grads: &mut [F],
    ) -> StepAdjoint<F, LifState<F>> {
        let lam = Self::adjoints(beta, carry, g_out, surrogate);
        grads[0] += lam.mem * (reset.kept(prev.mem, prev_out) - state.syn);
        grads[1] += lam.syn * prev.syn;
        self.propagate((alpha, beta, reset), prev.mem, prev_out, &lam)
    }
}

impl<F: Real> NeuronModel<F> for Lif<F> {
    type State = LifState<F>;
    type Saved = LifState<F>;
    /// `[∂L/∂β, ∂L/∂α]`.
    const GRADS_PER_NEURON: usize = 2;

    fn width(&self) -> usize {
        self.alpha.len()
    }

    fn initial_state(&self, _j: usize) -> Self::State {
        LifState::default()
    }

    #[inline(always)]
    fn step(
        &self,
        j: usize,
        prev: &Self::State,
        prev_out: F,
        input: F,
        ctx: &StepContext,
    ) -> (Self::State, F) {
        let decays = (self.alpha[j], self.beta[j]);
        let state = Self::update(decays, self.reset_terms(), prev, prev_out, input);
        (state, self.record_output(j, &state, ctx))
    }

    #[inline(always)]
    fn save(&self, state: &Self::State) -> Self::Saved {
        *state
    }

    #[inline(always)]
    fn output(&self, j: usize, saved: &Self::Saved, ctx: &StepContext) -> F {
        self.record_output(j, saved, ctx)
    }

    #[inline(always)]
    fn adjoint(
        &self,
        j: usize,
        prev: &Self::Saved,
        prev_out: F,
        saved: &Self::Saved,
        carry: &Self::State,
        g_out: F,
        grads: &mut [F],
    ) -> StepAdjoint<F, Self::State> {
        self.record_adjoint(j, prev, prev_out, saved, carry, g_out, grads)
    }

    fn jacobian(
        &self,
        j: usize,
        prev: &Self::State,
        prev_out: F,
        state: &Self::State,
        jac: &mut StepJacobian<F>,
    ) {
        self.jacobian_with(j, prev, prev_out, state, jac, true);
    }

    fn step_row(
        &self,
        prev: &[Self::State],
        prev_outs: &[F],
        input: &[F],
        states: &mut [Self::State],
        outs: &mut [F],
        ctx: &StepContext,
    ) {
        self.step_row_with(prev, prev_outs, input, states, outs, ctx);
    }

    fn adjoint_row(
        &self,
        prev: &[Self::Saved],
        first: bool,
        saved: &[Self::Saved],
        g_ext: &[F],
        lam: &mut [Self::State],
        g_prev_out: &mut [F],
        g_input: &mut [F],
        grads: &mut [F],
        ctx: &StepContext,
    ) {
        let adjoints = (lam, g_prev_out, g_input);
        self.adjoint_rows(prev, first, saved, g_ext, adjoints, grads, ctx);
    }
}

impl<F: Real> NeuronModel<F> for FixedLif<F> {
    type State = LifState<F>;
    type Saved = F;
    const GRADS_PER_NEURON: usize = 0;

    fn width(&self) -> usize {
        self.0.width()
    }

    fn initial_state(&self, j: usize) -> Self::State {
        self.0.initial_state(j)
    }

    #[inline(always)]
    fn step(
        &self,
        j: usize,
        prev: &Self::State,
        prev_out: F,
        input: F,
        ctx: &StepContext,
    ) -> (Self::State, F) {
        self.0.step(j, prev, prev_out, input, ctx)
    }

    #[inline(always)]
    fn save(&self, state: &Self::State) -> F {
        state.mem
    }

    #[inline(always)]
    fn output(&self, j: usize, saved: &F, ctx: &StepContext) -> F {
        self.0.record_output(j, saved, ctx)
    }

    #[inline(always)]
    fn adjoint(
        &self,
        j: usize,
        prev: &F,
        prev_out: F,
        saved: &F,
        carry: &Self::State,
        g_out: F,
        grads: &mut [F],
    ) -> StepAdjoint<F, Self::State> {
        self.0
            .record_adjoint(j, prev, prev_out, saved, carry, g_out, grads)
    }

    fn jacobian(
        &self,
        j: usize,
        prev: &Self::State,
        prev_out: F,
        state: &Self::State,
        jac: &mut StepJacobian<F>,
    ) {
        self.0.jacobian_with(j, prev, prev_out, state, jac, false);
    }

    fn step_row(
        &self,
        prev: &[Self::State],
        prev_outs: &[F],
        input: &[F],
        states: &mut [Self::State],
        outs: &mut [F],
        ctx: &StepContext,
    ) {
        self.0
            .step_row_with(prev, prev_outs, input, states, outs, ctx);
    }

    fn adjoint_row(
        &self,
        prev: &[F],
        first: bool,
        saved: &[F],
        g_ext: &[F],
        lam: &mut [Self::State],
        g_prev_out: &mut [F],
        g_input: &mut [F],
        grads: &mut [F],
        ctx: &StepContext,
    ) {
        let adjoints = (lam, g_prev_out, g_input);
        self.0
            .adjoint_rows(prev, first, saved, g_ext, adjoints, grads, ctx);
    }
}
