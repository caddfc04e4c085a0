//! Whole-network gradient checks: every learnable tensor against central finite differences,
//! in f64 with relaxed spikes and a differentiable reset.

use super::*;
use crate::events::SpikeEvents;
use crate::layers::{NeuronKind, ReadoutHead};
use crate::neurons::{ResetGrad, ResetMode};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn spec(inputs: usize) -> NetworkSpec {
    let layer = |size, neuron, recurrent| SpikingLayerSpec {
        size,
        neuron,
        recurrent,
        learn_tau: true,
        tau_spread: 0.3,
        tau_mem_ms: 6.0,
        tau_syn_ms: 3.0,
        reset_grad: ResetGrad::Differentiable,
        ..SpikingLayerSpec::default()
    };
    // The first layer subtracts its threshold after the leak, the third before it, the
    // others reset to zero.
    let reset = |reset, l: SpikingLayerSpec| SpikingLayerSpec { reset, ..l };
    let subtract = |l| reset(ResetMode::Subtract, l);
    NetworkSpec {
        inputs,
        dt_ms: 1.0,
        spike: SpikeFn::Relaxed { beta: 4.0 },
        input_shape: None,
        encoder: None,
        hidden: vec![
            reset(
                ResetMode::SubtractAfterLeak,
                layer(4, NeuronKind::Lif, true),
            ),
            layer(
                3,
                NeuronKind::AdaptiveLif {
                    tau_ada_ms: 20.0,
                    strength: 0.3,
                    adaptive_fraction: 1.0,
                },
                true,
            ),
            subtract(layer(3, NeuronKind::Lif, false)),
            layer(
                2,
                NeuronKind::Prospective {
                    tau_ada_ms: 3.0,
                    horizon_ms: None,
                    form: crate::neurons::ProspectiveForm::Spiking,
                },
                true,
            ),
        ],
        readout: ReadoutSpec {
            size: 2,
            tau_mem_ms: 5.0,
            tau_syn_ms: 2.0,
            tau_spread: 0.2,
            learn_tau: true,
            ..ReadoutSpec::default()
        },
    }
}

/// [`spec`] with the last hidden layer's spikes as the output.
fn spiking_output_spec(inputs: usize) -> NetworkSpec {
    let mut s = spec(inputs);
    s.readout.kind = ReadoutKind::Spikes;
    s
}

fn random_network(rng: &mut ChaCha8Rng, inputs: usize) -> Network<f64> {
    random_network_of(&spec(inputs), rng)
}

fn random_network_of(spec: &NetworkSpec, rng: &mut ChaCha8Rng) -> Network<f64> {
    let mut net = Network::new(spec, rng).unwrap();
    for layer in &mut net.hidden {
        let scale = 3.0 / (layer.w_in.rows as f64).sqrt();
        layer
            .w_in
            .data
            .iter_mut()
            .for_each(|w| *w = rng.random_range(-0.5..1.5) * scale);
        if let Some(w) = &mut layer.w_rec {
            w.data
                .iter_mut()
                .for_each(|w| *w = rng.random_range(-0.6..0.6));
        }
    }
    net.readout
        .w
        .data
        .iter_mut()
        .for_each(|w| *w = rng.random_range(-1.0..1.0));
    net
}

/// `L = Σ c·U_readout + Σ_k Σ d_k·cnt_k`, with `d_k` `[B, N]` on hidden layer `k`'s spike
/// counts.
fn loss(net: &Network<f64>, x: &Seq<f64>, c: &Seq<f64>, d: &[Vec<f64>]) -> f64 {
    let trace = net.forward::<ChaCha8Rng>(Input::Dense { x, sparse: false }, None);
    let mut l: f64 = trace
        .output()
        .data
        .iter()
        .zip(&c.data)
        .map(|(a, b)| a * b)
        .sum();
    for (layer, d) in trace.hidden.iter().zip(d) {
        for step in layer.spikes().data.chunks(d.len()) {
            l += step.iter().zip(d).map(|(a, b)| a * b).sum::<f64>();
        }
    }
    l
}

#[test]
fn every_learnable_tensor_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let net = random_network_of(&spec(5), &mut rng);
    let names: Vec<String> = net.tensors().into_iter().map(|t| t.name).collect();
    assert!(names.contains(&"hidden.1.tau_ada_s".to_string()));
    assert_matches_finite_differences(&net, &mut rng);
}

