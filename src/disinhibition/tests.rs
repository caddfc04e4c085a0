use super::circuit::Tensors;
use super::training::{batch_gradient, CircuitTraining, Learning};
use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const B: usize = 4;

fn circuit(sizes: &[usize]) -> Circuit {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut c = Circuit::new(sizes, &mut rng);
    for b in &mut c.params.biases {
        b.iter_mut().for_each(|v| *v = rng.random_range(-0.5..0.5));
    }
    c
}

fn inputs(n: usize) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    (0..B * n).map(|_| rng.random_range(0.0..1.0)).collect()
}

fn flat(t: &Tensors) -> Vec<f64> {
    t.all().into_iter().flatten().copied().collect()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

fn precise() -> Dynamics {
    Dynamics {
        tolerance: 1e-12,
        max_ms: 20_000.0,
        ..Dynamics::default()
    }
}

#[test]
fn the_open_loop_dynamics_settle_at_the_closed_form_steady_state() {
    let c = circuit(&[6, 5, 4, 3]);
    let x = inputs(6);
    let mut state = c.zero_state(B);
    let steps = c.settle(&x, &mut state, &precise(), Loop::Open);
    assert!(steps < 40_000, "did not settle");
    let steady = c.open_loop_steady(&x, B);
    let all = |s: &CircuitState| -> Vec<f64> {
        s.exc
            .iter()
            .chain(&s.inh)
            .flatten()
            .chain(&s.readout)
            .copied()
            .collect()
    };
    let diff = all(&state)
        .iter()
        .zip(all(&steady))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(diff < 1e-8, "{diff}");
}

#[test]
fn backprop_through_the_steady_state_matches_finite_differences() {
    for loss in [ControlLoss::SquaredError, ControlLoss::CrossEntropy] {
        let c = circuit(&[6, 5, 4, 3]);
        let x = inputs(6);
        let targets: Vec<f64> = (0..B * 3)
            .map(|i| f64::from(u8::from(i % 3 == i / 3 % 3)))
            .collect();
        let grad = flat(&c.steady_gradient(&x, &targets, B, loss).0);
        let eps = 1e-6;
        let mut probe = c.clone();
        for (i, &g) in grad.iter().enumerate() {
            let mut at = |delta: f64| {
                *probe.params.all_mut().into_iter().flatten().nth(i).unwrap() += delta;
                probe.steady_gradient(&x, &targets, B, loss).1
            };
            let up = at(eps);
            let down = at(-2.0 * eps);
            at(eps);
            let fd = (up - down) / (2.0 * eps);
            assert!((fd - g).abs() < 1e-8, "{loss:?} entry {i}: {fd} vs {g}");
        }
    }
}

#[test]
fn feedback_weights_are_the_normalised_readout_jacobian() {
    let c = circuit(&[6, 5, 3]);
    let x = inputs(6);
    let open = c.open_loop_steady(&x, B);
    let fb = c.feedback_weights(&open, 1.0);
    let (n, k) = (5, 3);
    for s in 0..B {
        let block = &fb[0][s * k * n..(s + 1) * k * n];
        let norm = block.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-12);
        // One hidden layer: W_out diag(φ'(u_E)) diag(φ'(u_I)), up to the normalisation.
        let want: Vec<f64> = (0..k * n)
            .map(|e| {
                let i = e % n;
                let (u_e, u_i) = (open.exc[0][s * n + i], open.inh[0][s * n + i]);
                c.params.weights[1][e] * softplus_slope(u_e) * softplus_slope(u_i)
            })
            .collect();
        let scale = want.iter().map(|v| v * v).sum::<f64>().sqrt();
        for (a, b) in block.iter().zip(&want) {
            assert!((a - b / scale).abs() < 1e-12);
        }
    }
}

/// A random teacher circuit's outputs as the student's targets.
fn teacher_targets(x: &[f64]) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(77);
    let teacher = Circuit::new(&[6, 5, 4, 3], &mut rng);
    teacher.open_loop_steady(x, B).readout
}

#[test]
fn the_controller_drives_the_outputs_to_their_targets() {
    let c = circuit(&[6, 5, 4, 3]);
    let x = inputs(6);
    let targets = teacher_targets(&x);
    let open = c.open_loop_steady(&x, B);
    let strong = Dynamics {
        tolerance: 1e-12,
        max_ms: 20_000.0,
        ..Dynamics::strong_control()
    };
    let fb = c.feedback_weights(&open, strong.feedback_norm);
    let mut closed = open.clone();
    let loss = ControlLoss::SquaredError;
    let mode = Loop::Closed {
        targets: &targets,
        feedback: &fb,
        loss,
    };
    c.settle(&x, &mut closed, &strong, mode);
    let mse = |y: &[f64]| {
        y.iter()
            .zip(&targets)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
    };
    let (before, after) = (mse(&open.readout), mse(&closed.readout));
    assert!(after < 0.05 * before, "{before} → {after}");
    // At the steady state the interneuron's surplus is the top-down control:
    // φ(u_E) − u_I = c·B, so the exact rule's error is the control itself.
    let (control, _) = c.control(&closed, &strong, mode);
    for (l, fb) in fb.iter().enumerate() {
        let n = c.sizes[l + 1];
        for s in 0..B {
            for i in 0..n {
                let j = s * n + i;
                let surplus = softplus(closed.exc[l][j]) - closed.inh[l][j];
                let top_down: f64 = (0..3)
                    .map(|o| control[s * 3 + o] * fb[(s * 3 + o) * n + i])
                    .sum();
                assert!(
                    (surplus - top_down).abs() < 1e-9,
                    "layer {l}: {surplus} vs {top_down}"
                );
            }
        }
    }
}

#[test]
fn weak_control_updates_descend_the_loss() {
    // Targets a small step from the open-loop outputs: the rule's update against the
    // gradient of the loss through the open-loop steady state (the exact quantity its
    // feedback approximates): well aligned, for both readings of the interneuron.
    let c = circuit(&[6, 5, 4, 3]);
    let x = inputs(6);
    let teacher = teacher_targets(&x);
    let open = c.open_loop_steady(&x, B);
    let nudged: Vec<f64> = open
        .readout
        .iter()
        .zip(&teacher)
        .map(|(y, t)| y + 0.05 * (t - y))
        .collect();
    let loss = ControlLoss::SquaredError;
    let exact = flat(&c.steady_gradient(&x, &teacher, B, loss).0);
    for inverse in [InverseRate::Exact, InverseRate::LinearThreshold] {
        let settings = CircuitTraining {
            learning: Learning::Disinhibition(inverse),
            loss,
            lr: 1e-3,
            batch_size: B,
            epochs: 1,
            seed: 0,
            dynamics: precise(),
        };
        let rule = flat(&batch_gradient(&c, &x, &nudged, &settings));
        let cos = cosine(&rule, &exact);
        assert!(cos > 0.5, "{inverse:?}: cosine {cos}");
    }
}
