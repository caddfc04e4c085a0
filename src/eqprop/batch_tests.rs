//! The batched network against the per-sample reference ([`super::energy`], [`super::exact`]).

use super::batch::{Batch, BatchNet};
use super::batch_gradient::{EpSettings, PhaseSchedule};
use super::tests::{flat, net};
use super::*;
use num_complex::Complex64 as C;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const STEPS: usize = 300;
const XS: [[f64; 5]; 3] = [
    [0.2, 0.9, 0.4, 0.0, 0.7],
    [1.0, 0.1, 0.0, 0.5, 0.3],
    [0.0, 0.6, 0.8, 0.2, 0.9],
];
const YS: [usize; 3] = [1, 0, 2];

fn inputs() -> Vec<f64> {
    XS.iter().flatten().copied().collect()
}

/// The mean of `f` over the three samples, flattened.
fn mean_over_samples(f: impl Fn(&[f64], usize) -> Params<f64>) -> Vec<f64> {
    let all: Vec<Vec<f64>> = XS.iter().zip(YS).map(|(x, y)| flat(&f(x, y))).collect();
    (0..all[0].len())
        .map(|i| all.iter().map(|g| g[i]).sum::<f64>() / all.len() as f64)
        .collect()
}

fn max_difference(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn norm(a: &[f64]) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

fn estimators() -> [Estimator; 4] {
    [
        Estimator::OneSided { beta: 0.2 },
        Estimator::Symmetric { beta: 0.2 },
        Estimator::Holomorphic {
            beta: 0.5,
            phases: 6,
        },
        Estimator::Holomorphic {
            beta: 0.5,
            phases: 5,
        },
    ]
}

#[test]
fn batched_ep_equals_the_per_sample_estimators_averaged() {
    for loss in [EqLoss::CrossEntropy, EqLoss::SquaredError] {
        let reference = net(loss);
        let batched = BatchNet::<f64>::from_energy(&reference);
        let x = inputs();
        let batch = Batch { x: &x, labels: &YS };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for estimator in estimators() {
            let settings = EpSettings {
                estimator,
                free_steps: STEPS,
                nudged_steps: STEPS,
                schedule: PhaseSchedule::Parallel,
            };
            let ours = flat(&batched.ep_gradient(batch, &settings, &mut rng));
            let want = mean_over_samples(|x, y| estimator.gradient(&reference, x, y, STEPS, STEPS));
            let err = max_difference(&ours, &want);
            assert!(err < 1e-10, "{loss:?} {estimator:?}: {err:e}");
        }
    }
}

#[test]
fn bptt_through_a_converged_relaxation_is_the_implicit_gradient() {
    for loss in [EqLoss::CrossEntropy, EqLoss::SquaredError] {
        let reference = net(loss);
        let batched = BatchNet::<f64>::from_energy(&reference);
        let x = inputs();
        let (grad, mean_loss) = batched.bptt_gradient(Batch { x: &x, labels: &YS }, STEPS);
        let want = mean_over_samples(|x, y| exact::gradient(&reference, x, y, STEPS).unwrap().0);
        let err = max_difference(&flat(&grad), &want);
        assert!(err < 1e-10, "{loss:?}: {err:e}");
        let losses: f64 = XS
            .iter()
            .zip(YS)
            .map(|(x, y)| exact::gradient(&reference, x, y, STEPS).unwrap().1)
            .sum();
        assert!((mean_loss - losses / 3.0).abs() < 1e-12);
    }
}

/// Adds `delta` to parameter `i` (weights, then biases, flattened).
fn shift_entry(net: &mut BatchNet<f64>, i: usize, delta: f64) {
    let params = &mut net.params;
    let mut entries = params
        .weights
        .iter_mut()
        .chain(params.biases.iter_mut())
        .flatten();
    *entries.nth(i).expect("a parameter") += delta;
}

#[test]
fn bptt_of_a_few_steps_matches_finite_differences() {
    const FEW: usize = 2;
    let reference = net(EqLoss::CrossEntropy);
    let batched = BatchNet::<f64>::from_energy(&reference);
    let x = inputs();
    let batch = Batch { x: &x, labels: &YS };
    let grad = flat(&batched.bptt_gradient(batch, FEW).0);
    let loss_at = |p: &BatchNet<f64>| p.bptt_gradient(batch, FEW).1;
    let mut probe = batched.clone();
    let eps = 1e-6;
    for (i, &g) in grad.iter().enumerate() {
        shift_entry(&mut probe, i, eps);
        let up = loss_at(&probe);
        shift_entry(&mut probe, i, -2.0 * eps);
        let down = loss_at(&probe);
        shift_entry(&mut probe, i, eps);
        let fd = (up - down) / (2.0 * eps);
        assert!((fd - g).abs() < 1e-7, "entry {i}: {fd} vs {g}");
    }
    // Two steps are far from the fixed point: the unrolled gradient is not the implicit one.
    let exact = mean_over_samples(|x, y| exact::gradient(&reference, x, y, STEPS).unwrap().0);
    let off = max_difference(&grad, &exact);
    assert!(off > 1e-3, "{off}");
}

#[test]
fn the_feedforward_gradient_matches_finite_differences() {
    let batched = BatchNet::<f64>::from_energy(&net(EqLoss::CrossEntropy));
    let x = inputs();
    let batch = Batch { x: &x, labels: &YS };
    let grad = flat(&batched.feedforward_gradient(batch).0);
    let mut probe = batched.clone();
    let eps = 1e-6;
    for (i, &g) in grad.iter().enumerate() {
        shift_entry(&mut probe, i, eps);
        let up = probe.feedforward_gradient(batch).1;
        shift_entry(&mut probe, i, -2.0 * eps);
        let down = probe.feedforward_gradient(batch).1;
        shift_entry(&mut probe, i, eps);
        let fd = (up - down) / (2.0 * eps);
        assert!((fd - g).abs() < 1e-8, "entry {i}: {fd} vs {g}");
    }
}

#[test]
fn sequential_phases_without_noise_reach_the_exact_gradient() {
    let reference = net(EqLoss::CrossEntropy);
    let batched = BatchNet::<f64>::from_energy(&reference);
    let x = inputs();
    let batch = Batch { x: &x, labels: &YS };
    let exact = flat(&batched.bptt_gradient(batch, STEPS).0);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let settings = |average_steps| EpSettings {
        estimator: Estimator::Holomorphic {
            beta: 0.3,
            phases: 8,
        },
        free_steps: STEPS,
        nudged_steps: 60,
        schedule: PhaseSchedule::Sequential {
            noise_std: 0.0,
            average_steps,
        },
    };
    for average_steps in [1, 5] {
        let ours = flat(&batched.ep_gradient(batch, &settings(average_steps), &mut rng));
        let rel = max_difference(&ours, &exact) / norm(&exact);
        assert!(rel < 1e-5, "average over {average_steps}: {rel:e}");
    }
}

#[test]
fn state_noise_perturbs_the_estimate_reproducibly() {
    let reference = net(EqLoss::CrossEntropy);
    let batched = BatchNet::<f64>::from_energy(&reference);
    let x = inputs();
    let batch = Batch { x: &x, labels: &YS };
    let settings = |noise_std| EpSettings {
        estimator: Estimator::OneSided { beta: 0.1 },
        free_steps: STEPS,
        nudged_steps: 60,
        schedule: PhaseSchedule::Sequential {
            noise_std,
            average_steps: 5,
        },
    };
    let run = |noise_std, seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        flat(&batched.ep_gradient(batch, &settings(noise_std), &mut rng))
    };
    let clean = run(0.0, 1);
    let noisy = run(0.04, 1);
    assert_eq!(noisy, run(0.04, 1));
    assert_ne!(noisy, run(0.04, 2));
    // Noise of 0.04 divided by β = 0.1: an error of the order of the gradient itself.
    let rel = max_difference(&noisy, &clean) / norm(&clean);
    assert!(rel > 0.05, "{rel}");
}

