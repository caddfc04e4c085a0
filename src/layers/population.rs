//! The neurons of a spiking layer, whatever their model: [`Neurons`] holds a family's named
//! per-neuron parameters and runs its model through the generic scan; the layer sees it as a
//! [`Population`] and its forward pass as a [`ModelRun`], so it never names a model.

use super::Param;
use crate::events::SpikeEvents;
use crate::neurons::{
    FamilyVisitor, ModelVisitor, NeuronFamily, NeuronKind, NeuronModel, NeuronSettings, ParamKind,
    ParamValues, PopulationSpec, SavedState, StateVector, StepJacobian,
};
use crate::real::Real;
use crate::scan::{
    self, Current, InputGrad, OutputGrad, ScanContext, ScanGrads, ScanStart, ScanTrace,
};
use crate::tensor::{Matrix, Seq};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::fmt::Debug;

/// The neurons of a layer: their parameters and how to run them.
pub trait Population<F: Real>: Debug + Send + Sync {
    /// Every per-neuron parameter tensor, in the family's order.
    fn params(&self) -> Vec<Param<'_, F>>;
    /// Mutable views in [`Self::params`] order.
    fn params_mut(&mut self) -> Vec<&mut Vec<F>>;
    /// Keeps every time constant at least one time step long.
    fn apply_constraints(&mut self);
    /// Runs the neurons on input currents `[T, B, N]` (with `w_rec`: recurrent).
    fn forward(
        &self,
        current: Current<'_, F>,
        w_rec: Option<&Matrix<F>>,
        ctx: &ScanContext,
    ) -> Box<dyn ModelRun<F>>;
    /// Runs the neurons keeping every step's whole state, from `start` (the initial state
    /// when `None`), for rules that need the Jacobians of every step.
    fn forward_states(
        &self,
        current: Seq<F>,
        w_rec: Option<&Matrix<F>>,
        ctx: &ScanContext,
        start: Option<&Carry<F>>,
    ) -> Box<dyn StateRun<F>>;
    /// The gradients of the learnable parameters, in [`Self::params`] order, from the
    /// per-neuron gradients of a backward scan (`[P, N]`, the model's slots).
    fn param_grads(&self, raw: &[F]) -> Vec<Vec<F>>;
    /// How each learnable parameter, in [`Self::params`] order, enters the model's gradient
    /// slots (for forward-mode rules).
    fn slot_chains(&self) -> Vec<SlotChain<F>>;
    /// Components of a neuron's state.
    fn state_dim(&self) -> usize;
    /// A boxed copy.
    fn box_clone(&self) -> Box<dyn Population<F>>;
}

impl<F: Real> Clone for Box<dyn Population<F>> {
    fn clone(&self) -> Self {
        self.box_clone()
    }
}

/// A population of `kind` neurons with parameters drawn as `spec` says.
pub fn population<F: Real, R: Rng>(
    kind: &NeuronKind,
    spec: &PopulationSpec,
    settings: NeuronSettings<F>,
    rng: &mut R,
) -> Box<dyn Population<F>> {
    struct Build<'a, F, R> {
        spec: &'a PopulationSpec,
        settings: NeuronSettings<F>,
        rng: &'a mut R,
    }
    impl<F: Real, R: Rng> FamilyVisitor for Build<'_, F, R> {
        type Out = Box<dyn Population<F>>;
        fn visit<K: NeuronFamily>(self, family: K) -> Self::Out {
            Box::new(Neurons::new(family, self.spec, self.settings, self.rng))
        }
    }
    kind.visit(Build {
        spec,
        settings,
        rng,
    })
}

/// The neurons of one family: its parameter values, one tensor per [`NeuronFamily::PARAMS`].
#[derive(Clone, Debug)]
pub struct Neurons<F, K> {
    pub(super) family: K,
    pub(super) settings: NeuronSettings<F>,
    pub(super) values: Vec<Vec<F>>,
}

