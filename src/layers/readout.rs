//! The readout: non-spiking leaky integrators, or the last hidden layer's spikes themselves
//! ([`ReadoutKind::Spikes`], spiking output neurons).

use super::population::{decay_derivatives, scan_states, spread_taus, tau_grad};
use super::spec::ReadoutKind;
use super::{decays, Carry, Input, Param, ReadoutSpec, SlotChain, StateRun};
use crate::neurons::{LeakyReadout, ReadoutState};
use crate::real::Real;
use crate::scan::{self, ScanContext, ScanTrace};
use crate::tensor::{Matrix, Seq};
use rand::Rng;

/// Leaky integrators reading out the last hidden layer, `x[t] = S[t]·W`; with
/// [`ReadoutKind::Spikes`] the identity, with no parameters.
#[derive(Clone, Debug)]
pub struct Readout<F> {
    /// What the layer was built from.
    pub spec: ReadoutSpec,
    /// Simulation time step.
    pub dt_s: F,
    /// Weights `[inputs, size]` (`[0, 0]` for spikes).
    pub w: Matrix<F>,
    /// Per-unit membrane time constants.
    pub tau_mem_s: Vec<F>,
    /// Per-unit synaptic time constants.
    pub tau_syn_s: Vec<F>,
}

/// The readout's forward pass, kept for its backward pass.
#[derive(Clone, Debug)]
pub struct ReadoutTrace<F: Real>(Traced<F>);

#[derive(Clone, Debug)]
enum Traced<F: Real> {
    Leaky {
        model: LeakyReadout<F>,
        scan: ScanTrace<F, ReadoutState<F>>,
    },
    Spikes(Seq<F>),
}

impl<F: Real> ReadoutTrace<F> {
    /// The network's output: membrane traces `U[t, b, c]`, or the output spikes.
    pub fn output(&self) -> &Seq<F> {
        match &self.0 {
            Traced::Leaky { scan, .. } => &scan.out,
            Traced::Spikes(spikes) => spikes,
        }
    }
}

impl<F: Real> Readout<F> {
    /// A readout with zero weights (reading `inputs` channels).
    pub fn new<R: Rng>(spec: &ReadoutSpec, inputs: usize, dt_s: f64, rng: &mut R) -> Self {
        let n = spec.size;
        if spec.kind == ReadoutKind::Spikes {
            return Self {
                spec: spec.clone(),
                dt_s: F::from_f64(dt_s),
                w: Matrix::zeros(0, 0),
                tau_mem_s: Vec::new(),
                tau_syn_s: Vec::new(),
            };
        }
        Self {
            spec: spec.clone(),
            dt_s: F::from_f64(dt_s),
            w: Matrix::zeros(inputs, n),
            tau_mem_s: spread_taus(n, spec.tau_mem_ms * 1e-3, spec.tau_spread, rng),
            tau_syn_s: spread_taus(n, spec.tau_syn_ms * 1e-3, spec.tau_spread, rng),
        }
    }

    /// Whether this is a leaky readout with weights (not the identity on spikes).
    pub fn is_leaky(&self) -> bool {
        self.spec.kind == ReadoutKind::Leaky
    }

    /// Runs the readout.
    pub fn forward(&self, input: Input<F>) -> ReadoutTrace<F> {
        if !self.is_leaky() {
            return ReadoutTrace(Traced::Spikes(input.to_dense().into_owned()));
        }
        let model = self.model();
        let scan = scan::forward(&model, input.project(&self.w), None);
        ReadoutTrace(Traced::Leaky { model, scan })
    }

    /// Runs a leaky readout keeping every step's whole state, from `start` (the state-keeping
    /// rules, RTRL and e-prop, refuse spiking outputs before they get here).
    pub fn forward_states(
        &self,
        input: Input<F>,
        ctx: &ScanContext,
        start: Option<&Carry<F>>,
    ) -> Box<dyn StateRun<F>> {
        debug_assert!(self.is_leaky(), "state runs need a leaky readout");
        scan_states(self.model(), input.project(&self.w), None, ctx, start)
    }

    /// How the learnable time constants, in [`Self::params`] order, enter the model's
    /// gradient slots (`[α, β]`).
    pub fn slot_chains(&self) -> Vec<SlotChain<F>> {
        if !self.spec.learn_tau || !self.is_leaky() {
            return Vec::new();
        }
        vec![
            SlotChain {
                slot: 1,
                factor: decay_derivatives(&self.tau_mem_s, self.dt_s),
            },
            SlotChain {
                slot: 0,
                factor: decay_derivatives(&self.tau_syn_s, self.dt_s),
            },
        ]
    }

    fn model(&self) -> LeakyReadout<F> {
        LeakyReadout {
            alpha: decays(&self.tau_syn_s, self.dt_s),
            beta: decays(&self.tau_mem_s, self.dt_s),
        }
    }

    /// Backpropagates `g = ∂L/∂U`; returns learnable-parameter gradients in [`Self::params`]
    /// order and `∂L/∂input`.
    pub fn backward(
        &self,
        input: Input<F>,
        trace: &ReadoutTrace<F>,
        g: &Seq<F>,
    ) -> (Vec<Vec<F>>, Seq<F>) {
        let Traced::Leaky { model, scan } = &trace.0 else {
            return (Vec::new(), g.clone());
        };
        let grads = scan::backward(model, scan, g, None);
        let n = self.spec.size;
        let mut out = vec![input.grad_weight(&grads.input, self.w.rows).data];
        if self.spec.learn_tau {
            out.push(tau_grad(&grads.params[n..], &self.tau_mem_s, self.dt_s));
            out.push(tau_grad(&grads.params[..n], &self.tau_syn_s, self.dt_s));
        }
        (out, crate::linalg::grad_input(&grads.input, &self.w))
    }

    /// Every parameter tensor in a fixed order (none for spikes).
    pub fn params(&self) -> Vec<Param<'_, F>> {
        if !self.is_leaky() {
            return Vec::new();
        }
        let (n, learn) = (self.spec.size, self.spec.learn_tau);
        vec![
            Param {
                name: "w",
                shape: vec![self.w.rows, n],
                data: &self.w.data,
                learnable: true,
            },
            Param {
                name: "tau_mem_s",
                shape: vec![n],
                data: &self.tau_mem_s,
                learnable: learn,
            },
            Param {
                name: "tau_syn_s",
                shape: vec![n],
                data: &self.tau_syn_s,
                learnable: learn,
            },
        ]
    }

    /// Mutable views in [`Self::params`] order.
    pub fn params_mut(&mut self) -> Vec<&mut Vec<F>> {
        if !self.is_leaky() {
            return Vec::new();
        }
        vec![&mut self.w.data, &mut self.tau_mem_s, &mut self.tau_syn_s]
    }

    /// Keeps learned time constants at least one time step long.
    pub fn apply_constraints(&mut self) {
        let dt = self.dt_s;
        for tau in [&mut self.tau_mem_s, &mut self.tau_syn_s] {
            tau.iter_mut().for_each(|t| *t = t.max(dt));
        }
    }
}
