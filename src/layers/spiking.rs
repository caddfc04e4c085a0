//! A hidden layer of spiking neurons with feed-forward and optional recurrent weights.

use super::conv::{max_pool, max_pool_grad, ConvGeometry, ConvWeights, MapShape, MaxPool};
use super::dale::DalePopulation;
use super::delay::{advance_grad, delay_input};
use super::population::{population, Carry, ModelRun, Population, StateRun};
use super::{add_bias, apply_mask, bias_grad, Input, OwnedInput, Param, SpikingLayerSpec};
use crate::events::SpikeEvents;
use crate::neurons::{ExcInhFamily, NeuronSettings, PopulationSpec};
use crate::real::Real;
use crate::scan::{Current, InputGrad, OutputGrad, ProjectedEvents, ScanContext};
use crate::surrogates::SpikeFn;
use crate::tensor::{Matrix, Seq};
use rand::Rng;
use std::borrow::Cow;
use std::sync::OnceLock;

/// A layer of spiking neurons: `x[t] = in[t]·W_in (+ S[t−1]·W_rec)` drives the neuron model.
#[derive(Clone, Debug)]
pub struct SpikingLayer<F: Real> {
    /// What the layer was built from.
    pub spec: SpikingLayerSpec,
    /// Simulation time step.
    pub dt_s: F,
    /// Spike non-linearity.
    pub spike: SpikeFn,
    /// Feed-forward weights `[inputs, size]`.
    pub w_in: Matrix<F>,
    /// Recurrent weights `[N, N]`, when the layer is recurrent (always in a Dale's-law layer:
    /// its inhibitory synapses, [`crate::layers::dale`]).
    pub w_rec: Option<Matrix<F>>,
    /// 0/1 mask of existing feed-forward connections (sparse connectivity).
    pub mask_in: Option<Vec<F>>,
    /// 0/1 mask of existing recurrent connections.
    pub mask_rec: Option<Vec<F>>,
    /// The feed-forward projection's bias `[size]` (`[filters]` in a convolutional layer),
    /// when the spec asks for one.
    pub b_in: Option<Vec<F>>,
    /// A convolutional layer's kernels, from which `w_in` and `w_rec` are built (they are the
    /// learnable tensors; see [`Self::apply_constraints`]).
    pub conv: Option<ConvWeights<F>>,
    /// The neurons: their model's named per-neuron parameters (`tau_mem_s`, ...).
    pub neurons: Box<dyn Population<F>>,
}

/// Whether a backward pass follows the recurrent weights to earlier steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RecurrentPath {
    /// The exact gradient: `∂L/∂S[t−1] += ∂L/∂x[t] · W_recᵀ`.
    #[default]
    Followed,
    /// A stop-gradient on the recurrent input `S[t−1] · W_rec`: every neuron's gradient flows
    /// back through its own dynamics only (no cross-neuron terms of the recurrent Jacobian),
    /// the gradient e-prop computes online. `W_rec` still gets its gradient
    /// `Σ_t S[t−1]ᵀ · ∂L/∂x[t]`.
    Stopped,
}

/// The forward pass of one layer, kept for its backward pass.
#[derive(Clone, Debug)]
pub struct LayerTrace<F: Real> {
    run: Box<dyn ModelRun<F>>,
    /// Dense spikes rebuilt from the events, on the first request (binary spikes are kept as
    /// events only).
    dense: OnceLock<Seq<F>>,
    /// Dropout scale per output (`0` or `1/(1−p)`), during training with dropout.
    dropout: Option<Vec<F>>,
    /// Output after dropout (what the next layer sees), when dropout is active.
    dropped: Option<Seq<F>>,
}

impl<F: Real> LayerTrace<F> {
    /// The layer's spikes `S[t, b, j]` (rebuilt from the events on the first call when the
    /// spikes are binary).
    pub fn spikes(&self) -> &Seq<F> {
        match self.run.events() {
            Some(events) => self.dense.get_or_init(|| events.to_dense()),
            None => self.run.out(),
        }
    }

    /// The number of spikes (the sum of the outputs).
    pub fn spike_count(&self) -> f64 {
        match self.run.events() {
            Some(events) => events.count() as f64,
            None => self.run.out().data.iter().map(|s| s.as_f64()).sum(),
        }
    }

