//! Unit tests of the NIR module: file round trip, flattening, the discretisation mapping.

use super::convention::{discretise, DiscreteNeuron};
use super::*;
use crate::neurons::decay;

fn leaky(n: usize, tau_syn: Option<f64>, tau_mem: f64, r: f64, w_in: Option<f64>) -> Leaky {
    Leaky {
        tau_syn_s: tau_syn.map(|t| Array::filled(n, t)),
        tau_mem_s: Array::filled(n, tau_mem),
        r: Array::filled(n, r),
        v_leak: Array::filled(n, 0.0),
        w_in: w_in.map(|w| Array::filled(n, w)),
        v_threshold: Some(Array::filled(n, 1.0)),
        v_reset: None,
    }
}

fn node(kind: NodeKind) -> Node {
    Node::new(kind)
}

fn edges(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// An RSynaptic-like nested graph `rnn` between a Linear and the output.
fn nested() -> NirGraph {
    let mut inner = NirGraph::default();
    inner
        .nodes
        .insert("input".into(), node(NodeKind::Input { shape: vec![2] }));
    let mut lif = leaky(2, Some(5e-3), 1e-2, 1.0, Some(0.1));
    lif.v_reset = Some(Array::filled(2, 0.0));
    inner
        .nodes
        .insert("lif".into(), node(NodeKind::Leaky(Box::new(lif))));
    let w = Array::matrix(2, 2, vec![0.5, -0.25, 0.125, 1.0]);
    inner
        .nodes
        .insert("w_rec".into(), node(NodeKind::Linear { weight: w }));
    inner
        .nodes
        .insert("output".into(), node(NodeKind::Output { shape: vec![2] }));
    inner.edges = edges(&[
        ("input", "lif"),
        ("lif", "w_rec"),
        ("w_rec", "lif"),
        ("lif", "output"),
    ]);
    let mut g = NirGraph::default();
    g.nodes
        .insert("in".into(), node(NodeKind::Input { shape: vec![3] }));
    let weight = Array::matrix(2, 3, vec![0.1, 0.2, 0.3, -0.4, 0.5, 1.0 / 3.0]);
    let bias = Array::vector(vec![0.0, 0.0]);
    g.nodes
        .insert("fc".into(), node(NodeKind::Affine { weight, bias }));
    g.nodes
        .insert("rnn".into(), node(NodeKind::Graph(Box::new(inner))));
    let mut out = node(NodeKind::Output { shape: vec![2] });
    out.metadata
        .insert("note".into(), MetaValue::Text("hi".into()));
    out.metadata.insert("dt".into(), MetaValue::Number(1e-3));
    g.nodes.insert("out".into(), out);
    g.edges = edges(&[("in", "fc"), ("fc", "rnn"), ("rnn", "out")]);
    g.metadata
        .insert("producer".into(), MetaValue::Text("test".into()));
    g
}

#[test]
fn written_graphs_read_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.nir");
    let g = nested();
    write_nir(&path, &g).unwrap();
    assert_eq!(read_nir(&path).unwrap(), g);
}

