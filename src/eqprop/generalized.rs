//! Generalized holomorphic equilibrium propagation (gEP) for vector fields without weight
//! symmetry, and Jacobian homeostasis (Laborieux & Zenke, ICLR 2024, arXiv 2309.02214).
//!
//! The network is the paper's `mlp_2-256` (its code's `mlp_discrete_vf`): dynamic layers
//! `l1`, `l2`, `out`, a static input `x`, and *untied* feed-forward and feedback matrices
//! (weights stored `[pre, post]`, so a layer's drive is `act(u_pre) · W`):
//!
//! ```text
//! F(u) = G(act(u)) − u,   G(r)_l1  = x W_in + b_1 + r_2 W_21
//!                         G(r)_l2  = r_1 W_12 + b_2 + r_o W_o2
//!                         G(r)_out = r_2 W_2o + b_o + β ∂ℓ/∂r_o
//! ```
//!
//! with `act` the sigmoid and `ℓ = −log softmax(r_o R + b_R)_y` a cross-entropy on a
//! feed-forward readout `R` of the output neurons. The nudge enters with a plus sign, as in
//! the paper's code. The dynamics are `u ← u + F(u)`; the free phase runs `T1` steps at
//! `β = 0` to `u*`.
//!
//! The neuronal error is `e = d act(u*_β)/dβ` at `β = 0` ([`ErrorEstimate`]): exactly, by
//! forward mode (`v ← J_G D v + ∂G/∂β`, `e = D v`, `D = act'(u*)`, `J_G = ∂G/∂r`), or by `N`
//! nudged phases on a circle, `e ≈ (1/N) Σ_k act(u*_{β_k})/β_k`, `β_k = |β| e^{2πik/N}`
//! (exact up to `O(|β|^N)`; `N = 1` is the finite difference `(act(u_β) − act(u*))/β`). The
//! weight update is the vector–Jacobian product `g = (∂F/∂θ)ᵀ e` at `u*`, plus the readout's
//! own gradient. When `J_G` is symmetric (feedback = transposed feed-forward),
//! `D (I − J_G D)⁻¹ = (I − D J_Gᵀ)⁻¹ D` makes `e` the adjoint of recurrent backpropagation and
//! `g` the loss gradient at the fixed point; otherwise it is not.
//!
//! Jacobian homeostasis penalizes the asymmetry of `J = ∂F/∂act(u) = J_G − I` (the paper's
//! `vf_jac`; `F` is affine in `act(u)`, so `J` does not depend on `u*` or the input) with
//! `L_homeo = (‖Jε‖² − εᵀJ²ε)/n`, `ε ~ N(0, I)`, whose mean is
//! `(tr JᵀJ − tr J²)/n = ½‖J − Jᵀ‖²_F / n`. As in the paper's code, its gradient flows only
//! through the weights in `J`.
//!
//! Complex states of a batch of `B` are stored as `[2B, width]` arrays, real parts in rows
//! `0..B` and imaginary parts in rows `B..2B`: the weights are real, so one real product
//! serves both.

mod coupling;
mod dynamics;
mod error;
mod estimate;
mod homeostasis;
mod params;
mod readout;
mod state;
mod training;
mod update;

pub use dynamics::{free_phase, Relaxation};
pub use error::GepError;
pub use estimate::{neuronal_error, ErrorEstimate};
pub use homeostasis::{asymmetry, homeostatic_loss, jacobian};
pub use params::{FeedbackInit, GepParams, Widths};
pub use readout::{loss, predict};
pub use state::{activate, Planes, State};
pub use training::{accuracy, EpochReport, Homeostasis, TrainConfig, Trainer};
pub use update::{exact_gradient, weight_update};

#[cfg(test)]
mod tests;
