//! Gradient-descent optimizers, learning-rate schedules and gradient clipping.
//!
//! Parameters are presented to an [`Optimizer`] as a list of flat tensors (`&mut [&mut [F]]`)
//! with gradients of the same lengths in the same order (`&[&[F]]`) at every step. The
//! optimizer keeps one set of state buffers per tensor, and the state is exposed by name
//! ([`Optimizer::state_tensors`]) so that a checkpoint can restore it bit for bit
//! ([`Optimizer::load_state`]).
//!
//! Implemented update rules (`g` is the gradient, `t` the 1-based step count, `η` the learning
//! rate of the step):
//!
//! - **Adam** (Kingma & Ba 2015, PyTorch `torch.optim.Adam` semantics):
//!   `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
//!   `p ← p − η/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε)`.
//! - **Adamax** (Kingma & Ba 2015, §7.1, PyTorch `torch.optim.Adamax` semantics):
//!   `m ← β₁m + (1−β₁)g`, `u ← max(β₂u, |g| + ε)`, `p ← p − η/(1−β₁ᵗ) · m/u`.
//! - **SMORMS3** (Simon Funk 2015, "RMSprop loses to SMORMS3"; exactly as `stork.optimizers.SMORMS3`):
//!   buffers `mem = 1`, `a = 0`, `b = 0` (running mean of `g` and of `g²`); each step
//!   `r = 1/(mem+1)`, `a ← (1−r)a + r g`, `b ← (1−r)b + r g²`, `x = a²/(b+ε)`,
//!   `mem ← mem·(1 − x) + 1`, `p ← p − min(x, η) · g/(√b + ε)`.
//! - **SGD with momentum** (PyTorch `torch.optim.SGD` semantics, zero dampening):
//!   `b ← g` at the first step, then `b ← μb + g`; `d = g + μb` (Nesterov) or `d = b`;
//!   `p ← p − η d`.
//!
//! Element-wise arithmetic runs in the parameter type `F`; step-dependent scalars (bias
//! corrections) are computed in `f64` and rounded once, as PyTorch does with Python floats.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::real::Real;

/// Errors of optimizer configuration, state handling and gradient clipping.
#[derive(Error, Debug, Clone, PartialEq)]
pub enum OptimError {
    /// A hyper-parameter is outside its valid range.
    #[error("invalid {owner} hyper-parameter `{field}` = {value}: must be {requirement}")]
    InvalidHyperparameter {
        /// The optimizer or schedule the field belongs to (e.g. `adam`).
        owner: &'static str,
        /// The offending field (e.g. `beta1`).
        field: &'static str,
        /// The value given.
        value: f64,
        /// What the value must satisfy.
        requirement: &'static str,
    },
    /// Nesterov momentum was requested with zero momentum.
    #[error("invalid sgd hyper-parameter `nesterov` = true: requires `momentum` > 0")]
    NesterovWithoutMomentum,
    /// The per-step learning rate is negative or not finite.
    #[error("invalid learning rate `lr` = {value}: must be finite and >= 0")]
    InvalidStepLr {
        /// The learning rate given to [`Optimizer::step`].
        value: f64,
    },
    /// The number of parameter or gradient tensors does not match the optimizer's shapes.
    #[error("expected {expected} {what} tensors, got {got}")]
    TensorCount {
        /// `"parameter"` or `"gradient"`.
        what: &'static str,
        /// Number of tensors the optimizer was built for.
        expected: usize,
        /// Number of tensors given.
        got: usize,
    },
    /// A parameter or gradient tensor has the wrong length.
    #[error("{what} tensor {index} has length {got}, expected {expected}")]
    TensorLength {
        /// `"parameter"` or `"gradient"`.
        what: &'static str,
        /// Position of the tensor in the list.
        index: usize,
        /// Length the optimizer was built for.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// A state buffer expected by the optimizer is missing from the loaded state.
    #[error("optimizer state tensor `{name}` is missing")]
    MissingState {
        /// Name of the buffer (e.g. `"0.m"`).
        name: String,
    },
    /// The loaded state contains a buffer this optimizer does not have, or contains it twice.
    #[error("optimizer state tensor `{name}` is unexpected or duplicated")]
    UnexpectedState {
        /// Name of the buffer.
        name: String,
    },
    /// A loaded state buffer has the wrong length.
    #[error("optimizer state tensor `{name}` has length {got}, expected {expected}")]
    StateLength {
        /// Name of the buffer.
        name: String,
        /// Length of the parameter tensor.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// The maximal gradient norm for clipping is negative or NaN.
    #[error("invalid clipping threshold `max_norm` = {value}: must be >= 0 (may be +inf)")]
    InvalidMaxNorm {
        /// The value given.
        value: f64,
    },
}

fn default_adam_lr() -> f64 {
    1e-3
}
fn default_adamax_lr() -> f64 {
    2e-3
}
fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}
fn default_adam_eps() -> f64 {
    1e-8
}
fn default_smorms3_lr() -> f64 {
    1e-3
}
fn default_smorms3_eps() -> f64 {
    1e-16
}
fn default_sgd_lr() -> f64 {
    1e-3
}
fn default_momentum() -> f64 {
    0.9
}
fn default_rms_max_lr() -> f64 {
    1e-3
}
/// SuperSpike's τ_rms = 30 s over updates every 0.5 s: `exp(−0.5/30)`.
fn default_rms_max_decay() -> f64 {
    (-0.5f64 / 30.0).exp()
}
fn default_rms_max_eps() -> f64 {
    1e-12
}

/// Which update rule to use, with its hyper-parameters.
///
/// Serialized with an internal `kind` tag, e.g. `{"kind": "adam", "lr": 1e-3}`; omitted
/// fields take the defaults documented on each field (those of PyTorch, or of stork for
/// SMORMS3), unknown fields are rejected. [`Default`] is Adam with its defaults.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerKind {
    /// Adam with bias correction (Kingma & Ba 2015; PyTorch semantics).
    Adam {
        /// Base learning rate (default 1e-3).
        #[serde(default = "default_adam_lr")]
        lr: f64,
        /// Decay of the first-moment estimate, in [0, 1) (default 0.9).
        #[serde(default = "default_beta1")]
        beta1: f64,
        /// Decay of the second-moment estimate, in [0, 1) (default 0.999).
        #[serde(default = "default_beta2")]
        beta2: f64,
        /// Added to the denominator, > 0 (default 1e-8).
        #[serde(default = "default_adam_eps")]
        eps: f64,
    },
    /// Adamax, the infinity-norm variant of Adam (Kingma & Ba 2015, §7.1; PyTorch semantics:
    /// `u = max(β₂u, |g| + ε)`, bias correction on the first moment only).
    Adamax {
        /// Base learning rate (default 2e-3, as PyTorch).
        #[serde(default = "default_adamax_lr")]
        lr: f64,
        /// Decay of the first-moment estimate, in [0, 1) (default 0.9).
        #[serde(default = "default_beta1")]
        beta1: f64,
        /// Decay of the infinity norm, in [0, 1) (default 0.999).
        #[serde(default = "default_beta2")]
        beta2: f64,
        /// Added to `|g|` inside the max, > 0 (default 1e-8).
        #[serde(default = "default_adam_eps")]
        eps: f64,
    },
    /// SMORMS3 (Simon Funk 2015), exactly as in stork (the optimizer of its examples).
    Smorms3 {
        /// Base learning rate, also the cap of the per-element rate (default 1e-3; stork's
        /// examples use 5e-3).
        #[serde(default = "default_smorms3_lr")]
        lr: f64,
        /// Regularizer of the divisions, > 0 (default 1e-16, as stork).
        #[serde(default = "default_smorms3_eps")]
        eps: f64,
    },
    /// Stochastic gradient descent with (optionally Nesterov) momentum (PyTorch semantics,
    /// zero dampening, no weight decay).
    Sgd {
        /// Base learning rate (default 1e-3, as PyTorch).
        #[serde(default = "default_sgd_lr")]
        lr: f64,
        /// Momentum factor μ in [0, 1); 0 disables the momentum buffer (default 0.9).
        #[serde(default = "default_momentum")]
        momentum: f64,
        /// Use Nesterov momentum; requires `momentum` > 0 (default false).
        #[serde(default)]
        nesterov: bool,
    },
    /// SuperSpike's "RMSmax" (Zenke & Ganguli 2018, Neural Comput. 30:1514): a per-parameter
    /// normaliser holding the recent maximum of the squared gradient,
    /// `v ← max(g², γ v)`, `p ← p − lr g / (√v + ε)`. Its steps have size at most `lr`
    /// whatever the gradient's scale.
    RmsMax {
        /// Base learning rate, the largest step of a parameter (default 1e-3).
        #[serde(default = "default_rms_max_lr")]
        lr: f64,
        /// The decay γ of the held maximum per update, in [0, 1) (default `exp(−0.5/30)`:
        /// the paper's τ_rms = 30 s with an update every 0.5 s).
        #[serde(default = "default_rms_max_decay")]
        decay: f64,
        /// Added to `√v`, > 0 (default 1e-12, as the paper's code).
        #[serde(default = "default_rms_max_eps")]
        eps: f64,
    },
}

