use super::*;
use crate::scan::testing::{check_jacobian, check_model_with_inputs, uniform, Perturb};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

impl Perturb for Prospective<f64> {
    fn param_mut(&mut self, p: usize, j: usize) -> &mut f64 {
        [
            &mut self.beta,
            &mut self.alpha,
            &mut self.rho,
            &mut self.delta,
        ][p]
            .get_mut(j)
            .unwrap()
    }
}

fn random(
    rng: &mut ChaCha8Rng,
    n: usize,
    form: ProspectiveForm,
    reset: ResetGrad,
) -> Prospective<f64> {
    Prospective {
        alpha: uniform(rng, n, 0.3, 0.9),
        beta: uniform(rng, n, 0.6, 0.95),
        // Gains k below about 3: larger ones drown the finite differences in rounding.
        rho: uniform(rng, n, 0.6, 0.9),
        delta: uniform(rng, n, 0.5, 0.8),
        threshold: rng.random_range(0.5..1.5),
        form,
        spike: SpikeFn::Relaxed {
            beta: rng.random_range(2.0..6.0),
        },
        reset,
    }
}

#[test]
fn backward_matches_finite_differences_in_both_forms() {
    let mut rng = ChaCha8Rng::seed_from_u64(41);
    for trial in 0..6 {
        let form = [ProspectiveForm::Rate, ProspectiveForm::Spiking][trial % 2];
        let n = rng.random_range(1..5);
        let model = random(&mut rng, n, form, ResetGrad::Differentiable);
        // The rate form's output is unbounded: small inputs keep the loss small.
        let inputs = match form {
            ProspectiveForm::Rate => (-0.05, 0.3),
            ProspectiveForm::Spiking => (-1.0, 6.0),
        };
        check_model_with_inputs(&model, &mut rng, trial % 3 == 0, inputs);
    }
}

#[test]
fn jacobians_match_finite_differences_and_the_adjoint() {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    for form in [ProspectiveForm::Rate, ProspectiveForm::Spiking] {
        for reset in [ResetGrad::Detached, ResetGrad::Differentiable] {
            let model = random(&mut rng, 3, form, reset);
            let exact = form == ProspectiveForm::Rate || reset == ResetGrad::Differentiable;
            check_jacobian(&model, &mut rng, exact);
        }
    }
}

/// Drives one rate neuron with a ramp `x[t] = c t` until the transients have died out.
fn ramp_response(model: &Prospective<f64>, steps: usize, slope: f64) -> Vec<ProspectiveState<f64>> {
    let ctx = StepContext::default();
    let mut state = model.initial_state(0);
    (0..steps)
        .map(|t| {
            state = model.step(0, &state, 0.0, slope * t as f64, &ctx).0;
            state
        })
        .collect()
}

/// The closed form of the lag: after the transients, a ramp comes out of the membrane
/// `α/(1−α) + β/(1−β)` steps late, and the prospective potential with the horizon
/// `δ/(1−δ)` set to that many steps is the ramp itself, without delay.
#[test]
fn a_matched_horizon_cancels_the_lag_of_a_ramp() {
    let (alpha, beta, rho): (f64, f64, f64) = (0.6, 0.9, 0.5);
    let lag_steps = alpha / (1.0 - alpha) + beta / (1.0 - beta);
    let delta = lag_steps / (1.0 + lag_steps);
    let model = Prospective {
        alpha: vec![alpha],
        beta: vec![beta],
        rho: vec![rho],
        delta: vec![delta],
        threshold: 1.0,
        form: ProspectiveForm::Rate,
        spike: SpikeFn::default(),
        reset: ResetGrad::Detached,
    };
    let (steps, slope) = (600, 0.01);
    let states = ramp_response(&model, steps, slope);
    let last = states[steps - 1];
    let input = slope * (steps - 1) as f64;
    // `I` integrates `x` with gain 1/(1−α); the membrane's gain is 1 from `I`.
    let gain = 1.0 / (1.0 - alpha);
    let membrane_lag = (input - last.mem / gain) / slope;
    assert!(
        (membrane_lag - lag_steps).abs() < 1e-9,
        "lag {membrane_lag} vs {lag_steps}"
    );
    let prospective_lag = (input - last.pro / gain) / slope;
    assert!(
        prospective_lag.abs() < 1e-9,
        "prospective lag {prospective_lag}"
    );
    // A horizon 20% short leaves 20% of the lag.
    let mut short = model.clone();
    let h = 0.8 * lag_steps;
    short.delta = vec![h / (1.0 + h)];
    let last = ramp_response(&short, steps, slope)[steps - 1];
    let residual = (input - last.pro / gain) / slope;
    assert!(
        (residual - 0.2 * lag_steps).abs() < 1e-9,
        "residual {residual}"
    );
}