/// With spiking outputs the loss reads the last layer's (relaxed) spikes directly: the
/// gradient enters that layer's spike train, and the readout has no parameters.
#[test]
fn integrator_readouts_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let mut s = spec(5);
    s.readout.kind = ReadoutKind::Integrator;
    s.readout.learn_tau = false;
    s.readout.bias = true;
    let net = random_network_of(&s, &mut rng);
    let readout: Vec<String> = (net.tensors().into_iter())
        .filter(|t| t.name.starts_with("readout"))
        .map(|t| t.name)
        .collect();
    assert_eq!(readout, ["readout.w", "readout.b"]);
    assert_matches_finite_differences(&net, &mut rng);
    s.readout.learn_tau = true;
    let err = s.validate().unwrap_err();
    assert_eq!(err.field, "network.readout.kind", "{err}");
}

/// `s` with binary spikes and detached resets (the event path's setting).
fn binary_detached(mut s: NetworkSpec) -> NetworkSpec {
    s.spike = SpikeFn::default();
    s.hidden
        .iter_mut()
        .for_each(|l| l.reset_grad = ResetGrad::Detached);
    s
}

/// [`spec`] with input delays on the first two layers (from the input, from a layer).
fn delayed_spec() -> NetworkSpec {
    let mut s = spec(5);
    s.hidden[0].input_delay_steps = vec![0, 1, 3, 0, 2];
    s.hidden[1].input_delay_steps = vec![2, 0, 1, 4];
    s
}

#[test]
fn input_delays_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let net = random_network_of(&delayed_spec(), &mut rng);
    assert_matches_finite_differences(&net, &mut rng);
    let mut wrong = delayed_spec();
    wrong.hidden[1].input_delay_steps.pop();
    let err = Network::<f64>::new(&wrong, &mut rng).unwrap_err();
    assert_eq!(err.field, "network.hidden[1].input_delay_steps", "{err}");
}

#[test]
fn input_delays_shift_the_current_and_the_event_path_equals_the_dense_one() {
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let s = binary_detached(delayed_spec());
    let net = random_network_of(&s, &mut rng);
    assert_event_path_equals_dense_path(&net, &mut rng);
    // The first layer's current is the undelayed one of inputs moved by their delays.
    let x = SpikeEvents::bernoulli(12, 2, 5, 0.3, &mut rng);
    let layer = &net.hidden[0];
    let delayed = layer.project(Input::Events(&x));
    let mut plain = layer.clone();
    plain.spec.input_delay_steps.clear();
    let dense: Seq<f64> = x.to_dense();
    let mut shifted = Seq::zeros(12, 2, 5);
    for t in 0..12 {
        for b in 0..2 {
            for (i, &d) in s.hidden[0].input_delay_steps.iter().enumerate() {
                if t >= d {
                    shifted.data[(t * 2 + b) * 5 + i] = dense.data[((t - d) * 2 + b) * 5 + i];
                }
            }
        }
    }
    let expected = plain.project(Input::Dense {
        x: &shifted,
        sparse: false,
    });
    for (a, b) in delayed.data.iter().zip(&expected.data) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
}

#[test]
fn spiking_outputs_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let net = random_network_of(&spiking_output_spec(5), &mut rng);
    assert!(net.tensors().iter().all(|t| !t.name.starts_with("readout")));
    assert_matches_finite_differences(&net, &mut rng);
}

/// Biased projections: every layer's `b_in` and the readout's `b` against finite differences.
#[test]
fn biases_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let mut s = spec(5);
    s.hidden.iter_mut().for_each(|l| l.bias = true);
    s.readout.bias = true;
    let mut net = random_network_of(&s, &mut rng);
    for b in net.hidden.iter_mut().filter_map(|l| l.b_in.as_mut()) {
        b.iter_mut().for_each(|v| *v = rng.random_range(-0.3..0.3));
    }
    let names: Vec<String> = net.tensors().into_iter().map(|t| t.name).collect();
    for k in 0..4 {
        assert!(names.contains(&format!("hidden.{k}.b_in")), "{names:?}");
    }
    assert!(names.contains(&"readout.b".to_string()));
    assert_matches_finite_differences(&net, &mut rng);
    let rtrl = crate::rules::RuleKind::Rtrl {
        max_memory_mb: 100.0,
    };
    let (field, _) = rtrl.check_network(&s).unwrap_err();
    assert_eq!(field, "network.hidden[0].bias");
}