impl<F: Real, K: NeuronFamily> Neurons<F, K> {
    /// `spec.size` neurons; time constants are drawn with the spec's spread, in the family's
    /// parameter order.
    pub fn new<R: Rng>(
        family: K,
        spec: &PopulationSpec,
        settings: NeuronSettings<F>,
        rng: &mut R,
    ) -> Self {
        let values = K::PARAMS
            .iter()
            .map(|p| {
                let base: Vec<f64> = (0..spec.size)
                    .map(|j| (p.initial)(&family, spec, j))
                    .collect();
                match p.kind {
                    ParamKind::TimeConstant => spread_each(&base, spec.tau_spread, rng),
                    ParamKind::Constant => base.iter().map(|&v| F::from_f64(v)).collect(),
                }
            })
            .collect();
        Self {
            family,
            settings,
            values,
        }
    }

    fn learnable(&self, kind: ParamKind) -> bool {
        kind == ParamKind::TimeConstant && self.settings.learn_tau
    }
}

impl<F: Real, K: NeuronFamily> Population<F> for Neurons<F, K> {
    fn params(&self) -> Vec<Param<'_, F>> {
        K::PARAMS
            .iter()
            .zip(&self.values)
            .map(|(p, v)| Param {
                name: p.name,
                shape: vec![v.len()],
                data: v,
                learnable: self.learnable(p.kind),
            })
            .collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Vec<F>> {
        self.values.iter_mut().collect()
    }

    fn apply_constraints(&mut self) {
        let dt = self.settings.dt_s;
        // Only learned values move; a fixed one may sit below `dt` (a zero horizon).
        let learn = self.settings.learn_tau;
        for (p, v) in K::PARAMS.iter().zip(&mut self.values) {
            if p.kind == ParamKind::TimeConstant && learn {
                v.iter_mut().for_each(|t| *t = t.max(dt));
            }
        }
    }

    fn forward(
        &self,
        current: Current<'_, F>,
        w_rec: Option<&Matrix<F>>,
        ctx: &ScanContext,
    ) -> Box<dyn ModelRun<F>> {
        let values = ParamValues::new::<K>(&self.values);
        let run = RunScan {
            current,
            w_rec,
            ctx,
            binary: self.settings.spike.is_binary(),
        };
        self.family.with_model(values, &self.settings, run)
    }

    fn forward_states(
        &self,
        current: Seq<F>,
        w_rec: Option<&Matrix<F>>,
        ctx: &ScanContext,
        start: Option<&Carry<F>>,
    ) -> Box<dyn StateRun<F>> {
        let values = ParamValues::new::<K>(&self.values);
        let run = RunStates {
            current,
            w_rec,
            ctx,
            start,
        };
        self.family.with_model(values, &self.settings, run)
    }

    fn slot_chains(&self) -> Vec<SlotChain<F>> {
        let dt = self.settings.dt_s;
        let params = K::PARAMS.iter().zip(&self.values).enumerate();
        params
            .filter(|(_, (p, _))| self.learnable(p.kind))
            .map(|(slot, (p, v))| SlotChain {
                slot,
                factor: match p.kind {
                    ParamKind::TimeConstant => decay_derivatives(v, dt),
                    ParamKind::Constant => vec![F::one(); v.len()],
                },
            })
            .collect()
    }

    fn param_grads(&self, raw: &[F]) -> Vec<Vec<F>> {
        let mut out = Vec::new();
        let dt = self.settings.dt_s;
        for (k, (p, v)) in K::PARAMS.iter().zip(&self.values).enumerate() {
            if !self.learnable(p.kind) {
                continue;
            }
            let n = v.len();
            let g = &raw[k * n..(k + 1) * n];
            out.push(match p.kind {
                ParamKind::TimeConstant => tau_grad(g, v, dt),
                ParamKind::Constant => g.to_vec(),
            });
        }
        out
    }

