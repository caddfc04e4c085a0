//! Exact RTRL computes the BPTT gradient: in f64, to 1e-9 relative, for random networks with
//! recurrence, two hidden layers (LIF and adaptive LIF), learnable time constants, relaxed and
//! surrogate spikes, both reset modes and activity regularizers.

mod common;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spikegrad::events::SpikeEvents;
use spikegrad::layers::{Input, NeuronKind, ReadoutSpec, SpikingLayerSpec};
use spikegrad::losses::{LossKind, Targets};
use spikegrad::network::{Gradients, Network, NetworkSpec};
use spikegrad::neurons::{NoiseStream, ResetGrad};
use spikegrad::regularizers::{ActivityRegularizer, BoundKind, Level, Norm};
use spikegrad::rules::{Batch, Bptt, GradientRule, Rtrl, RuleError};
use spikegrad::surrogates::{SpikeFn, Surrogate};
use spikegrad::Seq;

fn spec(inputs: usize, spike: SpikeFn, reset: ResetGrad) -> NetworkSpec {
    let layer = |size, neuron, recurrent| SpikingLayerSpec {
        size,
        neuron,
        recurrent,
        learn_tau: true,
        tau_spread: 0.3,
        tau_mem_ms: 6.0,
        tau_syn_ms: 3.0,
        reset_grad: reset,
        ..SpikingLayerSpec::default()
    };
    NetworkSpec {
        inputs,
        dt_ms: 1.0,
        spike,
        input_shape: None,
        encoder: None,
        hidden: vec![
            layer(5, NeuronKind::Lif, true),
            layer(
                4,
                NeuronKind::AdaptiveLif {
                    tau_ada_ms: 20.0,
                    strength: 0.3,
                    adaptive_fraction: 0.5,
                },
                true,
            ),
        ],
        readout: ReadoutSpec {
            size: 3,
            tau_mem_ms: 5.0,
            tau_syn_ms: 2.0,
            tau_spread: 0.2,
            learn_tau: true,
            ..ReadoutSpec::default()
        },
    }
}

fn random_network(rng: &mut ChaCha8Rng, spec: &NetworkSpec) -> Network<f64> {
    let mut net = Network::new(spec, rng).unwrap();
    common::randomize(&mut net, rng);
    net
}

fn gradients<R: GradientRule<f64>>(
    rule: &R,
    net: &Network<f64>,
    input: Input<'_, f64>,
    classes: &[usize],
    activity: &[ActivityRegularizer],
) -> Gradients<f64> {
    let batch = Batch {
        input,
        targets: Targets::Classes(classes),
        loss: LossKind::MaxOverTimeCe,
        activity,
        dropout: None,
        noise: NoiseStream::default(),
    };
    rule.gradients(net, batch).unwrap().grads
}

/// Per tensor, `max |a − b| ≤ tol · max |b|`.
fn assert_equal_gradients(
    rtrl: &Gradients<f64>,
    bptt: &Gradients<f64>,
    names: &[String],
    what: &str,
) {
    assert_eq!(rtrl.len(), bptt.len());
    for ((a, b), name) in rtrl.iter().zip(bptt).zip(names) {
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 0.0, "{what}: {name} has no gradient");
        let err = a
            .iter()
            .zip(b)
            .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
        assert!(
            err <= 1e-9 * scale,
            "{what}: {name} rel err {:e}",
            err / scale
        );
    }
}

#[test]
fn rtrl_equals_bptt_in_f64() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (steps, batch, inputs) = (12, 3, 4);
    let surrogate = SpikeFn::Heaviside {
        surrogate: Surrogate::SuperSpike { beta: 5.0 },
    };
    // A target count: every spike count has a non-zero gradient.
    let activity = [ActivityRegularizer {
        kind: BoundKind::Both,
        norm: Norm::L2,
        level: Level::PerNeuron,
        strength: 0.5,
        threshold: 2.0,
    }];
    for spike in [SpikeFn::Relaxed { beta: 4.0 }, surrogate] {
        for reset in [ResetGrad::Detached, ResetGrad::Differentiable] {
            let net = random_network(&mut rng, &spec(inputs, spike, reset));
            let names: Vec<String> = net
                .tensors()
                .iter()
                .filter(|t| t.learnable)
                .map(|t| t.name.clone())
                .collect();
            let classes: Vec<usize> = (0..batch).map(|_| rng.random_range(0..3)).collect();
            let what = format!("{spike:?} {reset:?}");
            // Dense analog input for the relaxed network, spike events for the binary one.
            let x: Vec<f64> = (0..steps * batch * inputs)
                .map(|_| rng.random_range(0.0..1.0))
                .collect();
            let x = Seq::from_vec(steps, batch, inputs, x).unwrap();
            let events = SpikeEvents::bernoulli(steps, batch, inputs, 0.4, &mut rng);
            let input = match spike {
                SpikeFn::Relaxed { .. } => Input::Dense {
                    x: &x,
                    sparse: false,
                },
                _ => Input::Events(&events),
            };
            for activity in [&[][..], &activity[..]] {
                let rtrl = gradients(&Rtrl::default(), &net, input, &classes, activity);
                let bptt = gradients(&Bptt, &net, input, &classes, activity);
                assert_equal_gradients(&rtrl, &bptt, &names, &what);
            }
        }
    }
}

#[test]
fn rtrl_refuses_networks_beyond_its_memory_limit() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let net = random_network(&mut rng, &spec(4, SpikeFn::default(), ResetGrad::Detached));
    let events = SpikeEvents::bernoulli(10, 2, 4, 0.3, &mut rng);
    let batch = Batch {
        input: Input::Events(&events),
        targets: Targets::Classes(&[0, 1]),
        loss: LossKind::MaxOverTimeCe,
        activity: &[],
        dropout: None,
        noise: NoiseStream::default(),
    };
    let rule = Rtrl {
        max_memory_mb: 1e-4,
    };
    match rule.gradients(&net, batch) {
        Err(RuleError::MemoryLimit { needed_mb, .. }) => assert!(needed_mb > 1e-4),
        other => panic!("expected a memory error, got {:?}", other.map(|g| g.loss)),
    }
}
