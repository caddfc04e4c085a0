//! The integer path against its scalar reference (bit for bit) and against the float model
//! (spike and prediction agreement); what it refuses.

use super::*;
use crate::data::{generate_randman, AnalogDataset, AnalogSample, Dataset, RandmanConfig};
use crate::events::SpikeEvents;
use crate::layers::{EncoderSpec, Input, NeuronKind, ReadoutKind, ReadoutSpec, SpikingLayerSpec};
use crate::losses::{self, LossKind, Targets};
use crate::network::NetworkSpec;
use crate::neurons::ResetMode;
use crate::surrogates::EscapeNoise;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn layer(size: usize, recurrent: bool, tau_spread: f64) -> SpikingLayerSpec {
    SpikingLayerSpec {
        size,
        recurrent,
        tau_spread,
        tau_mem_ms: 20.0,
        tau_syn_ms: 10.0,
        ..SpikingLayerSpec::default()
    }
}

fn spec(inputs: usize, hidden: Vec<SpikingLayerSpec>, outputs: usize) -> NetworkSpec {
    NetworkSpec {
        inputs,
        dt_ms: 2.0,
        hidden,
        readout: ReadoutSpec {
            size: outputs,
            tau_mem_ms: 100.0,
            tau_syn_ms: 10.0,
            ..ReadoutSpec::default()
        },
        ..NetworkSpec::default()
    }
}

/// A network of `spec` with uniform weights: `±a_in / √rows` feed-forward (and into the
/// readout), `±a_rec / √rows` recurrent.
fn random_net(spec: &NetworkSpec, seed: u64, a_in: f32, a_rec: f32) -> Network<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut net = Network::<f32>::new(spec, &mut rng).unwrap();
    let mut fill = |m: &mut crate::tensor::Matrix<f32>, a: f32| {
        let bound = a / (m.rows as f32).sqrt();
        m.data
            .iter_mut()
            .for_each(|w| *w = rng.random_range(-bound..bound));
    };
    for l in &mut net.hidden {
        fill(&mut l.w_in, a_in);
        if let Some(w) = &mut l.w_rec {
            fill(w, a_rec);
        }
    }
    if net.readout.has_weights() {
        fill(&mut net.readout.w, a_in);
    }
    net
}

fn input(steps: usize, batch: usize, width: usize, seed: u64) -> SpikeEvents {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    SpikeEvents::bernoulli(steps, batch, width, 0.08, &mut rng)
}

fn dense(events: &SpikeEvents) -> Vec<Vec<Vec<u8>>> {
    let mut x = vec![vec![vec![0u8; events.width]; events.batch]; events.steps];
    for (t, step) in x.iter_mut().enumerate() {
        for (b, row) in step.iter_mut().enumerate() {
            for &i in events.row(t * events.batch + b) {
                row[i as usize] = 1;
            }
        }
    }
    x
}

/// The networks both comparisons run on: feed-forward, recurrent, two heterogeneous layers,
/// spiking output, one whose states saturate (a tiny threshold), and a recurrent layer reset by
/// subtraction (before and after the leak).
fn networks(seed: u64) -> Vec<(&'static str, Network<f32>)> {
    let ff = spec(20, vec![layer(24, false, 0.0)], 5);
    let rec = spec(20, vec![layer(24, true, 0.0)], 5);
    let mut subtract = rec.clone();
    subtract.hidden[0].reset = ResetMode::Subtract;
    let mut after_leak = rec.clone();
    after_leak.hidden[0].reset = ResetMode::SubtractAfterLeak;
    let deep = spec(20, vec![layer(24, true, 0.4), layer(16, false, 0.4)], 5);
    let mut spiking = spec(20, vec![layer(24, false, 0.2), layer(5, true, 0.0)], 5);
    spiking.readout.kind = ReadoutKind::Spikes;
    // Hidden currents of about 10⁶ thresholds per input spike, readout weights of about 10⁵.
    let mut saturating = spec(20, vec![layer(8, true, 0.0)], 3);
    saturating.hidden[0].threshold = 1e-4;
    let mut saturating = random_net(&saturating, seed, 500.0, 500.0);
    saturating
        .readout
        .w
        .data
        .iter_mut()
        .for_each(|w| *w *= 1000.0);
    vec![
        ("feed-forward", random_net(&ff, seed, 6.0, 0.0)),
        ("recurrent", random_net(&rec, seed, 6.0, 3.0)),
        ("two layers", random_net(&deep, seed, 6.0, 3.0)),
        ("spiking output", random_net(&spiking, seed, 6.0, 3.0)),
        ("saturating", saturating),
        ("subtract reset", random_net(&subtract, seed, 6.0, 3.0)),
        (
            "subtract after leak",
            random_net(&after_leak, seed, 6.0, 3.0),
        ),
    ]
}

