//! Neuron models: pure state-transition functions with hand-derived adjoints.
//!
//! A model describes one neuron's update `s_t = F(s_{t−1}, o_{t−1}, x_t)`, `o_t = G(s_t)` for
//! state `s`, output `o` (a spike or a membrane trace) and input current `x`. The generic scan
//! in [`crate::scan`] runs any model forward over `[T, B, N]` and backward (BPTT) using
//! [`NeuronModel::adjoint`].
//!
//! Each spiking model is one file: its equations, its [`NeuronModel`] (step and adjoint), its
//! [`NeuronFamily`] (named per-neuron parameters and how they become the model) and its tests.
//! [`NeuronKind`] names the models a config can choose; [`NeuronKind::visit`] is the one
//! place a kind becomes a model.

pub mod adaptive;
mod context;
pub mod exc_inh;
mod family;
pub mod integrate_fire;
mod jacobian;
pub mod lif;
pub mod prospective;
pub mod readout;

pub use adaptive::{AdaptiveLif, AdaptiveLifFamily, AdaptiveLifState};
pub use context::{NoiseStream, StepContext};
pub use exc_inh::{ExcInh, ExcInhFamily, ExcInhState, SynapseTarget};
pub use family::{
    FamilyVisitor, ModelVisitor, NeuronFamily, NeuronKind, NeuronSettings, ParamDef, ParamKind,
    ParamValues, PopulationSpec,
};
pub use integrate_fire::{IntegrateFire, IntegrateFireFamily, IntegrateFireState};
pub(crate) use jacobian::state_vector;
pub use jacobian::{StateVector, StepJacobian};
pub use lif::{FixedLif, Lif, LifFamily, LifState};
pub use prospective::{
    lookahead_gain, Prospective, ProspectiveFamily, ProspectiveForm, ProspectiveState,
};
pub use readout::{LeakyReadout, MembraneInput, ReadoutState};

use crate::real::Real;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// Whether the reset `U ← U·(1 − S)` passes gradient through the spike.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetGrad {
    /// The reset factor is treated as a constant backward (stork, SpyTorch; the default).
    #[default]
    Detached,
    /// The reset factor is differentiated through the surrogate.
    Differentiable,
}

/// What a spike does to the membrane (`reset = "zero"`, `"subtract"` or
/// `"subtract_after_leak"` on a layer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetMode {
    /// `U ← 0` after a spike, as `U·(1 − S)` (stork, SpyTorch; NIR's `v_reset = 0`).
    #[default]
    Zero,
    /// `U ← U − θ` right after a spike, keeping the overshoot, which then leaks with the
    /// membrane: `U[t] = β (U[t−1] − θ S[t−1]) + …` (NIR's instantaneous reset followed by
    /// the leak, SpikingJelly's soft reset, snnTorch's `reset_delay=False`).
    Subtract,
    /// `θ` subtracted in the next step, after the leak: `U[t] = β U[t−1] − θ S[t−1] + …`
    /// (snnTorch's default, `reset_mechanism="subtract"` with `reset_delay=True`; the e-prop
    /// LIF). The same as [`ResetMode::Subtract`] without a leak.
    SubtractAfterLeak,
}

impl ResetMode {
    /// The config's name of the mode (`"zero"`, `"subtract"`, `"subtract_after_leak"`).
    pub fn name(self) -> &'static str {
        match self {
            ResetMode::Zero => "zero",
            ResetMode::Subtract => "subtract",
            ResetMode::SubtractAfterLeak => "subtract_after_leak",
        }
    }

    /// The mode named `name` ([`Self::name`]).
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Zero, Self::Subtract, Self::SubtractAfterLeak]
            .into_iter()
            .find(|m| m.name() == name)
    }
}

