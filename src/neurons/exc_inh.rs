//! LIF neuron with separate excitatory and inhibitory synaptic currents, for networks that
//! obey Dale's law.
//!
//! stork's `ExcInhLIFGroup` (the Dale's-law example of Rossbroich, Gygax & Zenke,
//! "Fluctuation-driven initialization for spiking neural network training", *Neuromorphic
//! Computing and Engineering* 2, 044016 (2022), notebook 04), written on the reference LIF's
//! time line ([`crate::neurons::Lif`]), with `α_e = exp(−dt/τ_exc)`, `α_i = exp(−dt/τ_inh)`,
//! `β = exp(−dt/τ_mem)` per neuron, excitatory input `e[t] ≥ 0` and inhibitory input
//! `h[t] ≥ 0`:
//!
//! ```text
//! E[t] = α_e E[t−1] + e[t]
//! H[t] = α_i H[t−1] + h[t]
//! U[t] = β U[t−1] (1 − S[t−1]) + (1 − β) (E[t] − H[t])
//! S[t] = H(U[t] − θ)            (backward: the surrogate derivative)
//! ```
//!
//! Adjoint (`λ` the state adjoints carried from step `t+1`, `g = ∂L/∂S[t]`):
//!
//! ```text
//! λU* = λU + g σ'(U[t] − θ)   λE* = λE + (1 − β) λU*   λH* = λH − (1 − β) λU*
//! ∂L/∂E[t−1] = α_e λE*   ∂L/∂H[t−1] = α_i λH*   ∂L/∂U[t−1] = β (1 − S[t−1]) λU*
//! ∂L/∂e[t] = λE*         ∂L/∂h[t] = λH*         ∂L/∂S[t−1] = −β U[t−1] λU* (differentiable reset)
//! ∂L/∂β += λU* (U[t−1](1 − S[t−1]) − E[t] + H[t])
//! ∂L/∂α_e += λE* E[t−1]  ∂L/∂α_i += λH* H[t−1]
//! ```
//!
//! Jacobians (state order `(E, H, U)`, slots `(β, α_e, α_i)`): `∂E/∂E' = α_e`,
//! `∂H/∂H' = α_i`, `∂U/∂E' = (1 − β) α_e`, `∂U/∂H' = −(1 − β) α_i`, `∂U/∂U' = β (1 − S')`,
//! `∂U/∂S' = −β U'` (differentiable reset only), `∂E/∂e = 1`, `∂U/∂e = 1 − β`, `∂H/∂h = 1`,
//! `∂U/∂h = −(1 − β)`, `∂U/∂β = U'(1 − S') − E + H`, `∂E/∂α_e = E'`, `∂U/∂α_e = (1 − β) E'`,
//! `∂H/∂α_i = H'`, `∂U/∂α_i = −(1 − β) H'`, `∂S/∂U = σ'(U − θ)` (primes: step `t−1`).
//!
//! The two inputs: the generic scan gives a model one input current per neuron, so as a
//! [`NeuronModel`] each neuron's input drives one of its two currents, the one its
//! [`SynapseTarget`] names (a neuron fed by one kind of synapse only). A Dale's-law layer
//! ([`crate::layers::dale`]) drives both currents of every neuron at once through
//! [`ExcInh::step_both`] and [`ExcInh::adjoint_both`], which the single-input forms are the
//! restrictions of (the input of the other current held at zero), so the gradient checks of
//! both single-input forms check the two-input step and adjoint.

use super::{
    state_vector, ModelVisitor, NeuronFamily, NeuronModel, NeuronSettings, ParamDef, ParamKind,
    ParamValues, ResetGrad, SavedState, StepAdjoint, StepContext, StepJacobian,
};
use crate::error::{check_positive, ConfigError};
use crate::real::Real;
use crate::surrogates::SpikeFn;

/// Which synaptic current a synapse drives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SynapseTarget {
    /// The excitatory current `E` (depolarising).
    #[default]
    Exc,
    /// The inhibitory current `H` (hyperpolarising).
    Inh,
}

/// The excitatory–inhibitory LIF's time constants (`tau_mem_s` is the layer's).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExcInhFamily {
    /// Excitatory synaptic time constant (stork's notebook 04: 10 ms).
    pub tau_exc_ms: f64,
    /// Inhibitory synaptic time constant (stork's notebook 04: 20 ms).
    pub tau_inh_ms: f64,
}

