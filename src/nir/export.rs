//! A trained [`Network`] as a NIR graph:
//! `input → fc0 → lif0 (⇄ rec0) → fc1 → lif1 … → fc_out → readout → output`.

use super::convention::{
    Discretisation, CURRENT_INPUT, META_CURRENT_INPUT, META_DISCRETISATION, META_DT, META_PRODUCER,
    META_RESET, META_RESET_MODE, META_SPIKE_INPUT, RESET_RULE, SPIKE_INPUT,
};
use super::graph::{
    Array, Conv1d, IfNeurons, Leaky, MetaValue, Metadata, NirGraph, Node, NodeKind,
};
use super::maps2d::{self, Conv2d, Padding2d, Pool2d};
use super::NirError;
use crate::layers::conv::{PoolKind, Pooling, TiedKernel};
use crate::layers::{NeuronKind, ReadoutKind, SpikingLayer};
use crate::network::Network;
use crate::quant::integer::{
    IntegerDecays, IntegerNetwork, IntegerWeights, DECAY_BITS, FRAC_BITS, STATE_ONE,
};
use crate::quant::QuantizedNetwork;
use crate::surrogates::SpikeFn;
use crate::tensor::Matrix;

/// The graph of `net` (see the [module documentation](super) for the parameter mapping):
/// per hidden layer a `Linear` from the previous layer and a `CubaLIF` (an `IF` for
/// integrate-and-fire neurons), a recurrent layer's
/// `W_rec` as a `Linear` on the edge cycle `lif → rec → lif`, and the readout as a `CubaLI`.
/// A Dale's-law layer becomes its two currents as `LI` nodes driving a `LIF` membrane (see
/// the module documentation). Time constants, weights and thresholds are the network's `f32`
/// values.
///
/// Fails for adaptive neurons, relaxed (non-binary) and stochastic spikes, which NIR cannot
/// express.
pub fn export_network(net: &Network<f32>) -> Result<NirGraph, NirError> {
    match net.spec.spike {
        SpikeFn::Relaxed { .. } => {
            return Err(NirError::Export(
                "network.spike is \"relaxed\" (smooth spikes); NIR neurons emit binary spikes"
                    .into(),
            ))
        }
        SpikeFn::EscapeNoise { .. } => {
            return Err(NirError::Export(
                "network.spike is \"escape_noise\" (stochastic spikes); NIR neurons are \
                 deterministic"
                    .into(),
            ))
        }
        SpikeFn::Heaviside { .. } => {}
    }
    if net.readout.spec.head_count() > 1 {
        return Err(NirError::Export(
            "network.readout.heads: a readout averaging several heads has no NIR node".into(),
        ));
    }
    if net.encoder.is_some() {
        return Err(NirError::Export(
            "the network has a LIF encoder (analog input through per-channel gain and bias), \
             which the exporter does not map yet"
                .into(),
        ));
    }
    let dt_s = net.spec.dt_ms * 1e-3;
    let meta = metadata(dt_s);
    let mut g = NirGraph {
        metadata: meta.clone(),
        ..NirGraph::default()
    };
    let add = |g: &mut NirGraph, name: &str, kind: NodeKind, metadata: Metadata| {
        g.nodes.insert(name.to_string(), Node { kind, metadata });
    };
    // A 2-D first convolution reads an image `[C, H, W]`; everything else a flat vector.
    let shape = match net.hidden.first().and_then(|l| l.conv.as_ref()) {
        Some(c) if !c.input.conv.is_one_d() => {
            let m = c.input.conv.input;
            vec![m.channels, m.height, m.width]
        }
        _ => vec![net.spec.inputs],
    };
    add(&mut g, "input", NodeKind::Input { shape }, Metadata::new());
    let mut prev = "input".to_string();
    let r_has_weights = net.readout.has_weights();
    for (k, layer) in net.hidden.iter().enumerate() {
        let delays = &layer.spec.input_delay_steps;
        if !delays.is_empty() {
            if layer.spec.dale.is_some() {
                return Err(NirError::Export(format!(
                    "hidden layer {k}: a Dale's-law layer with input delays"
                )));
            }
            // A `Delay` per input unit before the projection, in seconds.
            let name = format!("delay{k}");
            let seconds = delays.iter().map(|&d| d as f64 * dt_s).collect();
            let delay = Array::vector(seconds);
            add(&mut g, &name, NodeKind::Delay { delay }, Metadata::new());
            g.edges.push((prev, name.clone()));
            prev = name;
        }
        if layer.spec.dale.is_some() {
            prev = dale_layer(&mut g, k, layer, &prev, &meta)?;
            continue;
        }
        let mut neurons = neuron_node(k, layer)?;
        if let Some(c) = layer.conv.as_ref().filter(|c| !c.input.conv.is_one_d()) {
            // A 2-D map's neurons are `[C, H, W]`, as the convolution reading them expects.
            let m = c.input.conv.output();
            shape_neuron_params(&mut neurons, &[m.channels, m.height, m.width]);
        }
        let (fc, lif) = (format!("fc{k}"), format!("lif{k}"));
        let projection = match &layer.conv {
            Some(conv) => conv_node(&conv.input, layer.b_in.as_deref())?,
            None => affine(&layer.w_in, layer.b_in.as_deref()),
        };
        add(&mut g, &fc, projection, Metadata::new());
        let mut neuron_meta = meta.clone();
        let reset = MetaValue::Text(layer.spec.reset.name().to_string());
        neuron_meta.insert(META_RESET_MODE.to_string(), reset);
        add(&mut g, &lif, neurons, neuron_meta);
        g.edges.push((prev, fc.clone()));
        let mut current = fc;
        if let Some(pool) = layer.conv.as_ref().and_then(|c| c.input.conv.pool) {
            let name = format!("pool{k}");
            add(&mut g, &name, pool_node(k, pool)?, Metadata::new());
            g.edges.push((current, name.clone()));
            current = name;
        }
        g.edges.push((current, lif.clone()));
        if let Some(w_rec) = &layer.w_rec {
            let rec = format!("rec{k}");
            let kind = match layer.conv.as_ref().and_then(|c| c.recurrent.as_ref()) {
                Some(kernel) => conv_node(kernel, None)?,
                None => linear(w_rec),
            };
            add(&mut g, &rec, kind, Metadata::new());
            g.edges.push((lif.clone(), rec.clone()));
            g.edges.push((rec, lif.clone()));
        }
        prev = lif;
        // A map feeding a dense projection is flattened first (a reshape of our flat vectors).
        let next_is_dense = match net.hidden.get(k + 1) {
            Some(next) => next.conv.is_none(),
            None => r_has_weights,
        };
        if layer.conv.is_some() && next_is_dense {
            let flat = format!("flat{k}");
            let flatten = NodeKind::Flatten {
                start_dim: 0,
                end_dim: -1,
            };
            add(&mut g, &flat, flatten, Metadata::new());
            g.edges.push((prev, flat.clone()));
            prev = flat;
        }
    }
    let r = &net.readout;
    let size = r.spec.size;
    add(
        &mut g,
        "output",
        NodeKind::Output { shape: vec![size] },
        Metadata::new(),
    );
    if !r.has_weights() {
        // Spiking outputs: the last LIF layer is the output.
        g.edges.push((prev, "output".to_string()));
        return Ok(g);
    }
    add(
        &mut g,
        "fc_out",
        affine(&r.w, r.b.as_deref()),
        Metadata::new(),
    );
    let readout = match r.spec.kind {
        // Exponential convention: a Dirac impulse of weight w moves v by R·w (R = 1).
        ReadoutKind::Integrator => NodeKind::Integrator {
            r: Array::filled(size, 1.0),
        },
        _ => NodeKind::Leaky(Box::new(cuba(&r.tau_syn_s, &r.tau_mem_s, None))),
    };
    add(&mut g, "readout", readout, meta);
    for (a, b) in [
        (prev.as_str(), "fc_out"),
        ("fc_out", "readout"),
        ("readout", "output"),
    ] {
        g.edges.push((a.to_string(), b.to_string()));
    }
    Ok(g)
}