    /// Spikes per sample and neuron over the whole sequence, `cnt[b, j] = Σ_t S[t, b, j]`
    /// (`[B, N]`), counted from the events when the layer keeps them (no dense spikes built).
    pub fn spike_counts(&self) -> Vec<f64> {
        let (_, batch, n) = self.shape();
        let mut counts = vec![0.0; batch * n];
        match self.run.events() {
            Some(events) => {
                for r in 0..events.rows() {
                    let sample = &mut counts[(r % batch) * n..(r % batch + 1) * n];
                    events
                        .row(r)
                        .iter()
                        .for_each(|&j| sample[j as usize] += 1.0);
                }
            }
            None => self.run.out().sum_steps_into(&mut counts),
        }
        counts
    }

    /// `(steps, batch, neurons)`.
    pub fn shape(&self) -> (usize, usize, usize) {
        match self.run.events() {
            Some(e) => (e.steps, e.batch, e.width),
            None => {
                let out = self.run.out();
                (out.steps, out.batch, out.width)
            }
        }
    }

    /// What the next layer receives (spikes after dropout).
    pub fn output(&self) -> &Seq<F> {
        self.dropped.as_ref().unwrap_or_else(|| self.spikes())
    }

    /// Forgets the spikes' events, so that every later product is dense (the reference path).
    pub fn drop_events(&mut self) {
        self.run.drop_events();
    }

    /// What the next layer receives as events, when it is binary (spikes without dropout).
    pub fn output_events(&self) -> Option<&SpikeEvents> {
        if self.dropped.is_some() {
            return None;
        }
        self.run.events()
    }

    /// Whether every state variable kept for the backward pass is finite.
    pub fn is_finite(&self) -> bool {
        self.run.is_finite()
    }

    /// Membrane potentials `U[t, b, j]`.
    pub fn membrane(&self) -> Seq<F> {
        let (steps, batch, width) = self.shape();
        Seq::from_vec(steps, batch, width, self.run.membranes()).expect("one state per output")
    }
}

impl<F: Real> SpikingLayer<F> {
    /// A layer with zero weights and time constants drawn as the spec says, over an input of
    /// `input` units (a map of channels for a convolutional layer).
    ///
    /// # Panics
    /// If the spec's convolution does not fit `input` or its `size` is not the convolution's
    /// output ([`crate::network::Network::new`] checks both with errors).
    pub fn new<R: Rng>(
        spec: &SpikingLayerSpec,
        input: MapShape,
        dt_s: f64,
        spike: SpikeFn,
        rng: &mut R,
    ) -> Self {
        let inputs = input.units();
        let n = spec.neurons();
        let geometry: Option<ConvGeometry> = spec.conv.map(|c| {
            let g = c
                .geometry(input, spec.recurrent)
                .expect("a validated convolution");
            assert_eq!(g.output().units(), n, "a convolutional layer's size");
            g
        });
        let bias_len = spec.conv.map_or(n, |c| c.filters);
        let sizes = PopulationSpec {
            size: n,
            tau_mem_ms: spec.tau_mem_ms,
            tau_syn_ms: spec.tau_syn_ms,
            tau_spread: spec.tau_spread,
        };
        let settings = NeuronSettings {
            dt_s: F::from_f64(dt_s),
            threshold: F::from_f64(spec.threshold),
            spike,
            reset: spec.reset_grad,
            reset_mode: spec.reset,
            learn_tau: spec.learn_tau,
        };
        Self {
            spec: spec.clone(),
            dt_s: F::from_f64(dt_s),
            spike,
            w_in: Matrix::zeros(inputs, geometry.map_or(n, |g| g.input.matrix_outputs())),
            w_rec: (spec.recurrent || spec.dale.is_some()).then(|| Matrix::zeros(n, n)),
            mask_in: None,
            mask_rec: spec.dale.and_then(|_| dale_rec_mask(spec)),
            b_in: spec.bias.then(|| vec![F::zero(); bias_len]),
            conv: geometry.as_ref().map(ConvWeights::zeros),
            neurons: match spec.dale {
                None => population(&spec.neuron, &sizes, settings, rng),
                Some(d) => Box::new(DalePopulation::new(
                    ExcInhFamily {
                        tau_exc_ms: d.tau_exc_ms,
                        tau_inh_ms: d.tau_inh_ms,
                    },
                    spec.size,
                    &sizes,
                    settings,
                    rng,
                )),
            },
        }
    }

    /// Number of neurons the layer's output shows (a Dale's-law layer's excitatory ones).
    pub fn size(&self) -> usize {
        self.spec.size
    }

    /// Number of neurons, including a Dale's-law layer's inhibitory ones.
    pub fn neurons(&self) -> usize {
        self.spec.neurons()
    }

