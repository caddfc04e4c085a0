//! Gradient checks of the scan with every neuron model against central finite differences,
//! in f64 with the smooth spike relaxation and a differentiable reset (so the network is an
//! ordinary differentiable function of its inputs and parameters).

use super::testing::{check_jacobian, check_model, uniform, uniform_seq, Perturb};
use super::*;
use crate::neurons::{
    AdaptiveLif, FixedLif, LeakyReadout, Lif, MembraneInput, ResetGrad, ResetMode,
};
use crate::surrogates::{SpikeFn, Surrogate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

impl Perturb for Lif<f64> {
    fn param_mut(&mut self, p: usize, j: usize) -> &mut f64 {
        [&mut self.beta, &mut self.alpha][p].get_mut(j).unwrap()
    }
}

impl Perturb for FixedLif<f64> {
    fn param_mut(&mut self, _p: usize, _j: usize) -> &mut f64 {
        unreachable!("a LIF with constant decays has no per-neuron gradients")
    }
}

impl Perturb for LeakyReadout<f64> {
    fn param_mut(&mut self, p: usize, j: usize) -> &mut f64 {
        [&mut self.alpha, &mut self.beta][p].get_mut(j).unwrap()
    }
}

impl Perturb for AdaptiveLif<f64> {
    fn param_mut(&mut self, p: usize, j: usize) -> &mut f64 {
        [
            &mut self.beta,
            &mut self.alpha,
            &mut self.rho,
            &mut self.strength,
        ][p]
            .get_mut(j)
            .unwrap()
    }
}

/// Every reset mode, for the tests that run the LIF under each.
const RESET_MODES: [ResetMode; 3] = [
    ResetMode::Zero,
    ResetMode::Subtract,
    ResetMode::SubtractAfterLeak,
];

/// A LIF of `n` neurons with random decays and threshold, relaxed spikes and a differentiable
/// reset and a reset mode drawn from [`RESET_MODES`].
fn random_lif(rng: &mut ChaCha8Rng, n: usize) -> Lif<f64> {
    let reset_mode = RESET_MODES[rng.random_range(0..RESET_MODES.len())];
    Lif {
        alpha: uniform(rng, n, 0.5, 0.95),
        beta: uniform(rng, n, 0.6, 0.97),
        threshold: rng.random_range(0.5..1.5),
        spike: SpikeFn::Relaxed {
            beta: rng.random_range(2.0..10.0),
        },
        reset: ResetGrad::Differentiable,
        reset_mode,
    }
}

#[test]
fn lif_backward_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for trial in 0..9 {
        let n = rng.random_range(1..6);
        let mut lif = random_lif(&mut rng, n);
        lif.reset_mode = RESET_MODES[trial % 3];
        check_model(&lif, &mut rng, trial % 2 == 0);
    }
}

#[test]
fn fixed_lif_backward_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for trial in 0..9 {
        let n = rng.random_range(1..6);
        let mut lif = random_lif(&mut rng, n);
        lif.reset_mode = RESET_MODES[trial % 3];
        check_model(&FixedLif(lif), &mut rng, trial % 2 == 0);
    }
}

/// Keeping only `U` changes nothing: the constant-decay LIF's input and recurrent-weight
/// gradients equal those of the LIF that keeps its whole state, bit for bit.
#[test]
fn fixed_lif_equals_lif_from_the_membrane_alone() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let spikes = [
        SpikeFn::Heaviside {
            surrogate: Surrogate::SuperSpike { beta: 10.0 },
        },
        SpikeFn::Relaxed { beta: 4.0 },
    ];
    let settings = spikes.into_iter().flat_map(|spike| {
        let resets = [ResetGrad::Detached, ResetGrad::Differentiable];
        resets
            .into_iter()
            .flat_map(move |reset| RESET_MODES.map(|mode| (spike, reset, mode)))
    });
    for (spike, reset, mode) in settings {
        {
            let n = 6;
            let mut lif = random_lif(&mut rng, n);
            (lif.spike, lif.reset, lif.reset_mode) = (spike, reset, mode);
            let x = Seq::from_vec(10, 3, n, uniform(&mut rng, 10 * 3 * n, -1.0, 6.0)).unwrap();
            let g = Seq::from_vec(10, 3, n, uniform(&mut rng, 10 * 3 * n, -1.0, 1.0)).unwrap();
            let w = Matrix::from_vec(n, n, uniform(&mut rng, n * n, -1.0, 1.0)).unwrap();
            let fixed = FixedLif(lif.clone());
            let (tf, tl) = (
                forward(&fixed, x.clone(), Some(&w)),
                forward(&lif, x, Some(&w)),
            );
            assert_eq!(tf.out, tl.out);
            let mems: Vec<f64> = tl.saved.iter().map(|s| s.mem).collect();
            assert_eq!(tf.saved, mems);
            let (gf, gl) = (
                backward(&fixed, &tf, &g, Some(&w)),
                backward(&lif, &tl, &g, Some(&w)),
            );
            assert_eq!(gf.input, gl.input, "{spike:?} {reset:?} {mode:?}");
            assert_eq!(gf.w_rec, gl.w_rec, "{spike:?} {reset:?} {mode:?}");
            assert!(gf.params.is_empty());
        }
    }
}