/// Hidden layer `k`, a Dale's-law layer of `E` excitatory and `I` inhibitory neurons
/// (`N = E + I`, [`crate::layers::dale`]), fed by node `prev`; returns the node of its output:
///
/// ```text
/// prev → fc{k} → exc{k} ─────────→ lif{k} → sel{k}    (sel: the E neurons, Linear [E, N])
///  lif{k} → rec_exc{k} → exc{k}                       (W_rec's rows of E neurons)
///  lif{k} → rec_inh{k} → inh{k} → neg{k} → lif{k}     (its rows of I neurons; Scale −1)
/// ```
///
/// `exc{k}`, `inh{k}`: `LI` of `N` neurons, `tau = r = τ_exc` (`τ_inh`), so under the
/// exponential convention `E[t] = α_e E[t−1] + e[t]`; `lif{k}`: `LIF`, `tau = τ_mem`, `r = 1`,
/// `v_leak = v_reset = 0`, `v_threshold = θ`, whose input `E − H` comes from non-spiking nodes
/// and is held over the step: `U[t] = β U[t−1] (1 − S[t−1]) + (1 − β)(E[t] − H[t])`.
fn dale_layer(
    g: &mut NirGraph,
    k: usize,
    layer: &SpikingLayer<f32>,
    prev: &str,
    meta: &Metadata,
) -> Result<String, NirError> {
    let param = |name: &str| {
        layer
            .neuron_param(name)
            .ok_or_else(|| NirError::Export(format!("hidden layer {k} (Dale's law) has no {name}")))
    };
    let (tau_mem, tau_exc, tau_inh) = (
        param("tau_mem_s")?,
        param("tau_exc_s")?,
        param("tau_inh_s")?,
    );
    let w_rec = layer
        .w_rec
        .as_ref()
        .ok_or_else(|| NirError::Export(format!("hidden layer {k} (Dale's law) has no W_rec")))?;
    if layer.conv.is_some() {
        return Err(NirError::Export(format!(
            "hidden layer {k}: a convolutional Dale's-law layer has no NIR export"
        )));
    }
    let (n, e) = (layer.neurons(), layer.size());
    // W_rec `[N, N]` with only the rows of presynaptic neurons in `keep`.
    let rows = |keep: std::ops::Range<usize>| {
        let mut w = Matrix::zeros(n, n);
        for i in keep {
            w.data[i * n..(i + 1) * n].copy_from_slice(&w_rec.data[i * n..(i + 1) * n]);
        }
        linear(&w)
    };
    let mut select = Matrix::zeros(n, e);
    (0..e).for_each(|j| select.data[j * e + j] = 1.0);
    let li = |tau: &[f32]| {
        NodeKind::Leaky(Box::new(Leaky {
            tau_syn_s: None,
            tau_mem_s: vector(tau),
            r: vector(tau),
            v_leak: Array::filled(n, 0.0),
            w_in: None,
            v_threshold: None,
            v_reset: None,
        }))
    };
    let lif = Leaky {
        tau_syn_s: None,
        tau_mem_s: vector(tau_mem),
        r: Array::filled(n, 1.0),
        v_leak: Array::filled(n, 0.0),
        w_in: None,
        v_threshold: Some(thresholds(n, layer.spec.threshold)),
        v_reset: Some(Array::filled(n, 0.0)),
    };
    let mut lif_meta = meta.clone();
    lif_meta.insert(
        META_CURRENT_INPUT.to_string(),
        MetaValue::Text(CURRENT_INPUT.to_string()),
    );
    let name = |base: &str| format!("{base}{k}");
    let nodes = [
        (
            "fc",
            affine(&layer.w_in, layer.b_in.as_deref()),
            Metadata::new(),
        ),
        ("exc", li(tau_exc), meta.clone()),
        ("inh", li(tau_inh), meta.clone()),
        ("rec_exc", rows(0..e), Metadata::new()),
        ("rec_inh", rows(e..n), Metadata::new()),
        (
            "neg",
            NodeKind::Scale {
                scale: Array::filled(n, -1.0),
            },
            Metadata::new(),
        ),
        ("lif", NodeKind::Leaky(Box::new(lif)), lif_meta),
        ("sel", linear(&select), Metadata::new()),
    ];
    for (base, kind, metadata) in nodes {
        g.nodes.insert(name(base), Node { kind, metadata });
    }
    g.edges.push((prev.to_string(), name("fc")));
    for (a, b) in [
        ("fc", "exc"),
        ("lif", "rec_exc"),
        ("rec_exc", "exc"),
        ("lif", "rec_inh"),
        ("rec_inh", "inh"),
        ("inh", "neg"),
        ("exc", "lif"),
        ("neg", "lif"),
        ("lif", "sel"),
    ] {
        g.edges.push((name(a), name(b)));
    }
    Ok(name("sel"))
}

