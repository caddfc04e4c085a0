//! Non-contrastive self-supervised learning with DirectPred's closed-form predictor, BYOL's
//! cosine loss and IsoLoss (Halvagal, Laborieux & Zenke, "Implicit variance regularization in
//! non-contrastive SSL", NeurIPS 2023, arXiv 2212.04858).
//!
//! - [`predictor`]: `W_P = U diag(s^α) Uᵀ` from the running correlation of the projections;
//! - [`losses`]: the gradients of BYOL's loss through `W_P` and of IsoLoss (the same without
//!   the leading `W_P`), cosine and Euclidean;
//! - [`toy`]: the paper's linear Siamese network and its eigenvalue dynamics;
//! - [`siamese`], [`augment`], [`probe`]: an MLP trained on augmented image views and read
//!   out by a linear probe.

pub mod augment;
pub mod centring;
pub mod eigen;
pub mod losses;
pub mod predictor;
pub mod probe;
pub mod siamese;
pub mod toy;

pub use losses::{Distance, Objective};

use crate::error::ConfigError;
use crate::experiment::ExperimentError;
use crate::optimizers::OptimError;

/// Why a self-supervised computation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SslError {
    /// A setting is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The optimiser refused a step.
    #[error(transparent)]
    Optimizer(#[from] OptimError),
    /// An array has the wrong length.
    #[error("{what}: expected length {expected} (or a multiple), got {found}")]
    Shape {
        /// Which array.
        what: &'static str,
        /// The length expected.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// A value that must be finite is not.
    #[error("{0} is not finite")]
    NonFinite(&'static str),
}

impl SslError {
    fn shape(what: &'static str, expected: usize, found: usize) -> Self {
        Self::Shape {
            what,
            expected,
            found,
        }
    }
}

impl From<SslError> for ExperimentError {
    fn from(e: SslError) -> Self {
        match e {
            SslError::Config(c) => c.into(),
            SslError::Optimizer(o) => o.into(),
            other => ConfigError::new("ssl", other.to_string()).into(),
        }
    }
}
