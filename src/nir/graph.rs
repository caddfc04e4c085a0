//! An in-memory NIR graph: named nodes of the primitive types this crate maps, edges and
//! metadata.

pub use super::maps2d::{Conv2d, Padding2d, Pool2d, PoolKind};
use super::NirError;
use std::collections::BTreeMap;

/// A dense array of parameters (`f64` holds `f32` and `f64` file values exactly).
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    /// Dimensions (empty for a scalar).
    pub shape: Vec<usize>,
    /// Elements in row-major order.
    pub data: Vec<f64>,
}

impl Array {
    /// A one-dimensional array.
    pub fn vector(data: Vec<f64>) -> Self {
        Self {
            shape: vec![data.len()],
            data,
        }
    }

    /// A one-dimensional array of `n` copies of `value`.
    pub fn filled(n: usize, value: f64) -> Self {
        Self::vector(vec![value; n])
    }

    /// A `[rows, cols]` matrix.
    pub fn matrix(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        debug_assert_eq!(rows * cols, data.len());
        Self {
            shape: vec![rows, cols],
            data,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// A metadata value (NIR stores metadata as scalar datasets).
#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue {
    /// A string.
    Text(String),
    /// A number.
    Number(f64),
}

/// Metadata of a node or graph, by key.
pub type Metadata = BTreeMap<String, MetaValue>;

/// Parameters of a leaky neuron with an optional synapse and an optional threshold: the
/// NIR `LIF`, `CubaLIF`, `LI` and `CubaLI` nodes (all arrays have one value per neuron and
/// the same shape: `[n]`, or a map's `[channels, height, width]` after a convolution).
///
/// `τ_syn dI/dt = −I + w_in·S` (when `tau_syn_s` is present),
/// `τ_mem dv/dt = (v_leak − v) + R·I`, and for spiking nodes a spike when `v > v_threshold`,
/// after which `v = v_reset`.
#[derive(Clone, Debug, PartialEq)]
pub struct Leaky {
    /// Synaptic time constants in seconds (`CubaLIF`, `CubaLI`), else `None`.
    pub tau_syn_s: Option<Array>,
    /// Membrane time constants in seconds (`tau_mem`, or `tau` of `LIF`/`LI`).
    pub tau_mem_s: Array,
    /// Resistance `R`.
    pub r: Array,
    /// Leak potential.
    pub v_leak: Array,
    /// Synaptic input weight (`CubaLIF`, `CubaLI`; NIR's default is 1).
    pub w_in: Option<Array>,
    /// Firing threshold (spiking nodes), else `None`.
    pub v_threshold: Option<Array>,
    /// Reset potential (spiking nodes; NIR's default is 0).
    pub v_reset: Option<Array>,
}

impl Leaky {
    /// Number of neurons.
    pub fn size(&self) -> usize {
        self.tau_mem_s.len()
    }

    /// Whether the node spikes (`LIF`, `CubaLIF`).
    pub fn spikes(&self) -> bool {
        self.v_threshold.is_some()
    }

    /// The NIR type name of the node.
    pub fn type_name(&self) -> &'static str {
        match (self.tau_syn_s.is_some(), self.spikes()) {
            (true, true) => "CubaLIF",
            (true, false) => "CubaLI",
            (false, true) => "LIF",
            (false, false) => "LI",
        }
    }
}

/// Parameters of NIR's `IF` node, one value per neuron (all of the same shape):
/// `dv/dt = R·I`, a spike when `v > v_threshold`, after which `v = v_reset`.
#[derive(Clone, Debug, PartialEq)]
pub struct IfNeurons {
    /// Resistance `R`.
    pub r: Array,
    /// Firing threshold.
    pub v_threshold: Array,
    /// Reset potential (NIR's default is 0).
    pub v_reset: Option<Array>,
}

/// What a node computes.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// A graph input of the given shape.
    Input {
        /// The shape.
        shape: Vec<usize>,
    },
    /// A graph output of the given shape.
    Output {
        /// The shape.
        shape: Vec<usize>,
    },
    /// `y = W x + b`, `W` of shape `[out, in]`.
    Affine {
        /// The weight matrix `[out, in]`.
        weight: Array,
        /// The bias `[out]`.
        bias: Array,
    },
    /// `y = W x`, `W` of shape `[out, in]`.
    Linear {
        /// The weight matrix `[out, in]`.
        weight: Array,
    },
    /// `y = s ⊙ x`: a factor per channel.
    Scale {
        /// The factors `[n]`.
        scale: Array,
    },
    /// Flattens dimensions `start_dim..=end_dim` (a reshape: the identity on our flat
    /// vectors).
    Flatten {
        /// The first dimension flattened (without the batch dimension).
        start_dim: i64,
        /// The last dimension flattened (negative: counted from the end).
        end_dim: i64,
    },
    /// `y = H(x − θ)`: spikes without state.
    Threshold {
        /// The thresholds `θ` `[n]`.
        threshold: Array,
    },
    /// A 1-D convolution over a `channels × length` map.
    Conv1d(Box<Conv1d>),
    /// A 2-D convolution over a `channels × height × width` map.
    Conv2d(Box<Conv2d>),
    /// `SumPool2d` or `AvgPool2d`.
    Pool2d(Pool2d),
    /// A leaky neuron population (`LIF`, `CubaLIF`, `LI`, `CubaLI`).
    Leaky(Box<Leaky>),
    /// An integrate-and-fire population (`IF`).
    IntegrateFire(Box<IfNeurons>),
    /// A delay line (`Delay`): `y(t) = x(t − delay)`, per-unit `delay` in seconds.
    Delay {
        /// The delay per unit.
        delay: Array,
    },
    /// A non-spiking integrator (`I`): `dv/dt = R·I`, per-unit `r`.
    Integrator {
        /// The resistance `R` per unit.
        r: Array,
    },
    /// A nested graph (as some exporters write recurrent layers).
    Graph(Box<NirGraph>),
}