/// Records int8 storage on the weight nodes of a graph made by [`export_network`]: each
/// `Linear` keeps its dequantized values `q · scale` (exact in float32) and gains the metadata
/// `weight_precision = "int8"` and `weight_scale`, so a deployment tool can recover `q`.
pub fn mark_int8(graph: &mut NirGraph, quantized: &QuantizedNetwork) -> Result<(), NirError> {
    let hidden = quantized.net.hidden.len();
    let mut pairs: Vec<(String, String)> = (0..hidden)
        .flat_map(|k| {
            [
                (format!("fc{k}"), format!("hidden.{k}.w_in")),
                (format!("rec{k}"), format!("hidden.{k}.w_rec")),
                (format!("rec_exc{k}"), format!("hidden.{k}.w_rec")),
                (format!("rec_inh{k}"), format!("hidden.{k}.w_rec")),
            ]
        })
        .collect();
    pairs.push(("fc_out".into(), "readout.w".into()));
    for (node, tensor) in pairs {
        let Some(n) = graph.nodes.get_mut(&node) else {
            continue;
        };
        let scale = quantized
            .scale(&tensor)
            .ok_or_else(|| NirError::Export(format!("no int8 scale for {tensor} (node {node})")))?;
        n.metadata
            .insert("weight_precision".into(), MetaValue::Text("int8".into()));
        n.metadata
            .insert("weight_scale".into(), MetaValue::Number(f64::from(scale)));
    }
    Ok(())
}