/// Integrate-and-fire layers (recurrent, and feeding a LIF layer): every tensor against
/// finite differences, and the event path against the dense one; their only neuron
/// parameter, the resistance `r`, is a constant.
#[test]
fn integrate_and_fire_layers_match_finite_differences_and_the_dense_path() {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let mut s = spec(5);
    s.hidden.truncate(1);
    s.hidden.insert(0, s.hidden[0].clone());
    s.hidden[0].neuron = NeuronKind::IntegrateFire;
    s.hidden[0].threshold = 2.0;
    let net = random_network_of(&s, &mut rng);
    let tensors = net.tensors();
    let r = tensors.iter().find(|t| t.name == "hidden.0.r").unwrap();
    assert!(!r.learnable && r.data.iter().all(|&v| v == 1.0));
    assert!(!tensors.iter().any(|t| t.name.starts_with("hidden.0.tau")));
    assert_matches_finite_differences(&net, &mut rng);
    s.spike = SpikeFn::default();
    s.hidden[0].reset_grad = ResetGrad::Detached;
    s.hidden[1].reset_grad = ResetGrad::Detached;
    let net = random_network_of(&s, &mut rng);
    assert_event_path_equals_dense_path(&net, &mut rng);
    let e = net
        .clone()
        .initialize(&WeightInit::default(), &mut rng)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("network.hidden[0]: fluctuation-driven"),
        "{e}"
    );
}

/// [`spec`] with a readout averaging three heads of different time constants.
fn heads_spec(inputs: usize) -> NetworkSpec {
    let mut s = spec(inputs);
    s.readout.heads = [(5.0, 2.0), (3.0, 1.5), (8.0, 4.0)]
        .map(|(tau_mem_ms, tau_syn_ms)| ReadoutHead {
            tau_mem_ms,
            tau_syn_ms,
        })
        .to_vec();
    s
}

/// Readout heads: the mean over heads backpropagates into every head's weights and learned
/// time constants.
#[test]
fn readout_heads_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let net = random_network_of(&heads_spec(5), &mut rng);
    assert_eq!(net.readout.w.cols, 6);
    assert_eq!(net.readout.units(), 6);
    assert_matches_finite_differences(&net, &mut rng);
}

/// The output is the heads' mean: each head alone (the same weights and time constants in a
/// one-head readout) gives one term of it.
#[test]
fn readout_heads_average_the_heads_run_alone() {
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let net = random_network_of(&heads_spec(5), &mut rng);
    let x = Seq::from_vec(7, 2, 5, (0..70).map(|i| (i as f64 * 0.37).sin()).collect()).unwrap();
    let input = || Input::Dense {
        x: &x,
        sparse: false,
    };
    let all = net.forward::<ChaCha8Rng>(input(), None);
    let (n, heads) = (2, 3);
    let mut sum = vec![0.0; all.output().data.len()];
    for h in 0..heads {
        let mut one = net.clone();
        one.readout.spec.heads.clear();
        let cols: Vec<usize> = (h * n..(h + 1) * n).collect();
        let w = &net.readout.w;
        let data = (0..w.rows)
            .flat_map(|r| cols.iter().map(move |&c| w.at(r, c)))
            .collect();
        one.readout.w = crate::tensor::Matrix::from_vec(w.rows, n, data).unwrap();
        one.readout.tau_mem_s = cols.iter().map(|&c| net.readout.tau_mem_s[c]).collect();
        one.readout.tau_syn_s = cols.iter().map(|&c| net.readout.tau_syn_s[c]).collect();
        let alone = one.forward::<ChaCha8Rng>(input(), None);
        for (s, v) in sum.iter_mut().zip(&alone.output().data) {
            *s += v / heads as f64;
        }
    }
    for (a, b) in all.output().data.iter().zip(&sum) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
    assert!(all.output().data.iter().any(|v| v.abs() > 1e-3));
}

#[test]
fn readout_heads_are_refused_where_unsupported() {
    let mut s = heads_spec(5);
    s.readout.heads[1].tau_syn_ms = 0.0;
    assert_eq!(
        s.validate().unwrap_err().field,
        "network.readout.heads[1].tau_syn_ms"
    );
    let mut s = spiking_output_spec(5);
    s.readout.heads = heads_spec(5).readout.heads;
    assert_eq!(s.validate().unwrap_err().field, "network.readout.heads");
    let rtrl = crate::rules::RuleKind::Rtrl {
        max_memory_mb: 100.0,
    };
    let (field, _) = rtrl.check_network(&heads_spec(5)).unwrap_err();
    assert_eq!(field, "network.readout.heads");
}

