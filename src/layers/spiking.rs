//! A hidden layer of spiking neurons with feed-forward and optional recurrent weights.

use super::{apply_mask, decays, tau_grad, Input, NeuronKind, Param, SpikingLayerSpec};
use crate::events::SpikeEvents;
use crate::neurons::{AdaptiveLif, AdaptiveLifState, FixedLif, Lif, LifState, SavedState};
use crate::real::Real;
use crate::scan::{self, ScanTrace};
use crate::surrogates::SpikeFn;
use crate::tensor::{Matrix, Seq};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::borrow::Cow;
use std::sync::OnceLock;

/// A layer of spiking neurons: `x[t] = in[t]·W_in (+ S[t−1]·W_rec)` drives the neuron model.
#[derive(Clone, Debug)]
pub struct SpikingLayer<F> {
    /// What the layer was built from.
    pub spec: SpikingLayerSpec,
    /// Simulation time step.
    pub dt_s: F,
    /// Spike non-linearity.
    pub spike: SpikeFn,
    /// Feed-forward weights `[inputs, size]`.
    pub w_in: Matrix<F>,
    /// Recurrent weights `[size, size]`, when the layer is recurrent.
    pub w_rec: Option<Matrix<F>>,
    /// 0/1 mask of existing feed-forward connections (sparse connectivity).
    pub mask_in: Option<Vec<F>>,
    /// 0/1 mask of existing recurrent connections.
    pub mask_rec: Option<Vec<F>>,
    /// Per-neuron membrane time constants.
    pub tau_mem_s: Vec<F>,
    /// Per-neuron synaptic time constants.
    pub tau_syn_s: Vec<F>,
    /// Per-neuron adaptation time constants (adaptive neurons only, else empty).
    pub tau_ada_s: Vec<F>,
    /// Per-neuron adaptation strengths (adaptive neurons only, else empty).
    pub ada_strength: Vec<F>,
}

/// The forward pass of one layer, kept for its backward pass.
#[derive(Clone, Debug)]
pub struct LayerTrace<F: Real> {
    scan: Scanned<F>,
    /// Dense spikes rebuilt from the events, on the first request (binary spikes are kept as
    /// events only).
    dense: OnceLock<Seq<F>>,
    /// Dropout scale per output (`0` or `1/(1−p)`), during training with dropout.
    dropout: Option<Vec<F>>,
    /// Output after dropout (what the next layer sees), when dropout is active.
    dropped: Option<Seq<F>>,
}

/// The model and scan of a layer, by neuron kind (the saved records differ).
#[derive(Clone, Debug)]
enum Scanned<F: Real> {
    /// LIF with learned time constants: whole states saved.
    Lif(Lif<F>, ScanTrace<F, LifState<F>>),
    /// LIF with constant time constants: membrane potentials saved.
    FixedLif(FixedLif<F>, ScanTrace<F, F>),
    /// Adaptive LIF: whole states saved.
    Adaptive(AdaptiveLif<F>, ScanTrace<F, AdaptiveLifState<F>>),
}

/// Evaluates `$e` with `$t` bound to the scan trace of whichever kind `$s` is.
macro_rules! with_trace {
    ($s:expr, $t:ident => $e:expr) => {
        match $s {
            Scanned::Lif(_, $t) => $e,
            Scanned::FixedLif(_, $t) => $e,
            Scanned::Adaptive(_, $t) => $e,
        }
    };
}

/// Whether every saved record is finite.
fn all_finite<F: Real, S: SavedState<F>>(saved: &[S]) -> bool {
    saved.iter().all(|s| s.is_finite())
}

/// The membrane potentials of the saved records.
fn membranes<F: Real, S: SavedState<F>>(saved: &[S]) -> Vec<F> {
    saved.iter().map(|s| s.membrane()).collect()
}

impl<F: Real> LayerTrace<F> {
    /// The layer's spikes `S[t, b, j]` (rebuilt from the events on the first call when the
    /// spikes are binary).
    pub fn spikes(&self) -> &Seq<F> {
        with_trace!(&self.scan, t => match &t.events {
            Some(events) => self.dense.get_or_init(|| events.to_dense()),
            None => &t.out,
        })
    }

