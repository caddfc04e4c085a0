//! A dataset of either kind — spike events or dense analog sequences — and its batches, so
//! that training code handles both through one type.

use super::analog::AnalogDataset;
use super::augment::AugmentConfig;
use super::binned::BinnedEvents;
use super::dataset::{BatchTargets, EventDataset, EventSample, Split, Target};
use super::streamed::StreamedEvents;
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
    /// Spike trains read from SHD/SSC files per batch, then binned as `Events` are.
    Streamed(StreamedEvents),
    /// `Events` binned once for a run's time step (see [`BinnedEvents`]).
    Binned(BinnedEvents),
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

impl From<StreamedEvents> for Dataset {
    fn from(data: StreamedEvents) -> Self {
        Dataset::Streamed(data)
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
            Dataset::Events(d) | Dataset::Binned(BinnedEvents { events: d, .. }) => d.len(),
            Dataset::Analog(d) => d.len(),
            Dataset::Streamed(d) => d.len(),
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Input channels.
    pub fn channels(&self) -> usize {
        match self {
            Dataset::Events(d) | Dataset::Binned(BinnedEvents { events: d, .. }) => d.channels,
            Dataset::Analog(d) => d.channels,
            Dataset::Streamed(d) => d.channels,
        }
    }

    /// Number of classes (`None` for regression).
    pub fn num_classes(&self) -> Option<usize> {
        match self {
            Dataset::Events(d) | Dataset::Binned(BinnedEvents { events: d, .. }) => d.num_classes,
            Dataset::Analog(d) => Some(d.num_classes),
            Dataset::Streamed(d) => Some(d.num_classes),
        }
    }

    /// The class label of every sample, in order (`None` for regression).
    pub fn class_labels(&self) -> Option<Vec<usize>> {
        let class = |s: &EventSample| match s.target {
            Target::Class(k) => Some(k),
            _ => None,
        };
        match self {
            Dataset::Events(d) | Dataset::Binned(BinnedEvents { events: d, .. }) => {
                d.samples.iter().map(class).collect()
            }
            Dataset::Analog(d) => Some(d.samples.iter().map(|s| s.class).collect()),
            Dataset::Streamed(d) => Some(d.labels()),
        }
    }

    /// The dataset with channel `j` of every sample taken from channel `permutation[j]`
    /// (in-memory data only).
    pub fn permuted_channels(&self, permutation: &[usize]) -> Result<Self, DataError> {
        match self {
            Dataset::Events(d) | Dataset::Binned(BinnedEvents { events: d, .. }) => {
                d.permuted_channels(permutation).map(Dataset::Events)
            }
            Dataset::Analog(d) => d.permuted_channels(permutation).map(Dataset::Analog),
            Dataset::Streamed(_) => Err(DataError::InvalidEncoding(
                "streamed data cannot be permuted; load it into memory".into(),
            )),
        }
    }

    /// Length of the regression vectors (`None` for classification).
    pub fn value_dims(&self) -> Option<usize> {
        match self {
            Dataset::Events(d) | Dataset::Binned(BinnedEvents { events: d, .. }) => d.value_dims(),
            Dataset::Analog(_) | Dataset::Streamed(_) => None,
        }
    }

    /// Nominal duration of one sample in seconds.
    pub fn duration_s(&self) -> f64 {
        match self {
            Dataset::Events(d) | Dataset::Binned(BinnedEvents { events: d, .. }) => d.duration_s,
            Dataset::Analog(d) => d.duration_s(),
            Dataset::Streamed(d) => d.duration_s,
        }
    }

    /// In-memory event data binned once at `dt_s` into `steps` steps, so that batches at
    /// that time step are assembled from the stored rows (the same batches; see
    /// [`BinnedEvents`]); other kinds of data are returned as they are.
    pub fn binned_at(self, dt_s: f64, steps: usize) -> Result<Self, DataError> {
        match self {
            Dataset::Events(d) => BinnedEvents::new(d, dt_s, steps).map(Dataset::Binned),
            other => Ok(other),
        }
    }

    /// The in-memory event dataset, if this is one.
    pub fn events(&self) -> Option<&EventDataset> {
        match self {
            Dataset::Events(d) | Dataset::Binned(BinnedEvents { events: d, .. }) => Some(d),
            _ => None,
        }
    }

    /// The analog dataset, if this is one.
    pub fn analog(&self) -> Option<&AnalogDataset> {
        match self {
            Dataset::Analog(d) => Some(d),
            _ => None,
        }
    }

    /// The streamed event dataset, if this is one.
    pub fn streamed(&self) -> Option<&StreamedEvents> {
        match self {
            Dataset::Streamed(d) => Some(d),
            _ => None,
        }
    }

    /// Mean input spike rate per channel in Hz over `indices` (`None` for analog data).
    /// Streamed data counts the spikes from its index, reading none.
    pub fn mean_rate_hz(&self, indices: &[usize]) -> Result<Option<f64>, DataError> {
        match self {
            Dataset::Events(d) | Dataset::Binned(BinnedEvents { events: d, .. }) => {
                d.mean_rate_hz(indices).map(Some)
            }
            Dataset::Streamed(d) => d.mean_rate_hz(indices).map(Some),
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
            Dataset::Events(d) | Dataset::Binned(BinnedEvents { events: d, .. }) => {
                d.split_fractions(fractions, seed, stratified)
            }
            Dataset::Analog(d) => d.split_fractions(fractions, seed, stratified),
            Dataset::Streamed(d) => d.split_fractions(fractions, seed, stratified),
        }
    }

    /// The samples `indices` as one batch of `steps` steps of `dt_s` seconds.
    ///
    /// With `augment`, event samples are transformed first (see [`AugmentConfig::apply`];
    /// sample `i` of the dataset draws from stream `i`). Analog data cannot be augmented.
    /// Streamed data reads exactly these samples from its files and then batches them as
    /// in-memory data would, giving the same batch.
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
            (Dataset::Binned(d), None) => {
                let (spikes, targets) = d.batch(indices, dt_s, steps)?;
                Ok(Batch {
                    input: BatchInput::Events(spikes),
                    targets,
                })
            }
            (Dataset::Events(d) | Dataset::Binned(BinnedEvents { events: d, .. }), Some(a)) => {
                let samples = indices
                    .iter()
                    .map(|&index| {
                        d.samples.get(index).ok_or(DataError::IndexOutOfRange {
                            index,
                            len: d.len(),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let augmented = augment_samples(&samples, indices, d.channels, d.duration_s, a);
                bin_in_order(
                    augmented,
                    d.channels,
                    d.num_classes,
                    d.duration_s,
                    dt_s,
                    steps,
                )
            }
            (Dataset::Streamed(d), augment) => {
                let read = d.read(indices)?;
                let samples = match augment {
                    None => read,
                    Some(a) => {
                        let refs: Vec<&EventSample> = read.iter().collect();
                        augment_samples(&refs, indices, d.channels, d.duration_s, a)
                    }
                };
                let classes = Some(d.num_classes);
                bin_in_order(samples, d.channels, classes, d.duration_s, dt_s, steps)
            }
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

/// The `samples` (of dataset indices `indices`) transformed by `augment`; sample `i` of the
/// dataset draws from stream `i` of the epoch's seed.
fn augment_samples(
    samples: &[&EventSample],
    indices: &[usize],
    channels: usize,
    duration_s: f64,
    augment: Augmentation,
) -> Vec<EventSample> {
    samples
        .iter()
        .zip(indices)
        .map(|(sample, &index)| {
            augment
                .config
                .apply(sample, channels, duration_s, augment.seed, index as u64)
        })
        .collect()
}

/// `samples`, in the order given, binned as one batch (see [`EventDataset::bin`]).
fn bin_in_order(
    samples: Vec<EventSample>,
    channels: usize,
    num_classes: Option<usize>,
    duration_s: f64,
    dt_s: f64,
    steps: usize,
) -> Result<Batch, DataError> {
    // `bin` re-checks every sample (the transforms keep ids in range and times >= 0).
    let batch_data = EventDataset {
        samples,
        channels,
        num_classes,
        duration_s,
    };
    let order: Vec<usize> = (0..batch_data.len()).collect();
    let binned = batch_data.bin(&order, dt_s, steps)?;
    Ok(Batch {
        input: BatchInput::Events(binned.spikes),
        targets: binned.targets,
    })
}