#[test]
fn spiking_outputs_are_the_last_layers_spikes() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let net = random_network_of(&spiking_output_spec(5), &mut rng);
    let x = Seq::from_vec(6, 2, 5, (0..60).map(|i| (i as f64 * 0.3).cos()).collect()).unwrap();
    let trace = net.forward::<ChaCha8Rng>(
        Input::Dense {
            x: &x,
            sparse: false,
        },
        None,
    );
    assert_eq!(trace.output().data, trace.hidden[3].spikes().data);
    let mut s = spiking_output_spec(5);
    s.readout.size = 3;
    assert_eq!(s.validate().unwrap_err().field, "network.readout.size");
    s.hidden.clear();
    assert_eq!(s.validate().unwrap_err().field, "network.readout.kind");
}

fn assert_matches_finite_differences(net: &Network<f64>, rng: &mut ChaCha8Rng) {
    let (steps, batch, inputs) = (7, 2, net.spec.inputs);
    let net = net.clone();
    let mut random_seq = |w| {
        let data = (0..steps * batch * w)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        Seq::from_vec(steps, batch, w, data).unwrap()
    };
    let x = random_seq(inputs);
    let c = random_seq(2);
    let d: Vec<Vec<f64>> = net
        .hidden
        .iter()
        .map(|l| random_seq(l.size()).step(0).to_vec())
        .collect();

    let trace = net.forward::<ChaCha8Rng>(
        Input::Dense {
            x: &x,
            sparse: false,
        },
        None,
    );
    let extra: Vec<Option<Vec<f64>>> = d.iter().cloned().map(Some).collect();
    let grads = net.backward(
        Input::Dense {
            x: &x,
            sparse: false,
        },
        &trace,
        &c,
        &extra,
    );

    let names: Vec<String> = net
        .tensors()
        .iter()
        .filter(|t| t.learnable)
        .map(|t| t.name.clone())
        .collect();
    assert_eq!(names.len(), grads.len());
    assert!(grads.iter().flatten().any(|g| g.abs() > 1e-6));
    // Central differences with one Richardson step (error O(h⁴)): the time constants are
    // milliseconds, where a plain O(h²) difference is not accurate to 1e-6.
    let h = 1e-5;
    for (k, name) in names.iter().enumerate() {
        for (i, &got) in grads[k].iter().enumerate() {
            let perturbed = |delta: f64| {
                let mut n = net.clone();
                n.learnable_mut()[k][i] += delta;
                // A convolutional layer's matrices follow its kernels.
                n.hidden.iter_mut().for_each(SpikingLayer::rebuild_conv);
                loss(&n, &x, &c, &d)
            };
            let central = |h: f64| (perturbed(h) - perturbed(-h)) / (2.0 * h);
            let fd = (4.0 * central(h / 2.0) - central(h)) / 3.0;
            let err = (got - fd).abs() / fd.abs().max(1e-3);
            assert!(
                err < 1e-6,
                "{name}[{i}]: backward {got:e}, finite difference {fd:e}"
            );
        }
    }
}

#[test]
fn masked_connections_get_no_gradient() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut net = random_network(&mut rng, 5);
    let mask: Vec<f64> = (0..net.hidden[0].w_in.data.len())
        .map(|i| (i % 2) as f64)
        .collect();
    net.hidden[0].mask_in = Some(mask.clone());
    let out_mask: Vec<f64> = (0..net.readout.w.data.len())
        .map(|i| ((i + 1) % 2) as f64)
        .collect();
    net.readout.mask = Some(out_mask.clone());
    let x = Seq::from_vec(
        4,
        1,
        5,
        (0..20).map(|i| (i as f64 * 0.7).sin() + 0.5).collect(),
    )
    .unwrap();
    let trace = net.forward::<ChaCha8Rng>(
        Input::Dense {
            x: &x,
            sparse: false,
        },
        None,
    );
    let g = Seq::from_vec(4, 1, 2, vec![1.0; 8]).unwrap();
    let grads = net.backward(
        Input::Dense {
            x: &x,
            sparse: false,
        },
        &trace,
        &g,
        &[],
    );
    for (gw, m) in grads[0].iter().zip(&mask) {
        if *m == 0.0 {
            assert_eq!(*gw, 0.0);
        }
    }
    assert!(grads[0].iter().any(|g| *g != 0.0));
    // The readout's gradients come last: w, then its learned τ_mem and τ_syn.
    let g_out = &grads[grads.len() - 3];
    assert_eq!(g_out.len(), out_mask.len());
    for (gw, m) in g_out.iter().zip(&out_mask) {
        if *m == 0.0 {
            assert_eq!(*gw, 0.0);
        }
    }
    assert!(g_out.iter().any(|g| *g != 0.0));
}