impl Default for OptimizerKind {
    fn default() -> Self {
        Self::adam()
    }
}

/// Checks `lr` is finite and > 0.
fn check_lr(owner: &'static str, lr: f64) -> Result<(), OptimError> {
    if lr.is_finite() && lr > 0.0 {
        Ok(())
    } else {
        Err(OptimError::InvalidHyperparameter {
            owner,
            field: "lr",
            value: lr,
            requirement: "finite and > 0",
        })
    }
}

/// Checks a decay factor is in [0, 1).
fn check_unit(owner: &'static str, field: &'static str, x: f64) -> Result<(), OptimError> {
    if (0.0..1.0).contains(&x) {
        Ok(())
    } else {
        Err(OptimError::InvalidHyperparameter {
            owner,
            field,
            value: x,
            requirement: "in [0, 1)",
        })
    }
}

/// Checks `eps` is finite and > 0.
fn check_eps(owner: &'static str, eps: f64) -> Result<(), OptimError> {
    if eps.is_finite() && eps > 0.0 {
        Ok(())
    } else {
        Err(OptimError::InvalidHyperparameter {
            owner,
            field: "eps",
            value: eps,
            requirement: "finite and > 0 (a zero eps turns zero gradients into NaN)",
        })
    }
}

impl OptimizerKind {
    /// Adam with PyTorch's defaults: `lr = 1e-3`, `β = (0.9, 0.999)`, `ε = 1e-8`.
    pub fn adam() -> Self {
        Self::Adam {
            lr: default_adam_lr(),
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_adam_eps(),
        }
    }

    /// Adamax with PyTorch's defaults: `lr = 2e-3`, `β = (0.9, 0.999)`, `ε = 1e-8`.
    pub fn adamax() -> Self {
        Self::Adamax {
            lr: default_adamax_lr(),
            beta1: default_beta1(),
            beta2: default_beta2(),
            eps: default_adam_eps(),
        }
    }

    /// SMORMS3 with stork's defaults: `lr = 1e-3`, `ε = 1e-16`.
    pub fn smorms3() -> Self {
        Self::Smorms3 {
            lr: default_smorms3_lr(),
            eps: default_smorms3_eps(),
        }
    }

    /// SGD with `lr = 1e-3`, momentum 0.9, no Nesterov.
    pub fn sgd() -> Self {
        Self::Sgd {
            lr: default_sgd_lr(),
            momentum: default_momentum(),
            nesterov: false,
        }
    }

    /// RMSmax with SuperSpike's defaults: `lr = 1e-3`, `γ = exp(−0.5/30)`, `ε = 1e-12`.
    pub fn rms_max() -> Self {
        Self::RmsMax {
            lr: default_rms_max_lr(),
            decay: default_rms_max_decay(),
            eps: default_rms_max_eps(),
        }
    }

    /// The configured base learning rate.
    pub fn lr(&self) -> f64 {
        match *self {
            Self::Adam { lr, .. }
            | Self::Adamax { lr, .. }
            | Self::Smorms3 { lr, .. }
            | Self::Sgd { lr, .. }
            | Self::RmsMax { lr, .. } => lr,
        }
    }

