//! The relaxation dynamics `u ← G(act(u))` (with an optional real or complex nudge) and the
//! free phase.

use super::coupling::{add_bias, add_into, couple, product};
use super::params::GepParams;
use super::readout::loss_direction;
use super::state::{activate, Planes, State};
use crate::error::ConfigError;
use num_complex::Complex64;

/// A batch's inputs: the constant drive `x W_in + b_1` of l1 and the labels.
pub(super) struct Batch<'a> {
    drive: Vec<f64>,
    pub(super) labels: &'a [usize],
}

impl<'a> Batch<'a> {
    pub(super) fn new(p: &GepParams, x: &[f64], labels: &'a [usize]) -> Result<Self, ConfigError> {
        let w = p.widths;
        let batch = labels.len();
        if batch == 0 || x.len() != batch * w.input {
            return Err(ConfigError::new(
                "inputs",
                format!(
                    "expected {batch} × {} pixels for {batch} labels, got {} values",
                    w.input,
                    x.len()
                ),
            ));
        }
        if let Some(&bad) = labels.iter().find(|&&l| l >= w.classes) {
            return Err(ConfigError::new(
                "labels",
                format!("label {bad} is not below {} classes", w.classes),
            ));
        }
        let mut drive = product(x, batch, w.input, &p.in_l1, w.hidden1, false);
        add_bias(&mut drive, &p.l1_bias, batch);
        Ok(Self { drive, labels })
    }

    fn len(&self) -> usize {
        self.labels.len()
    }
}

/// `Ok` if `u` holds real values of `batch` samples with `p`'s widths.
pub(super) fn check_real_state(
    p: &GepParams,
    u: &State,
    batch: usize,
    field: &str,
) -> Result<(), ConfigError> {
    let w = p.widths;
    let fits = u.planes == Planes::Real
        && u.batch == batch
        && u.l1.len() == batch * w.hidden1
        && u.l2.len() == batch * w.hidden2
        && u.out.len() == batch * w.output;
    match fits {
        true => Ok(()),
        false => Err(ConfigError::new(
            field,
            format!("expected real states of {batch} samples with the network's widths"),
        )),
    }
}

/// One step `u ← G(act(u))` at nudging `beta` (real states need a real `beta`).
fn step(p: &GepParams, batch: &Batch<'_>, u: &State, beta: Complex64) -> State {
    let a = activate(u);
    let mut next = couple(p, &a);
    let b = u.batch;
    add_into(&mut next.l1[..batch.drive.len()], &batch.drive);
    add_bias(&mut next.l2, &p.l2_bias, b);
    add_bias(&mut next.out, &p.out_bias, b);
    if beta != Complex64::new(0.0, 0.0) {
        let d = loss_direction(p, &a.out, b, u.planes, batch.labels);
        let half = b * p.widths.output;
        match u.planes {
            Planes::Real => add_into(
                &mut next.out,
                &d.iter().map(|v| beta.re * v).collect::<Vec<_>>(),
            ),
            Planes::Complex => {
                for i in 0..half {
                    let nudge = beta * Complex64::new(d[i], d[half + i]);
                    next.out[i] += nudge.re;
                    next.out[half + i] += nudge.im;
                }
            }
        }
    }
    next
}

pub(super) fn relax(
    p: &GepParams,
    batch: &Batch<'_>,
    start: State,
    beta: Complex64,
    steps: usize,
) -> State {
    (0..steps).fold(start, |u, _| step(p, batch, &u, beta))
}

/// How long the dynamics run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relaxation {
    /// Free-phase steps `T1` from `u = 0` (paper: 150).
    pub free_steps: usize,
    /// Steps `T2` of each nudged phase from `u*`, and of the forward-mode iteration of
    /// [`ErrorEstimate::Exact`](super::ErrorEstimate::Exact) (paper: 20).
    pub nudged_steps: usize,
}

/// The free phase: `steps` steps at `β = 0` from `u = 0` for the images `x` (`[B, input]`);
/// the labels are only checked here (they act only when nudging).
pub fn free_phase(
    p: &GepParams,
    x: &[f64],
    labels: &[usize],
    steps: usize,
) -> Result<State, ConfigError> {
    let batch = Batch::new(p, x, labels)?;
    let start = State::zeros(p.widths, batch.len(), Planes::Real);
    Ok(relax(p, &batch, start, Complex64::new(0.0, 0.0), steps))
}
