use super::coupling::couple;
use super::dynamics::{relax, Batch};
use super::params::transpose;
use super::*;
use crate::data::rng;
use num_complex::Complex64;

/// A small network whose relaxation converges to machine precision in `STEPS` steps.
const STEPS: usize = 400;
const WIDTHS: Widths = Widths {
    input: 5,
    hidden1: 6,
    hidden2: 5,
    output: 4,
    classes: 3,
};
const LABELS: [usize; 3] = [0, 2, 1];
const RELAXED: Relaxation = Relaxation {
    free_steps: STEPS,
    nudged_steps: STEPS,
};

fn inputs(seed: u64) -> Vec<f64> {
    let mut r = rng::seeded(seed);
    (0..LABELS.len() * WIDTHS.input)
        .map(|_| rng::unit_f64(&mut r))
        .collect()
}

/// Weights with twice the LeCun scale (so the sigmoid's curvature matters) and nonzero
/// biases.
fn network(feedback: FeedbackInit, seed: u64) -> GepParams {
    let mut r = rng::seeded(seed);
    let mut p = GepParams::new(WIDTHS, feedback, &mut r).unwrap();
    for t in p.tensors_mut() {
        t.iter_mut()
            .for_each(|v| *v = 2.0 * *v + 0.1 * rng::normal(&mut r));
    }
    if feedback == FeedbackInit::Transposed {
        p.tie_feedback();
    }
    p
}

fn max_abs_diff(a: &State, b: &State) -> f64 {
    let pairs = a.layers().into_iter().zip(b.layers());
    pairs
        .flat_map(|(a, b)| a.iter().zip(b).map(|(a, b)| (a - b).abs()))
        .fold(0.0, f64::max)
}

fn flat(g: &GepParams) -> Vec<f64> {
    g.tensors().concat()
}

fn relative_distance(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(a, b)| (a - b).powi(2)).sum();
    let norm: f64 = b.iter().map(|b| b * b).sum();
    (diff / norm).sqrt()
}

/// The relaxed loss's gradient by central differences, every parameter.
fn finite_difference_gradient(p: &GepParams, x: &[f64]) -> Vec<f64> {
    let h = 1e-5;
    let mut grad = Vec::new();
    for t in 0..p.tensors().len() {
        for i in 0..p.tensors()[t].len() {
            let at = |delta: f64| {
                let mut q = p.clone();
                q.tensors_mut()[t][i] += delta;
                let free = free_phase(&q, x, &LABELS, STEPS).unwrap();
                loss(&q, &free, &LABELS)
            };
            grad.push((at(h) - at(-h)) / (2.0 * h));
        }
    }
    grad
}

fn phase_error_distance(p: &GepParams, x: &[f64], beta: f64, count: usize) -> f64 {
    let free = free_phase(p, x, &LABELS, STEPS).unwrap();
    let exact = neuronal_error(p, x, &LABELS, &free, RELAXED, ErrorEstimate::Exact).unwrap();
    let estimate = ErrorEstimate::Phases { beta, count };
    let phases = neuronal_error(p, x, &LABELS, &free, RELAXED, estimate).unwrap();
    max_abs_diff(&phases, &exact)
}

#[test]
fn phase_estimates_converge_to_the_forward_mode_error_as_beta_to_the_n() {
    let (p, x) = (network(FeedbackInit::Independent, 1), inputs(2));
    let beta = 0.3;
    let errors: Vec<f64> = [1, 2, 4, 6]
        .iter()
        .map(|&n| phase_error_distance(&p, &x, beta, n))
        .collect();
    for pair in errors.windows(2) {
        assert!(pair[1] < pair[0] / 3.0, "errors {errors:?}");
    }
    assert!(errors[3] < 1e-4 * errors[0], "errors {errors:?}");
    // Halving |β| divides the error by about 2^N.
    for (n, expected) in [(1, 2.0), (2, 4.0), (4, 16.0)] {
        let ratio =
            phase_error_distance(&p, &x, beta, n) / phase_error_distance(&p, &x, beta / 2.0, n);
        assert!(
            (ratio / expected - 1.0).abs() < 0.25,
            "N = {n}: ratio {ratio}"
        );
    }
}

