//! Adaptive LIF: a current-based LIF with a spike-triggered adaptation current.
//!
//! stork's `AdaptiveLIFGroup` form (Bellec et al. 2018 style adaptation; defaults
//! `τ_ada = 100 ms`, strength `a = 0.1`), written on the reference LIF's time line, with
//! `ρ = exp(−dt/τ_ada)`:
//!
//! ```text
//! I[t] = α I[t−1] + x[t]
//! A[t] = ρ A[t−1] + S[t−1]
//! U[t] = β U[t−1] (1 − S[t−1]) + (1 − β) (I[t] − a A[t])
//! S[t] = H(U[t] − θ)
//! ```
//!
//! Adjoint (`g = ∂L/∂S[t]`):
//!
//! ```text
//! λU* = λU + g σ'(U[t] − θ)    λI* = λI + (1 − β) λU*    λA* = λA − a (1 − β) λU*
//! ∂L/∂I[t−1] = α λI*   ∂L/∂U[t−1] = β (1 − S[t−1]) λU*   ∂L/∂A[t−1] = ρ λA*   ∂L/∂x[t] = λI*
//! ∂L/∂S[t−1] = λA* (− β U[t−1] λU* with a differentiable reset)
//! ∂L/∂α += λI* I[t−1]   ∂L/∂β += λU* (U[t−1](1 − S[t−1]) − I[t] + a A[t])
//! ∂L/∂ρ += λA* A[t−1]   ∂L/∂a += −(1 − β) λU* A[t]
//! ```
//!
//! Its Jacobians (state order `(I, U, A)`) are the transpose of the same equations
//! ([`AdaptiveLif::jacobian`](super::NeuronModel::jacobian)).

use super::{
    state_vector, ModelVisitor, NeuronFamily, NeuronModel, NeuronSettings, ParamDef, ParamKind,
    ParamValues, ResetGrad, SavedState, StepAdjoint, StepContext, StepJacobian,
};
use crate::error::{check_non_negative, check_positive, check_range, ConfigError};
use crate::real::Real;
use crate::surrogates::SpikeFn;

/// The adaptive LIF as a config names it (`neuron = { kind = "adaptive_lif", ... }`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdaptiveLifFamily {
    /// Adaptation time constant.
    pub tau_ada_ms: f64,
    /// Adaptation strength `a`.
    pub strength: f64,
    /// Fraction of neurons that adapt (the last ones; the others have `a = 0`).
    pub adaptive_fraction: f64,
}

impl AdaptiveLifFamily {
    /// The strength of neuron `j` of `n`: `a` for the last `round(fraction·n)`, else 0.
    fn strength_of(&self, n: usize, j: usize) -> f64 {
        let adaptive = (self.adaptive_fraction * n as f64).round() as usize;
        if j + adaptive >= n {
            self.strength
        } else {
            0.0
        }
    }
}

impl NeuronFamily for AdaptiveLifFamily {
    const PARAMS: &'static [ParamDef<Self>] = &[
        ParamDef::TAU_MEM,
        ParamDef::TAU_SYN,
        ParamDef {
            name: "tau_ada_s",
            kind: ParamKind::TimeConstant,
            initial: |family, _, _| family.tau_ada_ms * 1e-3,
        },
        ParamDef {
            name: "ada_strength",
            kind: ParamKind::Constant,
            initial: |family, spec, j| family.strength_of(spec.size, j),
        },
    ];

    fn validate(&self, at: &str) -> Result<(), ConfigError> {
        check_positive(&format!("{at}.tau_ada_ms"), self.tau_ada_ms)?;
        check_non_negative(&format!("{at}.strength"), self.strength)?;
        check_range(
            &format!("{at}.adaptive_fraction"),
            self.adaptive_fraction,
            0.0,
            1.0,
            true,
        )
    }

    fn with_model<F: Real, V: ModelVisitor<F>>(
        &self,
        values: ParamValues<'_, F>,
        settings: &NeuronSettings<F>,
        visitor: V,
    ) -> V::Out {
        let dt = settings.dt_s;
        visitor.visit(AdaptiveLif {
            alpha: values.decays("tau_syn_s", dt),
            beta: values.decays("tau_mem_s", dt),
            rho: values.decays("tau_ada_s", dt),
            strength: values.get("ada_strength").to_vec(),
            threshold: settings.threshold,
            spike: settings.spike,
            reset: settings.reset,
        })
    }
}

/// Per-neuron state of [`AdaptiveLif`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AdaptiveLifState<F> {
    /// Synaptic current `I`.
    pub syn: F,
    /// Membrane potential `U`.
    pub mem: F,
    /// Adaptation variable `A` (a low-passed spike count).
    pub ada: F,
}

state_vector!(AdaptiveLifState { syn, mem, ada });

