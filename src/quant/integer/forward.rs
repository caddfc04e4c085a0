//! The integer forward pass over a batch of input spikes: event-driven int8 accumulation,
//! requantisation and the neuron steps, samples in parallel. Nothing in it is floating point.

use super::fixed::STATE_ONE;
use super::layer::{IntegerLayer, IntegerReadout, IntegerWeights};
use super::neuron::{after_leak, reset, step};
use super::{IntegerError, IntegerNetwork};
use crate::events::SpikeEvents;
use crate::tensor::Seq;
use rayon::prelude::*;

/// What the integer network computed for a batch; arrays are time-major like the engine's
/// sequences.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntegerTrace {
    /// Time steps.
    pub steps: usize,
    /// Samples.
    pub batch: usize,
    /// Per hidden layer: its size and its spikes `[steps, batch, size]` (0 or 1).
    pub hidden: Vec<(usize, Vec<u8>)>,
    /// Output units.
    pub outputs: usize,
    /// The output `[steps, batch, outputs]` in `Q15.16`: the readout membranes, or (readout
    /// kind `"spikes"`) the last hidden layer's spikes as `0` or `2¹⁶`.
    pub output: Vec<i32>,
}

impl IntegerTrace {
    /// The output as real values `v / 2¹⁶` (for reporting, e.g. a loss; outside the time loop).
    pub fn output_real(&self) -> Seq<f32> {
        let scale = 1.0 / f64::from(STATE_ONE);
        let data = self
            .output
            .iter()
            .map(|&v| (f64::from(v) * scale) as f32)
            .collect();
        Seq::from_vec(self.steps, self.batch, self.outputs, data)
            .unwrap_or_else(|| Seq::zeros(self.steps, self.batch, self.outputs))
    }
}

/// One sample's run: spikes `[steps, size]` per hidden layer and the output `[steps, outputs]`.
struct SampleRun {
    hidden: Vec<Vec<u8>>,
    output: Vec<i32>,
}

impl IntegerNetwork {
    /// Runs the network on input spikes `[steps, batch, inputs]`.
    pub fn forward(&self, input: &SpikeEvents) -> Result<IntegerTrace, IntegerError> {
        self.check_input(input)?;
        let (steps, batch) = (input.steps, input.batch);
        let runs: Vec<SampleRun> = (0..batch)
            .into_par_iter()
            .map(|b| self.run_sample(input, b))
            .collect();
        let sizes: Vec<usize> = self.hidden.iter().map(IntegerLayer::size).collect();
        let outputs = self.outputs();
        let mut trace = IntegerTrace {
            steps,
            batch,
            hidden: sizes
                .iter()
                .map(|&n| (n, vec![0; steps * batch * n]))
                .collect(),
            outputs,
            output: vec![0; steps * batch * outputs],
        };
        for (b, run) in runs.iter().enumerate() {
            for ((n, all), one) in trace.hidden.iter_mut().zip(&run.hidden) {
                interleave(all, one, *n, steps, batch, b);
            }
            interleave(&mut trace.output, &run.output, outputs, steps, batch, b);
        }
        Ok(trace)
    }

    /// The input is as wide as the network's input and no row holds more ids than channels
    /// (so no accumulator can overflow).
    fn check_input(&self, input: &SpikeEvents) -> Result<(), IntegerError> {
        if input.width != self.inputs {
            return Err(IntegerError::InputWidth {
                expected: self.inputs,
                got: input.width,
            });
        }
        for r in 0..input.rows() {
            let row = input.row(r);
            if row.len() > input.width {
                return Err(IntegerError::BadInput(format!(
                    "row {r} holds {} spikes for {} channels",
                    row.len(),
                    input.width
                )));
            }
            if let Some(&id) = row.iter().find(|&&id| id as usize >= input.width) {
                return Err(IntegerError::BadInput(format!(
                    "row {r}: channel {id} is not below {}",
                    input.width
                )));
            }
        }
        Ok(())
    }