#[test]
fn forward_mode_error_matches_a_finite_difference_in_beta() {
    // Independent of the phase code: relax real nudged phases at ±h and difference.
    let (p, x) = (network(FeedbackInit::Independent, 3), inputs(4));
    let free = free_phase(&p, &x, &LABELS, STEPS).unwrap();
    let exact = neuronal_error(&p, &x, &LABELS, &free, RELAXED, ErrorEstimate::Exact).unwrap();
    let batch = Batch::new(&p, &x, &LABELS).unwrap();
    let h = 1e-5;
    let at = |b: f64| {
        activate(&relax(
            &p,
            &batch,
            free.clone(),
            Complex64::new(b, 0.0),
            STEPS,
        ))
    };
    let difference = at(h).zip_map(&at(-h), |a, b| (a - b) / (2.0 * h));
    let scale = exact.out.iter().fold(0.0, |m: f64, v| m.max(v.abs()));
    assert!(scale > 1e-3);
    assert!(max_abs_diff(&difference, &exact) < 1e-7 * scale.max(1.0));
}

#[test]
fn with_tied_weights_the_update_is_the_loss_gradient_and_without_it_is_not() {
    let x = inputs(5);
    for (feedback, seed) in [
        (FeedbackInit::Transposed, 6),
        (FeedbackInit::Independent, 7),
    ] {
        let p = network(feedback, seed);
        let free = free_phase(&p, &x, &LABELS, STEPS).unwrap();
        let exact = flat(&exact_gradient(&p, &x, &LABELS, &free, STEPS).unwrap());
        // The adjoint gradient is the loss gradient, tied or not.
        let numeric = finite_difference_gradient(&p, &x);
        assert!(
            relative_distance(&exact, &numeric) < 1e-7,
            "{feedback:?}: {}",
            relative_distance(&exact, &numeric)
        );
        let error = neuronal_error(&p, &x, &LABELS, &free, RELAXED, ErrorEstimate::Exact).unwrap();
        let update = flat(&weight_update(&p, &x, &LABELS, &free, &error).unwrap());
        let distance = relative_distance(&update, &exact);
        match feedback {
            FeedbackInit::Transposed => assert!(distance < 1e-10, "tied: {distance}"),
            FeedbackInit::Independent => assert!(distance > 0.05, "untied: {distance}"),
        }
    }
}

#[test]
fn phase_updates_approach_the_gradient_with_tied_weights() {
    let (p, x) = (network(FeedbackInit::Transposed, 8), inputs(9));
    let free = free_phase(&p, &x, &LABELS, STEPS).unwrap();
    let exact = flat(&exact_gradient(&p, &x, &LABELS, &free, STEPS).unwrap());
    let distance = |count| {
        let estimate = ErrorEstimate::Phases { beta: 0.5, count };
        let e = neuronal_error(&p, &x, &LABELS, &free, RELAXED, estimate).unwrap();
        relative_distance(
            &flat(&weight_update(&p, &x, &LABELS, &free, &e).unwrap()),
            &exact,
        )
    };
    let (one, four) = (distance(1), distance(4));
    assert!(
        four < 0.01 && four < 0.1 * one,
        "N = 1: {one}, N = 4: {four}"
    );
}

fn probes(count: usize, seed: u64) -> State {
    let mut r = rng::seeded(seed);
    let mut eps = State::zeros(WIDTHS, count, Planes::Real);
    for layer in [&mut eps.l1, &mut eps.l2, &mut eps.out] {
        layer.iter_mut().for_each(|v| *v = rng::normal(&mut r));
    }
    eps
}

