//! A dataset of either kind — spike events or dense analog sequences — and its batches, so
//! that training code handles both through one type.

use super::analog::AnalogDataset;
use super::augment::AugmentConfig;
use super::dataset::{BatchTargets, EventDataset, Split};
use super::DataError;
use crate::events::SpikeEvents;
use crate::tensor::Seq;

/// The samples of an experiment.
#[derive(Clone, Debug, PartialEq)]
pub enum Dataset {
    /// Spike trains in continuous time, binned per batch.
    Events(EventDataset),
    /// Analog sequences, delivered as dense input currents.
    Analog(AnalogDataset),
}

/// The input of one batch, time-major `[steps, batch, channels]`.
#[derive(Clone, Debug, PartialEq)]
pub enum BatchInput {
    /// Binned spikes.
    Events(SpikeEvents),
    /// Dense analog values.
    Analog(Seq<f32>),
}

/// One batch: input and targets.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// The input sequence.
    pub input: BatchInput,
    /// Targets in batch order.
    pub targets: BatchTargets,
}

/// Augmentation of the samples of one batch: the transforms and the seed of this epoch;
/// sample `i` draws from stream `i` of the seed.
#[derive(Clone, Copy, Debug)]
pub struct Augmentation<'a> {
    /// The transforms.
    pub config: &'a AugmentConfig,
    /// The seed of this epoch.
    pub seed: u64,
}

impl From<EventDataset> for Dataset {
    fn from(data: EventDataset) -> Self {
        Dataset::Events(data)
    }
}

impl From<AnalogDataset> for Dataset {
    fn from(data: AnalogDataset) -> Self {
        Dataset::Analog(data)
    }
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Dataset::Events(d) => d.len(),
            Dataset::Analog(d) => d.len(),
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Input channels.
    pub fn channels(&self) -> usize {
        match self {
            Dataset::Events(d) => d.channels,
            Dataset::Analog(d) => d.channels,
        }
    }

    /// Number of classes (`None` for regression).
    pub fn num_classes(&self) -> Option<usize> {
        match self {
            Dataset::Events(d) => d.num_classes,
            Dataset::Analog(d) => Some(d.num_classes),
        }
    }

    /// Length of the regression vectors (`None` for classification).
    pub fn value_dims(&self) -> Option<usize> {
        match self {
            Dataset::Events(d) => d.value_dims(),
            Dataset::Analog(_) => None,
        }
    }

    /// Nominal duration of one sample in seconds.
    pub fn duration_s(&self) -> f64 {
        match self {
            Dataset::Events(d) => d.duration_s,
            Dataset::Analog(d) => d.duration_s(),
        }
    }

    /// The event dataset, if this is one.
    pub fn events(&self) -> Option<&EventDataset> {
        match self {
            Dataset::Events(d) => Some(d),
            Dataset::Analog(_) => None,
        }
    }

    /// The analog dataset, if this is one.
    pub fn analog(&self) -> Option<&AnalogDataset> {
        match self {
            Dataset::Events(_) => None,
            Dataset::Analog(d) => Some(d),
        }
    }

    /// Mean input spike rate per channel in Hz over `indices` (`None` for analog data).
    pub fn mean_rate_hz(&self, indices: &[usize]) -> Result<Option<f64>, DataError> {
        match self {
            Dataset::Events(d) => d.mean_rate_hz(indices).map(Some),
            Dataset::Analog(_) => Ok(None),
        }
    }

    /// Splits the samples by `fractions` (see [`EventDataset::split_fractions`]).
    pub fn split_fractions(
        &self,
        fractions: [f64; 3],
        seed: u64,
        stratified: bool,
    ) -> Result<Split, DataError> {
        match self {
            Dataset::Events(d) => d.split_fractions(fractions, seed, stratified),
            Dataset::Analog(d) => d.split_fractions(fractions, seed, stratified),
        }
    }

    /// The samples `indices` as one batch of `steps` steps of `dt_s` seconds.
    ///
    /// With `augment`, event samples are transformed first (see [`AugmentConfig::apply`];
    /// sample `i` of the dataset draws from stream `i`). Analog data cannot be augmented.
    pub fn batch(
        &self,
        indices: &[usize],
        dt_s: f64,
        steps: usize,
        augment: Option<Augmentation>,
    ) -> Result<Batch, DataError> {
        match (self, augment.filter(|a| a.config.is_active())) {
            (Dataset::Events(d), None) => {
                let binned = d.bin(indices, dt_s, steps)?;
                Ok(Batch {
                    input: BatchInput::Events(binned.spikes),
                    targets: binned.targets,
                })
            }
            (Dataset::Events(d), Some(a)) => augmented_batch(d, indices, dt_s, steps, a),
            (Dataset::Analog(d), None) => {
                let (x, classes) = d.batch(indices, dt_s, steps)?;
                Ok(Batch {
                    input: BatchInput::Analog(x),
                    targets: BatchTargets::Classes(classes),
                })
            }
            (Dataset::Analog(_), Some(_)) => Err(DataError::AugmentAnalog),
        }
    }
}

fn augmented_batch(
    data: &EventDataset,
    indices: &[usize],
    dt_s: f64,
    steps: usize,
    augment: Augmentation,
) -> Result<Batch, DataError> {
    let mut samples = Vec::with_capacity(indices.len());
    for &index in indices {
        let sample = data.samples.get(index).ok_or(DataError::IndexOutOfRange {
            index,
            len: data.len(),
        })?;
        samples.push(augment.config.apply(
            sample,
            data.channels,
            data.duration_s,
            augment.seed,
            index as u64,
        ));
    }
    // `bin` re-checks every sample (the transforms keep ids in range and times ≥ 0).
    let batch_data = EventDataset {
        samples,
        channels: data.channels,
        num_classes: data.num_classes,
        duration_s: data.duration_s,
    };
    let order: Vec<usize> = (0..indices.len()).collect();
    let binned = batch_data.bin(&order, dt_s, steps)?;
    Ok(Batch {
        input: BatchInput::Events(binned.spikes),
        targets: binned.targets,
    })
}
