//! The gEP weight update `(∂F/∂θ)ᵀ e` and the exact loss gradient by recurrent
//! backpropagation (a reference).

use super::coupling::{accumulate_column_sums, accumulate_outer, couple_transposed};
use super::dynamics::{check_real_state, Batch};
use super::params::GepParams;
use super::readout::{loss_direction, readout_residual};
use super::state::{activate, slope, Planes, State};
use crate::error::ConfigError;

/// `(∂G/∂θ)ᵀ c / B` at activations `a` (the mean over the batch of the vector–Jacobian
/// product with the cotangent `c` on `G`'s output).
fn field_vjp(p: &GepParams, x: &[f64], a: &State, c: &State) -> GepParams {
    let b = a.batch;
    let s = 1.0 / b as f64;
    let mut g = GepParams::zeros(p.widths);
    accumulate_outer(&mut g.in_l1, x, &c.l1, b, s);
    accumulate_column_sums(&mut g.l1_bias, &c.l1, s);
    accumulate_outer(&mut g.l1_l2, &a.l1, &c.l2, b, s);
    accumulate_column_sums(&mut g.l2_bias, &c.l2, s);
    accumulate_outer(&mut g.l2_l1, &a.l2, &c.l1, b, s);
    accumulate_outer(&mut g.l2_out, &a.l2, &c.out, b, s);
    accumulate_column_sums(&mut g.out_bias, &c.out, s);
    accumulate_outer(&mut g.out_l2, &a.out, &c.l2, b, s);
    g
}

/// The gEP weight update `(∂F/∂θ)ᵀ e / B` at the free fixed point, plus the readout's own
/// loss gradient (which acts on `act(u*_out)` feed-forward). The loss gradient when `J` is
/// symmetric.
pub fn weight_update(
    p: &GepParams,
    x: &[f64],
    labels: &[usize],
    free: &State,
    error: &State,
) -> Result<GepParams, ConfigError> {
    Batch::new(p, x, labels)?;
    check_real_state(p, free, labels.len(), "free")?;
    check_real_state(p, error, labels.len(), "error")?;
    let a = activate(free);
    let mut g = field_vjp(p, x, &a, error);
    add_readout_gradient(&mut g, p, &a, labels);
    Ok(g)
}

fn add_readout_gradient(g: &mut GepParams, p: &GepParams, a: &State, labels: &[usize]) {
    let b = a.batch;
    let residual = readout_residual(p, &a.out, b, Planes::Real, labels);
    accumulate_outer(&mut g.readout, &a.out, &residual, b, 1.0 / b as f64);
    accumulate_column_sums(&mut g.readout_bias, &residual, 1.0 / b as f64);
}

/// The exact loss gradient at the fixed point by recurrent backpropagation (a reference):
/// the adjoint `λ = D (∂ℓ/∂r + J_Gᵀ λ)`, iterated `steps` times, then `(∂G/∂θ)ᵀ λ / B`.
pub fn exact_gradient(
    p: &GepParams,
    x: &[f64],
    labels: &[usize],
    free: &State,
    steps: usize,
) -> Result<GepParams, ConfigError> {
    Batch::new(p, x, labels)?;
    check_real_state(p, free, labels.len(), "free")?;
    let a = activate(free);
    let d = slope(&a);
    let mut source = State::zeros(p.widths, free.batch, Planes::Real);
    source.out = loss_direction(p, &a.out, free.batch, Planes::Real, labels);
    let mut adjoint = State::zeros(p.widths, free.batch, Planes::Real);
    for _ in 0..steps {
        let back = couple_transposed(p, &adjoint).zip_map(&source, |a, b| a + b);
        adjoint = d.zip_map(&back, |d, v| d * v);
    }
    let mut g = field_vjp(p, x, &a, &adjoint);
    add_readout_gradient(&mut g, p, &a, labels);
    Ok(g)
}
