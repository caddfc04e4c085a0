//! Neural tangent transfer (NTT; Liu & Zenke, "Finding trainable sparse networks through
//! Neural Tangent Transfer", ICML 2020).
//!
//! A sparse student (weight mask `m`, e.g. 3% density) is trained on unlabelled inputs so
//! that its empirical NTK and its outputs match those of the dense teacher (the same network
//! at initialisation); the mask is recomputed by weight magnitude every 100 steps; the result
//! is then trained supervised with the mask fixed.
//!
//! - [`mlp`]: a dense ReLU MLP with biases (LeNet-300-100) and its forward/backward passes;
//! - [`mask`]: per-layer magnitude masks and random-sparse masks at an exact count;
//! - [`kernel`]: the empirical NTK of a batch without materialising `J`, and its adjoint;
//! - [`loss`]: the NTT loss and its gradient with respect to the raw student parameters;
//! - [`mod@transfer`]: the transfer phase (Adam from the teacher, magnitude re-masking);
//! - [`supervised`]: training with a fixed mask (the second phase, and the baselines).
//!
//! Defaults of the reference code (`fmi-basel/neural-tangent-transfer`, MLP on MNIST,
//! `notebooks/ntt_demo_mlp.ipynb` and `nt_transfer/ntt.py`): density 0.03, Adam with step
//! size 5e-4, batch 64 (split in two halves of 32 for the cross kernel), 20 epochs,
//! `λ_K = 1e-3`, `λ_L2 = 1e-4`, layer-wise magnitude re-masking every 100 iterations (not in
//! the last 100), glorot-normal weights and `N(0, 0.01²)` biases.

pub mod error;
pub mod kernel;
pub mod loss;
pub mod mask;
pub mod mlp;
pub mod supervised;
pub mod transfer;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod training_tests;

pub use error::NttError;
pub use kernel::{empirical_ntk, kernel_distance_grad, KernelPass, Ntk};
pub use loss::{ntt_loss, ntt_loss_grad, NttConfig, NttLoss, NttTargets};
pub use mask::{kept_count, Mask, MaskKind};
pub use mlp::{Dense, Forward, Mlp};
pub use supervised::{accuracy, masked_loss_grad, train_masked, Labelled, SupervisedConfig};
pub use transfer::{transfer, TransferConfig, TransferPoint, Transferred};
