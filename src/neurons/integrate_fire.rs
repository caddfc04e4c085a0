//! Integrate-and-fire neuron: no leak and no synaptic current, reset to zero or by
//! subtraction.
//!
//! NIR's `IF` node (`dv/dt = R·I`, a spike when `v > v_threshold`, then `v ← v_reset`;
//! Pedersen et al., "Neuromorphic intermediate representation", *Nature Communications*
//! 15, 8122 (2024)) and SpikingJelly's `IFNode`, on the reference LIF's time line
//! ([`crate::neurons::Lif`]) with a resistance `r` per neuron:
//!
//! ```text
//! U[t] = K[t−1] + r x[t]
//! S[t] = H(U[t] − θ)            (backward: the surrogate derivative)
//! ```
//!
//! `K[t−1]` is the membrane after the previous step's reset ([`ResetTerms`] with `β = 1`):
//! `U[t−1](1 − S[t−1])` (to zero) or `U[t−1] − θ S[t−1]` (both subtracting modes, which
//! coincide without a leak).
//!
//! The input is scaled by `r`, not by `1 − β` as in the LIF (which is 0 without a leak): a
//! weight times `r` is the membrane's jump per input spike. `r` is a constant (1 unless an
//! imported file says otherwise), never learned.
//!
//! Adjoint (`λU` carried from step `t+1`, `g = ∂L/∂S[t]`):
//!
//! ```text
//! λU* = λU + g σ'(U[t] − θ)
//! ∂L/∂U[t−1] = (1 − S[t−1]) λU* (to zero) or λU* (subtracting)    ∂L/∂x[t] = r λU*
//! ∂L/∂S[t−1] = −U[t−1] λU* (to zero) or −θ λU* (subtracting)   (differentiable reset only)
//! ```
//!
//! Jacobians (state `U`): `∂U/∂U'` and `∂U/∂S'` (differentiable reset only) as above,
//! `∂U/∂x = r`, `∂S/∂U = σ'(U − θ)`.

use super::{
    state_vector, ModelVisitor, NeuronFamily, NeuronModel, NeuronSettings, ParamDef, ParamKind,
    ParamValues, ResetGrad, ResetMode, ResetTerms, StepAdjoint, StepContext, StepJacobian,
};
use crate::real::Real;
use crate::surrogates::SpikeFn;

/// The integrate-and-fire neuron as a config names it (`neuron = { kind = "integrate_fire" }`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IntegrateFireFamily;

impl NeuronFamily for IntegrateFireFamily {
    const PARAMS: &'static [ParamDef<Self>] = &[ParamDef {
        name: "r",
        kind: ParamKind::Constant,
        initial: |_, _, _| 1.0,
    }];

    fn with_model<F: Real, V: ModelVisitor<F>>(
        &self,
        values: ParamValues<'_, F>,
        settings: &NeuronSettings<F>,
        visitor: V,
    ) -> V::Out {
        visitor.visit(IntegrateFire {
            r: values.get("r").to_vec(),
            threshold: settings.threshold,
            spike: settings.spike,
            reset: settings.reset,
            reset_mode: settings.reset_mode,
        })
    }
}

/// Per-neuron state of [`IntegrateFire`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IntegrateFireState<F> {
    /// Membrane potential `U`.
    pub mem: F,
}

state_vector!(IntegrateFireState { mem });

/// Parameters of a layer of integrate-and-fire neurons.
#[derive(Clone, Debug)]
pub struct IntegrateFire<F> {
    /// Resistance `r` per neuron: the input's factor.
    pub r: Vec<F>,
    /// Firing threshold `θ`.
    pub threshold: F,
    /// Spike non-linearity and its surrogate.
    pub spike: SpikeFn,
    /// Whether the reset is differentiated.
    pub reset: ResetGrad,
    /// What a spike does to the membrane.
    pub reset_mode: ResetMode,
}

impl<F: Real> IntegrateFire<F> {
    /// The reset's terms at this layer's threshold.
    #[inline(always)]
    fn reset_terms(&self) -> ResetTerms<F> {
        ResetTerms::new(self.reset_mode, self.threshold)
    }
}

impl<F: Real> NeuronModel<F> for IntegrateFire<F> {
    type State = IntegrateFireState<F>;
    /// The membrane `U[t]`: all the adjoint needs.
    type Saved = F;
    /// `r` is a constant: no parameter gradients.
    const GRADS_PER_NEURON: usize = 0;

    fn width(&self) -> usize {
        self.r.len()
    }

    fn initial_state(&self, _j: usize) -> Self::State {
        IntegrateFireState::default()
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
        let mem = self.reset_terms().leaked(F::one(), prev.mem, prev_out) + self.r[j] * input;
        (IntegrateFireState { mem }, self.output(j, &mem, ctx))
    }

    #[inline(always)]
    fn save(&self, state: &Self::State) -> F {
        state.mem
    }