    /// The snake-case name of the rule, as used in the serialized `kind` tag.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Adam { .. } => "adam",
            Self::Adamax { .. } => "adamax",
            Self::Smorms3 { .. } => "smorms3",
            Self::Sgd { .. } => "sgd",
            Self::RmsMax { .. } => "rms_max",
        }
    }

    /// Checks every hyper-parameter: `lr` finite and > 0, `beta1`, `beta2` and `momentum` in
    /// [0, 1), `eps` finite and > 0, Nesterov only with momentum > 0. The error names the field.
    pub fn validate(&self) -> Result<(), OptimError> {
        let owner = self.name();
        match *self {
            Self::Adam {
                lr,
                beta1,
                beta2,
                eps,
            }
            | Self::Adamax {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                check_lr(owner, lr)?;
                check_unit(owner, "beta1", beta1)?;
                check_unit(owner, "beta2", beta2)?;
                check_eps(owner, eps)
            }
            Self::Smorms3 { lr, eps } => {
                check_lr(owner, lr)?;
                check_eps(owner, eps)
            }
            Self::Sgd {
                lr,
                momentum,
                nesterov,
            } => {
                check_lr(owner, lr)?;
                check_unit(owner, "momentum", momentum)?;
                if nesterov && momentum == 0.0 {
                    return Err(OptimError::NesterovWithoutMomentum);
                }
                Ok(())
            }
            Self::RmsMax { lr, decay, eps } => {
                check_lr(owner, lr)?;
                check_unit(owner, "decay", decay)?;
                check_eps(owner, eps)
            }
        }
    }

    /// Names of the per-tensor state buffers, in storage order.
    fn buffer_names(&self) -> &'static [&'static str] {
        match *self {
            Self::Adam { .. } => &["m", "v"],
            Self::Adamax { .. } => &["m", "u"],
            Self::Smorms3 { .. } => &["mem", "g", "g2"],
            Self::Sgd { momentum, .. } if momentum != 0.0 => &["momentum"],
            Self::Sgd { .. } => &[],
            Self::RmsMax { .. } => &["v"],
        }
    }

    /// Initial value of each buffer (SMORMS3's `mem` starts at 1, everything else at 0).
    fn buffer_init(&self, buffer: usize) -> f64 {
        match self {
            Self::Smorms3 { .. } if buffer == 0 => 1.0,
            _ => 0.0,
        }
    }
}

/// A stateful optimizer for a fixed list of flat parameter tensors.
///
/// State buffers per tensor `i` (see [`Optimizer::state_tensors`]): Adam `"{i}.m"`, `"{i}.v"`;
/// Adamax `"{i}.m"`, `"{i}.u"`; SMORMS3 `"{i}.mem"`, `"{i}.g"`, `"{i}.g2"`; SGD with momentum
/// `"{i}.momentum"` (none without momentum). Together with [`Optimizer::step_count`] they are
/// the whole state: restoring both resumes training bit for bit.
#[derive(Clone, Debug, PartialEq)]
pub struct Optimizer<F> {
    kind: OptimizerKind,
    shapes: Vec<usize>,
    /// `state[i][b]` is buffer `b` of tensor `i`.
    state: Vec<Vec<Vec<F>>>,
    step: u64,
}

impl<F: Real> Optimizer<F> {
    /// An optimizer for tensors of the given lengths, with fresh state and step count 0.
    ///
    /// Fails if [`OptimizerKind::validate`] fails or `eps` rounds to zero in `F`.
    pub fn new(kind: OptimizerKind, shapes: &[usize]) -> Result<Self, OptimError> {
        kind.validate()?;
        if let OptimizerKind::Adam { eps, .. }
        | OptimizerKind::Adamax { eps, .. }
        | OptimizerKind::Smorms3 { eps, .. }
        | OptimizerKind::RmsMax { eps, .. } = kind
        {
            if F::from_f64(eps) <= F::zero() {
                return Err(OptimError::InvalidHyperparameter {
                    owner: kind.name(),
                    field: "eps",
                    value: eps,
                    requirement: "representable as a positive number in the parameter type",
                });
            }
        }
        let names = kind.buffer_names();
        let state = shapes
            .iter()
            .map(|&len| {
                (0..names.len())
                    .map(|b| vec![F::from_f64(kind.buffer_init(b)); len])
                    .collect()
            })
            .collect();
        Ok(Self {
            kind,
            shapes: shapes.to_vec(),
            state,
            step: 0,
        })
    }

    /// The update rule and its hyper-parameters.
    pub fn kind(&self) -> &OptimizerKind {
        &self.kind
    }

    /// The tensor lengths this optimizer was built for.
    pub fn shapes(&self) -> &[usize] {
        &self.shapes
    }

    /// Number of steps taken so far (the `t` of the bias corrections).
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Resets every buffer to its initial value and the step count to 0.
    pub fn reset(&mut self) {
        let kind = self.kind;
        for tensor in &mut self.state {
            for (b, buf) in tensor.iter_mut().enumerate() {
                buf.fill(F::from_f64(kind.buffer_init(b)));
            }
        }
        self.step = 0;
    }

    /// Checks that parameter and gradient tensors match the optimizer's shapes.
    fn check_shapes(&self, params: &[&mut [F]], grads: &[&[F]]) -> Result<(), OptimError> {
        let expected = self.shapes.len();
        if params.len() != expected {
            return Err(OptimError::TensorCount {
                what: "parameter",
                expected,
                got: params.len(),
            });
        }
        if grads.len() != expected {
            return Err(OptimError::TensorCount {
                what: "gradient",
                expected,
                got: grads.len(),
            });
        }
        for (index, &len) in self.shapes.iter().enumerate() {
            for (what, got) in [
                ("parameter", params[index].len()),
                ("gradient", grads[index].len()),
            ] {
                if got != len {
                    return Err(OptimError::TensorLength {
                        what,
                        index,
                        expected: len,
                        got,
                    });
                }
            }
        }
        Ok(())
    }

