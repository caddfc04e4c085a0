use super::*;

fn views(v: &[Vec<f32>]) -> Vec<&[f32]> {
    v.iter().map(Vec::as_slice).collect()
}

#[test]
fn the_penalty_gradient_matches_finite_differences() {
    let params = vec![vec![0.5f32, -1.0], vec![2.0]];
    let mut penalty = QuadraticPenalty::new(0.3, &views(&params));
    penalty.importance = vec![vec![1.5, 0.25], vec![4.0]];
    penalty.anchor = vec![vec![0.0, 0.0], vec![1.0]];
    let mut grads = vec![vec![0.0; 2], vec![0.0]];
    let value = penalty.add(&views(&params), &mut grads);
    // c Σ Ω (θ − θ*)² = 0.3 (1.5·0.25 + 0.25·1 + 4·1)
    assert!((value - 0.3 * (0.375 + 0.25 + 4.0)).abs() < 1e-6);
    let h = 1e-3f32;
    for k in 0..2 {
        for i in 0..params[k].len() {
            let at = |d: f32| {
                let mut p = params.clone();
                p[k][i] += d;
                penalty.add(&views(&p), &mut [vec![0.0; 2], vec![0.0]])
            };
            let fd = (at(h) - at(-h)) / (2.0 * f64::from(h));
            assert!((fd - f64::from(grads[k][i])).abs() < 1e-3, "{k} {i}: {fd}");
        }
    }
}

/// SI's path integral approximates each parameter's share of the drop of the loss: with small
/// gradient steps on `L = ½ Σ a_i (θ_i − m_i)²` (a separable loss, so each parameter's share
/// is exact), `ω_i` equals `½ a_i ((θ_i⁰ − m_i)² − (θ_i − m_i)²)` to first order in the step.
#[test]
fn the_path_integral_equals_the_loss_drop_per_parameter() {
    let (a, m) = ([2.0f32, 0.5, 1.0], [1.0f32, -2.0, 0.0]);
    let mut theta = vec![vec![0.0f32, 0.0, 0.0]];
    let start = theta[0].clone();
    let mut si = SynapticIntelligence::new(1.0, 1e-3, &views(&theta));
    let lr = 1e-3;
    for _ in 0..2000 {
        let grad: Vec<f32> = (0..3).map(|i| a[i] * (theta[0][i] - m[i])).collect();
        let before = theta.clone();
        theta[0]
            .iter_mut()
            .zip(&grad)
            .for_each(|(t, g)| *t -= lr * g);
        si.accumulate(&[grad], &before, &views(&theta));
    }
    for i in 0..3 {
        let drop = 0.5 * a[i] * ((start[i] - m[i]).powi(2) - (theta[0][i] - m[i]).powi(2));
        let omega = si.path[0][i];
        assert!(
            (omega - drop).abs() < 2e-3 * drop.abs().max(1e-3),
            "{i}: ω {omega} vs {drop}"
        );
    }
    // The end of the task: Ω = ω / (Δ² + ξ), anchor at θ, ω reset.
    let omega = si.path[0].clone();
    si.end_task(&views(&theta));
    for i in 0..3 {
        let d = theta[0][i] - start[i];
        let expected = omega[i] / (d * d + 1e-3);
        assert!((si.penalty.importance[0][i] - expected).abs() <= 1e-4 * expected.abs() + 1e-9);
    }
    assert_eq!(si.penalty.anchor, theta);
    assert!(si.path[0].iter().all(|&w| w == 0.0));
}

#[test]
fn negative_path_integrals_leave_no_negative_importance() {
    let theta = vec![vec![1.0f32]];
    let mut si = SynapticIntelligence::new(1.0, 0.1, &views(&[vec![0.0]]));
    si.path = vec![vec![-5.0]];
    si.end_task(&views(&theta));
    assert_eq!(si.penalty.importance[0][0], 0.0);
}

#[test]
fn ewc_adds_the_fisher_and_moves_the_anchor() {
    let params = vec![vec![1.0f32, 2.0]];
    let mut ewc = ElasticWeights::new(4.0, &views(&[vec![0.0, 0.0]]));
    ewc.end_task(&views(&params), &[vec![0.5, 0.0]]);
    ewc.end_task(&views(&params), &[vec![0.25, 1.0]]);
    assert_eq!(ewc.penalty.importance, vec![vec![0.75, 1.0]]);
    assert_eq!(ewc.penalty.anchor, params);
    let moved = vec![vec![2.0f32, 2.0]];
    let mut grads = vec![vec![0.0; 2]];
    // (λ/2) F Δ² = 2 · 0.75 · 1
    let value = Consolidation::Ewc(ewc).add_penalty(&views(&moved), &mut grads);
    assert!((value - 1.5).abs() < 1e-6);
    assert!((grads[0][0] - 3.0).abs() < 1e-6);
}

#[test]
fn kinds_validate_and_build() {
    assert!(ConsolidationKind::Si { c: 0.1, xi: 0.0 }
        .validate()
        .is_err());
    assert!(ConsolidationKind::Si { c: -1.0, xi: 0.1 }
        .validate()
        .is_err());
    let ewc = ConsolidationKind::Ewc {
        lambda: 1.0,
        fisher_samples: 0,
    };
    assert!(ewc.validate().is_err());
    let p = vec![vec![0.0f32; 3]];
    assert_eq!(
        Consolidation::new(ConsolidationKind::Finetune, &views(&p)),
        Consolidation::None
    );
    assert!(
        Consolidation::new(ConsolidationKind::Si { c: 1.0, xi: 0.1 }, &views(&p)).tracks_steps()
    );
}