    fn state_dim(&self) -> usize {
        struct Dim;
        impl<F: Real> ModelVisitor<F> for Dim {
            type Out = usize;
            fn visit<M: NeuronModel<F> + Clone + Debug + Send + 'static>(self, _: M) -> usize {
                <M::State as StateVector<F>>::DIM
            }
        }
        let values = ParamValues::new::<K>(&self.values);
        self.family.with_model(values, &self.settings, Dim)
    }

    fn box_clone(&self) -> Box<dyn Population<F>> {
        Box::new(self.clone())
    }
}

/// `∂L/∂τ` from `∂L/∂d` for the decay `d = exp(−dt/τ)`: `∂d/∂τ = d·dt/τ²`.
pub(super) fn tau_grad<F: Real>(g_decay: &[F], tau_s: &[F], dt_s: F) -> Vec<F> {
    g_decay
        .iter()
        .zip(tau_s)
        .map(|(&g, &tau)| g * (-dt_s / tau).exp() * dt_s / (tau * tau))
        .collect()
}

/// `∂d/∂τ = d·dt/τ²` of the decays `d = exp(−dt/τ)`.
pub(super) fn decay_derivatives<F: Real>(tau_s: &[F], dt_s: F) -> Vec<F> {
    let d = |tau: F| (-dt_s / tau).exp();
    tau_s
        .iter()
        .map(|&tau| d(tau) * dt_s / (tau * tau))
        .collect()
}

/// How one learnable per-neuron parameter enters a model: the model's gradient slot of the
/// value it becomes, and that value's derivative with respect to the parameter, per neuron.
#[derive(Clone, Debug, PartialEq)]
pub struct SlotChain<F> {
    /// The model's gradient slot.
    pub slot: usize,
    /// `∂(slot value)/∂(parameter)` per neuron.
    pub factor: Vec<F>,
}

/// Every neuron's state and output after a chunk of steps: where the next chunk continues.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Carry<F> {
    /// The states as vectors, `[B, N, dim]`.
    pub states: Vec<F>,
    /// The outputs, `[B, N]`.
    pub outs: Vec<F>,
}

/// A forward pass that kept every neuron's whole state at every step.
pub trait StateRun<F: Real>: Send + Sync {
    /// The outputs `[T, B, N]`.
    fn out(&self) -> &Seq<F>;
    /// Components of a neuron's state.
    fn dim(&self) -> usize;
    /// The model's per-neuron gradient slots.
    fn slots(&self) -> usize;
    /// The Jacobians of step `t` (of this run) of sample `b`, neuron `j`, into `jac` (sized
    /// [`Self::dim`] × [`Self::slots`]).
    fn jacobian(&self, t: usize, b: usize, j: usize, jac: &mut StepJacobian<F>);
    /// The states and outputs after the last step.
    fn carry(&self) -> Carry<F>;
    /// Whether every state is finite.
    fn is_finite(&self) -> bool;
}

/// Runs `model` over `current` keeping every state, from `start`.
pub(super) fn scan_states<F: Real, M: NeuronModel<F> + Send + 'static>(
    model: M,
    current: Seq<F>,
    w_rec: Option<&Matrix<F>>,
    ctx: &ScanContext,
    start: Option<&Carry<F>>,
) -> Box<dyn StateRun<F>> {
    let (batch, n) = (current.batch, current.width);
    let dim = <M::State as StateVector<F>>::DIM;
    let (start_states, start_outs): (Vec<M::State>, Vec<F>) = match start {
        Some(c) => (
            c.states
                .chunks_exact(dim)
                .map(M::State::read_from)
                .collect(),
            c.outs.clone(),
        ),
        None => (
            (0..batch * n).map(|i| model.initial_state(i % n)).collect(),
            vec![F::zero(); batch * n],
        ),
    };
    let begin = ScanStart {
        states: &start_states,
        outs: &start_outs,
    };
    let (trace, finals) =
        scan::forward_from::<F, M, scan::KeepStates>(&model, current, w_rec, ctx, Some(begin));
    Box::new(StatesOf {
        model,
        trace,
        start_states,
        start_outs,
        finals,
    })
}

