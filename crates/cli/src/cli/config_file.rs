//! Reading configs: a TOML file (or the defaults) plus `--set key=value` overrides
//! ([`spikegrad::config::file`]).

use spikegrad::config::{file, ExperimentConfig};
use std::path::Path;

/// The config from `file` (or the default task), with `overrides` applied, validated.
pub fn load(path: Option<&Path>, overrides: &[String]) -> anyhow::Result<ExperimentConfig> {
    Ok(file::load(path, overrides)?)
}
