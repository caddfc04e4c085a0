//! Checks of the model's parameters.

/// A parameter outside its valid range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{field}`: {reason}")]
pub struct ParamError {
    /// Dotted path of the parameter, e.g. `cochlea.bushy.tau_mem_s`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ParamError {
    /// A new error for `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// `Ok` if `value` is finite and `> 0`.
pub(crate) fn check_positive(field: &str, value: f64) -> Result<(), ParamError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ParamError::new(
            field,
            format!("must be a finite number > 0, got {value}"),
        ))
    }
}

/// `Ok` if `value` is at least 1.
pub(crate) fn check_count(field: &str, value: usize) -> Result<(), ParamError> {
    if value > 0 {
        Ok(())
    } else {
        Err(ParamError::new(field, "must be at least 1"))
    }
}
