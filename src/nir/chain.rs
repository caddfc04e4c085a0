//! The chain of neuron populations a NIR graph must form to be imported:
//! `Input → [Affine|Linear] → neurons (⇄ [Affine|Linear]) → … → neurons → Output`.

use super::graph::{Array, Leaky, NirGraph, NodeKind};
use super::NirError;

/// One population of neurons of the chain with its incoming weights.
pub(super) struct Stage {
    pub name: String,
    pub leaky: Leaky,
    /// Feed-forward weights `[size, inputs]` (NIR layout); `None` is the identity.
    pub w_in: Option<Array>,
    /// Recurrent weights `[size, size]`.
    pub w_rec: Option<Array>,
    /// The biases of the incoming `Affine` nodes, summed `[size]`; `None` when all are zero.
    pub bias: Option<Vec<f64>>,
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
                let (w, bias) = weight(g, next)?;
                check_width(next, w.shape[1], width, cur)?;
                if g.sources_of(next).len() != 1 {
                    return Err(fan_in(g, next));
                }
                (Some((w.clone(), bias)), single_target(g, next, None)?)
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
        let in_width = w_in.as_ref().map_or(width, |(w, _)| w.shape[0]);
        check_width(neuron, size, in_width, from)?;
        if let Some((rec_name, (w, _))) = &rec {
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
        let biases = [
            w_in.as_ref().and_then(|(_, b)| *b),
            rec.and_then(|(_, (_, b))| b),
        ];
        stages.push(Stage {
            name: neuron.to_string(),
            leaky: (**leaky).clone(),
            w_in: w_in.as_ref().map(|(w, _)| w.clone()),
            w_rec: rec.map(|(_, (w, _))| w.clone()),
            bias: summed(size, biases.into_iter().flatten()),
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
) -> Result<Option<(&'a str, Weight<'a>)>, NirError> {
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

/// A weight matrix and its bias (`None`: a `Linear` node, or an all-zero bias).
type Weight<'a> = (&'a Array, Option<&'a Array>);

/// The weight matrix and bias of an `Affine` or `Linear` node.
fn weight<'a>(g: &'a NirGraph, name: &str) -> Result<Weight<'a>, NirError> {
    match &g.nodes[name].kind {
        NodeKind::Linear { weight } => Ok((weight, None)),
        NodeKind::Affine { weight, bias } => {
            let nonzero = bias.data.iter().any(|&b| b != 0.0);
            Ok((weight, nonzero.then_some(bias)))
        }
        other => Err(NirError::unsupported(
            name,
            format!("a {} node where a weight was expected", other.type_name()),
        )),
    }
}

/// The sum of biases of length `size` (`None` when there are none).
fn summed<'a>(size: usize, biases: impl Iterator<Item = &'a Array>) -> Option<Vec<f64>> {
    biases.fold(None, |sum: Option<Vec<f64>>, b| {
        let mut sum = sum.unwrap_or_else(|| vec![0.0; size]);
        sum.iter_mut().zip(&b.data).for_each(|(s, &v)| *s += v);
        Some(sum)
    })
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
