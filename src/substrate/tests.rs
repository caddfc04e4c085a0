//! Checks of the substrate emulation: an ideal chip is the nominal network, the emulated
//! thresholds, leaks, gains and quantisation follow a direct per-neuron simulation spike for
//! spike, and the in-the-loop gradient approximates the device's own surrogate gradient
//! better than the nominal one does.

use super::*;
use crate::events::SpikeEvents;
use crate::layers::Input;
use crate::losses::{self, LossKind, Targets};
use crate::network::{Network, NetworkSpec};
use crate::neurons::NoiseStream;
use crate::rules::{Batch, Bptt, GradientRule, InTheLoop};
use crate::surrogates::SpikeFn;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const STEPS: usize = 60;
const BATCH: usize = 4;
const INPUTS: usize = 12;
const HIDDEN: usize = 10;
const OUTPUTS: usize = 3;

/// A recurrent LIF network with random weights that fires at a moderate rate.
fn network(seed: u64) -> Network<f64> {
    let spike = SpikeFn::Heaviside {
        surrogate: crate::surrogates::Surrogate::SuperSpike { beta: 10.0 },
    };
    let spec = NetworkSpec::recurrent_lif(INPUTS, HIDDEN, OUTPUTS, spike);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut net = Network::<f64>::new(&spec, &mut rng).unwrap();
    for w in &mut net.hidden[0].w_in.data {
        *w = rng.random_range(-0.6..1.2);
    }
    for w in &mut net.hidden[0].w_rec.as_mut().unwrap().data {
        *w = rng.random_range(-0.3..0.3);
    }
    for w in &mut net.readout.w.data {
        *w = rng.random_range(-0.5..0.5);
    }
    net
}

fn events(seed: u64) -> SpikeEvents {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    SpikeEvents::bernoulli(STEPS, BATCH, INPUTS, 0.08, &mut rng)
}

const LABELS: [usize; BATCH] = [0, 2, 1, 1];

fn batch<'a>(input: Input<'a, f64>) -> Batch<'a, f64> {
    Batch {
        input,
        targets: Targets::Classes(&LABELS),
        loss: LossKind::MaxOverTimeCe,
        activity: &[],
        dropout: None,
        noise: NoiseStream(7),
    }
}

#[test]
fn an_ideal_chip_is_the_nominal_network() {
    let net = network(1);
    let ev = events(2);
    let chip = Chip::draw(&SubstrateConfig::ideal(), &net).unwrap();
    let device = chip.device(&net).unwrap();
    let on_device = device.forward_in::<ChaCha8Rng>(Input::Events(&ev), None, NoiseStream(3));
    let nominal = net.forward::<ChaCha8Rng>(Input::Events(&ev), None);
    assert_eq!(on_device.output().data, nominal.output().data);
    assert!(nominal.hidden[0].spike_count() > 10.0);
    let rule = InTheLoop { chip };
    let a = rule.gradients(&net, batch(Input::Events(&ev))).unwrap();
    let b = Bptt.gradients(&net, batch(Input::Events(&ev))).unwrap();
    assert_eq!(a.grads, b.grads);
    assert_eq!(a.loss, b.loss);
}

/// A direct simulation of the chip's first hidden layer, neuron by neuron, from its
/// documented equations in device units: `I ← α_i I + Σ_j g_ij Q(w)_ij x_j + u_i θ (1 − α_i)`,
/// `U ← β_i U (1 − S) + (1 − β_i) I`, `S = H(U − r_i θ)`.
struct Reference {
    spikes: Vec<bool>,
    membrane: Vec<f64>,
}

