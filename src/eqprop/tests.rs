use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const STEPS: usize = 400;

/// A 5-4-3-3 network with weights small enough for the relaxation to contract.
pub(super) fn net(loss: EqLoss) -> EnergyNet {
    let sizes = vec![5, 4, 3, 3];
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut draw = |n: usize| {
        (0..n)
            .map(|_| rng.random_range(-0.6..0.6))
            .collect::<Vec<f64>>()
    };
    let weights = sizes.windows(2).map(|p| draw(p[0] * p[1])).collect();
    let biases = sizes[1..].iter().map(|&n| draw(n)).collect();
    EnergyNet {
        sizes,
        params: Params { weights, biases },
        loss,
    }
}

const X: [f64; 5] = [0.2, 0.9, 0.4, 0.0, 0.7];
const Y: usize = 1;

/// Every parameter, mutably, in a fixed order.
fn entries(p: &mut Params<f64>) -> Vec<&mut f64> {
    p.weights
        .iter_mut()
        .chain(p.biases.iter_mut())
        .flatten()
        .collect()
}

/// Every parameter in a fixed order: weights, then biases.
pub(super) fn flat(p: &Params<f64>) -> Vec<f64> {
    p.weights
        .iter()
        .chain(&p.biases)
        .flatten()
        .copied()
        .collect()
}

/// The largest difference relative to the largest exact entry.
fn relative_error(estimate: &Params<f64>, exact: &Params<f64>) -> f64 {
    let (a, b) = (flat(estimate), flat(exact));
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(&b)
        .fold(0.0f64, |m, (u, v)| m.max((u - v).abs()))
        / scale
}

#[test]
fn the_implicit_gradient_matches_finite_differences_of_the_relaxed_loss() {
    for loss in [EqLoss::CrossEntropy, EqLoss::SquaredError] {
        let net = net(loss);
        let (exact, _) = exact::gradient(&net, &X, Y, STEPS).unwrap();
        let loss_at = |n: &EnergyNet| exact::gradient(n, &X, Y, STEPS).unwrap().1;
        let count = flat(&exact).len();
        let h = 1e-6;
        for index in 0..count {
            let (mut plus, mut minus) = (net.clone(), net.clone());
            *entries(&mut plus.params)[index] += h;
            *entries(&mut minus.params)[index] -= h;
            let fd = (loss_at(&plus) - loss_at(&minus)) / (2.0 * h);
            let g = flat(&exact)[index];
            assert!(
                (fd - g).abs() < 1e-7 * (1.0 + g.abs()),
                "{loss:?} {index}: {g} vs {fd}"
            );
        }
    }
}

#[test]
fn holomorphic_ep_converges_to_the_exact_gradient_with_more_phases() {
    let net = net(EqLoss::CrossEntropy);
    let (exact, _) = exact::gradient(&net, &X, Y, STEPS).unwrap();
    let error = |phases| {
        let hep = Estimator::Holomorphic { beta: 0.5, phases };
        relative_error(&hep.gradient(&net, &X, Y, STEPS, STEPS), &exact)
    };
    let errors: Vec<f64> = [2, 4, 8, 12].map(error).to_vec();
    // The Cauchy integral's error falls as |β|^N: a finite β on the circle is exact in the
    // limit of many phases, which classic EP is not.
    assert!(errors.windows(2).all(|p| p[1] < 0.2 * p[0]), "{errors:?}");
    assert!(errors[3] < 1e-7, "{errors:?}");
}

#[test]
fn symmetric_ep_beats_one_sided_ep_and_both_converge_as_beta_shrinks() {
    let net = net(EqLoss::SquaredError);
    let (exact, _) = exact::gradient(&net, &X, Y, STEPS).unwrap();
    let error = |e: Estimator| relative_error(&e.gradient(&net, &X, Y, STEPS, STEPS), &exact);
    let one = |beta| error(Estimator::OneSided { beta });
    let sym = |beta| error(Estimator::Symmetric { beta });
    // One-sided: error ∝ β; symmetric: ∝ β².
    let (o1, o2) = (one(1e-2), one(1e-3));
    let (s1, s2) = (sym(1e-2), sym(1e-3));
    assert!(o1 / o2 > 5.0 && o1 / o2 < 20.0, "one-sided {o1} {o2}");
    assert!(s1 / s2 > 50.0, "symmetric {s1} {s2}");
    assert!(s2 < 1e-5 && s2 < o2, "{s2} {o2}");
    // A wrong estimator is caught: the nudged phase alone, without the free phase.
    let wrong = Estimator::Holomorphic {
        beta: 1e-2,
        phases: 1,
    };
    assert!(error(wrong) > 1.0);
}