/// `Conv2d` (padding "same" and integer pairs) and both pooling nodes write and read back.
#[test]
fn two_dimensional_map_nodes_read_back_unchanged() {
    let conv = |padding| Conv2d {
        weight: Array {
            shape: vec![2, 1, 3, 3],
            data: (0..18).map(|i| f64::from(i) * 0.25 - 2.0).collect(),
        },
        bias: Array::vector(vec![0.5, -0.5]),
        stride: [1, 1],
        padding,
        dilation: [1, 2],
        groups: 2,
        input_shape: Some([4, 5]),
    };
    let pool = |kind| Pool2d {
        kind,
        kernel: [2, 3],
        stride: [2, 1],
        padding: [0, 1],
    };
    let mut g = NirGraph::default();
    let kinds = [
        (
            "in",
            NodeKind::Input {
                shape: vec![2, 4, 5],
            },
        ),
        ("same", NodeKind::Conv2d(Box::new(conv(Padding2d::Same)))),
        (
            "zeros",
            NodeKind::Conv2d(Box::new(conv(Padding2d::Zeros([1, 2])))),
        ),
        ("sum", NodeKind::Pool2d(pool(PoolKind::Sum))),
        ("avg", NodeKind::Pool2d(pool(PoolKind::Avg))),
        ("out", NodeKind::Output { shape: vec![2] }),
    ];
    for (name, kind) in kinds {
        g.nodes.insert(name.into(), node(kind));
    }
    g.edges = edges(&[
        ("in", "same"),
        ("same", "zeros"),
        ("zeros", "sum"),
        ("sum", "avg"),
        ("avg", "out"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maps.nir");
    write_nir(&path, &g).unwrap();
    assert_eq!(read_nir(&path).unwrap(), g);
}

#[test]
fn nested_graphs_are_inlined() {
    let flat = nested().flattened().unwrap();
    let mut names: Vec<&str> = flat.nodes.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, ["fc", "in", "out", "rnn.lif", "rnn.w_rec"]);
    let mut e = flat.edges.clone();
    e.sort();
    let mut expected = edges(&[
        ("in", "fc"),
        ("fc", "rnn.lif"),
        ("rnn.lif", "rnn.w_rec"),
        ("rnn.w_rec", "rnn.lif"),
        ("rnn.lif", "out"),
    ]);
    expected.sort();
    assert_eq!(e, expected);
}

#[test]
fn dangling_and_repeated_edges_are_errors() {
    let mut g = nested();
    g.edges.push(("out".into(), "nowhere".into()));
    let e = g.check_edges().unwrap_err().to_string();
    assert!(e.contains("\"nowhere\""), "{e}");
    let mut g = nested();
    g.edges.push(("in".into(), "fc".into()));
    assert!(g.check_edges().unwrap_err().to_string().contains("twice"));
}

#[test]
fn euler_decays_are_matched_exactly_in_f32_down_to_one_half() {
    // Below 0.5 (tau < 1.44 dt) one ulp of tau moves the decay by about dt/tau ulps, so the
    // closest tau may miss by about that many.
    let dt32 = 1e-4f32;
    for i in 1..2000 {
        let target = (1.0 - f64::from(i) * 4.9e-4) as f32; // 0.9995 down to 0.02
        let got = decay(dt32, tau_for_decay(target, dt32));
        let ulps = (i64::from(got.to_bits()) - i64::from(target.to_bits())).abs();
        let allowed = if target >= 0.5 {
            0
        } else {
            (-f64::from(target).ln()).ceil() as i64 + 1
        };
        assert!(ulps <= allowed, "decay {target}: got {got} ({ulps} ulps)");
    }
    assert_eq!(decay(dt32, tau_for_decay(0.0, dt32)), 0.0);
}

#[test]
fn snntorch_parameters_map_to_unit_gains_over_one_minus_beta() {
    // What snnTorch's exporter writes for alpha = 0.8, beta = 0.9 at dt = 1e-4 (float32).
    let dt = 1e-4;
    let (a, b) = (0.8f32, 0.9f32);
    let tau_syn = f64::from((dt as f32) / (1.0 - a));
    let tau_mem = f64::from((dt as f32) / (1.0 - b));
    let l = leaky(1, Some(tau_syn), tau_mem, tau_mem / dt, Some(tau_syn / dt));
    let n = discretise("x", &l, 0, dt, dt as f32, Discretisation::ForwardEuler).unwrap();
    assert_eq!(decay(dt as f32, n.tau_syn_s), a);
    assert_eq!(decay(dt as f32, n.tau_mem_s), b);
    assert_eq!(n.gain, 1.0 / f64::from(1.0 - b));
}

#[test]
fn our_exponential_parameters_map_back_unchanged() {
    let (dt, tau_syn, tau_mem) = (1e-3, 5e-3f32, 2e-2f32);
    let (ts, tm) = (f64::from(tau_syn), f64::from(tau_mem));
    let l = leaky(1, Some(ts), tm, 1.0, Some(ts));
    let n = discretise("x", &l, 0, dt, dt as f32, Discretisation::Exponential).unwrap();
    let expected = DiscreteNeuron {
        tau_syn_s: tau_syn,
        tau_mem_s: tau_mem,
        gain: 1.0,
        drive: 0.0,
        threshold: 1.0,
    };
    assert_eq!(n, expected);
}

#[test]
fn synapse_free_lif_gets_the_membrane_impulse_gain() {
    // Exponential: v jumps by R x / tau; our update adds (1 - beta) k x, so k = R/(tau(1-beta)).
    let (dt, tau, r) = (1e-3, 4e-3, 2.0);
    let l = leaky(1, None, tau, r, None);
    let n = discretise("x", &l, 0, dt, dt as f32, Discretisation::Exponential).unwrap();
    let beta = f64::from(decay(dt as f32, tau as f32));
    assert!((n.gain - r / (tau * (1.0 - beta))).abs() < 1e-9 * n.gain);
    assert_eq!(decay(dt as f32, n.tau_syn_s), 0.0);
    // Forward Euler: v += dt/tau R x, i.e. k = (dt R / tau) / (1 - beta).
    let n = discretise("x", &l, 0, dt, dt as f32, Discretisation::ForwardEuler).unwrap();
    let beta = f64::from(decay(dt as f32, n.tau_mem_s));
    assert_eq!(beta as f32, (1.0 - dt / tau) as f32);
    assert!((n.gain - (dt * r / tau) / (1.0 - beta)).abs() < 1e-9 * n.gain);
}

#[test]
fn leak_and_reset_potentials_become_a_drive_and_a_shifted_threshold() {
    // u = v − v_reset: threshold θ − v_reset, constant drive v_leak − v_reset per step (in
    // the weighted input's units: (1 − β)·drive on the membrane in both discretisations).
    let mut l = leaky(2, None, 1e-2, 2.0, None);
    l.v_leak.data = vec![0.3, -0.5];
    l.v_reset = Some(Array::vector(vec![-0.2, 0.25]));
    for disc in [Discretisation::Exponential, Discretisation::ForwardEuler] {
        let n = discretise("lif", &l, 0, 1e-3, 1e-3, disc).unwrap();
        assert_eq!((n.drive, n.threshold), (0.5, 1.2));
        let n = discretise("lif", &l, 1, 1e-3, 1e-3, disc).unwrap();
        assert_eq!((n.drive, n.threshold), (-0.75, 0.75));
    }
    // With a synapse, only v_leak = v_reset (no drive) is expressible.
    let mut l = leaky(2, Some(5e-3), 1e-2, 1.0, None);
    l.v_leak.data = vec![0.4, -0.5];
    l.v_reset = Some(Array::vector(vec![0.4, 0.0]));
    let n = discretise("c", &l, 0, 1e-3, 1e-3, Discretisation::Exponential).unwrap();
    assert_eq!((n.drive, n.threshold), (0.0, 0.6));
    let e = discretise("lif3", &l, 1, 1e-3, 1e-3, Discretisation::Exponential).unwrap_err();
    let e = e.to_string();
    assert!(
        e.starts_with("node lif3: v_leak[1] = -0.5 differs from v_reset[1] = 0"),
        "{e}"
    );
}

#[test]
fn resets_above_the_threshold_and_unstable_euler_steps_are_rejected_by_name() {
    let mut l = leaky(1, Some(5e-3), 1e-2, 1.0, None);
    l.v_reset = Some(Array::filled(1, 1.5));
    l.v_leak = Array::filled(1, 1.5);
    let e = discretise("n", &l, 0, 1e-3, 1e-3, Discretisation::Exponential).unwrap_err();
    assert!(
        e.to_string()
            .contains("node n: v_threshold[0] - v_reset[0] = -0.5"),
        "{e}"
    );
    let l = leaky(1, Some(5e-4), 1e-2, 1.0, None);
    let e = discretise("n", &l, 0, 1e-3, 1e-3, Discretisation::ForwardEuler).unwrap_err();
    assert!(e.to_string().contains("outside [0, 1)"), "{e}");
}

#[test]
fn the_integer_network_is_recorded_in_the_metadata_and_a_foreign_graph_is_an_error() {
    use crate::network::{Network, NetworkSpec};
    use crate::quant::integer::IntegerNetwork;
    use rand::SeedableRng;
    let spec = NetworkSpec::recurrent_lif(3, 4, 2, Default::default());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut net = Network::<f32>::new(&spec, &mut rng).unwrap();
    for (k, t) in net.tensors_mut().into_iter().enumerate() {
        if t.len() > 4 {
            let n = t.len();
            *t = (0..n)
                .map(|i| (i as f32 - 3.0) * 0.1 * (k + 1) as f32)
                .collect();
        }
    }
    let int = IntegerNetwork::from_network(&net).unwrap();
    let mut g = export_network(&net).unwrap();
    mark_integer(&mut g, &int).unwrap();
    assert_eq!(
        g.metadata.get("integer_format"),
        Some(&MetaValue::Text("Q15.16".into()))
    );
    // fc0 is [out 4, in 3]: its int8 values transposed from ours, [in 3, out 4].
    let w = &int.hidden()[0].w_in;
    let want: Vec<String> = (0..4)
        .flat_map(|j| (0..3).map(move |i| w.values[i * 4 + j].to_string()))
        .collect();
    assert_eq!(
        g.nodes["fc0"].metadata.get("int8_weight"),
        Some(&MetaValue::Text(format!("[{}]", want.join(","))))
    );
    for (node, key) in [
        ("rec0", "requant_shift"),
        ("fc_out", "requant_multiplier"),
        ("lif0", "integer_threshold"),
        ("readout", "integer_unit"),
    ] {
        assert!(
            matches!(g.nodes[node].metadata.get(key), Some(MetaValue::Number(_))),
            "{node}.{key}"
        );
    }
    // A graph without the recurrent node cannot carry this network.
    let mut feed_forward = export_network(&net).unwrap();
    feed_forward.nodes.remove("rec0");
    let e = mark_integer(&mut feed_forward, &int)
        .unwrap_err()
        .to_string();
    assert!(e.contains("rec0"), "{e}");
}

/// `in → fc → a`, then `a → b` through a Linear; `extra` edges and nodes added on top.
fn two_layers(extra: &[(&str, NodeKind)], more_edges: &[(&str, &str)]) -> NirGraph {
    let mut g = NirGraph::default();
    let w = |rows, cols| NodeKind::Linear {
        weight: Array::matrix(rows, cols, vec![0.5; rows * cols]),
    };
    let lif = |n| NodeKind::Leaky(Box::new(leaky(n, Some(5e-3), 1e-2, 1.0, None)));
    for (name, kind) in [
        ("in", NodeKind::Input { shape: vec![3] }),
        ("fc", w(2, 3)),
        ("a", lif(2)),
        ("ab", w(2, 2)),
        ("b", lif(2)),
        ("out", NodeKind::Output { shape: vec![2] }),
    ]
    .into_iter()
    .chain(extra.iter().cloned())
    {
        g.nodes.insert(name.into(), node(kind));
    }
    let base = [
        ("in", "fc"),
        ("fc", "a"),
        ("a", "ab"),
        ("ab", "b"),
        ("b", "out"),
    ];
    g.edges = edges(&[&base[..], more_edges].concat());
    g
}

#[test]
fn graphs_that_are_not_chains_are_refused_by_name() {
    let opts = ImportOptions {
        dt_s: 1e-3,
        discretisation: None,
        norse_export_dt_s: None,
        reset: None,
    };
    let err = |g: &NirGraph| import_graph(g, &opts).unwrap_err().to_string();
    assert!(import_graph(&two_layers(&[], &[]), &opts).is_ok());
    // A skip connection from the input into the second population: the input feeds two.
    let skip = NodeKind::Linear {
        weight: Array::matrix(2, 3, vec![1.0; 6]),
    };
    let e = err(&two_layers(
        &[("skip", skip)],
        &[("in", "skip"), ("skip", "b")],
    ));
    assert!(e.starts_with("node in: it feeds 2 nodes (a, b)"), "{e}");
    // The first population feeding the second and the output.
    let e = err(&two_layers(&[], &[("a", "out")]));
    assert!(e.starts_with("node a: it feeds 2 nodes (b, out)"), "{e}");
    // A Scale whose length does not fit.
    let scale = NodeKind::Scale {
        scale: Array::filled(3, 2.0),
    };
    let mut g = two_layers(&[("sc", scale)], &[]);
    g.edges
        .retain(|e| e != &("ab".to_string(), "b".to_string()));
    g.edges.extend(edges(&[("ab", "sc"), ("sc", "b")]));
    let e = err(&g);
    assert!(
        e.starts_with("node sc: shape mismatch: it takes 3 inputs, but node ab gives 2"),
        "{e}"
    );
}

/// Norse's exporter writes `dt·τ` (5 ms at dt = 1 ms as 5e-6): forward-Euler import refuses
/// it with a pointer to the rescaling, which restores seconds in every neuron node, nested
/// graphs included, and leaves the other parameters alone.
#[test]
fn norse_time_constants_are_rescaled_to_seconds() {
    let mut g = nested();
    let norse = leaky(2, Some(5e-3 * 1e-3), 1e-2 * 1e-3, 1.0, None);
    g.nodes
        .insert("n".into(), node(NodeKind::Leaky(Box::new(norse.clone()))));
    let e = discretise("n", &norse, 0, 1e-3, 1e-3, Discretisation::ForwardEuler).unwrap_err();
    assert!(
        e.to_string()
            .contains("outside [0, 1) (a file from Norse's to_nir holds dt*tau"),
        "{e}"
    );
    norse_time_constants(&mut g, 1e-3);
    let NodeKind::Leaky(l) = &g.nodes["n"].kind else {
        unreachable!("inserted")
    };
    let close = |a: &Array, v: f64| a.data.iter().all(|&x| (x - v).abs() <= 1e-15);
    assert!(close(l.tau_syn_s.as_ref().unwrap(), 5e-3) && close(&l.tau_mem_s, 1e-2));
    assert_eq!(
        (&l.r, &l.w_in, &l.v_threshold),
        (&norse.r, &None, &norse.v_threshold)
    );
    let n = discretise("n", l, 0, 1e-3, 1e-3, Discretisation::ForwardEuler).unwrap();
    assert_eq!(decay(1e-3, n.tau_syn_s), 0.8);
    assert_eq!(decay(1e-3, n.tau_mem_s), 0.9);
    // The nested graph's LIF (5 ms, 10 ms) is divided too.
    let NodeKind::Graph(inner) = &g.nodes["rnn"].kind else {
        panic!("no nested graph rnn")
    };
    let NodeKind::Leaky(lif) = &inner.nodes["lif"].kind else {
        unreachable!("the nested graph's neurons")
    };
    assert!(close(&lif.tau_mem_s, 10.0) && close(lif.tau_syn_s.as_ref().unwrap(), 5.0));
}

/// `Input → conv → LIF → Output` with `conv` fed by an input of `shape`.
fn conv_graph(shape: Vec<usize>, conv: NodeKind, neurons: usize) -> NirGraph {
    let mut g = NirGraph::default();
    let lif = leaky(neurons, Some(5e-3), 1e-2, 1.0, None);
    let kinds = [
        ("in", NodeKind::Input { shape }),
        ("conv", conv),
        ("lif", NodeKind::Leaky(Box::new(lif))),
        (
            "out",
            NodeKind::Output {
                shape: vec![neurons],
            },
        ),
    ];
    for (name, kind) in kinds {
        g.nodes.insert(name.into(), node(kind));
    }
    g.edges = edges(&[("in", "conv"), ("conv", "lif"), ("lif", "out")]);
    g
}

/// Files may leave a convolution's `input_shape` out (snnTorch writes `None` before `nir`
/// infers it): import takes it from the shape of what feeds the node, and the projection is
/// the one the given shape yields; an input that is not such a map is an error naming it.
#[test]
fn convolutions_without_input_shape_take_it_from_their_input() {
    let opts = ImportOptions {
        dt_s: 1e-3,
        discretisation: None,
        norse_export_dt_s: None,
        reset: None,
    };
    let conv2d = |input_shape| Conv2d {
        weight: Array {
            shape: vec![3, 2, 2, 2],
            data: (0..24).map(|i| f64::from(i) * 0.1 - 1.0).collect(),
        },
        bias: Array::vector(vec![0.1, 0.2, 0.3]),
        stride: [1, 1],
        padding: Padding2d::Zeros([0, 0]),
        dilation: [1, 1],
        groups: 1,
        input_shape,
    };
    let conv1d = |input_length| Conv1d {
        weight: Array {
            shape: vec![2, 2, 3],
            data: (0..12).map(|i| f64::from(i) * 0.2 - 1.0).collect(),
        },
        bias: Array::vector(vec![0.0, 0.5]),
        stride: 1,
        padding: 1,
        dilation: 1,
        groups: 1,
        input_length,
    };
    let w_in = |g: &NirGraph| {
        let net = import_graph(g, &opts).unwrap().network;
        (net.hidden[0].w_in.data.clone(), net.hidden[0].b_in.clone())
    };
    let map = vec![2, 4, 5];
    let given = conv_graph(
        map.clone(),
        NodeKind::Conv2d(Box::new(conv2d(Some([4, 5])))),
        36,
    );
    let inferred = conv_graph(map, NodeKind::Conv2d(Box::new(conv2d(None))), 36);
    assert_eq!(w_in(&given), w_in(&inferred));
    let flat = conv_graph(vec![40], NodeKind::Conv2d(Box::new(conv2d(None))), 36);
    let e = import_graph(&flat, &opts).unwrap_err().to_string();
    assert!(e.contains("node conv: its input has shape [40]"), "{e}");
    let wrong = conv_graph(
        vec![2, 5, 4],
        NodeKind::Conv2d(Box::new(conv2d(Some([4, 5])))),
        36,
    );
    let e = import_graph(&wrong, &opts).unwrap_err().to_string();
    assert!(e.contains("input_shape says"), "{e}");
    // Conv1d: from a [channels, length] map or a flat input of channels · length values.
    let given = conv_graph(vec![2, 6], NodeKind::Conv1d(Box::new(conv1d(Some(6)))), 12);
    for shape in [vec![2, 6], vec![12]] {
        let inferred = conv_graph(shape, NodeKind::Conv1d(Box::new(conv1d(None))), 12);
        assert_eq!(w_in(&given), w_in(&inferred));
    }
    // Both forms write and read back.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no_shape.nir");
    let g = conv_graph(vec![2, 6], NodeKind::Conv1d(Box::new(conv1d(None))), 12);
    write_nir(&path, &g).unwrap();
    assert_eq!(read_nir(&path).unwrap(), g);
}
