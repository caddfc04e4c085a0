//! Jacobian homeostasis: the homeostatic loss and its gradient, the dense Jacobian `J` and
//! its asymmetry.

use super::coupling::{accumulate_outer, couple, couple_transposed};
use super::dynamics::check_real_state;
use super::params::GepParams;
use super::state::State;
use crate::error::ConfigError;

/// The homeostatic loss `mean_s (‖Jε_s‖² − ε_sᵀJ²ε_s)/n` over the probes `eps` (real,
/// `batch` = probes) and its gradient in the weights (flowing only through `J`'s explicit
/// weights; biases and readout get zero).
pub fn homeostatic_loss(p: &GepParams, eps: &State) -> Result<(f64, GepParams), ConfigError> {
    check_real_state(p, eps, eps.batch, "eps")?;
    // Jε = A ε − ε, Jᵀε = Aᵀε − ε, J²ε = J(Jε), in row form.
    let j_eps = couple(p, eps).zip_map(eps, |a, e| a - e);
    let jt_eps = couple_transposed(p, eps).zip_map(eps, |a, e| a - e);
    let j2_eps = couple(p, &j_eps).zip_map(&j_eps, |a, e| a - e);
    let dot = |a: &State, b: &State| -> f64 {
        let pairs = a.layers().into_iter().zip(b.layers());
        pairs
            .map(|(a, b)| a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>())
            .sum()
    };
    let scale = 1.0 / (p.widths.dynamic() * eps.batch) as f64;
    let value = scale * (dot(&j_eps, &j_eps) - dot(eps, &j2_eps));
    // ∂L/∂J = (2 a εᵀ − ε aᵀ − c εᵀ)·scale with a = Jε, c = Jᵀε; J[post, pre] = W[pre, post],
    // so ∂L/∂W_pre→post = scale·(ε_preᵀ(2a − c)_post − a_preᵀ ε_post).
    let mixed = j_eps.zip_map(&jt_eps, |a, c| 2.0 * a - c);
    let mut g = GepParams::zeros(p.widths);
    let rows = eps.batch;
    let block = |into: &mut [f64], pre: fn(&State) -> &[f64], post: fn(&State) -> &[f64]| {
        accumulate_outer(into, pre(eps), post(&mixed), rows, scale);
        accumulate_outer(into, pre(&j_eps), post(eps), rows, -scale);
    };
    block(&mut g.l1_l2, |s| &s.l1, |s| &s.l2);
    block(&mut g.l2_l1, |s| &s.l2, |s| &s.l1);
    block(&mut g.l2_out, |s| &s.l2, |s| &s.out);
    block(&mut g.out_l2, |s| &s.out, |s| &s.l2);
    Ok((value, g))
}

/// `J = ∂F/∂act(u) = J_G − I` as a dense `[n, n]` matrix over the dynamic neurons
/// `[l1 | l2 | out]` (row: the neuron driven).
pub fn jacobian(p: &GepParams) -> Vec<f64> {
    let w = p.widths;
    let n = w.dynamic();
    let (o1, o2, oo) = (0, w.hidden1, w.hidden1 + w.hidden2);
    let mut j = vec![0.0; n * n];
    let mut block =
        |weights: &[f64], pre_off: usize, pre_w: usize, post_off: usize, post_w: usize| {
            for pre in 0..pre_w {
                for post in 0..post_w {
                    j[(post_off + post) * n + pre_off + pre] = weights[pre * post_w + post];
                }
            }
        };
    block(&p.l1_l2, o1, w.hidden1, o2, w.hidden2);
    block(&p.l2_l1, o2, w.hidden2, o1, w.hidden1);
    block(&p.l2_out, o2, w.hidden2, oo, w.output);
    block(&p.out_l2, oo, w.output, o2, w.hidden2);
    (0..n).for_each(|i| j[i * n + i] -= 1.0);
    j
}

/// The asymmetry `‖J − Jᵀ‖_F / ‖J‖_F` of [`jacobian`] (0 for tied weights). `J` does not
/// depend on the fixed point here, so its mean over samples is this one value.
pub fn asymmetry(p: &GepParams) -> f64 {
    let n = p.widths.dynamic();
    let j = jacobian(p);
    let (mut skew, mut norm) = (0.0, 0.0);
    for r in 0..n {
        for c in 0..n {
            skew += (j[r * n + c] - j[c * n + r]).powi(2);
            norm += j[r * n + c].powi(2);
        }
    }
    (skew / norm).sqrt()
}