impl<F: Real> SavedState<F> for AdaptiveLifState<F> {
    fn membrane(&self) -> F {
        self.mem
    }
    fn is_finite(&self) -> bool {
        self.syn.is_finite() && self.mem.is_finite() && self.ada.is_finite()
    }
}

/// Parameters of a layer of adaptive LIF neurons.
#[derive(Clone, Debug)]
pub struct AdaptiveLif<F> {
    /// Synaptic decay `α` per neuron.
    pub alpha: Vec<F>,
    /// Membrane decay `β` per neuron.
    pub beta: Vec<F>,
    /// Adaptation decay `ρ = exp(−dt/τ_ada)` per neuron.
    pub rho: Vec<F>,
    /// Adaptation strength `a` per neuron.
    pub strength: Vec<F>,
    /// Firing threshold `θ`.
    pub threshold: F,
    /// Spike non-linearity and its surrogate.
    pub spike: SpikeFn,
    /// Whether the reset is differentiated.
    pub reset: ResetGrad,
}

impl<F: Real> NeuronModel<F> for AdaptiveLif<F> {
    type State = AdaptiveLifState<F>;
    type Saved = AdaptiveLifState<F>;
    /// `[∂L/∂β, ∂L/∂α, ∂L/∂ρ, ∂L/∂a]` ([`AdaptiveLifFamily::PARAMS`] order).
    const GRADS_PER_NEURON: usize = 4;

    fn width(&self) -> usize {
        self.alpha.len()
    }

    fn initial_state(&self, _j: usize) -> Self::State {
        AdaptiveLifState::default()
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
        let one = F::one();
        let (alpha, beta) = (self.alpha[j], self.beta[j]);
        let syn = alpha * prev.syn + input;
        let ada = self.rho[j] * prev.ada + prev_out;
        let drive = syn - self.strength[j] * ada;
        let mem = beta * prev.mem * (one - prev_out) + (one - beta) * drive;
        let state = AdaptiveLifState { syn, mem, ada };
        (state, self.output(j, &state, ctx))
    }

    #[inline(always)]
    fn save(&self, state: &Self::State) -> Self::Saved {
        *state
    }

    #[inline(always)]
    fn output(&self, j: usize, saved: &Self::Saved, ctx: &StepContext) -> F {
        self.spike
            .fire(saved.mem - self.threshold, || ctx.uniform(j))
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
        let one = F::one();
        let (alpha, beta, rho, a) = (self.alpha[j], self.beta[j], self.rho[j], self.strength[j]);
        let keep = one - prev_out;
        let lam_mem = carry.mem + g_out * self.spike.derivative(state.mem - self.threshold);
        let lam_syn = carry.syn + (one - beta) * lam_mem;
        let lam_ada = carry.ada - a * (one - beta) * lam_mem;
        grads[0] += lam_mem * (prev.mem * keep - state.syn + a * state.ada);
        grads[1] += lam_syn * prev.syn;
        grads[2] += lam_ada * prev.ada;
        grads[3] -= (one - beta) * lam_mem * state.ada;
        let reset_grad = match self.reset {
            ResetGrad::Detached => F::zero(),
            ResetGrad::Differentiable => -beta * prev.mem * lam_mem,
        };
        StepAdjoint {
            prev_state: AdaptiveLifState {
                syn: alpha * lam_syn,
                mem: beta * keep * lam_mem,
                ada: rho * lam_ada,
            },
            input: lam_syn,
            prev_out: lam_ada + reset_grad,
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
        let (alpha, beta, rho, a) = (self.alpha[j], self.beta[j], self.rho[j], self.strength[j]);
        let (syn, mem, ada) = (0, 1, 2);
        let leak = one - beta;
        jac.set_prev(syn, syn, alpha);
        jac.set_prev(ada, ada, rho);
        jac.set_prev(mem, syn, leak * alpha);
        jac.set_prev(mem, mem, beta * (one - prev_out));
        jac.set_prev(mem, ada, -leak * a * rho);
        jac.prev_out[ada] = one;
        jac.prev_out[mem] = -leak * a
            + match self.reset {
                ResetGrad::Detached => F::zero(),
                ResetGrad::Differentiable => -beta * prev.mem,
            };
        jac.input[syn] = one;
        jac.input[mem] = leak;
        // Slots [β, α, ρ, a].
        jac.set_param(
            mem,
            0,
            prev.mem * (one - prev_out) - state.syn + a * state.ada,
        );
        jac.set_param(syn, 1, prev.syn);
        jac.set_param(mem, 1, leak * prev.syn);
        jac.set_param(ada, 2, prev.ada);
        jac.set_param(mem, 2, -leak * a * prev.ada);
        jac.set_param(mem, 3, -leak * state.ada);
        jac.out[mem] = self.spike.derivative(state.mem - self.threshold);
    }
}
