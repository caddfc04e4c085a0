//! Gradient checks of the scan with every neuron model against central finite differences,
//! in f64 with the smooth spike relaxation and a differentiable reset (so the network is an
//! ordinary differentiable function of its inputs and parameters).

use super::*;
use crate::neurons::{AdaptiveLif, FixedLif, LeakyReadout, Lif, ResetGrad};
use crate::surrogates::SpikeFn;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A model whose per-neuron parameters can be perturbed by index, for finite differences.
trait Perturb: NeuronModel<f64> + Clone {
    fn param_mut(&mut self, p: usize, j: usize) -> &mut f64;
}

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

fn uniform(rng: &mut ChaCha8Rng, len: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..len).map(|_| rng.random_range(lo..hi)).collect()
}

/// `L = Σ c · o`: a random linear read-out of every output, so `∂L/∂o = c`.
fn loss<M: NeuronModel<f64>>(
    model: &M,
    x: &Seq<f64>,
    w: Option<&Matrix<f64>>,
    c: &Seq<f64>,
) -> f64 {
    let trace = forward(model, x.clone(), w);
    trace.out.data.iter().zip(&c.data).map(|(o, c)| o * c).sum()
}

fn assert_close(got: f64, want: f64, what: &str) {
    let err = (got - want).abs() / want.abs().max(1e-3);
    assert!(
        err < 1e-6,
        "{what}: backward {got:e} vs finite difference {want:e} (rel {err:e})"
    );
}

/// Checks input, recurrent-weight and per-neuron parameter gradients of `model`.
fn check_model<M: Perturb>(model: &M, rng: &mut ChaCha8Rng, recurrent: bool) {
    let n = model.width();
    let (steps, batch) = (rng.random_range(3..9), rng.random_range(1..4));
    // Inputs large enough that the relaxed neurons cross threshold regularly.
    let x = Seq::from_vec(steps, batch, n, uniform(rng, steps * batch * n, -1.0, 6.0)).unwrap();
    let c = Seq::from_vec(steps, batch, n, uniform(rng, steps * batch * n, -1.0, 1.0)).unwrap();
    let w = recurrent.then(|| Matrix::from_vec(n, n, uniform(rng, n * n, -1.5, 1.5)).unwrap());
    let trace = forward(model, x.clone(), w.as_ref());
    let grads = backward(model, &trace, &c, w.as_ref());
    let h = 1e-6;

    for k in 0..x.data.len() {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp.data[k] += h;
        xm.data[k] -= h;
        let fd = (loss(model, &xp, w.as_ref(), &c) - loss(model, &xm, w.as_ref(), &c)) / (2.0 * h);
        assert_close(grads.input.data[k], fd, &format!("dL/dx[{k}]"));
    }
    if let (Some(w), Some(gw)) = (&w, &grads.w_rec) {
        for k in 0..w.data.len() {
            let (mut wp, mut wm) = (w.clone(), w.clone());
            wp.data[k] += h;
            wm.data[k] -= h;
            let fd = (loss(model, &x, Some(&wp), &c) - loss(model, &x, Some(&wm), &c)) / (2.0 * h);
            assert_close(gw.data[k], fd, &format!("dL/dW_rec[{k}]"));
        }
    }
    for p in 0..M::GRADS_PER_NEURON {
        for j in 0..n {
            let (mut mp, mut mm) = (model.clone(), model.clone());
            *mp.param_mut(p, j) += h;
            *mm.param_mut(p, j) -= h;
            let fd = (loss(&mp, &x, w.as_ref(), &c) - loss(&mm, &x, w.as_ref(), &c)) / (2.0 * h);
            assert_close(grads.params[p * n + j], fd, &format!("dL/dparam[{p}][{j}]"));
        }
    }
}

fn random_lif(rng: &mut ChaCha8Rng, n: usize) -> Lif<f64> {
    Lif {
        alpha: uniform(rng, n, 0.5, 0.95),
        beta: uniform(rng, n, 0.6, 0.97),
        threshold: rng.random_range(0.5..1.5),
        spike: SpikeFn::Relaxed {
            beta: rng.random_range(2.0..10.0),
        },
        reset: ResetGrad::Differentiable,
    }
}

#[test]
fn lif_backward_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for trial in 0..6 {
        let n = rng.random_range(1..6);
        check_model(&random_lif(&mut rng, n), &mut rng, trial % 2 == 0);
    }
}