#[test]
fn adaptive_lif_backward_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for trial in 0..6 {
        let n = rng.random_range(1..6);
        let lif = random_lif(&mut rng, n);
        let model = AdaptiveLif {
            alpha: lif.alpha,
            beta: lif.beta,
            rho: uniform(&mut rng, n, 0.8, 0.99),
            strength: uniform(&mut rng, n, 0.05, 0.5),
            threshold: lif.threshold,
            spike: lif.spike,
            reset: ResetGrad::Differentiable,
        };
        check_model(&model, &mut rng, trial % 2 == 1);
    }
}

#[test]
fn readout_backward_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for trial in 0..6 {
        let n = rng.random_range(1..6);
        let model = LeakyReadout {
            alpha: uniform(&mut rng, n, 0.5, 0.95),
            beta: uniform(&mut rng, n, 0.6, 0.97),
            input: [MembraneInput::Normalized, MembraneInput::Unit][trial % 2],
        };
        check_model(&model, &mut rng, false);
    }
}

/// Integrators (NIR's `I`): the output is the running sum of the input.
#[test]
fn integrators_sum_their_input() {
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    let model = LeakyReadout::<f64>::integrators(3);
    let x = Seq::from_vec(7, 2, 3, uniform(&mut rng, 42, -1.0, 1.0)).unwrap();
    let out = forward(&model, x.clone(), None).out;
    let mut sum = [0.0; 2 * 3];
    for t in 0..7 {
        for (i, s) in sum.iter_mut().enumerate() {
            *s += x.data[t * 6 + i];
            assert!((out.data[t * 6 + i] - *s).abs() < 1e-12, "t = {t}");
        }
    }
}

/// The LIF's response to one input spike at t = 0 is the closed-form difference of
/// exponentials `U[t] = (1−β) Σ_{k≤t} α^k β^{t−k} = (1−β)(α^{t+1} − β^{t+1})/(α − β)`.
#[test]
fn lif_single_spike_response_matches_closed_form() {
    let (dt, tau_syn, tau_mem) = (1e-3_f64, 5e-3, 10e-3);
    let (alpha, beta) = ((-dt / tau_syn).exp(), (-dt / tau_mem).exp());
    let model = Lif {
        alpha: vec![alpha],
        beta: vec![beta],
        threshold: 1e9,
        spike: SpikeFn::default(),
        reset: ResetGrad::Detached,
        reset_mode: ResetMode::Zero,
    };
    let steps = 60;
    let mut x = Seq::zeros(steps, 1, 1);
    x.data[0] = 1.0;
    let trace = forward(&model, x, None);
    for t in 0..steps {
        let k = (t + 1) as i32;
        let expect = (1.0 - beta) * (alpha.powi(k) - beta.powi(k)) / (alpha - beta);
        let got = trace.saved[t].mem;
        assert!((got - expect).abs() < 1e-14, "t={t}: {got} vs {expect}");
        assert!((trace.saved[t].syn - alpha.powi(t as i32)).abs() < 1e-14);
    }
}

