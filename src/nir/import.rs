//! A NIR graph as a runnable [`Network`]: a chain
//! `Input → [Affine|Linear] → neurons (⇄ [Affine|Linear]) → … → neurons → Output`.

use super::convention::{discretise, DiscreteNeuron, Discretisation, META_DISCRETISATION, META_DT};
use super::graph::{Array, Leaky, MetaValue, NirGraph, NodeKind};
use super::NirError;
use crate::layers::{ReadoutSpec, SpikingLayerSpec};
use crate::network::{Network, NetworkSpec};
use crate::surrogates::SpikeFn;
use rand::SeedableRng;

/// How to interpret a file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImportOptions {
    /// The time step to simulate at, in seconds.
    pub dt_s: f64,
    /// The discretisation; `None`: the file's metadata, else exponential.
    pub discretisation: Option<Discretisation>,
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

/// One population of neurons of the chain with its incoming weights.
struct Stage {
    name: String,
    leaky: Leaky,
    /// Feed-forward weights `[size, inputs]` (NIR layout); `None` is the identity.
    w_in: Option<Array>,
    /// Recurrent weights `[size, size]`.
    w_rec: Option<Array>,
}

/// Builds the network of `graph` (nested graphs inlined) at `opts.dt_s`.
///
/// Errors name the node: node types other than Input, Output, Affine, Linear, LIF, CubaLIF,
/// LI and CubaLI; branches, several inputs or outputs; non-zero biases, `v_leak` or
/// `v_reset`; sizes that do not match; non-spiking neurons before the last layer; and a
/// `dt` or discretisation in the file's metadata that differs from `opts`.
pub fn import_graph(graph: &NirGraph, opts: &ImportOptions) -> Result<Imported, NirError> {
    let g = graph.flattened()?;
    let (disc, from_file) = resolve_convention(&g, opts)?;
    let (inputs, mut stages) = chain(&g)?;
    let mut notes = Vec::new();
    let last = stages
        .last()
        .ok_or_else(|| NirError::Graph("no neuron node between the input and the output".into()))?;
    let identity_readout = last.leaky.spikes();
    if identity_readout {
        notes.push(format!(
            "the last layer ({}) spikes: it is a hidden layer, read out through an identity \
             leaky readout (tau_syn ~ 0, tau_mem = 20 ms)",
            last.name
        ));
    }
    let readout_stage = (!identity_readout).then(|| stages.pop().expect("checked non-empty"));
    for s in &stages {
        if !s.leaky.spikes() {
            return Err(NirError::unsupported(
                &s.name,
                format!("{} neurons only as the last layer", s.leaky.type_name()),
            ));
        }
    }
    if let Some(r) = readout_stage.as_ref().filter(|r| r.w_rec.is_some()) {
        return Err(NirError::unsupported(&r.name, "a recurrent readout"));
    }
    let dt_ms = opts.dt_s * 1e3;
    let dt32 = (dt_ms * 1e-3) as f32;
    let mut spec = NetworkSpec {
        inputs,
        dt_ms,
        spike: SpikeFn::default(),
        hidden: Vec::new(),
        readout: ReadoutSpec::default(),
    };
    let mut mapped = Vec::new();
    for s in &stages {
        let neurons = neurons(s, opts.dt_s, dt32, disc)?;
        let threshold = uniform_threshold(&neurons);
        spec.hidden.push(SpikingLayerSpec {
            size: s.leaky.size(),
            recurrent: s.w_rec.is_some(),
            tau_mem_ms: f64::from(neurons[0].tau_mem_s) * 1e3,
            tau_syn_ms: f64::from(neurons[0].tau_syn_s) * 1e3,
            threshold: threshold.unwrap_or(1.0),
            ..SpikingLayerSpec::default()
        });
        if threshold.is_none() {
            notes.push(format!(
                "{}: per-neuron thresholds folded into its weights",
                s.name
            ));
        }
        mapped.push(neurons);
    }
    let readout_neurons = match &readout_stage {
        Some(r) => neurons(r, opts.dt_s, dt32, disc)?,
        None => identity_readout_neurons(stages.last().expect("checked").leaky.size(), dt32),
    };
    spec.readout = ReadoutSpec {
        size: readout_neurons.len(),
        tau_mem_ms: f64::from(readout_neurons[0].tau_mem_s) * 1e3,
        tau_syn_ms: f64::from(readout_neurons[0].tau_syn_s) * 1e3,
        ..ReadoutSpec::default()
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
        layer.tau_mem_s = n.iter().map(|d| d.tau_mem_s).collect();
        layer.tau_syn_s = n.iter().map(|d| d.tau_syn_s).collect();
    }
    let r = &mut network.readout;
    let w_out = readout_stage.as_ref().map(|s| s.w_in.as_ref());
    let gain = |j: usize| readout_neurons[j].gain;
    r.w.data = ours(w_out.flatten(), r.w.rows, readout_neurons.len(), gain);
    r.tau_mem_s = readout_neurons.iter().map(|d| d.tau_mem_s).collect();
    r.tau_syn_s = readout_neurons.iter().map(|d| d.tau_syn_s).collect();
    Ok(Imported {
        network,
        discretisation: disc,
        discretisation_from_file: from_file,
        notes,
    })
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

/// Walks the chain from the single `Input` to the single `Output`.
fn chain(g: &NirGraph) -> Result<(usize, Vec<Stage>), NirError> {
    let inputs: Vec<&String> = g
        .nodes
        .iter()
        .filter(|(_, n)| matches!(n.kind, NodeKind::Input { .. }))
        .map(|(k, _)| k)
        .collect();
    let [input] = inputs[..] else {
        return Err(NirError::Graph(format!(
            "{} Input nodes; exactly one is supported",
            inputs.len()
        )));
    };
    let NodeKind::Input { shape } = &g.nodes[input].kind else {
        unreachable!("filtered")
    };
    let n_in = shape.iter().product::<usize>();
    let (mut cur, mut width) = (input.as_str(), n_in);
    let mut stages: Vec<Stage> = Vec::new();
    let mut rec_of_cur: Option<&str> = None;
    loop {
        let next = single_target(g, cur, rec_of_cur)?;
        let node = &g.nodes[next];
        let (w_in, neuron) = match &node.kind {
            NodeKind::Output { shape } => {
                check_width(next, shape.iter().product(), width, cur)?;
                return Ok((n_in, stages));
            }
            NodeKind::Affine { .. } | NodeKind::Linear { .. } => {
                let w = weight(g, next)?;
                check_width(next, w.shape[1], width, cur)?;
                if g.sources_of(next).len() != 1 {
                    return Err(fan_in(g, next));
                }
                (Some(w.clone()), single_target(g, next, None)?)
            }
            NodeKind::Leaky(_) => (None, next),
            other => {
                return Err(NirError::unsupported(
                    next,
                    format!("a {} node inside the chain", other.type_name()),
                ))
            }
        };
        let NodeKind::Leaky(leaky) = &g.nodes[neuron].kind else {
            return Err(NirError::unsupported(
                neuron,
                format!(
                    "a {} node after a weight; a neuron node was expected",
                    g.nodes[neuron].kind.type_name()
                ),
            ));
        };
        let size = leaky.size();
        let from = if w_in.is_some() { next } else { cur };
        let rec = recurrent(g, neuron, from)?;
        let in_width = w_in.as_ref().map_or(width, |w| w.shape[0]);
        check_width(neuron, size, in_width, from)?;
        if let Some((rec_name, w)) = &rec {
            if w.shape != [size, size] {
                return Err(NirError::node(
                    rec_name,
                    format!("weight has shape {:?}, expected [{size}, {size}]", w.shape),
                ));
            }
        }
        if stages.iter().any(|s| s.name == neuron) || stages.len() > g.nodes.len() {
            return Err(NirError::Graph(format!("the chain returns to {neuron}")));
        }
        stages.push(Stage {
            name: neuron.to_string(),
            leaky: (**leaky).clone(),
            w_in,
            w_rec: rec.map(|(_, w)| w.clone()),
        });
        rec_of_cur = rec.map(|(n, _)| n);
        (cur, width) = (neuron, size);
    }
}

/// The one node `from` feeds, ignoring its recurrent projection `skip`.
fn single_target<'a>(g: &'a NirGraph, from: &str, skip: Option<&str>) -> Result<&'a str, NirError> {
    let targets: Vec<&str> = g
        .targets_of(from)
        .into_iter()
        .filter(|t| Some(*t) != skip)
        .collect();
    match targets[..] {
        [t] => Ok(t),
        [] => Err(NirError::Graph(format!(
            "node {from} leads nowhere (no Output after it)"
        ))),
        _ => Err(NirError::unsupported(
            from,
            format!(
                "it feeds {} nodes ({}); only chains are supported",
                targets.len(),
                targets.join(", ")
            ),
        )),
    }
}

