//! Non-spiking leaky readout: the LIF's synapse and membrane without threshold or reset.
//!
//! ```text
//! I[t] = α I[t−1] + x[t]
//! U[t] = β U[t−1] + γ I[t]      (the output is U[t]; γ = 1 − β, or 1: MembraneInput)
//! ```
//!
//! With `α = 0`, `β = 1` and `γ = 1` this is NIR's `I` node, the integrator
//! `U[t] = U[t−1] + x[t]` (its gain folded into the weights).
//!
//! Adjoint (`g = ∂L/∂U[t]`):
//!
//! ```text
//! λU* = λU + g                      λI* = λI + γ λU*
//! ∂L/∂I[t−1] = α λI*                ∂L/∂U[t−1] = β λU*          ∂L/∂x[t] = λI*
//! ∂L/∂α += λI* I[t−1]               ∂L/∂β += λU* (U[t−1] − I[t])  (γ = 1 − β)
//!                                   ∂L/∂β += λU* U[t−1]           (γ = 1)
//! ```

use super::{state_vector, NeuronModel, SavedState, StepAdjoint, StepContext, StepJacobian};
use crate::real::Real;
use multiversion::multiversion;

/// Per-neuron state of [`LeakyReadout`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReadoutState<F> {
    /// Synaptic current `I`.
    pub syn: F,
    /// Membrane potential `U` (the output).
    pub mem: F,
}

state_vector!(ReadoutState { syn, mem });

impl<F: Real> SavedState<F> for ReadoutState<F> {
    fn membrane(&self) -> F {
        self.mem
    }
    fn is_finite(&self) -> bool {
        self.syn.is_finite() && self.mem.is_finite()
    }
}

/// How the current enters the membrane.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MembraneInput {
    /// `(1 − β) I`: the membrane follows the current (leaky readouts).
    #[default]
    Normalized,
    /// `I`: the membrane sums the current (integrators).
    Unit,
}

/// Parameters of a layer of leaky readout units.
#[derive(Clone, Debug)]
pub struct LeakyReadout<F> {
    /// Synaptic decay `α = exp(−dt/τ_syn)` per unit.
    pub alpha: Vec<F>,
    /// Membrane decay `β = exp(−dt/τ_mem)` per unit.
    pub beta: Vec<F>,
    /// The membrane's input gain `γ`.
    pub input: MembraneInput,
}

impl MembraneInput {
    /// `γ` and `∂γ/∂β`.
    #[inline(always)]
    fn gain<F: Real>(self, beta: F) -> (F, F) {
        match self {
            MembraneInput::Normalized => (F::one() - beta, -F::one()),
            MembraneInput::Unit => (F::one(), F::zero()),
        }
    }
}

/// One unit's step (`α`, `β` its decays): `I[t] = α I[t−1] + x[t]`,
/// `V[t] = β V[t−1] + γ I[t]`; the output is `V[t]`.
#[inline(always)]
fn step_unit<F: Real>(
    (alpha, beta): (F, F),
    membrane_input: MembraneInput,
    prev: &ReadoutState<F>,
    input: F,
) -> ReadoutState<F> {
    let syn = alpha * prev.syn + input;
    let mem = beta * prev.mem + membrane_input.gain(beta).0 * syn;
    ReadoutState { syn, mem }
}

/// One unit's adjoint through a step from `prev` to `state`, given the state adjoints
/// carried from the step after (`carry`) and `∂L/∂V[t]` (`g_out`); adds `∂L/∂α`, `∂L/∂β` to
/// `grads`.
#[inline(always)]
fn adjoint_unit<F: Real>(
    (alpha, beta): (F, F),
    membrane_input: MembraneInput,
    (prev, state): (&ReadoutState<F>, &ReadoutState<F>),
    carry: &ReadoutState<F>,
    g_out: F,
    grads: &mut [F],
) -> StepAdjoint<F, ReadoutState<F>> {
    let (gain, d_gain) = membrane_input.gain(beta);
    let lam_mem = carry.mem + g_out;
    let lam_syn = carry.syn + gain * lam_mem;
    grads[0] += lam_syn * prev.syn;
    grads[1] += lam_mem * (prev.mem + d_gain * state.syn);
    StepAdjoint {
        prev_state: ReadoutState {
            syn: alpha * lam_syn,
            mem: beta * lam_mem,
        },
        input: lam_syn,
        prev_out: F::zero(),
    }
}

/// [`LeakyReadout::step`] over a row of units, as one loop the compiler vectorises (a
/// readout's rows are narrow, so a call per unit costs more than the unit's arithmetic).
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
fn step_rows<F: Real>(
    (alpha, beta): (&[F], &[F]),
    membrane_input: MembraneInput,
    prev: &[ReadoutState<F>],
    input: &[F],
    states: &mut [ReadoutState<F>],
    outs: &mut [F],
) {
    let units = alpha.iter().zip(beta).zip(prev).zip(input);
    for ((((&a, &b), p), &x), (s, o)) in units.zip(states.iter_mut().zip(outs.iter_mut())) {
        *s = step_unit((a, b), membrane_input, p, x);
        *o = s.mem;
    }
}

