//! NIR (Neuromorphic Intermediate Representation; Pedersen et al. 2024) files: reading,
//! writing, exporting a [`Network`](crate::network::Network) and importing one.
//!
//! A `.nir` file is HDF5 as the Python `nir` package writes it (`nir/serialization.py`):
//!
//! ```text
//! /version                     scalar string
//! /node/type                   scalar string "NIRGraph"
//! /node/edges                  (E, 2) strings: [source, target] node names
//! /node/metadata/<key>         optional scalar strings or numbers
//! /node/nodes/<name>/type      scalar string: Input, Output, Affine, Linear, LIF, CubaLIF, ...
//! /node/nodes/<name>/<param>   arrays (float32 or float64); Input/Output: `shape` (int64);
//!                              Flatten and Conv1d: integer scalars (int64); Conv2d and
//!                              pooling: int64 pairs, Conv2d's padding a pair or a string
//! /node/nodes/<name>/metadata  optional group of scalars
//! ```
//!
//! Weights are `[out, in]` (`y = W x`); this crate's are `[in, out]` (`y = x W`), so they are
//! transposed both ways. A nested `NIRGraph` node (how older snnTorch versions write a
//! recurrent layer) is inlined on import.
//!
//! # What imports
//!
//! A graph imports when it is a chain of neuron populations from one `Input` to one
//! `Output`, each population fed by the one before it and, optionally, by itself (the
//! recurrent weights, applied to the previous step's spikes):
//!
//! - **Neurons**: `LIF`, `CubaLIF` (spiking layers; the last may be the output), `LI`,
//!   `CubaLI` (the last population only: the leaky readout), and `Threshold` (`H(x − θ)`, no
//!   state: a layer with `α = β = 0`, so its membrane is the step's input), `IF` (an
//!   integrate-and-fire layer, [`crate::neurons::IntegrateFire`]: no leak and no synapse,
//!   its input added unscaled; the gain per unit input, `R` for a Dirac impulse or `dt·R`
//!   for forward Euler, is folded into the weights, the threshold measured from `v_reset`
//!   as below).
//! - **Between populations**, paths of stateless nodes, composed into one affine map in
//!   `f64`: `Affine` and `Linear` (weights; a bias enters every step, see below), `Scale`
//!   (folded into the weights: `diag(s)·W`, and its bias scaled), `Flatten` (the identity
//!   on our flat vectors), `Conv1d` (integer padding) and `Conv2d` (padding `"same"`,
//!   `"valid"` or integers; stride, dilation and groups per axis), their `input_shape` taken
//!   from the shape of what feeds them when the file leaves it out: their dense matrices, each kernel weight at every position it slides
//!   over, and their biases per position — so an imported convolution is a dense projection
//!   computing the same currents; its weights are no longer tied if the network is trained
//!   further. `SumPool2d` and `AvgPool2d` (zero padding; the average divides by the window's
//!   size, padding included, as PyTorch's default) are the matrices of their windows, over
//!   the shape of what feeds them: a map `[channels, height, width]` of the `Input`, of a
//!   convolution's output, or of a neuron node whose parameters have that shape (maps are
//!   flat row-major, channel first). A dense matrix of more than 2^25 entries is refused.
//!   Several paths from one population into the next, or several recurrent paths, are
//!   summed (one weight matrix, one bias).
//!
//! Export writes a convolutional layer ([`crate::layers::conv`]) as a `Conv1d` node (kernel
//! `[filters, in_channels / groups, kernel]`, its bias or zeros), its recurrent convolution as
//! a `Conv1d` on the `lif → rec → lif` cycle, and a `Flatten` where a map feeds a dense
//! projection.
//!
//! Export writes an integrate-and-fire layer as an `IF` node (`r` the layer's, `v_reset = 0`),
//! which imports back bit for bit.
//!
//! Export writes a Dale's-law layer ([`crate::layers::dale`]: `N = E + I` neurons, each with
//! an excitatory current `E` and an inhibitory current `H`) as a subgraph (see "Dale's-law
//! layers" below). Its import is refused (a neuron node fed by another neuron node, or fed
//! by two: not a chain), with an error naming the node.
//!
//! An `I` node (a non-spiking integrator, `dv/dt = R·I`) as the last population imports as
//! an integrator readout ([`crate::layers::ReadoutKind::Integrator`], `U[t] = U[t−1] + x[t]`),
//! its gain (`R`, or `dt·R` under forward Euler) folded into the weights; such a readout
//! exports as an `I` node with `r = 1`.
//!
//! A `Delay` node on the path into a hidden population becomes that layer's
//! `input_delay_steps` ([`crate::layers::delay`]): right after the previous population (or the
//! input) one delay per unit; after a weight only a delay equal for every output, without a
//! bias. Delays must be whole steps of `dt` (within 1e-6). Such layers export a `Delay` node
//! before their projection and import back bit for bit.
//!
//! Refused, with an error naming the node: a `Delay` on a recurrent path, before the readout,
//! or differing between parallel paths, an `I` node before the last population, a node fed by
//! anything but the previous population and its own recurrent weights (skip connections),
//! a population feeding two different populations, a stateless node with several inputs or
//! outputs, a weight right before the `Output`, non-spiking neurons before the last layer,
//! a recurrent readout, and the leak and reset cases below.
//!
//! # The continuous-time models and our discrete one
//!
//! NIR's `CubaLIF` is `τ_syn dI/dt = −I + w_in·S`, `τ_mem dv/dt = (v_leak − v) + R·I`, a spike
//! when `v > v_threshold`, then `v ← v_reset`; `LIF`/`LI` have no synapse (the input drives
//! `v` directly) and `LI`/`CubaLI` no threshold. A file carries no time step, and exporters
//! discretise differently; [`Discretisation`] names the two schemes this module maps:
//!
//! **Exponential** (this crate's model, [`crate::neurons::lif`]; written on export):
//! `α = exp(−dt/τ_syn)`, `β = exp(−dt/τ_mem)`; input spikes are unit-area Dirac impulses at
//! the start of a step, so a spike through weight `w` makes `I` jump by `w·w_in/τ_syn`; the
//! membrane integrates the updated current held constant over the step:
//!
//! ```text
//! I[t] = α I[t−1] + (w_in/τ_syn) x[t]
//! v[t] = β v[t−1] (1 − S[t−1]) + (1 − β) R I[t]        (v_leak = v_reset = 0)
//! ```
//!
//! Export maps a layer with decays `α`, `β` and threshold `θ` to `tau_syn = −dt/ln α`
//! (= the stored `tau_syn_s`), `tau_mem = −dt/ln β` (= `tau_mem_s`), `w_in = tau_syn`,
//! `r = 1`, `v_leak = 0`, `v_reset = 0`, `v_threshold = θ`, so the equations above are ours
//! exactly. Without a synapse (`LIF`, `LI`) the impulse goes into the membrane: `v` jumps by
//! `R·x/τ_mem`.
//!
//! **Forward Euler** (snnTorch, Norse): `α = 1 − dt/τ_syn`, `β = 1 − dt/τ_mem`, input per step
//! as a value (a spike is 1):
//!
//! ```text
//! I[t] = α I[t−1] + (dt/τ_syn) w_in x[t]
//! v[t] = β v[t−1] (1 − S[t−1]) + (dt/τ_mem) R I[t]
//! ```
//!
//! snnTorch's exporter (`snntorch/export_nir.py`) assumes `dt = 1e-4` s and writes
//! `tau = dt/(1 − β)`, `r = tau/dt` and `w_in = tau_syn/dt`, so both gains are 1 and its
//! `Synaptic` update `syn = α syn + x`, `mem = β mem + syn` comes back; its importer
//! (`import_nir.py`) builds `Synaptic(reset_mechanism="zero", reset_delay=False)`, whose
//! reset is the one above. Import such files with `dt = 1e-4` and forward Euler.
//!
//! Norse's exporter (`norse.torch.utils.export_nir.to_nir`) writes its cells as `CubaLIF`
//! (`LIFCell`), `LIF` (`LIFBoxCell`) and `LI` (`LIBoxCell`) with `r = 1`, no `w_in` (NIR's 1)
//! and every `torch.nn.Linear` as an `Affine` (a zero bias without one), but its time
//! constants as `dt·τ` (`dt / tau_inv`; norse/norse#411): [`norse_time_constants`] divides
//! them by the export `dt` before import. Under the forward-Euler semantics above the file
//! is then exactly Norse's model but for the synaptic input: Norse's `LIFCell` adds its input
//! to the current unscaled (`i ← i + x`, then decays it after the membrane update), where a
//! `CubaLIF` with `w_in = 1` adds `(dt/τ_syn)·x` — the imported network follows NIR, so its
//! synaptic currents are `dt/τ_syn` times Norse's (`LIFBoxCell` and `LIBoxCell` match).
//! Import such files with `dt = 1e-3` and forward Euler.
//!
//! **Import** turns either form into our model per neuron `j`: the decays as above (for
//! forward Euler, the `f32` time constant whose decay `exp(−dt/τ)` equals `1 − dt/τ_file`
//! exactly), and the input gains folded into the weights into `j`:
//! `k_j = g_syn·g_mem/(1 − β_j)` with `g_syn = w_in/τ_syn` (exponential) or `dt·w_in/τ_syn`
//! (Euler) and `g_mem = (1 − β)R` or `dt·R/τ_mem`; gains within `1e-6` of 1 are taken as 1
//! (`r = τ/dt` stored in `float32` cannot be exactly that). Different thresholds per neuron
//! are folded into the weights too (threshold 1). An `Affine` node's bias becomes the
//! projection's bias (`bias = true`), scaled by the neuron's gain as its weights are (a
//! recurrent `Affine`'s bias is added to the feed-forward one).
//!
//! **Leak and reset potentials.** The membrane is simulated as `u = v − v_reset` (0 without
//! `v_reset`): the reset takes `u` to 0, the threshold becomes `v_threshold − v_reset`
//! (which must be positive), and the leak's pull `(1 − β)(v_leak − v_reset)` per step — in
//! both discretisations, `1 − β = dt/τ_mem` for forward Euler — is a constant input
//! `v_leak − v_reset` added to the bias after the gain. A neuron's simulation starts at
//! `u = 0`, i.e. `v = v_reset` (a note says so when `v_reset ≠ 0`). With a synaptic current
//! (`CubaLIF`, `CubaLI`) the bias enters through the synapse and would reach the membrane
//! only after `τ_syn`, so there `v_leak` must equal `v_reset` (else an error naming the node).
//!
//! The reset rule of both: a neuron that crossed the threshold in step `t−1` starts step
//! `t` from `v_reset = 0` and still integrates that step's input (snnTorch's `RSynaptic` with
//! `reset_mechanism="zero"` instead also drops the step's input and synaptic current, which
//! NIR cannot express).
//!
//! **Reset by subtraction.** NIR's nodes always reset to `v_reset`, so a file cannot say
//! that a network was trained resetting by subtraction (snnTorch's default). With
//! [`ImportOptions::reset`] `= Subtract` every spiking layer subtracts its threshold
//! (measured from `v_reset`) instead: `u[t] = β (u[t−1] − θ S[t−1]) + …`
//! ([`crate::neurons::ResetMode`]). Export writes each neuron node's mode as the metadata
//! `reset_mode` (`"zero"` or `"subtract"`), which import reads when no reset is given.
//!
//! **Currents between neuron nodes.** The rules above take a node's input as spikes
//! (impulses). An input that comes from a non-spiking neuron node (`LI`), directly or through
//! stateless nodes, is a current, and a node receiving it holds it constant over the step, as
//! a `CubaLIF`'s membrane holds its synaptic current (exponential convention; only our
//! exports use it, and they say so in the node's metadata, `current_input`):
//!
//! ```text
//! v[t] = β v[t−1] (1 − S[t−1]) + (1 − β) R x[t]
//! ```
//!
//! so that `LI(tau = τ_syn, r = w_in) → LIF(tau = τ_mem, r = R)` is exactly
//! `CubaLIF(τ_syn, τ_mem, w_in, R)` under both readings: in continuous time the same
//! equations, and per step the `LI`'s Dirac input makes it jump by `w_in·x/τ_syn`, as the
//! `CubaLIF`'s `I` does. (Taken as impulses instead, the `LI`'s output would move the
//! membrane by `R·x/τ_mem` per step whatever the step's length; matching our model that way
//! needs `R = τ_mem (1 − β) ≈ dt`, which a continuous-time simulator would read as a membrane
//! a thousand times too weak.)
//!
//! **Dale's-law layers.** Layer `k` with `E` excitatory and `I` inhibitory neurons
//! (`N = E + I`, E first), `E[t] = α_e E[t−1] + e[t]`, `H[t] = α_i H[t−1] + h[t]`,
//! `U[t] = β U[t−1] (1 − S[t−1]) + (1 − β)(E[t] − H[t])`, `e[t] = x[t] W_in (+ b) +
//! S_E[t−1] W_rec[E rows]`, `h[t] = S_I[t−1] W_rec[I rows]`, output the E spikes:
//!
//! ```text
//! prev → fc{k} → exc{k} ──────────────────→ lif{k} → sel{k} → next layer / output
//!        lif{k} → rec_exc{k} → exc{k}
//!        lif{k} → rec_inh{k} → inh{k} → neg{k} → lif{k}
//! ```
//!
//! `fc{k}`: `W_in` (`Affine` with the bias); `exc{k}`, `inh{k}`: `LI` of `N` neurons with
//! `tau = r = τ_exc` (`τ_inh`), `v_leak = 0`, so a unit impulse adds 1 to the current;
//! `rec_exc{k}`, `rec_inh{k}`: `Linear [N, N]`, `W_rec` with only the rows of E (I)
//! presynaptic neurons (the others zero); `neg{k}`: `Scale` of −1; `lif{k}`: `LIF` with
//! `tau = τ_mem`, `r = 1`, `v_leak = v_reset = 0`, `v_threshold = θ`, its two inputs summed
//! into the current `E − H`; `sel{k}`: `Linear [E, N]`, the identity on the E neurons. Edges
//! into one node sum; in a step the nodes run in the order of the feed-forward path, and the
//! edges out of `lif{k}` into the cycles deliver its previous step's spikes (as `rec{k}` of
//! a recurrent layer). With `α_e = exp(−dt/τ_exc)`, `α_i`, `β` as above, the rules of this
//! section give the layer's equations exactly.
//!
//! Exported files carry `dt` (seconds), `discretisation`, `reset` and `spike_input` in the
//! graph's and every neuron node's metadata (and `reset_mode` in the spiking nodes'); import uses them and checks them against the
//! time step it is given.