    /// Applies one update to every tensor with the learning rate `lr` of this step (the
    /// scheduled rate; it overrides the `lr` of [`OptimizerKind`]) and increments the step count.
    ///
    /// Fails without touching anything if the tensor count or a length differs from the shapes
    /// given to [`Optimizer::new`], or if `lr` is negative or not finite.
    pub fn step(
        &mut self,
        params: &mut [&mut [F]],
        grads: &[&[F]],
        lr: F,
    ) -> Result<(), OptimError> {
        self.check_shapes(params, grads)?;
        let lr_f64 = lr.as_f64();
        if !(lr_f64.is_finite() && lr_f64 >= 0.0) {
            return Err(OptimError::InvalidStepLr { value: lr_f64 });
        }
        let first_step = self.step == 0;
        self.step += 1;
        let t = self.step as f64;
        match self.kind {
            OptimizerKind::Adam {
                beta1, beta2, eps, ..
            } => {
                // Scalars as PyTorch computes them (in double precision).
                let bias1 = 1.0 - beta1.powf(t);
                let bias2_sqrt = F::from_f64((1.0 - beta2.powf(t)).sqrt());
                let step_size = F::from_f64(lr_f64 / bias1);
                let (b1, b2, one) = (F::from_f64(beta1), F::from_f64(beta2), F::one());
                let w1 = one - b1;
                let w2 = one - b2;
                let eps = F::from_f64(eps);
                for ((p, &g), st) in params.iter_mut().zip(grads).zip(&mut self.state) {
                    let (m, v) = split2(st);
                    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
                        *m = lerp(*m, g, w1);
                        *v = *v * b2 + g * g * w2;
                        let denom = v.sqrt() / bias2_sqrt + eps;
                        *p -= step_size * (*m / denom);
                    }
                }
            }
            OptimizerKind::Adamax {
                beta1, beta2, eps, ..
            } => {
                let clr = F::from_f64(lr_f64 / (1.0 - beta1.powf(t)));
                let (b1, b2) = (F::from_f64(beta1), F::from_f64(beta2));
                let w1 = F::one() - b1;
                let eps = F::from_f64(eps);
                for ((p, &g), st) in params.iter_mut().zip(grads).zip(&mut self.state) {
                    let (m, u) = split2(st);
                    for (((p, &g), m), u) in p.iter_mut().zip(g).zip(m).zip(u) {
                        *m = lerp(*m, g, w1);
                        *u = (*u * b2).max(g.abs() + eps);
                        *p -= clr * (*m / *u);
                    }
                }
            }
            OptimizerKind::Smorms3 { eps, .. } => {
                let eps = F::from_f64(eps);
                let one = F::one();
                for ((p, &g), st) in params.iter_mut().zip(grads).zip(&mut self.state) {
                    let [mem, gm, g2] = st.as_mut_slice() else {
                        unreachable!("SMORMS3 keeps three buffers per tensor")
                    };
                    for ((((p, &g), mem), gm), g2) in p
                        .iter_mut()
                        .zip(g)
                        .zip(mem.iter_mut())
                        .zip(gm.iter_mut())
                        .zip(g2.iter_mut())
                    {
                        let r = one / (*mem + one);
                        *gm = *gm * (one - r) + r * g;
                        *g2 = *g2 * (one - r) + r * (g * g);
                        let div = *g2 + eps;
                        let ratio = *gm * *gm / div;
                        *mem = *mem * (one - ratio) + one;
                        let rate = ratio.min(lr);
                        *p += (-rate * g) / (g2.sqrt() + eps);
                    }
                }
            }
            OptimizerKind::Sgd {
                momentum, nesterov, ..
            } => {
                if momentum == 0.0 {
                    for (p, &g) in params.iter_mut().zip(grads) {
                        for (p, &g) in p.iter_mut().zip(g) {
                            *p -= lr * g;
                        }
                    }
                } else {
                    let mu = F::from_f64(momentum);
                    for ((p, &g), st) in params.iter_mut().zip(grads).zip(&mut self.state) {
                        let buf = &mut st[0];
                        for ((p, &g), b) in p.iter_mut().zip(g).zip(buf.iter_mut()) {
                            *b = if first_step { g } else { *b * mu + g };
                            let d = if nesterov { g + *b * mu } else { *b };
                            *p -= lr * d;
                        }
                    }
                }
            }
            OptimizerKind::RmsMax { decay, eps, .. } => {
                let (decay, eps) = (F::from_f64(decay), F::from_f64(eps));
                for ((p, &g), st) in params.iter_mut().zip(grads).zip(&mut self.state) {
                    for ((p, &g), v) in p.iter_mut().zip(g).zip(st[0].iter_mut()) {
                        *v = (g * g).max(decay * *v);
                        *p -= lr * g / (v.sqrt() + eps);
                    }
                }
            }
        }
        Ok(())
    }

    /// The state buffers by name (`"{tensor}.{buffer}"`, e.g. `"0.m"`), in a stable order.
    /// Save them with [`Optimizer::step_count`] to checkpoint the optimizer.
    pub fn state_tensors(&self) -> Vec<(String, Vec<F>)> {
        let names = self.kind.buffer_names();
        let mut out = Vec::with_capacity(self.state.len() * names.len());
        for (i, tensor) in self.state.iter().enumerate() {
            for (name, buf) in names.iter().zip(tensor) {
                out.push((format!("{i}.{name}"), buf.clone()));
            }
        }
        out
    }

    /// Restores state saved by [`Optimizer::state_tensors`] together with the step count.
    ///
    /// Accepts any collection of `(name, values)` pairs (a `Vec`, a `HashMap`, ...). Every
    /// buffer must be present exactly once with the right length and no unknown name may
    /// appear; on error the optimizer is left unchanged.
    pub fn load_state<I, K, V>(&mut self, tensors: I, step: u64) -> Result<(), OptimError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<[F]>,
    {
        let names = self.kind.buffer_names();
        let mut staged: Vec<Vec<Option<Vec<F>>>> = self
            .shapes
            .iter()
            .map(|_| vec![None; names.len()])
            .collect();
        for (key, values) in tensors {
            let key = key.as_ref();
            let unexpected = || OptimError::UnexpectedState {
                name: key.to_string(),
            };
            let (index, buffer) = key.split_once('.').ok_or_else(unexpected)?;
            let index: usize = index.parse().map_err(|_| unexpected())?;
            let b = names
                .iter()
                .position(|&n| n == buffer)
                .ok_or_else(unexpected)?;
            let slot = staged
                .get_mut(index)
                .and_then(|t| t.get_mut(b))
                .ok_or_else(unexpected)?;
            if slot.is_some() {
                return Err(unexpected());
            }
            let values = values.as_ref();
            if values.len() != self.shapes[index] {
                return Err(OptimError::StateLength {
                    name: key.to_string(),
                    expected: self.shapes[index],
                    got: values.len(),
                });
            }
            *slot = Some(values.to_vec());
        }
        let mut state = Vec::with_capacity(staged.len());
        for (i, tensor) in staged.into_iter().enumerate() {
            let mut bufs = Vec::with_capacity(names.len());
            for (b, buf) in tensor.into_iter().enumerate() {
                bufs.push(buf.ok_or_else(|| OptimError::MissingState {
                    name: format!("{i}.{}", names[b]),
                })?);
            }
            state.push(bufs);
        }
        self.state = state;
        self.step = step;
        Ok(())
    }
}

/// Splits a two-buffer state into its buffers.
fn split2<F>(st: &mut [Vec<F>]) -> (&mut [F], &mut [F]) {
    let (a, b) = st.split_at_mut(1);
    (&mut a[0], &mut b[0])
}

/// `a + w (b − a)`, computed as PyTorch's `lerp` does (the weight-≥-½ branch from `b`).
#[inline(always)]
fn lerp<F: Real>(a: F, b: F, w: F) -> F {
    let half = F::from_f64(0.5);
    if w.abs() < half {
        a + w * (b - a)
    } else {
        b - (b - a) * (F::one() - w)
    }
}

