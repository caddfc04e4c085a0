//! The chain of neuron populations a NIR graph must form to be imported:
//! `Input → maps → neurons (⇄ maps) → … → neurons → Output`, where "maps" are paths of
//! stateless nodes (`Affine`, `Linear`, `Scale`, `Flatten`, convolutions and pooling), several
//! of which may run in parallel from one population into the next (their maps are summed).

use super::affine::{check_width, AffineMap};
use super::graph::{Array, IfNeurons, Leaky, NirGraph, NodeKind};
use super::NirError;

/// What a population of the chain computes.
#[derive(Clone, Debug)]
pub(super) enum Neurons {
    /// `LIF`, `CubaLIF`, `LI`, `CubaLI`.
    Leaky(Box<Leaky>),
    /// `Threshold`: a spike when the input exceeds `θ`, no state.
    Threshold(Array),
    /// `IF`: integrate-and-fire, no leak.
    IntegrateFire(Box<IfNeurons>),
    /// `I`: a non-spiking integrator, per-unit `r` (only as the readout).
    Integrator(Array),
}

impl Neurons {
    /// Number of neurons.
    pub fn size(&self) -> usize {
        self.shape().iter().product()
    }

    /// The shape of the population (`[n]`, or a map's `[channels, height, width]`).
    pub fn shape(&self) -> &[usize] {
        match self {
            Neurons::Leaky(l) => &l.tau_mem_s.shape,
            Neurons::Threshold(t) => &t.shape,
            Neurons::IntegrateFire(n) => &n.r.shape,
            Neurons::Integrator(r) => &r.shape,
        }
    }

    /// Whether they spike.
    pub fn spikes(&self) -> bool {
        match self {
            Neurons::Leaky(l) => l.spikes(),
            Neurons::Threshold(_) | Neurons::IntegrateFire(_) => true,
            Neurons::Integrator(_) => false,
        }
    }

    /// The NIR type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Neurons::Leaky(l) => l.type_name(),
            Neurons::Threshold(_) => "Threshold",
            Neurons::IntegrateFire(_) => "IF",
            Neurons::Integrator(_) => "I",
        }
    }

    /// The reset potentials, when the file gives them.
    pub fn v_reset(&self) -> Option<&Array> {
        match self {
            Neurons::Leaky(l) => l.v_reset.as_ref(),
            Neurons::IntegrateFire(n) => n.v_reset.as_ref(),
            Neurons::Threshold(_) | Neurons::Integrator(_) => None,
        }
    }
}

/// One population of neurons of the chain with its incoming weights.
pub(super) struct Stage {
    pub name: String,
    pub neurons: Neurons,
    /// Feed-forward weights `[size, inputs]` (NIR layout); `None` is the identity.
    pub w_in: Option<Array>,
    /// Recurrent weights `[size, size]`.
    pub w_rec: Option<Array>,
    /// The biases of the incoming maps, summed `[size]`; `None` when all are zero.
    pub bias: Option<Vec<f64>>,
    /// `Delay` nodes on the feed-forward path: seconds per input unit; `None`: none.
    pub delays: Option<Vec<f64>>,
}

/// A path of stateless nodes from a population (or the input) to the node it ends at.
struct Path<'a> {
    /// The neuron or Output node it ends at.
    end: &'a str,
    /// The node with the edge into `end`.
    last: &'a str,
    map: AffineMap,
    /// The path's `Delay` nodes, summed, in seconds per input unit of the path.
    delays: Option<Vec<f64>>,
}