impl NeuronFamily for ExcInhFamily {
    const PARAMS: &'static [ParamDef<Self>] = &[
        ParamDef::TAU_MEM,
        ParamDef {
            name: "tau_exc_s",
            kind: ParamKind::TimeConstant,
            initial: |family, _, _| family.tau_exc_ms * 1e-3,
        },
        ParamDef {
            name: "tau_inh_s",
            kind: ParamKind::TimeConstant,
            initial: |family, _, _| family.tau_inh_ms * 1e-3,
        },
    ];

    fn validate(&self, at: &str) -> Result<(), ConfigError> {
        check_positive(&format!("{at}.tau_exc_ms"), self.tau_exc_ms)?;
        check_positive(&format!("{at}.tau_inh_ms"), self.tau_inh_ms)
    }

    /// The model whose single input drives every neuron's excitatory current.
    fn with_model<F: Real, V: ModelVisitor<F>>(
        &self,
        values: ParamValues<'_, F>,
        settings: &NeuronSettings<F>,
        visitor: V,
    ) -> V::Out {
        let model = ExcInh::new(values, settings);
        visitor.visit(model)
    }
}

/// Per-neuron state of [`ExcInh`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ExcInhState<F> {
    /// Excitatory synaptic current `E`.
    pub exc: F,
    /// Inhibitory synaptic current `H`.
    pub inh: F,
    /// Membrane potential `U`.
    pub mem: F,
}

state_vector!(ExcInhState { exc, inh, mem });

impl<F: Real> SavedState<F> for ExcInhState<F> {
    fn membrane(&self) -> F {
        self.mem
    }
    fn is_finite(&self) -> bool {
        self.exc.is_finite() && self.inh.is_finite() && self.mem.is_finite()
    }
}

/// Parameters of a population of excitatory–inhibitory LIF neurons.
#[derive(Clone, Debug)]
pub struct ExcInh<F> {
    /// Membrane decay `β` per neuron.
    pub beta: Vec<F>,
    /// Excitatory synaptic decay `α_e` per neuron.
    pub alpha_exc: Vec<F>,
    /// Inhibitory synaptic decay `α_i` per neuron.
    pub alpha_inh: Vec<F>,
    /// Which current the single input of [`NeuronModel::step`] drives, per neuron.
    pub target: Vec<SynapseTarget>,
    /// Firing threshold `θ`.
    pub threshold: F,
    /// Spike non-linearity and its surrogate.
    pub spike: SpikeFn,
    /// Whether the reset is differentiated.
    pub reset: ResetGrad,
}

/// The gradients one two-input adjoint step hands back.
#[derive(Clone, Copy, Debug)]
pub struct BothAdjoint<F> {
    /// `∂L/∂s[t−1]` through this step.
    pub prev_state: ExcInhState<F>,
    /// `∂L/∂e[t]`.
    pub exc: F,
    /// `∂L/∂h[t]`.
    pub inh: F,
    /// `∂L/∂S[t−1]` through the reset.
    pub prev_out: F,
}

impl<F: Real> ExcInh<F> {
    /// The model of [`ExcInhFamily`]'s parameter values, every single input excitatory.
    pub fn new(values: ParamValues<'_, F>, settings: &NeuronSettings<F>) -> Self {
        let beta = values.decays("tau_mem_s", settings.dt_s);
        let n = beta.len();
        Self {
            beta,
            alpha_exc: values.decays("tau_exc_s", settings.dt_s),
            alpha_inh: values.decays("tau_inh_s", settings.dt_s),
            target: vec![SynapseTarget::Exc; n],
            threshold: settings.threshold,
            spike: settings.spike,
            reset: settings.reset,
        }
    }

    /// One step of neuron `j` with excitatory input `exc` and inhibitory input `inh`.
    #[inline(always)]
    pub fn step_both(
        &self,
        j: usize,
        prev: &ExcInhState<F>,
        prev_out: F,
        exc: F,
        inh: F,
    ) -> ExcInhState<F> {
        let one = F::one();
        let beta = self.beta[j];
        let e = self.alpha_exc[j] * prev.exc + exc;
        let h = self.alpha_inh[j] * prev.inh + inh;
        let mem = beta * prev.mem * (one - prev_out) + (one - beta) * (e - h);
        ExcInhState {
            exc: e,
            inh: h,
            mem,
        }
    }

    /// The spike of a state.
    #[inline(always)]
    pub fn fire(&self, j: usize, state: &ExcInhState<F>, ctx: &StepContext) -> F {
        self.spike
            .fire(state.mem - self.threshold, || ctx.uniform(j))
    }

