//! The feed-forward readout: logits, the cross-entropy loss, its residual and direction
//! `∂ℓ/∂r_o` (holomorphic on complex states), and predictions.

use super::coupling::{add_bias, product};
use super::params::GepParams;
use super::state::{activate, Planes, State};
use crate::eqprop::energy::EqLoss;
use num_complex::Complex64;

/// `softmax(r_o R + b_R) − onehot(y)`, `[rows, classes]`, holomorphic on complex `r_o`.
pub(super) fn readout_residual(
    p: &GepParams,
    a_out: &[f64],
    batch: usize,
    planes: Planes,
    labels: &[usize],
) -> Vec<f64> {
    let w = p.widths;
    let c = w.classes;
    let rows = batch * planes.count();
    let mut z = product(a_out, rows, w.output, &p.readout, c, false);
    add_bias(&mut z, &p.readout_bias, batch);
    for (b, &label) in labels.iter().enumerate() {
        let im = |j: usize| match planes {
            Planes::Real => 0.0,
            Planes::Complex => z[(batch + b) * c + j],
        };
        let logits: Vec<Complex64> = (0..c)
            .map(|j| Complex64::new(z[b * c + j], im(j)))
            .collect();
        let residual = EqLoss::CrossEntropy.grad(&logits, label);
        for (j, r) in residual.iter().enumerate() {
            z[b * c + j] = r.re;
            if planes == Planes::Complex {
                z[(batch + b) * c + j] = r.im;
            }
        }
    }
    z
}

/// `∂ℓ/∂r_o = (softmax − onehot) Rᵀ`, `[rows, output]`.
pub(super) fn loss_direction(
    p: &GepParams,
    a_out: &[f64],
    batch: usize,
    planes: Planes,
    labels: &[usize],
) -> Vec<f64> {
    let w = p.widths;
    let residual = readout_residual(p, a_out, batch, planes, labels);
    product(
        &residual,
        batch * planes.count(),
        w.classes,
        &p.readout,
        w.output,
        true,
    )
}

/// The readout's logits at the states `u` (real), `[B, classes]`.
fn logits(p: &GepParams, u: &State) -> Vec<f64> {
    let w = p.widths;
    let a = activate(u);
    let mut z = product(&a.out, u.batch, w.output, &p.readout, w.classes, false);
    add_bias(&mut z, &p.readout_bias, u.batch);
    z
}

/// The mean cross-entropy `logsumexp(z) − z_y` of the readout at the states `u`.
pub fn loss(p: &GepParams, u: &State, labels: &[usize]) -> f64 {
    let z = logits(p, u);
    let per_sample = z.chunks(p.widths.classes).zip(labels).map(|(row, &y)| {
        let top = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = row.iter().map(|v| (v - top).exp()).sum();
        top + total.ln() - row[y]
    });
    per_sample.sum::<f64>() / u.batch as f64
}

/// The readout's most likely class per sample at the states `u`.
pub fn predict(p: &GepParams, u: &State) -> Vec<usize> {
    logits(p, u)
        .chunks(p.widths.classes)
        .map(|row| {
            let best = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1));
            best.map_or(0, |(j, _)| j)
        })
        .collect()
}
