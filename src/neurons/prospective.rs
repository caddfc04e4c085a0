//! Prospective neuron: a current-based leaky neuron whose adaptation current makes it answer
//! the input's future rather than its past.
//!
//! A leaky neuron low-passes its input: for a slow signal it lags by about its time
//! constants, `τ_syn + τ_mem`, and a chain of `L` such layers by `L` times that, so a teaching
//! signal reaches deep layers out of step with the activity it should instruct (Zucchet,
//! Feng, Laborieux, Zenke, Senn & Sacramento, arXiv 2511.14917). Latent Equilibrium (Haider
//! et al., NeurIPS 2021) cancels the lag with the prospective output `u + τ_m du/dt`. Here the
//! derivative comes from an adaptation variable that low-passes the membrane with a short
//! `τ_ada`: `U − A` is the membrane high-passed, `≈ τ_ada dU/dt` for signals slower than
//! `τ_ada`, so `V = U + k (U − A)` looks ahead by `k τ_ada`, and the adaptation current
//! `k (U − A)` is what a neuron with fast adaptation adds to its drive. With `ρ = exp(−dt/τ_ada)`
//! and the horizon's decay `δ = exp(−dt/τ_pro)`:
//!
//! ```text
//! I[t] = α I[t−1] + x[t]
//! U[t] = β U[t−1] + (1 − β) I[t]
//! A[t] = ρ A[t−1] + (1 − ρ) U[t]
//! R[t] = β (R[t−1] + θ S[t−1])                    (the reset; 0 in the rate form)
//! V[t] = U[t] + k (U[t] − A[t]) − R[t],      k = δ (1 − ρ) / ((1 − δ) ρ)
//! S[t] = f(V[t] − θ)   (spiking form)      o[t] = V[t]   (rate form: no threshold, no reset)
//! ```
//!
//! Why these choices: a first-order low-pass `y = βy' + (1−β)x` delays slow signals by
//! exactly `β/(1−β)` steps, and `U − A` is `ρ/(1−ρ)` steps times the one-step difference of
//! `U` at low frequencies, so `k` above advances `V` by `δ/(1−δ)` steps: the lag of a low-pass
//! of time constant `τ_pro`. The default horizon `τ_pro = τ_syn + τ_mem` cancels the neuron's
//! own first-order lag up to half a step. The spiking form resets through its own trace `R`,
//! outside the look-ahead: with `k = 0`, `U − R` is exactly a LIF reset by subtraction, but a
//! reset applied to `U` itself (and `A`) would be followed by `U` relaxing back towards `I`,
//! a rise the look-ahead amplifies by `k` (about `kθ τ_ada/τ_mem`, more than `θ` for the
//! default horizon), so the neuron would fire again at once and run at the top rate. Every
//! time constant, the horizon included, is a learnable time constant.
//!
//! Adjoint (`g = ∂L/∂o[t]`, `f'` the surrogate or 1 in the rate form, `R = θ S[t−1]`):
//!
//! ```text
//! λV* = λV + g f'(V[t] − θ)     λA* = λA − k λV*     λU* = λU + (1 + k) λV* + (1 − ρ) λA*
//! λR* = λR − λV*     λI* = λI + (1 − β) λU*
//! ∂L/∂I[t−1] = α λI*   ∂L/∂U[t−1] = β λU*   ∂L/∂A[t−1] = ρ λA*   ∂L/∂R[t−1] = β λR*
//! ∂L/∂V[t−1] = 0   ∂L/∂x = λI*   ∂L/∂S[t−1] = β θ λR*   (differentiable reset, spiking form)
//! ∂L/∂β += λU* (U[t−1] − I[t]) + λR* (R[t−1] + θ S[t−1])   ∂L/∂α += λI* I[t−1]
//! ∂L/∂ρ += λA* (A[t−1] − U[t]) + λV* (U − A) ∂k/∂ρ   ∂L/∂δ += λV* (U − A) ∂k/∂δ
//! ```