/// One LIF neuron without synaptic decay (`α = 0`), `β = 0.5`, `θ = 1`, resetting by `mode`,
/// run on the inputs `xs`: its spikes and membranes.
fn hand_trace(mode: ResetMode, xs: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let model = Lif {
        alpha: vec![0.0],
        beta: vec![0.5],
        threshold: 1.0,
        spike: SpikeFn::default(),
        reset: ResetGrad::Detached,
        reset_mode: mode,
    };
    let x = Seq::from_vec(xs.len(), 1, 1, xs.to_vec()).unwrap();
    let trace = forward(&model, x, None);
    (trace.out.data, trace.saved.iter().map(|s| s.mem).collect())
}

/// A neuron driven above threshold spikes, is reset to exactly zero, and integrates again.
#[test]
fn lif_resets_by_multiplication() {
    let (spikes, mems) = hand_trace(ResetMode::Zero, &[4.0, 4.0, 4.0, 0.0]);
    // U0 = 0.5·4 = 2 → spike; U1 = 0.5·2·0 + 2 = 2 → spike; U3 = 0 (reset, no input).
    assert_eq!(spikes, vec![1.0, 1.0, 1.0, 0.0]);
    assert_eq!(mems[3], 0.0);
}

/// Reset by subtraction: `U[t] = β (U[t−1] − θ S[t−1]) + (1 − β) x[t]` (no synaptic decay),
/// the overshoot kept and decayed. By hand with β = 0.5, θ = 1: U = 0.5·5.5 = 2.75 → spike;
/// 0.5·(2.75 − 1) = 0.875 (no input) → none; 0.5·0.875 + 0.5·2 = 1.4375 → spike;
/// 0.5·0.4375 = 0.21875 (all exact in binary).
#[test]
fn lif_resets_by_subtraction() {
    let (spikes, mems) = hand_trace(ResetMode::Subtract, &[5.5, 0.0, 2.0, 0.0]);
    assert_eq!(spikes, vec![1.0, 0.0, 1.0, 0.0]);
    assert_eq!(mems, vec![2.75, 0.875, 1.4375, 0.21875]);
}

/// Subtraction after the leak: `U[t] = β U[t−1] − θ S[t−1] + (1 − β) x[t]`. The same input
/// as [`lif_resets_by_subtraction`]: 2.75 → spike; 0.5·2.75 − 1 = 0.375 → none;
/// 0.1875 + 1 = 1.1875 → spike; 0.59375 − 1 = −0.40625 (all exact in binary).
#[test]
fn lif_subtracts_after_the_leak() {
    let (spikes, mems) = hand_trace(ResetMode::SubtractAfterLeak, &[5.5, 0.0, 2.0, 0.0]);
    assert_eq!(spikes, vec![1.0, 0.0, 1.0, 0.0]);
    assert_eq!(mems, vec![2.75, 0.375, 1.1875, -0.40625]);
}

/// A model that forwards to a model's per-neuron `step`/`adjoint` and keeps the trait's
/// default row loops, to compare against that model's fused row kernels.
#[derive(Clone)]
struct PerNeuron<M>(M);

impl<M: NeuronModel<f64>> NeuronModel<f64> for PerNeuron<M> {
    type State = M::State;
    type Saved = M::Saved;
    const GRADS_PER_NEURON: usize = M::GRADS_PER_NEURON;
    fn width(&self) -> usize {
        self.0.width()
    }
    fn initial_state(&self, j: usize) -> Self::State {
        self.0.initial_state(j)
    }
    fn step(
        &self,
        j: usize,
        prev: &Self::State,
        po: f64,
        x: f64,
        ctx: &StepContext,
    ) -> (Self::State, f64) {
        self.0.step(j, prev, po, x, ctx)
    }
    fn save(&self, state: &Self::State) -> Self::Saved {
        self.0.save(state)
    }
    fn output(&self, j: usize, saved: &Self::Saved, ctx: &StepContext) -> f64 {
        self.0.output(j, saved, ctx)
    }
    fn adjoint(
        &self,
        j: usize,
        prev: &Self::Saved,
        po: f64,
        saved: &Self::Saved,
        carry: &Self::State,
        g: f64,
        grads: &mut [f64],
    ) -> crate::neurons::StepAdjoint<f64, Self::State> {
        self.0.adjoint(j, prev, po, saved, carry, g, grads)
    }
    fn jacobian(
        &self,
        j: usize,
        prev: &Self::State,
        po: f64,
        state: &Self::State,
        jac: &mut crate::neurons::StepJacobian<f64>,
    ) {
        self.0.jacobian(j, prev, po, state, jac)
    }
}

