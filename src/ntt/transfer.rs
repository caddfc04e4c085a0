//! The neural tangent transfer phase (Liu & Zenke, ICML 2020): a sparse student learns, on
//! unlabelled inputs, to match the outputs and the empirical NTK of the dense teacher.
//!
//! As the reference's `nt_transfer/ntt.py` (`optimize`): the student's raw parameters `θ`
//! start as the teacher's (the optimiser is initialised from the dense teacher), the first
//! mask keeps the largest teacher weights of each layer, every step takes the gradient of the
//! NTT loss of `m ⊙ θ` (zero on pruned weights, whose Adam moments still decay and move them),
//! every `mask_update_every` iterations the mask is recomputed from `|θ|` (not within the last
//! period), and the result is `m ⊙ θ` with the last mask. Minibatches are drawn from the
//! shuffled inputs each epoch (whole batches only, since a kernel batch splits into halves).

use super::error::{rows_of, NttError};
use super::loss::{ntt_loss, ntt_loss_grad, NttConfig, NttLoss, NttTargets};
use super::mask::{Mask, MaskKind};
use super::mlp::Mlp;
use crate::data::rng;
use crate::error::{check_count, check_non_negative, check_positive, check_range, ConfigError};
use crate::optimizers::{Optimizer, OptimizerKind};
use crate::real::Real;

/// The settings of the transfer phase; [`Default`] is the reference's MLP setting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TransferConfig {
    /// The loss weights and the density.
    pub loss: NttConfig,
    /// Adam's step size (reference: 5e-4).
    pub learning_rate: f64,
    /// Samples per step, split in two halves for the cross kernel (reference: 64).
    pub batch: usize,
    /// Passes over the inputs (reference: 20).
    pub epochs: usize,
    /// Iterations between magnitude re-maskings (reference: `MASK_UPDATE_FREQ = 100`).
    pub mask_update_every: usize,
    /// Seeds the order of the inputs.
    pub seed: u64,
}

impl Default for TransferConfig {
    fn default() -> Self {
        Self {
            loss: NttConfig::default(),
            learning_rate: 5e-4,
            batch: 64,
            epochs: 20,
            mask_update_every: 100,
            seed: 0,
        }
    }
}

impl TransferConfig {
    /// `Ok` if every setting can be used.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_non_negative("ntt.lambda_kernel", self.loss.lambda_kernel)?;
        check_non_negative("ntt.lambda_l2", self.loss.lambda_l2)?;
        check_range("ntt.density", self.loss.density, 0.0, 1.0, true)?;
        check_positive("ntt.density", self.loss.density)?;
        check_positive("ntt.learning_rate", self.learning_rate)?;
        check_count("ntt.epochs", self.epochs)?;
        check_count("ntt.mask_update_every", self.mask_update_every)?;
        if self.batch < 2 || !self.batch.is_multiple_of(2) {
            return Err(ConfigError::new(
                "ntt.batch",
                format!(
                    "must be even and at least 2 (two kernel halves), got {}",
                    self.batch
                ),
            ));
        }
        Ok(())
    }
}

/// The NTT loss on the validation batch after `iteration` steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TransferPoint {
    /// Steps taken.
    pub iteration: usize,
    /// The loss of `m ⊙ θ` with the mask of that moment.
    pub loss: NttLoss,
}

/// The outcome of the transfer phase.
#[derive(Clone, Debug)]
pub struct Transferred<F> {
    /// The sparse network `m ⊙ θ` (pruned weights exactly zero).
    pub net: Mlp<F>,
    /// Its mask.
    pub mask: Mask,
    /// The validation loss before the first step, every `mask_update_every` steps and after
    /// the last step (as the reference logs it).
    pub history: Vec<TransferPoint>,
}