use super::{
    state_vector, ModelVisitor, NeuronFamily, NeuronModel, NeuronSettings, ParamDef, ParamKind,
    ParamValues, ResetGrad, SavedState, StepAdjoint, StepContext, StepJacobian,
};
use crate::error::{check_non_negative, check_positive, ConfigError};
use crate::real::Real;
use crate::surrogates::SpikeFn;
use serde::{Deserialize, Serialize};

/// Whether a prospective neuron emits spikes or its prospective potential.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProspectiveForm {
    /// The output is `V` itself: a rate neuron (no threshold, no reset).
    #[default]
    Rate,
    /// Spikes `S = f(V − θ)` with the network's spike function, reset by subtraction.
    Spiking,
}

/// The prospective neuron as a config names it (`neuron = { kind = "prospective", ... }`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProspectiveFamily {
    /// Adaptation time constant: shorter than the signals the neuron should anticipate.
    pub tau_ada_ms: f64,
    /// How far ahead the neuron looks; `None`: its own lag, `τ_syn + τ_mem`; 0: not at all
    /// (`k = 0`, a leaky neuron reset by subtraction).
    pub horizon_ms: Option<f64>,
    /// Rate or spiking output.
    pub form: ProspectiveForm,
}

impl NeuronFamily for ProspectiveFamily {
    const PARAMS: &'static [ParamDef<Self>] = &[
        ParamDef::TAU_MEM,
        ParamDef::TAU_SYN,
        ParamDef {
            name: "tau_ada_s",
            kind: ParamKind::TimeConstant,
            initial: |family, _, _| family.tau_ada_ms * 1e-3,
        },
        ParamDef {
            name: "tau_pro_s",
            kind: ParamKind::TimeConstant,
            initial: |family, spec, _| {
                family
                    .horizon_ms
                    .unwrap_or(spec.tau_syn_ms + spec.tau_mem_ms)
                    * 1e-3
            },
        },
    ];

    fn validate(&self, at: &str) -> Result<(), ConfigError> {
        check_positive(&format!("{at}.tau_ada_ms"), self.tau_ada_ms)?;
        match self.horizon_ms {
            Some(h) => check_non_negative(&format!("{at}.horizon_ms"), h),
            None => Ok(()),
        }
    }

    fn with_model<F: Real, V: ModelVisitor<F>>(
        &self,
        values: ParamValues<'_, F>,
        settings: &NeuronSettings<F>,
        visitor: V,
    ) -> V::Out {
        let dt = settings.dt_s;
        visitor.visit(Prospective {
            alpha: values.decays("tau_syn_s", dt),
            beta: values.decays("tau_mem_s", dt),
            rho: values.decays("tau_ada_s", dt),
            delta: values.decays("tau_pro_s", dt),
            threshold: settings.threshold,
            form: self.form,
            spike: settings.spike,
            reset: settings.reset,
        })
    }
}

/// Per-neuron state of [`Prospective`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProspectiveState<F> {
    /// Synaptic current `I`.
    pub syn: F,
    /// Membrane potential `U`.
    pub mem: F,
    /// Adaptation variable `A` (a low-passed membrane potential).
    pub ada: F,
    /// The reset `R`: the threshold of past spikes, decaying with `τ_mem`.
    pub refr: F,
    /// Prospective potential `V = U + k (U − A) − R`.
    pub pro: F,
}

state_vector!(ProspectiveState {
    syn,
    mem,
    ada,
    refr,
    pro
});

impl<F: Real> SavedState<F> for ProspectiveState<F> {
    fn membrane(&self) -> F {
        self.pro
    }
    fn is_finite(&self) -> bool {
        [self.syn, self.mem, self.ada, self.refr, self.pro]
            .iter()
            .all(|v| v.is_finite())
    }
}