/// A model with every state of its scan.
struct StatesOf<F: Real, M: NeuronModel<F>> {
    model: M,
    trace: ScanTrace<F, M::State>,
    start_states: Vec<M::State>,
    start_outs: Vec<F>,
    finals: Vec<M::State>,
}

impl<F: Real, M: NeuronModel<F> + Send> StateRun<F> for StatesOf<F, M> {
    fn out(&self) -> &Seq<F> {
        &self.trace.out
    }

    fn dim(&self) -> usize {
        <M::State as StateVector<F>>::DIM
    }

    fn slots(&self) -> usize {
        M::GRADS_PER_NEURON
    }

    fn jacobian(&self, t: usize, b: usize, j: usize, jac: &mut StepJacobian<F>) {
        let out = &self.trace.out;
        let slab = out.batch * out.width;
        let here = b * out.width + j;
        let (prev, prev_out) = match t {
            0 => (&self.start_states[here], self.start_outs[here]),
            _ => (
                &self.trace.saved[(t - 1) * slab + here],
                out.at(t - 1, b, j),
            ),
        };
        jac.clear();
        let state = &self.trace.saved[t * slab + here];
        self.model.jacobian(j, prev, prev_out, state, jac);
    }

    fn carry(&self) -> Carry<F> {
        let dim = self.dim();
        let mut states = vec![F::zero(); self.finals.len() * dim];
        for (s, v) in self.finals.iter().zip(states.chunks_exact_mut(dim)) {
            s.write_to(v);
        }
        let out = &self.trace.out;
        let outs = match out.steps {
            0 => self.start_outs.clone(),
            t => out.step(t - 1).to_vec(),
        };
        Carry { states, outs }
    }

    fn is_finite(&self) -> bool {
        let mut v = vec![F::zero(); self.dim()];
        self.trace.saved.iter().all(|s| {
            s.write_to(&mut v);
            v.iter().all(|x| x.is_finite())
        })
    }
}

/// Runs the state-keeping scan with whichever model the family built.
struct RunStates<'a, F> {
    current: Seq<F>,
    w_rec: Option<&'a Matrix<F>>,
    ctx: &'a ScanContext,
    start: Option<&'a Carry<F>>,
}

impl<F: Real> ModelVisitor<F> for RunStates<'_, F> {
    type Out = Box<dyn StateRun<F>>;
    fn visit<M: NeuronModel<F> + Clone + Debug + Send + 'static>(self, model: M) -> Self::Out {
        scan_states(model, self.current, self.w_rec, self.ctx, self.start)
    }
}

/// Runs the scan with whichever model the family built.
struct RunScan<'a, F> {
    current: Current<'a, F>,
    w_rec: Option<&'a Matrix<F>>,
    ctx: &'a ScanContext,
    binary: bool,
}

impl<F: Real> ModelVisitor<F> for RunScan<'_, F> {
    type Out = Box<dyn ModelRun<F>>;
    fn visit<M: NeuronModel<F> + Clone + Debug + Send + 'static>(self, model: M) -> Self::Out {
        // Binary spikes are kept as events only: the next layer's product, the recurrent
        // weight gradient and the next layer's weight gradient gather from them, and the
        // neuron adjoint recomputes them from its saved records, so dense `[T, B, N]` spikes
        // are never written.
        let (current, w_rec, ctx) = (self.current, self.w_rec, self.ctx);
        let trace = if self.binary {
            scan::forward_events::<F, M, scan::KeepSaved>(&model, current, w_rec, ctx)
        } else {
            scan::forward_with::<F, M, scan::KeepSaved>(&model, current.into_dense(), w_rec, ctx)
        };
        Box::new(Scanned {
            model,
            trace,
            ctx: *self.ctx,
        })
    }
}