    fn run_sample(&self, input: &SpikeEvents, b: usize) -> SampleRun {
        let mut active: Vec<Vec<u32>> = (0..input.steps)
            .map(|t| input.row(t * input.batch + b).to_vec())
            .collect();
        let mut hidden = Vec::with_capacity(self.hidden.len());
        for layer in &self.hidden {
            let spikes = run_layer(layer, &active);
            active = spike_ids(&spikes, layer.size());
            hidden.push(spikes);
        }
        let output = match &self.readout {
            Some(readout) => run_readout(readout, &active),
            None => hidden
                .last()
                .map(|s| s.iter().map(|&v| i32::from(v) * STATE_ONE).collect())
                .unwrap_or_default(),
        };
        SampleRun { hidden, output }
    }
}

/// `acc = Σ_{i ∈ ids} q[i, ·]` (int8 rows summed in `i32`).
#[inline]
fn accumulate(w: &IntegerWeights, ids: &[u32], acc: &mut [i32]) {
    acc.fill(0);
    for &i in ids {
        for (a, &q) in acc.iter_mut().zip(w.row(i as usize)) {
            *a += i32::from(q);
        }
    }
}

/// One hidden layer over a whole sample: spikes `[steps, size]`.
fn run_layer(layer: &IntegerLayer, active: &[Vec<u32>]) -> Vec<u8> {
    let n = layer.size();
    let (alpha, beta) = (&layer.decays.alpha, &layer.decays.beta);
    let (mut syn, mut mem, mut fired) = (vec![0i32; n], vec![0i32; n], vec![false; n]);
    let (mut acc_in, mut acc_rec) = (vec![0i32; n], vec![0i32; n]);
    let mut prev_ids: Vec<u32> = Vec::new();
    let mut spikes = vec![0u8; active.len() * n];
    for (ids, row) in active.iter().zip(spikes.chunks_exact_mut(n.max(1))) {
        accumulate(&layer.w_in, ids, &mut acc_in);
        if let Some(w_rec) = &layer.w_rec {
            accumulate(w_rec, &prev_ids, &mut acc_rec);
        }
        prev_ids.clear();
        for j in 0..n {
            let mut x = layer.w_in.requant.apply(acc_in[j]);
            if let Some(w_rec) = &layer.w_rec {
                x += w_rec.requant.apply(acc_rec[j]);
            }
            let kept = reset(layer.reset, mem[j], fired[j]);
            let (s, m) = step(alpha[j], beta[j], syn[j], kept, x);
            (syn[j], mem[j]) = (s, after_leak(layer.reset, m, fired[j]));
            fired[j] = mem[j] > STATE_ONE;
            if fired[j] {
                row[j] = 1;
                prev_ids.push(j as u32);
            }
        }
    }
    spikes
}

/// The leaky readout over a whole sample: membranes `[steps, size]`.
fn run_readout(readout: &IntegerReadout, active: &[Vec<u32>]) -> Vec<i32> {
    let n = readout.size();
    let (alpha, beta) = (&readout.decays.alpha, &readout.decays.beta);
    let (mut syn, mut mem, mut acc) = (vec![0i32; n], vec![0i32; n], vec![0i32; n]);
    let mut out = vec![0i32; active.len() * n];
    for (ids, row) in active.iter().zip(out.chunks_exact_mut(n.max(1))) {
        accumulate(&readout.w, ids, &mut acc);
        for j in 0..n {
            let x = readout.w.requant.apply(acc[j]);
            (syn[j], mem[j]) = step(alpha[j], beta[j], syn[j], mem[j], x);
            row[j] = mem[j];
        }
    }
    out
}

/// The ids of the spikes of every step of `[steps, n]` spikes.
fn spike_ids(spikes: &[u8], n: usize) -> Vec<Vec<u32>> {
    spikes
        .chunks_exact(n.max(1))
        .map(|row| {
            row.iter()
                .enumerate()
                .filter(|(_, &s)| s != 0)
                .map(|(j, _)| j as u32)
                .collect()
        })
        .collect()
}

/// Copies sample `b`'s `[steps, n]` values into `[steps, batch, n]`.
fn interleave<T: Copy>(all: &mut [T], one: &[T], n: usize, steps: usize, batch: usize, b: usize) {
    for t in 0..steps {
        let dst = (t * batch + b) * n;
        all[dst..dst + n].copy_from_slice(&one[t * n..(t + 1) * n]);
    }
}
