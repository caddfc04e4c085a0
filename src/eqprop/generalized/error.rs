//! The error type of gEP computations and training.

use crate::error::ConfigError;
use crate::optimizers::OptimError;

/// Why a gEP computation or training step could not run.
#[derive(Debug, thiserror::Error)]
pub enum GepError {
    /// A setting or an input shape is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The optimizer could not be built or stepped.
    #[error(transparent)]
    Optimizer(#[from] OptimError),
}
