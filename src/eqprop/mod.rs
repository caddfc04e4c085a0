//! Equilibrium propagation (Scellier & Bengio 2017) and its holomorphic form (Laborieux &
//! Zenke, NeurIPS 2022) on layered energy-based networks — the core; training and the
//! reproduction build on it.
//!
//! A network with input `x = h_0`, hidden layers `h_1 … h_K` and a readout `o = W_K h_K + b_K`
//! has the primitive function
//!
//! ```text
//! Φ(x, h, y, β) = Σ_{l<K} (W_l h_l + b_l)·h_{l+1} − β ℓ(W_K h_K + b_K, y)
//! ```
//!
//! and relaxes to the fixed point `h = σ(∂Φ/∂h)` with `σ(z) = 1/(1 + e^{−(4z−2)})` (the
//! paper's activation; it is holomorphic, so the states may be complex). The fixed point is
//! the stationary point of `E = Σ G(h) − Φ` with `G' = σ⁻¹`, and `E` depends on θ only
//! through `Φ`, so the gradient of the loss at the free fixed point is
//! `dL/dθ = −d/dβ ∂Φ/∂θ(h*_β)` at `β = 0`. Its estimators ([`estimators`]): classic EP (one
//! nudged phase), symmetric EP (`±β`) and holomorphic EP (`N` phases `β_k = |β| e^{2πik/N}`
//! on a circle: the Cauchy integral `(1/N) Σ_k ∂Φ/∂θ(h*_{β_k})/β_k`, exact up to `O(|β|^N)`).
//! [`exact`] computes the same gradient independently, by implicit differentiation of the
//! fixed point; the tests hold every estimator against it.

pub mod batch;
pub mod batch_gradient;
pub mod bptt;
pub mod energy;
pub mod estimators;
pub mod exact;
pub mod feedforward;
pub mod generalized;
pub mod rows;
pub mod training;

pub use energy::{EnergyNet, EqLoss, Params};
pub use estimators::Estimator;

#[cfg(test)]
mod batch_tests;
#[cfg(test)]
mod tests;
