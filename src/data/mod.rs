//! Input data: in-memory spike-event datasets and the randman and evidence-accumulation
//! generators.
//!
//! An [`EventDataset`] holds variable-length spike trains in continuous time (seconds), one
//! list of `(time, unit)` events per sample, together with a class label or a regression
//! vector. Training code bins a batch of samples into time-major [`SpikeEvents`] with
//! [`EventDataset::bin`], splits a dataset with [`EventDataset::split_fractions`] and cuts an
//! index list into mini-batches with [`batches`].
//!
//! [`AnalogDataset`] holds dense analog sequences (sensor signals) instead of spikes, and
//! [`Dataset`] is either kind, batched by [`Dataset::batch`]. [`augment`] transforms event
//! samples for training (stork's time and unit jitter, spike deletion and insertion).
//!
//! [`braille`] reads the Braille letter recordings (Müller-Cleve et al. 2022) and encodes
//! them as sigma-delta ON/OFF events.
//!
//! [`shd`] reads and writes the HDF5 files of the Spiking Heidelberg Digits and Spiking
//! Speech Commands datasets; [`shd_stream`] opens such a file for reading samples on demand,
//! and [`StreamedEvents`] ([`Dataset::Streamed`]) trains on them with bounded memory.
//!
//! [`randman`] synthesises the random-manifold spike-timing task of Zenke & Vogels (2021)
//! as such a dataset, and [`evidence`] the evidence-accumulation task of the e-prop paper
//! (Bellec et al. 2020).
//!
//! [`reaching`] decodes reach velocity from motor-cortex spikes: the NeuroBench
//! primate-reaching recordings (MATLAB v7.3 files) and a synthetic center-out stand-in.
//!
//! Every random draw in this module comes from `ChaCha8Rng::seed_from_u64`, consumed through
//! version-stable helpers, so a seed gives the same data on every platform.
//!
//! [`SpikeEvents`]: crate::events::SpikeEvents

pub mod analog;
pub mod augment;
pub mod binned;
pub mod braille;
mod braille_analog;
pub mod dataset;
pub mod evidence;
mod group_split;
mod h5file;
pub mod images;
pub mod randman;
pub mod raster;
pub mod reaching;
pub(crate) mod rng;
pub mod samples;
pub mod shd;
pub mod shd_stream;
pub mod shd_summary;
pub mod spike_pattern;
pub mod streamed;
pub mod temporal_xor;

pub use analog::{AnalogDataset, AnalogSample, ChannelStats};
pub use augment::{AugmentConfig, UnitJitter};
pub use binned::BinnedEvents;
pub use braille::{
    read_braille, sigma_delta_events, BrailleData, BrailleEncoding, DeltaEvent,
    BRAILLE_SAMPLE_RATE_HZ,
};
pub use dataset::{
    batches, shuffled_indices, time_bin, BatchTargets, BinnedBatch, EventDataset, EventSample,
    Split, Target, TargetSeries, TargetTrains,
};
pub use evidence::{generate_evidence, ChannelGroup, EvidenceConfig};
pub use group_split::split_by_group;
pub use images::{ImageData, ImageEncoding, ImagesConfig};
pub use randman::{generate as generate_randman, RandmanConfig, RandomManifold};
pub use samples::{Augmentation, Batch, BatchInput, Dataset};
pub use shd::{
    read_shd, write_shd, write_shd_with, ShdFile, ShdReadOptions, ShdWriteOptions, TimeDtype,
};
pub use shd_stream::ShdStream;
pub use shd_summary::ShdSummary;
pub use spike_pattern::{generate_pattern, SpikePatternConfig};
pub use streamed::StreamedEvents;
pub use temporal_xor::{generate_xor, spike_timing_correct, TemporalXorConfig};

