//! Synaptic operations: dense, effective multiply-accumulates and effective accumulates.
//!
//! Counted as NeuroBench's `SynapticOperations` counts them for an snnTorch model stepped once
//! per time step: for every connection (weight matrix `W`, `[inputs, outputs]`) and every step,
//!
//! - **dense** `= B · inputs · outputs`: every weight times every input, zero or not (for a
//!   convolution, `B · outputs · taps`: every kernel weight at every position it slides over,
//!   as NeuroBench counts a `Conv1d`);
//! - **effective** `= Σ_b Σ_{i : x_i ≠ 0} nnz(W[i, :])`: the product of the binarized input
//!   (non-zero → 1) and the binarized weights, summed over outputs; bias-free, as NeuroBench;
//! - the effective operations of that step are **accumulates (ACs)** if every input value of
//!   the whole evaluation batch at that step is 0, 1 or −1 (spikes), else **multiply-accumulates
//!   (MACs)**. NeuroBench makes this choice per layer call, i.e. per connection, step and batch;
//!   so do we, with the evaluation batches of `training.eval_batch_size` (default `batch_size`) samples.
//!
//! Totals are divided by the number of samples. The connections are each hidden layer's input
//! weights (fed by the data or the previous layer's spikes), its recurrent weights (fed by its
//! own spikes of the previous step: zero input at the first step, so that step adds dense but
//! no effective operations, as snnTorch's `RLeaky` applying its recurrent `Linear` to the
//! initial zero spikes), and the readout weights (fed by the last hidden layer's spikes).

use crate::events::SpikeEvents;
use crate::layers::Input;
use crate::network::{Network, NetworkTrace};
use crate::tensor::Seq;
use serde::{Deserialize, Serialize};

/// Synaptic operations per sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SynOps {
    /// All weight × input products, zero or not.
    pub dense: f64,
    /// Products of non-zero weights with non-zero, non-binary inputs.
    pub effective_macs: f64,
    /// Additions of non-zero weights selected by binary (spike) inputs.
    pub effective_acs: f64,
}

/// Synaptic operations of one connection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectionOps {
    /// The weight matrix (`hidden.0.w_in`, `hidden.0.w_rec`, `readout.w`, ...).
    pub connection: String,
    /// Its operations per sample.
    #[serde(flatten)]
    pub ops: SynOps,
}

/// Operation counts summed over samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// Dense operations.
    pub dense: u64,
    /// Effective multiply-accumulates.
    pub macs: u64,
    /// Effective accumulates.
    pub acs: u64,
}

impl OpCounts {
    /// Per sample, over `samples` samples.
    pub fn per_sample(&self, samples: usize) -> SynOps {
        let n = samples.max(1) as f64;
        SynOps {
            dense: self.dense as f64 / n,
            effective_macs: self.macs as f64 / n,
            effective_acs: self.acs as f64 / n,
        }
    }

    fn add(&mut self, other: OpCounts) {
        self.dense += other.dense;
        self.macs += other.macs;
        self.acs += other.acs;
    }
}

/// One weight matrix: its name, its non-zero entries per input row, and its synapses (the
/// dense operations per input vector).
#[derive(Clone, Debug)]
struct Connection {
    name: String,
    row_nnz: Vec<u64>,
    synapses: u64,
    /// Which activity feeds it (see [`Feed`]).
    feed: Feed,
}

/// The input of a connection.
#[derive(Clone, Copy, Debug)]
enum Feed {
    /// The output of hidden layer `k` at the same step, or the network input for `None`.
    Layer(Option<usize>),
    /// Hidden layer `k`'s own spikes of the previous step.
    Recurrent(usize),
}

/// Counts the synaptic operations of a network over batches.
#[derive(Clone, Debug)]
pub struct SynOpsCounter {
    connections: Vec<Connection>,
    counts: Vec<OpCounts>,
}

impl SynOpsCounter {
    /// A counter for `net`'s connections (their weights are read now).
    pub fn new(net: &Network<f32>) -> Self {
        let mut connections = Vec::new();
        let mut previous = None;
        for (k, layer) in net.hidden.iter().enumerate() {
            let taps = layer.conv.as_ref().map(|c| c.input.conv.taps());
            connections.push(connection(
                format!("hidden.{k}.w_in"),
                &layer.w_in.data,
                layer.w_in.cols,
                taps,
                Feed::Layer(previous),
            ));
            if let Some(w) = &layer.w_rec {
                let name = format!("hidden.{k}.w_rec");
                let conv = layer.conv.as_ref().and_then(|c| c.recurrent.as_ref());
                let taps = conv.map(|k| k.conv.taps());
                connections.push(connection(name, &w.data, w.cols, taps, Feed::Recurrent(k)));
            }
            previous = Some(k);
        }
        if net.readout.has_weights() {
            let w = &net.readout.w;
            connections.push(connection(
                "readout.w".into(),
                &w.data,
                w.cols,
                None,
                Feed::Layer(previous),
            ));
        }
        let counts = vec![OpCounts::default(); connections.len()];
        Self {
            connections,
            counts,
        }
    }

