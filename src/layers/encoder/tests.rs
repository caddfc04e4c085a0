//! Gradient checks of the encoder's gain and bias against central finite differences (f64,
//! relaxed spikes), on the encoder alone and through a whole network, and a check that the
//! comparison fails when a term of the chain rule is wrong.

use super::*;
use crate::layers::{Input, ReadoutSpec, SpikingLayerSpec};
use crate::network::{Network, NetworkSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const H: f64 = 1e-6;

fn spec(current: EncoderCurrent, tau_syn_ms: f64) -> EncoderSpec {
    EncoderSpec {
        fan_out: 2,
        tau_mem_ms: 4.0,
        tau_syn_ms,
        current,
        gain_mean: 1.5,
        gain_std: 1.0,
        bias_mean: 0.5,
        bias_std: 0.5,
        reset_grad: ResetGrad::Differentiable,
        ..EncoderSpec::default()
    }
}

fn random_seq(rng: &mut ChaCha8Rng, steps: usize, batch: usize, width: usize) -> Seq<f64> {
    let data = (0..steps * batch * width)
        .map(|_| rng.random_range(-1.0..2.0))
        .collect();
    Seq::from_vec(steps, batch, width, data).unwrap()
}

fn encoder(current: EncoderCurrent, tau_syn_ms: f64, rng: &mut ChaCha8Rng) -> LifEncoder<f64> {
    let spike = SpikeFn::Relaxed { beta: 3.0 };
    let mut enc = LifEncoder::new(&spec(current, tau_syn_ms), 3, 1e-3, spike);
    enc.draw(rng);
    enc
}

/// `L = Σ d · S_encoder`.
fn encoder_loss(enc: &LifEncoder<f64>, x: &Seq<f64>, d: &Seq<f64>) -> f64 {
    let trace = enc.forward(x);
    trace
        .spikes()
        .data
        .iter()
        .zip(&d.data)
        .map(|(s, d)| s * d)
        .sum()
}

/// Largest relative error of `grads` (`[gain, bias]`) against central differences of `loss`.
fn worst_error(
    enc: &LifEncoder<f64>,
    grads: &[Vec<f64>],
    loss: impl Fn(&LifEncoder<f64>) -> f64,
) -> f64 {
    let mut worst: f64 = 0.0;
    for (p, grad) in grads.iter().enumerate() {
        for (i, &got) in grad.iter().enumerate() {
            let perturbed = |delta: f64| {
                let mut e = enc.clone();
                e.params_mut()[p][i] += delta;
                loss(&e)
            };
            let fd = (perturbed(H) - perturbed(-H)) / (2.0 * H);
            worst = worst.max((got - fd).abs() / fd.abs().max(1e-3));
        }
    }
    worst
}

#[test]
fn gain_and_bias_gradients_match_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for current in [EncoderCurrent::Affine, EncoderCurrent::Shifted] {
        for tau_syn_ms in [0.0, 3.0] {
            let enc = encoder(current, tau_syn_ms, &mut rng);
            let x = random_seq(&mut rng, 9, 2, 3);
            let d = random_seq(&mut rng, 9, 2, enc.width());
            let grads = enc.backward(&x, &enc.forward(&x), &d);
            assert!(grads.iter().flatten().any(|g| g.abs() > 1e-3));
            let err = worst_error(&enc, &grads, |e| encoder_loss(e, &x, &d));
            assert!(
                err < 1e-6,
                "{current:?}, τ_syn {tau_syn_ms} ms: error {err:e}"
            );
        }
    }
}

#[test]
fn a_wrong_chain_rule_term_is_detected() {
    // The forward pass uses I = g·(x + b); the gradient takes the partials of I = g·x + b
    // (∂I/∂g = x instead of x + b, ∂I/∂b = 1 instead of g). The check must reject it.
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let enc = encoder(EncoderCurrent::Shifted, 0.0, &mut rng);
    let x = random_seq(&mut rng, 9, 2, 3);
    let d = random_seq(&mut rng, 9, 2, enc.width());
    let trace = enc.forward(&x);
    let g_current = scan::backward(&trace.model, &trace.scan, &d, None)
        .kept_input()
        .clone();
    let loss = |e: &LifEncoder<f64>| encoder_loss(e, &x, &d);
    let (g, b) = enc.param_grads(&x, &g_current, EncoderCurrent::Shifted);
    assert!(worst_error(&enc, &[g, b], loss) < 1e-6);
    let (g, b) = enc.param_grads(&x, &g_current, EncoderCurrent::Affine);
    let err = worst_error(&enc, &[g, b], loss);
    assert!(err > 1e-2, "the wrong term went unnoticed: error {err:e}");
}