#[test]
fn forward_reproduces_the_reference_bit_for_bit() {
    for seed in 0..4 {
        for (name, net) in networks(seed) {
            let int = IntegerNetwork::from_network(&net).unwrap();
            let x = input(60, 3, 20, seed);
            let trace = int.forward(&x).unwrap();
            let (hidden, output) = reference::run(&int, &dense(&x));
            for (k, ((_, spikes), want)) in trace.hidden.iter().zip(&hidden).enumerate() {
                assert_eq!(spikes, want, "{name}, seed {seed}: layer {k} spikes");
            }
            assert_eq!(trace.output, output, "{name}, seed {seed}: output");
            let count: usize = trace.hidden[0].1.iter().map(|&s| usize::from(s)).sum();
            assert!(count > 0, "{name}, seed {seed}: silent network");
            if name == "saturating" {
                // The readout membrane approaches its saturated current (it cannot reach it:
                // the last rounding step stalls).
                let max = output.iter().map(|v| v.unsigned_abs()).max().unwrap();
                assert!(max > STATE_MAX as u32 / 2, "the case must saturate: {max}");
            }
        }
    }
}

#[test]
fn heterogeneous_time_constants_give_per_neuron_multipliers() {
    let net = random_net(&spec(4, vec![layer(8, false, 0.5)], 2), 1, 1.0, 0.0);
    let int = IntegerNetwork::from_network(&net).unwrap();
    let decays = &int.hidden()[0].decays;
    let tau = net.hidden[0].neuron_param("tau_mem_s").unwrap();
    for (j, &b) in decays.beta.iter().enumerate() {
        let want = (f64::from((-0.002f32 / tau[j]).exp()) * 65536.0).round() as i32;
        assert_eq!(b, want, "neuron {j}");
    }
    assert!(decays.beta.windows(2).any(|w| w[0] != w[1]));
}

/// Spike agreement and prediction agreement of the integer and the float network on random
/// input (printed; run with `--nocapture` to see them).
#[test]
fn integer_spikes_and_predictions_agree_with_the_float_model() {
    for (name, min_spikes, min_predictions) in [
        ("feed-forward", 0.99, 0.9),
        ("recurrent", 0.97, 0.85),
        ("two layers", 0.97, 0.85),
        ("subtract reset", 0.97, 0.85),
        ("subtract after leak", 0.97, 0.85),
    ] {
        let (mut agree, mut total, mut same, mut samples) = (0u64, 0u64, 0usize, 0usize);
        for seed in 0..4 {
            let net = networks(seed)
                .into_iter()
                .find(|(n, _)| *n == name)
                .unwrap()
                .1;
            let int = IntegerNetwork::from_network(&net).unwrap();
            let x = input(100, 16, 20, seed + 100);
            let trace = int.forward(&x).unwrap();
            let float = net.forward::<ChaCha8Rng>(Input::Events(&x), None);
            for ((_, spikes), layer) in trace.hidden.iter().zip(&float.hidden) {
                let f = &layer.spikes().data;
                agree += spikes
                    .iter()
                    .zip(f)
                    .filter(|(&s, &f)| (s != 0) == (f > 0.0))
                    .count() as u64;
                total += spikes.len() as u64;
            }
            let classes = vec![0; x.batch];
            let kind = LossKind::MaxOverTimeCe;
            let want = losses::compute(kind, float.output(), Targets::Classes(&classes)).unwrap();
            let got = Readoff::Max.predictions(&trace.output, x.steps, x.batch, trace.outputs);
            same += got
                .iter()
                .zip(&want.predictions)
                .filter(|(a, b)| a == b)
                .count();
            samples += x.batch;
        }
        let spikes = agree as f64 / total as f64;
        let predictions = same as f64 / samples as f64;
        eprintln!("{name}: spike agreement {spikes:.4}, same predictions {predictions:.3}");
        assert!(spikes >= min_spikes, "{name}: spike agreement {spikes}");
        assert!(
            predictions >= min_predictions,
            "{name}: prediction agreement {predictions}"
        );
    }
}