/// Runs `model` and its per-neuron form on the same data; every output must be identical.
fn assert_rows_equal_per_neuron<M: NeuronModel<f64> + Clone>(
    model: &M,
    rng: &mut ChaCha8Rng,
    what: &str,
) where
    M::Saved: PartialEq,
{
    let n = model.width();
    let x = Seq::from_vec(12, 3, n, uniform(rng, 12 * 3 * n, -1.0, 6.0)).unwrap();
    let g = Seq::from_vec(12, 3, n, uniform(rng, 12 * 3 * n, -1.0, 1.0)).unwrap();
    let w = Matrix::from_vec(n, n, uniform(rng, n * n, -1.0, 1.0)).unwrap();
    let plain_model = PerNeuron(model.clone());
    let fused = forward(model, x.clone(), Some(&w));
    let plain = forward(&plain_model, x, Some(&w));
    assert_eq!(fused.out, plain.out, "{what}");
    assert!(fused.saved == plain.saved, "{what}");
    let gf = backward(model, &fused, &g, Some(&w));
    let gp = backward(&plain_model, &plain, &g, Some(&w));
    assert_eq!(gf.input, gp.input, "{what}");
    assert_eq!(gf.params, gp.params, "{what}");
    assert_eq!(gf.w_rec, gp.w_rec, "{what}");
}

/// The LIF's fused row kernels compute exactly what its per-neuron functions compute, for
/// every spike kind and both reset modes.
#[test]
fn lif_row_kernels_equal_per_neuron_steps() {
    use crate::surrogates::Surrogate;
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let spikes = [
        SpikeFn::Heaviside {
            surrogate: Surrogate::SuperSpike { beta: 10.0 },
        },
        SpikeFn::Heaviside {
            surrogate: Surrogate::Sigmoid { beta: 5.0 },
        },
        SpikeFn::Heaviside {
            surrogate: Surrogate::Atan { beta: 2.0 },
        },
        SpikeFn::Heaviside {
            surrogate: Surrogate::Triangle { beta: 1.0 },
        },
        SpikeFn::Heaviside {
            surrogate: Surrogate::Exponential { beta: 3.0 },
        },
        SpikeFn::Relaxed { beta: 4.0 },
    ];
    for spike in spikes {
        for (reset, mode) in [ResetGrad::Detached, ResetGrad::Differentiable]
            .into_iter()
            .flat_map(|reset| RESET_MODES.map(|mode| (reset, mode)))
        {
            let mut lif = random_lif(&mut rng, 7);
            (lif.spike, lif.reset, lif.reset_mode) = (spike, reset, mode);
            let what = format!("{spike:?} {reset:?} {mode:?}");
            assert_rows_equal_per_neuron(&lif, &mut rng, &what);
            assert_rows_equal_per_neuron(&FixedLif(lif), &mut rng, &what);
        }
    }
}

/// The readout's row kernels compute exactly what its per-unit functions compute, for leaky
/// units and for integrators.
#[test]
fn readout_row_kernels_equal_per_unit_steps() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for input in [MembraneInput::Normalized, MembraneInput::Unit] {
        let readout = LeakyReadout {
            alpha: uniform(&mut rng, 21, 0.0, 0.95),
            beta: uniform(&mut rng, 21, 0.5, 0.99),
            input,
        };
        assert_rows_equal_per_neuron(&readout, &mut rng, &format!("{input:?}"));
    }
}

