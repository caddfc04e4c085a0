//! Decoding reach velocity from motor-cortex spikes: the NeuroBench primate-reaching data
//! (O'Doherty et al. 2017, read from the MATLAB v7.3 files users bring) and a synthetic
//! stand-in with the same shape.
//!
//! Both become a [`Session`] — spikes binned into 4 ms steps (0/1 per channel and step) and
//! the cursor velocity per step — that is cut into samples the same way:
//!
//! * [`mat`]: reading the `.mat` file (object references into `#refs#`, MATLAB's empty
//!   marker, the user block);
//! * [`binning`]: NeuroBench's binning and velocity;
//! * [`split`]: segments where the target changes, NeuroBench's split of them, windows;
//! * [`primate`]: the `primate_reaching` source, [`synthetic`]: the `synthetic_reaching`
//!   source.
//!
//! A sample is a window of `sample_steps` steps (2 s by default, as in the fmi-basel
//! RSNN decoders): each step's spikes at the middle of its 4 ms bin, and a
//! [`Target::Series`] of the velocity `[sample_steps, 2]` (x, y; position units per step).
//! Training windows start every `hop_steps` steps (overlapping, fmi-basel's `extend_data`);
//! validation and test windows do not overlap. Train with `network.dt_ms = 4` and
//! `training.loss = "mse"`, which compares the readout with the velocity at every step.

pub mod binning;
pub mod mat;
pub mod primate;
pub mod split;
pub mod synthetic;
#[cfg(test)]
mod tests;

pub use binning::{bin_session, Session, BIN_S};
pub use mat::{read_mat_session, MatSession};
pub use primate::PrimateReachingConfig;
pub use split::{neurobench_split, segments, window_starts, StepSplit};
pub use synthetic::{generate_reaching, ChannelTuning, SyntheticReaching, SyntheticReachingConfig};

use super::{DataError, Dataset, EventDataset, EventSample, Split, Target, TargetSeries};

/// Default window length: 500 steps of 4 ms (2 s).
pub const DEFAULT_SAMPLE_STEPS: usize = 500;
/// Default step between training windows: 100 steps (400 ms).
pub const DEFAULT_HOP_STEPS: usize = 100;
/// Default fraction of segments for training (NeuroBench's benchmark scripts use 0.5).
pub const DEFAULT_TRAIN_RATIO: f64 = 0.5;

/// How a session is split and cut into samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReachingWindows {
    /// Steps per sample.
    pub sample_steps: usize,
    /// Steps between the starts of consecutive training windows.
    pub hop_steps: usize,
    /// Fraction of segments for training; the rest is halved into validation and test.
    pub train_ratio: f64,
}

impl Default for ReachingWindows {
    fn default() -> Self {
        Self {
            sample_steps: DEFAULT_SAMPLE_STEPS,
            hop_steps: DEFAULT_HOP_STEPS,
            train_ratio: DEFAULT_TRAIN_RATIO,
        }
    }
}

impl ReachingWindows {
    /// Checks the fields: `sample_steps ≥ 2`, `hop_steps ≥ 1`, `train_ratio` in `[0, 1]`.
    pub fn validate(&self) -> Result<(), DataError> {
        let invalid = |field, reason: &str| DataError::InvalidReachingConfig {
            field,
            reason: reason.to_string(),
        };
        if self.sample_steps < 2 {
            return Err(invalid("sample_steps", "must be at least 2"));
        }
        if self.hop_steps == 0 {
            return Err(invalid("hop_steps", "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&self.train_ratio) {
            return Err(invalid("train_ratio", "must lie in [0, 1]"));
        }
        Ok(())
    }
}

/// A session cut into samples, with its split.
#[derive(Clone, Debug, PartialEq)]
pub struct ReachingData {
    /// The windows, training ones first, then validation, then test.
    pub dataset: EventDataset,
    /// Indices into `dataset` of each split's windows.
    pub split: Split,
    /// The steps each split was cut from.
    pub steps: StepSplit,
    /// The first step of each sample's window in the session.
    pub window_starts: Vec<usize>,
}

impl ReachingData {
    /// The dataset and split, as an experiment takes them.
    pub fn into_parts(self) -> (Dataset, Split) {
        (self.dataset.into(), self.split)
    }
}

/// Splits `session` by NeuroBench's segment split and cuts each split into windows.
pub fn session_samples(
    session: &Session,
    windows: &ReachingWindows,
) -> Result<ReachingData, DataError> {
    windows.validate()?;
    if session.velocity.len() != session.steps() || session.target_pos.len() != session.steps() {
        return Err(DataError::Reaching(format!(
            "{} spike steps, {} velocities and {} targets differ",
            session.steps(),
            session.velocity.len(),
            session.target_pos.len()
        )));
    }
    let steps = neurobench_split(&segments(&session.target_pos), windows.train_ratio);
    let len = windows.sample_steps;
    let mut starts = window_starts(&steps.train, len, windows.hop_steps);
    let train = 0..starts.len();
    starts.extend(window_starts(&steps.valid, len, len));
    let valid = train.end..starts.len();
    starts.extend(window_starts(&steps.test, len, len));
    let test = valid.end..starts.len();
    let samples = starts.iter().map(|&s| window(session, s, len)).collect();
    let dataset = EventDataset::new(samples, session.channels, None, len as f64 * BIN_S)?;
    Ok(ReachingData {
        dataset,
        split: Split {
            train: train.collect(),
            valid: valid.collect(),
            test: test.collect(),
        },
        steps,
        window_starts: starts,
    })
}

/// The sample of steps `start..start + len`.
fn window(session: &Session, start: usize, len: usize) -> EventSample {
    let mut times_s = Vec::new();
    let mut units = Vec::new();
    for (k, active) in session.active[start..start + len].iter().enumerate() {
        let time = ((k as f64 + 0.5) * BIN_S) as f32;
        times_s.extend(std::iter::repeat_n(time, active.len()));
        units.extend_from_slice(active);
    }
    let values = session.velocity[start..start + len]
        .iter()
        .flatten()
        .copied()
        .collect();
    EventSample {
        times_s,
        units,
        target: Target::Series(TargetSeries {
            values,
            dims: 2,
            step_s: BIN_S,
        }),
    }
}