/// Records the integer form of the network ([`crate::quant::integer`]) in the metadata of a
/// graph made by [`export_network`] from the same float network:
///
/// - the graph: `integer_format = "Q15.16"`, `integer_frac_bits = 16`,
///   `integer_decay_bits = 16`, `integer_rounding` and `integer_saturation` (the rules, as text);
/// - each `Linear` (`fc{k}`, `rec{k}`, `fc_out`): `weight_precision = "int8"`, `weight_scale`,
///   `int8_weight` (the int8 values as a JSON array in the node's `[out, in]` order, row-major),
///   `requant_multiplier` and `requant_shift` (`x = (acc · M + 2^(n−1)) >> n`);
/// - each neuron node (`lif{k}`, `readout`): `integer_alpha`, `integer_beta` (the `Q0.16` decay
///   multipliers per neuron, JSON arrays), `integer_unit` (the float value of `1.0` in the
///   state format: the threshold `θ`, or 1 for the readout) and, for `lif{k}`,
///   `integer_threshold = 65536`.
///
/// The `Linear` weights stay the float network's own values.
pub fn mark_integer(graph: &mut NirGraph, int: &IntegerNetwork) -> Result<(), NirError> {
    let text = |s: &str| MetaValue::Text(s.to_string());
    let number = |v: f64| MetaValue::Number(v);
    graph.metadata.extend([
        ("integer_format".to_string(), text("Q15.16")),
        (
            "integer_frac_bits".to_string(),
            number(f64::from(FRAC_BITS)),
        ),
        (
            "integer_decay_bits".to_string(),
            number(f64::from(DECAY_BITS)),
        ),
        (
            "integer_rounding".to_string(),
            text("round_shift(v, n) = (v + 2^(n-1)) >> n (arithmetic): nearest, ties up"),
        ),
        (
            "integer_saturation".to_string(),
            text("states clamp to [-(2^31 - 1), 2^31 - 1]"),
        ),
    ]);
    for (k, layer) in int.hidden().iter().enumerate() {
        mark_weights(node_metadata(graph, &format!("fc{k}"))?, &layer.w_in);
        if let Some(w_rec) = &layer.w_rec {
            mark_weights(node_metadata(graph, &format!("rec{k}"))?, w_rec);
        }
        let meta = node_metadata(graph, &format!("lif{k}"))?;
        mark_decays(meta, &layer.decays, f64::from(layer.threshold));
        meta.insert(
            "integer_threshold".into(),
            MetaValue::Number(f64::from(STATE_ONE)),
        );
    }
    if let Some(readout) = int.readout() {
        mark_weights(node_metadata(graph, "fc_out")?, &readout.w);
        mark_decays(node_metadata(graph, "readout")?, &readout.decays, 1.0);
    }
    Ok(())
}

/// The metadata of node `name`, which the integer network needs.
fn node_metadata<'a>(graph: &'a mut NirGraph, name: &str) -> Result<&'a mut Metadata, NirError> {
    graph
        .nodes
        .get_mut(name)
        .map(|n| &mut n.metadata)
        .ok_or_else(|| NirError::Export(format!("no node {name} for the integer network")))
}