    /// The number of spikes (the sum of the outputs).
    pub fn spike_count(&self) -> f64 {
        with_trace!(&self.scan, t => match &t.events {
            Some(events) => events.count() as f64,
            None => t.out.data.iter().map(|s| s.as_f64()).sum(),
        })
    }

    /// Spikes per sample and neuron over the whole sequence, `cnt[b, j] = Σ_t S[t, b, j]`
    /// (`[B, N]`), counted from the events when the layer keeps them (no dense spikes built).
    pub fn spike_counts(&self) -> Vec<f64> {
        let (_, batch, n) = self.shape();
        let mut counts = vec![0.0; batch * n];
        with_trace!(&self.scan, t => match &t.events {
            Some(events) => {
                for r in 0..events.rows() {
                    let sample = &mut counts[(r % batch) * n..(r % batch + 1) * n];
                    events.row(r).iter().for_each(|&j| sample[j as usize] += 1.0);
                }
            }
            None => t.out.sum_steps_into(&mut counts),
        });
        counts
    }

    /// `(steps, batch, neurons)`.
    pub fn shape(&self) -> (usize, usize, usize) {
        with_trace!(&self.scan, t => match &t.events {
            Some(e) => (e.steps, e.batch, e.width),
            None => (t.out.steps, t.out.batch, t.out.width),
        })
    }

    /// What the next layer receives (spikes after dropout).
    pub fn output(&self) -> &Seq<F> {
        self.dropped.as_ref().unwrap_or_else(|| self.spikes())
    }

    /// Forgets the spikes' events, so that every later product is dense (the reference path).
    pub fn drop_events(&mut self) {
        with_trace!(&mut self.scan, t => if let Some(events) = t.events.take() {
            t.out = events.to_dense();
        })
    }

    /// What the next layer receives as events, when it is binary (spikes without dropout).
    pub fn output_events(&self) -> Option<&SpikeEvents> {
        if self.dropped.is_some() {
            return None;
        }
        with_trace!(&self.scan, t => t.events.as_ref())
    }

    /// Whether every state variable kept for the backward pass is finite.
    pub fn is_finite(&self) -> bool {
        with_trace!(&self.scan, t => all_finite(&t.saved))
    }

    /// Membrane potentials `U[t, b, j]`.
    pub fn membrane(&self) -> Seq<F> {
        let (steps, batch, width) = self.shape();
        let mem = with_trace!(&self.scan, t => membranes(&t.saved));
        Seq::from_vec(steps, batch, width, mem).expect("one state per output")
    }
}

impl<F: Real> SpikingLayer<F> {
    /// A layer with zero weights and time constants drawn as the spec says.
    pub fn new<R: Rng>(
        spec: &SpikingLayerSpec,
        inputs: usize,
        dt_s: f64,
        spike: SpikeFn,
        rng: &mut R,
    ) -> Self {
        let n = spec.size;
        let draw = |rng: &mut R, tau_ms: f64| spread_taus(n, tau_ms * 1e-3, spec.tau_spread, rng);
        let tau_mem_s = draw(rng, spec.tau_mem_ms);
        let tau_syn_s = draw(rng, spec.tau_syn_ms);
        let (tau_ada_s, ada_strength) = match spec.neuron {
            NeuronKind::Lif => (Vec::new(), Vec::new()),
            NeuronKind::AdaptiveLif {
                tau_ada_ms,
                strength,
            } => (draw(rng, tau_ada_ms), vec![F::from_f64(strength); n]),
        };
        Self {
            spec: spec.clone(),
            dt_s: F::from_f64(dt_s),
            spike,
            w_in: Matrix::zeros(inputs, n),
            w_rec: spec.recurrent.then(|| Matrix::zeros(n, n)),
            mask_in: None,
            mask_rec: None,
            tau_mem_s,
            tau_syn_s,
            tau_ada_s,
            ada_strength,
        }
    }

    /// Number of neurons.
    pub fn size(&self) -> usize {
        self.spec.size
    }