/// Runs neural tangent transfer from the dense `teacher` on the unlabelled `inputs`
/// (`[N, n_in]`, at least one batch), logging the loss on the `validation` batch (an even
/// number of rows, at least two).
pub fn transfer<F: Real>(
    teacher: &Mlp<F>,
    inputs: &[F],
    validation: &[F],
    cfg: &TransferConfig,
) -> Result<Transferred<F>, NttError> {
    cfg.validate()?;
    let n_in = teacher.n_in();
    let n = rows_of("ntt inputs", inputs.len(), n_in)?;
    let n_val = rows_of("ntt validation inputs", validation.len(), n_in)?;
    if n < cfg.batch {
        return Err(ConfigError::new(
            "ntt.batch",
            format!("{} is more than the {n} inputs", cfg.batch),
        )
        .into());
    }
    if n_val < 2 || n_val % 2 != 0 {
        return Err(ConfigError::new(
            "ntt validation inputs",
            format!("need an even number of rows, at least 2, got {n_val}"),
        )
        .into());
    }
    check_finite(teacher, inputs, validation)?;
    let mut rng = rng::seeded(cfg.seed);
    let val_targets = NttTargets::new(teacher, validation, n_val);
    let mut student = teacher.clone();
    let mut mask = Mask::new(teacher, cfg.loss.density, MaskKind::Magnitude, &mut rng);
    let mut optimizer = Optimizer::new(adam(cfg.learning_rate), &student.shapes())?;
    let lr = F::from_f64(cfg.learning_rate);
    let validate =
        |s: &Mlp<F>, m: &Mask| ntt_loss(s, m, &val_targets, validation, n_val, &cfg.loss);
    let mut history = vec![TransferPoint {
        iteration: 0,
        loss: validate(&student, &mask),
    }];
    let per_epoch = n / cfg.batch;
    let total = per_epoch * cfg.epochs;
    let mut order: Vec<usize> = (0..n).collect();
    let mut batch = vec![F::zero(); cfg.batch * n_in];
    let mut iteration = 0;
    for _ in 0..cfg.epochs {
        rng::shuffle(&mut rng, &mut order);
        for ids in order.chunks_exact(cfg.batch) {
            gather_rows(inputs, n_in, ids, &mut batch);
            let targets = NttTargets::new(teacher, &batch, cfg.batch);
            let (loss, grads) =
                ntt_loss_grad(&student, &mask, &targets, &batch, cfg.batch, &cfg.loss);
            if !loss.total.is_finite() {
                return Err(NttError::NonFinite(format!(
                    "the NTT loss at iteration {iteration}"
                )));
            }
            optimizer.step(&mut student.tensors_mut(), &grads.tensors(), lr)?;
            iteration += 1;
            if iteration % cfg.mask_update_every == 0 {
                history.push(TransferPoint {
                    iteration,
                    loss: validate(&student, &mask),
                });
                if iteration + cfg.mask_update_every < total {
                    mask = Mask::new(&student, cfg.loss.density, MaskKind::Magnitude, &mut rng);
                }
            }
        }
    }
    if let Some(layer) = student.first_non_finite() {
        return Err(NttError::NonFinite(format!("the NTT student's {layer}")));
    }
    if history.last().map(|p| p.iteration) != Some(iteration) {
        history.push(TransferPoint {
            iteration,
            loss: validate(&student, &mask),
        });
    }
    let net = mask.masked(&student);
    Ok(Transferred { net, mask, history })
}

/// Adam with the defaults of the reference's `jax.experimental.optimizers.adam` and step
/// size `lr`.
pub(crate) fn adam(lr: f64) -> OptimizerKind {
    OptimizerKind::Adam {
        lr,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    }
}

/// Copies the rows `ids` of `values` (`[N, width]`) into `out` (`[ids.len(), width]`).
pub(crate) fn gather_rows<F: Copy>(values: &[F], width: usize, ids: &[usize], out: &mut [F]) {
    for (dst, &i) in out.chunks_exact_mut(width).zip(ids) {
        dst.copy_from_slice(&values[i * width..(i + 1) * width]);
    }
}

/// A clear error if the teacher or an input is not finite.
fn check_finite<F: Real>(teacher: &Mlp<F>, inputs: &[F], validation: &[F]) -> Result<(), NttError> {
    if let Some(layer) = teacher.first_non_finite() {
        return Err(NttError::NonFinite(format!("the NTT teacher's {layer}")));
    }
    if inputs.iter().chain(validation).any(|v| !v.is_finite()) {
        return Err(NttError::NonFinite("an NTT input".into()));
    }
    Ok(())
}