fn default_min_lr_fraction() -> f64 {
    0.0
}

/// A per-epoch learning-rate schedule, stepped once per epoch (as stork steps its scheduler).
///
/// Serialized with an internal `kind` tag, e.g. `{"kind": "cosine", "min_lr_fraction": 0.01}`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LrSchedule {
    /// The base learning rate throughout.
    #[default]
    Constant,
    /// Cosine annealing over the run (PyTorch `CosineAnnealingLR` with `T_max` = total epochs,
    /// without restarts): `η_e = η_min + (η₀ − η_min)(1 + cos(π e/T))/2`.
    Cosine {
        /// `η_min/η₀`, the final rate as a fraction of the base rate, in [0, 1] (default 0).
        #[serde(default = "default_min_lr_fraction")]
        min_lr_fraction: f64,
    },
}

impl LrSchedule {
    /// Checks `min_lr_fraction` is in [0, 1].
    pub fn validate(&self) -> Result<(), OptimError> {
        match *self {
            Self::Constant => Ok(()),
            Self::Cosine { min_lr_fraction } => {
                if (0.0..=1.0).contains(&min_lr_fraction) {
                    Ok(())
                } else {
                    Err(OptimError::InvalidHyperparameter {
                        owner: "cosine schedule",
                        field: "min_lr_fraction",
                        value: min_lr_fraction,
                        requirement: "in [0, 1]",
                    })
                }
            }
        }
    }

    /// The learning rate of 0-based `epoch` in a run of `total_epochs` epochs.
    ///
    /// Cosine: `η_min + (η₀ − η_min)(1 + cos(π e/T))/2` with `η_min = min_lr_fraction·η₀`
    /// and `T = total_epochs`, so epoch 0 runs at `η₀` and the rate reaches `η_min` at
    /// `e = T`. Epochs past `T` stay at `η_min` (PyTorch would rise again); `T = 0` gives `η₀`.
    pub fn lr_at(&self, base_lr: f64, epoch: usize, total_epochs: usize) -> f64 {
        match *self {
            Self::Constant => base_lr,
            Self::Cosine { min_lr_fraction } => {
                if total_epochs == 0 {
                    return base_lr;
                }
                let eta_min = min_lr_fraction * base_lr;
                let progress = epoch.min(total_epochs) as f64 / total_epochs as f64;
                eta_min
                    + (base_lr - eta_min) * (1.0 + (std::f64::consts::PI * progress).cos()) / 2.0
            }
        }
    }
}