/// A reset as a step applies it: after `U'` emitted `S'`, the membrane leaks from
/// `K = U' − S'(a U' + b)` and loses `c S'` after the leak, `U = β K − c S' + …`, with
/// `(a, b, c)` = `(1, 0, 0)` for [`ResetMode::Zero`], `(0, θ, 0)` for [`ResetMode::Subtract`]
/// and `(0, 0, θ)` for [`ResetMode::SubtractAfterLeak`]: one branch-free form the row kernels
/// vectorise for every mode (and for binary spikes bit for bit `β U'(1 − S')` under the reset
/// to zero). A model without leak takes `β = 1`.
#[derive(Clone, Copy, Debug)]
pub struct ResetTerms<F> {
    per_mem: F,
    before_leak: F,
    after_leak: F,
}

impl<F: Real> ResetTerms<F> {
    /// The terms of `mode` for threshold `threshold`.
    pub fn new(mode: ResetMode, threshold: F) -> Self {
        let (per_mem, before_leak, after_leak) = match mode {
            ResetMode::Zero => (F::one(), F::zero(), F::zero()),
            ResetMode::Subtract => (F::zero(), threshold, F::zero()),
            ResetMode::SubtractAfterLeak => (F::zero(), F::zero(), threshold),
        };
        Self {
            per_mem,
            before_leak,
            after_leak,
        }
    }

    /// The membrane the leak starts from: `K = U' − S'(a U' + b)`.
    #[inline(always)]
    pub fn kept(self, mem: F, spike: F) -> F {
        mem - spike * (self.per_mem * mem + self.before_leak)
    }

    /// The membrane after the leak `β` and the reset: `β K − c S'`.
    #[inline(always)]
    pub fn leaked(self, beta: F, mem: F, spike: F) -> F {
        beta * self.kept(mem, spike) - self.after_leak * spike
    }

    /// `∂K/∂U' = 1 − a S'`.
    #[inline(always)]
    pub fn d_mem(self, spike: F) -> F {
        F::one() - self.per_mem * spike
    }

    /// `∂(β K − c S')/∂S' = −β (a U' + b) − c`.
    #[inline(always)]
    pub fn d_spike(self, beta: F, mem: F) -> F {
        -(beta * (self.per_mem * mem + self.before_leak) + self.after_leak)
    }
}

/// The gradients one adjoint step hands back to the scan.
#[derive(Clone, Copy, Debug)]
pub struct StepAdjoint<F, S> {
    /// `∂L/∂s_{t−1}` through this step (the carry for the previous step).
    pub prev_state: S,
    /// `∂L/∂x_t`, the gradient of the input current.
    pub input: F,
    /// `∂L/∂o_{t−1}` through this step (reset, adaptation), added to the previous output's
    /// gradient.
    pub prev_out: F,
}

/// What the forward scan keeps of one neuron and step for the backward pass.
pub trait SavedState<F>: Copy + Default + Send + Sync + Debug {
    /// The membrane potential `U`.
    fn membrane(&self) -> F;
    /// Whether every kept value is finite.
    fn is_finite(&self) -> bool;
}

impl<F: Real> SavedState<F> for F {
    fn membrane(&self) -> F {
        *self
    }
    fn is_finite(&self) -> bool {
        num_traits::Float::is_finite(*self)
    }
}

/// A neuron model usable by the generic time scan.
///
/// `j` indexes the neuron within its layer so models can have per-neuron parameters.
pub trait NeuronModel<F: Real>: Sync {
    /// Per-neuron state; the adjoint of the state uses the same type.
    type State: StateVector<F>;

    /// What the forward pass keeps per neuron and step: only what [`Self::adjoint`] needs
    /// (a LIF layer with constant time constants keeps `U` alone; its spikes are recomputed
    /// from it).
    type Saved: SavedState<F>;

    /// How many per-neuron parameter gradients [`Self::adjoint`] accumulates: none, or one
    /// per parameter of the model's [`NeuronFamily::PARAMS`], in that order (the gradient with
    /// respect to the value the model uses: the decay `exp(−dt/τ)` of a time constant).
    const GRADS_PER_NEURON: usize;

    /// Number of neurons.
    fn width(&self) -> usize;

    /// The state before the first step.
    fn initial_state(&self, j: usize) -> Self::State;

