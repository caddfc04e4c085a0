//! Dale's-law layers: an excitatory and an inhibitory population whose synapses keep their
//! sign, as stork's `DalianLayer` (Rossbroich, Gygax & Zenke 2022, notebook 04).
//!
//! stork builds an E population of `size` neurons and an I population of `size / ei_ratio`,
//! with connections XE and XI (the input to both, excitatory), IE and II (inhibitory), and,
//! when the layer is recurrent, EE and EI (excitatory); every weight is kept non-negative
//! (`MinMaxConstraint(min = 0)`), and only the E population projects to the next layer.
//!
//! Here the layer is one [`crate::layers::SpikingLayer`] whose neurons are `E ∪ I` (E first),
//! all excitatory–inhibitory LIF neurons ([`crate::neurons::ExcInh`]):
//!
//! - `W_in` `[inputs, E + I]` is XE and XI side by side; it drives the excitatory currents.
//! - `W_rec` `[E + I, E + I]` holds EE, EI (rows of E neurons) and IE, II (rows of I
//!   neurons). The synapse's target is the *presynaptic* neuron's sign: the rows of E neurons
//!   drive the excitatory currents, those of I neurons the inhibitory ones. A layer that is
//!   not recurrent keeps the E rows at zero (a mask), so it still has IE and II, as stork's.
//! - The layer's output is its E spikes only (`[T, B, E]`): the next layer and the readout see
//!   `size` neurons, as in stork; the I neurons act through `W_rec` alone.
//! - After every update the weights are clamped at zero (the layer's constraints).
//!
//! Why not the generic scan: it gives a model one input current per neuron, and here a
//! neuron's two currents come from different presynaptic neurons of the same recurrent
//! product. Instead of a second input channel through the scan (and through every model and
//! rule that uses it), this module runs the same `W_rec` split by rows in a scan of its own
//! ([`DalePopulation`]), stepping the model's two-input form ([`crate::neurons::ExcInh::step_both`])
//! and its adjoint; the single-input forms of the same model pass the generic gradient checks,
//! and this scan is checked against finite differences in its tests. Forward-mode rules
//! (RTRL, e-prop) and the stopped recurrent path are refused for these layers by the config.

use super::population::{Carry, ModelRun, Neurons, Population, SlotChain, StateRun};
use super::Param;
use crate::events::SpikeEvents;
use crate::neurons::{
    ExcInh, ExcInhFamily, ExcInhState, NeuronSettings, ParamValues, PopulationSpec, SavedState,
    StepContext,
};
use crate::real::Real;
use crate::scan::{Current, InputGrad, OutputGrad, ScanContext, ScanGrads};
use crate::tensor::{Matrix, Seq};
use rand::Rng;
use rayon::prelude::*;

/// The neurons of a Dale's-law layer: `exc` excitatory neurons, then the inhibitory ones.
#[derive(Clone, Debug)]
pub struct DalePopulation<F> {
    neurons: Neurons<F, ExcInhFamily>,
    exc: usize,
}

impl<F: Real> DalePopulation<F> {
    /// `spec.size` neurons (the first `exc` excitatory), time constants drawn with the spec's
    /// spread.
    pub fn new<R: Rng>(
        family: ExcInhFamily,
        exc: usize,
        spec: &PopulationSpec,
        settings: NeuronSettings<F>,
        rng: &mut R,
    ) -> Self {
        Self {
            neurons: Neurons::new(family, spec, settings, rng),
            exc,
        }
    }

    fn model(&self) -> ExcInh<F> {
        let values = ParamValues::new::<ExcInhFamily>(&self.neurons.values);
        ExcInh::new(values, &self.neurons.settings)
    }
}

impl<F: Real> Population<F> for DalePopulation<F> {
    fn params(&self) -> Vec<Param<'_, F>> {
        self.neurons.params()
    }

    fn params_mut(&mut self) -> Vec<&mut Vec<F>> {
        self.neurons.params_mut()
    }

    fn apply_constraints(&mut self) {
        self.neurons.apply_constraints();
    }

    fn forward(
        &self,
        current: Current<'_, F>,
        w_rec: Option<&Matrix<F>>,
        ctx: &ScanContext,
    ) -> Box<dyn ModelRun<F>> {
        let w = w_rec.expect("a Dale's-law layer always has W_rec (its inhibitory synapses)");
        Box::new(forward(
            self.model(),
            self.exc,
            &current.into_dense(),
            w,
            ctx,
        ))
    }

    fn forward_states(
        &self,
        _current: Seq<F>,
        _w_rec: Option<&Matrix<F>>,
        _ctx: &ScanContext,
        _start: Option<&Carry<F>>,
    ) -> Box<dyn StateRun<F>> {
        panic!("forward-mode rules do not run Dale's-law layers (the config refuses them)")
    }

    fn param_grads(&self, raw: &[F]) -> Vec<Vec<F>> {
        self.neurons.param_grads(raw)
    }

    fn slot_chains(&self) -> Vec<SlotChain<F>> {
        self.neurons.slot_chains()
    }

    fn state_dim(&self) -> usize {
        3
    }

    fn box_clone(&self) -> Box<dyn Population<F>> {
        Box::new(self.clone())
    }
}