#[test]
fn independent_scan_equals_step_by_step_scan() {
    // Without recurrence each task runs its samples through all steps; with a zero W_rec the
    // step-by-step scan computes the same thing. Batch 7 gives blocks of unequal size.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (steps, batch, n) = (11, 7, 4);
    let model = random_lif(&mut rng, n);
    let x = uniform_seq(&mut rng, (steps, batch, n), -1.0, 6.0);
    let g = uniform_seq(&mut rng, (steps, batch, n), -1.0, 1.0);
    let zero = Matrix::zeros(n, n);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    pool.install(|| {
        let alone = forward(&model, x.clone(), None);
        let stepped = forward(&model, x.clone(), Some(&zero));
        assert_eq!(alone.out, stepped.out);
        assert!(
            alone.out.data.iter().any(|&o| o > 0.5),
            "some neurons spike"
        );
        let (ga, gs) = (
            backward(&model, &alone, &g, None),
            backward(&model, &stepped, &g, Some(&zero)),
        );
        assert_eq!(ga.input, gs.input);
        assert_eq!(ga.params, gs.params);
    });
}

#[test]
fn jacobians_match_finite_differences_and_adjoints_are_their_transpose() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    for reset in [ResetGrad::Detached, ResetGrad::Differentiable] {
        let mut lif = random_lif(&mut rng, 4);
        lif.reset = reset;
        let exact = reset == ResetGrad::Differentiable;
        for mode in RESET_MODES {
            lif.reset_mode = mode;
            check_jacobian(&lif, &mut rng, exact);
            check_jacobian(&FixedLif(lif.clone()), &mut rng, exact);
        }
        let adaptive = AdaptiveLif {
            alpha: lif.alpha.clone(),
            beta: lif.beta.clone(),
            rho: uniform(&mut rng, 4, 0.8, 0.99),
            strength: uniform(&mut rng, 4, 0.05, 0.5),
            threshold: lif.threshold,
            spike: lif.spike,
            reset,
        };
        check_jacobian(&adaptive, &mut rng, exact);
    }
    for input in [MembraneInput::Normalized, MembraneInput::Unit] {
        let readout = LeakyReadout {
            alpha: uniform(&mut rng, 3, 0.5, 0.95),
            beta: uniform(&mut rng, 3, 0.6, 0.97),
            input,
        };
        check_jacobian(&readout, &mut rng, true);
    }
}

/// A sequence scanned in chunks, each continuing from the previous chunk's final states and
/// outputs, equals the scan of the whole sequence (with and without recurrence, stochastic
/// spikes included: each chunk's steps keep their place in the sequence).
#[test]
fn chunked_scans_continue_exactly() {
    use crate::neurons::NoiseStream;
    use crate::surrogates::EscapeNoise;
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    let (steps, batch, n) = (23, 5, 6);
    let mut lif = random_lif(&mut rng, n);
    lif.spike = SpikeFn::EscapeNoise {
        noise: EscapeNoise::Sigmoid { beta: 6.0 },
        surrogate: None,
    };
    let x = uniform(&mut rng, steps * batch * n, -1.0, 4.0);
    let x = Seq::from_vec(steps, batch, n, x).unwrap();
    let w = Matrix::from_vec(n, n, uniform(&mut rng, n * n, -1.0, 1.0)).unwrap();
    for w_rec in [None, Some(&w)] {
        let ctx = ScanContext {
            noise: NoiseStream(3),
            first_step: 0,
        };
        let whole = forward_with::<_, _, KeepStates>(&lif, x.clone(), w_rec, &ctx);
        let mut carry: Option<(Vec<_>, Vec<f64>)> = None;
        let mut outs = Vec::new();
        let mut states = Vec::new();
        for (t0, t1) in [(0, 7), (7, 8), (8, 23)] {
            let slab = batch * n;
            let chunk = Seq::from_vec(t1 - t0, batch, n, x.data[t0 * slab..t1 * slab].to_vec());
            let ctx = ScanContext {
                first_step: t0,
                ..ctx
            };
            let start = carry
                .as_ref()
                .map(|(s, o)| ScanStart { states: s, outs: o });
            let (trace, finals) =
                forward_from::<_, _, KeepStates>(&lif, chunk.unwrap(), w_rec, &ctx, start);
            let last = trace.out.data[(t1 - t0 - 1) * slab..].to_vec();
            outs.extend_from_slice(&trace.out.data);
            states.extend_from_slice(&trace.saved);
            assert_eq!(finals, trace.saved[(t1 - t0 - 1) * slab..].to_vec());
            carry = Some((finals, last));
        }
        assert_eq!(outs, whole.out.data);
        assert_eq!(states, whole.saved);
        assert!(outs.iter().any(|&o| o > 0.5) && outs.iter().any(|&o| o < 0.5));
    }
}

