//! The neuronal error `d act(u*_β)/dβ`: exactly by forward mode, or from nudged phases on a
//! circle in the complex plane.

use super::coupling::couple;
use super::dynamics::{check_real_state, relax, Batch, Relaxation};
use super::params::GepParams;
use super::readout::loss_direction;
use super::state::{activate, slope, Planes, State};
use crate::error::ConfigError;
use num_complex::Complex64;

/// How the neuronal error `d act(u*)/dβ` is obtained.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ErrorEstimate {
    /// Forward mode (the paper's `N = 0`): `T2` steps of the tangent `v ← J_G D v + ∂G/∂β`
    /// from `v = 0`, then `e = D v`.
    Exact,
    /// `count` nudged phases at `β_k = |beta| e^{2πik/count}`, `T2` steps each from `u*`;
    /// error `O(|beta|^count)`. Conjugate phases give conjugate states, so only
    /// `k ≤ count/2` run.
    Phases {
        /// The nudging strength `|β|` (> 0).
        beta: f64,
        /// The number `N ≥ 1` of phases.
        count: usize,
    },
}

impl ErrorEstimate {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let ErrorEstimate::Phases { beta, count } = *self {
            crate::error::check_positive("estimate.beta", beta)?;
            if count == 0 {
                return Err(ConfigError::new(
                    "estimate.count",
                    "needs at least one phase",
                ));
            }
        }
        Ok(())
    }
}

/// The neuronal error `e ≈ d act(u*_β)/dβ` at `β = 0` (real, `[B, ·]` per layer) at the free
/// fixed point `free`.
pub fn neuronal_error(
    p: &GepParams,
    x: &[f64],
    labels: &[usize],
    free: &State,
    relaxation: Relaxation,
    estimate: ErrorEstimate,
) -> Result<State, ConfigError> {
    estimate.validate()?;
    let batch = Batch::new(p, x, labels)?;
    check_real_state(p, free, labels.len(), "free")?;
    let steps = relaxation.nudged_steps;
    Ok(match estimate {
        ErrorEstimate::Exact => forward_mode_error(p, &batch, free, steps),
        ErrorEstimate::Phases { beta, count } => phase_error(p, &batch, free, beta, count, steps),
    })
}

fn forward_mode_error(p: &GepParams, batch: &Batch<'_>, free: &State, steps: usize) -> State {
    let a = activate(free);
    let d = slope(&a);
    let mut source = State::zeros(p.widths, free.batch, Planes::Real);
    source.out = loss_direction(p, &a.out, free.batch, Planes::Real, batch.labels);
    let mut v = State::zeros(p.widths, free.batch, Planes::Real);
    for _ in 0..steps {
        v = couple(p, &d.zip_map(&v, |d, v| d * v)).zip_map(&source, |a, b| a + b);
    }
    d.zip_map(&v, |d, v| d * v)
}

fn phase_error(
    p: &GepParams,
    batch: &Batch<'_>,
    free: &State,
    beta: f64,
    count: usize,
    steps: usize,
) -> State {
    let real_phase = |b: f64| {
        activate(&relax(
            p,
            batch,
            free.clone(),
            Complex64::new(b, 0.0),
            steps,
        ))
    };
    if count == 1 {
        let a0 = activate(free);
        return real_phase(beta).zip_map(&a0, |a, a0| (a - a0) / beta);
    }
    let n = count as f64;
    let mut e = real_phase(beta).map(|a| a / (beta * n));
    if count.is_multiple_of(2) {
        e = e.zip_map(&real_phase(-beta), |e, a| e - a / (beta * n));
    }
    for k in 1..count.div_ceil(2) {
        let phase = Complex64::from_polar(beta, std::f64::consts::TAU * k as f64 / n);
        let a = activate(&relax(p, batch, free.to_complex(), phase, steps));
        // 2 Re(a/β_k) = 2 (a_re β_re + a_im β_im)/|β|², the conjugate phase included.
        let weight = 2.0 / (beta * beta * n);
        let add = |e: &mut [f64], a: &[f64]| {
            let half = e.len();
            for i in 0..half {
                e[i] += weight * (a[i] * phase.re + a[half + i] * phase.im);
            }
        };
        add(&mut e.l1, &a.l1);
        add(&mut e.l2, &a.l2);
        add(&mut e.out, &a.out);
    }
    e
}