/// One forward pass of a Dale's-law population.
#[derive(Clone, Debug)]
pub struct DaleRun<F: Real> {
    model: ExcInh<F>,
    exc: usize,
    /// Every neuron's state, `[T, B, N]`.
    saved: Vec<ExcInhState<F>>,
    /// Every neuron's spikes, `[T, B, N]`.
    spikes: Seq<F>,
    /// The excitatory neurons' spikes, `[T, B, exc]`: the layer's output.
    out: Seq<F>,
    w_rec: Matrix<F>,
}

/// `x += s·W[i, :]` for the rows `i` of `rows` with `s_i ≠ 0`.
fn add_rows<F: Real>(w: &Matrix<F>, s: &[F], rows: std::ops::Range<usize>, x: &mut [F]) {
    for i in rows {
        let si = s[i];
        if si != F::zero() {
            let row = &w.data[i * w.cols..(i + 1) * w.cols];
            x.iter_mut().zip(row).for_each(|(x, &w)| *x += si * w);
        }
    }
}

fn step_ctx(ctx: &ScanContext, t: usize, b: usize) -> StepContext {
    StepContext {
        step: ctx.first_step + t,
        sample: b,
        noise: ctx.noise,
    }
}

/// Runs the population on the feed-forward excitatory currents `current` `[T, B, N]`.
fn forward<F: Real>(
    model: ExcInh<F>,
    exc: usize,
    current: &Seq<F>,
    w: &Matrix<F>,
    ctx: &ScanContext,
) -> DaleRun<F> {
    let (steps, batch, n) = (current.steps, current.batch, current.width);
    assert_eq!((w.rows, w.cols), (n, n), "Dale layer: W_rec shape");
    // Per sample, `[T, N]` states and spikes.
    let per_sample: Vec<(Vec<ExcInhState<F>>, Vec<F>)> = (0..batch)
        .into_par_iter()
        .map(|b| {
            let mut states = vec![ExcInhState::default(); steps * n];
            let mut spikes = vec![F::zero(); steps * n];
            let mut prev = vec![ExcInhState::default(); n];
            let mut prev_s = vec![F::zero(); n];
            let (mut e, mut h) = (vec![F::zero(); n], vec![F::zero(); n]);
            for t in 0..steps {
                e.copy_from_slice(current.row(t, b));
                h.iter_mut().for_each(|h| *h = F::zero());
                add_rows(w, &prev_s, 0..exc, &mut e);
                add_rows(w, &prev_s, exc..n, &mut h);
                let c = step_ctx(ctx, t, b);
                for j in 0..n {
                    let state = model.step_both(j, &prev[j], prev_s[j], e[j], h[j]);
                    let s = model.fire(j, &state, &c);
                    states[t * n + j] = state;
                    spikes[t * n + j] = s;
                    prev[j] = state;
                }
                prev_s.copy_from_slice(&spikes[t * n..(t + 1) * n]);
            }
            (states, spikes)
        })
        .collect();
    let mut saved = vec![ExcInhState::default(); steps * batch * n];
    let mut spikes = Seq::zeros(steps, batch, n);
    let mut out = Seq::zeros(steps, batch, exc);
    for (b, (states, s)) in per_sample.iter().enumerate() {
        for t in 0..steps {
            let at = (t * batch + b) * n;
            saved[at..at + n].copy_from_slice(&states[t * n..(t + 1) * n]);
            spikes.data[at..at + n].copy_from_slice(&s[t * n..(t + 1) * n]);
            let o = (t * batch + b) * exc;
            out.data[o..o + exc].copy_from_slice(&s[t * n..t * n + exc]);
        }
    }
    DaleRun {
        model,
        exc,
        saved,
        spikes,
        out,
        w_rec: w.clone(),
    }
}

impl<F: Real> ModelRun<F> for DaleRun<F> {
    fn out(&self) -> &Seq<F> {
        &self.out
    }

    fn events(&self) -> Option<&SpikeEvents> {
        None
    }

    fn drop_events(&mut self) {}

