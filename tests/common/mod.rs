//! Helpers shared by the integration tests.

use spikegrad::experiment::{EpochRecord, RunDir};

/// The epoch records of a run, with their wall-clock times zeroed (so that two runs that
/// trained identically compare equal).
pub fn metrics(dir: &RunDir) -> Vec<EpochRecord> {
    std::fs::read_to_string(dir.metrics())
        .unwrap()
        .lines()
        .map(|l| {
            let mut r: EpochRecord = serde_json::from_str(l).unwrap();
            r.seconds = 0.0;
            r
        })
        .collect()
}