/// The int8 values (in NIR's `[out, in]` order), scale and requantisation of one matrix.
fn mark_weights(meta: &mut Metadata, w: &IntegerWeights) {
    let transposed = (0..w.cols).flat_map(|j| (0..w.rows).map(move |i| w.values[i * w.cols + j]));
    meta.insert("weight_precision".into(), MetaValue::Text("int8".into()));
    meta.insert("weight_scale".into(), MetaValue::Number(f64::from(w.scale)));
    meta.insert("int8_weight".into(), MetaValue::Text(json_list(transposed)));
    meta.insert(
        "requant_multiplier".into(),
        MetaValue::Number(f64::from(w.requant.multiplier)),
    );
    meta.insert(
        "requant_shift".into(),
        MetaValue::Number(f64::from(w.requant.shift)),
    );
}

/// The decay multipliers and the state unit of one neuron node.
fn mark_decays(meta: &mut Metadata, decays: &IntegerDecays, unit: f64) {
    let list = |v: &[i32]| MetaValue::Text(json_list(v.iter().copied()));
    meta.insert("integer_alpha".into(), list(&decays.alpha));
    meta.insert("integer_beta".into(), list(&decays.beta));
    meta.insert("integer_unit".into(), MetaValue::Number(unit));
}

/// `[a,b,c]`.
fn json_list<T: std::fmt::Display>(values: impl Iterator<Item = T>) -> String {
    let items: Vec<String> = values.map(|v| v.to_string()).collect();
    format!("[{}]", items.join(","))
}

/// The metadata written on the graph and every neuron node.
fn metadata(dt_s: f64) -> Metadata {
    let text = |s: &str| MetaValue::Text(s.to_string());
    Metadata::from([
        (META_DT.to_string(), MetaValue::Number(dt_s)),
        (
            META_DISCRETISATION.to_string(),
            text(Discretisation::Exponential.name()),
        ),
        (META_RESET.to_string(), text(RESET_RULE)),
        (META_SPIKE_INPUT.to_string(), text(SPIKE_INPUT)),
        (
            META_PRODUCER.to_string(),
            text(concat!("spikegrad ", env!("CARGO_PKG_VERSION"))),
        ),
    ])
}

/// `f32` values as `f64` (exactly).
fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

/// `f32` values as a NIR vector.
fn vector(v: &[f32]) -> Array {
    Array::vector(f64s(v))
}

/// `n` copies of the threshold the layers use: the `f32` rounding of the config value.
fn thresholds(n: usize, theta: f64) -> Array {
    Array::filled(n, f64::from(theta as f32))
}

/// Our `[in, out]` weights as a NIR `[out, in]` `Linear`.
fn linear(w: &Matrix<f32>) -> NodeKind {
    let mut data = Vec::with_capacity(w.data.len());
    for j in 0..w.cols {
        data.extend((0..w.rows).map(|i| f64::from(w.at(i, j))));
    }
    NodeKind::Linear {
        weight: Array::matrix(w.cols, w.rows, data),
    }
}

/// The NIR node of hidden layer `k`'s neurons: a `CubaLIF` for LIF neurons, an `IF` for
/// integrate-and-fire ones (its `r` the layer's: a Dirac impulse through weight `w` moves the
/// membrane by `r·w`, as ours does); other neurons have no NIR node type.
fn neuron_node(k: usize, layer: &SpikingLayer<f32>) -> Result<NodeKind, NirError> {
    let theta = layer.spec.threshold;
    match (
        layer.spec.neuron,
        layer.neuron_param("tau_syn_s"),
        layer.neuron_param("tau_mem_s"),
    ) {
        (NeuronKind::Lif, Some(tau_syn_s), Some(tau_mem_s)) => Ok(NodeKind::Leaky(Box::new(cuba(
            tau_syn_s,
            tau_mem_s,
            Some(theta),
        )))),
        (NeuronKind::IntegrateFire, _, _) => {
            let r = layer
                .neuron_param("r")
                .expect("an integrate-and-fire layer has r");
            Ok(NodeKind::IntegrateFire(Box::new(IfNeurons {
                r: vector(r),
                v_threshold: thresholds(r.len(), theta),
                v_reset: Some(Array::filled(r.len(), 0.0)),
            })))
        }
        _ => Err(NirError::Export(format!(
            "hidden layer {k} has {:?} neurons, which have no NIR node type",
            layer.spec.neuron
        ))),
    }
}

