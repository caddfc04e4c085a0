//! A NIR graph as a runnable [`Network`]: a chain
//! `Input → maps → neurons (⇄ maps) → … → neurons → Output` (maps: paths of stateless
//! nodes, see [`super::chain`]).

use super::chain::{chain, Neurons, Stage};
use super::convention::{
    delay_steps, discretise, integrate_fire, integrator, reset_mode_of, stateless, DiscreteNeuron,
    Discretisation, META_DISCRETISATION, META_DT,
};
use super::graph::{Array, MetaValue, NirGraph};
use super::NirError;
use crate::layers::{NeuronKind, ReadoutKind, ReadoutSpec, SpikingLayerSpec};
use crate::network::{Network, NetworkSpec};
use crate::neurons::ResetMode;
use crate::surrogates::SpikeFn;
use rand::SeedableRng;

/// How to interpret a file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImportOptions {
    /// The time step to simulate at, in seconds.
    pub dt_s: f64,
    /// The discretisation; `None`: the file's metadata, else exponential.
    pub discretisation: Option<Discretisation>,
    /// The file comes from Norse's exporter, run with this `dt` in seconds: its time
    /// constants are `dt·τ` and are rescaled to seconds first
    /// ([`super::norse_time_constants`]).
    pub norse_export_dt_s: Option<f64>,
    /// What a spike does to the spiking layers' membranes; `None`: each node's
    /// `reset_mode` metadata (our exports), else NIR's reset to `v_reset`. NIR cannot say
    /// "subtract": files from tools trained that way (snnTorch's default) need it given.
    pub reset: Option<ResetMode>,
}

/// An imported network and how it was read.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The network (weights and time constants set).
    pub network: Network<f32>,
    /// The discretisation used.
    pub discretisation: Discretisation,
    /// Whether the discretisation came from the file's metadata.
    pub discretisation_from_file: bool,
    /// Notes on choices made (identity readout, folded gains, inexact decays).
    pub notes: Vec<String>,
}

/// Relative difference tolerated between the file's `dt` and the given one.
const DT_TOLERANCE: f64 = 1e-9;