/// Scales all gradients by one factor so that their global L2 norm is at most `max_norm`
/// (PyTorch `clip_grad_norm_` semantics), and returns the norm before clipping.
///
/// The norm `‖g‖ = √(Σ_tensors Σ_i g_i²)` is accumulated in `f64`. The factor is
/// `min(1, max_norm/(‖g‖ + 1e-6))`, applied only if below 1. If the norm is not finite the
/// gradients are left unchanged (PyTorch would fill them with NaN) and the norm is returned,
/// so the caller can skip the step. `max_norm = +inf` never clips.
pub fn clip_grad_norm<F: Real>(grads: &mut [&mut [F]], max_norm: f64) -> Result<f64, OptimError> {
    if max_norm.is_nan() || max_norm < 0.0 {
        return Err(OptimError::InvalidMaxNorm { value: max_norm });
    }
    let total = grads
        .iter()
        .map(|g| g.iter().map(|&x| x.as_f64() * x.as_f64()).sum::<f64>())
        .sum::<f64>()
        .sqrt();
    if total.is_finite() {
        let coef = max_norm / (total + 1e-6);
        if coef < 1.0 {
            let c = F::from_f64(coef);
            for g in grads.iter_mut() {
                for x in g.iter_mut() {
                    *x *= c;
                }
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `steps` optimizer steps on one tensor with the gradient sequence `grad(t, p)`.
    fn run<F: Real>(
        kind: OptimizerKind,
        p0: &[F],
        steps: usize,
        lr: f64,
        grad: impl Fn(usize, &[F]) -> Vec<F>,
    ) -> Vec<F> {
        let mut p = p0.to_vec();
        let mut opt = Optimizer::<F>::new(kind, &[p.len()]).unwrap();
        for t in 0..steps {
            let g = grad(t, &p);
            opt.step(&mut [&mut p], &[&g], F::from_f64(lr)).unwrap();
        }
        p
    }

    /// A fixed, sign-changing gradient sequence for reference checks.
    fn fixed_grad(t: usize, p: &[f64]) -> Vec<f64> {
        p.iter()
            .enumerate()
            .map(|(i, &x)| {
                0.3 * x - 0.7 * (i as f64 + 1.0)
                    + 0.05 * (t as f64) * if i % 2 == 0 { 1.0 } else { -2.0 }
            })
            .collect()
    }

    const P0: [f64; 4] = [0.5, -1.0, 2.0, 0.0];

    fn assert_close(a: &[f64], b: &[f64], tol: f64) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= tol * (1.0 + y.abs()),
                "element {i}: {x} vs {y}"
            );
        }
    }

    #[test]
    fn adam_matches_textbook_reference() {
        let (lr, b1, b2, eps) = (0.01, 0.9, 0.999, 1e-8);
        let got = run(OptimizerKind::adam(), &P0, 5, lr, fixed_grad);
        // Reference: the textbook form with bias-corrected moments.
        let mut p = P0.to_vec();
        let (mut m, mut v) = (vec![0.0; 4], vec![0.0; 4]);
        for t in 1..=5 {
            let g = fixed_grad(t - 1, &p);
            for i in 0..4 {
                m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                let mhat = m[i] / (1.0 - f64::powi(b1, t as i32));
                let vhat = v[i] / (1.0 - f64::powi(b2, t as i32));
                p[i] -= lr * mhat / (vhat.sqrt() + eps);
            }
        }
        assert_close(&got, &p, 1e-12);
    }

    #[test]
    fn adam_first_step_is_lr_times_sign() {
        // m̂ = g, v̂ = g² after one step, so the move is lr·g/(|g|+eps).
        let got = run(
            OptimizerKind::adam(),
            &[1.0f64, 1.0, 1.0],
            1,
            0.1,
            |_, _| vec![2.0, -0.5, 0.0],
        );
        assert_close(&got, &[0.9, 1.1, 1.0], 1e-7);
    }

    #[test]
    fn adamax_matches_reference() {
        let (lr, b1, b2, eps) = (0.02, 0.9, 0.999, 1e-8);
        let got = run(OptimizerKind::adamax(), &P0, 5, lr, fixed_grad);
        let mut p = P0.to_vec();
        let (mut m, mut u) = (vec![0.0; 4], vec![0.0f64; 4]);
        for t in 1..=5 {
            let g = fixed_grad(t - 1, &p);
            for i in 0..4 {
                m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                u[i] = f64::max(b2 * u[i], g[i].abs() + eps);
                p[i] -= lr / (1.0 - f64::powi(b1, t as i32)) * m[i] / u[i];
            }
        }
        assert_close(&got, &p, 1e-12);
    }

    #[test]
    fn smorms3_matches_stork_reference() {
        let (lr, eps) = (0.05, 1e-16);
        let kind = OptimizerKind::Smorms3 { lr, eps };
        let got = run(kind, &P0, 6, lr, fixed_grad);
        let mut p = P0.to_vec();
        let (mut mem, mut g1, mut g2) = (vec![1.0f64; 4], vec![0.0; 4], vec![0.0; 4]);
        for t in 0..6 {
            let grad = fixed_grad(t, &p);
            for i in 0..4 {
                let r = 1.0 / (mem[i] + 1.0);
                g1[i] = (1.0 - r) * g1[i] + r * grad[i];
                g2[i] = (1.0 - r) * g2[i] + r * grad[i] * grad[i];
                let x = g1[i] * g1[i] / (g2[i] + eps);
                mem[i] = mem[i] * (1.0 - x) + 1.0;
                p[i] -= f64::min(x, lr) * grad[i] / (g2[i].sqrt() + eps);
            }
        }
        assert_close(&got, &p, 1e-12);
    }

    #[test]
    fn smorms3_first_step_by_hand() {
        // r = 1/2: g = grad/2, g2 = grad²/2, ratio = 1/2, mem = 1.5;
        // rate = min(1/2, lr) = lr; move = lr·grad/(|grad|/√2) = √2·lr·sign(grad).
        let lr = 0.01;
        let got = run(
            OptimizerKind::Smorms3 { lr, eps: 1e-16 },
            &[0.0f64, 0.0],
            1,
            lr,
            |_, _| vec![3.0, -0.25],
        );
        let s = std::f64::consts::SQRT_2 * lr;
        assert_close(&got, &[-s, s], 1e-12);
    }

    #[test]
    fn smorms3_zero_gradient_is_finite() {
        let got = run(OptimizerKind::smorms3(), &[1.0f32, 2.0], 3, 1e-3, |_, _| {
            vec![0.0, 0.0]
        });
        assert_eq!(got, vec![1.0, 2.0]);
    }

    #[test]
    fn sgd_momentum_matches_reference() {
        for nesterov in [false, true] {
            let (lr, mu) = (0.1, 0.9);
            let kind = OptimizerKind::Sgd {
                lr,
                momentum: mu,
                nesterov,
            };
            let got = run(kind, &P0, 5, lr, fixed_grad);
            let mut p = P0.to_vec();
            let mut b = [0.0; 4];
            for t in 0..5 {
                let g = fixed_grad(t, &p);
                for i in 0..4 {
                    b[i] = if t == 0 { g[i] } else { mu * b[i] + g[i] };
                    let d = if nesterov { g[i] + mu * b[i] } else { b[i] };
                    p[i] -= lr * d;
                }
            }
            assert_close(&got, &p, 1e-12);
        }
    }

    #[test]
    fn sgd_without_momentum_is_plain_gradient_descent() {
        let kind = OptimizerKind::Sgd {
            lr: 0.5,
            momentum: 0.0,
            nesterov: false,
        };
        let opt = Optimizer::<f64>::new(kind, &[2]).unwrap();
        assert!(opt.state_tensors().is_empty());
        let got = run(kind, &[1.0f64, -1.0], 2, 0.5, |_, _| vec![1.0, 2.0]);
        assert_close(&got, &[0.0, -3.0], 0.0);
    }

    #[test]
    fn rms_max_by_hand() {
        // v holds the largest recent g²: a large first gradient shrinks the later steps.
        let (lr, decay, eps) = (0.1, 0.5, 1e-12);
        let kind = OptimizerKind::RmsMax { lr, decay, eps };
        let grads = [[4.0, -1.0], [1.0, -1.0], [1.0, 3.0]];
        let got = run(kind, &[0.0f64, 0.0], 3, lr, |t, _| grads[t].to_vec());
        let mut p = [0.0f64; 2];
        let mut v = [0.0f64; 2];
        for g in grads {
            for i in 0..2 {
                v[i] = f64::max(g[i] * g[i], decay * v[i]);
                p[i] -= lr * g[i] / (v[i].sqrt() + eps);
            }
        }
        assert_close(&got, &p, 1e-15);
        // By hand: v[0] = 16, 8, 4 → steps −0.1, −0.1/√8, −0.1/2.
        let by_hand = -0.1 - 0.1 / 8f64.sqrt() - 0.05;
        assert!((got[0] - by_hand).abs() < 1e-12, "{} vs {by_hand}", got[0]);
    }

    #[test]
    fn every_optimizer_converges_on_a_quadratic() {
        // f(x) = ½ Σ a_i (x_i − c_i)², gradient a_i (x_i − c_i).
        let a = [1.0, 4.0, 0.25, 2.0];
        let c = [1.0, -2.0, 0.5, 3.0];
        let grad = |_: usize, p: &[f32]| -> Vec<f32> {
            p.iter()
                .enumerate()
                .map(|(i, &x)| a[i] as f32 * (x - c[i] as f32))
                .collect()
        };
        let cases = [
            (OptimizerKind::adam(), 0.05),
            (OptimizerKind::adamax(), 0.05),
            (OptimizerKind::smorms3(), 0.02),
            (OptimizerKind::sgd(), 0.05),
            (OptimizerKind::rms_max(), 0.01),
            (
                OptimizerKind::Sgd {
                    lr: 0.05,
                    momentum: 0.9,
                    nesterov: true,
                },
                0.05,
            ),
        ];
        for (kind, lr) in cases {
            let p = run(kind, &[0.0f32; 4], 2000, lr, grad);
            for i in 0..4 {
                assert!(
                    (p[i] as f64 - c[i]).abs() < 1e-2,
                    "{kind:?}: x[{i}] = {} vs {}",
                    p[i],
                    c[i]
                );
            }
        }
    }

    #[test]
    fn save_load_resumes_bit_identically() {
        let kinds = [
            OptimizerKind::adam(),
            OptimizerKind::adamax(),
            OptimizerKind::smorms3(),
            OptimizerKind::sgd(),
            OptimizerKind::rms_max(),
        ];
        let shapes = [3usize, 2];
        let grad = |t: usize, p: &[f32]| -> Vec<f32> {
            p.iter()
                .enumerate()
                .map(|(i, &x)| x * 0.7 - (i as f32) + (t as f32 * 0.37).sin())
                .collect()
        };
        let lr = |t: usize| 0.01f32 / (1.0 + t as f32);
        for kind in kinds {
            let init = [vec![0.1f32, -0.2, 0.3], vec![1.0f32, -1.0]];
            let mut straight = init.clone();
            let mut opt = Optimizer::<f32>::new(kind, &shapes).unwrap();
            for t in 0..10 {
                let g: Vec<Vec<f32>> = straight.iter().map(|p| grad(t, p)).collect();
                let (a, b) = straight.split_at_mut(1);
                opt.step(&mut [&mut a[0], &mut b[0]], &[&g[0], &g[1]], lr(t))
                    .unwrap();
            }

            let mut resumed = init.clone();
            let mut first = Optimizer::<f32>::new(kind, &shapes).unwrap();
            for t in 0..5 {
                let g: Vec<Vec<f32>> = resumed.iter().map(|p| grad(t, p)).collect();
                let (a, b) = resumed.split_at_mut(1);
                first
                    .step(&mut [&mut a[0], &mut b[0]], &[&g[0], &g[1]], lr(t))
                    .unwrap();
            }
            let saved = first.state_tensors();
            let step = first.step_count();
            assert_eq!(step, 5);
            let mut second = Optimizer::<f32>::new(kind, &shapes).unwrap();
            second.load_state(saved, step).unwrap();
            assert_eq!(second, first);
            for t in 5..10 {
                let g: Vec<Vec<f32>> = resumed.iter().map(|p| grad(t, p)).collect();
                let (a, b) = resumed.split_at_mut(1);
                second
                    .step(&mut [&mut a[0], &mut b[0]], &[&g[0], &g[1]], lr(t))
                    .unwrap();
            }
            for (x, y) in straight.iter().flatten().zip(resumed.iter().flatten()) {
                assert_eq!(x.to_bits(), y.to_bits(), "{kind:?}");
            }
            assert_eq!(opt, second);
        }
    }

    #[test]
    fn state_names_and_load_errors() {
        let mut opt = Optimizer::<f64>::new(OptimizerKind::adam(), &[2, 1]).unwrap();
        let names: Vec<String> = opt.state_tensors().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["0.m", "0.v", "1.m", "1.v"]);
        let smorms = Optimizer::<f64>::new(OptimizerKind::smorms3(), &[2]).unwrap();
        let st = smorms.state_tensors();
        assert_eq!(st[0], ("0.mem".to_string(), vec![1.0, 1.0]));
        assert_eq!(st[1].0, "0.g");
        assert_eq!(st[2].0, "0.g2");

        let before = opt.clone();
        let full = opt.state_tensors();
        let missing: Vec<_> = full[..3].to_vec();
        assert_eq!(
            opt.load_state(missing, 3),
            Err(OptimError::MissingState { name: "1.v".into() })
        );
        let mut extra = full.clone();
        extra.push(("2.m".into(), vec![0.0]));
        assert!(matches!(
            opt.load_state(extra, 3),
            Err(OptimError::UnexpectedState { .. })
        ));
        let mut dup = full.clone();
        dup.push(("0.m".into(), vec![0.0, 0.0]));
        assert!(matches!(
            opt.load_state(dup, 3),
            Err(OptimError::UnexpectedState { .. })
        ));
        let mut bad_len = full.clone();
        bad_len[2].1 = vec![0.0; 5];
        assert_eq!(
            opt.load_state(bad_len, 3),
            Err(OptimError::StateLength {
                name: "1.m".into(),
                expected: 1,
                got: 5
            })
        );
        assert_eq!(opt, before, "failed loads leave the optimizer unchanged");
        // A HashMap works as well.
        let map: std::collections::HashMap<String, Vec<f64>> = full.into_iter().collect();
        opt.load_state(map, 7).unwrap();
        assert_eq!(opt.step_count(), 7);
    }

    #[test]
    fn step_rejects_mismatched_tensors_and_bad_lr() {
        let mut opt = Optimizer::<f32>::new(OptimizerKind::adam(), &[2, 3]).unwrap();
        let mut a = [0.0f32; 2];
        let mut b = [0.0f32; 3];
        let g2 = [1.0f32; 2];
        let g3 = [1.0f32; 3];
        assert_eq!(
            opt.step(&mut [&mut a], &[&g2], 0.1),
            Err(OptimError::TensorCount {
                what: "parameter",
                expected: 2,
                got: 1
            })
        );
        assert_eq!(
            opt.step(&mut [&mut a, &mut b], &[&g2, &g2], 0.1),
            Err(OptimError::TensorLength {
                what: "gradient",
                index: 1,
                expected: 3,
                got: 2
            })
        );
        assert!(matches!(
            opt.step(&mut [&mut a, &mut b], &[&g2, &g3], f32::NAN),
            Err(OptimError::InvalidStepLr { .. })
        ));
        assert_eq!(opt.step_count(), 0);
        assert_eq!(a, [0.0; 2]);
    }

    #[test]
    fn validation_names_the_field() {
        let field_of = |k: OptimizerKind| match k.validate() {
            Err(OptimError::InvalidHyperparameter { field, .. }) => field,
            other => panic!("{k:?}: {other:?}"),
        };
        let adam = |lr, beta1, beta2, eps| OptimizerKind::Adam {
            lr,
            beta1,
            beta2,
            eps,
        };
        assert_eq!(field_of(adam(f64::NAN, 0.9, 0.999, 1e-8)), "lr");
        assert_eq!(field_of(adam(0.0, 0.9, 0.999, 1e-8)), "lr");
        assert_eq!(field_of(adam(f64::INFINITY, 0.9, 0.999, 1e-8)), "lr");
        assert_eq!(field_of(adam(1e-3, 1.0, 0.999, 1e-8)), "beta1");
        assert_eq!(field_of(adam(1e-3, 0.9, -0.1, 1e-8)), "beta2");
        assert_eq!(field_of(adam(1e-3, 0.9, 0.999, -1e-8)), "eps");
        assert_eq!(
            field_of(OptimizerKind::Smorms3 { lr: 1e-3, eps: 0.0 }),
            "eps"
        );
        assert_eq!(
            field_of(OptimizerKind::Sgd {
                lr: 1e-3,
                momentum: 1.5,
                nesterov: false
            }),
            "momentum"
        );
        assert_eq!(
            OptimizerKind::Sgd {
                lr: 1e-3,
                momentum: 0.0,
                nesterov: true
            }
            .validate(),
            Err(OptimError::NesterovWithoutMomentum)
        );
        let msg = adam(1e-3, 1.0, 0.999, 1e-8)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(msg.contains("adam") && msg.contains("`beta1`"), "{msg}");
        // eps that underflows in f32 is rejected at construction.
        assert!(Optimizer::<f32>::new(
            OptimizerKind::Smorms3 {
                lr: 1e-3,
                eps: 1e-50
            },
            &[1]
        )
        .is_err());
        assert!(Optimizer::<f64>::new(
            OptimizerKind::Smorms3 {
                lr: 1e-3,
                eps: 1e-50
            },
            &[1]
        )
        .is_ok());
        for k in [
            OptimizerKind::adam(),
            OptimizerKind::adamax(),
            OptimizerKind::smorms3(),
            OptimizerKind::sgd(),
            OptimizerKind::rms_max(),
        ] {
            k.validate().unwrap();
        }
        let bad_decay = OptimizerKind::RmsMax {
            lr: 1e-3,
            decay: 1.0,
            eps: 1e-12,
        };
        assert!(bad_decay
            .validate()
            .unwrap_err()
            .to_string()
            .contains("decay"));
    }

    #[test]
    fn serde_tags_defaults_and_unknown_fields() {
        let k: OptimizerKind = serde_json::from_str(r#"{"kind":"smorms3","lr":0.005}"#).unwrap();
        assert_eq!(
            k,
            OptimizerKind::Smorms3 {
                lr: 5e-3,
                eps: 1e-16
            }
        );
        let k: OptimizerKind = serde_json::from_str(r#"{"kind":"adamax"}"#).unwrap();
        assert_eq!(k, OptimizerKind::adamax());
        let k: OptimizerKind = toml::from_str("kind = \"rms_max\"").unwrap();
        assert_eq!(k, OptimizerKind::rms_max());
        let k: OptimizerKind = toml::from_str("kind = \"sgd\"\nnesterov = true").unwrap();
        assert_eq!(
            k,
            OptimizerKind::Sgd {
                lr: 1e-3,
                momentum: 0.9,
                nesterov: true
            }
        );
        assert!(serde_json::from_str::<OptimizerKind>(r#"{"kind":"adam","betas":1}"#).is_err());
        assert!(serde_json::from_str::<OptimizerKind>(r#"{"kind":"rmsprop"}"#).is_err());
        let back: OptimizerKind =
            serde_json::from_str(&serde_json::to_string(&OptimizerKind::adam()).unwrap()).unwrap();
        assert_eq!(back, OptimizerKind::adam());

        let s: LrSchedule = serde_json::from_str(r#"{"kind":"cosine"}"#).unwrap();
        assert_eq!(
            s,
            LrSchedule::Cosine {
                min_lr_fraction: 0.0
            }
        );
        let s: LrSchedule = serde_json::from_str(r#"{"kind":"constant"}"#).unwrap();
        assert_eq!(s, LrSchedule::Constant);
        assert!(serde_json::from_str::<LrSchedule>(r#"{"kind":"cosine","eta":1}"#).is_err());
    }

    #[test]
    fn cosine_schedule_endpoints() {
        let s = LrSchedule::Cosine {
            min_lr_fraction: 0.1,
        };
        s.validate().unwrap();
        let base = 2e-3;
        assert_eq!(s.lr_at(base, 0, 100), base);
        assert!((s.lr_at(base, 100, 100) - 2e-4).abs() < 1e-18);
        assert!((s.lr_at(base, 50, 100) - 1.1e-3).abs() < 1e-15);
        assert!(
            (s.lr_at(base, 150, 100) - 2e-4).abs() < 1e-18,
            "clamped past the end"
        );
        // Strictly decreasing over the run.
        let lrs: Vec<f64> = (0..=10).map(|e| s.lr_at(base, e, 10)).collect();
        assert!(lrs.windows(2).all(|w| w[1] < w[0]));
        // PyTorch closed form at an interior epoch.
        let expect = 2e-4 + (base - 2e-4) * (1.0 + (std::f64::consts::PI * 3.0 / 10.0).cos()) / 2.0;
        assert_eq!(s.lr_at(base, 3, 10), expect);
        assert_eq!(s.lr_at(base, 0, 0), base);
        assert_eq!(LrSchedule::Constant.lr_at(base, 7, 10), base);
        assert!(matches!(
            LrSchedule::Cosine {
                min_lr_fraction: 1.5
            }
            .validate(),
            Err(OptimError::InvalidHyperparameter {
                field: "min_lr_fraction",
                ..
            })
        ));
    }

    #[test]
    fn clipping_scales_globally_and_returns_pre_clip_norm() {
        let mut a = vec![3.0f32, 0.0];
        let mut b = vec![0.0f32, 4.0];
        let norm = clip_grad_norm(&mut [&mut a, &mut b], 1.0).unwrap();
        assert_eq!(norm, 5.0);
        let coef = 1.0 / (5.0 + 1e-6);
        assert!((a[0] as f64 - 3.0 * coef).abs() < 1e-6);
        assert!((b[1] as f64 - 4.0 * coef).abs() < 1e-6);
        let after: f64 = [a[0], b[1]]
            .iter()
            .map(|&x| (x as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!((after - 1.0).abs() < 1e-5);

        // Below the threshold: untouched.
        let mut c = vec![0.3f64, 0.4];
        assert_eq!(clip_grad_norm(&mut [&mut c], 1.0).unwrap(), 0.5);
        assert_eq!(c, [0.3, 0.4]);
        // Infinite threshold never clips; non-finite norms leave gradients alone.
        let mut d = vec![1e3f64];
        clip_grad_norm(&mut [&mut d], f64::INFINITY).unwrap();
        assert_eq!(d, [1e3]);
        let mut e = vec![f64::NAN, 1.0];
        assert!(clip_grad_norm(&mut [&mut e], 1.0).unwrap().is_nan());
        assert_eq!(e[1], 1.0);
        // The norm is accumulated in f64: no overflow for large f32 values.
        let mut f = vec![3e20f32, 4e20];
        assert!((clip_grad_norm(&mut [&mut f], 1.0).unwrap() / 5e20 - 1.0).abs() < 1e-6);
        assert!(matches!(
            clip_grad_norm(&mut [&mut c], -1.0),
            Err(OptimError::InvalidMaxNorm { .. })
        ));
        assert!(clip_grad_norm(&mut [&mut c], f64::NAN).is_err());
    }
}