#[test]
fn spikes_kept_as_events_are_the_dense_spikes_non_zero_entries() {
    // 7 samples: tasks of unequal size; with and without recurrence; the saved records agree.
    let mut rng = ChaCha8Rng::seed_from_u64(41);
    let (steps, batch, n) = (30, 7, 9);
    let mut lif = random_lif(&mut rng, n);
    lif.spike = SpikeFn::Heaviside {
        surrogate: Surrogate::SuperSpike { beta: 10.0 },
    };
    let x = uniform(&mut rng, steps * batch * n, -1.0, 3.0);
    let x = Seq::from_vec(steps, batch, n, x).unwrap();
    let w = Matrix::from_vec(n, n, uniform(&mut rng, n * n, -1.0, 1.0)).unwrap();
    for w_rec in [None, Some(&w)] {
        let ctx = ScanContext::default();
        let dense = forward_with::<_, _, KeepSaved>(&lif, x.clone(), w_rec, &ctx);
        let events = forward_events::<_, _, KeepSaved>(&lif, x.clone(), w_rec, &ctx);
        let expected = SpikeEvents::from_nonzero(&dense.out);
        assert_eq!(events.events.as_ref(), Some(&expected));
        assert_eq!(events.saved, dense.saved);
        assert!(events.out.data.is_empty());
        assert!(expected.count() > 0 && expected.count() < steps * batch * n);
    }
}

#[test]
fn gathered_weight_gradients_equal_the_sums_over_the_input_gradient() {
    // Narrow layers (rows added spike by spike, padded) and wide ones (rows grouped by id over
    // windows of steps: one whole window, then a partial one).
    for n in [11, 20, 70] {
        gathered_weight_gradients_equal_the_sums_at_width(n);
    }
}

fn gathered_weight_gradients_equal_the_sums_at_width(n: usize) {
    // 19 samples: blocks of unequal size; binary spikes kept as events.
    let mut rng = ChaCha8Rng::seed_from_u64(43);
    let (steps, batch, n_in) = (partials::WINDOW_STEPS + 9, 19, 13);
    let mut lif = random_lif(&mut rng, n);
    lif.spike = SpikeFn::Heaviside {
        surrogate: Surrogate::SuperSpike { beta: 10.0 },
    };
    let x = uniform_seq(&mut rng, (steps, batch, n), -1.0, 3.0);
    let w = Matrix::from_vec(n, n, uniform(&mut rng, n * n, -1.0, 1.0)).unwrap();
    let g = uniform_seq(&mut rng, (steps, batch, n), -1.0, 1.0);
    let input = SpikeEvents::bernoulli(steps, batch, n_in, 0.3, &mut rng);
    let ctx = ScanContext::default();
    let trace = forward_events::<_, _, KeepSaved>(&lif, x, Some(&w), &ctx);
    let events = trace.events.as_ref().expect("events");
    assert!(events.count() > 0 && input.count() > 0);
    let run = |threads: usize, keep: InputGrad| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| backward_gathering(&lif, &trace, &g, Some(&w), &ctx, Some(&input), keep))
    };
    let kept = run(2, InputGrad::Keep);
    let g_x = kept.kept_input();
    // The sums the layer computed from the whole ∂L/∂x before.
    let mut dw_in = Matrix::zeros(n_in, n);
    crate::linalg::events_grad_weight(&input, g_x, &mut dw_in);
    let mut dw_rec = Matrix::zeros(n, n);
    crate::linalg::events_grad_weight_shifted(events, g_x, batch, &mut dw_rec);
    let close = |a: &Matrix<f64>, b: &Matrix<f64>| {
        a.data
            .iter()
            .zip(&b.data)
            .all(|(x, y)| (x - y).abs() < 1e-12)
    };
    assert!(close(kept.w_in.as_ref().unwrap(), &dw_in));
    assert!(close(kept.w_rec.as_ref().unwrap(), &dw_rec));
    assert!(dw_in.data.iter().any(|&v| v != 0.0) && dw_rec.data.iter().any(|&v| v != 0.0));
    // Without ∂L/∂x, and on other thread counts: the same numbers, bit for bit.
    for (threads, keep) in [
        (1, InputGrad::Discard),
        (3, InputGrad::Keep),
        (2, InputGrad::Discard),
    ] {
        let other = run(threads, keep);
        assert_eq!(other.input.is_some(), keep == InputGrad::Keep);
        assert_eq!((&other.w_in, &other.w_rec), (&kept.w_in, &kept.w_rec));
        assert_eq!(other.params, kept.params);
    }
}

