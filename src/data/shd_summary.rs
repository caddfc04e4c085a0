//! The summary of an SHD/SSC file that `spikegrad data info` prints, read one sample at a
//! time.

use super::{DataError, ShdStream};
use serde::Serialize;
use std::collections::BTreeSet;

/// What `spikegrad data info` reports of an SHD/SSC file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShdSummary {
    /// The file's path.
    pub file: String,
    /// Number of samples.
    pub samples: usize,
    /// Number of classes (class names, else the largest label plus one).
    pub classes: usize,
    /// The class names, if the file has them.
    pub class_names: Option<Vec<String>>,
    /// Samples of each class.
    pub samples_per_class: Vec<usize>,
    /// Input channels (unit ids are below it).
    pub channels: usize,
    /// The spike times' stored type.
    pub times_dtype: String,
    /// Spikes over all samples.
    pub spikes_total: usize,
    /// Fewest spikes of a sample.
    pub spikes_per_sample_min: usize,
    /// Mean spikes per sample.
    pub spikes_per_sample_mean: f64,
    /// Most spikes of a sample.
    pub spikes_per_sample_max: usize,
    /// Earliest spike time (none without spikes).
    pub time_min_s: Option<f32>,
    /// Latest spike time.
    pub time_max_s: Option<f32>,
    /// The distinct speaker ids, if recorded.
    pub speakers: Option<Vec<u32>>,
}

impl ShdSummary {
    /// Reads the samples one at a time (memory stays bounded on SSC-sized files), checking each.
    pub fn of(stream: &ShdStream) -> Result<Self, DataError> {
        let (mut time_min_s, mut time_max_s) = (None::<f32>, None::<f32>);
        for i in 0..stream.len() {
            let sample = stream.read(i)?;
            for &t in &sample.times_s {
                time_min_s = Some(time_min_s.map_or(t, |m| m.min(t)));
                time_max_s = Some(time_max_s.map_or(t, |m| m.max(t)));
            }
        }
        let counts = stream.spike_counts();
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        let classes = stream.num_classes();
        let mut per_class = vec![0; classes];
        for &label in stream.labels() {
            if let Some(count) = per_class.get_mut(label as usize) {
                *count += 1;
            }
        }
        let speakers = stream.speakers().map(|s| {
            s.iter()
                .copied()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        });
        Ok(Self {
            file: stream.path().display().to_string(),
            samples: stream.len(),
            classes,
            class_names: stream.class_names().map(<[String]>::to_vec),
            samples_per_class: per_class,
            channels: stream.channels(),
            times_dtype: stream.times_dtype(),
            spikes_total: total,
            spikes_per_sample_min: counts.iter().map(|&c| c as usize).min().unwrap_or(0),
            spikes_per_sample_mean: total as f64 / stream.len().max(1) as f64,
            spikes_per_sample_max: counts.iter().map(|&c| c as usize).max().unwrap_or(0),
            time_min_s,
            time_max_s,
            speakers,
        })
    }
}
