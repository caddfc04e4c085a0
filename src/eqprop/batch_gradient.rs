//! Equilibrium propagation's estimate of a batch's gradient: every phase relaxed side by side
//! (or one after another, under state noise).

use super::batch::{Batch, BatchNet, Noise};
use super::energy::Params;
use super::estimators::Estimator;
use super::rows::{Parts, Rows};
use crate::linalg::gemm;
use crate::real::Real;
use num_complex::Complex64 as C;

/// How the phases of an estimator are relaxed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PhaseSchedule {
    /// Every phase from the free fixed point, all side by side (conjugate holomorphic phases
    /// folded into one; exact without noise).
    Parallel,
    /// Under state noise, as the reference code does: each phase continues from the state
    /// the previous one ended in (the phase at `β = 0` first, for one step), every phase's
    /// `∂Φ/∂θ` averaged over its last `average_steps` states.
    Sequential {
        /// Gaussian noise added to every pre-activation at every step.
        noise_std: f64,
        /// States averaged per phase (1: the last only).
        average_steps: usize,
    },
}

/// An EP estimate for a batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpSettings {
    /// The estimator.
    pub estimator: Estimator,
    /// Updates of the free phase.
    pub free_steps: usize,
    /// Updates of each nudged phase.
    pub nudged_steps: usize,
    /// How the phases are relaxed.
    pub schedule: PhaseSchedule,
}

impl<F: Real> BatchNet<F> {
    /// Zero gradients shaped like the parameters.
    pub fn zero_params(&self) -> Params<F> {
        let zeros = |v: &Vec<Vec<F>>| v.iter().map(|t| vec![F::zero(); t.len()]).collect();
        Params {
            weights: zeros(&self.params.weights),
            biases: zeros(&self.params.biases),
        }
    }

    /// The estimate of the batch mean of `dL/dθ`. `rng` draws the state noise of a
    /// sequential schedule (unused otherwise).
    pub fn ep_gradient(
        &self,
        batch: Batch<'_, F>,
        settings: &EpSettings,
        rng: &mut rand_chacha::ChaCha8Rng,
    ) -> Params<F> {
        let drive = self.input_drive(batch);
        let mut free = self.zero_state(batch.len(), Parts::Real);
        let zero = [C::new(0.0, 0.0)];
        self.relax(batch, &drive, &mut free, &zero, settings.free_steps, None);
        let mut grad = self.zero_params();
        match settings.schedule {
            PhaseSchedule::Parallel => {
                let (betas, weights): (Vec<C>, Vec<C>) =
                    settings.estimator.folded_phases().into_iter().unzip();
                let mut state: Vec<Rows<F>> =
                    free.iter().map(|s| s.replicated(betas.len())).collect();
                let steps = settings.nudged_steps;
                self.relax(batch, &drive, &mut state, &betas, steps, None);
                self.accumulate_dphi(batch, &state, &betas, &weights, &mut grad);
            }
            PhaseSchedule::Sequential {
                noise_std,
                average_steps,
            } => {
                let mut noise = Noise {
                    std: noise_std,
                    rng,
                };
                let mut phases = settings.estimator.phases();
                // Stable: the phase at β = 0 first, the others in their order on the circle.
                phases.sort_by_key(|(beta, _)| *beta != C::new(0.0, 0.0));
                let mut state = free;
                for (beta, weight) in phases {
                    let betas = [beta];
                    let steps = match beta == C::new(0.0, 0.0) {
                        true => 1,
                        false => settings.nudged_steps,
                    };
                    self.relax(batch, &drive, &mut state, &betas, steps, Some(&mut noise));
                    let share = [weight / average_steps.max(1) as f64];
                    for i in 0..average_steps.max(1) {
                        if i > 0 {
                            self.relax(batch, &drive, &mut state, &betas, 1, Some(&mut noise));
                        }
                        self.accumulate_dphi(batch, &state, &betas, &share, &mut grad);
                    }
                }
            }
        }
        grad
    }

    /// `grad −= Re Σ_r w_r ∂Φ/∂θ(h_r, β_r) / B`: phase `p` (rows `p·B ..`) has nudging
    /// `betas[p]` and weight `weights[p]`.
    fn accumulate_dphi(
        &self,
        batch: Batch<'_, F>,
        state: &[Rows<F>],
        betas: &[C],
        weights: &[C],
        grad: &mut Params<F>,
    ) {
        let b = batch.len();
        let scale: Vec<C> = weights.iter().map(|w| -w / b as f64).collect();
        let k = self.hidden();
        for l in 1..=k {
            let scaled = scaled_rows(&state[l - 1], &scale, b);
            self.add_outer(l - 1, batch, state, &scaled, grad);
        }
        let teaching = self.teaching(&state[k - 1], batch.labels, betas);
        let scaled = scaled_rows(&teaching, &scale, b);
        self.add_outer(k, batch, state, &scaled, grad);
    }

    /// `grad W_l += Re(A ⊗ h_l)` summed over rows, `grad b_l += Re Σ A`, where `a` holds
    /// `[Re A; −Im A]` (so that one real product over the stacked rows gives the real part).
    fn add_outer(
        &self,
        l: usize,
        batch: Batch<'_, F>,
        state: &[Rows<F>],
        a: &[F],
        grad: &mut Params<F>,
    ) {
        let (n_out, n_in, b) = (self.sizes[l + 1], self.sizes[l], batch.len());
        let re = &a[..state[0].rows * n_out];
        for row in re.chunks_exact(n_out) {
            grad.biases[l]
                .iter_mut()
                .zip(row)
                .for_each(|(g, &v)| *g += v);
        }
        let dw = &mut grad.weights[l];
        if l == 0 {
            // The input is real and shared by every phase: sum the phases first.
            let mut summed = vec![F::zero(); b * n_out];
            for chunk in re.chunks_exact(b * n_out) {
                summed.iter_mut().zip(chunk).for_each(|(s, &v)| *s += v);
            }
            gemm(n_out, n_in, b, &summed, true, batch.x, false, dw, true);
        } else {
            let below = &state[l - 1];
            let k = below.stacked();
            gemm(
                n_out,
                n_in,
                k,
                &a[..k * n_out],
                true,
                &below.data,
                false,
                dw,
                true,
            );
        }
    }
}

/// Row `r` of `rows` times `scale[⌊r / B⌋]`, in the stacked layout `[Re; −Im]` (a real
/// state's product with a complex weight has an imaginary part, dropped: the real part of
/// `w A ⊗ h` with real `h` needs only `Re(w A)`).
fn scaled_rows<F: Real>(rows: &Rows<F>, scale: &[C], b: usize) -> Vec<F> {
    let (n, w) = (rows.rows, rows.width);
    let mut out = vec![F::zero(); rows.stacked() * w];
    for r in 0..n {
        let s = scale[r / b];
        for j in 0..w {
            let v = s * rows.get(r, j);
            out[r * w + j] = F::from_f64(v.re);
            if rows.parts == Parts::Complex {
                out[(n + r) * w + j] = F::from_f64(-v.im);
            }
        }
    }
    out
}
