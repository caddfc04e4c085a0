//! An in-memory event dataset binned once for a run's time step: every sample's spikes as
//! its own event rows, so a batch is their interleaving, not a fresh binning.
//!
//! A training run bins the same samples at the same `dt` every epoch; binning (the step of
//! each spike, then a sort and deduplication per row) was a tenth of a whole run on SHD-like
//! input. Binning each sample alone gives the same rows as binning it in a batch, so the
//! batches are the same, spike for spike.

use super::dataset::{BatchTargets, EventDataset};
use super::DataError;
use crate::events::SpikeEvents;
use rayon::prelude::*;

/// An [`EventDataset`] with every sample binned at `dt_s` into `steps` steps.
#[derive(Clone, Debug, PartialEq)]
pub struct BinnedEvents {
    /// The samples in continuous time (read-only: the binned rows are a function of them).
    pub(super) events: EventDataset,
    /// The time step the samples are binned at, in seconds.
    dt_s: f64,
    /// Steps per sample.
    steps: usize,
    /// Per sample: its spikes as `[steps, 1, channels]` events.
    binned: Vec<SpikeEvents>,
}

impl BinnedEvents {
    /// Bins every sample of `events` at `dt_s` into `steps` steps (errors as
    /// [`EventDataset::bin`]: a bad time step, a malformed sample).
    pub fn new(events: EventDataset, dt_s: f64, steps: usize) -> Result<Self, DataError> {
        let binned = (0..events.len())
            .into_par_iter()
            .map(|i| events.bin(&[i], dt_s, steps).map(|b| b.spikes))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            events,
            dt_s,
            steps,
            binned,
        })
    }

    /// The samples in continuous time.
    pub fn events(&self) -> &EventDataset {
        &self.events
    }

    /// The samples in continuous time, as an owned dataset.
    pub fn into_events(self) -> EventDataset {
        self.events
    }

    /// The spikes and targets of `indices` at `dt_s` and `steps`: the stored rows when they
    /// were binned so, else binned afresh.
    pub fn batch(
        &self,
        indices: &[usize],
        dt_s: f64,
        steps: usize,
    ) -> Result<(SpikeEvents, BatchTargets), DataError> {
        if dt_s != self.dt_s || steps != self.steps {
            let fresh = self.events.bin(indices, dt_s, steps)?;
            return Ok((fresh.spikes, fresh.targets));
        }
        let samples = indices
            .iter()
            .map(|&index| {
                self.binned.get(index).ok_or(DataError::IndexOutOfRange {
                    index,
                    len: self.binned.len(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let spikes: usize = samples.iter().map(|s| s.ids.len()).sum();
        let rows = steps.checked_mul(indices.len());
        if spikes > u32::MAX as usize || rows.is_none_or(|rows| rows > u32::MAX as usize) {
            return Err(DataError::BatchTooLarge {
                steps,
                batch: indices.len(),
                spikes,
            });
        }
        let spikes = SpikeEvents::interleave(steps, self.events.channels, &samples);
        Ok((spikes, self.events.batch_targets(indices, dt_s, steps)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{generate_randman, RandmanConfig};

    fn randman() -> EventDataset {
        generate_randman(&RandmanConfig {
            nb_classes: 3,
            nb_samples: 5,
            nb_steps: 50,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn batches_are_those_of_binning_afresh() {
        let data = randman();
        let (dt_s, steps) = (2e-3, 20);
        let binned = BinnedEvents::new(data.clone(), dt_s, steps).unwrap();
        for indices in [vec![], vec![3], vec![4, 0, 7, 0], (0..data.len()).collect()] {
            let fresh = data.bin(&indices, dt_s, steps).unwrap();
            assert!(fresh.collapsed + fresh.dropped > 0 || indices.len() < 2);
            let (spikes, targets) = binned.batch(&indices, dt_s, steps).unwrap();
            assert_eq!(spikes, fresh.spikes, "{indices:?}");
            assert_eq!(targets, fresh.targets, "{indices:?}");
        }
        // Another time step bins afresh.
        let other = binned.batch(&[1, 2], 1e-3, 30).unwrap();
        assert_eq!(other.0, data.bin(&[1, 2], 1e-3, 30).unwrap().spikes);
    }

    #[test]
    fn an_index_out_of_range_is_an_error() {
        let data = randman();
        let len = data.len();
        let binned = BinnedEvents::new(data, 1e-3, 10).unwrap();
        let err = binned.batch(&[0, len], 1e-3, 10).unwrap_err();
        assert!(
            matches!(err, DataError::IndexOutOfRange { index, .. } if index == len),
            "{err}"
        );
    }
}