    /// The excitatory neurons' membranes (the neurons the layer's output shows).
    fn membranes(&self) -> Vec<F> {
        let n = self.spikes.width;
        self.saved
            .chunks(n)
            .flat_map(|row| row[..self.exc].iter().map(|s| s.membrane()))
            .collect()
    }

    fn is_finite(&self) -> bool {
        self.saved.iter().all(|s| s.is_finite())
    }

    /// BPTT through the population; `g_out` is `∂L/∂S` of the excitatory neurons. The
    /// recurrent path is always followed (`w_rec` must be the layer's `W_rec`).
    fn backward(
        &self,
        g_out: OutputGrad<'_, F>,
        w_rec: Option<&Matrix<F>>,
        _input: Option<&SpikeEvents>,
        _input_grad: InputGrad,
    ) -> ScanGrads<F> {
        let g_out = &*g_out.to_dense();
        assert!(
            w_rec.is_some(),
            "a Dale's-law layer's backward pass follows the recurrent path"
        );
        let w = &self.w_rec;
        let (steps, batch, n) = (self.spikes.steps, self.spikes.batch, self.spikes.width);
        let exc = self.exc;
        assert_eq!((g_out.steps, g_out.batch, g_out.width), (steps, batch, exc));
        let p = 3;
        // Per sample: `[T, N]` input gradients, `[N, 3]` parameter gradients, `[N, N]` ∂L/∂W.
        let per_sample: Vec<(Vec<F>, Vec<F>, Vec<F>)> = (0..batch)
            .into_par_iter()
            .map(|b| {
                let mut g_in = vec![F::zero(); steps * n];
                let mut grads = vec![F::zero(); n * p];
                let mut dw = vec![F::zero(); n * n];
                let mut lam = vec![ExcInhState::default(); n];
                let mut gpo = vec![F::zero(); n];
                let mut next_gpo = vec![F::zero(); n];
                let mut g_tgt = vec![F::zero(); n * 2];
                let initial = ExcInhState::default();
                for t in (0..steps).rev() {
                    let at = |tt: usize| (tt * batch + b) * n;
                    let state_t = &self.saved[at(t)..at(t) + n];
                    for j in 0..n {
                        let g_ext = if j < exc {
                            g_out.data[(t * batch + b) * exc + j]
                        } else {
                            F::zero()
                        };
                        let (prev, prev_out) = match t {
                            0 => (&initial, F::zero()),
                            _ => (&self.saved[at(t - 1) + j], self.spikes.data[at(t - 1) + j]),
                        };
                        let adj = self.model.adjoint_both(
                            j,
                            prev,
                            prev_out,
                            &state_t[j],
                            &lam[j],
                            g_ext + gpo[j],
                            &mut grads[j * p..(j + 1) * p],
                        );
                        lam[j] = adj.prev_state;
                        g_in[t * n + j] = adj.exc;
                        g_tgt[j] = adj.exc;
                        g_tgt[n + j] = adj.inh;
                        next_gpo[j] = adj.prev_out;
                    }
                    if t > 0 {
                        let s_prev = &self.spikes.data[at(t - 1)..at(t - 1) + n];
                        for i in 0..n {
                            // The row's target: the excitatory currents for E rows.
                            let g = if i < exc { &g_tgt[..n] } else { &g_tgt[n..] };
                            let row = &w.data[i * n..(i + 1) * n];
                            let dot = row
                                .iter()
                                .zip(g)
                                .fold(F::zero(), |acc, (&w, &g)| acc + w * g);
                            next_gpo[i] += dot;
                            let si = s_prev[i];
                            if si != F::zero() {
                                dw[i * n..(i + 1) * n]
                                    .iter_mut()
                                    .zip(g)
                                    .for_each(|(d, &g)| *d += si * g);
                            }
                        }
                    }
                    std::mem::swap(&mut gpo, &mut next_gpo);
                }
                (g_in, grads, dw)
            })
            .collect();
        let mut input = Seq::zeros(steps, batch, n);
        let mut params = vec![F::zero(); p * n];
        let mut dw = Matrix::zeros(n, n);
        for (b, (g_in, grads, d)) in per_sample.iter().enumerate() {
            for t in 0..steps {
                let at = (t * batch + b) * n;
                input.data[at..at + n].copy_from_slice(&g_in[t * n..(t + 1) * n]);
            }
            for j in 0..n {
                for k in 0..p {
                    params[k * n + j] += grads[j * p + k];
                }
            }
            dw.data.iter_mut().zip(d).for_each(|(a, &g)| *a += g);
        }
        ScanGrads {
            w_in: None,
            input: Some(input),
            w_rec: Some(dw),
            params,
        }
    }

    fn box_clone(&self) -> Box<dyn ModelRun<F>> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests;