#[test]
fn thresholds_leaks_gains_and_bits_follow_a_direct_simulation() {
    let mut net = network(4);
    net.hidden[0].w_rec = None;
    net.hidden[0].spec.recurrent = false;
    let ev = events(5);
    let config = SubstrateConfig {
        chip_seed: 9,
        current_noise: 0.0,
        threshold_spread: 0.3,
        leak_spread: 0.2,
        ..SubstrateConfig::default()
    };
    let chip = Chip::draw(&config, &net).unwrap();
    let device = chip.device(&net).unwrap();
    let trace = device.forward_in::<ChaCha8Rng>(Input::Events(&ev), None, NoiseStream(0));
    let p = &chip.hidden[0];
    let mut w = net.hidden[0].w_in.data.clone();
    chip::quantise(&mut w, config.weight_bits);
    let levels = w.iter().filter(|v| **v != 0.0).count();
    assert!(levels > 0);
    let x = ev.to_dense::<f64>();
    let dt_s = 1e-3;
    let theta = net.hidden[0].spec.threshold;
    let nominal_tau_mem = net.hidden[0].neuron_param("tau_mem_s").unwrap().to_vec();
    let nominal_tau_syn = net.hidden[0].neuron_param("tau_syn_s").unwrap().to_vec();
    let reference = |b: usize, i: usize| {
        let alpha = (-dt_s / (nominal_tau_syn[i] * p.tau_syn[i])).exp();
        let beta = (-dt_s / (nominal_tau_mem[i] * p.tau_mem[i])).exp();
        let (mut cur, mut mem, mut spike) = (0.0, 0.0, false);
        let mut out = Reference {
            spikes: Vec::new(),
            membrane: Vec::new(),
        };
        for t in 0..STEPS {
            let row = &x.data[(t * BATCH + b) * INPUTS..(t * BATCH + b + 1) * INPUTS];
            let drive: f64 = (0..INPUTS)
                .map(|j| p.gain_in[j * HIDDEN + i] * w[j * HIDDEN + i] * row[j])
                .sum();
            cur = alpha * cur + drive + p.leak[i] * theta * (1.0 - alpha);
            mem = beta * mem * if spike { 0.0 } else { 1.0 } + (1.0 - beta) * cur;
            spike = mem > p.threshold[i] * theta;
            out.spikes.push(spike);
            out.membrane.push(mem);
        }
        out
    };
    let spikes = trace.hidden[0].spikes();
    let membrane = trace.hidden[0].membrane();
    let mut fired = 0;
    for b in 0..BATCH {
        for i in 0..HIDDEN {
            let r = reference(b, i);
            for t in 0..STEPS {
                let at = (t * BATCH + b) * HIDDEN + i;
                assert_eq!(spikes.data[at] > 0.5, r.spikes[t], "spike b{b} n{i} t{t}");
                let normalised = r.membrane[t] / p.threshold[i];
                assert!(
                    (membrane.data[at] - normalised).abs() < 1e-9,
                    "membrane b{b} n{i} t{t}"
                );
                fired += usize::from(r.spikes[t]);
            }
        }
    }
    assert!(fired > 20, "the check needs spikes ({fired})");
}