impl NodeKind {
    /// The NIR type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            NodeKind::Input { .. } => "Input",
            NodeKind::Output { .. } => "Output",
            NodeKind::Affine { .. } => "Affine",
            NodeKind::Linear { .. } => "Linear",
            NodeKind::Scale { .. } => "Scale",
            NodeKind::Flatten { .. } => "Flatten",
            NodeKind::Threshold { .. } => "Threshold",
            NodeKind::Conv1d(_) => "Conv1d",
            NodeKind::Conv2d(_) => "Conv2d",
            NodeKind::Pool2d(p) => p.kind.type_name(),
            NodeKind::Leaky(l) => l.type_name(),
            NodeKind::IntegrateFire(_) => "IF",
            NodeKind::Integrator { .. } => "I",
            NodeKind::Delay { .. } => "Delay",
            NodeKind::Graph(_) => "NIRGraph",
        }
    }
}

/// NIR's `Conv1d`: `y[f, o] = b[f] + Σ_c Σ_k w[f, c, k] · x[c, o·stride + k·dilation −
/// padding]` over an input of `input_length` positions per channel (integer padding only).
#[derive(Clone, Debug, PartialEq)]
pub struct Conv1d {
    /// The kernel `[filters, in_channels / groups, kernel]`.
    pub weight: Array,
    /// The bias `[filters]`.
    pub bias: Array,
    /// Stride.
    pub stride: usize,
    /// Zero padding on both ends.
    pub padding: usize,
    /// Dilation.
    pub dilation: usize,
    /// Groups.
    pub groups: usize,
    /// Positions per input channel (NIR's `input_shape`); `None` when the file leaves it out
    /// (import takes it from the shape of what feeds the node, [`Self::with_input`]).
    pub input_length: Option<usize>,
}

impl Conv1d {
    /// This node with its input length from the shape of what feeds it (`[channels,
    /// length]`, or flat `[channels · length]`), checked against a given one.
    pub fn with_input(&self, shape: &[usize]) -> Result<Self, String> {
        let in_channels = self.weight.shape.get(1).copied().unwrap_or(0) * self.groups;
        let length = match shape[..] {
            [c, l] if c == in_channels => l,
            [n] if in_channels > 0 && n % in_channels == 0 => n / in_channels,
            _ => {
                return Err(format!(
                    "its input has shape {shape:?}, which is not {in_channels} channels"
                ))
            }
        };
        if self.input_length.is_some_and(|l| l != length) {
            return Err(format!(
                "input_shape says {:?} positions but its input has {length}",
                self.input_length
            ));
        }
        Ok(Self {
            input_length: Some(length),
            ..self.clone()
        })
    }

    /// The convolution's shape; the error says what does not fit (or that the input length
    /// is unknown).
    pub fn spec(&self) -> Result<crate::layers::conv::ConvSpec, String> {
        let [filters, in_per_group, kernel] = self.weight.shape[..] else {
            return Err(format!(
                "weight has shape {:?}, expected [filters, in_channels / groups, kernel]",
                self.weight.shape
            ));
        };
        if self.bias.shape != [filters] {
            return Err(format!(
                "bias has shape {:?}, the weight needs [{filters}]",
                self.bias.shape
            ));
        }
        let spec = crate::layers::conv::ConvSpec::one_d(
            in_per_group
                .checked_mul(self.groups)
                .ok_or("in_channels overflow")?,
            self.input_length
                .ok_or("input_shape is missing and the input's length is unknown")?,
            filters,
            kernel,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
        );
        spec.validate()?;
        Ok(spec)
    }
}