/// In the spiking form a spike adds `βθ` to the reset trace and lowers `V` by as much,
/// leaving `U` and `A` (and so the look-ahead) alone; with `k = 0` the neuron is a LIF reset
/// by subtraction.
#[test]
fn the_spiking_reset_lowers_the_prospective_potential_outside_the_lookahead() {
    let mut rng = ChaCha8Rng::seed_from_u64(43);
    let mut model = random(&mut rng, 1, ProspectiveForm::Spiking, ResetGrad::Detached);
    model.spike = SpikeFn::default();
    let ctx = StepContext::default();
    let prev = ProspectiveState {
        syn: 0.4,
        mem: 1.3,
        ada: 0.9,
        refr: 0.3,
        pro: 2.0,
    };
    let (quiet, _) = model.step(0, &prev, 0.0, 0.2, &ctx);
    let (reset, _) = model.step(0, &prev, 1.0, 0.2, &ctx);
    let (theta, beta) = (model.threshold, model.beta[0]);
    assert_eq!((quiet.mem, quiet.ada), (reset.mem, reset.ada));
    assert!((reset.refr - quiet.refr - beta * theta).abs() < 1e-12);
    assert!((quiet.pro - reset.pro - beta * theta).abs() < 1e-12);
    // k = 0: V follows U_lif[t] = β (U_lif[t−1] − θ S[t−1]) + (1 − β) I[t].
    model.delta = vec![0.0];
    let (mut state, mut lif, mut spike) = (ProspectiveState::default(), 0.0, 0.0);
    for t in 0..50 {
        let x = if t % 7 == 0 { 0.9 } else { 0.05 };
        let (next, out) = model.step(0, &state, spike, x, &ctx);
        lif = beta * (lif - theta * spike) + (1.0 - beta) * next.syn;
        assert!((next.pro - lif).abs() < 1e-12, "step {t}");
        (state, spike) = (next, out);
    }
    // The rate form ignores its previous output.
    model.form = ProspectiveForm::Rate;
    assert_eq!(
        model.step(0, &prev, 0.0, 0.2, &ctx),
        model.step(0, &prev, 1.0, 0.2, &ctx)
    );
}

/// Under a constant drive a prospective neuron with a long horizon fires at about the rate
/// of the leaky one (it has nothing to anticipate), not at every step: its reset's recovery
/// is not looked ahead at.
#[test]
fn a_constant_drive_does_not_make_the_prospective_neuron_fire_at_every_step() {
    let decay = |tau: f64| (-1.0f64 / tau).exp();
    let rate = |horizon: f64| {
        let model = Prospective {
            alpha: vec![decay(5.0)],
            beta: vec![decay(20.0)],
            rho: vec![decay(2.0)],
            delta: vec![if horizon > 0.0 { decay(horizon) } else { 0.0 }],
            threshold: 1.0,
            form: ProspectiveForm::Spiking,
            spike: SpikeFn::default(),
            reset: ResetGrad::Detached,
        };
        let ctx = StepContext::default();
        let (mut state, mut spike, mut count) = (ProspectiveState::default(), 0.0, 0.0);
        for _ in 0..2000 {
            let (next, out) = model.step(0, &state, spike, 0.5, &ctx);
            (state, spike) = (next, out);
            count += out;
        }
        count / 2000.0
    };
    let (leaky, ahead) = (rate(0.0), rate(25.0));
    assert!(leaky > 0.01 && leaky < 0.5, "leaky {leaky}");
    assert!(
        (ahead - leaky).abs() < 0.2 * leaky,
        "prospective {ahead} vs leaky {leaky}"
    );
}
