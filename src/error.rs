//! Errors shared by the library's configuration checks.

/// A configuration value that cannot be used; the message names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid `{field}`: {reason}")]
pub struct ConfigError {
    /// Dotted path of the offending field, e.g. `network.hidden[0].tau_mem_ms`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    /// A new error for `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// `Ok` if `value` is finite and `> 0`.
pub fn check_positive(field: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("must be a finite number > 0, got {value}"),
        ))
    }
}

/// `Ok` if `value` is finite and `≥ 0`.
pub fn check_non_negative(field: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("must be a finite number ≥ 0, got {value}"),
        ))
    }
}

/// `Ok` if `value` lies in `[lo, hi)` (`hi_inclusive` makes it `[lo, hi]`).
pub fn check_range(
    field: &str,
    value: f64,
    lo: f64,
    hi: f64,
    hi_inclusive: bool,
) -> Result<(), ConfigError> {
    let inside = value >= lo && (value < hi || (hi_inclusive && value == hi));
    if value.is_finite() && inside {
        Ok(())
    } else {
        let close = if hi_inclusive { ']' } else { ')' };
        Err(ConfigError::new(
            field,
            format!("must lie in [{lo}, {hi}{close}, got {value}"),
        ))
    }
}

/// `Ok` if `value > 0`.
pub fn check_count(field: &str, value: usize) -> Result<(), ConfigError> {
    if value > 0 {
        Ok(())
    } else {
        Err(ConfigError::new(field, "must be at least 1"))
    }
}