    #[inline(always)]
    fn output(&self, j: usize, saved: &F, ctx: &StepContext) -> F {
        self.spike.fire(*saved - self.threshold, || ctx.uniform(j))
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
        _grads: &mut [F],
    ) -> StepAdjoint<F, Self::State> {
        let lam = carry.mem + g_out * self.spike.derivative(*saved - self.threshold);
        let reset = self.reset_terms();
        let reset_grad = match self.reset {
            ResetGrad::Detached => F::zero(),
            ResetGrad::Differentiable => reset.d_spike(F::one(), *prev) * lam,
        };
        StepAdjoint {
            prev_state: IntegrateFireState {
                mem: reset.d_mem(prev_out) * lam,
            },
            input: self.r[j] * lam,
            prev_out: reset_grad,
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
        let reset = self.reset_terms();
        jac.set_prev(0, 0, reset.d_mem(prev_out));
        if self.reset == ResetGrad::Differentiable {
            jac.prev_out[0] = reset.d_spike(F::one(), prev.mem);
        }
        jac.input[0] = self.r[j];
        jac.out[0] = self.spike.derivative(state.mem - self.threshold);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::testing::{
        check_jacobian, check_model, check_model_with_inputs, uniform, Perturb,
    };
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    impl Perturb for IntegrateFire<f64> {
        fn param_mut(&mut self, _p: usize, j: usize) -> &mut f64 {
            &mut self.r[j]
        }
    }

    fn random(
        rng: &mut ChaCha8Rng,
        n: usize,
        reset: ResetGrad,
        reset_mode: ResetMode,
    ) -> IntegrateFire<f64> {
        IntegrateFire {
            r: uniform(rng, n, 0.5, 1.5),
            threshold: rng.random_range(1.0..3.0),
            spike: SpikeFn::Relaxed {
                beta: rng.random_range(2.0..6.0),
            },
            reset,
            reset_mode,
        }
    }

    const MODES: [ResetMode; 3] = [
        ResetMode::Zero,
        ResetMode::Subtract,
        ResetMode::SubtractAfterLeak,
    ];

    #[test]
    fn backward_matches_finite_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(61);
        // Finite differences see the reset's path: it must be differentiated.
        for trial in 0..9 {
            let n = rng.random_range(1..5);
            let mode = MODES[trial % 3];
            let model = random(&mut rng, n, ResetGrad::Differentiable, mode);
            let recurrent = trial % 2 == 0;
            match mode {
                ResetMode::Zero => check_model(&model, &mut rng, recurrent),
                // Without a leak, a reset by subtraction leaves the membrane growing with a
                // positive mean input: smaller inputs keep the differences well conditioned.
                _ => check_model_with_inputs(&model, &mut rng, recurrent, (-1.0, 3.0)),
            }
        }
    }

    #[test]
    fn jacobians_match_finite_differences_and_the_adjoint() {
        let mut rng = ChaCha8Rng::seed_from_u64(62);
        for mode in MODES {
            for (reset, exact) in [
                (ResetGrad::Detached, false),
                (ResetGrad::Differentiable, true),
            ] {
                check_jacobian(&random(&mut rng, 3, reset, mode), &mut rng, exact);
            }
        }
    }

    /// `(U, S)` of one IF neuron with resistance `r`, threshold 1 and Heaviside spikes,
    /// resetting by `mode`, at each input of `xs`.
    fn hand_trace(r: f64, mode: ResetMode, xs: &[f64]) -> Vec<(f64, f64)> {
        let model = IntegrateFire::<f64> {
            r: vec![r],
            threshold: 1.0,
            spike: SpikeFn::Heaviside {
                surrogate: Default::default(),
            },
            reset: ResetGrad::Detached,
            reset_mode: mode,
        };
        let ctx = StepContext::default();
        let (mut state, mut out) = (model.initial_state(0), 0.0);
        let mut trace = Vec::new();
        for &x in xs {
            (state, out) = model.step(0, &state, out, x, &ctx);
            trace.push((state.mem, out));
        }
        trace
    }

    /// Without input the membrane holds its value; a spike resets it to zero.
    #[test]
    fn the_membrane_integrates_without_leak_and_resets_after_a_spike() {
        let trace = hand_trace(0.5, ResetMode::Zero, &[0.8, 0.0, 0.0, 1.4, 0.0, 0.6]);
        let want = [
            (0.4, 0.0),
            (0.4, 0.0),
            (0.4, 0.0),
            (1.1, 1.0),
            (0.0, 0.0),
            (0.3, 0.0),
        ];
        for ((m, s), (wm, ws)) in trace.iter().zip(want) {
            assert!((m - wm).abs() < 1e-12 && *s == ws, "{trace:?}");
        }
    }

    /// Reset by subtraction keeps the overshoot: a membrane driven to 2.6 with threshold 1
    /// fires at 2.6, again at 1.6 without input, and keeps 0.6 (`U − θ` after each spike).
    #[test]
    fn reset_by_subtraction_keeps_the_overshoot() {
        let trace = hand_trace(1.0, ResetMode::Subtract, &[2.6, 0.0, 0.0, 0.0, 0.2]);
        let want = [(2.6, 1.0), (1.6, 1.0), (0.6, 0.0), (0.6, 0.0), (0.8, 0.0)];
        for ((m, s), (wm, ws)) in trace.iter().zip(want) {
            assert!((m - wm).abs() < 1e-12 && *s == ws, "{trace:?}");
        }
    }
}