/// Parameters of a layer of prospective neurons.
#[derive(Clone, Debug)]
pub struct Prospective<F> {
    /// Synaptic decay `α` per neuron.
    pub alpha: Vec<F>,
    /// Membrane decay `β` per neuron.
    pub beta: Vec<F>,
    /// Adaptation decay `ρ = exp(−dt/τ_ada)` per neuron.
    pub rho: Vec<F>,
    /// Horizon decay `δ = exp(−dt/τ_pro)` per neuron.
    pub delta: Vec<F>,
    /// Firing threshold `θ` (spiking form).
    pub threshold: F,
    /// Rate or spiking output.
    pub form: ProspectiveForm,
    /// Spike non-linearity and its surrogate (spiking form).
    pub spike: SpikeFn,
    /// Whether the reset is differentiated (spiking form).
    pub reset: ResetGrad,
}

/// The look-ahead gain `k = δ (1 − ρ) / ((1 − δ) ρ)` of adaptation decay `ρ` and horizon
/// decay `δ` (0 for `δ = 0`: no look-ahead).
#[inline(always)]
pub fn lookahead_gain<F: Real>(rho: F, delta: F) -> F {
    let one = F::one();
    delta / (one - delta) * ((one - rho) / rho)
}

impl<F: Real> Prospective<F> {
    /// The gain `k` of neuron `j` and its derivatives `(∂k/∂ρ, ∂k/∂δ)`.
    #[inline(always)]
    fn gain(&self, j: usize) -> (F, F, F) {
        let one = F::one();
        let (rho, delta) = (self.rho[j], self.delta[j]);
        let steps = delta / (one - delta);
        let per_step = (one - rho) / rho;
        let d_delta = per_step / ((one - delta) * (one - delta));
        (lookahead_gain(rho, delta), -steps / (rho * rho), d_delta)
    }

    /// The reset `θ S[t−1]` added to `R` (none in the rate form).
    #[inline(always)]
    fn reset_of(&self, prev_out: F) -> F {
        match self.form {
            ProspectiveForm::Rate => F::zero(),
            ProspectiveForm::Spiking => self.threshold * prev_out,
        }
    }

    /// `∂o/∂V` at `V`.
    #[inline(always)]
    fn out_slope(&self, pro: F) -> F {
        match self.form {
            ProspectiveForm::Rate => F::one(),
            ProspectiveForm::Spiking => self.spike.derivative(pro - self.threshold),
        }
    }

    /// `∂S[t]/∂S[t−1]` through the reset is taken into gradients.
    fn reset_differentiated(&self) -> bool {
        self.form == ProspectiveForm::Spiking && self.reset == ResetGrad::Differentiable
    }
}

impl<F: Real> NeuronModel<F> for Prospective<F> {
    type State = ProspectiveState<F>;
    type Saved = ProspectiveState<F>;
    /// `[∂L/∂β, ∂L/∂α, ∂L/∂ρ, ∂L/∂δ]` ([`ProspectiveFamily::PARAMS`] order).
    const GRADS_PER_NEURON: usize = 4;

    fn width(&self) -> usize {
        self.alpha.len()
    }

    fn initial_state(&self, _j: usize) -> Self::State {
        ProspectiveState::default()
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
        let (alpha, beta, rho) = (self.alpha[j], self.beta[j], self.rho[j]);
        let reset = self.reset_of(prev_out);
        let syn = alpha * prev.syn + input;
        let mem = beta * prev.mem + (one - beta) * syn;
        let ada = rho * prev.ada + (one - rho) * mem;
        let refr = beta * (prev.refr + reset);
        let pro = mem + self.gain(j).0 * (mem - ada) - refr;
        let state = ProspectiveState {
            syn,
            mem,
            ada,
            refr,
            pro,
        };
        (state, self.output(j, &state, ctx))
    }

    #[inline(always)]
    fn save(&self, state: &Self::State) -> Self::Saved {
        *state
    }

