//! Dis-inhibitory control of the sign of plasticity (Rossbroich & Zenke, NeurIPS 2023).
//!
//! Every excitatory unit `i` of a hidden layer has one inhibitory partner (Dale's law), both
//! with softplus rates `φ`:
//!
//! ```text
//! τ_E du_E/dt = −u_E + W_l r_{l−1} + b_l − φ(u_I)
//! τ_I du_I/dt = −u_I + φ(u_E) − c·B_l            (top-down control inhibits the interneuron)
//! τ_E dy/dt   = −y + W_out r_L + c                (the readout, also driven by the control)
//! ```
//!
//! with `r_l = φ(u_E)`, `τ_E = 20 ms`, `τ_I = 5 ms`. A leaky PI controller turns the output
//! error `e = y* − y` (squared error) or `y* − softmax(y)` (cross-entropy) into the control
//! `c = k_i c_int + k_p e`, `τ_c dc_int/dt = e − c_int` (`k_p = 0.2`, `k_i = 0.4`,
//! `τ_c = 100 ms`); its feedback weights `B_l` are the readout's Jacobian with respect to
//! layer `l`'s excitatory states along the feed-forward path, times `φ'(u_I)`, normalised to
//! unit Frobenius norm per sample. Learning compares the closed-loop steady state with what
//! the interneuron "expects" from its partner:
//! `Δw_ij ∝ (φ(u_E,i) − φ⁻¹(r_I,i)) φ'(u_E,i) r_{l−1,j}` — at the steady state
//! `φ(u_E) − u_I = c·B`, so dis-inhibition (control that silences the interneuron) gives
//! potentiation and the opposite depression. `φ⁻¹` exactly ([`rule::InverseRate::Exact`]) or
//! linearised around each interneuron's mean rate ([`rule::InverseRate::LinearThreshold`]).
//! The readout learns `ΔW_out ∝ (y − W_out r_L) r_Lᵀ = c r_Lᵀ`.
//!
//! [`circuit`] integrates the dynamics (fixed-step Euler, stopped at the steady state),
//! [`feedback`] computes `B_l`, [`rule`] the updates, [`steady`] the open-loop steady state
//! in closed form and backpropagation through it (the reference), [`training`] trains with
//! Adam.

pub mod circuit;
pub mod feedback;
pub mod rule;
pub mod steady;
pub mod training;

pub use circuit::{Circuit, CircuitState, ControlLoss, Dynamics, Loop};
pub use rule::InverseRate;

#[cfg(test)]
mod tests;

/// `φ(x) = ln(1 + eˣ)`.
pub fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x
    } else {
        x.exp().ln_1p()
    }
}

/// `φ'(x) = 1/(1 + e^{−x})`.
pub fn softplus_slope(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `φ⁻¹(r) = ln(eʳ − 1)` for `r > 0`.
pub fn softplus_inverse(r: f64) -> f64 {
    if r > 30.0 {
        r
    } else {
        r.exp_m1().ln()
    }
}
