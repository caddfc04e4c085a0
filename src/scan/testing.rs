//! A gradient check any neuron model's tests can run: the scan's backward pass with the model
//! against central finite differences, and its Jacobians against its adjoint.

use super::{backward, forward};
use crate::neurons::{NeuronModel, StateVector, StepContext, StepJacobian};
use crate::tensor::{Matrix, Seq};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A model whose per-neuron parameters can be perturbed by index, for finite differences.
pub(crate) trait Perturb: NeuronModel<f64> + Clone {
    /// Per-neuron parameter `p` (in gradient-slot order) of neuron `j`.
    fn param_mut(&mut self, p: usize, j: usize) -> &mut f64;
}

/// `len` uniform numbers in `[lo, hi)`.
pub(crate) fn uniform(rng: &mut ChaCha8Rng, len: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..len).map(|_| rng.random_range(lo..hi)).collect()
}

/// A `[steps, batch, width]` sequence of uniform numbers in `[lo, hi)`.
pub(crate) fn uniform_seq(
    rng: &mut ChaCha8Rng,
    (steps, batch, width): (usize, usize, usize),
    lo: f64,
    hi: f64,
) -> Seq<f64> {
    let data = uniform(rng, steps * batch * width, lo, hi);
    Seq::from_vec(steps, batch, width, data).expect("a whole sequence")
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

/// `got` within `1e-6` of `want` (relative, or absolute below `1e-3`), besides `rounding`:
/// what rounding the loss alone puts into its central difference.
fn assert_close(got: f64, want: f64, rounding: f64, what: &str) {
    let err = ((got - want).abs() - rounding).max(0.0) / want.abs().max(1e-3);
    assert!(
        err < 1e-6,
        "{what}: backward {got:e} vs finite difference {want:e} (rel {err:e})"
    );
}

/// Checks input, recurrent-weight and per-neuron parameter gradients of `model`.
pub(crate) fn check_model<M: Perturb>(model: &M, rng: &mut ChaCha8Rng, recurrent: bool) {
    // Inputs large enough that the relaxed neurons cross threshold regularly.
    check_model_with_inputs(model, rng, recurrent, (-1.0, 6.0));
}

/// [`check_model`] with inputs drawn from `range`: models with unbounded outputs need small
/// ones, or the loss grows until rounding drowns its finite differences.
pub(crate) fn check_model_with_inputs<M: Perturb>(
    model: &M,
    rng: &mut ChaCha8Rng,
    recurrent: bool,
    (lo, hi): (f64, f64),
) {
    let n = model.width();
    let (steps, batch) = (rng.random_range(3..9), rng.random_range(1..4));
    let x = Seq::from_vec(steps, batch, n, uniform(rng, steps * batch * n, lo, hi)).unwrap();
    let c = Seq::from_vec(steps, batch, n, uniform(rng, steps * batch * n, -1.0, 1.0)).unwrap();
    let w = recurrent.then(|| Matrix::from_vec(n, n, uniform(rng, n * n, -1.5, 1.5)).unwrap());
    let trace = forward(model, x.clone(), w.as_ref());
    let grads = backward(model, &trace, &c, w.as_ref());
    let h = 1e-6;
    // A few ulps of the loss, divided by the step 2h.
    let rounding = 4.0 * f64::EPSILON * loss(model, &x, w.as_ref(), &c).abs() / (2.0 * h);

    for k in 0..x.data.len() {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp.data[k] += h;
        xm.data[k] -= h;
        let fd = (loss(model, &xp, w.as_ref(), &c) - loss(model, &xm, w.as_ref(), &c)) / (2.0 * h);
        assert_close(
            grads.kept_input().data[k],
            fd,
            rounding,
            &format!("dL/dx[{k}]"),
        );
    }
    if let (Some(w), Some(gw)) = (&w, &grads.w_rec) {
        for k in 0..w.data.len() {
            let (mut wp, mut wm) = (w.clone(), w.clone());
            wp.data[k] += h;
            wm.data[k] -= h;
            let fd = (loss(model, &x, Some(&wp), &c) - loss(model, &x, Some(&wm), &c)) / (2.0 * h);
            assert_close(gw.data[k], fd, rounding, &format!("dL/dW_rec[{k}]"));
        }
    }
    for p in 0..M::GRADS_PER_NEURON {
        for j in 0..n {
            let (mut mp, mut mm) = (model.clone(), model.clone());
            *mp.param_mut(p, j) += h;
            *mm.param_mut(p, j) -= h;
            let fd = (loss(&mp, &x, w.as_ref(), &c) - loss(&mm, &x, w.as_ref(), &c)) / (2.0 * h);
            assert_close(
                grads.params[p * n + j],
                fd,
                rounding,
                &format!("dL/dparam[{p}][{j}]"),
            );
        }
    }
}

/// A model's Jacobians against central differences of its step (`exact`: the model
/// differentiates every path, e.g. its reset), and its adjoint against the transposed
/// Jacobians, at random states with relaxed spikes.
pub(crate) fn check_jacobian<M: Perturb>(model: &M, rng: &mut ChaCha8Rng, exact: bool) {
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