#[test]
fn fixed_lif_backward_matches_finite_differences() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for trial in 0..6 {
        let n = rng.random_range(1..6);
        check_model(&FixedLif(random_lif(&mut rng, n)), &mut rng, trial % 2 == 0);
    }
}

/// Keeping only `U` changes nothing: the constant-decay LIF's input and recurrent-weight
/// gradients equal those of the LIF that keeps its whole state, bit for bit.
#[test]
fn fixed_lif_equals_lif_from_the_membrane_alone() {
    use crate::surrogates::Surrogate;
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let spikes = [
        SpikeFn::Heaviside {
            surrogate: Surrogate::SuperSpike { beta: 10.0 },
        },
        SpikeFn::Relaxed { beta: 4.0 },
    ];
    for spike in spikes {
        for reset in [ResetGrad::Detached, ResetGrad::Differentiable] {
            let n = 6;
            let mut lif = random_lif(&mut rng, n);
            (lif.spike, lif.reset) = (spike, reset);
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
            assert_eq!(gf.input, gl.input, "{spike:?} {reset:?}");
            assert_eq!(gf.w_rec, gl.w_rec, "{spike:?} {reset:?}");
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
    for _ in 0..4 {
        let n = rng.random_range(1..6);
        let model = LeakyReadout {
            alpha: uniform(&mut rng, n, 0.5, 0.95),
            beta: uniform(&mut rng, n, 0.6, 0.97),
        };
        check_model(&model, &mut rng, false);
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

/// A neuron driven above threshold spikes, is reset to exactly zero, and integrates again.
#[test]
fn lif_resets_by_multiplication() {
    let model = Lif {
        alpha: vec![0.0],
        beta: vec![0.5],
        threshold: 1.0,
        spike: SpikeFn::default(),
        reset: ResetGrad::Detached,
    };
    let x = Seq::from_vec(4, 1, 1, vec![4.0, 4.0, 4.0, 0.0]).unwrap();
    let trace = forward(&model, x, None);
    // U0 = 0.5·4 = 2 → spike; U1 = 0.5·2·0 + 2 = 2 → spike; U3 = 0 (reset, no input).
    assert_eq!(trace.out.data, vec![1.0, 1.0, 1.0, 0.0]);
    assert_eq!(trace.saved[3].mem, 0.0);
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
        ctx: &crate::neurons::StepContext,
    ) -> (Self::State, f64) {
        self.0.step(j, prev, po, x, ctx)
    }
    fn save(&self, state: &Self::State) -> Self::Saved {
        self.0.save(state)
    }
    fn output(&self, j: usize, saved: &Self::Saved, ctx: &crate::neurons::StepContext) -> f64 {
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
        for reset in [ResetGrad::Detached, ResetGrad::Differentiable] {
            let mut lif = random_lif(&mut rng, 7);
            (lif.spike, lif.reset) = (spike, reset);
            let what = format!("{spike:?} {reset:?}");
            assert_rows_equal_per_neuron(&lif, &mut rng, &what);
            assert_rows_equal_per_neuron(&FixedLif(lif), &mut rng, &what);
        }
    }
}

#[test]
fn independent_scan_equals_step_by_step_scan() {
    // Without recurrence each task runs its samples through all steps; with a zero W_rec the
    // step-by-step scan computes the same thing. Batch 7 gives blocks of unequal size.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (steps, batch, n) = (11, 7, 4);
    let model = random_lif(&mut rng, n);
    let x = Seq::from_vec(
        steps,
        batch,
        n,
        uniform(&mut rng, steps * batch * n, -1.0, 6.0),
    )
    .unwrap();
    let g = Seq::from_vec(
        steps,
        batch,
        n,
        uniform(&mut rng, steps * batch * n, -1.0, 1.0),
    )
    .unwrap();
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

/// A model's Jacobians against central differences of its step (`exact`: the model
/// differentiates every path, e.g. its reset), and its adjoint against the transposed
/// Jacobians, at random states with relaxed spikes.
fn check_jacobian<M: Perturb>(model: &M, rng: &mut ChaCha8Rng, exact: bool) {
    use crate::neurons::{StateVector, StepContext, StepJacobian};
    let dim = <M::State as StateVector<f64>>::DIM;
    let slots = M::GRADS_PER_NEURON;
    let ctx = StepContext::default();
    for j in 0..model.width() {
        let prev_v = uniform(rng, dim, -0.5, 1.5);
        let prev = M::State::read_from(&prev_v);
        let (prev_out, x) = (rng.random_range(0.0..1.0), rng.random_range(-1.0..4.0));
        let (state, _) = model.step(j, &prev, prev_out, x, &ctx);
        let mut jac = StepJacobian::zeros(dim, slots);
        model.jacobian(j, &prev, prev_out, &state, &mut jac);
        let h = 1e-6;
        let diff = |f: &dyn Fn(f64) -> M::State| {
            let (mut p, mut m) = (vec![0.0; dim], vec![0.0; dim]);
            f(h).write_to(&mut p);
            f(-h).write_to(&mut m);
            (0..dim)
                .map(|r| (p[r] - m[r]) / (2.0 * h))
                .collect::<Vec<f64>>()
        };
        let close = |got: f64, want: f64, what: &str| {
            assert!(
                (got - want).abs() < 1e-6 * want.abs().max(1.0),
                "{what}: {got} vs {want}"
            );
        };
        for c in 0..dim {
            let fd = diff(&|d| {
                let mut v = prev_v.clone();
                v[c] += d;
                model.step(j, &M::State::read_from(&v), prev_out, x, &ctx).0
            });
            (0..dim).for_each(|r| close(jac.prev[r * dim + c], fd[r], &format!("ds{r}/dprev{c}")));
        }
        if exact {
            let fd = diff(&|d| model.step(j, &prev, prev_out + d, x, &ctx).0);
            (0..dim).for_each(|r| close(jac.prev_out[r], fd[r], "ds/dprev_out"));
        }
        let fd = diff(&|d| model.step(j, &prev, prev_out, x + d, &ctx).0);
        (0..dim).for_each(|r| close(jac.input[r], fd[r], "ds/dx"));
        for k in 0..slots {
            let fd = diff(&|d| {
                let mut m = model.clone();
                *m.param_mut(k, j) += d;
                m.step(j, &prev, prev_out, x, &ctx).0
            });
            (0..dim).for_each(|r| close(jac.params[r * slots + k], fd[r], "ds/dparam"));
        }
        let mut state_v = vec![0.0; dim];
        state.write_to(&mut state_v);
        for r in 0..dim {
            let out = |d: f64| {
                let mut v = state_v.clone();
                v[r] += d;
                model.output(j, &model.save(&M::State::read_from(&v)), &ctx)
            };
            close(jac.out[r], (out(h) - out(-h)) / (2.0 * h), "do/ds");
        }
        // The adjoint is the transpose: with λ_tot = λ + g·∂o/∂s, ∂L/∂s' = Aᵀλ_tot, ...
        let lam_v = uniform(rng, dim, -1.0, 1.0);
        let g = rng.random_range(-1.0..1.0);
        let mut grads = vec![0.0; slots];
        let (ps, ss) = (model.save(&prev), model.save(&state));
        let lam = M::State::read_from(&lam_v);
        let adj = model.adjoint(j, &ps, prev_out, &ss, &lam, g, &mut grads);
        let tot: Vec<f64> = (0..dim).map(|r| lam_v[r] + g * jac.out[r]).collect();
        let mut got = vec![0.0; dim];
        adj.prev_state.write_to(&mut got);
        for (c, &got_c) in got.iter().enumerate() {
            let want: f64 = (0..dim).map(|r| jac.prev[r * dim + c] * tot[r]).sum();
            close(got_c, want, "adjoint prev state");
        }
        let dot = |v: &[f64]| (0..dim).map(|r| v[r] * tot[r]).sum::<f64>();
        close(adj.input, dot(&jac.input), "adjoint input");
        close(adj.prev_out, dot(&jac.prev_out), "adjoint prev out");
        for (k, &gk) in grads.iter().enumerate() {
            let want: f64 = (0..dim).map(|r| jac.params[r * slots + k] * tot[r]).sum();
            close(gk, want, "adjoint param");
        }
    }
}

#[test]
fn jacobians_match_finite_differences_and_adjoints_are_their_transpose() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    for reset in [ResetGrad::Detached, ResetGrad::Differentiable] {
        let mut lif = random_lif(&mut rng, 4);
        lif.reset = reset;
        let exact = reset == ResetGrad::Differentiable;
        check_jacobian(&lif, &mut rng, exact);
        check_jacobian(&FixedLif(lif.clone()), &mut rng, exact);
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
    let readout = LeakyReadout {
        alpha: uniform(&mut rng, 3, 0.5, 0.95),
        beta: uniform(&mut rng, 3, 0.6, 0.97),
    };
    check_jacobian(&readout, &mut rng, true);
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