#[test]
fn invalid_specs_name_the_field() {
    let mut s = spec(3);
    s.hidden[1].tau_mem_ms = 0.0;
    let err = Network::<f32>::new(&s, &mut ChaCha8Rng::seed_from_u64(0)).unwrap_err();
    assert_eq!(err.field, "network.hidden[1].tau_mem_ms");
    let mut s = spec(3);
    s.dt_ms = f64::NAN;
    assert_eq!(s.validate().unwrap_err().field, "network.dt_ms");
    let mut s = spec(3);
    s.hidden[0].dropout = 1.0;
    assert_eq!(s.validate().unwrap_err().field, "network.hidden[0].dropout");
}

/// The event-driven products (input events, hidden spikes gathered) give the same forward
/// pass and gradients as dense products, with Heaviside spikes and surrogate gradients.
#[test]
fn event_path_equals_dense_path() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let mut s = spec(12);
    s.spike = SpikeFn::default();
    s.hidden
        .iter_mut()
        .for_each(|l| l.reset_grad = ResetGrad::Detached);
    let mut net = Network::<f64>::new(&s, &mut rng).unwrap();
    for layer in &mut net.hidden {
        layer
            .w_in
            .data
            .iter_mut()
            .for_each(|w| *w = rng.random_range(-0.5..2.5));
        if let Some(w) = &mut layer.w_rec {
            w.data
                .iter_mut()
                .for_each(|w| *w = rng.random_range(-0.5..0.5));
        }
    }
    net.readout
        .w
        .data
        .iter_mut()
        .for_each(|w| *w = rng.random_range(-1.0..1.0));
    assert_event_path_equals_dense_path(&net, &mut rng);
}

/// Input events and gathered hidden spikes give the dense path's outputs and gradients.
fn assert_event_path_equals_dense_path(net: &Network<f64>, rng: &mut ChaCha8Rng) {
    let (steps, batch) = (30, 3);
    let pairs: Vec<(u32, u32)> = (0..200)
        .map(|_| {
            (
                rng.random_range(0..(steps * batch) as u32),
                rng.random_range(0..net.spec.inputs as u32),
            )
        })
        .collect();
    let events = SpikeEvents::from_pairs(steps, batch, net.spec.inputs, &pairs);
    let dense: Seq<f64> = events.to_dense();
    let g = Seq::from_vec(
        steps,
        batch,
        2,
        (0..steps * batch * 2).map(|i| (i as f64).cos()).collect(),
    )
    .unwrap();

    let ev_in = Input::Events(&events);
    let dense_in = Input::Dense {
        x: &dense,
        sparse: false,
    };
    let t_ev = net.forward::<ChaCha8Rng>(ev_in, None);
    let t_dense = net.forward::<ChaCha8Rng>(dense_in, None);
    assert_eq!(t_ev.output(), t_dense.output());
    assert!(
        t_ev.hidden[0].spikes().data.contains(&1.0),
        "hidden layer is silent"
    );
    let g_ev = net.backward(ev_in, &t_ev, &g, &[]);
    let g_dense = net.backward(dense_in, &t_dense, &g, &[]);
    for (a, b) in g_ev.iter().flatten().zip(g_dense.iter().flatten()) {
        assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "{a} vs {b}");
    }
}