/// Builds the network of `graph` (nested graphs inlined) at `opts.dt_s`; what imports and
/// how is the module documentation's "What imports" ([`crate::nir`]).
///
/// Errors name the node: node types other than Input, Output, Affine, Linear, Scale,
/// Flatten, Conv1d, Conv2d, SumPool2d, AvgPool2d, Threshold, IF, LIF, CubaLIF, LI and CubaLI;
/// a convolution or pooling whose window does not fit, pooling of a flat input, a dense
/// map too large; anything but a chain of populations
/// (branches may only merge into the next population); several inputs or outputs;
/// `v_leak ≠ v_reset` on a neuron with a synaptic current; a threshold not above `v_reset`;
/// sizes that do not match; non-spiking neurons before the last layer; and a `dt` or
/// discretisation in the file's metadata that differs from `opts`.
pub fn import_graph(graph: &NirGraph, opts: &ImportOptions) -> Result<Imported, NirError> {
    let mut g = graph.flattened()?;
    if let Some(dt) = opts.norse_export_dt_s {
        if !(dt.is_finite() && dt > 0.0) {
            return Err(NirError::Convention(format!(
                "Norse's export dt must be a positive number of seconds, got {dt}"
            )));
        }
        super::norse_time_constants(&mut g, dt);
    }
    let (disc, from_file) = resolve_convention(&g, opts)?;
    let (inputs, mut stages) = chain(&g)?;
    let mut notes = Vec::new();
    let last = stages
        .last()
        .ok_or_else(|| NirError::Graph("no neuron node between the input and the output".into()))?;
    let identity_readout = last.neurons.spikes();
    if identity_readout {
        notes.push(format!(
            "the last layer ({}) spikes: its spikes are the network's output (readout kind \
             \"spikes\")",
            last.name
        ));
    }
    let readout_stage = (!identity_readout).then(|| stages.pop().expect("checked non-empty"));
    for s in &stages {
        if !s.neurons.spikes() {
            return Err(NirError::unsupported(
                &s.name,
                format!("{} neurons only as the last layer", s.neurons.type_name()),
            ));
        }
    }
    if let Some(r) = readout_stage.as_ref().filter(|r| r.w_rec.is_some()) {
        return Err(NirError::unsupported(&r.name, "a recurrent readout"));
    }
    if let Some(r) = readout_stage.as_ref().filter(|r| r.delays.is_some()) {
        return Err(NirError::unsupported(
            &r.name,
            "a Delay before the readout (delays are on hidden layers' inputs)",
        ));
    }
    let dt_ms = opts.dt_s * 1e3;
    let dt32 = (dt_ms * 1e-3) as f32;
    let mut spec = NetworkSpec {
        inputs,
        dt_ms,
        spike: SpikeFn::default(),
        hidden: Vec::new(),
        readout: ReadoutSpec::default(),
        input_shape: None,
        encoder: None,
    };
    let mut mapped = Vec::new();
    for s in &stages {
        let neurons = neurons(s, opts.dt_s, dt32, disc)?;
        let threshold = uniform_threshold(&neurons);
        let neuron = match s.neurons {
            Neurons::IntegrateFire(_) => NeuronKind::IntegrateFire,
            Neurons::Leaky(_) | Neurons::Threshold(_) => NeuronKind::Lif,
            Neurons::Integrator(_) => unreachable!("non-spiking stages are refused above"),
        };
        let input_delay_steps = match &s.delays {
            Some(d) => d
                .iter()
                .map(|&d| delay_steps(&s.name, d, opts.dt_s))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let reset = match s.neurons {
            // A Threshold node has no membrane: nothing carries a reset to the next step.
            Neurons::Threshold(_) => ResetMode::Zero,
            _ => reset_mode(&g, &s.name, opts.reset)?,
        };
        spec.hidden.push(SpikingLayerSpec {
            reset,
            input_delay_steps,
            size: s.neurons.size(),
            neuron,
            recurrent: s.w_rec.is_some(),
            tau_mem_ms: f64::from(neurons[0].tau_mem_s) * 1e3,
            tau_syn_ms: f64::from(neurons[0].tau_syn_s) * 1e3,
            threshold: threshold.unwrap_or(1.0),
            bias: biases(s, &neurons).is_some(),
            ..SpikingLayerSpec::default()
        });
        if let Some(v) = s
            .neurons
            .v_reset()
            .filter(|v| v.data.iter().any(|&v| v != 0.0))
        {
            notes.push(format!(
                "{}: membrane simulated from v_reset (min {}, max {}): it starts there, not at 0",
                s.name,
                v.data.iter().copied().fold(f64::INFINITY, f64::min),
                v.data.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ));
        }
        if threshold.is_none() {
            notes.push(format!(
                "{}: per-neuron thresholds folded into its weights",
                s.name
            ));
        }
        mapped.push(neurons);
    }
    let readout_neurons = match &readout_stage {
        Some(r) => Some(neurons(r, opts.dt_s, dt32, disc)?),
        None => None,
    };
    spec.readout = match (&readout_neurons, &readout_stage) {
        (Some(n), Some(stage)) => {
            let base = ReadoutSpec {
                size: n.len(),
                bias: biases(stage, n).is_some(),
                ..ReadoutSpec::default()
            };
            match stage.neurons {
                Neurons::Integrator(_) => ReadoutSpec {
                    kind: ReadoutKind::Integrator,
                    ..base
                },
                _ => ReadoutSpec {
                    tau_mem_ms: f64::from(n[0].tau_mem_s) * 1e3,
                    tau_syn_ms: f64::from(n[0].tau_syn_s) * 1e3,
                    ..base
                },
            }
        }
        _ => ReadoutSpec {
            kind: ReadoutKind::Spikes,
            size: stages.last().expect("checked").neurons.size(),
            ..ReadoutSpec::default()
        },
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut network = Network::<f32>::new(&spec, &mut rng)
        .map_err(|e| NirError::Graph(format!("the imported network is invalid: {e}")))?;
    for (k, (s, n)) in stages.iter().zip(&mapped).enumerate() {
        let layer = &mut network.hidden[k];
        let fold = |j: usize| n[j].gain / layer_threshold_fold(n, j);
        layer.w_in.data = ours(s.w_in.as_ref(), layer.w_in.rows, n.len(), fold);
        if let (Some(w), Some(dst)) = (&s.w_rec, &mut layer.w_rec) {
            dst.data = ours(Some(w), n.len(), n.len(), fold);
        }
        layer.b_in = biases(s, n).map(|b| scaled(&b, |j| 1.0 / layer_threshold_fold(n, j)));
        if layer.spec.neuron == NeuronKind::IntegrateFire {
            continue; // no time constants; its resistance r stays 1 (the gain is in the weights)
        }
        for (name, value) in [
            ("tau_mem_s", n.iter().map(|d| d.tau_mem_s).collect()),
            ("tau_syn_s", n.iter().map(|d| d.tau_syn_s).collect()),
        ] {
            *layer.neuron_param_mut(name).expect("a LIF layer") = value;
        }
    }
    if let (Some(n), Some(stage)) = (&readout_neurons, &readout_stage) {
        let r = &mut network.readout;
        let gain = |j: usize| n[j].gain;
        r.w.data = ours(stage.w_in.as_ref(), r.w.rows, n.len(), gain);
        r.b = biases(stage, n).map(|b| scaled(&b, |_| 1.0));
        if r.spec.kind == ReadoutKind::Leaky {
            r.tau_mem_s = n.iter().map(|d| d.tau_mem_s).collect();
            r.tau_syn_s = n.iter().map(|d| d.tau_syn_s).collect();
        }
    }
    Ok(Imported {
        network,
        discretisation: disc,
        discretisation_from_file: from_file,
        notes,
    })
}

/// The reset of population `name`: the one asked for, else the node's metadata, else NIR's
/// reset to `v_reset`; asked and written must agree.
fn reset_mode(g: &NirGraph, name: &str, asked: Option<ResetMode>) -> Result<ResetMode, NirError> {
    match (asked, reset_mode_of(g, name)?) {
        (Some(a), Some(b)) if a != b => Err(NirError::unsupported(
            name,
            format!(
                "the file says reset_mode {}, but {} was asked for",
                b.name(),
                a.name()
            ),
        )),
        (a, b) => Ok(a.or(b).unwrap_or_default()),
    }
}

/// The discretisation to use, and whether the file named it; checks the file's `dt`.
fn resolve_convention(
    g: &NirGraph,
    opts: &ImportOptions,
) -> Result<(Discretisation, bool), NirError> {
    if !(opts.dt_s.is_finite() && opts.dt_s > 0.0) {
        return Err(NirError::Convention(format!(
            "dt must be a positive number of seconds, got {}",
            opts.dt_s
        )));
    }
    let metas = std::iter::once(&g.metadata).chain(g.nodes.values().map(|n| &n.metadata));
    let mut file_disc = None;
    for meta in metas {
        if let Some(MetaValue::Number(dt)) = meta.get(META_DT) {
            if ((dt - opts.dt_s) / opts.dt_s).abs() > DT_TOLERANCE {
                return Err(NirError::Convention(format!(
                    "the file was written for dt = {dt} s, but dt = {} s was given",
                    opts.dt_s
                )));
            }
        }
        if let Some(MetaValue::Text(name)) = meta.get(META_DISCRETISATION) {
            let d = Discretisation::from_name(name).ok_or_else(|| {
                NirError::Convention(format!("unknown discretisation {name:?} in the metadata"))
            })?;
            file_disc.get_or_insert(d);
        }
    }
    match (opts.discretisation, file_disc) {
        (Some(a), Some(b)) if a != b => Err(NirError::Convention(format!(
            "the file says discretisation {}, but {} was asked for",
            b.name(),
            a.name()
        ))),
        (Some(a), _) => Ok((a, file_disc.is_some())),
        (None, Some(b)) => Ok((b, true)),
        (None, None) => Ok((Discretisation::Exponential, false)),
    }
}

fn neurons(
    s: &Stage,
    dt_s: f64,
    dt32: f32,
    disc: Discretisation,
) -> Result<Vec<DiscreteNeuron>, NirError> {
    match &s.neurons {
        Neurons::Leaky(l) => (0..l.size())
            .map(|j| discretise(&s.name, l, j, dt_s, dt32, disc))
            .collect(),
        Neurons::IntegrateFire(f) => (0..f.r.len())
            .map(|j| integrate_fire(&s.name, f, j, dt_s, dt32, disc))
            .collect(),
        Neurons::Integrator(r) => Ok((r.data.iter())
            .map(|&r| integrator(r, dt_s, dt32, disc))
            .collect()),
        Neurons::Threshold(t) => t
            .data
            .iter()
            .enumerate()
            .map(|(j, &theta)| stateless(&s.name, j, theta, dt32))
            .collect(),
    }
}

/// The layer's threshold when every neuron has the same one.
fn uniform_threshold(n: &[DiscreteNeuron]) -> Option<f64> {
    let first = n[0].threshold;
    n.iter().all(|d| d.threshold == first).then_some(first)
}

/// The divisor folded into neuron `j`'s weights: 1 for a uniform threshold, else `θ_j`.
fn layer_threshold_fold(n: &[DiscreteNeuron], j: usize) -> f64 {
    match uniform_threshold(n) {
        Some(_) => 1.0,
        None => n[j].threshold,
    }
}

/// The constant input per step of each neuron of `s` in our units: the file's biases times
/// the neurons' gains plus the leak's drive; `None` when all are zero.
fn biases(s: &Stage, n: &[DiscreteNeuron]) -> Option<Vec<f64>> {
    let b: Vec<f64> = n
        .iter()
        .enumerate()
        .map(|(j, d)| s.bias.as_ref().map_or(0.0, |b| b[j] * d.gain) + d.drive)
        .collect();
    b.iter().any(|&v| v != 0.0).then_some(b)
}

/// A bias, entry `j` scaled by `scale(j)` as its neuron's weights are.
fn scaled(bias: &[f64], scale: impl Fn(usize) -> f64) -> Vec<f32> {
    bias.iter()
        .enumerate()
        .map(|(j, &b)| (b * scale(j)) as f32)
        .collect()
}

/// NIR `[out, in]` weights (`None`: identity) as our `[in, out]` row-major data, column `j`
/// scaled by `scale(j)` (exactly unchanged where it is 1).
fn ours(w: Option<&Array>, rows: usize, cols: usize, scale: impl Fn(usize) -> f64) -> Vec<f32> {
    let mut out = vec![0f32; rows * cols];
    for i in 0..rows {
        for j in 0..cols {
            let v = match w {
                Some(w) => w.data[j * rows + i],
                None => f64::from(u8::from(i == j)),
            };
            let s = scale(j);
            out[i * cols + j] = if s == 1.0 { v as f32 } else { (v * s) as f32 };
        }
    }
    out
}