    /// The values of the neurons' per-neuron parameter `name` (e.g. `tau_mem_s`), if their
    /// model has one.
    pub fn neuron_param(&self, name: &str) -> Option<&[F]> {
        self.neurons
            .params()
            .into_iter()
            .find(|p| p.name == name)
            .map(|p| p.data)
    }

    /// Mutable values of the neurons' parameter `name`, if their model has one.
    pub fn neuron_param_mut(&mut self, name: &str) -> Option<&mut Vec<F>> {
        let k = self.neurons.params().iter().position(|p| p.name == name)?;
        self.neurons.params_mut().into_iter().nth(k)
    }

    /// Runs the layer. With `dropout_rng`, dropout is applied to the output spikes.
    pub fn forward<R: Rng>(&self, input: Input<F>, dropout_rng: Option<&mut R>) -> LayerTrace<F> {
        self.forward_in(input, dropout_rng, &ScanContext::default())
    }

    /// [`Self::forward`] with the noise stream of `ctx` (stochastic spikes).
    pub fn forward_in<R: Rng>(
        &self,
        input: Input<F>,
        dropout_rng: Option<&mut R>,
        ctx: &ScanContext,
    ) -> LayerTrace<F> {
        match input {
            // Spikes straight into the neurons: each row's current is summed as the scan
            // reaches it, with the same sums as `project`.
            Input::Events(events) if !self.delays() && self.max_pool().is_none() => {
                let bias = self.neuron_bias();
                let current = ProjectedEvents {
                    events,
                    w: &self.w_in,
                    bias: bias.as_deref(),
                };
                self.run_neurons(current.into(), dropout_rng, ctx)
            }
            _ => self.forward_current(self.project(input), dropout_rng, ctx),
        }
    }

    /// The feed-forward current `x = input · W_in (+ b_in)` (the input delayed, a max-pooled
    /// convolution's windows pooled before the bias).
    pub fn project(&self, input: Input<F>) -> Seq<F> {
        let delayed = self.delayed(input);
        let input = delayed.as_ref().map_or(input, OwnedInput::as_input);
        let mut current = input.project(&self.w_in);
        if let Some(pool) = self.max_pool() {
            current = max_pool(&pool, &current);
        }
        add_bias(&mut current, self.neuron_bias().as_deref());
        current
    }

    /// Whether the layer delays its input.
    fn delays(&self) -> bool {
        !self.spec.input_delay_steps.is_empty()
    }

    /// The input through the layer's delay lines, if it has any.
    fn delayed(&self, input: Input<F>) -> Option<OwnedInput<F>> {
        let steps = &self.spec.input_delay_steps;
        (!steps.is_empty()).then(|| delay_input(input, steps))
    }

    /// The max pooling after a convolution's matrix, if any.
    fn max_pool(&self) -> Option<MaxPool> {
        self.conv.as_ref().and_then(|c| c.input.conv.max_pool())
    }