#[test]
fn homeostatic_gradient_matches_finite_differences() {
    let p = network(FeedbackInit::Independent, 10);
    let eps = probes(4, 11);
    let (_, grad) = homeostatic_loss(&p, &eps).unwrap();
    let h = 1e-6;
    let mut numeric = Vec::new();
    for t in 0..p.tensors().len() {
        for i in 0..p.tensors()[t].len() {
            let at = |delta: f64| {
                let mut q = p.clone();
                q.tensors_mut()[t][i] += delta;
                homeostatic_loss(&q, &eps).unwrap().0
            };
            numeric.push((at(h) - at(-h)) / (2.0 * h));
        }
    }
    let analytic = flat(&grad);
    assert!(relative_distance(&analytic, &numeric) < 1e-7);
    assert!(analytic.iter().any(|g| g.abs() > 1e-3));
}

#[test]
fn homeostatic_loss_averages_to_half_the_squared_skew() {
    let p = network(FeedbackInit::Independent, 12);
    let n = WIDTHS.dynamic();
    let j = jacobian(&p);
    // The dense J applied to a probe equals the row-form J of the loss.
    let eps = probes(1, 13);
    let row = [eps.l1.clone(), eps.l2.clone(), eps.out.clone()].concat();
    let dense: Vec<f64> = (0..n)
        .map(|r| (0..n).map(|c| j[r * n + c] * row[c]).sum())
        .collect();
    let rowform = couple(&p, &eps).zip_map(&eps, |a, e| a - e);
    let rowform = [rowform.l1, rowform.l2, rowform.out].concat();
    assert!(relative_distance(&dense, &rowform) < 1e-12);
    let skew: f64 = (0..n)
        .flat_map(|r| (0..n).map(move |c| (r, c)))
        .map(|(r, c)| (j[r * n + c] - j[c * n + r]).powi(2))
        .sum();
    let expected = 0.5 * skew / n as f64;
    let (mean, _) = homeostatic_loss(&p, &probes(40_000, 14)).unwrap();
    assert!((mean / expected - 1.0).abs() < 0.03, "{mean} vs {expected}");
}

#[test]
fn asymmetry_is_zero_exactly_for_tied_weights() {
    assert_eq!(asymmetry(&network(FeedbackInit::Transposed, 15)), 0.0);
    assert!(asymmetry(&network(FeedbackInit::Independent, 15)) > 0.1);
    let tied = network(FeedbackInit::Transposed, 16);
    let (value, grad) = homeostatic_loss(&tied, &probes(8, 17)).unwrap();
    // With J = Jᵀ every probe gives ‖Jε‖² − εᵀJ²ε = 0, and ∂L/∂J = (aεᵀ − εaᵀ)/(nS) is
    // antisymmetric: the push on a feed-forward weight is minus that on its feedback twin.
    assert!(value.abs() < 1e-12, "{value}");
    let skew_part: f64 = grad
        .l1_l2
        .iter()
        .zip(transpose(&grad.l2_l1, WIDTHS.hidden2, WIDTHS.hidden1))
        .map(|(a, b)| (a + b).abs())
        .fold(0.0, f64::max);
    assert!(skew_part < 1e-12, "{skew_part}");
}

#[test]
fn invalid_settings_and_shapes_are_errors() {
    let (p, x) = (network(FeedbackInit::Independent, 18), inputs(19));
    assert!(free_phase(&p, &x[1..], &LABELS, 3).is_err());
    assert!(free_phase(&p, &x, &[0, 1, 7], 3).is_err());
    let free = free_phase(&p, &x, &LABELS, 3).unwrap();
    let complex = free.to_complex();
    assert!(neuronal_error(&p, &x, &LABELS, &complex, RELAXED, ErrorEstimate::Exact).is_err());
    assert!(homeostatic_loss(&p, &complex).is_err());
    for estimate in [
        ErrorEstimate::Phases {
            beta: 0.0,
            count: 2,
        },
        ErrorEstimate::Phases {
            beta: 0.1,
            count: 0,
        },
    ] {
        assert!(neuronal_error(&p, &x, &LABELS, &free, RELAXED, estimate).is_err());
    }
    assert!(GepParams::new(
        Widths {
            hidden1: 0,
            ..WIDTHS
        },
        FeedbackInit::Independent,
        &mut rng::seeded(0)
    )
    .is_err());
}
