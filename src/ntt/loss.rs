//! The neural tangent transfer loss (Liu & Zenke, ICML 2020) and its gradient.
//!
//! With the effective student `m ⊙ θ` (masked weights, unmasked biases) and the dense teacher,
//! on one unlabelled batch (`nt_transfer_loss` in the reference's `nt_transfer/ntt.py`):
//! `L = λ_K ‖Θ_s − Θ_t‖² / |Θ| + ‖f_s − f_t‖² / |f| + (λ_L2 / density) ‖m ⊙ W‖²`,
//! where `|Θ| = n1·n2·C²`, `|f| = B·C` and the L2 term covers weights only (the reference's
//! `stax_params_l2_square` skips biases). The gradient is taken with respect to the raw
//! student parameters `θ`, so masked weights get exactly zero.

use super::kernel::{KernelPass, Ntk};
use super::mask::Mask;
use super::mlp::Mlp;
use crate::real::Real;

/// The weights of the NTT loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NttConfig {
    /// `λ_K`, the weight of the normalised kernel distance (reference: `LAMBDA_KER_DIST = 1e-3`).
    pub lambda_kernel: f64,
    /// `λ_L2`, divided by `density` (reference: `LAMBDA_L2_REG = 1e-4`).
    pub lambda_l2: f64,
    /// The weight density of the student (reference: `NN_DENSITY_LEVEL_LIST = [0.03]`).
    pub density: f64,
}

impl Default for NttConfig {
    /// The MLP defaults of the reference's `notebooks/ntt_demo_mlp.ipynb`.
    fn default() -> Self {
        Self {
            lambda_kernel: 1e-3,
            lambda_l2: 1e-4,
            density: 0.03,
        }
    }
}

/// The teacher's outputs and kernel on one batch.
#[derive(Clone, Debug)]
pub struct NttTargets<F> {
    /// Teacher outputs `f_t`, `[B, C]`.
    pub outputs: Vec<F>,
    /// Teacher kernel `Θ_t`.
    pub kernel: Ntk<F>,
}

impl<F: Real> NttTargets<F> {
    /// Evaluates the (dense) `teacher` on the batch `x` (`[batch, n_in]`).
    pub fn new(teacher: &Mlp<F>, x: &[F], batch: usize) -> Self {
        let pass = KernelPass::new(teacher, x, batch);
        let kernel = pass.ntk(teacher);
        Self {
            outputs: pass.fwd.output().to_vec(),
            kernel,
        }
    }
}

/// The NTT loss and its unweighted parts (as the reference logs them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NttLoss {
    /// `λ_K · kernel_dist + target_dist + (λ_L2/density) · l2`.
    pub total: f64,
    /// `‖Θ_s − Θ_t‖² / |Θ|`.
    pub kernel_dist: f64,
    /// `‖f_s − f_t‖² / |f|`.
    pub target_dist: f64,
    /// `‖m ⊙ W‖²` (weights only).
    pub l2: f64,
}

/// Shared evaluation: the loss, and when `grad` is given, its gradient added there.
fn evaluate<F: Real>(
    student: &Mlp<F>,
    mask: &Mask,
    targets: &NttTargets<F>,
    x: &[F],
    batch: usize,
    cfg: &NttConfig,
    grad: Option<&mut Mlp<F>>,
) -> NttLoss {
    let eff = mask.masked(student);
    let pass = KernelPass::new(&eff, x, batch);
    let theta = pass.ntk(&eff);
    assert_eq!(
        theta.values.len(),
        targets.kernel.values.len(),
        "student and teacher kernels differ in size"
    );
    let kn = theta.values.len() as f64;
    let fs = pass.fwd.output();
    assert_eq!(fs.len(), targets.outputs.len(), "output sizes differ");
    let fnum = fs.len() as f64;
    let ky = F::from_f64(2.0 * cfg.lambda_kernel / kn);
    let fy = F::from_f64(2.0 / fnum);
    let (y, kernel_dist) = scaled_difference(&theta.values, &targets.kernel.values, ky);
    let kernel_dist = kernel_dist / kn;
    let (gout, target_dist) = scaled_difference(fs, &targets.outputs, fy);
    let target_dist = target_dist / fnum;
    let l2: f64 = eff
        .layers
        .iter()
        .flat_map(|l| l.w.iter())
        .map(|w| w.as_f64() * w.as_f64())
        .sum();
    let l2_weight = cfg.lambda_l2 / cfg.density;
    if let Some(g) = grad {
        let mut local = eff.zeros_like();
        pass.backward(&eff, &y, Some(&gout), &mut local);
        let c = F::from_f64(2.0 * l2_weight);
        for (gl, el) in local.layers.iter_mut().zip(&eff.layers) {
            for (gw, &w) in gl.w.iter_mut().zip(&el.w) {
                *gw += c * w;
            }
        }
        mask.apply(&mut local);
        g.axpy(F::one(), &local);
    }
    NttLoss {
        total: cfg.lambda_kernel * kernel_dist + target_dist + l2_weight * l2,
        kernel_dist,
        target_dist,
        l2,
    }
}

/// The NTT loss of `student` under `mask` against the teacher `targets` on the batch `x`.
pub fn ntt_loss<F: Real>(
    student: &Mlp<F>,
    mask: &Mask,
    targets: &NttTargets<F>,
    x: &[F],
    batch: usize,
    cfg: &NttConfig,
) -> NttLoss {
    evaluate(student, mask, targets, x, batch, cfg, None)
}

/// The NTT loss and its gradient with respect to the raw student parameters `θ` (masked
/// weights get zero gradient).
pub fn ntt_loss_grad<F: Real>(
    student: &Mlp<F>,
    mask: &Mask,
    targets: &NttTargets<F>,
    x: &[F],
    batch: usize,
    cfg: &NttConfig,
) -> (NttLoss, Mlp<F>) {
    let mut grads = student.zeros_like();
    let loss = evaluate(student, mask, targets, x, batch, cfg, Some(&mut grads));
    (loss, grads)
}

/// `scale · (s − t)` entry by entry, and `‖s − t‖²`.
fn scaled_difference<F: Real>(s: &[F], t: &[F], scale: F) -> (Vec<F>, f64) {
    let mut squared = 0.0;
    let scaled = s
        .iter()
        .zip(t)
        .map(|(&s, &t)| {
            let d = s - t;
            squared += d.as_f64() * d.as_f64();
            scale * d
        })
        .collect();
    (scaled, squared)
}
