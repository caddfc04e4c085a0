//! The readout: non-spiking leaky integrators, or the last hidden layer's spikes themselves
//! ([`ReadoutKind::Spikes`], spiking output neurons).
//!
//! A leaky readout of several heads ([`ReadoutSpec::heads`]) holds `heads · size` units,
//! head-major (head `h` is units `h·size .. (h+1)·size`), each head with its own time
//! constants; the output is the heads' mean membrane, `U[t, b, c] = Σ_h U_h[t, b, c] / H`, and
//! the backward pass hands each head `∂L/∂U / H`.

use super::population::{decay_derivatives, scan_states, spread_taus, tau_grad};
use super::spec::{ReadoutHead, ReadoutKind};
use super::{add_bias, bias_grad, decays, Carry, Input, Param, ReadoutSpec, SlotChain, StateRun};
use crate::neurons::{LeakyReadout, MembraneInput, ReadoutState};
use crate::real::Real;
use crate::scan::{self, Current, InputGrad, OutputGrad, ProjectedEvents, ScanContext, ScanTrace};
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
    /// Weights `[inputs, heads · size]` (`[0, 0]` for spikes).
    pub w: Matrix<F>,
    /// Per-unit membrane time constants.
    pub tau_mem_s: Vec<F>,
    /// Per-unit synaptic time constants.
    pub tau_syn_s: Vec<F>,
    /// 0/1 over `w` (pruned connections get no gradient); `None`: all connected.
    pub mask: Option<Vec<F>>,
    /// The projection's bias `[heads · size]`, when the spec asks for one.
    pub b: Option<Vec<F>>,
}

/// The readout's forward pass, kept for its backward pass.
#[derive(Clone, Debug)]
pub struct ReadoutTrace<F: Real>(Traced<F>);

#[derive(Clone, Debug)]
enum Traced<F: Real> {
    Leaky {
        model: LeakyReadout<F>,
        scan: ScanTrace<F, ReadoutState<F>>,
        /// The heads' mean (`None` with one head: the scan's output is the output).
        mean: Option<Seq<F>>,
    },
    Spikes(Seq<F>),
}

impl<F: Real> ReadoutTrace<F> {
    /// The network's output: membrane traces `U[t, b, c]`, or the output spikes.
    pub fn output(&self) -> &Seq<F> {
        match &self.0 {
            Traced::Leaky {
                mean: Some(mean), ..
            } => mean,
            Traced::Leaky { scan, .. } => &scan.out,
            Traced::Spikes(spikes) => spikes,
        }
    }
}

impl<F: Real> Readout<F> {
    /// A readout with zero weights (reading `inputs` channels).
    pub fn new<R: Rng>(spec: &ReadoutSpec, inputs: usize, dt_s: f64, rng: &mut R) -> Self {
        if spec.kind == ReadoutKind::Spikes {
            return Self {
                spec: spec.clone(),
                dt_s: F::from_f64(dt_s),
                w: Matrix::zeros(0, 0),
                tau_mem_s: Vec::new(),
                tau_syn_s: Vec::new(),
                mask: None,
                b: None,
            };
        }
        let (n, heads) = (spec.size, spec.head_list());
        // All membrane constants first, then the synaptic ones: one head draws as before.
        let draw = |tau_ms: fn(&ReadoutHead) -> f64, rng: &mut R| -> Vec<F> {
            heads
                .iter()
                .flat_map(|h| spread_taus::<F, R>(n, tau_ms(h) * 1e-3, spec.tau_spread, rng))
                .collect()
        };
        let (tau_mem_s, tau_syn_s) = match spec.kind {
            // Integrators have no time constants.
            ReadoutKind::Integrator => (Vec::new(), Vec::new()),
            _ => (draw(|h| h.tau_mem_ms, rng), draw(|h| h.tau_syn_ms, rng)),
        };
        Self {
            spec: spec.clone(),
            dt_s: F::from_f64(dt_s),
            w: Matrix::zeros(inputs, n * heads.len()),
            b: spec.bias.then(|| vec![F::zero(); n * heads.len()]),
            tau_mem_s,
            tau_syn_s,
            mask: None,
        }
    }