#[test]
fn projected_spike_currents_equal_the_projection_given_whole() {
    // The current summed row by row inside the scan against the whole projection plus bias:
    // the same sums, so the same spikes and records bit for bit, with and without recurrence.
    let mut rng = ChaCha8Rng::seed_from_u64(47);
    let (steps, batch, n, n_in) = (20, 7, 9, 15);
    let mut lif = random_lif(&mut rng, n);
    lif.spike = SpikeFn::Heaviside {
        surrogate: Surrogate::SuperSpike { beta: 10.0 },
    };
    let input = SpikeEvents::bernoulli(steps, batch, n_in, 0.3, &mut rng);
    let w_in = Matrix::from_vec(n_in, n, uniform(&mut rng, n_in * n, -0.5, 1.5)).unwrap();
    let bias = uniform(&mut rng, n, -0.2, 0.3);
    let mut whole = Seq::zeros(steps, batch, n);
    crate::linalg::events_forward(&input, &w_in, &mut whole);
    crate::layers::add_bias(&mut whole, Some(&bias));
    let w = Matrix::from_vec(n, n, uniform(&mut rng, n * n, -1.0, 1.0)).unwrap();
    let ctx = ScanContext::default();
    for w_rec in [None, Some(&w)] {
        let projected = ProjectedEvents {
            events: &input,
            w: &w_in,
            bias: Some(&bias),
        };
        let a = forward_events::<_, _, KeepSaved>(&lif, projected, w_rec, &ctx);
        let b = forward_events::<_, _, KeepSaved>(&lif, whole.clone(), w_rec, &ctx);
        assert_eq!(a.events, b.events);
        assert_eq!(a.saved, b.saved);
        let spikes = a.events.as_ref().expect("events").count();
        assert!(spikes > 0 && spikes < steps * batch * n);
        assert_eq!(Current::from(projected).into_dense(), whole);
    }
}

#[test]
fn output_gradients_through_weights_equal_the_product_given_whole() {
    // ∂L/∂o = g · Wᵀ computed block by block inside the scan, against the whole product.
    let mut rng = ChaCha8Rng::seed_from_u64(53);
    let (steps, batch, n, m) = (15, 11, 8, 3);
    let lif = random_lif(&mut rng, n);
    let x = uniform_seq(&mut rng, (steps, batch, n), -1.0, 3.0);
    let w_rec = Matrix::from_vec(n, n, uniform(&mut rng, n * n, -1.0, 1.0)).unwrap();
    let w_out = Matrix::from_vec(n, m, uniform(&mut rng, n * m, -1.0, 1.0)).unwrap();
    let g = uniform_seq(&mut rng, (steps, batch, m), -1.0, 1.0);
    let ctx = ScanContext::default();
    let trace = forward_with::<_, _, KeepSaved>(&lif, x, Some(&w_rec), &ctx);
    let through = OutputGrad::Through { g: &g, w: &w_out };
    let whole = through.to_dense();
    let expected: f64 = (0..m).map(|k| g.at(3, 4, k) * w_out.at(5, k)).sum();
    assert!((whole.at(3, 4, 5) - expected).abs() < 1e-12);
    let keep = InputGrad::Keep;
    let a = backward_gathering(&lif, &trace, through, Some(&w_rec), &ctx, None, keep);
    let b = backward_gathering(&lif, &trace, &*whole, Some(&w_rec), &ctx, None, keep);
    let close = |u: &[f64], v: &[f64]| u.iter().zip(v).all(|(p, q)| (p - q).abs() < 1e-12);
    assert!(close(&a.kept_input().data, &b.kept_input().data));
    assert!(close(&a.w_rec.unwrap().data, &b.w_rec.unwrap().data));
    assert!(close(&a.params, &b.params));
    assert!(a.params.iter().any(|&v| v != 0.0));
}
