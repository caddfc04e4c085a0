//! Why a neural tangent transfer or a masked training run could not go on.

use crate::error::ConfigError;
use crate::experiment::ExperimentError;
use crate::optimizers::OptimError;

/// Why a neural tangent transfer or a masked supervised run could not run.
#[derive(Debug, thiserror::Error)]
pub enum NttError {
    /// A setting is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The optimiser refused a step.
    #[error(transparent)]
    Optimizer(#[from] OptimError),
    /// An array does not fit the network.
    #[error("{what}: expected a length that is a positive multiple of {width}, got {found}")]
    Shape {
        /// Which array.
        what: &'static str,
        /// The row width it must be a multiple of.
        width: usize,
        /// The length given.
        found: usize,
    },
    /// A class label is not an output of the network.
    #[error("label {label} of sample {sample} is not below the {classes} outputs")]
    Label {
        /// The sample.
        sample: usize,
        /// Its label.
        label: usize,
        /// The network's outputs.
        classes: usize,
    },
    /// A value that must be finite is not.
    #[error("{0} is not finite")]
    NonFinite(String),
}

impl From<NttError> for ExperimentError {
    fn from(e: NttError) -> Self {
        match e {
            NttError::Config(c) => c.into(),
            NttError::Optimizer(o) => o.into(),
            other => ConfigError::new("ntt", other.to_string()).into(),
        }
    }
}

/// The number of rows of `values` if it is a non-empty whole number of rows of `width`.
pub(crate) fn rows_of(
    what: &'static str,
    values_len: usize,
    width: usize,
) -> Result<usize, NttError> {
    if width == 0 || values_len == 0 || !values_len.is_multiple_of(width) {
        return Err(NttError::Shape {
            what,
            width,
            found: values_len,
        });
    }
    Ok(values_len / width)
}