    /// Number of readout units: `heads · size` (0 for spikes).
    pub fn units(&self) -> usize {
        self.w.cols
    }

    /// Whether this readout has weights (leaky units or integrators, not the identity on
    /// spikes).
    pub fn has_weights(&self) -> bool {
        self.spec.kind != ReadoutKind::Spikes
    }

    /// Whether its units leak (their time constants are parameters).
    fn has_taus(&self) -> bool {
        self.spec.kind == ReadoutKind::Leaky
    }

    /// Runs the readout.
    pub fn forward(&self, input: Input<F>) -> ReadoutTrace<F> {
        if !self.has_weights() {
            return ReadoutTrace(Traced::Spikes(input.to_dense().into_owned()));
        }
        let model = self.model();
        let current: Current<'_, F> = match input {
            // Each row's current summed as the scan reaches it (the same sums as `project`).
            Input::Events(events) => ProjectedEvents {
                events,
                w: &self.w,
                bias: self.b.as_deref(),
            }
            .into(),
            _ => self.project(input).into(),
        };
        let scan = scan::forward(&model, current, None);
        let heads = self.spec.head_count();
        let mean = (heads > 1).then(|| head_mean(&scan.out, heads));
        ReadoutTrace(Traced::Leaky { model, scan, mean })
    }

    /// Runs a leaky readout keeping every step's whole state, from `start` (the state-keeping
    /// rules, RTRL and e-prop, refuse spiking outputs and readout heads before they get here).
    pub fn forward_states(
        &self,
        input: Input<F>,
        ctx: &ScanContext,
        start: Option<&Carry<F>>,
    ) -> Box<dyn StateRun<F>> {
        debug_assert!(self.has_weights(), "state runs need a readout with weights");
        debug_assert_eq!(self.spec.head_count(), 1, "state runs average no heads");
        scan_states(self.model(), self.project(input), None, ctx, start)
    }

    /// The input current `x = S · W (+ b)`.
    fn project(&self, input: Input<F>) -> Seq<F> {
        let mut current = input.project(&self.w);
        add_bias(&mut current, self.b.as_deref());
        current
    }

    /// How the learnable time constants, in [`Self::params`] order, enter the model's
    /// gradient slots (`[α, β]`).
    pub fn slot_chains(&self) -> Vec<SlotChain<F>> {
        if !self.spec.learn_tau || !self.has_taus() {
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
        match self.spec.kind {
            ReadoutKind::Integrator => LeakyReadout::integrators(self.units()),
            _ => LeakyReadout {
                alpha: decays(&self.tau_syn_s, self.dt_s),
                beta: decays(&self.tau_mem_s, self.dt_s),
                input: MembraneInput::Normalized,
            },
        }
    }

    /// Backpropagates `g = ∂L/∂U`; returns learnable-parameter gradients in [`Self::params`]
    /// order and what leads to `∂L/∂input` ([`ReadoutGrad::to_input`]).
    pub fn backward(
        &self,
        input: Input<F>,
        trace: &ReadoutTrace<F>,
        g: &Seq<F>,
    ) -> (Vec<Vec<F>>, ReadoutGrad<F>) {
        let Traced::Leaky { model, scan, mean } = &trace.0 else {
            return (Vec::new(), ReadoutGrad::Input(g.clone()));
        };
        let spread;
        let g = match mean {
            Some(_) => {
                spread = spread_over_heads(g, self.spec.head_count());
                &spread
            }
            None => g,
        };
        let n = self.units();
        // Spike events: the weight gradient summed per block of samples inside the scan.
        let events = match input {
            Input::Events(events) => Some(events),
            Input::Dense { .. } => None,
        };
        let ctx = ScanContext::default();
        let keep = InputGrad::Keep;
        let mut grads = scan::backward_gathering(model, scan, g, None, &ctx, events, keep);
        let mut g_w = match grads.w_in.take() {
            Some(g_w) => g_w.data,
            None => input.grad_weight(grads.kept_input(), self.w.rows).data,
        };
        super::apply_mask(&mut g_w, self.mask.as_deref());
        let mut out = vec![g_w];
        if self.spec.learn_tau {
            out.push(tau_grad(&grads.params[n..], &self.tau_mem_s, self.dt_s));
            out.push(tau_grad(&grads.params[..n], &self.tau_syn_s, self.dt_s));
        }
        if self.b.is_some() {
            out.push(bias_grad(grads.kept_input()));
        }
        let g_current = grads.input.expect("kept: InputGrad::Keep");
        (out, ReadoutGrad::Current(g_current))
    }

    /// Every parameter tensor in a fixed order (none for spikes).
    pub fn params(&self) -> Vec<Param<'_, F>> {
        if !self.has_weights() {
            return Vec::new();
        }
        let (n, learn) = (self.units(), self.spec.learn_tau);
        let param = |name, shape, data, learnable| Param {
            name,
            shape,
            data,
            learnable,
        };
        let mut p = vec![param("w", vec![self.w.rows, n], &self.w.data, true)];
        if self.has_taus() {
            p.push(param("tau_mem_s", vec![n], &self.tau_mem_s, learn));
            p.push(param("tau_syn_s", vec![n], &self.tau_syn_s, learn));
        }
        if let Some(b) = &self.b {
            p.push(param("b", vec![n], b, true));
        }
        p
    }

    /// Mutable views in [`Self::params`] order.
    pub fn params_mut(&mut self) -> Vec<&mut Vec<F>> {
        if !self.has_weights() {
            return Vec::new();
        }
        let taus = self.has_taus();
        let mut p = vec![&mut self.w.data];
        if taus {
            p.extend([&mut self.tau_mem_s, &mut self.tau_syn_s]);
        }
        if let Some(b) = &mut self.b {
            p.push(b);
        }
        p
    }

    /// Keeps learned time constants at least one time step long.
    pub fn apply_constraints(&mut self) {
        let dt = self.dt_s;
        for tau in [&mut self.tau_mem_s, &mut self.tau_syn_s] {
            tau.iter_mut().for_each(|t| *t = t.max(dt));
        }
    }
}

