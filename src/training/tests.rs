//! Quantization-aware training: the straight-through gradient.

use super::*;
use crate::data::{generate_randman, RandmanConfig};
use crate::network::{NetworkSpec, WeightInit};
use crate::optimizers::OptimizerKind;
use crate::quant::Quantization;

fn setup() -> (Dataset, Network<f32>, TrainingConfig, usize) {
    let data = generate_randman(&RandmanConfig {
        nb_classes: 3,
        nb_samples: 8,
        nb_steps: 40,
        ..Default::default()
    })
    .unwrap();
    let spec = NetworkSpec::recurrent_lif(data.channels, 24, 3, Default::default());
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut net = Network::<f32>::new(&spec, &mut rng).unwrap();
    let nu_hz = data.mean_rate_hz(&[0, 1, 2, 3]).unwrap();
    net.initialize(&WeightInit::default().resolved(nu_hz), &mut rng)
        .unwrap();
    let config = TrainingConfig {
        batch_size: 24,
        optimizer: OptimizerKind::Sgd {
            lr: 0.05,
            momentum: 0.0,
            nesterov: false,
        },
        quantize: Quantization::Int8,
        ..Default::default()
    };
    let steps = (data.duration_s / 1e-3).round() as usize;
    (data.into(), net, config, steps)
}

/// Quantized-dequantized copy of `w`, written out independently of `crate::quant`.
fn by_hand(w: &[f32]) -> Vec<f32> {
    let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs())) / 127.0;
    w.iter()
        .map(|&v| (v / scale).round_ties_even().clamp(-127.0, 127.0) * scale)
        .collect()
}

fn grads_of(trainer: &Trainer, data: &Dataset, indices: &[usize]) -> Gradients<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    trainer.gradients(data, indices, &mut rng).unwrap().1
}

#[test]
fn straight_through_gradient_is_the_float_gradient_at_the_quantized_weights() {
    let (data, net, config, steps) = setup();
    let indices: Vec<usize> = (0..data.len()).collect();
    let qat = Trainer::new(net.clone(), config.clone(), steps).unwrap();
    let g_qat = grads_of(&qat, &data, &indices);

    // The float gradient evaluated at the quantized weights.
    let mut at_quantized = net.clone();
    for (t, dst) in net.tensors().iter().zip(at_quantized.tensors_mut()) {
        if t.shape.len() == 2 {
            *dst = by_hand(t.data);
        }
    }
    let float = TrainingConfig {
        quantize: Quantization::None,
        ..config.clone()
    };
    let reference = Trainer::new(at_quantized, float.clone(), steps).unwrap();
    assert_eq!(g_qat, grads_of(&reference, &data, &indices));

    // ... which is not the float gradient at the master weights (the test can tell them apart).
    let plain = Trainer::new(net.clone(), float, steps).unwrap();
    let g_float = grads_of(&plain, &data, &indices);
    let max_diff = g_qat
        .iter()
        .flatten()
        .zip(g_float.iter().flatten())
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(max_diff > 1e-6, "quantization changed no gradient");
}

#[test]
fn the_straight_through_step_updates_the_float_master_weights() {
    let (data, net, config, steps) = setup();
    let indices: Vec<usize> = (0..data.len()).collect();
    let mut qat = Trainer::new(net.clone(), config.clone(), steps).unwrap();
    let g = grads_of(&qat, &data, &indices);
    qat.train_epoch(&data, &indices, 1, 7, &mut |_| {}).unwrap();
    let lr = config.lr_at(1) as f32;
    let after = qat.net.tensors().into_iter().filter(|t| t.learnable);
    let before = net.tensors().into_iter().filter(|t| t.learnable);
    let mut off_grid = 0;
    for ((before, after), g) in before.zip(after).zip(&g) {
        for ((&w0, &w1), &g) in before.data.iter().zip(after.data).zip(g) {
            // One batch per epoch: the step is w − lr·g (up to the summation order of a
            // shuffled batch).
            let expected = w0 - lr * g;
            assert!(
                (w1 - expected).abs() <= 1e-5 * (1.0 + expected.abs()),
                "{} {w0} {w1} {expected} {g}",
                before.name
            );
        }
        if before.shape.len() == 2 {
            let scale = after.data.iter().fold(0.0f32, |m, v| m.max(v.abs())) / 127.0;
            off_grid += after
                .data
                .iter()
                .filter(|&&w| ((w / scale) - (w / scale).round()).abs() > 1e-3)
                .count();
        }
    }
    assert!(off_grid > 0, "the master weights must stay float");
}

/// Metaplasticity scales the shrinking part of each weight matrix's step by
/// `1 − tanh²(m·w)` and leaves every other step, and the neuron parameters, as the optimizer
/// made them.
#[test]
fn metaplasticity_attenuates_only_shrinking_weight_updates() {
    let (data, net, config, steps) = setup();
    let indices: Vec<usize> = (0..data.len()).collect();
    let plain_config = TrainingConfig {
        quantize: Quantization::None,
        ..config
    };
    let strength = 40.0;
    let meta_config = TrainingConfig {
        metaplasticity: Some(strength),
        ..plain_config.clone()
    };
    let mut plain = Trainer::new(net.clone(), plain_config, steps).unwrap();
    let mut meta = Trainer::new(net.clone(), meta_config, steps).unwrap();
    plain
        .train_epoch(&data, &indices, 1, 7, &mut |_| {})
        .unwrap();
    meta.train_epoch(&data, &indices, 1, 7, &mut |_| {})
        .unwrap();
    let (mut attenuated, mut kept) = (0, 0);
    let tensors = net.tensors();
    let (p_tensors, m_tensors) = (plain.net.tensors(), meta.net.tensors());
    for ((before, p), m) in tensors.iter().zip(&p_tensors).zip(&m_tensors) {
        for ((&w0, &wp), &wm) in before.data.iter().zip(p.data).zip(m.data) {
            let delta = wp - w0;
            if before.shape.len() == 2 && delta * w0 < 0.0 {
                let f = 1.0 - (strength as f32 * w0).tanh().powi(2);
                assert!((wm - (w0 + delta * f)).abs() <= 1e-6, "{}", before.name);
                attenuated += usize::from(f < 0.5);
            } else {
                assert_eq!(wm, wp, "{}", before.name);
                kept += usize::from(delta != 0.0);
            }
        }
    }
    assert!(
        attenuated > 0 && kept > 0,
        "{attenuated} attenuated, {kept} kept"
    );
}

#[test]
fn evaluation_does_not_depend_on_its_batch_size() {
    let (data, net, config, steps) = setup();
    let indices: Vec<usize> = (0..data.len()).collect();
    let float = TrainingConfig {
        quantize: Quantization::None,
        batch_size: 3,
        ..config
    };
    let by_three = evaluate(&net, &float, &data, &indices, steps).unwrap();
    let whole = TrainingConfig {
        eval_batch_size: Some(indices.len()),
        ..float
    };
    let mut batches = 0;
    let at_once =
        evaluate_observed(&net, &whole, &data, &indices, steps, &mut |_| batches += 1).unwrap();
    assert_eq!(
        batches,
        1,
        "one evaluation batch of all {} samples",
        indices.len()
    );
    assert_eq!(by_three.samples, at_once.samples);
    assert_eq!(by_three.correct, at_once.correct);
    assert_eq!(by_three.spikes, at_once.spikes);
    assert!(by_three.spikes[0] > 0.0, "the hidden layer is silent");
    let rel = (by_three.loss - at_once.loss).abs() / at_once.loss.abs();
    assert!(rel < 1e-5, "loss {} vs {}", by_three.loss, at_once.loss);
}