/// A `Conv1d` node (a convolution along a map of height 1) or a `Conv2d` node of `kernel`,
/// with `bias` per filter (zero without). Our bias is added after a pooling, NIR's before it,
/// so a bias before a sum over `m` outputs is divided by `m` (a mean keeps it).
fn conv_node(kernel: &TiedKernel<f32>, bias: Option<&[f32]>) -> Result<NodeKind, NirError> {
    let c = &kernel.conv;
    let scale = match c.pool {
        Some(p) if p.kind == PoolKind::Sum => 1.0 / (p.size[0] * p.size[1]) as f64,
        _ => 1.0,
    };
    let bias = bias.map_or_else(
        || vec![0.0; c.filters],
        |b| f64s(b).into_iter().map(|v| v * scale).collect(),
    );
    let weight = Array {
        shape: kernel.shape(),
        data: f64s(&kernel.kernel),
    };
    if c.is_one_d() {
        if c.pool.is_some() {
            return Err(NirError::Export(
                "a pooled 1-D convolution: NIR's pooling nodes are 2-D only".into(),
            ));
        }
        return Ok(NodeKind::Conv1d(Box::new(Conv1d {
            weight,
            bias: Array::vector(bias),
            stride: c.stride[1],
            padding: c.padding[1],
            dilation: c.dilation[1],
            groups: c.groups,
            input_length: Some(c.input.width),
        })));
    }
    Ok(NodeKind::Conv2d(Box::new(Conv2d {
        weight,
        bias: Array::vector(bias),
        stride: c.stride,
        padding: Padding2d::Zeros(c.padding),
        dilation: c.dilation,
        groups: c.groups,
        input_shape: Some([c.input.height, c.input.width]),
    })))
}

/// Gives every parameter array of a neuron node `shape` (the same values, row-major).
fn shape_neuron_params(node: &mut NodeKind, shape: &[usize]) {
    let arrays: Vec<&mut Array> = match node {
        NodeKind::Leaky(l) => {
            let l = &mut **l;
            let optional = [
                &mut l.tau_syn_s,
                &mut l.w_in,
                &mut l.v_threshold,
                &mut l.v_reset,
            ];
            let mut all = vec![&mut l.tau_mem_s, &mut l.r, &mut l.v_leak];
            all.extend(optional.into_iter().flatten());
            all
        }
        NodeKind::IntegrateFire(n) => {
            let n = &mut **n;
            let mut all = vec![&mut n.r, &mut n.v_threshold];
            all.extend(n.v_reset.as_mut());
            all
        }
        _ => Vec::new(),
    };
    for a in arrays {
        a.shape = shape.to_vec();
    }
}

/// The `SumPool2d` or `AvgPool2d` node of hidden layer `k`'s pooling.
fn pool_node(k: usize, pool: Pooling) -> Result<NodeKind, NirError> {
    Ok(NodeKind::Pool2d(Pool2d {
        kind: match pool.kind {
            PoolKind::Sum => maps2d::PoolKind::Sum,
            PoolKind::Avg => maps2d::PoolKind::Avg,
            PoolKind::Max => {
                return Err(NirError::Export(format!(
                    "hidden layer {k} max-pools its convolution; NIR has no max-pooling node"
                )))
            }
        },
        kernel: pool.size,
        stride: pool.size,
        padding: [0, 0],
    }))
}

/// A `Linear` node, or an `Affine` one with `bias`.
fn affine(w: &Matrix<f32>, bias: Option<&[f32]>) -> NodeKind {
    let NodeKind::Linear { weight } = linear(w) else {
        unreachable!("linear makes a Linear node")
    };
    match bias {
        None => NodeKind::Linear { weight },
        Some(b) => NodeKind::Affine {
            weight,
            bias: vector(b),
        },
    }
}

/// `CubaLIF` (with a threshold) or `CubaLI` of per-neuron time constants: `w_in = τ_syn`,
/// `r = 1`, `v_leak = v_reset = 0`.
fn cuba(tau_syn_s: &[f32], tau_mem_s: &[f32], threshold: Option<f64>) -> Leaky {
    let n = tau_mem_s.len();
    let theta = threshold.map(|t| thresholds(n, t));
    Leaky {
        tau_syn_s: Some(vector(tau_syn_s)),
        tau_mem_s: vector(tau_mem_s),
        r: Array::filled(n, 1.0),
        v_leak: Array::filled(n, 0.0),
        w_in: Some(vector(tau_syn_s)),
        v_reset: theta.as_ref().map(|_| Array::filled(n, 0.0)),
        v_threshold: theta,
    }
}