/// Why a dataset, a request on it or a generator configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A sample has a different number of spike times and unit ids.
    #[error("sample {sample}: {times} spike times but {units} unit ids")]
    LengthMismatch {
        /// The sample.
        sample: usize,
        /// Number of spike times.
        times: usize,
        /// Number of unit ids.
        units: usize,
    },
    /// A unit id is not below the number of input channels.
    #[error("sample {sample}: unit id {unit} is out of range for {channels} channels")]
    UnitOutOfRange {
        /// The sample.
        sample: usize,
        /// The unit id.
        unit: u32,
        /// Input channels.
        channels: usize,
    },
    /// A spike time is NaN, infinite or negative.
    #[error("sample {sample}: spike time {time_s} s is not finite and non-negative")]
    BadTime {
        /// The sample.
        sample: usize,
        /// The spike time, in seconds.
        time_s: f32,
    },
    /// A class label is not below the number of classes.
    #[error("sample {sample}: class {class} is out of range for {num_classes} classes")]
    ClassOutOfRange {
        /// The sample.
        sample: usize,
        /// The class.
        class: usize,
        /// Number of classes.
        num_classes: usize,
    },
    /// A classification dataset holds a sample with a regression target.
    #[error("sample {sample}: expected a class label, found a regression vector")]
    ExpectedClass {
        /// The sample.
        sample: usize,
    },
    /// A regression dataset holds a sample with a class label.
    #[error("sample {sample}: expected a regression vector, found a class label")]
    ExpectedValues {
        /// The sample.
        sample: usize,
    },
    /// A dataset mixes regression vectors and target spike trains.
    #[error("sample {sample}: its target is not of the first sample's kind (regression vector or spike trains)")]
    MixedTargets {
        /// The sample.
        sample: usize,
    },
    /// A regression vector's length differs from the first sample's.
    #[error("sample {sample}: regression target has {found} values, expected {expected}")]
    ValueDims {
        /// The sample.
        sample: usize,
        /// What was found.
        found: usize,
        /// What was expected.
        expected: usize,
    },
    /// An analog sample has the wrong number of values.
    #[error("sample {sample}: {found} values, expected {expected} (steps x channels of the first sample)")]
    AnalogLength {
        /// The sample.
        sample: usize,
        /// What was found.
        found: usize,
        /// What was expected.
        expected: usize,
    },
    /// An analog value is NaN or infinite.
    #[error("sample {sample}: value {value} at step {step}, channel {channel} is not finite")]
    AnalogValue {
        /// The sample.
        sample: usize,
        /// The time step.
        step: usize,
        /// The channel.
        channel: usize,
        /// The value.
        value: f32,
    },
    /// A regression target holds a NaN or infinite value.
    #[error("sample {sample}: regression target value {value} is not finite")]
    BadValue {
        /// The sample.
        sample: usize,
        /// The value.
        value: f32,
    },
    /// A dataset index is not below the number of samples.
    #[error("sample index {index} is out of range for a dataset of {len} samples")]
    IndexOutOfRange {
        /// The sample index asked for.
        index: usize,
        /// Samples in the dataset.
        len: usize,
    },
    /// A dataset must have at least one input channel.
    #[error("a dataset needs at least one input channel")]
    NoChannels,
    /// A classification dataset must have at least one class.
    #[error("a classification dataset needs at least one class")]
    NoClasses,
    /// The nominal sample duration is not a finite positive number.
    #[error("nominal sample duration {0} s must be finite and positive")]
    BadDuration(f64),
    /// A binning time step is not a finite positive number.
    #[error("time step {0} s must be finite and positive")]
    BadTimeStep(f64),
    /// A batch does not fit the `u32` row and offset indices of spike events.
    #[error(
        "{steps} steps x {batch} samples ({spikes} spikes) exceed the u32 indices of spike events"
    )]
    BatchTooLarge {
        /// Time steps.
        steps: usize,
        /// Samples in the batch.
        batch: usize,
        /// Spikes in the batch.
        spikes: usize,
    },
    /// Split fractions are negative, not finite or do not sum to one.
    #[error("split fractions {0:?} must be finite, non-negative and sum to 1")]
    BadFractions([f64; 3]),
    /// Stratified splitting was asked of a regression dataset.
    #[error("stratified splitting needs class targets, but the dataset is a regression dataset")]
    StratifyRegression,
    /// A batch size of zero was asked for.
    #[error("batch size must be at least 1")]
    ZeroBatchSize,
    /// A statistic over samples was asked for an empty selection.
    #[error("no samples selected")]
    EmptySelection,
    /// An HDF5 file could not be read or written, or lacks the expected datasets or types.
    #[error("{}: {dataset}: {reason}", path.display())]
    Hdf5 {
        /// The file.
        path: std::path::PathBuf,
        /// The dataset (or group) concerned, `/` for the whole file.
        dataset: String,
        /// What is wrong.
        reason: String,
    },
    /// One sample of an HDF5 event file is unusable.
    #[error("{}: {dataset}: sample {sample}: {reason}", path.display())]
    Hdf5Sample {
        /// The file.
        path: std::path::PathBuf,
        /// The dataset holding the bad value.
        dataset: String,
        /// The sample's position in the file.
        sample: usize,
        /// What is wrong.
        reason: String,
    },
    /// Whole groups (speakers) were to be held out, but there are fewer than two.
    #[error("holding out whole speakers needs at least 2 speakers, found {0}")]
    TooFewGroups(usize),
    /// Augmentation was asked of analog data.
    #[error("augmentation applies to spike-event data only, not to analog data")]
    AugmentAnalog,
    /// An event encoding has an unusable parameter.
    #[error("invalid encoding: {0}")]
    InvalidEncoding(String),
    /// A randman configuration field has an unusable value.
    #[error("invalid randman config: `{field}` {reason}")]
    InvalidConfig {
        /// The field.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// An evidence-accumulation configuration field has an unusable value.
    #[error("invalid evidence-accumulation config: `{field}` {reason}")]
    InvalidEvidenceConfig {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A spike-pattern configuration field has an unusable value.
    #[error("invalid spike-pattern config: `{field}` {reason}")]
    InvalidPatternConfig {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A temporal-XOR configuration field has an unusable value.
    #[error("invalid temporal-xor config: `{field}` {reason}")]
    InvalidXorConfig {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A reaching-source configuration field has an unusable value.
    #[error("invalid reaching config: `{field}` {reason}")]
    InvalidReachingConfig {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A primate-reaching recording's content cannot be preprocessed.
    #[error("primate-reaching data: {0}")]
    Reaching(String),
    /// A spike-pattern target file is unusable.
    #[error("spike-pattern target {}: {reason}", path.display())]
    PatternTarget {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
}