fn network(rng: &mut ChaCha8Rng, current: EncoderCurrent) -> Network<f64> {
    let spec = NetworkSpec {
        inputs: 3,
        dt_ms: 1.0,
        spike: SpikeFn::Relaxed { beta: 3.0 },
        input_shape: None,
        encoder: Some(spec(current, 0.0)),
        hidden: vec![SpikingLayerSpec {
            size: 4,
            recurrent: true,
            tau_mem_ms: 6.0,
            tau_syn_ms: 3.0,
            reset_grad: ResetGrad::Differentiable,
            ..SpikingLayerSpec::default()
        }],
        readout: ReadoutSpec {
            size: 2,
            tau_mem_ms: 5.0,
            tau_syn_ms: 2.0,
            ..ReadoutSpec::default()
        },
    };
    let mut net = Network::new(&spec, rng).unwrap();
    net.encoder.as_mut().unwrap().draw(rng);
    let hidden = &mut net.hidden[0];
    let scale = 3.0 / (hidden.w_in.rows as f64).sqrt();
    for w in &mut hidden.w_in.data {
        *w = rng.random_range(-0.5..1.5) * scale;
    }
    for w in &mut hidden.w_rec.as_mut().unwrap().data {
        *w = rng.random_range(-0.6..0.6);
    }
    for w in &mut net.readout.w.data {
        *w = rng.random_range(-1.0..1.0);
    }
    net
}

#[test]
fn gradients_reach_the_encoder_through_the_network() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for current in [EncoderCurrent::Affine, EncoderCurrent::Shifted] {
        let net = network(&mut rng, current);
        let x = random_seq(&mut rng, 8, 2, 3);
        let c = random_seq(&mut rng, 8, 2, 2);
        let input = Input::Dense {
            x: &x,
            sparse: false,
        };
        let loss = |n: &Network<f64>| -> f64 {
            let trace = n.forward::<ChaCha8Rng>(input, None);
            trace
                .output()
                .data
                .iter()
                .zip(&c.data)
                .map(|(a, b)| a * b)
                .sum()
        };
        let grads = net.backward(input, &net.forward::<ChaCha8Rng>(input, None), &c, &[]);
        let names: Vec<String> = net.tensors().iter().map(|t| t.name.clone()).collect();
        assert_eq!(names[..2], ["encoder.gain", "encoder.bias"]);
        // Every learnable tensor, encoder first, against central differences.
        for (k, grad) in grads.iter().enumerate() {
            for (i, &got) in grad.iter().enumerate() {
                let perturbed = |delta: f64| {
                    let mut n = net.clone();
                    n.learnable_mut()[k][i] += delta;
                    loss(&n)
                };
                let fd = (perturbed(H) - perturbed(-H)) / (2.0 * H);
                let err = (got - fd).abs() / fd.abs().max(1e-3);
                assert!(err < 1e-6, "{current:?} tensor {k}[{i}]: {got:e} vs {fd:e}");
            }
        }
        assert!(grads[0].iter().chain(&grads[1]).any(|g| g.abs() > 1e-3));
    }
}

#[test]
fn the_tutorial_encoder_equation_holds_step_by_step() {
    // τ_syn = 0: U[t] = β U[t−1] (1 − S[t−1]) + (1 − β) I[t], S = H(U − 1), I = g·(x + b).
    let spec = EncoderSpec {
        fan_out: 1,
        tau_mem_ms: 20.0,
        current: EncoderCurrent::Shifted,
        ..EncoderSpec::default()
    };
    let spike = SpikeFn::default();
    let mut enc = LifEncoder::<f64>::new(&spec, 1, 1e-3, spike);
    enc.gain = vec![2.0];
    enc.bias = vec![10.0];
    let x = Seq::from_vec(60, 1, 1, vec![0.5; 60]).unwrap();
    let spikes = enc.forward(&x).spikes().data.clone();
    let beta = (-1.0f64 / 20.0).exp();
    let (mut u, mut s_prev, mut expected) = (0.0, 0.0, Vec::new());
    for _ in 0..60 {
        u = beta * u * (1.0 - s_prev) + (1.0 - beta) * 2.0 * (0.5 + 10.0);
        s_prev = if u > 1.0 { 1.0 } else { 0.0 };
        expected.push(s_prev);
    }
    assert_eq!(spikes, expected);
    // I = 21 gives U[0] = 21 (1 − β) = 1.02 > 1: a spike at the very first step.
    assert_eq!(spikes[0], 1.0);
    assert!(spikes.iter().sum::<f64>() > 20.0);
}

#[test]
fn invalid_specs_name_the_field() {
    let bad = |f: fn(&mut EncoderSpec)| {
        let mut s = EncoderSpec::default();
        f(&mut s);
        s.validate("network.encoder").unwrap_err().field
    };
    assert_eq!(bad(|s| s.fan_out = 0), "network.encoder.fan_out");
    assert_eq!(bad(|s| s.tau_mem_ms = 0.0), "network.encoder.tau_mem_ms");
    assert_eq!(bad(|s| s.tau_syn_ms = -1.0), "network.encoder.tau_syn_ms");
    assert_eq!(bad(|s| s.gain_std = f64::NAN), "network.encoder.gain_std");
    assert_eq!(
        bad(|s| s.bias_mean = f64::INFINITY),
        "network.encoder.bias_mean"
    );
}