    /// Adds one evaluated batch: the network input and the forward pass it produced.
    pub fn add(&mut self, input: Input<'_, f32>, trace: &NetworkTrace<f32>) {
        for (c, counts) in self.connections.iter().zip(&mut self.counts) {
            let (source, delayed) = match c.feed {
                Feed::Layer(None) => (Source::from(input), false),
                Feed::Layer(Some(k)) => (Source::Dense(trace.hidden[k].output()), false),
                Feed::Recurrent(k) => (Source::Dense(trace.hidden[k].spikes()), true),
            };
            counts.add(count(source, delayed, &c.row_nnz, c.synapses));
        }
    }

    /// Per connection, the operations per sample over `samples` samples.
    pub fn per_connection(&self, samples: usize) -> Vec<ConnectionOps> {
        self.connections
            .iter()
            .zip(&self.counts)
            .map(|(c, n)| ConnectionOps {
                connection: c.name.clone(),
                ops: n.per_sample(samples),
            })
            .collect()
    }

    /// All connections together, per sample over `samples` samples.
    pub fn total(&self, samples: usize) -> SynOps {
        let mut sum = OpCounts::default();
        self.counts.iter().for_each(|c| sum.add(*c));
        sum.per_sample(samples)
    }
}

/// A connection of `w` (`[inputs, outputs]`); `synapses` are a convolution's taps, else
/// every entry.
fn connection(
    name: String,
    w: &[f32],
    outputs: usize,
    synapses: Option<usize>,
    feed: Feed,
) -> Connection {
    let row_nnz = w
        .chunks(outputs.max(1))
        .map(|row| row.iter().filter(|&&v| v != 0.0).count() as u64)
        .collect();
    Connection {
        name,
        row_nnz,
        synapses: synapses.unwrap_or(w.len()) as u64,
        feed,
    }
}

/// A connection's input sequence.
#[derive(Clone, Copy)]
enum Source<'a> {
    Events(&'a SpikeEvents),
    Dense(&'a Seq<f32>),
}

impl<'a> From<Input<'a, f32>> for Source<'a> {
    fn from(input: Input<'a, f32>) -> Self {
        match input {
            Input::Events(e) => Source::Events(e),
            Input::Dense { x, .. } => Source::Dense(x),
        }
    }
}

impl Source<'_> {
    fn shape(&self) -> (usize, usize, usize) {
        match self {
            Source::Events(e) => (e.steps, e.batch, e.width),
            Source::Dense(x) => (x.steps, x.batch, x.width),
        }
    }

    /// Effective operations of step `t` (all samples), and whether every input was 0 or ±1.
    fn step_ops(&self, t: usize, row_nnz: &[u64]) -> (u64, bool) {
        let (mut ops, mut binary) = (0, true);
        match *self {
            Source::Events(e) => {
                for b in 0..e.batch {
                    ops += e
                        .row(t * e.batch + b)
                        .iter()
                        .map(|&i| row_nnz[i as usize])
                        .sum::<u64>();
                }
            }
            Source::Dense(x) => {
                for b in 0..x.batch {
                    for (i, &v) in x.row(t, b).iter().enumerate() {
                        if v != 0.0 {
                            ops += row_nnz[i];
                            binary &= v == 1.0 || v == -1.0;
                        }
                    }
                }
            }
        }
        (ops, binary)
    }
}

/// The operations of one connection over one batch; with `delayed`, step `t` reads the input
/// of step `t − 1` (zero at the first step).
fn count(source: Source<'_>, delayed: bool, row_nnz: &[u64], synapses: u64) -> OpCounts {
    let (steps, batch, _) = source.shape();
    let mut counts = OpCounts {
        dense: (steps * batch) as u64 * synapses,
        ..OpCounts::default()
    };
    for t in 0..steps {
        let read = if delayed { t.checked_sub(1) } else { Some(t) };
        let Some(s) = read else { continue };
        let (ops, binary) = source.step_ops(s, row_nnz);
        if binary {
            counts.acs += ops;
        } else {
            counts.macs += ops;
        }
    }
    counts
}
