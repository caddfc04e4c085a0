//! e-prop with symmetric feedback computes, online, exactly the gradient of BPTT with every
//! cross-neuron term of the recurrent Jacobian removed: checked in f64 to 1e-9 for LIF and
//! adaptive LIF layers with recurrence and learned time constants, relaxed and surrogate
//! spikes, both reset modes, losses that need a first pass or not, activity regularizers and
//! any chunk length.

mod common;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spikegrad::events::SpikeEvents;
use spikegrad::layers::{Input, NeuronKind, ReadoutSpec, SpikingLayerSpec};
use spikegrad::losses::{LossKind, Targets};
use spikegrad::network::{Gradients, Network, NetworkSpec};
use spikegrad::neurons::{NoiseStream, ResetGrad};
use spikegrad::regularizers::{ActivityRegularizer, BoundKind, Level, Norm};
use spikegrad::rules::{Batch, Bptt, Eprop, Feedback, GradientRule, LocalBptt, RuleError};
use spikegrad::surrogates::{SpikeFn, Surrogate};
use spikegrad::Seq;

fn spec(inputs: usize, neuron: NeuronKind, spike: SpikeFn, reset: ResetGrad) -> NetworkSpec {
    NetworkSpec {
        inputs,
        dt_ms: 1.0,
        spike,
        input_shape: None,
        encoder: None,
        hidden: vec![SpikingLayerSpec {
            // More than one group of neurons solved side by side, the last one partial.
            size: 11,
            neuron,
            recurrent: true,
            learn_tau: true,
            tau_spread: 0.3,
            tau_mem_ms: 6.0,
            tau_syn_ms: 3.0,
            reset_grad: reset,
            ..SpikingLayerSpec::default()
        }],
        readout: ReadoutSpec {
            size: 3,
            tau_mem_ms: 5.0,
            tau_syn_ms: 2.0,
            ..ReadoutSpec::default()
        },
    }
}

fn random_network(rng: &mut ChaCha8Rng, spec: &NetworkSpec) -> Network<f64> {
    let mut net = Network::new(spec, rng).unwrap();
    common::randomize(&mut net, rng);
    net
}

struct Problem<'a> {
    input: Input<'a, f64>,
    classes: &'a [usize],
    loss: LossKind,
    activity: &'a [ActivityRegularizer],
}

fn gradients<R: GradientRule<f64>>(
    rule: &R,
    net: &Network<f64>,
    p: &Problem<'_>,
) -> Gradients<f64> {
    let batch = Batch {
        input: p.input,
        targets: Targets::Classes(p.classes),
        loss: p.loss,
        activity: p.activity,
        dropout: None,
        noise: NoiseStream::default(),
    };
    rule.gradients(net, batch).unwrap().grads
}

fn max_rel_err(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 0.0, "no gradient");
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

#[test]
fn symmetric_eprop_equals_bptt_without_cross_neuron_terms() {
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    let (steps, batch, inputs) = (14, 3, 4);
    let surrogate = SpikeFn::Heaviside {
        surrogate: Surrogate::SuperSpike { beta: 5.0 },
    };
    let adaptive = NeuronKind::AdaptiveLif {
        tau_ada_ms: 20.0,
        strength: 0.3,
        adaptive_fraction: 0.5,
    };
    let activity = [ActivityRegularizer {
        kind: BoundKind::Both,
        norm: Norm::L2,
        level: Level::PerNeuron,
        strength: 0.5,
        threshold: 2.0,
    }];
    let classes: Vec<usize> = (0..batch).map(|b| b % 3).collect();
    for neuron in [NeuronKind::Lif, adaptive] {
        for spike in [SpikeFn::Relaxed { beta: 4.0 }, surrogate] {
            for reset in [ResetGrad::Detached, ResetGrad::Differentiable] {
                let net = random_network(&mut rng, &spec(inputs, neuron, spike, reset));
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
                let losses = [LossKind::MaxOverTimeCe, LossKind::LastStepsCe { steps: 5 }];
                for (loss, activity) in losses.into_iter().zip([&[][..], &activity[..]]) {
                    let p = Problem {
                        input,
                        classes: &classes,
                        loss,
                        activity,
                    };
                    let reference = gradients(&LocalBptt, &net, &p);
                    let exact = gradients(&Bptt, &net, &p);
                    for chunk_steps in [1, 5, steps] {
                        let eprop = Eprop::new(Feedback::Symmetric, chunk_steps, &net, 0);
                        let got = gradients(&eprop, &net, &p);
                        assert_eq!(got.len(), reference.len());
                        for (k, (g, r)) in got.iter().zip(&reference).enumerate() {
                            let what = format!("{neuron:?} {spike:?} {reset:?} {loss:?} K={chunk_steps} tensor {k}");
                            let err = max_rel_err(g, r);
                            assert!(err < 1e-9, "{what}: rel err {err:e}");
                        }
                    }
                    // The approximation is not the exact gradient (the recurrent weights matter).
                    assert!(max_rel_err(&reference[0], &exact[0]) > 1e-6);
                }
            }
        }
    }
}

