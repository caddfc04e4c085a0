use super::*;
use crate::scan::testing::{check_jacobian, check_model, uniform, Perturb};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

impl Perturb for ExcInh<f64> {
    fn param_mut(&mut self, p: usize, j: usize) -> &mut f64 {
        [&mut self.beta, &mut self.alpha_exc, &mut self.alpha_inh][p]
            .get_mut(j)
            .unwrap()
    }
}

/// `n` neurons with random decays, each input driving the current `target(j)` names.
fn random(
    rng: &mut ChaCha8Rng,
    n: usize,
    reset: ResetGrad,
    target: impl Fn(usize) -> SynapseTarget,
) -> ExcInh<f64> {
    ExcInh {
        beta: uniform(rng, n, 0.6, 0.95),
        alpha_exc: uniform(rng, n, 0.3, 0.9),
        alpha_inh: uniform(rng, n, 0.3, 0.9),
        target: (0..n).map(target).collect(),
        threshold: rng.random_range(0.5..1.5),
        spike: SpikeFn::Relaxed {
            beta: rng.random_range(2.0..6.0),
        },
        reset,
    }
}

/// Both single-input forms (and neurons of both kinds side by side) against finite
/// differences, with and without recurrence (the reset differentiated: the exact gradient).
#[test]
fn backward_matches_finite_differences_for_both_targets() {
    let mut rng = ChaCha8Rng::seed_from_u64(51);
    for trial in 0..6 {
        let n = rng.random_range(1..5);
        let reset = ResetGrad::Differentiable;
        let model = match trial % 3 {
            0 => random(&mut rng, n, reset, |_| SynapseTarget::Exc),
            1 => random(&mut rng, n, reset, |_| SynapseTarget::Inh),
            _ => random(&mut rng, n, reset, |j| {
                [SynapseTarget::Exc, SynapseTarget::Inh][j % 2]
            }),
        };
        check_model(&model, &mut rng, trial % 2 == 0);
    }
}

#[test]
fn jacobians_match_finite_differences_and_the_adjoint() {
    let mut rng = ChaCha8Rng::seed_from_u64(52);
    for reset in [ResetGrad::Detached, ResetGrad::Differentiable] {
        let model = random(&mut rng, 4, reset, |j| {
            [SynapseTarget::Exc, SynapseTarget::Inh][j % 2]
        });
        check_jacobian(&model, &mut rng, reset == ResetGrad::Differentiable);
    }
}

/// The two-input step is the sum of its single-input restrictions (the currents are linear
/// in their inputs), and its adjoint's input gradients are the single-input ones.
#[test]
fn the_two_input_step_combines_both_restrictions() {
    let mut rng = ChaCha8Rng::seed_from_u64(53);
    let exc_model = random(&mut rng, 1, ResetGrad::Differentiable, |_| {
        SynapseTarget::Exc
    });
    let mut inh_model = exc_model.clone();
    inh_model.target = vec![SynapseTarget::Inh];
    let ctx = StepContext::default();
    let prev = ExcInhState {
        exc: 0.7,
        inh: 0.4,
        mem: 0.9,
    };
    let (e, h, s) = (0.8, 0.3, 0.25);
    let both = exc_model.step_both(0, &prev, s, e, h);
    let (only_e, _) = exc_model.step(0, &prev, s, e, &ctx);
    let (only_h, _) = inh_model.step(0, &prev, s, h, &ctx);
    assert!((both.exc - only_e.exc).abs() < 1e-15);
    assert!((both.inh - only_h.inh).abs() < 1e-15);
    // U is affine in the inputs: U(e, h) = U(e, 0) + U(0, h) − U(0, 0).
    let none = exc_model.step_both(0, &prev, s, 0.0, 0.0);
    assert!((both.mem - (only_e.mem + only_h.mem - none.mem)).abs() < 1e-14);
    // Inhibition lowers the membrane by (1 − β) h.
    let beta = exc_model.beta[0];
    assert!((only_e.mem - both.mem - (1.0 - beta) * h).abs() < 1e-14);
    let carry = ExcInhState {
        exc: 0.2,
        inh: -0.1,
        mem: 0.5,
    };
    let mut g = [0.0; 3];
    let adj = exc_model.adjoint_both(0, &prev, s, &both, &carry, 0.6, &mut g);
    let mut g1 = [0.0; 3];
    let a_e = exc_model.adjoint(0, &prev, s, &both, &carry, 0.6, &mut g1);
    let a_h = inh_model.adjoint(0, &prev, s, &both, &carry, 0.6, &mut g1);
    assert_eq!((adj.exc, adj.inh), (a_e.input, a_h.input));
    // An input to the inhibitory current acts on U with the opposite sign.
    assert!((adj.exc - carry.exc + adj.inh - carry.inh).abs() < 1e-15);
}