    /// One step: the new state and output from the previous state, previous output and the
    /// input current of this step; `ctx` says where the step happens (stochastic models draw
    /// their random numbers from it).
    fn step(
        &self,
        j: usize,
        prev: &Self::State,
        prev_out: F,
        input: F,
        ctx: &StepContext,
    ) -> (Self::State, F);

    /// The record of `state` kept for the backward pass.
    fn save(&self, state: &Self::State) -> Self::Saved;

    /// The output recomputed from a saved record of the step `ctx`: exactly what
    /// [`Self::step`] returned.
    fn output(&self, j: usize, saved: &Self::Saved, ctx: &StepContext) -> F;

    /// The adjoint of [`Self::step`], from the saved records of steps `t−1` and `t`.
    ///
    /// `carry` is `∂L/∂s_t` through later steps, `g_out` is `∂L/∂o_t`; `grads` (length
    /// [`Self::GRADS_PER_NEURON`]) accumulates this neuron's parameter gradients.
    #[allow(clippy::too_many_arguments)]
    fn adjoint(
        &self,
        j: usize,
        prev: &Self::Saved,
        prev_out: F,
        saved: &Self::Saved,
        carry: &Self::State,
        g_out: F,
        grads: &mut [F],
    ) -> StepAdjoint<F, Self::State>;

    /// The Jacobians of [`Self::step`] of neuron `j` from `prev` (with output `prev_out`) to
    /// `state`, written into `jac` (zeroed by the caller, sized `State::DIM` ×
    /// [`Self::GRADS_PER_NEURON`]): the forward-mode derivative the adjoint is the transpose
    /// of.
    fn jacobian(
        &self,
        j: usize,
        prev: &Self::State,
        prev_out: F,
        state: &Self::State,
        jac: &mut StepJacobian<F>,
    );

    /// [`Self::step`] for every neuron of one sample (`prev_outs` is all zeros at `t = 0`).
    ///
    /// Models may override this with a fused loop; it must compute exactly what the default
    /// does (the scan only calls the row forms).
    #[inline(always)]
    fn step_row(
        &self,
        prev: &[Self::State],
        prev_outs: &[F],
        input: &[F],
        states: &mut [Self::State],
        outs: &mut [F],
        ctx: &StepContext,
    ) {
        for j in 0..input.len() {
            let (s, o) = self.step(j, &prev[j], prev_outs[j], input[j], ctx);
            states[j] = s;
            outs[j] = o;
        }
    }

    /// [`Self::adjoint`] for every neuron of one sample.
    ///
    /// `prev` holds the saved records of step `t−1` (of the initial state at `t = 0`, where
    /// `first` is set and the previous outputs are zero). On entry `lam` holds the state
    /// adjoints carried from step `t+1` and `g_prev_out` the gradient reaching `o[t]` through
    /// step `t+1`; `g_ext` is the gradient from downstream. On exit `lam` and `g_prev_out`
    /// hold the same for step `t−1`, and `g_input` the gradient of this step's input. `grads`
    /// is `[N, GRADS_PER_NEURON]`; `ctx` is the context of step `t`. Overrides must compute
    /// exactly what the default does.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
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
        let p = Self::GRADS_PER_NEURON;
        for j in 0..g_input.len() {
            let g_o = g_ext[j] + g_prev_out[j];
            let prev_out = if first {
                F::zero()
            } else {
                self.output(j, &prev[j], &ctx.previous())
            };
            let adj = self.adjoint(
                j,
                &prev[j],
                prev_out,
                &saved[j],
                &lam[j],
                g_o,
                &mut grads[j * p..(j + 1) * p],
            );
            lam[j] = adj.prev_state;
            g_input[j] = adj.input;
            g_prev_out[j] = adj.prev_out;
        }
    }
}

/// The decay factor `exp(−dt/τ)` of a time constant.
#[inline]
pub fn decay<F: Real>(dt_s: F, tau_s: F) -> F {
    (-dt_s / tau_s).exp()
}