#[test]
fn predictions_are_the_largest_readout_at_the_free_fixed_point() {
    let reference = net(EqLoss::CrossEntropy);
    let batched = BatchNet::<f64>::from_energy(&reference);
    let x = inputs();
    let predicted = batched.predict(Batch { x: &x, labels: &YS }, STEPS);
    for (x, p) in XS.iter().zip(predicted) {
        let h = reference.relax(x, 0, C::new(0.0, 0.0), STEPS, None);
        let o = reference.readout(&h);
        let best = (0..o.len())
            .max_by(|&a, &b| o[a].re.total_cmp(&o[b].re))
            .unwrap();
        assert_eq!(p, best);
    }
}

#[test]
fn f32_training_precision_tracks_f64() {
    let reference = net(EqLoss::CrossEntropy);
    let wide = BatchNet::<f64>::from_energy(&reference);
    let narrow = BatchNet::<f32>::from_energy(&reference);
    let x = inputs();
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let settings = EpSettings {
        estimator: Estimator::Holomorphic {
            beta: 0.4,
            phases: 10,
        },
        free_steps: STEPS,
        nudged_steps: 50,
        schedule: PhaseSchedule::Parallel,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let a = flat(&wide.ep_gradient(Batch { x: &x, labels: &YS }, &settings, &mut rng));
    let b = narrow.ep_gradient(
        Batch {
            x: &x32,
            labels: &YS,
        },
        &settings,
        &mut rng,
    );
    let b: Vec<f64> = b
        .weights
        .iter()
        .chain(&b.biases)
        .flatten()
        .map(|&v| v as f64)
        .collect();
    assert!(max_difference(&a, &b) / norm(&a) < 1e-4);
}