    /// Runs the layer. With `dropout_rng`, dropout is applied to the output spikes.
    pub fn forward<R: Rng>(&self, input: Input<F>, dropout_rng: Option<&mut R>) -> LayerTrace<F> {
        let current = input.project(&self.w_in);
        let w_rec = self.w_rec.as_ref();
        let scan = match self.spec.neuron {
            NeuronKind::Lif if self.spec.learn_tau => {
                let model = self.lif();
                let trace = with_events(self.spike, scan::forward(&model, current, w_rec));
                Scanned::Lif(model, trace)
            }
            NeuronKind::Lif => {
                let model = FixedLif(self.lif());
                let trace = with_events(self.spike, scan::forward(&model, current, w_rec));
                Scanned::FixedLif(model, trace)
            }
            NeuronKind::AdaptiveLif { .. } => {
                let model = self.adaptive();
                let trace = with_events(self.spike, scan::forward(&model, current, w_rec));
                Scanned::Adaptive(model, trace)
            }
        };
        let mut trace = LayerTrace {
            scan,
            dense: OnceLock::new(),
            dropout: None,
            dropped: None,
        };
        if let (Some(rng), true) = (dropout_rng, self.spec.dropout > 0.0) {
            let keep = 1.0 - self.spec.dropout;
            let scale = F::from_f64(1.0 / keep);
            let mask: Vec<F> = (0..trace.spikes().data.len())
                .map(|_| {
                    if rng.random::<f64>() < keep {
                        scale
                    } else {
                        F::zero()
                    }
                })
                .collect();
            let mut dropped = trace.spikes().clone();
            dropped
                .data
                .iter_mut()
                .zip(&mask)
                .for_each(|(s, &m)| *s *= m);
            trace.dropout = Some(mask);
            trace.dropped = Some(dropped);
        }
        trace
    }

    /// Backpropagates through the layer.
    ///
    /// `g_output` is `∂L/∂(output)` from the next layer, `g_spikes` an optional extra gradient
    /// on the raw spikes (activity regularizers). Returns the gradients of the learnable
    /// parameters in [`Self::params`] order, and `∂L/∂input` when `input_grad` is set.
    pub fn backward(
        &self,
        input: Input<F>,
        trace: &LayerTrace<F>,
        g_output: &Seq<F>,
        g_counts: Option<&[F]>,
        input_grad: bool,
    ) -> (Vec<Vec<F>>, Option<Seq<F>>) {
        // ∂L/∂S: through dropout, plus the regularizers' ∂L/∂cnt at every step (no copy when
        // neither applies).
        let mut g = Cow::Borrowed(g_output);
        if let Some(mask) = &trace.dropout {
            let g = g.to_mut();
            g.data.iter_mut().zip(mask).for_each(|(g, &m)| *g *= m);
        }
        if let Some(extra) = g_counts {
            g.to_mut().add_to_every_step(extra);
        }
        let w_rec = self.w_rec.as_ref();
        let (grads, alpha, beta, rho) = match &trace.scan {
            Scanned::Lif(model, t) => (
                scan::backward(model, t, &g, w_rec),
                &model.alpha,
                &model.beta,
                None,
            ),
            Scanned::FixedLif(model, t) => (
                scan::backward(model, t, &g, w_rec),
                &model.0.alpha,
                &model.0.beta,
                None,
            ),
            Scanned::Adaptive(model, t) => (
                scan::backward(model, t, &g, w_rec),
                &model.alpha,
                &model.beta,
                Some(&model.rho),
            ),
        };
        let n = self.size();
        let mut g_w_in = input.grad_weight(&grads.input, self.w_in.rows);
        apply_mask(&mut g_w_in.data, self.mask_in.as_deref());
        let mut out = vec![g_w_in.data];
        if let Some(mut g_w_rec) = grads.w_rec {
            apply_mask(&mut g_w_rec.data, self.mask_rec.as_deref());
            out.push(g_w_rec.data);
        }
        if self.spec.learn_tau {
            let dt = self.dt_s;
            out.push(tau_grad(&grads.params[n..2 * n], beta, &self.tau_mem_s, dt));
            out.push(tau_grad(&grads.params[..n], alpha, &self.tau_syn_s, dt));
            if let Some(rho) = rho {
                out.push(tau_grad(
                    &grads.params[2 * n..3 * n],
                    rho,
                    &self.tau_ada_s,
                    dt,
                ));
            }
        }
        let g_input = input_grad.then(|| crate::linalg::grad_input(&grads.input, &self.w_in));
        (out, g_input)
    }