/// One forward pass of a layer's neurons, kept for its backward pass.
pub trait ModelRun<F: Real>: Debug + Send + Sync {
    /// The outputs `[T, B, N]` (empty when the spikes are kept as events only).
    fn out(&self) -> &Seq<F>;
    /// The outputs as events, when they are binary spikes.
    fn events(&self) -> Option<&SpikeEvents>;
    /// Replaces the events by dense outputs.
    fn drop_events(&mut self);
    /// The membrane potentials `U[t, b, j]`, time-major.
    fn membranes(&self) -> Vec<F>;
    /// Whether every kept state value is finite.
    fn is_finite(&self) -> bool;
    /// Backpropagates `∂L/∂o` through the scan; with `input`, the spike input of the layer's
    /// feed-forward product, also `∂L/∂W_in` ([`ScanGrads::w_in`]) where the run can sum it
    /// step by step (`None` there otherwise: the caller computes it from `∂L/∂x`, which is
    /// then always kept). `input_grad` says whether `∂L/∂x` is wanted besides.
    fn backward(
        &self,
        g_out: OutputGrad<'_, F>,
        w_rec: Option<&Matrix<F>>,
        input: Option<&SpikeEvents>,
        input_grad: InputGrad,
    ) -> ScanGrads<F>;
    /// A boxed copy.
    fn box_clone(&self) -> Box<dyn ModelRun<F>>;
}

impl<F: Real> Clone for Box<dyn ModelRun<F>> {
    fn clone(&self) -> Self {
        self.box_clone()
    }
}

/// A model with the trace of its forward scan.
#[derive(Clone, Debug)]
struct Scanned<F: Real, M: NeuronModel<F>> {
    model: M,
    trace: ScanTrace<F, M::Saved>,
    ctx: ScanContext,
}

impl<F: Real, M: NeuronModel<F> + Clone + Debug + Send + 'static> ModelRun<F> for Scanned<F, M> {
    fn out(&self) -> &Seq<F> {
        &self.trace.out
    }

    fn events(&self) -> Option<&SpikeEvents> {
        self.trace.events.as_ref()
    }

    fn drop_events(&mut self) {
        if let Some(events) = self.trace.events.take() {
            self.trace.out = events.to_dense();
        }
    }

    fn membranes(&self) -> Vec<F> {
        self.trace.saved.iter().map(|s| s.membrane()).collect()
    }

    fn is_finite(&self) -> bool {
        self.trace.saved.iter().all(|s| s.is_finite())
    }

    fn backward(
        &self,
        g_out: OutputGrad<'_, F>,
        w_rec: Option<&Matrix<F>>,
        input: Option<&SpikeEvents>,
        input_grad: InputGrad,
    ) -> ScanGrads<F> {
        scan::backward_gathering(
            &self.model,
            &self.trace,
            g_out,
            w_rec,
            &self.ctx,
            input,
            input_grad,
        )
    }

    fn box_clone(&self) -> Box<dyn ModelRun<F>> {
        Box::new(self.clone())
    }
}

/// `n` time constants `τ·exp(spread·z)`, `z ~ N(0, 1)` (all equal to `τ` when `spread = 0`).
pub(super) fn spread_taus<F: Real, R: Rng>(
    n: usize,
    tau_s: f64,
    spread: f64,
    rng: &mut R,
) -> Vec<F> {
    spread_each(&vec![tau_s; n], spread, rng)
}

/// Time constants `τ_j·exp(spread·z_j)`, `z_j ~ N(0, 1)` (`τ_j` when `spread = 0`).
fn spread_each<F: Real, R: Rng>(tau_s: &[f64], spread: f64, rng: &mut R) -> Vec<F> {
    tau_s
        .iter()
        .map(|&tau| {
            let z: f64 = if spread > 0.0 {
                StandardNormal.sample(rng)
            } else {
                0.0
            };
            F::from_f64(tau * (spread * z).exp())
        })
        .collect()
}
