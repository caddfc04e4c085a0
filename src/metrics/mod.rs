//! Cost metrics of a model, as NeuroBench reports them (Yik et al. 2024, "The neurobench
//! framework for benchmarking neuromorphic computing algorithms and systems"), besides its
//! accuracy or loss.
//!
//! The definitions follow the reference code of the `neurobench` package
//! (`neurobench/metrics/static/*.py`, `neurobench/metrics/workload/*.py`) applied to the
//! equivalent snnTorch model stepped once per time step (a `Linear` per weight matrix, an
//! `RLeaky`/`Leaky` per spiking layer):
//!
//! - **Footprint** ([`footprint`]): bytes of every parameter and buffer at its stored precision
//!   (`numel · element_size`), zero weights included. f32 tensors count 4 bytes per value;
//!   int8 weight matrices 1 byte per weight plus their f32 scale. Per-neuron time constants are
//!   counted (snnTorch stores `beta` as a parameter or buffer); decays computed from them are
//!   not stored and not counted. Connectivity masks count as buffers.
//! - **Connection sparsity** ([`connection_sparsity`]): zero weights over all weights of all
//!   weight matrices (input, recurrent and readout). Not rounded (NeuroBench rounds to 4 places).
//! - **Activation sparsity** ([`ActivationCounts`]): zero activations over all activations of
//!   the spiking layers, over neurons, time steps and samples, `Σ zeros / Σ (N·T·samples)` over
//!   layers together. The activations are the hidden layers' spikes. The readout is a
//!   non-spiking leaky integrator whose output is a membrane potential, not an activation sent
//!   on, and is not counted.
//! - **Synaptic operations** ([`SynOpsCounter`]): per sample, dense operations, effective
//!   multiply-accumulates and effective accumulates, over every weight matrix including the
//!   recurrent weights and the readout; the exact rules are in [`synops`].
//! - **R²** ([`R2Report`]), regression only: `1 − SSE_d / (N · Var_d)` per output `d` (the
//!   population variance of the targets, as NeuroBench's `R2`), and the mean over outputs.
//!
//! Measured on the network that runs: for an int8 model, its dequantized weights, so weights
//! that round to zero count as zero connections and save operations.

mod fano;
mod footprint;
mod r2;
mod sparsity;
pub mod synops;

pub use fano::fano_factor;
pub use footprint::{footprint, Footprint};
pub use r2::{R2Collector, R2Report};
pub use sparsity::{connection_sparsity, ActivationCounts};
pub use synops::{ConnectionOps, OpCounts, SynOps, SynOpsCounter};

use crate::data::BatchTargets;
use crate::layers::Input;
use crate::losses::LossError;
use crate::network::{Network, NetworkTrace};
use crate::quant::Quantization;
use serde::{Deserialize, Serialize};

/// The cost metrics of a model on a data split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostMetrics {
    /// How the weight matrices are stored.
    pub quantization: Quantization,
    /// Bytes of parameters and buffers.
    pub footprint: Footprint,
    /// Fraction of zero weights over all weight matrices.
    pub connection_sparsity: f64,
    /// Fraction of zero spikes over hidden neurons, steps and samples.
    pub activation_sparsity: f64,
    /// The same, per hidden layer.
    pub activation_sparsity_per_layer: Vec<f64>,
    /// Synaptic operations per sample, all connections.
    pub synops: SynOps,
    /// Synaptic operations per sample of each connection.
    pub synops_per_connection: Vec<ConnectionOps>,
    /// R² of regression outputs (`None` for classification).
    pub r2: Option<R2Report>,
    /// Samples measured.
    pub samples: usize,
}

impl CostMetrics {
    /// One line for people: footprint, sparsities, synaptic operations (and R²).
    pub fn summary(&self) -> String {
        let precision = match self.quantization {
            Quantization::None => "f32",
            Quantization::Int8 => "int8",
        };
        let s = &self.synops;
        let mut line = format!(
            "footprint {} B ({precision} weights), connection sparsity {:.4}, activation \
             sparsity {:.4}, synaptic ops per sample: dense {:.4e}, effective MACs {:.4e}, \
             effective ACs {:.4e}",
            self.footprint.total_bytes,
            self.connection_sparsity,
            self.activation_sparsity,
            s.dense,
            s.effective_macs,
            s.effective_acs
        );
        if let Some(r2) = &self.r2 {
            line.push_str(&format!(", R² {:.4}", r2.mean));
        }
        line
    }
}

/// Accumulates the workload metrics of a network over evaluated batches.
#[derive(Clone, Debug)]
pub struct MetricsAccumulator {
    synops: SynOpsCounter,
    activations: ActivationCounts,
    r2: R2Collector,
    samples: usize,
}

impl MetricsAccumulator {
    /// An accumulator for `net` (the network that runs the batches).
    pub fn new(net: &Network<f32>) -> Self {
        Self {
            synops: SynOpsCounter::new(net),
            activations: ActivationCounts::new(net.hidden.len()),
            r2: R2Collector::default(),
            samples: 0,
        }
    }

    /// Adds one batch: its input, the forward pass (without dropout) and its targets.
    pub fn add(
        &mut self,
        input: Input<'_, f32>,
        trace: &NetworkTrace<f32>,
        targets: &BatchTargets,
    ) {
        self.synops.add(input, trace);
        self.activations.add(trace);
        self.r2.add(trace.output(), targets);
        self.samples += input.shape().1;
    }

    /// The metrics of everything added, with the static metrics of `net` stored as
    /// `precision`.
    pub fn finish(
        &self,
        net: &Network<f32>,
        precision: Quantization,
    ) -> Result<CostMetrics, LossError> {
        Ok(CostMetrics {
            quantization: precision,
            footprint: footprint(net, precision),
            connection_sparsity: connection_sparsity(net),
            activation_sparsity: self.activations.sparsity(),
            activation_sparsity_per_layer: self.activations.per_layer(),
            synops: self.synops.total(self.samples),
            synops_per_connection: self.synops.per_connection(self.samples),
            r2: self.r2.report()?,
            samples: self.samples,
        })
    }
}

#[cfg(test)]
mod tests;
