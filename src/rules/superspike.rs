//! SuperSpike (Zenke & Ganguli 2018, "SuperSpike: Supervised learning in multilayer spiking
//! neural networks", Neural Comput. 30:1514): an online three-factor rule for precise spike
//! timing. In discrete time, for the synapse from `j` to `i`:
//!
//! ```text
//! p_j   = ε ∗ S_j                        the presynaptic PSP (the neuron's τ_syn, then τ_mem)
//! λ_ij  = κ ∗ (σ'(U_i − θ) p_j)          the eligibility (κ: the van Rossum kernel)
//! e_i   = κ ∗ (S*_i − S_i)               the filtered output error
//! G_ij += dt · e_i λ_ij                  every step; −G is the gradient the optimizer takes
//! ```
//!
//! Hidden layers receive `e_k = κ ∗ Σ_i B_ik (S*_i − S_i)` through a feedback matrix `B`.
//! For one layer whose reset is not differentiated and does not scale the membrane
//! (subtractive), `p_j = ∂U_i/∂w_ij` exactly, so `−G` is the gradient of the van Rossum loss
//! with the surrogate `σ'` (see the module's tests).
//!
//! This module holds the traces of one layer ([`SuperSpikeTraces`]); the rule that drives
//! them through a network comes with spiking outputs.

mod traces;

pub use traces::SuperSpikeTraces;