/// Walks the chain from the single `Input` to the single `Output`.
pub(super) fn chain(g: &NirGraph) -> Result<(usize, Vec<Stage>), NirError> {
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
    let mut cur = input.as_str();
    let mut forward = paths(g, cur, shape)?;
    let mut stages: Vec<Stage> = Vec::new();
    loop {
        let next = common_end(cur, &forward)?;
        let neurons = match &g.nodes[next].kind {
            NodeKind::Output { shape } => {
                let [path] = &forward[..] else {
                    return Err(NirError::unsupported(
                        next,
                        format!("{} paths into the Output; one is supported", forward.len()),
                    ));
                };
                if path.last != cur {
                    return Err(NirError::unsupported(
                        path.last,
                        format!(
                            "a {} node right before the Output (the last node must be a \
                             neuron node)",
                            g.nodes[path.last].kind.type_name()
                        ),
                    ));
                }
                check_width(next, shape.iter().product(), path.map.outputs, cur)?;
                return Ok((n_in, stages));
            }
            NodeKind::Leaky(l) => Neurons::Leaky(l.clone()),
            NodeKind::Threshold { threshold } => Neurons::Threshold(threshold.clone()),
            NodeKind::IntegrateFire(n) => Neurons::IntegrateFire(n.clone()),
            NodeKind::Integrator { r } => Neurons::Integrator(r.clone()),
            _ => unreachable!("paths end at neurons or the Output"),
        };
        let size = neurons.size();
        for p in &forward {
            check_width(next, size, p.map.outputs, p.last)?;
        }
        let from_next = paths(g, next, neurons.shape())?;
        let (rec, onward): (Vec<Path>, Vec<Path>) =
            from_next.into_iter().partition(|p| p.end == next);
        let feeds: Vec<&str> = forward.iter().chain(&rec).map(|p| p.last).collect();
        if g.sources_of(next).iter().any(|s| !feeds.contains(s)) {
            return Err(fan_in(g, next));
        }
        if stages.iter().any(|s| s.name == next) || stages.len() > g.nodes.len() {
            return Err(NirError::Graph(format!("the chain returns to {next}")));
        }
        let maps =
            |ps: &[Path]| AffineMap::sum(&ps.iter().map(|p| p.map.clone()).collect::<Vec<_>>());
        let w_in = maps(&forward).expect("at least one path into the node");
        let w_rec = maps(&rec);
        let bias = [&w_in.bias, &w_rec.as_ref().and_then(|m| m.bias.clone())]
            .into_iter()
            .flatten()
            .fold(None, |sum: Option<Vec<f64>>, b| {
                let mut sum = sum.unwrap_or_else(|| vec![0.0; size]);
                sum.iter_mut().zip(b).for_each(|(s, v)| *s += v);
                Some(sum)
            });
        stages.push(Stage {
            name: next.to_string(),
            neurons,
            w_in: w_in.weight,
            w_rec: w_rec.map(|m| m.weight.unwrap_or_else(|| identity_matrix(size))),
            bias,
            delays: stage_delays(next, &forward, &rec)?,
        });
        cur = next;
        forward = onward;
    }
}

/// The delays per input unit of a path after its `Delay` node `name`, which follows `map`:
/// right after a population (no weight yet) one per unit; after a weight only a uniform
/// delay without a bias, which then delays every input alike.
fn add_delay(
    name: &str,
    delay: &Array,
    map: &AffineMap,
    so_far: Option<Vec<f64>>,
) -> Result<Vec<f64>, NirError> {
    let d = &delay.data;
    if d.len() != map.outputs {
        return Err(NirError::node(
            name,
            format!("{} delays for {} values", d.len(), map.outputs),
        ));
    }
    if let Some(bad) = d.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
        return Err(NirError::node(
            name,
            format!("a delay of {bad} s (delays are finite and not negative)"),
        ));
    }
    let per_input = if map.weight.is_none() && map.bias.is_none() {
        d.clone()
    } else if d.iter().all(|&v| v == d[0]) && map.bias.is_none() {
        vec![d[0]; map.inputs]
    } else {
        return Err(NirError::unsupported(
            name,
            "a Delay after a weight with different delays per output (or after a bias): \
             delays act per input unit of a projection here; place the Delay before the weight",
        ));
    };
    Ok(match so_far {
        None => per_input,
        Some(d) => d.iter().zip(per_input).map(|(a, b)| a + b).collect(),
    })
}