    /// The adjoint of [`Self::step_both`]; `grads` (length 3) accumulates `[∂β, ∂α_e, ∂α_i]`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn adjoint_both(
        &self,
        j: usize,
        prev: &ExcInhState<F>,
        prev_out: F,
        state: &ExcInhState<F>,
        carry: &ExcInhState<F>,
        g_out: F,
        grads: &mut [F],
    ) -> BothAdjoint<F> {
        let one = F::one();
        let (beta, ae, ai) = (self.beta[j], self.alpha_exc[j], self.alpha_inh[j]);
        let keep = one - prev_out;
        let lam_mem = carry.mem + g_out * self.spike.derivative(state.mem - self.threshold);
        let lam_exc = carry.exc + (one - beta) * lam_mem;
        let lam_inh = carry.inh - (one - beta) * lam_mem;
        grads[0] += lam_mem * (prev.mem * keep - state.exc + state.inh);
        grads[1] += lam_exc * prev.exc;
        grads[2] += lam_inh * prev.inh;
        let reset_grad = match self.reset {
            ResetGrad::Detached => F::zero(),
            ResetGrad::Differentiable => -beta * prev.mem * lam_mem,
        };
        BothAdjoint {
            prev_state: ExcInhState {
                exc: ae * lam_exc,
                inh: ai * lam_inh,
                mem: beta * keep * lam_mem,
            },
            exc: lam_exc,
            inh: lam_inh,
            prev_out: reset_grad,
        }
    }
}

impl<F: Real> NeuronModel<F> for ExcInh<F> {
    type State = ExcInhState<F>;
    type Saved = ExcInhState<F>;
    /// `[∂L/∂β, ∂L/∂α_e, ∂L/∂α_i]` ([`ExcInhFamily::PARAMS`] order).
    const GRADS_PER_NEURON: usize = 3;

    fn width(&self) -> usize {
        self.beta.len()
    }

    fn initial_state(&self, _j: usize) -> Self::State {
        ExcInhState::default()
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
        let state = match self.target[j] {
            SynapseTarget::Exc => self.step_both(j, prev, prev_out, input, F::zero()),
            SynapseTarget::Inh => self.step_both(j, prev, prev_out, F::zero(), input),
        };
        (state, self.fire(j, &state, ctx))
    }

    #[inline(always)]
    fn save(&self, state: &Self::State) -> Self::Saved {
        *state
    }

    #[inline(always)]
    fn output(&self, j: usize, saved: &Self::Saved, ctx: &StepContext) -> F {
        self.fire(j, saved, ctx)
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
        let adj = self.adjoint_both(j, prev, prev_out, state, carry, g_out, grads);
        StepAdjoint {
            prev_state: adj.prev_state,
            input: match self.target[j] {
                SynapseTarget::Exc => adj.exc,
                SynapseTarget::Inh => adj.inh,
            },
            prev_out: adj.prev_out,
        }
    }

    fn jacobian(
        &self,
        j: usize,
        prev: &Self::State,
        prev_out: F,
        state: &Self::State,
        jac: &mut StepJacobian<F>,
    ) {
        let one = F::one();
        let (beta, ae, ai) = (self.beta[j], self.alpha_exc[j], self.alpha_inh[j]);
        let (exc, inh, mem) = (0, 1, 2);
        let leak = one - beta;
        jac.set_prev(exc, exc, ae);
        jac.set_prev(inh, inh, ai);
        jac.set_prev(mem, exc, leak * ae);
        jac.set_prev(mem, inh, -leak * ai);
        jac.set_prev(mem, mem, beta * (one - prev_out));
        jac.prev_out[mem] = match self.reset {
            ResetGrad::Detached => F::zero(),
            ResetGrad::Differentiable => -beta * prev.mem,
        };
        match self.target[j] {
            SynapseTarget::Exc => {
                jac.input[exc] = one;
                jac.input[mem] = leak;
            }
            SynapseTarget::Inh => {
                jac.input[inh] = one;
                jac.input[mem] = -leak;
            }
        }
        // Slots [β, α_e, α_i].
        jac.set_param(mem, 0, prev.mem * (one - prev_out) - state.exc + state.inh);
        jac.set_param(exc, 1, prev.exc);
        jac.set_param(mem, 1, leak * prev.exc);
        jac.set_param(inh, 2, prev.inh);
        jac.set_param(mem, 2, -leak * prev.inh);
        jac.out[mem] = self.spike.derivative(state.mem - self.threshold);
    }
}

#[cfg(test)]
mod tests;