    /// The bias per neuron (a convolutional layer's per-filter bias repeated over positions).
    fn neuron_bias(&self) -> Option<Cow<'_, [F]>> {
        let b = self.b_in.as_deref()?;
        Some(match &self.conv {
            Some(conv) => Cow::Owned(conv.expand_bias(b)),
            None => Cow::Borrowed(b),
        })
    }

    /// [`Self::forward_in`] from the feed-forward input current `x = input · W_in`
    /// (`[T, B, size]`) instead of the input: a caller that changes the current (an emulated
    /// device's offsets and noise) runs the same layer.
    pub fn forward_current<R: Rng>(
        &self,
        current: Seq<F>,
        dropout_rng: Option<&mut R>,
        ctx: &ScanContext,
    ) -> LayerTrace<F> {
        self.run_neurons(current.into(), dropout_rng, ctx)
    }

    /// Runs the neurons on `current`, then drops out spikes (with `dropout_rng`).
    fn run_neurons<R: Rng>(
        &self,
        current: Current<'_, F>,
        dropout_rng: Option<&mut R>,
        ctx: &ScanContext,
    ) -> LayerTrace<F> {
        let run = self.neurons.forward(current, self.w_rec.as_ref(), ctx);
        let mut trace = LayerTrace {
            run,
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

    /// Runs the layer keeping every step's whole state, from `start` (for forward-mode rules;
    /// no dropout).
    pub fn forward_states(
        &self,
        input: Input<F>,
        ctx: &ScanContext,
        start: Option<&Carry<F>>,
    ) -> Box<dyn StateRun<F>> {
        let current = self.project(input);
        self.neurons
            .forward_states(current, self.w_rec.as_ref(), ctx, start)
    }

    /// Backpropagates through the layer.
    ///
    /// `g_output` is `∂L/∂(output)` from the next layer, `g_counts` an optional extra
    /// gradient on the spike counts (activity regularizers). Returns the gradients of the
    /// learnable parameters in [`Self::params`] order, and `∂L/∂input` when `input_grad` is
    /// set.
    pub fn backward(
        &self,
        input: Input<F>,
        trace: &LayerTrace<F>,
        g_output: &Seq<F>,
        g_counts: Option<&[F]>,
        input_grad: bool,
    ) -> (Vec<Vec<F>>, Option<Seq<F>>) {
        let path = RecurrentPath::Followed;
        self.backward_through(input, trace, g_output.into(), g_counts, input_grad, path)
    }

    /// [`Self::backward`], following the recurrent weights back in time or not.
    pub fn backward_through(
        &self,
        input: Input<F>,
        trace: &LayerTrace<F>,
        g_output: OutputGrad<'_, F>,
        g_counts: Option<&[F]>,
        input_grad: bool,
        path: RecurrentPath,
    ) -> (Vec<Vec<F>>, Option<Seq<F>>) {
        // ∂L/∂S: through dropout, plus the regularizers' ∂L/∂cnt at every step (written out
        // only when either applies; otherwise the scan computes each block of rows itself).
        let changed = trace.dropout.is_some() || g_counts.is_some();
        let dense = changed.then(|| {
            let mut g = g_output.to_dense().into_owned();
            if let Some(mask) = &trace.dropout {
                g.data.iter_mut().zip(mask).for_each(|(g, &m)| *g *= m);
            }
            if let Some(extra) = g_counts {
                g.add_to_every_step(extra);
            }
            g
        });
        let g = dense.as_ref().map_or(g_output, OutputGrad::Given);
        let followed = self
            .w_rec
            .as_ref()
            .filter(|_| path == RecurrentPath::Followed);
        let delayed = self.delayed(input);
        let input = delayed.as_ref().map_or(input, OwnedInput::as_input);
        // Spike inputs straight into the neurons: the scan sums ∂L/∂W_in as it goes, and
        // ∂L/∂x is written out only when something below reads it.
        let gathered = match (input, self.max_pool()) {
            (Input::Events(events), None) => Some(events),
            _ => None,
        };
        let stopped_recurrent = self.w_rec.is_some() && path == RecurrentPath::Stopped;
        let keep = gathered.is_none() || input_grad || self.b_in.is_some() || stopped_recurrent;
        let keep = if keep {
            InputGrad::Keep
        } else {
            InputGrad::Discard
        };
        let mut grads = trace.run.backward(g, followed, gathered, keep);
        let g_x = grads.input.as_ref();
        let kept = "∂L/∂x is kept when read";
        // Through a max pooling to the convolution's currents, recomputed from the input.
        let g_conv = g_x.map(|g_x| match self.max_pool() {
            Some(pool) => Cow::Owned(max_pool_grad(&pool, &input.project(&self.w_in), g_x)),
            None => Cow::Borrowed(g_x),
        });
        let mut g_w_in = match grads.w_in.take() {
            Some(dw) => dw,
            None => input.grad_weight(g_conv.as_deref().expect(kept), self.w_in.rows),
        };
        apply_mask(&mut g_w_in.data, self.mask_in.as_deref());
        let mut out = vec![match &self.conv {
            Some(conv) => conv.input.conv.kernel_grad(&g_w_in),
            None => g_w_in.data,
        }];
        let g_w_rec = match (&self.w_rec, path) {
            (None, _) => None,
            (Some(_), RecurrentPath::Followed) => grads.w_rec,
            (Some(w), RecurrentPath::Stopped) => Some(match trace.run.events() {
                Some(events) => {
                    let mut dw = Matrix::zeros(w.rows, w.cols);
                    let batch = events.batch;
                    let g_x = g_x.expect(kept);
                    crate::linalg::events_grad_weight_shifted(events, g_x, batch, &mut dw);
                    dw
                }
                None => {
                    crate::scan::recurrent_weight_grad(trace.spikes(), g_x.expect(kept), w.rows)
                }
            }),
        };
        if let Some(mut g_w_rec) = g_w_rec {
            apply_mask(&mut g_w_rec.data, self.mask_rec.as_deref());
            let rec_kernel = self.conv.as_ref().and_then(|c| c.recurrent.as_ref());
            out.push(match rec_kernel {
                Some(kernel) => kernel.conv.kernel_grad(&g_w_rec),
                None => g_w_rec.data,
            });
        }
        out.extend(self.neurons.param_grads(&grads.params));
        if self.b_in.is_some() {
            let g_b = bias_grad(g_x.expect(kept));
            out.push(match &self.conv {
                Some(conv) => conv.reduce_bias(&g_b),
                None => g_b,
            });
        }
        let g_input = input_grad.then(|| {
            let g = crate::linalg::grad_input(g_conv.as_deref().expect(kept), &self.w_in);
            match delayed {
                Some(_) => advance_grad(&g, &self.spec.input_delay_steps),
                None => g,
            }
        });
        (out, g_input)
    }

    /// Every parameter tensor, learnable or not, in a fixed order: the weights (a
    /// convolutional layer's kernels `w_in_kernel`, `w_rec_kernel` instead of the matrices
    /// built from them), the neurons' parameters, then the bias.
    pub fn params(&self) -> Vec<Param<'_, F>> {
        let n = self.neurons();
        let weight = |name, shape, data| Param {
            name,
            shape,
            data,
            learnable: true,
        };
        let mut p = match &self.conv {
            Some(conv) => {
                let mut p = vec![weight(
                    "w_in_kernel",
                    conv.input.shape(),
                    &conv.input.kernel,
                )];
                if let Some(k) = &conv.recurrent {
                    p.push(weight("w_rec_kernel", k.shape(), &k.kernel));
                }
                p
            }
            None => {
                let mut p = vec![weight("w_in", vec![self.w_in.rows, n], &self.w_in.data)];
                if let Some(w) = &self.w_rec {
                    p.push(weight("w_rec", vec![n, n], &w.data));
                }
                p
            }
        };
        p.extend(self.neurons.params());
        if let Some(b) = &self.b_in {
            p.push(weight("b_in", vec![b.len()], b));
        }
        p
    }

    /// Mutable views of every parameter tensor, in [`Self::params`] order. After changing a
    /// convolutional layer's kernels, call [`Self::apply_constraints`] to rebuild its matrices.
    pub fn params_mut(&mut self) -> Vec<&mut Vec<F>> {
        let mut p = match &mut self.conv {
            Some(conv) => {
                let mut p = vec![&mut conv.input.kernel];
                if let Some(k) = &mut conv.recurrent {
                    p.push(&mut k.kernel);
                }
                p
            }
            None => {
                let mut p = vec![&mut self.w_in.data];
                if let Some(w) = &mut self.w_rec {
                    p.push(&mut w.data);
                }
                p
            }
        };
        p.extend(self.neurons.params_mut());
        if let Some(b) = &mut self.b_in {
            p.push(b);
        }
        p
    }

    /// Keeps learned time constants at least one time step long and a Dale's-law layer's
    /// weights and bias non-negative, and rebuilds a convolutional layer's `w_in` and `w_rec` from its
    /// kernels (so it follows every change of the learnable tensors: optimizer steps,
    /// restored checkpoints, copies).
    pub fn apply_constraints(&mut self) {
        self.neurons.apply_constraints();
        if self.spec.dale.is_some() {
            // The bias is an excitatory input too.
            let weights = self.w_in.data.iter_mut();
            let rec = self.w_rec.iter_mut().flat_map(|w| w.data.iter_mut());
            let bias = self.b_in.iter_mut().flatten();
            for w in weights.chain(rec).chain(bias) {
                *w = w.max(F::zero());
            }
        }
        self.rebuild_conv();
    }

    /// Rebuilds a convolutional layer's `w_in` and `w_rec` from its kernels (nothing for
    /// other layers).
    pub fn rebuild_conv(&mut self) {
        if let Some(conv) = &self.conv {
            self.w_in = conv.input.matrix();
            if let Some(k) = &conv.recurrent {
                self.w_rec = Some(k.matrix());
            }
        }
    }
}

/// The recurrent mask of a Dale's-law layer that is not recurrent: its inhibitory rows only
/// (IE and II); `None` for a recurrent one.
fn dale_rec_mask<F: Real>(spec: &SpikingLayerSpec) -> Option<Vec<F>> {
    let n = spec.neurons();
    (!spec.recurrent).then(|| {
        (0..n * n)
            .map(|k| {
                if k / n >= spec.size {
                    F::one()
                } else {
                    F::zero()
                }
            })
            .collect()
    })
}

#[cfg(test)]
mod tests;