#[test]
fn random_feedback_changes_the_hidden_gradient_only() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let spike = SpikeFn::Heaviside {
        surrogate: Surrogate::SuperSpike { beta: 5.0 },
    };
    let net = random_network(
        &mut rng,
        &spec(4, NeuronKind::Lif, spike, ResetGrad::Detached),
    );
    let events = SpikeEvents::bernoulli(20, 2, 4, 0.4, &mut rng);
    let p = Problem {
        input: Input::Events(&events),
        classes: &[0, 2],
        loss: LossKind::MaxOverTimeCe,
        activity: &[],
    };
    let symmetric = gradients(&Eprop::new(Feedback::Symmetric, 8, &net, 0), &net, &p);
    let random = Eprop::new(Feedback::Random, 8, &net, 0);
    assert_eq!(
        random,
        Eprop::new(Feedback::Random, 8, &net, 0),
        "drawn from the seed"
    );
    assert_ne!(random, Eprop::new(Feedback::Random, 8, &net, 1));
    let got = gradients(&random, &net, &p);
    let last = got.len() - 1;
    assert!(
        max_rel_err(&got[last], &symmetric[last]) < 1e-12,
        "the readout's is exact"
    );
    assert!(
        max_rel_err(&got[0], &symmetric[0]) > 1e-3,
        "the hidden layer's is not"
    );
}

#[test]
fn eprop_refuses_what_it_does_not_cover() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut two = spec(4, NeuronKind::Lif, SpikeFn::default(), ResetGrad::Detached);
    two.hidden.push(two.hidden[0].clone());
    let mut spread = spec(4, NeuronKind::Lif, SpikeFn::default(), ResetGrad::Detached);
    spread.readout.tau_spread = 0.2;
    let events = SpikeEvents::bernoulli(10, 2, 4, 0.4, &mut rng);
    for s in [two, spread] {
        let net = random_network(&mut rng, &s);
        let batch = Batch {
            input: Input::Events(&events),
            targets: Targets::Classes(&[0, 1]),
            loss: LossKind::MaxOverTimeCe,
            activity: &[],
            dropout: None,
            noise: NoiseStream::default(),
        };
        let rule = Eprop::new(Feedback::Symmetric, 4, &net, 0);
        assert!(matches!(
            rule.gradients(&net, batch),
            Err(RuleError::Unsupported { .. })
        ));
    }
}

/// Configs that pair e-prop or RTRL with what they do not cover are refused before training,
/// naming the field.
#[test]
fn configs_pairing_rules_with_unsupported_networks_are_refused() {
    use spikegrad::config::ExperimentConfig;
    let eprop = "{ kind = \"eprop\" }";
    let cases = [
        (
            eprop,
            "network.hidden[0].dropout=0.1",
            "network.hidden[0].dropout",
        ),
        (eprop, "network.readout.learn_tau=true", "network.readout"),
        (
            "{ kind = \"rtrl\" }",
            "network.hidden[0].dropout=0.2",
            "network.hidden[0].dropout",
        ),
        (
            "{ kind = \"eprop\", chunk_steps = 0 }",
            "seed=1",
            "training.rule.chunk_steps",
        ),
    ];
    for (rule, set, field) in cases {
        let (key, value) = set.split_once('=').unwrap();
        let text = format!("[training]\nrule = {rule}\n");
        let text = match key {
            "network.hidden[0].dropout" => format!("{text}[[network.hidden]]\ndropout = {value}\n"),
            "network.readout.learn_tau" => {
                format!("{text}[network.readout]\nlearn_tau = {value}\n")
            }
            _ => text,
        };
        let config: ExperimentConfig = toml::from_str(&text).unwrap();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains(field), "{err}");
    }
}
