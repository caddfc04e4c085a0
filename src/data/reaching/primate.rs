//! The `primate_reaching` data source: one recording of the NeuroBench primate-reaching
//! task read from its MATLAB v7.3 file and preprocessed as NeuroBench does.

use super::{bin_session, read_mat_session, session_samples, ReachingData, ReachingWindows};
use super::{DEFAULT_HOP_STEPS, DEFAULT_SAMPLE_STEPS, DEFAULT_TRAIN_RATIO};
use crate::data::DataError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A recording of the NeuroBench primate-reaching task, e.g. `indy_20160622_01.mat` (96
/// channels) or `loco_20170210_03.mat` (192 channels) from Zenodo record 583331.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrimateReachingConfig {
    /// The `.mat` file (relative to the working directory).
    pub path: PathBuf,
    /// Steps of 4 ms per sample (default 500: 2 s).
    #[serde(default = "default_sample_steps")]
    pub sample_steps: usize,
    /// Steps between the starts of training windows (default 100).
    #[serde(default = "default_hop_steps")]
    pub hop_steps: usize,
    /// Fraction of segments for training; the rest is halved into validation and test
    /// (default 0.5, NeuroBench's benchmark split 50 / 25 / 25 %).
    #[serde(default = "default_train_ratio")]
    pub train_ratio: f64,
}

impl PrimateReachingConfig {
    /// The config for `path` with the defaults.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            sample_steps: DEFAULT_SAMPLE_STEPS,
            hop_steps: DEFAULT_HOP_STEPS,
            train_ratio: DEFAULT_TRAIN_RATIO,
        }
    }

    /// The windowing and split settings.
    pub fn windows(&self) -> ReachingWindows {
        ReachingWindows {
            sample_steps: self.sample_steps,
            hop_steps: self.hop_steps,
            train_ratio: self.train_ratio,
        }
    }

    /// Checks the settings (not the file).
    pub fn validate(&self) -> Result<(), DataError> {
        self.windows().validate()
    }

    /// Reads, bins and splits the recording.
    pub fn load(&self) -> Result<ReachingData, DataError> {
        self.validate()?;
        let session = bin_session(&read_mat_session(&self.path)?)?;
        session_samples(&session, &self.windows())
    }
}

pub(super) fn default_sample_steps() -> usize {
    DEFAULT_SAMPLE_STEPS
}

pub(super) fn default_hop_steps() -> usize {
    DEFAULT_HOP_STEPS
}

pub(super) fn default_train_ratio() -> f64 {
    DEFAULT_TRAIN_RATIO
}