mod affine;
mod chain;
mod convention;
mod export;
mod graph;
mod import;
mod maps2d;
mod read;
mod write;

pub use convention::{
    norse_time_constants, tau_for_decay, Discretisation, META_DISCRETISATION, META_DT,
};
pub use export::{export_network, mark_int8, mark_integer};
pub use graph::{
    Array, Conv1d, Conv2d, IfNeurons, Leaky, MetaValue, Metadata, NirGraph, Node, NodeKind,
    Padding2d, Pool2d, PoolKind,
};
pub use import::{import_graph, ImportOptions, Imported};
pub use read::read_nir;
pub use write::write_nir;

use crate::io::hdf5::Hdf5Error;
use std::path::PathBuf;

/// Why a NIR file could not be read, written, exported or imported.
#[derive(Debug, thiserror::Error)]
pub enum NirError {
    /// The HDF5 layer failed.
    #[error("{path}: {source}")]
    Hdf5 {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: Hdf5Error,
    },
    /// The file is HDF5 but not a NIR graph.
    #[error("{path}: not a NIR file: {reason}")]
    NotNir {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// A node is malformed (missing parameter, wrong shape, NaN, unknown type).
    #[error("node {node}: {reason}")]
    Node {
        /// The node's name.
        node: String,
        /// What is wrong.
        reason: String,
    },
    /// A node type or parameter value this crate cannot map.
    #[error("node {node}: {reason}")]
    Unsupported {
        /// The node's name.
        node: String,
        /// What is not supported.
        reason: String,
    },
    /// The edges do not form a graph this crate can map.
    #[error("graph: {0}")]
    Graph(String),
    /// The network cannot be expressed in NIR.
    #[error("export: {0}")]
    Export(String),
    /// An error in the graph of a file.
    #[error("{path}: {source}")]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong in it.
        source: Box<NirError>,
    },
    /// The time step or discretisation disagree with the file.
    #[error("{0}")]
    Convention(String),
}

impl NirError {
    fn node(node: &str, reason: impl Into<String>) -> Self {
        NirError::Node {
            node: node.to_string(),
            reason: reason.into(),
        }
    }

    fn unsupported(node: &str, reason: impl Into<String>) -> Self {
        NirError::Unsupported {
            node: node.to_string(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests;