/// The event-driven training step (input events, gathered hidden spikes) gives the gradients of
/// the dense reference (every product a dense matrix product) in f32, on an SHD-like network
/// with Heaviside spikes, a recurrent layer and max-over-time cross-entropy.
#[test]
fn event_driven_gradients_equal_the_dense_reference_in_f32() {
    use crate::losses::{self, LossKind, Targets};
    use crate::surrogates::Surrogate;
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let (inputs, hidden, outputs, steps, batch) = (200, 64, 10, 60, 16);
    let spec = NetworkSpec::recurrent_lif(
        inputs,
        hidden,
        outputs,
        SpikeFn::Heaviside {
            surrogate: Surrogate::SuperSpike { beta: 100.0 },
        },
    );
    let mut net = Network::<f32>::new(&spec, &mut rng).unwrap();
    let scale = |n: usize| 4.0 / (n as f32).sqrt();
    net.hidden[0]
        .w_in
        .data
        .iter_mut()
        .for_each(|w| *w = rng.random_range(-1.0..1.6) * scale(inputs));
    let w_rec = net.hidden[0].w_rec.as_mut().unwrap();
    w_rec
        .data
        .iter_mut()
        .for_each(|w| *w = rng.random_range(-1.0..1.0) * scale(hidden));
    net.readout
        .w
        .data
        .iter_mut()
        .for_each(|w| *w = rng.random_range(-1.0..1.0) / 8.0);
    let events = SpikeEvents::bernoulli(steps, batch, inputs, 0.03, &mut rng);
    let dense_x: Seq<f32> = events.to_dense();
    let labels: Vec<usize> = (0..batch).map(|_| rng.random_range(0..outputs)).collect();

    let grads = |net: &Network<f32>, input: Input<f32>| {
        let trace = net.forward::<ChaCha8Rng>(input, None);
        let rate: f32 =
            trace.hidden[0].spikes().data.iter().sum::<f32>() / (steps * batch * hidden) as f32;
        assert!(rate > 0.005 && rate < 0.2, "hidden rate {rate}");
        let loss = losses::compute(
            LossKind::MaxOverTimeCe,
            trace.output(),
            Targets::Classes(&labels),
        )
        .unwrap();
        net.backward(input, &trace, &loss.grad, &[])
    };
    let fast = grads(&net, Input::Events(&events));
    let mut reference = net.clone();
    reference.products = Products::Dense;
    let slow = grads(
        &reference,
        Input::Dense {
            x: &dense_x,
            sparse: false,
        },
    );
    for (k, (a, b)) in fast.iter().zip(&slow).enumerate() {
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0, "tensor {k} has no gradient");
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-5 * scale,
                "tensor {k}: {x} vs {y} (scale {scale})"
            );
        }
    }
}

#[test]
fn bound_weights_clips_weights_only() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut net = random_network(&mut rng, 5);
    let before: Vec<(String, Vec<f64>)> = net
        .tensors()
        .iter()
        .map(|t| (t.name.clone(), t.data.to_vec()))
        .collect();
    let bound = 0.05;
    net.bound_weights(bound);
    let mut clipped = 0;
    for (t, (name, old)) in net.tensors().iter().zip(&before) {
        let weight = name.ends_with(".w_in") || name.ends_with(".w_rec") || name == "readout.w";
        for (&new, &old) in t.data.iter().zip(old) {
            if weight {
                assert_eq!(new, old.clamp(-bound, bound), "{name}");
                clipped += usize::from(new != old);
            } else {
                assert_eq!(new, old, "{name} is not a weight");
            }
        }
    }
    assert!(clipped > 0, "the bound must bite");
}

#[test]
fn kaiming_input_gain_scales_only_the_first_input_weights() {
    let spec = NetworkSpec::recurrent_lif(700, 256, 20, SpikeFn::default());
    let mut net = Network::<f64>::new(&spec, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
    let init = WeightInit::KaimingNormal {
        gain: 1.0,
        input_gain: Some(2.0),
    };
    net.initialize(&init, &mut ChaCha8Rng::seed_from_u64(1))
        .unwrap();
    let std = |w: &[f64]| (w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64).sqrt();
    let layer = &net.hidden[0];
    let w_rec = &layer.w_rec.as_ref().unwrap().data;
    // 179 200, 65 536 and 5 120 draws: within 3% of the expected standard deviations.
    assert!((std(&layer.w_in.data) * 700f64.sqrt() / 2.0 - 1.0).abs() < 0.03);
    assert!((std(w_rec) * 16.0 - 1.0).abs() < 0.03);
    assert!((std(&net.readout.w.data) * 16.0 - 1.0).abs() < 0.03);
    let bad = WeightInit::KaimingNormal {
        gain: 1.0,
        input_gain: Some(-2.0),
    };
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("init.input_gain"));
}

mod conv;