    #[inline(always)]
    fn output(&self, j: usize, saved: &Self::Saved, ctx: &StepContext) -> F {
        match self.form {
            ProspectiveForm::Rate => saved.pro,
            ProspectiveForm::Spiking => self
                .spike
                .fire(saved.pro - self.threshold, || ctx.uniform(j)),
        }
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
        let (alpha, beta, rho) = (self.alpha[j], self.beta[j], self.rho[j]);
        let (k, dk_drho, dk_ddelta) = self.gain(j);
        let reset = self.reset_of(prev_out);
        let lam_pro = carry.pro + g_out * self.out_slope(state.pro);
        let lam_ada = carry.ada - k * lam_pro;
        let lam_refr = carry.refr - lam_pro;
        let lam_mem = carry.mem + (one + k) * lam_pro + (one - rho) * lam_ada;
        let lam_syn = carry.syn + (one - beta) * lam_mem;
        let high_pass = state.mem - state.ada;
        grads[0] += lam_mem * (prev.mem - state.syn) + lam_refr * (prev.refr + reset);
        grads[1] += lam_syn * prev.syn;
        grads[2] += lam_ada * (prev.ada - state.mem) + lam_pro * high_pass * dk_drho;
        grads[3] += lam_pro * high_pass * dk_ddelta;
        let prev_out_grad = match self.reset_differentiated() {
            true => self.threshold * beta * lam_refr,
            false => F::zero(),
        };
        StepAdjoint {
            prev_state: ProspectiveState {
                syn: alpha * lam_syn,
                mem: beta * lam_mem,
                ada: rho * lam_ada,
                refr: beta * lam_refr,
                pro: F::zero(),
            },
            input: lam_syn,
            prev_out: prev_out_grad,
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
        let (alpha, beta, rho) = (self.alpha[j], self.beta[j], self.rho[j]);
        let (k, dk_drho, dk_ddelta) = self.gain(j);
        let reset = self.reset_of(prev_out);
        let (syn, mem, ada, refr, pro) = (0, 1, 2, 3, 4);
        // Rows of U, A and R over (I', U', A', R'), then V = (1 + k) U − k A − R.
        let zero = F::zero();
        let mem_row = [(one - beta) * alpha, beta, zero, zero];
        let ada_row = [(one - rho) * mem_row[0], (one - rho) * beta, rho, zero];
        let refr_row = [zero, zero, zero, beta];
        jac.set_prev(syn, syn, alpha);
        for c in 0..4 {
            jac.set_prev(mem, c, mem_row[c]);
            jac.set_prev(ada, c, ada_row[c]);
            jac.set_prev(refr, c, refr_row[c]);
            jac.set_prev(
                pro,
                c,
                (one + k) * mem_row[c] - k * ada_row[c] - refr_row[c],
            );
        }
        if self.reset_differentiated() {
            jac.prev_out[refr] = self.threshold * beta;
            jac.prev_out[pro] = -self.threshold * beta;
        }
        let (x_mem, x_ada) = (one - beta, (one - rho) * (one - beta));
        jac.input[syn] = one;
        jac.input[mem] = x_mem;
        jac.input[ada] = x_ada;
        jac.input[pro] = (one + k) * x_mem - k * x_ada;
        // Slots [β, α, ρ, δ]: each as (∂I, ∂U, ∂A, ∂R) through the state, plus k's own in V.
        let d_beta = prev.mem - state.syn;
        let d_alpha = (one - beta) * prev.syn;
        let d_rho = prev.ada - state.mem;
        let high_pass = state.mem - state.ada;
        let columns = [
            (zero, d_beta, (one - rho) * d_beta, prev.refr + reset, zero),
            (prev.syn, d_alpha, (one - rho) * d_alpha, zero, zero),
            (zero, zero, d_rho, zero, high_pass * dk_drho),
            (zero, zero, zero, zero, high_pass * dk_ddelta),
        ];
        for (slot, &(d_syn, d_mem, d_ada, d_refr, d_k)) in columns.iter().enumerate() {
            jac.set_param(syn, slot, d_syn);
            jac.set_param(mem, slot, d_mem);
            jac.set_param(ada, slot, d_ada);
            jac.set_param(refr, slot, d_refr);
            jac.set_param(pro, slot, (one + k) * d_mem - k * d_ada - d_refr + d_k);
        }
        jac.out[pro] = self.out_slope(state.pro);
    }
}

#[cfg(test)]
mod tests;