/// The in-the-loop gradient is the nominal adjoint on the device's trajectory; it approximates
/// the device's own surrogate gradient (BPTT through the device network, mapped back to the
/// nominal weights through the gains and thresholds) closer than nominal BPTT does.
#[test]
fn the_in_the_loop_gradient_tracks_the_device_gradient() {
    let net = network(6);
    let ev = events(7);
    let config = SubstrateConfig {
        chip_seed: 3,
        weight_bits: 0,
        current_noise: 0.0,
        ..SubstrateConfig::default()
    };
    let chip = Chip::draw(&config, &net).unwrap();
    let device = chip.device(&net).unwrap();
    let input = Input::Events(&ev);
    let exact = Bptt.gradients(&device.net, batch(input)).unwrap();
    // ∂L/∂w_nominal = ∂L/∂w_device · g / r (column i of the input and recurrent weights).
    let p = &chip.hidden[0];
    let map = |g: &[f64], gains: &[f64], thresholds: &[f64]| -> Vec<f64> {
        g.iter()
            .enumerate()
            .map(|(k, v)| v * gains[k] / thresholds[k % HIDDEN])
            .collect()
    };
    let ones = vec![1.0; OUTPUTS];
    let names: Vec<String> = net.tensors().iter().map(|t| t.name.to_string()).collect();
    let exact: Vec<Vec<f64>> = names
        .iter()
        .zip(&exact.grads)
        .map(|(name, g)| match name.as_str() {
            "hidden.0.w_in" => map(g, &p.gain_in, &p.threshold),
            "hidden.0.w_rec" => map(g, p.gain_rec.as_ref().unwrap(), &p.threshold),
            "readout.w" => map(g, &chip.readout.gain, &ones),
            _ => g.clone(),
        })
        .collect();
    let in_loop = InTheLoop { chip }.gradients(&net, batch(input)).unwrap();
    let nominal = Bptt.gradients(&net, batch(input)).unwrap();
    let flat = |g: &[Vec<f64>]| -> Vec<f64> { g.iter().flatten().copied().collect() };
    let cosine = |a: &[f64], b: &[f64]| {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let n = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        dot / (n(a) * n(b))
    };
    let exact = flat(&exact);
    let loop_cos = cosine(&flat(&in_loop.grads), &exact);
    let nominal_cos = cosine(&flat(&nominal.grads), &exact);
    assert!(loop_cos > 0.8, "in the loop {loop_cos}");
    assert!(
        loop_cos > nominal_cos,
        "in the loop {loop_cos}, nominal {nominal_cos}"
    );
    let loss = losses::compute(
        LossKind::MaxOverTimeCe,
        device
            .forward_in::<ChaCha8Rng>(input, None, NoiseStream(0))
            .output(),
        Targets::Classes(&LABELS),
    )
    .unwrap();
    assert_eq!(in_loop.loss, loss.loss, "the loss is the device's");
}

#[test]
fn the_chip_is_fixed_by_its_seed_and_the_noise_by_the_stream() {
    let net = network(8);
    let ev = events(9);
    let config = SubstrateConfig::default();
    let a = Chip::draw(&config, &net).unwrap();
    assert_eq!(a, Chip::draw(&config, &net).unwrap());
    let other = SubstrateConfig {
        chip_seed: 1,
        ..config
    };
    assert_ne!(a, Chip::draw(&other, &net).unwrap());
    let device = a.device(&net).unwrap();
    let run = |s| {
        device
            .forward_in::<ChaCha8Rng>(Input::Events(&ev), None, NoiseStream(s))
            .output()
            .data
            .clone()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

#[test]
fn unsupported_networks_and_settings_are_errors() {
    let mut net = network(10);
    let bad = SubstrateConfig {
        weight_bits: 1,
        ..SubstrateConfig::default()
    };
    assert!(matches!(
        Chip::draw(&bad, &net),
        Err(SubstrateError::Config(_))
    ));
    let negative = SubstrateConfig {
        threshold_spread: -0.1,
        ..SubstrateConfig::default()
    };
    assert!(matches!(
        Chip::draw(&negative, &net),
        Err(SubstrateError::Config(_))
    ));
    let chip = Chip::draw(&SubstrateConfig::default(), &net).unwrap();
    net.hidden[0].spec.neuron = crate::neurons::NeuronKind::AdaptiveLif {
        tau_ada_ms: 100.0,
        strength: 0.1,
        adaptive_fraction: 1.0,
    };
    assert!(matches!(
        chip.device(&net),
        Err(SubstrateError::Unsupported { .. })
    ));
    let wider = network(11);
    let mut spec = wider.spec.clone();
    spec.hidden[0].size = HIDDEN + 1;
    let wider = Network::<f64>::new(&spec, &mut ChaCha8Rng::seed_from_u64(0)).unwrap();
    assert!(matches!(chip.device(&wider), Err(SubstrateError::Shape(_))));
}