    /// Every parameter tensor, learnable or not, in a fixed order.
    pub fn params<'a>(&'a self) -> Vec<Param<'a, F>> {
        let (n, learn) = (self.size(), self.spec.learn_tau);
        let mut p = vec![Param {
            name: "w_in",
            shape: vec![self.w_in.rows, n],
            data: &self.w_in.data,
            learnable: true,
        }];
        if let Some(w) = &self.w_rec {
            p.push(Param {
                name: "w_rec",
                shape: vec![n, n],
                data: &w.data,
                learnable: true,
            });
        }
        let per_neuron = |name, data: &'a [F], learnable| Param {
            name,
            shape: vec![n],
            data,
            learnable,
        };
        p.push(per_neuron("tau_mem_s", &self.tau_mem_s, learn));
        p.push(per_neuron("tau_syn_s", &self.tau_syn_s, learn));
        if !self.tau_ada_s.is_empty() {
            p.push(per_neuron("tau_ada_s", &self.tau_ada_s, learn));
            p.push(per_neuron("ada_strength", &self.ada_strength, false));
        }
        p
    }

    /// Mutable views of every parameter tensor, in [`Self::params`] order.
    pub fn params_mut(&mut self) -> Vec<&mut Vec<F>> {
        let mut p = vec![&mut self.w_in.data];
        if let Some(w) = &mut self.w_rec {
            p.push(&mut w.data);
        }
        p.push(&mut self.tau_mem_s);
        p.push(&mut self.tau_syn_s);
        if !self.tau_ada_s.is_empty() {
            p.push(&mut self.tau_ada_s);
            p.push(&mut self.ada_strength);
        }
        p
    }

    /// Keeps learned time constants at least one time step long.
    pub fn apply_constraints(&mut self) {
        let dt = self.dt_s;
        for tau in [
            &mut self.tau_mem_s,
            &mut self.tau_syn_s,
            &mut self.tau_ada_s,
        ] {
            tau.iter_mut().for_each(|t| *t = t.max(dt));
        }
    }

    fn lif(&self) -> Lif<F> {
        Lif {
            alpha: decays(&self.tau_syn_s, self.dt_s),
            beta: decays(&self.tau_mem_s, self.dt_s),
            threshold: F::from_f64(self.spec.threshold),
            spike: self.spike,
            reset: self.spec.reset_grad,
        }
    }

    fn adaptive(&self) -> AdaptiveLif<F> {
        let lif = self.lif();
        AdaptiveLif {
            alpha: lif.alpha,
            beta: lif.beta,
            rho: decays(&self.tau_ada_s, self.dt_s),
            strength: self.ada_strength.clone(),
            threshold: lif.threshold,
            spike: lif.spike,
            reset: lif.reset,
        }
    }
}

/// Binary spikes are kept as events only: the next layer's product, the recurrent weight
/// gradient and the next layer's weight gradient gather from them, and the neuron adjoint
/// recomputes them from `U`, so the dense `[T, B, N]` spikes are released.
fn with_events<F: Real, S>(spike: SpikeFn, mut trace: ScanTrace<F, S>) -> ScanTrace<F, S> {
    if spike.is_binary() {
        trace.events = Some(SpikeEvents::from_nonzero(&trace.out));
        trace.out = Seq::zeros(0, 0, 0);
    }
    trace
}

/// `n` time constants `τ·exp(spread·z)`, `z ~ N(0, 1)` (all equal to `τ` when `spread = 0`).
pub(super) fn spread_taus<F: Real, R: Rng>(
    n: usize,
    tau_s: f64,
    spread: f64,
    rng: &mut R,
) -> Vec<F> {
    (0..n)
        .map(|_| {
            let z: f64 = if spread > 0.0 {
                StandardNormal.sample(rng)
            } else {
                0.0
            };
            F::from_f64(tau_s * (spread * z).exp())
        })
        .collect()
}

#[cfg(test)]
mod tests;