/// The recurrent projection of `neuron`: a weight node fed only by it and feeding only it.
/// Any other input besides `from` is an error.
fn recurrent<'a>(
    g: &'a NirGraph,
    neuron: &str,
    from: &str,
) -> Result<Option<(&'a str, &'a Array)>, NirError> {
    let others: Vec<&str> = g
        .sources_of(neuron)
        .into_iter()
        .filter(|s| *s != from)
        .collect();
    match others[..] {
        [] => Ok(None),
        [rec] if g.sources_of(rec) == [neuron] && g.targets_of(rec) == [neuron] => {
            Ok(Some((rec, weight(g, rec)?)))
        }
        _ => Err(fan_in(g, neuron)),
    }
}

fn fan_in(g: &NirGraph, node: &str) -> NirError {
    let sources = g.sources_of(node);
    NirError::unsupported(
        node,
        format!(
            "inputs from {} nodes ({}); only one input and a self-recurrent weight are supported",
            sources.len(),
            sources.join(", ")
        ),
    )
}

/// The weight matrix of an `Affine` (zero bias only) or `Linear` node.
fn weight<'a>(g: &'a NirGraph, name: &str) -> Result<&'a Array, NirError> {
    match &g.nodes[name].kind {
        NodeKind::Linear { weight } => Ok(weight),
        NodeKind::Affine { weight, bias } => match bias.data.iter().position(|&b| b != 0.0) {
            None => Ok(weight),
            Some(i) => Err(NirError::unsupported(
                name,
                format!(
                    "bias[{i}] = {} (only zero biases are supported)",
                    bias.data[i]
                ),
            )),
        },
        other => Err(NirError::unsupported(
            name,
            format!("a {} node where a weight was expected", other.type_name()),
        )),
    }
}

fn check_width(node: &str, expected: usize, got: usize, from: &str) -> Result<(), NirError> {
    if expected == got {
        return Ok(());
    }
    Err(NirError::node(
        node,
        format!("shape mismatch: it takes {expected} inputs, but node {from} gives {got}"),
    ))
}

fn neurons(
    s: &Stage,
    dt_s: f64,
    dt32: f32,
    disc: Discretisation,
) -> Result<Vec<DiscreteNeuron>, NirError> {
    (0..s.leaky.size())
        .map(|j| discretise(&s.name, &s.leaky, j, dt_s, dt32, disc))
        .collect()
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

/// Identity readout of a spiking last layer: `α = 0`, `τ_mem` = 20 ms, gain 1.
fn identity_readout_neurons(n: usize, dt32: f32) -> Vec<DiscreteNeuron> {
    let neuron = DiscreteNeuron {
        tau_syn_s: dt32 * 1e-3,
        tau_mem_s: 20e-3,
        gain: 1.0,
        threshold: 1.0,
    };
    vec![neuron; n]
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