#[test]
fn evaluation_reports_both_models_on_a_dataset() {
    let config = RandmanConfig {
        nb_classes: 3,
        nb_samples: 20,
        nb_steps: 50,
        ..RandmanConfig::default()
    };
    let data = Dataset::Events(generate_randman(&config).unwrap());
    let net = random_net(&spec(20, vec![layer(24, true, 0.0)], 3), 7, 6.0, 3.0);
    let int = IntegerNetwork::from_network(&net).unwrap();
    let indices: Vec<usize> = (0..data.len()).collect();
    let scope = EvalScope {
        data: &data,
        indices: &indices,
        steps: 50,
        batch_size: 7,
        loss: LossKind::MaxOverTimeCe,
    };
    let eval = evaluate(&int, &net, scope).unwrap();
    assert_eq!(eval.samples, data.len());
    let (acc, float_acc) = (eval.accuracy().unwrap(), eval.float_accuracy().unwrap());
    assert!((0.0..=1.0).contains(&acc) && (0.0..=1.0).contains(&float_acc));
    assert!(eval.mean_loss().is_finite() && eval.float_mean_loss().is_finite());
    assert!(eval.spike_agreement().unwrap() > 0.9, "{eval:?}");
    assert_eq!(eval.spike_decisions, (50 * data.len() * 24) as u64);
    assert_eq!(eval.rates_hz().len(), 1);
    // Without class scores (MSE needs value targets: an error, not a panic).
    let scope = EvalScope {
        loss: LossKind::Mse,
        ..scope
    };
    assert!(evaluate(&int, &net, scope).is_err());
}

#[test]
fn what_the_integer_path_cannot_run_is_an_error_naming_it() {
    let message = |net: &Network<f32>| {
        IntegerNetwork::from_network(net)
            .expect_err("must be refused")
            .to_string()
    };
    let mut adaptive = spec(4, vec![layer(3, false, 0.0), layer(3, false, 0.0)], 2);
    adaptive.hidden[1].neuron = NeuronKind::AdaptiveLif {
        tau_ada_ms: 100.0,
        strength: 0.1,
        adaptive_fraction: 1.0,
    };
    let e = message(&random_net(&adaptive, 0, 1.0, 0.0));
    assert!(
        e.contains("hidden layer 1") && e.contains("AdaptiveLif"),
        "{e}"
    );
    let mut relaxed = spec(4, vec![layer(3, false, 0.0)], 2);
    relaxed.spike = SpikeFn::Relaxed { beta: 5.0 };
    assert!(message(&random_net(&relaxed, 0, 1.0, 0.0)).contains("relaxed"));
    let mut noisy = spec(4, vec![layer(3, false, 0.0)], 2);
    noisy.spike = SpikeFn::EscapeNoise {
        noise: EscapeNoise::Sigmoid { beta: 10.0 },
        surrogate: None,
    };
    assert!(message(&random_net(&noisy, 0, 1.0, 0.0)).contains("stochastic"));
    let mut encoded = spec(4, vec![layer(3, false, 0.0)], 2);
    encoded.encoder = Some(EncoderSpec::default());
    assert!(message(&random_net(&encoded, 0, 1.0, 0.0)).contains("encoder"));
    let mut biased = spec(4, vec![layer(3, false, 0.0)], 2);
    biased.hidden[0].bias = true;
    assert!(message(&random_net(&biased, 0, 1.0, 0.0)).contains("hidden[0].bias"));

    let net = random_net(&spec(4, vec![layer(3, false, 0.0)], 2), 0, 1.0, 0.0);
    let int = IntegerNetwork::from_network(&net).unwrap();
    let e = int.forward(&input(5, 1, 6, 0)).unwrap_err().to_string();
    assert!(e.contains("6 channels"), "{e}");
    let sample = AnalogSample {
        values: vec![0.5; 4 * 3],
        class: 0,
    };
    let analog = Dataset::Analog(AnalogDataset::new(vec![sample], 4, 2, 2e-3).unwrap());
    let scope = EvalScope {
        data: &analog,
        indices: &[0],
        steps: 3,
        batch_size: 1,
        loss: LossKind::MaxOverTimeCe,
    };
    let e = evaluate(&int, &net, scope).unwrap_err().to_string();
    assert!(e.contains("analog"), "{e}");
}