/// The mean over heads of head-major traces `[T, B, heads · n]`: `[T, B, n]`.
fn head_mean<F: Real>(out: &Seq<F>, heads: usize) -> Seq<F> {
    let n = out.width / heads;
    let scale = F::from_f64(1.0 / heads as f64);
    let mut mean = Seq::zeros(out.steps, out.batch, n);
    for (dst, src) in mean
        .data
        .chunks_exact_mut(n)
        .zip(out.data.chunks_exact(out.width))
    {
        for head in src.chunks_exact(n) {
            for (d, &v) in dst.iter_mut().zip(head) {
                *d += v;
            }
        }
        dst.iter_mut().for_each(|d| *d *= scale);
    }
    mean
}

/// The gradient a readout's backward pass hands to the layer below.
#[derive(Clone, Debug)]
pub enum ReadoutGrad<F> {
    /// `∂L/∂input` itself (a readout of the spikes themselves).
    Input(Seq<F>),
    /// `∂L/∂(input · W)`, the gradient of the readout's current: `∂L/∂input` is it times
    /// `Wᵀ`, which the layer below computes block by block ([`OutputGrad::Through`]).
    Current(Seq<F>),
}

impl<F: Real> ReadoutGrad<F> {
    /// `∂L/∂input` of `readout` (the readout whose backward pass gave it).
    pub fn to_input<'a>(&'a self, readout: &'a Readout<F>) -> OutputGrad<'a, F> {
        match self {
            ReadoutGrad::Input(g) => OutputGrad::Given(g),
            ReadoutGrad::Current(g) => OutputGrad::Through { g, w: &readout.w },
        }
    }
}

/// The gradient on every head's traces of a gradient `g` on their mean: `g / heads` each.
fn spread_over_heads<F: Real>(g: &Seq<F>, heads: usize) -> Seq<F> {
    let scale = F::from_f64(1.0 / heads as f64);
    let width = g.width * heads;
    let mut out = Seq::zeros(g.steps, g.batch, width);
    for (dst, src) in out
        .data
        .chunks_exact_mut(width)
        .zip(g.data.chunks_exact(g.width))
    {
        for head in dst.chunks_exact_mut(g.width) {
            for (d, &v) in head.iter_mut().zip(src) {
                *d = v * scale;
            }
        }
    }
    out
}