/// The delays into population `name`: those of its feed-forward paths, which must agree; a
/// delay on a recurrent path is refused.
fn stage_delays(name: &str, forward: &[Path], rec: &[Path]) -> Result<Option<Vec<f64>>, NirError> {
    if let Some(p) = rec.iter().find(|p| p.delays.is_some()) {
        return Err(NirError::unsupported(
            p.last,
            format!("a Delay on the recurrent path of {name}"),
        ));
    }
    let first = &forward[0].delays;
    if forward.iter().any(|p| &p.delays != first) {
        return Err(NirError::unsupported(
            name,
            "parallel paths into it with different delays",
        ));
    }
    Ok(first.clone())
}

fn identity_matrix(n: usize) -> Array {
    let mut data = vec![0.0; n * n];
    (0..n).for_each(|i| data[i * n + i] = 1.0);
    Array::matrix(n, n, data)
}

/// The paths out of `from` (values of `shape`): each target followed through stateless
/// nodes, each with one input and one output, to a neuron or Output node.
fn paths<'a>(g: &'a NirGraph, from: &'a str, shape: &[usize]) -> Result<Vec<Path<'a>>, NirError> {
    let mut out = Vec::new();
    for first in g.targets_of(from) {
        let (mut prev, mut node) = (from, first);
        let mut map = AffineMap::identity(shape);
        let mut delays: Option<Vec<f64>> = None;
        loop {
            let kind = &g.nodes[node].kind;
            match kind {
                NodeKind::Leaky(_)
                | NodeKind::Threshold { .. }
                | NodeKind::IntegrateFire(_)
                | NodeKind::Integrator { .. }
                | NodeKind::Output { .. } => break,
                NodeKind::Delay { delay } => delays = Some(add_delay(node, delay, &map, delays)?),
                _ => {
                    map = map.then(node, kind, prev)?.ok_or_else(|| {
                        NirError::unsupported(
                            node,
                            format!("a {} node inside the chain", kind.type_name()),
                        )
                    })?;
                }
            }
            if g.sources_of(node).len() != 1 {
                return Err(fan_in(g, node));
            }
            let next = single_target(g, node)?;
            (prev, node) = (node, next);
        }
        out.push(Path {
            end: node,
            last: prev,
            map,
            delays,
        });
    }
    if out.is_empty() {
        return Err(NirError::Graph(format!(
            "node {from} leads nowhere (no Output after it)"
        )));
    }
    Ok(out)
}

/// The one node every forward path out of `from` ends at.
fn common_end<'a>(from: &str, paths: &[Path<'a>]) -> Result<&'a str, NirError> {
    let mut ends: Vec<&str> = paths.iter().map(|p| p.end).collect();
    ends.sort_unstable();
    ends.dedup();
    match ends[..] {
        [end] => Ok(end),
        [] => Err(NirError::Graph(format!(
            "node {from} leads nowhere (no Output after it)"
        ))),
        _ => Err(NirError::unsupported(
            from,
            format!(
                "it feeds {} nodes ({}); only chains, with branches that merge into the next \
                 neuron node, are supported",
                ends.len(),
                ends.join(", ")
            ),
        )),
    }
}

/// The one node a stateless node feeds.
fn single_target<'a>(g: &'a NirGraph, from: &str) -> Result<&'a str, NirError> {
    match g.targets_of(from)[..] {
        [t] => Ok(t),
        [] => Err(NirError::Graph(format!(
            "node {from} leads nowhere (no Output after it)"
        ))),
        ref targets => Err(NirError::unsupported(
            from,
            format!(
                "it feeds {} nodes ({}); a weight node must feed exactly one",
                targets.len(),
                targets.join(", ")
            ),
        )),
    }
}

fn fan_in(g: &NirGraph, node: &str) -> NirError {
    let sources = g.sources_of(node);
    NirError::unsupported(
        node,
        format!(
            "inputs from {} nodes ({}); only inputs from the previous population and the \
             node's own recurrent weights are supported",
            sources.len(),
            sources.join(", ")
        ),
    )
}