/// [`LeakyReadout::adjoint`] over a row of units, with the row's bookkeeping of
/// [`NeuronModel::adjoint_row`] (`adjoints` = state adjoints, `∂L/∂o[t−1]`, `∂L/∂x[t]`).
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
fn adjoint_rows<F: Real>(
    (alpha, beta): (&[F], &[F]),
    membrane_input: MembraneInput,
    prev: &[ReadoutState<F>],
    saved: &[ReadoutState<F>],
    g_ext: &[F],
    (lam, g_prev_out, g_input): (&mut [ReadoutState<F>], &mut [F], &mut [F]),
    grads: &mut [F],
) {
    let units = alpha
        .iter()
        .zip(beta)
        .zip(prev.iter().zip(saved))
        .zip(g_ext);
    let adjoints = lam
        .iter_mut()
        .zip(g_prev_out.iter_mut())
        .zip(g_input.iter_mut());
    let rows = units.zip(adjoints).zip(grads.chunks_exact_mut(2));
    for (((((&a, &b), (p, s)), &g), ((l, gpo), gi)), gr) in rows {
        let adj = adjoint_unit((a, b), membrane_input, (p, s), l, g + *gpo, gr);
        *l = adj.prev_state;
        *gi = adj.input;
        *gpo = adj.prev_out;
    }
}

impl<F: Real> LeakyReadout<F> {
    /// `n` integrators: `α = 0`, `β = 1`, `γ = 1`.
    pub fn integrators(n: usize) -> Self {
        Self {
            alpha: vec![F::zero(); n],
            beta: vec![F::one(); n],
            input: MembraneInput::Unit,
        }
    }
}

impl<F: Real> NeuronModel<F> for LeakyReadout<F> {
    type State = ReadoutState<F>;
    type Saved = ReadoutState<F>;
    /// `[∂L/∂α, ∂L/∂β]`.
    const GRADS_PER_NEURON: usize = 2;

    fn width(&self) -> usize {
        self.alpha.len()
    }

    fn initial_state(&self, _j: usize) -> Self::State {
        ReadoutState::default()
    }

    #[inline(always)]
    fn step(
        &self,
        j: usize,
        prev: &Self::State,
        _prev_out: F,
        input: F,
        _ctx: &StepContext,
    ) -> (Self::State, F) {
        let state = step_unit((self.alpha[j], self.beta[j]), self.input, prev, input);
        (state, state.mem)
    }

    #[inline(always)]
    fn save(&self, state: &Self::State) -> Self::Saved {
        *state
    }

    #[inline(always)]
    fn output(&self, _j: usize, saved: &Self::Saved, _ctx: &StepContext) -> F {
        saved.mem
    }

    #[inline(always)]
    fn adjoint(
        &self,
        j: usize,
        prev: &Self::State,
        _prev_out: F,
        state: &Self::State,
        carry: &Self::State,
        g_out: F,
        grads: &mut [F],
    ) -> StepAdjoint<F, Self::State> {
        let decays = (self.alpha[j], self.beta[j]);
        adjoint_unit(decays, self.input, (prev, state), carry, g_out, grads)
    }

    fn step_row(
        &self,
        prev: &[Self::State],
        _prev_outs: &[F],
        input: &[F],
        states: &mut [Self::State],
        outs: &mut [F],
        _ctx: &StepContext,
    ) {
        let decays = (&self.alpha[..], &self.beta[..]);
        step_rows(decays, self.input, prev, input, states, outs);
    }

    fn adjoint_row(
        &self,
        prev: &[Self::Saved],
        _first: bool,
        saved: &[Self::Saved],
        g_ext: &[F],
        lam: &mut [Self::State],
        g_prev_out: &mut [F],
        g_input: &mut [F],
        grads: &mut [F],
        _ctx: &StepContext,
    ) {
        let decays = (&self.alpha[..], &self.beta[..]);
        let adjoints = (lam, g_prev_out, g_input);
        adjoint_rows(decays, self.input, prev, saved, g_ext, adjoints, grads);
    }

    fn jacobian(
        &self,
        j: usize,
        prev: &Self::State,
        _prev_out: F,
        state: &Self::State,
        jac: &mut StepJacobian<F>,
    ) {
        let (one, alpha, beta) = (F::one(), self.alpha[j], self.beta[j]);
        let (gain, d_gain) = self.input.gain(beta);
        let (syn, mem) = (0, 1);
        jac.set_prev(syn, syn, alpha);
        jac.set_prev(mem, syn, gain * alpha);
        jac.set_prev(mem, mem, beta);
        jac.input[syn] = one;
        jac.input[mem] = gain;
        // Slots [α, β].
        jac.set_param(syn, 0, prev.syn);
        jac.set_param(mem, 0, gain * prev.syn);
        jac.set_param(mem, 1, prev.mem + d_gain * state.syn);
        jac.out[mem] = one;
    }
}