/// A node: what it computes and its metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The computation.
    pub kind: NodeKind,
    /// Free-form metadata (`/node/nodes/<name>/metadata`).
    pub metadata: Metadata,
}

impl Node {
    /// A node without metadata.
    pub fn new(kind: NodeKind) -> Self {
        Self {
            kind,
            metadata: Metadata::new(),
        }
    }
}

/// A NIR graph: nodes by name and directed edges `(source, target)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NirGraph {
    /// Nodes by name.
    pub nodes: BTreeMap<String, Node>,
    /// Edges in file order.
    pub edges: Vec<(String, String)>,
    /// Graph metadata (`/node/metadata`).
    pub metadata: Metadata,
}

impl NirGraph {
    /// Checks that every edge names existing nodes and that no edge is repeated.
    pub fn check_edges(&self) -> Result<(), NirError> {
        let mut seen = std::collections::BTreeSet::new();
        for (a, b) in &self.edges {
            for end in [a, b] {
                if !self.nodes.contains_key(end) {
                    return Err(NirError::Graph(format!(
                        "edge {a} -> {b} names node {end:?}, which does not exist"
                    )));
                }
            }
            if !seen.insert((a, b)) {
                return Err(NirError::Graph(format!("edge {a} -> {b} appears twice")));
            }
        }
        Ok(())
    }

    /// The graph with nested graphs inlined: a nested graph `g` becomes its nodes named
    /// `g.<name>`, edges into `g` go to the targets of its `Input` node and edges out of
    /// `g` leave from the sources of its `Output` node.
    pub fn flattened(&self) -> Result<NirGraph, NirError> {
        self.check_edges()?;
        let mut out = NirGraph {
            metadata: self.metadata.clone(),
            ..NirGraph::default()
        };
        // For each nested graph: the (flattened) names edges into it and out of it attach to.
        let mut entries: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        let mut exits: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (name, node) in &self.nodes {
            let NodeKind::Graph(inner) = &node.kind else {
                out.nodes.insert(name.clone(), node.clone());
                continue;
            };
            let inner = inner.flattened()?;
            let (mut ins, mut outs) = (Vec::new(), Vec::new());
            for (inner_name, inner_node) in &inner.nodes {
                match inner_node.kind {
                    NodeKind::Input { .. } => ins.push(inner_name.clone()),
                    NodeKind::Output { .. } => outs.push(inner_name.clone()),
                    _ => {
                        let full = format!("{name}.{inner_name}");
                        out.nodes.insert(full, inner_node.clone());
                    }
                }
            }
            let prefix = |n: &str| format!("{name}.{n}");
            let mut entry = Vec::new();
            let mut exit = Vec::new();
            for (a, b) in &inner.edges {
                match (ins.contains(a), outs.contains(b)) {
                    (true, true) => {
                        return Err(NirError::Graph(format!(
                            "nested graph {name}: its input {a} connects straight to its output"
                        )))
                    }
                    (true, false) => entry.push(prefix(b)),
                    (false, true) => exit.push(prefix(a)),
                    (false, false) => out.edges.push((prefix(a), prefix(b))),
                }
            }
            entries.insert(name.as_str(), entry);
            exits.insert(name.as_str(), exit);
        }
        for (a, b) in &self.edges {
            let sources = exits
                .get(a.as_str())
                .cloned()
                .unwrap_or_else(|| vec![a.clone()]);
            let targets = entries
                .get(b.as_str())
                .cloned()
                .unwrap_or_else(|| vec![b.clone()]);
            for s in &sources {
                for t in &targets {
                    out.edges.push((s.clone(), t.clone()));
                }
            }
        }
        out.check_edges()?;
        Ok(out)
    }

    /// Names of the nodes with an edge into `name`, in edge order.
    pub fn sources_of(&self, name: &str) -> Vec<&str> {
        self.edges
            .iter()
            .filter(|(_, b)| b == name)
            .map(|(a, _)| a.as_str())
            .collect()
    }

    /// Names of the nodes `name` has an edge to, in edge order.
    pub fn targets_of(&self, name: &str) -> Vec<&str> {
        self.edges
            .iter()
            .filter(|(a, _)| a == name)
            .map(|(_, b)| b.as_str())
            .collect()
    }
}
