//! The non-spiking leaky readout layer.

use super::population::{decay_derivatives, scan_states, spread_taus, tau_grad};
use super::{decays, Carry, Input, Param, ReadoutSpec, SlotChain, StateRun};
use crate::neurons::{LeakyReadout, ReadoutState};
use crate::real::Real;
use crate::scan::{self, ScanContext, ScanTrace};
use crate::tensor::{Matrix, Seq};
use rand::Rng;

/// Leaky integrators reading out the last hidden layer: `x[t] = S[t]·W`.
#[derive(Clone, Debug)]
pub struct Readout<F> {
    /// What the layer was built from.
    pub spec: ReadoutSpec,
    /// Simulation time step.
    pub dt_s: F,
    /// Weights `[inputs, size]`.
    pub w: Matrix<F>,
    /// Per-unit membrane time constants.
    pub tau_mem_s: Vec<F>,
    /// Per-unit synaptic time constants.
    pub tau_syn_s: Vec<F>,
}

/// The readout's forward pass, kept for its backward pass.
#[derive(Clone, Debug)]
pub struct ReadoutTrace<F: Real> {
    model: LeakyReadout<F>,
    scan: ScanTrace<F, ReadoutState<F>>,
}

impl<F: Real> ReadoutTrace<F> {
    /// Membrane traces `U[t, b, c]`, the network's output.
    pub fn output(&self) -> &Seq<F> {
        &self.scan.out
    }
}

impl<F: Real> Readout<F> {
    /// A readout with zero weights.
    pub fn new<R: Rng>(spec: &ReadoutSpec, inputs: usize, dt_s: f64, rng: &mut R) -> Self {
        let n = spec.size;
        Self {
            spec: spec.clone(),
            dt_s: F::from_f64(dt_s),
            w: Matrix::zeros(inputs, n),
            tau_mem_s: spread_taus(n, spec.tau_mem_ms * 1e-3, spec.tau_spread, rng),
            tau_syn_s: spread_taus(n, spec.tau_syn_ms * 1e-3, spec.tau_spread, rng),
        }
    }

    /// Runs the readout.
    pub fn forward(&self, input: Input<F>) -> ReadoutTrace<F> {
        let model = self.model();
        let scan = scan::forward(&model, input.project(&self.w), None);
        ReadoutTrace { model, scan }
    }

    /// Runs the readout keeping every step's whole state, from `start`.
    pub fn forward_states(
        &self,
        input: Input<F>,
        ctx: &ScanContext,
        start: Option<&Carry<F>>,
    ) -> Box<dyn StateRun<F>> {
        scan_states(self.model(), input.project(&self.w), None, ctx, start)
    }

    /// How the learnable time constants, in [`Self::params`] order, enter the model's
    /// gradient slots (`[α, β]`).
    pub fn slot_chains(&self) -> Vec<SlotChain<F>> {
        if !self.spec.learn_tau {
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
        let grads = scan::backward(&trace.model, &trace.scan, g, None);
        let n = self.spec.size;
        let mut out = vec![input.grad_weight(&grads.input, self.w.rows).data];
        if self.spec.learn_tau {
            out.push(tau_grad(&grads.params[n..], &self.tau_mem_s, self.dt_s));
            out.push(tau_grad(&grads.params[..n], &self.tau_syn_s, self.dt_s));
        }
        (out, crate::linalg::grad_input(&grads.input, &self.w))
    }

    /// Every parameter tensor in a fixed order.
    pub fn params(&self) -> Vec<Param<'_, F>> {
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
